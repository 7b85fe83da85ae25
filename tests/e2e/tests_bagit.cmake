# End-to-end tests of BagIt support (owner: bagit work): validating the
# hand-made bags of tests/bags/ with the built binary, `ingest --bag` on
# real drives, `manifest --format bagit`. Included by tests/CMakeLists.txt after e2e/tests.cmake
# (which defines valise_e2e_test).
valise_e2e_test(bagit_verify bagit_verify.sh)
valise_e2e_test(bagit_ingest bagit_ingest.sh)
# bagit_reference.sh (bags checked by bagit-python) is not registered:
# Debian 12 packages no reference validator, and a test that can only
# skip proves nothing. It is run by hand where bagit-python is installed
# (docs/bagit.md).
