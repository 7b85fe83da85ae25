// The engine on the simulated disk when the process is paused (issue 12,
// item 6): time the process did not run (SIGSTOP, Ctrl-Z, a VM paused)
// is not a stalled drive. The simulated clock stands for the pause:
// AdvanceClock moves it while no Reap waits, as a stopped process sees
// the clock jump when it runs again.
#include <string>
#include <vector>

#include "support/test_util.h"
#include "valise/io_engine.h"
#include "valise/io_queue.h"
#include "valise/sim_disk.h"

namespace valise {
namespace {

struct PausedRead {
  SimDisk disk{SimDiskOptions{}};
  std::unique_ptr<File> file;
  std::string buf = std::string(65536, '\0');
  Transfer t;

  PausedRead() {
    disk.AddFile("d1/x", std::string(65536, 'x'));
    ReadOptions ro;
    ro.direct = false;
    EXPECT_VALISE_OK(disk.OpenForRead("d1/x", ro, &file));
    t.file = file.get();
    t.buf = buf.data();
    t.len = 65536;
  }

  std::unique_ptr<IoEngine> Engine(uint64_t timeout_us) {
    std::string note;
    EngineOptions opt;
    opt.io_timeout_us = timeout_us;
    return std::make_unique<IoEngine>(disk.NewIoQueue(IoQueueOptions(), &note),
                                      1, opt, &disk);
  }
};

// Goal: a read outstanding across a pause longer than io_timeout is not
// failed; once the drive answers, it completes.
TEST(EnginePause, PauseLongerThanTimeoutIsNotAStall) {
  PausedRead r;
  auto e = r.Engine(5'000'000);
  r.disk.Stall("d1/");  // the drive is slow to answer
  ASSERT_VALISE_OK(e->Submit(&r.t));
  std::vector<Transfer*> done;
  ASSERT_VALISE_OK(e->Reap(&done, true, 1'000'000));  // waits 1 s
  EXPECT_TRUE(done.empty());
  // The process is stopped for a minute, then continued.
  r.disk.AdvanceClock(60'000'000);
  ASSERT_VALISE_OK(e->Reap(&done, true, 1'000'000));
  EXPECT_TRUE(done.empty()) << done[0]->status.ToString();
  EXPECT_FALSE(e->stalled(0));
  r.disk.Unstall("d1/");
  for (int i = 0; i < 10 && done.empty(); ++i) {
    ASSERT_VALISE_OK(e->Reap(&done, true, 1'000'000));
  }
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(r.t.status.ok()) << r.t.status.ToString();
  EXPECT_EQ(r.t.done, 65536u);
  EXPECT_FALSE(r.t.late);
}

// Goal: a drive that does not answer is still found stalled after a
// pause, once the engine has waited io_timeout for it while running.
TEST(EnginePause, StallAfterAPauseIsStillFound) {
  PausedRead r;
  auto e = r.Engine(5'000'000);
  r.disk.Stall("d1/");
  ASSERT_VALISE_OK(e->Submit(&r.t));
  r.disk.AdvanceClock(60'000'000);  // stopped for a minute at once
  const uint64_t continued = r.disk.NowMicros();
  std::vector<Transfer*> done;
  for (int i = 0; i < 20 && done.empty(); ++i) {
    ASSERT_VALISE_OK(e->Reap(&done, true, 1'000'000));
  }
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(r.t.status.IsTimedOut()) << r.t.status.ToString();
  EXPECT_TRUE(e->stalled(0));
  // It waited for the drive after the pause: the timeout less the slack
  // the engine grants a gap (1 s), never nothing.
  EXPECT_GE(r.disk.NowMicros() - continued, 4'000'000u);
  r.disk.Unstall("d1/");
  done.clear();
  for (int i = 0; i < 10 && done.empty(); ++i) {
    ASSERT_VALISE_OK(e->Reap(&done, true, 1'000'000));
  }
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(r.t.late);
  EXPECT_FALSE(e->stalled(0));
}

}  // namespace
}  // namespace valise
