set(VALISE_UTIL_SOURCES
  src/util/buffer_pool.cc
  src/util/dedup_index.cc
  src/util/digest.cc
  src/util/status.cc
)
