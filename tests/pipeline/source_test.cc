// What a SRC named on the command line may be (issue 12, item 11), on the
// simulated disk: a symlink given as SRC (/dev/disk/by-id/..., the stable
// names of drives) is followed, once, and the drive is reported under the
// name the user gave plus what it resolved to; a symlink found inside a
// drive is never followed; a SRC that cannot be a drive is the same
// trouble, with the same message, whether it is given alone or among
// others.
#include "support/pipeline_util.h"
#include "support/test_util.h"
#include "valise/bagit.h"
#include "valise/manifest.h"
#include "valise/pipeline.h"
#include "valise/sim_disk.h"

namespace valise {
namespace {

constexpr size_t kChunk = 64 << 10;

PipelineOptions SmallOptions() { return test::SmallPipelineOptions(kChunk, 3); }

// d1 holds two files and a symlink to a file outside it; by-id/usb-one is
// a symlink to d1 (absolute), by-id/usb-rel one to it (relative, through
// another link), by-id/dangling leads nowhere.
std::unique_ptr<SimDisk> LinkedDrives() {
  SimDiskOptions o;
  o.seed = 3;
  auto disk = std::make_unique<SimDisk>(o);
  disk->AddFile("d1/a", test::RandomBytes(100 * 1024 + 5, 1), 1000);
  disk->AddFile("d1/sub/b", test::RandomBytes(3 * kChunk, 2), 1001);
  disk->AddFile("outside/secret", "not on the drive", 1002);
  disk->AddSymlink("d1/escape", "/outside/secret");
  disk->AddDir("d2");
  disk->AddFile("d2/c", test::RandomBytes(kChunk, 3), 1003);
  disk->AddSymlink("by-id/usb-one", "/d1");
  disk->AddSymlink("by-id/usb-rel", "usb-one");
  disk->AddSymlink("by-id/dangling", "/nowhere");
  disk->AddSpecial("dev/fifo", FileType::kFifo);
  return disk;
}

Manifest ManifestOf(SimDisk* disk, const std::vector<std::string>& sources) {
  Manifest m;
  ManifestSummary summary;
  Status s = MakeManifest(disk, sources, test::ShaXxh(), SmallOptions(), &m,
                          nullptr, &summary);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return m;
}

// Goal: ResolvePath follows every link, absolute and relative, and names
// the result from the root; a dangling link is NotFound.
TEST(SourceSymlink, SimDiskResolvesLikeRealpath) {
  auto disk = LinkedDrives();
  std::string r;
  ASSERT_VALISE_OK(disk->ResolvePath("by-id/usb-one", &r));
  EXPECT_EQ(r, "/d1");
  ASSERT_VALISE_OK(disk->ResolvePath("/by-id/usb-rel", &r));
  EXPECT_EQ(r, "/d1");
  ASSERT_VALISE_OK(disk->ResolvePath("by-id/usb-rel/sub/../a", &r));
  EXPECT_EQ(r, "/d1/a");
  ASSERT_VALISE_OK(disk->ResolvePath("d2", &r));
  EXPECT_EQ(r, "/d2");
  EXPECT_TRUE(disk->ResolvePath("by-id/dangling", &r).IsNotFound());
}

// Goal: a manifest of a drive named through a symlink is the manifest of
// the drive (the link's target), and the symlink inside the drive is
// skipped, not followed to the file it names.
TEST(SourceSymlink, ManifestThroughALink) {
  auto disk = LinkedDrives();
  Manifest direct = ManifestOf(disk.get(), {"d1"});
  Manifest linked = ManifestOf(disk.get(), {"by-id/usb-rel"});
  ASSERT_EQ(linked.size(), 2u);
  EXPECT_EQ(linked.path(0), "a");
  EXPECT_EQ(linked.path(1), "sub/b");
  for (size_t i = 0; i < linked.size(); ++i) {
    EXPECT_EQ(linked.digest(i, DigestType::kSha256),
              direct.digest(i, DigestType::kSha256));
  }
}

// Goal: verify through a link reads the drive, names the row as given and
// with what it resolved to (JSON "resolved", summary "SRC -> TARGET"),
// and reports the symlink inside the drive skipped, not followed.
TEST(SourceSymlink, VerifyNamesTheDriveAsGivenAndResolved) {
  auto disk = LinkedDrives();
  Manifest m = ManifestOf(disk.get(), {"d1"});
  RunReport r;
  ASSERT_VALISE_OK(VerifyDrives(disk.get(), m, nullptr, {"by-id/usb-one", "d2"},
                                SmallOptions(), &r));
  EXPECT_EQ(r.ExitCode(), 0) << FormatSummary(r);
  EXPECT_EQ(r.files_ok, 2u);
  ASSERT_EQ(r.drives.size(), 2u);
  EXPECT_EQ(r.drives[0].source, "by-id/usb-one");
  EXPECT_EQ(r.drives[0].resolved, "/d1");
  EXPECT_EQ(r.drives[0].kind, "directory");
  EXPECT_EQ(r.drives[0].bytes_read, 100u * 1024 + 5 + 3 * kChunk);
  EXPECT_EQ(r.drives[1].resolved, "");
  bool skipped_link = false;
  for (const FileResult& f : r.files) {
    if (f.path == "escape") {
      EXPECT_EQ(f.status, FileStatus::kSkipped);
      skipped_link = true;
    }
    EXPECT_NE(f.path, "secret");
  }
  EXPECT_TRUE(skipped_link) << FormatSummary(r);
  const std::string summary = FormatSummary(r);
  EXPECT_NE(summary.find("by-id/usb-one -> /d1"), std::string::npos) << summary;
  const std::string json = FormatJson(r);
  EXPECT_NE(json.find("\"source\":\"by-id/usb-one\",\"resolved\":\"/d1\""),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"source\":\"d2\",\"resolved\":null"),
            std::string::npos);
}

// Goal: ingest from a drive named through a link stages its files.
TEST(SourceSymlink, IngestThroughALink) {
  auto disk = LinkedDrives();
  Manifest m = ManifestOf(disk.get(), {"d1"});
  RunReport r;
  IngestOptions io;
  ASSERT_VALISE_OK(IngestDrives(disk.get(), m, {"by-id/usb-rel"}, "dest",
                                SmallOptions(), io, &r));
  EXPECT_EQ(r.ExitCode(), 0) << FormatSummary(r);
  std::string got;
  ASSERT_TRUE(disk->GetFile("dest/sub/b", &got));
  EXPECT_EQ(got, test::RandomBytes(3 * kChunk, 2));
  ASSERT_EQ(r.drives.size(), 1u);
  EXPECT_EQ(r.drives[0].source, "by-id/usb-rel");
  EXPECT_EQ(r.drives[0].resolved, "/d1");
}

// Goal: a SRC that cannot be a drive (a dangling link, a FIFO, a link to a
// FIFO, a name that is not there) is the same trouble alone as among
// others: the same status and message, from CheckSource, MakeManifest and
// VerifyDrives alike; no drive row calls it a "directory".
TEST(SourceSymlink, BadSourceSameAloneOrWithOthers) {
  auto disk = LinkedDrives();
  disk->AddSymlink("by-id/to-fifo", "/dev/fifo");
  Manifest m = ManifestOf(disk.get(), {"d1"});
  for (const std::string bad :
       {"by-id/dangling", "dev/fifo", "by-id/to-fifo", "no/such"}) {
    SCOPED_TRACE(bad);
    const Status alone = CheckSource(disk.get(), bad);
    ASSERT_FALSE(alone.ok());
    EXPECT_NE(alone.message().find(bad), std::string::npos) << alone.ToString();
    for (const std::vector<std::string>& sources :
         std::vector<std::vector<std::string>>{
             {bad}, {"d2", bad}, {bad, "by-id/usb-one"}}) {
      RunReport r;
      Status v =
          VerifyDrives(disk.get(), m, nullptr, sources, SmallOptions(), &r);
      EXPECT_EQ(v.ToString(), alone.ToString());
      Manifest made;
      ManifestSummary summary;
      Status mm = MakeManifest(disk.get(), sources, test::ShaXxh(),
                               SmallOptions(), &made, nullptr, &summary);
      EXPECT_EQ(mm.ToString(), alone.ToString());
    }
  }
  EXPECT_NE(CheckSource(disk.get(), "by-id/to-fifo")
                .message()
                .find("by-id/to-fifo (-> /dev/fifo): not a directory"),
            std::string::npos);
  EXPECT_VALISE_OK(CheckSource(disk.get(), "by-id/usb-rel"));
}

// Goal: a bag given as a symlink, and a payload drive given as one, are
// followed; the rows name them as given.
TEST(SourceSymlink, BagThroughALink) {
  auto disk = LinkedDrives();
  const std::string payload = "hello\n";
  auto h = Hasher::New(DigestType::kSha256);
  h->Update(payload.data(), payload.size());
  disk->AddFile("bags/b1/bagit.txt",
                "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n");
  disk->AddFile("bags/b1/manifest-sha256.txt",
                h->Finish().Hex() + "  data/hello.txt\n");
  disk->AddFile("bags/b1/data/hello.txt", payload);
  disk->AddSymlink("by-id/bag", "/bags/b1");
  EXPECT_TRUE(IsBagDirectory(disk.get(), "by-id/bag"));
  RunReport r;
  ASSERT_VALISE_OK(
      ValidateBags(disk.get(), {BagSpec{"by-id/bag", {}}}, SmallOptions(), &r));
  EXPECT_EQ(r.ExitCode(), 0) << FormatSummary(r);
  ASSERT_EQ(r.drives.size(), 1u);
  EXPECT_EQ(r.drives[0].source, "by-id/bag");
  EXPECT_EQ(r.drives[0].resolved, "/bags/b1");
  RunReport r2;
  ASSERT_VALISE_OK(ValidateBags(disk.get(), {BagSpec{"bags/b1", {"by-id/bag"}}},
                                SmallOptions(), &r2));
  EXPECT_EQ(r2.ExitCode(), 0) << FormatSummary(r2);
  EXPECT_EQ(r2.drives[0].source, "by-id/bag");
  EXPECT_EQ(r2.drives[0].resolved, "/bags/b1");
}

}  // namespace
}  // namespace valise
