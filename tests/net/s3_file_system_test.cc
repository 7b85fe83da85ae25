// The object store as a read-only file system (valise/s3_file_system.h),
// over the fake store: paths, listings, reads, and `verify` of an
// s3://BUCKET/PREFIX drive through the whole pipeline, with the store's
// faults and the store out of reach.
#include "valise/s3_file_system.h"

#include <algorithm>

#include "net/s3_test_util.h"
#include "support/pipeline_util.h"
#include "support/test_util.h"
#include "valise/fake_s3.h"
#include "valise/manifest.h"
#include "valise/pipeline.h"
#include "valise/sim_disk.h"

namespace valise {
namespace {

using test::PayloadOf;

constexpr size_t kChunk = 64 << 10;

// The same dataset on a simulated drive (to make the manifest) and under
// s3://b/ship in the store.
struct Dataset {
  Dataset() : store(Options()) {
    SimDiskOptions o;
    disk = std::make_unique<SimDisk>(o);
    store.CreateBucket("b");
    client = store.NewClient(3);
    Add("a", test::RandomBytes(300 * 1024 + 17, 1));
    Add("empty", "");
    Add("dir/sub/s", test::RandomBytes(5 * kChunk, 2));
    Add("dir/t x+y", test::RandomBytes(kChunk + 1, 3));
  }
  static FakeS3Options Options() {
    FakeS3Options o;
    o.min_part_size = 1024;
    return o;
  }
  void Add(const std::string& rel, const std::string& data) {
    disk->AddFile("d1/" + rel, data, 1000);
    S3WriteResult w;
    EXPECT_VALISE_OK(
        client->PutObject("b", "ship/" + rel, PayloadOf(data), {}, true, &w));
  }
  Manifest MakeManifest() {
    Manifest m;
    ManifestSummary summary;
    Status s = valise::MakeManifest(disk.get(), {"d1"}, test::ShaXxh(),
                                    test::SmallPipelineOptions(kChunk, 1), &m,
                                    nullptr, &summary);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return m;
  }

  std::unique_ptr<SimDisk> disk;
  FakeS3Store store;
  std::unique_ptr<S3Client> client;
};

// Goal: Stat, ListDir and reads of s3:// paths answer from the listing
// (keys a path cannot name left out; a key that is also a directory is the
// directory); other paths go to the base file system.
TEST(S3FileSystem, PathsListingsReads) {
  Dataset d;
  S3WriteResult w;
  for (const char* odd :
       {"ship/bad//key", "ship/./dot", "ship/marker/", "ship/dir"}) {
    ASSERT_VALISE_OK(
        d.client->PutObject("b", odd, PayloadOf("odd"), {}, false, &w));
  }
  auto fs = NewS3FileSystem(d.disk.get(), d.client.get(), 4);
  FileInfo info;
  ASSERT_VALISE_OK(fs->Stat("s3://b/ship", &info));
  EXPECT_EQ(info.type, FileType::kDirectory);
  ASSERT_VALISE_OK(fs->Stat("s3://b/ship/a", &info));
  EXPECT_EQ(info.type, FileType::kRegular);
  EXPECT_EQ(info.size, 300u * 1024 + 17);
  EXPECT_GT(info.mtime_ns, 0);
  ASSERT_VALISE_OK(fs->Stat("s3://b/ship/dir", &info));
  EXPECT_EQ(info.type, FileType::kDirectory);
  EXPECT_TRUE(fs->Stat("s3://b/ship/nope", &info).IsNotFound());

  std::vector<DirEntry> entries;
  ASSERT_VALISE_OK(fs->ListDir("s3://b/ship", &entries));
  std::vector<std::string> names;
  for (const auto& e : entries) names.push_back(e.name);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names,
            (std::vector<std::string>{"a", "bad", "dir", "empty", "marker"}));
  ASSERT_VALISE_OK(fs->ListDir("s3://b/ship/dir", &entries));
  ASSERT_EQ(entries.size(), 2u);

  std::unique_ptr<File> f;
  ASSERT_VALISE_OK(fs->OpenForRead("s3://b/ship/dir/t x+y", ReadOptions(), &f));
  EXPECT_EQ(f->native_handle(), -1);
  std::string buf(100, '\0');
  size_t got = 0;
  ASSERT_VALISE_OK(f->ReadAt(kChunk - 50, 100, buf.data(), &got));
  EXPECT_EQ(got, 51u);
  EXPECT_EQ(buf.substr(0, 51),
            test::RandomBytes(kChunk + 1, 3).substr(kChunk - 50));
  EXPECT_FALSE(f->WriteAt(0, "x", 1).ok());

