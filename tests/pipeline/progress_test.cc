// Tests of the progress bars: the pure rendering (no terminal needed), the
// rate window, and the Progress class on a pipe and on a pseudo-terminal.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/progress_render.h"
#include "support/test_util.h"
#include "valise/report.h"

namespace valise {
namespace {

constexpr uint64_t kMB = 1000 * 1000;

std::vector<std::string> Split(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The bar between '[' and ']' of a rendered line, or "" if none.
std::string BarOf(const std::string& line) {
  size_t open = line.find('[');
  size_t close = line.find(']', open == std::string::npos ? 0 : open);
  if (open == std::string::npos || close == std::string::npos) return "";
  return line.substr(open + 1, close - open - 1);
}

ProgressFrame TwoDrives() {
  ProgressFrame f;
  f.drives.push_back({"/mnt/drive01", 400 * kMB, 1000 * kMB, 100 * kMB});
  f.drives.push_back({"/dev/sdc", 250 * kMB, 1000 * kMB, 50 * kMB});
  f.total = {"total", 650 * kMB, 2000 * kMB, 150 * kMB};
  return f;
}

TEST(RateWindowTest, RateOverTheLastSeconds) {
  // Goal: the rate is measured over the sliding window only, so a drive
  // that slows down shows its new rate within the window's length.
  RateWindow w(5.0);
  EXPECT_EQ(w.Rate(), 0);
  w.Sample(0, 0);
  EXPECT_EQ(w.Rate(), 0);  // one sample: no rate yet
  uint64_t bytes = 0;
  for (int t = 1; t <= 10; ++t) {
    bytes += 100 * kMB;
    w.Sample(t, bytes);
  }
  EXPECT_DOUBLE_EQ(w.Rate(), 100.0 * kMB);
  for (int t = 11; t <= 20; ++t) {
    bytes += 20 * kMB;
    w.Sample(t, bytes);
  }
  // The last 5 s were all at 20 MB/s; the first 10 s no longer count.
  EXPECT_DOUBLE_EQ(w.Rate(), 20.0 * kMB);
  // Halfway through a change: 3 s at 20 and 2 s at 70 over the window.
  for (int t = 21; t <= 22; ++t) {
    bytes += 70 * kMB;
    w.Sample(t, bytes);
  }
  EXPECT_DOUBLE_EQ(w.Rate(), (3 * 20.0 + 2 * 70.0) / 5 * kMB);
}

TEST(RateWindowTest, SameTimeAndGapsDoNotDivideByZero) {
  // Goal: two samples at the same instant give 0, not inf/nan; a long
  // pause between samples still gives the average over it.
  RateWindow w(5.0);
  w.Sample(3, 100);
  w.Sample(3, 200);
  EXPECT_EQ(w.Rate(), 0);
  w.Sample(103, 10100);
  // From the last sample before the window (t=3, 200 bytes) to t=103.
  EXPECT_DOUBLE_EQ(w.Rate(), 99.0);
}

TEST(ProgressRenderTest, LinesFitEveryWidth) {
  // Goal: at 40, 80 and 200 columns every line fits in width - 1 columns,
  // has a bar of at least 10 cells, and all bars line up.
  for (int width : {40, 80, 200}) {
    std::vector<std::string> lines = RenderProgress(TwoDrives(), width, 12);
    ASSERT_EQ(lines.size(), 3u);
    size_t bar_start = lines[0].find('[');
    for (const std::string& l : lines) {
      EXPECT_LE(l.size(), static_cast<size_t>(width - 1)) << width << ": " << l;
      EXPECT_GE(BarOf(l).size(), 10u) << width << ": " << l;
      EXPECT_EQ(l.find('['), bar_start) << width;
      for (char c : l) EXPECT_TRUE(c >= 0x20 && c < 0x7F) << l;
    }
    // The bar takes the room left: wider terminal, longer bar.
    if (width == 200) {
      EXPECT_GE(BarOf(lines[0]).size(), 100u);
    }
  }
  // At 80 columns there is room for every field.
  std::string l80 = RenderProgress(TwoDrives(), 80, 12)[0];
  EXPECT_NE(l80.find("381.5 MiB/953.7 MiB"), std::string::npos) << l80;
  EXPECT_NE(l80.find("100.0 MB/s"), std::string::npos) << l80;
  EXPECT_NE(l80.find(" 40%"), std::string::npos) << l80;
  EXPECT_NE(l80.find("ETA 0:06"), std::string::npos) << l80;
  // At 40 the least useful fields go first; percent and ETA stay.
  std::string l40 = RenderProgress(TwoDrives(), 40, 12)[0];
  EXPECT_NE(l40.find(" 40%"), std::string::npos) << l40;
  EXPECT_NE(l40.find("ETA 0:06"), std::string::npos) << l40;
}

TEST(ProgressRenderTest, BarFillMatchesFraction) {
  // Goal: the filled part of the bar is the done fraction of its length.
  for (int width : {40, 80, 200}) {
    std::vector<std::string> lines = RenderProgress(TwoDrives(), width, 1);
    for (size_t i = 0; i < lines.size(); ++i) {
      std::string bar = BarOf(lines[i]);
      double fraction = i == 0 ? 0.4 : i == 1 ? 0.25 : 0.325;
      size_t filled = std::count(bar.begin(), bar.end(), '#');
      EXPECT_EQ(filled, static_cast<size_t>(fraction * bar.size()))
          << width << ": " << lines[i];
      // Filled cells come first.
      EXPECT_EQ(bar.find('.'), filled) << lines[i];
    }
  }
}

TEST(ProgressRenderTest, EtaAndRateAreComputed) {
  // Goal: ETA = remaining bytes / rate, rounded up; rate shown in MB/s;
  // no rate yet gives "--:--"; a finished drive says "done".
  ProgressFrame f;
  f.drives.push_back({"a", 0, 7200 * kMB, 2 * kMB});  // 3600 s left
  f.drives.push_back({"b", 10 * kMB, 100 * kMB, 0});  // no rate yet
  f.drives.push_back({"c", 100 * kMB, 100 * kMB, 5 * kMB});
  f.drives.push_back({"d", 0, 1000 * kMB, 123456789.0});  // 8.1 s left
  f.total = {"total", 110 * kMB, 8400 * kMB, 130 * kMB};
  std::vector<std::string> lines = RenderProgress(f, 120, 0);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_NE(lines[0].find("ETA 1:00:00"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("2.0 MB/s"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("  0%"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("ETA --:--"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("0.0 MB/s"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find(" 10%"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("100%"), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find("ETA done"), std::string::npos) << lines[2];
  EXPECT_NE(lines[3].find("123.5 MB/s"), std::string::npos) << lines[3];
  EXPECT_NE(lines[3].find("ETA 0:09"), std::string::npos) << lines[3];
  // (8400 - 110) MB at 130 MB/s = 63.77 s.
  EXPECT_NE(lines[4].find("ETA 1:04"), std::string::npos) << lines[4];
  EXPECT_EQ(lines[4].rfind("total", 0), 0u) << lines[4];
}

TEST(ProgressRenderTest, UnknownSizeAndZeroPlanned) {
  // Goal: an unknown size shows bytes and rate without percent or ETA and
  // a moving marker; nothing planned shows 100% and no nan/inf.
  ProgressFrame f;
  f.drives.push_back({"/dev/sdx", 5 * kMB, kUnknownSize, kMB});
  f.drives.push_back({"/mnt/empty", 0, 0, 0});
  f.total = {"total", 5 * kMB, kUnknownSize, kMB};
  std::vector<std::string> at0 = RenderProgress(f, 100, 0);
  std::vector<std::string> at3 = RenderProgress(f, 100, 3);
  ASSERT_EQ(at0.size(), 3u);
  EXPECT_NE(at0[0].find("?%"), std::string::npos) << at0[0];
  EXPECT_NE(at0[0].find("4.8 MiB/?"), std::string::npos) << at0[0];
  EXPECT_NE(at0[0].find("ETA ?"), std::string::npos) << at0[0];
  EXPECT_NE(at0[0].find("1.0 MB/s"), std::string::npos) << at0[0];
  EXPECT_NE(BarOf(at0[0]).find("<=>"), std::string::npos) << at0[0];
  EXPECT_EQ(BarOf(at0[0]).find('#'), std::string::npos);
  EXPECT_NE(BarOf(at0[0]), BarOf(at3[0]));  // the marker moved
  EXPECT_EQ(BarOf(at0[0]).size(), BarOf(at3[0]).size());
  EXPECT_NE(at0[1].find("100%"), std::string::npos) << at0[1];
  std::string bar = BarOf(at0[1]);
  EXPECT_EQ(static_cast<size_t>(std::count(bar.begin(), bar.end(), '#')),
            bar.size());
  for (const std::string& l : at0) {
    EXPECT_EQ(l.find("nan"), std::string::npos) << l;
    EXPECT_EQ(l.find("inf"), std::string::npos) << l;
  }
  // A marker on a bar of any length stays inside it.
  for (double t = 0; t < 60; t += 0.25) {
    for (int width : {40, 57, 80}) {
      for (const std::string& l : RenderProgress(f, width, t)) {
        EXPECT_LE(l.size(), static_cast<size_t>(width - 1));
      }
    }
  }
}

TEST(ProgressRenderTest, LongAndUnprintableNamesAndTinyWidths) {
  // Goal: long names keep their tail, non-ASCII bytes are escaped so the
  // byte count is the column count, and absurd widths never overflow.
  ProgressFrame f;
  f.drives.push_back({"/mnt/a/very/long/path/to/the/ingest/drive07", 1, 2, 1});
  f.drives.push_back({"/mnt/caf\xC3\xA9\n", 1, 2, 1});
  f.total = {"total", 2, 4, 2};
  std::vector<std::string> lines = RenderProgress(f, 80, 65);
  EXPECT_NE(lines[0].find("drive07"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[0].rfind("...", 0), 0u) << lines[0];
  EXPECT_NE(lines[1].find("caf%C3%A9%0A"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("total 1:05"), std::string::npos) << lines[2];
  for (int width : {0, 1, 2, 5, 10, 20, 30}) {
    for (const std::string& l : RenderProgress(f, width, 1)) {
      EXPECT_LE(l.size(), static_cast<size_t>(std::max(width, 2) - 1))
          << width << ": " << l;
    }
  }
}

TEST(ProgressTest, AddIsCountedFromManyThreads) {
  // Goal: Add from several threads at once loses no byte; out-of-range
  // drives are ignored.
  Progress p({"a", "b"}, {1000, 2000}, /*enabled=*/true, /*fd=*/-1);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&p, t] {
      for (int i = 0; i < 100000; ++i) p.Add(t % 2, 3);
      p.Add(7, 1);
      p.Add(-1, 1);
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(p.done(0), 2u * 100000 * 3);
  EXPECT_EQ(p.done(1), 2u * 100000 * 3);
  EXPECT_EQ(p.done(2), 0u);
}

TEST(ProgressTest, SilentWhenNotATerminal) {
  // Goal: on a pipe (not a TTY), and when disabled, no bar is drawn;
  // Log still writes its line.
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_NONBLOCK), 0);
  {
    Progress p({"a"}, {100}, /*enabled=*/true, fds[1]);
    EXPECT_FALSE(p.active());
    p.Add(0, 50);
    p.Tick();
    p.Log("valise: warning: x");
    p.Finish();
  }
  char buf[256];
  ssize_t n = read(fds[0], buf, sizeof(buf));
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, n), "valise: warning: x\n");
  close(fds[0]);
  close(fds[1]);
}

// A pseudo-terminal: the slave is the "stderr" Progress draws on, the
// master reads what it drew.
class Pty {
 public:
  Pty() {
    master_ = posix_openpt(O_RDWR | O_NOCTTY);
    if (master_ < 0 || grantpt(master_) != 0 || unlockpt(master_) != 0) {
      return;
    }
    slave_ = open(ptsname(master_), O_RDWR | O_NOCTTY);
    if (slave_ < 0) return;
    // Raw mode: no "\n" -> "\r\n" translation, bytes arrive as written.
    struct termios tio;
    tcgetattr(slave_, &tio);
    cfmakeraw(&tio);
    tcsetattr(slave_, TCSANOW, &tio);
    fcntl(master_, F_SETFL, O_NONBLOCK);
  }
  ~Pty() {
    if (slave_ >= 0) close(slave_);
    if (master_ >= 0) close(master_);
  }
  bool ok() const { return master_ >= 0 && slave_ >= 0; }
  int slave() const { return slave_; }
  void SetWidth(int cols) {
    struct winsize ws = {};
    ws.ws_row = 24;
    ws.ws_col = static_cast<unsigned short>(cols);
    ioctl(slave_, TIOCSWINSZ, &ws);
  }
  // Everything written so far (waits briefly for it to arrive).
  std::string Drain() {
    std::string out;
    char buf[4096];
    for (;;) {
      struct pollfd pfd = {master_, POLLIN, 0};
      if (poll(&pfd, 1, 100) <= 0) break;
      ssize_t n = read(master_, buf, sizeof(buf));
      if (n <= 0) break;
      out.append(buf, n);
    }
    return out;
  }

 private:
  int master_ = -1;
  int slave_ = -1;
};

// Splits a drawn frame into its printed lines, without escape codes.
std::vector<std::string> PrintedLines(const std::string& frame) {
  std::vector<std::string> lines;
  for (const std::string& raw : Split(frame)) {
    size_t pos = raw.rfind("\x1b[2K");
    lines.push_back(pos == std::string::npos ? raw : raw.substr(pos + 4));
  }
  return lines;
}

TEST(ProgressTest, DrawsInPlaceOnATerminal) {
  // Goal: on a terminal, the first Tick draws every bar within the
  // terminal's width; an immediate second Tick draws nothing (at most 5
  // frames a second); a later one moves the cursor up over the old bars
  // and redraws; Finish leaves the final state and the destructor then
  // writes nothing more.
  Pty pty;
  ASSERT_TRUE(pty.ok()) << "posix_openpt: " << strerror(errno);
  pty.SetWidth(60);
  {
    Progress p({"/mnt/a", "/mnt/b"}, {100 * kMB, 200 * kMB},
               /*enabled=*/true, pty.slave());
    ASSERT_TRUE(p.active());
    p.Add(0, 50 * kMB);
    p.Tick();
    p.Tick();  // within 200 ms of the first frame: draws nothing
    std::string first = pty.Drain();
    EXPECT_EQ(first.find("\x1b[3A"), std::string::npos);  // nothing to undo
    std::vector<std::string> lines = PrintedLines(first);
    ASSERT_EQ(lines.size(), 3u) << first;  // one frame, not two
    for (const std::string& l : lines) EXPECT_LE(l.size(), 59u) << l;
    EXPECT_NE(lines[0].find(" 50%"), std::string::npos) << lines[0];
    EXPECT_EQ(lines[2].rfind("total", 0), 0u) << lines[2];

    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    p.Add(1, 200 * kMB);
    p.Tick();
    std::string second = pty.Drain();
    EXPECT_EQ(second.rfind("\x1b[3A", 0), 0u) << second;
    EXPECT_NE(second.find("100%"), std::string::npos) << second;

    p.Log("valise: warning: /mnt/b: slow");
    std::string logged = pty.Drain();
    // Bars erased, message printed, bars drawn again below it.
    EXPECT_EQ(logged.rfind("\x1b[3A\r\x1b[J", 0), 0u) << logged;
    size_t msg = logged.find("valise: warning: /mnt/b: slow\n");
    ASSERT_NE(msg, std::string::npos) << logged;
    EXPECT_NE(logged.find("total", msg), std::string::npos) << logged;

    p.Finish();
    std::string last = pty.Drain();
    EXPECT_EQ(PrintedLines(last).size(), 3u) << last;
    p.Finish();
    p.Tick();
  }
  EXPECT_EQ(pty.Drain(), "");  // the final state stays on screen
}

TEST(ProgressTest, DestructorErasesUnfinishedBars) {
  // Goal: bars of a run that ends without Finish (an error path) are
  // erased, so the error message is not printed between stale bars.
  Pty pty;
  ASSERT_TRUE(pty.ok()) << "posix_openpt: " << strerror(errno);
  {
    Progress p({"/mnt/a"}, {100}, /*enabled=*/true, pty.slave());
    p.Tick();
    ASSERT_FALSE(pty.Drain().empty());
  }
  EXPECT_EQ(pty.Drain(), "\x1b[2A\r\x1b[J");
}

TEST(ProgressTest, DisabledDrawsNothingOnATerminal) {
  // Goal: enabled=false keeps a terminal free of bars.
  Pty pty;
  ASSERT_TRUE(pty.ok()) << "posix_openpt: " << strerror(errno);
  {
    Progress p({"/mnt/a"}, {100}, /*enabled=*/false, pty.slave());
    EXPECT_FALSE(p.active());
    p.Add(0, 10);
    p.Tick();
    p.Finish();
  }
  EXPECT_EQ(pty.Drain(), "");
}

}  // namespace
}  // namespace valise
