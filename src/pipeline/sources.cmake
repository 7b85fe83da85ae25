set(VALISE_PIPELINE_SOURCES
  src/pipeline/bench.cc
  src/pipeline/chunk_check.cc
  src/pipeline/bag.cc
  src/pipeline/ingest.cc
  src/pipeline/make_manifest.cc
  src/pipeline/plan.cc
  src/pipeline/scan.cc
  src/pipeline/sidecar_load.cc
  src/pipeline/reader.cc
  src/pipeline/verify.cc
)
include(src/pipeline/sources_report.cmake)
list(APPEND VALISE_PIPELINE_SOURCES ${VALISE_PIPELINE_REPORT_SOURCES})
