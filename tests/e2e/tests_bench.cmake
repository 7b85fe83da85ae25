# End-to-end tests of `valise bench` and the HTML report (owner: bench
# work). Included by tests/CMakeLists.txt after e2e/tests.cmake, whose
# valise_e2e_test() it uses.
valise_e2e_test(bench_loop bench_loop.sh)
# scripts/bench-peers, every part at tiny sizes (about 80 s alone; up to
# 5 minutes beside other tests on a busy machine), so the benchmark cannot
# rot: its results and documents go to scratch files, never bench/results
# or docs/.
valise_e2e_test(bench_peers_smoke bench_peers_smoke.sh)
set_tests_properties(e2e_bench_peers_smoke PROPERTIES TIMEOUT 900)
set_property(TEST e2e_bench_peers_smoke APPEND PROPERTY ENVIRONMENT
  "VALISE_METADATA_LIMIT=$<TARGET_FILE:metadata_limit>")
# The harness's own unit tests (render, timing, targets: under a second),
# and docs/design.md's figures table against bench/targets.json.
add_test(NAME bench_peers_unit
  COMMAND python3 -B -m unittest -q test_peers
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}/bench/peers)
add_test(NAME bench_figures_current
  COMMAND python3 -B ${PROJECT_SOURCE_DIR}/bench/peers/main.py check-figures)
# bench/metadata_limit lands exactly the files, with the fewest calls (a
# few seconds; plain directories, no root).
valise_e2e_test(bench_metadata_limit bench_metadata_limit.sh)
set_property(TEST e2e_bench_metadata_limit APPEND PROPERTY ENVIRONMENT
  "VALISE_METADATA_LIMIT=$<TARGET_FILE:metadata_limit>")
