// Tests of the HTML report (src/pipeline/report_html.cc): a well-formed,
// self-contained page with one SVG chart holding a line per drive and one
// for the total, at the heights the timelines say, names escaped.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/test_util.h"
#include "valise/report.h"

namespace valise {
namespace {

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos;
       p = text.find(what, p + 1)) {
    ++n;
  }
  return n;
}

// Checks that every tag is closed in order: a stack of open element
// names, "<x/>" closing itself, comments and the doctype skipped. Returns
// "" or what is wrong.
std::string CheckBalanced(const std::string& html) {
  std::vector<std::string> stack;
  size_t i = 0;
  while ((i = html.find('<', i)) != std::string::npos) {
    size_t end = html.find('>', i);
    if (end == std::string::npos)
      return "unterminated tag at " + std::to_string(i);
    std::string tag = html.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.empty()) return "empty tag";
    if (tag[0] == '!') continue;  // doctype
    if (tag.find('<') != std::string::npos) return "'<' inside a tag: " + tag;
    if (tag[0] == '/') {
      std::string name = tag.substr(1);
      if (stack.empty()) return "close without open: " + name;
      if (stack.back() != name) {
        return "close " + name + " but open " + stack.back();
      }
      stack.pop_back();
      continue;
    }
    if (tag.back() == '/') continue;  // self-closed
    std::string name = tag.substr(0, tag.find_first_of(" \n\t"));
    stack.push_back(name);
  }
  if (!stack.empty()) return "unclosed: " + stack.back();
  return "";
}

// The `points` of every polyline of class `cls`, as (x, y) pairs. Plain
// string search: libstdc++'s std::regex recurses once per character
// matched, and a long `points` list overflowed the stack under TSan.
std::vector<std::vector<std::pair<double, double>>> Lines(
    const std::string& html, const std::string& cls) {
  std::vector<std::vector<std::pair<double, double>>> out;
  const std::string open = "<polyline class=\"" + cls + "\"";
  for (size_t at = html.find(open); at != std::string::npos;
       at = html.find(open, at + 1)) {
    const size_t end = html.find('>', at);
    const size_t attr = html.find("points=\"", at);
    if (attr == std::string::npos || attr > end) continue;
    const size_t from = attr + 8;
    const size_t to = html.find('"', from);
    std::vector<std::pair<double, double>> pts;
    std::istringstream in(html.substr(from, to - from));
    std::string pair;
    while (in >> pair) {
      size_t comma = pair.find(',');
      pts.emplace_back(std::stod(pair.substr(0, comma)),
                       std::stod(pair.substr(comma + 1)));
    }
    out.push_back(std::move(pts));
  }
  return out;
}

DriveReport Drive(const std::string& source, std::vector<uint64_t> timeline,
                  double seconds) {
  DriveReport d;
  d.source = source;
  d.kind = "directory";
  d.bytes_per_second = std::move(timeline);
  for (uint64_t b : d.bytes_per_second) d.bytes_read += b;
  d.bytes_planned = d.bytes_read;
  d.seconds = seconds;
  return d;
}

RunReport ThreeDrives() {
  RunReport r;
  r.command = "verify";
  r.manifest = "/srv/m/set.vm";
  r.started = "2026-11-28T22:00:00Z";
  r.seconds = 4.5;
  r.chunk_size = 1 << 20;
  r.drives.push_back(
      Drive("/mnt/drive01", {100'000'000, 120'000'000, 90'000'000, 4}, 3.2));
  r.drives.push_back(Drive("/dev/loop7", {50'000'000, 60'000'000}, 2.0));
  // A name with markup and a byte that is not UTF-8.
  r.drives.push_back(Drive("/mnt/<b>&\"x\xff", {}, 0));
  r.drives[2].errors.push_back("scan: <denied>");
  r.files_expected = 3;
  r.files_ok = 1;
  FileResult bad;
  bad.path = "data/x<1>.bin";
  bad.drive = 0;
  bad.status = FileStatus::kCorrupt;
  bad.first_bad_offset = 3 << 20;
  bad.detail = "sha256 mismatch";
  r.files.push_back(bad);
  FileResult missing;
  missing.path = "data/gone.bin";
  missing.status = FileStatus::kMissing;
  missing.expected_size = 4096;
  r.files.push_back(missing);
  r.notes.push_back("io_uring: SINGLE_ISSUER");
  return r;
}

