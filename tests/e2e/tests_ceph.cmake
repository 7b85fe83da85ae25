# End-to-end tests against a real Ceph cluster (S3 through RGW, later
# CephFS), labelled `ceph`. One cluster serves every such test of a ctest
# run: the test ceph_cluster_start (a FIXTURES_SETUP) starts it in a fixed
# directory of the build tree, clearing first any cluster a killed run
# left there, and ceph_cluster_stop (FIXTURES_CLEANUP) stops it after the
# last test that needs it. `ctest -R e2e_s3_smoke` pulls both in. Start:
# 13-22 s on 2 cores at load 9-14 (4.3 s of CPU); ~150-230 MiB of memory
# while it runs (docs/s3.md, "The test cluster"). Not root, or the Ceph packages missing (VALISE_CEPH_DEPS
# in scripts/lib/deps.sh): every test here is skipped, saying why.
# Included by tests/CMakeLists.txt.

set(VALISE_CEPH_DIR ${CMAKE_CURRENT_BINARY_DIR}/ceph-cluster)
set(VALISE_CEPH_CLUSTER ${CMAKE_CURRENT_SOURCE_DIR}/support/ceph_cluster.sh)

add_test(NAME ceph_cluster_start
  COMMAND bash ${VALISE_CEPH_CLUSTER} restart ${VALISE_CEPH_DIR})
set_tests_properties(ceph_cluster_start PROPERTIES
  FIXTURES_SETUP ceph
  SKIP_RETURN_CODE 77
  TIMEOUT 300
  LABELS ceph)
add_test(NAME ceph_cluster_stop
  COMMAND bash ${VALISE_CEPH_CLUSTER} stop ${VALISE_CEPH_DIR})
set_tests_properties(ceph_cluster_stop PROPERTIES
  FIXTURES_CLEANUP ceph
  SKIP_RETURN_CODE 77
  TIMEOUT 120
  LABELS ceph)

# valise_ceph_test(NAME SCRIPT): tests/e2e/SCRIPT as e2e_NAME, on the
# fixture's cluster (VALISE_CEPH_DIR; s3_lib.sh's need_ceph uses it).
# RESOURCE_LOCK: the tests on the shared cluster run one at a time (other
# tests run beside them), so one may kill and restart RGW
# (ceph_cluster_rgw_kill, ceph_cluster_rgw_start) without failing another;
# it leaves RGW running, and unmounts the ceph-fuse mounts it made.
function(valise_ceph_test name script)
  add_test(NAME e2e_${name}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/${script})
  set_tests_properties(e2e_${name} PROPERTIES
    ENVIRONMENT
      "VALISE=$<TARGET_FILE:valise>;VALISE_JSON=$<TARGET_FILE:valise_e2e_json>;VALISE_CEPH_DIR=${VALISE_CEPH_DIR}"
    FIXTURES_REQUIRED ceph
    RESOURCE_LOCK ceph_cluster
    SKIP_RETURN_CODE 77
    TIMEOUT 600
    LABELS "e2e;ceph")
endfunction()

# The clients and the store's checks: 110-150 s on 2 cores at load 10-19,
# most of it awscli's Python starts (~25 calls, 0.9 s of CPU each).
valise_ceph_test(s3_smoke s3_smoke.sh)
# The harness itself: CephFS through two ceph-fuse mounts (and what it
# offers a never-replace commit: link(2), renameat2 RENAME_NOREPLACE), RGW
# killed and started again, stop's safety (about 30 s; the first CephFS
# use adds an MDS to the fixture's cluster, ~7 s).
valise_ceph_test(ceph_cluster ceph_cluster.sh)
# valise's S3 client against RGW: every call, wrong digests and wrong
# credentials refused (about 10 s).
valise_ceph_test(s3_client s3_client.sh)
set_property(TEST e2e_s3_client APPEND PROPERTY ENVIRONMENT
  "VALISE_RGW_TESTS=$<TARGET_FILE:valise_rgw_tests>")
