// Manifests: the list of files a dataset holds, with their sizes, mtimes
// and digests, as made at the source and checked at the datacenter.
//
// Formats read (ParseManifest, auto-detected unless forced; the rules are
// in docs/formats.md):
//   kValise     valise manifest v1 (docs/formats.md; docs/design.md)
//   kSumFile    GNU sha256sum/md5sum/sha1sum/sha512sum/xxhsum output,
//               including "\"-escaped names and the BSD "SHA256 (p) = hex"
//               form; the algorithm follows from the digest length or tag
//               (xxhsum -H2 lines are "XXH128 (p) = hex" or 32 hex; 32 hex
//               untagged is md5 unless the file name ends in .xxh128,
//               .xxhsum or .xxh, or ManifestReadOptions::sum_type says so)
//   kHashdeep   "%%%% HASHDEEP-1.0" files (size + digest columns), as
//               written by `hashdeep -l -r .` run from the drive root
//   kBagit      a BagIt bag directory (issue 6; not parsed here)
// Formats written: kValise (WriteManifest) and kSumFile (WriteSumFile).
//
// In memory a Manifest is compact: paths in one arena, each digest column
// in one flat byte array, so an entry with sha256 + xxh128 costs 72 B plus
// its path once Finish() has run (MemoryUsage() measures it; the
// 1,000,000-entry test in tests/format/manifest_test.cc checks it).
//
// Thread safety: a const Manifest may be read from any thread; Add and
// Finish need external synchronisation. The free functions are
// thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "valise/digest.h"
#include "valise/status.h"

namespace valise {

enum class ManifestFormat : uint8_t {
  kAuto,
  kValise,
  kSumFile,
  kHashdeep,
  kBagit,
};
// "auto", "valise", "sumfile", "hashdeep", "bagit"; ParseManifestFormat also
// accepts "sha256sum", "md5sum", "sha1sum", "sha512sum", "xxhsum" as
// kSumFile.
std::string_view ManifestFormatName(ManifestFormat f);
bool ParseManifestFormat(std::string_view name, ManifestFormat* f);

// How to read a manifest (the --format flag).
struct ManifestReadOptions {
  // Forced format, or kAuto (default) to detect it from the first line.
  ManifestFormat format = ManifestFormat::kAuto;
  // Sum files only: the algorithm of every line. Unset (default): from
  // the tag or the hex length, 32 hex being md5 unless the file name ends
  // in .xxh128/.xxhsum/.xxh. Set by --format md5sum|sha1sum|sha256sum|
  // sha512sum|xxhsum.
  std::optional<DigestType> sum_type;
  // Called as parsing moves on (every few MiB) with an offset into the
  // data before which the parser will not read again, so a caller holding
  // a large manifest in a FileContents can give that memory back
  // (FileContents::Release) while the parsed entries grow: the text and
  // the parsed manifest are then never held whole together. Only the
  // valise v1 reader calls it; the other formats keep the data whole.
  // Default: none.
  std::function<void(size_t offset)> release;
  // Called with every entry's raw path once it is found safe; an error it
  // returns stops the parse as InvalidArgument "name:line: <its message>".
  // ingest refuses paths in DEST's state directory with it, naming the
  // line. Default: none.
  std::function<Status(std::string_view path)> check_path;
};
// Like ParseManifestFormat, and "xxhsum" also sets sum_type = kXxh128,
// "sha256sum" kSha256, and so on. False for an unknown name.
bool ParseManifestFormat(std::string_view name, ManifestReadOptions* opts);

// A file that travels beside a manifest M as "M.<name>" and is covered by
// M's signature through its size and SHA-256, which M v1 records in a
// "# bind <name> bytes=N sha256=HEX" line (docs/formats.md, "Bound
// sidecars"). Loading one checks it against its binding first
// (valise/sidecar.h). Names in use: "chunks" (the chunk index v2).
struct SidecarBinding {
  uint64_t bytes = 0;
  std::array<uint8_t, 32> sha256{};
  bool operator==(const SidecarBinding& o) const {
    return bytes == o.bytes && sha256 == o.sha256;
  }
  bool operator!=(const SidecarBinding& o) const { return !(*this == o); }
};
// A sidecar name: 1 to 32 bytes of [a-z0-9-], starting with a letter or
// digit (so "M.<name>" stays beside M: no '/', no "..").
bool IsSidecarName(std::string_view name);

class Manifest {
 public:
  Manifest() = default;
  // The digest columns every entry carries. REQUIRES: before the first Add.
  explicit Manifest(DigestSet digests) : digests_(digests) { InitColumns(); }

