// libFuzzer target for the hashdeep reader.
//
// ParseManifest(kHashdeep) must survive any bytes. hashdeep files are only
// read, never written, so the round trip goes through manifest v1: a
// parsed file, written with WriteManifest and read back, must give the
// same entries (paths, sizes, digests). Failures abort.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "valise/manifest.h"

namespace {

[[noreturn]] void Fail(const char* what) {
  fprintf(stderr, "hashdeep_fuzz: %s\n", what);
  abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using valise::Manifest;
  using valise::ManifestFormat;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  Manifest m;
  if (!valise::ParseManifest(input, "fuzz", ManifestFormat::kHashdeep, &m)
           .ok()) {
    return 0;
  }
  if (m.has_mtimes()) Fail("mtimes from a hashdeep file");
  for (size_t i = 0; i < m.size(); ++i) {
    if (!valise::ValidatePath(m.path(i)).ok()) Fail("unsafe path accepted");
  }
  Manifest v1;
  valise::Status s = valise::ParseManifest(
      valise::WriteManifest(m, "T"), "fuzz", ManifestFormat::kValise, &v1);
  if (!s.ok()) {
    fprintf(stderr, "%s\n", s.ToString().c_str());
    Fail("conversion to v1 does not parse");
  }
  if (!v1.SameEntries(m)) Fail("conversion to v1 changed the entries");
  if (v1.total_bytes() != m.total_bytes()) Fail("total bytes changed");
  return 0;
}
