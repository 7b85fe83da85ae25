# BagIt bags (owner: bagit work): the tag-file readers and writers, and bag
# validation and writing on the simulated disk. Both read the hand-made
# bags in tests/bags/ (see tests/bags/README.md), found through
# VALISE_TEST_BAGS_DIR.
set(VALISE_TESTS_BAGIT
  ${CMAKE_CURRENT_SOURCE_DIR}/format/bagit_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/bag_test.cc
)
set_source_files_properties(${VALISE_TESTS_BAGIT} PROPERTIES
  COMPILE_DEFINITIONS "VALISE_TEST_BAGS_DIR=\"${CMAKE_CURRENT_SOURCE_DIR}/bags\"")
# A development binary of just these tests (make valise_bagit_tests),
# declared once valise_area_tests() exists (it is defined after the
# includes of tests/CMakeLists.txt).
cmake_language(DEFER CALL valise_area_tests bagit
  AREAS util format io pipeline SOURCES ${VALISE_TESTS_BAGIT})