# ingest into s3://, verify from s3://, a key present not overwritten,
# wrong credentials, a missing bucket, kill -9 and resume (82 s at load 14
# beside a build; less on a quiet machine).
valise_ceph_test(s3_ingest s3_ingest.sh)
# valise bench -d s3://: the store's rates, nothing left in the bucket,
# wrong credentials, a missing bucket (about 35 s at load 10).
valise_ceph_test(s3_bench s3_bench.sh)
# --addr on a bridge, S3 and a ceph-fuse mount from a network namespace:
# its own cluster (the fixture's is on 127.0.0.1), about 30 s.
add_test(NAME e2e_ceph_cluster_netns
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/ceph_cluster_netns.sh)
set_tests_properties(e2e_ceph_cluster_netns PROPERTIES
  ENVIRONMENT
    "VALISE=$<TARGET_FILE:valise>;VALISE_JSON=$<TARGET_FILE:valise_e2e_json>"
  SKIP_RETURN_CODE 77
  TIMEOUT 600
  LABELS "e2e;ceph")
# Several ingest hosts (network namespaces on a bridge) into one s3://
# prefix (issue 17): six loop drives, a file on drives at two hosts, a host
# killed and its drive moved, status after each step, verify, one version
# of every key. Its own cluster on the bridge's address (53-58 s at load
# 8-9, 15-20 s of it the cluster's start).
add_test(NAME e2e_s3_multihost
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/s3_multihost.sh)
set_tests_properties(e2e_s3_multihost PROPERTIES
  ENVIRONMENT
    "VALISE=$<TARGET_FILE:valise>;VALISE_JSON=$<TARGET_FILE:valise_e2e_json>"
  SKIP_RETURN_CODE 77
  TIMEOUT 600
  LABELS "e2e;ceph")
# Issue 17 on a shared file system: three hosts (network namespaces, each
# with its own ceph-fuse mount of one CephFS) ingest six drives into one
# directory DEST at once, a host killed and its drive finished by another;
# its own cluster without RGW (13-20 s).
add_test(NAME e2e_cephfs_multihost
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/cephfs_multihost.sh)
set_tests_properties(e2e_cephfs_multihost PROPERTIES
  ENVIRONMENT
    "VALISE=$<TARGET_FILE:valise>;VALISE_JSON=$<TARGET_FILE:valise_e2e_json>"
  SKIP_RETURN_CODE 77
  TIMEOUT 600
  LABELS "e2e;ceph")
# What goes wrong, into s3://: duplicates as server-side copies (bytes
# uploaded counted), a corrupt copy repaired from another SRC, the RGW
# daemon killed and restarted mid-ingest (twice), kill -9 twenty times
# (S3_KILLS) with verify from S3 after each; status of an s3:// DEST
# (87-135 s at load 10-13 beside a build).
valise_ceph_test(s3_resilience s3_resilience.sh)
# The operator guide's "into object storage" section (docs/operator-guide.md,
# the ```sh s3 blocks) run as written into RGW (10-23 s at load 10-13).
valise_ceph_test(guide_s3 guide_s3.sh)
# valise watch into s3://: a loop-device drive attached while it runs,
# the custody record as an object (issue 14; ~10 s).
valise_ceph_test(watch_s3 watch_s3.sh)
set_property(TEST e2e_watch_s3 APPEND PROPERTY RESOURCE_LOCK loop_drives)
# Resume by chunk into s3:// (issue 15): kill -9 once 18 of a 160 MiB
# file's 20 one-chunk parts (8 MiB chunks) are stored; the rerun goes on in
# the same upload and reads <= 10% of the file (11-13 s at load 4).
valise_ceph_test(s3_chunk_resume_kill s3_chunk_resume_kill.sh)
set_property(TEST e2e_s3_chunk_resume_kill APPEND PROPERTY
  RESOURCE_LOCK loop_drives)
