// libFuzzer target for the manifest v1 reader.
//
// Any bytes may arrive as a manifest (a drive from elsewhere, a damaged
// copy), so ParseManifest must never crash, hang or read out of bounds.
// When an input does parse, the result must survive the round trip:
// WriteManifest, then ParseManifest again, gives the same entries; the
// rewritten text is a fixed point of write(parse(.)); Find locates every
// entry; and the bound sidecars ("# bind") come back the same. Any failure
// of those aborts, which libFuzzer reports.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "valise/manifest.h"

namespace {

[[noreturn]] void Fail(const char* what) {
  fprintf(stderr, "manifest_fuzz: %s\n", what);
  abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using valise::Manifest;
  using valise::ManifestFormat;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  Manifest m;
  if (!valise::ParseManifest(input, "fuzz", ManifestFormat::kValise, &m).ok()) {
    return 0;
  }
  if (!m.finished()) Fail("parsed manifest not finished");
  for (size_t i = 0; i < m.size(); ++i) {
    if (m.Find(m.path(i)) != static_cast<int64_t>(i)) Fail("Find");
    if (!valise::ValidatePath(m.path(i)).ok()) Fail("unsafe path accepted");
  }
  std::string text = valise::WriteManifest(m, "2026-01-01T00:00:00Z");
  Manifest again;
  valise::Status s =
      valise::ParseManifest(text, "fuzz", ManifestFormat::kValise, &again);
  if (!s.ok()) {
    fprintf(stderr, "%s\n", s.ToString().c_str());
    Fail("rewritten manifest does not parse");
  }
  if (!again.SameEntries(m)) Fail("round trip changed the entries");
  if (again.bindings() != m.bindings()) Fail("round trip changed a binding");
  for (const auto& [name, b] : m.bindings()) {
    if (!valise::IsSidecarName(name)) Fail("bad sidecar name accepted");
  }
  if (valise::WriteManifest(again, "2026-01-01T00:00:00Z") != text) {
    Fail("rewriting is not a fixed point");
  }
  return 0;
}
