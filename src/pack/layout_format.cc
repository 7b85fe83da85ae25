// M.layout and M.parity, the two files a pack writes beside its manifest
// (docs/formats.md, "Pack layout" and "Parity digests").
//
//   valise-layout 1
//   # chunk-size 1048576
//   # stripes 3
//   # segment-stripes 1048576
//   # code isa-l-cauchy1 data=2 parity=1
//   drive data 1 files=2 bytes=2097152 chunks=3 label=ship-01
//   2097152<TAB>big.bin
//   0<TAB>empty.txt
//   drive data 2 files=1 bytes=100 chunks=1 label=ship-02
//   100<TAB>small.txt
//   drive parity 1 segments=1 label=ship-03
//   0<TAB>3<TAB><64 hex: SHA-256 of the
//   file><TAB>valise-parity/parity-1-of-1.0000 # end drives=3 files=3
//
// Paths and labels are escaped as in manifest v1 (a label is the rest of
// its line after "label="). The reader is as strict as the manifest's:
// every count is checked against the lines it counts, the stripes against
// the drives' chunks, the parity files against the stripes, and a missing
// trailer is truncation (Corruption).
#include <algorithm>
#include <cstring>
#include <set>
#include <string>
#include <unordered_map>

#include "format/parse_util.h"
#include "valise/digest.h"
#include "valise/pack.h"

