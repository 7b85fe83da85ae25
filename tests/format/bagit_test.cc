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
// How 1.0 and 0.97 bags are read.
const BagReadRules kRules10{true, false};
const BagReadRules kRules097{false, true};

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
      {"BagIt-Version: 1.0\nTag-File-Character-Encoding: X-NO-SUCH\n",
       "not supported"},
      {"BagIt-Version : 1.0\nTag-File-Character-Encoding: UTF-8\n",
       "expected 'BagIt-Version: ...'"},
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

// Goal (issue 12): a byte-order mark in bagit.txt is an error in every
// version (RFC 8493 2.1.1: "MUST NOT contain a BOM"); 0.97 tolerated it
// before.
TEST(BagDeclaration, BomIsAnErrorInEveryVersion) {
  for (const char* fixture :
       {"bad-bom-1.0/bagit.txt", "bad-bom-0.97/bagit.txt"}) {
    BagDeclaration d;
    Status s = ParseBagDeclaration(Fixture(fixture), "b", &d);
    ASSERT_FALSE(s.ok()) << fixture;
    EXPECT_NE(s.message().find("byte-order mark"), std::string::npos);
  }
  BagDeclaration d;
  ASSERT_VALISE_OK(
      ParseBagDeclaration(Fixture("valid-0.97/bagit.txt"), "b", &d));
  EXPECT_EQ(d.version, "0.97");
}

// Goal (issue 12): the encoding bagit.txt names is honoured: ISO-8859-1,
// UTF-16 with its byte-order mark, UTF-16LE without one are decoded to
// UTF-8 with iconv; a byte that is not valid there is an error naming the
// file and offset; a UTF-8 bag's tag file with a BOM is read with a
// warning.
TEST(BagDeclaration, TagFilesDecodedFromTheirEncoding) {
  BagDeclaration d;
  ASSERT_VALISE_OK(ParseBagDeclaration(
      "BagIt-Version: 0.97\nTag-File-Character-Encoding: ISO-8859-1\n", "b",
      &d));
  EXPECT_FALSE(d.utf8());
  std::vector<std::string> warnings;
  std::string text = "Contact-Name: Jos\xe9\n";
  ASSERT_VALISE_OK(DecodeBagTagFile(d, "bag-info.txt", &text, &warnings));
  EXPECT_EQ(text, "Contact-Name: Jos\xc3\xa9\n");
  std::vector<BagInfoField> info;
  ASSERT_VALISE_OK(ParseBagInfo(text, "i", &info));
  EXPECT_EQ(info[0].value, "Jos\u00e9");

  text = Fixture("valid-utf-16/manifest-md5.txt");
  ASSERT_EQ(text.substr(0, 2), "\xff\xfe");
  d.encoding = "UTF-16";
  ASSERT_VALISE_OK(DecodeBagTagFile(d, "m", &text, &warnings));
  std::vector<BagManifestEntry> e;
  ASSERT_VALISE_OK(
      ParseBagManifest(text, "m", DigestType::kMd5, kRules097, &e));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].path, "data/hello.txt");
  d.encoding = "UTF-16LE";
  text = Fixture("valid-utf-16le/manifest-md5.txt");
  ASSERT_VALISE_OK(DecodeBagTagFile(d, "m", &text, &warnings));
  EXPECT_EQ(text.substr(32), "  data/hello.txt\n");
  EXPECT_TRUE(warnings.empty());

  d.encoding = "UTF-16";
  text = Fixture("bad-utf-16-truncated/manifest-md5.txt");
  Status s = DecodeBagTagFile(d, "bag/manifest-md5.txt", &text, &warnings);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("bag/manifest-md5.txt: not valid UTF-16 at byte"),
            std::string::npos)
      << s.message();

  d.encoding = "UTF-8";
  text = "\xEF\xBB\xBF" + kZeroSha + "  data/x\n";
  ASSERT_VALISE_OK(DecodeBagTagFile(d, "m", &text, &warnings));
  EXPECT_EQ(text.substr(0, 3), "000");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("m: starts with a byte-order mark"),
            std::string::npos);
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
  EXPECT_FALSE(ParseBagInfo("Label\t: trailing tab\n", "i", &info).ok());
  EXPECT_FALSE(ParseBagInfo(": empty label\n", "i", &info).ok());
  // A byte-order mark inside a label (found by bagit_fuzz: it vanished when
  // the file was written back). The one at the start of the file is fine.
  EXPECT_FALSE(ParseBagInfo("\n\xEF\xBB\xBF:&:\n", "i", &info).ok());
  EXPECT_VALISE_OK(ParseBagInfo("\xEF\xBB\xBFLabel: v\n", "i", &info));
}

