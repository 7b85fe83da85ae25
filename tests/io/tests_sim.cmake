# Tests of the simulated disk (src/io/sim_*.cc).
set(VALISE_TESTS_SIM ${CMAKE_CURRENT_SOURCE_DIR}/io/sim_disk_test.cc)
