# Manifests and their imports (owner: format work).
set(VALISE_TESTS_FORMAT
  ${CMAKE_CURRENT_SOURCE_DIR}/format/manifest_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/format/path_escape_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/format/sumfile_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/format/hashdeep_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/format/chunk_index_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/format/chunk_index_v2_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/format/manifest_binding_test.cc
)
