// Rebuilding what a shipment lost from its parity: a missing drive, an
// unreadable range, a chunk whose bytes do not match its signed digest.
//
//   StripeReader    where a stripe member's bytes come from (the drives, or
//                   a test's memory); a failed read is an erasure.
//   ChunkDigests    the signed SHA-256 each member must have (data chunks:
//                   the chunk index; parity chunks: M.parity).
//   StripeRebuilder rebuilds the wanted members of one stripe from any k
//                   good members, each checked against its digest before
//                   it is used, and checks every member it rebuilds.
//   RecoverDataChunk / AssessLoss: one file chunk, read or rebuilt; and,
//                   before reading anything, what a set of lost drives and
//                   chunks costs (the exact files that cannot come back).
//   FsStripeReader  a StripeReader over the drives' mount points.
//
// The rule everywhere: a byte handed out has been checked against a signed
// digest. More than m losses in a stripe give the members that cannot be
// rebuilt, never a guess.
//
// Thread safety: a StripeRebuilder and an FsStripeReader are used by one
// thread at a time (one per thread); AssessLoss is thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "valise/buffer_pool.h"
#include "valise/file_system.h"
#include "valise/pack.h"
#include "valise/parity.h"
#include "valise/sidecar.h"
#include "valise/status.h"

namespace valise {

// Rebuild reads the members of a stripe at once, each from its own
// thread: calls for different members may run concurrently; calls for one
// member never do.
class StripeReader {
 public:
  virtual ~StripeReader() = default;
  // Reads bytes [ref.offset, +ref.length) of file ref.file of data drive d
  // into buf. Any error makes the member an erasure (its message goes to
  // the report). REQUIRES: buf holds ref.length bytes.
  virtual Status ReadData(uint32_t d, const ChunkRef& ref, uint8_t* buf) = 0;
  // Reads parity drive j's chunk of `stripe` (chunk_size bytes).
  virtual Status ReadParity(uint32_t j, uint64_t stripe, uint8_t* buf) = 0;
  // Hints that ReadData(d, ref) / ReadParity(j, stripe) will come soon
  // (the drive may start on them while the caller decodes). Called from
  // the rebuilder's own thread, never at once with a read of any member.
  virtual void PrefetchData(uint32_t d, const ChunkRef& ref) {
    (void)d;
    (void)ref;
  }
  virtual void PrefetchParity(uint32_t j, uint64_t stripe) {
    (void)j;
    (void)stripe;
  }
};

class ChunkDigests {
 public:
  virtual ~ChunkDigests() = default;
  // The SHA-256 of data drive d's chunk `ref` (its ref.length bytes).
  virtual Status Data(uint32_t d, const ChunkRef& ref, Sha256Bytes* out) = 0;
  // The SHA-256 of parity drive j's chunk of `stripe`.
  virtual Status Parity(uint32_t j, uint64_t stripe, Sha256Bytes* out) = 0;
};

class ChunkIndexV2;

// ChunkDigests from a manifest's bound sidecars: data chunks from its chunk
// index v2 (a data drive's chunks are its files' chunks), parity chunks
// from M.parity.
class SidecarChunkDigests final : public ChunkDigests {
 public:
  // `layout` and `index` are borrowed and must outlive it; entries[d][f] is
  // the manifest entry of file f of data drive d (CheckLayoutMatchesManifest
  // gives them). Checks M.parity's header and size against the layout:
  // Corruption naming it when they disagree; the index's chunk size must be
  // the layout's.
  static Status Open(const PackLayout* layout,
                     std::vector<std::vector<size_t>> entries,
                     const ChunkIndexV2* index,
                     std::unique_ptr<PositionalSource> parity,
                     std::unique_ptr<SidecarChunkDigests>* out);
  Status Data(uint32_t d, const ChunkRef& ref, Sha256Bytes* out) override;
  Status Parity(uint32_t j, uint64_t stripe, Sha256Bytes* out) override;

 private:
  SidecarChunkDigests() = default;
  const PackLayout* layout_ = nullptr;
  std::vector<std::vector<size_t>> entries_;
  const ChunkIndexV2* index_ = nullptr;
  std::unique_ptr<PositionalSource> parity_;
  ParityDigestsHeader header_;
};

// SHA-256 of n bytes.
Sha256Bytes Sha256Of(const uint8_t* data, size_t n);

// What happened to one member while a stripe was rebuilt.
struct MemberProblem {
  uint32_t member = 0;
  Status why;  // the read error, or Corruption: digest mismatch
};

struct StripeOutcome {
  // Wanted members now in their output buffers, checked.
  std::vector<uint32_t> rebuilt;
  // Wanted members that could not be rebuilt (fewer than k good members,
  // or a rebuilt chunk that failed its digest).
  std::vector<uint32_t> unrecoverable;
  // Members read as sources that turned out unusable.
  std::vector<MemberProblem> bad_sources;
  // Members read (each costs a chunk of I/O).
  uint64_t members_read = 0;
};

class StripeRebuilder {
 public:
  // Everything is borrowed and must remain live while the rebuilder is
  // used. REQUIRES: code->k() == map->layout().k(), code->m() ==
  // map->layout().m().
  StripeRebuilder(const StripeMap* map, const ParityCode* code,
                  StripeReader* reader, ChunkDigests* digests);
  ~StripeRebuilder();

