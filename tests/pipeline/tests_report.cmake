set(VALISE_TESTS_REPORT ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/report_test.cc)
