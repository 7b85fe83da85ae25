// The Manifest container, manifest v1 (reader and writer), format
// detection, and the helpers the other readers share (parse_util.h).
//
// Storage. A dataset may hold tens of millions of files, and the manifest
// stays in memory for the whole ingest, so an entry is not an object: the
// paths live back to back in one arena (plus one 8-byte offset each), sizes
// and mtimes in two flat arrays, and each digest type in one flat byte
// array. With sha256 + xxh128 an entry costs 8 + 8 + 8 + 32 + 16 = 72 B
// plus its path. Finish() sorts through a 4-byte permutation, then rebuilds
// every array once in sorted order at its exact size, so what the vectors'
// doubling left spare is given back (an array already in order is copied
// to its exact size only if more than 1/64 of it is spare).
//
// Reading a large manifest. The v1 reader sizes every array once from the
// line count (the path arena from an upper bound on the path bytes, whose
// untouched pages cost nothing), remembers the line numbers of comment
// lines only (not one per entry), and hands back the text behind it as it
// goes (ManifestReadOptions::release). 10^7 entries of 19-byte paths
// (1.34 GB of text) parse into 0.91 GB (72 B + path an entry), and the
// text and the parsed entries are never resident whole together: `valise
// verify` of them peaks at 1346 MiB, the text read whole (tests/cli/
// big_manifest.sh; docs/reliability.md, bug 7).
//
// The v1 reader is strict because a manifest is evidence: a line that does
// not parse, a truncated file, counts that disagree with the trailer or a
// path that would escape the destination stop the run with a message that
// names the file and the line, rather than silently verifying less.
#include "valise/manifest.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <map>
#include <numeric>
#include <string>
#include <string_view>
#include <vector>

#include "format/parse_util.h"

#ifndef VALISE_VERSION
#define VALISE_VERSION "unknown"
#endif

namespace valise {

// ---------------------------------------------------------------------
// Format names.

std::string_view ManifestFormatName(ManifestFormat f) {
  switch (f) {
    case ManifestFormat::kAuto:
      return "auto";
    case ManifestFormat::kValise:
      return "valise";
    case ManifestFormat::kSumFile:
      return "sumfile";
    case ManifestFormat::kHashdeep:
      return "hashdeep";
    case ManifestFormat::kBagit:
      return "bagit";
  }
  return "?";
}

bool ParseManifestFormat(std::string_view name, ManifestReadOptions* opts) {
  static constexpr struct {
    std::string_view name;
    DigestType type;
  } kSumTools[] = {
      {"md5sum", DigestType::kMd5},       {"sha1sum", DigestType::kSha1},
      {"sha256sum", DigestType::kSha256}, {"sha512sum", DigestType::kSha512},
      {"xxhsum", DigestType::kXxh128},
  };
  for (const auto& tool : kSumTools) {
    if (name == tool.name) {
      opts->format = ManifestFormat::kSumFile;
      opts->sum_type = tool.type;
      return true;
    }
  }
  for (auto f : {ManifestFormat::kAuto, ManifestFormat::kValise,
                 ManifestFormat::kSumFile, ManifestFormat::kHashdeep,
                 ManifestFormat::kBagit}) {
    if (name == ManifestFormatName(f)) {
      opts->format = f;
      opts->sum_type.reset();
      return true;
    }
  }
  return false;
}

bool ParseManifestFormat(std::string_view name, ManifestFormat* f) {
  ManifestReadOptions opts;
  if (!ParseManifestFormat(name, &opts)) return false;
  *f = opts.format;
  return true;
}

// ---------------------------------------------------------------------
// Manifest.

void Manifest::InitColumns() {
  for (int t = 0; t < kNumDigestTypes; ++t) columns_[t].clear();
}

std::string_view Manifest::PathAt(size_t i) const {
  return std::string_view(path_arena_.data() + path_offsets_[i],
                          path_offsets_[i + 1] - path_offsets_[i]);
}

std::string_view Manifest::path(size_t i) const { return PathAt(i); }

Digest Manifest::digest(size_t i, DigestType t) const {
  Digest d;
  d.type = t;
  d.size = static_cast<uint8_t>(DigestSize(t));
  const auto& col = columns_[static_cast<int>(t)];
  memcpy(d.bytes.data(), col.data() + i * d.size, d.size);
  return d;
}

namespace {

// Unsigned byte order, the order the manifest is written in.
bool PathLess(std::string_view a, std::string_view b) {
  size_t n = std::min(a.size(), b.size());
  int c = n == 0 ? 0 : memcmp(a.data(), b.data(), n);
  if (c != 0) return c < 0;
  return a.size() < b.size();
}

}  // namespace

bool IsSidecarName(std::string_view name) {
  if (name.empty() || name.size() > 32 || name[0] == '-') return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return false;
    }
  }
  return true;
}

