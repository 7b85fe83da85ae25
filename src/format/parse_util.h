// Helpers shared by the manifest, sum-file, hashdeep and chunk-index
// parsers: a line splitter that numbers lines, error builders that name
// "file:line", strict decimal parsing, and the last step every reader
// takes (Finish, naming both lines of a duplicate).
//
// Thread safety: LineReader is a value used by one thread; the functions
// are thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "valise/manifest.h"
#include "valise/status.h"

namespace valise::format_internal {

// Splits `data` into LF-terminated lines (the LF is not returned).
class LineReader {
 public:
  explicit LineReader(std::string_view data) : data_(data) {}
  // Sets *line to the next line; false when the data is exhausted.
  bool Next(std::string_view* line);
  // 1-based number of the line Next() last returned.
  uint64_t line_number() const { return line_number_; }
  // False when the line Next() last returned is the last one and has no
  // LF after it (a truncated file, or an editor that dropped it).
  bool terminated() const { return terminated_; }
  // Lines left, counted by their LFs (for reserving).
  size_t CountRemaining() const;

 private:
  std::string_view data_;
  size_t pos_ = 0;
  uint64_t line_number_ = 0;
  bool terminated_ = true;
};

// "name:line".
std::string Where(std::string_view name, uint64_t line);
// InvalidArgument("name:line", msg).
Status LineError(std::string_view name, uint64_t line, std::string_view msg);
// Corruption("name:line", msg).
Status LineCorruption(std::string_view name, uint64_t line,
                      std::string_view msg);
// A short, printable rendering of untrusted bytes for messages: escaped
// like a manifest path and cut to about 60 bytes.
std::string Quote(std::string_view bytes);
// True if the line ends with a carriage return (a CRLF file).
inline bool HasCr(std::string_view line) {
  return !line.empty() && line.back() == '\r';
}
// The message every reader gives for a CRLF line.
inline constexpr std::string_view kCrlfMessage =
    "CRLF line ending: manifests use LF only (convert with dos2unix)";

// Decimal digits only (no sign, no spaces), at least one, fitting uint64.
bool ParseDecimalU64(std::string_view s, uint64_t* v);
// An optional '-' then decimal digits, fitting int64.
bool ParseDecimalI64(std::string_view s, int64_t* v);

// Parses `hex` as a digest of `type`, or explains why not: "sha256:
// expected 64 hex digits, got 63" or "sha256: bad hex digit".
Status ParseDigestField(std::string_view hex, DigestType type,
                        std::string_view name, uint64_t line, Digest* out);

// ManifestReadOptions::check_path.
using PathCheck = std::function<Status(std::string_view path)>;

// Checks a raw path for the readers: ValidatePath's verdict, as
// "name:line: unsafe path '...': <rule>", then `check`'s (if any), as
// "name:line: <its message>".
Status CheckPath(std::string_view raw, std::string_view name, uint64_t line,
                 const PathCheck& check = nullptr);
// Removes every leading "./" (sum files and hashdeep write "./a/b").
std::string_view StripDotSlash(std::string_view path);

// m->Finish(), and on a duplicate names both lines: `lines[i]` is the line
// number of the i-th Add().
Status FinishWithLines(Manifest* m, const std::vector<uint64_t>& lines,
                       std::string_view name);
// The same with the line of the i-th Add() given by `line_of(i)`.
Status FinishWithLines(Manifest* m,
                       const std::function<uint64_t(size_t)>& line_of,
                       std::string_view name);

// The readers behind ParseManifest, one per format (manifest.cc,
// sumfile.cc, hashdeep.cc). Each resets *out, and on success leaves it
// finished.
// `release` (may be empty): see ManifestReadOptions::release.
// `check` (may be empty): see ManifestReadOptions::check_path.
Status ParseValiseManifest(std::string_view data, std::string_view name,
                           Manifest* out,
                           const std::function<void(size_t)>& release = nullptr,
                           const PathCheck& check = nullptr);
Status ParseSumFile(std::string_view data, std::string_view name,
                    std::optional<DigestType> forced_type, Manifest* out,
                    const PathCheck& check = nullptr);
Status ParseHashdeep(std::string_view data, std::string_view name,
                     Manifest* out, const PathCheck& check = nullptr);

}  // namespace valise::format_internal
