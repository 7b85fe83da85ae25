# End-to-end tests of `valise ingest` on real drives (tests/e2e/ingest_*.sh,
# helpers in tests/e2e/ingest_lib.sh): ext4 and xfs file systems on loop
# devices, corrupt copies, kill -9 and signals mid-run, a second run on a
# locked DEST, a symlink planted in DEST. Included by tests/CMakeLists.txt
# after tests/e2e/tests.cmake, whose valise_e2e_test() registers each one
# (one loop-device test at a time, skipped when not root, 300 s unless
# raised below).

valise_e2e_test(ingest_basic ingest_basic.sh)
valise_e2e_test(ingest_repair ingest_repair.sh)
valise_e2e_test(ingest_chunk_repair ingest_chunk_repair.sh)  # issue 15, item 3: two copies with disjoint bad chunks make one file (~5 s)
valise_e2e_test(ingest_chunk_resume_kill ingest_chunk_resume_kill.sh)  # issue 15, item 4: kill -9 at ~92% of a 2 GiB file, the rerun reads <= 10% of it (~25 s)
valise_e2e_test(ingest_xfs_reflink ingest_xfs_reflink.sh)
valise_e2e_test(ingest_kill9 ingest_kill9.sh)
valise_e2e_test(ingest_sigint ingest_sigint.sh)
valise_e2e_test(ingest_lock ingest_lock.sh)
valise_e2e_test(ingest_hostile_dest ingest_hostile_dest.sh)
valise_e2e_test(ingest_chunk_dedup ingest_chunk_dedup.sh)  # issue 15: dedup by chunk on xfs, FIEMAP (~5 s)
# Twenty-odd interrupted runs over ~600 MiB, then a full one and a verify.
set_tests_properties(e2e_ingest_kill9 PROPERTIES TIMEOUT 1200)
# Three interrupted runs and their reruns; slow on a loaded machine.
set_tests_properties(e2e_ingest_sigint PROPERTIES TIMEOUT 600)
valise_e2e_test(shipment_drives shipment_drives.sh)  # issue 14: M.drives, status, drive matching (~15 s)
valise_e2e_test(watch watch.sh)  # issue 14: valise watch on loop devices attached while it runs (~15 s)
valise_e2e_test(watch_udev watch_udev.sh)  # the same through the libudev monitor (~10 s)
valise_e2e_test(dry_run_space dry_run_space.sh)  # issue 14: --dry-run refuses a DEST too small (a few s)
