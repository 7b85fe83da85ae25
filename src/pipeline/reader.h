// Reader: reads files from many drives at once and hashes them.
//
// One thread (the caller's) owns the IoEngine: it keeps `depth` reads in
// flight on every drive, each into a buffer of the pool, and hands every
// completed chunk to the file it belongs to. A pool of hashing threads takes
// a file whose next chunk (in offset order) is ready, runs it through the
// file's digests and the per-chunk XXH3-128, and gives the buffer back. A
// file's chunks may complete out of order; they are hashed in order, so one
// file's SHA-256 is sequential while files and drives proceed in parallel.
// Memory is the buffer pool: a drive waits for buffers rather than growing.
//
// For ingest, a job may also stage each chunk into a destination (a
// StageWriter, include/valise/destination.h) from the buffer the read
// filled: the buffer returns to the pool when both the hash and the writer
// are done with it.
//
// Failures stay with their file: an unreadable range (after the engine's
// retries) is recorded and the rest of the file and drive is still read; a
// drive whose request times out is marked stalled and its remaining files
// are reported stalled while the other drives finish.
//
// Thread safety: Run() is called once, from one thread; on_done is called
// from any thread but never concurrently with itself.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "valise/destination.h"
#include "valise/digest.h"
#include "valise/file_system.h"
#include "valise/pipeline.h"
#include "valise/report.h"
#include "valise/status.h"

namespace valise {

class ChunkDedup;

// Sees every chunk of one file, whole and in order, on a hashing thread:
// how the chunk digests of a manifest are made and checked
// (src/pipeline/chunk_check.h), without the reader knowing of them.
class ChunkObserver {
 public:
  virtual ~ChunkObserver() = default;
  // Chunk `index` (bytes [index * chunk_size, +len) of the file), as read.
  // Not called for a chunk that could not be read, nor once the file has
  // failed.
  virtual void Chunk(uint64_t index, const char* data, size_t len) = 0;
  // The same, for a chunk that is the whole file, with `sha256` the
  // SHA-256 of its bytes: the file's own digest, computed from the same
  // buffer, so that an observer that wants the chunk's SHA-256 need not
  // hash it a second time (small files are one chunk each). Default:
  // Chunk().
  virtual void WholeFileChunk(uint64_t index, const char* data, size_t len,
                              const Digest& sha256) {
    (void)sha256;
    Chunk(index, data, len);
  }
  // Chunk `index` was not read whole (a hole), for a job with keep_going:
  // the chunks after it are still observed. Default: nothing.
  virtual void Missing(uint64_t index) { (void)index; }
  // Dedup by chunk (chunk_dedup.h): chunk `index` (`len` bytes) was not
  // read, because DEST was given a chunk with its signed digest (cloned
  // from one verified, or a hole for zeros). Only for an observer that
  // TakesKnownChunks (a checker: it counts the chunk checked); else no
  // chunk of its file is skipped.
  virtual bool TakesKnownChunks() const { return false; }
  virtual void KnownChunk(uint64_t index, size_t len) {
    (void)index, (void)len;
  }
  // If set, a checker calls it for each chunk it finds matching its signed
  // digest (on the hashing thread): the chunk may then become a source.
  std::function<void(uint64_t index)> on_good;
};

// A run of chunks of a file: indexes [first, end).
struct ChunkRun {
  uint64_t first = 0;
  uint64_t end = 0;
};

struct ReadJob {
  int drive = 0;
  std::string path;            // full path on the drive
  uint64_t size = 0;           // bytes to read (from the scan)
  size_t id = 0;               // the caller's
  bool chunk_digests = false;  // compute the per-chunk XXH3-128s
  // Stage every chunk read into the destination (its staged file), from
  // the same buffer. Needs SetSink().
  bool write = false;
  // Read from this offset on (a multiple of the chunk size, below `size`):
  // the bytes before it are known already (resume by chunk: checked in
  // DEST against the signed chunk digests). Only for a run that computes
  // no whole-file digest (they need every byte): else the file fails.
  // Default: 0.
  uint64_t start = 0;
  // Repair by chunk (chunk_repair.h): read only these runs of chunks, in
  // file order, not overlapping, each within the file; the others are
  // known already (staged by an earlier pass and checked against the
  // signed chunk digests). Same condition as `start`, which it overrides.
  // Default: empty (every chunk from `start` on).
  std::vector<ChunkRun> only;
  // A chunk that cannot be read does not stop the file's other chunks:
  // they are still observed (ChunkObserver::Missing for the holes) and
  // staged; the outcome still fails with the first error. So a copy's good
  // chunks can stay staged while its bad ones come from another copy.
  // Only for a run that computes no whole-file digest. Default: false.
  bool keep_going = false;
};

// The first chunk of `job` to read, and the next after `index`; `total`
// (the file's chunks) when there is none.
uint64_t FirstChunkToRead(const ReadJob& job, uint64_t chunk_size,
                          uint64_t total);
uint64_t NextChunkToRead(const ReadJob& job, uint64_t index, uint64_t total);
// Bytes of `job`'s file (of `size` bytes) it does not read: before
// `start`, or outside `only`.
uint64_t BytesKnown(const ReadJob& job, uint64_t chunk_size, uint64_t size);

struct ReadOutcome {
  // OK, or the first thing that went wrong (open, read, file changed,
  // stalled, cancelled).
  Status status;
  uint64_t start = 0;  // the job's: bytes before it were not read
  // Bytes not read because they are known (BytesKnown: before start, or
  // outside the job's `only` chunks).
  uint64_t bytes_known = 0;
  uint64_t bytes_read = 0;
  // Dedup by chunk (staged files): bytes of chunks not read because DEST
  // got them by their signed digest (ChunkObserver::KnownChunk; counted in
  // bytes_known too); of the chunks staged (read or not), bytes cloned
  // from a verified chunk, and bytes of zeros left as holes, not written.
  uint64_t bytes_not_read = 0;
  uint64_t bytes_cloned = 0;
  uint64_t bytes_holes = 0;
  std::vector<Digest> digests;       // when status is OK
  std::vector<ChunkDigest> chunks;   // when asked and status is OK
  std::vector<BadRange> bad_ranges;  // unreadable ranges
  bool stalled = false;
  bool cancelled = false;
  // For jobs with `write`: the staged file, handed back so the caller can
  // finish and commit or discard it, and whether every chunk reached it.
  std::unique_ptr<StagedFile> staged;
  bool written = false;
  bool write_failed = false;  // the failure was DEST's, not the drive's
  // The observer SetChunkObserver made for this job, if any, handed back
  // with what it saw (none for an empty file or one that did not open).
  std::unique_ptr<ChunkObserver> observer;
};

struct DriveReadStats {
  uint64_t bytes_read = 0;
  double seconds = 0;  // from start to the drive's last completion
  bool stalled = false;
  std::string gone;  // why the drive was given up as gone; else empty
  std::vector<uint64_t> bytes_per_second;
  // Chunks read past while a chunk with the same signed digest was being
  // read (dedup by chunk), taken up later.
  uint64_t chunks_read_past = 0;
};

// A stop request raised from any thread (Reader::Abort), seen by the I/O
// thread.
class AbortSignal {
 public:
  // The first reason wins.
  void Raise(const Status& why);
  bool raised() const { return raised_.load(std::memory_order_acquire); }
  Status why() const;

