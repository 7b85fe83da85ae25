// The committer (committer.cc): decides which finished reads may be
// committed and takes them through the destination's seal, name and record
// steps; and the commit thread of a stage pass, which feeds it.
//
// Thread safety: a Committer is used by one thread at a time (a pass's
// commit thread, or the ingest thread between passes). CommitThread::Push
// is called from the reader's finishing threads, one at a time.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "pipeline/duplicates.h"
#include "pipeline/ingest_ledger.h"
#include "pipeline/reader.h"
#include "valise/destination.h"

namespace valise {

// A thread that runs one task at a time for its owner, kept for the run
// (the pipelined seal): a thread made per seal cost a clone, a stack and
// their teardown for every batch, thousands in a run of small files.
class TaskThread {
 public:
  TaskThread() = default;
  TaskThread(const TaskThread&) = delete;
  TaskThread& operator=(const TaskThread&) = delete;
  ~TaskThread();
  // Runs `task` on the thread (made on the first call). REQUIRES: the
  // task before has been waited for.
  void Start(std::function<void()> task);
  // Returns once the task started last has returned.
  void Wait();

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::function<void()> task_;  // to run; empty once taken
  bool busy_ = false;           // a task started and not yet returned
  bool quit_ = false;
  std::thread thread_;
};

class Committer {
 public:
  // `dest`, `placer` and `ledger` must remain live while the committer
  // is. `info` is what dest->Open said.
  Committer(Destination* dest, const DestInfo& info, DuplicatePlacer* placer,
            IngestLedger* ledger);

  // Takes a batch of finished files and moves every file one step on:
  // decides each (Accept: digests matched, every byte staged; else the
  // copy is reported and the next pass reads another), seals, names and
  // records them, and reports ok those whose names and records are durable
  // (pipelined: a step later), placing their duplicates. Returns DEST
  // trouble (the run stops; a rerun resumes).
  Status Commit(std::vector<Finished>* batch);

  // Takes duplicates the placer staged or linked (pipelined), to be
  // sealed and named with the next batch.
  void AddStaged(std::vector<Finished>* staged);

  // Pipelined: files are staged, sealed or pending, and an empty batch
  // moves them on.
  bool Owed() const;

  // Pipelined: empty batches until nothing is left to seal, name or
  // report. Returns the first error; what can still be committed is.
  Status Flush();

  // DEST failed a staging write (see Accept): the run stops.
  const Status& dest_failure() const { return dest_failure_; }

 private:
  struct Pending {
    Finished file;
    uint64_t durable_after;  // committed once this seal has returned
  };

  bool Accept(Finished* f);
  Status CommitInTurn(const std::vector<Finished*>& good);
  Status CommitPipelined(const std::vector<Finished*>& good);
  Status NameSealed();
  Status PendingDurable(uint64_t number);
  Status NameAll(const std::vector<Finished*>& files,
                 const std::vector<Status>& sealed,
                 std::vector<Finished*>* named);
  std::vector<Status> SealAll(const std::vector<Finished*>& files);
  std::vector<JournalRecord> CommitRecords(
      const std::vector<Finished*>& named) const;
  Status PlaceDuplicates(size_t p);

  Destination* const dest_;
  // Names and records are made durable by the next seal (syncfs): one
  // batch is named while the next is sealed (see CommitPipelined).
  const bool pipelined_;
  DuplicatePlacer* const placer_;
  IngestLedger* const l_;
  Status dest_failure_;  // DEST failed a staging write or create
  // Pipelined: duplicates cloned, to be sealed; the batch sealed by the
  // last seal, to be named; files named and recorded, committed once seal
  // number durable_after returns.
  std::vector<Finished> to_seal_;
  std::vector<Finished> sealed_;
  std::deque<Pending> pending_;
  uint64_t seals_started_ = 0;
  TaskThread sealer_;  // pipelined: runs each batch's seal
};

// The commit thread of one stage pass: finished files queue up (at most
// MaxBacklog) and are committed in batches as soon as any are there.
class CommitThread {
 public:
  // Starts the thread. `committer` and `reader` must remain live until
  // Finish returns; the reader is aborted if a commit fails.
  CommitThread(Committer* committer, size_t commit_batch, Reader* reader);
  ~CommitThread();

  // Queues a finished file; waits while the backlog is full (which holds
  // the reader back through its buffers).
  void Push(Finished f);
  // No more files: commits what is queued, flushes the pipeline, joins.
  // Returns the first commit error.
  Status Finish();

 private:
  void Loop();

  Committer* const committer_;
  const size_t batch_;
  Reader* const reader_;
  const size_t max_backlog_;
  std::mutex mu_;
  std::condition_variable work_;  // the thread waits for files
  std::condition_variable room_;  // Push waits for the backlog
  std::deque<Finished> queue_;
  // Queued files at which the thread's wait ends, so that Push wakes it
  // then and not for every file: 1 while it waits for any file, the group
  // size while a group gathers, 0 while it commits.
  size_t wake_at_ = 0;
  size_t in_commit_ = 0;  // files of the batch being committed
  bool reading_done_ = false;
  Status status_;
  std::thread thread_;
};

}  // namespace valise