const SidecarBinding* Manifest::binding(std::string_view name) const {
  auto it = bindings_.find(name);
  return it == bindings_.end() ? nullptr : &it->second;
}

void Manifest::Bind(std::string_view name, const SidecarBinding& b) {
  bindings_[std::string(name)] = b;
}

int64_t Manifest::Find(std::string_view p) const {
  size_t lo = 0, hi = size();
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (PathLess(PathAt(mid), p)) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo < size() && PathAt(lo) == p) return static_cast<int64_t>(lo);
  return -1;
}

void Manifest::Reserve(size_t entries, size_t path_bytes) {
  path_arena_.reserve(path_arena_.size() + path_bytes);
  path_offsets_.reserve(path_offsets_.size() + entries + 1);
  sizes_.reserve(sizes_.size() + entries);
  mtimes_.reserve(mtimes_.size() + entries);
  for (DigestType t : digests_.Types()) {
    auto& col = columns_[static_cast<int>(t)];
    col.reserve(col.size() + entries * DigestSize(t));
  }
}

void Manifest::Add(std::string_view p, uint64_t size, int64_t mtime_ns,
                   const std::vector<Digest>& digests) {
  finished_ = false;
  const size_t index = sizes_.size();
  if (path_offsets_.empty()) path_offsets_.push_back(0);
  path_arena_.append(p);
  path_offsets_.push_back(path_arena_.size());
  sizes_.push_back(size);
  mtimes_.push_back(mtime_ns);
  if (__builtin_add_overflow(total_bytes_, size, &total_bytes_)) {
    size_overflow_ = true;
  }
  for (int ti = 0; ti < kNumDigestTypes; ++ti) {
    const auto t = static_cast<DigestType>(ti);
    if (!digests_.Has(t)) continue;
    const size_t n = DigestSize(t);
    const Digest* found = nullptr;
    for (const Digest& d : digests) {
      if (d.type == t && d.size == n) found = &d;
    }
    auto& col = columns_[ti];
    if (found == nullptr) {
      if (missing_digest_entry_ == SIZE_MAX) missing_digest_entry_ = index;
      col.insert(col.end(), n, 0);
    } else {
      col.insert(col.end(), found->bytes.data(), found->bytes.data() + n);
    }
  }
}

Status Manifest::Finish() {
  size_t first, second;
  return Finish(&first, &second);
}

namespace {

// Sorting paths. Comparing paths through the offsets costs two cache
// misses per comparison on a shuffled manifest, so instead each entry gets
// an 8-byte key, the path's bytes [depth, depth+8) as a big-endian number
// (zero-padded: with no NUL in a path, a path that ends sorts before its
// extensions), and the keys are sorted as numbers. Runs of equal keys are
// then re-keyed at depth+8 and sorted again (an MSD radix sort with 64-bit
// digits), so the arena is read once per entry per level rather than once
// per comparison. Equal paths end up in Add() order. Measured on a
// shuffled 1,000,000-entry manifest (CPU time of the whole Finish, 2-core
// VM): 0.98 s, against 1.65 s with std::stable_sort comparing paths.
struct SortKey {
  uint64_t key;
  uint32_t index;
};

uint64_t KeyAt(std::string_view p, size_t depth) {
  uint64_t key = 0;
  for (size_t b = depth; b < depth + 8; ++b) {
    key = key << 8 | (b < p.size() ? static_cast<uint8_t>(p[b]) : 0u);
  }
  return key;
}

template <typename PathFn>
void SortKeys(SortKey* begin, SortKey* end, size_t depth,
              const PathFn& path_of) {
  std::sort(begin, end, [](const SortKey& a, const SortKey& b) {
    return a.key != b.key ? a.key < b.key : a.index < b.index;
  });
  for (SortKey* run = begin; run < end;) {
    SortKey* run_end = run + 1;
    while (run_end < end && run_end->key == run->key) ++run_end;
    if (run_end - run > 1) {
      bool longer = false;
      for (SortKey* k = run; k < run_end; ++k) {
        longer |= path_of(k->index).size() > depth + 8;
      }
      // If none goes on past this digit, the run's paths are all equal.
      if (longer) {
        for (SortKey* k = run; k < run_end; ++k) {
          k->key = KeyAt(path_of(k->index), depth + 8);
        }
        SortKeys(run, run_end, depth + 8, path_of);
      }
    }
    run = run_end;
  }
}

// Gives back what growth left spare, unless under 1/64 of the size: a
// reader that reserved from its line count (the trailer and comments
// included) would otherwise copy every array for a few slots.
template <typename V>
void ShrinkIfSpare(V* v) {
  if (v->capacity() - v->size() > v->size() / 64) v->shrink_to_fit();
}

template <typename T>
void Permute(const std::vector<uint32_t>& order, std::vector<T>* v) {
  std::vector<T> out;
  out.reserve(order.size());
  for (uint32_t i : order) out.push_back((*v)[i]);
  v->swap(out);
}

}  // namespace

