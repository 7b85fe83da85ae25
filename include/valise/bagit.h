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
// fetch.txt, CR, LF and '%' in a path are written %0D, %0A, %25. Tag files
// other than bagit.txt are in the encoding bagit.txt names (UTF-8, or for
// older bags e.g. ISO-8859-1 or UTF-16 with its byte-order mark): they are
// decoded to UTF-8 (DecodeBagTagFile, iconv(3)) before they are parsed.
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
  std::string encoding = "UTF-8";  // of the other tag files

  // From 1.0 on, CR, LF and '%' in manifest paths are percent-encoded.
  bool percent_encoded_paths() const { return major >= 1; }
  // Before 1.0 (RFC 8493 2.2.2): whitespace around a bag-info.txt colon
  // is allowed; a manifest may list a path twice with the same digest (a
  // warning; 1.0 says "exactly once").
  bool legacy() const { return major < 1; }
  // The encoding is UTF-8 (or US-ASCII, its subset): nothing to convert.
  bool utf8() const;
};

// Parses bagit.txt: exactly two lines, "BagIt-Version: M.N" then
// "Tag-File-Character-Encoding: ENC", each ended by LF, CR or CRLF; the
// file itself is UTF-8 without a byte-order mark (RFC 8493 2.1.1: a BOM
// is an error in every version). A version outside kBagItVersions, an
// encoding iconv(3) does not know, or any other line are errors.
Status ParseBagDeclaration(std::string_view data, std::string_view name,
                           BagDeclaration* out);

// The bag declaration valise writes (1.0, UTF-8, LF).
std::string WriteBagDeclaration();

// The text of a tag file other than bagit.txt, in UTF-8: *text holds its
// bytes on entry and their UTF-8 form on return. A file in another
// encoding is converted with iconv(3) (a UTF-16 or UTF-32 byte-order mark
// picks the byte order and is dropped); bytes that are not valid in it are
// an error naming the file and the offset. In a UTF-8 bag a byte-order
// mark is dropped with a warning (RFC 8493 2.3 forbids it there). Warnings
// are appended to *warnings, naming the file.
Status DecodeBagTagFile(const BagDeclaration& decl, std::string_view name,
                        std::string* text, std::vector<std::string>* warnings);

// One "Label: value" element of bag-info.txt; continuation lines are
// joined to the value with a single space.
struct BagInfoField {
  std::string label;
  std::string value;
};

// Parses bag-info.txt (or package-info.txt of versions before 0.96), as
// UTF-8: each element is a label, ':', whitespace, a value; a line
// starting with a space or tab continues the previous value (folding:
// joined with one space, the indentation dropped). A label may not be
// empty or start with whitespace; it may end with whitespace only when
// `legacy` (bags before 1.0, RFC 8493 2.2.2: "Label : value" and
// "Label<tab>:<tab>value"; the whitespace is not part of the label). The
// value is trimmed. Blank lines are skipped. A BOM is skipped.
Status ParseBagInfo(std::string_view data, std::string_view name,
                    std::vector<BagInfoField>* out, bool legacy = false);

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

// How a bag's manifests and fetch.txt are read, from its declaration.
struct BagReadRules {
  bool percent_encoded = true;  // 1.0: DecodeBagPath on every path
  bool legacy = false;          // before 1.0: see BagDeclaration::legacy
};
BagReadRules ReadRulesFor(const BagDeclaration& decl);

// Parses a payload or tag manifest (UTF-8): "<hex> <path>" per line,
// separated by one or more spaces or tabs; blank lines skipped. Paths are
// decoded (DecodeBagPath) when `rules.percent_encoded` (1.0 bags), a
// leading "./" is dropped (some 0.9x tools wrote it), and they must be
// safe (ValidatePath: relative, no "." or ".." component). Order is kept.
// What RFC 8493 calls a warning is read, and told in *warnings (may be
// null), once per kind, naming the file and the first line:
//   - md5sum-style lines: "<hex> *<path>" (the binary-mode marker, not
//     part of the path) and a backslash before the digest (md5sum's
//     escaping of a path holding a backslash or a line feed, written as
//     two backslashes and as backslash-n);
//   - a leading "./";
//   - before 1.0 (`rules.legacy`), a path listed twice with the same
//     digest (read once).
// A path listed twice with different digests, or twice at all in a 1.0
// manifest ("every payload file name exactly once"), is an error naming
// both lines.
Status ParseBagManifest(std::string_view data, std::string_view name,
                        DigestType type, const BagReadRules& rules,
                        std::vector<BagManifestEntry>* out,
                        std::vector<std::string>* warnings = nullptr);

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
// Parses fetch.txt (UTF-8): "<url> <length or -> <path>" separated by
// spaces or tabs. Paths as in ParseBagManifest; they must lie under data/.
Status ParseBagFetch(std::string_view data, std::string_view name,
                     const BagReadRules& rules, std::vector<BagFetchItem>* out);

// Names as other file systems and people compare them (ICU). A name that
// is not valid UTF-8 is returned as it is.
// Unicode Normalization Form C: "Nu\u0301n\u0303ez" -> "N\u00fa\u00f1ez".
std::string NfcName(std::string_view name);
// NFC of the full case folding of the NFC form: equal for two names that
// differ only in case or normalization ("HELLO.txt", "hello.txt").
std::string FoldedName(std::string_view name);

// True if some component of `path` is a file or directory that macOS or
// Windows make on their own (.DS_Store, ._*, .Spotlight-V100, .Trashes,
// .fseventsd, .TemporaryItems, Thumbs.db, ehthumbs.db, desktop.ini,
// $RECYCLE.BIN, System Volume Information): RFC 8493 calls them out as
// files a bag should warn about, not fail on.
bool IsOsMetadataPath(std::string_view path);

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

// True if `dir` (or what it names, if it is a symlink) is a directory
// holding a regular file bagit.txt.
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
