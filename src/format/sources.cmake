# Manifests and imports (owner: format work).
set(VALISE_FORMAT_SOURCES
  src/format/bag_names.cc
  src/format/bagit.cc
  src/format/chunk_index.cc
  src/format/chunk_index_v2.cc
  src/format/drives.cc
  src/format/hashdeep.cc
  src/format/manifest.cc
  src/format/path_escape.cc
  src/format/sidecar.cc
  src/format/sumfile.cc
)
# Signatures and the journal.
include(src/format/sources_crypto.cmake)
list(APPEND VALISE_FORMAT_SOURCES ${VALISE_FORMAT_CRYPTO_SOURCES})
