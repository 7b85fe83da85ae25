# Signatures and the journal (owner: crypto work).
set(VALISE_TESTS_FORMAT_CRYPTO
  ${CMAKE_CURRENT_SOURCE_DIR}/format/signature_test.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/format/journal_test.cc
)
