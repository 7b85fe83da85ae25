# Packaging and operator's guide tests (owner: pkg). Included by
# tests/CMakeLists.txt after e2e/tests.cmake.
function(valise_pkg_test name script)
  add_test(NAME e2e_${name}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/${script})
  set_tests_properties(e2e_${name} PROPERTIES
    ENVIRONMENT "VALISE=$<TARGET_FILE:valise>;VALISE_BUILD_DIR=${CMAKE_BINARY_DIR}"
    SKIP_RETURN_CODE 77
    TIMEOUT 600
    LABELS e2e)
endfunction()
valise_pkg_test(guide_commands guide_commands.sh)
valise_pkg_test(packaging_help packaging_help.sh)
# Builds valise_docs in the build tree: not alongside cpack.
valise_pkg_test(packaging_install packaging_install.sh)
set_tests_properties(e2e_packaging_install PROPERTIES RUN_SERIAL TRUE)
# cpack writes into the build tree: not alongside another cpack run.
valise_pkg_test(packaging_deb packaging_deb.sh)
set_tests_properties(e2e_packaging_deb PROPERTIES RUN_SERIAL TRUE)
