# valise bench and the HTML report (owner: bench work). Part of
# valise_tests; also a dev binary, `make valise_bench_tests`, that links
# just the areas it tests. BenchS3.* measure an s3:// DEST on the fake
# store (about 2 s).
set(VALISE_TESTS_BENCH
  ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/bench_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/bench_s3_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/report_html_test.cc
)
add_executable(valise_bench_tests EXCLUDE_FROM_ALL ${VALISE_TESTS_BENCH}
  $<TARGET_OBJECTS:valise_util> $<TARGET_OBJECTS:valise_format>
  $<TARGET_OBJECTS:valise_io> $<TARGET_OBJECTS:valise_dest>
  $<TARGET_OBJECTS:valise_pipeline> $<TARGET_OBJECTS:valise_net>)
target_link_libraries(valise_bench_tests PRIVATE valise_util
  valise_test_support GTest::gtest_main CURL::libcurl EXPAT::EXPAT)
target_include_directories(valise_bench_tests PRIVATE
  ${PROJECT_SOURCE_DIR}/src)
