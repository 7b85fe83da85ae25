// ingest: land a dataset from drives onto DEST, verified, resumably.
//
// IngestDrives() is the whole data path, one stage per call (Ingest::Run):
//   open DEST -> journal -> scan -> match -> plan -> stage passes -> report
//
// This file holds the policy; DEST is a Destination
// (include/valise/destination.h) that knows only how: for a directory,
// src/dest/posix_destination.cc (staging under DEST/.valise/staging,
// syncfs or fdatasync, renameat2(RENAME_NOREPLACE), the journal).
//
// The protocol that makes it impossible to lose data or to name a bad file:
//
//  1. Every file is staged under a temporary name, from the buffers its
//     reads filled, while it is hashed.
//  2. Only when its digests match the manifest is it committed, in groups
//     (commit_batch files): finished (final size, mode and mtime), sealed
//     (its data durable), and only then named (never replacing anything
//     already there), the names made durable, and one journal record per
//     file recorded. Where a seal also makes the names and records before
//     it durable (one syncfs), the groups are pipelined (CommitPipelined): a
//     group is sealed while the group before is named and recorded, and the
//     next seal makes those names and records durable. Elsewhere each
//     group is sealed, named, and its names and records made durable in
//     turn (CommitInTurn). A file is reported ok only once its name is
//     durable. A crash at any point leaves either a temporary (removed on
//     the next run) or a durable, verified file under its final name; the
//     journal is trusted only with the final name present (a crash may take
//     a name whose record survived: the file is read again).
//  3. A copy that fails (corrupt, unreadable, its drive stalled) is
//     discarded and the next copy on another drive is read in the next
//     pass: the file is "repaired from" that drive.
//  4. A content that several paths share (same size and digests in the
//     manifest) is read once, by policy: with --dedup=copy every path is
//     read like any file; else the paths form a group, one of them is read
//     (the first in manifest order with a copy of the right size), and
//     once any path of the group is committed (by this run, or by an
//     earlier one: journaled, or found under its final name and checked)
//     every other path is cloned (reflink) or hard-linked to it. If the
//     path being read runs out of copies, the next path of the group is
//     read in the next pass; a path that failed is still placed once
//     another path brings its bytes (its failed copies are reported
//     "repaired from" that path's drive). Only when no path of the group
//     can be read is each of them reported.
//  5. A rerun reads the journal (up to its first torn record), skips every
//     file it holds whose final name is still there, re-checks files found
//     under their final name that the journal does not hold (a crash
//     between naming and recording), and re-reads nothing else already
//     done.
//  6. DEST full (ENOSPC, bytes or inodes) or failing: the run stops
//     cleanly, temporaries are removed, what was committed stays
//     committed; rerun when space is freed.
//
// DEST's lock keeps a second ingest out of the same DEST.
//
// DEST/.valise (journal, lock, staging) is valise's alone: a manifest with
// a path there is refused before DEST is created or a drive read, and the
// clean-up removes only the names valise gives staging files.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "dest/posix_destination.h"
#include "pipeline/chunk_check.h"
#include "pipeline/plan.h"
#include "pipeline/reader.h"
#include "pipeline/scan.h"
#include "pipeline/verify_internal.h"
#include "valise/destination.h"
#include "valise/journal.h"
#include "valise/pipeline.h"

namespace valise {

bool ParseDedupPolicy(std::string_view name, DedupPolicy* policy) {
  static const std::pair<const char*, DedupPolicy> kNames[] = {
      {"auto", DedupPolicy::kAuto},
      {"reflink", DedupPolicy::kReflink},
      {"hardlink", DedupPolicy::kHardlink},
      {"copy", DedupPolicy::kCopy},
  };
  for (const auto& [n, p] : kNames) {
    if (name == n) {
      *policy = p;
      return true;
    }
  }
  return false;
}

const char* DedupPolicyName(DedupPolicy policy) {
  switch (policy) {
    case DedupPolicy::kAuto:
      return "auto";
    case DedupPolicy::kReflink:
      return "reflink";
    case DedupPolicy::kHardlink:
      return "hardlink";
    case DedupPolicy::kCopy:
      return "copy";
  }
  return "?";
}

namespace {

// DEST's state directory (journal, lock, staging): no manifest path may
// reach it (Ingest::RefuseStatePaths), so a name in it is valise's own.
constexpr const char* kStateDir = kStateDirName;  // ".valise" (scan.h)

// True if `rel` (relative to DEST) is the state directory or under it.
bool InStateDir(std::string_view rel) {
  const std::string_view dir = kStateDirName;
  return rel.substr(0, dir.size()) == dir &&
         (rel.size() == dir.size() || rel[dir.size()] == '/');
}

// Finished files waiting for the commit thread, at most. Each holds its
// staging file open until it is sealed, so the bound also leaves half the
// process's descriptors (RLIMIT_NOFILE) to the reader (a source and a
// staging file per file in flight, bounded by its buffers) and the rest of
// valise.
size_t MaxBacklog() {
  struct rlimit rl;
  size_t limit = 1024;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    limit = static_cast<size_t>(rl.rlim_cur);
  }
  return std::clamp<size_t>(limit / 2 > 32 ? limit / 2 - 32 : 0, 8, 1024);
}
// Errors that mean DEST itself is in trouble (full, failing, gone), as
// opposed to one path that cannot be placed.
bool IsDestTrouble(const Status& s) {
  return s.IsNoSpace() || s.IsTimedOut() || s.data_loss() ||
         (s.IsIOError() && s.err() != EEXIST && s.err() != ENOTDIR &&
          s.err() != EISDIR && s.err() != ELOOP && s.err() != EXDEV);
}

enum class EntryState : uint8_t {
  kTodo,       // to be read and staged
  kCheck,      // under its final name, unknown to the journal: checked
  kDuplicate,  // waits for a path with its content to be committed
  kCommitted,  // durable under its final name (this run or a previous one)
  kFailed,     // no copy left to try (placed if its content is committed)
  kMissing,    // on no drive (likewise)
  kRefused,    // left as is: DEST holds something else under its name
  kPlacing,    // a clone or link of a committed path, on its way to commit
};

// One finished read, on its way to commit.
struct Finished {
  size_t entry = 0;
  int drive = 0;
  bool in_place = false;  // a check of a file already under its final name
                          // (or a hard link to a committed duplicate)
  ReadOutcome outcome;    // outcome.staged: on its way to its final name
  Status prepared;        // of Destination::Finish: size, mode, mtime set as it
                          // finished
  int64_t dup_of = -1;    // a clone or link of this committed entry's file
};

class Ingest {
 public:
  Ingest(FileSystem* fs, const Manifest& manifest,
         const std::vector<std::string>& sources, const std::string& dest,
         const PipelineOptions& opt, const IngestOptions& iopt,
         RunReport* report)
      : fs_(fs),
        m_(manifest),
        sources_(sources),
        dest_path_(dest),
        opt_(opt),
        iopt_(iopt),
        report_(report),
        state_(manifest.size(), EntryState::kTodo),
        group_(manifest.size(), -1),
        read_from_(manifest.size(), -1),
        no_place_(manifest.size(), 0),
        attempt_(manifest.size(), 0),
        resumed_(manifest.size(), 0) {}

