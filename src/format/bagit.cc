// BagIt tag files (RFC 8493): the bag declaration, bag-info.txt, payload
// and tag manifests, fetch.txt; readers and writers.
//
// Readers are strict where a mistake would change what is checked (a
// version or encoding valise cannot honour, a malformed digest, an unsafe
// path, one path with two digests) and lenient where the RFC is: any of
// LF, CR or CRLF ends a line in every tag file, blank lines are skipped,
// digests are hex in either case, and a '%' not followed by 25, 0A or 0D
// is kept literally (what the reference implementations do with manifests
// written by tools that never encoded). Versions before 1.0 did not
// percent-encode paths, so their '%' is always literal.
//
// What the RFC calls a warning, or a SHOULD, is read and told, never an
// error: md5sum-style manifests ("<hex> *path", "\<hex>  path"), a leading
// "./", a path listed twice with the same digest before 1.0 (1.0 says
// "exactly once"), whitespace around a bag-info.txt colon before 1.0.
//
// Encodings. bagit.txt is UTF-8 and names the encoding of the other tag
// files; bags made by 0.9x tools on other systems use ISO-8859-1 or UTF-16
// (with its byte-order mark). Those files are converted to UTF-8 with
// iconv(3) before any parsing, so the parsers see UTF-8 only; a byte that
// is not valid in the named encoding is an error (the file cannot be
// read as the bag says it is written).
#include "valise/bagit.h"

#include <errno.h>
#include <iconv.h>

#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "format/parse_util.h"

namespace valise {

namespace {

using format_internal::LineError;
using format_internal::Quote;

constexpr std::string_view kBom = "\xEF\xBB\xBF";

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

char AsciiLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

// Splits tag-file text into lines ended by LF, CR or CRLF (RFC 8493 2.1:
// all three are allowed, and a file may even mix them). The last line
// needs no terminator.
class TagLines {
 public:
  explicit TagLines(std::string_view data) : data_(data) {}
  bool Next(std::string_view* line) {
    if (pos_ >= data_.size()) return false;
    ++line_number_;
    size_t end = pos_;
    while (end < data_.size() && data_[end] != '\n' && data_[end] != '\r') {
      ++end;
    }
    *line = data_.substr(pos_, end - pos_);
    if (end < data_.size() && data_[end] == '\r' && end + 1 < data_.size() &&
        data_[end + 1] == '\n') {
      pos_ = end + 2;
    } else {
      pos_ = end + 1;
    }
    return true;
  }
  uint64_t line_number() const { return line_number_; }

 private:
  std::string_view data_;
  size_t pos_ = 0;
  uint64_t line_number_ = 0;
};

std::string_view StripBom(std::string_view data) {
  if (data.substr(0, kBom.size()) == kBom) data.remove_prefix(kBom.size());
  return data;
}

std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

bool AllBlank(std::string_view s) { return TrimBlanks(s).empty(); }

// "Label: value" of bagit.txt; the value trimmed of blanks.
Status DeclarationLine(std::string_view line, std::string_view label,
                       std::string_view name, uint64_t n, std::string* value) {
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || line.substr(0, colon) != label) {
    return LineError(name, n,
                     "expected '" + std::string(label) + ": ...', got '" +
                         Quote(line) + "'");
  }
  *value = std::string(TrimBlanks(line.substr(colon + 1)));
  if (value->empty()) {
    return LineError(name, n, std::string(label) + ": empty value");
  }
  return Status::OK();
}

// A manifest or fetch path: decoded per version, a leading "./" removed
// (some 0.9x tools wrote it; *dot_slash says so), then checked safe.
Status BagPath(std::string_view field, bool percent_encoded,
               std::string_view name, uint64_t n, std::string* out,
               bool* dot_slash = nullptr) {
  *out = percent_encoded ? DecodeBagPath(field) : std::string(field);
  while (out->size() > 2 && (*out)[0] == '.' && (*out)[1] == '/') {
    out->erase(0, 2);
    if (dot_slash != nullptr) *dot_slash = true;
  }
  Status s = ValidatePath(*out);
  if (!s.ok()) {
    return LineError(name, n,
                     "path escapes the bag or is unsafe '" + Quote(*out) +
                         "': " + s.message());
  }
  return Status::OK();
}

// Splits "<first><blanks><rest>" at the first run of spaces or tabs.
bool SplitField(std::string_view line, std::string_view* first,
                std::string_view* rest) {
  size_t i = 0;
  while (i < line.size() && !IsBlank(line[i])) ++i;
  if (i == 0 || i == line.size()) return false;
  *first = line.substr(0, i);
  while (i < line.size() && IsBlank(line[i])) ++i;
  if (i == line.size()) return false;
  *rest = line.substr(i);
  return true;
}

// An iconv(3) descriptor, closed on destruction.
class Iconv {
 public:
  Iconv(const char* to, const char* from) : cd_(iconv_open(to, from)) {}
  ~Iconv() {
    if (ok()) iconv_close(cd_);
  }
  Iconv(const Iconv&) = delete;
  Iconv& operator=(const Iconv&) = delete;
  bool ok() const { return cd_ != reinterpret_cast<iconv_t>(-1); }
  iconv_t get() const { return cd_; }

