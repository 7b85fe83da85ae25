// FileOpener: files opened ahead in each drive's order, taken once each,
// a drive dropped hands back what was opened for it, and an open under
// way when a drive is dropped reaches `late`.
#include "pipeline/file_opener.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace valise {
namespace {

std::vector<std::vector<ReadJob>> Jobs(size_t drives, size_t each) {
  std::vector<std::vector<ReadJob>> out(drives);
  for (size_t d = 0; d < drives; ++d) {
    for (size_t i = 0; i < each; ++i) {
      ReadJob j;
      j.path = "d" + std::to_string(d) + "/f" + std::to_string(i);
      j.drive = static_cast<int>(d);
      out[d].push_back(j);
    }
  }
  return out;
}

// The message of an open of `path` (Recorder's status).
std::string Opened(const std::string& path) {
  return Status::NotFound(path, "opened").message();
}

// Records every open, on which thread; an open's status names its path.
struct Recorder {
  std::mutex mu;
  std::vector<std::string> opened;
  std::map<std::string, std::thread::id> on;
  FileOpener::OpenFn Fn() {
    return [this](const ReadJob& job, FileOpener::Opened* o) {
      o->status = Status::NotFound(job.path, "opened");
      std::lock_guard<std::mutex> l(mu);
      opened.push_back(job.path);
      on[job.path] = std::this_thread::get_id();
    };
  }
};

// Waits (up to 2 s) until the thread has opened `n` files ahead.
void WaitOpenedAhead(const FileOpener& opener, size_t n) {
  for (int tries = 0; tries < 2000 && opener.opened_ahead() < n; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

TEST(FileOpener, EveryFileTakenOnceInOrder) {
  const auto jobs = Jobs(3, 50);
  Recorder rec;
  FileOpener opener(jobs, OpenAheadPerDrive(3), rec.Fn());
  for (size_t i = 0; i < 50; ++i) {
    for (int d = 0; d < 3; ++d) {
      FileOpener::Opened o = opener.Take(d, i);
      EXPECT_EQ(o.status.message(), Opened(jobs[d][i].path));
    }
  }
  opener.Stop();
  std::set<std::string> once(rec.opened.begin(), rec.opened.end());
  EXPECT_EQ(rec.opened.size(), 150u);  // none opened twice
  EXPECT_EQ(once.size(), 150u);
}

TEST(FileOpener, OpensAheadOnItsOwnThreadWithinTheLimit) {
  const auto jobs = Jobs(2, 20);
  Recorder rec;
  FileOpener opener(jobs, 3, rec.Fn());
  // Nothing taken yet: the thread opens up to 3 of each drive, no more.
  WaitOpenedAhead(opener, 6);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(opener.opened_ahead(), 6u);
  {
    std::lock_guard<std::mutex> l(rec.mu);
    EXPECT_NE(rec.on["d0/f0"], std::this_thread::get_id());
    EXPECT_EQ(rec.on.count("d0/f3"), 0u);
  }
  EXPECT_EQ(opener.Take(0, 0).status.message(), Opened("d0/f0"));
  WaitOpenedAhead(opener, 7);
  EXPECT_EQ(opener.opened_ahead(), 7u);  // one more of drive 0: f3
}

TEST(FileOpener, WithoutAheadTakeOpensOnTheCallersThread) {
  const auto jobs = Jobs(1, 5);
  Recorder rec;
  FileOpener opener(jobs, 0, rec.Fn());
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(opener.Take(0, i).status.message(), Opened(jobs[0][i].path));
  }
  EXPECT_EQ(opener.opened_ahead(), 0u);
  for (const auto& [path, id] : rec.on) {
    EXPECT_EQ(id, std::this_thread::get_id()) << path;
  }
}

TEST(FileOpener, DropHandsBackWhatWasOpenedAndStopsTheDrive) {
  const auto jobs = Jobs(2, 10);
  Recorder rec;
  FileOpener opener(jobs, 4, rec.Fn());
  WaitOpenedAhead(opener, 8);
  ASSERT_EQ(opener.opened_ahead(), 8u);
  EXPECT_EQ(opener.Take(0, 0).status.message(), Opened("d0/f0"));
  std::atomic<int> late{0};
  FileOpener::Dropped dropped =
      opener.Drop(0, [&](const ReadJob&, FileOpener::Opened&&) { ++late; });
  // f1..f3 were opened; the thread may have begun f4 once f0 was taken.
  ASSERT_GE(dropped.opened.size(), 3u);
  for (size_t k = 0; k < dropped.opened.size(); ++k) {
    EXPECT_EQ(dropped.opened[k].first, k + 1);
    EXPECT_EQ(dropped.opened[k].second.status.message(),
              Opened("d0/f" + std::to_string(k + 1)));
  }
  // Drive 1 goes on to its end; drive 0 is opened no further.
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(opener.Take(1, i).status.message(), Opened(jobs[1][i].path));
  }
  opener.Stop();
  const size_t handed = dropped.opened.size() + (dropped.under_way ? 1 : 0);
  EXPECT_EQ(late.load(), dropped.under_way ? 1 : 0);
  std::lock_guard<std::mutex> l(rec.mu);
  size_t drive0 = 0;
  for (const std::string& p : rec.opened) drive0 += p.rfind("d0/", 0) == 0;
  EXPECT_EQ(drive0, 1 + handed);  // f0 and what Drop accounted for
}

// An open under way when its drive is dropped goes to `late` once it
// returns, not to a later Take.
TEST(FileOpener, OpenUnderWayWhenDroppedGoesToLate) {
  const auto jobs = Jobs(1, 3);
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false, release = false;
  FileOpener opener(jobs, 1, [&](const ReadJob& job, FileOpener::Opened* o) {
    o->status = Status::NotFound(job.path, "opened");
    std::unique_lock<std::mutex> l(mu);
    entered = true;
    cv.notify_all();
    cv.wait(l, [&] { return release; });
  });
  {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return entered; });  // f0 under way on the thread
  }
  std::vector<std::string> late;
  FileOpener::Dropped dropped =
      opener.Drop(0, [&](const ReadJob&, FileOpener::Opened&& o) {
        late.push_back(o.status.message());
      });
  EXPECT_TRUE(dropped.opened.empty());
  ASSERT_TRUE(dropped.under_way.has_value());
  EXPECT_EQ(*dropped.under_way, 0u);
  {
    std::lock_guard<std::mutex> l(mu);
    release = true;
  }
  cv.notify_all();
  opener.Stop();
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0], Opened("d0/f0"));
}

TEST(FileOpener, AheadPerDriveKeepsTheTotalBounded) {
  EXPECT_EQ(OpenAheadPerDrive(0), 0u);
  EXPECT_EQ(OpenAheadPerDrive(1), 8u);
  EXPECT_EQ(OpenAheadPerDrive(4), 4u);
  EXPECT_EQ(OpenAheadPerDrive(60), 1u);
}

}  // namespace
}  // namespace valise
