// BagIt tag files (RFC 8493): the bag declaration, bag-info.txt, payload
// and tag manifests, fetch.txt; readers and writers.
//
// Readers are strict where a mistake would change what is checked (a
// version or encoding valise cannot honour, a malformed digest, an unsafe
// or duplicate path) and lenient where the RFC is: any of LF, CR or CRLF
// ends a line in every tag file, blank lines are skipped, digests are hex
// in either case, and a '%' not followed by 25, 0A or 0D is kept literally
// (what the reference implementations do with manifests written by tools
// that never encoded). Versions before 1.0 did not percent-encode paths, so
// their '%' is always literal.
#include "valise/bagit.h"

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
// (some 0.9x tools wrote it), then checked safe.
Status BagPath(std::string_view field, bool percent_encoded,
               std::string_view name, uint64_t n, std::string* out) {
  *out = percent_encoded ? DecodeBagPath(field) : std::string(field);
  while (out->size() > 2 && (*out)[0] == '.' && (*out)[1] == '/') {
    out->erase(0, 2);
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

}  // namespace

Status ParseBagDeclaration(std::string_view data, std::string_view name,
                           BagDeclaration* out) {
  *out = BagDeclaration();
  if (data.substr(0, kBom.size()) == kBom) {
    out->had_bom = true;
    data.remove_prefix(kBom.size());
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
  if (!EqualsNoCase(out->encoding, "UTF-8") &&
      !EqualsNoCase(out->encoding, "US-ASCII")) {
    return LineError(name, 2,
                     "Tag-File-Character-Encoding '" + Quote(out->encoding) +
                         "' not supported (valise reads UTF-8 tag files)");
  }
  if (out->had_bom && out->major >= 1) {
    return Status::InvalidArgument(
        name, "byte-order mark: BagIt 1.0 forbids one in bagit.txt");
  }
  return Status::OK();
}

std::string WriteBagDeclaration() {
  return "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";
}

Status ParseBagInfo(std::string_view data, std::string_view name,
                    std::vector<BagInfoField>* out) {
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
    if (label.empty() || IsBlank(label.back())) {
      return LineError(
          name, n,
          "bad label '" + Quote(label) + "': empty, or ends with whitespace");
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

Status ParseBagManifest(std::string_view data, std::string_view name,
                        DigestType type, bool percent_encoded,
                        std::vector<BagManifestEntry>* out) {
  out->clear();
  std::unordered_map<std::string, uint64_t> seen;
  TagLines lines(StripBom(data));
  std::string_view line;
  while (lines.Next(&line)) {
    const uint64_t n = lines.line_number();
    if (AllBlank(line)) continue;
    std::string_view hex, path;
    if (!SplitField(line, &hex, &path)) {
      return LineError(name, n,
                       "expected '<digest> <path>', got '" + Quote(line) + "'");
    }
    BagManifestEntry e;
    e.line = n;
    VALISE_RETURN_IF_ERROR(
        format_internal::ParseDigestField(hex, type, name, n, &e.digest));
    VALISE_RETURN_IF_ERROR(BagPath(path, percent_encoded, name, n, &e.path));
    auto [it, fresh] = seen.emplace(e.path, n);
    if (!fresh) {
      return LineError(name, n,
                       "path '" + Quote(e.path) + "' already listed on line " +
                           std::to_string(it->second));
    }
    out->push_back(std::move(e));
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
                     bool percent_encoded, std::vector<BagFetchItem>* out) {
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
    VALISE_RETURN_IF_ERROR(BagPath(path, percent_encoded, name, n, &item.path));
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
