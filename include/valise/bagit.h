// BagIt bags (RFC 8493, versions 0.93 to 1.0): reading and writing their tag
// files (src/format/bagit.cc), and validating or writing whole bags on top
// of the pipeline (src/pipeline/bag.cc).
//
// A bag is a directory:
//   bagit.txt                 "BagIt-Version: M.N" and
//                             "Tag-File-Character-Encoding: UTF-8"
//   data/                     the payload, any tree of files
//   manifest-<alg>.txt        "<hex digest> <path>" for every payload file
//                             (paths "data/..."); at least one
//   tagmanifest-<alg>.txt     the same for tag files (optional)
//   bag-info.txt              "Label: value" metadata, e.g. Payload-Oxum
//                             "<octets>.<files>" (optional)
//   fetch.txt                 "<url> <length> <path>": payload to fetch
//                             (optional; valise never fetches)
// Tag files may end their lines with LF, CR or CRLF. In 1.0 manifests and
// fetch.txt, CR, LF and '%' in a path are written %0D, %0A, %25.
//
// Validation (ValidateBags) is what `valise verify` runs on a bag; the rules,
// the order of the checks and what each finding does to the exit status are
// in docs/bagit.md. Hashing goes through VerifyDrives, so a large bag is
// checked at drive speed.
//
// Thread safety: the parse and write functions are pure and thread-safe.
// ValidateBags and WriteBagTagFiles run one job each, like the calls in
// pipeline.h, and may run concurrently on different inputs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "valise/digest.h"
#include "valise/file_system.h"
#include "valise/manifest.h"
#include "valise/pipeline.h"
#include "valise/report.h"
#include "valise/status.h"

namespace valise {

// ---------------------------------------------------------------------------
// Tag files (src/format/bagit.cc). Every parser names the file and line in
// its errors ("bag/bagit.txt:2: ..."), as InvalidArgument.

// The versions valise reads. Writing is always 1.0.
inline constexpr std::string_view kBagItVersions[] = {"0.93", "0.94", "0.95",
                                                      "0.96", "0.97", "1.0"};

// bagit.txt, the bag declaration.
struct BagDeclaration {
  std::string version;  // "1.0", "0.97", ...
  int major = 1;
  int minor = 0;
  std::string encoding;  // "UTF-8"
  // A UTF-8 byte-order mark opened the file (an error from 1.0 on; older
  // versions did not forbid it, so it is tolerated there with a note).
  bool had_bom = false;

