// Every message about a stalled drive names the drive (issue 12, item 6):
// `valise manifest` printed "drive stalled" once per file left unread,
// naming neither the file nor the drive.
#include "support/pipeline_util.h"
#include "support/test_util.h"
#include "valise/manifest.h"
#include "valise/pipeline.h"
#include "valise/sim_disk.h"

namespace valise {
namespace {

constexpr size_t kChunk = 64 << 10;

PipelineOptions Options() {
  PipelineOptions opt = test::SmallPipelineOptions(kChunk, 0);
  opt.depth = 1;  // one file at a time: the others are left unread
  return opt;
}

void Fill(SimDisk* disk) {
  for (int i = 0; i < 5; ++i) {
    disk->AddFile("d1/a" + std::to_string(i), test::RandomBytes(kChunk, i));
    disk->AddFile("d2/b" + std::to_string(i),
                  test::RandomBytes(2 * kChunk, 10 + i));
  }
}

// Goal: manifest of a drive that stops answering: one error per file of
// it, each naming the file and the drive; the other drive's files read.
TEST(StallNames, ManifestErrorsNameTheDrive) {
  SimDisk disk(SimDiskOptions{});
  Fill(&disk);
  disk.Stall("d2/");
  Manifest m;
  ManifestSummary summary;
  Status s = MakeManifest(&disk, {"d1", "d2"}, test::ShaXxh(), Options(), &m,
                          nullptr, &summary);
  ASSERT_FALSE(s.ok());
  ASSERT_EQ(summary.errors.size(), 5u) << s.ToString();
  for (const std::string& e : summary.errors) {
    EXPECT_NE(e.find("d2/b"), std::string::npos) << e;
    EXPECT_NE(e.find("drive d2"), std::string::npos) << e;
  }
}

// Goal: verify: every stalled file's detail names the drive.
TEST(StallNames, VerifyDetailsNameTheDrive) {
  SimDisk disk(SimDiskOptions{});
  Fill(&disk);
  Manifest m;
  ManifestSummary summary;
  ASSERT_VALISE_OK(MakeManifest(&disk, {"d1", "d2"}, test::ShaXxh(), Options(),
                                &m, nullptr, &summary));
  disk.Stall("d2/");
  RunReport r;
  ASSERT_VALISE_OK(
      VerifyDrives(&disk, m, nullptr, {"d1", "d2"}, Options(), &r));
  EXPECT_EQ(r.files_ok, 5u);
  int stalled = 0;
  for (const FileResult& f : r.files) {
    if (f.status != FileStatus::kStalled) continue;
    ++stalled;
    EXPECT_NE(f.detail.find("drive d2"), std::string::npos) << f.detail;
  }
  EXPECT_EQ(stalled, 5) << FormatSummary(r);
}

}  // namespace
}  // namespace valise