// Goal (issue 12): before 1.0, whitespace around the colon (RFC 8493
// 2.2.2) is read and is not part of the label or the value; a tab may be
// the one blank after the colon, and folded lines may be indented by
// spaces or tabs.
TEST(BagInfo, SeparatorsAndFoldingOfOlderBags) {
  std::vector<BagInfoField> info;
  ASSERT_VALISE_OK(ParseBagInfo(Fixture("valid-separators-0.97/bag-info.txt"),
                                "i", &info, /*legacy=*/true));
  ASSERT_EQ(info.size(), 7u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(info[i].label, "Test-Tag");
    EXPECT_EQ(info[i].value, std::to_string(i + 1));
  }
  EXPECT_EQ(info[5].label, "External-Description");
  EXPECT_EQ(info[5].value, "a value folded with spaces and a tab");
  EXPECT_EQ(info[6].label, "Payload-Oxum");
  EXPECT_FALSE(
      ParseBagInfo(Fixture("valid-separators-0.97/bag-info.txt"), "i", &info)
          .ok());
  EXPECT_FALSE(
      ParseBagInfo(Fixture("bad-separators-1.0/bag-info.txt"), "i", &info)
          .ok());
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
  ASSERT_VALISE_OK(
      ParseBagManifest(text, "m", DigestType::kSha256, kRules10, &e));
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].path, "data/a b.txt");
  EXPECT_EQ(e[1].path, "data/x\ny");
  EXPECT_EQ(e[2].path, "data/z");
  EXPECT_EQ(e[2].line, 4u);
  ASSERT_VALISE_OK(
      ParseBagManifest(text, "m", DigestType::kSha256, kRules097, &e));
  EXPECT_EQ(e[1].path, "data/x%0Ay");

  ASSERT_VALISE_OK(
      ParseBagManifest(Fixture("valid-percent/manifest-sha256.txt"), "m",
                       DigestType::kSha256, kRules10, &e));
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].path, "data/100%.txt");
  EXPECT_EQ(e[0].digest, Sha256Of("per cent\n"));
  EXPECT_EQ(e[1].path, "data/a%41b");
}

// Goal (issue 12): what RFC 8493 calls a warning is read and told, once
// per kind, naming file and line: md5sum's binary-mode marker, md5sum's
// escaped lines, a leading "./", and before 1.0 a path listed twice with
// the same digest.
TEST(BagManifest, WarningsAreReadAndTold) {
  const std::string one = Sha256Of("1").Hex();
  const std::string two = Sha256Of("2").Hex();
  std::vector<BagManifestEntry> e;
  std::vector<std::string> w;
  ASSERT_VALISE_OK(
      ParseBagManifest(one + " *data/a\n" + two + " *data/b\n\\" + one +
                           "  data/back\\\\slash\\nline\n" + two +
                           "  ./data/c\n" + one + " *data/a\n",
                       "bag/m", DigestType::kSha256, kRules097, &e, &w));
  ASSERT_EQ(e.size(), 4u);
  EXPECT_EQ(e[0].path, "data/a");
  EXPECT_EQ(e[1].path, "data/b");
  EXPECT_EQ(e[2].path, "data/back\\slash\nline");
  EXPECT_EQ(e[3].path, "data/c");
  ASSERT_EQ(w.size(), 4u);
  EXPECT_NE(w[0].find("bag/m:1: 3 line(s) with md5sum's binary-mode marker"),
            std::string::npos)
      << w[0];
  EXPECT_NE(w[1].find("bag/m:3: 1 line(s) in md5sum's escaped form"),
            std::string::npos)
      << w[1];
  EXPECT_NE(w[2].find("bag/m:4: 1 path(s) starting with './'"),
            std::string::npos)
      << w[2];
  EXPECT_NE(w[3].find("bag/m:5: 1 path(s) listed again with the same digest"),
            std::string::npos)
      << w[3];
  // In 1.0 the same path twice is an error, even with the same digest.
  Status s = ParseBagManifest(one + "  data/a\n" + one + "  data/a\n", "m",
                              DigestType::kSha256, kRules10, &e, &w);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("exactly once"), std::string::npos);
  // A '*' followed by a blank is part of the name, and is the path of
  // every line written back (found by reading the md5sum rule).
  ASSERT_VALISE_OK(
      ParseBagManifest(one + " * x\n", "m", DigestType::kSha256, kRules10, &e));
  EXPECT_EQ(e[0].path, "* x");
  // A '*' after two blanks is part of the name.
  ASSERT_VALISE_OK(ParseBagManifest(one + "  data/*star\n", "m",
                                    DigestType::kSha256, kRules10, &e));
  EXPECT_EQ(e[0].path, "data/*star");
}