  // From 1.0 on, CR, LF and '%' in manifest paths are percent-encoded.
  bool percent_encoded_paths() const { return major >= 1; }
};

// Parses bagit.txt: exactly two lines, "BagIt-Version: M.N" then
// "Tag-File-Character-Encoding: ENC", each ended by LF, CR or CRLF. A
// version outside kBagItVersions, an encoding other than UTF-8 (valise
// reads only UTF-8 tag files; US-ASCII, a subset, is accepted), a BOM in a
// 1.0 declaration, or any other line are errors.
Status ParseBagDeclaration(std::string_view data, std::string_view name,
                           BagDeclaration* out);

// The bag declaration valise writes (1.0, UTF-8, LF).
std::string WriteBagDeclaration();

// One "Label: value" element of bag-info.txt; continuation lines are
// joined to the value with a single space.
struct BagInfoField {
  std::string label;
  std::string value;
};

// Parses bag-info.txt (or package-info.txt of versions before 0.96): each
// element is a label, ':', whitespace, a value; a line starting with a
// space or tab continues the previous value. A label may not be empty,
// start or end with whitespace. Blank lines are skipped. A BOM is skipped.
Status ParseBagInfo(std::string_view data, std::string_view name,
                    std::vector<BagInfoField>* out);

// The first value of `label` (compared ignoring ASCII case), or nullopt.
std::optional<std::string> FindBagInfo(const std::vector<BagInfoField>& info,
                                       std::string_view label);

// Payload-Oxum "<octets>.<streams>": decimal, no sign or spaces.
bool ParsePayloadOxum(std::string_view value, uint64_t* octets,
                      uint64_t* streams);

// bag-info.txt from fields, one "Label: value" line each (LF).
std::string WriteBagInfo(const std::vector<BagInfoField>& fields);

// "manifest-sha256.txt" -> payload, "sha256"; "tagmanifest-md5.txt" -> tag,
// "md5". False for any other name. The algorithm is returned as written
// (it may be one valise does not compute: see ParseDigestName).
bool ParseBagManifestName(std::string_view file_name, bool* tag_manifest,
                          std::string* algorithm);

// One line of a manifest: a raw (decoded) path relative to the bag root and
// its digest.
struct BagManifestEntry {
  std::string path;
  Digest digest;
  uint64_t line = 0;  // 1-based, for messages
};

// Parses a payload or tag manifest: "<hex> <path>" per line, separated by
// one or more spaces or tabs; blank lines skipped. Paths are decoded
// (DecodeBagPath) when `percent_encoded` (1.0 bags), and must be safe
// (ValidatePath: relative, no "." or ".." component). A path listed twice
// is an error naming both lines. Order is kept.
Status ParseBagManifest(std::string_view data, std::string_view name,
                        DigestType type, bool percent_encoded,
                        std::vector<BagManifestEntry>* out);

// A manifest from entries: "<lowercase hex>  <encoded path>\n" per entry
// (two spaces, as sha256sum writes, so `sha256sum -c` accepts it when no
// path needed encoding), in the given order.
std::string WriteBagManifest(const std::vector<BagManifestEntry>& entries);
// A payload manifest of every entry of `m` (its `type` digests), each path
// prefixed with `prefix` ("data/"), in the manifest's order.
// REQUIRES: m.digests().Has(type).
std::string WriteBagManifest(const Manifest& m, DigestType type,
                             std::string_view prefix);

// RFC 8493 2.1.3: in a path, '%' -> "%25", LF -> "%0A", CR -> "%0D"; every
// other byte as is.
std::string EncodeBagPath(std::string_view raw);
// The inverse: "%25", "%0A", "%0D" (hex in either case) become their bytes;
// any other '%' is kept literally (as the reference tools do).
std::string DecodeBagPath(std::string_view encoded);

// One line of fetch.txt.
struct BagFetchItem {
  std::string url;
  std::optional<uint64_t> length;  // nullopt for "-"
  std::string path;                // raw, relative to the bag root
  uint64_t line = 0;
};
// Parses fetch.txt: "<url> <length or -> <path>" separated by spaces or
// tabs. Paths as in ParseBagManifest; they must lie under data/.
Status ParseBagFetch(std::string_view data, std::string_view name,
                     bool percent_encoded, std::vector<BagFetchItem>* out);

// ---------------------------------------------------------------------------
// Bags (src/pipeline/bag.cc).

// One bag to validate.
struct BagSpec {
  // The bag directory: bagit.txt, the manifests and the other tag files
  // are read from here.
  std::string dir;
  // Where the payload is checked: drives laid out like the bag (data/...
  // under each root; a file may be on several). Empty: `dir` itself, the
  // usual case.
  std::vector<std::string> payload_sources;
};

// Validates every bag (RFC 8493 section 3: complete, then valid) and fills
// *report: one RunReport::drives row per payload source of every bag, in
// order; bag-level findings (a bad bagit.txt, a Payload-Oxum mismatch, a
// payload file missing from a manifest, fetch.txt items not fetched...) go
// into the errors of the bag's first drive row, so they make ExitCode() 1;
// per-file findings are FileResults (a payload file in no manifest is
// kExtra, a tag file that fails its tag manifest kCorrupt or kMissing).
// Payload-Oxum is compared with a listing of data/ before any file is
// read; a mismatch makes the bag invalid at once, and its payload is not
// read. Bags on the same device are checked one after the other, bags on
// different devices at the same time.
// Returns an error only for trouble that stops the whole run (a bag
// directory that is not there or holds no bagit.txt: NotFound); one bag's
// problems never stop the others.
Status ValidateBags(FileSystem* fs, const std::vector<BagSpec>& bags,
                    const PipelineOptions& opt, RunReport* report);

// True if `dir` is a directory holding a regular file bagit.txt.
bool IsBagDirectory(FileSystem* fs, const std::string& dir);

// What WriteBagTagFiles did.
struct BagWriteSummary {
  std::vector<std::string> written;  // tag files, in the order written
  uint64_t payload_octets = 0;
  uint64_t payload_files = 0;
};

// Turns `dest`, holding the payload of `manifest` under dest/data/ (as
// IngestDrives with IngestOptions::dest_prefix = "data/" leaves it), into
// a BagIt 1.0 bag: a payload manifest for each of md5, sha1, sha256,
// sha512 the manifest holds (sha256 is always written: if the manifest
// lacks it, the staged payload is hashed, which reads it again), then
// bagit.txt, bag-info.txt (Payload-Oxum from the staged files,
// Bagging-Date today in UTC, Bag-Software-Agent, then `extra_info`), and
// last tagmanifest-sha256.txt over those. Every file is written whole and
// atomically (FileSystem::WriteSmallFile). Fails (InvalidArgument naming
// the first) if a manifest entry is not under dest/data/ with its size:
// an unfinished ingest does not become a bag.
Status WriteBagTagFiles(FileSystem* fs, const Manifest& manifest,
                        const std::string& dest, const PipelineOptions& opt,
                        const std::vector<BagInfoField>& extra_info,
                        BagWriteSummary* summary);

}  // namespace valise
