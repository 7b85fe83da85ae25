// Bound sidecars in manifest v1: the "# bind NAME bytes=N sha256=HEX"
// lines (docs/formats.md, "Bound sidecars"): written just before "# end",
// read back into Manifest::bindings(), and refused when malformed or
// repeated.
#include <gtest/gtest.h>

#include <cstring>

#include "support/test_util.h"
#include "valise/manifest.h"
#include "valise/sidecar.h"

namespace valise {
namespace {

Manifest OneEntry() {
  DigestSet set;
  set.Add(DigestType::kSha256);
  Manifest m(set);
  Digest d;
  d.type = DigestType::kSha256;
  d.size = 32;
  m.Add("a", 3, 7, {d});
  EXPECT_TRUE(m.Finish().ok());
  return m;
}

constexpr std::string_view kHex64 =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

std::string WithLines(const std::string& extra) {
  return "valise-manifest 1\n# columns size mtime sha256 path\n3\t7\t" +
         std::string(64, '0') + "\ta\n" + extra + "# end files=1 bytes=3\n";
}

// Goal: bindings are written by name just before "# end", read back
// exactly, and a manifest without any is written as before.
TEST(ManifestBinding, WrittenBeforeEndAndReadBack) {
  Manifest m = OneEntry();
  const std::string plain = WriteManifest(m, "T");
  EXPECT_EQ(plain.find("# bind"), std::string::npos);
  SidecarBinding chunks = BindingOf("abc");
  SidecarBinding drives = BindingOf("");
  m.Bind("drives", drives);
  m.Bind("chunks", chunks);
  const std::string text = WriteManifest(m, "T");
  const std::string want_tail =
      "# bind chunks bytes=3 sha256=" + std::string(kHex64) +
      "\n# bind drives bytes=0 sha256="
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
      "# end files=1 bytes=3\n";
  ASSERT_GE(text.size(), want_tail.size());
  EXPECT_EQ(text.substr(text.size() - want_tail.size()), want_tail);
  // Everything before the bind lines is what was written without them.
  EXPECT_EQ(text.substr(0, text.size() - want_tail.size()),
            plain.substr(0, plain.size() - strlen("# end files=1 bytes=3\n")));
  Manifest back;
  ASSERT_VALISE_OK(ParseManifest(text, "M", ManifestFormat::kAuto, &back));
  ASSERT_EQ(back.bindings().size(), 2u);
  ASSERT_NE(back.binding("chunks"), nullptr);
  EXPECT_EQ(*back.binding("chunks"), chunks);
  EXPECT_EQ(*back.binding("drives"), drives);
  EXPECT_EQ(back.binding("layout"), nullptr);
  EXPECT_EQ(WriteManifest(back, "T"), text);
}

// Goal: a reader takes a binding wherever it stands among the comments
// (older readers ignore them all: they are '#' lines).
TEST(ManifestBinding, AcceptedAnywhereAmongComments) {
  std::string text =
      "valise-manifest 1\n# bind chunks bytes=3 sha256=" + std::string(kHex64) +
      "\n# columns size mtime sha256 path\n3\t7\t" + std::string(64, '0') +
      "\ta\n# end files=1 bytes=3\n";
  Manifest m;
  ASSERT_VALISE_OK(ParseManifest(text, "M", ManifestFormat::kAuto, &m));
  ASSERT_NE(m.binding("chunks"), nullptr);
  EXPECT_EQ(m.binding("chunks")->bytes, 3u);
}

// Goal: a malformed or repeated binding is refused naming its line (a
// binding the reader skipped would let an unchecked sidecar through).
TEST(ManifestBinding, Rejections) {
  const std::string sha = " sha256=" + std::string(kHex64);
  struct Case {
    std::string line;
    std::string want;
  } cases[] = {
      {"# bind\n", "M:4: malformed binding"},
      {"# bind chunks\n", "M:4: malformed binding"},
      {"# bind chunks bytes=3\n", "M:4: malformed binding"},
      {"# bind chunks bytes=-3" + sha + "\n", "M:4: malformed binding"},
      {"# bind chunks bytes=3 sha256=abc\n", "sha256 must be 64 hex"},
      {"# bind chunks bytes=3" + sha + " \n", "sha256 must be 64 hex"},
      {"# bind chunks  bytes=3" + sha + "\n", "M:4: malformed binding"},
      {"# bind  chunks bytes=3" + sha + "\n", "M:4: sidecar name ''"},
      {"# bind ../x bytes=3" + sha + "\n", "sidecar name '../x'"},
      {"# bind Chunks bytes=3" + sha + "\n", "sidecar name 'Chunks'"},
      {"# bind -x bytes=3" + sha + "\n", "sidecar name '-x'"},
      {"# bind " + std::string(33, 'a') + " bytes=3" + sha + "\n",
       "sidecar name"},
      {"# bind chunks bytes=3" + sha + "\n# bind chunks bytes=4" + sha + "\n",
       "M:5: second binding of 'chunks' (first at line 4)"},
  };
  for (const Case& c : cases) {
    Manifest m;
    Status s = ParseManifest(WithLines(c.line), "M", ManifestFormat::kAuto, &m);
    EXPECT_TRUE(s.IsInvalidArgument()) << c.line << s.ToString();
    EXPECT_NE(s.ToString().find(c.want), std::string::npos)
        << c.line << " -> " << s.ToString();
  }
  // "# binding" is another word: an ordinary comment.
  Manifest m;
  EXPECT_VALISE_OK(ParseManifest(WithLines("# binding notes\n"), "M",
                                 ManifestFormat::kAuto, &m));
}

// Goal: valise sign reads the bindings without parsing the entries, with
// the reader's rules for bind lines; text that is not manifest v1 has
// none.
TEST(ManifestBinding, ReadWithoutParsingEntries) {
  Manifest m = OneEntry();
  m.Bind("chunks", BindingOf("abc"));
  m.Bind("layout", BindingOf("xyz"));
  const std::string text = WriteManifest(m, "T");
  std::map<std::string, SidecarBinding, std::less<>> got;
  ASSERT_VALISE_OK(ReadManifestBindings(text, "M", &got));
  EXPECT_EQ(got, m.bindings());
  // The entries are not looked at (a bad one does not matter here).
  ASSERT_VALISE_OK(
      ReadManifestBindings(WithLines("bad line\n# bind chunks bytes=3 "
                                     "sha256=" +
                                     std::string(kHex64) + "\n"),
                           "M", &got));
  EXPECT_EQ(got.size(), 1u);
  Status s =
      ReadManifestBindings(WithLines("# bind chunks bytes=x\n"), "M", &got);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.ToString().find("M:4: malformed binding"), std::string::npos);
  const std::string sha = " sha256=" + std::string(kHex64) + "\n";
  s = ReadManifestBindings(
      WithLines("# bind a bytes=1" + sha + "# bind a bytes=1" + sha), "M",
      &got);
  EXPECT_NE(s.ToString().find("M:5: second binding of 'a'"), std::string::npos);
  ASSERT_VALISE_OK(ReadManifestBindings(
      std::string(64, 'a') + "  # bind x bytes=1" + sha, "M", &got));
  EXPECT_TRUE(got.empty());
}

TEST(ManifestBinding, SidecarNames) {
  for (const char* ok : {"chunks", "drives", "layout", "a", "0", "x-1"}) {
    EXPECT_TRUE(IsSidecarName(ok)) << ok;
  }
  for (const char* bad : {"", "-a", "A", "a/b", "..", "a.b", "a b", "é"}) {
    EXPECT_FALSE(IsSidecarName(bad)) << bad;
  }
  EXPECT_EQ(SidecarPath("/srv/m/set.vm", "chunks"), "/srv/m/set.vm.chunks");
}

}  // namespace
}  // namespace valise
