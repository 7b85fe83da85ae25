// Tests of the run report: exit codes, the human summary and the JSON.
#include "valise/report.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "pipeline/progress_render.h"
#include "pipeline/report_json.h"
#include "support/test_util.h"
#include "valise/manifest.h"

namespace valise {
namespace {

using nlohmann::json;

constexpr uint64_t kMiB = 1 << 20;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

size_t CountOccurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos;
       pos = text.find(what, pos + 1)) {
    ++n;
  }
  return n;
}

// The summary's lines joined back where they were wrapped (a continuation
// is indented four spaces), so a test can look for a whole phrase.
std::string Unwrap(const std::string& s) {
  std::string out;
  for (const std::string& line : Lines(s)) {
    if (line.rfind("    ", 0) == 0 && !out.empty()) {
      out.pop_back();  // the newline
      out += " " + line.substr(4);
    } else {
      out += line;
    }
    out += "\n";
  }
  return out;
}

// Columns on a terminal: one per code point.
size_t Columns(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

DriveReport MakeDrive(const std::string& source, const std::string& kind,
                      uint64_t bytes_read, double seconds) {
  DriveReport d;
  d.source = source;
  d.kind = kind;
  d.bytes_planned = bytes_read;
  d.bytes_read = bytes_read;
  d.seconds = seconds;
  return d;
}

FileResult MakeFile(const std::string& path, FileStatus status, int drive) {
  FileResult f;
  f.path = path;
  f.status = status;
  f.drive = drive;
  return f;
}

// A verify run over two drives with one of every kind of finding.
RunReport ReportWithEveryProblem() {
  RunReport r;
  r.command = "verify";
  r.manifest = "/srv/m/dataset.manifest";
  r.started = "2026-11-28T22:00:00Z";
  r.seconds = 125;
  r.chunk_size = kMiB;
  r.files_expected = 1000;
  r.files_ok = 995;
  r.bytes_expected = 10 * kMiB * 1000;
  r.bytes_verified = 9950 * kMiB;
  r.drives.push_back(MakeDrive("/mnt/drive01", "directory", 6000 * kMiB, 10));
  r.drives.push_back(MakeDrive("/dev/sdc", "block device", 4000 * kMiB, 20));
  r.drives[0].files_ok = 600;
  r.drives[0].files_bad = 2;
  r.drives[1].files_ok = 395;
  r.drives[1].files_bad = 1;

  FileResult corrupt = MakeFile("data/a.bin", FileStatus::kCorrupt, 0);
  corrupt.first_bad_offset = 3145728;
  corrupt.detail = "sha256 mismatch";
  corrupt.expected_size = corrupt.actual_size = 10 * kMiB;
  corrupt.repaired_from = 1;
  r.files.push_back(corrupt);

  FileResult corrupt2 = MakeFile("data/b.bin", FileStatus::kCorrupt, 1);
  corrupt2.detail = "xxh128 mismatch";
  r.files.push_back(corrupt2);

  FileResult size = MakeFile("data/c.bin", FileStatus::kSizeMismatch, 0);
  size.expected_size = kMiB;
  size.actual_size = 512 * 1024;
  r.files.push_back(size);

  FileResult missing = MakeFile("data/d.bin", FileStatus::kMissing, -1);
  missing.expected_size = 2 * kMiB;
  r.files.push_back(missing);

  FileResult unreadable = MakeFile("data/e.bin", FileStatus::kUnreadable, 1);
  unreadable.expected_size = unreadable.actual_size = 8 * kMiB;
  unreadable.bad_ranges.push_back({4096, 8192, EIO});
  unreadable.bad_ranges.push_back({1048576, 512, EILSEQ});
  r.files.push_back(unreadable);

  FileResult extra = MakeFile("stray.tmp", FileStatus::kExtra, 0);
  extra.actual_size = 12 * 1024;
  r.files.push_back(extra);

  FileResult skipped = MakeFile("link", FileStatus::kSkipped, 1);
  skipped.detail = "symlink";
  r.files.push_back(skipped);

  r.dedup_bytes_saved = 3 * kMiB / 2;
  r.verbose_notes.push_back("io_uring: DEFER_TASKRUN unsupported, fell back");
  return r;
}

RunReport CleanReport() {
  RunReport r;
  r.command = "verify";
  r.manifest = "m.txt";
  r.seconds = 10;
  r.files_expected = 1234;
  r.files_ok = 1234;
  r.bytes_expected = r.bytes_verified = 13207024435ull;  // 12.3 GiB
  r.drives.push_back(MakeDrive("/mnt/a", "directory", r.bytes_verified, 10));
  r.drives[0].files_ok = 1234;
  return r;
}

TEST(FileStatusTest, NamesAreTheJsonValues) {
  // Goal: every status has the documented name.
  EXPECT_STREQ(FileStatusName(FileStatus::kOk), "ok");
  EXPECT_STREQ(FileStatusName(FileStatus::kCorrupt), "corrupt");
  EXPECT_STREQ(FileStatusName(FileStatus::kSizeMismatch), "size-mismatch");
  EXPECT_STREQ(FileStatusName(FileStatus::kMissing), "missing");
  EXPECT_STREQ(FileStatusName(FileStatus::kUnreadable), "unreadable");
  EXPECT_STREQ(FileStatusName(FileStatus::kExtra), "extra");
  EXPECT_STREQ(FileStatusName(FileStatus::kSkipped), "skipped");
  EXPECT_STREQ(FileStatusName(FileStatus::kStalled), "stalled");
}

TEST(ExitCodeTest, CleanRunIsZero) {
  // Goal: a run with nothing wrong exits 0, also with no files at all.
  EXPECT_EQ(CleanReport().ExitCode(), 0);
  EXPECT_EQ(RunReport().ExitCode(), 0);
}

TEST(ExitCodeTest, ExtraAndSkippedAloneAreZero) {
  // Goal: extra and skipped files are reported but do not fail the run.
  RunReport r = CleanReport();
  r.files.push_back(MakeFile("x", FileStatus::kExtra, 0));
  r.files.push_back(MakeFile("y", FileStatus::kSkipped, 0));
  r.files.push_back(MakeFile("z", FileStatus::kOk, 0));
  EXPECT_EQ(r.ExitCode(), 0);
}

TEST(ExitCodeTest, EachProblemStatusIsOne) {
  // Goal: each problem status alone makes the exit code 1.
  for (FileStatus s :
       {FileStatus::kCorrupt, FileStatus::kSizeMismatch, FileStatus::kMissing,
        FileStatus::kUnreadable, FileStatus::kStalled}) {
    RunReport r = CleanReport();
    r.files.push_back(MakeFile("x", FileStatus::kExtra, 0));
    r.files.push_back(MakeFile("p", s, 0));
    EXPECT_EQ(r.ExitCode(), 1) << FileStatusName(s);
    EXPECT_TRUE(IsProblem(s));
  }
  EXPECT_FALSE(IsProblem(FileStatus::kOk));
  EXPECT_FALSE(IsProblem(FileStatus::kExtra));
  EXPECT_FALSE(IsProblem(FileStatus::kSkipped));
}

TEST(ExitCodeTest, RepairedCopyStillCounts) {
  // Goal: a corrupt copy repaired from another drive is still a problem.
  RunReport r = CleanReport();
  r.drives.push_back(MakeDrive("/mnt/b", "directory", 0, 1));
  FileResult f = MakeFile("x", FileStatus::kCorrupt, 0);
  f.repaired_from = 1;
  r.files.push_back(f);
  EXPECT_EQ(r.ExitCode(), 1);
}

TEST(ExitCodeTest, DriveErrorsOrStallAreOne) {
  // Goal: drive-level errors and stalls fail the run without file results.
  RunReport errors = CleanReport();
  errors.drives[0].errors.push_back("/mnt/a: scan: Input/output error");
  EXPECT_EQ(errors.ExitCode(), 1);
  RunReport stalled = CleanReport();
  stalled.drives[0].stalled = true;
  EXPECT_EQ(stalled.ExitCode(), 1);
}

TEST(ExitCodeTest, InterruptedIs130EvenWithProblems) {
  // Goal: an interrupted run exits 130 whatever it found so far.
  RunReport r = ReportWithEveryProblem();
  r.interrupted = true;
  EXPECT_EQ(r.ExitCode(), 130);
  RunReport clean = CleanReport();
  clean.interrupted = true;
  EXPECT_EQ(clean.ExitCode(), 130);
}

TEST(HumanTextTest, Sizes) {
  // Goal: sizes use binary units with one decimal and never show "1024.0".
  EXPECT_EQ(HumanBytes(0), "0 B");
  EXPECT_EQ(HumanBytes(1023), "1023 B");
  EXPECT_EQ(HumanBytes(1024), "1.0 KiB");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(kMiB - 1), "1.0 MiB");
  EXPECT_EQ(HumanBytes(13207024435ull), "12.3 GiB");
  EXPECT_EQ(HumanBytes(5ull << 40), "5.0 TiB");
  EXPECT_EQ(HumanBytes(~uint64_t{0}), "16.0 EiB");
}