namespace valise {

namespace {

using format_internal::CheckPath;
using format_internal::HasCr;
using format_internal::kCrlfMessage;
using format_internal::LineCorruption;
using format_internal::LineError;
using format_internal::LineReader;
using format_internal::ParseDecimalU64;
using format_internal::Quote;

constexpr std::string_view kHeader = "valise-layout 1";
constexpr std::string_view kMagic = "valise-layout";
constexpr std::string_view kCode = "isa-l-cauchy1";

bool StartsWith(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

// Splits `s` at single spaces.
std::vector<std::string_view> Fields(std::string_view s, char sep = ' ') {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (true) {
    size_t e = s.find(sep, pos);
    out.push_back(s.substr(pos, e == std::string_view::npos ? e : e - pos));
    if (e == std::string_view::npos) break;
    pos = e + 1;
  }
  return out;
}

// "key=value" with a decimal value.
bool KeyNumber(std::string_view field, std::string_view key, uint64_t* v) {
  return StartsWith(field, key) && field.size() > key.size() &&
         field[key.size()] == '=' &&
         ParseDecimalU64(field.substr(key.size() + 1), v);
}

// The parser's state: one line at a time, each a method.
class LayoutParser {
 public:
  LayoutParser(std::string_view data, std::string_view name)
      : reader_(data), name_(name) {}
  Status Parse(PackLayout* out);

 private:
  Status Error(std::string_view msg) const {
    return LineError(name_, reader_.line_number(), msg);
  }
  Status Next(std::string_view* line, bool* eof);
  Status Header(std::string_view keyword, uint64_t* v);
  Status Code(uint64_t* k, uint64_t* m);
  Status DriveLine(std::string_view line, bool* parity, uint64_t* number,
                   uint64_t* count, uint64_t* bytes, uint64_t* chunks,
                   std::string* label);
  Status DataFile(std::string_view line, PackFile* f);
  Status Segment(std::string_view line, ParitySegment* s);
  Status CheckDrives(const PackLayout& l, uint64_t k, uint64_t m);

  LineReader reader_;
  std::string_view name_;
  std::set<std::string, std::less<>> paths_;
};

Status LayoutParser::Next(std::string_view* line, bool* eof) {
  *eof = !reader_.Next(line);
  if (*eof) return Status::OK();
  if (!reader_.terminated()) {
    return LineCorruption(name_, reader_.line_number(),
                          "last line cut short (no newline): truncated");
  }
  if (HasCr(*line)) return Error(kCrlfMessage);
  return Status::OK();
}

Status LayoutParser::Header(std::string_view keyword, uint64_t* v) {
  std::string_view line;
  bool eof;
  VALISE_RETURN_IF_ERROR(Next(&line, &eof));
  if (eof) {
    return Status::Corruption(
        name_, "truncated: no '" + std::string(keyword) + "' line");
  }
  const std::string prefix = std::string(keyword) + " ";
  if (!StartsWith(line, prefix) ||
      !ParseDecimalU64(line.substr(prefix.size()), v)) {
    return Error("expected '" + std::string(keyword) + " N', got " +
                 Quote(line));
  }
  return Status::OK();
}

Status LayoutParser::Code(uint64_t* k, uint64_t* m) {
  std::string_view line;
  bool eof;
  VALISE_RETURN_IF_ERROR(Next(&line, &eof));
  if (eof) return Status::Corruption(name_, "truncated: no '# code' line");
  std::vector<std::string_view> f = Fields(line);
  if (f.size() != 5 || f[0] != "#" || f[1] != "code") {
    return Error("expected '# code " + std::string(kCode) +
                 " data=K parity=M', got " + Quote(line));
  }
  if (f[2] != kCode) {
    return Status::NotSupported(
        format_internal::Where(name_, reader_.line_number()),
        "parity code " + Quote(f[2]) + " (this valise knows " +
            std::string(kCode) + ")");
  }
  if (!KeyNumber(f[3], "data", k) || !KeyNumber(f[4], "parity", m) || *k < 1 ||
      *k + *m > 255) {
    return Error("bad drive counts " + Quote(line) +
                 " (data >= 1, data + parity <= 255)");
  }
  return Status::OK();
}

Status LayoutParser::DriveLine(std::string_view line, bool* parity,
                               uint64_t* number, uint64_t* count,
                               uint64_t* bytes, uint64_t* chunks,
                               std::string* label) {
  const size_t at = line.find(" label=");
  if (!StartsWith(line, "drive ") || at == std::string_view::npos) {
    return Error("expected a 'drive' line, got " + Quote(line));
  }
  std::vector<std::string_view> f = Fields(line.substr(0, at));
  *parity = f.size() == 4 && f[1] == "parity";
  const bool data = f.size() == 6 && f[1] == "data";
  if (!(data || *parity) || !ParseDecimalU64(f[2], number) ||
      (data &&
       (!KeyNumber(f[3], "files", count) || !KeyNumber(f[4], "bytes", bytes) ||
        !KeyNumber(f[5], "chunks", chunks))) ||
      (*parity && !KeyNumber(f[3], "segments", count))) {
    return Error("malformed drive line " + Quote(line));
  }
  Status s = UnescapePath(line.substr(at + 7), label);
  if (!s.ok() || label->empty()) return Error("bad drive label");
  return Status::OK();
}

Status LayoutParser::DataFile(std::string_view line, PackFile* f) {
  const size_t tab = line.find('\t');
  if (tab == std::string_view::npos ||
      !ParseDecimalU64(line.substr(0, tab), &f->size)) {
    return Error("expected 'SIZE<TAB>PATH', got " + Quote(line));
  }
  Status s = UnescapePath(line.substr(tab + 1), &f->path);
  if (!s.ok()) return Error(s.message());
  VALISE_RETURN_IF_ERROR(CheckPath(f->path, name_, reader_.line_number()));
  if (!paths_.insert(f->path).second) {
    return Error("path listed twice: " + Quote(f->path));
  }
  return Status::OK();
}

Status LayoutParser::Segment(std::string_view line, ParitySegment* seg) {
  std::vector<std::string_view> f = Fields(line, '\t');
  if (f.size() != 4 || !ParseDecimalU64(f[0], &seg->first_stripe) ||
      !ParseDecimalU64(f[1], &seg->stripes) ||
      !Sha256BytesFromHex(f[2], &seg->sha256)) {
    return Error("expected 'FIRST<TAB>STRIPES<TAB>SHA256<TAB>PATH', got " +
                 Quote(line));
  }
  Status s = UnescapePath(f[3], &seg->path);
  if (!s.ok()) return Error(s.message());
  VALISE_RETURN_IF_ERROR(CheckPath(seg->path, name_, reader_.line_number()));
  if (!paths_.insert(seg->path).second) {
    return Error("path listed twice: " + Quote(seg->path));
  }
  return Status::OK();
}

Status LayoutParser::CheckDrives(const PackLayout& l, uint64_t k, uint64_t m) {
  if (l.data.size() != k || l.parity.size() != m) {
    return Error("the trailer is reached with " +
                 std::to_string(l.data.size()) + " data and " +
                 std::to_string(l.parity.size()) +
                 " parity drives; '# code' says " + std::to_string(k) +
                 " and " + std::to_string(m));
  }
  uint64_t most = 0;
  for (const DataDriveLayout& d : l.data) most = std::max(most, d.chunks);
  if (most != l.stripes) {
    return Error("'# stripes " + std::to_string(l.stripes) +
                 "' but the fullest data drive holds " + std::to_string(most) +
                 " chunks");
  }
  for (const ParityDriveLayout& p : l.parity) {
    uint64_t next = 0;
    for (const ParitySegment& s : p.segments) {
      const uint64_t want =
          std::min(l.segment_stripes, l.stripes - std::min(next, l.stripes));
      if (s.first_stripe != next || s.stripes != want || want == 0) {
        return Error("parity drive " + Quote(p.label) + ": parity file " +
                     Quote(s.path) + " holds stripes [" +
                     std::to_string(s.first_stripe) + ", +" +
                     std::to_string(s.stripes) + "), expected [" +
                     std::to_string(next) + ", +" + std::to_string(want) + ")");
      }
      next += s.stripes;
    }
    if (next != l.stripes) {
      return Error("parity drive " + Quote(p.label) + " holds " +
                   std::to_string(next) + " stripes of " +
                   std::to_string(l.stripes));
    }
  }
  return Status::OK();
}

Status LayoutParser::Parse(PackLayout* out) {
  std::string_view line;
  bool eof;
  VALISE_RETURN_IF_ERROR(Next(&line, &eof));
  if (eof) return Status::Corruption(name_, "empty file (not a pack layout)");
  if (line != kHeader) {
    if (StartsWith(line, kMagic)) {
      return Status::NotSupported(name_, "layout version " +
                                             Quote(line.substr(kMagic.size())) +
                                             " (this valise reads 1)");
    }
    return Error("not a valise pack layout (first line " + Quote(line) + ")");
  }
  PackLayout l;
  uint64_t k = 0, m = 0;
  VALISE_RETURN_IF_ERROR(Header("# chunk-size", &l.chunk_size));
  if (!ValidPackChunkSize(l.chunk_size)) return Error("invalid chunk size");
  VALISE_RETURN_IF_ERROR(Header("# stripes", &l.stripes));
  VALISE_RETURN_IF_ERROR(Header("# segment-stripes", &l.segment_stripes));
  if (l.segment_stripes == 0) return Error("segment-stripes must be > 0");
  VALISE_RETURN_IF_ERROR(Code(&k, &m));
  // Drive sections: a drive line, then its files or parity files.
  uint64_t expected = 0;  // lines still owed to the current drive
  while (true) {
    VALISE_RETURN_IF_ERROR(Next(&line, &eof));
    if (eof) return Status::Corruption(name_, "truncated: no '# end' trailer");
    if (expected > 0) {
      --expected;
      if (!l.parity.empty()) {
        ParitySegment seg;
        VALISE_RETURN_IF_ERROR(Segment(line, &seg));
        l.parity.back().segments.push_back(std::move(seg));
        continue;
      }
      PackFile f;
      VALISE_RETURN_IF_ERROR(DataFile(line, &f));
      DataDriveLayout& d = l.data.back();
      d.files.push_back(std::move(f));
      continue;
    }
    if (!l.data.empty() && l.parity.empty()) {
      // The data drive just finished: its counts must add up.
      const DataDriveLayout& d = l.data.back();
      uint64_t bytes = 0, chunks = 0;
      for (const PackFile& f : d.files) {
        bytes += f.size;
        chunks += PackChunksOf(f.size, l.chunk_size);
      }
      if (bytes != d.bytes || chunks != d.chunks) {
        return Error("data drive " + Quote(d.label) + ": its files hold " +
                     std::to_string(bytes) + " bytes in " +
                     std::to_string(chunks) + " chunks, its line says " +
                     std::to_string(d.bytes) + " in " +
                     std::to_string(d.chunks));
      }
    }
    if (StartsWith(line, "# end")) break;
    bool parity = false;
    uint64_t number, count, bytes = 0, chunks = 0;
    std::string label;
    VALISE_RETURN_IF_ERROR(
        DriveLine(line, &parity, &number, &count, &bytes, &chunks, &label));
    const uint64_t want = parity ? l.parity.size() + 1 : l.data.size() + 1;
    if (number != want || (!parity && !l.parity.empty())) {
      return Error("drive out of order: expected " +
                   std::string(l.parity.empty() ? "data" : "parity") +
                   " drive " + std::to_string(want));
    }
    if (parity) {
      l.parity.push_back(ParityDriveLayout{std::move(label), {}});
    } else {
      l.data.push_back(DataDriveLayout{std::move(label), {}, bytes, chunks});
    }
    expected = count;
  }
  std::vector<std::string_view> f = Fields(line);
  uint64_t drives = 0, files = 0;
  if (f.size() != 4 || f[1] != "end" || !KeyNumber(f[2], "drives", &drives) ||
      !KeyNumber(f[3], "files", &files)) {
    return Error("malformed trailer " + Quote(line));
  }
  if (drives != l.data.size() + l.parity.size() || files != l.files()) {
    return LineCorruption(name_, reader_.line_number(),
                          "trailer counts disagree with the drives listed");
  }
  VALISE_RETURN_IF_ERROR(CheckDrives(l, k, m));
  VALISE_RETURN_IF_ERROR(Next(&line, &eof));
  if (!eof) return Error("text after the trailer");
  *out = std::move(l);
  return Status::OK();
}

void PutU64(std::string* s, size_t at, uint64_t v) {
  for (int i = 0; i < 8; ++i) (*s)[at + i] = static_cast<char>(v >> (8 * i));
}
void PutU32(std::string* s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) (*s)[at + i] = static_cast<char>(v >> (8 * i));
}
uint64_t GetU64(std::string_view s, size_t at) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | static_cast<uint8_t>(s[at + i]);
  return v;
}
uint32_t GetU32(std::string_view s, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = v << 8 | static_cast<uint8_t>(s[at + i]);
  return v;
}

// Header fields: magic 0..16, chunk size 16, stripes 24, parity drives 32,
// digest algorithm 36 (1: SHA-256), reserved zeros 40..64.
constexpr uint32_t kParitySha256 = 1;

}  // namespace

