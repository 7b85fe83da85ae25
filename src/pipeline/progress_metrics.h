// Private to src/pipeline (progress.cc) and its tests: a run's progress as
// a Prometheus text-format file (--metrics FILE), for node_exporter's
// textfile collector (its --collector.textfile.directory).
//
// The format (Prometheus "text-based exposition format", version 0.0.4):
// for each metric a "# HELP name text" line and a "# TYPE name
// counter|gauge" line, then its samples "name{label="value"} number", all
// samples of a metric together. Metric names match [a-zA-Z_:][a-zA-Z0-9_:]*
// (ours: valise_...); label values are UTF-8 with backslash, double quote
// and newline written \\ \" \n. Drive names are passed through
// EscapeReportText first (control bytes and bytes that are not UTF-8 become
// %XX), so every value is valid UTF-8 on one line.
//
// The metrics (per drive, label drive="NAME", NAME as the progress bars
// name it: its label in M.drives where known, else its SRC):
//   valise_drive_read_bytes_total         counter  bytes read so far
//   valise_drive_planned_bytes            gauge    bytes the run will read
//                                                  (absent if unknown)
//   valise_drive_files_done_total         counter  files done (any outcome)
//   valise_drive_planned_files            gauge    files given to the drive
//   valise_drive_read_errors_total        counter  files whose read failed
//   valise_drive_read_rate_bytes_per_second gauge  over the last 5 s (the
//                                                  run's average once done)
//   valise_drive_stalled                  gauge    1 if no byte for 10 s
//   valise_drive_eta_seconds              gauge    absent when unknown
// and for the run: valise_run_eta_seconds (the slowest drive's; absent
// when unknown), valise_run_elapsed_seconds, valise_run_running (1 until
// the run ends, then 0: the last file written stays for the collector).
//
// Thread safety: a pure function.
#pragma once

#include <string>
#include <string_view>

#include "pipeline/progress_render.h"

namespace valise {

// A label value as the text format wants it: \ " and newline escaped.
std::string PrometheusLabelValue(std::string_view raw);

// The whole file for `frame` (a ProgressTracker's), `elapsed_seconds`
// into the run; `running` false once the run has ended.
std::string RenderPrometheusMetrics(const ProgressFrame& frame,
                                    double elapsed_seconds, bool running);

}  // namespace valise
