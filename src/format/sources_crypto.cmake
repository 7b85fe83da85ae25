set(VALISE_FORMAT_CRYPTO_SOURCES
  src/format/journal.cc
  src/format/signature.cc
)
