# The destinations ingest lands a dataset in (include/valise/destination.h).
set(VALISE_DEST_SOURCES
  src/dest/posix_destination.cc
  src/dest/posix_hosts.cc
  src/dest/posix_stage_writer.cc
  src/dest/s3_destination.cc
  src/dest/s3_send_queue.cc
)
