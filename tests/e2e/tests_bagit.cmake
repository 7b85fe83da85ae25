# End-to-end tests of BagIt support (owner: bagit work): validating the
# hand-made bags of tests/bags/ with the built binary, `ingest --bag` on
# real drives, `manifest --format bagit`, and a reference validator when
# one is installed. Included by tests/CMakeLists.txt after e2e/tests.cmake
# (which defines valise_e2e_test).
valise_e2e_test(bagit_verify bagit_verify.sh)
valise_e2e_test(bagit_ingest bagit_ingest.sh)
valise_e2e_test(bagit_reference bagit_reference.sh)