  Status Run() {
    start_us_ = fs_->NowMicros();
    report_->command = "ingest";
    report_->dest = dest_path_;
    report_->started = NowIso8601();
    report_->files_expected = m_.size();
    report_->bytes_expected = m_.total_bytes();
    report_->chunk_size = opt_.chunk_size;
    VALISE_RETURN_IF_ERROR(ChooseDigests(m_, opt_, &digests_));
    // Before DEST is created or any drive read: no path in the state
    // directory.
    VALISE_RETURN_IF_ERROR(RefuseStatePaths());

    // Stage 1: open DEST, take its lock, clear leftover temporary files.
    VALISE_RETURN_IF_ERROR(OpenDest());
    // Stage 2: read the journal; what it holds is done.
    VALISE_RETURN_IF_ERROR(ReadJournal());
    // Stage 3: scan the drives.
    scans_ = ScanDrives(fs_, sources_);
    // Stage 4: match them against the manifest.
    MatchDrives(m_, scans_, &match_);
    // Stage 5: plan: skip what is done, group duplicates, choose copies.
    Plan();
    // Stage 6: read, hash, stage and commit, pass after pass, until every
    // file is committed or has no copy left to try.
    Status s = StagePasses();
    // Stage 7: report.
    FinishReport();
    if (!s.ok()) report_->fatal_error = s.message();
    dest_->CleanUp();
    if (s.ok()) {
      s = dest_->Close(std::to_string(report_->files_ok) + " files committed");
    }
    return s;
  }

 private:
  // A manifest path landing in DEST/.valise would share a namespace with
  // the journal and the staging files (the clean-up of a rerun would
  // delete it): the whole manifest is refused, naming the first such path.
  Status RefuseStatePaths() const {
    // Under a prefix ("data/" for --bag) no path reaches the state.
    if (!iopt_.dest_prefix.empty() && !InStateDir(iopt_.dest_prefix)) {
      return Status::OK();
    }
    size_t count = 0;
    size_t first = 0;
    for (size_t e = 0; e < m_.size(); ++e) {
      if (InStateDir(DestRel(e)) && count++ == 0) first = e;
    }
    if (count == 0) return Status::OK();
    const std::string more =
        count > 1 ? " (and " + std::to_string(count - 1) + " more)" : "";
    return Status::InvalidArgument(
        report_->manifest.empty() ? "manifest" : report_->manifest,
        "path '" + EscapePath(DestRel(first)) + "'" + more +
            " would land in DEST/" + kStateDir +
            ", valise's own state directory (journal, lock, staging): "
            "ingest refuses it. Remove such lines from the manifest (an "
            "earlier ingest's state is no part of a dataset; valise "
            "manifest skips it), or ingest with --bag (the payload then "
            "lands under DEST/data/)");
  }

  // --- Stage 1.
  Status OpenDest() {
    PosixDestinationOptions po;
    po.depth = iopt_.depth;
    dest_ = NewPosixDestination(fs_, dest_path_, po);
    DestInfo info;
    VALISE_RETURN_IF_ERROR(dest_->Open(&info));
    // Whether DEST can clone decides kAuto, and warns for kReflink.
    dedup_ = iopt_.dedup;
    if (dedup_ == DedupPolicy::kAuto) {
      dedup_ = info.clone ? DedupPolicy::kReflink : DedupPolicy::kCopy;
    } else if (dedup_ == DedupPolicy::kReflink && !info.clone) {
      report_->notes.push_back(
          "DEST cannot reflink: duplicates are copied (--dedup=copy)");
      dedup_ = DedupPolicy::kCopy;
    }
    report_->notes.push_back(std::string("dedup: ") + DedupPolicyName(dedup_));
    report_->notes.insert(report_->notes.end(), info.notes.begin(),
                          info.notes.end());
    pipelined_ = info.seal_covers_names;
    return Status::OK();
  }

  // --- Stage 2.
  Status ReadJournal() {
    std::vector<JournalRecord> records;
    VALISE_RETURN_IF_ERROR(dest_->Resume(std::to_string(m_.size()) + " files",
                                         &records, &report_->notes));
    for (JournalRecord& r : records) journaled_[r.path] = std::move(r);
    return Status::OK();
  }

  // True if the journal holds entry e with its manifest size and digests.
  bool Journaled(size_t e) const {
    auto it = journaled_.find(std::string(m_.path(e)));
    if (it == journaled_.end()) return false;
    const JournalRecord& r = it->second;
    if (m_.has_sizes() && r.size != m_.file_size(e)) return false;
    for (DigestType t : m_.digests().Types()) {
      bool found = false;
      for (const Digest& d : r.digests) {
        if (d.type == t) {
          if (d != m_.digest(e, t)) return false;
          found = true;
        }
      }
      if (!found && digests_.Has(t)) return false;
    }
    return true;
  }