TEST(HumanTextTest, DurationsAndClock) {
  // Goal: durations and ETAs read naturally and round as documented.
  EXPECT_EQ(HumanDuration(12.34), "12.3s");
  EXPECT_EQ(HumanDuration(245), "4m 05s");
  EXPECT_EQ(HumanDuration(3723), "1h 02m 03s");
  EXPECT_EQ(HumanDuration(-1), "0.0s");
  EXPECT_EQ(ClockTime(6), "0:06");
  EXPECT_EQ(ClockTime(5.2), "0:06");  // rounded up: never "0:00" too early
  EXPECT_EQ(ClockTime(754), "12:34");
  EXPECT_EQ(ClockTime(3723), "1:02:03");
  EXPECT_EQ(ClockTime(-1), "--:--");
  EXPECT_EQ(ClockTime(1e12), "--:--");
  EXPECT_EQ(HumanRate(123456789.0), "123.5 MB/s");
}

TEST(EscapeTest, ManifestRule) {
  // Goal: control bytes, '%', 0x7F and invalid UTF-8 become %XX; valid
  // UTF-8 and spaces stay literal; free text keeps '%'.
  EXPECT_EQ(EscapeReportPath("a b/c.txt"), "a b/c.txt");
  EXPECT_EQ(EscapeReportPath("a\nb\xFF.bin"), "a%0Ab%FF.bin");
  EXPECT_EQ(EscapeReportPath("100%\x7F\t"), "100%25%7F%09");
  EXPECT_EQ(EscapeReportPath("caf\xC3\xA9/\xE2\x82\xAC"),
            "caf\xC3\xA9/\xE2\x82\xAC");
  // Overlong '/' (C0 AF), a lone continuation byte, a surrogate (ED A0 80),
  // a truncated sequence at the end, and beyond U+10FFFF (F4 90 80 80).
  EXPECT_EQ(EscapeReportPath("\xC0\xAF"), "%C0%AF");
  EXPECT_EQ(EscapeReportPath("x\x80y"), "x%80y");
  EXPECT_EQ(EscapeReportPath("\xED\xA0\x80"), "%ED%A0%80");
  EXPECT_EQ(EscapeReportPath("ok\xE2\x82"), "ok%E2%82");
  EXPECT_EQ(EscapeReportPath("\xF4\x90\x80\x80"), "%F4%90%80%80");
  EXPECT_EQ(EscapeReportPath("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");
  EXPECT_EQ(EscapeReportText("50% done\x1b[2J"), "50% done%1B[2J");
}

TEST(EscapeTest, TextFollowsThePathRuleButForPercent) {
  // Goal: on random bytes (invalid UTF-8, controls, valid sequences of
  // every length), free-text escaping equals manifest path escaping once
  // '%' is taken out of the input.
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    std::string raw = test::RandomBytes(64, seed);
    // Bias towards UTF-8 lead and continuation bytes so long valid
    // sequences occur too.
    for (size_t i = 0; i < raw.size(); i += 3) {
      raw[i] = static_cast<char>(0x80 | (raw[i] & 0x7F));
    }
    std::erase(raw, '%');
    EXPECT_EQ(EscapeReportText(raw), EscapeTerminalPath(raw)) << seed;
    EXPECT_EQ(EscapeReportPath(raw), EscapeTerminalPath(raw));
  }
}