Status Manifest::Finish(size_t* first, size_t* second) {
  finished_ = false;
  const size_t n = size();
  if (n >= UINT32_MAX) {
    return Status::NotSupported("manifest has more than 4294967294 entries");
  }
  if (missing_digest_entry_ != SIZE_MAX) {
    return Status::InvalidArgument(
        "'" + format_internal::Quote(PathAt(missing_digest_entry_)) + "'",
        "entry lacks a digest the manifest's columns need");
  }
  if (size_overflow_) {
    return Status::InvalidArgument("total size overflows 64 bits");
  }
  for (size_t i = 0; i < n; ++i) {
    Status s = ValidatePath(PathAt(i));
    if (!s.ok()) {
      return Status::InvalidArgument(
          "unsafe path '" + format_internal::Quote(PathAt(i)) + "'",
          s.message());
    }
  }

  bool sorted = true;
  for (size_t i = 1; i < n && sorted; ++i) {
    if (!PathLess(PathAt(i - 1), PathAt(i))) sorted = false;
  }
  std::vector<uint32_t> order;
  if (!sorted) {
    std::vector<SortKey> keys(n);
    for (size_t i = 0; i < n; ++i) {
      keys[i] = SortKey{KeyAt(PathAt(i), 0), static_cast<uint32_t>(i)};
    }
    SortKeys(keys.data(), keys.data() + n, 0,
             [this](uint32_t i) { return PathAt(i); });
    order.resize(n);
    for (size_t i = 0; i < n; ++i) order[i] = keys[i].index;
    std::vector<SortKey>().swap(keys);
    for (size_t k = 1; k < n; ++k) {
      if (PathAt(order[k - 1]) == PathAt(order[k])) {
        *first = order[k - 1];
        *second = order[k];
        return Status::InvalidArgument(
            "duplicate path '" + format_internal::Quote(PathAt(order[k])) +
            "'");
      }
    }
  }

  if (sorted) {
    // Already in order (every manifest valise writes): just give back what
    // the vectors' growth left spare.
    ShrinkIfSpare(&path_arena_);
    ShrinkIfSpare(&path_offsets_);
    ShrinkIfSpare(&sizes_);
    ShrinkIfSpare(&mtimes_);
    for (auto& col : columns_) ShrinkIfSpare(&col);
  } else {
    std::string arena;
    arena.reserve(path_arena_.size());
    std::vector<uint64_t> offsets;
    offsets.reserve(n + 1);
    offsets.push_back(0);
    for (uint32_t i : order) {
      arena.append(PathAt(i));
      offsets.push_back(arena.size());
    }
    path_arena_.swap(arena);
    path_offsets_.swap(offsets);
    Permute(order, &sizes_);
    Permute(order, &mtimes_);
    for (int ti = 0; ti < kNumDigestTypes; ++ti) {
      auto& col = columns_[ti];
      if (col.empty()) continue;
      const size_t w = DigestSize(static_cast<DigestType>(ti));
      std::vector<uint8_t> out(col.size());
      for (size_t k = 0; k < n; ++k) {
        memcpy(out.data() + k * w, col.data() + size_t{order[k]} * w, w);
      }
      col.swap(out);
    }
  }
  finished_ = true;
  return Status::OK();
}

bool Manifest::SameEntries(const Manifest& o) const {
  if (!(digests_ == o.digests_) || has_sizes_ != o.has_sizes_ ||
      has_mtimes_ != o.has_mtimes_ || size() != o.size()) {
    return false;
  }
  for (size_t i = 0; i < size(); ++i) {
    if (PathAt(i) != o.PathAt(i)) return false;
  }
  if (sizes_ != o.sizes_ || mtimes_ != o.mtimes_) return false;
  for (int ti = 0; ti < kNumDigestTypes; ++ti) {
    if (columns_[ti] != o.columns_[ti]) return false;
  }
  return true;
}

size_t Manifest::MemoryUsage() const {
  size_t bytes = path_arena_.capacity() +
                 path_offsets_.capacity() * sizeof(uint64_t) +
                 sizes_.capacity() * sizeof(uint64_t) +
                 mtimes_.capacity() * sizeof(int64_t);
  for (const auto& col : columns_) bytes += col.capacity();
  return bytes;
}

// ---------------------------------------------------------------------
// Shared reader helpers (parse_util.h).

