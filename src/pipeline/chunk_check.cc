// The chunk observers of chunk_check.h: recording chunk SHA-256s at the
// source, checking them at the datacenter.
#include "pipeline/chunk_check.h"

#include <cstring>
#include <string>

namespace valise {

namespace {

// Digests written into the index at once by a recorder (32 KiB).
constexpr size_t kRecordBatch = 1024;
// Signed digests fetched from the index at once by a checker (64 KiB).
constexpr size_t kCheckBatch = 2048;

ChunkSha256 ToChunkSha(const Digest& d) {
  ChunkSha256 out;
  memcpy(out.data(), d.bytes.data(), out.size());
  return out;
}

ChunkSha256 FinishSha(Hasher* h) { return ToChunkSha(h->Finish()); }

}  // namespace

bool UsesChunkIndex(const PipelineOptions& opt) {
  return opt.chunk_index != nullptr &&
         (opt.hash_only.empty() || opt.hash_only.Has(DigestType::kSha256));
}

bool DecidesByChunks(const PipelineOptions& opt) {
  return UsesChunkIndex(opt) && opt.hash_only.empty();
}

CheckedBy CheckedByChunks(const PipelineOptions& opt) {
  return opt.chunk_index_signed ? CheckedBy::kSignedChunks : CheckedBy::kChunks;
}

ChunkFinding ChunkVerdict(const ReadOutcome& o, const ChunkIndexV2& index,
                          size_t entry, std::string* why) {
  const uint64_t size = index.FileSize(entry);
  const uint64_t total = index.NumChunks(entry);
  if (!o.status.ok()) {
    *why = o.status.message();
    return ChunkFinding::kUnchecked;
  }
  if (o.bytes_known + o.bytes_read != size) {
    *why = "read " + std::to_string(o.bytes_known + o.bytes_read) +
           " bytes of " + std::to_string(size);
    return ChunkFinding::kDiffers;
  }
  const auto* c = dynamic_cast<const ChunkChecker*>(o.observer.get());
  if (c != nullptr && c->bytes_known() != o.bytes_known) {
    *why = "internal: " + std::to_string(c->bytes_known()) +
           " bytes checked before, " + std::to_string(o.bytes_known) +
           " not read";
    return ChunkFinding::kUnchecked;
  }
  // The reader makes no observer for an empty file (nothing to read).
  if (c == nullptr && total == 0) return ChunkFinding::kIntact;
  if (c == nullptr || !c->complete() || c->checked() != total) {
    *why = "not checked against its chunk digests (" +
           std::to_string(c ? c->checked() : 0) + " of " +
           std::to_string(total) + " chunks compared)";
    return ChunkFinding::kUnchecked;
  }
  if (c->bad_chunks() > 0 || c->bytes_checked() != size) {
    *why = std::to_string(c->bad_chunks()) + " of " + std::to_string(total) +
           " chunks differ from their chunk digests";
    return ChunkFinding::kDiffers;
  }
  return ChunkFinding::kIntact;
}

FileStatus StatusOf(ChunkFinding f) {
  switch (f) {
    case ChunkFinding::kIntact:
      return FileStatus::kOk;
    case ChunkFinding::kDiffers:
      return FileStatus::kCorrupt;
    case ChunkFinding::kUnchecked:
      return FileStatus::kUnreadable;
  }
  return FileStatus::kUnreadable;
}

// ---------------------------------------------------------------------
// ChunkDigestRecorder.

ChunkDigestRecorder::ChunkDigestRecorder(ChunkIndexV2Writer* writer,
                                         size_t entry)
    : writer_(writer), entry_(entry), total_(writer->NumChunks(entry)) {
  buf_.reserve(static_cast<size_t>(std::min<uint64_t>(total_, kRecordBatch)));
}

void ChunkDigestRecorder::Chunk(uint64_t index, const char* data, size_t len) {
  if (!status_.ok()) return;
  if (!sha_) sha_ = Hasher::New(DigestType::kSha256);  // not for small files
  sha_->Update(data, len);
  Record(index, FinishSha(sha_.get()));
}

void ChunkDigestRecorder::WholeFileChunk(uint64_t index, const char* data,
                                         size_t len, const Digest& sha256) {
  if (sha256.type != DigestType::kSha256) return Chunk(index, data, len);
  if (!status_.ok()) return;
  Record(index, ToChunkSha(sha256));
}

void ChunkDigestRecorder::Record(uint64_t index, const ChunkSha256& sha) {
  if (index != next_ + buf_.size() || index >= total_) {
    status_ = Status::InvalidArgument(
        "internal: chunk " + std::to_string(index) + " of entry " +
        std::to_string(entry_) + " out of order (expected " +
        std::to_string(next_ + buf_.size()) + " of " + std::to_string(total_) +
        ")");
    return;
  }
  buf_.push_back(sha);
  if (buf_.size() == kRecordBatch || index + 1 == total_) Flush();
}

void ChunkDigestRecorder::Flush() {
  status_ = writer_->Write(entry_, next_, buf_.data(), buf_.size());
  next_ += buf_.size();
  buf_.clear();
}

Status ChunkDigestRecorder::Done() const {
  if (!status_.ok()) return status_;
  if (next_ != total_) {
    return Status::InvalidArgument("internal: entry " + std::to_string(entry_) +
                                   ": " + std::to_string(next_) +
                                   " chunk digests of " +
                                   std::to_string(total_) + " recorded");
  }
  return Status::OK();
}

// ---------------------------------------------------------------------
// ChunkCheck.

Reader::ObserverFactory ChunkCheck::Factory(
    std::function<size_t(const ReadJob&)> entry_of) {
  return [this, entry_of = std::move(entry_of)](
             const ReadJob& job) -> std::unique_ptr<ChunkObserver> {
    const size_t e = entry_of(job);
    if (e == SIZE_MAX) return nullptr;
    const uint64_t cs = index_->chunk_size();
    if (!job.keep_going) {
      return std::make_unique<ChunkChecker>(this, index_, e, job.start / cs);
    }
    const uint64_t total = index_->NumChunks(e);
    std::vector<bool> known(total, true);
    if (job.only.empty()) {
      for (uint64_t i = std::min(total, job.start / cs); i < total; ++i) {
        known[i] = false;
      }
    }
    for (const ChunkRun& r : job.only) {
      for (uint64_t i = r.first; i < std::min(r.end, total); ++i) {
        known[i] = false;
      }
    }
    return std::make_unique<ChunkChecker>(this, index_, e, std::move(known));
  };
}

namespace {

// Copies the checker's bad chunks into r (first_bad_offset,
// corrupt_ranges); false if it has none to give.
bool SetRanges(const ChunkChecker* c, FileResult* r) {
  if (c == nullptr || !c->complete() || c->bad_ranges().empty()) return false;
  r->first_bad_offset = static_cast<int64_t>(c->bad_ranges()[0].offset);
  r->corrupt_ranges = c->bad_ranges();
  return true;
}

std::string RangesListed(const ChunkChecker* c) {
  if (c->bad_ranges().size() < kMaxCorruptRanges) return std::string();
  return " (the first " + std::to_string(kMaxCorruptRanges) +
         " runs of them listed)";
}

}  // namespace

void ChunkCheck::Describe(const ReadOutcome& o, FileResult* r) {
  const auto* c = dynamic_cast<const ChunkChecker*>(o.observer.get());
  if (c == nullptr || !c->complete()) return;
  r->detail += r->detail.empty() ? "" : "; ";
  if (!SetRanges(c, r)) {
    r->detail +=
        "yet every chunk matches its chunk digest (the manifest's digests "
        "and its chunk index disagree)";
    return;
  }
  r->detail += std::to_string(c->bad_chunks()) + " of " +
               std::to_string(c->checked()) +
               " chunks differ from their chunk digests" + RangesListed(c);
}

void ChunkCheck::DescribeByChunks(const ReadOutcome& o,
                                  const std::string& verdict, FileResult* r) {
  const auto* c = dynamic_cast<const ChunkChecker*>(o.observer.get());
  r->detail = verdict;
  if (SetRanges(c, r)) r->detail += RangesListed(c);
}

Status ChunkCheck::trouble() const {
  std::lock_guard<std::mutex> l(mu_);
  return trouble_;
}

void ChunkCheck::AddTrouble(const Status& s) {
  std::lock_guard<std::mutex> l(mu_);
  if (trouble_.ok()) trouble_ = s;
}

// ---------------------------------------------------------------------
// ChunkChecker.

ChunkChecker::ChunkChecker(ChunkCheck* run, const ChunkIndexV2* index,
                           size_t entry, uint64_t first)
    : run_(run),
      index_(index),
      entry_(entry),
      total_(index->NumChunks(entry)),
      size_(index->FileSize(entry)),
      first_(std::min(first, total_)),
      bytes_known_(std::min(size_, first_ * index->chunk_size())),
      checked_(first_),
      bytes_checked_(bytes_known_) {}

ChunkChecker::ChunkChecker(ChunkCheck* run, const ChunkIndexV2* index,
                           size_t entry, std::vector<bool> known)
    : run_(run),
      index_(index),
      entry_(entry),
      total_(index->NumChunks(entry)),
      size_(index->FileSize(entry)),
      first_(0),
      tracking_(true),
      good_(std::move(known)) {
  good_.resize(total_, false);
  const uint64_t cs = index->chunk_size();
  for (uint64_t i = 0; i < total_; ++i) {
    if (!good_[i]) continue;
    ++checked_;
    bytes_known_ += std::min<uint64_t>(cs, size_ - i * cs);
  }
  bytes_checked_ = bytes_known_;
}

void ChunkChecker::Missing(uint64_t index) {
  if (tracking_ && index >= next_min_) next_min_ = index + 1;
}

// True if chunk `index` may come now: in order (tracking: after the last
// one seen and not known good; else the next one), and the checker has
// not failed. A chunk out of order is the core's fault: the checker fails
// and the run has trouble.
bool ChunkChecker::Expected(uint64_t index) {
  if (failed_) return false;
  const bool in_order = tracking_ ? index >= next_min_ && index < total_ &&
                                        !good_[static_cast<size_t>(index)]
                                  : index == checked_;
  if (in_order && index < total_) return true;
  failed_ = true;
  run_->AddTrouble(Status::InvalidArgument(
      index_->name() + ": internal: chunk " + std::to_string(index) +
      " of entry " + std::to_string(entry_) + " out of order"));
  return false;
}

void ChunkChecker::KnownChunk(uint64_t index, size_t len) {
  if (!Expected(index)) return;
  const uint64_t cs = index_->chunk_size();
  const uint64_t want_len = std::min<uint64_t>(cs, size_ - index * cs);
  ++checked_;
  ++known_;
  bytes_checked_ += len;
  bytes_known_ += len;
  if (tracking_) next_min_ = index + 1;
  if (len == want_len) {
    if (tracking_) good_[static_cast<size_t>(index)] = true;
    return;
  }
  // Never given so by the read loop; counted bad rather than trusted.
  ++bad_chunks_;
  if (ranges_.size() < kMaxCorruptRanges) {
    ranges_.push_back(BadRange{index * cs, len, 0});
  }
}

void ChunkChecker::Chunk(uint64_t index, const char* data, size_t len) {
  if (!Expected(index)) return;
  if (!sha_) sha_ = Hasher::New(DigestType::kSha256);  // not for small files
  sha_->Update(data, len);
  Compare(index, len, FinishSha(sha_.get()));
}

void ChunkChecker::WholeFileChunk(uint64_t index, const char* data, size_t len,
                                  const Digest& sha256) {
  if (sha256.type != DigestType::kSha256) return Chunk(index, data, len);
  if (!Expected(index)) return;
  Compare(index, len, ToChunkSha(sha256));
}

void ChunkChecker::Compare(uint64_t index, size_t len, const ChunkSha256& sha) {
  if (index < want_first_ || index >= want_first_ + want_.size()) {
    const size_t n =
        static_cast<size_t>(std::min<uint64_t>(kCheckBatch, total_ - index));
    want_.resize(n);
    want_first_ = index;
    Status s = index_->Read(entry_, index, n, want_.data());
    if (!s.ok()) {
      failed_ = true;
      run_->AddTrouble(s);
      return;
    }
  }
  // A chunk of another length than the manifest's size gives it is bad,
  // whatever its digest (the reader never delivers one; a file that
  // changed size under the run fails).
  const uint64_t cs = index_->chunk_size();
  const uint64_t want_len = std::min<uint64_t>(cs, size_ - index * cs);
  const ChunkSha256& want = want_[index - want_first_];
  const bool good = sha == want && len == want_len;
  ++checked_;
  bytes_checked_ += len;
  next_min_ = index + 1;
  if (good && tracking_) good_[static_cast<size_t>(index)] = true;
  if (good) {
    if (on_good) on_good(index);
    return;
  }
  ++bad_chunks_;
  const uint64_t offset = index * index_->chunk_size();
  if (!ranges_.empty() &&
      ranges_.back().offset + ranges_.back().length == offset) {
    ranges_.back().length += len;
  } else if (ranges_.size() < kMaxCorruptRanges) {
    ranges_.push_back(BadRange{offset, len, 0});
  }
}

}  // namespace valise
