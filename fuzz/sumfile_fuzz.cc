// libFuzzer target for the sum-file reader (sha256sum, md5sum, xxhsum...).
//
// ParseManifest(kSumFile) must survive any bytes. When an input parses,
// two round trips must be exact: WriteSumFile then a re-parse with the
// algorithm forced (32 hex alone cannot say md5 from xxh128) gives the
// same entries, and so does converting to manifest v1 (WriteManifest) and
// reading that back. Failures abort.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "valise/manifest.h"

namespace {

[[noreturn]] void Fail(const char* what) {
  fprintf(stderr, "sumfile_fuzz: %s\n", what);
  abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using valise::Manifest;
  using valise::ManifestFormat;
  if (size == 0) return 0;
  // The first byte picks the file name (the xxh128 hint) and a forced
  // algorithm, so those paths get fuzzed too.
  const uint8_t mode = data[0];
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  valise::ManifestReadOptions opts;
  opts.format = ManifestFormat::kSumFile;
  if (mode & 0x80) {
    opts.sum_type =
        static_cast<valise::DigestType>(mode % valise::kNumDigestTypes);
  }
  const char* name = (mode & 0x40) ? "fuzz.xxh128" : "fuzz";
  Manifest m;
  if (!valise::ParseManifest(input, name, opts, &m).ok()) return 0;
  std::vector<valise::DigestType> types = m.digests().Types();
  if (types.size() != 1) Fail("a sum file has exactly one algorithm");
  if (m.has_sizes() || m.has_mtimes()) Fail("sizes from a sum file");

  std::string text = valise::WriteSumFile(m, types[0]);
  valise::ManifestReadOptions forced;
  forced.format = ManifestFormat::kSumFile;
  forced.sum_type = types[0];
  Manifest again;
  valise::Status s = valise::ParseManifest(text, "fuzz", forced, &again);
  if (!s.ok()) {
    fprintf(stderr, "%s\n", s.ToString().c_str());
    Fail("rewritten sum file does not parse");
  }
  if (!again.SameEntries(m)) Fail("sum file round trip changed the entries");
  if (valise::WriteSumFile(again, types[0]) != text) {
    Fail("rewriting the sum file is not a fixed point");
  }

  Manifest v1;
  s = valise::ParseManifest(valise::WriteManifest(m, "T"), "fuzz",
                            ManifestFormat::kValise, &v1);
  if (!s.ok()) {
    fprintf(stderr, "%s\n", s.ToString().c_str());
    Fail("conversion to v1 does not parse");
  }
  if (!v1.SameEntries(m)) Fail("conversion to v1 changed the entries");
  return 0;
}
