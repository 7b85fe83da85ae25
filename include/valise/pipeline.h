// The jobs valise runs, as library calls: make a manifest of drives, verify
// drives against a manifest. Each is a straight list of stages (see
// src/pipeline/verify.cc); this header holds what the caller chooses.
//
//   scan     src/pipeline/scan.cc     walk each drive, stat every entry
//   plan     src/pipeline/plan.cc     match drives to the manifest, order reads
//   read     src/pipeline/reader.cc   io_uring reads into pooled buffers
//            (read_loop.cc)           (the I/O thread's loop),
//            (hash_schedule.cc)       hashed in order on worker threads
//   compare  src/pipeline/verify.cc   digests against the manifest
//   report   src/pipeline/report.cc   summary, JSON, progress bars
//
// Thread safety: each call runs one job; it starts and joins its own
// threads. Calls may run concurrently on different inputs.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "valise/digest.h"
#include "valise/file_system.h"
#include "valise/io_engine.h"
#include "valise/io_queue.h"
#include "valise/manifest.h"
#include "valise/report.h"
#include "valise/s3.h"
#include "valise/status.h"

namespace valise {

class Destination;  // valise/destination.h
struct DriveScan;   // src/pipeline/scan.h: one SRC's files as scanned

struct PackParity;

class ChunkIndexV2;

struct PipelineOptions {
  // Bytes per read, per buffer and per chunk digest. A multiple of 4096.
  // Default: 1 MiB.
  size_t chunk_size = size_t{1} << 20;
  // Reads in flight per drive; 0 picks by drive kind (DefaultReadDepth):
  // 16 on SSD, NVMe and memory-backed drives, 4 on rotational ones.
  // Default: 0.
  unsigned depth = 0;
  // Hashing threads; 0 picks the number of cores, at most 16 (beyond that
  // one reading thread cannot feed them). Default: 0.
  unsigned threads = 0;
  // Buffers in the pool; 0 picks drives * depth + 4 * threads. Memory for
  // data is buffers * chunk_size, whatever the dataset's size. Default: 0.
  size_t buffers = 0;
  // Read with O_DIRECT where the file system allows it. Default: true.
  bool direct = true;
  // Retries, timeouts (--retries, --io-timeout).
  EngineOptions engine;
  // Which queue (io_uring or synchronous).
  IoQueueOptions queue;
  // When not empty, only these digests are computed and compared
  // (--hash-only). Default: every digest the manifest holds.
  DigestSet hash_only;
  // Draw progress bars on stderr when it is a terminal. Default: false.
  bool progress = false;
  // A stats line on stderr every this many seconds (--stats); 0: none.
  // stats_final: the last line even when no interval passed (see
  // ProgressOptions). Defaults: 0, true.
  double stats_seconds = 0;
  bool stats_final = true;
  // The Prometheus text-format metrics file (--metrics); "": none.
  std::string metrics_file;
  // Per SRC, in order, the name progress and metrics give the drive (its
  // label in M.drives); "" or missing: its SRC. Default: none.
  std::vector<std::string> drive_labels;
  // Set by a signal handler: stop issuing reads, finish what is in flight,
  // report what is known as interrupted. Must remain live for the call.
  const std::atomic<bool>* cancel = nullptr;
  // verify, ingest: the manifest's signed chunk digests (its bound chunk
  // index v2, valise/chunk_index_v2.h), which locate a corrupt copy's bad
  // chunks; the run then reads in the index's chunk size. Must remain live
  // for the call. Default: none.
  const ChunkIndexV2* chunk_index = nullptr;
  // verify, ingest: chunk_index is bound to a manifest whose signature was
  // checked (--pubkey): the report says the chunk digests that decided
  // were signed (CheckedBy::kSignedChunks). Signed or not, with a chunk
  // index the chunk digests decide alone: each byte is hashed once, with
  // SHA-256 per chunk, and the whole-file digests are not computed (unless
  // --hash-only asks for them; see DecidesByChunks in
  // src/pipeline/chunk_check.h). Default: false.
  bool chunk_index_signed = false;
  // verify, ingest: a pack's layout and parity digests (the manifest binds
  // M.layout: LoadPackParity, valise/rebuild.h). A file no drive given
  // delivers whole and right is then rebuilt from its stripes' parity
  // (needs chunk_index); the parity drives' files are not extra. Its
  // M.parity is taken over by the run; must remain live for the call.
  // Default: none.
  PackParity* pack = nullptr;
};

// Reads in flight on a drive when PipelineOptions::depth is 0: what the
// ingest and verify Reader and `valise bench`'s reads use alike.
inline unsigned DefaultReadDepth(bool rotational) {
  return rotational ? 4 : 16;
}

// Writes in flight on DEST when --depth is not given: ingest's
// (IngestOptions::depth) and `valise bench`'s alike.
inline constexpr unsigned kDefaultWriteDepth = 16;

// The progress of a run with these options (bars, stats lines, metrics).
inline ProgressOptions ProgressOptionsOf(const PipelineOptions& o) {
  ProgressOptions p;
  p.bars = o.progress;
  p.stats_seconds = o.stats_seconds;
  p.stats_final = o.stats_final;
  p.metrics_path = o.metrics_file;
  return p;
}

// The name progress gives SRC `i`: its label if opt has one, else `source`.
inline std::string ProgressName(const PipelineOptions& o, size_t i,
                                const std::string& source) {
  if (i < o.drive_labels.size() && !o.drive_labels[i].empty()) {
    return o.drive_labels[i];
  }
  return source;
}

// Whether `source` can be a drive (SRC): it is there and is a directory,
// an image file or a block device. A symlink given as SRC
// (/dev/disk/by-id/...) is followed; the drive is what it names (the
// pipeline resolves it once more when the run opens its drives, and reads
// everything through that). NotFound or InvalidArgument naming `source`
// (and its target): the same message whether it is given alone or among
// others. The commands check every SRC this way before reading any.
Status CheckSource(FileSystem* fs, const std::string& source);

// What `valise manifest` found besides the files it hashed.
struct ManifestSummary {
  std::vector<FileResult> skipped;  // symlinks, devices, FIFOs, sockets,
                                    // valise's state directory (.valise)
  std::vector<std::string> errors;  // unreadable files, scan errors
  uint64_t files = 0;
  uint64_t bytes = 0;
  double seconds = 0;
  // Per source (in order), the manifest entries it holds: ascending
  // [first, first + count) runs of manifest indices (M.drives records
  // them, valise/drives.h).
  std::vector<std::vector<std::pair<uint64_t, uint64_t>>> drive_runs;
};

// Hashes every regular file under `sources` into *manifest (with the
// digests in `digests`) and, if `chunks` is not null, the chunk index v1
// (XXH3-128, in memory). With `chunk_index` (an empty file open for
// writing), also writes the chunk index v2 into it as the files are read
// (the SHA-256 of every chunk of opt.chunk_size bytes), and makes it
// durable; the caller binds it to the manifest (valise/sidecar.h).
// A path present on several sources must have the same contents on each
// (InvalidArgument naming both otherwise). Returns an error for trouble
// (a source missing, a file unreadable, an entry the scan could not list
// or stat: summary->errors lists them); skipped entries are not errors.
Status MakeManifest(FileSystem* fs, const std::vector<std::string>& sources,
                    DigestSet digests, const PipelineOptions& opt,
                    Manifest* manifest, ChunkIndex* chunks,
                    ManifestSummary* summary, File* chunk_index = nullptr);

// Checks every copy of every manifest entry found on `sources` and fills
// *report. `chunks` (may be null) localises corruption. Returns an error
// only for trouble that stops the whole run (a source that cannot be a
// drive, see CheckSource; queue failure); per-file and per-drive problems
// go into the report.
Status VerifyDrives(FileSystem* fs, const Manifest& manifest,
                    const ChunkIndex* chunks,
                    const std::vector<std::string>& sources,
                    const PipelineOptions& opt, RunReport* report);

// How a content already staged under one path lands under another.
enum class DedupPolicy : uint8_t {
  kAuto,      // reflink where DEST supports it, else copy
  kReflink,   // FICLONE: shared extents, separate inodes (XFS, btrfs)
  kHardlink,  // one inode, several names (mode and mtime shared)
  kCopy,      // no dedup: each path is read and written
};
// "auto", "reflink", "hardlink", "copy".
bool ParseDedupPolicy(std::string_view name, DedupPolicy* policy);
const char* DedupPolicyName(DedupPolicy policy);

struct IngestOptions {
  // Default: kAuto.
  DedupPolicy dedup = DedupPolicy::kAuto;
  // Write staging files with O_DIRECT where DEST allows it (filling the page
  // cache with data that is only written costs twice). Default: true.
  bool direct = true;
  // Files smaller than this are written through the page cache even with
  // `direct`: an O_DIRECT file's padded tail must be cut by an ftruncate,
  // which xfs serializes with the file's I/O (0.4 ms a file), while the
  // batch's one syncfs writes the cached bytes back together. Default: 1 MiB.
  uint64_t direct_min_bytes = uint64_t{1} << 20;
  // Writes in flight on DEST. Default: 16 (kDefaultWriteDepth).
  unsigned depth = kDefaultWriteDepth;
  // Prepended to every manifest path to name its place under DEST, e.g.
  // "data/" when DEST is a BagIt bag. The journal and the report keep the
  // manifest's paths. Default: "".
  std::string dest_prefix;
  // Files per group commit at most: their data is made durable (one
  // syncfs, or an fdatasync each), then they are renamed and their names
  // and journal records made durable (see src/pipeline/ingest.cc).
  // Default: 1024.
  size_t commit_batch = 1024;
  // Read back every file an earlier run staged, even those whose size,
  // mtime, inode and ctime are still what the journal recorded (--recheck).
  // Default: false (those are trusted).
  bool recheck = false;
  // The client for an s3://BUCKET/PREFIX DEST (required then; must remain
  // live during the ingest), and how that destination works
  // (src/dest/s3_destination.h). Default: none.
  S3Client* s3 = nullptr;
  S3DestinationOptions s3_options;
  // The host this run ingests as (--host): names its journal objects in
  // an s3:// DEST (S3DestinationOptions::host), and for a directory DEST
  // turns on the layout of a DEST shared by several hosts
  // (src/dest/posix_hosts.h). Default: empty (the machine's host name; a
  // directory DEST stays one-host unless it is shared already).
  std::string host;
  // The SRCs as the caller scanned them just before, one per source in
  // order (IngestDryRun::scans: valise ingest's space check plans the run
  // first): used instead of scanning every drive a second time. Whatever
  // changed since is found as each file is opened (its identity checked
  // against the scan, as for any run). Ignored unless there is one per
  // source. Default: none (IngestDrives scans).
  std::shared_ptr<const std::vector<DriveScan>> scans;
  // Tests: makes the destination for DEST instead of the built-in ones
  // (a wrapper that breaks one step). Default: empty.
  std::function<Status(const std::string& dest,
                       std::unique_ptr<Destination>* out)>
      dest_factory;
};

// OK, or InvalidArgument saying why ingest refuses a manifest path and
// what to do: `dest_rel`, its place under DEST (IngestOptions::dest_prefix
// included), would land in DEST/.valise, valise's state directory
// (journal, lock, staging). IngestDrives refuses a manifest holding such a
// path before DEST is created or a drive read; a reader of the manifest
// can refuse it sooner, naming its line (ManifestReadOptions::check_path).
Status CheckIngestPath(std::string_view dest_rel);

// Stages every file of the manifest found on `sources` into `dest` (see
// src/pipeline/ingest.cc for the protocol). Resumable: a rerun skips what
// DEST/.valise/journal holds. Fills *report (keeping every file, with its
// digests). Returns an error for trouble that stopped the run: DEST
// locked, unusable or full (the report is still filled, and a rerun
// resumes).
Status IngestDrives(FileSystem* fs, const Manifest& manifest,
                    const std::vector<std::string>& sources,
                    const std::string& dest, const PipelineOptions& opt,
                    const IngestOptions& iopt, RunReport* report);

}  // namespace valise