// Goal: the page is well-formed (balanced tags here; xmllint's XML parser
// agrees), self-contained (no http, no src=, no script, no url()), holds
// exactly one <svg> with one polyline per drive plus the total, and names
// every drive, escaped.
TEST(HtmlReport, WellFormedSelfContainedOneLinePerDrive) {
  RunReport r = ThreeDrives();
  const std::string html = FormatHtml(r);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(CheckBalanced(html), "");
  EXPECT_EQ(Count(html, "<svg"), 1u);
  EXPECT_EQ(Count(html, "</svg>"), 1u);
  EXPECT_EQ(Count(html, "<polyline"), r.drives.size() + 1);
  EXPECT_EQ(Lines(html, "drive").size(), r.drives.size());
  EXPECT_EQ(Lines(html, "total").size(), 1u);
  EXPECT_EQ(Count(html, "http"), 0u);
  EXPECT_EQ(Count(html, "src="), 0u);
  EXPECT_EQ(Count(html, "<script"), 0u);
  EXPECT_EQ(Count(html, "url("), 0u);
  EXPECT_EQ(Count(html, "<link"), 0u);
  EXPECT_NE(html.find("/mnt/drive01"), std::string::npos);
  EXPECT_NE(html.find("/dev/loop7"), std::string::npos);
  EXPECT_NE(html.find("/mnt/&lt;b&gt;&amp;&quot;x%FF"), std::string::npos);
  EXPECT_EQ(html.find("<b>"), std::string::npos);
  EXPECT_NE(html.find("scan: &lt;denied&gt;"), std::string::npos);
  // The summary: the problem files and the verdict line.
  EXPECT_NE(html.find("data/x&lt;1&gt;.bin"), std::string::npos);
  EXPECT_NE(html.find("first bad offset 3145728 (chunk 3)"), std::string::npos);
  EXPECT_NE(html.find("data/gone.bin"), std::string::npos);
  EXPECT_NE(html.find(">valise: 3 problems: 1 corrupt, 1 missing, 1 drive with "
                      "errors</p>"),
            std::string::npos);
  EXPECT_NE(html.find("MiB/s"), std::string::npos);
  EXPECT_NE(html.find("time (s)"), std::string::npos);

  // A real XML parser must accept it too (libxml2-utils, in deps.sh).
  test::TempDir tmp;
  const std::string path = tmp.path() + "/r.html";
  std::ofstream(path) << html;
  const std::string cmd = "xmllint --noout '" + path + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
  const int status = pclose(p);
  EXPECT_EQ(status, 0) << "xmllint: " << out;
  EXPECT_EQ(out, "");
}

// Goal: line heights follow the timelines: with drive A at 0, 100, 100
// MB/s and drive B at 0, 100, 300, B's third step is three times as high
// as A's second, and the total is their sum at every step.
TEST(HtmlReport, HeightsFollowRates) {
  RunReport r;
  r.command = "ingest";
  r.seconds = 3;
  r.drives.push_back(Drive("A", {0, 100'000'000, 100'000'000}, 3.0));
  r.drives.push_back(Drive("B", {0, 100'000'000, 300'000'000}, 3.0));
  const std::string html = FormatHtml(r);
  auto drives = Lines(html, "drive");
  auto total = Lines(html, "total");
  ASSERT_EQ(drives.size(), 2u);
  ASSERT_EQ(total.size(), 1u);
  // Two points per one-second step.
  ASSERT_EQ(drives[0].size(), 6u);
  ASSERT_EQ(drives[1].size(), 6u);
  ASSERT_EQ(total[0].size(), 6u);
  const double zero = drives[0][0].second;  // A's first step is 0 MB/s
  auto height = [&](const std::vector<std::pair<double, double>>& l,
                    size_t step) { return zero - l[2 * step].second; };
  const double unit = height(drives[0], 1);  // 100 MB/s
  ASSERT_GT(unit, 10);
  EXPECT_NEAR(height(drives[0], 2), unit, 0.05);
  EXPECT_NEAR(height(drives[1], 1), unit, 0.05);
  EXPECT_NEAR(height(drives[1], 2), 3 * unit, 0.05);
  EXPECT_NEAR(height(total[0], 0), 0, 0.05);
  EXPECT_NEAR(height(total[0], 1), 2 * unit, 0.05);
  EXPECT_NEAR(height(total[0], 2), 4 * unit, 0.05);
  // Steps are horizontal and advance in time.
  for (size_t k = 0; k + 1 < total[0].size(); ++k) {
    EXPECT_LE(total[0][k].first, total[0][k + 1].first);
  }
  EXPECT_EQ(total[0][0].second, total[0][1].second);
}