namespace format_internal {

bool LineReader::Next(std::string_view* line) {
  if (pos_ >= data_.size()) return false;
  const char* start = data_.data() + pos_;
  const size_t left = data_.size() - pos_;
  const void* lf = memchr(start, '\n', left);
  ++line_number_;
  if (lf == nullptr) {
    *line = std::string_view(start, left);
    pos_ = data_.size();
    terminated_ = false;
  } else {
    const size_t len = static_cast<const char*>(lf) - start;
    *line = std::string_view(start, len);
    pos_ += len + 1;
    terminated_ = true;
  }
  return true;
}

size_t LineReader::CountRemaining() const {
  if (pos_ >= data_.size()) return 0;
  // memchr (vectorised) rather than std::count: this runs over the whole
  // file before parsing it.
  size_t lines = 0;
  const char* p = data_.data() + pos_;
  const char* end = data_.data() + data_.size();
  while (p < end) {
    const void* lf = memchr(p, '\n', end - p);
    ++lines;
    if (lf == nullptr) break;
    p = static_cast<const char*>(lf) + 1;
  }
  return lines;
}

std::string Where(std::string_view name, uint64_t line) {
  std::string out(name);
  out.push_back(':');
  out.append(std::to_string(line));
  return out;
}

Status LineError(std::string_view name, uint64_t line, std::string_view msg) {
  return Status::InvalidArgument(Where(name, line), msg);
}

Status LineCorruption(std::string_view name, uint64_t line,
                      std::string_view msg) {
  return Status::Corruption(Where(name, line), msg);
}

std::string Quote(std::string_view bytes) {
  constexpr size_t kMax = 60;
  if (bytes.size() <= kMax) return EscapePath(bytes);
  return EscapePath(bytes.substr(0, kMax)) + "...";
}

bool ParseDecimalU64(std::string_view s, uint64_t* v) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && ptr == s.data() + s.size();
}

bool ParseDecimalI64(std::string_view s, int64_t* v) {
  std::string_view digits = s;
  if (!digits.empty() && digits.front() == '-') digits.remove_prefix(1);
  if (digits.empty()) return false;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
  }
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && ptr == s.data() + s.size();
}

Status ParseDigestField(std::string_view hex, DigestType type,
                        std::string_view name, uint64_t line, Digest* out) {
  const size_t want = 2 * DigestSize(type);
  if (hex.size() != want) {
    return LineError(name, line,
                     std::string(DigestName(type)) + ": expected " +
                         std::to_string(want) + " hex digits, got " +
                         std::to_string(hex.size()));
  }
  if (!Digest::FromHex(type, hex, out)) {
    return LineError(name, line,
                     std::string(DigestName(type)) + ": bad hex digit in '" +
                         Quote(hex) + "'");
  }
  return Status::OK();
}

Status CheckPath(std::string_view raw, std::string_view name, uint64_t line,
                 const PathCheck& check) {
  Status s = ValidatePath(raw);
  if (!s.ok()) {
    return LineError(name, line,
                     "unsafe path '" + Quote(raw) + "': " + s.message());
  }
  if (check) s = check(raw);
  return s.ok() ? s : LineError(name, line, s.message());
}

std::string_view StripDotSlash(std::string_view path) {
  while (path.size() > 2 && path.substr(0, 2) == "./") path.remove_prefix(2);
  return path;
}

Status FinishWithLines(Manifest* m, const std::vector<uint64_t>& lines,
                       std::string_view name) {
  // 0: no line known, none named.
  return FinishWithLines(
      m,
      [&lines](size_t i) -> uint64_t {
        return i < lines.size() ? lines[i] : 0;
      },
      name);
}

Status FinishWithLines(Manifest* m,
                       const std::function<uint64_t(size_t)>& line_of,
                       std::string_view name) {
  const size_t n = m->size();
  size_t first = 0, second = 0;
  Status s = m->Finish(&first, &second);
  if (s.ok()) return s;
  if (first < n && second < n && first != second &&
      s.message().rfind("duplicate path", 0) == 0) {
    const uint64_t second_line = line_of(second);
    const uint64_t first_line = line_of(first);
    if (second_line > 0 && first_line > 0) {
      return LineError(
          name, second_line,
          s.message() + " (first at line " + std::to_string(first_line) + ")");
    }
  }
  return Status::InvalidArgument(name, s.message());
}

}  // namespace format_internal

// ---------------------------------------------------------------------
// Manifest v1.