  ManifestFormat format() const { return format_; }
  void set_format(ManifestFormat f) { format_ = f; }
  const DigestSet& digests() const { return digests_; }
  // Sum files and some hashdeep files carry no size or mtime (then
  // file_size()/mtime_ns() are 0).
  bool has_sizes() const { return has_sizes_; }
  bool has_mtimes() const { return has_mtimes_; }
  void set_has_sizes(bool v) { has_sizes_ = v; }
  void set_has_mtimes(bool v) { has_mtimes_ = v; }

  size_t size() const { return sizes_.size(); }
  // Raw path bytes (unescaped), relative, '/'-separated.
  std::string_view path(size_t i) const;
  uint64_t file_size(size_t i) const { return sizes_[i]; }
  int64_t mtime_ns(size_t i) const { return mtimes_[i]; }
  // REQUIRES: digests().Has(t).
  Digest digest(size_t i, DigestType t) const;
  // The bytes of digest(i, t), in place (DigestSize(t) of them), to
  // compare many without copying. REQUIRES: digests().Has(t).
  const uint8_t* digest_data(size_t i, DigestType t) const {
    return columns_[static_cast<int>(t)].data() + i * DigestSize(t);
  }
  // Total of file sizes.
  uint64_t total_bytes() const { return total_bytes_; }
  // Index of `path`, or -1. Binary search. REQUIRES: Finish() succeeded.
  int64_t Find(std::string_view path) const;

  // Reserves room for `entries` more entries holding `path_bytes` more
  // path bytes. Optional: avoids regrowing while a large manifest is read.
  void Reserve(size_t entries, size_t path_bytes);
  // Appends an entry. `digests` must hold one digest for each type in
  // digests() (any order; types not in digests() are ignored).
  // Validation happens in Finish().
  void Add(std::string_view path, uint64_t size, int64_t mtime_ns,
           const std::vector<Digest>& digests);
  // Sorts by raw path bytes (unsigned, memcmp order), releases spare
  // capacity, and rejects a duplicate path (InvalidArgument naming it), an
  // unsafe one (ValidatePath), an entry that lacked a digest, or a total
  // size that overflows 64 bits.
  Status Finish();
  // Like Finish(); on a duplicate path, also sets *first and *second to the
  // Add() order (0-based) of the two entries, so a reader can name lines.
  Status Finish(size_t* first, size_t* second);
  // True after Finish() succeeded and no Add() since.
  bool finished() const { return finished_; }

  // The sidecars this manifest binds, by name (manifest v1 only; empty for
  // the other formats).
  const std::map<std::string, SidecarBinding, std::less<>>& bindings() const {
    return bindings_;
  }
  // The binding of sidecar `name`, or nullptr.
  const SidecarBinding* binding(std::string_view name) const;
  // Binds sidecar `name` (replacing an earlier binding of that name).
  // REQUIRES: IsSidecarName(name).
  void Bind(std::string_view name, const SidecarBinding& b);

  // Same digest set, size/mtime flags and entries (paths, sizes, mtimes,
  // digests) in the same order. The format is not compared.
  bool SameEntries(const Manifest& o) const;
  // Bytes held by the manifest's arrays (capacity, not size), excluding
  // sizeof(*this).
  size_t MemoryUsage() const;

 private:
  void InitColumns();
  std::string_view PathAt(size_t i) const;

