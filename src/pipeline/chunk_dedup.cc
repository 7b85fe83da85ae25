// Dedup by chunk: a chunk's content staged once into DEST is not written
// again in the same run.
//
// What decides is the signed chunk digests (M.chunks, bound to M and
// covered by its signature), never a digest computed from bytes not yet
// checked. A chunk of a staged file becomes a source only once both:
//   - its write to the staged file completed (the read loop's OnWritten),
//   - its bytes, as read, matched their signed digest (the file's
//     ChunkChecker, on a hashing thread).
// Then it is kept as (digest -> handle of the staged file, offset). The
// handle is DEST's own descriptor of that staged file (CloneSource): its
// bytes stay whatever becomes of the name (renamed when committed,
// removed when the file fails), and nothing writes that range again.
//
// The read loop (read_loop.cc) asks, for each chunk of a file it stages:
//   - before reading it, with the chunk digests deciding alone (no
//     whole-file digest needs its bytes): is its signed digest that of a
//     whole chunk of zeros, or the digest of a source? Then it is not read
//     at all: a hole, or a range clone of the source (FICLONERANGE); the
//     file's checker counts it checked (it is, by the signed digest: the
//     bytes that land are the bytes a chunk with that digest has);
//   - once read otherwise: are its bytes all zeros (a hole), or is its
//     signed digest that of a source (a clone)? Then it is read and
//     checked, but not written.
// Only whole chunks are cloned (the offsets and length a range clone
// needs); a file's last, partial chunk is written (or left a hole).
// Any clone that fails is written instead.
//
// Memory: one entry (~100 bytes) per distinct chunk staged, while its
// file is among the last kMaxChunkSourceFiles staged (a descriptor each).
#include "pipeline/chunk_dedup.h"

#include <algorithm>
#include <cstring>

#include "valise/digest.h"

namespace valise {

namespace {

// Signed digests fetched from the index at once (64 KiB), as the checker.
constexpr size_t kDigestBatch = 2048;

}  // namespace

bool AllZero(const char* data, size_t len) {
  // memcmp of the buffer against itself shifted by one: vectorised, and
  // stops at the first non-zero byte of most data.
  return len == 0 || (data[0] == 0 && memcmp(data, data + 1, len - 1) == 0);
}

ChunkDedup::ChunkDedup(Destination* dest, const ChunkIndexV2* index,
                       uint64_t chunk_size, bool clone, bool holes)
    : dest_(dest),
      index_(index),
      chunk_size_(chunk_size),
      clone_(clone),
      holes_(holes) {
  if (index_ == nullptr) return;
  std::string zeros(static_cast<size_t>(chunk_size_), '\0');
  auto sha = Hasher::New(DigestType::kSha256);
  sha->Update(zeros.data(), zeros.size());
  Digest d = sha->Finish();
  memcpy(zero_digest_.data(), d.bytes.data(), zero_digest_.size());
}

bool ChunkDedup::Find(const ChunkSha256& d, std::shared_ptr<File>* file,
                      uint64_t* offset) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = sources_.find(d);
  if (it == sources_.end()) return false;
  *file = it->second.file;
  *offset = it->second.offset;
  return true;
}

void ChunkDedup::Add(const ChunkSha256& d, const std::shared_ptr<File>& file,
                     uint64_t offset) {
  std::lock_guard<std::mutex> l(mu_);
  if (!sources_.emplace(d, Source{file, offset}).second) return;
  if (files_.empty() || files_.back().first != file.get()) {
    files_.emplace_back(file.get(), std::vector<ChunkSha256>());
  }
  files_.back().second.push_back(d);
  if (files_.size() <= kMaxChunkSourceFiles) return;
  // The oldest file's chunks are forgotten, and its descriptor closed.
  for (const ChunkSha256& old : files_.front().second) {
    auto it = sources_.find(old);
    if (it != sources_.end() && it->second.file.get() == files_.front().first) {
      sources_.erase(it);
    }
  }
  files_.pop_front();
}

uint64_t ChunkDedup::Pend(const ChunkSha256& d) {
  std::lock_guard<std::mutex> l(mu_);
  pending_[d].push_back(next_seq_);
  return next_seq_++;
}

void ChunkDedup::Unpend(const ChunkSha256& d, uint64_t seq) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = pending_.find(d);
  if (it != pending_.end()) {
    std::vector<uint64_t>& seqs = it->second;
    auto s = std::find(seqs.begin(), seqs.end(), seq);
    if (s != seqs.end()) seqs.erase(s);
    if (seqs.empty()) pending_.erase(it);
  }
  if (wake_) wake_();
}

bool ChunkDedup::Pending(const ChunkSha256& d, uint64_t before) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = pending_.find(d);
  if (it == pending_.end()) return false;
  for (uint64_t seq : it->second) {
    if (seq < before) return true;
  }
  return false;
}

uint64_t ChunkDedup::Next() {
  std::lock_guard<std::mutex> l(mu_);
  return next_seq_;
}

void ChunkDedup::SetWake(std::function<void()> wake) {
  std::lock_guard<std::mutex> l(mu_);
  wake_ = std::move(wake);
}

FileDedup::FileDedup(ChunkDedup* run, size_t entry, StagedFile* staged)
    : run_(run), entry_(entry) {
  if (clones()) source_ = run_->dest()->CloneSource(staged);
}

bool FileDedup::Digest(uint64_t index, ChunkSha256* d) {
  if (failed_ || run_->index() == nullptr) return false;
  if (index < first_ || index >= first_ + want_.size()) {
    const uint64_t total = run_->index()->NumChunks(entry_);
    if (index >= total) return false;
    want_.resize(
        static_cast<size_t>(std::min<uint64_t>(kDigestBatch, total - index)));
    first_ = index;
    if (!run_->index()->Read(entry_, index, want_.size(), want_.data()).ok()) {
      // The checker meets the same trouble and reports it.
      failed_ = true;
      want_.clear();
      return false;
    }
  }
  *d = want_[index - first_];
  return true;
}

void FileDedup::Issued(uint64_t index, const ChunkSha256& d) {
  if (source_ == nullptr) return;
  std::lock_guard<std::mutex> l(mu_);  // then run_'s: as MaybeResolve
  auto [it, added] = issued_.emplace(index, Pending{d});
  if (added) it->second.seq = run_->Pend(d);
}

void FileDedup::Verified(uint64_t index) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = issued_.find(index);
  if (it != issued_.end()) it->second.verified = true;
}

void FileDedup::HashDone(uint64_t index) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = issued_.find(index);
  if (it == issued_.end()) return;
  it->second.hashed = true;
  MaybeResolve(it);
}

void FileDedup::WriteDone(uint64_t index, bool ok) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = issued_.find(index);
  if (it == issued_.end()) return;
  it->second.write_done = true;
  it->second.written = ok;
  MaybeResolve(it);
}

void FileDedup::MaybeResolve(std::map<uint64_t, Pending>::iterator it) {
  const Pending& p = it->second;
  if (!p.hashed || !p.write_done) return;
  // A source first, so a chunk woken by Unpend finds it.
  if (p.verified && p.written) {
    run_->Add(p.digest, source_, it->first * run_->chunk_size());
  }
  run_->Unpend(p.digest, p.seq);
  issued_.erase(it);
}

void FileDedup::Done() {
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& [index, p] : issued_) run_->Unpend(p.digest, p.seq);
  issued_.clear();
}

}  // namespace valise
