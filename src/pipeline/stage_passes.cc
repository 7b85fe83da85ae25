// The stage passes: each pass reads one copy of every file still to do,
// hashing it and staging its bytes into DEST as they are read, and commits
// the files whose digests match as they finish. A copy that fails
// (corrupt, unreadable, its drive stalled) is reported and the next pass
// reads the file's next copy, on another drive: the file is "repaired
// from" that drive. With the chunk digests deciding, a large
// file's good chunks stay staged and the next copy gives only the chunks
// still missing (repair by chunk, chunk_repair.cc). Between passes, files out
// of copies are failed, and the paths that share a content settle
// (duplicates.cc): placed from a committed path, or given their next path to
// read.
//
// Pass 0 also reads back the files found under their final name that no
// journal holds (plan: kCheck), from DEST, as one more "drive".
//
// A pass is the Reader (reader.h: one I/O thread for every drive and for
// DEST's writes, hashing threads) feeding a CommitThread (committer.h);
// each finished file is finished by the destination (final size, mode,
// mtime) on the thread that finished its read, off the commit thread.
#include "pipeline/stage_passes.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/chunk_repair.h"
#include "pipeline/chunk_resume.h"
#include "pipeline/plan.h"
#include "pipeline/reader.h"

namespace valise {

StageRequest StageRequestFor(const IngestLedger& l, const Destination& dest,
                             const ReadJob& job, int pass) {
  const size_t e = job.id;
  StageRequest r;
  r.name = l.DestRel(e);
  r.key = "e" + std::to_string(e) + "-p" + std::to_string(pass);
  if (StagedResumable(l, dest, e)) {
    r.key = ResumableKey(e);
    r.resumable = true;
    r.resume_from = job.start;
    // Repair by chunk: the kept file's good chunks stay.
    r.repair = !job.only.empty();
  }
  r.size = l.m.file_size(e);
  r.mode = l.ModeOf(e, job.drive);
  r.mtime_ns = l.MtimeOf(e, job.drive);
  r.digests = l.ManifestDigests(e);
  r.direct = l.iopt.direct && job.size >= l.iopt.direct_min_bytes;
  if (l.by_chunks) {
    r.signed_chunks = l.opt.chunk_index;
    r.entry = e;
  }
  return r;
}

namespace {

// A file out of copies has failed.
void FailExhausted(Destination* dest, IngestLedger* l) {
  for (size_t e = 0; e < l->m.size(); ++e) {
    if (l->state[e] == EntryState::kTodo &&
        l->attempt[e] >= l->candidates[e].size()) {
      l->state[e] = EntryState::kFailed;
      RepairFailed(dest, l, e);
    }
  }
}

// The pass's jobs, per drive (DEST last), and the bytes planned on each;
// false if there is nothing to read.
bool MakeJobs(Destination* dest, const IngestLedger& l, int pass,
              std::vector<std::vector<ReadJob>>* jobs,
              std::vector<uint64_t>* planned) {
  jobs->assign(l.scans.size() + 1, {});
  planned->assign(l.scans.size() + 1, 0);
  size_t count = 0;
  if (pass == 0) {
    for (size_t e : l.in_place) {
      ReadJob j;
      j.drive = l.dest_drive;
      j.path = dest->ReadPath(l.DestRel(e));
      j.size = l.m.file_size(e);
      j.id = e;
      (*planned)[l.dest_drive] += j.size;
      (*jobs)[l.dest_drive].push_back(std::move(j));
      ++count;
    }
  }
  for (size_t e = 0; e < l.m.size(); ++e) {
    if (l.state[e] != EntryState::kTodo) continue;
    const CopyRef& ref = l.candidates[e][l.attempt[e]];
    const DriveScan& scan = l.scans[ref.drive];
    ReadJob j;
    j.drive = ref.drive;
    j.path = DrivePath(scan.drive, scan.files[ref.file].rel);
    j.size = scan.files[ref.file].info.size;
    j.id = e;
    j.write = true;
    // Resume by chunk: the prefix checked in DEST is not read again.
    if (pass == 0 && l.resume_from[e] < j.size) j.start = l.resume_from[e];
    // A file with another copy: its chunks' digests locate a corrupt
    // copy's first bad chunk once a good one is read (as verify does),
    // unless the signed chunk digests do (and only they resume by chunk).
    j.chunk_digests = l.chunk_check == nullptr && l.candidates[e].size() > 1;
    // Repair by chunk: a copy's good chunks stay staged; after a copy
    // failed, only the chunks still missing are read.
    PlanRepairRead(l, *dest, e, &j);
    (*planned)[ref.drive] += j.size - BytesKnown(j, l.opt.chunk_size, j.size);
    (*jobs)[ref.drive].push_back(std::move(j));
    ++count;
  }
  if (count == 0) return false;
  for (size_t d = 0; d < l.scans.size(); ++d) {
    if (l.scans[d].drive.info.rotational) {
      OrderByPhysicalOffset(l.fs, &(*jobs)[d]);
    }
  }
  return true;
}

void AccumulateStats(const Reader& reader, IngestLedger* l) {
  const auto& st = reader.drive_stats();
  l->drive_stats.resize(std::max(l->drive_stats.size(), st.size()));
  for (size_t d = 0; d < st.size(); ++d) {
    DriveReadStats& a = l->drive_stats[d];
    a.bytes_read += st[d].bytes_read;
    a.seconds += st[d].seconds;
    a.stalled |= st[d].stalled;
    a.chunks_read_past += st[d].chunks_read_past;
    if (a.gone.empty()) a.gone = st[d].gone;
    a.bytes_per_second.insert(a.bytes_per_second.end(),
                              st[d].bytes_per_second.begin(),
                              st[d].bytes_per_second.end());
  }
}

// One pass: the reader stages what it reads into `dest`, the commit
// thread commits what finishes.
Status RunPass(Destination* dest, const DestInfo& info, Committer* committer,
               int pass, const std::vector<std::vector<ReadJob>>& jobs,
               const std::vector<uint64_t>& planned, IngestLedger* l) {
  l->reading = true;  // rows from here on are found by reading
  std::vector<bool> rotational;
  std::vector<std::string> names;
  for (const DriveScan& s : l->scans) {
    rotational.push_back(s.drive.info.rotational);
    names.push_back(s.drive.source);
  }
  rotational.push_back(false);
  names.push_back(dest->where() + " (check)");
  Reader reader(l->fs, l->opt, l->ReadDigests(), rotational);
  reader.SetDriveNames(names);
  if (l->chunk_check) {
    reader.SetChunkObserver(l->chunk_check->Factory(
        [](const ReadJob& job) -> size_t { return job.id; }));
  }
  reader.SetChunkDedup(l->chunk_dedup.get());
  reader.SetSink(
      dest->writer(),
      [dest, l, pass](const ReadJob& job, std::unique_ptr<StagedFile>* out) {
        return dest->Stage(StageRequestFor(*l, *dest, job, pass), out);
      },
      info.stage_ahead);
  CommitThread commits(committer, l->iopt.commit_batch, &reader);
  Status s, committed;
  {
    std::vector<std::string> shown = names;
    for (size_t i = 0; i + 1 < shown.size(); ++i) {
      shown[i] = ProgressName(l->opt, i, names[i]);
    }
    Progress progress(shown, planned, ProgressOptionsOf(l->opt));
    s = reader.Run(jobs, &progress, [&](const ReadJob& job, ReadOutcome&& o) {
      Finished f;
      f.entry = job.id;
      f.drive = job.drive;
      f.in_place = job.drive == l->dest_drive;
      f.outcome = std::move(o);
      // Size, mode and mtime are set here, off the commit thread, which
      // the many small files keep busy (0.35 s of 4 s for 20,000).
      if (!f.in_place && f.outcome.staged && f.outcome.written &&
          f.outcome.status.ok()) {
        f.prepared = dest->Finish(f.outcome.staged.get());
      }
      commits.Push(std::move(f));
    });
    committed = commits.Finish();
    progress.Finish();
  }
  AccumulateStats(reader, l);
  if (pass == 0) l->report->verbose_notes.push_back(reader.queue_note());
  if (!s.ok()) return s;
  return WithRerunHint(!committed.ok() ? committed : reader.fatal());
}

}  // namespace

Status StagePasses(Destination* dest, const DestInfo& info,
                   Committer* committer, DuplicatePlacer* placer,
                   IngestLedger* ledger) {
  IngestLedger& l = *ledger;
  for (int pass = 0;; ++pass) {
    // A file out of copies has failed; then the paths that share a content
    // settle, before the pass's jobs are counted (a failure in the last
    // pass still gives the next path its turn).
    FailExhausted(dest, ledger);
    std::vector<Finished> staged;
    Status s = placer->Settle(&staged);
    committer->AddStaged(&staged);
    // Pipelined, the duplicates placed go through the commit pipeline.
    if (s.ok()) s = committer->Flush();
    if (!s.ok()) return WithRerunHint(s);
    placer->ChooseNextReaders();
    std::vector<std::vector<ReadJob>> jobs;
    std::vector<uint64_t> planned;
    if (!MakeJobs(dest, l, pass, &jobs, &planned)) return Status::OK();
    s = RunPass(dest, info, committer, pass, jobs, planned, ledger);
    if (!s.ok()) return s;
    if (l.Cancelled()) return Status::OK();
  }
}

}  // namespace valise
