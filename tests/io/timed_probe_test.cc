// NewTimedDriveProber: a probe that does not return in time is given up
// (TimedOut, naming the device), the caller goes on, and the late call
// finishing afterwards touches nothing of the caller's.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "support/test_util.h"
#include "valise/drives.h"

namespace valise {
namespace {

// Identifies "/dev/slow" only once released; any other device at once.
class GatedProber final : public DriveProber {
 public:
  Status Identify(const std::string& source, DriveIdentity* out) override {
    if (source == "/dev/slow") {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return released_; });
      ++late_;
    }
    out->fs_uuid = "uuid-of-" + source;
    return Status::OK();
  }
  void Release() {
    std::lock_guard<std::mutex> l(mu_);
    released_ = true;
    cv_.notify_all();
  }
  int late() {
    std::lock_guard<std::mutex> l(mu_);
    return late_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  int late_ = 0;
};

TEST(TimedDriveProber, GivesUpOnADriveThatDoesNotAnswer) {
  auto inner = std::make_shared<GatedProber>();
  auto prober = NewTimedDriveProber(inner, 200);
  DriveIdentity id;
  id.fs_uuid = "untouched";
  Status s = prober->Identify("/dev/slow", &id);
  EXPECT_TRUE(s.IsTimedOut()) << s.ToString();
  EXPECT_NE(s.message().find("/dev/slow: did not answer within 200 ms"),
            std::string::npos)
      << s.message();
  EXPECT_EQ(id.fs_uuid, "untouched");

  // The next drive is not kept waiting by the one still hanging.
  ASSERT_VALISE_OK(prober->Identify("/dev/fast", &id));
  EXPECT_EQ(id.fs_uuid, "uuid-of-/dev/fast");

  // Released, the late call ends on its own thread; its result is dropped.
  inner->Release();
  for (int i = 0; i < 500 && inner->late() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(inner->late(), 1);
  EXPECT_EQ(id.fs_uuid, "uuid-of-/dev/fast");
}

TEST(TimedDriveProber, ZeroMeansNoBound) {
  auto inner = std::make_shared<GatedProber>();
  auto prober = NewTimedDriveProber(inner, 0);
  DriveIdentity id;
  ASSERT_VALISE_OK(prober->Identify("/dev/fast", &id));
  EXPECT_EQ(id.fs_uuid, "uuid-of-/dev/fast");
}

}  // namespace
}  // namespace valise
