# The destinations against their contract (include/valise/destination.h).
set(VALISE_TESTS_DEST
  ${CMAKE_CURRENT_SOURCE_DIR}/dest/posix_destination_test.cc
)
