// Tests of the BagIt tag-file readers and writers (src/format/bagit.cc):
// each RFC 8493 rule they enforce, the line endings and encodings they
// accept, and the hand-made fixtures in tests/bags/.
#include "valise/bagit.h"

#include <string>
#include <vector>

#include "support/test_util.h"
#include "valise/file_system.h"

namespace valise {
namespace {

std::string Fixture(const std::string& rel) {
  std::string data;
  Status s = FileSystem::Default()->ReadSmallFile(
      std::string(VALISE_TEST_BAGS_DIR) + "/" + rel, &data, 1 << 20);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return data;
}

Digest Sha256Of(std::string_view data) {
  auto h = Hasher::New(DigestType::kSha256);
  h->Update(data.data(), data.size());
  return h->Finish();
}

const std::string kZeroSha(64, '0');

// Goal: every version from 0.93 to 1.0 is read, with its number split,
// and LF, CR and CRLF all end the two lines.
TEST(BagDeclaration, VersionsAndLineEndings) {
  for (std::string_view v : kBagItVersions) {
    for (std::string eol : {"\n", "\r", "\r\n"}) {
      BagDeclaration d;
      std::string text = "BagIt-Version: " + std::string(v) + eol +
                         "Tag-File-Character-Encoding: UTF-8" + eol;
      ASSERT_VALISE_OK(ParseBagDeclaration(text, "bagit.txt", &d));
      EXPECT_EQ(d.version, v);
      EXPECT_EQ(d.encoding, "UTF-8");
      EXPECT_EQ(d.percent_encoded_paths(), v == "1.0");
    }
  }
  BagDeclaration d;
  ASSERT_VALISE_OK(ParseBagDeclaration(WriteBagDeclaration(), "w", &d));
  EXPECT_EQ(d.major, 1);
  EXPECT_EQ(d.minor, 0);
}

// Goal: an unknown version, a malformed line, a third line, a missing
// line, an encoding valise cannot read are each refused with a message
// naming the file.
TEST(BagDeclaration, BadDeclarations) {
  const std::pair<std::string, std::string> kBad[] = {
      {"BagIt-Version: 2.0\nTag-File-Character-Encoding: UTF-8\n",
       "not supported"},
      {"BagIt-Version: 0.92\nTag-File-Character-Encoding: UTF-8\n",
       "not supported"},
      {"BagIt-Version 1.0\nTag-File-Character-Encoding: UTF-8\n",
       "expected 'BagIt-Version: ...'"},
      {"Tag-File-Character-Encoding: UTF-8\nBagIt-Version: 1.0\n",
       "expected 'BagIt-Version: ...'"},
      {"BagIt-Version: 1.0\n", "must hold 'BagIt-Version: M.N' then"},
      {"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\nX: y\n",
       "exactly two lines"},
      {"BagIt-Version: 1.0\nTag-File-Character-Encoding: ISO-8859-1\n",
       "not supported"},
      {"BagIt-Version: \nTag-File-Character-Encoding: UTF-8\n", "empty"},
  };
  for (const auto& [text, why] : kBad) {
    BagDeclaration d;
    Status s = ParseBagDeclaration(text, "bag/bagit.txt", &d);
    ASSERT_FALSE(s.ok()) << text;
    EXPECT_NE(s.message().find("bag/bagit.txt"), std::string::npos)
        << s.message();
    EXPECT_NE(s.message().find(why), std::string::npos) << s.message();
  }
}

// Goal: a byte-order mark is an error in a 1.0 declaration and tolerated,
// but recorded, in 0.97 (RFC 8493 2.1.1 forbids it from 1.0 on).
TEST(BagDeclaration, BomRules) {
  BagDeclaration d;
  Status s = ParseBagDeclaration(Fixture("bad-bom-1.0/bagit.txt"), "b", &d);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("byte-order mark"), std::string::npos);
  ASSERT_VALISE_OK(
      ParseBagDeclaration(Fixture("valid-0.97/bagit.txt"), "b", &d));
  EXPECT_TRUE(d.had_bom);
  EXPECT_EQ(d.version, "0.97");
  ASSERT_VALISE_OK(
      ParseBagDeclaration(Fixture("valid-1.0/bagit.txt"), "b", &d));
  EXPECT_FALSE(d.had_bom);
}

// Goal: bag-info.txt elements keep their order, continuation lines (space
// or tab) join the value, any line ending works, and Payload-Oxum parses.
TEST(BagInfo, LabelsContinuationsAndOxum) {
  for (const char* fixture :
       {"valid-1.0/bag-info.txt", "valid-crlf/bag-info.txt"}) {
    std::vector<BagInfoField> info;
    ASSERT_VALISE_OK(ParseBagInfo(Fixture(fixture), fixture, &info));
    ASSERT_EQ(info.size(), 4u) << fixture;
    EXPECT_EQ(info[0].label, "Source-Organization");
    EXPECT_EQ(info[0].value, "valise tests");
    EXPECT_EQ(info[3].value,
              "a small bag whose description runs over two continuation "
              "lines");
    auto oxum = FindBagInfo(info, "payload-oxum");
    ASSERT_TRUE(oxum.has_value());
    uint64_t octets = 0, streams = 0;
    ASSERT_TRUE(ParsePayloadOxum(*oxum, &octets, &streams));
    EXPECT_EQ(octets, 38u);
    EXPECT_EQ(streams, 3u);
  }
  uint64_t a, b;
  EXPECT_FALSE(ParsePayloadOxum("38", &a, &b));
  EXPECT_FALSE(ParsePayloadOxum("38.", &a, &b));
  EXPECT_FALSE(ParsePayloadOxum("-1.3", &a, &b));
  EXPECT_FALSE(ParsePayloadOxum("3 8.3", &a, &b));
  std::vector<BagInfoField> info;
  EXPECT_FALSE(ParseBagInfo(" starts with a continuation\n", "i", &info).ok());
  EXPECT_FALSE(ParseBagInfo("no colon here\n", "i", &info).ok());
  EXPECT_FALSE(ParseBagInfo("Label : trailing blank\n", "i", &info).ok());
  EXPECT_FALSE(ParseBagInfo(": empty label\n", "i", &info).ok());
  // A byte-order mark inside a label (found by bagit_fuzz: it vanished when
  // the file was written back). The one at the start of the file is fine.
  EXPECT_FALSE(ParseBagInfo("\n\xEF\xBB\xBF:&:\n", "i", &info).ok());
  EXPECT_VALISE_OK(ParseBagInfo("\xEF\xBB\xBFLabel: v\n", "i", &info));
}

// Goal: bag-info.txt written by valise reads back the same.
TEST(BagInfo, WriteRoundTrip) {
  std::vector<BagInfoField> in = {{"Payload-Oxum", "12.3"},
                                  {"Contact-Name", "Ada: the operator"},
                                  {"Note", "two\nlines"}};
  std::vector<BagInfoField> out;
  ASSERT_VALISE_OK(ParseBagInfo(WriteBagInfo(in), "i", &out));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1].value, "Ada: the operator");
  EXPECT_EQ(out[2].value, "two lines");
}

