// ReadLoop (read_loop.cc): the I/O thread of a Reader::Run. It keeps
// `depth` reads in flight on every drive, hands each chunk read to its
// file's hasher and, for a staged file, to the destination's StageWriter,
// and turns failures into what each file's outcome says. Its cases are
// named member functions (liburing's io_uring-cp.c: queue_read,
// queue_write, copy_file); DriveEngine (io_engine.h) runs the rounds.
//
// Thread safety: one thread (the I/O thread); the abort signal is raised
// from any. The opens (OpenSource, OpenStaged) and a late open's outcome
// (UnreadOutcome) also run on the FileOpener's thread: they read only the
// config and what AbandonDrive set before it dropped the drive.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "pipeline/file_opener.h"
#include "pipeline/hash_schedule.h"
#include "pipeline/reader.h"
#include "pipeline/sector_rescue.h"
#include "valise/destination.h"
#include "valise/io_engine.h"

namespace valise {

// What a ReadLoop is given: everything borrowed must remain live while it
// runs.
struct ReadLoopConfig {
  FileSystem* fs = nullptr;
  const PipelineOptions* opt = nullptr;
  DigestSet digests;
  // The write side of staging, for jobs with `write` (null: none), and
  // what opens a job's staged file.
  StageWriter* writer = nullptr;
  const Reader::StageOpener* open_staged = nullptr;
  // open_staged may run on the FileOpener's thread, ahead of the I/O
  // thread (Reader::SetSink).
  bool stage_ahead = false;
  // Makes each file's chunk observer, if set (SetChunkObserver).
  const Reader::ObserverFactory* make_observer = nullptr;
  // Dedup by chunk for staged files (Reader::SetChunkDedup); may be null.
  ChunkDedup* dedup = nullptr;
  Progress* progress = nullptr;  // may be null
  // The drives' names, for messages (Reader::SetDriveNames); may be null
  // or shorter than the drives.
  const std::vector<std::string>* drive_names = nullptr;
  // The drive number of the destination's writes in the engine
  // (per_drive.size()).
  int dest_drive = 0;
  bool fixed_buffers = false;          // the pool is registered with the queue
  const AbortSignal* abort = nullptr;  // Reader::Abort's
};

class ReadLoop final : public EngineClient, public SectorRescue::Host {
 public:
  // `per_drive[d]` lists drive d's jobs in reading order; `rs` is shared
  // with the hashing threads; `stats` gets one row per drive.
  ReadLoop(const ReadLoopConfig& config,
           const std::vector<std::vector<ReadJob>>& per_drive, RunState* rs,
           std::vector<DriveReadStats>* stats);
  ~ReadLoop();

  // Reads every job (each is finished through rs->on_done, read or not),
  // then gives back the writes never issued. Returns when no transfer is
  // in flight but those a timeout abandoned; the hashing threads may
  // still be finishing files.
  void Run();

  // Trouble that stopped every drive (DEST full, the queue), or OK.
  const Status& fatal() const { return fatal_; }
  uint64_t bytes_written() const { return bytes_written_; }

  // EngineClient.
  void Fill() override;
  bool HasWork() override;
  void Idle() override;
  void Complete(Transfer* t, uint64_t now_us) override;
  void Reaped() override;

  // SectorRescue::Host.
  void AcceptChunk(FileState* f, uint64_t offset, uint32_t len,
                   int buf) override;
  void DeliverHole(FileState* f, uint64_t index) override;
  bool DriveStopped(int d) const override;
  void DriveStalled(int d, const Status& why) override;
  void FailUnread(FileState* f, int d) override;
  std::string DriveLabel(int d) const override;
  void CountRead(int d, uint64_t bytes, uint64_t now_us) override;

