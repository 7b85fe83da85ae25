// The run report as one HTML page, for a person who was not at the
// loading dock: open it in any browser, offline, years later.
//
// Self-contained on purpose: inline CSS, an inline SVG chart, no script,
// no font, no image, no link to anything, so the page shows the same
// everywhere and can be mailed or archived as one file. It is also
// well-formed XML (every element closed, void ones written "<x/>", only
// the five XML entities), so a plain XML parser can check it.
//
// The chart: one step line per drive and one for the total, in MiB/s
// (10^6 bytes per second, as the summary), over seconds since the start.
// DriveReport::bytes_per_second holds bytes per whole second; a drive's
// last second is usually partial (it ended mid-second), so its rate is
// taken over the part of the second the drive was running, and merged
// into the second before when that part is under half a second (the
// last few chunks, completing within milliseconds, would draw a spike
// that never happened). The total is the sum of the drives running at
// each moment. Long runs are averaged over wider steps so a line never
// has more than kMaxPoints steps (a ten-hour ingest of forty drives
// stays a few hundred KiB).
//
// Everything printed from the report is escaped twice: first as the
// summary does (paths with the manifest v1 rule, free text with control
// bytes and invalid UTF-8 as %XX), then for HTML.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "pipeline/progress_render.h"
#include "valise/report.h"

