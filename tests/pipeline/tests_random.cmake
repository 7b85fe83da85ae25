# The seeded randomized test of verify and ingest on the simulated disk,
# and the hostile-input pipeline tests (owner: random work).
set(VALISE_TESTS_RANDOM
  ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/randomized_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/hostile_test.cc
)
