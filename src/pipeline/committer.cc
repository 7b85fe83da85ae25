// The committer: the core of ingest's commit protocol (the essay atop
// ingest.cc, step 2). A file read and staged is committed only when its
// digests match the manifest and every byte reached its staged file; then
// it is sealed (its data durable), named (never replacing anything), and
// recorded, and reported ok only once its name and record are durable.
// The destination says how each step is done; this file says when.
//
// Two orders, by what the destination's seal does:
//
//   in turn (CommitInTurn): seal the batch, name it, make the names and
//   records durable (Sync); the batch is committed when this returns.
//   (posix without syncfs: fdatasync each file, rename, fsync the
//   directories, fdatasync the journal.)
//
//   pipelined (CommitPipelined), where a seal also makes the names and
//   records made before it durable (posix: one syncfs): a batch is sealed
//   on a helper thread while the batch before is named and recorded; those
//   names are durable once a seal that started after them returns (the
//   next batch's), and only then are their files committed. One seal per
//   batch keeps the device busy: small files were one device flush each
//   before (3.7 ms, ~270 files/s).
//
// Either way a crash leaves either a temporary or a durable, verified file
// under its final name, and the journal never holds a name that is not
// durable. A failed seal proves nothing about what it covered: the files
// pending on it are dropped unreported (a rerun checks them).
//
// Committing a file may place its duplicates (duplicates.cc): pipelined,
// they join the next batch.
//
// The commit thread (CommitThread, at the end) takes finished files from
// the reader as they come, in batches of up to commit_batch, and bounds
// the backlog: each finished file holds its staged file open until it is
// sealed.
#include "pipeline/committer.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "pipeline/chunk_repair.h"
#include "pipeline/verify_internal.h"

namespace valise {

namespace {

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

// The manifest's digests of entry e, of the types the run compares (what
// a file read and hashed would carry).
std::vector<Digest> ChosenManifestDigests(const IngestLedger& l, size_t e) {
  std::vector<Digest> out;
  for (DigestType t : l.digests.Types()) out.push_back(l.m.digest(e, t));
  return out;
}

}  // namespace

TaskThread::~TaskThread() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> l(mu_);
    quit_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void TaskThread::Start(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> l(mu_);
    task_ = std::move(task);
    busy_ = true;
  }
  if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
  cv_.notify_all();
}

void TaskThread::Wait() {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] { return !busy_; });
}

void TaskThread::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    cv_.wait(l, [&] { return quit_ || task_; });
    if (!task_) return;  // quit_, nothing left to run
    std::function<void()> task = std::move(task_);
    task_ = nullptr;
    l.unlock();
    task();
    l.lock();
    busy_ = false;
    cv_.notify_all();
  }
}

Committer::Committer(Destination* dest, const DestInfo& info,
                     DuplicatePlacer* placer, IngestLedger* ledger)
    : dest_(dest),
      pipelined_(info.seal_covers_names),
      placer_(placer),
      l_(ledger) {}

Status Committer::Commit(std::vector<Finished>* batch) {
  std::vector<Finished*> good;
  std::vector<size_t> elsewhere;  // committed by another host: not read
  for (Finished& f : *batch) {
    if (IsCommittedElsewhere(f.outcome.status)) {
      if (f.outcome.staged) dest_->Discard(std::move(f.outcome.staged));
      l_->CommittedElsewhere(f.entry);
      elsewhere.push_back(f.entry);
    } else if (Accept(&f)) {
      good.push_back(&f);
    }
  }
  Status s = pipelined_ ? CommitPipelined(good) : CommitInTurn(good);
  for (size_t e : elsewhere) {
    if (s.ok()) s = PlaceDuplicates(e);
  }
  // DEST failed a staging write: the run stops (see Accept).
  return s.ok() ? dest_failure_ : s;
}

