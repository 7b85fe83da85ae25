// The synchronous IoQueue: requests are performed one after another with
// File::ReadAt/WriteAt/Sync when they are submitted, and their completions
// wait in a list for Wait() to hand them out. It is the fallback where
// io_uring is unavailable (seccomp, io_uring_disabled, --no-uring) and the
// reference the io_uring queue is tested against; it works with any File.
//
// Thread safety: one owner thread calls everything except Wake(); the wake
// flag is the only state shared with other threads (mutex + condvar).

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "io/queue_internal.h"
#include "valise/io_queue.h"

namespace valise {

namespace io_internal {

int32_t PerformRequest(const IoRequest& req) {
  // A Status without an errno (e.g. a simulated fault built by hand) still
  // has to look like a kernel error: EIO.
  auto to_res = [](const Status& s) -> int32_t {
    int err = s.err();
    return -(err > 0 ? err : EIO);
  };
  if (req.file == nullptr) return -EBADF;
  switch (req.op) {
    case IoOp::kRead: {
      size_t n = 0;
      Status s = req.file->ReadAt(req.offset, req.len, req.buf, &n);
      if (!s.ok()) return to_res(s);
      return static_cast<int32_t>(n);
    }
    case IoOp::kWrite: {
      Status s = req.file->WriteAt(req.offset, req.buf, req.len);
      if (!s.ok()) return to_res(s);
      return static_cast<int32_t>(req.len);
    }
    case IoOp::kSync: {
      Status s = req.file->Sync();
      if (!s.ok()) return to_res(s);
      return 0;
    }
  }
  return -EINVAL;
}

}  // namespace io_internal

namespace {

class SyncQueue final : public IoQueue {
 public:
  explicit SyncQueue(unsigned entries) : entries_(entries > 0 ? entries : 1) {
    // Both lists hold at most `entries` requests: reserved once, so the
    // request path never allocates.
    pending_.reserve(entries_);
    ready_.reserve(entries_);
  }

  Status RegisterBuffers(const std::vector<iovec>&) override {
    // Nothing to register: buffers are plain memory here, and buf_index is
    // ignored, so callers may keep passing their indices.
    return Status::OK();
  }

  Status Prepare(const IoRequest& req) override {
    if (req.user_data == kReservedUserData) {
      return Status::InvalidArgument("sync queue", "reserved user_data");
    }
    if (in_flight() >= entries_) {
      return Status::Busy("sync queue", "full (" + std::to_string(entries_) +
                                            " requests in flight)");
    }
    pending_.push_back(req);
    return Status::OK();
  }

  Status Submit() override {
    for (const IoRequest& req : pending_) {
      ready_.push_back({req.user_data, io_internal::PerformRequest(req)});
    }
    pending_.clear();
    return Status::OK();
  }

  Status Wait(unsigned min_complete, uint64_t timeout_us,
              std::vector<IoCompletion>* out) override {
    VALISE_RETURN_IF_ERROR(Submit());
    if (ready_.size() < min_complete) {
      // Everything submitted is already complete: only a Wake() or the
      // timeout can end this wait.
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait_for(l, std::chrono::microseconds(timeout_us),
                   [this] { return woken_; });
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      woken_ = false;
    }
    out->insert(out->end(), ready_.begin(), ready_.end());
    ready_.clear();
    return Status::OK();
  }

  void Wake() override {
    {
      std::lock_guard<std::mutex> l(mu_);
      woken_ = true;
    }
    cv_.notify_one();
  }

  unsigned in_flight() const override {
    return static_cast<unsigned>(pending_.size() + ready_.size());
  }
  unsigned capacity() const override { return entries_; }
  std::string Describe() const override {
    return "sync: entries=" + std::to_string(entries_);
  }

 private:
  const unsigned entries_;
  std::vector<IoRequest> pending_;   // prepared, not yet performed
  std::vector<IoCompletion> ready_;  // performed, not yet reaped
  std::mutex mu_;
  std::condition_variable cv_;
  bool woken_ = false;  // guarded by mu_
};

}  // namespace

std::unique_ptr<IoQueue> NewSyncQueue(unsigned entries) {
  return std::make_unique<SyncQueue>(entries);
}

}  // namespace valise
