set(VALISE_TESTS_FORMAT ${CMAKE_CURRENT_SOURCE_DIR}/format/manifest_test.cc)
