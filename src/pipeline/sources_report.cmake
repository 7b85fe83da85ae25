set(VALISE_PIPELINE_REPORT_SOURCES
  src/pipeline/progress.cc
  src/pipeline/report.cc
  src/pipeline/report_html.cc
)
