// The simulated IoQueue: asynchronous in spirit. Prepare() queues a
// request, Submit() puts the prepared ones in flight (rolling
// `stall_one_in` for each), and Wait() completes a seeded random subset of
// the in-flight requests that are not stalled, in a seeded random order:
// each ready request draws a place (a decision of its own, by its file,
// offset, length and op: see SimDisk::Impl::DecideLocked), the subset's
// size is drawn by the set of ready requests, and the requests with the
// lowest places complete, lowest first. No draw depends on the Waits
// before, so a request's fate does not depend on when the threads that
// feed the queue ran.
// Each result is computed at completion from the file contents of that
// moment, through the same fault model as synchronous calls plus -EAGAIN
// and short writes. The full contract is in include/valise/sim_disk.h.
//
// Why random order and random subsets: the real ring completes requests in
// whatever order the devices finish, and an engine that quietly assumes
// FIFO completion, or "everything I submitted comes back in one Wait", has
// a bug that only a real disk under load would show.
#include <algorithm>
#include <cerrno>

#include "io/sim_internal.h"

namespace valise::sim {
namespace {

class SimQueue final : public IoQueue {
 public:
  SimQueue(std::shared_ptr<SimDisk::Impl> impl, unsigned entries)
      : impl_(std::move(impl)), capacity_(entries) {}

  Status RegisterBuffers(const std::vector<iovec>& buffers) override {
    buffers_ = buffers;
    return Status::OK();
  }

  Status Prepare(const IoRequest& req) override {
    if (req.user_data == kReservedUserData) {
      return Status::InvalidArgument("sim queue: prepare",
                                     "user_data kReservedUserData is reserved");
    }
    if (in_flight() >= capacity_) {
      return Status::Busy("sim queue: prepare",
                          std::to_string(capacity_) + " requests in flight");
    }
    prepared_.push_back(req);
    return Status::OK();
  }

  Status Submit() override {
    std::lock_guard lock(impl_->mu);
    for (const IoRequest& req : prepared_) {
      Pending p;
      p.req = req;
      if (const SimFile* f = OwnFile(req); f != nullptr) {
        p.key = f->key();
        p.token = impl_->RollStallLocked(p.key, OpDecision(req.op), req.offset,
                                         req.len);
      }
      submitted_.push_back(std::move(p));
    }
    prepared_.clear();
    return Status::OK();
  }

  Status Wait(unsigned min_complete, uint64_t timeout_us,
              std::vector<IoCompletion>* out) override {
    // Like io_uring_submit_and_wait: what is prepared goes out first.
    VALISE_RETURN_IF_ERROR(Submit());
    std::lock_guard lock(impl_->mu);
    std::vector<size_t> ready = ReadyLocked();
    const size_t n = ready.size();
    const bool wake = wake_pending_;
    wake_pending_ = false;
    if (n >= min_complete && (n > 0 || min_complete == 0)) {
      // Between max(min_complete, 1) and all of the ready ones.
      size_t lo = std::min<size_t>(std::max<unsigned>(min_complete, 1), n);
      size_t k = n == 0 ? 0 : lo + PlaceLocked(&ready) % (n - lo + 1);
      CompleteLocked(&ready, k, out);
      if (k > 0) impl_->clock_us.fetch_add(impl_->opt.latency_us);
      return Status::OK();
    }
    // Fewer than min_complete can complete: the wait lasts its whole
    // timeout, which passes on the simulated clock only (nothing sleeps),
    // unless a Wake() came first. Whatever was ready is returned.
    if (!wake) impl_->clock_us.fetch_add(timeout_us);
    PlaceLocked(&ready);
    CompleteLocked(&ready, n, out);
    return Status::OK();
  }

  void Wake() override {
    std::lock_guard lock(impl_->mu);
    wake_pending_ = true;
  }

  unsigned in_flight() const override {
    return static_cast<unsigned>(prepared_.size() + submitted_.size());
  }
  unsigned capacity() const override { return capacity_; }
  std::string Describe() const override {
    return "sim (seed " + std::to_string(impl_->opt.seed) + ", " +
           std::to_string(capacity_) + " entries)";
  }

 private:
  struct Pending {
    IoRequest req;
    std::string key;
    std::shared_ptr<StallToken> token;
    bool stall_counted = false;
  };

  // The SimFile of `req` if it belongs to this disk, else null.
  const SimFile* OwnFile(const IoRequest& req) const {
    const auto* f = dynamic_cast<const SimFile*>(req.file);
    return f != nullptr && f->impl() == impl_ ? f : nullptr;
  }

