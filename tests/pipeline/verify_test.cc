// Pipeline tests of manifest and verify on the simulated disk: every
// result class, faults confined to their drive, and the manifest round trip.
#include <algorithm>

#include "support/pipeline_util.h"
#include "support/test_util.h"
#include "valise/manifest.h"
#include "valise/pipeline.h"
#include "valise/sim_disk.h"

namespace valise {
namespace {

constexpr size_t kChunk = 64 << 10;

PipelineOptions SmallOptions() { return test::SmallPipelineOptions(kChunk, 3); }

using test::ShaXxh;

// Two drives: a and shared/s on d1, b and shared/s on d2 (a redundant copy).
std::unique_ptr<SimDisk> TwoDrives(uint64_t seed = 1) {
  SimDiskOptions o;
  o.seed = seed;
  auto disk = std::make_unique<SimDisk>(o);
  disk->AddFile("d1/a", test::RandomBytes(300 * 1024 + 17, 1), 1000);
  disk->AddFile("d1/empty", "", 1001);
  disk->AddFile("d1/shared/s", test::RandomBytes(5 * kChunk, 2), 1002);
  disk->AddFile("d2/b", test::RandomBytes(kChunk, 3), 1003);
  disk->AddFile("d2/shared/s", test::RandomBytes(5 * kChunk, 2), 1002);
  return disk;
}

Manifest MakeOrDie(SimDisk* disk, ChunkIndex* chunks) {
  Manifest m;
  ManifestSummary summary;
  Status s = MakeManifest(disk, {"d1", "d2"}, ShaXxh(), SmallOptions(), &m,
                          chunks, &summary);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return m;
}

const FileResult* Find(const RunReport& r, std::string_view path,
                       FileStatus status) {
  for (const FileResult& f : r.files) {
    if (f.path == path && f.status == status) return &f;
  }
  return nullptr;
}

// Goal: a manifest of two drives is their union, sorted, with sizes and
// digests that match an independent hash; a clean verify finds nothing.
TEST(VerifyPipeline, ManifestThenCleanVerify) {
  auto disk = TwoDrives();
  ChunkIndex chunks;
  Manifest m = MakeOrDie(disk.get(), &chunks);
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m.path(0), "a");
  EXPECT_EQ(m.path(3), "shared/s");
  EXPECT_EQ(m.file_size(0), 300u * 1024 + 17);
  auto h = Hasher::New(DigestType::kSha256);
  std::string a = test::RandomBytes(300 * 1024 + 17, 1);
  h->Update(a.data(), a.size());
  EXPECT_EQ(m.digest(0, DigestType::kSha256), h->Finish());
  EXPECT_EQ(chunks.chunk_size, kChunk);

