set(VALISE_TESTS_PIPELINE ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/verify_test.cc ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/ingest_test.cc)
list(APPEND VALISE_TESTS_PIPELINE ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/ingest_dedup_test.cc)  # dedup regressions (reliability bugs 2-4)
list(APPEND VALISE_TESTS_PIPELINE ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/chunk_check_test.cc)  # signed chunk digests (issue 15)
list(APPEND VALISE_TESTS_PIPELINE ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/committer_test.cc)  # the committer's order against a recording destination
list(APPEND VALISE_TESTS_PIPELINE ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/ingest_resume_test.cc)  # what a rerun trusts (issue 12, item 3)
list(APPEND VALISE_TESTS_PIPELINE ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/source_test.cc)  # SRC given as a symlink, bad SRCs (issue 12, item 11)
list(APPEND VALISE_TESTS_PIPELINE ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/stall_names_test.cc)  # stalled-drive messages name the drive (issue 12, item 6)
list(APPEND VALISE_TESTS_PIPELINE ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/reader_test.cc)  # the read loop on the simulated disk
list(APPEND VALISE_TESTS_PIPELINE ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/shipment_drives_test.cc)  # the drives of a shipment, M.drives (issue 14)
list(APPEND VALISE_TESTS_PIPELINE ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/shipment_status_test.cc)  # valise status (issue 14)
list(APPEND VALISE_TESTS_PIPELINE ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/watch_test.cc)  # valise watch on fakes (issue 14)
list(APPEND VALISE_TESTS_PIPELINE ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/ingest_dry_run_test.cc)  # ingest --dry-run (issue 14)
list(APPEND VALISE_TESTS_PIPELINE ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/parity_verify_test.cc)  # verify rebuilds from a pack's parity (issue 18)
list(APPEND VALISE_TESTS_PIPELINE ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/parity_ingest_test.cc)  # ingest stages what a pack's parity rebuilds (issue 18)