  // Indices in submitted_ of the requests that can complete now. A request
  // on a dead disk or a crashed handle is never stalled: it fails.
  std::vector<size_t> ReadyLocked() {
    std::vector<size_t> ready;
    for (size_t i = 0; i < submitted_.size(); ++i) {
      Pending& p = submitted_[i];
      const SimFile* f = OwnFile(p.req);
      const bool alive =
          f != nullptr && impl_->active && f->epoch() == impl_->epoch;
      if (alive && impl_->StalledLocked(p.key, p.token.get())) {
        if (!p.stall_counted) {
          p.stall_counted = true;
          ++impl_->stats.stalls;
        }
        continue;
      }
      ready.push_back(i);
    }
    return ready;
  }

  static Decision OpDecision(IoOp op) {
    switch (op) {
      case IoOp::kRead:
        return Decision::kRead;
      case IoOp::kWrite:
        return Decision::kWrite;
      case IoOp::kSync:
        return Decision::kSync;
    }
    return Decision::kRead;
  }

  // Orders `ready` by each request's place, drawn for this Wait (a
  // request that waits draws again next time), and returns a draw decided
  // by the whole ready set, for the size of the subset.
  uint64_t PlaceLocked(std::vector<size_t>* ready) {
    std::vector<std::pair<uint64_t, size_t>> placed;
    uint64_t set = 0;
    for (size_t i : *ready) {
      const IoRequest& q = submitted_[i].req;
      const uint64_t place =
          impl_
              ->DecideLocked(Decision::kComplete, submitted_[i].key, q.offset,
                             q.len, static_cast<uint64_t>(q.op))
              .Next();
      placed.emplace_back(place, i);
      set ^= place;
    }
    std::sort(placed.begin(), placed.end());
    for (size_t j = 0; j < placed.size(); ++j) (*ready)[j] = placed[j].second;
    return impl_->DecideLocked(Decision::kWait, "", set).Next();
  }

  // Completes the first k of the `ready` requests (as PlaceLocked ordered
  // them), in that order, and removes them from submitted_.
  void CompleteLocked(std::vector<size_t>* ready, size_t k,
                      std::vector<IoCompletion>* out) {
    std::vector<size_t>& r = *ready;
    for (size_t j = 0; j < k; ++j) {
      const Pending& p = submitted_[r[j]];
      out->push_back(IoCompletion{p.req.user_data, ExecuteLocked(p.req)});
    }
    std::vector<size_t> done(r.begin(), r.begin() + k);
    std::sort(done.begin(), done.end());
    for (size_t j = done.size(); j-- > 0;) {
      submitted_.erase(submitted_.begin() + done[j]);
    }
  }

  int32_t ExecuteLocked(const IoRequest& req) {
    const SimFile* f = OwnFile(req);
    if (f == nullptr) return -EBADF;
    if (req.op != IoOp::kSync) {
      if (req.buf == nullptr && req.len > 0) return -EFAULT;
      // A fixed buffer must be a registered one, and the transfer inside
      // it, as io_uring checks for READ_FIXED/WRITE_FIXED.
      if (req.buf_index >= 0) {
        if (static_cast<size_t>(req.buf_index) >= buffers_.size()) {
          return -EFAULT;
        }
        const iovec& iov = buffers_[req.buf_index];
        const char* base = static_cast<const char*>(iov.iov_base);
        if (req.buf < base || req.buf + req.len > base + iov.iov_len) {
          return -EFAULT;
        }
      }
    }
    OpResult r;
    switch (req.op) {
      case IoOp::kRead:
        r = impl_->ReadLocked(*f, req.offset, req.len, req.buf, true);
        break;
      case IoOp::kWrite:
        r = impl_->WriteLocked(*f, req.offset, req.buf, req.len, true);
        break;
      case IoOp::kSync:
        r = impl_->SyncLocked(*f);
        break;
    }
    return static_cast<int32_t>(r.res);
  }

  std::shared_ptr<SimDisk::Impl> impl_;
  const unsigned capacity_;
  std::vector<iovec> buffers_;
  std::vector<IoRequest> prepared_;  // owner thread only
  std::vector<Pending> submitted_;   // owner thread only
  bool wake_pending_ = false;        // guarded by impl_->mu
};

}  // namespace

std::unique_ptr<IoQueue> NewSimQueue(std::shared_ptr<SimDisk::Impl> impl,
                                     unsigned entries) {
  return std::make_unique<SimQueue>(std::move(impl), entries);
}

}  // namespace valise::sim