  // The base file system still serves its own paths.
  ASSERT_VALISE_OK(fs->Stat("d1/a", &info));
  EXPECT_TRUE(fs->Stat("s3://nobucket/x", &info).IsNotFound());
}

// Goal: verify of s3://b/ship against the manifest of the same files:
// every file ok, read with GETs through the thread pool; an object whose
// bytes differ is corrupt; a missing one missing.
TEST(S3FileSystem, VerifyAnS3Drive) {
  Dataset d;
  Manifest m = d.MakeManifest();
  ASSERT_EQ(m.size(), 4u);
  auto fs = NewS3FileSystem(d.disk.get(), d.client.get(), 4);
  RunReport r;
  ASSERT_VALISE_OK(VerifyDrives(fs.get(), m, nullptr, {"s3://b/ship"},
                                test::SmallPipelineOptions(kChunk, 1), &r));
  EXPECT_EQ(r.files_ok, 4u) << FormatSummary(r);
  EXPECT_EQ(r.ExitCode(), 0);
  EXPECT_GT(d.client->stats().bytes_downloaded, 300u * 1024);

  // Another object under the same name; another gone.
  S3WriteResult w;
  std::string bad = test::RandomBytes(5 * kChunk, 99);
  ASSERT_VALISE_OK(d.client->PutObject("b", "ship/dir/sub/s", PayloadOf(bad),
                                       {}, false, &w));
  ASSERT_VALISE_OK(d.client->DeleteObject("b", "ship/a"));
  auto fs2 = NewS3FileSystem(d.disk.get(), d.client.get(), 4);
  RunReport r2;
  ASSERT_VALISE_OK(VerifyDrives(fs2.get(), m, nullptr, {"s3://b/ship"},
                                test::SmallPipelineOptions(kChunk, 1), &r2));
  EXPECT_EQ(r2.files_ok, 2u) << FormatSummary(r2);
  EXPECT_EQ(r2.ExitCode(), 1);
  bool corrupt = false, missing = false;
  for (const FileResult& f : r2.files) {
    if (f.path == "dir/sub/s" && f.status == FileStatus::kCorrupt) {
      corrupt = true;
    }
    if (f.path == "a" && f.status == FileStatus::kMissing) missing = true;
  }
  EXPECT_TRUE(corrupt) << FormatSummary(r2);
  EXPECT_TRUE(missing) << FormatSummary(r2);
}

// Goal: under the store's faults (500s, SlowDown, resets mid-answer), the
// client's retries still verify every file.
TEST(S3FileSystem, VerifyThroughFaults) {
  Dataset d;
  Manifest m = d.MakeManifest();
  FakeS3Faults f;
  f.reset_one_in = 4;
  f.error_500_one_in = 5;
  f.slowdown_one_in = 5;
  d.store.SetFaults(f);
  auto client = d.store.NewClient(20);
  auto fs = NewS3FileSystem(d.disk.get(), client.get(), 4);
  RunReport r;
  ASSERT_VALISE_OK(VerifyDrives(fs.get(), m, nullptr, {"s3://b/ship"},
                                test::SmallPipelineOptions(kChunk, 1), &r));
  EXPECT_EQ(r.files_ok, 4u) << FormatSummary(r);
  EXPECT_GT(client->stats().retries, 0u);
}

// Goal: the store out of reach once the listing is done: the drive is
// given up (its files unreadable, exit 1), not read sector by sector.
TEST(S3FileSystem, StoreGoneMidVerify) {
  Dataset d;
  Manifest m = d.MakeManifest();
  auto client = d.store.NewClient(2);
  auto fs = NewS3FileSystem(d.disk.get(), client.get(), 2);
  FileInfo info;
  ASSERT_VALISE_OK(fs->Stat("s3://b/ship", &info));  // listed now
  d.store.SetUnavailable(true);
  RunReport r;
  ASSERT_VALISE_OK(VerifyDrives(fs.get(), m, nullptr, {"s3://b/ship"},
                                test::SmallPipelineOptions(kChunk, 1), &r));
  EXPECT_LT(r.files_ok, 4u);
  EXPECT_EQ(r.ExitCode(), 1) << FormatSummary(r);
  // A few GETs (each retried twice), not one per 4 KiB sector.
  EXPECT_LT(d.store.counters().refused, 40u);
}

// Goal: WriteSmallFile of an s3:// path is one PUT of the whole bytes
// that never replaces an object (EEXIST, the object unchanged); the
// other file system operations stay read-only.
TEST(S3FileSystem, WriteSmallFileNeverReplaces) {
  Dataset d;
  auto fs = NewS3FileSystem(d.disk.get(), d.client.get(), 2);
  ASSERT_VALISE_OK(fs->WriteSmallFile("s3://b/ship/.valise/runs/r1.json",
                                      "{\"one\": 1}\n", 0644));
  std::string got;
  ASSERT_TRUE(d.store.ObjectBytes("b", "ship/.valise/runs/r1.json", &got));
  EXPECT_EQ(got, "{\"one\": 1}\n");
  Status s = fs->WriteSmallFile("s3://b/ship/a", "other", 0644);
  EXPECT_EQ(s.err(), EEXIST) << s.ToString();
  ASSERT_TRUE(d.store.ObjectBytes("b", "ship/a", &got));
  EXPECT_EQ(got.size(), 300u * 1024 + 17);
  std::unique_ptr<OutputFile> out;
  EXPECT_FALSE(
      fs->CreateOutput("s3://b/ship/new", 0644, OutputOptions(), &out).ok());
}

}  // namespace
}  // namespace valise
