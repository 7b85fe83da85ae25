// Tests of progress that holds up in production (issue 14): the tracker's
// ETAs, stalls and average rates on a fake clock (progress_estimate.h), the
// stats lines and the Prometheus metrics file (progress_metrics.h), and
// Progress writing both on a fake clock.
#include "pipeline/progress_estimate.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "pipeline/progress_metrics.h"
#include "pipeline/progress_render.h"
#include "support/test_util.h"
#include "valise/report.h"

namespace valise {
namespace {

constexpr uint64_t kMB = 1000 * 1000;

std::vector<DriveCounters> Bytes(std::vector<uint64_t> b) {
  std::vector<DriveCounters> c(b.size());
  for (size_t i = 0; i < b.size(); ++i) c[i].bytes = b[i];
  return c;
}

std::vector<std::string> Split(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(ProgressTrackerTest, TotalEtaIsTheSlowestDrives) {
  // Goal: drive a reads 100 MB/s, b 10 MB/s, 1000 MB each. The total's
  // ETA is b's (95 s left at t=5), not the bytes left over the total rate
  // (1395 MB / 110 MB/s = 12.7 s, a promise the run cannot keep).
  ProgressTracker t({"a", "b"}, {1000 * kMB, 1000 * kMB});
  for (int s = 0; s <= 5; ++s) {
    t.Sample(s, Bytes({s * 100 * kMB, s * 10 * kMB}));
  }
  ProgressFrame f = t.Frame();
  ASSERT_EQ(f.drives.size(), 2u);
  EXPECT_NEAR(f.drives[0].rate, 100.0 * kMB, 1);
  EXPECT_NEAR(f.drives[0].eta, 5, 1e-6);
  EXPECT_NEAR(f.drives[1].eta, 95, 1e-6);
  EXPECT_NEAR(f.total.eta, 95, 1e-6);
  EXPECT_TRUE(f.total.has_eta);
  EXPECT_EQ(f.total.done, 550 * kMB);
  EXPECT_EQ(f.total.planned, 2000 * kMB);
  // The rendered total says so.
  std::vector<std::string> lines = RenderProgress(f, 120, 5);
  EXPECT_NE(lines[2].find("ETA 1:35"), std::string::npos) << lines[2];
}

TEST(ProgressTrackerTest, StalledAfterTenSecondsWithoutAByte) {
  // Goal: b delivers nothing from t=2: at t=11.9 it is not yet stalled, at
  // t=12 it is, its ETA and the total's are unknown; its bar and the
  // stats line say "stalled"; a byte later it is not stalled any more.
  ProgressTracker t({"a", "b"}, {1000 * kMB, 1000 * kMB});
  t.Sample(0, Bytes({0, 0}));
  t.Sample(2, Bytes({20 * kMB, 20 * kMB}));
  t.Sample(11.9, Bytes({119 * kMB, 20 * kMB}));
  EXPECT_FALSE(t.Frame().drives[1].stalled);
  t.Sample(12, Bytes({120 * kMB, 20 * kMB}));
  ProgressFrame f = t.Frame();
  EXPECT_FALSE(f.drives[0].stalled);
  EXPECT_TRUE(f.drives[1].stalled);
  EXPECT_LT(f.drives[1].eta, 0);
  EXPECT_LT(f.total.eta, 0);
  std::vector<std::string> lines = RenderProgress(f, 100, 12);
  ASSERT_EQ(lines.size(), 3u);
  // On the bar and in the ETA field.
  const size_t close = lines[1].find(']');
  ASSERT_NE(close, std::string::npos) << lines[1];
  EXPECT_NE(lines[1].substr(0, close).find(" stalled "), std::string::npos)
      << lines[1];
  EXPECT_NE(lines[1].find("stalled", close), std::string::npos) << lines[1];
  EXPECT_EQ(lines[0].find("stalled"), std::string::npos) << lines[0];
  EXPECT_NE(lines[2].find("ETA --:--"), std::string::npos) << lines[2];
  std::string stats = RenderStatsLine(f, 12);
  EXPECT_NE(stats.find("| b 2% 0.0 MB/s stalled"), std::string::npos) << stats;
  // Narrow: the ETA field goes, the bar still says it.
  lines = RenderProgress(f, 50, 12);
  EXPECT_NE(lines[1].substr(0, lines[1].find(']')).find(" stalled "),
            std::string::npos)
      << lines[1];

  t.Sample(13, Bytes({130 * kMB, 21 * kMB}));
  EXPECT_FALSE(t.Frame().drives[1].stalled);
}

TEST(ProgressTrackerTest, FinishedDriveIsNeverStalled) {
  // Goal: a drive whose every file is done is finished (ETA 0) even when
  // its bytes stay below the planned ones (its last file failed), and
  // never reads "stalled"; the total's ETA is then the other drive's.
  ProgressTracker t({"a", "b"}, {1000 * kMB, 1000 * kMB});
  t.AddPlannedFiles(0, 2);
  t.AddPlannedFiles(1, 1);
  t.Sample(0, Bytes({0, 0}));
  std::vector<DriveCounters> c = Bytes({400 * kMB, 10 * kMB});
  c[0].files = 2;
  c[0].errors = 1;
  t.Sample(1, c);
  c[1].bytes = 500 * kMB;
  t.Sample(50, c);
  ProgressFrame f = t.Frame();
  EXPECT_FALSE(f.drives[0].stalled);
  EXPECT_EQ(f.drives[0].eta, 0);
  EXPECT_EQ(f.drives[0].errors, 1u);
  EXPECT_EQ(f.drives[0].files_planned, 2u);
  EXPECT_GT(f.drives[1].eta, 0);
  EXPECT_EQ(f.total.eta, f.drives[1].eta);
  EXPECT_EQ(f.total.files, 2u);
  EXPECT_EQ(f.total.files_planned, 3u);
}

TEST(ProgressTrackerTest, UnknownSizeAndNoRateGiveNoEta) {
  // Goal: no ETA without a rate or a size, and no division by zero.
  ProgressTracker t({"a", "b"}, {kUnknownSize, 100});
  t.Sample(0, Bytes({0, 0}));
  ProgressFrame f = t.Frame();
  EXPECT_LT(f.drives[0].eta, 0);
  EXPECT_LT(f.drives[1].eta, 0);
  EXPECT_EQ(f.total.planned, kUnknownSize);
  EXPECT_LT(f.total.eta, 0);
  t.Sample(1, Bytes({50, 100}));
  f = t.Frame();
  EXPECT_LT(f.drives[0].eta, 0);
  EXPECT_EQ(f.drives[1].eta, 0);
}

TEST(ProgressTrackerTest, FinalFrameShowsAverageRates) {
  // Goal: in the final frame each drive's rate is its bytes over the time
  // until its last byte (a finished at t=2 with 200 MB: 100 MB/s, not 20
  // over the run's 10 s), the total's over the whole run, and each line
  // says "avg" where the ETA was; the final stats line too.
  ProgressTracker t({"a", "b"}, {200 * kMB, 500 * kMB});
  t.Sample(0, Bytes({0, 0}));
  t.Sample(2, Bytes({200 * kMB, 100 * kMB}));
  t.Sample(10, Bytes({200 * kMB, 500 * kMB}));
  ProgressFrame f = t.Frame(/*final=*/true);
  EXPECT_NEAR(f.drives[0].rate, 100.0 * kMB, 1);
  EXPECT_NEAR(f.drives[1].rate, 50.0 * kMB, 1);
  EXPECT_NEAR(f.total.rate, 70.0 * kMB, 1);
  EXPECT_TRUE(f.total.average);
  std::vector<std::string> lines = RenderProgress(f, 120, 10);
  EXPECT_NE(lines[0].find("100.0 MB/s avg"), std::string::npos) << lines[0];
  EXPECT_NE(lines[2].find("70.0 MB/s avg"), std::string::npos) << lines[2];
  EXPECT_EQ(RenderStatsLine(f, 10),
            "valise: done in 0:10 total 667.6 MiB avg 70.0 MB/s | a 190.7 "
            "MiB avg 100.0 MB/s | b 476.8 MiB avg 50.0 MB/s");
}

TEST(ProgressStatsLineTest, OneLineWithTotalAndDrives) {
  ProgressTracker t({"/mnt/a", "/mnt/b"}, {1000 * kMB, 1000 * kMB});
  t.Sample(0, Bytes({0, 0}));
  t.Sample(60, Bytes({600 * kMB, 300 * kMB}));
  EXPECT_EQ(RenderStatsLine(t.Frame(), 60),
            "valise: 1:00 total 45% 858.3 MiB/1.9 GiB 15.0 MB/s ETA 2:20 | "
            "/mnt/a 60% 10.0 MB/s ETA 0:40 | /mnt/b 30% 5.0 MB/s ETA 2:20");
}

// --- The metrics file.

// Checks `text` against the text format's rules; returns the samples as
// "name{labels}" -> value. Fails the test on a rule broken.
std::map<std::string, double> ParseMetrics(const std::string& text) {
  std::map<std::string, double> samples;
  std::map<std::string, std::string> type;
  std::string current;  // the metric the last TYPE line named
  const std::regex name_re("[a-zA-Z_:][a-zA-Z0-9_:]*");
  const std::regex help_re("# HELP ([^ ]+) .+");
  const std::regex type_re("# TYPE ([^ ]+) (counter|gauge)");
  // A label value: any character but " \ and newline, or \\ \" \n.
  const std::regex sample_re(
      "([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{drive=\"((?:[^\"\\\\\\n]|\\\\[\\\\\"n])*)"
      "\"\\})? (-?[0-9.e+]+|NaN)");
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n') << "the last line ends with a newline";
  std::smatch m;
  for (const std::string& line : Split(text)) {
    if (std::regex_match(line, m, help_re)) {
      EXPECT_TRUE(std::regex_match(m[1].str(), name_re)) << line;
      EXPECT_EQ(type.count(m[1].str()), 0u) << "HELP after TYPE: " << line;
    } else if (std::regex_match(line, m, type_re)) {
      EXPECT_EQ(type.count(m[1].str()), 0u) << "TYPE twice: " << line;
      type[m[1].str()] = m[2].str();
      current = m[1].str();
      if (m[2].str() == "counter") {
        EXPECT_EQ(current.substr(current.size() - 6), "_total") << line;
      }
    } else if (std::regex_match(line, m, sample_re)) {
      // Samples follow their own TYPE line, together.
      EXPECT_EQ(m[1].str(), current) << line;
      std::string key = m[1].str() + (m[2].matched ? m[2].str() : "");
      EXPECT_EQ(samples.count(key), 0u) << "sample twice: " << line;
      samples[key] = std::stod(m[4].str());
    } else {
      ADD_FAILURE() << "not a metrics line: " << line;
    }
  }
  return samples;
}

TEST(ProgressMetricsTest, TextFormatRulesAndLabelEscaping) {
  // Goal: every metric has HELP and TYPE, counters end in _total, one
  // sample per drive carrying its name as the drive label, with \ " and
  // newline escaped (a control byte is %XX first); unknown ETAs absent.
  ProgressTracker t({"ship-01", "a\"b\\c\nd"}, {1000, kUnknownSize});
  t.AddPlannedFiles(0, 3);
  t.AddPlannedFiles(1, 2);
  t.Sample(0, Bytes({0, 0}));
  std::vector<DriveCounters> c = Bytes({500, 70});
  c[0].files = 1;
  c[1].files = 1;
  c[1].errors = 1;
  t.Sample(5, c);
  std::string text = RenderPrometheusMetrics(t.Frame(), 5.25, true);
  std::map<std::string, double> s = ParseMetrics(text);
  const std::string a = "{drive=\"ship-01\"}";
  const std::string b = "{drive=\"a\\\"b\\\\c%0Ad\"}";
  EXPECT_EQ(s["valise_drive_read_bytes_total" + a], 500);
  EXPECT_EQ(s["valise_drive_read_bytes_total" + b], 70);
  EXPECT_EQ(s["valise_drive_planned_bytes" + a], 1000);
  EXPECT_EQ(s.count("valise_drive_planned_bytes" + b), 0u);
  EXPECT_EQ(s["valise_drive_files_done_total" + a], 1);
  EXPECT_EQ(s["valise_drive_planned_files" + a], 3);
  EXPECT_EQ(s["valise_drive_read_errors_total" + b], 1);
  EXPECT_EQ(s["valise_drive_read_rate_bytes_per_second" + a], 100);
  EXPECT_EQ(s["valise_drive_stalled" + a], 0);
  EXPECT_EQ(s["valise_drive_eta_seconds" + a], 5);
  EXPECT_EQ(s.count("valise_drive_eta_seconds" + b), 0u);
  EXPECT_EQ(s.count("valise_run_eta_seconds"), 0u);  // b's is unknown
  EXPECT_EQ(s["valise_run_elapsed_seconds"], 5.25);
  EXPECT_EQ(s["valise_run_running"], 1);
  EXPECT_EQ(PrometheusLabelValue("x\\y\"z\n"), "x\\\\y\\\"z\\n");
}

// --- Progress on a fake clock.

struct FakeClock {
  double now = 0;
  std::function<double()> fn() {
    return [this] { return now; };
  }
};

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) out.append(buf, n);
  return out;
}

TEST(ProgressTest, StatsLinesOnePerIntervalThenAverages) {
  // Goal: on a pipe (no terminal) with a 60 s interval, ticks at 0, 30, 59
  // write nothing, at 60 and 119 one line, at 125 another; Finish writes
  // the average rates. No escape codes.
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_NONBLOCK), 0);
  FakeClock clock;
  ProgressOptions o;
  o.bars = true;  // but not a terminal
  o.stats_seconds = 60;
  o.clock = clock.fn();
  {
    Progress p({"a", "b"}, {1000 * kMB, 100 * kMB}, o, fds[1]);
    p.AddPlannedFiles(0, 1);
    p.AddPlannedFiles(1, 1);
    for (double t : {0.0, 30.0, 59.0}) {
      clock.now = t;
      p.Add(0, 5 * kMB);
      p.Tick();
    }
    EXPECT_EQ(ReadAll(fds[0]), "");
    for (double t : {60.0, 61.0, 119.0, 125.0}) {
      clock.now = t;
      p.Add(0, 5 * kMB);
      p.Tick();
    }
    p.Add(1, 100 * kMB);
    p.FileDone(1, false);
    clock.now = 200;
    p.Finish();
  }
  std::vector<std::string> lines = Split(ReadAll(fds[0]));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].rfind("valise: 1:00 total ", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind("valise: 2:05 total ", 0), 0u) << lines[1];
  EXPECT_NE(lines[1].find("| a 3% "), std::string::npos) << lines[1];
  EXPECT_EQ(lines[2].rfind("valise: done in 3:20 total ", 0), 0u) << lines[2];
  EXPECT_NE(lines[2].find("| b 95.4 MiB avg 0.5 MB/s"), std::string::npos)
      << lines[2];
  for (const std::string& l : lines) {
    EXPECT_EQ(l.find('\x1b'), std::string::npos) << l;
  }
  close(fds[0]);
  close(fds[1]);
}

