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
// Failures stay with their file: an unreadable range (after the engine's
// retries) is recorded and the rest of the file and drive is still read; a
// drive whose request times out is marked stalled and its remaining files
// are reported stalled while the other drives finish.
//
// Thread safety: Run() is called once, from one thread; on_done is called
// from any thread but never concurrently with itself.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "valise/digest.h"
#include "valise/file_system.h"
#include "valise/pipeline.h"
#include "valise/report.h"
#include "valise/status.h"

namespace valise {

struct ReadJob {
  int drive = 0;
  std::string path;            // full path on the drive
  uint64_t size = 0;           // bytes to read (from the scan)
  size_t id = 0;               // the caller's
  bool chunk_digests = false;  // compute the per-chunk XXH3-128s
};

struct ReadOutcome {
  // OK, or the first thing that went wrong (open, read, file changed,
  // stalled, cancelled).
  Status status;
  uint64_t bytes_read = 0;
  std::vector<Digest> digests;       // when status is OK
  std::vector<ChunkDigest> chunks;   // when asked and status is OK
  std::vector<BadRange> bad_ranges;  // unreadable ranges
  bool stalled = false;
  bool cancelled = false;
};

struct DriveReadStats {
  uint64_t bytes_read = 0;
  double seconds = 0;  // from start to the drive's last completion
  bool stalled = false;
  std::vector<uint64_t> bytes_per_second;
};

class Reader {
 public:
  // `fs` must remain live while the Reader is. `digests` are computed for
  // every file. `rotational[d]` tells drive d's kind (for the default
  // depth).
  Reader(FileSystem* fs, const PipelineOptions& opt, DigestSet digests,
         std::vector<bool> rotational);
  ~Reader();

  // Reads every job; per_drive[d] lists drive d's jobs in reading order.
  // Returns an error only if nothing could run (queue setup).
  Status Run(const std::vector<std::vector<ReadJob>>& per_drive,
             Progress* progress,
             const std::function<void(const ReadJob&, ReadOutcome&&)>& on_done);

  const std::vector<DriveReadStats>& drive_stats() const { return stats_; }
  // What the I/O queue is ("io_uring: ..." or "sync: ...").
  const std::string& queue_note() const { return queue_note_; }

 private:
  FileSystem* fs_;
  PipelineOptions opt_;
  DigestSet digests_;
  std::vector<bool> rotational_;
  std::vector<DriveReadStats> stats_;
  std::string queue_note_;
};

}  // namespace valise
