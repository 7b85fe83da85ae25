// A drive prober bounded in time (valise/drives.h, NewTimedDriveProber).
//
// Identifying a drive reads its superblock, and a failing drive can hold a
// read for minutes (the kernel's own retries and timeouts) or for ever (a
// bridge that stopped answering). A read in the kernel cannot be
// cancelled, so the call runs on a thread of its own and the caller waits
// for it at most the timeout; a late call finishes into state only that
// thread still holds (shared), and its result is dropped. Such a thread is
// detached: at exit the process ends it wherever it is.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "valise/drives.h"

namespace valise {

namespace {

// What one call shares with its thread.
struct Call {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  Status status;
  DriveIdentity id;
};

class TimedDriveProber final : public DriveProber {
 public:
  TimedDriveProber(std::shared_ptr<DriveProber> inner, int64_t timeout_ms)
      : inner_(std::move(inner)), timeout_ms_(timeout_ms) {}

  Status Identify(const std::string& source, DriveIdentity* out) override {
    if (timeout_ms_ <= 0) return inner_->Identify(source, out);
    auto call = std::make_shared<Call>();
    std::thread([inner = inner_, call, source] {
      DriveIdentity id;
      Status s = inner->Identify(source, &id);
      std::lock_guard<std::mutex> l(call->mu);
      call->status = std::move(s);
      call->id = std::move(id);
      call->done = true;
      call->cv.notify_all();
    }).detach();
    std::unique_lock<std::mutex> l(call->mu);
    if (!call->cv.wait_for(l, std::chrono::milliseconds(timeout_ms_),
                           [&] { return call->done; })) {
      return Status::TimedOut(
          source, "did not answer within " + Seconds() +
                      " (--io-timeout): a failing drive? left to finish "
                      "on its own");
    }
    *out = std::move(call->id);
    return std::move(call->status);
  }

 private:
  std::string Seconds() const {
    const int64_t s = timeout_ms_ / 1000;
    return s * 1000 == timeout_ms_ ? std::to_string(s) + " s"
                                   : std::to_string(timeout_ms_) + " ms";
  }

  const std::shared_ptr<DriveProber> inner_;
  const int64_t timeout_ms_;
};

}  // namespace

std::unique_ptr<DriveProber> NewTimedDriveProber(
    std::shared_ptr<DriveProber> inner, int64_t timeout_ms) {
  return std::make_unique<TimedDriveProber>(std::move(inner), timeout_ms);
}

}  // namespace valise
