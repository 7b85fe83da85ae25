// The S3 destination's two stages (src/dest/s3_send_queue.cc): a part's
// digests on their own threads, its request on a send thread.
#include "dest/s3_send_queue.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>

namespace valise {
namespace {

// A flag a thread raises and another waits for.
class Latch {
 public:
  void Raise() {
    std::lock_guard<std::mutex> l(mu_);
    up_ = true;
    cv_.notify_all();
  }
  // Whether it was raised within a minute (the test fails, not hangs).
  bool Wait() {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, std::chrono::minutes(1), [this] { return up_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool up_ = false;
};

// Goal: a request in flight does not keep the next part from being
// digested: with one send thread busy (the first part's request waiting
// for the store), the second part's digests are still computed; its
// request follows once the send thread is free.
TEST(S3SendQueue, DigestsWhileEverySenderIsBusy) {
  Latch first_sending, store_answers, second_digested, second_sent;
  std::mutex mu;
  std::string order;
  auto note = [&](const char* what) {
    std::lock_guard<std::mutex> l(mu);
    order += what;
  };
  {
    S3SendQueue q(1, 1);
    q.Submit([&] {
      note("d1 ");
      return [&] {
        note("s1 ");
        first_sending.Raise();
        EXPECT_TRUE(store_answers.Wait());
      };
    });
    ASSERT_TRUE(first_sending.Wait());
    q.Submit([&] {
      note("d2 ");
      second_digested.Raise();
      return [&] {
        note("s2 ");
        second_sent.Raise();
      };
    });
    EXPECT_TRUE(second_digested.Wait()) << "digested only after a request";
    store_answers.Raise();
    EXPECT_TRUE(second_sent.Wait());
  }
  EXPECT_EQ(order, "d1 s1 d2 s2 ");
}

// Goal: RunAll runs every request it is given on the send threads, beside
// parts submitted before, and returns once all of its requests have run.
TEST(S3SendQueue, RunAllWaitsForEveryRequest) {
  std::mutex mu;
  std::vector<int> done;
  S3SendQueue q(2, 3);
  for (int i = 0; i < 5; ++i) {
    q.Submit([&, i] {
      return [&, i] {
        std::lock_guard<std::mutex> l(mu);
        done.push_back(i);
      };
    });
  }
  std::vector<std::function<void()>> names;
  for (int i = 10; i < 20; ++i) {
    names.push_back([&, i] {
      std::lock_guard<std::mutex> l(mu);
      done.push_back(i);
    });
  }
  q.RunAll(std::move(names));
  std::lock_guard<std::mutex> l(mu);
  int named = 0;
  for (int d : done) named += d >= 10;
  EXPECT_EQ(named, 10);
}

}  // namespace
}  // namespace valise
