// valise bench: how fast this machine can ingest, and what limits it.
//
// RunBench measures, one after the other, each for a bounded time:
//   1. each digest's rate on one core and on every core (in-memory buffer);
//   2. each drive's raw sequential read rate alone, then all drives at once,
//      through the I/O engine ingest uses (io_uring, O_DIRECT, fixed
//      buffers, chunk_size reads, `depth` in flight per drive);
//   3. DEST's write rate: one temporary file written through the engine
//      (O_DIRECT where DEST allows it), fdatasync included, then removed;
//      for an s3://BUCKET/PREFIX DEST, the store's: multipart parts (bytes/s)
//      then small PUTs (objects/s), many in flight, through the S3 client
//      (src/pipeline/bench_s3.cc), everything written removed;
//   4. the whole pipeline: the ingest Reader reading every drive, hashing
//      sha256 + xxh128 and writing to temporary files in DEST, stopped
//      after the time limit, everything it wrote removed (a directory DEST
//      only: not measured into an s3:// DEST);
// then names the bottleneck with the model of docs/bench.md:
//   drives  min(number of drives x slowest drive alone, all drives at once)
//           (balanced planning gives every drive about the same bytes, so
//           the slowest drive finishes last);
//   hash    the digests ingest computes (sha256 and xxh128, one after the
//           other on the same bytes) on every core;
//   dest    DEST's write rate;
// the smallest limits the ingest. With manifest_bytes, the time to ingest
// them at that rate is predicted.
//
// Without a drive (sources empty) but with DEST, only the hashes and DEST
// are measured.
//
// Sources are only ever opened for reading. On DEST nothing is left
// behind: the temporary file and directory are removed on every path out,
// failures included. DEST must exist (it is not created).
//
// Thread safety: RunBench runs one benchmark and starts and joins its own
// threads; concurrent calls would measure each other. BenchReport is a
// plain value; the Format functions are pure.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "valise/digest.h"
#include "valise/file_system.h"
#include "valise/pipeline.h"
#include "valise/s3.h"
#include "valise/status.h"

namespace valise {

struct BenchOptions {
  // Drives: directories (their largest files are read), image files and
  // block devices (read raw). At least one unless `dest` is given.
  std::vector<std::string> sources;
  // Where ingest would stage; empty: no write and no pipeline measurement.
  // A directory, which must exist, or s3://BUCKET/PREFIX, whose bucket
  // must exist. Default: "".
  std::string dest;
  // The store's client for an s3:// DEST (required then; the caller owns
  // it). Default: null.
  S3Client* s3 = nullptr;
  // Part size and requests in flight for an s3:// DEST, as ingest sends
  // them (defaults: 8 MiB parts, 16 in flight); pipeline.depth, when not
  // 0, replaces the number in flight.
  S3DestinationOptions s3_options;
  // Bytes of each object of the small-object measurement of an s3://
  // DEST (the mean of a tree of 4-64 KiB files). Default: 32 KiB.
  uint64_t s3_small_size = uint64_t{32} << 10;
  // Longest time of each read, write and pipeline measurement, in seconds.
  // A measurement ends earlier when its data runs out. Default: 5.
  double seconds = 5;
  // Time per digest and thread count for the hash measurement. Default: 0.5.
  double hash_seconds = 0.5;
  // Bytes to predict an ingest time for (a manifest's total); 0: none.
  // Default: 0.
  uint64_t manifest_bytes = 0;
  // Files in the manifest, for the report only. Default: 0.
  uint64_t manifest_files = 0;
  // Name of the manifest, for the report only. Default: "".
  std::string manifest;
  // Ingest decides by the chunk digests (a manifest binding a chunk index):
  // it hashes every chunk with SHA-256 and computes no whole-file digest,
  // so the model and the pipeline hash each byte with SHA-256 once, and
  // not with xxh128. Default: false.
  bool chunk_sha256 = false;
  // chunk_size, depth, threads, direct, engine and queue as for ingest;
  // `cancel` stops the run (RunBench then returns Aborted after cleaning
  // up). Default: PipelineOptions defaults.
  PipelineOptions pipeline;
  // Called on the calling thread at the start of each measurement with a
  // line saying what is measured ("reading /mnt/d1 alone, 5 s"); may be
  // empty. Default: none.
  std::function<void(const std::string&)> on_phase;
};

// One timed measurement: `bytes` moved in `seconds`.
struct BenchRate {
  uint64_t bytes = 0;
  double seconds = 0;
  // CPU time the whole machine spent meanwhile (/proc/stat: user, nice,
  // system, irq, softirq), kernel threads included (a loop device's
  // copies, DEST's writeback); 0: not known. Set for reading the drives
  // together and for writing DEST: what those cost the cores hashing
  // shares them with.
  double cpu_seconds = 0;
  // bytes / seconds; 0 when nothing was measured.
  double rate() const { return seconds > 0 ? double(bytes) / seconds : 0; }
};

struct BenchDrive {
  std::string source;   // as given
  std::string kind;     // "directory", "image", "block device"
  uint64_t files = 0;   // files available to read (largest first)
  bool direct = false;  // read with O_DIRECT
  BenchRate alone;      // this drive alone
  // This drive's share while all are read at once: its bytes over the
  // whole of that measurement's time, so that the drives' rates add up to
  // read_together's.
  BenchRate together;
  std::vector<std::string> errors;  // open, read
};

struct BenchHash {
  DigestType type = DigestType::kSha256;
  double rate_one = 0;  // bytes/s on one thread
  double rate_all = 0;  // bytes/s on `threads` threads, summed
  unsigned threads = 0;
};

enum class BottleneckKind : uint8_t {
  kNone,    // nothing measured (every drive failed)
  kDrive,   // one drive, the slowest: drives x its rate
  kDrives,  // reading all drives at once (a shared bus, the I/O thread)
  kHash,    // hashing on every core
  kDest,    // writing to DEST
  // the whole pipeline, measured, slower than every stage apart (the
  // stages contend for the cores, the memory bus or the I/O thread)
  kPipeline,
};
// "none", "drive", "drives", "hash", "dest", "pipeline": also the JSON
// values.
const char* BottleneckKindName(BottleneckKind kind);

struct BenchReport {
  std::string started;  // ISO 8601 UTC
  double seconds = 0;   // the whole benchmark
  double seconds_per_test = 0;
  uint64_t chunk_size = 0;
  unsigned depth = 0;  // reads in flight per drive as asked; 0: by kind
  std::string queue;   // "io_uring: ..." or "sync: ..."
  unsigned hash_threads = 0;
  bool chunk_sha256 = false;  // BenchOptions::chunk_sha256

