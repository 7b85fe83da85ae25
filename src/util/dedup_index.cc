#include "valise/dedup_index.h"

namespace valise {

namespace {
size_t RoundUpPow2(size_t n) {
  size_t p = 16;
  while (p < n) p <<= 1;
  return p;
}
}  // namespace

DedupIndex::DedupIndex(size_t expected)
    : slots_(RoundUpPow2(expected + expected / 2 + 1)) {}

// The slot holding (d, len), or the empty slot where it would go. The
// digest's low half is already uniformly distributed: no further mixing.
size_t DedupIndex::Probe(const ChunkDigest& d, uint32_t len) const {
  const size_t mask = slots_.size() - 1;
  size_t i = static_cast<size_t>(d.lo ^ len) & mask;
  for (;;) {
    const Slot& s = slots_[i];
    if (s.len == 0 || (s.lo == d.lo && s.hi == d.hi && s.len == len)) {
      return i;
    }
    i = (i + 1) & mask;
  }
}

void DedupIndex::Grow() {
  std::vector<Slot> old;
  old.swap(slots_);
  slots_.assign(old.size() * 2, Slot{});
  for (const Slot& s : old) {
    if (s.len == 0) continue;
    slots_[Probe(ChunkDigest{s.lo, s.hi}, s.len)] = s;
  }
}

bool DedupIndex::FindOrInsert(const ChunkDigest& digest, uint32_t len,
                              const ChunkPlace& place, ChunkPlace* first) {
  if (len == 0) return false;
  if ((size_ + 1) * 10 > slots_.size() * 7) Grow();
  Slot& s = slots_[Probe(digest, len)];
  if (s.len != 0) {
    *first = ChunkPlace{s.file, s.offset};
    return true;
  }
  s = Slot{digest.lo, digest.hi, place.offset, place.file, len};
  ++size_;
  return false;
}

bool DedupIndex::Find(const ChunkDigest& digest, uint32_t len,
                      ChunkPlace* first) const {
  if (len == 0) return false;
  const Slot& s = slots_[Probe(digest, len)];
  if (s.len == 0) return false;
  *first = ChunkPlace{s.file, s.offset};
  return true;
}

}  // namespace valise
