# End-to-end tests of real kernel faults (docs/reliability.md): a FUSE file
# system that fails chosen reads (valise_faultfs), btrfs checksum errors, a
# truncated image, full destinations, and power loss on xfs. Each is a bash
# script beside this file; they need root and skip (77) without it.
# Included by tests/CMakeLists.txt; uses valise_e2e_test() from tests.cmake
# when it is there.

function(valise_faults_test name script)
  add_test(NAME e2e_${name}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/${script})
  # VALISE_FAULTFS is empty when libfuse3 was not found (the target does
  # not exist): the script that needs it skips and says so.
  set_tests_properties(e2e_${name} PROPERTIES
    ENVIRONMENT
      "VALISE=$<TARGET_FILE:valise>;VALISE_JSON=$<TARGET_FILE:valise_e2e_json>;VALISE_FAULTFS=$<$<TARGET_EXISTS:valise_faultfs>:$<TARGET_FILE:valise_faultfs>>"
    SKIP_RETURN_CODE 77
    TIMEOUT 600
    RESOURCE_LOCK loop_drives
    LABELS "e2e;faults")
endfunction()

valise_faults_test(faults_fuse faults_fuse.sh)
valise_faults_test(faults_btrfs faults_btrfs.sh)
valise_faults_test(faults_truncated_image faults_truncated_image.sh)
valise_faults_test(faults_enospc faults_enospc.sh)
valise_faults_test(faults_power_loss faults_power_loss.sh)
valise_faults_test(watch_yank watch_yank.sh)  # issue 14: a drive pulled mid-read under watch, plugged in again; a drive that hangs its probe (~15 s)
