// valise pack, as library calls: plan a shipment (which files go on which
// drive, whether it fits) and write it (the files onto the data drives,
// the parity onto the parity drives, hashed as they are written).
//
//   plan   src/pack/pack_plan.cc    scan the dataset, check the drives
//                                   (empty, distinct, room), lay it out
//   write  src/pack/pack_writer.cc  stripe by stripe: read the data chunks
//                                   through the I/O engine, write them to
//                                   their drives, hash them, encode and
//                                   write the parity (stripe_work.cc)
//
// RunPackJob (valise/pack_state.h) writes the manifest, M.chunks,
// M.layout, M.parity and M.drives and binds them (docs/pack.md).
//
// Thread safety: each call runs one job and joins its own threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "valise/digest.h"
#include "valise/drives.h"
#include "valise/file_system.h"
#include "valise/io_engine.h"
#include "valise/io_queue.h"
#include "valise/manifest.h"
#include "valise/pack.h"
#include "valise/report.h"
#include "valise/status.h"

namespace valise {

class ChunkIndexV2Writer;
struct PackCheckpoint;

struct PackOptions {
  // Parity drives: the last `parity` of the drives given. Default: 0.
  uint32_t parity = 0;
  // Chunk size of the stripes and of the chunk index. Default: 1 MiB.
  uint64_t chunk_size = kDefaultPackChunkSize;
  // Bytes per parity file (pack.h). Default: 1 TiB.
  uint64_t segment_bytes = kDefaultParitySegmentBytes;
  // Whole-file digests of the manifest. Default: xxh128 alone: every byte
  // has its SHA-256 in the chunk index, which decides at the datacenter,
  // so a whole-file SHA-256 would hash each byte twice to prove nothing
  // more (docs/pack.md).
  DigestSet digests = DefaultDigests();
  // Stripes in flight; 0 picks 2..16 within 256 MiB of buffers
  // ((data + parity drives) * chunk size each). Default: 0.
  unsigned window = 0;
  // Threads hashing and computing parity; 0: the number of cores, at most
  // 16. Default: 0.
  unsigned threads = 0;
  // O_DIRECT for the dataset's reads and the drives' writes where the file
  // systems allow it (files below 1 MiB are written through the page
  // cache: their padded tail would need an ftruncate each). Default: true.
  bool direct = true;
  // Fraction of each drive's free space the plan may fill (the rest is
  // left to the file system's own metadata). Default: 0.99.
  double fill = 0.99;
  // Retries and timeouts of the engine; which queue.
  EngineOptions engine;
  IoQueueOptions queue;
  // Progress bars on stderr when it is a terminal. Default: false.
  bool progress = false;
  // Set by a signal handler: stop admitting stripes, finish the ones in
  // flight, checkpoint, return Aborted. Must remain live for the call.
  const std::atomic<bool>* cancel = nullptr;
  // Data bytes written between two checkpoints (each makes every drive
  // durable: a syncfs each). 0: only at the end. Default: 4 GiB.
  uint64_t checkpoint_bytes = uint64_t{4} << 30;
  // Called at each checkpoint, and once at the end with every stripe; an
  // error stops the pack. Default: none.
  std::function<Status(const PackCheckpoint&)> checkpoint;
  // Reads each drive's identity (file system UUID, serial...) for M.drives
  // before anything is written (RunPackJob). Null: the drives are recorded
  // with no identity, as directories (never matched by identity at the
  // datacenter). `valise pack` gives the system prober. Default: null.
  DriveProber* prober = nullptr;
  // What M.drives records as each drive's source, in the drives' order
  // (`valise pack --mkfs`: the block devices given, not the private mount
  // points they were filled on). Empty: the drives. Default: empty.
  std::vector<std::string> drive_sources;