std::string WriteLayout(const PackLayout& layout) {
  std::string out;
  out.append(kHeader);
  out.append("\n# chunk-size " + std::to_string(layout.chunk_size));
  out.append("\n# stripes " + std::to_string(layout.stripes));
  out.append("\n# segment-stripes " + std::to_string(layout.segment_stripes));
  out.append("\n# code " + std::string(kCode) +
             " data=" + std::to_string(layout.k()) +
             " parity=" + std::to_string(layout.m()) + "\n");
  for (size_t d = 0; d < layout.data.size(); ++d) {
    const DataDriveLayout& drive = layout.data[d];
    out.append("drive data " + std::to_string(d + 1) +
               " files=" + std::to_string(drive.files.size()) +
               " bytes=" + std::to_string(drive.bytes) +
               " chunks=" + std::to_string(drive.chunks) +
               " label=" + EscapePath(drive.label) + "\n");
    for (const PackFile& f : drive.files) {
      out.append(std::to_string(f.size));
      out.push_back('\t');
      out.append(EscapePath(f.path));
      out.push_back('\n');
    }
  }
  for (size_t j = 0; j < layout.parity.size(); ++j) {
    const ParityDriveLayout& drive = layout.parity[j];
    out.append("drive parity " + std::to_string(j + 1) +
               " segments=" + std::to_string(drive.segments.size()) +
               " label=" + EscapePath(drive.label) + "\n");
    for (const ParitySegment& s : drive.segments) {
      out.append(std::to_string(s.first_stripe) + "\t" +
                 std::to_string(s.stripes) + "\t" + Sha256BytesHex(s.sha256) +
                 "\t" + EscapePath(s.path) + "\n");
    }
  }
  out.append("# end drives=" +
             std::to_string(layout.data.size() + layout.parity.size()) +
             " files=" + std::to_string(layout.files()) + "\n");
  return out;
}

