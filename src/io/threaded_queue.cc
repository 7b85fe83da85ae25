// See threaded_queue.h. The pool's requests move through three lists, all
// under mu_: prepared (owner only, until Submit), work_ (waiting for a
// thread), ready_ (done, waiting for Wait). A thread that finishes a
// request wakes both the owner's condition variable and the base queue
// (whose Wait the owner may be blocked in).
#include "io/threaded_queue.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "io/queue_internal.h"

namespace valise {
namespace {

class ThreadedQueue final : public IoQueue {
 public:
  ThreadedQueue(std::unique_ptr<IoQueue> base, unsigned threads)
      : base_(std::move(base)) {
    for (unsigned i = 0; i < threads; ++i) {
      threads_.emplace_back([this] { Work(); });
    }
  }

  ~ThreadedQueue() override {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    work_cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }

  Status RegisterBuffers(const std::vector<iovec>& buffers) override {
    return base_->RegisterBuffers(buffers);
  }

  Status Prepare(const IoRequest& req) override {
    if (req.file == nullptr || req.file->native_handle() >= 0) {
      return base_->Prepare(req);
    }
    if (req.user_data == kReservedUserData) {
      return Status::InvalidArgument("threaded queue", "reserved user_data");
    }
    if (in_flight() >= capacity()) {
      return Status::Busy("threaded queue", "full");
    }
    prepared_.push_back(req);
    return Status::OK();
  }

  Status Submit() override {
    if (!prepared_.empty()) {
      {
        std::lock_guard<std::mutex> l(mu_);
        for (const IoRequest& r : prepared_) work_.push_back(r);
        pool_in_flight_ += prepared_.size();
      }
      prepared_.clear();
      work_cv_.notify_all();
    }
    return base_->Submit();
  }

  Status Wait(unsigned min_complete, uint64_t timeout_us,
              std::vector<IoCompletion>* out) override {
    VALISE_RETURN_IF_ERROR(Submit());
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::microseconds(timeout_us);
    const size_t start = out->size();
    for (;;) {
      bool woken = TakeReady(out);
      VALISE_RETURN_IF_ERROR(base_->Wait(0, 0, out));
      const size_t got = out->size() - start;
      if (got >= min_complete || woken) return Status::OK();
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) return Status::OK();
      const auto left =
          std::chrono::duration_cast<std::chrono::microseconds>(deadline - now)
              .count();
      if (base_->in_flight() > 0) {
        // A pool thread's completion wakes the base queue's wait.
        VALISE_RETURN_IF_ERROR(
            base_->Wait(static_cast<unsigned>(min_complete - got),
                        static_cast<uint64_t>(left), out));
      } else {
        std::unique_lock<std::mutex> l(mu_);
        ready_cv_.wait_until(l, deadline,
                             [this] { return !ready_.empty() || woken_; });
      }
    }
  }

  void Wake() override {
    {
      std::lock_guard<std::mutex> l(mu_);
      woken_ = true;
    }
    ready_cv_.notify_all();
    base_->Wake();
  }

  unsigned in_flight() const override {
    std::lock_guard<std::mutex> l(mu_);
    return base_->in_flight() +
           static_cast<unsigned>(prepared_.size() + pool_in_flight_);
  }
  unsigned capacity() const override { return base_->capacity(); }
  std::string Describe() const override {
    return base_->Describe() + " + " + std::to_string(threads_.size()) +
           " threads for network files";
  }

 private:
  // Moves the pool's completions to *out; returns (and clears) a Wake.
  bool TakeReady(std::vector<IoCompletion>* out) {
    std::lock_guard<std::mutex> l(mu_);
    out->insert(out->end(), ready_.begin(), ready_.end());
    pool_in_flight_ -= ready_.size();
    ready_.clear();
    bool woken = woken_;
    woken_ = false;
    return woken;
  }

  void Work() {
    for (;;) {
      IoRequest req;
      {
        std::unique_lock<std::mutex> l(mu_);
        work_cv_.wait(l, [this] { return stop_ || !work_.empty(); });
        if (stop_) return;
        req = work_.front();
        work_.pop_front();
      }
      IoCompletion c{req.user_data, io_internal::PerformRequest(req)};
      {
        std::lock_guard<std::mutex> l(mu_);
        ready_.push_back(c);
      }
      ready_cv_.notify_all();
      base_->Wake();
    }
  }

  std::unique_ptr<IoQueue> base_;
  std::vector<IoRequest> prepared_;  // owner only
  mutable std::mutex mu_;
  std::condition_variable work_cv_;   // work_ or stop_
  std::condition_variable ready_cv_;  // ready_ or woken_
  std::deque<IoRequest> work_;        // guarded by mu_
  std::vector<IoCompletion> ready_;   // guarded by mu_
  size_t pool_in_flight_ = 0;         // submitted, not reaped; mu_
  bool woken_ = false;                // mu_
  bool stop_ = false;                 // mu_
  std::vector<std::thread> threads_;
};

}  // namespace

std::unique_ptr<IoQueue> NewThreadedQueue(std::unique_ptr<IoQueue> base,
                                          unsigned threads) {
  return std::make_unique<ThreadedQueue>(std::move(base),
                                         threads > 0 ? threads : 1);
}

}  // namespace valise
