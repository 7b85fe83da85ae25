# The destinations against their contract (include/valise/destination.h);
# the S3 one through ingest on the fake store (S3Destination.*, S3Chunks.*,
# S3ChunkResume.*, and S3DestinationRandomized.*: 200 seeds of store faults
# and a killed client).
set(VALISE_TESTS_DEST
  ${CMAKE_CURRENT_SOURCE_DIR}/dest/posix_destination_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/dest/s3_chunk_resume_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/dest/s3_chunk_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/dest/s3_destination_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/dest/s3_send_queue_test.cc
)