namespace valise {

namespace {

std::string RateMiB(double bytes_per_second) {
  return fmt::format("{:.1f} MiB/s", bytes_per_second / (1 << 20));
}

constexpr size_t kMaxPoints = 1200;    // steps per line at most
constexpr size_t kMaxFileRows = 1000;  // problem files listed at most

// Chart geometry, in SVG user units (pixels at 100%).
constexpr double kChartWidth = 980;
constexpr double kPlotLeft = 64;
constexpr double kPlotRight = 620;  // the legend lives to the right
constexpr double kPlotTop = 16;
constexpr double kPlotHeight = 300;
constexpr double kLegendRow = 18;

// Distinct on white and for the common colour-vision deficiencies
// (Okabe-Ito, then darker tones); the total is drawn in black.
constexpr const char* kPalette[] = {
    "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00",
    "#56b4e9", "#8c6d00", "#5b3a8c", "#117733", "#882255",
};

std::string Html(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string HtmlPath(std::string_view raw) {
  return Html(EscapeReportPath(raw));
}
std::string HtmlText(std::string_view raw) {
  return Html(EscapeReportText(raw));
}

// Keeps the tail of a long name (the distinctive part of "/mnt/drive07").
std::string Tail(const std::string& s, size_t max) {
  if (s.size() <= max) return s;
  return "..." + s.substr(s.size() - (max - 3));
}

// A round step (1, 2 or 5 times a power of ten) giving at most `ticks`
// intervals over [0, max].
double NiceStep(double max, int ticks) {
  if (!(max > 0)) return 1;
  double raw = max / ticks;
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * mag >= raw) return m * mag;
  }
  return 10 * mag;
}

std::string Num(double v) {
  // Coordinates: two decimals are finer than any screen.
  std::string s = fmt::format("{:.2f}", v);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

std::string TickLabel(double v, double step) {
  return step >= 1
             ? fmt::format("{:.0f}", v)
             : fmt::format("{:.{}f}", v,
                           static_cast<int>(std::ceil(-std::log10(step))));
}

// One horizontal piece of a line: the rate in MiB/s over [t0, t1) seconds.
struct Step {
  double t0 = 0, t1 = 0;
  double mbps = 0;
};

// A drive's steps, `width` seconds each (averaged). Its last second is
// usually partial: it counts for the time the drive ran in it, by the
// drive's own clock. A last step shorter than half a step is merged into
// the one before: a few chunks completing in the last milliseconds would
// otherwise draw a spike that never happened.
std::vector<Step> DriveSteps(const DriveReport& d, size_t width) {
  std::vector<Step> steps;
  const std::vector<uint64_t>& b = d.bytes_per_second;
  const size_t n = b.size();
  if (n == 0) return steps;
  double last = 1;
  if (d.seconds > double(n - 1) && d.seconds < double(n)) {
    last = d.seconds - double(n - 1);
  }
  std::vector<uint64_t> bytes;
  for (size_t i = 0; i < n; i += width) {
    Step st;
    st.t0 = double(i);
    st.t1 = std::min(double(i + width), double(n - 1) + last);
    uint64_t sum = 0;
    for (size_t k = i; k < std::min(n, i + width); ++k) sum += b[k];
    bytes.push_back(sum);
    steps.push_back(st);
  }
  if (steps.size() >= 2 &&
      steps.back().t1 - steps.back().t0 < 0.5 * double(width)) {
    steps[steps.size() - 2].t1 = steps.back().t1;
    bytes[bytes.size() - 2] += bytes.back();
    steps.pop_back();
    bytes.pop_back();
  }
  for (size_t i = 0; i < steps.size(); ++i) {
    const double secs = steps[i].t1 - steps[i].t0;
    steps[i].mbps = secs > 0 ? double(bytes[i]) / secs / (1 << 20) : 0;
  }
  return steps;
}

// The total: between every two consecutive step boundaries of any drive,
// the sum of the rates of the drives running then.
std::vector<Step> TotalSteps(const std::vector<std::vector<Step>>& drives) {
  std::vector<double> cuts;
  for (const auto& steps : drives) {
    for (const Step& st : steps) {
      cuts.push_back(st.t0);
      cuts.push_back(st.t1);
    }
  }
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  std::vector<size_t> at(drives.size(), 0);  // each drive's current step
  std::vector<Step> total;
  for (size_t i = 0; i + 1 < cuts.size(); ++i) {
    Step st{cuts[i], cuts[i + 1], 0};
    const double mid = (st.t0 + st.t1) / 2;
    for (size_t d = 0; d < drives.size(); ++d) {
      const auto& steps = drives[d];
      while (at[d] < steps.size() && steps[at[d]].t1 <= mid) ++at[d];
      if (at[d] < steps.size() && steps[at[d]].t0 <= mid) {
        st.mbps += steps[at[d]].mbps;
      }
    }
    total.push_back(st);
  }
  return total;
}

// The polyline points of `steps`.
std::string StepPoints(const std::vector<Step>& steps, double x_scale,
                       double y_max) {
  auto x = [&](double t) { return kPlotLeft + t * x_scale; };
  auto y = [&](double v) {
    return kPlotTop + kPlotHeight - std::min(v, y_max) / y_max * kPlotHeight;
  };
  std::string pts;
  for (const Step& st : steps) {
    pts += fmt::format("{},{} {},{} ", Num(x(st.t0)), Num(y(st.mbps)),
                       Num(x(st.t1)), Num(y(st.mbps)));
  }
  if (!pts.empty()) pts.pop_back();
  return pts;
}

void AppendChart(const RunReport& r, std::string* out) {
  size_t seconds = 0;
  for (const DriveReport& d : r.drives) {
    seconds = std::max(seconds, d.bytes_per_second.size());
  }
  const size_t width =
      std::max<size_t>(1, (seconds + kMaxPoints - 1) / kMaxPoints);
  std::vector<std::vector<Step>> series;
  double end = 1;
  for (const DriveReport& d : r.drives) {
    series.push_back(DriveSteps(d, width));
    if (!series.back().empty()) end = std::max(end, series.back().back().t1);
  }
  const std::vector<Step> total = TotalSteps(series);
  double top = 0;
  for (const Step& st : total) top = std::max(top, st.mbps);
  const double y_step = NiceStep(top > 0 ? top : 1, 5);
  const double y_max = std::max(y_step, std::ceil(top / y_step) * y_step);
  const double x_step = NiceStep(end, 10);
  const double x_max = std::max(x_step, std::ceil(end / x_step) * x_step);
  const double plot_width = kPlotRight - kPlotLeft;
  const double x_scale = plot_width / x_max;
  const double bottom = kPlotTop + kPlotHeight;
  const double legend_height =
      kPlotTop + kLegendRow * double(r.drives.size() + 1) + 8;
  const double height = std::max(bottom + 48, legend_height);

  *out += fmt::format(
      "<svg class=\"chart\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" role=\"img\">\n"
      "<title>Read rate per drive and in total, MiB/s, over time</title>\n",
      Num(kChartWidth), Num(height));
  // Grid and axes.
  *out += "<g class=\"grid\">\n";
  for (double v = 0; v <= y_max + y_step / 2; v += y_step) {
    double yy = bottom - v / y_max * kPlotHeight;
    *out += fmt::format(
        "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\"/>"
        "<text class=\"ytick\" x=\"{3}\" y=\"{4}\">{5}</text>\n",
        Num(kPlotLeft), Num(yy), Num(kPlotRight), Num(kPlotLeft - 6),
        Num(yy + 4), TickLabel(v, y_step));
  }
  for (double t = 0; t <= x_max + x_step / 2; t += x_step) {
    double xx = kPlotLeft + t * x_scale;
    *out += fmt::format(
        "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\"/>"
        "<text class=\"xtick\" x=\"{0}\" y=\"{3}\">{4}</text>\n",
        Num(xx), Num(kPlotTop), Num(bottom), Num(bottom + 16),
        TickLabel(t, x_step));
  }
  *out += "</g>\n";
  *out += fmt::format(
      "<g class=\"axes\"><line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\"/>"
      "<line x1=\"{0}\" y1=\"{2}\" x2=\"{3}\" y2=\"{2}\"/></g>\n",
      Num(kPlotLeft), Num(kPlotTop), Num(bottom), Num(kPlotRight));
  *out += fmt::format(
      "<text class=\"label\" x=\"{}\" y=\"{}\">time (s)</text>\n"
      "<text class=\"label\" transform=\"translate({},{}) rotate(-90)\">"
      "MiB/s</text>\n",
      Num(kPlotLeft + plot_width / 2), Num(bottom + 36), Num(16),
      Num(kPlotTop + kPlotHeight / 2));

  // Lines: drives, then the total on top.
  for (size_t d = 0; d < series.size(); ++d) {
    const char* color = kPalette[d % std::size(kPalette)];
    *out += fmt::format(
        "<polyline class=\"drive\" stroke=\"{}\" points=\"{}\">"
        "<title>{}</title></polyline>\n",
        color, StepPoints(series[d], x_scale, y_max),
        HtmlPath(r.drives[d].source));
  }
  *out += fmt::format(
      "<polyline class=\"total\" points=\"{}\"><title>total</title>"
      "</polyline>\n",
      StepPoints(total, x_scale, y_max));

  // Legend: a swatch, the name and the drive's mean rate.
  const double lx = kPlotRight + 20;
  auto legend_row = [&](size_t row, const std::string& cls,
                        const std::string& color, const std::string& text) {
    double yy = kPlotTop + kLegendRow * double(row);
    *out += fmt::format(
        "<line class=\"{}\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"{}/>"
        "<text class=\"legend\" x=\"{}\" y=\"{}\">{}</text>\n",
        cls, Num(lx), Num(yy + 5), Num(lx + 22), Num(yy + 5),
        color.empty() ? "" : " stroke=\"" + color + "\"", Num(lx + 28),
        Num(yy + 9), text);
  };
  *out += "<g class=\"legendbox\">\n";
  double total_mean = 0;
  for (size_t d = 0; d < r.drives.size(); ++d) {
    const DriveReport& dr = r.drives[d];
    double mean = dr.seconds > 0 ? double(dr.bytes_read) / dr.seconds : 0;
    total_mean += mean;
    legend_row(d, "drive", kPalette[d % std::size(kPalette)],
               Html(Tail(EscapeReportPath(dr.source), 30)) + " " +
                   Html(RateMiB(mean)));
  }
  uint64_t total_bytes = 0;
  for (const DriveReport& dr : r.drives) total_bytes += dr.bytes_read;
  legend_row(
      r.drives.size(), "total", "",
      "total " + Html(RateMiB(r.seconds > 0 ? double(total_bytes) / r.seconds
                                            : total_mean)));
  *out += "</g>\n</svg>\n";
}

// As the summary's table: a drive that carried a file that is not ok
// (`bad_file`: a problem row names it) is not ok.
const char* DriveStatusWord(const DriveReport& d, bool bad_file) {
  if (d.stalled) return "stalled";
  if (!d.errors.empty()) return "errors";
  return d.files_bad > 0 || bad_file ? "bad" : "ok";
}

// Problem sections in the summary's order: worst first.
int StatusRank(FileStatus s) {
  switch (s) {
    case FileStatus::kCorrupt:
      return 0;
    case FileStatus::kSizeMismatch:
      return 1;
    case FileStatus::kUnreadable:
      return 2;
    case FileStatus::kStalled:
      return 3;
    case FileStatus::kMissing:
      return 4;
    case FileStatus::kExtra:
      return 5;
    case FileStatus::kSkipped:
      return 6;
    case FileStatus::kOk:
      return 7;
  }
  return 8;
}

std::string ErrnoText(int err) {
  return err > 0 ? std::string(strerror(err)) : std::string("error");
}

std::string FileDetail(const RunReport& r, const FileResult& f) {
  std::vector<std::string> parts;
  if (f.status == FileStatus::kCorrupt && f.first_bad_offset >= 0) {
    std::string p = "first bad offset " + std::to_string(f.first_bad_offset);
    if (r.chunk_size > 0) {
      p += " (chunk " +
           std::to_string(uint64_t(f.first_bad_offset) / r.chunk_size) + ")";
    }
    parts.push_back(p);
  }
  if (f.status == FileStatus::kSizeMismatch) {
    parts.push_back(
        fmt::format("size {} (expected {})", f.actual_size, f.expected_size));
  }
  size_t shown = 0;
  for (const BadRange& b : f.bad_ranges) {
    if (++shown > 4) {
      parts.push_back(
          fmt::format("{} more bad ranges", f.bad_ranges.size() - 4));
      break;
    }
    parts.push_back(fmt::format("unreadable at {} ({} bytes): {}", b.offset,
                                b.length, ErrnoText(b.err)));
  }
  if (!f.detail.empty()) parts.push_back(f.detail);
  auto source = [&r](int d) {
    return d >= 0 && d < static_cast<int>(r.drives.size())
               ? EscapeReportPath(r.drives[d].source)
               : std::string("(unknown drive)");
  };
  if (!f.chunks_from.empty()) {
    parts.push_back(ChunkRepairText(f, source));
  } else if (f.repaired_from >= 0 &&
             f.repaired_from < static_cast<int>(r.drives.size())) {
    parts.push_back("repaired from " + source(f.repaired_from));
  }
  if (!f.chunks_lost.empty()) parts.push_back(ChunksLostText(f));
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out += "; ";
    out += p;
  }
  return out;
}

constexpr const char* kStyle =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;"
    "color:#1f2328;margin:24px auto;max-width:1040px;padding:0 16px}\n"
    "h1{font-size:21px;margin:0 0 8px}h2{font-size:16px;margin:28px 0 8px}\n"
    ".verdict{font-weight:600;padding:8px 12px;border-radius:6px}\n"
    ".verdict.ok{background:#dafbe1;color:#116329}\n"
    ".verdict.bad{background:#ffebe9;color:#a40e26}\n"
    "table{border-collapse:collapse;margin:4px 0}\n"
    "th,td{padding:3px 10px;border-bottom:1px solid #d0d7de;"
    "text-align:left;vertical-align:top}\n"
    "th{background:#f6f8fa}td.n,th.n{text-align:right;"
    "font-variant-numeric:tabular-nums}\n"
    "table.facts th{background:none;font-weight:600}\n"
    "td.path{font-family:ui-monospace,monospace;word-break:break-all}\n"
    ".s-ok{color:#116329}.s-bad{color:#a40e26}.s-note{color:#6e5600}\n"
    "svg.chart{display:block;margin:8px 0}\n"
    "svg text{font:12px system-ui,sans-serif;fill:#1f2328}\n"
    "svg .ytick{text-anchor:end}svg .xtick{text-anchor:middle}\n"
    "svg .label{text-anchor:middle;font-weight:600}\n"
    "svg .grid line{stroke:#e6e8eb;stroke-width:1}\n"
    "svg .axes line{stroke:#57606a;stroke-width:1.2}\n"
    "svg polyline{fill:none;stroke-linejoin:round}\n"
    "svg polyline.drive,svg line.drive{stroke-width:1.6}\n"
    "svg polyline.total,svg line.total{stroke:#1f2328;stroke-width:2.6}\n"
    "footer{margin-top:32px;color:#57606a;font-size:12px}\n";

}  // namespace

