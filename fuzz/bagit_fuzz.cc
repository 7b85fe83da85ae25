// libFuzzer target for the BagIt tag-file readers (src/format/bagit.cc).
//
// Every reader must survive any bytes. When an input parses, the round
// trips must be exact: a manifest written back (WriteBagManifest) reads to
// the same entries, bag-info.txt written back to the same elements, and
// DecodeBagPath(EncodeBagPath(x)) == x for the input itself; decoding a
// tag file from ISO-8859-1 always succeeds, from UTF-16 never crashes. The
// first byte picks the reader and the BagIt version. Failures abort.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "valise/bagit.h"

namespace {

[[noreturn]] void Fail(const char* what) {
  fprintf(stderr, "bagit_fuzz: %s\n", what);
  abort();
}

void FuzzManifest(std::string_view input, bool percent_encoded,
                  valise::DigestType type) {
  std::vector<valise::BagManifestEntry> entries;
  std::vector<std::string> warnings;
  const valise::BagReadRules rules{percent_encoded, !percent_encoded};
  if (!valise::ParseBagManifest(input, "fuzz", type, rules, &entries, &warnings)
           .ok()) {
    return;
  }
  const std::string text = valise::WriteBagManifest(entries);
  std::vector<valise::BagManifestEntry> again;
  valise::Status s = valise::ParseBagManifest(
      text, "fuzz", type, valise::BagReadRules{}, &again, &warnings);
  if (!s.ok()) {
    fprintf(stderr, "%s\n", s.ToString().c_str());
    Fail("a written manifest does not parse");
  }
  if (again.size() != entries.size()) Fail("round trip changed the count");
  for (size_t i = 0; i < entries.size(); ++i) {
    if (again[i].path != entries[i].path) Fail("round trip changed a path");
    if (again[i].digest != entries[i].digest) {
      Fail("round trip changed a digest");
    }
  }
}

void FuzzInfo(std::string_view input, bool legacy) {
  std::vector<valise::BagInfoField> info;
  if (!valise::ParseBagInfo(input, "fuzz", &info, legacy).ok()) return;
  std::vector<valise::BagInfoField> again;
  if (!valise::ParseBagInfo(valise::WriteBagInfo(info), "fuzz", &again).ok()) {
    Fail("a written bag-info.txt does not parse");
  }
  if (again.size() != info.size()) Fail("bag-info round trip: count");
  for (size_t i = 0; i < info.size(); ++i) {
    if (again[i].label != info[i].label || again[i].value != info[i].value) {
      Fail("bag-info round trip changed an element");
    }
  }
  uint64_t octets, streams;
  for (const valise::BagInfoField& f : info) {
    (void)valise::ParsePayloadOxum(f.value, &octets, &streams);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (valise::DecodeBagPath(valise::EncodeBagPath(input)) != input) {
    Fail("percent-encoding round trip");
  }
  const bool percent_encoded = mode & 0x80;
  switch (mode & 3) {
    case 0: {
      valise::BagDeclaration d;
      if (valise::ParseBagDeclaration(input, "fuzz", &d).ok() &&
          (d.major > 1 || d.encoding.empty())) {
        Fail("an impossible declaration was accepted");
      }
      std::vector<std::string> warnings;
      d.encoding = "ISO-8859-1";
      std::string text(input);
      if (!valise::DecodeBagTagFile(d, "fuzz", &text, &warnings).ok()) {
        Fail("ISO-8859-1 refused some bytes");
      }
      d.encoding = "UTF-16";
      text = std::string(input);
      (void)valise::DecodeBagTagFile(d, "fuzz", &text, &warnings);
      break;
    }
    case 1:
      FuzzInfo(input, !percent_encoded);
      break;
    case 2:
      FuzzManifest(
          input, percent_encoded,
          (mode & 4) ? valise::DigestType::kMd5 : valise::DigestType::kSha256);
      break;
    case 3: {
      std::vector<valise::BagFetchItem> items;
      const valise::BagReadRules rules{percent_encoded, !percent_encoded};
      if (valise::ParseBagFetch(input, "fuzz", rules, &items).ok()) {
        for (const valise::BagFetchItem& it : items) {
          if (it.path.compare(0, 5, "data/") != 0) {
            Fail("fetch.txt item outside data/ accepted");
          }
        }
      }
      break;
    }
  }
  return 0;
}
