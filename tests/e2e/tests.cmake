# End-to-end tests of the built `valise` binary on real drives: bash
# scripts (tests/e2e/*.sh, helpers in tests/e2e/lib.sh) that make file
# systems on loop devices, run the commands and check exit codes, messages
# and --json reports. Those needing root exit 77 when not root, which
# ctest reports as skipped. Included by tests/CMakeLists.txt.

# A JSON query helper for the scripts (no jq or python needed in CI).
add_executable(valise_e2e_json ${CMAKE_CURRENT_SOURCE_DIR}/e2e/json_query.cc)
target_link_libraries(valise_e2e_json PRIVATE nlohmann_json::nlohmann_json)
# Compares an ingest's DEST with its drives (bytes, mode, mtime) at once.
add_executable(valise_e2e_tree ${CMAKE_CURRENT_SOURCE_DIR}/e2e/tree_compare.cc)

function(valise_e2e_test name script)
  add_test(NAME e2e_${name}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/${script})
  # RESOURCE_LOCK loop_drives: the scripts make loop devices and drop the
  # page cache, which would disturb each other's timing-free but
  # I/O-counting checks, so they run one at a time; the tests that touch no
  # loop device (unit, cli, the Ceph cluster's) run beside them, which keeps
  # both cores busy while a script waits on its drives.
  set_tests_properties(e2e_${name} PROPERTIES
    ENVIRONMENT
      "VALISE=$<TARGET_FILE:valise>;VALISE_JSON=$<TARGET_FILE:valise_e2e_json>"
    SKIP_RETURN_CODE 77
    TIMEOUT 300
    RESOURCE_LOCK loop_drives
    LABELS e2e)
endfunction()

valise_e2e_test(verify_real_drives verify_real_drives.sh)
valise_e2e_test(verify_image_device verify_image_device.sh)
valise_e2e_test(verify_signed verify_signed.sh)
valise_e2e_test(verify_interop verify_interop.sh)
valise_e2e_test(verify_bad_input verify_bad_input.sh)
valise_e2e_test(pack_parity pack_parity.sh)
valise_e2e_test(pack_rebuild pack_rebuild.sh)  # issue 18: verify, ingest rebuild from parity
valise_e2e_test(pack_mkfs pack_mkfs.sh)  # pack --mkfs: format, refusals, resume
valise_e2e_test(umount_after_exit umount_after_exit.sh)  # issue 12, item 7