  // Rebuilds members `want` of `stripe` (0..k-1 data, k.. parity) into
  // out[i] (chunk_size bytes each; a data member's bytes past its chunk's
  // length are zeros). Members marked in `avoid` (k+m entries, or empty)
  // are not read (a drive known lost); wanted members are never read. A
  // wanted data member that holds no chunk at this stripe is zeros at
  // once. Reads the fewest members it can: data members first, then
  // parity, stopping at k good ones. Hashes only what it rebuilds, unless
  // that fails its check: then every source it read is judged too, and
  // *outcome names the bad ones. InvalidArgument for a bad argument;
  // otherwise OK, with *outcome saying what was rebuilt and what not.
  Status Rebuild(uint64_t stripe, const std::vector<uint32_t>& want,
                 const std::vector<bool>& avoid, uint8_t* const* out,
                 StripeOutcome* outcome);

  // Reads member i of `stripe` into buf (chunk_size bytes; zeros past a
  // data chunk's length, all zeros for a data member that holds no chunk
  // there) and checks it against its digest. False, with *why saying why
  // (the read error, or Corruption for a mismatch), if it is unusable.
  bool ReadChecked(uint64_t stripe, uint32_t i, uint8_t* buf, Status* why);

  const StripeMap& map() const { return *map_; }

 private:
  // Whether bufs_[i] (rebuilt) matches member i's digest.
  Status CheckMember(uint64_t stripe, uint32_t i);
  // Reads member i of `stripe` into buf and, if `got` is not null, hashes
  // it into *got (*zero: a data member holding no chunk there, zeros,
  // nothing to check). Any thread; one member per thread at a time.
  Status ReadMember(uint64_t stripe, uint32_t i, uint8_t* buf, Sha256Bytes* got,
                    bool* zero);
  // Whether `got` is member i's signed digest (Corruption if not).
  Status Judge(uint64_t stripe, uint32_t i, const Sha256Bytes& got);
  // After `stripe`'s members were read: if the stripe before it was the
  // last one rebuilt (a file's chunks, one after another), hints the
  // reader at the same members' chunks of the next kReadAheadStripes
  // stripes, so their drives read on while this one is decoded and checked
  // and the caller takes it. A lone stripe (one bad chunk) hints nothing.
  void ReadAhead(uint64_t stripe, const std::vector<uint32_t>& members);

