// hashdeep files, read as manifests with sizes but no mtimes.
//
//   %%%% HASHDEEP-1.0
//   %%%% size,md5,sha256,filename
//   ## Invoked from: /mnt/drive
//   ## $ hashdeep -l -r .
//   ##
//   1048576,<md5>,<sha256>,./dir/file.bin
//
// The second header line names the columns; "filename" is last and takes
// the rest of the line, commas included (hashdeep does not quote or
// escape). Digest columns md5, sha1 and sha256 are kept; tiger and
// whirlpool, which valise cannot compute, are skipped as long as one
// usable digest remains.
//
// hashdeep writes absolute paths unless run with -l, and with -l it writes
// them as given on the command line. The supported form is therefore
// `hashdeep -l -r .` run from the drive root: "./" prefixes are stripped
// and the rest is taken as relative to the drive. An absolute path is
// refused with a message saying so, rather than guessing which prefix is
// the drive's root.
//
// A file name holding LF cannot be represented (hashdeep writes it raw and
// the line breaks); such a line fails to parse.
#include <string>
#include <string_view>
#include <vector>

#include "format/parse_util.h"
#include "valise/manifest.h"

namespace valise::format_internal {

namespace {

constexpr std::string_view kMagic = "%%%% HASHDEEP-1.0";
constexpr std::string_view kColumnsPrefix = "%%%% ";

struct HdColumn {
  enum Kind : uint8_t { kSize, kDigest, kSkip } kind = kSkip;
  DigestType type = DigestType::kMd5;
};

Status ParseHashdeepColumns(std::string_view line, std::string_view name,
                            uint64_t n, std::vector<HdColumn>* cols,
                            DigestSet* digests, bool* has_size) {
  if (line.substr(0, kColumnsPrefix.size()) != kColumnsPrefix) {
    return LineError(name, n, "want the column line '%%%% size,...,filename'");
  }
  std::string_view rest = line.substr(kColumnsPrefix.size());
  bool seen_filename = false;
  *has_size = false;
  while (true) {
    size_t comma = rest.find(',');
    std::string_view tok = rest.substr(0, comma);
    if (seen_filename) {
      return LineError(name, n, "'filename' must be the last column");
    }
    HdColumn c;
    if (tok == "filename") {
      seen_filename = true;
    } else if (tok == "size") {
      if (*has_size) return LineError(name, n, "column 'size' twice");
      *has_size = true;
      c.kind = HdColumn::kSize;
      cols->push_back(c);
    } else if (tok == "md5" || tok == "sha1" || tok == "sha256") {
      DigestType t;
      ParseDigestName(tok, &t);
      if (digests->Has(t)) {
        return LineError(name, n, "column '" + std::string(tok) + "' twice");
      }
      digests->Add(t);
      c.kind = HdColumn::kDigest;
      c.type = t;
      cols->push_back(c);
    } else if (tok == "tiger" || tok == "whirlpool") {
      c.kind = HdColumn::kSkip;  // valise cannot check these
      cols->push_back(c);
    } else {
      return LineError(name, n, "unknown hashdeep column '" + Quote(tok) + "'");
    }
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  if (!seen_filename) {
    return LineError(name, n, "no 'filename' column (it must be last)");
  }
  if (digests->empty()) {
    return LineError(name, n,
                     "no md5, sha1 or sha256 column (rerun hashdeep with "
                     "-c md5,sha256)");
  }
  return Status::OK();
}

}  // namespace

Status ParseHashdeep(std::string_view data, std::string_view name,
                     Manifest* out, const PathCheck& check) {
  LineReader reader(data);
  std::string_view line;
  if (!reader.Next(&line) || HasCr(line) || line != kMagic) {
    if (HasCr(line)) return LineError(name, 1, kCrlfMessage);
    return LineError(name, 1,
                     "not a hashdeep file (first line must be '" +
                         std::string(kMagic) + "')");
  }
  if (!reader.Next(&line)) {
    return Status::Corruption(name, "truncated: no column line");
  }
  if (HasCr(line)) return LineError(name, 2, kCrlfMessage);
  std::vector<HdColumn> cols;
  DigestSet digests;
  bool has_size = false;
  VALISE_RETURN_IF_ERROR(
      ParseHashdeepColumns(line, name, 2, &cols, &digests, &has_size));
  *out = Manifest(digests);
  out->set_format(ManifestFormat::kHashdeep);
  out->set_has_sizes(has_size);
  out->set_has_mtimes(false);
  const size_t expected = reader.CountRemaining();
  out->Reserve(expected, 0);
  std::vector<uint64_t> lines;
  lines.reserve(expected);
  std::vector<Digest> entry_digests;

  while (reader.Next(&line)) {
    const uint64_t n = reader.line_number();
    if (HasCr(line)) return LineError(name, n, kCrlfMessage);
    if (line.empty() || line.substr(0, 2) == "##") continue;
    if (line.substr(0, 4) == "%%%%") {
      return LineError(name, n,
                       "a second hashdeep header (concatenated files are "
                       "not supported)");
    }
    // The first cols.size() fields end at a comma; the file name is the
    // rest of the line.
    uint64_t size = 0;
    entry_digests.clear();
    std::string_view rest = line;
    for (const HdColumn& c : cols) {
      size_t comma = rest.find(',');
      if (comma == std::string_view::npos) {
        return LineError(name, n,
                         "malformed line: expected " +
                             std::to_string(cols.size()) +
                             " comma-separated fields before the file name");
      }
      std::string_view f = rest.substr(0, comma);
      rest = rest.substr(comma + 1);
      if (c.kind == HdColumn::kSize) {
        if (!ParseDecimalU64(f, &size)) {
          return LineError(
              name, n,
              "size: '" + Quote(f) + "' is not a decimal number below 2^64");
        }
      } else if (c.kind == HdColumn::kDigest) {
        Digest d;
        VALISE_RETURN_IF_ERROR(ParseDigestField(f, c.type, name, n, &d));
        entry_digests.push_back(d);
      }
    }
    std::string_view path = StripDotSlash(rest);
    if (!path.empty() && path.front() == '/') {
      return LineError(name, n,
                       "absolute path '" + Quote(path) +
                           "': run `hashdeep -l -r .` from the drive root so "
                           "paths are relative");
    }
    VALISE_RETURN_IF_ERROR(CheckPath(path, name, n, check));
    out->Add(path, size, 0, entry_digests);
    lines.push_back(n);
  }
  return FinishWithLines(out, lines, name);
}

}  // namespace valise::format_internal
