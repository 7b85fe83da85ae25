// verify: check drives against a manifest, writing nothing to them.
//
// VerifyDrives() is the whole data path, one stage per call:
//   scan -> match -> plan reads -> read and hash -> compare -> report.
// Every copy of a file that is found is read and checked: a file carried on
// two drives is reported per copy, so a bad drive shows even when the
// dataset is whole.
//
// A pack (the manifest binds M.layout, opt.pack): a file no drive given
// delivered whole and right (its drive lost or not given, a copy corrupt
// or unreadable) is read again through its stripes' parity
// (parity_source.h), after the compare stage, reading only the stripes of
// its chunks; its rows say whether it came back. The parity drives' files
// are the pack's, not extra.
//
// The chunk index (v2). With M's signature checked, the chunk digests
// decide alone and are checked as every file is read. Otherwise the
// whole-file digests decide and the chunk digests only locate the damage
// in a copy found corrupt: such a copy is read again, alone, its chunks
// checked (LocateCorruptCopies), rather than every file's chunks hashed
// with SHA-256 beside its whole-file SHA-256 (each byte twice).
//
// Memory. Rows go straight into the report (no second vector of rows to
// copy from), and with RunReport::compact_missing a missing file is its
// manifest entry index (4 bytes), not a FileResult (~200 bytes plus its
// path): a 10-million-entry manifest checked against an empty drive then
// needs the manifest, the match (8 bytes an entry) and 5 bytes an entry
// here (docs/reliability.md, bug 7).
#include <algorithm>
#include <ctime>
#include <functional>
#include <mutex>
#include <unordered_map>

#include "pipeline/chunk_check.h"
#include "pipeline/parity_source.h"
#include "pipeline/plan.h"
#include "pipeline/progress_render.h"
#include "pipeline/reader.h"
#include "pipeline/scan.h"
#include "pipeline/verify_internal.h"
#include "valise/pipeline.h"

