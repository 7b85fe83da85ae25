// Chunk index ("M.chunks"): the XXH3-128 of every chunk of every file.
//
//   valise-chunks 1
//   # chunk-size 4194304
//   dir/file.bin<TAB><32 hex><32 hex>...
//   empty.txt<TAB>
//   # end files=2
//
// Paths are escaped as in manifest v1; the hex of a file's chunks is
// concatenated (32 hex each, high half first, as xxhsum -H2 prints); an
// empty file has none. Entries come in the writer's order (parallel to the
// manifest). The reader is as strict as the manifest's: truncation
// (no trailer, a cut last line), a count that disagrees with the trailer,
// unsafe or duplicate paths and malformed lines are errors naming the
// line.
#include <algorithm>
#include <numeric>
#include <string>
#include <string_view>
#include <vector>

#include "format/parse_util.h"
#include "valise/manifest.h"

namespace valise {

namespace {

using format_internal::HasCr;
using format_internal::kCrlfMessage;
using format_internal::LineCorruption;
using format_internal::LineError;
using format_internal::Quote;

constexpr std::string_view kMagic = "valise-chunks";
constexpr std::string_view kHeader = "valise-chunks 1";
constexpr std::string_view kChunkSize = "# chunk-size";
constexpr std::string_view kEnd = "# end";

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool IsKeyword(std::string_view line, std::string_view prefix) {
  return StartsWith(line, prefix) &&
         (line.size() == prefix.size() || line[prefix.size()] == ' ');
}

}  // namespace

std::string WriteChunkIndex(const ChunkIndex& index) {
  std::string out;
  out.append(kHeader);
  out.append("\n# chunk-size ");
  out.append(std::to_string(index.chunk_size));
  out.push_back('\n');
  const size_t n = std::min(index.paths.size(), index.chunks.size());
  for (size_t i = 0; i < n; ++i) {
    out.append(EscapePath(index.paths[i]));
    out.push_back('\t');
    for (const ChunkDigest& c : index.chunks[i]) out.append(c.Hex());
    out.push_back('\n');
  }
  out.append("# end files=");
  out.append(std::to_string(n));
  out.push_back('\n');
  return out;
}

Status ParseChunkIndex(std::string_view data, std::string_view name,
                       ChunkIndex* out) {
  using format_internal::LineReader;
  *out = ChunkIndex();
  LineReader reader(data);
  std::string_view line;
  if (!reader.Next(&line)) {
    return Status::Corruption(name, "empty file (not a chunk index)");
  }
  if (HasCr(line)) return LineError(name, 1, kCrlfMessage);
  if (line != kHeader) {
    if (StartsWith(line, kMagic) && line.size() > kMagic.size() &&
        line[kMagic.size()] == ' ') {
      return Status::NotSupported(format_internal::Where(name, 1),
                                  "chunk index version '" +
                                      Quote(line.substr(kMagic.size() + 1)) +
                                      "' not supported (this valise reads 1)");
    }
    return LineError(name, 1,
                     "not a chunk index (first line must be '" +
                         std::string(kHeader) + "')");
  }

  bool have_size = false, have_trailer = false;
  uint64_t trailer_line = 0, trailer_files = 0;
  std::vector<uint64_t> lines;
  std::string raw;
  while (reader.Next(&line)) {
    const uint64_t n = reader.line_number();
    if (have_trailer) {
      return LineCorruption(name, n,
                            "data after the '# end' trailer (line " +
                                std::to_string(trailer_line) + ")");
    }
    if (HasCr(line)) return LineError(name, n, kCrlfMessage);
    const bool is_end = IsKeyword(line, kEnd);
    if (!reader.terminated()) {
      return LineCorruption(name, n,
                            is_end ? "truncated: no newline after the "
                                     "'# end' trailer"
                                   : "truncated: no '# end' trailer (last "
                                     "line is cut off)");
    }
    if (line.empty()) return LineError(name, n, "empty line");
    if (line[0] == '#') {
      if (IsKeyword(line, kChunkSize)) {
        if (have_size) return LineError(name, n, "second '# chunk-size' line");
        if (!lines.empty()) {
          return LineError(name, n, "'# chunk-size' after data lines");
        }
        std::string_view v = line.size() > kChunkSize.size()
                                 ? line.substr(kChunkSize.size() + 1)
                                 : std::string_view();
        if (!format_internal::ParseDecimalU64(v, &out->chunk_size) ||
            out->chunk_size == 0) {
          return LineError(
              name, n,
              "chunk size '" + Quote(v) + "' is not a positive decimal number");
        }
        have_size = true;
      } else if (is_end) {
        constexpr std::string_view kFiles = "# end files=";
        if (!StartsWith(line, kFiles) ||
            !format_internal::ParseDecimalU64(line.substr(kFiles.size()),
                                              &trailer_files)) {
          return LineError(
              name, n,
              "malformed trailer '" + Quote(line) + "' (want '# end files=N')");
        }
        have_trailer = true;
        trailer_line = n;
      }
      continue;  // other comments are ignored
    }
    if (!have_size) {
      return LineError(name, n, "data line before the '# chunk-size' line");
    }
    size_t tab = line.find('\t');
    if (tab == std::string_view::npos ||
        line.find('\t', tab + 1) != std::string_view::npos) {
      return LineError(name, n,
                       "malformed line: want '<path><TAB><hex chunk "
                       "digests>'");
    }
    std::string_view path = line.substr(0, tab);
    std::string_view hex = line.substr(tab + 1);
    Status s = UnescapePath(path, &raw);
    if (!s.ok()) {
      return LineError(name, n, "path '" + Quote(path) + "': " + s.message());
    }
    VALISE_RETURN_IF_ERROR(format_internal::CheckPath(raw, name, n));
    if (hex.size() % 32 != 0) {
      return LineError(name, n,
                       "chunk digests: " + std::to_string(hex.size()) +
                           " hex digits is not a multiple of 32");
    }
    std::vector<ChunkDigest> chunks(hex.size() / 32);
    for (size_t k = 0; k < chunks.size(); ++k) {
      if (!ChunkDigest::FromHex(hex.substr(32 * k, 32), &chunks[k])) {
        return LineError(name, n,
                         "chunk " + std::to_string(k) + ": bad hex digit");
      }
    }
    out->paths.push_back(raw);
    out->chunks.push_back(std::move(chunks));
    lines.push_back(n);
  }
  if (!have_trailer) {
    return Status::Corruption(name, "truncated: no '# end' trailer");
  }
  if (!have_size)
    return LineError(name, trailer_line, "no '# chunk-size' line");
  if (trailer_files != out->paths.size()) {
    return LineCorruption(
        name, trailer_line,
        "trailer says files=" + std::to_string(trailer_files) + " but " +
            std::to_string(out->paths.size()) + " entries precede it");
  }
  // Duplicates: sort a permutation (stable, so the earlier line is found
  // first) and compare neighbours.
  std::vector<uint32_t> order(out->paths.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return out->paths[a] < out->paths[b];
  });
  for (size_t k = 1; k < order.size(); ++k) {
    if (out->paths[order[k - 1]] == out->paths[order[k]]) {
      return LineError(name, lines[order[k]],
                       "duplicate path '" + Quote(out->paths[order[k]]) +
                           "' (first at line " +
                           std::to_string(lines[order[k - 1]]) + ")");
    }
  }
  return Status::OK();
}

}  // namespace valise
