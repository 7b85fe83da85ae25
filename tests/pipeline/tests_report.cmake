# Report and progress bars (owner: report work).
set(VALISE_TESTS_REPORT
  ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/report_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/progress_test.cc
)
