# End-to-end tests against a real Ceph cluster (S3 through RGW, later
# CephFS), labelled `ceph`. One cluster serves every such test of a ctest
# run: the test ceph_cluster_start (a FIXTURES_SETUP) starts it in a fixed
# directory of the build tree, clearing first any cluster a killed run
# left there, and ceph_cluster_stop (FIXTURES_CLEANUP) stops it after the
# last test that needs it. `ctest -R e2e_s3_smoke` pulls both in. Start:
# ~6 s on an idle machine, up to ~20 s on a busy one; ~150 MiB of memory
# while it runs. Not root, or the Ceph packages missing (VALISE_CEPH_DEPS
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
function(valise_ceph_test name script)
  add_test(NAME e2e_${name}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/${script})
  set_tests_properties(e2e_${name} PROPERTIES
    ENVIRONMENT
      "VALISE=$<TARGET_FILE:valise>;VALISE_JSON=$<TARGET_FILE:valise_e2e_json>;VALISE_CEPH_DIR=${VALISE_CEPH_DIR}"
    FIXTURES_REQUIRED ceph
    SKIP_RETURN_CODE 77
    TIMEOUT 600
    LABELS "e2e;ceph")
endfunction()

# The clients and the store's checks (about 30 s idle, 2 min when busy:
# each awscli call is a Python start).
valise_ceph_test(s3_smoke s3_smoke.sh)