void Committer::AddStaged(std::vector<Finished>* staged) {
  // A hard link is named already: it waits to be recorded with the sealed
  // batch; a clone waits for the next seal.
  for (Finished& f : *staged) {
    (f.in_place ? sealed_ : to_seal_).push_back(std::move(f));
  }
  staged->clear();
}

bool Committer::Owed() const {
  return !to_seal_.empty() || !sealed_.empty() || !pending_.empty();
}

Status Committer::Flush() {
  Status first;
  while (Owed()) {
    Status s = CommitPipelined({});
    if (!s.ok() && first.ok()) first = s;
  }
  return first;
}

// Each file's data made durable (Seal: fdatasync), then the names, then
// the names and records made durable (Sync: the directories fsync'ed,
// the journal fdatasync'ed): the batch's files are committed when this
// returns.
Status Committer::CommitInTurn(const std::vector<Finished*>& good) {
  std::vector<Status> sealed = SealAll(good);
  std::vector<Finished*> named;
  Status fatal = NameAll(good, sealed, &named);
  if (named.empty()) return fatal;
  VALISE_RETURN_IF_ERROR(dest_->Record(CommitRecords(named)));
  // The names are durable, or the journal records nothing.
  VALISE_RETURN_IF_ERROR(dest_->Sync());
  for (Finished* f : named) l_->Committed(f->entry, f->drive, f->outcome);
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
Status Committer::CommitPipelined(const std::vector<Finished*>& good) {
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
  sealer_.Start([&] { synced = dest_->Seal(files, &each); });
  Status fatal = NameSealed();
  sealer_.Wait();
  if (!synced.ok()) {
    pending_.clear();
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
Status Committer::NameSealed() {
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
Status Committer::PendingDurable(uint64_t number) {
  std::vector<Finished> done;
  while (!pending_.empty() && pending_.front().durable_after <= number) {
    done.push_back(std::move(pending_.front().file));
    pending_.pop_front();
  }
  for (Finished& f : done) {
    if (f.dup_of >= 0) {
      l_->DuplicateCommitted(f.entry, static_cast<size_t>(f.dup_of));
    } else {
      l_->Committed(f.entry, f.drive, f.outcome);
    }
  }
  for (Finished& f : done) {
    if (f.dup_of < 0) VALISE_RETURN_IF_ERROR(PlaceDuplicates(f.entry));
  }
  return Status::OK();
}

// A seal failed: the pending files' names and journal records may not be
// durable, and a later seal would not prove that they are (the kernel
// may have dropped what it failed to write). They stay under their
// names, unreported; a rerun checks them.

// Gives each sealed file (sealed[i] OK) its final name, never replacing
// anything. Files named, and files in place, go to *named. A file that
// cannot be named is discarded: DEST trouble is returned (the run
// stops), anything else is reported as a conflict.
Status Committer::NameAll(const std::vector<Finished*>& files,
                          const std::vector<Status>& sealed,
                          std::vector<Finished*>* named) {
  std::vector<StagedFile*> to_name;
  for (size_t i = 0; i < files.size(); ++i) {
    Finished* f = files[i];
    if (f->in_place && !f->outcome.staged) {
      dest_->Adopt(l_->DestRel(f->entry), &f->outcome.staged);
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
      l_->Conflict(f->entry, s.message() + "; not overwritten");
      continue;
    }
    IdentifyNamed(dest_, *l_, f);
    named->push_back(f);
  }
  return fatal;
}

std::vector<JournalRecord> Committer::CommitRecords(
    const std::vector<Finished*>& named) const {
  std::vector<JournalRecord> records;
  for (Finished* f : named) {
    records.push_back(l_->CommitRecord(f->entry, f->drive, f->outcome.digests,
                                       f->identified ? &f->named : nullptr));
  }
  return records;
}

// Decides whether a finished read can be committed; records the failure
// and discards the staged file if not.
bool Committer::Accept(Finished* f) {
  const size_t e = f->entry;
  ReadOutcome& o = f->outcome;
  if (f->in_place && f->dup_of < 0 && !o.cancelled) {
    ++l_->report->files_rechecked;  // read back from DEST
  }
  std::string diff;
  ChunkFinding found = ChunkFinding::kIntact;
  if (o.status.ok() && l_->by_chunks) {
    found = ChunkVerdict(o, *l_->opt.chunk_index, e, &diff);
  } else if (o.status.ok()) {
    diff = CompareDigests(l_->m, e, l_->digests, o.digests);
  }
  if (o.status.ok() && diff.empty() && (f->in_place || o.written)) {
    // By chunks, the file is the one the manifest describes: its journal
    // record and report row carry the manifest's digests.
    if (l_->by_chunks) o.digests = ChosenManifestDigests(*l_, e);
    return true;
  }
  // The run stopped while it was read, or DEST failed its writes (full): a
  // file staged resumable keeps what it got for the next run
  // (chunk_resume.cc), which checks it.
  if (o.staged && (o.cancelled || o.write_failed)) {
    dest_->Keep(std::move(o.staged));
  }
  // Repair by chunk (chunk_repair.cc): decided below, once the copy's
  // row is reported.
  std::unique_ptr<StagedFile> staged;
  if (o.staged && !f->in_place) {
    staged = std::move(o.staged);
  } else if (o.staged) {
    dest_->Discard(std::move(o.staged));
  }
  if (f->in_place) {
    auto why = l_->recheck_why.find(e);
    if (!o.status.ok()) {
      l_->Conflict(e, o.status.message());
    } else if (why != l_->recheck_why.end()) {
      l_->Conflict(e, "changed in DEST since an earlier run staged it (" +
                          diff + "; " + why->second + "); not overwritten");
    } else {
      l_->Conflict(e, "a different file is already in DEST under this name (" +
                          diff + "); not overwritten");
    }
    return false;
  }
  if (o.write_failed && !o.cancelled && !o.status.IsAborted() &&
      !o.status.IsNoSpace() && dest_failure_.ok()) {
    // DEST failed this file's writes after the engine's retries: DEST is
    // in trouble, and staging the file again would fail again.
    dest_failure_ = o.status.WithContext("DEST failing");
  }
  if (o.cancelled || o.write_failed) {  // not the copy's fault
    if (staged) dest_->Discard(std::move(staged));
    return false;
  }
  FileResult r = l_->Result(e, f->drive, FileStatus::kCorrupt);
  if (o.stalled) {
    r.status = FileStatus::kStalled;
    r.detail = o.status.message();
  } else if (!o.status.ok()) {
    r.status = o.status.IsCorruption() ? FileStatus::kSizeMismatch
                                       : FileStatus::kUnreadable;
    r.detail = o.status.message();
    r.bad_ranges = o.bad_ranges;
  } else if (l_->by_chunks) {
    r.status = StatusOf(found);
    ChunkCheck::DescribeByChunks(o, diff, &r);
  } else {
    r.detail = diff;
    ChunkCheck::Describe(o, &r);
    // Not located by signed chunk digests: a good copy read later tells
    // where this one first differs (IngestLedger::Committed).
    if (r.first_bad_offset < 0 && !o.chunks.empty()) {
      l_->corrupt_chunks[e].emplace_back(l_->report->files.size(),
                                         std::move(o.chunks));
    }
  }
  r.actual_size = o.bytes_read;
  l_->AddFailure(e, std::move(r));
  ++l_->attempt[e];  // the next pass tries the next copy
  // Its good chunks stay staged for the next copy to fill in.
  if (staged && KeepGoodChunks(l_, *dest_, *f)) {
    dest_->Keep(std::move(staged));
  } else if (staged) {
    dest_->Discard(std::move(staged));
  }
  return false;
}

// Seals the batch's staged files (their size, mode and mtime were set as
// each read finished). Statuses in the order of `files`: the Finish
// failure, else the seal's (OK for files in place).
std::vector<Status> Committer::SealAll(const std::vector<Finished*>& files) {
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

// Places the duplicates of committed entry p (duplicates.cc); pipelined,
// those staged join the next batch.
Status Committer::PlaceDuplicates(size_t p) {
  std::vector<Finished> staged;
  Status s = placer_->PlaceFrom(p, &staged);
  AddStaged(&staged);
  return s;
}

// --- The commit thread.

CommitThread::CommitThread(Committer* committer, size_t commit_batch,
                           Reader* reader)
    : committer_(committer),
      batch_(std::max<size_t>(commit_batch, 1)),
      reader_(reader),
      max_backlog_(MaxBacklog()),
      thread_([this] { Loop(); }) {}

CommitThread::~CommitThread() {
  if (thread_.joinable()) Finish().PermitUncheckedError();
}

void CommitThread::Push(Finished f) {
  std::unique_lock<std::mutex> l(mu_);
  // Each finished file holds its staging file open until committed: with
  // many small files reading outruns the commits, and an unbounded backlog
  // ran out of descriptors (EMFILE after ~20,000 files). The batch being
  // committed counts too (else the queue refilled behind it: EMFILE under
  // ulimit -n 200). Waiting here holds the reader back through its
  // buffers.
  room_.wait(l, [&] {
    return queue_.size() + in_commit_ < max_backlog_ || !status_.ok();
  });
  queue_.push_back(std::move(f));
  // Woken for every file, the thread gathering a group woke, found the
  // group short and slept again: two futex calls and two context switches
  // a file, on the reading thread's side as well.
  if (wake_at_ != 0 && queue_.size() >= wake_at_) work_.notify_one();
}

Status CommitThread::Finish() {
  {
    std::lock_guard<std::mutex> l(mu_);
    reading_done_ = true;
  }
  work_.notify_one();
  thread_.join();
  return status_;
}

void CommitThread::Loop() {
  std::vector<Finished> batch;
  // A group gathers for a moment: each commit seals with one syncfs, which
  // flushes the whole file system, and committing whatever had finished
  // the instant the last commit returned made groups of ~5 small files
  // (9,000 syncfs for 50,000 files). Up to kGatherFiles files, or
  // kGatherTime; never more than the backlog allows.
  constexpr size_t kGatherFiles = 64;
  constexpr auto kGatherTime = std::chrono::milliseconds(5);
  const size_t gather =
      std::min({kGatherFiles, batch_, std::max<size_t>(max_backlog_ / 2, 1)});
  for (;;) {
    {
      std::unique_lock<std::mutex> l(mu_);
      wake_at_ = 1;
      work_.wait(l, [&] {
        // Commit once anything is finished: a batch forms by itself while
        // the previous commit runs. Files sealed or pending (pipelined) do
        // not wait for more to finish: an empty batch names and commits
        // them.
        return reading_done_ || !queue_.empty() || committer_->Owed();
      });
      if (!reading_done_ && queue_.size() < gather) {
        wake_at_ = gather;
        work_.wait_for(l, kGatherTime, [&] {
          return reading_done_ || queue_.size() >= gather;
        });
      }
      wake_at_ = 0;
      while (!queue_.empty() && batch.size() < batch_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      if (batch.empty() && reading_done_) break;
      in_commit_ = batch.size();
    }
    Status s = committer_->Commit(&batch);
    batch.clear();
    {
      std::lock_guard<std::mutex> l(mu_);
      in_commit_ = 0;
      if (!s.ok() && status_.ok()) {
        status_ = s;
        reader_->Abort(s);
      }
    }
    room_.notify_all();
  }
  // The last batch's names and journal records (pipelined).
  Status s = committer_->Flush();
  std::lock_guard<std::mutex> l(mu_);
  if (!s.ok() && status_.ok()) status_ = s;
}

}  // namespace valise