namespace valise {

std::string NowIso8601() {
  time_t t = time(nullptr);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Status ChooseDigests(const Manifest& manifest, const PipelineOptions& opt,
                     DigestSet* out) {
  if (opt.hash_only.empty()) {
    *out = manifest.digests();
    return Status::OK();
  }
  DigestSet set;
  for (DigestType t : opt.hash_only.Types()) {
    if (manifest.digests().Has(t)) set.Add(t);
  }
  if (set.empty()) {
    return Status::InvalidArgument(
        "--hash-only", "the manifest holds none of the digests asked for");
  }
  *out = set;
  return Status::OK();
}

namespace {

// Where each computed copy's outcome lands, by job id.
struct CopyOutcome {
  bool read = false;
  ReadOutcome outcome;
};

// Reads again every copy among `jobs` read whole whose digests differ
// from the manifest's, computing no whole-file digest, each chunk checked
// against the chunk index: its outcome gets the checker, for
// ChunkCheck::Describe. A corrupt copy is rare, and checking every chunk
// of every file as it is first read would hash each byte twice with
// SHA-256 (the file's and its chunk's).
Status LocateCorruptCopies(
    FileSystem* fs, const PipelineOptions& opt,
    const std::vector<bool>& rotational, const std::vector<std::string>& names,
    const Manifest& manifest, const DigestSet& digests,
    const std::vector<std::vector<ReadJob>>& jobs,
    const std::function<size_t(const ReadJob&)>& entry_of, ChunkCheck* check,
    std::vector<CopyOutcome>* outcomes) {
  std::vector<std::vector<ReadJob>> again(jobs.size());
  bool any = false;
  for (size_t d = 0; d < jobs.size(); ++d) {
    for (const ReadJob& job : jobs[d]) {
      const CopyOutcome& co = (*outcomes)[job.id];
      const ReadOutcome& o = co.outcome;
      if (!co.read || !o.status.ok() || o.stalled || o.cancelled) continue;
      if (CompareDigests(manifest, entry_of(job), digests, o.digests).empty()) {
        continue;
      }
      again[d].push_back(job);
      again[d].back().chunk_digests = false;  // the first read's are kept
      any = true;
    }
  }
  if (!any) return Status::OK();
  Reader reader(fs, opt, DigestSet(), rotational);
  reader.SetDriveNames(names);
  reader.SetChunkObserver(check->Factory(entry_of));
  return reader.Run(again, nullptr, [&](const ReadJob& job, ReadOutcome&& out) {
    if (out.status.ok())
      (*outcomes)[job.id].outcome.observer = std::move(out.observer);
  });
}

// The digest of `type` among `digests`, or nullptr.
const Digest* FindDigest(const std::vector<Digest>& digests, DigestType type) {
  for (const Digest& d : digests) {
    if (d.type == type) return &d;
  }
  return nullptr;
}

}  // namespace

int64_t FirstDifferentChunk(const std::vector<ChunkDigest>& got,
                            const std::vector<ChunkDigest>& want) {
  size_t n = std::min(got.size(), want.size());
  for (size_t i = 0; i < n; ++i) {
    if (got[i] != want[i]) return static_cast<int64_t>(i);
  }
  if (got.size() != want.size()) return static_cast<int64_t>(n);
  return -1;
}

// Compares one copy's digests with the manifest entry's. Empty when they
// all match, else names the first that differs ("sha256 mismatch").
std::string CompareDigests(const Manifest& manifest, size_t entry,
                           DigestSet digests, const std::vector<Digest>& got) {
  for (DigestType t : digests.Types()) {
    const Digest* d = FindDigest(got, t);
    if (d == nullptr || *d != manifest.digest(entry, t)) {
      return std::string(DigestName(t)) + " mismatch";
    }
  }
  return std::string();
}

namespace {

// The chunk indexes a row's corrupt ranges cover.
std::vector<uint64_t> BadChunks(const FileResult& r, uint64_t cs) {
  std::vector<uint64_t> out;
  for (const BadRange& b : r.corrupt_ranges) {
    for (uint64_t c = b.offset / cs; c * cs < b.offset + b.length; ++c) {
      out.push_back(c);
    }
  }
  return out;
}

// Deciding by signed chunks, no copy of the entry intact: a corrupt copy
// was compared chunk by chunk whole, so a chunk not in its corrupt_ranges
// matched its signed digest there. Each such row says where its bad chunks
// are good ("repairable by chunk: chunk 3 from ship-02", what an ingest
// does: docs/ingest.md, Repair by chunk) and which no copy has good.
void NoteRepairableByChunk(const std::vector<DriveScan>& scans, uint64_t cs,
                           std::vector<FileResult>* rows) {
  std::vector<FileResult*> copies;
  std::vector<std::vector<uint64_t>> bad;
  for (FileResult& r : *rows) {
    if (r.status != FileStatus::kCorrupt || r.corrupt_ranges.empty() ||
        r.corrupt_ranges.size() >= kMaxCorruptRanges) {
      continue;
    }
    copies.push_back(&r);
    bad.push_back(BadChunks(r, cs));
  }
  if (copies.size() < 2) return;
  for (size_t i = 0; i < copies.size(); ++i) {
    std::vector<std::pair<int, ChunkRuns>> from;
    ChunkRuns lost;
    auto add = [](ChunkRuns* runs, uint64_t c) {
      if (!runs->empty() && runs->back().second + 1 == c) {
        runs->back().second = c;
      } else {
        runs->emplace_back(c, c);
      }
    };
    for (uint64_t c : bad[i]) {
      size_t j = 0;
      for (; j < copies.size(); ++j) {
        if (j != i && !std::binary_search(bad[j].begin(), bad[j].end(), c)) {
          break;
        }
      }
      if (j == copies.size()) {
        add(&lost, c);
        continue;
      }
      auto it = std::find_if(from.begin(), from.end(), [&](const auto& f) {
        return f.first == copies[j]->drive;
      });
      if (it == from.end())
        it = from.insert(from.end(), {copies[j]->drive, {}});
      add(&it->second, c);
    }
    std::string note;
    for (const auto& [drive, runs] : from) {
      note += note.empty() ? "repairable by chunk: " : ", ";
      note += ChunkRunsText(runs) + " from " + scans[drive].drive.source;
    }
    if (!lost.empty()) {
      note += std::string(note.empty() ? "" : "; ") + "no copy has " +
              ChunkRunsText(lost) + " good";
    }
    FileResult& r = *copies[i];
    r.detail += (r.detail.empty() ? "" : "; ") + note;
  }
}

}  // namespace

namespace {

// Entry e, with no good copy, read through its stripes' parity: true if it
// came back whole with the manifest's digests. Marks `rows` (the problem
// rows of its copies; one is added if there are none) with what parity
// did.
bool RebuildFromParity(const Manifest& manifest, size_t e, size_t copies,
                       DigestSet digests, ParitySource* parity,
                       std::vector<FileResult>* rows) {
  std::vector<Digest> got;
  uint64_t rebuilt = 0;
  Status s = parity->ReadWhole(e, digests, &got, &rebuilt);
  std::string why =
      s.ok() ? CompareDigests(manifest, e, digests, got) : s.message();
  const bool ok = why.empty();
  parity->CountFile(ok);
  if (rows->empty()) {
    // Its drive not given (or every copy of the wrong size, already
    // reported): one row says what parity did.
    FileResult r;
    r.path = std::string(manifest.path(e));
    r.status = copies == 0 ? FileStatus::kMissing : FileStatus::kSizeMismatch;
    r.expected_size = manifest.file_size(e);
    rows->push_back(std::move(r));
  }
  for (FileResult& r : *rows) {
    r.parity =
        ok ? FileResult::Parity::kRebuilt : FileResult::Parity::kUnrecoverable;
    if (ok) continue;
    r.detail += r.detail.empty() ? "" : "; ";
    r.detail += why;
  }
  return ok;
}

}  // namespace

void FillDriveReports(const std::vector<DriveScan>& scans,
                      const std::vector<DriveReadStats>& stats,
                      const std::vector<uint64_t>& planned, RunReport* report) {
  report->drives.resize(scans.size());
  for (size_t d = 0; d < scans.size(); ++d) {
    DriveReport& dr = report->drives[d];
    dr.source = scans[d].drive.source;
    if (scans[d].drive.resolved()) dr.resolved = scans[d].drive.path;
    dr.kind = DriveKindName(scans[d].drive.kind);
    dr.bytes_planned = planned[d];
    if (!scans[d].status.ok()) dr.errors.push_back(scans[d].status.message());
    for (const std::string& e : scans[d].errors) dr.errors.push_back(e);
    if (d < stats.size()) {
      dr.bytes_read = stats[d].bytes_read;
      dr.seconds = stats[d].seconds;
      dr.chunks_read_past = stats[d].chunks_read_past;
      dr.stalled = stats[d].stalled;
      if (!stats[d].gone.empty()) dr.errors.push_back(stats[d].gone);
      dr.bytes_per_second = stats[d].bytes_per_second;
    }
  }
}

Status VerifyDrives(FileSystem* fs, const Manifest& manifest,
                    const ChunkIndex* chunks,
                    const std::vector<std::string>& sources,
                    const PipelineOptions& opt_in, RunReport* report) {
  const uint64_t start_us = fs->NowMicros();
  PipelineOptions opt = opt_in;
  report->command = "verify";
  report->started = NowIso8601();
  report->files_expected = manifest.size();
  report->bytes_expected = manifest.total_bytes();

  DigestSet digests;
  VALISE_RETURN_IF_ERROR(ChooseDigests(manifest, opt, &digests));

  // The chunk index localises corruption; it must use the reader's chunk
  // size, so the reader takes the index's. The signed one (v2) is checked
  // chunk by chunk as the files are read; the v1 text index is compared
  // once a copy is found corrupt.
  std::unique_ptr<ChunkCheck> chunk_check;
  // With M's signature checked, the chunk digests decide alone: the reader
  // computes no whole-file digest (`digests` still serve a pack's
  // rebuild, which compares whole files).
  const bool by_chunks = DecidesByChunks(opt);
  if (by_chunks) report->checked_by = CheckedByChunks(opt);
  if (UsesChunkIndex(opt)) {
    opt.chunk_size = opt.chunk_index->chunk_size();
    chunk_check = std::make_unique<ChunkCheck>(opt.chunk_index);
  } else if (opt.chunk_index != nullptr) {
    report->notes.push_back(kChunkCheckSkipped);
  }
  if (opt.chunk_index != nullptr) chunks = nullptr;
  std::unordered_map<std::string_view, size_t> chunk_entry;
  if (chunks != nullptr && chunks->chunk_size % kDirectAlignment == 0 &&
      chunks->chunk_size > 0 && chunks->chunk_size <= (64u << 20)) {
    opt.chunk_size = chunks->chunk_size;
    for (size_t i = 0; i < chunks->paths.size(); ++i) {
      chunk_entry.emplace(chunks->paths[i], i);
    }
  }

  report->chunk_size = opt.chunk_size;

  // Stage 1, scan: what is on each drive.
  // A source that cannot be a drive (not there, not a directory, image or
  // block device) is trouble, whether alone or one of many (CheckSource).
  std::vector<DriveScan> scans = ScanDrives(fs, sources);
  for (const DriveScan& s : scans) {
    if (!s.status.ok()) return s.status;
  }

  // Stage 2, match: every copy of every manifest entry, and the extras.
  Match match;
  MatchDrives(manifest, scans, &match);
  // A pack: which drive given is which member of its stripes.
  std::unique_ptr<ParitySource> parity;
  if (opt_in.pack != nullptr) {
    VALISE_RETURN_IF_ERROR(ParitySource::Open(
        fs, manifest, opt_in.pack, opt_in.chunk_index, scans, &parity));
  }

  // Stage 3, plan: a read job per copy of the right size; a copy of the
  // wrong size is reported without reading it.
  std::vector<std::vector<ReadJob>> jobs(scans.size());
  std::vector<uint64_t> planned(scans.size(), 0);
  std::vector<uint8_t> entry_ok(manifest.size(), 0);
  std::vector<uint64_t> copies_ok(scans.size(), 0), copies_bad(scans.size(), 0);
  for (size_t e = 0; e < manifest.size(); ++e) {
    const size_t n = match.num_copies(e);
    if (n == 0 && parity && parity->Covers(e)) continue;  // stage 5
    if (n == 0) {
      if (report->compact_missing) {
        report->AddMissing(&manifest, e);
        continue;
      }
      FileResult r;
      r.path = std::string(manifest.path(e));
      r.status = FileStatus::kMissing;
      r.expected_size = manifest.file_size(e);
      report->files.push_back(std::move(r));
      continue;
    }
    for (size_t k = 0; k < n; ++k) {
      const CopyRef& c = match.copy(e, k);
      const ScannedFile& f = scans[c.drive].files[c.file];
      if (manifest.has_sizes() && f.info.size != manifest.file_size(e)) {
        FileResult r;
        r.path = std::string(manifest.path(e));
        r.drive = c.drive;
        r.status = FileStatus::kSizeMismatch;
        r.expected_size = manifest.file_size(e);
        r.actual_size = f.info.size;
        report->files.push_back(std::move(r));
        ++copies_bad[c.drive];
        continue;
      }
      ReadJob job;
      job.drive = c.drive;
      job.path = DrivePath(scans[c.drive].drive, f.rel);
      job.size = f.info.size;
      job.id = match.first[e] + k;
      job.chunk_digests =
          !by_chunks && (n > 1 || chunk_entry.count(manifest.path(e)) > 0);
      planned[c.drive] += job.size;
      jobs[c.drive].push_back(std::move(job));
    }
  }
  for (size_t d = 0; d < scans.size(); ++d) {
    if (scans[d].drive.info.rotational) OrderByPhysicalOffset(fs, &jobs[d]);
  }

  // Stage 4, read and hash: all drives at once.
  std::vector<bool> rotational;
  std::vector<std::string> names;
  for (const DriveScan& s : scans) {
    rotational.push_back(s.drive.info.rotational);
    names.push_back(s.drive.source);
  }
  std::vector<CopyOutcome> outcomes(match.copies.size());
  Reader reader(fs, opt, by_chunks ? DigestSet() : digests, rotational);
  reader.SetDriveNames(names);
  // A job's id is its copy's place in match.copies: its entry is the one
  // whose copies hold it.
  auto entry_of = [&](const ReadJob& job) {
    auto it = std::upper_bound(match.first.begin(), match.first.end(),
                               static_cast<uint64_t>(job.id));
    return static_cast<size_t>(it - match.first.begin()) - 1;
  };
  // The chunk digests are checked as the files are read only where they
  // decide; where the whole-file digests decide, they only locate the
  // damage in a corrupt copy, which is read again for it (stage 4b), so
  // that each byte read is hashed with SHA-256 once.
  if (chunk_check && by_chunks) {
    reader.SetChunkObserver(chunk_check->Factory(entry_of));
  }
  {
    std::vector<std::string> shown = names;
    for (size_t i = 0; i < shown.size(); ++i) {
      shown[i] = ProgressName(opt, i, names[i]);
    }
    Progress progress(shown, planned, ProgressOptionsOf(opt));
    VALISE_RETURN_IF_ERROR(
        reader.Run(jobs, &progress, [&](const ReadJob& job, ReadOutcome&& out) {
          outcomes[job.id].read = true;
          outcomes[job.id].outcome = std::move(out);
        }));
    progress.Finish();
  }
  report->verbose_notes.push_back(reader.queue_note());

  // Stage 4b, locate: each copy whose digests differ from the manifest's
  // read again, its chunks checked against the chunk index.
  if (chunk_check && !by_chunks) {
    VALISE_RETURN_IF_ERROR(
        LocateCorruptCopies(fs, opt, rotational, names, manifest, digests, jobs,
                            entry_of, chunk_check.get(), &outcomes));
  }

  // Stage 5, compare: each copy's digests against the manifest.
  for (size_t e = 0; e < manifest.size(); ++e) {
    const size_t n = match.num_copies(e);
    int good_copy = -1;
    std::vector<FileResult> bad;
    std::vector<size_t> corrupt_copies;
    for (size_t k = 0; k < n; ++k) {
      const CopyRef& c = match.copy(e, k);
      CopyOutcome& co = outcomes[match.first[e] + k];
      if (!co.read) continue;  // size mismatch, already reported
      ReadOutcome& o = co.outcome;
      FileResult r;
      r.path = std::string(manifest.path(e));
      r.drive = c.drive;
      r.expected_size = manifest.file_size(e);
      r.actual_size = scans[c.drive].files[c.file].info.size;
      if (o.stalled) {
        r.status = FileStatus::kStalled;
        r.detail = o.status.message();
      } else if (o.cancelled) {
        continue;  // interrupted before this copy was read
      } else if (!o.status.ok()) {
        r.status = o.status.IsCorruption() ? FileStatus::kSizeMismatch
                                           : FileStatus::kUnreadable;
        r.detail = o.status.message();
        r.bad_ranges = o.bad_ranges;
      } else {
        std::string diff;
        ChunkFinding found = ChunkFinding::kIntact;
        if (by_chunks) {
          found = ChunkVerdict(o, *opt.chunk_index, e, &diff);
        } else {
          diff = CompareDigests(manifest, e, digests, o.digests);
        }
        if (diff.empty()) {
          if (good_copy < 0) good_copy = static_cast<int>(k);
          ++copies_ok[c.drive];
          if (!entry_ok[e]) {
            entry_ok[e] = 1;
            ++report->files_ok;
            report->bytes_verified += manifest.file_size(e);
          }
          continue;
        }
        r.status = FileStatus::kCorrupt;
        r.detail = diff;
        if (by_chunks) {
          r.status = StatusOf(found);
          ChunkCheck::DescribeByChunks(o, diff, &r);
        } else {
          ChunkCheck::Describe(o, &r);
        }
        auto it = chunk_entry.find(manifest.path(e));
        if (it != chunk_entry.end()) {
          int64_t i = FirstDifferentChunk(o.chunks, chunks->chunks[it->second]);
          if (i >= 0) r.first_bad_offset = i * int64_t(opt.chunk_size);
        }
        corrupt_copies.push_back(bad.size());
      }
      ++copies_bad[c.drive];
      bad.push_back(std::move(r));
    }
    // Without a chunk index, a good copy on another drive still tells
    // where a corrupt one first differs.
    if (good_copy >= 0) {
      const auto& good = outcomes[match.first[e] + good_copy].outcome.chunks;
      for (size_t i : corrupt_copies) {
        FileResult& r = bad[i];
        if (r.first_bad_offset < 0) {
          // Find this copy's outcome again by drive.
          for (size_t k = 0; k < n; ++k) {
            if (match.copy(e, k).drive != r.drive) continue;
            const auto& mine = outcomes[match.first[e] + k].outcome.chunks;
            int64_t c = FirstDifferentChunk(mine, good);
            if (c >= 0) r.first_bad_offset = c * int64_t(opt.chunk_size);
          }
        }
      }
      for (FileResult& r : bad) {
        r.detail += r.detail.empty() ? "" : "; ";
        r.detail += "a good copy is on " +
                    scans[match.copy(e, good_copy).drive].drive.source;
      }
    }
    if (good_copy < 0 && by_chunks) {
      NoteRepairableByChunk(scans, opt.chunk_index->chunk_size(), &bad);
    }
    const bool cancelled =
        opt.cancel != nullptr && opt.cancel->load(std::memory_order_relaxed);
    if (parity && parity->Covers(e) && !entry_ok[e]) {
      if (!cancelled) {
        if (RebuildFromParity(manifest, e, n, digests, parity.get(), &bad)) {
          entry_ok[e] = 1;
          ++report->files_ok;
          report->bytes_verified += manifest.file_size(e);
        }
      } else if (n == 0) {
        report->AddMissing(&manifest, e);
      }
    }
    for (FileResult& r : bad) report->files.push_back(std::move(r));
  }

  // Stage 6, report.
  FillDriveReports(scans, reader.drive_stats(), planned, report);
  // Trouble of valise's own (out of descriptors; the chunk index unreadable
  // or changed during the run): exit 2, not a finding.
  if (!reader.fatal().ok()) report->fatal_error = reader.fatal().message();
  if (chunk_check && !chunk_check->trouble().ok() &&
      report->fatal_error.empty()) {
    report->fatal_error = chunk_check->trouble().message();
  }
  for (size_t d = 0; d < scans.size(); ++d) {
    report->drives[d].files_ok = copies_ok[d];
    report->drives[d].files_bad = copies_bad[d];
  }
  for (FileResult& r : match.extra) {
    if (parity && parity->IsParityFile(r.drive, r.path)) continue;
    report->files.push_back(std::move(r));
  }
  if (parity) report->parity = parity->Report();
  for (DriveScan& s : scans) {
    for (FileResult& r : s.skipped) report->files.push_back(std::move(r));
  }
  report->interrupted =
      opt.cancel != nullptr && opt.cancel->load(std::memory_order_relaxed);
  report->seconds = double(fs->NowMicros() - start_us) / 1e6;
  return Status::OK();
}

}  // namespace valise