  RunReport r;
  ASSERT_VALISE_OK(
      VerifyDrives(disk.get(), m, &chunks, {"d1", "d2"}, SmallOptions(), &r));
  EXPECT_EQ(r.files_ok, 4u);
  EXPECT_TRUE(r.files.empty()) << FormatSummary(r);
  EXPECT_EQ(r.ExitCode(), 0);
  ASSERT_EQ(r.drives.size(), 2u);
  EXPECT_EQ(r.drives[0].bytes_read, 300u * 1024 + 17 + 5 * kChunk);
}

// Goal: a bit flipped at rest is found on that copy only, at the right
// chunk, while the good copy on the other drive still verifies.
TEST(VerifyPipeline, CorruptCopyLocalised) {
  auto disk = TwoDrives();
  ChunkIndex chunks;
  Manifest m = MakeOrDie(disk.get(), &chunks);
  disk->FlipStoredBit("d1/shared/s", 3 * kChunk + 5, 2);
  for (const ChunkIndex* index : {static_cast<const ChunkIndex*>(&chunks),
                                  static_cast<const ChunkIndex*>(nullptr)}) {
    RunReport r;
    ASSERT_VALISE_OK(
        VerifyDrives(disk.get(), m, index, {"d1", "d2"}, SmallOptions(), &r));
    const FileResult* c = Find(r, "shared/s", FileStatus::kCorrupt);
    ASSERT_NE(c, nullptr) << FormatSummary(r);
    EXPECT_EQ(c->drive, 0);
    // With the index, or by comparison with the good copy on d2.
    EXPECT_EQ(c->first_bad_offset, int64_t(3 * kChunk));
    EXPECT_EQ(r.files_ok, 4u);  // the dataset is whole thanks to d2
    EXPECT_EQ(r.ExitCode(), 1);
    EXPECT_EQ(r.drives[0].files_bad, 1u);
    EXPECT_EQ(r.drives[1].files_bad, 0u);
  }
}

// Goal: missing, extra, size mismatch and skipped are each reported, and
// a symlink is never read.
TEST(VerifyPipeline, MissingExtraSizeSkipped) {
  SimDiskOptions o;
  auto disk = std::make_unique<SimDisk>(o);
  disk->AddFile("d1/keep", "hello");
  disk->AddFile("d1/gone", "bye");
  disk->AddFile("d1/grow", "12345");
  Manifest m;
  ManifestSummary summary;
  ASSERT_VALISE_OK(MakeManifest(disk.get(), {"d1"}, ShaXxh(), SmallOptions(),
                                &m, nullptr, &summary));
  auto disk2 = std::make_unique<SimDisk>(o);
  disk2->AddFile("d1/keep", "hello");
  disk2->AddFile("d1/grow", "123456");
  disk2->AddFile("d1/new", "extra");
  disk2->AddSymlink("d1/link", "/etc/passwd");
  disk2->AddSpecial("d1/fifo", FileType::kFifo);
  RunReport r;
  ASSERT_VALISE_OK(
      VerifyDrives(disk2.get(), m, nullptr, {"d1"}, SmallOptions(), &r));
  EXPECT_NE(Find(r, "gone", FileStatus::kMissing), nullptr);
  const FileResult* g = Find(r, "grow", FileStatus::kSizeMismatch);
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->expected_size, 5u);
  EXPECT_EQ(g->actual_size, 6u);
  EXPECT_NE(Find(r, "new", FileStatus::kExtra), nullptr);
  EXPECT_NE(Find(r, "link", FileStatus::kSkipped), nullptr);
  EXPECT_NE(Find(r, "fifo", FileStatus::kSkipped), nullptr);
  EXPECT_EQ(r.files_ok, 1u);
  EXPECT_EQ(r.ExitCode(), 1);
}

// Goal: with RunReport::compact_missing, missing files are held as
// manifest entries (not in `files`), and the report renders exactly as
// without it: same rows in the same places, among size mismatches, bad
// copies, extras and skipped entries.
TEST(VerifyPipeline, CompactMissingRowsRenderTheSame) {
  SimDiskOptions o;
  auto disk = std::make_unique<SimDisk>(o);
  for (const char* p : {"a0", "b1", "b2", "c3", "d4", "e5", "f6"}) {
    disk->AddFile(std::string("d1/") + p, p);
  }
  Manifest m;
  ManifestSummary summary;
  ASSERT_VALISE_OK(MakeManifest(disk.get(), {"d1"}, ShaXxh(), SmallOptions(),
                                &m, nullptr, &summary));
  // a0 and e5 missing, b2 and f6 the wrong size, d4 corrupt, an extra and
  // a symlink.
  auto disk2 = std::make_unique<SimDisk>(o);
  disk2->AddFile("d1/b1", "b1");
  disk2->AddFile("d1/b2", "b22");
  disk2->AddFile("d1/c3", "c3");
  disk2->AddFile("d1/d4", "XX");
  disk2->AddFile("d1/f6", "f");
  disk2->AddFile("d1/new", "extra");
  disk2->AddSymlink("d1/link", "/etc/passwd");
  RunReport full, compact;
  compact.compact_missing = true;
  ASSERT_VALISE_OK(
      VerifyDrives(disk2.get(), m, nullptr, {"d1"}, SmallOptions(), &full));
  ASSERT_VALISE_OK(
      VerifyDrives(disk2.get(), m, nullptr, {"d1"}, SmallOptions(), &compact));
  EXPECT_EQ(compact.num_compact_missing(), 2u);
  EXPECT_EQ(full.num_compact_missing(), 0u);
  EXPECT_EQ(compact.num_files(), full.files.size());
  EXPECT_EQ(compact.files.size() + 2, full.files.size());
  for (const FileResult& f : compact.files) {
    EXPECT_NE(f.status, FileStatus::kMissing) << f.path;
  }
  EXPECT_NE(Find(full, "a0", FileStatus::kMissing), nullptr);
  EXPECT_NE(Find(full, "e5", FileStatus::kMissing), nullptr);
  // Timings differ from run to run; the rest must not.
  compact.started = full.started;
  compact.seconds = full.seconds;
  for (size_t d = 0; d < full.drives.size(); ++d) {
    compact.drives[d].seconds = full.drives[d].seconds;
    compact.drives[d].bytes_per_second = full.drives[d].bytes_per_second;
  }
  EXPECT_EQ(FormatJson(compact), FormatJson(full));
  EXPECT_EQ(FormatSummary(compact), FormatSummary(full));
  EXPECT_EQ(compact.ExitCode(), 1);
}

