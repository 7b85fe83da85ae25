// Path escaping for manifest v1 and chunk indexes, and the safety rule
// every path read from a manifest must pass.
//
// A path in a manifest is raw bytes: Linux file names are not text. The
// line format needs two bytes kept out (TAB separates fields, LF ends
// lines), terminals need control bytes kept out, and people reading or
// grepping a manifest want names in their own script left alone. So:
// control bytes (0x00-0x1F, 0x7F), '%' (the escape itself) and every byte
// that is not part of a well-formed UTF-8 sequence become %XX; the rest is
// written as is. "Well-formed" is Unicode's Table 3-7: no overlong forms
// (C0, C1, E0 80-9F, F0 80-8F), no surrogates (ED A0-BF), nothing above
// U+10FFFF (F4 90+, F5-FF), no truncated sequence. A byte that starts a
// bad sequence is escaped alone and scanning resumes at the next byte, so
// a valid character right after a stray byte stays literal.
//
// A terminal needs more kept out than a manifest: C1 controls (U+0080 to
// U+009F; U+009B is CSI, which starts an escape sequence on many
// terminals) and the bidirectional formatting characters (U+061C, U+200E,
// U+200F, U+202A-U+202E, U+2066-U+2069), which reorder what is shown after
// them so "exe.txt" can be displayed for "txt.exe". They are valid UTF-8,
// so the manifest keeps them literal; EscapeTerminalPath writes each of
// their bytes as %XX too. As '%' itself is %25 there, the result still
// names exactly one byte string (UnescapePath gives it back).
#include <cstring>
#include <string>
#include <string_view>

#include "valise/manifest.h"

namespace valise {

namespace {

constexpr char kUpperHex[] = "0123456789ABCDEF";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool IsControl(uint8_t b) { return b < 0x20 || b == 0x7F; }

bool InRange(uint8_t b, uint8_t lo, uint8_t hi) { return b >= lo && b <= hi; }

// Length of the well-formed UTF-8 sequence of 2-4 bytes starting at s[i],
// or 0 if there is none (Unicode 15, Table 3-7).
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data()) + i;
  const size_t left = s.size() - i;
  const uint8_t b0 = p[0];
  auto cont = [&](size_t k) { return k < left && InRange(p[k], 0x80, 0xBF); };
  if (InRange(b0, 0xC2, 0xDF)) return cont(1) ? 2 : 0;
  if (InRange(b0, 0xE0, 0xEF)) {
    if (left < 2) return 0;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b0 == 0xE0) lo = 0xA0;  // below: overlong
    if (b0 == 0xED) hi = 0x9F;  // above: UTF-16 surrogates
    if (!InRange(p[1], lo, hi)) return 0;
    return cont(2) ? 3 : 0;
  }
  if (InRange(b0, 0xF0, 0xF4)) {
    if (left < 2) return 0;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b0 == 0xF0) lo = 0x90;  // below: overlong
    if (b0 == 0xF4) hi = 0x8F;  // above: beyond U+10FFFF
    if (!InRange(p[1], lo, hi)) return 0;
    return cont(2) && cont(3) ? 4 : 0;
  }
  return 0;  // 0x80-0xC1 (stray continuation, overlong lead), 0xF5-0xFF
}

void AppendEscaped(uint8_t b, std::string* out) {
  out->push_back('%');
  out->push_back(kUpperHex[b >> 4]);
  out->push_back(kUpperHex[b & 15]);
}

// The code point of the well-formed sequence of n (2-4) bytes at s[i].
uint32_t CodePoint(std::string_view s, size_t i, size_t n) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data()) + i;
  uint32_t cp = p[0] & (0x7F >> n);
  for (size_t k = 1; k < n; ++k) cp = cp << 6 | (p[k] & 0x3F);
  return cp;
}

// C1 controls and bidirectional formatting characters: see the top.
bool UnsafeOnTerminal(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) || cp == 0x061C || cp == 0x200E ||
         cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

// The escaping of EscapePath; `percent` says whether '%' is escaped, and
// `terminal` whether UnsafeOnTerminal characters are.
std::string Escape(std::string_view raw, bool percent, bool terminal) {
  std::string out;
  out.reserve(raw.size());
  size_t i = 0;
  while (i < raw.size()) {
    const auto b = static_cast<uint8_t>(raw[i]);
    if (b < 0x80) {
      if (IsControl(b) || (percent && b == '%')) {
        AppendEscaped(b, &out);
      } else {
        out.push_back(static_cast<char>(b));
      }
      ++i;
      continue;
    }
    size_t n = Utf8SequenceLength(raw, i);
    if (n == 0) {
      AppendEscaped(b, &out);
      ++i;
    } else if (terminal && UnsafeOnTerminal(CodePoint(raw, i, n))) {
      for (size_t k = 0; k < n; ++k) {
        AppendEscaped(static_cast<uint8_t>(raw[i + k]), &out);
      }
      i += n;
    } else {
      out.append(raw.substr(i, n));
      i += n;
    }
  }
  return out;
}

}  // namespace

Status ValidatePath(std::string_view path) {
  if (path.empty()) return Status::InvalidArgument("empty path");
  if (path.front() == '/') return Status::InvalidArgument("absolute path");
  if (memchr(path.data(), '\0', path.size()) != nullptr) {
    return Status::InvalidArgument("NUL byte in path");
  }
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    std::string_view comp = path.substr(start, slash == std::string_view::npos
                                                   ? std::string_view::npos
                                                   : slash - start);
    if (comp.empty()) return Status::InvalidArgument("empty path component");
    if (comp == ".") return Status::InvalidArgument("'.' path component");
    if (comp == "..") return Status::InvalidArgument("'..' path component");
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return Status::OK();
}

std::string EscapePath(std::string_view raw) {
  return Escape(raw, /*percent=*/true, /*terminal=*/false);
}

std::string EscapeTerminalPath(std::string_view raw) {
  return Escape(raw, /*percent=*/true, /*terminal=*/true);
}

std::string EscapeTerminalText(std::string_view text) {
  return Escape(text, /*percent=*/false, /*terminal=*/true);
}

Status UnescapePath(std::string_view escaped, std::string* raw) {
  // Written straight into *raw (the readers reuse one string for every
  // line, so the common case allocates nothing).
  std::string& out = *raw;
  out.clear();
  for (size_t i = 0; i < escaped.size(); ++i) {
    const auto b = static_cast<uint8_t>(escaped[i]);
    if (IsControl(b)) {
      std::string msg = "unescaped control byte %";
      msg.push_back(kUpperHex[b >> 4]);
      msg.push_back(kUpperHex[b & 15]);
      return Status::InvalidArgument(msg);
    }
    if (b != '%') {
      out.push_back(static_cast<char>(b));
      continue;
    }
    int hi = i + 1 < escaped.size() ? HexValue(escaped[i + 1]) : -1;
    int lo = i + 2 < escaped.size() ? HexValue(escaped[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      return Status::InvalidArgument(
          "bad escape at byte " + std::to_string(i) +
          ": '%' must be followed by two hex digits");
    }
    out.push_back(static_cast<char>(hi << 4 | lo));
    i += 2;
  }
  return Status::OK();
}

}  // namespace valise
