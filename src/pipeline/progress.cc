// Progress bars: one line per drive and a total, redrawn in place.
//
// Counting and drawing are split. Add() is a relaxed atomic add on the
// drive's counter, so the reader thread pays a few nanoseconds per
// completion and never waits for the terminal. Tick(), called by one thread
// as often as it likes, draws at most every 200 ms: each frame samples the
// counters, feeds a 5-second sliding rate window per drive (a rate over the
// whole run would hide a drive that slowed down; one over the last tick
// would flicker), renders the lines with RenderProgress — a pure function,
// tested without a terminal — and writes the frame in one write(2).
//
// Redrawing in place: every frame ends with a newline, so the cursor rests
// at the start of the line below the bars. The next frame moves up over
// them (ESC [ n A), and rewrites each line after clearing it (ESC [ 2 K).
// Lines are kept one column short of the terminal's width (TIOCGWINSZ,
// read each frame so a resize takes effect): a line that exactly fills the
// width leaves some terminals in a pending-wrap state, and a line that
// wraps would make the cursor-up count wrong.

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>

#include "pipeline/progress_estimate.h"
#include "pipeline/progress_metrics.h"
#include "pipeline/progress_render.h"
#include "valise/file_system.h"
#include "valise/report.h"

namespace valise {

// ---------------------------------------------------------------------------
// RateWindow

void RateWindow::Sample(double t, uint64_t total_bytes) {
  points_.push_back({t, total_bytes});
  // Keep one point at or before the window's start, so the rate always
  // spans the whole window once the run is older than it.
  while (points_.size() > 2 && points_[1].t <= t - window_) {
    points_.pop_front();
  }
}

double RateWindow::Rate() const {
  if (points_.size() < 2) return 0;
  const Point& a = points_.front();
  const Point& b = points_.back();
  double dt = b.t - a.t;
  if (dt <= 0 || b.bytes < a.bytes) return 0;
  return static_cast<double>(b.bytes - a.bytes) / dt;
}

// ---------------------------------------------------------------------------
// Rendering

namespace {

constexpr int kMinBar = 10;   // a shorter bar tells nothing; drop fields
constexpr int kMaxName = 24;  // longer drive names keep their tail
constexpr int kMinName = 8;
// Field widths, so the bars of all lines line up and do not jitter as the
// numbers change. A field that outgrows its width (a rate above 99 GB/s)
// widens every line equally, since layouts are chosen over all lines.
constexpr int kPctWidth = 4;     // "100%"
constexpr int kBytesWidth = 21;  // "1023.9 GiB/1023.9 GiB"
constexpr int kRateWidth = 11;   // "1234.5 MB/s"
constexpr int kEtaWidth = 11;    // "ETA 1:02:03"

// Names as printable ASCII: every other byte becomes %XX, so a line's
// length in bytes is its width in columns.
std::string AsciiName(std::string_view name) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : name) {
    if (c < 0x20 || c >= 0x7F) {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string FitName(const std::string& name, size_t width) {
  std::string s = name;
  if (s.size() > width) {
    s = width > 3 ? "..." + s.substr(s.size() - (width - 3))
                  : s.substr(s.size() - width);
  }
  s.resize(width, ' ');
  return s;
}

struct LineFields {
  bool known = false;    // planned size known
  bool stalled = false;  // the bar says "stalled"
  double fraction = 0;   // of planned done, 0..1
  std::string pct, bytes, rate, eta;
};

LineFields ComputeFields(const ProgressLine& l) {
  LineFields f;
  f.known = l.planned != kUnknownSize;
  if (f.known) {
    // Nothing planned is nothing left to do: full, never a division by 0.
    int pct = 100;
    if (l.done < l.planned) {
      f.fraction = static_cast<double>(l.done) / l.planned;
      pct = std::min(99, static_cast<int>(f.fraction * 100));
    } else {
      f.fraction = 1;
    }
    f.pct = fmt::format("{:>3}%", pct);
    f.bytes = HumanBytes(l.done) + "/" + HumanBytes(l.planned);
    if (l.done >= l.planned || (l.has_eta && l.eta == 0)) {
      f.eta = "ETA done";
    } else if (l.has_eta) {
      f.eta = l.eta > 0 ? "ETA " + ClockTime(l.eta) : "ETA --:--";
    } else if (l.rate > 0 && std::isfinite(l.rate)) {
      f.eta = "ETA " + ClockTime((l.planned - l.done) / l.rate);
    } else {
      f.eta = "ETA --:--";
    }
  } else {
    f.pct = "  ?%";
    f.bytes = HumanBytes(l.done) + "/?";
    f.eta = "ETA ?";
  }
  // The final frame's rates are averages; a stalled drive's ETA is
  // unknown, and says why.
  if (l.average) f.eta = "avg";
  if (l.stalled) f.eta = "stalled";
  f.stalled = l.stalled;
  f.rate = HumanRate(l.rate);
  return f;
}

// The stats after the bar, at a level of detail: 0 all fields, 1 without
// bytes, 2 percent and ETA, 3 percent alone.
constexpr int kNumLevels = 4;
std::string Stats(const LineFields& f, int level) {
  std::string pct = fmt::format("{:>{}}", f.pct, kPctWidth);
  std::string bytes = fmt::format("{:>{}}", f.bytes, kBytesWidth);
  std::string rate = fmt::format("{:>{}}", f.rate, kRateWidth);
  std::string eta = fmt::format("{:<{}}", f.eta, kEtaWidth);
  switch (level) {
    case 0:
      return pct + " " + bytes + " " + rate + " " + eta;
    case 1:
      return pct + " " + rate + " " + eta;
    case 2:
      return pct + " " + eta;
    default:
      return pct;
  }
}

// A stalled drive's bar has " stalled " over its middle, so it stands out
// among the moving ones even where the ETA field was dropped for width.
std::string MarkStalled(std::string bar) {
  static constexpr std::string_view kMark = " stalled ";
  if (bar.size() < kMark.size()) return bar;
  bar.replace((bar.size() - kMark.size()) / 2, kMark.size(), kMark);
  return bar;
}

std::string Bar(const LineFields& f, int width, double elapsed) {
  std::string bar(width, '.');
  if (f.known) {
    int filled = static_cast<int>(f.fraction * width);
    filled = std::clamp(filled, 0, width);
    std::fill(bar.begin(), bar.begin() + filled, '#');
    return f.stalled ? MarkStalled(bar) : bar;
  }
  if (f.stalled) return MarkStalled(std::string(width, ' '));
  // Unknown size: a marker bouncing across the bar, 4 cells a second,
  // shows the drive is being read without claiming a fraction.
  bar.assign(width, ' ');
  constexpr int kMarker = 3;
  if (width < kMarker) return bar;
  int span = width - kMarker;
  int pos = 0;
  if (span > 0 && std::isfinite(elapsed) && elapsed > 0) {
    auto step = static_cast<long long>(elapsed * 4) % (2 * span);
    pos = static_cast<int>(step <= span ? step : 2 * span - step);
  }
  bar.replace(pos, kMarker, "<=>");
  return bar;
}

}  // namespace

std::vector<std::string> RenderProgress(const ProgressFrame& frame, int width,
                                        double elapsed_seconds) {
  std::vector<const ProgressLine*> lines;
  for (const ProgressLine& l : frame.drives) lines.push_back(&l);
  lines.push_back(&frame.total);

  const int usable = std::max(width, 2) - 1;
  std::vector<std::string> names;
  std::vector<LineFields> fields;
  int longest_name = 0;
  for (const ProgressLine* l : lines) {
    names.push_back(AsciiName(l->name));
    fields.push_back(ComputeFields(*l));
    longest_name =
        std::max(longest_name, static_cast<int>(names.back().size()));
  }
  // The total's name carries the elapsed time when there is room.
  std::string total_with_time =
      names.back() + " " + ClockTime(std::max(0.0, elapsed_seconds));
  int desired_name = std::min(
      kMaxName,
      std::max(longest_name, static_cast<int>(total_with_time.size())));

  // The richest layout whose bar is at least kMinBar wide with a name of
  // at least kMinName (or the whole name, if shorter).
  int level = kNumLevels, name_w = 0, bar_w = 0;
  for (int lv = 0; lv < kNumLevels; ++lv) {
    int stats_w = 0;
    for (const LineFields& f : fields) {
      stats_w = std::max(stats_w, static_cast<int>(Stats(f, lv).size()));
    }
    int avail = usable - stats_w - 4;  // " [" "] " around the bar
    int nw = std::min(desired_name, avail - kMinBar);
    if (nw >= std::min(kMinName, longest_name) && nw > 0) {
      level = lv;
      name_w = nw;
      bar_w = avail - nw;
      break;
    }
  }

  std::vector<std::string> out;
  for (size_t i = 0; i < lines.size(); ++i) {
    bool is_total = i + 1 == lines.size();
    std::string line;
    if (level < kNumLevels) {
      const std::string& name =
          is_total && static_cast<int>(total_with_time.size()) <= name_w
              ? total_with_time
              : names[i];
      line = FitName(name, name_w) + " [" +
             Bar(fields[i], bar_w, elapsed_seconds) + "] " +
             Stats(fields[i], level);
    } else {
      // Too narrow for any bar: name and percent, cut to fit.
      line = FitName(names[i], std::min<size_t>(kMinName, names[i].size())) +
             " " + Stats(fields[i], kNumLevels - 1);
    }
    // Trailing padding of the last field is not worth a column.
    while (!line.empty() && line.back() == ' ') line.pop_back();
    if (static_cast<int>(line.size()) > usable) line.resize(usable);
    out.push_back(std::move(line));
  }
  return out;
}

namespace {

// The percent without its padding; the bytes done when the size is
// unknown.
std::string Trimmed(const LineFields& f) {
  if (!f.known) return f.bytes;
  return f.pct.substr(std::min(f.pct.find_first_not_of(' '), f.pct.size()));
}

// "/mnt/a 50% 120.0 MB/s ETA 1:00" ("/mnt/a 1.2 GiB avg 120.0 MB/s" in the
// final frame).
std::string StatsPart(const ProgressLine& l) {
  const LineFields f = ComputeFields(l);
  const std::string name = AsciiName(l.name);
  if (l.average) {
    return fmt::format("{} {} avg {}", name, HumanBytes(l.done), f.rate);
  }
  return fmt::format("{} {} {} {}", name, Trimmed(f), f.rate, f.eta);
}

}  // namespace

std::string RenderStatsLine(const ProgressFrame& frame,
                            double elapsed_seconds) {
  const ProgressLine& t = frame.total;
  const LineFields f = ComputeFields(t);
  const std::string when = ClockTime(std::max(0.0, elapsed_seconds));
  std::string out;
  if (t.average) {
    out = fmt::format("valise: done in {} total {} avg {}", when,
                      HumanBytes(t.done), f.rate);
  } else {
    out = fmt::format("valise: {} total {} {} {} {}", when, Trimmed(f), f.bytes,
                      f.rate, f.eta);
  }
  // A drive with nothing to do (ingest's read-back of DEST, on a first
  // run) would only lengthen the line.
  for (const ProgressLine& l : frame.drives) {
    if (l.planned == 0 && l.done == 0) continue;
    out += " | " + StatsPart(l);
  }
  return out;
}

std::string RenderProgressForTest(const ProgressFrame& frame, int width,
                                  double elapsed_seconds) {
  std::string out;
  for (const std::string& line :
       RenderProgress(frame, width, elapsed_seconds)) {
    if (!out.empty()) out += '\n';
    out += line;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Progress

namespace {

using Clock = std::chrono::steady_clock;
constexpr double kMinFrameSeconds = 0.2;
constexpr double kRateWindowSeconds = 5.0;
constexpr int kDefaultWidth = 80;

// Writes all of `s` to fd. The bars are best effort: an error (a closed
// terminal) is dropped, and EINTR (a signal arriving mid-write) retried.
void WriteAll(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = write(fd, s.data(), s.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    s.remove_prefix(static_cast<size_t>(n));
  }
}

int TerminalWidth(int fd) {
  // TIOCGWINSZ asks the terminal driver for the window size; it fails on
  // anything that is not a terminal, and reports 0 columns on a terminal
  // whose size was never set (a bare serial line): both mean the default.
  struct winsize ws = {};
  if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return kDefaultWidth;
}

}  // namespace

struct Progress::State {
  ProgressOptions opt;
  size_t n = 0;
  std::unique_ptr<std::atomic<uint64_t>[]> done, files, errors;
  std::unique_ptr<ProgressTracker> tracker;
  int fd = 2;
  bool active = false;  // bars drawn
  bool finished = false;
  bool drawn = false;
  size_t lines_on_screen = 0;
  Clock::time_point start;
  double last_sample = -1;
  double last_frame = 0;
  double next_stats = 0;
  double next_metrics = 0;
  uint64_t stats_lines = 0;
  bool metrics_warned = false;

  double Now() const {
    if (opt.clock) return opt.clock();
    return std::chrono::duration<double>(Clock::now() - start).count();
  }

  // The counters into the tracker, at most every kMinFrameSeconds (the
  // stall clock needs no finer grain) unless `force`.
  void Sample(double t, bool force) {
    if (!force && last_sample >= 0 && t - last_sample < kMinFrameSeconds) {
      return;
    }
    std::vector<DriveCounters> c(n);
    for (size_t i = 0; i < n; ++i) {
      c[i].bytes = done[i].load(std::memory_order_relaxed);
      c[i].files = files[i].load(std::memory_order_relaxed);
      c[i].errors = errors[i].load(std::memory_order_relaxed);
    }
    tracker->Sample(std::max(t, last_sample), c);
    last_sample = std::max(t, last_sample);
  }

  // ESC [ n A moves the cursor up n lines (to the first bar); ESC [ J
  // clears from there to the end of the screen.
  std::string EraseSequence() const {
    if (lines_on_screen == 0) return "";
    return fmt::format("\x1b[{}A\r\x1b[J", lines_on_screen);
  }

  std::string Frame(double t, bool final) {
    ProgressFrame frame = tracker->Frame(final);
    std::string out;
    if (lines_on_screen > 0) out = fmt::format("\x1b[{}A", lines_on_screen);
    std::vector<std::string> lines =
        RenderProgress(frame, TerminalWidth(fd), t);
    for (const std::string& line : lines) {
      // \r then ESC [ 2 K: back to column 0 and clear the whole line, so a
      // shorter line leaves nothing of the longer one it replaces.
      out += "\r\x1b[2K";
      out += line;
      out += '\n';
    }
    lines_on_screen = lines.size();
    drawn = true;
    last_frame = t;
    return out;
  }

  // A line above the bars (they are redrawn below it), or alone.
  void Log(std::string_view line, double t) {
    std::string out;
    if (active && !finished) out = EraseSequence();
    out += line;
    out += '\n';
    if (active && !finished && drawn) {
      lines_on_screen = 0;  // erased above; draw the bars again below
      out += Frame(t, false);
    }
    WriteAll(fd, out);
  }

  // The metrics file, whole, atomically (temporary name beside it, then
  // rename). A failure is told once; the run goes on without it.
  void WriteMetrics(double t, bool running) {
    if (opt.metrics_path.empty()) return;
    FileSystem* fs = opt.fs != nullptr ? opt.fs : FileSystem::Default();
    Status s = fs->WriteSmallFile(
        opt.metrics_path,
        RenderPrometheusMetrics(tracker->Frame(!running), t, running), 0644);
    if (!s.ok() && !metrics_warned) {
      metrics_warned = true;
      Log("valise: warning: --metrics: " + s.message(), t);
    }
  }
};

ProgressOptions ProgressOptions::Bars(bool enabled) {
  ProgressOptions o;
  o.bars = enabled;
  return o;
}

Progress::Progress(std::vector<std::string> drive_names,
                   std::vector<uint64_t> planned_bytes, bool enabled, int fd)
    : Progress(std::move(drive_names), std::move(planned_bytes),
               ProgressOptions::Bars(enabled), fd) {}

Progress::Progress(std::vector<std::string> drive_names,
                   std::vector<uint64_t> planned_bytes,
                   const ProgressOptions& options, int fd)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.opt = options;
  s.n = std::min(drive_names.size(), planned_bytes.size());
  drive_names.resize(s.n);
  planned_bytes.resize(s.n);
  for (auto* a : {&s.done, &s.files, &s.errors}) {
    *a = std::make_unique<std::atomic<uint64_t>[]>(s.n);
    for (size_t i = 0; i < s.n; ++i) (*a)[i].store(0);
  }
  s.tracker = std::make_unique<ProgressTracker>(
      std::move(drive_names), std::move(planned_bytes), kRateWindowSeconds,
      options.stall_seconds);
  s.fd = fd;
  // isatty: bars only make sense where a person watches; in a pipe or a
  // log file the escape codes would be noise (--stats lines go there).
  s.active = options.bars && isatty(fd) == 1;
  s.start = Clock::now();
  const double t = s.Now();
  s.next_stats = t + options.stats_seconds;
  s.next_metrics = t;  // the first Tick writes it
}

Progress::~Progress() {
  State& s = *state_;
  if (s.active && !s.finished) WriteAll(s.fd, s.EraseSequence());
  // A run that ended without Finish (an error): the file says it ended.
  if (!s.finished) {
    const double t = s.Now();
    s.Sample(t, true);
    s.WriteMetrics(t, false);
  }
}

void Progress::Add(int drive, uint64_t bytes) {
  if (drive < 0 || static_cast<size_t>(drive) >= state_->n) return;
  // Relaxed: the counter is a statistic; nothing is published through it.
  state_->done[drive].fetch_add(bytes, std::memory_order_relaxed);
}

void Progress::FileDone(int drive, bool failed) {
  if (drive < 0 || static_cast<size_t>(drive) >= state_->n) return;
  state_->files[drive].fetch_add(1, std::memory_order_relaxed);
  if (failed) state_->errors[drive].fetch_add(1, std::memory_order_relaxed);
}

void Progress::AddPlannedFiles(int drive, uint64_t files) {
  if (drive < 0) return;
  state_->tracker->AddPlannedFiles(static_cast<size_t>(drive), files);
}

uint64_t Progress::done(int drive) const {
  if (drive < 0 || static_cast<size_t>(drive) >= state_->n) return 0;
  return state_->done[drive].load(std::memory_order_relaxed);
}

bool Progress::active() const { return state_->active; }

void Progress::Tick() {
  State& s = *state_;
  if (s.finished) return;
  const bool stats = s.opt.stats_seconds > 0;
  const bool metrics = !s.opt.metrics_path.empty();
  if (!s.active && !stats && !metrics) return;
  const double t = s.Now();
  s.Sample(t, false);
  if (s.active && (!s.drawn || t - s.last_frame >= kMinFrameSeconds)) {
    WriteAll(s.fd, s.Frame(t, false));
  }
  if (stats && t >= s.next_stats) {
    s.Sample(t, true);
    s.Log(RenderStatsLine(s.tracker->Frame(false), t), t);
    ++s.stats_lines;
    // The next line an interval after this one: a run that paused (a
    // stopped process) does not then print a burst of lines.
    s.next_stats = t + s.opt.stats_seconds;
  }
  if (metrics && t >= s.next_metrics) {
    s.Sample(t, true);
    s.WriteMetrics(t, true);
    s.next_metrics = t + s.opt.metrics_seconds;
  }
}

void Progress::Log(std::string_view line) {
  State& s = *state_;
  s.Log(line, s.Now());
}

void Progress::Finish() {
  State& s = *state_;
  if (s.finished) return;
  const double t = s.Now();
  s.Sample(t, true);
  if (s.active) WriteAll(s.fd, s.Frame(t, true));
  s.finished = true;
  if (s.opt.stats_seconds > 0 && (s.opt.stats_final || s.stats_lines > 0)) {
    s.Log(RenderStatsLine(s.tracker->Frame(true), t), t);
  }
  s.WriteMetrics(t, false);
}

}  // namespace valise
