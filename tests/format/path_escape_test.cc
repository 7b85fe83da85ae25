#include <iconv.h>

#include <cerrno>
#include <random>
#include <string>

#include "support/test_util.h"
#include "valise/manifest.h"

namespace valise {
namespace {

std::string Unescape(std::string_view s) {
  std::string raw;
  Status st = UnescapePath(s, &raw);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return raw;
}

// An independent judge of UTF-8 well-formedness: glibc's iconv, which
// refuses overlongs, surrogates and code points above U+10FFFF.
class IconvUtf8 {
 public:
  IconvUtf8() : cd_(iconv_open("UTF-32LE", "UTF-8")) {}
  ~IconvUtf8() { iconv_close(cd_); }
  bool Valid(std::string_view s) {
    iconv(cd_, nullptr, nullptr, nullptr, nullptr);
    std::string in(s);
    char* inp = in.data();
    size_t inleft = in.size();
    char buf[64];
    while (inleft > 0) {
      char* outp = buf;
      size_t outleft = sizeof(buf);
      if (iconv(cd_, &inp, &inleft, &outp, &outleft) ==
          static_cast<size_t>(-1)) {
        if (errno == E2BIG) continue;
        return false;  // EILSEQ (bad) or EINVAL (truncated)
      }
    }
    return true;
  }
  bool ok() const { return cd_ != reinterpret_cast<iconv_t>(-1); }

 private:
  iconv_t cd_;
};

bool HasControlOrPercent(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7F || c == '%') return true;
  }
  return false;
}

// Goal: control bytes, DEL and '%' become uppercase %XX; spaces and other
// printable ASCII stay literal.
TEST(PathEscape, ControlsAndPercent) {
  EXPECT_EQ(EscapePath("a b"), "a b");
  EXPECT_EQ(EscapePath("tab\there"), "tab%09here");
  EXPECT_EQ(EscapePath("nl\ncr\r"), "nl%0Acr%0D");
  EXPECT_EQ(EscapePath(std::string("nul\0x", 5)), "nul%00x");
  EXPECT_EQ(EscapePath("\x1F\x7F"), "%1F%7F");
  EXPECT_EQ(EscapePath("100%"), "100%25");
  EXPECT_EQ(EscapePath("~!\"#$&'()*+,-./:;<=>?@[\\]^_`{|}"),
            "~!\"#$&'()*+,-./:;<=>?@[\\]^_`{|}");
}

// Goal: well-formed UTF-8 of every length stays literal, up to U+10FFFF.
TEST(PathEscape, ValidUtf8IsLiteral) {
  for (const char* s :
       {"caf\xC3\xA9", "\xC2\x80", "\xDF\xBF", "\xE6\x97\xA5\xE6\x9C\xAC",
        "\xE0\xA0\x80", "\xED\x9F\xBF", "\xEE\x80\x80", "\xEF\xBF\xBF",
        "\xF0\x9F\x98\x80", "\xF0\x90\x80\x80", "\xF4\x8F\xBF\xBF",
        "\xF3\xBF\xBF\xBF"}) {
    EXPECT_EQ(EscapePath(s), s) << EscapePath(s);
  }
}

