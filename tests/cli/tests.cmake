# Tests of the built `valise` binary in a fresh temp directory on plain
# directories (no loop devices, no root needed): bash scripts in
# tests/cli/ using the helpers of tests/e2e/lib.sh. Included by
# tests/CMakeLists.txt (after e2e/tests.cmake, which builds the JSON query
# helper). A script exits 77 (ctest: skipped) with its reason.
#
#   cli_hostile        hostile manifests, drives and DESTs (hostile_cli.sh)
#   cli_many_files     ingest of 3,000 small files under ulimit -n 200
#   cli_operator_input what an operator types: a symlinked SRC, names with
#                      C1 or bidi controls, a key open to others, an
#                      unknown command (operator_input.sh)
#   cli_state_dir      DEST/.valise is never the dataset's (state_dir.sh)
#   cli_chunk_index    the signed chunk index: written, bound, checked, used
#                      to locate bad chunks (chunk_index.sh, a few seconds)
#   cli_resume_altered a file altered in DEST after staging is read back by
#                      the rerun, never called verified (resume_altered.sh)
#   cli_outputs        every output file and standard output: no replacing,
#                      checked first, write errors, SIGPIPE (outputs.sh)
#   cli_progress       --stats lines and the --metrics file parsed as
#                      Prometheus text (progress.sh, ~2 s)
#   cli_reports        the JSON and HTML reports: host, absolute paths,
#                      labels, signature and key fingerprint; --html,
#                      --report R.HTML; --verbose (reports.sh, seconds)
#   cli_limits         numeric flags bounded, read buffers that cannot fit
#                      refused before reading, valise run as a batch job
#                      (SCHED_BATCH) (limits.sh, a few seconds)
#   cli_big_manifest   peak memory of verify on a 10-million-line manifest
#                      (big_manifest.sh); LABELS slow: it writes 1.4 GB to
#                      /var/tmp and runs only with VALISE_SLOW_TESTS=1
function(valise_cli_test name script)
  cmake_parse_arguments(A "" "TIMEOUT" "LABELS" ${ARGN})
  add_test(NAME cli_${name}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/${script})
  set(env "VALISE=$<TARGET_FILE:valise>")
  if(TARGET valise_e2e_json)
    list(APPEND env "VALISE_JSON=$<TARGET_FILE:valise_e2e_json>")
  endif()
  set_tests_properties(cli_${name} PROPERTIES
    ENVIRONMENT "${env}"
    SKIP_RETURN_CODE 77
    TIMEOUT ${A_TIMEOUT}
    LABELS "cli;${A_LABELS}")
endfunction()

valise_cli_test(hostile hostile_cli.sh TIMEOUT 300)
valise_cli_test(big_manifest big_manifest.sh TIMEOUT 1800 LABELS slow)
valise_cli_test(many_files many_files.sh TIMEOUT 300)
valise_cli_test(operator_input operator_input.sh TIMEOUT 120)
valise_cli_test(state_dir state_dir.sh TIMEOUT 120)
valise_cli_test(chunk_index chunk_index.sh TIMEOUT 120)
valise_cli_test(resume_altered resume_altered.sh TIMEOUT 120)
valise_cli_test(limits limits.sh TIMEOUT 120)
valise_cli_test(reports reports.sh TIMEOUT 120)
valise_cli_test(outputs outputs.sh TIMEOUT 300)
valise_cli_test(progress progress.sh TIMEOUT 120)  # issue 14: --stats lines, the --metrics file (~2 s)
