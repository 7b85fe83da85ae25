// Hash scheduling (hash_schedule.cc): a file's chunks complete in any
// order on the I/O thread and are hashed in order by a pool of threads;
// the files being read, their references, and what the I/O thread and the
// hashing threads share for one Reader::Run.
//
// Ownership. A FileState is created by the I/O thread when it opens a
// job's file, and deleted by whichever thread drops its last reference:
// every chunk holds one for its hashing and, when staged, one for its
// write. A thread must not touch a FileState after dropping a reference it
// held.
//
// Chunks. Chunk k of a file covers [k * chunk_size, (k+1) * chunk_size)
// and is read into one buffer. A chunk whose read failed, or that will
// never be read (drive stalled, run cancelled), is delivered as a hole: no
// buffer, nothing hashed or written, but it still counts towards
// completion.
//
// Buffers. A buffer holds one chunk from its read until the hash and the
// StageWriter (if any) are done with it; buf_refs counts those users.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "pipeline/chunk_dedup.h"
#include "pipeline/reader.h"
#include "valise/buffer_pool.h"
#include "valise/destination.h"
#include "valise/digest.h"
#include "valise/file_system.h"
#include "valise/io_engine.h"

namespace valise {

// Chunk::buf of a chunk not read: DEST got it by its signed digest
// (dedup by chunk); the observer is told (ChunkObserver::KnownChunk).
inline constexpr int kKnownChunk = -2;

struct Chunk {
  uint64_t offset = 0;
  uint32_t len = 0;
  int buf = -1;  // -1: a hole (failed, never read); kKnownChunk
};

struct FileState {
  const ReadJob* job = nullptr;
  std::unique_ptr<File> file;
  std::unique_ptr<StagedFile> staged;
  uint64_t chunks_total = 0;
  // References: one per chunk for hashing, one more per chunk for writing.
  std::atomic<int64_t> refs{0};

  // I/O thread only.
  uint64_t next_issue = 0;  // next chunk index to read
  bool write_failed = false;
  // Dedup by chunk, for a staged file (null: none). Shared with the
  // observer's on_good, which may outlive the file.
  std::shared_ptr<FileDedup> dedup;
  bool skip_known = false;  // chunks may go unread (KnownChunk)

  // Shared, under mu.
  std::mutex mu;
  std::map<uint64_t, Chunk> ready;  // by offset; completed, not yet hashed
  uint64_t next_hash = 0;           // offset of the next chunk to hash
  bool scheduled = false;           // a hashing thread owns the hasher
  ReadOutcome outcome;              // status, bad ranges, flags

  // The hashing thread that holds `scheduled` only.
  std::unique_ptr<MultiHasher> hasher;
  std::unique_ptr<ChunkObserver> observer;
  // The file's digests, when its one chunk was hashed (the hasher finished
  // early, to give the observer the chunk's SHA-256: WholeFileChunk).
  std::optional<std::vector<Digest>> digests;
};

// A FIFO of files with a chunk ready to hash, served by the pool.
class HashQueue {
 public:
  void Push(FileState* f);
  // nullptr once closed and drained.
  FileState* Pop();
  void Close();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<FileState*> q_;
  bool closed_ = false;
};

using DoneCallback = std::function<void(const ReadJob&, ReadOutcome&&)>;

// Everything one Reader::Run shares between the I/O thread and the
// hashers.
struct RunState {
  RunState(const PipelineOptions* opt, BufferPool* pool, IoEngine* engine,
           const DoneCallback* on_done,
           std::vector<std::unique_ptr<File>>* graveyard);

  const PipelineOptions* const opt;
  BufferPool* const pool;
  IoEngine* const engine;
  std::vector<std::atomic<int>> buf_refs;
  HashQueue hash_queue;
  const DoneCallback* const on_done;
  std::mutex done_mu;  // serialises on_done
  // Files with a timed-out request still in the queue: kept open until the
  // queue is gone (a request's File must stay live until it is reaped).
  std::vector<std::unique_ptr<File>>* const graveyard;
  std::mutex files_mu;
  std::condition_variable files_cv;
  size_t files_open = 0;  // FileStates alive
  // The I/O thread, with nothing in flight, waits here for a buffer to come
  // back or for the StageWriter's wake.
  std::mutex idle_mu;
  std::condition_variable idle_cv;
  bool woken = false;

  // Wakes the I/O thread wherever it waits (the engine, or idle).
  void Wake();
  // Returns once Wake was called or, if `for_buffer`, a buffer is free;
  // or after kIdleRecheck at most, so a cancellation (SIGINT) or an abort
  // that comes without a wake is still seen by the next round.
  void WaitIdle(bool for_buffer);
  // Calls on_done for a job never opened or with nothing to read.
  void FinishWithoutReading(const ReadJob& job, ReadOutcome out);
  // Waits until every FileState is finished.
  void WaitForFiles();
};

// Drops one user of buffer `buf`; the last gives it back to the pool.
void ReleaseBuffer(RunState* rs, int buf);
// Drops one reference to `f`; the last one finishes the file (on_done).
void DropRef(RunState* rs, FileState* f);
// Gives a completed (or abandoned) chunk to its file's hasher: the file is
// queued for a hashing thread when its next chunk in order is ready.
void Deliver(RunState* rs, FileState* f, const Chunk& c);
// Marks `f` failed with `s` (the first failure wins).
void Fail(FileState* f, const Status& s);
bool Failed(FileState* f);
// A hashing thread: hashes ready chunks in order until the queue closes.
void HashWorker(RunState* rs);

}  // namespace valise