// Goal: a drive's last, partial second is a rate over the part it ran:
// 50 MB in the half second after second 1 is 100 MB/s, the same height as
// the whole second before it, and the line ends half way through.
TEST(HtmlReport, PartialLastSecondIsARate) {
  RunReport r;
  r.command = "verify";
  r.seconds = 2;
  r.drives.push_back(Drive("A", {100'000'000, 50'000'000}, 1.5));
  r.drives.push_back(Drive("B", {10'000'000, 10'000'000}, 2.0));
  const std::string html = FormatHtml(r);
  auto drives = Lines(html, "drive");
  ASSERT_EQ(drives.size(), 2u);
  ASSERT_EQ(drives[0].size(), 4u);
  EXPECT_NEAR(drives[0][0].second, drives[0][2].second, 0.05);
  // A ends at 1.5 s, B at 2 s: A's last x is three quarters of B's span.
  const double x0 = drives[1][0].first;
  EXPECT_NEAR((drives[0][3].first - x0) / (drives[1][3].first - x0), 0.75,
              0.01);
  // The total is 110 MB/s until A stops at 1.5 s, then B's 10 alone.
  auto total = Lines(html, "total");
  ASSERT_EQ(total.size(), 1u);
  ASSERT_EQ(total[0].size(), 6u);  // [0,1) [1,1.5) [1.5,2)
  EXPECT_NEAR(total[0][0].second, total[0][2].second, 0.05);
  EXPECT_GT(total[0][4].second, total[0][2].second);  // lower rate, larger y
}

// Goal: a last piece under half a second is merged into the second
// before it: 5 MB in the last 50 ms is no 100 MB/s spike but part of a
// steady 100 MB/s over the last 1.05 s.
TEST(HtmlReport, ShortLastPieceIsMerged) {
  RunReport r;
  r.command = "verify";
  r.seconds = 2.05;
  r.drives.push_back(Drive("A", {100'000'000, 100'000'000, 5'000'000}, 2.05));
  const std::string html = FormatHtml(r);
  auto drives = Lines(html, "drive");
  ASSERT_EQ(drives.size(), 1u);
  ASSERT_EQ(drives[0].size(), 4u);
  EXPECT_NEAR(drives[0][0].second, drives[0][3].second, 0.05);
  EXPECT_NEAR((drives[0][3].first - drives[0][0].first) /
                  (drives[0][1].first - drives[0][0].first),
              2.05, 0.01);
}

// Goal: a report without drives or timelines still gives a well-formed
// page with its chart (axes and an empty total line) and no NaN anywhere.
TEST(HtmlReport, EmptyReportIsWellFormed) {
  RunReport r;
  r.command = "verify";
  const std::string html = FormatHtml(r);
  EXPECT_EQ(CheckBalanced(html), "");
  EXPECT_EQ(Count(html, "<svg"), 1u);
  EXPECT_EQ(Count(html, "<polyline"), 1u);
  EXPECT_EQ(Count(html, "nan"), 0u);
  EXPECT_EQ(Count(html, "inf"), 0u);
}