TEST(SummaryTest, ContainsTheKeyFacts) {
  // Goal: the summary tells the header, the drive table, each problem with
  // its details, dedup, notes, and ends with the verdict.
  RunReport r = ReportWithEveryProblem();
  SummaryOptions opt;
  opt.verbose = true;
  std::string s = Unwrap(FormatSummary(r, opt));
  std::vector<std::string> lines = Lines(s);
  ASSERT_FALSE(lines.empty());

  // Header.
  EXPECT_NE(lines[0].find("valise verify"), std::string::npos) << s;
  EXPECT_NE(lines[0].find("/srv/m/dataset.manifest"), std::string::npos);
  EXPECT_NE(lines[0].find("2 drives"), std::string::npos);
  EXPECT_NE(lines[0].find("1000 files"), std::string::npos);
  // 10000 MiB in 125 s: 80.0 MiB/s overall.
  EXPECT_NE(lines[1].find("elapsed 2m 05s"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("80.0 MiB/s"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("2026-11-28T22:00:00Z"), std::string::npos);

  // Drive table: 6000 MiB in 10 s = 600.0 MiB/s; 4000 MiB in 20 s = 200.0;
  // each carried a bad file: "bad".
  bool row1 = false, row2 = false;
  for (const std::string& l : lines) {
    if (l.find("/mnt/drive01") != std::string::npos &&
        l.find("directory") != std::string::npos &&
        l.find("600") != std::string::npos &&
        l.find("5.9 GiB") != std::string::npos &&
        l.find("600.0") != std::string::npos &&
        l.rfind("bad") == l.size() - 3) {
      row1 = true;
    }
    if (l.find("/dev/sdc") != std::string::npos &&
        l.find("block device") != std::string::npos &&
        l.find("3.9 GiB") != std::string::npos &&
        l.find("200.0") != std::string::npos) {
      row2 = true;
    }
  }
  EXPECT_TRUE(row1) << s;
  EXPECT_TRUE(row2) << s;

  // Problems with details.
  EXPECT_NE(s.find("data/a.bin (on /mnt/drive01): corrupt at offset 3145728 "
                   "(chunk 3): sha256 mismatch; repaired from /dev/sdc"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("data/b.bin (on /dev/sdc): corrupt, offset unknown: "
                   "xxh128 mismatch"),
            std::string::npos);
  EXPECT_NE(s.find("data/c.bin (on /mnt/drive01): 524288 bytes (512.0 KiB), "
                   "expected 1048576 bytes (1.0 MiB)"),
            std::string::npos);
  EXPECT_NE(s.find("missing, on no drive (1):\n  data/d.bin (2.0 MiB)"),
            std::string::npos);
  EXPECT_NE(s.find("data/e.bin (on /dev/sdc): unreadable at 4096 (8192 "
                   "bytes): Input/output error; at 1048576 (512 bytes): "
                   "Invalid or incomplete multibyte or wide character"),
            std::string::npos);
  EXPECT_NE(s.find("stray.tmp (on /mnt/drive01) (12.0 KiB)"),
            std::string::npos);
  EXPECT_NE(s.find("link (on /dev/sdc): skipped (symlink)"), std::string::npos);
  EXPECT_NE(s.find("dedup: 1.5 MiB not written again"), std::string::npos);
  EXPECT_NE(s.find("note: io_uring: DEFER_TASKRUN unsupported"),
            std::string::npos);
  // Worst first: corrupt before missing before extra.
  EXPECT_LT(s.find("corrupt (2):"), s.find("missing, on no drive (1):"));
  EXPECT_LT(s.find("missing, on no drive (1):"), s.find("extra, on a drive"));

  EXPECT_EQ(lines.back(),
            "valise: 5 problems: 2 corrupt, 1 wrong size, 1 missing, "
            "1 unreadable");
}

TEST(SummaryTest, VerdictWhenAllIsWell) {
  // Goal: a clean run ends with "all N files verified (size)"; extras and
  // skipped files are mentioned without turning it into a problem.
  RunReport r = CleanReport();
  EXPECT_EQ(Lines(FormatSummary(r)).back(),
            "valise: all 1234 files verified (12.3 GiB)");
  r.files.push_back(MakeFile("x", FileStatus::kExtra, 0));
  // A part too long for the verdict's 80 columns goes on the line above.
  std::vector<std::string> lines = Lines(FormatSummary(r));
  EXPECT_EQ(lines.back(), "valise: all 1234 files verified (12.3 GiB)");
  EXPECT_EQ(lines[lines.size() - 2], "also 1 extra, 0 skipped (listed above)");
  r.manifest = "m";
  r.files_expected = r.files_ok = 3;
  r.bytes_verified = 3;
  EXPECT_EQ(Lines(FormatSummary(r)).back(),
            "valise: all 3 files verified (3 B); also 1 extra, 0 skipped "
            "(listed above)");
  RunReport ingest = CleanReport();
  ingest.command = "ingest";
  ingest.dest = "/data/x";
  ingest.files_ok = 1000;
  ingest.files_skipped_resume = 234;
  std::string s = FormatSummary(ingest);
  // A rerun's verdict says what it verified and what it trusted (issue 12,
  // item 3): on the line above when the verdict's 80 columns cannot hold it.
  EXPECT_EQ(Lines(s).back(),
            "valise: all 1234 files verified and staged (12.3 GiB)");
  EXPECT_EQ(Lines(s)[Lines(s).size() - 2],
            "rerun: 1000 verified now, 234 trusted from the journal");
  EXPECT_NE(s.find("dest /data/x"), std::string::npos);
  EXPECT_NE(s.find("resume: 234 files already staged"), std::string::npos);
  ingest.files_rechecked = 7;
  EXPECT_NE(FormatSummary(ingest).find(
                "\nrerun: 1000 verified now, 234 trusted from the journal, 7 "
                "read back from DEST\nvalise: all 1234 files verified and "
                "staged (12.3 GiB)\n"),
            std::string::npos)
      << FormatSummary(ingest);
  ingest.files_skipped_resume = 0;
  ingest.files_rechecked = 0;
  ingest.files_ok = 1234;
  EXPECT_EQ(Lines(FormatSummary(ingest)).back(),
            "valise: all 1234 files verified and staged (12.3 GiB)");
}

TEST(SummaryTest, VerdictDoesNotClaimAllWhenFilesAreUnaccounted) {
  // Goal: with no problem listed but fewer files ok than expected, the
  // verdict gives the counts instead of "all".
  RunReport r = CleanReport();
  r.files_ok = 1200;
  std::string last = Lines(FormatSummary(r)).back();
  EXPECT_EQ(last.find("all"), std::string::npos) << last;
  EXPECT_NE(last.find("1200 of 1234"), std::string::npos) << last;
}

TEST(SummaryTest, DriveProblemsAndInterruption) {
  // Goal: drive errors and stalls appear in the table, under it and in the
  // verdict; an interrupted run says so and how to resume.
  RunReport r = CleanReport();
  r.drives.push_back(MakeDrive("/mnt/b", "directory", 0, 5));
  r.drives.push_back(MakeDrive("/mnt/c", "image", 0, 5));
  r.drives[1].errors.push_back("/mnt/b: open: Permission denied");
  r.drives[2].stalled = true;
  r.drives[2].errors.push_back("no answer for 30 s");
  std::string s = FormatSummary(r);
  // Named once when the message names the drive, prefixed when not.
  EXPECT_NE(s.find("\n  /mnt/b: open: Permission denied\n"), std::string::npos)
      << s;
  EXPECT_NE(s.find("\n  /mnt/c: no answer for 30 s\n"), std::string::npos);
  EXPECT_NE(s.find("errors\n"), std::string::npos);
  EXPECT_NE(s.find("stalled\n"), std::string::npos);
  EXPECT_EQ(Lines(s).back(),
            "valise: 2 problems: 1 drive with errors, 1 drive stalled");

  RunReport i = ReportWithEveryProblem();
  i.interrupted = true;
  std::vector<std::string> lines = Lines(FormatSummary(i));
  EXPECT_EQ(lines.back(),
            "valise: interrupted after 2m 05s: 995 of 1000 files verified; "
            "rerun to resume");
  EXPECT_EQ(lines[lines.size() - 2],
            "5 problems so far: 2 corrupt, 1 wrong size, 1 missing, 1 "
            "unreadable");
}

TEST(SummaryTest, ListingIsCappedPerStatus) {
  // Goal: at most `list_limit` files of one status are listed, then a line
  // saying how many more; the count in the title stays the true one.
  RunReport r = CleanReport();
  for (int i = 0; i < 120; ++i) {
    r.files.push_back(
        MakeFile("miss/" + std::to_string(1000 + i), FileStatus::kMissing, -1));
  }
  for (int i = 0; i < 3; ++i) {
    r.files.push_back(
        MakeFile("bad/" + std::to_string(i), FileStatus::kCorrupt, 0));
  }
  std::string s = FormatSummary(r);
  EXPECT_EQ(CountOccurrences(s, "  miss/"), kSummaryListLimit) << s;
  EXPECT_NE(s.find("missing, on no drive (120):"), std::string::npos);
  EXPECT_NE(s.find("  ... and 70 more (see --report)\n"), std::string::npos);
  EXPECT_EQ(CountOccurrences(s, "  bad/"), 3u);
  EXPECT_EQ(CountOccurrences(s, "... and"), 1u);
  EXPECT_EQ(Lines(s).back(), "valise: 123 problems: 3 corrupt, 120 missing");

  std::string small = FormatSummary(r, 10);
  EXPECT_EQ(CountOccurrences(small, "  miss/"), 10u);
  EXPECT_NE(small.find("  ... and 110 more (see --report)\n"),
            std::string::npos);
}

TEST(SummaryTest, UnprintablePathBytesAreEscaped) {
  // Goal: a path holding a newline, an escape and a 0xFF byte cannot break
  // a line or reach the terminal raw; details are escaped too.
  RunReport r = CleanReport();
  FileResult f = MakeFile("dir/a\nb\xFF\x1b[2J.bin", FileStatus::kCorrupt, 0);
  f.detail = "read: bad\nline";
  r.files.push_back(f);
  std::string s = FormatSummary(r);
  EXPECT_NE(s.find("dir/a%0Ab%FF%1B[2J.bin (on /mnt/a)"), std::string::npos)
      << s;
  EXPECT_NE(s.find("read: bad%0Aline"), std::string::npos);
  EXPECT_EQ(s.find('\xFF'), std::string::npos);
  EXPECT_EQ(s.find('\x1b'), std::string::npos);
  EXPECT_EQ(s.find("a\nb"), std::string::npos);
}

TEST(SummaryTest, C1AndBidiCharactersInNamesAreEscaped) {
  // Goal (issue 12, item 12): a C1 control (U+009B, CSI) or a bidi
  // override (U+202E) in a name, a detail or a drive's name never reaches
  // the terminal raw; each of its bytes is %XX, as control bytes are.
  RunReport r = CleanReport();
  r.drives[0].source = "/mnt/\u2066d";
  r.drives[0].errors.push_back("scan: \u200F in a message");
  FileResult f = MakeFile("x\u009By/r\u202Eevil.txt", FileStatus::kCorrupt, 0);
  f.detail = "sha256 mismatch \u061C";
  r.files.push_back(f);
  std::string s = FormatSummary(r);
  EXPECT_NE(s.find("x%C2%9By/r%E2%80%AEevil.txt"), std::string::npos) << s;
  EXPECT_NE(s.find("/mnt/%E2%81%A6d"), std::string::npos) << s;
  EXPECT_NE(s.find("scan: %E2%80%8F in a message"), std::string::npos) << s;
  EXPECT_NE(s.find("mismatch %D8%9C"), std::string::npos) << s;
  for (std::string_view raw :
       {"\u009B", "\u202E", "\u2066", "\u200F", "\u061C"}) {
    EXPECT_EQ(s.find(raw), std::string::npos) << s;
  }
}

TEST(JsonTest, C1AndBidiCharactersInNamesAreKeptExact) {
  // Goal (issue 12, item 12): the JSON is for programs: a path is escaped
  // as in a manifest, so a C1 control or a bidi character stays the UTF-8
  // character it is and UnescapePath gives the exact name back.
  RunReport r = CleanReport();
  const std::string name = "x\u009By/r\u202Eevil%.txt";
  r.files.push_back(MakeFile(name, FileStatus::kCorrupt, 0));
  json j = json::parse(FormatJson(r));
  const std::string got = j["files"][0]["path"];
  EXPECT_EQ(got, EscapePath(name));
  EXPECT_EQ(got, "x\u009By/r\u202Eevil%25.txt");
  std::string back;
  ASSERT_TRUE(UnescapePath(got, &back).ok());
  EXPECT_EQ(back, name);
}

TEST(JsonTest, ParsesWithEveryKey) {
  // Goal: the JSON parses back, carries the schema and every documented
  // key at the top level, in totals, in drives and in files.
  std::string text = FormatJson(ReportWithEveryProblem());
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(j.is_discarded()) << text;
  EXPECT_EQ(j["schema"], "valise-report/1");
  for (const char* key : {"schema", "command", "manifest", "dest", "started",
                          "seconds", "exit_code", "interrupted", "chunk_size",
                          "totals", "drives", "files", "notes", "parity"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  for (const char* key :
       {"files_expected", "files_ok", "files_problem", "bytes_expected",
        "bytes_verified", "dedup_bytes_saved", "files_skipped_resume",
        "files_rechecked", "drives_with_errors", "drives_stalled",
        "by_status"}) {
    EXPECT_TRUE(j["totals"].contains(key)) << key;
  }
  for (const char* status : {"corrupt", "size-mismatch", "missing",
                             "unreadable", "stalled", "extra", "skipped"}) {
    EXPECT_TRUE(j["totals"]["by_status"].contains(status)) << status;
  }
  ASSERT_EQ(j["drives"].size(), 2u);
  for (const char* key :
       {"source", "kind", "bytes_planned", "bytes_read", "files_ok",
        "files_bad", "seconds", "rate_bytes_per_s", "stalled", "errors",
        "timeline"}) {
    EXPECT_TRUE(j["drives"][0].contains(key)) << key;
  }
  ASSERT_EQ(j["files"].size(), 7u);
  for (const json& f : j["files"]) {
    for (const char* key : {"path", "drive", "status", "expected_size",
                            "actual_size", "first_bad_offset", "bad_ranges",
                            "detail", "repaired_from", "parity", "digests"}) {
      EXPECT_TRUE(f.contains(key)) << key;
    }
  }
  // Key order is stable: schema first.
  EXPECT_EQ(text.find("{\n  \"schema\": \"valise-report/1\""), 0u) << text;
}

TEST(JsonTest, NumbersAreRight) {
  // Goal: counts, sizes, offsets, rates and errno values come out exact.
  RunReport r = ReportWithEveryProblem();
  r.drives[0].bytes_per_second = {100, 200, 0, 50};
  r.files[0].digests.push_back(Digest());
  ASSERT_TRUE(Digest::FromHex(
      DigestType::kSha256,
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      &r.files[0].digests[0]));
  json j = json::parse(FormatJson(r));
  EXPECT_EQ(j["command"], "verify");
  EXPECT_EQ(j["seconds"], 125.0);
  EXPECT_EQ(j["exit_code"], 1);
  EXPECT_EQ(j["chunk_size"], kMiB);
  const json& t = j["totals"];
  EXPECT_EQ(t["files_expected"], 1000);
  EXPECT_EQ(t["files_ok"], 995);
  EXPECT_EQ(t["files_problem"], 5);
  EXPECT_EQ(t["bytes_expected"], 10000 * kMiB);
  EXPECT_EQ(t["bytes_verified"], 9950 * kMiB);
  EXPECT_EQ(t["dedup_bytes_saved"], 3 * kMiB / 2);
  EXPECT_EQ(t["by_status"]["corrupt"], 2);
  EXPECT_EQ(t["by_status"]["size-mismatch"], 1);
  EXPECT_EQ(t["by_status"]["missing"], 1);
  EXPECT_EQ(t["by_status"]["unreadable"], 1);
  EXPECT_EQ(t["by_status"]["stalled"], 0);
  EXPECT_EQ(t["by_status"]["extra"], 1);
  EXPECT_EQ(t["by_status"]["skipped"], 1);

  const json& d0 = j["drives"][0];
  EXPECT_EQ(d0["source"], "/mnt/drive01");
  EXPECT_EQ(d0["bytes_read"], 6000 * kMiB);
  EXPECT_EQ(d0["files_ok"], 600);
  EXPECT_EQ(d0["files_bad"], 2);
  EXPECT_EQ(d0["rate_bytes_per_s"], 6000 * kMiB / 10);
  EXPECT_EQ(d0["timeline"], json::array({100, 200, 0, 50}));
  EXPECT_EQ(d0["stalled"], false);

  const json& a = j["files"][0];
  EXPECT_EQ(a["path"], "data/a.bin");
  EXPECT_EQ(a["status"], "corrupt");
  EXPECT_EQ(a["first_bad_offset"], 3145728);
  EXPECT_EQ(a["expected_size"], 10 * kMiB);
  EXPECT_EQ(a["digests"]["sha256"],
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const json& e = j["files"][4];
  EXPECT_EQ(e["status"], "unreadable");
  ASSERT_EQ(e["bad_ranges"].size(), 2u);
  EXPECT_EQ(e["bad_ranges"][0]["offset"], 4096);
  EXPECT_EQ(e["bad_ranges"][0]["length"], 8192);
  EXPECT_EQ(e["bad_ranges"][0]["errno"], EIO);
  EXPECT_EQ(e["bad_ranges"][0]["error"], "Input/output error");
  EXPECT_EQ(e["bad_ranges"][1]["errno"], EILSEQ);
  EXPECT_EQ(j["notes"][0], "io_uring: DEFER_TASKRUN unsupported, fell back");
}

TEST(JsonTest, NullVersusValues) {
  // Goal: what does not apply is null, what does is a value: drive of a
  // missing file, unknown offset, no repair, sizes that make no sense, a
  // drive without a time, an empty dest.
  RunReport r = ReportWithEveryProblem();
  r.drives[1].seconds = 0;
  json j = json::parse(FormatJson(r));
  EXPECT_TRUE(j["dest"].is_null());
  EXPECT_EQ(j["started"], "2026-11-28T22:00:00Z");
  EXPECT_TRUE(j["drives"][1]["rate_bytes_per_s"].is_null());
  EXPECT_TRUE(j["drives"][0]["rate_bytes_per_s"].is_number_unsigned());

  const json& a = j["files"][0];  // corrupt, offset known, repaired
  EXPECT_EQ(a["drive"], "/mnt/drive01");
  EXPECT_EQ(a["repaired_from"], "/dev/sdc");
  EXPECT_EQ(a["detail"], "sha256 mismatch");
  const json& b = j["files"][1];  // corrupt, offset unknown
  EXPECT_TRUE(b["first_bad_offset"].is_null());
  EXPECT_TRUE(b["repaired_from"].is_null());
  EXPECT_TRUE(b["digests"].is_object());
  EXPECT_TRUE(b["digests"].empty());
  const json& c = j["files"][2];  // size mismatch, no detail
  EXPECT_TRUE(c["detail"].is_null());
  EXPECT_EQ(c["actual_size"], 512 * 1024);
  const json& d = j["files"][3];  // missing
  EXPECT_TRUE(d["drive"].is_null());
  EXPECT_TRUE(d["actual_size"].is_null());
  EXPECT_EQ(d["expected_size"], 2 * kMiB);
  EXPECT_TRUE(d["bad_ranges"].is_array());
  EXPECT_TRUE(d["bad_ranges"].empty());
  const json& x = j["files"][5];  // extra
  EXPECT_TRUE(x["expected_size"].is_null());
  EXPECT_EQ(x["actual_size"], 12 * 1024);

  RunReport ingest = CleanReport();
  ingest.dest = "/data";
  ingest.chunk_size = 0;
  json k = json::parse(FormatJson(ingest));
  EXPECT_EQ(k["dest"], "/data");
  EXPECT_TRUE(k["chunk_size"].is_null());
  EXPECT_EQ(k["exit_code"], 0);
  EXPECT_TRUE(k["files"].empty());
  EXPECT_TRUE(k["notes"].empty());
}

TEST(JsonTest, PathsEscapedAndBadTextSurvives) {
  // Goal: paths are escaped as in manifest v1; free text with bytes that
  // are not UTF-8 does not make the writer fail (it would throw in
  // nlohmann::json by default) and the output still parses.
  RunReport r = CleanReport();
  FileResult f = MakeFile("a\nb\xFF%.bin", FileStatus::kUnreadable, 0);
  f.detail = "open: \xFF\xFE bad";
  r.files.push_back(f);
  r.drives[0].errors.push_back("scan \xC0");
  r.notes.push_back("note \xFF");
  std::string text = FormatJson(r);
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(j.is_discarded()) << text;
  EXPECT_EQ(j["files"][0]["path"], "a%0Ab%FF%25.bin");
  EXPECT_EQ(j["files"][0]["detail"], "open: \xEF\xBF\xBD\xEF\xBF\xBD bad");
  EXPECT_EQ(j["exit_code"], 1);
}

// A manifest of `n` entries "miss/NNNNN" (sizes 1000 + i), xxh128 only.
Manifest MissingManifest(size_t n) {
  DigestSet set;
  set.Add(DigestType::kXxh128);
  Manifest m(set);
  Digest d;
  d.type = DigestType::kXxh128;
  d.size = static_cast<uint8_t>(DigestSize(DigestType::kXxh128));
  for (size_t i = 0; i < n; ++i) {
    char path[32];
    snprintf(path, sizeof(path), "miss/%05zu", i);
    m.Add(path, 1000 + i, 0, {d});
  }
  EXPECT_TRUE(m.Finish().ok());
  return m;
}

// The row VerifyDrives writes for a missing entry when rows are not
// compact.
FileResult MissingRow(const Manifest& m, size_t e) {
  FileResult f = MakeFile(std::string(m.path(e)), FileStatus::kMissing, -1);
  f.expected_size = m.file_size(e);
  return f;
}

TEST(CompactMissingTest, RendersLikeFullRows) {
  // Goal: compact missing rows (RunReport::AddMissing: an entry index
  // instead of a FileResult) render exactly as the same rows held in
  // `files`: same place among the other rows in the JSON, same summary
  // sections and caps, same HTML, same exit code; ForEachFile visits them
  // in the order they were added, runs of them between rows included.
  const Manifest m = MissingManifest(1100);
  RunReport full = ReportWithEveryProblem();
  RunReport compact = ReportWithEveryProblem();
  compact.compact_missing = true;
  // Before, between and after rows of `files`, with runs of several.
  size_t next = 0;
  auto add = [&](size_t count) {
    for (size_t k = 0; k < count; ++k, ++next) {
      full.files.push_back(MissingRow(m, next));
      compact.AddMissing(&m, next);
    }
  };
  auto add_row = [&](const FileResult& f) {
    full.files.push_back(f);
    compact.files.push_back(f);
  };
  // ReportWithEveryProblem's rows come first; a compact row is placed
  // after them, so rebuild both with rows interleaved.
  std::vector<FileResult> base = full.files;
  full.files.clear();
  compact.files.clear();
  add(3);
  add_row(base[0]);
  add_row(base[1]);
  add(1);
  add_row(base[2]);
  add(1050);
  for (size_t i = 3; i < base.size(); ++i) add_row(base[i]);
  add(46);
  ASSERT_EQ(next, m.size());

  EXPECT_EQ(compact.num_files(), full.files.size());
  EXPECT_EQ(compact.num_compact_missing(), m.size());
  EXPECT_EQ(compact.files.size(), base.size());
  std::vector<std::string> order;
  compact.ForEachFile([&](const FileResult& f) { order.push_back(f.path); });
  ASSERT_EQ(order.size(), full.files.size());
  for (size_t i = 0; i < order.size(); ++i) {
    EXPECT_EQ(order[i], full.files[i].path) << "row " << i;
  }
  EXPECT_EQ(FormatJson(compact), FormatJson(full));
  EXPECT_EQ(FormatSummary(compact), FormatSummary(full));
  EXPECT_EQ(FormatSummary(compact, 2), FormatSummary(full, 2));
  EXPECT_EQ(FormatHtml(compact), FormatHtml(full));
  EXPECT_EQ(compact.ExitCode(), 1);
  // The JSON really lists them all, with the manifest's sizes.
  json j = json::parse(FormatJson(compact));
  EXPECT_EQ(j["totals"]["by_status"]["missing"], m.size() + 1);
  EXPECT_EQ(j["files"][0]["path"], "miss/00000");
  EXPECT_EQ(j["files"][0]["expected_size"], 1000);
  EXPECT_TRUE(j["files"][0]["actual_size"].is_null());
  EXPECT_TRUE(j["files"][0]["drive"].is_null());
}

TEST(CompactMissingTest, AloneMakeExitCodeOne) {
  // Goal: a report whose only problems are compact missing rows is exit 1
  // and says so in its verdict; without them it is clean.
  const Manifest m = MissingManifest(3);
  RunReport r = CleanReport();
  r.compact_missing = true;
  EXPECT_EQ(r.ExitCode(), 0);
  r.AddMissing(&m, 1);
  EXPECT_EQ(r.ExitCode(), 1);
  EXPECT_TRUE(r.files.empty());
  EXPECT_EQ(r.num_files(), 1u);
  const std::string s = FormatSummary(r);
  EXPECT_NE(s.find("missing, on no drive (1):\n  miss/00001 (1001 B)\n"),
            std::string::npos)
      << s;
  EXPECT_EQ(Lines(s).back(), "valise: 1 problem: 1 missing");
}

// Goal: WriteJson hands the same text as FormatJson to its sink, in
// pieces of about 1 MiB (a report with many rows is never held whole): the
// pieces joined are FormatJson's text, there are several, and none is
// much over 1 MiB.
TEST(JsonTest, WriteJsonStreamsInPieces) {
  RunReport r = CleanReport();
  for (int i = 0; i < 20000; ++i) {
    FileResult f = MakeFile("dir/file-" + std::to_string(i) + ".bin",
                            FileStatus::kMissing, 0);
    r.files.push_back(f);
  }
  std::vector<std::string> pieces;
  WriteJson(r, [&](std::string_view p) { pieces.emplace_back(p); });
  std::string joined;
  for (const std::string& p : pieces) {
    EXPECT_LT(p.size(), size_t{(1 << 20) + 4096});
    joined += p;
  }
  EXPECT_GT(pieces.size(), 2u);
  EXPECT_EQ(joined, FormatJson(r));
}

// Goal (issue 18): a packed shipment's parity is told in the summary (one
// line: K+M, the drives lost, the files rebuilt and not, the drives it
// could still lose; each row marked) and in the JSON (the "parity" object,
// null otherwise, and each row's "parity").
TEST(ReportParity, SummaryAndJsonSayWhatParityDid) {
  RunReport r = ReportWithEveryProblem();
  json j = json::parse(FormatJson(r));
  EXPECT_TRUE(j["parity"].is_null());
  EXPECT_TRUE(j["files"][0]["parity"].is_null());
  EXPECT_EQ(FormatSummary(r).find("parity:"), std::string::npos);
  r.parity.present = true;
  r.parity.data_drives = 4;
  r.parity.parity_drives = 2;
  r.parity.drives_lost = {"ship-03", "ship-04"};
  r.parity.files_rebuilt = 1;
  r.parity.files_unrecoverable = 1;
  r.parity.chunks_rebuilt = 12;
  r.parity.stripes_degraded = 30;
  r.parity.stripes_lost = 0;
  r.parity.spare = 0;
  r.files[0].parity = FileResult::Parity::kRebuilt;
  r.files[1].parity = FileResult::Parity::kUnrecoverable;
  const std::string text = Unwrap(FormatSummary(r));
  EXPECT_NE(text.find("parity: 4+2; drives not given: ship-03, ship-04; 1 "
                      "file rebuilt from parity (12 chunks), 1 cannot be; "
                      "the shipment could still lose 0 more drives\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("; rebuilt from parity"), std::string::npos) << text;
  EXPECT_NE(text.find("; cannot be rebuilt from parity"), std::string::npos)
      << text;
  r.parity.stripes_lost = 3;
  EXPECT_NE(
      Unwrap(FormatSummary(r)).find("; 3 stripes lost more than 2 members\n"),
      std::string::npos);
  j = json::parse(FormatJson(r));
  const json& p = j["parity"];
  EXPECT_EQ(p["data_drives"], 4);
  EXPECT_EQ(p["parity_drives"], 2);
  EXPECT_EQ(p["drives_lost"], json({"ship-03", "ship-04"}));
  EXPECT_EQ(p["files_rebuilt"], 1);
  EXPECT_EQ(p["files_unrecoverable"], 1);
  EXPECT_EQ(p["chunks_rebuilt"], 12);
  EXPECT_EQ(p["stripes_degraded"], 30);
  EXPECT_EQ(p["stripes_lost"], 3);
  EXPECT_EQ(p["spare_drives"], 0);
  EXPECT_EQ(j["files"][0]["parity"], "rebuilt");
  EXPECT_EQ(j["files"][1]["parity"], "unrecoverable");
  EXPECT_TRUE(j["files"][2]["parity"].is_null());
}

// A run with everything an operator can meet at once: labelled drives
// with long sources and serials, corrupt copies with long details and
// many bad chunk runs, unreadable ranges, a path longer than a line, a
// drive that failed whole (300 files unreadable), missing files, notes.
RunReport RichReport() {
  RunReport r = ReportWithEveryProblem();
  r.command = "ingest";
  r.dest = "/srv/ingest/shipment-0001/a/rather/long/destination/path";
  r.host = "ingest-station-07.datacenter.example.org";
  r.manifest = "/home/operator/shipments/2026-12/shipment-0001/shipment.vm";
  r.drives[0].source = "/dev/disk/by-id/usb-WDC_WD80EFAX-68KNBN0_VAHX5B3L-0:0";
  r.drives[0].label = "ship-01";
  r.drives[0].serial = "VAHX5B3L";
  r.drives[0].resolved = "/dev/sdb";
  r.drives[1].source = "/mnt/valise-watch/mount-points/ship-02-second-batch";
  r.drives[1].label = "ship-02";
  DriveReport failed = MakeDrive("/mnt/ship-03", "block device", 0, 30);
  failed.label = "ship-03";
  failed.stalled = true;
  failed.errors.push_back(
      "/mnt/ship-03: no completion for 30 s on any of its 16 reads in "
      "flight; the drive is reported stalled and the others finish");
  failed.files_bad = 300;
  r.drives.push_back(failed);
  for (int i = 0; i < 300; ++i) {
    FileResult f =
        MakeFile("on-ship-03/" + std::to_string(i), FileStatus::kUnreadable, 2);
    f.expected_size = 4 * kMiB;
    f.bad_ranges.push_back({0, 4096, EIO});
    r.files.push_back(f);
  }
  FileResult many = MakeFile(
      "data/projects/2026/telescope-survey/raw/night-0142/frames/"
      "frame-000001234567.fits",
      FileStatus::kCorrupt, 1);
  many.first_bad_offset = 7340032;
  many.detail =
      "sha256 mismatch; 37 of 800 chunks differ from their chunk digests "
      "(the manifest's digests and its chunk index agree)";
  for (uint64_t k = 0; k < 9; ++k) {
    many.corrupt_ranges.push_back({(7 + 10 * k) * kMiB, 2 * kMiB, 0});
  }
  many.repaired_from = 0;
  r.files.push_back(many);
  FileResult unreadable = MakeFile("data/e2.bin", FileStatus::kUnreadable, 1);
  for (uint64_t k = 0; k < 7; ++k) {
    unreadable.bad_ranges.push_back({k * 1048576 + 4096, 4096, EIO});
  }
  r.files.push_back(unreadable);
  // A path no line can hold: never broken.
  const std::string deep =
      "data/" + std::string(50, 'd') + "/" + std::string(60, 'e') + ".bin";
  FileResult longpath = MakeFile(deep, FileStatus::kMissing, -1);
  longpath.expected_size = 3 * kMiB;
  r.files.push_back(longpath);
  r.notes.clear();
  r.verbose_notes.clear();
  r.notes.push_back(
      "--recheck: 5 files staged by an earlier run were read back from DEST "
      "and checked against the manifest");
  r.verbose_notes.push_back(
      "io_uring: SINGLE_ISSUER and DEFER_TASKRUN unsupported by this kernel, "
      "fell back to the plain ring");
  r.verbose_notes.push_back("durability: one syncfs of DEST per commit batch");
  r.files_expected = 2000000;
  r.files_skipped_resume = 1234567;
  r.files_rechecked = 7;
  r.parity.present = true;
  r.parity.data_drives = 4;
  r.parity.parity_drives = 2;
  r.parity.drives_lost = {"ship-03", "ship-04"};
  r.parity.files_rebuilt = 1;
  r.parity.chunks_rebuilt = 12;
  return r;
}

TEST(SummaryTest, FitsEightyColumns) {
  // Goal (issue 14): every line of the summary of a rich case (corrupt
  // copies, missing files, a failed drive, long paths, labels, notes,
  // verbose or not, interrupted or stopped or not) fits 80 columns. The
  // one rule that allows a wider line: a path (or a drive name) longer
  // than the room is never broken, and then stands alone on its line.
  // The words allowed to stand alone wider than 80 columns: the paths.
  std::set<std::string> paths;
  RunReport base = RichReport();
  base.ForEachFile([&](const FileResult& f) { paths.insert(f.path); });
  size_t too_long = 0;
  for (const std::string& p : paths) too_long += Columns(p) > 76;
  ASSERT_EQ(too_long, 2u);  // the two files' paths longer than a line
  for (int variant = 0; variant < 4; ++variant) {
    RunReport r = RichReport();
    if (variant == 1) r.interrupted = true;
    if (variant == 2) {
      r.fatal_error =
          "DEST failing: /srv/ingest/shipment-0001/.valise/journal: write: "
          "No space left on device (28 files committed before it)";
    }
    SummaryOptions opt;
    opt.verbose = variant == 3;
    const std::string s = FormatSummary(r, opt);
    size_t wide = 0;
    for (const std::string& line : Lines(s)) {
      if (Columns(line) <= kSummaryWidth) continue;
      ++wide;
      // Only an unbreakable path, alone after the indent.
      EXPECT_EQ(paths.count(line.substr(line.find_first_not_of(' '))), 1u)
          << "variant " << variant << ": a line of " << Columns(line)
          << " columns:\n"
          << line << "\n\n"
          << s;
    }
    EXPECT_EQ(wide, too_long) << s;  // each long path's line, whole
    EXPECT_EQ(Lines(s).back().rfind("valise: ", 0), 0u) << s;
    EXPECT_LE(Columns(Lines(s).back()), kSummaryWidth);
  }
}

TEST(SummaryTest, OneLinePerFailedDrive) {
  // Goal (issue 14): the 300 files of a drive that failed whole are one
  // line, not 300; a drive with errors that still delivered files keeps
  // its files listed one by one.
  RunReport r = RichReport();
  std::string s = FormatSummary(r);
  EXPECT_EQ(CountOccurrences(s, "on-ship-03/"), 0u) << s;
  EXPECT_NE(Unwrap(s).find("  ship-03: 300 files (1.2 GiB): the whole drive "
                           "failed, see its errors above"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("unreadable (302):"), std::string::npos) << s;
  EXPECT_EQ(Lines(s).back().find("302 unreadable"), std::string::npos) << s;
  EXPECT_NE(Unwrap(s).find("302 unreadable"), std::string::npos) << s;
  // The same drive having delivered one file: listed file by file.
  r.drives[2].files_ok = 1;
  s = FormatSummary(r, 1000);
  EXPECT_EQ(CountOccurrences(s, "on-ship-03/"), 300u);
  EXPECT_EQ(s.find("the whole drive failed"), std::string::npos);
}

TEST(SummaryTest, NextStepForEachKindOfProblem) {
  // Goal (issue 14): each section of problems, and the drive errors, end
  // with what the operator does next.
  RunReport r = RichReport();
  r.files.push_back(MakeFile("st", FileStatus::kStalled, 1));
  const std::string s = Unwrap(FormatSummary(r));
  for (const char* title :
       {"\ncorrupt (", "\nwrong size (", "\nunreadable (", "\nstalled, drive",
        "\nmissing, on no drive (", "\nextra, on a drive", "\nskipped, not"}) {
    const size_t at = s.find(title);
    ASSERT_NE(at, std::string::npos) << title << "\n" << s;
    const size_t end = s.find("\n\n", at + 1);
    const size_t next = s.find("\n  next: ", at);
    EXPECT_LT(next, end) << "no next step under " << title << "\n" << s;
  }
  EXPECT_NE(s.find("next: check the failed drive's cable and power"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("`valise status -m M DEST` names the drives"),
            std::string::npos);
}

TEST(SummaryTest, IoUringAndDurabilityNotesOnlyWhenVerbose) {
  // Goal (issue 14): how the run read and wrote is told with --verbose
  // only; the operator's notes always; the JSON has both.
  RunReport r = RichReport();
  std::string quiet = FormatSummary(r);
  EXPECT_EQ(quiet.find("io_uring"), std::string::npos) << quiet;
  EXPECT_EQ(quiet.find("durability"), std::string::npos);
  EXPECT_NE(quiet.find("note: --recheck: 5 files"), std::string::npos);
  SummaryOptions opt;
  opt.verbose = true;
  std::string verbose = FormatSummary(r, opt);
  EXPECT_NE(verbose.find("note: io_uring: SINGLE_ISSUER"), std::string::npos)
      << verbose;
  EXPECT_NE(verbose.find("note: durability: one syncfs"), std::string::npos);
  json j = json::parse(FormatJson(r));
  EXPECT_EQ(j["notes"].size(), 3u) << j["notes"];  // 1 note, 2 verbose
}

TEST(SummaryTest, OneUnitConventionSaidOnce) {
  // Goal (issue 14): sizes and rates are both binary, and the summary says
  // so once; no decimal unit appears.
  const std::string s = FormatSummary(RichReport());
  EXPECT_EQ(CountOccurrences(s, "binary units"), 1u) << s;
  for (const char* decimal : {"MB/s", " MB", " GB", " kB", " TB"}) {
    EXPECT_EQ(s.find(decimal), std::string::npos) << decimal << "\n" << s;
  }
  EXPECT_NE(s.find("MiB/s"), std::string::npos);
  // 10000 MiB read in 125 s: 80.0 MiB/s.
  EXPECT_NE(s.find("at 80.0 MiB/s"), std::string::npos) << s;
}

TEST(SummaryTest, DrivesNamedByLabelWithTheirSourceAndSerial) {
  // Goal (issue 14): a drive matched to M.drives is named by its label in
  // the table and the file lines; which drive that is (its source, what a
  // link named, its serial) is said once under the table.
  const std::string s = Unwrap(FormatSummary(RichReport()));
  EXPECT_NE(s.find("\n  ship-01 "), std::string::npos) << s;
  EXPECT_NE(s.find("  ship-01: /dev/disk/by-id/usb-WDC_WD80EFAX-68KNBN0_"
                   "VAHX5B3L-0:0 -> /dev/sdb, serial VAHX5B3L\n"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("(on ship-02): corrupt at offset 7340032 (chunk 7)"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("repaired from ship-01"), std::string::npos) << s;
}

TEST(JsonTest, CarriesHostPathsLabelsAndSignature) {
  // Goal (issue 14): the JSON says where the run was (host, absolute
  // paths), which drive each SRC was (label, serial) and whether the
  // manifest's signature was checked, with which key.
  RunReport r = RichReport();
  r.manifest_absolute = "/home/operator/shipments/shipment.vm";
  r.dest_absolute = "/srv/ingest/shipment-0001";
  r.drives[1].absolute = "/mnt/ship-02";
  r.signature_checked = true;
  r.key_fingerprint = "sha256:00ff";
  json j = json::parse(FormatJson(r));
  EXPECT_EQ(j["host"], "ingest-station-07.datacenter.example.org");
  EXPECT_EQ(j["manifest_absolute"], "/home/operator/shipments/shipment.vm");
  EXPECT_EQ(j["dest_absolute"], "/srv/ingest/shipment-0001");
  EXPECT_EQ(j["signature"]["checked"], true);
  EXPECT_EQ(j["signature"]["key_fingerprint"], "sha256:00ff");
  EXPECT_EQ(j["drives"][0]["label"], "ship-01");
  EXPECT_EQ(j["drives"][0]["serial"], "VAHX5B3L");
  EXPECT_TRUE(j["drives"][0]["absolute"].is_null());
  EXPECT_EQ(j["drives"][1]["absolute"], "/mnt/ship-02");
  EXPECT_TRUE(j["drives"][1]["serial"].is_null());
  RunReport unsigned_run = CleanReport();
  j = json::parse(FormatJson(unsigned_run));
  EXPECT_EQ(j["signature"]["checked"], false);
  EXPECT_TRUE(j["signature"]["key_fingerprint"].is_null());
  EXPECT_TRUE(j["host"].is_null());
}

// Goal: every row of the report's "files" array is the same bytes whether
// AppendFileRow writes it itself or through the JSON object: random rows
// of every status, with paths of quotes, backslashes, control bytes, bytes
// that are not UTF-8, C1 and bidi characters, drives given or not, sizes
// up to 2^64-1, details of free text, each parity outcome, digests of
// every type (twice the same type too), and some with ranges or chunk
// lists (written through the object).
TEST(JsonRow, WrittenRowsAreTheObjectsBytes) {
  RunReport r;
  for (const char* src :
       {"/mnt/d1", "/mnt/\"quoted\" d2", "/dev/disk/by-id/\x01x"}) {
    DriveReport d;
    d.source = src;
    r.drives.push_back(d);
  }
  const std::vector<std::string> pieces = {
      "a",        "dir/",         "\"",   "\\",       "%",
      "\x01",     "\n",           "\x7f", "\xff",     "\xc3\xa9",
      "\xc2\x85", "\xe2\x80\xae", " ",    "file.bin", "\t"};
  std::mt19937_64 rng(7);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  size_t general = 0;
  for (int i = 0; i < 3000; ++i) {
    FileResult f;
    for (size_t k = 1 + pick(5); k > 0; --k)
      f.path += pieces[pick(pieces.size())];
    f.drive = static_cast<int>(pick(5)) - 1;  // -1 .. 3 (3: no such drive)
    f.status = static_cast<FileStatus>(pick(8));
    const uint64_t sizes[] = {0, 1, 4096, uint64_t{1} << 40, ~uint64_t{0}};
    f.expected_size = sizes[pick(5)];
    f.actual_size = sizes[pick(5)];
    f.first_bad_offset = pick(3) == 0 ? -1 : static_cast<int64_t>(rng() >> 2);
    if (pick(3) == 0)
      f.detail = pieces[pick(pieces.size())] + "sha256 mismatch";
    f.repaired_from = static_cast<int>(pick(5)) - 1;
    f.parity = static_cast<FileResult::Parity>(pick(3));
    for (size_t k = pick(4); k > 0; --k) {
      Digest d;
      d.type = static_cast<DigestType>(pick(kNumDigestTypes));
      d.size = static_cast<uint8_t>(DigestSize(d.type));
      for (size_t b = 0; b < d.size; ++b)
        d.bytes[b] = static_cast<uint8_t>(rng());
      f.digests.push_back(d);
    }
    if (pick(10) == 0) {
      f.bad_ranges.push_back(BadRange{4096, 512, 5});
      ++general;
    }
    if (pick(10) == 0) f.corrupt_ranges.push_back(BadRange{0, 1 << 20, 0});
    if (pick(20) == 0) f.chunks_lost = {{1, 3}};
    std::string fast;
    AppendFileRow(r, f, &fast);
    ASSERT_EQ(fast, FileRowByObject(r, f)) << "row " << i;
    EXPECT_TRUE(json::accept(fast)) << fast;
  }
  EXPECT_GT(general, 100u);
}

}  // namespace
}  // namespace valise