// Goal: a persistent bad range makes its file unreadable with the range
// recorded; the rest of the drive and the other drive are still verified.
TEST(VerifyPipeline, UnreadableRangeRecorded) {
  auto disk = TwoDrives();
  Manifest m = MakeOrDie(disk.get(), nullptr);
  disk->AddBadRange("d1/a", 2 * kChunk + 100, 10);
  RunReport r;
  ASSERT_VALISE_OK(
      VerifyDrives(disk.get(), m, nullptr, {"d1", "d2"}, SmallOptions(), &r));
  const FileResult* u = Find(r, "a", FileStatus::kUnreadable);
  ASSERT_NE(u, nullptr) << FormatSummary(r);
  // Narrowed to the failing sector, not the whole chunk.
  ASSERT_EQ(u->bad_ranges.size(), 1u);
  EXPECT_EQ(u->bad_ranges[0].offset, 2 * kChunk);
  EXPECT_EQ(u->bad_ranges[0].length, 4096u);
  EXPECT_EQ(u->bad_ranges[0].err, 5);
  EXPECT_EQ(r.files_ok, 3u);  // empty, b, shared/s
  EXPECT_EQ(r.ExitCode(), 1);
}

// Goal: two bad ranges in one chunk, one spanning a sector boundary, are
// recorded sector-exact and apart; the chunk's good sectors are not.
TEST(VerifyPipeline, BadSectorsNarrowed) {
  auto disk = TwoDrives();
  Manifest m = MakeOrDie(disk.get(), nullptr);
  disk->AddBadRange("d2/b", 8192 + 4000, 200);  // sectors 2 and 3
  disk->AddBadRange("d2/b", 40960, 1);          // sector 10
  RunReport r;
  ASSERT_VALISE_OK(
      VerifyDrives(disk.get(), m, nullptr, {"d1", "d2"}, SmallOptions(), &r));
  const FileResult* u = Find(r, "b", FileStatus::kUnreadable);
  ASSERT_NE(u, nullptr) << FormatSummary(r);
  ASSERT_EQ(u->bad_ranges.size(), 2u);
  EXPECT_EQ(u->bad_ranges[0].offset, 8192u);
  EXPECT_EQ(u->bad_ranges[0].length, 8192u);
  EXPECT_EQ(u->bad_ranges[1].offset, 40960u);
  EXPECT_EQ(u->bad_ranges[1].length, 4096u);
}

// Goal: transient errors, short reads and EAGAIN are absorbed by the
// engine: the verify is clean.
TEST(VerifyPipeline, TransientFaultsAbsorbed) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    auto disk = TwoDrives(seed);
    Manifest m = MakeOrDie(disk.get(), nullptr);
    SimFaults f;
    f.read_error_one_in = 7;
    f.short_read_one_in = 3;
    f.eagain_one_in = 5;
    disk->SetFaults("", f);
    RunReport r;
    ASSERT_VALISE_OK(
        VerifyDrives(disk.get(), m, nullptr, {"d1", "d2"}, SmallOptions(), &r));
    EXPECT_EQ(r.ExitCode(), 0) << "seed " << seed << "\n" << FormatSummary(r);
    EXPECT_EQ(r.files_ok, 4u);
  }
}

// Goal: a drive that stops answering is marked stalled and its files
// reported stalled, while the other drive's files verify.
TEST(VerifyPipeline, StalledDriveDoesNotStopOthers) {
  auto disk = TwoDrives();
  Manifest m = MakeOrDie(disk.get(), nullptr);
  disk->Stall("d2/");
  RunReport r;
  ASSERT_VALISE_OK(
      VerifyDrives(disk.get(), m, nullptr, {"d1", "d2"}, SmallOptions(), &r));
  EXPECT_TRUE(r.drives[1].stalled) << FormatSummary(r);
  EXPECT_FALSE(r.drives[0].stalled);
  EXPECT_NE(Find(r, "b", FileStatus::kStalled), nullptr) << FormatSummary(r);
  // a, empty and shared/s (via d1) are whole.
  EXPECT_EQ(r.files_ok, 3u);
  EXPECT_EQ(r.ExitCode(), 1);
}

