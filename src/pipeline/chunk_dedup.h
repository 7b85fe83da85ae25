// Dedup by chunk (chunk_dedup.cc; issue 15, item 5): while ingest stages
// a file into a directory DEST, a chunk whose content DEST holds already
// is not written, and where the signed chunk digests allow it, not read.
//
//   ChunkDedup   one per ingest run: what DEST can do (range clones,
//                holes), the chunks staged and verified so far in this
//                run, keyed by their signed SHA-256, and where each lies
//                (a staged file's open handle and offset).
//   FileDedup    one per staged file in flight: its signed chunk digests
//                (fetched 2,048 at a time, as the checker does), and the
//                chunks written but not yet verified, or verified but not
//                yet written: a chunk becomes a source only once both.
//
// Thread safety: ChunkDedup's methods from any thread (one mutex). A
// FileDedup's Digest from the read loop's I/O thread only; Written (I/O
// thread) and Verified (a hashing thread) from both.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "valise/chunk_index_v2.h"
#include "valise/destination.h"
#include "valise/file_system.h"

namespace valise {

// Staged files whose verified chunks are kept as sources at once (each
// holds a descriptor); the oldest is forgotten beyond this.
inline constexpr size_t kMaxChunkSourceFiles = 256;

// True if the `len` bytes at `data` are all zero.
bool AllZero(const char* data, size_t len);

class ChunkDedup {
 public:
  // `dest` must outlive this. `index`: the signed chunk digests (null:
  // only holes, found by content). `chunk_size`: the run's, which must be
  // the index's. `clone`: DEST clones ranges (DestInfo::clone_range);
  // `holes`: a chunk not written reads as zeros (DestInfo::holes).
  ChunkDedup(Destination* dest, const ChunkIndexV2* index, uint64_t chunk_size,
             bool clone, bool holes);

  Destination* dest() const { return dest_; }
  const ChunkIndexV2* index() const { return index_; }
  uint64_t chunk_size() const { return chunk_size_; }
  bool clone() const { return clone_; }
  bool holes() const { return holes_; }
  // Whether `d` is the signed digest of a whole chunk of zeros.
  bool IsZeroChunk(const ChunkSha256& d) const {
    return index_ != nullptr && d == zero_digest_;
  }

  // Where a chunk with signed digest `d` lies, staged and verified in this
  // run: *file and *offset; false if none.
  bool Find(const ChunkSha256& d, std::shared_ptr<File>* file,
            uint64_t* offset);
  // Chunk at `offset` of `file` (a whole chunk, written and found to
  // match `d`) is a source from now on.
  void Add(const ChunkSha256& d, const std::shared_ptr<File>& file,
           uint64_t offset);

  // A chunk with signed digest `d` is being read and staged (Pend, which
  // numbers it): until it is known whether it becomes a source (Unpend),
  // another chunk with the same digest waits for it rather than being read
  // (Pending). A chunk read past (the read loop's Deferred) waits only for
  // chunks numbered before it was passed over (`before`, from Next()):
  // never for one issued later, which may itself wait, through its file's
  // hashing order, for the chunk read past: a cycle.
  uint64_t Pend(const ChunkSha256& d);
  void Unpend(const ChunkSha256& d, uint64_t seq);
  bool Pending(const ChunkSha256& d, uint64_t before = UINT64_MAX);
  // The number the next Pend will give.
  uint64_t Next();
  // Called (on any thread) by each Unpend: wakes the read loop that may
  // wait. Null: none.
  void SetWake(std::function<void()> wake);

 private:
  struct Source {
    std::shared_ptr<File> file;
    uint64_t offset = 0;
  };
  Destination* const dest_;
  const ChunkIndexV2* const index_;
  const uint64_t chunk_size_;
  const bool clone_;
  const bool holes_;
  ChunkSha256 zero_digest_{};

  struct DigestHash {
    size_t operator()(const ChunkSha256& d) const {
      size_t h;
      static_assert(sizeof(h) <= sizeof(ChunkSha256));
      memcpy(&h, d.data(), sizeof(h));
      return h;
    }
  };
  std::mutex mu_;
  std::unordered_map<ChunkSha256, Source, DigestHash> sources_;
  // The numbers of the pending chunks of each digest.
  std::unordered_map<ChunkSha256, std::vector<uint64_t>, DigestHash> pending_;
  uint64_t next_seq_ = 1;
  std::function<void()> wake_;
  // The source files in the order they came, with their digests, so the
  // oldest can be forgotten (kMaxChunkSourceFiles).
  std::deque<std::pair<File*, std::vector<ChunkSha256>>> files_;
};

class FileDedup {
 public:
  // For manifest entry `entry`, staged as `staged` (a source handle is
  // asked of the destination when DEST clones).
  FileDedup(ChunkDedup* run, size_t entry, StagedFile* staged);

  ChunkDedup* run() const { return run_; }
  // Whether chunks of this file may be cloned into it or become sources
  // (the signed digests are known and DEST clones).
  bool clones() const { return run_->clone() && run_->index() != nullptr; }

  // The signed digest of chunk `index` into *d; false if the index could
  // not be read (then nothing of this file is deduplicated by digest).
  bool Digest(uint64_t index, ChunkSha256* d);

  // Chunk `index`, a whole chunk with signed digest `d`, is being read
  // (ChunkDedup::Pend). What becomes of it, reported below, decides
  // whether it becomes a source; once its hash and its write are both
  // done, it is a source if it matched and was written, and no longer
  // pending either way. Calls for a chunk not Issued do nothing.
  void Issued(uint64_t index, const ChunkSha256& d);
  // It matched its signed digest (the checker's on_good, a hashing
  // thread), before HashDone.
  void Verified(uint64_t index);
  // Its turn to be hashed came: checked (Verified if it matched), or not
  // (unread, or its file failed). A hashing thread, or the I/O thread.
  void HashDone(uint64_t index);
  // Its write is done: `ok` if the chunk was written whole; false if it
  // failed or will never happen. The I/O thread.
  void WriteDone(uint64_t index, bool ok);
  // The file is finished: what is still pending is no longer.
  void Done();

 private:
  ChunkDedup* const run_;
  const size_t entry_;
  std::shared_ptr<File> source_;  // null: no source made of this file
  bool failed_ = false;
  // Digest's batch: the signed digests of chunks [first_, +want_.size()).
  uint64_t first_ = 0;
  std::vector<ChunkSha256> want_;

  struct Pending {
    ChunkSha256 digest;
    uint64_t seq = 0;  // ChunkDedup::Pend's
    bool verified = false, hashed = false, write_done = false;
    bool written = false;
  };
  // If both its hash and its write are done: a source or not, no longer
  // pending. REQUIRES: mu_ held; `it` in issued_.
  void MaybeResolve(std::map<uint64_t, Pending>::iterator it);

  std::mutex mu_;
  std::map<uint64_t, Pending> issued_;  // chunks Issued, not yet resolved
};

}  // namespace valise
