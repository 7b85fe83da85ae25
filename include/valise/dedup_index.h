// DedupIndex: which chunk contents have been seen, and where first.
//
// Keyed by a chunk's XXH3-128 digest and its length, valued by the first
// place it was seen (a file id and an offset). XXH3-128 is not a
// cryptographic hash: an index hit only says where an identical chunk
// probably is; whoever acts on it (a clone) must already know the bytes
// are equal, e.g. because both files' SHA-256 matched the manifest.
//
// Layout: open addressing with linear probing over one flat array of
// 32-byte slots, grown by doubling at 70% load, so an entry costs 46 to 91
// bytes depending on where the count falls between two doublings
// (bench/dedup_index_bench.cc measured 84 B at 100k entries, 67 B at 1M).
//
// Thread safety: none; callers synchronise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "valise/digest.h"

namespace valise {

struct ChunkPlace {
  uint32_t file = 0;
  uint64_t offset = 0;
};

class DedupIndex {
 public:
  // Room for `expected` entries before the first growth.
  explicit DedupIndex(size_t expected = 0);

  // If (digest, len) is present, sets *first to its place and returns true;
  // otherwise records `place` for it and returns false.
  bool FindOrInsert(const ChunkDigest& digest, uint32_t len,
                    const ChunkPlace& place, ChunkPlace* first);
  // True and *first set if (digest, len) is present.
  bool Find(const ChunkDigest& digest, uint32_t len, ChunkPlace* first) const;

  size_t size() const { return size_; }
  // Bytes held by the table.
  size_t memory_bytes() const { return slots_.capacity() * sizeof(Slot); }

 private:
  struct Slot {
    uint64_t lo = 0, hi = 0;
    uint64_t offset = 0;
    uint32_t file = 0;
    uint32_t len = 0;  // 0: empty (empty chunks are never indexed)
  };
  static_assert(sizeof(Slot) == 32);
  size_t Probe(const ChunkDigest& d, uint32_t len) const;
  void Grow();

  std::vector<Slot> slots_;
  size_t size_ = 0;
};

}  // namespace valise
