# End-to-end tests of `valise bench` and the HTML report (owner: bench
# work). Included by tests/CMakeLists.txt after e2e/tests.cmake, whose
# valise_e2e_test() it uses.
valise_e2e_test(bench_loop bench_loop.sh)
# scripts/bench-peers ingest at tiny sizes (about 15 s), so the benchmark
# cannot rot: it writes its table to a scratch file, never docs/.
valise_e2e_test(bench_peers_smoke bench_peers_smoke.sh)
