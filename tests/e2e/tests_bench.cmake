# End-to-end tests of `valise bench` and the HTML report (owner: bench
# work). Included by tests/CMakeLists.txt after e2e/tests.cmake, whose
# valise_e2e_test() it uses.
valise_e2e_test(bench_loop bench_loop.sh)