// Goal: manifest file names give their kind and algorithm; others are
// not manifests.
TEST(BagManifest, FileNames) {
  bool tag = true;
  std::string alg;
  ASSERT_TRUE(ParseBagManifestName("manifest-sha256.txt", &tag, &alg));
  EXPECT_FALSE(tag);
  EXPECT_EQ(alg, "sha256");
  ASSERT_TRUE(ParseBagManifestName("tagmanifest-md5.txt", &tag, &alg));
  EXPECT_TRUE(tag);
  EXPECT_EQ(alg, "md5");
  EXPECT_FALSE(ParseBagManifestName("manifest-.txt", &tag, &alg));
  EXPECT_FALSE(ParseBagManifestName("manifest-sha256.md", &tag, &alg));
  EXPECT_FALSE(ParseBagManifestName("bag-info.txt", &tag, &alg));
}

// Goal: RFC 8493 2.1.3 percent-encoding: exactly CR, LF and '%' are
// encoded, decoding accepts either hex case and keeps other '%'
// sequences literal, and any bytes round-trip.
TEST(BagManifest, PercentEncoding) {
  EXPECT_EQ(EncodeBagPath("a%b\nc\rd e"), "a%25b%0Ac%0Dd e");
  EXPECT_EQ(DecodeBagPath("a%25b%0ac%0Dd e"), "a%b\nc\rd e");
  EXPECT_EQ(DecodeBagPath("100%20%"), "100%20%");
  EXPECT_EQ(DecodeBagPath("%2"), "%2");
  std::string all;
  for (int i = 1; i < 256; ++i) all.push_back(static_cast<char>(i));
  EXPECT_EQ(DecodeBagPath(EncodeBagPath(all)), all);
  EXPECT_EQ(EncodeBagPath(all).find_first_of("\r\n"), std::string::npos);
}