  static DigestSet DefaultDigests() {
    DigestSet s;
    s.Add(DigestType::kXxh128);
    return s;
  }
};

// Where each file of the layout comes from.
struct PackSource {
  std::string path;  // full path of the file in the dataset
  uint32_t mode = 0644;
  int64_t mtime_ns = 0;
  size_t entry = 0;  // its place in the manifest (sorted by path)
};

struct PackPlan {
  std::vector<std::string> datasets;      // as given
  std::vector<std::string> data_roots;    // the data drives' mount points
  std::vector<std::string> parity_roots;  // the parity drives'
  PackLayout layout;
  // sources[d][i]: file i of data drive d (parallel to the layout).
  std::vector<std::vector<PackSource>> sources;
  // Manifest order: paths sorted, their sizes.
  std::vector<std::string> entry_paths;
  std::vector<uint64_t> entry_sizes;
  // Usable bytes of each drive (data, then parity), as planned with.
  std::vector<uint64_t> capacity;
  // Entries the scan skipped (symlinks, devices...): never packed.
  std::vector<FileResult> skipped;
};

// Scans `datasets`, checks `drives` (the last opt.parity are the parity
// drives) and lays the dataset out over them. Each drive must be an
// existing, empty directory (an empty lost+found is allowed) on a file
// system of its own, not holding a dataset. InvalidArgument for a drive
// that is not; NoSpace (naming the file, or the parity drive) when the
// dataset does not fit; *plan is filled as far as it got (its layout is
// valid only on success). With `require_empty` false the drives may hold
// files (a resumed pack).
Status PlanPack(FileSystem* fs, const std::vector<std::string>& datasets,
                const std::vector<std::string>& drives, const PackOptions& opt,
                bool require_empty, PackPlan* plan);

// Before the drives have file systems (pack --mkfs, before formatting):
// whether the datasets could be laid out over drives of `drive_bytes`
// (data, then the last opt.parity parity drives), counting every byte of
// each device, which no file system on it can beat. NoSpace (naming what
// does not fit) when not even that is enough: formatting them would be
// for nothing. The datasets are scanned as PlanPack scans them.
Status CheckFitsRawDrives(FileSystem* fs,
                          const std::vector<std::string>& datasets,
                          const std::vector<uint64_t>& drive_bytes,
                          const PackOptions& opt);

// A checkpoint: stripes [0, stripes) are on every drive and durable, and so
// are their digests in the chunk index and M.parity. Lists what finished
// since the checkpoint before (files in layout order per drive, parity
// files in stripe order), so that a journal of checkpoints holds every
// finished file's digests (src/pack/pack_state.cc).
struct PackCheckpoint {
  uint64_t stripes = 0;
  struct File {
    size_t entry = 0;  // manifest entry
    uint32_t mode = 0;
    int64_t mtime_ns = 0;
    std::vector<Digest> digests;  // opt.digests, in DigestType order
  };
  struct Segment {
    uint32_t drive = 0;  // parity drive
    size_t segment = 0;
    Sha256Bytes sha256{};
  };
  std::vector<File> files;
  std::vector<Segment> segments;
};

// Where a resumed pack starts (from the journal of an interrupted one).
struct PackResume {
  // Stripes [0, stripes_done) are on the drives, durable, with their
  // digests in the chunk index and M.parity files given to WritePack.
  uint64_t stripes_done = 0;
  // By manifest entry: what was journaled for each file finished before
  // stripes_done (its digests, mode, mtime); nullopt for the others.
  std::vector<std::optional<PackCheckpoint::File>> files;
  // Per parity drive, per parity file: the SHA-256 of a finished one.
  std::vector<std::vector<std::optional<Sha256Bytes>>> segments;
};

struct PackSummary {
  uint64_t files = 0;
  uint64_t bytes = 0;         // dataset bytes written to the data drives
  uint64_t parity_bytes = 0;  // written to the parity drives
  double seconds = 0;         // the write, start to last sync
  std::string queue_note;     // "io_uring: ..." or "sync: ..."
  std::vector<uint64_t> drive_bytes;  // per drive (data, then parity)
};

// Writes the plan: every file onto its data drive (mode and mtime as in
// the dataset), every parity file onto its parity drive, and makes them
// durable (syncfs of each drive, or an fdatasync per file where syncfs is
// not trusted). Fills *manifest (sizes, mtimes, opt.digests of every
// file), the SHA-256 of every parity file into plan->layout, and writes
// into `chunk_index` (the chunk index v2 of *manifest) and
// `parity_digests` (M.parity), both made durable. They are empty files for
// a new pack; with `resume`, the files of the interrupted one, which are
// trusted for stripes < resume->stripes_done: the pack goes on from there,
// reading again from the dataset only the start of each file that was
// being written (compared chunk by chunk with its copy on the drive: a
// dataset changed since is Corruption) and from the parity drives the start of
// each parity file being written (checked against M.parity). Any error
// stops the run: the drives keep what was written, and opt.checkpoint has
// been told what of it is durable.
Status WritePack(FileSystem* fs, PackPlan* plan, const PackOptions& opt,
                 const PackResume* resume, File* chunk_index,
                 File* parity_digests, Manifest* manifest,
                 PackSummary* summary);

// The plan of a resumed pack: the dataset scanned again and matched to
// `layout` (the interrupted pack's): every file of the layout must be in
// the dataset with the same size, and no other file there (InvalidArgument
// naming the first that is not: the dataset changed). The drives are
// checked as PlanPack does, without requiring them empty.
Status PlanResume(FileSystem* fs, const std::vector<std::string>& datasets,
                  const std::vector<std::string>& drives,
                  const PackLayout& layout, const PackOptions& opt,
                  PackPlan* plan);

}  // namespace valise
