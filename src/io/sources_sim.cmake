# The simulated disk (include/valise/sim_disk.h): state and fault model,
# Files, Directory handles, and the seeded IoQueue.
set(VALISE_IO_SIM_SOURCES
  src/io/sim_directory.cc
  src/io/sim_disk.cc
  src/io/sim_file.cc
  src/io/sim_queue.cc
)
