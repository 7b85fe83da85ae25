// Sum files: what sha256sum, md5sum, sha1sum, sha512sum and xxhsum write,
// read as manifests without sizes or mtimes, and written back in GNU form.
//
// Line forms read (one algorithm per file):
//   HEX  path         GNU text mode (two spaces)
//   HEX *path         GNU binary mode
//   HEX path          BSD "md5 -r" (one space; only if the name does not
//                     start with ' ' or '*')
//   TAG (path) = HEX  BSD tagged form (sha256sum --tag, xxhsum --tag):
//                     MD5, SHA1, SHA256, SHA512, XXH128
//   \...              any of the above with the name escaped the GNU way:
//                     "\\" is '\', "\n" is LF, "\r" is CR (coreutils 9)
// Lines starting with '#' are comments (as in GNU's --check); blank lines
// are skipped.
//
// Untagged lines carry no algorithm name, only a length: 40 hex is sha1,
// 64 sha256, 128 sha512, and 32 is either md5 or xxh128 (xxhsum -H2). We
// take md5, the older and commoner tool, unless the file's name ends in
// .xxh128, .xxhsum or .xxh, or the caller says which (--format xxhsum).
// 16 hex is xxhsum's default XXH64, which is too weak to prove a copy;
// it is refused with a message saying to rerun with -H2.
//
// A sum file has no trailer, so a truncation at a line boundary cannot be
// seen here; a signature (M.sig) is what covers that.
#include <string>
#include <string_view>
#include <vector>

#include "format/parse_util.h"
#include "valise/manifest.h"

namespace valise {

namespace format_internal {

namespace {

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
         (c >= 'A' && c <= 'F');
}

bool AllHex(std::string_view s) {
  for (char c : s) {
    if (!IsHexDigit(c)) return false;
  }
  return !s.empty();
}

bool IsTagChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '_';
}

bool EndsWithNoCase(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  s = s.substr(s.size() - suffix.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != suffix[i]) return false;
  }
  return true;
}

constexpr std::string_view kSupported =
    " (valise reads MD5, SHA1, SHA256, SHA512 and XXH128)";

Status TypeForTag(std::string_view tag, std::string_view name, uint64_t line,
                  DigestType* type) {
  if (tag == "MD5") {
    *type = DigestType::kMd5;
  } else if (tag == "SHA1") {
    *type = DigestType::kSha1;
  } else if (tag == "SHA256") {
    *type = DigestType::kSha256;
  } else if (tag == "SHA512") {
    *type = DigestType::kSha512;
  } else if (tag == "XXH128") {
    *type = DigestType::kXxh128;
  } else if (tag == "XXH64") {
    return LineError(name, line, "xxh64 not supported, use xxhsum -H2");
  } else if (tag == "XXH3") {
    return LineError(name, line, "XXH3 (64-bit) not supported, use xxhsum -H2");
  } else if (tag == "XXH32") {
    return LineError(name, line, "xxh32 not supported, use xxhsum -H2");
  } else {
    return LineError(
        name, line,
        "digest '" + Quote(tag) + "' not supported" + std::string(kSupported));
  }
  return Status::OK();
}

Status TypeForLength(size_t len, std::optional<DigestType> forced,
                     bool xxh_name, std::string_view name, uint64_t line,
                     DigestType* type) {
  if (forced) {
    if (len != 2 * DigestSize(*forced)) {
      return LineError(name, line,
                       "expected " + std::to_string(2 * DigestSize(*forced)) +
                           " hex digits for " +
                           std::string(DigestName(*forced)) + ", got " +
                           std::to_string(len));
    }
    *type = *forced;
    return Status::OK();
  }
  switch (len) {
    case 32:
      *type = xxh_name ? DigestType::kXxh128 : DigestType::kMd5;
      return Status::OK();
    case 40:
      *type = DigestType::kSha1;
      return Status::OK();
    case 64:
      *type = DigestType::kSha256;
      return Status::OK();
    case 128:
      *type = DigestType::kSha512;
      return Status::OK();
    case 16:
      return LineError(name, line,
                       "16 hex digits is XXH64 (xxhsum's default -H1): "
                       "xxh64 not supported, use xxhsum -H2");
    case 8:
      return LineError(name, line,
                       "8 hex digits is XXH32: xxh32 not supported, use "
                       "xxhsum -H2");
    case 56:
      return LineError(
          name, line,
          "56 hex digits is SHA224: not supported" + std::string(kSupported));
    case 96:
      return LineError(
          name, line,
          "96 hex digits is SHA384: not supported" + std::string(kSupported));
  }
  return LineError(name, line,
                   "a digest of " + std::to_string(len) +
                       " hex digits matches no supported algorithm" +
                       std::string(kSupported));
}

// GNU's escaped names: "\\" "\n" "\r".
Status UnescapeGnu(std::string_view s, std::string_view name, uint64_t line,
                   std::string* out) {
  out->clear();
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out->push_back(s[i]);
      continue;
    }
    char next = i + 1 < s.size() ? s[i + 1] : '\0';
    if (next == '\\') {
      out->push_back('\\');
    } else if (next == 'n') {
      out->push_back('\n');
    } else if (next == 'r') {
      out->push_back('\r');
    } else {
      return LineError(name, line,
                       "bad backslash escape in file name (only \\\\, \\n "
                       "and \\r are defined)");
    }
    ++i;
  }
  return Status::OK();
}

