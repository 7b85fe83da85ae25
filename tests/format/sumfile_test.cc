// Sum files: unit tests of the reader and writer, and interoperation with
// the real tools (sha256sum, md5sum, sha1sum, sha512sum, xxhsum) run in a
// scratch directory.
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "support/test_util.h"
#include "valise/manifest.h"

namespace valise {
namespace {

const std::string kSha(64, 'a');
const std::string kMd5(32, 'c');

bool Contains(const std::string& s, const std::string& p) {
  return s.find(p) != std::string::npos;
}

Status Parse(const std::string& text, Manifest* m,
             std::string_view name = "SUMS") {
  return ParseManifest(text, name, ManifestFormat::kAuto, m);
}

Digest HashOf(DigestType t, const std::string& data) {
  auto h = Hasher::New(t);
  h->Update(data.data(), data.size());
  return h->Finish();
}

// Single-quotes `s` for sh (any bytes but NUL).
std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// Runs `cmd` with sh in `dir`; returns its stdout and sets *status to its
// exit status (-1 if it did not exit normally).
std::string RunShell(const std::string& dir, const std::string& cmd,
                     int* status) {
  // stderr is dropped: xxhsum draws progress there. Exit statuses are
  // checked instead.
  std::string full =
      "cd " + ShellQuote(dir) + " && { " + cmd + "; } 2>/dev/null";
  FILE* p = popen(full.c_str(), "r");
  std::string out;
  if (p == nullptr) {
    *status = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int rc = pclose(p);
  *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

bool HaveTool(const std::string& tool) {
  int status;
  RunShell("/", "command -v " + tool + " >/dev/null 2>&1", &status);
  return status == 0;
}

// A scratch drive holding files with awkward names.
struct Drive {
  test::TempDir tmp;
  std::string root;
  std::vector<std::pair<std::string, std::string>> files;  // path, data

  explicit Drive(bool with_newline_names) {
    root = tmp.path() + "/d";
    std::vector<std::string> names = {
        "plain",  "with space",       " lead space", "back\\slash",
        "com,ma", "sub/paren) = x",   "caf\xC3\xA9", "bad\xFF",
        "*star",  "sub/deeper/x.bin", "-dash",       "tab\tname",
        "empty"};
    if (with_newline_names) {
      names.push_back("new\nline");
      names.push_back("cr\rret");
      names.push_back("both\\and\nmore");
    }
    for (size_t i = 0; i < names.size(); ++i) {
      std::string data =
          names[i] == "empty" ? "" : test::RandomBytes(100 + i * 517, i);
      tmp.Write("d/" + names[i], data);
      files.emplace_back(names[i], data);
    }
    std::sort(files.begin(), files.end());
  }

  // The file names, quoted for sh, in raw byte order.
  std::string Args() const {
    std::string out;
    for (const auto& f : files) out += " " + ShellQuote(f.first);
    return out;
  }

  Manifest Expected(DigestType t) const {
    DigestSet set;
    set.Add(t);
    Manifest m(set);
    m.set_has_sizes(false);
    m.set_has_mtimes(false);
    for (const auto& f : files) m.Add(f.first, 0, 0, {HashOf(t, f.second)});
    EXPECT_VALISE_OK(m.Finish());
    return m;
  }
};

// Goal: the GNU forms are read: text and binary mode, "./" prefixes
// dropped, backslash-escaped names (\\, \n, \r), comments and blank lines
// skipped; the manifest has no sizes or mtimes.
TEST(SumFile, GnuForms) {
  std::string text = "# made by hand\n" + kSha + "  plain\n" + kSha +
                     " *bin/file\n\n" + kSha + "  ./dot/slash\n" + kSha +
                     "  ././twice\n\\" + kSha + "  back\\\\slash\\nnl\\rcr\n" +
                     kSha + "  sp  aces \n";
  Manifest m;
  ASSERT_VALISE_OK(Parse(text, &m));
  EXPECT_EQ(m.format(), ManifestFormat::kSumFile);
  EXPECT_FALSE(m.has_sizes());
  EXPECT_FALSE(m.has_mtimes());
  EXPECT_EQ(m.total_bytes(), 0u);
  ASSERT_EQ(m.size(), 6u);
  for (const char* p : {"plain", "bin/file", "dot/slash", "twice",
                        "back\\slash\nnl\rcr", "sp  aces "}) {
    int64_t i = m.Find(p);
    ASSERT_GE(i, 0) << EscapePath(p);
    EXPECT_EQ(m.digest(i, DigestType::kSha256).Hex(), kSha);
  }
  // BSD "md5 -r": one space.
  ASSERT_VALISE_OK(Parse(kMd5 + " reversed name\n", &m));
  EXPECT_EQ(m.path(0), "reversed name");
  EXPECT_TRUE(m.digests().Has(DigestType::kMd5));
}

// Goal: the BSD tagged form is read for each supported tag, with names
// holding ") = " and with GNU escaping.
TEST(SumFile, TaggedForms) {
  struct Case {
    std::string tag;
    DigestType type;
  } cases[] = {{"MD5", DigestType::kMd5},
               {"SHA1", DigestType::kSha1},
               {"SHA256", DigestType::kSha256},
               {"SHA512", DigestType::kSha512},
               {"XXH128", DigestType::kXxh128}};
  for (const auto& c : cases) {
    std::string hex = std::string(2 * DigestSize(c.type), 'e');
    std::string text = c.tag + " (a/b c) = " + hex + "\n" + c.tag +
                       " (x) = y) = " + hex + "\n\\" + c.tag +
                       " (n\\nl) = " + hex + "\n";
    Manifest m;
    Status s = Parse(text, &m);
    ASSERT_TRUE(s.ok()) << c.tag << ": " << s.ToString();
    ASSERT_EQ(m.size(), 3u);
    EXPECT_TRUE(m.digests().Has(c.type));
    EXPECT_GE(m.Find("a/b c"), 0);
    EXPECT_GE(m.Find("x) = y"), 0);
    EXPECT_GE(m.Find("n\nl"), 0);
    EXPECT_EQ(m.digest(0, c.type).Hex(), hex);
  }
}

// Goal: untagged lines get their algorithm from the hex length; 32 hex is
// md5 unless the file's name or the caller says xxh128.
TEST(SumFile, AlgorithmFromLength) {
  struct Case {
    size_t hex;
    DigestType type;
  } cases[] = {{32, DigestType::kMd5},
               {40, DigestType::kSha1},
               {64, DigestType::kSha256},
               {128, DigestType::kSha512}};
  for (const auto& c : cases) {
    Manifest m;
    ASSERT_VALISE_OK(Parse(std::string(c.hex, '1') + "  f\n", &m));
    EXPECT_TRUE(m.digests().Has(c.type)) << c.hex;
  }
  const std::string line = std::string(32, '1') + "  f\n";
  for (const char* name : {"x.xxh128", "DATA.XXHSUM", "m.xxh"}) {
    Manifest m;
    ASSERT_VALISE_OK(Parse(line, &m, name));
    EXPECT_TRUE(m.digests().Has(DigestType::kXxh128)) << name;
  }
  ManifestReadOptions o;
  ASSERT_TRUE(ParseManifestFormat("xxhsum", &o));
  Manifest m;
  ASSERT_VALISE_OK(ParseManifest(line, "SUMS", o, &m));
  EXPECT_TRUE(m.digests().Has(DigestType::kXxh128));
  // Forced sha256: a 32-hex line is then wrong.
  ASSERT_TRUE(ParseManifestFormat("sha256sum", &o));
  Status s = ParseManifest(line, "SUMS", o, &m);
  EXPECT_TRUE(Contains(s.message(),
                       "SUMS:1: expected 64 hex digits for sha256, got 32"))
      << s.message();
  s = ParseManifest("MD5 (f) = " + kMd5 + "\n", "SUMS", o, &m);
  EXPECT_TRUE(Contains(s.message(), "tag 'MD5' in a file read as sha256"))
      << s.message();
}

// Goal: weak or unsupported algorithms are refused with a message that
// says what to do; xxhsum's default (XXH64) names -H2.
TEST(SumFile, UnsupportedAlgorithmsExplained) {
  struct Case {
    std::string text, want;
  } cases[] = {
      {std::string(16, 'a') + "  f\n", "xxh64 not supported, use xxhsum -H2"},
      {"XXH64 (f) = " + std::string(16, 'a') + "\n",
       "xxh64 not supported, use xxhsum -H2"},
      {"XXH3 (f) = " + std::string(16, 'a') + "\n",
       "not supported, use xxhsum -H2"},
      {"XXH32 (f) = " + std::string(8, 'a') + "\n",
       "xxh32 not supported, use xxhsum -H2"},
      {std::string(8, 'a') + "  f\n", "xxh32 not supported"},
      {"SHA224 (f) = " + std::string(56, 'a') + "\n",
       "digest 'SHA224' not supported"},
      {std::string(56, 'a') + "  f\n", "SHA224: not supported"},
      {std::string(96, 'a') + "  f\n", "SHA384: not supported"},
      {std::string(30, 'a') + "  f\n", "30 hex digits matches no supported"},
  };
  for (const auto& c : cases) {
    Manifest m;
    Status s = Parse(c.text, &m);
    EXPECT_TRUE(s.IsInvalidArgument()) << c.want;
    EXPECT_TRUE(Contains(s.message(), "SUMS:1: ")) << s.message();
    EXPECT_TRUE(Contains(s.message(), c.want)) << s.message();
  }
}

// Goal: malformed, unsafe, duplicate, mixed and empty inputs are refused
// naming the line.
TEST(SumFile, Rejections) {
  struct Case {
    std::string text, want;
  } cases[] = {
      {"hello world\n", "SUMS:1: malformed line"},
      {kSha + "\n", "SUMS:1: malformed line"},
      {kSha + "  \n", "SUMS:1: empty file name"},
      {kSha.substr(1) + "g  f\n", "SUMS:1: malformed line"},
      {"SHA256 (f) = " + kSha.substr(1) + "g\n",
       "SUMS:1: sha256: bad hex digit"},
      {"SHA256 (f) = " + kSha + "0\n",
       "SUMS:1: sha256: expected 64 hex digits, got 65"},
      {kSha + "  a\n" + kMd5 + "  b\n",
       "SUMS:2: md5 digest, but line 1 is sha256"},
      {kSha + "  /etc/passwd\n", "SUMS:1: absolute path '/etc/passwd'"},
      {kSha + "  a/../../b\n", "SUMS:1: unsafe path 'a/../../b'"},
      {kSha + "  a//b\n", "SUMS:1: unsafe path"},
      {kSha + "  ./\n", "SUMS:1: unsafe path"},
      {"\\" + kSha + "  a\\tb\n", "SUMS:1: bad backslash escape"},
      {kSha + "  a\n" + kSha + "  b\n" + kSha + "  ./a\n",
       "SUMS:3: duplicate path 'a' (first at line 1)"},
      {kSha + "  a\r\n", "SUMS:1: CRLF line ending"},
      {"", "SUMS: no checksum lines found"},
      {"# only a comment\n\n", "SUMS: no checksum lines found"},
  };
  for (const auto& c : cases) {
    Manifest m;
    Status s = Parse(c.text, &m);
    EXPECT_TRUE(s.IsInvalidArgument()) << c.want << ": " << s.ToString();
    EXPECT_TRUE(Contains(s.message(), c.want))
        << "want '" << c.want << "' in: " << s.message();
  }
}

// Goal: WriteSumFile's output reads back to the same entries for random
// awkward names (backslashes, LF, CR, control bytes, non-UTF-8) and for
// every algorithm.
TEST(SumFile, WriterRoundTrip) {
  std::mt19937_64 rng(3);
  const std::string alphabet =
      std::string("ab/\\\n\r\t *()=#%\x01\xFF\xC3\xA9", 18);
  for (int t = 0; t < kNumDigestTypes; ++t) {
    const auto type = static_cast<DigestType>(t);
    DigestSet set;
    set.Add(type);
    Manifest m(set);
    m.set_has_sizes(false);
    m.set_has_mtimes(false);
    std::set<std::string> seen;
    for (int i = 0; i < 300; ++i) {
      std::string p;
      size_t len = 1 + rng() % 12;
      for (size_t k = 0; k < len; ++k) p += alphabet[rng() % alphabet.size()];
      if (!ValidatePath(p).ok() || !seen.insert(p).second) continue;
      m.Add(p, 0, 0, {HashOf(type, p)});
    }
    ASSERT_VALISE_OK(m.Finish());
    std::string text = WriteSumFile(m, type);
    ManifestReadOptions o;
    o.format = ManifestFormat::kSumFile;
    o.sum_type = type;
    Manifest back;
    ASSERT_VALISE_OK(ParseManifest(text, "SUMS", o, &back));
    EXPECT_TRUE(back.SameEntries(m)) << DigestName(type);
  }
}

// Goal: WriteSumFile writes exactly what GNU sha256sum writes for the
// same files, escaping included.
TEST(SumFileTools, WriterMatchesSha256sumByteForByte) {
  if (!HaveTool("sha256sum")) GTEST_SKIP() << "sha256sum not installed";
  Drive drive(/*with_newline_names=*/true);
  int status;
  std::string real =
      RunShell(drive.root, "sha256sum --" + drive.Args(), &status);
  ASSERT_EQ(status, 0);
  EXPECT_EQ(
      WriteSumFile(drive.Expected(DigestType::kSha256), DigestType::kSha256),
      real);
}

// Goal: `sha256sum -c` (and md5sum -c) accept what WriteSumFile writes,
// and fail once a file is changed (so the check is real).
TEST(SumFileTools, CoreutilsCheckAcceptsOurOutput) {
  for (auto [tool, type] : {std::pair{"sha256sum", DigestType::kSha256},
                            std::pair{"md5sum", DigestType::kMd5}}) {
    if (!HaveTool(tool)) GTEST_SKIP() << tool << " not installed";
    Drive drive(/*with_newline_names=*/true);
    const std::string sums = drive.tmp.path() + "/SUMS";
    {
      std::ofstream out(sums, std::ios::binary);
      out << WriteSumFile(drive.Expected(type), type);
    }
    int status;
    RunShell(drive.root,
             std::string(tool) + " -c --strict --quiet " + ShellQuote(sums),
             &status);
    EXPECT_EQ(status, 0) << tool;
    drive.tmp.Write("d/with space", "changed");
    RunShell(drive.root,
             std::string(tool) + " -c --strict --quiet " + ShellQuote(sums) +
                 " >/dev/null 2>&1",
             &status);
    EXPECT_EQ(status, 1) << tool;
  }
}

// Goal: the real tools' output, generated now, parses to the right
// digests for every file: md5sum, sha1sum, sha256sum (text, binary and
// --tag), sha512sum, xxhsum -H2 (plain and --tag).
TEST(SumFileTools, ParsesRealToolOutput) {
  struct Case {
    std::string cmd;
    DigestType type;
    std::string name;  // the sum file's name (xxhsum's hint)
    bool newline_names;
  } cases[] = {
      {"md5sum --", DigestType::kMd5, "MD5SUMS", true},
      {"sha1sum --", DigestType::kSha1, "SHA1SUMS", true},
      {"sha256sum --", DigestType::kSha256, "SHA256SUMS", true},
      {"sha256sum -b --", DigestType::kSha256, "SHA256SUMS", true},
      {"sha256sum --tag --", DigestType::kSha256, "SHA256SUMS", true},
      {"sha512sum --", DigestType::kSha512, "SHA512SUMS", true},
      // xxhsum 0.8 does not escape names, so none with LF here.
      {"xxhsum -H2 --", DigestType::kXxh128, "data.xxh128", false},
      {"xxhsum --tag -H2 --", DigestType::kXxh128, "SUMS", false},
  };
  for (const auto& c : cases) {
    std::string tool = c.cmd.substr(0, c.cmd.find(' '));
    if (!HaveTool(tool)) GTEST_SKIP() << tool << " not installed";
    Drive drive(c.newline_names);
    int status;
    std::string out = RunShell(drive.root, c.cmd + drive.Args(), &status);
    ASSERT_EQ(status, 0) << c.cmd;
    Manifest m;
    Status s = ParseManifest(out, c.name, ManifestFormat::kAuto, &m);
    ASSERT_TRUE(s.ok()) << c.cmd << ": " << s.ToString();
    EXPECT_TRUE(m.SameEntries(drive.Expected(c.type))) << c.cmd << "\n" << out;
  }
}

// Goal: xxhsum's default output (XXH64) is refused with the -H2 hint, as
// is its XXH3 (-H3) output.
TEST(SumFileTools, XxhsumDefaultRefused) {
  if (!HaveTool("xxhsum")) GTEST_SKIP() << "xxhsum not installed";
  Drive drive(false);
  for (const char* cmd : {"xxhsum --", "xxhsum -H3 --"}) {
    int status;
    std::string out = RunShell(drive.root, cmd + drive.Args(), &status);
    ASSERT_EQ(status, 0);
    Manifest m;
    Status s = Parse(out, &m);
    EXPECT_TRUE(s.IsInvalidArgument()) << cmd;
    EXPECT_TRUE(Contains(s.message(), "use xxhsum -H2")) << s.message();
  }
}

// Goal: `xxhsum -c` accepts WriteSumFile's xxh128 output for ordinary
// names (xxhsum does not understand GNU's escaping).
TEST(SumFileTools, XxhsumCheckAcceptsOurOutput) {
  if (!HaveTool("xxhsum")) GTEST_SKIP() << "xxhsum not installed";
  test::TempDir tmp;
  DigestSet set;
  set.Add(DigestType::kXxh128);
  Manifest m(set);
  for (int i = 0; i < 5; ++i) {
    std::string name = "dir/file " + std::to_string(i);
    std::string data = test::RandomBytes(1000 * i, i);
    tmp.Write("d/" + name, data);
    m.Add(name, 0, 0, {HashOf(DigestType::kXxh128, data)});
  }
  ASSERT_VALISE_OK(m.Finish());
  tmp.Write("SUMS.xxh128", WriteSumFile(m, DigestType::kXxh128));
  int status;
  RunShell(tmp.path() + "/d", "xxhsum -c --quiet ../SUMS.xxh128", &status);
  EXPECT_EQ(status, 0);
  tmp.Write("d/dir/file 3", "changed");
  RunShell(tmp.path() + "/d",
           "xxhsum -c --quiet ../SUMS.xxh128 >/dev/null 2>&1", &status);
  EXPECT_NE(status, 0);
}

}  // namespace
}  // namespace valise