// Goal: a ten-hour timeline is drawn with at most 1200 steps per line,
// averaged, so the page stays small.
TEST(HtmlReport, LongRunsAreAveraged) {
  RunReport r;
  r.command = "ingest";
  r.seconds = 36000;
  std::vector<uint64_t> t(36000, 200'000'000);
  r.drives.push_back(Drive("/mnt/long", t, 36000));
  const std::string html = FormatHtml(r);
  auto drives = Lines(html, "drive");
  ASSERT_EQ(drives.size(), 1u);
  EXPECT_LE(drives[0].size(), 2u * 1200);
  EXPECT_GE(drives[0].size(), 2u * 1000);
  for (const auto& [x, y] : drives[0]) {
    EXPECT_NEAR(y, drives[0][0].second, 0.05);  // a constant rate stays flat
  }
  EXPECT_LT(html.size(), 200'000u);
}

// The row of the drive table that names `drive`.
std::string DriveRow(const std::string& html, const std::string& drive) {
  const size_t table = html.find("<table class=\"drives\">");
  const size_t at = html.find(drive, table);
  if (table == std::string::npos || at == std::string::npos) return "";
  const size_t start = html.rfind("<tr>", at);
  return html.substr(start, html.find("</tr>", at) - start);
}

// Goal (issue 14): the drive table shows a drive that carried a bad file
// as not ok, even with no drive-level error; a clean drive stays ok.
TEST(HtmlReport, DriveWithABadFileIsNotOk) {
  RunReport r = ThreeDrives();  // data/x<1>.bin, corrupt, is on drive01
  const std::string html = FormatHtml(r);
  const std::string row = DriveRow(html, "/mnt/drive01");
  ASSERT_FALSE(row.empty()) << html;
  EXPECT_NE(row.find("class=\"s-bad\">bad<"), std::string::npos) << row;
  EXPECT_EQ(row.find(">ok<"), std::string::npos) << row;
  EXPECT_NE(DriveRow(html, "/dev/loop7").find("class=\"s-ok\">ok<"),
            std::string::npos)
      << DriveRow(html, "/dev/loop7");
  // Counted by the run (files_bad) and no row: still not ok.
  r.files.clear();
  r.drives[1].files_bad = 1;
  EXPECT_NE(DriveRow(FormatHtml(r), "/dev/loop7").find(">bad<"),
            std::string::npos);
}

// Goal (issue 14): the page says where the run was and what was checked:
// host, absolute paths, each drive's label and serial, the signature and
// the key's fingerprint; rates in the one unit the summary uses.
TEST(HtmlReport, CarriesHostPathsLabelsAndSignature) {
  RunReport r = ThreeDrives();
  r.host = "station-07";
  r.manifest_absolute = "/srv/m/abs/set.vm";
  r.drives[0].absolute = "/mnt/abs/drive01";
  r.drives[0].label = "ship-01";
  r.drives[0].serial = "WD-XYZ123";
  std::string html = FormatHtml(r);
  EXPECT_NE(html.find("<th>host</th><td>station-07</td>"), std::string::npos)
      << html;
  EXPECT_NE(html.find("/srv/m/abs/set.vm"), std::string::npos);
  const std::string row = DriveRow(html, "/mnt/abs/drive01");
  EXPECT_NE(row.find("<td>ship-01</td><td>WD-XYZ123</td>"), std::string::npos)
      << row;
  EXPECT_NE(html.find("not checked (no --pubkey)"), std::string::npos);
  r.signature_checked = true;
  r.key_fingerprint = "sha256:abcd";
  html = FormatHtml(r);
  EXPECT_NE(html.find("<th>signature</th><td>checked, key sha256:abcd</td>"),
            std::string::npos)
      << html;
  EXPECT_EQ(html.find("MB/s"), std::string::npos);
  EXPECT_NE(html.find("MiB/s"), std::string::npos);
  EXPECT_EQ(CheckBalanced(html), "");
}

}  // namespace
}  // namespace valise