namespace {

using format_internal::HasCr;
using format_internal::kCrlfMessage;
using format_internal::LineCorruption;
using format_internal::LineError;
using format_internal::Quote;

constexpr std::string_view kMagic = "valise-manifest";
constexpr std::string_view kHeader = "valise-manifest 1";
constexpr std::string_view kColumnsPrefix = "# columns";
constexpr std::string_view kEndPrefix = "# end";
constexpr std::string_view kBindPrefix = "# bind";

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// "# columns" or "# columns ..." (not "# columnsfoo").
bool IsKeyword(std::string_view line, std::string_view prefix) {
  return StartsWith(line, prefix) &&
         (line.size() == prefix.size() || line[prefix.size()] == ' ');
}

// One column of a v1 data line.
struct Column {
  enum Kind : uint8_t { kSize, kMtime, kDigest, kPath } kind = kPath;
  DigestType type = DigestType::kXxh128;  // kDigest only
};

Status ParseColumns(std::string_view line, std::string_view name,
                    uint64_t lineno, std::vector<Column>* cols,
                    DigestSet* digests) {
  std::string_view rest = line.substr(kColumnsPrefix.size());
  bool seen_size = false, seen_mtime = false, seen_path = false;
  while (!rest.empty()) {
    size_t sp = rest.find(' ');
    std::string_view tok = rest.substr(0, sp);
    rest =
        sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
    if (tok.empty()) continue;
    if (seen_path) {
      return LineError(name, lineno, "'path' must be the last column");
    }
    Column c;
    DigestType t;
    if (tok == "size") {
      if (seen_size) return LineError(name, lineno, "column 'size' twice");
      seen_size = true;
      c.kind = Column::kSize;
    } else if (tok == "mtime") {
      if (seen_mtime) return LineError(name, lineno, "column 'mtime' twice");
      seen_mtime = true;
      c.kind = Column::kMtime;
    } else if (tok == "path") {
      seen_path = true;
      c.kind = Column::kPath;
    } else if (ParseDigestName(tok, &t)) {
      if (digests->Has(t)) {
        return LineError(name, lineno,
                         "column '" + std::string(tok) + "' twice");
      }
      digests->Add(t);
      c.kind = Column::kDigest;
      c.type = t;
    } else {
      return LineError(name, lineno, "unknown digest '" + Quote(tok) + "'");
    }
    cols->push_back(c);
  }
  if (!seen_path) {
    return LineError(name, lineno, "no 'path' column (it must be last)");
  }
  if (digests->empty()) {
    return LineError(name, lineno,
                     "no digest column (xxh128, sha256, sha1, md5, sha512)");
  }
  return Status::OK();
}

// "# end files=N bytes=B".
Status ParseTrailer(std::string_view line, std::string_view name,
                    uint64_t lineno, uint64_t* files, uint64_t* bytes) {
  constexpr std::string_view kFiles = "# end files=";
  constexpr std::string_view kBytes = " bytes=";
  Status bad = LineError(
      name, lineno,
      "malformed trailer '" + Quote(line) + "' (want '# end files=N bytes=B')");
  if (!StartsWith(line, kFiles)) return bad;
  std::string_view rest = line.substr(kFiles.size());
  size_t sp = rest.find(kBytes);
  if (sp == std::string_view::npos) return bad;
  if (!format_internal::ParseDecimalU64(rest.substr(0, sp), files) ||
      !format_internal::ParseDecimalU64(rest.substr(sp + kBytes.size()),
                                        bytes)) {
    return bad;
  }
  return Status::OK();
}

// "# bind NAME bytes=N sha256=HEX" (docs/formats.md, "Bound sidecars").
Status ParseBinding(std::string_view line, std::string_view name,
                    uint64_t lineno, std::string* sidecar, SidecarBinding* b) {
  Status bad = LineError(name, lineno,
                         "malformed binding '" + Quote(line) +
                             "' (want '# bind NAME bytes=N sha256=HEX')");
  std::string_view rest = line.substr(kBindPrefix.size());
  if (rest.empty() || rest[0] != ' ') return bad;
  rest.remove_prefix(1);
  const size_t sp = rest.find(' ');
  if (sp == std::string_view::npos) return bad;
  std::string_view id = rest.substr(0, sp);
  if (!IsSidecarName(id)) {
    return LineError(name, lineno,
                     "sidecar name '" + Quote(id) +
                         "': want 1 to 32 of [a-z0-9-], not starting with "
                         "'-'");
  }
  rest.remove_prefix(sp + 1);
  constexpr std::string_view kBytes = "bytes=";
  constexpr std::string_view kSha = " sha256=";
  if (!StartsWith(rest, kBytes)) return bad;
  rest.remove_prefix(kBytes.size());
  const size_t sha = rest.find(kSha);
  if (sha == std::string_view::npos) return bad;
  if (!format_internal::ParseDecimalU64(rest.substr(0, sha), &b->bytes)) {
    return bad;
  }
  Digest d;
  if (!Digest::FromHex(DigestType::kSha256, rest.substr(sha + kSha.size()),
                       &d)) {
    return LineError(
        name, lineno,
        "binding of '" + std::string(id) + "': sha256 must be 64 hex digits");
  }
  memcpy(b->sha256.data(), d.bytes.data(), b->sha256.size());
  *sidecar = std::string(id);
  return Status::OK();
}

}  // namespace