  class Workers;  // the threads that read a stripe's members at once
  const StripeMap* map_;
  StripeReader* reader_;
  ChunkDigests* digests_;
  ParityDecoder decoder_;
  std::vector<std::unique_ptr<uint8_t[]>> bufs_;  // k+m chunks
  std::unique_ptr<Workers> workers_;
  uint64_t last_stripe_ = UINT64_MAX;   // the last one Rebuild read for
  std::vector<uint64_t> hinted_until_;  // k+m: stripes below were hinted
};

// How far ahead a rebuild of consecutive stripes has its members read:
// 4 chunks a member (4 MiB at the default chunk size) covers a decode and
// a check of the stripe in hand many times over, on any drive.
inline constexpr uint64_t kReadAheadStripes = 4;

// How one data chunk came back.
enum class ChunkSource : uint8_t {
  kRead,     // read from its drive, digest matched
  kRebuilt,  // rebuilt from parity, digest matched
  kLost,     // neither: more than m members of its stripe unusable
};

// Chunk `chunk` of file `file` of data drive d into buf (chunk_size bytes;
// zeros past the chunk's length): read from the drive (unless
// avoid[d]) and checked, else rebuilt from its stripe. *why holds the
// reason the direct read failed (OK if it was not tried or succeeded) and,
// for kLost, why the rebuild failed too.
Status RecoverDataChunk(StripeRebuilder* rebuilder, uint32_t d, uint32_t file,
                        uint64_t chunk, const std::vector<bool>& avoid,
                        uint8_t* buf, ChunkSource* source, Status* why);

// What a set of losses costs, computed from the layout alone.
struct LossAssessment {
  // Per data drive, the indexes (in DataDriveLayout::files) of its files
  // with a chunk in a stripe that lost more than m members: exactly the
  // files that cannot be rebuilt. Sorted.
  std::vector<std::vector<uint32_t>> unrecoverable;
  uint64_t unrecoverable_files = 0;
  // Stripes that lost any member, and more than m.
  uint64_t stripes_degraded = 0;
  uint64_t stripes_lost = 0;
  // How many more members any stripe could still lose and be rebuilt: m
  // minus the most members lost in one stripe (0 when some are lost).
  uint32_t spare = 0;
};
// `drive_lost`: k+m entries (member order), true for a drive that is gone.
// `bad`: (member, stripe) pairs of single unusable chunks on drives that
// are not lost (a bad range, a corrupt chunk). A member that holds no
// chunk at a stripe (a data drive with fewer chunks) is never lost there:
// its zeros are known.
LossAssessment AssessLoss(
    const StripeMap& map, const std::vector<bool>& drive_lost,
    const std::vector<std::pair<uint32_t, uint64_t>>& bad);

// A pack's sidecars as the datacenter needs them to rebuild: M.layout
// (parsed) and M.parity (opened for positional reads), each checked
// against the manifest's binding.
struct PackParity {
  PackLayout layout;
  std::unique_ptr<PositionalSource> digests;  // M.parity
};
// Loads them for the manifest `m` read from `manifest_path`. *out is null
// (and OK) when m binds no layout: not a pack. Errors as LoadBoundSidecar
// (M.parity missing while M.layout is bound is NotFound), and ParseLayout's
// for a malformed layout.
Status LoadPackParity(FileSystem* fs, const std::string& manifest_path,
                      const Manifest& m, std::unique_ptr<PackParity>* out);

// A StripeReader over mounted drives: data drive d's files under
// data_roots[d], parity drive j's parity files under parity_roots[j]; an
// empty root is a drive not given (every read of it fails with NotFound).
// A file shorter than the layout says is Corruption (truncated). Keeps the
// last file it opened on each drive open.
//
// Members are read with O_DIRECT where the file system allows it (each
// chunk starts at a multiple of the chunk size, itself a multiple of
// 4 KiB), into buffers of its own, then copied out: the page cache is
// neither filled nor searched, so the rebuild costs no more CPU than a
// copy and its pace does not depend on what the cache held. The hints
// (Prefetch*) are then real reads, made ahead by a thread per member into
// at most kReadAheadStripes buffers of it (fewer when the members' chunks
// are large: within kDirectAheadBytes in all); a read asked for is taken
// from them, else made there and then. Where O_DIRECT is refused, files
// are read through the cache and the hints are File::WillNeed.
class FsStripeReader final : public StripeReader {
 public:
  // `fs` and `layout` are borrowed and must remain live while it is used.
  FsStripeReader(FileSystem* fs, const PackLayout* layout,
                 std::vector<std::string> data_roots,
                 std::vector<std::string> parity_roots);
  ~FsStripeReader() override;
  Status ReadData(uint32_t d, const ChunkRef& ref, uint8_t* buf) override;
  Status ReadParity(uint32_t j, uint64_t stripe, uint8_t* buf) override;
  void PrefetchData(uint32_t d, const ChunkRef& ref) override;
  void PrefetchParity(uint32_t j, uint64_t stripe) override;

  // Reads taken from the read-ahead so far (for tests).
  uint64_t reads_taken_ahead() const;

 private:
  struct Open {
    std::string path;
    std::unique_ptr<File> file;
    // O_DIRECT reads land here (one aligned chunk), made on first use.
    std::unique_ptr<BufferPool> bounce;
  };
  class Ahead;  // one member's direct read-ahead
  Status ReadFrom(uint32_t member, const std::string& root,
                  const std::string& rel, const std::string& label,
                  uint64_t offset, uint64_t n, uint8_t* buf);
  // Hints `rel`'s bytes [offset, +n) of `member`.
  void Prefetch(uint32_t member, const std::string& root,
                const std::string& rel, const std::string& label,
                uint64_t offset, uint64_t n);
  // *slot holding root/rel open (reopened only for another file), or why
  // not: NotFound naming `label` for a drive not given.
  Status OpenIn(Open* slot, const std::string& root, const std::string& rel,
                const std::string& label);

  FileSystem* fs_;
  const PackLayout* layout_;
  std::vector<std::string> data_roots_;
  std::vector<std::string> parity_roots_;
  std::vector<Open> open_;                      // k+m slots
  std::vector<Open> ahead_;                     // k+m slots, for WillNeed
  std::vector<std::unique_ptr<Ahead>> direct_;  // k+m, made on first use
  unsigned depth_;                              // direct read-ahead, per member
};

// The direct read-ahead's buffers, all members together, at most (but at
// least one chunk a member).
inline constexpr uint64_t kDirectAheadBytes = uint64_t{256} << 20;

}  // namespace valise