Status ParseLayout(std::string_view data, std::string_view name,
                   PackLayout* out) {
  return LayoutParser(data, name).Parse(out);
}

Status CheckLayoutMatchesManifest(const PackLayout& layout, const Manifest& m,
                                  std::string_view layout_name,
                                  std::vector<std::vector<size_t>>* entries) {
  std::vector<bool> placed(m.size(), false);
  if (entries != nullptr) entries->assign(layout.data.size(), {});
  for (size_t di = 0; di < layout.data.size(); ++di) {
    const DataDriveLayout& d = layout.data[di];
    for (const PackFile& f : d.files) {
      const int64_t e = m.Find(f.path);
      if (e < 0) {
        return Status::Corruption(
            layout_name, EscapeTerminalPath(f.path) + " is on data drive " +
                             d.label + " but not in the manifest");
      }
      if (m.has_sizes() && m.file_size(e) != f.size) {
        return Status::Corruption(
            layout_name, EscapeTerminalPath(f.path) + ": " +
                             std::to_string(f.size) + " bytes in the layout, " +
                             std::to_string(m.file_size(e)) +
                             " in the manifest");
      }
      if (placed[e]) {
        return Status::Corruption(
            layout_name,
            EscapeTerminalPath(f.path) + " is listed on two data drives");
      }
      placed[e] = true;
      if (entries != nullptr) (*entries)[di].push_back(static_cast<size_t>(e));
    }
  }
  for (size_t e = 0; e < m.size(); ++e) {
    if (!placed[e]) {
      return Status::Corruption(layout_name,
                                EscapeTerminalPath(m.path(e)) +
                                    " is in the manifest but on no data drive");
    }
  }
  return Status::OK();
}

