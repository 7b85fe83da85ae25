// Manifests: the list of files a dataset holds, with their sizes, mtimes
// and digests, as made at the source and checked at the datacenter.
//
// Formats read (ParseManifest, auto-detected unless forced):
//   kValise     valise manifest v1 (docs/formats.md; DESIGN.md)
//   kSumFile    GNU sha256sum/md5sum/sha1sum/sha512sum/xxhsum output,
//               including "\"-escaped names and the BSD "SHA256 (p) = hex"
//               form; the algorithm follows from the digest length or tag
//               (xxhsum -H2 lines are "XXH128 (p) = hex" or 32 hex)
//   kHashdeep   "%%%% HASHDEEP-1.0" files (size + digest columns)
//   kBagit      a BagIt bag directory (issue 6; not parsed here)
// Formats written: kValise (WriteManifest) and kSumFile (WriteSumFile).
//
// In memory a Manifest is compact: paths in one arena, each digest column
// in one flat byte array, so a 10-million-line manifest costs about 100 B
// per entry plus its path.
//
// Thread safety: a const Manifest may be read from any thread.
#pragma once

#include <cstdint>
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

class Manifest {
 public:
  Manifest() = default;
  // The digest columns every entry carries. REQUIRES: before the first Add.
  explicit Manifest(DigestSet digests) : digests_(digests) {
    InitColumns();
  }

  ManifestFormat format() const { return format_; }
  void set_format(ManifestFormat f) { format_ = f; }
  const DigestSet& digests() const { return digests_; }
  // Sum files and some hashdeep files carry no size or mtime.
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
  // Total of file sizes.
  uint64_t total_bytes() const { return total_bytes_; }
  // Index of `path`, or -1. REQUIRES: Finish() succeeded.
  int64_t Find(std::string_view path) const;

  // Appends an entry. `digests` must hold one digest for each type in
  // digests() (any order). Validation happens in Finish().
  void Add(std::string_view path, uint64_t size, int64_t mtime_ns,
           const std::vector<Digest>& digests);
  // Sorts by raw path bytes and rejects a duplicate path
  // (InvalidArgument naming it) or an unsafe one (ValidatePath).
  Status Finish();

 private:
  void InitColumns();

  ManifestFormat format_ = ManifestFormat::kValise;
  DigestSet digests_;
  bool has_sizes_ = true;
  bool has_mtimes_ = true;
  std::string path_arena_;
  std::vector<uint64_t> path_offsets_;  // size()+1 offsets into the arena
  std::vector<uint64_t> sizes_;
  std::vector<int64_t> mtimes_;
  // One flat array per DigestType (indexed by the enum); empty if absent.
  std::vector<uint8_t> columns_[kNumDigestTypes];
  uint64_t total_bytes_ = 0;
};

// A path is safe when it is non-empty, relative, has no empty, "." or ".."
// component and no NUL byte. InvalidArgument says which rule failed.
Status ValidatePath(std::string_view path);
// Manifest v1 escaping: bytes 0x00-0x1F, 0x7F, '%', and bytes not part of
// valid UTF-8 become %XX (uppercase hex); everything else is literal.
std::string EscapePath(std::string_view raw);
// Inverse of EscapePath; InvalidArgument on a bad %XX.
Status UnescapePath(std::string_view escaped, std::string* raw);

// Parses `data`, the bytes of a manifest file named `name` (for messages:
// "M:12: malformed line: ..."). Forced `format` or kAuto to detect. Errors
// are InvalidArgument (usage-like) or Corruption (truncated: no "# end"
// trailer, or counts that do not match it), always naming the line.
Status ParseManifest(std::string_view data, std::string_view name,
                     ManifestFormat format, Manifest* out);

// Writes manifest v1. `created` is the timestamp for the "# created" line
// (e.g. "2026-11-28T22:00:00Z"); columns: size mtime, then the digests in
// DigestType order.
std::string WriteManifest(const Manifest& m, std::string_view created);
// Writes `type`'s digests in GNU sum-file form ("hex  path", with the
// backslash escaping GNU uses for names holding '\\' or newline).
// REQUIRES: m.digests().Has(type).
std::string WriteSumFile(const Manifest& m, DigestType type);

// Chunk index: the XXH3-128 of every chunk of every file, written beside a
// manifest as "M.chunks" so verify can name the first bad chunk of a
// corrupt file. Not covered by the signature: it only localises damage,
// the manifest's digests decide it.
struct ChunkIndex {
  uint64_t chunk_size = 0;
  // Parallel to a Manifest: chunks[i] holds entry i's chunk digests.
  std::vector<std::string> paths;  // raw
  std::vector<std::vector<ChunkDigest>> chunks;
};
std::string WriteChunkIndex(const ChunkIndex& index);
Status ParseChunkIndex(std::string_view data, std::string_view name,
                       ChunkIndex* out);

}  // namespace valise