 private:
  iconv_t cd_;
};

}  // namespace

bool BagDeclaration::utf8() const {
  return EqualsNoCase(encoding, "UTF-8") || EqualsNoCase(encoding, "UTF8") ||
         EqualsNoCase(encoding, "US-ASCII") || EqualsNoCase(encoding, "ASCII");
}

BagReadRules ReadRulesFor(const BagDeclaration& decl) {
  BagReadRules r;
  r.percent_encoded = decl.percent_encoded_paths();
  r.legacy = decl.legacy();
  return r;
}

Status DecodeBagTagFile(const BagDeclaration& decl, std::string_view name,
                        std::string* text, std::vector<std::string>* warnings) {
  if (decl.utf8()) {
    if (std::string_view(*text).substr(0, kBom.size()) == kBom) {
      text->erase(0, kBom.size());
      if (warnings != nullptr) {
        warnings->push_back(std::string(name) +
                            ": starts with a byte-order mark, which a UTF-8 "
                            "bag's tag files must not (RFC 8493 2.3): "
                            "ignored");
      }
    }
    return Status::OK();
  }
  Iconv cd("UTF-8", decl.encoding.c_str());
  if (!cd.ok()) {
    return Status::InvalidArgument(name, "Tag-File-Character-Encoding '" +
                                             Quote(decl.encoding) +
                                             "' not known to iconv(3)");
  }
  std::string out;
  out.resize(text->size() * 2 + 16);
  char* in = text->data();
  size_t in_left = text->size();
  size_t done = 0;
  while (in_left > 0) {
    char* o = out.data() + done;
    size_t o_left = out.size() - done;
    const size_t rc = iconv(cd.get(), &in, &in_left, &o, &o_left);
    done = out.size() - o_left;
    if (rc != static_cast<size_t>(-1)) continue;
    if (errno == E2BIG) {
      out.resize(out.size() * 2);
      continue;
    }
    const size_t at = text->size() - in_left;
    return Status::InvalidArgument(
        name, "not valid " + Quote(decl.encoding) + " at byte " +
                  std::to_string(at) +
                  (errno == EINVAL ? " (a truncated character)" : "") +
                  ", the encoding bagit.txt names");
  }
  out.resize(done);
  // A byte-order mark iconv kept (UTF-16LE and the like) is not text.
  if (std::string_view(out).substr(0, kBom.size()) == kBom) {
    out.erase(0, kBom.size());
  }
  *text = std::move(out);
  return Status::OK();
}

