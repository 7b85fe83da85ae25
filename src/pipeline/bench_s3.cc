// valise bench -d s3://BUCKET/PREFIX: how fast the object store takes what
// ingest sends it.
//
// Ingest sends an object store two kinds of requests (s3_destination.cc):
// the parts of a multipart upload for large files (part_size bytes each,
// `threads` in flight), and one PUT If-None-Match per small file. The
// first is bound by bytes, the second by requests, so both are measured,
// each for at most `seconds`, with the same number in flight:
//
//   parts   every sender has one buffer of part_size bytes (one buffer
//           pool, so memory is in_flight x part_size), its own multipart
//           upload under a temporary key, and sends the buffer as part 1,
//           2, 3, ... until the time is up. The store writes each part as
//           it would an ingested file's; the uploads are aborted at the
//           end, never completed. Rate: bytes/s (the DEST limit of the
//           model, as a directory's write rate is).
//   small   every sender PUTs objects of small_size bytes (the start of
//           its buffer) If-None-Match: *, one key each, until the time is
//           up. Rate: objects/s.
//
// The payloads' Content-MD5 and SHA-256 are computed once before the clock
// starts: this is the store's rate, as a directory's write rate is the
// disk's; hashing is measured apart. Requests, retries and throttled
// answers come from the client's counters.
//
// Nothing is left behind: every key is under PREFIX/.valise-bench-PID-T/,
// the uploads are aborted and the small objects deleted on every way out
// (interrupted or failed included), then any upload still listed under
// that prefix (a Create whose answer was lost) is aborted too. A store
// that stops answering during the clean-up is not waited for object by
// object: each sender gives up at its first failure and the report says
// how many objects were left, and where.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "pipeline/bench_internal.h"
#include "pipeline/progress_render.h"
#include "valise/buffer_pool.h"

namespace valise::bench_internal {
namespace {

constexpr int kMaxParts = 10000;  // S3's limit per upload
constexpr unsigned kMaxInFlight = 1024;
constexpr int kCreateAttempts = 5;  // as the S3 destination's

Digest DigestOf(DigestType type, const char* p, size_t n) {
  std::unique_ptr<Hasher> h = Hasher::New(type);
  h->Update(p, n);
  return h->Finish();
}

S3Payload PayloadOf(const char* p, size_t n) {
  S3Payload pl;
  pl.pieces.push_back(S3Buffer{p, n});
  pl.md5 = DigestOf(DigestType::kMd5, p, n);
  pl.sha256 = DigestOf(DigestType::kSha256, p, n);
  return pl;
}

// Runs fn(i) for i in [0, n) on n threads and joins them.
template <typename F>
void OnThreads(unsigned n, F fn) {
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (unsigned i = 0; i < n; ++i) threads.emplace_back(fn, i);
  for (std::thread& t : threads) t.join();
}

class S3Bench {
 public:
  S3Bench(FileSystem* fs, const S3Url& url, const BenchOptions& o,
          BenchReport* r)
      : fs_(fs), url_(url), o_(o), r_(r), client_(o.s3) {
    in_flight_ = o.pipeline.depth ? o.pipeline.depth : o.s3_options.threads;
    in_flight_ = std::clamp(in_flight_, 1u, kMaxInFlight);
    part_size_ = std::max<uint64_t>(o.s3_options.part_size, 4096);
    part_size_ = (part_size_ + 4095) / 4096 * 4096;
    small_size_ = std::clamp<uint64_t>(o.s3_small_size, 1, part_size_);
    base_ =
        url.Key(fmt::format(".valise-bench-{}-{}", getpid(), fs->NowMicros()));
    uploads_.resize(in_flight_);
    keys_.resize(in_flight_);
  }

  void Run() {
    const S3Stats before = client_->stats();
    r_->dest_s3 = true;
    r_->dest_in_flight = in_flight_;
    r_->dest_part_size = part_size_;
    r_->dest_small_size = small_size_;
    Status s = BufferPool::CheckFits(in_flight_, part_size_);
    if (!s.ok()) {
      Error(s);
    } else {
      BufferPool pool(in_flight_, part_size_);
      std::vector<S3Payload> parts, smalls;
      for (unsigned i = 0; i < in_flight_; ++i) {
        char* p = pool.data(static_cast<int>(i));
        FillPseudoRandom(p, part_size_, 2000 + i);
        parts.push_back(PayloadOf(p, part_size_));
        smalls.push_back(PayloadOf(p, small_size_));
      }
      Parts(parts);
      if (!Cancelled(o_)) Small(smalls);
      CleanUp();
    }
    const S3Stats after = client_->stats();
    r_->dest_s3_requests = after.requests - before.requests;
    r_->dest_s3_retries = after.retries - before.retries;
    r_->dest_s3_throttled = after.throttled - before.throttled;
  }

 private:
  bool Stop(uint64_t deadline_us) const {
    return failed_.load() || Cancelled(o_) || fs_->NowMicros() >= deadline_us;
  }

  void Error(const Status& s) {
    std::lock_guard<std::mutex> l(mu_);
    failed_ = true;
    r_->dest_errors.push_back(s.message());
  }

