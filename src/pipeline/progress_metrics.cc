// The --metrics file (progress_metrics.h): Prometheus text format.
#include "pipeline/progress_metrics.h"

#include <fmt/format.h>

#include <cmath>
#include <functional>
#include <optional>

#include "valise/report.h"

namespace valise {

std::string PrometheusLabelValue(std::string_view raw) {
  std::string out;
  for (char c : raw) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace {

// A number as the format writes it: integers exactly, others with enough
// digits to read back.
std::string Number(double v) {
  if (std::floor(v) == v && std::fabs(v) < 9e15) {
    return fmt::format("{}", static_cast<long long>(v));
  }
  return fmt::format("{}", v);
}

struct Metric {
  const char* name;
  const char* type;
  const char* help;
  // The drive's sample, or nothing to leave it out.
  std::function<std::optional<double>(const ProgressLine&)> value;
};

}  // namespace

std::string RenderPrometheusMetrics(const ProgressFrame& frame,
                                    double elapsed_seconds, bool running) {
  auto u = [](uint64_t v) { return static_cast<double>(v); };
  const std::vector<Metric> metrics = {
      {"valise_drive_read_bytes_total", "counter",
       "Bytes read from the drive so far in this run.",
       [&](const ProgressLine& l) { return u(l.done); }},
      {"valise_drive_planned_bytes", "gauge",
       "Bytes this run reads from the drive.",
       [&](const ProgressLine& l) -> std::optional<double> {
         if (l.planned == kUnknownSize) return std::nullopt;
         return u(l.planned);
       }},
      {"valise_drive_files_done_total", "counter",
       "Files of the drive done so far in this run, whatever the outcome.",
       [&](const ProgressLine& l) { return u(l.files); }},
      {"valise_drive_planned_files", "gauge",
       "Files this run reads from the drive.",
       [&](const ProgressLine& l) { return u(l.files_planned); }},
      {"valise_drive_read_errors_total", "counter",
       "Files of the drive whose read failed in this run.",
       [&](const ProgressLine& l) { return u(l.errors); }},
      {"valise_drive_read_rate_bytes_per_second", "gauge",
       "Read rate over the last 5 seconds (the run's average once it ended).",
       [&](const ProgressLine& l) {
         return std::isfinite(l.rate) ? l.rate : 0.0;
       }},
      {"valise_drive_stalled", "gauge",
       "1 if the drive has not delivered a byte for 10 seconds.",
       [&](const ProgressLine& l) { return l.stalled ? 1.0 : 0.0; }},
      {"valise_drive_eta_seconds", "gauge",
       "Seconds until the drive is read at its recent rate (absent when "
       "unknown).",
       [&](const ProgressLine& l) -> std::optional<double> {
         if (!l.has_eta || l.eta < 0) return std::nullopt;
         return std::ceil(l.eta);
       }},
  };
  std::string out;
  for (const Metric& m : metrics) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", m.name, m.help, m.name,
                       m.type);
    for (const ProgressLine& l : frame.drives) {
      std::optional<double> v = m.value(l);
      if (!v) continue;
      out += fmt::format("{}{{drive=\"{}\"}} {}\n", m.name,
                         PrometheusLabelValue(EscapeReportText(l.name)),
                         Number(*v));
    }
  }
  out +=
      "# HELP valise_run_eta_seconds Seconds until the slowest drive is read "
      "(absent when unknown).\n# TYPE valise_run_eta_seconds gauge\n";
  if (frame.total.has_eta && frame.total.eta >= 0) {
    out +=
        "valise_run_eta_seconds " + Number(std::ceil(frame.total.eta)) + "\n";
  }
  out += fmt::format(
      "# HELP valise_run_elapsed_seconds Seconds since the run began.\n"
      "# TYPE valise_run_elapsed_seconds gauge\n"
      "valise_run_elapsed_seconds {}\n"
      "# HELP valise_run_running 1 while the run goes on, 0 once it ended.\n"
      "# TYPE valise_run_running gauge\n"
      "valise_run_running {}\n",
      Number(std::floor(elapsed_seconds * 1000) / 1000), running ? 1 : 0);
  return out;
}

}  // namespace valise