Status ParseBagDeclaration(std::string_view data, std::string_view name,
                           BagDeclaration* out) {
  *out = BagDeclaration();
  if (data.substr(0, kBom.size()) == kBom) {
    return Status::InvalidArgument(
        name,
        "byte-order mark: bagit.txt must not start with one (RFC 8493 "
        "2.1.1)");
  }
  TagLines lines(data);
  std::string_view line;
  std::vector<std::string_view> got;
  while (lines.Next(&line)) {
    // A trailing blank line (an editor's extra newline) is harmless; any
    // other line beyond the two is not.
    if (AllBlank(line) && got.size() >= 2) continue;
    if (got.size() == 2) {
      return LineError(name, lines.line_number(),
                       "bagit.txt holds exactly two lines; unexpected '" +
                           Quote(line) + "'");
    }
    got.push_back(line);
  }
  if (got.size() < 2) {
    return Status::InvalidArgument(
        name,
        "bagit.txt must hold 'BagIt-Version: M.N' then "
        "'Tag-File-Character-Encoding: UTF-8'");
  }
  VALISE_RETURN_IF_ERROR(
      DeclarationLine(got[0], "BagIt-Version", name, 1, &out->version));
  VALISE_RETURN_IF_ERROR(DeclarationLine(got[1], "Tag-File-Character-Encoding",
                                         name, 2, &out->encoding));
  bool known = false;
  for (std::string_view v : kBagItVersions) known |= out->version == v;
  if (!known) {
    return LineError(name, 1,
                     "BagIt-Version '" + Quote(out->version) +
                         "' not supported (valise reads 0.93 to 1.0)");
  }
  const size_t dot = out->version.find('.');
  out->major = std::stoi(out->version.substr(0, dot));
  out->minor = std::stoi(out->version.substr(dot + 1));
  if (!out->utf8() && !Iconv("UTF-8", out->encoding.c_str()).ok()) {
    return LineError(name, 2,
                     "Tag-File-Character-Encoding '" + Quote(out->encoding) +
                         "' not supported (not an encoding iconv(3) knows)");
  }
  return Status::OK();
}

std::string WriteBagDeclaration() {
  return "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";
}

Status ParseBagInfo(std::string_view data, std::string_view name,
                    std::vector<BagInfoField>* out, bool legacy) {
  out->clear();
  TagLines lines(StripBom(data));
  std::string_view line;
  while (lines.Next(&line)) {
    const uint64_t n = lines.line_number();
    if (AllBlank(line)) continue;
    if (IsBlank(line.front())) {
      if (out->empty()) {
        return LineError(name, n, "continuation line before any label");
      }
      std::string& v = out->back().value;
      std::string_view more = TrimBlanks(line);
      if (!v.empty()) v.push_back(' ');
      v.append(more);
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      return LineError(name, n,
                       "expected 'Label: value', got '" + Quote(line) + "'");
    }
    std::string_view label = line.substr(0, colon);
    // Before 1.0, "Label : value": the blanks are not part of the label.
    if (legacy) {
      while (!label.empty() && IsBlank(label.back())) label.remove_suffix(1);
    }
    if (label.empty() || IsBlank(label.back())) {
      return LineError(
          name, n,
          "bad label '" + Quote(label) +
              "': empty, or ends with whitespace (allowed before BagIt 1.0 "
              "only)");
    }
    // A byte-order mark belongs at the very start of a file only; inside a
    // label it would vanish when the file is written back (found by
    // bagit_fuzz: a blank first line, then a label starting with U+FEFF).
    if (label.find("\xEF\xBB\xBF") != std::string_view::npos) {
      return LineError(name, n,
                       "bad label '" + Quote(label) + "': byte-order mark");
    }
    out->push_back(BagInfoField{
        std::string(label), std::string(TrimBlanks(line.substr(colon + 1)))});
  }
  return Status::OK();
}

std::optional<std::string> FindBagInfo(const std::vector<BagInfoField>& info,
                                       std::string_view label) {
  for (const BagInfoField& f : info) {
    if (EqualsNoCase(f.label, label)) return f.value;
  }
  return std::nullopt;
}

bool ParsePayloadOxum(std::string_view value, uint64_t* octets,
                      uint64_t* streams) {
  const size_t dot = value.find('.');
  if (dot == std::string_view::npos) return false;
  return format_internal::ParseDecimalU64(value.substr(0, dot), octets) &&
         format_internal::ParseDecimalU64(value.substr(dot + 1), streams);
}

std::string WriteBagInfo(const std::vector<BagInfoField>& fields) {
  std::string out;
  for (const BagInfoField& f : fields) {
    out += f.label;
    out += ": ";
    // A value never spans lines here: line breaks become spaces.
    for (char c : f.value) out.push_back(c == '\n' || c == '\r' ? ' ' : c);
    out.push_back('\n');
  }
  return out;
}

