// Tests of bag validation and bag writing (src/pipeline/bag.cc) on the
// simulated disk: one test per RFC 8493 rule, with the hand-made bags of
// tests/bags/ loaded into the disk, plus the order of the checks (the
// Payload-Oxum before any read), several bags in one run, and bags that
// valise writes validating.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "support/pipeline_util.h"
#include "support/test_util.h"
#include "valise/bagit.h"
#include "valise/sim_disk.h"

namespace valise {
namespace {

namespace stdfs = std::filesystem;

PipelineOptions SmallOptions() {
  return test::SmallPipelineOptions(64 << 10, 1);
}

// Copies the fixture bag tests/bags/<name> into the disk at `at`.
void LoadBag(SimDisk* disk, const std::string& name, const std::string& at) {
  const stdfs::path root = stdfs::path(VALISE_TEST_BAGS_DIR) / name;
  ASSERT_TRUE(stdfs::is_directory(root)) << root;
  disk->AddDir(at);
  for (const auto& e : stdfs::recursive_directory_iterator(root)) {
    const std::string rel = stdfs::relative(e.path(), root).string();
    if (e.is_directory()) {
      disk->AddDir(at + "/" + rel);
    } else {
      std::ifstream in(e.path(), std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      disk->AddFile(at + "/" + rel, ss.str());
    }
  }
}

struct Outcome {
  Status status;
  RunReport report;
  std::string text;  // errors and notes, for matching and messages
};

Outcome Validate(SimDisk* disk, std::vector<BagSpec> bags) {
  Outcome o;
  o.status = ValidateBags(disk, bags, SmallOptions(), &o.report);
  if (!o.status.ok()) o.text += "error: " + o.status.message() + "\n";
  for (const DriveReport& d : o.report.drives) {
    for (const std::string& e : d.errors) o.text += "error: " + e + "\n";
  }
  for (const std::string& n : o.report.notes) o.text += "note: " + n + "\n";
  for (const FileResult& f : o.report.files) {
    o.text += std::string(FileStatusName(f.status)) + " " + f.path + " " +
              f.detail + "\n";
  }
  return o;
}

Outcome ValidateFixture(const std::string& name) {
  SimDiskOptions so;
  SimDisk disk(so);
  LoadBag(&disk, name, "d/" + name);
  return Validate(&disk, {BagSpec{"d/" + name, {}}});
}

const FileResult* FindFile(const RunReport& r, std::string_view path,
                           FileStatus status) {
  for (const FileResult& f : r.files) {
    if (f.path == path && f.status == status) return &f;
  }
  return nullptr;
}

// The fixture is invalid: exit status 1, and `why` among the findings.
void ExpectInvalid(const std::string& name, const std::string& why) {
  Outcome o = ValidateFixture(name);
  ASSERT_VALISE_OK(o.status);
  EXPECT_EQ(o.report.ExitCode(), 1) << name << "\n" << o.text;
  EXPECT_NE(o.text.find(why), std::string::npos)
      << name << ": '" << why << "' not in\n"
      << o.text;
}

// Goal: the valid fixtures (1.0 with md5+sha256 and a tag manifest; 0.97
// with md5; CRLF and CR tag files; percent-encoded names)
// validate: exit 0, every payload file checked, tag files not reported.
TEST(BagValidate, ValidBags) {
  for (const char* name :
       {"valid-1.0", "valid-0.97", "valid-crlf", "valid-percent"}) {
    Outcome o = ValidateFixture(name);
    ASSERT_VALISE_OK(o.status);
    EXPECT_EQ(o.report.ExitCode(), 0) << name << "\n" << o.text;
    EXPECT_TRUE(o.report.files.empty()) << name << "\n" << o.text;
    EXPECT_NE(o.text.find("valid bag"), std::string::npos) << o.text;
    const uint64_t want = std::string(name) == "valid-percent" ? 2 : 3;
    EXPECT_EQ(o.report.files_ok, want) << name;
    EXPECT_EQ(o.report.files_expected, want) << name;
    EXPECT_EQ(o.report.bytes_verified, want == 2 ? 18u : 38u) << name;
  }
}

// Goal: each broken bagit.txt makes the bag invalid (exit 1) with the
// reason, and nothing of the payload is read.
TEST(BagValidate, BadDeclaration) {
  ExpectInvalid("bad-version", "BagIt-Version '2.0' not supported");
  ExpectInvalid("bad-version-line", "expected 'BagIt-Version: ...'");
  ExpectInvalid("bad-bom-1.0", "byte-order mark");
  ExpectInvalid("bad-bom-0.97", "byte-order mark");
  ExpectInvalid("bad-encoding", "X-NO-SUCH-CHARSET");
  Outcome o = ValidateFixture("bad-version");
  EXPECT_EQ(o.report.bytes_verified, 0u);
}

// Goal: a directory without bagit.txt is not a bag: trouble for the run
// (NotFound naming it), not a finding.
TEST(BagValidate, MissingDeclarationIsNotABag) {
  Outcome o = ValidateFixture("no-bagit-txt");
  ASSERT_FALSE(o.status.ok());
  EXPECT_TRUE(o.status.IsNotFound());
  EXPECT_NE(o.status.message().find("not a bag"), std::string::npos);
}

// Goal: a bag needs at least one payload manifest.
TEST(BagValidate, NoPayloadManifest) {
  ExpectInvalid("no-payload-manifest", "no payload manifest");
}

// Goal: a manifest entry whose file is absent is reported missing.
TEST(BagValidate, MissingPayloadFile) {
  Outcome o = ValidateFixture("missing-file");
  EXPECT_EQ(o.report.ExitCode(), 1) << o.text;
  EXPECT_NE(FindFile(o.report, "data/sub/two.txt", FileStatus::kMissing),
            nullptr)
      << o.text;
}

// Goal: a payload file in no manifest is reported extra AND makes the bag
// invalid (exit 1), unlike an extra file on a drive checked against a
// manifest; tag files at the top are never extras.
TEST(BagValidate, PayloadFileNotInManifest) {
  Outcome o = ValidateFixture("extra-file");
  EXPECT_EQ(o.report.ExitCode(), 1) << o.text;
  EXPECT_NE(FindFile(o.report, "data/stray.txt", FileStatus::kExtra), nullptr)
      << o.text;
  EXPECT_NE(o.text.find("1 payload file(s) in no payload manifest"),
            std::string::npos)
      << o.text;
  EXPECT_EQ(o.text.find("bag-info.txt"), std::string::npos) << o.text;
}

// Goal: a payload file listed in one manifest but not another is a
// bag-level error (every payload manifest lists every payload file).
TEST(BagValidate, NotInEveryManifest) {
  ExpectInvalid("not-in-every-manifest",
                "not listed in every payload manifest: data/sub/two.txt");
}

// Goal: a payload manifest may only list files under data/.
TEST(BagValidate, PayloadManifestListsTagFile) {
  ExpectInvalid("payload-manifest-lists-tag",
                "outside the payload directory data/: bag-info.txt");
}

// Goal: a wrong digest is reported corrupt, naming the algorithm.
TEST(BagValidate, WrongDigest) {
  Outcome o = ValidateFixture("wrong-digest");
  EXPECT_EQ(o.report.ExitCode(), 1);
  const FileResult* f =
      FindFile(o.report, "data/hello.txt", FileStatus::kCorrupt);
  ASSERT_NE(f, nullptr) << o.text;
  EXPECT_NE(f->detail.find("mismatch"), std::string::npos);
  EXPECT_EQ(o.report.files_ok, 2u);
  EXPECT_EQ(o.report.bytes_verified, 27u);  // hello.txt's 11 bytes are not
}

// Goal: a tag file that differs from its tag manifest entry is reported
// corrupt, and so is the bag.
TEST(BagValidate, TagManifestMismatch) {
  Outcome o = ValidateFixture("tag-mismatch");
  EXPECT_EQ(o.report.ExitCode(), 1);
  const FileResult* f =
      FindFile(o.report, "bag-info.txt", FileStatus::kCorrupt);
  ASSERT_NE(f, nullptr) << o.text;
  EXPECT_NE(f->detail.find("tagmanifest-sha256.txt"), std::string::npos);
}

// Goal: a wrong Payload-Oxum makes the bag invalid before anything is
// hashed: the fixture also has a wrong digest, which is NOT reported, and
// with every read under data/ failing on the disk, not one is attempted
// (only the tag files at the top are read).
TEST(BagValidate, OxumCheckedBeforeHashing) {
  SimDiskOptions so;
  SimDisk disk(so);
  LoadBag(&disk, "oxum-wrong", "d/b");
  SimFaults all_fail;
  all_fail.read_error_one_in = 1;
  disk.SetFaults("d/b/data/", all_fail);
  const uint64_t faults_before = disk.stats().injected_errors;
  Outcome o = Validate(&disk, {BagSpec{"d/b", {}}});
  ASSERT_VALISE_OK(o.status);
  EXPECT_EQ(o.report.ExitCode(), 1);
  EXPECT_NE(o.text.find("Payload-Oxum 999.3 but data/ holds 38 bytes in 3 "
                        "files"),
            std::string::npos)
      << o.text;
  EXPECT_EQ(FindFile(o.report, "data/hello.txt", FileStatus::kCorrupt), nullptr)
      << o.text;
  EXPECT_EQ(FindFile(o.report, "data/hello.txt", FileStatus::kUnreadable),
            nullptr)
      << o.text;
  EXPECT_EQ(disk.stats().injected_errors, faults_before);
  EXPECT_EQ(o.report.bytes_verified, 0u);

  // The same bag with the Oxum right does read its payload: the faults
  // show.
  disk.AddFile("d/b/bag-info.txt", "Payload-Oxum: 38.3\n");
  o = Validate(&disk, {BagSpec{"d/b", {}}});
  ASSERT_VALISE_OK(o.status);
  EXPECT_NE(FindFile(o.report, "data/hello.txt", FileStatus::kUnreadable),
            nullptr)
      << o.text;
  EXPECT_GT(disk.stats().injected_errors, faults_before);
}

// Goal: a bag with fetch.txt whose items are absent is incomplete: those
// files are reported missing as "not fetched", nothing is fetched, and
// the exit status is 1; with the items present it is complete.
TEST(BagValidate, FetchTxtIncomplete) {
  Outcome o = ValidateFixture("fetch");
  EXPECT_EQ(o.report.ExitCode(), 1);
  const FileResult* f =
      FindFile(o.report, "data/remote.bin", FileStatus::kMissing);
  ASSERT_NE(f, nullptr) << o.text;
  EXPECT_NE(f->detail.find("not fetched"), std::string::npos);
  EXPECT_NE(o.text.find("incomplete: 1 file(s) listed in fetch.txt"),
            std::string::npos)
      << o.text;
  EXPECT_EQ(o.report.files_ok, 3u);

  // Once the item is there (fetched by someone else), the bag is complete
  // and valid.
  SimDiskOptions so;
  SimDisk disk(so);
  LoadBag(&disk, "fetch", "d/b");
  disk.AddFile("d/b/data/remote.bin", "remote payload\n");
  o = Validate(&disk, {BagSpec{"d/b", {}}});
  EXPECT_EQ(o.report.ExitCode(), 0) << o.text;
  EXPECT_NE(o.text.find("fetch.txt lists 1 item(s), all present"),
            std::string::npos)
      << o.text;
}

// Goal: a manifest path that escapes the bag (.., absolute) makes it
// invalid and is never opened.
TEST(BagValidate, PathEscapingTheBag) {
  ExpectInvalid("escape-dotdot", "path escapes the bag");
  ExpectInvalid("escape-absolute", "path escapes the bag");
}

// Goal: names holding LF, CR and '%' (percent-encoded in the manifest)
// are found and checked.
TEST(BagValidate, PercentEncodedControlNames) {
  SimDiskOptions so;
  SimDisk disk(so);
  const std::vector<std::string> names = {"data/line\nbreak", "data/cr\rx",
                                          "data/50%"};
  std::vector<BagManifestEntry> entries;
  for (const std::string& n : names) {
    disk.AddFile("d/b/" + n, n);
    auto h = Hasher::New(DigestType::kSha256);
    h->Update(n.data(), n.size());
    entries.push_back(BagManifestEntry{n, h->Finish(), 0});
  }
  disk.AddFile("d/b/bagit.txt", WriteBagDeclaration());
  const std::string manifest = WriteBagManifest(entries);
  EXPECT_NE(manifest.find("data/line%0Abreak"), std::string::npos);
  disk.AddFile("d/b/manifest-sha256.txt", manifest);
  Outcome o = Validate(&disk, {BagSpec{"d/b", {}}});
  ASSERT_VALISE_OK(o.status);
  EXPECT_EQ(o.report.ExitCode(), 0) << o.text;
  EXPECT_EQ(o.report.files_ok, 3u);
}

// Goal: several bags in one run, on one device and on two, each judged on
// its own: one row per bag, a bad bag's findings on its own row, the good
// ones unaffected.
TEST(BagValidate, SeveralBagsInOneRun) {
  SimDiskOptions so;
  SimDisk disk(so);
  LoadBag(&disk, "valid-1.0", "d1/a");
  LoadBag(&disk, "wrong-digest", "d1/b");
  LoadBag(&disk, "valid-crlf", "d2/c");
  LoadBag(&disk, "oxum-wrong", "d2/d");
  Outcome o = Validate(&disk, {BagSpec{"d1/a", {}}, BagSpec{"d1/b", {}},
                               BagSpec{"d2/c", {}}, BagSpec{"d2/d", {}}});
  ASSERT_VALISE_OK(o.status);
  ASSERT_EQ(o.report.drives.size(), 4u);
  EXPECT_EQ(o.report.ExitCode(), 1);
  EXPECT_TRUE(o.report.drives[0].errors.empty());
  EXPECT_TRUE(o.report.drives[2].errors.empty());
  ASSERT_EQ(o.report.drives[3].errors.size(), 1u) << o.text;
  EXPECT_NE(o.report.drives[3].errors[0].find("d2/d: Payload-Oxum"),
            std::string::npos);
  const FileResult* f =
      FindFile(o.report, "data/hello.txt", FileStatus::kCorrupt);
  ASSERT_NE(f, nullptr) << o.text;
  EXPECT_EQ(f->drive, 1);
  EXPECT_EQ(o.report.files_ok, 3u + 2u + 3u);
  EXPECT_EQ(o.report.files_expected, 12u);
}

// Goal: -m BAG with the payload on other drives laid out like the bag:
// tag files from the bag directory, payload from the drives (a file on
// either counts), and a file on neither is missing.
TEST(BagValidate, TagFilesAndPayloadApart) {
  SimDiskOptions so;
  SimDisk disk(so);
  LoadBag(&disk, "valid-1.0", "tags/b");
  std::string hello, two;
  ASSERT_TRUE(disk.GetFile("tags/b/data/hello.txt", &hello));
  ASSERT_TRUE(disk.GetFile("tags/b/data/sub/two.txt", &two));
  disk.AddFile("p1/data/hello.txt", hello);
  disk.AddFile("p2/data/sub/two.txt", two);
  disk.AddFile("p2/data/empty", "");
  Outcome o = Validate(&disk, {BagSpec{"tags/b", {"p1", "p2"}}});
  ASSERT_VALISE_OK(o.status);
  EXPECT_EQ(o.report.ExitCode(), 0) << o.text;
  EXPECT_EQ(o.report.files_ok, 3u);
  ASSERT_EQ(o.report.drives.size(), 2u);
}

// Goal: a bag written by WriteBagTagFiles over a staged payload validates,
// holds the expected tag files and Payload-Oxum; a payload file changed
// afterwards is found.
TEST(BagWrite, WrittenBagValidates) {
  SimDiskOptions so;
  SimDisk disk(so);
  DigestSet set;
  set.Add(DigestType::kSha256);
  set.Add(DigestType::kXxh128);
  set.Add(DigestType::kMd5);
  Manifest m(set);
  const std::vector<std::pair<std::string, std::string>> files = {
      {"a.bin", test::RandomBytes(200 << 10, 1)},
      {"dir/b%.txt", "b"},
      {"dir/empty", ""}};
  for (const auto& [path, data] : files) {
    disk.AddFile("dest/data/" + path, data);
    MultiHasher mh(set);
    mh.Update(data.data(), data.size());
    m.Add(path, data.size(), 0, mh.Finish());
  }
  ASSERT_VALISE_OK(m.Finish());
  BagWriteSummary summary;
  ASSERT_VALISE_OK(WriteBagTagFiles(&disk, m, "dest", SmallOptions(),
                                    {{"Contact-Name", "ops"}}, &summary));
  EXPECT_EQ(summary.payload_files, 3u);
  EXPECT_EQ(summary.payload_octets, (200u << 10) + 1);
  const std::vector<std::string> want = {
      "manifest-sha256.txt", "manifest-md5.txt", "bagit.txt", "bag-info.txt",
      "tagmanifest-sha256.txt"};
  EXPECT_EQ(summary.written, want);
  std::string info;
  ASSERT_TRUE(disk.GetFile("dest/bag-info.txt", &info));
  EXPECT_NE(info.find("Payload-Oxum: 204801.3\n"), std::string::npos) << info;
  EXPECT_NE(info.find("Bagging-Date: 20"), std::string::npos) << info;
  EXPECT_NE(info.find("Contact-Name: ops\n"), std::string::npos) << info;

  Outcome o = Validate(&disk, {BagSpec{"dest", {}}});
  ASSERT_VALISE_OK(o.status);
  EXPECT_EQ(o.report.ExitCode(), 0) << o.text;
  EXPECT_EQ(o.report.files_ok, 3u);

  disk.FlipStoredBit("dest/data/a.bin", 1000, 3);
  o = Validate(&disk, {BagSpec{"dest", {}}});
  EXPECT_EQ(o.report.ExitCode(), 1);
  EXPECT_NE(FindFile(o.report, "data/a.bin", FileStatus::kCorrupt), nullptr)
      << o.text;
}

// Goal: a manifest without sha256 (xxh128 only) still gives a bag with
// manifest-sha256.txt, computed from the staged files, that validates.
TEST(BagWrite, ComputesSha256WhenAbsent) {
  SimDiskOptions so;
  SimDisk disk(so);
  DigestSet set;
  set.Add(DigestType::kXxh128);
  Manifest m(set);
  const std::string data = test::RandomBytes(70 << 10, 2);
  disk.AddFile("dest/data/x", data);
  MultiHasher mh(set);
  mh.Update(data.data(), data.size());
  m.Add("x", data.size(), 0, mh.Finish());
  ASSERT_VALISE_OK(m.Finish());
  BagWriteSummary summary;
  ASSERT_VALISE_OK(
      WriteBagTagFiles(&disk, m, "dest", SmallOptions(), {}, &summary));
  std::string text;
  ASSERT_TRUE(disk.GetFile("dest/manifest-sha256.txt", &text));
  auto h = Hasher::New(DigestType::kSha256);
  h->Update(data.data(), data.size());
  EXPECT_EQ(text, h->Finish().Hex() + "  data/x\n");
  Outcome o = Validate(&disk, {BagSpec{"dest", {}}});
  EXPECT_EQ(o.report.ExitCode(), 0) << o.text;
}

// Goal: an unfinished ingest (a manifest file not staged) or a payload
// holding files not in the manifest never becomes a bag: an error, and no
// tag file written.
TEST(BagWrite, RefusesUnfinishedOrForeignPayload) {
  SimDiskOptions so;
  SimDisk disk(so);
  DigestSet set;
  set.Add(DigestType::kSha256);
  Manifest m(set);
  auto h = Hasher::New(DigestType::kSha256);
  m.Add("here", 1, 0, {h->Finish()});
  m.Add("gone", 1, 0, {h->Finish()});
  ASSERT_VALISE_OK(m.Finish());
  disk.AddFile("dest/data/here", "1");
  BagWriteSummary summary;
  Status s = WriteBagTagFiles(&disk, m, "dest", SmallOptions(), {}, &summary);
  ASSERT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("data/gone"), std::string::npos);
  EXPECT_FALSE(disk.Exists("dest/bagit.txt"));
  disk.AddFile("dest/data/gone", "2");
  disk.AddFile("dest/data/foreign", "3");
  s = WriteBagTagFiles(&disk, m, "dest", SmallOptions(), {}, &summary);
  ASSERT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("data/foreign"), std::string::npos);
  EXPECT_FALSE(disk.Exists("dest/bagit.txt"));
}

// Goal (issue 12): every bag of tests/bags against its verdict
// (verdicts.txt): the exit status (2 when it is not a bag) and the text;
// a bag of exit 0 is called valid; a "warn-" bag warns, and no other
// valid bag does (a warning never makes a valid bag invalid); every bag
// has a verdict and every verdict a bag.
TEST(BagConformance, EveryBagHasItsVerdict) {
  const stdfs::path root(VALISE_TEST_BAGS_DIR);
  std::ifstream in(root / "verdicts.txt");
  ASSERT_TRUE(in.good());
  std::set<std::string> judged;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t a = line.find('|');
    const size_t b = line.find('|', a + 1);
    ASSERT_NE(b, std::string::npos) << line;
    const std::string bag = line.substr(0, a);
    const int want = std::stoi(line.substr(a + 1, b - a - 1));
    const std::string text = line.substr(b + 1);
    SCOPED_TRACE(bag);
    ASSERT_TRUE(stdfs::is_directory(root / bag));
    Outcome o = ValidateFixture(bag);
    const int got = o.status.ok() ? o.report.ExitCode() : 2;
    EXPECT_EQ(got, want) << o.text;
    EXPECT_NE(o.text.find(text), std::string::npos) << o.text;
    const bool warned = o.text.find(": warning: ") != std::string::npos;
    if (want == 0) {
      EXPECT_NE(o.text.find("valid bag"), std::string::npos) << o.text;
      EXPECT_EQ(warned, bag.rfind("warn-", 0) == 0) << o.text;
    }
    judged.insert(bag);
  }
  size_t bags = 0;
  for (const auto& e : stdfs::directory_iterator(root)) {
    if (!e.is_directory()) continue;
    ++bags;
    EXPECT_TRUE(judged.count(e.path().filename().string()))
        << e.path() << " has no verdict in verdicts.txt";
  }
  EXPECT_EQ(bags, judged.size());
  EXPECT_GE(bags, 40u);
}

}  // namespace
}  // namespace valise
