set(VALISE_TESTS_IO
  ${CMAKE_CURRENT_SOURCE_DIR}/io/engine_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/io/engine_driver_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/io/posix_file_system_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/io/threaded_queue_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/io/timed_probe_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/io/uring_queue_test.cc
)