 private:
  // A chunk passed over because a chunk with the same signed digest was
  // pending (SkipKnown's kWait): taken up, cloned or read, once every
  // chunk with its digest pending then (numbered before `before`) is a
  // source or known not to become one (TakeUpDeferred). Not those issued
  // since: one of them may be waiting for it (ChunkDedup::Pending).
  struct Deferred {
    FileState* file;
    uint64_t index;
    ChunkSha256 digest;
    uint64_t before;  // ChunkDedup::Next() when passed over
  };
  enum class Why { kStalled, kCancelled, kGone };
  struct DriveCursor {
    size_t next_job = 0;
    FileState* current = nullptr;  // file being issued
    bool stalled = false;
    std::deque<Deferred> deferred;  // in the order passed over
    // Why it was abandoned (the first AbandonDrive), for the files it
    // leaves unread, a sector rescue's included.
    bool abandoned = false;
    Status abandoned_why;
    Why abandoned_as = Why::kStalled;
  };
  // Chunks a drive may have passed over at once.
  static constexpr size_t kMaxDeferred = 16;
  struct PendingWrite {
    FileState* file;
    int buf;
    uint64_t offset;
    uint32_t len;
  };

  bool OnlyChunksValid(const ReadJob& job) const;
  // The FileOpener's opens: the job's source; its staged file (on the
  // opener's thread with cfg_.stage_ahead, else on the I/O thread).
  void OpenSource(const ReadJob& job, FileOpener::Opened* o) const;
  void OpenStaged(const ReadJob& job, FileOpener::Opened* o) const;
  // What a job drive d leaves unread reports, with what was opened for it.
  ReadOutcome UnreadOutcome(int d, const ReadJob& job,
                            FileOpener::Opened&& o) const;
  uint64_t ChunksToRead(const ReadJob& job, uint64_t total) const;
  FileState* NextFile(int d);
  bool QueueRead(int d);
  bool QueueWrite();
  void OnReadDone(Transfer* t, int buf, uint64_t now_us);
  void OnWritten(const StageChunk& c, const Status& s);
  void SetUpDedup(FileState* f);
  enum class Skip { kDone, kWait, kRead };
  Skip SkipKnown(FileState* f, uint64_t index, ChunkSha256* digest);
  Skip TakeUpDeferred(int d);
  void Advance(int d, FileState* f, uint64_t index);
  bool ReadChunk(int d, FileState* f, uint64_t index, bool from_cursor);
  void CountKnown(FileState* f, bool hole);
  void DeliverKnown(int d, FileState* f, uint64_t index);
  void Issue(FileState* f, uint64_t index);
  void WriteDone(FileState* f, uint64_t offset, bool ok);
  bool NotWritten(FileState* f, uint64_t offset, uint32_t len, int buf);
  bool Clone(FileState* f, uint64_t index, const ChunkSha256& digest);
  void AbandonDrive(int d, const Status& why, Why kind);
  Status AbandonedStatus(int d, const ReadJob& job) const;
  void StopAll(const Status& why);
  void DropPendingWrites();
  bool Cancelled() const;
  bool Reading() const;

  const ReadLoopConfig cfg_;
  const std::vector<std::vector<ReadJob>>& per_drive_;
  const int num_drives_;
  const size_t chunk_;
  RunState* const rs_;
  std::vector<DriveReadStats>* const stats_;
  // One Transfer per buffer: a buffer is in at most one read at a time.
  std::vector<Transfer> transfers_;
  std::vector<DriveCursor> cursors_;
  std::deque<PendingWrite> pending_writes_;
  SectorRescue rescue_;
  FileOpener opener_;  // after per_drive_ and cfg_, which it uses
  StageIo stage_io_;   // lent to the StageWriter
  const uint64_t start_us_;
  bool stopped_ = false;  // cancelled, DEST full, or the queue failed
  // A drive waits for a pending chunk (SkipKnown) this round.
  bool waiting_ = false;
  size_t deferred_ = 0;  // chunks passed over, on every drive
  Status fatal_;
  uint64_t bytes_written_ = 0;
};

}  // namespace valise