// Goal: a drive that is gone (a read fails with ENODEV: unplugged) is
// given up at once: its files are reported unreadable without being read
// one failing chunk at a time, the drive's errors say it is gone, and the
// other drive still verifies.
TEST(VerifyPipeline, UnpluggedDriveGivenUpOthersFinish) {
  SimDisk disk(SimDiskOptions{});
  for (int i = 0; i < 6; ++i) {
    disk.AddFile("d1/f" + std::to_string(i), test::RandomBytes(3 * kChunk, i));
    disk.AddFile("d2/g" + std::to_string(i),
                 test::RandomBytes(3 * kChunk, 10 + i));
  }
  Manifest m = MakeOrDie(&disk, nullptr);
  // The first file read on d1 fails from its second chunk on with ENODEV.
  for (int i = 0; i < 6; ++i) {
    disk.AddBadRange("d1/f" + std::to_string(i), kChunk, 2 * kChunk, ENODEV);
  }
  PipelineOptions opt = SmallOptions();
  opt.depth = 1;  // one request at a time: what was read is exact
  RunReport r;
  ASSERT_VALISE_OK(VerifyDrives(&disk, m, nullptr, {"d1", "d2"}, opt, &r));
  ASSERT_EQ(r.drives.size(), 2u);
  ASSERT_FALSE(r.drives[0].errors.empty()) << FormatSummary(r);
  EXPECT_NE(r.drives[0].errors[0].find("drive gone"), std::string::npos)
      << r.drives[0].errors[0];
  EXPECT_TRUE(r.drives[1].errors.empty());
  EXPECT_EQ(r.drives[1].files_ok, 6u) << FormatSummary(r);
  int unreadable = 0;
  for (const FileResult& f : r.files) {
    EXPECT_EQ(f.drive, 0) << f.path;
    EXPECT_EQ(f.status, FileStatus::kUnreadable) << f.path;
    ++unreadable;
  }
  EXPECT_EQ(unreadable, 6) << FormatSummary(r);
  // d1 was not read file after file (the first chunk of each, then an
  // ENODEV): only f0's first chunk was, before the ENODEV came back.
  EXPECT_EQ(r.drives[0].bytes_read, kChunk) << FormatSummary(r);
  EXPECT_EQ(r.ExitCode(), 1);
}

// Goal: the same path with different contents on two sources is refused,
// naming both.
TEST(VerifyPipeline, ManifestRefusesConflictingCopies) {
  SimDiskOptions o;
  SimDisk disk(o);
  disk.AddFile("d1/x", "aaaa");
  disk.AddFile("d2/x", "aaab");
  Manifest m;
  ManifestSummary summary;
  Status s = MakeManifest(&disk, {"d1", "d2"}, ShaXxh(), SmallOptions(), &m,
                          nullptr, &summary);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("d1/x"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("d2/x"), std::string::npos) << s.ToString();
}

// Goal: --hash-only computes just the digests asked for and still catches
// corruption; asking for a digest the manifest lacks is refused.
TEST(VerifyPipeline, HashOnly) {
  auto disk = TwoDrives();
  Manifest m = MakeOrDie(disk.get(), nullptr);
  disk->FlipStoredBit("d2/b", 10, 0);
  PipelineOptions opt = SmallOptions();
  opt.hash_only.Add(DigestType::kXxh128);
  RunReport r;
  ASSERT_VALISE_OK(VerifyDrives(disk.get(), m, nullptr, {"d1", "d2"}, opt, &r));
  const FileResult* c = Find(r, "b", FileStatus::kCorrupt);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->detail.substr(0, 15), "xxh128 mismatch");
  PipelineOptions bad = SmallOptions();
  bad.hash_only.Add(DigestType::kMd5);
  RunReport r2;
  EXPECT_FALSE(
      VerifyDrives(disk.get(), m, nullptr, {"d1", "d2"}, bad, &r2).ok());
}

// Goal: a run cancelled before it starts reports interrupted (exit 130).
TEST(VerifyPipeline, Cancelled) {
  auto disk = TwoDrives();
  Manifest m = MakeOrDie(disk.get(), nullptr);
  std::atomic<bool> cancel{true};
  PipelineOptions opt = SmallOptions();
  opt.cancel = &cancel;
  RunReport r;
  ASSERT_VALISE_OK(VerifyDrives(disk.get(), m, nullptr, {"d1", "d2"}, opt, &r));
  EXPECT_TRUE(r.interrupted);
  EXPECT_EQ(r.ExitCode(), 130);
}

}  // namespace
}  // namespace valise