// Goal: bytes that are not part of well-formed UTF-8 are escaped one by
// one: overlongs, surrogates, > U+10FFFF, stray continuation bytes,
// impossible leads and truncated sequences; a valid character right after
// a bad byte stays literal.
TEST(PathEscape, InvalidUtf8IsEscaped) {
  struct Case {
    std::string in, out;
  } cases[] = {
      {"\xC0\x80", "%C0%80"},                // overlong NUL
      {"\xC1\xBF", "%C1%BF"},                // overlong 2-byte
      {"\xE0\x80\x80", "%E0%80%80"},         // overlong 3-byte
      {"\xE0\x9F\xBF", "%E0%9F%BF"},         // overlong 3-byte, top
      {"\xF0\x80\x80\x80", "%F0%80%80%80"},  // overlong 4-byte
      {"\xF0\x8F\xBF\xBF", "%F0%8F%BF%BF"},  // overlong 4-byte, top
      {"\xED\xA0\x80", "%ED%A0%80"},         // high surrogate U+D800
      {"\xED\xBF\xBF", "%ED%BF%BF"},         // low surrogate U+DFFF
      {"\xF4\x90\x80\x80", "%F4%90%80%80"},  // U+110000
      {"\xF5\x80\x80\x80", "%F5%80%80%80"},  // impossible lead
      {"\xFF\xFE", "%FF%FE"},                // impossible bytes
      {"\x80", "%80"},                       // stray continuation
      {"a\xE6\x97", "a%E6%97"},              // truncated at the end
      {"\xE6\x97"
       "A",
       "%E6%97A"},                      // truncated before ASCII
      {"\xF0\x9F\x98", "%F0%9F%98"},    // truncated 4-byte
      {"\x80\xC3\xA9", "%80\xC3\xA9"},  // valid after stray
      {"\xC3\xC3\xA9", "%C3\xC3\xA9"},  // lead then valid
      {"\xE6\x97\xE6\x97\xA5", "%E6%97\xE6\x97\xA5"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(EscapePath(c.in), c.out) << c.out;
    EXPECT_EQ(Unescape(c.out), c.in);
  }
}

// Goal: our UTF-8 verdict matches an independent decoder (iconv) for
// every 1- and 2-byte string and every 3-byte string with a 3-byte lead,
// and for 4-byte strings over all lead/second-byte pairs.
TEST(PathEscape, Utf8VerdictMatchesIconv) {
  IconvUtf8 judge;
  ASSERT_TRUE(judge.ok());
  auto check = [&](const std::string& s) {
    bool literal = EscapePath(s) == s;
    bool want = judge.Valid(s) && !HasControlOrPercent(s);
    ASSERT_EQ(literal, want) << EscapePath(s);
  };
  std::string s;
  for (int a = 0; a < 256; ++a) {
    check(std::string(1, static_cast<char>(a)));
    for (int b = 0; b < 256; ++b) {
      check(std::string{static_cast<char>(a), static_cast<char>(b)});
    }
  }
  for (int a = 0xE0; a <= 0xEF; ++a) {
    for (int b = 0x70; b < 0xD0; ++b) {
      for (int c = 0x70; c < 0xD0; ++c) {
        check(std::string{static_cast<char>(a), static_cast<char>(b),
                          static_cast<char>(c)});
      }
    }
  }
  for (int a = 0xF0; a <= 0xFF; ++a) {
    for (int b = 0; b < 256; ++b) {
      check(std::string{static_cast<char>(a), static_cast<char>(b), '\x80',
                        '\xBF'});
      check(
          std::string{static_cast<char>(a), static_cast<char>(b), '\x80', 'A'});
    }
  }
}

// Goal: escaping round-trips byte for byte for arbitrary bytes, and the
// escaped form holds no control byte and is itself well-formed UTF-8
// (re-escaping it changes only the '%' signs).
TEST(PathEscape, RoundTripRandomBytes) {
  std::mt19937_64 rng(42);
  IconvUtf8 judge;
  // Fragments that make valid and nearly valid UTF-8 likely.
  const std::string pieces[] = {
      "a",    "%",    "\t",       "\n",       "\xC3", "\xA9", "\xE6\x97\xA5",
      "\xED", "\xA0", "\xF0\x9F", "\x98\x80", "\xF4", "\x90", "\xFF",
      "/",    " "};
  for (int iter = 0; iter < 20000; ++iter) {
    std::string raw;
    size_t len = rng() % 40;
    if (iter % 2 == 0) {
      raw = test::RandomBytes(len, rng());
    } else {
      for (size_t i = 0; i < len; ++i) raw += pieces[rng() % 16];
    }
    std::string esc = EscapePath(raw);
    std::string back;
    ASSERT_VALISE_OK(UnescapePath(esc, &back));
    ASSERT_EQ(back, raw) << esc;
    for (unsigned char c : esc) {
      ASSERT_FALSE(c < 0x20 || c == 0x7F) << esc;
    }
    ASSERT_TRUE(judge.Valid(esc)) << esc;
    std::string twice = EscapePath(esc);
    std::string pct;
    for (char c : esc) pct += c == '%' ? std::string("%25") : std::string(1, c);
    ASSERT_EQ(twice, pct);
  }
}

// Goal: UnescapePath refuses a '%' without two hex digits and a literal
// control byte; it accepts lowercase hex and needless escapes.
// Goal (issue 12, item 12): for a terminal, every byte of a C1 control and
// of a bidi formatting character is %XX, the characters around those
// ranges stay literal, the manifest escaping keeps them all literal, and
// UnescapePath gives any name back exactly.
TEST(PathEscape, TerminalEscapesC1AndBidiCharacters) {
  struct Case {
    std::string_view raw, want;
  };
  const Case unsafe[] = {
      {"\u0080", "%C2%80"},    {"\u009B", "%C2%9B"},    {"\u009F", "%C2%9F"},
      {"\u061C", "%D8%9C"},    {"\u200E", "%E2%80%8E"}, {"\u200F", "%E2%80%8F"},
      {"\u202A", "%E2%80%AA"}, {"\u202E", "%E2%80%AE"}, {"\u2066", "%E2%81%A6"},
      {"\u2069", "%E2%81%A9"},
  };
  for (const Case& c : unsafe) {
    EXPECT_EQ(EscapeTerminalPath(c.raw), c.want);
    EXPECT_EQ(EscapeTerminalText(c.raw), c.want);
    EXPECT_EQ(EscapePath(c.raw), c.raw);  // a manifest keeps them
  }
  for (std::string_view ok :
       {"\u00A0", "\u00E9", "\u061B", "\u200D", "\u2010", "\u2029", "\u202F",
        "\u2065", "\u206A", "\U0001F600"}) {
    EXPECT_EQ(EscapeTerminalPath(ok), ok);
  }
  EXPECT_EQ(EscapeTerminalPath("50%\u202Etxt.exe"), "50%25%E2%80%AEtxt.exe");
  EXPECT_EQ(EscapeTerminalText("50%\u202Etxt.exe"), "50%%E2%80%AEtxt.exe");
  EXPECT_EQ(EscapeTerminalPath("a\x1b[2J\xFF"), "a%1B[2J%FF");
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    std::string raw = test::RandomBytes(48, seed);
    // Plant C1 and bidi characters among the random bytes.
    raw += seed % 2 ? "\u009B" : "\u2067";
    raw.insert(raw.size() / 2, "\u202D");
    std::string back;
    ASSERT_TRUE(UnescapePath(EscapeTerminalPath(raw), &back).ok()) << seed;
    EXPECT_EQ(back, raw) << seed;
  }
}