std::string FormatHtml(const RunReport& r) {
  std::string out;
  const std::string command = r.command.empty() ? "run" : r.command;
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n";
  out += "<meta charset=\"utf-8\"/>\n";
  out += "<meta name=\"viewport\" content=\"width=device-width\"/>\n";
  out += "<title>valise " + Html(command) + ": " + HtmlPath(r.manifest) +
         "</title>\n";
  out += std::string("<style>\n") + kStyle + "</style>\n</head>\n<body>\n";

  // The verdict: the summary's last line, the same words as on the
  // terminal.
  std::string summary = FormatSummary(r, 0);
  while (!summary.empty() && summary.back() == '\n') summary.pop_back();
  const size_t nl = summary.rfind('\n');
  const std::string verdict =
      nl == std::string::npos ? summary : summary.substr(nl + 1);
  const int code = r.ExitCode();
  out += "<h1>valise " + Html(command) + "</h1>\n";
  out += fmt::format("<p class=\"verdict {}\">{}</p>\n",
                     code == 0 ? "ok" : "bad", Html(verdict));

  // Facts.
  uint64_t read = 0;
  for (const DriveReport& d : r.drives) read += d.bytes_read;
  out += "<table class=\"facts\">\n";
  auto fact = [&](const char* name, const std::string& value) {
    out +=
        std::string("<tr><th>") + name + "</th><td>" + value + "</td></tr>\n";
  };
  fact("manifest", HtmlPath(r.manifest_absolute.empty() ? r.manifest
                                                        : r.manifest_absolute));
  if (!r.dest.empty()) {
    fact("dest", HtmlPath(r.dest_absolute.empty() ? r.dest : r.dest_absolute));
  }
  if (!r.host.empty()) fact("host", HtmlText(r.host));
  fact("signature", r.signature_checked
                        ? "checked, key " + HtmlText(r.key_fingerprint)
                        : std::string("not checked (no --pubkey)"));
  if (!r.started.empty()) fact("started", Html(r.started));
  fact("elapsed", Html(HumanDuration(r.seconds)));
  fact("read", Html(HumanBytes(read)) + " at " +
                   Html(RateMiB(r.seconds > 0 ? double(read) / r.seconds : 0)));
  fact("files",
       fmt::format("{} of {} checked out ({} of {})", r.files_ok,
                   r.files_expected, Html(HumanBytes(r.bytes_verified)),
                   Html(HumanBytes(r.bytes_expected))));
  if (r.dedup_bytes_saved > 0) {
    fact("dedup", Html(HumanBytes(r.dedup_bytes_saved)) +
                      " not written again (identical content)");
  }
  if (const std::string c = ChunkDedupText(r); !c.empty()) {
    fact("dedup by chunk", Html(c));
  }
  if (r.files_skipped_resume > 0) {
    fact("resumed", fmt::format("{} files already staged by an earlier run, "
                                "unchanged since: trusted from the journal",
                                r.files_skipped_resume));
  }
  if (r.files_rechecked > 0) {
    fact("read back", fmt::format("{} files already in DEST read back and "
                                  "checked",
                                  r.files_rechecked));
  }
  fact("exit status", std::to_string(code));
  out += "</table>\n";

  // The chart.
  out += "<h2>Read rate over time</h2>\n";
  AppendChart(r, &out);

  // Drives.
  out += "<h2>Drives</h2>\n<table class=\"drives\">\n";
  out +=
      "<tr><th>drive</th><th>kind</th><th class=\"n\">files ok</th>"
      "<th class=\"n\">bad</th><th class=\"n\">read</th>"
      "<th class=\"n\">MiB/s</th><th>label</th><th>serial</th>"
      "<th>status</th></tr>\n";
  std::vector<bool> bad_file(r.drives.size(), false);
  r.ForEachFile([&](const FileResult& f) {
    if (IsProblem(f.status) && f.drive >= 0 &&
        static_cast<size_t>(f.drive) < r.drives.size()) {
      bad_file[f.drive] = true;
    }
  });
  for (size_t i = 0; i < r.drives.size(); ++i) {
    const DriveReport& d = r.drives[i];
    const char* status = DriveStatusWord(d, bad_file[i]);
    out += fmt::format(
        "<tr><td class=\"path\">{}</td><td>{}</td><td class=\"n\">{}</td>"
        "<td class=\"n\">{}</td><td class=\"n\">{}</td>"
        "<td class=\"n\">{}</td><td>{}</td><td>{}</td>"
        "<td class=\"{}\">{}</td></tr>\n",
        HtmlPath(d.absolute.empty() ? d.source : d.absolute), Html(d.kind),
        d.files_ok, d.files_bad, Html(HumanBytes(d.bytes_read)),
        d.seconds > 0
            ? fmt::format("{:.1f}", d.bytes_read / d.seconds / (1 << 20))
            : std::string("-"),
        HtmlText(d.label), HtmlText(d.serial),
        std::string(status) == "ok" ? "s-ok" : "s-bad", status);
    for (const std::string& e : d.errors) {
      out += "<tr><td></td><td colspan=\"8\" class=\"s-bad\">" + HtmlText(e) +
             "</td></tr>\n";
    }
  }
  out += "</table>\n";

  // Problem files (and extra/skipped), worst first, in row order within a
  // status. The first kMaxFileRows of each status are enough to fill the
  // table; they are copies, as a compact missing row (RunReport::
  // ForEachFile) exists only during its call.
  std::vector<FileResult> by_rank[9];
  size_t not_ok = 0;
  r.ForEachFile([&](const FileResult& f) {
    if (f.status == FileStatus::kOk) return;
    ++not_ok;
    std::vector<FileResult>& rank = by_rank[StatusRank(f.status)];
    if (rank.size() < kMaxFileRows) rank.push_back(f);
  });
  std::vector<const FileResult*> listed;
  for (const std::vector<FileResult>& rank : by_rank) {
    for (const FileResult& f : rank) listed.push_back(&f);
  }
  out += fmt::format("<h2>Files not ok ({})</h2>\n", not_ok);
  if (listed.empty()) {
    out += "<p class=\"s-ok\">none</p>\n";
  } else {
    out += "<table class=\"files\">\n";
    out +=
        "<tr><th>status</th><th>path</th><th>drive</th>"
        "<th class=\"n\">size</th><th>detail</th></tr>\n";
    for (size_t i = 0; i < listed.size() && i < kMaxFileRows; ++i) {
      const FileResult& f = *listed[i];
      const bool problem = IsProblem(f.status);
      std::string drive =
          f.drive >= 0 && f.drive < static_cast<int>(r.drives.size())
              ? HtmlPath(r.drives[f.drive].label.empty()
                             ? r.drives[f.drive].source
                             : r.drives[f.drive].label)
              : std::string("-");
      out += fmt::format(
          "<tr><td class=\"{}\">{}</td><td class=\"path\">{}</td>"
          "<td class=\"path\">{}</td><td class=\"n\">{}</td><td>{}</td>"
          "</tr>\n",
          problem ? "s-bad" : "s-note", FileStatusName(f.status),
          HtmlPath(f.path), drive,
          Html(HumanBytes(f.status == FileStatus::kExtra ? f.actual_size
                                                         : f.expected_size)),
          HtmlText(FileDetail(r, f)));
    }
    out += "</table>\n";
    if (not_ok > kMaxFileRows) {
      out += fmt::format(
          "<p>... and {} more (the JSON report lists them all)</p>\n",
          not_ok - kMaxFileRows);
    }
  }

  if (!r.notes.empty() || !r.verbose_notes.empty()) {
    out += "<h2>Notes</h2>\n<ul>\n";
    for (const std::string& n : r.notes) {
      out += "<li>" + HtmlText(n) + "</li>\n";
    }
    for (const std::string& n : r.verbose_notes) {
      out += "<li>" + HtmlText(n) + "</li>\n";
    }
    out += "</ul>\n";
  }
  out += "<footer>valise";
#ifdef VALISE_VERSION
  out += " " + Html(VALISE_VERSION);
#endif
  out +=
      " report; sizes and rates in binary units: 1 KiB = 1024 bytes, 1 MiB/s "
      "= 1048576 bytes per second.</footer>\n";
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace valise