// Goal: a bad digest, a missing path, a path listed twice with two
// digests and a path that escapes the bag (.., absolute) are errors
// naming file and line.
TEST(BagManifest, BadLines) {
  const std::pair<std::string, std::string> kBad[] = {
      {"abc data/x\n", "expected 64 hex"},
      {kZeroSha + "\n", "expected '<digest> <path>'"},
      {kZeroSha + "  data/x\n" + kZeroSha + " data/x\n", "already listed"},
      {kZeroSha + "  data/x\n" + Sha256Of("x").Hex() + " data/x\n",
       "with another digest"},
      {"\\" + kZeroSha + "  data/a\\qb\n", "unknown escape"},
      {kZeroSha + "  data/../../etc/passwd\n", "escapes the bag"},
      {kZeroSha + "  /etc/passwd\n", "escapes the bag"},
      {kZeroSha + "  data//x\n", "escapes the bag"},
  };
  for (const auto& [text, why] : kBad) {
    std::vector<BagManifestEntry> e;
    Status s = ParseBagManifest(text, "bag/manifest-sha256.txt",
                                DigestType::kSha256, kRules10, &e);
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
                                    DigestType::kSha256, kRules10, &out));
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
      ParseBagFetch(Fixture("fetch/fetch.txt"), "f", kRules10, &items));
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].url, "https://example.org/remote.bin");
  EXPECT_EQ(items[0].length, uint64_t{15});
  EXPECT_EQ(items[0].path, "data/remote.bin");
  ASSERT_VALISE_OK(
      ParseBagFetch("http://h/x -\tdata/a%25b\n", "f", kRules10, &items));
  EXPECT_FALSE(items[0].length.has_value());
  EXPECT_EQ(items[0].path, "data/a%b");
  EXPECT_FALSE(
      ParseBagFetch("http://h/x 3 bag-info.txt\n", "f", kRules10, &items).ok());
  EXPECT_FALSE(
      ParseBagFetch("http://h/x 3x data/a\n", "f", kRules10, &items).ok());
  EXPECT_FALSE(
      ParseBagFetch("http://h/x 3 data/../../a\n", "f", kRules10, &items).ok());
  EXPECT_FALSE(ParseBagFetch("http://h/x 3\n", "f", kRules10, &items).ok());
}

// Goal (issue 12): names compare as other file systems compare them: NFC
// for normalization, NFC of the case folding for "differs only in case";
// a name that is not UTF-8 is its own key; OS metadata files are known by
// any component.
TEST(BagNames, NormalizationCaseAndOsFiles) {
  EXPECT_EQ(NfcName("data/Nu\u0301n\u0303ez"), "data/N\u00fa\u00f1ez");
  EXPECT_EQ(NfcName("plain/ascii"), "plain/ascii");
  EXPECT_EQ(FoldedName("data/HELLO.txt"), FoldedName("data/hello.txt"));
  EXPECT_EQ(FoldedName("data/NU\u0301N\u0303EZ"),
            FoldedName("data/n\u00fa\u00f1ez"));
  EXPECT_EQ(FoldedName("Stra\u00dfe"), FoldedName("STRASSE"));
  EXPECT_NE(FoldedName("data/a.txt"), FoldedName("data/b.txt"));
  EXPECT_EQ(NfcName("bad\xff\xfe"), "bad\xff\xfe");
  EXPECT_EQ(FoldedName("BAD\xff"), "BAD\xff");
  for (const char* p :
       {"data/.DS_Store", "data/sub/Thumbs.db", "data/THUMBS.DB",
        "data/._hello.txt", "data/.Spotlight-V100/x", "data/desktop.ini"}) {
    EXPECT_TRUE(IsOsMetadataPath(p)) << p;
  }
  for (const char* p :
       {"data/hello.txt", "data/._", "data/DS_Store", "data/Thumbs.dbx"}) {
    EXPECT_FALSE(IsOsMetadataPath(p)) << p;
  }
}

}  // namespace
}  // namespace valise