namespace format_internal {

namespace {

// How often the v1 reader hands back the text behind it.
constexpr size_t kReleaseEvery = size_t{8} << 20;

// The line number of the data line that made the k-th Add() (0-based):
// data lines are all the lines but those in `other` (ascending).
uint64_t DataLine(const std::vector<uint64_t>& other, size_t k) {
  uint64_t line = k + 1;
  for (uint64_t o : other) {
    if (o > line) break;
    ++line;
  }
  return line;
}

// Bytes a data line holds besides its path, at least: each digest's hex
// and TAB, "0\t" for size and mtime, the LF.
size_t MinFixedBytes(const std::vector<Column>& cols) {
  size_t fixed = 1;
  for (const Column& c : cols) {
    if (c.kind == Column::kDigest) fixed += 2 * DigestSize(c.type) + 1;
    if (c.kind == Column::kSize || c.kind == Column::kMtime) fixed += 2;
  }
  return fixed;
}

}  // namespace

Status ParseValiseManifest(std::string_view data, std::string_view name,
                           Manifest* out,
                           const std::function<void(size_t)>& release,
                           const PathCheck& check) {
  LineReader reader(data);
  std::string_view line;
  if (!reader.Next(&line)) {
    return Status::Corruption(name, "empty file (not a valise manifest)");
  }
  if (HasCr(line)) return LineError(name, 1, kCrlfMessage);
  if (line != kHeader) {
    if (StartsWith(line, kMagic) && line.size() > kMagic.size() &&
        line[kMagic.size()] == ' ') {
      return Status::NotSupported(Where(name, 1),
                                  "manifest version '" +
                                      Quote(line.substr(kMagic.size() + 1)) +
                                      "' not supported (this valise reads 1)");
    }
    return LineError(name, 1,
                     "not a valise manifest (first line must be '" +
                         std::string(kHeader) + "')");
  }

  std::vector<Column> cols;
  DigestSet digests;
  bool have_columns = false;
  bool have_trailer = false;
  uint64_t trailer_line = 0, trailer_files = 0, trailer_bytes = 0;
  // Lines that are not data (the header, comments, the trailer): with
  // them, a data line's number follows from its entry's Add() order, for
  // duplicate errors, at no cost per entry.
  std::vector<uint64_t> other_lines = {1};
  // Bound sidecars, and the line of each (for a duplicate's message).
  std::map<std::string, std::pair<SidecarBinding, uint64_t>, std::less<>>
      bindings;
  std::vector<Digest> entry_digests;
  std::vector<std::string_view> fields;
  std::string raw_path;
  const size_t expected_entries = reader.CountRemaining();
  size_t released = 0;

  while (reader.Next(&line)) {
    const uint64_t n = reader.line_number();
    // Every line before this one is done with.
    const size_t at = static_cast<size_t>(line.data() - data.data());
    if (release && at - released >= kReleaseEvery) {
      release(at);
      released = at;
    }
    if (have_trailer) {
      return LineCorruption(name, n,
                            "data after the '# end' trailer (line " +
                                std::to_string(trailer_line) + ")");
    }
    if (HasCr(line)) return LineError(name, n, kCrlfMessage);
    if (!reader.terminated() && !IsKeyword(line, kEndPrefix)) {
      // The last line has no LF: the file was cut short (a complete
      // manifest ends with the LF after its trailer).
      return LineCorruption(name, n,
                            "truncated: no '# end' trailer (last line is "
                            "cut off)");
    }
    if (line.empty()) return LineError(name, n, "empty line");
    if (line[0] == '#') {
      other_lines.push_back(n);
      if (IsKeyword(line, kColumnsPrefix)) {
        // (A data line before it was refused already.)
        if (have_columns) return LineError(name, n, "second '# columns' line");
        VALISE_RETURN_IF_ERROR(ParseColumns(line, name, n, &cols, &digests));
        have_columns = true;
        *out = Manifest(digests);
        out->set_format(ManifestFormat::kValise);
        bool has_size = false, has_mtime = false;
        for (const Column& c : cols) {
          has_size |= c.kind == Column::kSize;
          has_mtime |= c.kind == Column::kMtime;
        }
        out->set_has_sizes(has_size);
        out->set_has_mtimes(has_mtime);
        // Sizes the arrays once: one slot per remaining line, and for the
        // path arena the bytes left once each line's fixed fields are
        // taken away (escapes only shrink a path): more than enough, and
        // pages never written cost no memory.
        const size_t left = data.size() - (at + line.size());
        const size_t fixed = expected_entries * MinFixedBytes(cols);
        out->Reserve(expected_entries, left > fixed ? left - fixed : 0);
      } else if (IsKeyword(line, kEndPrefix)) {
        Status s = ParseTrailer(line, name, n, &trailer_files, &trailer_bytes);
        if (!s.ok() && !reader.terminated()) {
          return LineCorruption(name, n,
                                "truncated: the '# end' trailer is cut off");
        }
        VALISE_RETURN_IF_ERROR(s);
        if (!reader.terminated()) {
          return LineCorruption(name, n,
                                "truncated: no newline after the '# end' "
                                "trailer");
        }
        have_trailer = true;
        trailer_line = n;
      } else if (IsKeyword(line, kBindPrefix)) {
        std::string sidecar;
        SidecarBinding b;
        VALISE_RETURN_IF_ERROR(ParseBinding(line, name, n, &sidecar, &b));
        auto [it, added] = bindings.emplace(sidecar, std::make_pair(b, n));
        if (!added) {
          return LineError(name, n,
                           "second binding of '" + sidecar +
                               "' (first at line " +
                               std::to_string(it->second.second) + ")");
        }
      }
      // Any other comment ("# created ...") is ignored.
      continue;
    }
    if (!have_columns) {
      return LineError(name, n, "data line before the '# columns' line");
    }

    // Split on TAB: exactly one field per column. The path is last and
    // holds no raw TAB (EscapePath writes %09), so counting is exact.
    fields.clear();
    size_t start = 0;
    while (true) {
      size_t tab = line.find('\t', start);
      if (tab == std::string_view::npos) {
        fields.push_back(line.substr(start));
        break;
      }
      fields.push_back(line.substr(start, tab - start));
      start = tab + 1;
    }
    if (fields.size() != cols.size()) {
      return LineError(
          name, n,
          "malformed line: expected " + std::to_string(cols.size()) +
              " tab-separated fields, got " + std::to_string(fields.size()));
    }
    uint64_t size = 0;
    int64_t mtime = 0;
    entry_digests.clear();
    for (size_t k = 0; k < cols.size(); ++k) {
      std::string_view f = fields[k];
      switch (cols[k].kind) {
        case Column::kSize:
          if (!ParseDecimalU64(f, &size)) {
            return LineError(
                name, n,
                "size: '" + Quote(f) + "' is not a decimal number below 2^64");
          }
          break;
        case Column::kMtime:
          if (!ParseDecimalI64(f, &mtime)) {
            return LineError(name, n,
                             "mtime: '" + Quote(f) +
                                 "' is not a 64-bit decimal nanosecond count");
          }
          break;
        case Column::kDigest: {
          Digest d;
          VALISE_RETURN_IF_ERROR(
              ParseDigestField(f, cols[k].type, name, n, &d));
          entry_digests.push_back(d);
          break;
        }
        case Column::kPath: {
          Status s = UnescapePath(f, &raw_path);
          if (!s.ok()) {
            return LineError(name, n,
                             "path '" + Quote(f) + "': " + s.message());
          }
          VALISE_RETURN_IF_ERROR(CheckPath(raw_path, name, n, check));
          break;
        }
      }
    }
    out->Add(raw_path, size, mtime, entry_digests);
  }

  if (!have_trailer) {
    return Status::Corruption(name, "truncated: no '# end' trailer");
  }
  if (!have_columns) {
    return LineError(name, trailer_line, "no '# columns' line");
  }
  if (trailer_files != out->size()) {
    return LineCorruption(
        name, trailer_line,
        "trailer says files=" + std::to_string(trailer_files) + " but " +
            std::to_string(out->size()) + " entries precede it");
  }
  if (release) release(data.size());
  VALISE_RETURN_IF_ERROR(FinishWithLines(
      out, [&other_lines](size_t k) { return DataLine(other_lines, k); },
      name));
  if (trailer_bytes != out->total_bytes()) {
    return LineCorruption(
        name, trailer_line,
        "trailer says bytes=" + std::to_string(trailer_bytes) +
            " but the sizes add up to " + std::to_string(out->total_bytes()));
  }
  for (const auto& [sidecar, b] : bindings) out->Bind(sidecar, b.first);
  return Status::OK();
}

}  // namespace format_internal

