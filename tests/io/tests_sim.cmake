# Tests of the simulated disk (src/io/sim_*.cc).
set(VALISE_TESTS_SIM ${CMAKE_CURRENT_SOURCE_DIR}/io/sim_disk_test.cc)
list(APPEND VALISE_TESTS_SIM ${CMAKE_CURRENT_SOURCE_DIR}/io/engine_pause_test.cc)  # a paused process is not a stalled drive (issue 12, item 6)