  // Each sender: its own upload, its buffer as part 1, 2, ... until the
  // time is up.
  void Parts(const std::vector<S3Payload>& payloads) {
    std::atomic<uint64_t> bytes{0}, count{0};
    const uint64_t start_us = fs_->NowMicros();
    const uint64_t deadline_us = start_us + uint64_t(o_.seconds * 1e6);
    OnThreads(in_flight_, [&](unsigned i) {
      const std::string key = fmt::format("{}/part-{}", base_, i);
      // Create is not idempotent, so the client does not retry a failure
      // that may have been applied; a second upload is harmless here (a
      // leftover is aborted by CleanUp's listing), so it is asked again.
      std::string id;
      Status s;
      for (int attempt = 0; attempt < kCreateAttempts; ++attempt) {
        s = client_->CreateMultipartUpload(url_.bucket, key, {}, &id);
        if (s.ok() || !s.retryable()) break;
      }
      if (!s.ok()) return Error(s);
      {
        std::lock_guard<std::mutex> l(mu_);
        uploads_[i] = {key, id};
      }
      for (int n = 1; n <= kMaxParts && !Stop(deadline_us); ++n) {
        S3WriteResult res;
        s = client_->UploadPart(url_.bucket, key, id, n, payloads[i], &res);
        if (!s.ok()) return Error(s);
        bytes += payloads[i].size();
        ++count;
      }
    });
    const uint64_t end_us = fs_->NowMicros();
    if (!failed_) {
      r_->dest_write.bytes = bytes;
      r_->dest_write.seconds = double(end_us - start_us) / 1e6;
      r_->dest_parts = count;
    }
  }

  // Each sender: PUT If-None-Match of small objects until the time is up.
  void Small(const std::vector<S3Payload>& payloads) {
    std::atomic<uint64_t> bytes{0}, count{0};
    const uint64_t start_us = fs_->NowMicros();
    const uint64_t deadline_us = start_us + uint64_t(o_.seconds * 1e6);
    OnThreads(in_flight_, [&](unsigned i) {
      for (uint64_t n = 0; !Stop(deadline_us); ++n) {
        const std::string key = fmt::format("{}/small-{}-{}", base_, i, n);
        // Recorded before the PUT: a PUT that fails may still have made it.
        keys_[i].push_back(key);
        S3WriteResult res;
        Status s =
            client_->PutObject(url_.bucket, key, payloads[i], {}, true, &res);
        if (!s.ok()) return Error(s);
        bytes += payloads[i].size();
        ++count;
      }
    });
    const uint64_t end_us = fs_->NowMicros();
    if (!failed_) {
      r_->dest_small.bytes = bytes;
      r_->dest_small.seconds = double(end_us - start_us) / 1e6;
      r_->dest_small_objects = count;
    }
  }

  // Aborts the uploads, deletes the small objects (in parallel, each
  // sender its own), then aborts any upload still listed under base_.
  void CleanUp() {
    std::atomic<uint64_t> left{0};
    std::mutex mu;
    std::vector<std::string> errors;
    OnThreads(in_flight_, [&](unsigned i) {
      auto fail = [&](const Status& s, uint64_t n) {
        left += n;
        std::lock_guard<std::mutex> l(mu);
        if (errors.empty()) errors.push_back(s.message());
      };
      if (!uploads_[i].second.empty()) {
        Status s = client_->AbortMultipartUpload(url_.bucket, uploads_[i].first,
                                                 uploads_[i].second);
        if (!s.ok() && !s.IsNotFound()) return fail(s, keys_[i].size() + 1);
      }
      for (size_t k = 0; k < keys_[i].size(); ++k) {
        Status s = client_->DeleteObject(url_.bucket, keys_[i][k]);
        if (!s.ok()) return fail(s, keys_[i].size() - k);
      }
    });
    if (left == 0) {
      S3ListUploadsResult list;
      Status s = client_->ListMultipartUploads(url_.bucket, base_ + "/", "", "",
                                               &list);
      for (const S3UploadSummary& u : list.uploads) {
        if (s.ok())
          s = client_->AbortMultipartUpload(url_.bucket, u.key, u.upload_id);
        if (!s.ok() && !s.IsNotFound()) ++left;
      }
      if (!s.ok() && !s.IsNotFound() && errors.empty()) {
        errors.push_back(s.message());
      }
    }
    for (const std::string& e : errors) r_->dest_errors.push_back(e);
    if (left > 0) {
      r_->dest_errors.push_back(fmt::format(
          "{} objects or uploads left under s3://{}/{}/ (the store failed "
          "during the clean-up; remove them by hand)",
          left.load(), url_.bucket, base_));
    }
  }

  FileSystem* const fs_;
  const S3Url url_;
  const BenchOptions& o_;
  BenchReport* const r_;
  S3Client* const client_;
  unsigned in_flight_ = 0;
  uint64_t part_size_ = 0;
  uint64_t small_size_ = 0;
  std::string base_;
  std::mutex mu_;
  std::atomic<bool> failed_{false};
  // Per sender (each writes only its own slot while sending).
  std::vector<std::pair<std::string, std::string>> uploads_;  // key, id
  std::vector<std::vector<std::string>> keys_;
};

}  // namespace

void MeasureS3Write(FileSystem* fs, const S3Url& url, const BenchOptions& o,
                    BenchReport* report) {
  S3Bench(fs, url, o, report).Run();
}

}  // namespace valise::bench_internal