constexpr std::string_view kMalformed =
    "malformed line: want 'HEX  path' (sha256sum), 'TAG (path) = HEX' "
    "(--tag), or a valise or hashdeep header";

}  // namespace

Status ParseSumFile(std::string_view data, std::string_view name,
                    std::optional<DigestType> forced_type, Manifest* out,
                    const PathCheck& check) {
  const bool xxh_name = EndsWithNoCase(name, ".xxh128") ||
                        EndsWithNoCase(name, ".xxhsum") ||
                        EndsWithNoCase(name, ".xxh");
  LineReader reader(data);
  std::string_view line;
  bool have_type = false;
  DigestType type = DigestType::kSha256;
  uint64_t type_line = 0;
  std::vector<uint64_t> lines;
  std::vector<Digest> digests(1);
  std::string raw;
  *out = Manifest();

  while (reader.Next(&line)) {
    const uint64_t n = reader.line_number();
    if (HasCr(line)) return LineError(name, n, kCrlfMessage);
    if (line.empty() || line[0] == '#') continue;

    const bool escaped = line[0] == '\\';
    std::string_view s = escaped ? line.substr(1) : line;
    std::string_view path, hex;
    DigestType line_type;

    // Tagged: "TAG (" ... ") = HEX", TAG made of letters, digits, '-'.
    size_t paren = s.find(" (");
    size_t eq = s.rfind(") = ");
    bool tagged = paren != std::string_view::npos && paren > 0 &&
                  eq != std::string_view::npos && eq >= paren + 2;
    for (size_t i = 0; tagged && i < paren; ++i) tagged = IsTagChar(s[i]);
    if (tagged) {
      std::string_view tag = s.substr(0, paren);
      path = s.substr(paren + 2, eq - paren - 2);
      hex = s.substr(eq + 4);
      VALISE_RETURN_IF_ERROR(TypeForTag(tag, name, n, &line_type));
      if (forced_type && line_type != *forced_type) {
        return LineError(name, n,
                         "tag '" + Quote(tag) + "' in a file read as " +
                             std::string(DigestName(*forced_type)));
      }
    } else {
      size_t sp = s.find(' ');
      if (sp == std::string_view::npos || !AllHex(s.substr(0, sp))) {
        return LineError(name, n, kMalformed);
      }
      hex = s.substr(0, sp);
      // GNU: one space, then ' ' (text) or '*' (binary), then the name.
      // Otherwise BSD "md5 -r": one space, then the name.
      size_t name_at = sp + 1;
      if (name_at < s.size() && (s[name_at] == ' ' || s[name_at] == '*')) {
        ++name_at;
      }
      path = s.substr(name_at);
      VALISE_RETURN_IF_ERROR(TypeForLength(hex.size(), forced_type, xxh_name,
                                           name, n, &line_type));
    }
    if (path.empty()) return LineError(name, n, "empty file name");

    if (!have_type) {
      have_type = true;
      type = line_type;
      type_line = n;
      DigestSet set;
      set.Add(type);
      *out = Manifest(set);
      out->set_format(ManifestFormat::kSumFile);
      out->set_has_sizes(false);
      out->set_has_mtimes(false);
      const size_t expected = reader.CountRemaining() + 1;
      out->Reserve(expected, 0);
      lines.reserve(expected);
    } else if (line_type != type) {
      return LineError(name, n,
                       std::string(DigestName(line_type)) +
                           " digest, but line " + std::to_string(type_line) +
                           " is " + std::string(DigestName(type)) +
                           " (one algorithm per file)");
    }
    VALISE_RETURN_IF_ERROR(ParseDigestField(hex, type, name, n, &digests[0]));

    if (escaped) {
      VALISE_RETURN_IF_ERROR(UnescapeGnu(path, name, n, &raw));
    } else {
      raw.assign(path);
    }
    std::string_view rel = StripDotSlash(raw);
    if (!rel.empty() && rel.front() == '/') {
      return LineError(name, n,
                       "absolute path '" + Quote(rel) +
                           "': write sum files with paths relative to the "
                           "drive root (cd /mnt/drive && sha256sum ...)");
    }
    VALISE_RETURN_IF_ERROR(CheckPath(rel, name, n, check));
    out->Add(rel, 0, 0, digests);
    lines.push_back(n);
  }
  if (!have_type) {
    return Status::InvalidArgument(
        name, "no checksum lines found (empty, or not a sum file)");
  }
  return FinishWithLines(out, lines, name);
}

}  // namespace format_internal

std::string WriteSumFile(const Manifest& m, DigestType type) {
  std::string out;
  if (!m.digests().Has(type)) return out;
  out.reserve(m.size() * (2 * DigestSize(type) + 48));
  for (size_t i = 0; i < m.size(); ++i) {
    std::string_view p = m.path(i);
    // GNU coreutils 9 escapes a name holding '\\', LF or CR and flags the
    // line with a leading backslash; other names are written raw.
    const bool escape = p.find_first_of("\\\n\r") != std::string_view::npos;
    if (escape) out.push_back('\\');
    out.append(m.digest(i, type).Hex());
    out.append("  ");
    if (!escape) {
      out.append(p);
    } else {
      for (char c : p) {
        if (c == '\\') {
          out.append("\\\\");
        } else if (c == '\n') {
          out.append("\\n");
        } else if (c == '\r') {
          out.append("\\r");
        } else {
          out.push_back(c);
        }
      }
    }
    out.push_back('\n');
  }
  return out;
}

}  // namespace valise