TEST(PathEscape, UnescapeRejectsBadInput) {
  std::string raw;
  for (const char* bad :
       {"%", "a%", "a%4", "%G0", "%0G", "%%", "a\tb", "a\nb", "\x7F"}) {
    Status s = UnescapePath(bad, &raw);
    EXPECT_TRUE(s.IsInvalidArgument()) << EscapePath(bad);
  }
  EXPECT_EQ(Unescape("%e6%97%a5"), "\xE6\x97\xA5");
  EXPECT_EQ(Unescape("%41b"), "Ab");
  EXPECT_EQ(Unescape(""), "");
}

// Goal: ValidatePath accepts ordinary relative paths and names each rule
// it refuses.
TEST(PathEscape, ValidatePath) {
  for (const char* ok : {"a", "a/b", "a/b/c.txt", ".hidden", "..x", "x..",
                         "a/...", "a b/\x01", "\xFF"}) {
    EXPECT_VALISE_OK(ValidatePath(ok));
  }
  struct Case {
    std::string path, why;
  } cases[] = {
      {"", "empty path"},
      {"/a", "absolute path"},
      {"a//b", "empty path component"},
      {"a/", "empty path component"},
      {".", "'.' path component"},
      {"a/./b", "'.' path component"},
      {"..", "'..' path component"},
      {"a/../b", "'..' path component"},
      {"a/..", "'..' path component"},
      {std::string("a\0b", 3), "NUL byte in path"},
  };
  for (const auto& c : cases) {
    Status s = ValidatePath(c.path);
    EXPECT_TRUE(s.IsInvalidArgument()) << EscapePath(c.path);
    EXPECT_EQ(s.message(), c.why) << EscapePath(c.path);
  }
}

}  // namespace
}  // namespace valise