Status ReadManifestBindings(
    std::string_view data, std::string_view name,
    std::map<std::string, SidecarBinding, std::less<>>* out) {
  out->clear();
  format_internal::LineReader reader(data);
  std::string_view line;
  if (!reader.Next(&line) || line != kHeader) return Status::OK();
  std::map<std::string, uint64_t> lines;
  while (reader.Next(&line)) {
    if (!IsKeyword(line, kBindPrefix)) continue;
    const uint64_t n = reader.line_number();
    std::string sidecar;
    SidecarBinding b;
    VALISE_RETURN_IF_ERROR(ParseBinding(line, name, n, &sidecar, &b));
    auto [it, added] = lines.emplace(sidecar, n);
    if (!added) {
      return LineError(name, n,
                       "second binding of '" + sidecar + "' (first at line " +
                           std::to_string(it->second) + ")");
    }
    (*out)[sidecar] = b;
  }
  return Status::OK();
}

namespace {

constexpr char kLowerHex[] = "0123456789abcdef";

void AppendNumber(uint64_t v, std::string* out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

void AppendSigned(int64_t v, std::string* out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

void AppendHex(const Digest& d, std::string* out) {
  for (size_t i = 0; i < d.size; ++i) {
    out->push_back(kLowerHex[d.bytes[i] >> 4]);
    out->push_back(kLowerHex[d.bytes[i] & 15]);
  }
}

}  // namespace

std::string WriteManifest(const Manifest& m, std::string_view created) {
  const std::vector<DigestType> types = m.digests().Types();
  std::string out;
  size_t per_line = 2 * 21 + 2;
  for (DigestType t : types) per_line += 2 * DigestSize(t) + 1;
  out.reserve(256 + m.size() * (per_line + 40));

  out.append(kHeader);
  out.append("\n# created ");
  if (!created.empty()) {
    out.append(created);
    out.push_back(' ');
  }
  out.append("by valise " VALISE_VERSION "\n# columns");
  if (m.has_sizes()) out.append(" size");
  if (m.has_mtimes()) out.append(" mtime");
  for (DigestType t : types) {
    out.push_back(' ');
    out.append(DigestName(t));
  }
  out.append(" path\n");
  for (size_t i = 0; i < m.size(); ++i) {
    if (m.has_sizes()) {
      AppendNumber(m.file_size(i), &out);
      out.push_back('\t');
    }
    if (m.has_mtimes()) {
      AppendSigned(m.mtime_ns(i), &out);
      out.push_back('\t');
    }
    for (DigestType t : types) {
      AppendHex(m.digest(i, t), &out);
      out.push_back('\t');
    }
    out.append(EscapePath(m.path(i)));
    out.push_back('\n');
  }
  for (const auto& [sidecar, b] : m.bindings()) {
    out.append("# bind ");
    out.append(sidecar);
    out.append(" bytes=");
    AppendNumber(b.bytes, &out);
    out.append(" sha256=");
    for (uint8_t byte : b.sha256) {
      out.push_back(kLowerHex[byte >> 4]);
      out.push_back(kLowerHex[byte & 15]);
    }
    out.push_back('\n');
  }
  out.append("# end files=");
  AppendNumber(m.size(), &out);
  out.append(" bytes=");
  AppendNumber(m.has_sizes() ? m.total_bytes() : 0, &out);
  out.push_back('\n');
  return out;
}

// ---------------------------------------------------------------------
// Detection.

Status ParseManifest(std::string_view data, std::string_view name,
                     const ManifestReadOptions& options, Manifest* out) {
  ManifestFormat format = options.format;
  std::string_view first = data.substr(0, data.find('\n'));
  if (StartsWith(data, "\xEF\xBB\xBF")) {
    return LineError(name, 1,
                     "starts with a UTF-8 byte-order mark: save the file "
                     "without it");
  }
  if (format == ManifestFormat::kAuto) {
    if (StartsWith(first, kMagic)) {
      format = ManifestFormat::kValise;
    } else if (StartsWith(first, "%%%% HASHDEEP")) {
      format = ManifestFormat::kHashdeep;
    } else if (StartsWith(first, "BagIt-Version")) {
      format = ManifestFormat::kBagit;
    } else if (StartsWith(first, "valise-chunks")) {
      return LineError(name, 1,
                       "this is a chunk index (M.chunks), not a manifest");
    } else {
      format = ManifestFormat::kSumFile;
    }
  }
  switch (format) {
    case ManifestFormat::kValise:
      return format_internal::ParseValiseManifest(
          data, name, out, options.release, options.check_path);
    case ManifestFormat::kSumFile:
      return format_internal::ParseSumFile(data, name, options.sum_type, out,
                                           options.check_path);
    case ManifestFormat::kHashdeep:
      return format_internal::ParseHashdeep(data, name, out,
                                            options.check_path);
    case ManifestFormat::kBagit:
      return Status::NotSupported(name, "BagIt: pass the bag directory");
    case ManifestFormat::kAuto:
      break;
  }
  return Status::InvalidArgument(name, "unknown manifest format");
}

Status ParseManifest(std::string_view data, std::string_view name,
                     ManifestFormat format, Manifest* out) {
  ManifestReadOptions options;
  options.format = format;
  return ParseManifest(data, name, options, out);
}

}  // namespace valise
