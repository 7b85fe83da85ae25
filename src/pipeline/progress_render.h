// Private to src/pipeline (report.cc, progress.cc) and their tests: the
// pure parts of the report and of the progress bars — human sizes and
// durations, the rate meter, and the rendering of one frame of bars from
// explicit state — so tests need no terminal and no clock.
//
// Thread safety: the functions are pure; a RateWindow is used by one
// thread at a time.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "valise/report.h"

namespace valise {

// 1536 -> "1.5 KiB"; below 1024 plain bytes ("512 B"); binary units up to
// PiB with one decimal.
std::string HumanBytes(uint64_t bytes);
// Bytes per second as decimal megabytes per second, one decimal:
// 123456789.0 -> "123.5 MB/s".
std::string HumanRate(double bytes_per_second);
// At most `width` columns: the tail of a long line, marked by "...".
// REQUIRES: width > 3.
std::string FitTail(const std::string& s, size_t width);
// A run's length for the summary: "12.3s", "4m 05s", "1h 02m 03s".
std::string HumanDuration(double seconds);
// A clock reading for ETAs: "0:06", "12:34", "1:02:03"; rounded up to the
// whole second. Negative or non-finite values give "--:--".
std::string ClockTime(double seconds);

// Runs of chunks for people: "chunk 3", "chunks 0-2, 4" (at most
// `max_runs` runs, then "and N more runs").
std::string ChunkRunsText(const ChunkRuns& runs, size_t max_runs = 8);
// A copy repaired by chunk (FileResult::chunks_from), for its row:
// "repaired by chunk: chunks 0-2, 4-39 from ship-01, chunk 3 from ship-02
// (64.0 KiB read for it)"; `name` names a drive. Empty if not repaired by
// chunk.
std::string ChunkRepairText(const FileResult& f,
                            const std::function<std::string(int)>& name);
// A file no copy of which had some chunks good (FileResult::chunks_lost):
// "no copy had chunk 3 good"; empty if none.
std::string ChunksLostText(const FileResult& f);

// Manifest v1 path escaping: bytes 0x00-0x1F, 0x7F, '%', and bytes that
// are not part of valid UTF-8 become %XX (uppercase hex); the rest is
// literal. Calls valise::EscapePath (include/valise/manifest.h), so report
// paths match manifest lines byte for byte.
std::string EscapeReportPath(std::string_view raw);
// For free text on a terminal (details, errors, notes): like
// EscapeReportPath but '%' stays literal, so "50%" reads as written.
std::string EscapeReportText(std::string_view text);

// Rate over a sliding window: Sample() the running total now and then;
// Rate() is the bytes per second between the oldest sample still in the
// window (or the last one just before it) and the newest.
class RateWindow {
 public:
  explicit RateWindow(double window_seconds = 5.0) : window_(window_seconds) {}
  // REQUIRES: t (seconds, any origin) does not decrease between calls.
  void Sample(double t, uint64_t total_bytes);
  // 0 until two samples at different times exist.
  double Rate() const;

 private:
  struct Point {
    double t;
    uint64_t bytes;
  };
  double window_;
  std::deque<Point> points_;
};

// One frame of progress bars, from explicit state.
struct ProgressLine {
  std::string name;      // drive source; "total" for the total line
  uint64_t done = 0;     // bytes done
  uint64_t planned = 0;  // bytes planned; valise::kUnknownSize if unknown
  double rate = 0;       // bytes per second over the recent window
  // Set by ProgressTracker (progress_estimate.h); a frame built by hand
  // may leave them: the ETA is then the bytes left over `rate`.
  bool has_eta = false;
  double eta = -1;       // seconds left when has_eta; < 0 unknown
  bool stalled = false;  // no byte for a while: the bar says so
  bool average = false;  // final frame: `rate` is the run's average
  uint64_t files = 0;    // files done
  uint64_t files_planned = 0;
  uint64_t errors = 0;  // files whose read failed
};
struct ProgressFrame {
  std::vector<ProgressLine> drives;
  ProgressLine total;
};

// The lines of one frame (no newlines, no escape codes), drives first then
// the total. Every line is printable ASCII (non-ASCII bytes of names shown
// as %XX) and at most width - 1 columns long, so writing it never makes
// the terminal wrap; widths below 2 are treated as 2. Fields per line,
// from the widest layout down to what fits: name, [bar], percent,
// done/planned, rate, ETA. `elapsed_seconds` moves the activity marker of
// lines whose size is unknown, and is shown in place of their ETA.
std::vector<std::string> RenderProgress(const ProgressFrame& frame, int width,
                                        double elapsed_seconds);
// One line for a log (stderr that is no terminal, --stats): the elapsed
// time, the total, then each drive, e.g. "valise: 1:00 total 35% 1.2
// GiB/3.4 GiB 250.0 MB/s ETA 2:03 | /mnt/a 50% 120.0 MB/s ETA 1:00 |
// /mnt/b 20% 0.0 MB/s stalled". The final frame's (average rates) reads
// "valise: done in 2:03 total 3.4 GiB avg 250.0 MB/s | /mnt/a 1.2 GiB avg
// 120.0 MB/s | ...". Printable ASCII (names as RenderProgress shows them).
std::string RenderStatsLine(const ProgressFrame& frame, double elapsed_seconds);
// The test entry: RenderProgress's lines joined with '\n'.
std::string RenderProgressForTest(const ProgressFrame& frame, int width,
                                  double elapsed_seconds);

}  // namespace valise
