// hashdeep files: unit tests of the reader and runs of the real hashdeep.
#include <sys/wait.h>

#include <cstdio>
#include <string>
#include <vector>

#include "support/test_util.h"
#include "valise/manifest.h"

namespace valise {
namespace {

const std::string kMd5(32, 'c');
const std::string kSha(64, 'a');
const std::string kSha1(40, 'd');

bool Contains(const std::string& s, const std::string& p) {
  return s.find(p) != std::string::npos;
}

std::string Hd(const std::string& columns,
               const std::vector<std::string>& lines) {
  std::string out = "%%%% HASHDEEP-1.0\n%%%% " + columns +
                    "\n## Invoked from: /mnt/drive\n## $ hashdeep -l -r .\n"
                    "##\n";
  for (const auto& l : lines) out += l + "\n";
  return out;
}

Status Parse(const std::string& text, Manifest* m) {
  return ParseManifest(text, "H", ManifestFormat::kAuto, m);
}

Digest HashOf(DigestType t, const std::string& data) {
  auto h = Hasher::New(t);
  h->Update(data.data(), data.size());
  return h->Finish();
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

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

bool HaveHashdeep() {
  int status;
  RunShell("/", "command -v hashdeep >/dev/null 2>&1", &status);
  return status == 0;
}

// Goal: the columns line maps fields by name; the file name is the rest
// of the line (commas included); "./" is dropped; sizes are kept and
// mtimes absent.
TEST(Hashdeep, ParsesColumnsAndCommaNames) {
  Manifest m;
  ASSERT_VALISE_OK(Parse(
      Hd("size,md5,sha256,filename", {"10," + kMd5 + "," + kSha + ",./a,b,c",
                                      "5," + kMd5 + "," + kSha + ",./dir/x y",
                                      "0," + kMd5 + "," + kSha + ",plain"}),
      &m));
  EXPECT_EQ(m.format(), ManifestFormat::kHashdeep);
  EXPECT_TRUE(m.has_sizes());
  EXPECT_FALSE(m.has_mtimes());
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m.total_bytes(), 15u);
  int64_t i = m.Find("a,b,c");
  ASSERT_GE(i, 0);
  EXPECT_EQ(m.file_size(i), 10u);
  EXPECT_EQ(m.digest(i, DigestType::kMd5).Hex(), kMd5);
  EXPECT_EQ(m.digest(i, DigestType::kSha256).Hex(), kSha);
  EXPECT_GE(m.Find("dir/x y"), 0);
  EXPECT_GE(m.Find("plain"), 0);

  // Other column orders and sets.
  ASSERT_VALISE_OK(Parse(Hd("sha1,size,filename", {kSha1 + ",7,./f"}), &m));
  EXPECT_EQ(m.file_size(0), 7u);
  EXPECT_TRUE(m.digests().Has(DigestType::kSha1));
  EXPECT_FALSE(m.digests().Has(DigestType::kMd5));
  // tiger and whirlpool are skipped while a usable digest remains.
  ASSERT_VALISE_OK(Parse(Hd("size,tiger,sha256,whirlpool,filename",
                            {"1,abc," + kSha + ",def,./t"}),
                         &m));
  EXPECT_EQ(m.digest(0, DigestType::kSha256).Hex(), kSha);
  // No entries at all is a valid (empty) listing.
  ASSERT_VALISE_OK(Parse(Hd("size,sha256,filename", {}), &m));
  EXPECT_EQ(m.size(), 0u);
}

// Goal: errors name the line and say what to do: absolute paths (rerun
// with -l), unknown columns, no usable digest, malformed fields, unsafe
// and duplicate paths, a second header, CRLF.
TEST(Hashdeep, Rejections) {
  struct Case {
    std::string text, want;
  } cases[] = {
      {Hd("size,md5,filename", {"1," + kMd5 + ",/mnt/drive/a"}),
       "H:6: absolute path '/mnt/drive/a': run `hashdeep -l -r .` from the "
       "drive root"},
      {Hd("size,crc,filename", {}), "H:2: unknown hashdeep column 'crc'"},
      {Hd("size,tiger,filename", {}), "H:2: no md5, sha1 or sha256 column"},
      {Hd("size,md5", {}), "H:2: no 'filename' column"},
      {Hd("size,filename,md5", {}), "H:2: 'filename' must be the last column"},
      {Hd("size,md5,md5,filename", {}), "H:2: column 'md5' twice"},
      {Hd("size,md5,filename", {"1," + kMd5}),
       "H:6: malformed line: expected 2 comma-separated fields"},
      {Hd("size,md5,filename", {"x," + kMd5 + ",a"}), "H:6: size: 'x'"},
      {Hd("size,md5,filename", {"-1," + kMd5 + ",a"}), "H:6: size: '-1'"},
      {Hd("size,md5,filename", {"1," + kMd5.substr(1) + ",a"}),
       "H:6: md5: expected 32 hex digits, got 31"},
      {Hd("size,md5,filename", {"1," + kMd5 + ",a/../../b"}),
       "H:6: unsafe path 'a/../../b'"},
      {Hd("size,md5,filename", {"1," + kMd5 + ","}),
       "H:6: unsafe path '': empty path"},
      {Hd("size,md5,filename",
          {"1," + kMd5 + ",./a", "1," + kMd5 + ",b", "1," + kMd5 + ",a"}),
       "H:8: duplicate path 'a' (first at line 6)"},
      {Hd("size,md5,filename", {"%%%% HASHDEEP-1.0"}),
       "H:6: a second hashdeep header"},
      {Hd("size,md5,filename", {"1," + kMd5 + ",a\r"}),
       "H:6: CRLF line ending"},
      {"%%%% HASHDEEP-1.0\r\n", "H:1: CRLF line ending"},
      {"%%%% HASHDEEP-1.0\n", "H: truncated: no column line"},
  };
  for (const auto& c : cases) {
    Manifest m;
    Status s = Parse(c.text, &m);
    EXPECT_FALSE(s.ok()) << c.want;
    EXPECT_TRUE(Contains(s.message(), c.want))
        << "want '" << c.want << "' in: " << s.message();
  }
  Manifest m;
  Status s = ParseManifest("hello\n", "H", ManifestFormat::kHashdeep, &m);
  EXPECT_TRUE(Contains(s.message(), "H:1: not a hashdeep file")) << s.message();
}

// A scratch drive for the real hashdeep.
struct HdDrive {
  test::TempDir tmp;
  std::vector<std::pair<std::string, std::string>> files;
  HdDrive() {
    const char* names[] = {"plain",          "with space",     "com,ma",
                           "sub/paren) = x", "sub/deep/a.bin", "back\\slash",
                           "caf\xC3\xA9",    "empty"};
    for (size_t i = 0; i < std::size(names); ++i) {
      std::string data = std::string(names[i]) == "empty"
                             ? std::string()
                             : test::RandomBytes(50 + i * 999, i + 100);
      tmp.Write(std::string("d/") + names[i], data);
      files.emplace_back(names[i], data);
    }
  }
  std::string root() const { return tmp.path() + "/d"; }
};

// Goal: `hashdeep -l -r .` output, generated now, parses to each file's
// size, md5 and sha256; `-c sha1` output too.
TEST(HashdeepTool, ParsesRealOutput) {
  if (!HaveHashdeep()) GTEST_SKIP() << "hashdeep not installed";
  HdDrive drive;
  for (auto [flags, types] :
       {std::pair{std::string(""),
                  std::vector{DigestType::kMd5, DigestType::kSha256}},
        std::pair{std::string("-c sha1 "), std::vector{DigestType::kSha1}}}) {
    int status;
    std::string out =
        RunShell(drive.root(), "hashdeep " + flags + "-l -r .", &status);
    ASSERT_EQ(status, 0) << out;
    Manifest m;
    Status s = ParseManifest(out, "H", ManifestFormat::kAuto, &m);
    ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << out;
    ASSERT_EQ(m.size(), drive.files.size());
    for (const auto& [path, data] : drive.files) {
      int64_t i = m.Find(path);
      ASSERT_GE(i, 0) << EscapePath(path);
      EXPECT_EQ(m.file_size(i), data.size());
      for (DigestType t : types) {
        EXPECT_EQ(m.digest(i, t), HashOf(t, data)) << DigestName(t);
      }
    }
  }
}

// Goal: hashdeep's default (absolute paths) is refused with the -l hint.
TEST(HashdeepTool, AbsolutePathsRefused) {
  if (!HaveHashdeep()) GTEST_SKIP() << "hashdeep not installed";
  HdDrive drive;
  int status;
  std::string out = RunShell(
      drive.root(), "hashdeep -r " + ShellQuote(drive.root()), &status);
  ASSERT_EQ(status, 0);
  Manifest m;
  Status s = ParseManifest(out, "H", ManifestFormat::kAuto, &m);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_TRUE(Contains(s.message(), "hashdeep -l -r .")) << s.message();
}

}  // namespace
}  // namespace valise