  ManifestFormat format_ = ManifestFormat::kValise;
  DigestSet digests_;
  bool has_sizes_ = true;
  bool has_mtimes_ = true;
  bool finished_ = false;
  // Add() order of the first entry that lacked a digest, or SIZE_MAX.
  size_t missing_digest_entry_ = SIZE_MAX;
  bool size_overflow_ = false;  // total_bytes_ wrapped
  std::string path_arena_;
  std::vector<uint64_t> path_offsets_;  // size()+1 offsets into the arena
  std::vector<uint64_t> sizes_;
  std::vector<int64_t> mtimes_;
  // One flat array per DigestType (indexed by the enum); empty if absent.
  std::vector<uint8_t> columns_[kNumDigestTypes];
  uint64_t total_bytes_ = 0;
  std::map<std::string, SidecarBinding, std::less<>> bindings_;
};

// A path is safe when it is non-empty, relative, has no empty, "." or ".."
// component and no NUL byte. InvalidArgument says which rule failed.
Status ValidatePath(std::string_view path);
// Manifest v1 escaping: bytes 0x00-0x1F, 0x7F, '%', and bytes not part of
// valid UTF-8 (overlong forms, surrogates, code points above U+10FFFF and
// truncated sequences are not valid) become %XX (uppercase hex);
// everything else is literal. UnescapePath(EscapePath(s)) == s for any s.
std::string EscapePath(std::string_view raw);
// For a terminal (the human summary, errors, warnings): EscapePath, and
// also every byte of the C1 controls (U+0080-U+009F) and of the
// bidirectional formatting characters (U+061C, U+200E, U+200F,
// U+202A-U+202E, U+2066-U+2069) as %XX, so a name can neither drive the
// terminal nor reorder what is displayed. UnescapePath still gives the
// exact bytes back.
std::string EscapeTerminalPath(std::string_view raw);
// EscapeTerminalPath for free text (messages that may quote raw names):
// '%' stays literal, so "50%" reads as written.
std::string EscapeTerminalText(std::string_view text);
// Inverse of EscapePath; InvalidArgument on a bad %XX or on a literal
// control byte (0x00-0x1F, 0x7F), which EscapePath never writes. Accepts
// lowercase hex and escapes of bytes that need none. On error *raw is
// unspecified.
Status UnescapePath(std::string_view escaped, std::string* raw);

// Parses `data`, the bytes of a manifest file named `name` (for messages:
// "M:12: malformed line: ..."). Forced `format` or kAuto to detect; with
// options.release, the bytes before each offset it is given may be
// zeroed or unmapped by the caller once it returns. Errors
// are InvalidArgument (usage-like) or Corruption (truncated: no "# end"
// trailer, or counts that do not match it), always naming the line;
// NotSupported for kBagit and for a manifest version other than 1. On
// success `*out` is finished (sorted, checked); on error it is
// unspecified.
Status ParseManifest(std::string_view data, std::string_view name,
                     ManifestFormat format, Manifest* out);
Status ParseManifest(std::string_view data, std::string_view name,
                     const ManifestReadOptions& options, Manifest* out);

// The bindings ("# bind" lines) of manifest v1 text `data`, named `name`
// in messages, without parsing its entries: what `valise sign` checks
// before it signs. A malformed or repeated binding is an error as in
// ParseManifest; text that is not manifest v1 has none.
Status ReadManifestBindings(
    std::string_view data, std::string_view name,
    std::map<std::string, SidecarBinding, std::less<>>* out);

// Writes manifest v1. `created` is the timestamp for the "# created" line
// (e.g. "2026-11-28T22:00:00Z"); columns: size (if has_sizes) mtime (if
// has_mtimes), then the digests in DigestType order, then path; the
// "# bind" lines of m.bindings(), by name, just before "# end".
// REQUIRES: m.finished() (entries are written in stored order).
std::string WriteManifest(const Manifest& m, std::string_view created);
// Writes `type`'s digests in GNU sum-file form ("hex  path", with the
// backslash escaping GNU coreutils 9 uses for names holding '\\', newline
// or carriage return), readable by `sha256sum -c` and friends.
// REQUIRES: m.digests().Has(type).
std::string WriteSumFile(const Manifest& m, DigestType type);

// Chunk index v1: the XXH3-128 of every chunk of every file, a text file
// beside a manifest as "M.chunks" so verify can name the first bad chunk
// of a corrupt file. Not covered by the signature: it only localises
// damage, the manifest's digests decide it. Read for manifests made
// before the chunk index v2 (valise/chunk_index_v2.h), which valise
// manifest writes now; v1 is still written by tests.
struct ChunkIndex {
  uint64_t chunk_size = 0;
  // Parallel to a Manifest: chunks[i] holds entry i's chunk digests.
  std::vector<std::string> paths;  // raw
  std::vector<std::vector<ChunkDigest>> chunks;
};
// REQUIRES: paths.size() == chunks.size(), chunk_size > 0.
std::string WriteChunkIndex(const ChunkIndex& index);
// Errors as for ParseManifest: InvalidArgument "name:line: ..." for a
// malformed line, unsafe or duplicate path; Corruption for truncation.
Status ParseChunkIndex(std::string_view data, std::string_view name,
                       ChunkIndex* out);

}  // namespace valise