TEST(ProgressTest, DefaultStatsSilentOnAShortRun) {
  // Goal: stats_final=false (the default of a stderr that is no terminal)
  // prints no last line after a run shorter than one interval; 0 prints
  // nothing ever.
  for (double interval : {60.0, 0.0}) {
    int fds[2];
    ASSERT_EQ(pipe2(fds, O_NONBLOCK), 0);
    FakeClock clock;
    ProgressOptions o;
    o.stats_seconds = interval;
    o.stats_final = interval == 0;
    o.clock = clock.fn();
    {
      Progress p({"a"}, {100}, o, fds[1]);
      p.Add(0, 100);
      clock.now = 59;
      p.Tick();
      p.Finish();
    }
    EXPECT_EQ(ReadAll(fds[0]), "") << interval;
    close(fds[0]);
    close(fds[1]);
  }
}

TEST(ProgressTest, MetricsFileRewrittenAtomically) {
  // Goal: the metrics file exists from the first Tick (running 1), is
  // rewritten once metrics_seconds passed (not before), says running 0
  // after Finish, and no temporary file stays beside it.
  test::TempDir dir;
  const std::string path = dir.path() + "/valise.prom";
  FakeClock clock;
  ProgressOptions o;
  o.metrics_path = path;
  o.metrics_seconds = 10;
  o.clock = clock.fn();
  auto read = [&] {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ParseMetrics(ss.str());
  };
  const std::string a = "valise_drive_read_bytes_total{drive=\"a\"}";
  {
    Progress p({"a"}, {1000}, o, -1);
    p.Add(0, 100);
    p.Tick();
    EXPECT_EQ(read()[a], 100);
    EXPECT_EQ(read()["valise_run_running"], 1);
    clock.now = 9;
    p.Add(0, 100);
    p.Tick();
    EXPECT_EQ(read()[a], 100);
    clock.now = 10;
    p.Tick();
    EXPECT_EQ(read()[a], 200);
    clock.now = 12;
    p.Add(0, 800);
    p.Finish();
    std::map<std::string, double> s = read();
    EXPECT_EQ(s[a], 1000);
    EXPECT_EQ(s["valise_run_running"], 0);
    EXPECT_EQ(s["valise_run_elapsed_seconds"], 12);
  }
  DIR* d = opendir(dir.path().c_str());
  ASSERT_NE(d, nullptr);
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  closedir(d);
  EXPECT_EQ(names, std::vector<std::string>{"valise.prom"});
}

}  // namespace
}  // namespace valise