// Goal: a manifest's lines are read with any blanks between digest and
// path, spaces inside paths kept, paths decoded in 1.0 and literal
// before, and the fixture with "%25" names decodes to the names on disk.
TEST(BagManifest, ParseLines) {
  std::string text = kZeroSha + "  data/a b.txt\r\n" + kZeroSha +
                     "\t \tdata/x%0Ay\n\n" + kZeroSha + " ./data/z\r";
  std::vector<BagManifestEntry> e;
  ASSERT_VALISE_OK(ParseBagManifest(text, "m", DigestType::kSha256, true, &e));
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].path, "data/a b.txt");
  EXPECT_EQ(e[1].path, "data/x\ny");
  EXPECT_EQ(e[2].path, "data/z");
  EXPECT_EQ(e[2].line, 4u);
  ASSERT_VALISE_OK(ParseBagManifest(text, "m", DigestType::kSha256, false, &e));
  EXPECT_EQ(e[1].path, "data/x%0Ay");

  ASSERT_VALISE_OK(
      ParseBagManifest(Fixture("valid-percent/manifest-sha256.txt"), "m",
                       DigestType::kSha256, true, &e));
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].path, "data/100%.txt");
  EXPECT_EQ(e[0].digest, Sha256Of("per cent\n"));
  EXPECT_EQ(e[1].path, "data/a%41b");
}

// Goal: a bad digest, a missing path, a duplicate path and a path that
// escapes the bag (.., absolute) are errors naming file and line.
TEST(BagManifest, BadLines) {
  const std::pair<std::string, std::string> kBad[] = {
      {"abc data/x\n", "expected 64 hex"},
      {kZeroSha + "\n", "expected '<digest> <path>'"},
      {kZeroSha + "  data/x\n" + kZeroSha + " data/x\n", "already listed"},
      {kZeroSha + "  data/../../etc/passwd\n", "escapes the bag"},
      {kZeroSha + "  /etc/passwd\n", "escapes the bag"},
      {kZeroSha + "  data//x\n", "escapes the bag"},
  };
  for (const auto& [text, why] : kBad) {
    std::vector<BagManifestEntry> e;
    Status s = ParseBagManifest(text, "bag/manifest-sha256.txt",
                                DigestType::kSha256, true, &e);
    ASSERT_FALSE(s.ok()) << text;
    EXPECT_NE(s.message().find("bag/manifest-sha256.txt:"), std::string::npos)
        << s.message();
    EXPECT_NE(s.message().find(why), std::string::npos) << s.message();
  }
}

// Goal: what WriteBagManifest writes reads back to the same entries, also
// for names holding CR, LF and '%', and from a Manifest with a prefix.
TEST(BagManifest, WriteRoundTrip) {
  std::vector<BagManifestEntry> in = {
      {"data/plain", Sha256Of("1"), 0},
      {"data/line\nbreak", Sha256Of("2"), 0},
      {"data/cr\rand %25", Sha256Of("3"), 0},
  };
  std::vector<BagManifestEntry> out;
  ASSERT_VALISE_OK(ParseBagManifest(WriteBagManifest(in), "m",
                                    DigestType::kSha256, true, &out));
  ASSERT_EQ(out.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(out[i].path, in[i].path);
    EXPECT_EQ(out[i].digest, in[i].digest);
  }

  DigestSet set;
  set.Add(DigestType::kSha256);
  Manifest m(set);
  m.Add("b/c", 1, 0, {Sha256Of("c")});
  m.Add("a%", 1, 0, {Sha256Of("a")});
  ASSERT_VALISE_OK(m.Finish());
  EXPECT_EQ(WriteBagManifest(m, DigestType::kSha256, "data/"),
            Sha256Of("a").Hex() + "  data/a%25\n" + Sha256Of("c").Hex() +
                "  data/b/c\n");
}

// Goal: fetch.txt lines give URL, length (or '-') and a payload path;
// a tag file, a bad length or an escaping path is refused.
TEST(BagFetch, Parse) {
  std::vector<BagFetchItem> items;
  ASSERT_VALISE_OK(
      ParseBagFetch(Fixture("fetch/fetch.txt"), "f", true, &items));
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].url, "https://example.org/remote.bin");
  EXPECT_EQ(items[0].length, uint64_t{15});
  EXPECT_EQ(items[0].path, "data/remote.bin");
  ASSERT_VALISE_OK(
      ParseBagFetch("http://h/x -\tdata/a%25b\n", "f", true, &items));
  EXPECT_FALSE(items[0].length.has_value());
  EXPECT_EQ(items[0].path, "data/a%b");
  EXPECT_FALSE(
      ParseBagFetch("http://h/x 3 bag-info.txt\n", "f", true, &items).ok());
  EXPECT_FALSE(ParseBagFetch("http://h/x 3x data/a\n", "f", true, &items).ok());
  EXPECT_FALSE(
      ParseBagFetch("http://h/x 3 data/../../a\n", "f", true, &items).ok());
  EXPECT_FALSE(ParseBagFetch("http://h/x 3\n", "f", true, &items).ok());
}

}  // namespace
}  // namespace valise
