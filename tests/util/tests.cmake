set(VALISE_TESTS_UTIL ${CMAKE_CURRENT_SOURCE_DIR}/util/status_test.cc ${CMAKE_CURRENT_SOURCE_DIR}/util/digest_test.cc ${CMAKE_CURRENT_SOURCE_DIR}/util/dedup_index_test.cc)
