set(VALISE_IO_SIM_SOURCES
  src/io/sim_disk.cc
)
