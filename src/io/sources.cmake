# The real I/O layer: POSIX files, io_uring and synchronous queues, engine.
set(VALISE_IO_SOURCES
  src/io/device_events.cc
  src/io/drive_probe.cc
  src/io/timed_probe.cc
  src/io/engine.cc
  src/io/engine_driver.cc
  src/io/mounter.cc
  src/io/posix_file_system.cc
  src/io/sync_queue.cc
  src/io/threaded_queue.cc
  src/io/uring_queue.cc
)
# The simulated disk.
include(src/io/sources_sim.cmake)
list(APPEND VALISE_IO_SOURCES ${VALISE_IO_SIM_SOURCES})