bool ParseBagManifestName(std::string_view file_name, bool* tag_manifest,
                          std::string* algorithm) {
  constexpr std::string_view kPayload = "manifest-";
  constexpr std::string_view kTag = "tagmanifest-";
  constexpr std::string_view kSuffix = ".txt";
  std::string_view rest;
  if (file_name.substr(0, kPayload.size()) == kPayload) {
    *tag_manifest = false;
    rest = file_name.substr(kPayload.size());
  } else if (file_name.substr(0, kTag.size()) == kTag) {
    *tag_manifest = true;
    rest = file_name.substr(kTag.size());
  } else {
    return false;
  }
  if (rest.size() <= kSuffix.size() ||
      rest.substr(rest.size() - kSuffix.size()) != kSuffix) {
    return false;
  }
  *algorithm = std::string(rest.substr(0, rest.size() - kSuffix.size()));
  return true;
}

namespace {

// md5sum's escaping of a name holding a backslash or a line feed: the line
// starts with a backslash, and in the name a doubled backslash stands for
// one and backslash-n for a line feed. False if an escape is unknown.
bool UnescapeMd5sumPath(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '\\') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 1 == in.size()) return false;
    const char c = in[++i];
    if (c == '\\') {
      out->push_back('\\');
    } else if (c == 'n') {
      out->push_back('\n');
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

Status ParseBagManifest(std::string_view data, std::string_view name,
                        DigestType type, const BagReadRules& rules,
                        std::vector<BagManifestEntry>* out,
                        std::vector<std::string>* warnings) {
  out->clear();
  // path -> index in *out
  std::unordered_map<std::string, size_t> seen;
  // The first line of each kind of warning, and how many lines had it.
  uint64_t marker_line = 0, escape_line = 0, dot_line = 0, twice_line = 0;
  uint64_t markers = 0, escapes = 0, dots = 0, twice = 0;
  TagLines lines(StripBom(data));
  std::string_view line;
  std::string unescaped;
  while (lines.Next(&line)) {
    const uint64_t n = lines.line_number();
    if (AllBlank(line)) continue;
    // md5sum writes "\<hex>  <path>" when the path holds '\' or LF.
    const bool escaped = line.front() == '\\';
    if (escaped) line.remove_prefix(1);
    std::string_view hex, path;
    if (!SplitField(line, &hex, &path)) {
      return LineError(name, n,
                       "expected '<digest> <path>', got '" + Quote(line) + "'");
    }
    // md5sum's binary-mode marker: "<hex> *<path>", one space then '*'.
    // (A blank after the '*' is not md5sum's: the name would start with
    // it, which no manifest line can say.)
    if (path.front() == '*' && path.size() > 1 && !IsBlank(path[1]) &&
        line.substr(hex.size(), 2) == " *") {
      path.remove_prefix(1);
      if (markers++ == 0) marker_line = n;
    }
    if (escaped) {
      if (!UnescapeMd5sumPath(path, &unescaped)) {
        return LineError(name, n,
                         "a line starting with '\\' (md5sum's escaping) has "
                         "an unknown escape in '" +
                             Quote(path) + "'");
      }
      path = unescaped;
      if (escapes++ == 0) escape_line = n;
    }
    BagManifestEntry e;
    e.line = n;
    VALISE_RETURN_IF_ERROR(
        format_internal::ParseDigestField(hex, type, name, n, &e.digest));
    bool dot_slash = false;
    VALISE_RETURN_IF_ERROR(
        BagPath(path, rules.percent_encoded, name, n, &e.path, &dot_slash));
    if (dot_slash && dots++ == 0) dot_line = n;
    auto [it, fresh] = seen.emplace(e.path, out->size());
    if (!fresh) {
      const BagManifestEntry& first = (*out)[it->second];
      if (first.digest != e.digest) {
        return LineError(
            name, n,
            "path '" + Quote(e.path) + "' already listed on line " +
                std::to_string(first.line) + " with another digest");
      }
      if (!rules.legacy) {
        return LineError(name, n,
                         "path '" + Quote(e.path) +
                             "' already listed on line " +
                             std::to_string(first.line) +
                             " (BagIt 1.0: every payload file exactly once)");
      }
      if (twice++ == 0) twice_line = n;
      continue;
    }
    out->push_back(std::move(e));
  }
  if (warnings != nullptr) {
    const std::string where = std::string(name) + ":";
    if (markers > 0) {
      warnings->push_back(
          where + std::to_string(marker_line) + ": " + std::to_string(markers) +
          " line(s) with md5sum's binary-mode marker ('<digest> *<path>'): "
          "read without it; the manifest fails strict validation");
    }
    if (escapes > 0) {
      warnings->push_back(where + std::to_string(escape_line) + ": " +
                          std::to_string(escapes) +
                          " line(s) in md5sum's escaped form ('\\<digest>'): "
                          "read unescaped; the manifest fails strict "
                          "validation");
    }
    if (dots > 0) {
      warnings->push_back(where + std::to_string(dot_line) + ": " +
                          std::to_string(dots) +
                          " path(s) starting with './': read without it");
    }
    if (twice > 0) {
      warnings->push_back(where + std::to_string(twice_line) + ": " +
                          std::to_string(twice) +
                          " path(s) listed again with the same digest: read "
                          "once (BagIt 1.0 would make this an error)");
    }
  }
  return Status::OK();
}

std::string WriteBagManifest(const std::vector<BagManifestEntry>& entries) {
  std::string out;
  for (const BagManifestEntry& e : entries) {
    out += e.digest.Hex();
    out += "  ";
    out += EncodeBagPath(e.path);
    out.push_back('\n');
  }
  return out;
}

std::string WriteBagManifest(const Manifest& m, DigestType type,
                             std::string_view prefix) {
  std::string out;
  out.reserve(m.size() * (DigestSize(type) * 2 + prefix.size() + 40));
  for (size_t i = 0; i < m.size(); ++i) {
    out += m.digest(i, type).Hex();
    out += "  ";
    out += prefix;
    out += EncodeBagPath(m.path(i));
    out.push_back('\n');
  }
  return out;
}

std::string EncodeBagPath(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (char c : raw) {
    if (c == '%') {
      out += "%25";
    } else if (c == '\n') {
      out += "%0A";
    } else if (c == '\r') {
      out += "%0D";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string DecodeBagPath(std::string_view encoded) {
  std::string out;
  out.reserve(encoded.size());
  for (size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] == '%' && i + 2 < encoded.size()) {
      const char a = encoded[i + 1];
      const char b = AsciiLower(encoded[i + 2]);
      if (a == '2' && b == '5') {
        out.push_back('%');
        i += 2;
        continue;
      }
      if (a == '0' && b == 'a') {
        out.push_back('\n');
        i += 2;
        continue;
      }
      if (a == '0' && b == 'd') {
        out.push_back('\r');
        i += 2;
        continue;
      }
    }
    out.push_back(encoded[i]);
  }
  return out;
}

Status ParseBagFetch(std::string_view data, std::string_view name,
                     const BagReadRules& rules,
                     std::vector<BagFetchItem>* out) {
  out->clear();
  TagLines lines(StripBom(data));
  std::string_view line;
  while (lines.Next(&line)) {
    const uint64_t n = lines.line_number();
    if (AllBlank(line)) continue;
    std::string_view url, rest, length, path;
    if (!SplitField(line, &url, &rest) || !SplitField(rest, &length, &path)) {
      return LineError(
          name, n,
          "expected '<url> <length> <path>', got '" + Quote(line) + "'");
    }
    BagFetchItem item;
    item.line = n;
    item.url = std::string(url);
    if (length != "-") {
      uint64_t v = 0;
      if (!format_internal::ParseDecimalU64(length, &v)) {
        return LineError(name, n,
                         "length must be a number of bytes or '-', got '" +
                             Quote(length) + "'");
      }
      item.length = v;
    }
    VALISE_RETURN_IF_ERROR(
        BagPath(path, rules.percent_encoded, name, n, &item.path));
    if (item.path.compare(0, 5, "data/") != 0) {
      return LineError(name, n,
                       "fetch.txt may list only payload files (data/...), "
                       "not '" +
                           Quote(item.path) + "'");
    }
    out->push_back(std::move(item));
  }
  return Status::OK();
}

}  // namespace valise
