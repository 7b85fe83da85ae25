set(VALISE_PIPELINE_REPORT_SOURCES
  src/pipeline/progress.cc
  src/pipeline/progress_estimate.cc
  src/pipeline/progress_metrics.cc
  src/pipeline/report.cc
  src/pipeline/report_html.cc
)
