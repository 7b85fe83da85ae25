# Packing a shipment: layout, parity, rebuild (owner: pack).
set(VALISE_TESTS_PACK
  ${CMAKE_CURRENT_SOURCE_DIR}/pack/layout_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/pack/pack_job_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/pack/pack_mkfs_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/pack/parity_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/pack/rebuild_test.cc
)