  std::vector<BenchDrive> drives;
  BenchRate read_together;  // all drives at once, summed
  std::vector<BenchHash> hashes;

  bool has_dest = false;
  std::string dest;
  BenchRate dest_write;  // fdatasync included
  bool dest_direct = false;
  std::vector<std::string> dest_errors;
  // An s3:// DEST: dest_write is the bytes of the multipart parts sent
  // (dest_parts of dest_part_size bytes); dest_small the PUTs of
  // dest_small_objects objects of dest_small_size bytes; both with
  // dest_in_flight requests in flight. Requests, retries and 503 SlowDown
  // answers over both measurements and the clean-up.
  bool dest_s3 = false;
  unsigned dest_in_flight = 0;
  uint64_t dest_part_size = 0;
  uint64_t dest_parts = 0;
  BenchRate dest_small;
  uint64_t dest_small_objects = 0;
  uint64_t dest_small_size = 0;
  uint64_t dest_s3_requests = 0;
  uint64_t dest_s3_retries = 0;
  uint64_t dest_s3_throttled = 0;

  bool has_pipeline = false;
  BenchRate pipeline;  // bytes written to DEST by the whole pipeline
  uint64_t pipeline_bytes_read = 0;
  uint64_t pipeline_files = 0;  // files finished (wholly read and written)
  std::vector<std::string> pipeline_errors;

  // The model (docs/bench.md). Limits in bytes/s; 0 when not measured.
  double limit_drives = 0;
  double limit_hash = 0;
  double limit_dest = 0;
  // The smallest limit of the stages apart, or the whole pipeline's
  // measured rate when that is lower (and measured on enough data).
  double predicted_rate = 0;
  double model_rate = 0;  // the smallest limit of the stages apart
  BottleneckKind bottleneck = BottleneckKind::kNone;
  std::string bottleneck_subject;  // the drive, "all drives", "sha256+...",
                                   // DEST
  double bottleneck_rate = 0;      // the subject's own rate
  std::string bottleneck_text;     // "bottleneck: drive ... limits ..."
  // One concrete step against the bottleneck: "next: more drives per
  // host ...".
  std::string remedy;
  // Measurements not to be trusted, each saying which and why: one that
  // ran out of data within kBenchMinTrustedSeconds, a hash rate lower on
  // every core than on one (other work is using the cores).
  std::vector<std::string> untrusted;

  std::string manifest;
  uint64_t manifest_files = 0;
  uint64_t manifest_bytes = 0;
  double predicted_seconds = 0;  // manifest_bytes / predicted_rate

  std::vector<std::string> notes;

  // True when a drive, DEST or the pipeline reported an error.
  bool HasErrors() const;
};

// Runs the benchmark. Errors that stop it: neither a source nor DEST, DEST
// missing or not a directory (an s3:// DEST: a malformed URL, no client,
// the bucket missing or refused), every drive unusable, interrupted
// (Aborted). A drive or
// DEST that fails midway is recorded in the report and the rest goes on.
// *report is filled as far as the run got, in every case.
Status RunBench(FileSystem* fs, const BenchOptions& options,
                BenchReport* report);

// A measurement shorter than this (its data ran out) is not trusted.
inline constexpr double kBenchMinTrustedSeconds = 1.0;

// Fills the model fields (limits, predicted rate, bottleneck, remedy,
// untrusted measurements, predicted time) from the measured ones. RunBench
// calls it; exposed for tests.
void ComputeBottleneck(BenchReport* report);

// The table for people, ending with the bottleneck line.
std::string FormatBenchTable(const BenchReport& report);
// JSON, schema "valise-bench/1" (docs/bench.md).
std::string FormatBenchJson(const BenchReport& report);

}  // namespace valise