 private:
  mutable std::mutex mu_;
  Status why_;
  std::atomic<bool> raised_{false};
};

class Reader {
 public:
  // `fs` must remain live while the Reader is. `digests` are computed for
  // every file. `rotational[d]` tells drive d's kind (for the default
  // depth).
  Reader(FileSystem* fs, const PipelineOptions& opt, DigestSet digests,
         std::vector<bool> rotational);
  ~Reader();

  // Makes jobs with `write` set stage their chunks through `writer` into
  // a staged file made by `open`: called on the I/O thread when the job's
  // file is opened or, if `ahead` (DestInfo::stage_ahead), on the
  // FileOpener's thread as it opens the file ahead. `writer` must remain
  // live while the Reader is. A write that fails with NoSpace or times out
  // stops the whole run cleanly: fatal() then says so.
  using StageOpener =
      std::function<Status(const ReadJob&, std::unique_ptr<StagedFile>*)>;
  void SetSink(StageWriter* writer, StageOpener open, bool ahead = false);

  // Makes `make` (called on the I/O thread as a job's file is opened; it
  // may return null) give each file an observer of its chunks.
  using ObserverFactory =
      std::function<std::unique_ptr<ChunkObserver>(const ReadJob&)>;
  void SetChunkObserver(ObserverFactory make) { make_observer_ = make; }

  // Dedup by chunk (chunk_dedup.h) for the staged files of jobs whose id
  // is their manifest entry (ingest's); null: none. Must remain live while
  // the Reader is.
  void SetChunkDedup(ChunkDedup* dedup) { dedup_ = dedup; }

  // The drives' names (their SRC), for messages: the files a stalled
  // drive leaves unread say which drive stalled. Default: none ("its
  // drive").
  void SetDriveNames(std::vector<std::string> names) {
    drive_names_ = std::move(names);
  }

  // Reads every job; per_drive[d] lists drive d's jobs in reading order.
  // Returns an error only if nothing could run (queue setup).
  Status Run(const std::vector<std::vector<ReadJob>>& per_drive,
             Progress* progress,
             const std::function<void(const ReadJob&, ReadOutcome&&)>& on_done);

  // Stops the run from any thread, as a fatal error: reads stop being
  // issued, what is in flight finishes, every remaining job is reported
  // with `why`, and fatal() returns it.
  void Abort(const Status& why);

  const std::vector<DriveReadStats>& drive_stats() const { return stats_; }
  uint64_t bytes_written() const { return bytes_written_; }
  // Trouble that stopped every drive (DEST full), or OK.
  const Status& fatal() const { return fatal_; }
  // What the I/O queue is ("io_uring: ..." or "sync: ...").
  const std::string& queue_note() const { return queue_note_; }

 private:
  FileSystem* fs_;
  PipelineOptions opt_;
  DigestSet digests_;
  std::vector<bool> rotational_;
  std::vector<std::string> drive_names_;
  std::vector<DriveReadStats> stats_;
  std::string queue_note_;
  StageWriter* writer_ = nullptr;
  StageOpener open_staged_;
  bool stage_ahead_ = false;
  ObserverFactory make_observer_;
  ChunkDedup* dedup_ = nullptr;
  uint64_t bytes_written_ = 0;
  Status fatal_;
  AbortSignal abort_;
};

}  // namespace valise
