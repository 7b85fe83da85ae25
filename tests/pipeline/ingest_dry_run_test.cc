// valise ingest --dry-run (issue 14): what is in place in DEST, what each
// SRC would supply, what would still be missing; nothing written. On the
// simulated disk.
#include "valise/ingest_dry_run.h"

#include "pipeline/scan.h"
#include "support/pipeline_util.h"
#include "support/test_util.h"
#include "valise/pipeline.h"
#include "valise/sim_disk.h"

namespace valise {
namespace {

constexpr size_t kChunk = 64 << 10;

// Every path under `dir` (recursively), with its size.
void Tree(FileSystem* fs, const std::string& dir,
          std::vector<std::string>* out) {
  std::vector<DirEntry> entries;
  if (!fs->ListDir(dir, &entries).ok()) return;
  for (const DirEntry& e : entries) {
    const std::string p = dir + "/" + e.name;
    FileInfo info;
    ASSERT_VALISE_OK(fs->Stat(p, &info));
    out->push_back(p + " " + std::to_string(info.size));
    if (info.type == FileType::kDirectory) Tree(fs, p, out);
  }
}

// s1 {a, b}, s2 {c, shared}, s3 {d, shared}, s4 {e}; s1 already ingested.
TEST(IngestDryRun, SaysWhatIsInPlaceWhatEachDriveSuppliesAndWritesNothing) {
  SimDisk disk(SimDiskOptions{});
  const std::string shared = test::RandomBytes(kChunk + 9, 9);
  disk.AddFile("s1/a", test::RandomBytes(1000, 1), 1000);
  disk.AddFile("s1/b", test::RandomBytes(2 * kChunk, 2), 1000);
  disk.AddFile("s2/c", test::RandomBytes(3000, 3), 1000);
  disk.AddFile("s2/shared", shared, 1000);
  disk.AddFile("s3/d", test::RandomBytes(kChunk, 4), 1000);
  disk.AddFile("s3/shared", shared, 1000);
  disk.AddFile("s4/e", test::RandomBytes(500, 5), 1000);
  const PipelineOptions opt = test::SmallPipelineOptions(kChunk, 1);
  Manifest m;
  ManifestSummary summary;
  ASSERT_VALISE_OK(MakeManifest(&disk, {"s1", "s2", "s3", "s4"}, test::ShaXxh(),
                                opt, &m, nullptr, &summary));
  RunReport r;
  ASSERT_VALISE_OK(
      IngestDrives(&disk, m, {"s1"}, "dest", opt, IngestOptions(), &r));
  std::vector<std::string> before;
  Tree(&disk, "dest", &before);

  IngestDryRun plan;
  ASSERT_VALISE_OK(PlanIngestDryRun(&disk, m, nullptr, {"s2", "s3", "gone"},
                                    {"ship-02", "", ""}, "dest", &plan));
  EXPECT_EQ(plan.dest.files_arrived, 2u);
  ASSERT_EQ(plan.drives.size(), 3u);
  // c and shared from s2 (shared: s2 supplies fewer bytes than s3 when
  // it is placed), d from s3; e is on no SRC given.
  EXPECT_EQ(plan.drives[0].files, 2u);
  EXPECT_EQ(plan.drives[0].bytes, 3000u + kChunk + 9);
  EXPECT_EQ(plan.drives[1].files, 1u);
  EXPECT_EQ(plan.drives[1].bytes, kChunk);
  EXPECT_EQ(plan.drives[2].files, 0u);
  EXPECT_FALSE(plan.drives[2].error.empty());
  ASSERT_EQ(plan.unavailable.size(), 1u);
  EXPECT_EQ(m.path(plan.unavailable[0]), "e");
  EXPECT_EQ(plan.bytes_unavailable, 500u);
  EXPECT_EQ(plan.ExitCode(), 1);
  const std::string text = FormatIngestDryRun(plan, m, "dest");
  EXPECT_NE(text.find("in place: 2 of 6 files"), std::string::npos) << text;
  EXPECT_NE(text.find("would read: 3 files"), std::string::npos) << text;
  EXPECT_NE(
      text.find("  ship-02             2 files    66.9 KiB     0:01  s2\n"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find("  -                   1 files    64.0 KiB     0:01  s3\n"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("still missing after it: 1 files, 500 B"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("  e (500 B)"), std::string::npos) << text;
  for (size_t i = 0; i + 1 < text.size();) {
    const size_t nl = text.find('\n', i);
    EXPECT_LE(nl - i, 80u) << text.substr(i, nl - i);
    i = nl + 1;
  }

  // Nothing written: DEST's tree is as it was.
  std::vector<std::string> after;
  Tree(&disk, "dest", &after);
  EXPECT_EQ(before, after);

  // With s4 too, every file would be in place.
  ASSERT_VALISE_OK(PlanIngestDryRun(&disk, m, nullptr, {"s2", "s3", "s4"}, {},
                                    "dest", &plan));
  EXPECT_EQ(plan.ExitCode(), 0);
  EXPECT_NE(
      FormatIngestDryRun(plan, m, "dest").find("after it: every file in place"),
      std::string::npos);
}

TEST(IngestDryRun, PredictedTimeIsTheSlowestDrivesAtItsAssumedRate) {
  // Goal: each drive's time is its bytes over the rate assumed for its
  // kind; the run's is the slowest drive's (in parallel), not the sum.
  IngestDryRun p;
  p.drives.resize(3);
  p.drives[0].bytes = 900'000'000'000;  // spinning: 5000 s
  p.drives[0].spinning = true;
  p.drives[1].bytes = 1'800'000'000'000;  // solid: 4000 s
  p.drives[2].bytes = 0;
  PredictDryRun(&p);
  EXPECT_DOUBLE_EQ(p.drives[0].rate, kAssumedSpinningRate);
  EXPECT_DOUBLE_EQ(p.drives[1].rate, kAssumedSolidRate);
  EXPECT_DOUBLE_EQ(p.drives[0].seconds, 5000);
  EXPECT_DOUBLE_EQ(p.drives[1].seconds, 4000);
  EXPECT_DOUBLE_EQ(p.drives[2].seconds, 0);
  EXPECT_DOUBLE_EQ(p.seconds, 5000);
  EXPECT_EQ(p.slowest, 0);
  EXPECT_EQ(p.files(), 0u);
  EXPECT_EQ(p.bytes(), 2'700'000'000'000u);
  IngestDryRun none;
  PredictDryRun(&none);
  EXPECT_EQ(none.seconds, 0);
  EXPECT_EQ(none.slowest, -1);
}

TEST(IngestDryRun, SpaceNeededAndWhetherItFits) {
  // Goal: a run writing N files of B bytes needs B + 4 KiB a file and N
  // inodes; it fits when both are free, exactly at the limit too; an
  // unknown free space never refuses.
  IngestDryRun::Space sp;
  NeedSpace(10, 1'000'000, &sp);
  EXPECT_EQ(sp.need_bytes, 1'000'000u + 10 * kSpacePerFile);
  EXPECT_EQ(sp.need_inodes, 10u);
  EXPECT_TRUE(sp.Fits());  // not known
  sp.known = true;
  sp.free_bytes = sp.need_bytes;
  sp.free_inodes = 10;
  EXPECT_TRUE(sp.Fits());
  sp.free_bytes = sp.need_bytes - 1;
  EXPECT_FALSE(sp.Fits());
  sp.free_bytes = sp.need_bytes;
  sp.free_inodes = 9;
  EXPECT_FALSE(sp.Fits());
}

TEST(IngestDryRun, DestSpaceOfItsNearestExistingParent) {
  // Goal: DEST not made yet is measured at its nearest existing parent
  // (the run makes it there); the plan carries the figures.
  test::TempDir dir;
  dir.Write("s/a", std::string(5000, 'a'));
  FileSystem* fs = FileSystem::Default();
  const PipelineOptions opt = test::SmallPipelineOptions(kChunk, 1);
  Manifest m;
  ManifestSummary summary;
  ASSERT_VALISE_OK(MakeManifest(fs, {dir.path() + "/s"}, test::ShaXxh(), opt,
                                &m, nullptr, &summary));
  IngestDryRun plan;
  ASSERT_VALISE_OK(PlanIngestDryRun(fs, m, nullptr, {dir.path() + "/s"}, {},
                                    dir.path() + "/new/dest", &plan));
  EXPECT_EQ(plan.space.at, dir.path());
  EXPECT_TRUE(plan.space.known) << plan.space.error;
  EXPECT_EQ(plan.space.need_bytes, 5000u + kSpacePerFile);
  EXPECT_EQ(plan.space.need_inodes, 1u);
  EXPECT_GT(plan.space.free_bytes, 0u);
  const std::string text =
      FormatIngestDryRun(plan, m, dir.path() + "/new/dest");
  EXPECT_NE(text.find("predicted time: 0:01 (the slowest drive: "),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("DEST space: fits\n  the run writes 8.9 KiB and 1 "
                      "files\n  free: "),
            std::string::npos)
      << text;
}

// Goal: the plan keeps its scan of the SRCs (IngestDryRun::scans), one
// per SRC, and a run given it (IngestOptions::scans, as valise ingest's
// space check does) takes it instead of scanning again: a file put on a
// drive after the plan is not seen, where a run that scans reports it as
// extra; both runs stage the dataset.
TEST(IngestDryRun, TheRunTakesThePlansScan) {
  for (bool given : {true, false}) {
    SCOPED_TRACE(given);
    SimDisk disk(SimDiskOptions{});
    disk.AddFile("s1/a", test::RandomBytes(1000, 1), 1000);
    disk.AddFile("s2/b", test::RandomBytes(3000, 2), 1000);
    const PipelineOptions opt = test::SmallPipelineOptions(kChunk, 1);
    Manifest m;
    ManifestSummary summary;
    ASSERT_VALISE_OK(MakeManifest(&disk, {"s1", "s2"}, test::ShaXxh(), opt, &m,
                                  nullptr, &summary));
    IngestDryRun plan;
    ASSERT_VALISE_OK(
        PlanIngestDryRun(&disk, m, nullptr, {"s1", "s2"}, {}, "dest", &plan));
    ASSERT_NE(plan.scans, nullptr);
    EXPECT_EQ(plan.scans->size(), 2u);
    disk.AddFile("s2/late", "after the plan", 1000);
    IngestOptions io;
    if (given) io.scans = plan.scans;
    RunReport r;
    ASSERT_VALISE_OK(IngestDrives(&disk, m, {"s1", "s2"}, "dest", opt, io, &r));
    EXPECT_EQ(r.files_ok, 2u) << FormatSummary(r);
    bool late = false;
    for (const FileResult& f : r.files) {
      late = late || (f.path == "late" && f.status == FileStatus::kExtra);
    }
    EXPECT_EQ(late, !given) << FormatSummary(r);
  }
}

TEST(VerifyDryRun, EveryCopyFoundAndWhatIsOnNoSrc) {
  // Goal: verify --dry-run counts every copy of the manifest's size on
  // each SRC (verify reads them all), and names the files on none.
  SimDisk disk(SimDiskOptions{});
  const std::string shared = test::RandomBytes(3000, 9);
  disk.AddFile("s1/a", test::RandomBytes(1000, 1), 1000);
  disk.AddFile("s1/shared", shared, 1000);
  disk.AddFile("s2/shared", shared, 1000);
  disk.AddFile("s3/e", test::RandomBytes(500, 5), 1000);
  const PipelineOptions opt = test::SmallPipelineOptions(kChunk, 1);
  Manifest m;
  ManifestSummary summary;
  ASSERT_VALISE_OK(MakeManifest(&disk, {"s1", "s2", "s3"}, test::ShaXxh(), opt,
                                &m, nullptr, &summary));
  IngestDryRun plan;
  ASSERT_VALISE_OK(PlanVerifyDryRun(&disk, m, {"s1", "s2"}, {}, &plan));
  ASSERT_EQ(plan.drives.size(), 2u);
  EXPECT_EQ(plan.drives[0].files, 2u);
  EXPECT_EQ(plan.drives[0].bytes, 4000u);
  EXPECT_EQ(plan.drives[1].files, 1u);
  EXPECT_EQ(plan.drives[1].bytes, 3000u);
  ASSERT_EQ(plan.unavailable.size(), 1u);
  EXPECT_EQ(m.path(plan.unavailable[0]), "e");
  EXPECT_EQ(plan.ExitCode(), 1);
  const std::string text = FormatVerifyDryRun(plan, m);
  EXPECT_NE(text.find("would read: 3 files, 6.8 KiB"), std::string::npos)
      << text;
  EXPECT_NE(text.find("on no SRC given: 1 files, 500 B"), std::string::npos)
      << text;
  for (size_t i = 0; i + 1 < text.size();) {
    const size_t nl = text.find('\n', i);
    EXPECT_LE(nl - i, 80u) << text.substr(i, nl - i);
    i = nl + 1;
  }
}

}  // namespace
}  // namespace valise