  // --- Stage 5.
  void Plan() {
    const size_t n = m_.size();
    const int num_drives = static_cast<int>(scans_.size());
    dest_drive_ = num_drives;
    candidates_.resize(n);
    std::map<std::vector<uint8_t>, size_t> group_of_content;
    std::vector<size_t> order;
    for (size_t e = 0; e < n; ++e) {
      const std::string rel = DestRel(e);
      FileInfo info;
      const bool exists = dest_->Stat(rel, &info).ok();
      const bool sized = exists && info.type == FileType::kRegular &&
                         (!m_.has_sizes() || info.size == m_.file_size(e));
      if (sized && Journaled(e)) {
        state_[e] = EntryState::kCommitted;
        resumed_[e] = 1;
        ++report_->files_skipped_resume;
      } else if (sized) {
        state_[e] = EntryState::kCheck;  // under its final name, unknown
        in_place_.push_back(e);
      } else if (exists) {
        Conflict(e, info.type == FileType::kRegular
                        ? "a different file (size " +
                              std::to_string(info.size) +
                              ") is already in DEST under this name; "
                              "not overwritten"
                        : std::string("DEST has a ") + FileTypeName(info.type) +
                              " under this name; not replaced");
        continue;
      }
      // Paths with the same bytes form a group (a committed or checked
      // path too: it is a source of its content). Its members wait for
      // the one chosen below to be read.
      if (dedup_ != DedupPolicy::kCopy && m_.file_size(e) > 0) {
        auto [it, fresh] =
            group_of_content.emplace(ContentKey(e), groups_.size());
        if (fresh) groups_.emplace_back();
        groups_[it->second].push_back(e);
        group_[e] = static_cast<int64_t>(it->second);
        if (state_[e] == EntryState::kTodo) state_[e] = EntryState::kDuplicate;
        continue;
      }
      if (state_[e] == EntryState::kTodo) order.push_back(e);
    }
    for (const std::vector<size_t>& g : groups_) NextReaders(g, &order);
    // Largest first, each to the drive with the fewest bytes so far: the
    // drives finish together.
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return m_.file_size(a) > m_.file_size(b);
    });
    std::vector<uint64_t> assigned(num_drives, 0);
    for (size_t e : order) ChooseCopies(e, &assigned);
  }

  // What identifies a content: its size and every manifest digest.
  std::vector<uint8_t> ContentKey(size_t e) const {
    std::vector<uint8_t> key(8);
    const uint64_t size = m_.file_size(e);
    memcpy(key.data(), &size, 8);
    for (DigestType t : m_.digests().Types()) {
      Digest d = m_.digest(e, t);
      key.insert(key.end(), d.bytes.begin(), d.bytes.begin() + d.size);
    }
    return key;
  }

  // The paths of group g to read next, appended to *out, when none of its
  // paths is committed, being read or being checked: the first waiting
  // one with a copy of the right size; if none has one, every waiting one
  // (each is then reported).
  void NextReaders(const std::vector<size_t>& g, std::vector<size_t>* out) {
    std::vector<size_t> waiting;
    for (size_t e : g) {
      switch (state_[e]) {
        case EntryState::kCommitted:
        case EntryState::kPlacing:
        case EntryState::kTodo:
        case EntryState::kCheck:
          return;
        case EntryState::kDuplicate:
          waiting.push_back(e);
          break;
        default:
          break;
      }
    }
    for (size_t e : waiting) {
      if (HasCopy(e)) {
        out->push_back(e);
        return;
      }
    }
    out->insert(out->end(), waiting.begin(), waiting.end());
  }

  // True if a drive holds entry e with its manifest size.
  bool HasCopy(size_t e) const {
    for (size_t k = 0; k < match_.num_copies(e); ++k) {
      const CopyRef& ref = match_.copy(e, k);
      if (!m_.has_sizes() ||
          scans_[ref.drive].files[ref.file].info.size == m_.file_size(e)) {
        return true;
      }
    }
    return false;
  }

  // Fills candidates_[e]: the best balanced copy first, then the others.
  void ChooseCopies(size_t e, std::vector<uint64_t>* assigned) {
    state_[e] = EntryState::kTodo;
    std::vector<CopyRef>& c = candidates_[e];
    for (size_t k = 0; k < match_.num_copies(e); ++k) {
      const CopyRef& ref = match_.copy(e, k);
      const ScannedFile& f = scans_[ref.drive].files[ref.file];
      if (m_.has_sizes() && f.info.size != m_.file_size(e)) {
        FileResult r = Result(e, ref.drive, FileStatus::kSizeMismatch);
        r.actual_size = f.info.size;
        AddFailure(e, std::move(r));
        continue;
      }
      c.push_back(ref);
    }
    if (c.empty()) {
      if (match_.num_copies(e) == 0) {
        state_[e] = EntryState::kMissing;
        AddFailure(e, Result(e, -1, FileStatus::kMissing));
      } else {
        state_[e] = EntryState::kFailed;
      }
      return;
    }
    auto best = std::min_element(c.begin(), c.end(), [&](auto& a, auto& b) {
      return (*assigned)[a.drive] < (*assigned)[b.drive];
    });
    std::rotate(c.begin(), best, best + 1);
    (*assigned)[c[0].drive] += m_.file_size(e);
  }

  // Where entry e lands, relative to DEST.
  std::string DestRel(size_t e) const {
    return iopt_.dest_prefix + std::string(m_.path(e));
  }

  FileResult Result(size_t e, int drive, FileStatus status) const {
    FileResult r;
    r.path = std::string(m_.path(e));
    r.drive = drive;
    r.status = status;
    r.expected_size = m_.file_size(e);
    return r;
  }

  void AddFailure(size_t e, FileResult r) {
    failures_of_[e].push_back(report_->files.size());
    report_->files.push_back(std::move(r));
  }

  void Conflict(size_t e, const std::string& why) {
    state_[e] = EntryState::kRefused;
    FileResult r = Result(e, -1, FileStatus::kCorrupt);
    r.detail = why;
    report_->files.push_back(std::move(r));
  }

  // --- Stage 6.
  Status StagePasses() {
    for (int pass = 0;; ++pass) {
      // A file out of copies has failed; then the paths that share a
      // content settle, before the pass's jobs are counted (a failure in
      // the last pass still gives the next path its turn).
      for (size_t e = 0; e < m_.size(); ++e) {
        if (state_[e] == EntryState::kTodo &&
            attempt_[e] >= candidates_[e].size()) {
          state_[e] = EntryState::kFailed;
        }
      }
      Status s = SettleGroups();
      if (!s.ok()) return WithRerunHint(s);
      std::vector<std::vector<ReadJob>> jobs(scans_.size() + 1);
      std::vector<uint64_t> planned(scans_.size() + 1, 0);
      size_t count = 0;
      if (pass == 0) {
        for (size_t e : in_place_) {
          ReadJob j;
          j.drive = dest_drive_;
          j.path = dest_->ReadPath(DestRel(e));
          j.size = m_.file_size(e);
          j.id = e;
          planned[dest_drive_] += j.size;
          jobs[dest_drive_].push_back(std::move(j));
          ++count;
        }
      }
      for (size_t e = 0; e < m_.size(); ++e) {
        if (state_[e] != EntryState::kTodo) continue;
        const CopyRef& ref = candidates_[e][attempt_[e]];
        ReadJob j;
        j.drive = ref.drive;
        j.path = DrivePath(scans_[ref.drive].drive,
                           scans_[ref.drive].files[ref.file].rel);
        j.size = scans_[ref.drive].files[ref.file].info.size;
        j.id = e;
        j.write = true;
        planned[ref.drive] += j.size;
        jobs[ref.drive].push_back(std::move(j));
        ++count;
      }
      if (count == 0) return Status::OK();
      for (size_t d = 0; d < scans_.size(); ++d) {
        if (scans_[d].drive.info.rotational)
          OrderByPhysicalOffset(fs_, &jobs[d]);
      }
      s = RunPass(pass, jobs, planned);
      if (!s.ok()) return s;
      if (Cancelled()) return Status::OK();
    }
  }

  // Each group of paths sharing a content is placed from a committed path
  // of it, or else gets its next path to read (see the essay, step 4).
  Status SettleGroups() {
    std::vector<size_t> readers;
    for (const std::vector<size_t>& g : groups_) {
      auto source = std::find_if(g.begin(), g.end(), [&](size_t e) {
        return state_[e] == EntryState::kCommitted;
      });
      if (source != g.end()) {
        VALISE_RETURN_IF_ERROR(PlaceDuplicates(*source));
      } else {
        NextReaders(g, &readers);
      }
    }
    // With syncfs, the duplicates placed go through the commit pipeline.
    VALISE_RETURN_IF_ERROR(FlushPending());
    std::vector<uint64_t> none(scans_.size(), 0);
    for (size_t e : readers) ChooseCopies(e, &none);
    return Status::OK();
  }

  static Status WithRerunHint(const Status& s) {
    if (!s.IsNoSpace()) return s;
    return s.WithContext(
        "DEST is full; committed files are kept, free space and rerun the "
        "same command to resume");
  }

  bool Cancelled() const {
    return opt_.cancel != nullptr && opt_.cancel->load();
  }

  Status RunPass(int pass, const std::vector<std::vector<ReadJob>>& jobs,
                 const std::vector<uint64_t>& planned) {
    std::vector<bool> rotational;
    std::vector<std::string> names;
    for (const DriveScan& s : scans_) {
      rotational.push_back(s.drive.info.rotational);
      names.push_back(s.drive.source);
    }
    rotational.push_back(false);
    names.push_back(dest_path_ + " (check)");
    Reader reader(fs_, opt_, digests_, rotational);
    if (chunk_check_) {
      reader.SetChunkObserver(chunk_check_->Factory(
          [](const ReadJob& job) -> size_t { return job.id; }));
    }
    reader.SetSink(
        dest_->writer(),
        [this, pass](const ReadJob& job, std::unique_ptr<StagedFile>* out) {
          return dest_->Stage(StageRequestFor(job, pass), out);
        });

    // The commit thread takes finished files in batches.
    std::mutex mu;
    std::condition_variable cv;    // the committer waits for work
    std::condition_variable room;  // the reader waits for the backlog
    std::deque<Finished> queue;
    size_t in_commit = 0;  // files of the batch being committed
    const size_t max_backlog = MaxBacklog();
    bool reading_done = false;
    Status commit_status;
    std::thread committer([&] {
      std::vector<Finished> batch;
      for (;;) {
        {
          std::unique_lock<std::mutex> l(mu);
          cv.wait(l, [&] {
            // Commit as soon as anything is finished: a batch forms by
            // itself while the previous commit runs. Files sealed or
            // pending (with syncfs) do not wait for more to finish: an
            // empty batch names and commits them.
            return reading_done || !queue.empty() || CommitOwed();
          });
          while (!queue.empty() && batch.size() < iopt_.commit_batch) {
            batch.push_back(std::move(queue.front()));
            queue.pop_front();
          }
          if (batch.empty() && reading_done) break;
          in_commit = batch.size();
        }
        Status s = CommitBatch(&batch);
        batch.clear();
        {
          std::lock_guard<std::mutex> l(mu);
          in_commit = 0;
          if (!s.ok() && commit_status.ok()) {
            commit_status = s;
            reader.Abort(s);
          }
        }
        room.notify_all();
      }
      // The last batch's names and journal records (with syncfs).
      Status s = FlushPending();
      std::lock_guard<std::mutex> l(mu);
      if (!s.ok() && commit_status.ok()) commit_status = s;
    });

    Status s;
    {
      Progress progress(names, planned, opt_.progress);
      s = reader.Run(jobs, &progress, [&](const ReadJob& job, ReadOutcome&& o) {
        Finished f;
        f.entry = job.id;
        f.drive = job.drive;
        f.in_place = job.drive == dest_drive_;
        f.outcome = std::move(o);
        // Size, mode and mtime are set here, off the commit thread, which
        // the many small files keep busy (0.35 s of 4 s for 20,000).
        if (!f.in_place && f.outcome.staged && f.outcome.written &&
            f.outcome.status.ok()) {
          f.prepared = dest_->Finish(f.outcome.staged.get());
        }
        std::unique_lock<std::mutex> l(mu);
        // Each finished file holds its staging file open until committed:
        // with many small files reading outruns the commits, and an
        // unbounded backlog ran out of descriptors (EMFILE after ~20,000
        // files). The batch being committed counts too (else the queue
        // refilled behind it: EMFILE under ulimit -n 200). Waiting here
        // holds the reader back through its buffers.
        room.wait(l, [&] {
          return queue.size() + in_commit < max_backlog || !commit_status.ok();
        });
        queue.push_back(std::move(f));
        cv.notify_one();
      });
      {
        std::lock_guard<std::mutex> l(mu);
        reading_done = true;
      }
      cv.notify_one();
      committer.join();
      progress.Finish();
    }
    AccumulateStats(reader);
    if (pass == 0) report_->notes.push_back(reader.queue_note());
    if (!s.ok()) return s;
    return WithRerunHint(!commit_status.ok() ? commit_status : reader.fatal());
  }

  // What the destination is asked to stage for a job of pass `pass`.
  // Called on the reader's I/O thread (the scans and the manifest are not
  // changed during a pass).
  StageRequest StageRequestFor(const ReadJob& job, int pass) const {
    const size_t e = job.id;
    StageRequest r;
    r.name = DestRel(e);
    r.key = "e" + std::to_string(e) + "-p" + std::to_string(pass);
    r.size = m_.file_size(e);
    r.mode = ModeOf(e, job.drive);
    r.mtime_ns = MtimeOf(e, job.drive);
    r.digests = ManifestDigests(e);
    r.direct = iopt_.direct && job.size >= iopt_.direct_min_bytes;
    return r;
  }

  // Commit protocol, step 2 of the essay above, for one batch.
  Status CommitBatch(std::vector<Finished>* batch) {
    std::vector<Finished*> good;
    for (Finished& f : *batch) {
      if (Accept(&f)) good.push_back(&f);
    }
    Status s = pipelined_ ? CommitPipelined(good) : CommitInTurn(good);
    // DEST failed a staging write: the run stops (see Accept).
    return s.ok() ? dest_failure_ : s;
  }

  // Each file's data made durable (Seal: fdatasync), then the names, then
  // the names and records made durable (Sync: the directories fsync'ed,
  // the journal fdatasync'ed): the batch's files are committed when this
  // returns.
  Status CommitInTurn(const std::vector<Finished*>& good) {
    std::vector<Status> sealed = SealAll(good);
    std::vector<Finished*> named;
    Status fatal = NameAll(good, sealed, &named);
    if (named.empty()) return fatal;
    VALISE_RETURN_IF_ERROR(dest_->Record(CommitRecords(named)));
    // The names are durable, or the journal records nothing.
    VALISE_RETURN_IF_ERROR(dest_->Sync());
    for (Finished* f : named) Committed(f->entry, f->drive, f->outcome);
    for (Finished* f : named) {
      VALISE_RETURN_IF_ERROR(PlaceDuplicates(f->entry));
    }
    return fatal;
  }

  // Where a seal also makes the names and records before it durable
  // (syncfs): one seal per batch, and the device kept busy. This batch's
  // seal makes its data durable while the batch before (sealed by the seal
  // before) is named and recorded. Those names and records are durable once
  // a seal that started after them returns (this batch's next one), and
  // only then are the files committed: reported ok, sources of their
  // duplicates. Until then they are pending: a crash may take a name or a
  // record, never name data that is not durable; a rerun re-reads a
  // journaled file whose name is gone. Small files were committed at one
  // device flush each before (3.7 ms, ~270 files/s).
  Status CommitPipelined(const std::vector<Finished*>& good) {
    // Duplicates cloned since the last seal (PlaceDuplicates): this one
    // seals them too.
    std::vector<Finished> cloned = std::move(to_seal_);
    to_seal_.clear();
    std::vector<StagedFile*> files;
    for (Finished* f : good) {
      if (!f->in_place && f->prepared.ok()) {
        files.push_back(f->outcome.staged.get());
      }
    }
    for (Finished& f : cloned) files.push_back(f.outcome.staged.get());
    const uint64_t number = ++seals_started_;
    Status synced;
    std::vector<Status> each;
    std::thread sealer([&] { synced = dest_->Seal(files, &each); });
    Status fatal = NameSealed();
    sealer.join();
    if (!synced.ok()) {
      DropPending();
      for (Finished* f : good) dest_->Discard(std::move(f->outcome.staged));
      for (Finished& f : cloned) dest_->Discard(std::move(f.outcome.staged));
      return synced;
    }
    // This batch is named next time (or by FlushPending, if the run stops).
    for (Finished* f : good) sealed_.push_back(std::move(*f));
    for (Finished& f : cloned) sealed_.push_back(std::move(f));
    VALISE_RETURN_IF_ERROR(PendingDurable(number));
    return fatal;
  }

  // Pipelined: names the sealed batch and records it (not yet durable);
  // its files are pending until the next seal to start returns.
  Status NameSealed() {
    if (sealed_.empty()) return Status::OK();
    std::vector<Finished*> files;
    std::vector<Status> sealed;  // OK once a seal followed its Finish
    for (Finished& f : sealed_) {
      files.push_back(&f);
      sealed.push_back(f.prepared);
    }
    std::vector<Finished*> named;
    Status fatal = NameAll(files, sealed, &named);
    if (!named.empty()) {
      Status s = dest_->Record(CommitRecords(named));
      if (!s.ok()) {
        sealed_.clear();
        return s;
      }
      for (Finished* f : named) {
        pending_.push_back({std::move(*f), seals_started_ + 1});
      }
    }
    sealed_.clear();
    return fatal;
  }

  // Pipelined: seal number `number` has returned OK, so the files pending
  // on it are committed.
  Status PendingDurable(uint64_t number) {
    std::vector<Finished> done;
    while (!pending_.empty() && pending_.front().durable_after <= number) {
      done.push_back(std::move(pending_.front().file));
      pending_.pop_front();
    }
    for (Finished& f : done) {
      if (f.dup_of >= 0) {
        DuplicateCommitted(f.entry, static_cast<size_t>(f.dup_of));
      } else {
        Committed(f.entry, f.drive, f.outcome);
      }
    }
    for (Finished& f : done) {
      if (f.dup_of < 0) VALISE_RETURN_IF_ERROR(PlaceDuplicates(f.entry));
    }
    return Status::OK();
  }

  // Pipelined, at the end of a pass (and after duplicates were placed
  // between passes): empty batches until nothing is left to seal, name or
  // commit. Each moves everything one step on (a seal, the names follow,
  // the next seal commits), and committing may clone duplicates, so it
  // ends. Returns the first error; what can still be committed is.
  Status FlushPending() {
    Status first;
    while (CommitOwed()) {
      Status s = CommitPipelined({});
      if (!s.ok() && first.ok()) first = s;
    }
    return first;
  }

  // Pipelined: files are cloned, sealed or pending, and an empty batch
  // moves them on.
  bool CommitOwed() const {
    return !to_seal_.empty() || !sealed_.empty() || !pending_.empty();
  }

  // A seal failed: the pending files' names and journal records may not be
  // durable, and a later seal would not prove that they are (the kernel
  // may have dropped what it failed to write). They stay under their
  // names, unreported; a rerun checks them.
  void DropPending() { pending_.clear(); }

  // Gives each sealed file (sealed[i] OK) its final name, never replacing
  // anything. Files named, and files in place, go to *named. A file that
  // cannot be named is discarded: DEST trouble is returned (the run
  // stops), anything else is reported as a conflict.
  Status NameAll(const std::vector<Finished*>& files,
                 const std::vector<Status>& sealed,
                 std::vector<Finished*>* named) {
    std::vector<StagedFile*> to_name;
    for (size_t i = 0; i < files.size(); ++i) {
      Finished* f = files[i];
      if (f->in_place && !f->outcome.staged) {
        dest_->Adopt(DestRel(f->entry), &f->outcome.staged);
      }
      if (f->in_place || sealed[i].ok()) {
        to_name.push_back(f->outcome.staged.get());
      }
    }
    std::vector<Status> each;
    dest_->Name(to_name, &each);
    Status fatal;
    size_t k = 0;
    for (size_t i = 0; i < files.size(); ++i) {
      Finished* f = files[i];
      Status s;
      if (f->in_place || sealed[i].ok()) {
        s = each[k++];
      } else {
        s = sealed[i];
        dest_->Discard(std::move(f->outcome.staged));
      }
      if (!s.ok()) {
        if (IsDestTrouble(s)) {
          if (fatal.ok()) fatal = s;
          continue;
        }
        Conflict(f->entry, s.message() + "; not overwritten");
        continue;
      }
      named->push_back(f);
    }
    return fatal;
  }

  std::vector<JournalRecord> CommitRecords(
      const std::vector<Finished*>& named) const {
    std::vector<JournalRecord> records;
    for (Finished* f : named) {
      records.push_back(CommitRecord(f->entry, f->drive, f->outcome.digests));
    }
    return records;
  }

  // The journal record of committed entry e, read from `drive` (-1: placed
  // from a duplicate).
  JournalRecord CommitRecord(size_t e, int drive,
                             std::vector<Digest> digests) const {
    JournalRecord r;
    r.type = JournalRecord::Type::kCommit;
    r.path = std::string(m_.path(e));
    r.size = m_.file_size(e);
    r.mtime_ns = MtimeOf(e, drive);
    r.digests = std::move(digests);
    return r;
  }

  // Decides whether a finished read can be committed; records the failure
  // and discards the staged file if not.
  bool Accept(Finished* f) {
    const size_t e = f->entry;
    ReadOutcome& o = f->outcome;
    std::string diff;
    if (o.status.ok()) diff = CompareDigests(m_, e, digests_, o.digests);
    if (o.status.ok() && diff.empty() && (f->in_place || o.written)) {
      return true;
    }
    if (o.staged) dest_->Discard(std::move(o.staged));
    if (f->in_place) {
      Conflict(e, o.status.ok()
                      ? "a different file is already in DEST under this "
                        "name (" +
                            diff + "); not overwritten"
                      : o.status.message());
      return false;
    }
    if (o.write_failed && !o.cancelled && !o.status.IsAborted() &&
        !o.status.IsNoSpace() && dest_failure_.ok()) {
      // DEST failed this file's writes after the engine's retries: DEST is
      // in trouble, and staging the file again would fail again.
      dest_failure_ = o.status.WithContext("DEST failing");
    }
    if (o.cancelled || o.write_failed) return false;  // not the copy's fault
    FileResult r = Result(e, f->drive, FileStatus::kCorrupt);
    if (o.stalled) {
      r.status = FileStatus::kStalled;
      r.detail = o.status.message();
    } else if (!o.status.ok()) {
      r.status = o.status.IsCorruption() ? FileStatus::kSizeMismatch
                                         : FileStatus::kUnreadable;
      r.detail = o.status.message();
      r.bad_ranges = o.bad_ranges;
    } else {
      r.detail = diff;
      ChunkCheck::Describe(o, &r);
    }
    r.actual_size = o.bytes_read;
    AddFailure(e, std::move(r));
    ++attempt_[e];  // the next pass tries the next copy
    return false;
  }

  // Seals the batch's staged files (their size, mode and mtime were set as
  // each read finished). Statuses in the order of `files`: the Finish
  // failure, else the seal's (OK for files in place).
  std::vector<Status> SealAll(const std::vector<Finished*>& files) {
    std::vector<Status> out(files.size());
    std::vector<size_t> index;
    std::vector<StagedFile*> to_seal;
    for (size_t i = 0; i < files.size(); ++i) {
      if (files[i]->in_place) continue;
      out[i] = files[i]->prepared;
      if (!out[i].ok()) continue;
      index.push_back(i);
      to_seal.push_back(files[i]->outcome.staged.get());
    }
    if (to_seal.empty()) return out;
    std::vector<Status> each;
    Status all = dest_->Seal(to_seal, &each);
    for (size_t k = 0; k < index.size(); ++k) {
      out[index[k]] = all.ok() ? each[k] : all;
    }
    return out;
  }

  uint32_t ModeOf(size_t e, int drive) const {
    const ScannedFile* f = SourceFile(e, drive);
    return f ? (f->info.mode & 07777) : 0644;
  }

  int64_t MtimeOf(size_t e, int drive) const {
    if (m_.has_mtimes()) return m_.mtime_ns(e);
    const ScannedFile* f = SourceFile(e, drive);
    return f ? f->info.mtime_ns : 0;
  }

  const ScannedFile* SourceFile(size_t e, int drive) const {
    for (size_t k = 0; k < match_.num_copies(e); ++k) {
      const CopyRef& ref = match_.copy(e, k);
      if (ref.drive == drive) return &scans_[ref.drive].files[ref.file];
    }
    return nullptr;
  }

  void Committed(size_t e, int drive, const ReadOutcome& o) {
    state_[e] = EntryState::kCommitted;
    read_from_[e] = drive == dest_drive_ ? -1 : drive;
    FileResult r =
        Result(e, drive == dest_drive_ ? -1 : drive, FileStatus::kOk);
    r.actual_size = m_.file_size(e);
    r.digests = o.digests;
    ok_results_.push_back(std::move(r));
    auto it = failures_of_.find(e);
    if (it != failures_of_.end() && drive != dest_drive_) {
      for (size_t i : it->second) report_->files[i].repaired_from = drive;
    }
  }

  // Places every path waiting for the content of committed entry p (the
  // others of its group that wait, or that failed to be read): reflink or
  // hard link. Pipelined, each goes through the commit pipeline like a
  // staged file (StageDuplicate); else each clone is sealed and named, and
  // the names and records made durable here. Returns DEST trouble like
  // CommitBatch: what was placed is made durable and journaled if it can
  // be, and the run stops; a duplicate whose name or journal record is not
  // durable is not reported.
  Status PlaceDuplicates(size_t p) {
    if (group_[p] < 0) return Status::OK();
    Status fatal;
    std::vector<size_t> placed;
    for (size_t e : groups_[group_[p]]) {
      if (!WaitsForContent(e)) continue;
      Status s = pipelined_ ? StageDuplicate(e, p) : PlaceOne(e, p);
      if (!s.ok()) {
        // Too many links, or links not allowed there (EMLINK, EPERM): a
        // copy avoids them. Anything else that is DEST's trouble would
        // fail a copy too.
        if (IsDestTrouble(s) && s.err() != EMLINK && s.err() != EPERM) {
          fatal = s;
          break;
        }
        no_place_[e] = 1;
        std::string note = "dedup of " + EscapePath(DestRel(e)) + " failed (" +
                           s.message() + ")";
        if (state_[e] == EntryState::kDuplicate) {
          // The next pass reads it like any other file.
          note += "; copied";
          std::vector<uint64_t> none(scans_.size(), 0);
          ChooseCopies(e, &none);
        }
        report_->notes.push_back(std::move(note));
        continue;
      }
      if (pipelined_) continue;  // committed by the pipeline
      placed.push_back(e);
    }
    if (placed.empty()) return fatal;
    std::vector<JournalRecord> records;
    for (size_t e : placed) {
      records.push_back(CommitRecord(e, -1, ManifestDigests(e)));
    }
    VALISE_RETURN_IF_ERROR(dest_->Record(records));
    // The names are not durable: journal nothing.
    VALISE_RETURN_IF_ERROR(dest_->Sync());
    for (size_t e : placed) DuplicateCommitted(e, p);
    return fatal;
  }

  // Pipelined: a duplicate of committed entry p for entry e, into the
  // commit pipeline. A clone is staged (its mode and mtime set) and sealed
  // by the next seal, then named like a read file; a hard link is a name
  // at once, pending until a seal after it.
  Status StageDuplicate(size_t e, size_t p) {
    Finished f;
    f.entry = e;
    f.drive = -1;
    f.dup_of = static_cast<int64_t>(p);
    f.outcome.digests = ManifestDigests(e);
    VALISE_RETURN_IF_ERROR(dest_->Duplicate(DestRel(p), DuplicateRequest(e),
                                            DuplicateKindOf(dedup_),
                                            &f.outcome.staged));
    if (dedup_ == DedupPolicy::kHardlink) {
      f.in_place = true;
      sealed_.push_back(std::move(f));
    } else {
      to_seal_.push_back(std::move(f));
    }
    state_[e] = EntryState::kPlacing;
    return Status::OK();
  }

  static DuplicateKind DuplicateKindOf(DedupPolicy policy) {
    return policy == DedupPolicy::kHardlink ? DuplicateKind::kHardlink
                                            : DuplicateKind::kClone;
  }

  // What the destination is asked to stage for duplicate e: its name, and
  // the mode and mtime of its first copy (the manifest's mtime first).
  StageRequest DuplicateRequest(size_t e) const {
    StageRequest r;
    r.name = DestRel(e);
    r.key = "d" + std::to_string(e);
    r.size = m_.file_size(e);
    r.mtime_ns = m_.has_mtimes() ? m_.mtime_ns(e) : 0;
    r.mode = 0644;
    if (match_.num_copies(e) > 0) {
      const CopyRef& ref = match_.copy(e, 0);
      r.mode = scans_[ref.drive].files[ref.file].info.mode & 07777;
      if (!m_.has_mtimes()) {
        r.mtime_ns = scans_[ref.drive].files[ref.file].info.mtime_ns;
      }
    }
    r.digests = ManifestDigests(e);
    return r;
  }

  std::vector<Digest> ManifestDigests(size_t e) const {
    std::vector<Digest> out;
    for (DigestType t : m_.digests().Types()) out.push_back(m_.digest(e, t));
    return out;
  }

  // Entry e, a duplicate of committed entry p, is committed: reported ok.
  void DuplicateCommitted(size_t e, size_t p) {
    state_[e] = EntryState::kCommitted;
    read_from_[e] = read_from_[p];
    report_->dedup_bytes_saved += m_.file_size(e);
    FileResult r = Result(e, -1, FileStatus::kOk);
    r.actual_size = m_.file_size(e);
    r.detail =
        std::string(DedupPolicyName(dedup_)) + " of " + EscapePath(DestRel(p));
    for (DigestType t : digests_.Types()) r.digests.push_back(m_.digest(e, t));
    ok_results_.push_back(std::move(r));
    // Its own copies failed: its bytes came from p's drive.
    auto it = failures_of_.find(e);
    if (it != failures_of_.end() && read_from_[p] >= 0) {
      for (size_t i : it->second) {
        report_->files[i].repaired_from = read_from_[p];
      }
    }
  }

  // True if entry e is to be placed once a path with its content is
  // committed: it waits for one, or it failed to be read (or is on no
  // drive), and placing it has not failed already.
  bool WaitsForContent(size_t e) const {
    if (no_place_[e]) return false;
    return state_[e] == EntryState::kDuplicate ||
           state_[e] == EntryState::kFailed ||
           state_[e] == EntryState::kMissing;
  }

  // Not pipelined: a sealed clone (or a hard link) of committed entry p,
  // under entry e's name. On error nothing is left of it.
  Status PlaceOne(size_t e, size_t p) {
    std::unique_ptr<StagedFile> f;
    VALISE_RETURN_IF_ERROR(dest_->Duplicate(DestRel(p), DuplicateRequest(e),
                                            DuplicateKindOf(dedup_), &f));
    std::vector<Status> each;
    if (dedup_ != DedupPolicy::kHardlink) {
      Status s = dest_->Seal({f.get()}, &each);
      if (s.ok()) s = each[0];
      if (!s.ok()) {
        dest_->Discard(std::move(f));
        return s;
      }
    }
    dest_->Name({f.get()}, &each);
    return each[0];
  }

  void AccumulateStats(const Reader& reader) {
    const auto& st = reader.drive_stats();
    drive_stats_.resize(std::max(drive_stats_.size(), st.size()));
    for (size_t d = 0; d < st.size(); ++d) {
      DriveReadStats& a = drive_stats_[d];
      a.bytes_read += st[d].bytes_read;
      a.seconds += st[d].seconds;
      a.stalled |= st[d].stalled;
      if (a.gone.empty()) a.gone = st[d].gone;
      a.bytes_per_second.insert(a.bytes_per_second.end(),
                                st[d].bytes_per_second.begin(),
                                st[d].bytes_per_second.end());
    }
  }

  // --- Stage 7.
  void FinishReport() {
    std::vector<uint64_t> planned(scans_.size(), 0);
    for (size_t e = 0; e < m_.size(); ++e) {
      if (!candidates_.empty() && !candidates_[e].empty()) {
        planned[candidates_[e][0].drive] += m_.file_size(e);
      }
      // Files committed by an earlier run count as resumed, not as ok.
      if (state_[e] == EntryState::kCommitted && !resumed_[e]) {
        ++report_->files_ok;
        report_->bytes_verified += m_.file_size(e);
      }
    }
    std::vector<DriveReadStats> st(
        drive_stats_.begin(),
        drive_stats_.begin() + std::min(drive_stats_.size(), scans_.size()));
    FillDriveReports(scans_, st, planned, report_);
    for (const FileResult& r : report_->files) {
      if (r.drive >= 0 && r.drive < static_cast<int>(report_->drives.size())) {
        ++report_->drives[r.drive].files_bad;
      }
    }
    for (const FileResult& r : ok_results_) {
      if (r.drive >= 0) ++report_->drives[r.drive].files_ok;
    }
    for (DriveScan& s : scans_) {
      for (FileResult& r : s.skipped) report_->files.push_back(std::move(r));
    }
    for (FileResult& r : match_.extra) report_->files.push_back(std::move(r));
    for (FileResult& r : ok_results_) report_->files.push_back(std::move(r));
    report_->interrupted = Cancelled();
    report_->seconds = double(fs_->NowMicros() - start_us_) / 1e6;
    // The chunk index unreadable or changed during the run: trouble.
    if (chunk_check_ && !chunk_check_->trouble().ok() &&
        report_->fatal_error.empty()) {
      report_->fatal_error = chunk_check_->trouble().message();
    }
  }

  FileSystem* fs_;
  const Manifest& m_;
  const std::vector<std::string>& sources_;
  const std::string dest_path_;
  const PipelineOptions opt_;
  const IngestOptions iopt_;
  RunReport* report_;
  uint64_t start_us_ = 0;
  DigestSet digests_;

  std::unique_ptr<Destination> dest_;
  std::unordered_map<std::string, JournalRecord> journaled_;
  // Names and records are made durable by the next seal (syncfs): one
  // group is named while the next is sealed (see CommitPipelined).
  bool pipelined_ = false;
  DedupPolicy dedup_ = DedupPolicy::kCopy;

  std::vector<DriveScan> scans_;
  Match match_;
  int dest_drive_ = 0;
  std::vector<EntryState> state_;
  // Paths sharing a content (not with --dedup=copy): each group's paths in
  // manifest order, and each entry's group (-1: none).
  std::vector<std::vector<size_t>> groups_;
  std::vector<int64_t> group_;
  std::vector<int> read_from_;     // drive a committed entry's bytes came
                                   // from (-1: DEST, an earlier run)
  std::vector<uint8_t> no_place_;  // placing it from its group failed
  std::vector<size_t> attempt_;
  std::vector<uint8_t> resumed_;  // committed by an earlier run
  Status dest_failure_;           // DEST failed a staging write or create
  std::vector<std::vector<CopyRef>> candidates_;
  std::unordered_map<size_t, std::vector<size_t>> failures_of_;
  std::vector<size_t> in_place_;
  // Pipelined (see CommitPipelined): duplicates cloned, to be sealed; the
  // batch sealed by the last seal, to be named; files named and recorded,
  // committed once seal number durable_after returns.
  struct Pending {
    Finished file;
    uint64_t durable_after;
  };
  std::vector<Finished> to_seal_;
  std::vector<Finished> sealed_;
  std::deque<Pending> pending_;
  uint64_t seals_started_ = 0;
  std::vector<FileResult> ok_results_;
  std::vector<DriveReadStats> drive_stats_;
  // Checks against the signed chunk digests (opt_.chunk_index), if any.
  std::unique_ptr<ChunkCheck> chunk_check_ =
      opt_.chunk_index ? std::make_unique<ChunkCheck>(opt_.chunk_index)
                       : nullptr;
};

}  // namespace

Status IngestDrives(FileSystem* fs, const Manifest& manifest,
                    const std::vector<std::string>& sources,
                    const std::string& dest, const PipelineOptions& opt,
                    const IngestOptions& iopt, RunReport* report) {
  // Signed chunk digests locate a corrupt copy's bad chunks; the run reads
  // in their chunk size.
  PipelineOptions o = opt;
  if (o.chunk_index != nullptr) o.chunk_size = o.chunk_index->chunk_size();
  Ingest ingest(fs, manifest, sources, dest, o, iopt, report);
  return ingest.Run();
}

}  // namespace valise