std::string EncodeParityDigestsHeader(const ParityDigestsHeader& h) {
  std::string s(kParityDigestsHeaderSize, '\0');
  std::memcpy(s.data(), kParityDigestsMagic.data(), kParityDigestsMagic.size());
  PutU64(&s, 16, h.chunk_size);
  PutU64(&s, 24, h.stripes);
  PutU32(&s, 32, h.parity_drives);
  PutU32(&s, 36, kParitySha256);
  return s;
}

Status DecodeParityDigestsHeader(std::string_view bytes, std::string_view name,
                                 ParityDigestsHeader* h) {
  if (bytes.size() < kParityDigestsHeaderSize) {
    return Status::Corruption(name, "shorter than the 64-byte header");
  }
  const std::string_view magic = bytes.substr(0, kParityDigestsMagic.size());
  if (magic != kParityDigestsMagic) {
    if (magic.substr(0, 14) == kParityDigestsMagic.substr(0, 14)) {
      return Status::NotSupported(name, "parity digests version " +
                                            Quote(magic.substr(14)) +
                                            " (this valise reads 1)");
    }
    return Status::InvalidArgument(name, "not a valise parity digest file");
  }
  if (GetU32(bytes, 36) != kParitySha256) {
    return Status::NotSupported(name, "digest algorithm " +
                                          std::to_string(GetU32(bytes, 36)) +
                                          " (this valise knows 1, SHA-256)");
  }
  for (size_t i = 40; i < kParityDigestsHeaderSize; ++i) {
    if (bytes[i] != 0) {
      return Status::InvalidArgument(name, "non-zero reserved header byte");
    }
  }
  ParityDigestsHeader r;
  r.chunk_size = GetU64(bytes, 16);
  r.stripes = GetU64(bytes, 24);
  r.parity_drives = GetU32(bytes, 32);
  if (!ValidPackChunkSize(r.chunk_size) || r.parity_drives > 254 ||
      r.stripes > (uint64_t{1} << 48)) {
    return Status::InvalidArgument(name, "implausible header values");
  }
  *h = r;
  return Status::OK();
}

std::string Sha256BytesHex(const Sha256Bytes& b) {
  Digest d;
  d.type = DigestType::kSha256;
  d.size = 32;
  std::copy(b.begin(), b.end(), d.bytes.begin());
  return d.Hex();
}

bool Sha256BytesFromHex(std::string_view hex, Sha256Bytes* out) {
  Digest d;
  if (!Digest::FromHex(DigestType::kSha256, hex, &d)) return false;
  std::copy_n(d.bytes.begin(), 32, out->begin());
  return true;
}

}  // namespace valise
