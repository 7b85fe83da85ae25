// verify of a packed shipment with drives lost or damaged (issue 18): the
// files no drive given delivers are read through their stripes' parity
// (src/pipeline/parity_source.cc), on the simulated disk.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "pipeline/packed_shipment.h"
#include "pipeline/parity_source.h"
#include "pipeline/scan.h"
#include "valise/pipeline.h"

namespace valise {
namespace {

using test::PackedDrives;
using test::PackedSizes;
using test::Pattern;
using test::Patterns;

struct Rows {
  std::set<std::string> rebuilt, unrecoverable, extra, other;
};

Rows RowsOf(const RunReport& r) {
  Rows out;
  r.ForEachFile([&](const FileResult& f) {
    if (f.parity == FileResult::Parity::kRebuilt) {
      out.rebuilt.insert(f.path);
    } else if (f.parity == FileResult::Parity::kUnrecoverable) {
      out.unrecoverable.insert(f.path);
    } else if (f.status == FileStatus::kExtra) {
      out.extra.insert(f.path);
    } else {
      out.other.insert(f.path);
    }
  });
  return out;
}

RunReport Verify(PackedDrives& p, const std::vector<bool>& lost) {
  std::unique_ptr<PackParity> pack;
  PipelineOptions opt = p.Options(&pack);
  RunReport report;
  Status s =
      VerifyDrives(&p.disk, p.manifest, nullptr, p.Given(lost), opt, &report);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return report;
}

// Goal: ParitySource hands out every byte of every file of a 3+2 pack,
// byte-exact, for every loss of up to 2 drives; the lost drives are named,
// and the spare is what is left of the parity.
TEST(ParitySource, EveryLossOfUpToMDrivesReadsByteExact) {
  PackedDrives p(3, 2, 1, PackedSizes());
  for (const std::vector<bool>& lost : Patterns(5, 0, 2)) {
    std::unique_ptr<PackParity> pack;
    p.Options(&pack);
    std::vector<DriveScan> scans = ScanDrives(&p.disk, p.Given(lost));
    std::unique_ptr<ParitySource> src;
    ASSERT_VALISE_OK(ParitySource::Open(&p.disk, p.manifest, pack.get(),
                                        p.index.get(), scans, &src));
    for (size_t e = 0; e < p.manifest.size(); ++e) {
      ASSERT_TRUE(src->Covers(e));
      const std::string& want = p.contents.at(std::string(p.manifest.path(e)));
      std::string got(want.size(), '\0');
      ASSERT_VALISE_OK(src->Read(e, 0, got.size(), got.data()));
      EXPECT_TRUE(got == want) << Pattern(lost) << " " << p.manifest.path(e);
      // A range inside, across chunks.
      if (want.size() > 5000) {
        std::string mid(5000, '\0');
        ASSERT_VALISE_OK(src->Read(e, 100, mid.size(), mid.data()));
        EXPECT_TRUE(mid == want.substr(100, 5000)) << Pattern(lost);
      }
    }
    const ParityReport r = src->Report();
    uint32_t n = 0;
    for (bool b : lost) n += b;
    EXPECT_EQ(r.drives_lost.size(), n) << Pattern(lost);
    EXPECT_EQ(r.spare, 2 - n) << Pattern(lost);
    EXPECT_EQ(r.stripes_lost, 0u);
  }
}

// Goal (issue 18): verify of a 3+2 pack with any 1 or 2 drives not given
// finds every file whole: each file of a lost data drive is rebuilt from
// parity and named so, nothing else is a problem, the parity files are
// not "extra", and the report says how many more drives could be lost.
TEST(ParityVerify, EveryLossOfUpToMDrivesIsRebuilt) {
  PackedDrives p(3, 2, 2, PackedSizes());
  for (const std::vector<bool>& lost : Patterns(5, 1, 2)) {
    const RunReport r = Verify(p, lost);
    const Rows rows = RowsOf(r);
    const std::string what = Pattern(lost);
    EXPECT_EQ(r.files_ok, p.manifest.size()) << what;
    // Empty files need no drive: they are no loss.
    std::set<std::string> want;
    for (const std::string& f : p.FilesOf(lost)) {
      if (!p.contents.at(f).empty()) want.insert(f);
    }
    std::set<std::string> rebuilt;
    for (const std::string& f : rows.rebuilt) {
      if (!p.contents.at(f).empty()) rebuilt.insert(f);
    }
    EXPECT_EQ(rebuilt, want) << what;
    EXPECT_TRUE(rows.unrecoverable.empty()) << what;
    EXPECT_TRUE(rows.extra.empty()) << what << ": " << *rows.extra.begin();
    EXPECT_TRUE(rows.other.empty()) << what << ": " << *rows.other.begin();
    ASSERT_TRUE(r.parity.present);
    uint32_t n = 0;
    for (bool b : lost) n += b;
    EXPECT_EQ(r.parity.drives_lost.size(), n) << what;
    EXPECT_EQ(r.parity.spare, 2 - n) << what;
    EXPECT_EQ(r.parity.files_rebuilt, rows.rebuilt.size()) << what;
    EXPECT_EQ(r.ExitCode(), want.empty() ? 0 : 1) << what;
  }
}

// Goal (issue 18): with 3 of a 3+2 pack's drives not given, exactly the
// files AssessLoss says cannot come back are named unrecoverable (never
// reported ok), and every other file of the lost drives is rebuilt.
TEST(ParityVerify, MorePlusOneLostNamesExactlyTheUnrecoverableFiles) {
  PackedDrives p(3, 2, 3, PackedSizes());
  for (const std::vector<bool>& lost : Patterns(5, 3, 3)) {
    const RunReport r = Verify(p, lost);
    const Rows rows = RowsOf(r);
    const std::string what = Pattern(lost);
    std::set<std::string> gone = p.Unrecoverable(lost);
    EXPECT_EQ(rows.unrecoverable, gone) << what;
    EXPECT_EQ(r.files_ok, p.manifest.size() - gone.size()) << what;
    for (const std::string& f : rows.rebuilt) {
      EXPECT_EQ(gone.count(f), 0u) << what << " " << f;
    }
    EXPECT_TRUE(rows.other.empty()) << what << ": " << *rows.other.begin();
    EXPECT_EQ(r.parity.files_unrecoverable, gone.size()) << what;
    EXPECT_EQ(r.parity.spare, 0u) << what;
    if (!gone.empty()) {
      EXPECT_GT(r.parity.stripes_lost, 0u) << what;
    }
    EXPECT_EQ(r.ExitCode(), 1) << what;
  }
}

// Goal: a corrupt chunk and an unreadable range on drives that are given
// are rebuilt from parity (the file's copy is still reported corrupt or
// unreadable: its drive carried bad data), counted in what is left of the
// parity; a third loss in the same stripe is named, never guessed.
TEST(ParityVerify, CorruptAndUnreadableChunksAreRebuilt) {
  PackedDrives p(3, 2, 4, PackedSizes());
  // The largest file of data drive 1 and of data drive 2.
  auto largest = [&](uint32_t d) {
    uint32_t best = 0;
    for (uint32_t f = 0; f < p.layout.data[d].files.size(); ++f) {
      if (p.layout.data[d].files[f].size > p.layout.data[d].files[best].size) {
        best = f;
      }
    }
    return best;
  };
  const uint32_t f0 = largest(0), f1 = largest(1);
  const std::string a = p.layout.data[0].files[f0].path;
  const std::string b = p.layout.data[1].files[f1].path;
  p.disk.FlipStoredBit(p.drives[0] + "/" + a, 5000, 3);  // chunk 1
  p.disk.AddBadRange(p.drives[1] + "/" + b, 0, 100);     // chunk 0
  std::vector<bool> none(5, false);
  RunReport r = Verify(p, none);
  Rows rows = RowsOf(r);
  EXPECT_EQ(rows.rebuilt, (std::set<std::string>{a, b}));
  EXPECT_EQ(r.files_ok, p.manifest.size());
  EXPECT_EQ(r.parity.files_rebuilt, 2u);
  EXPECT_EQ(r.parity.chunks_rebuilt, 2u);
  StripeMap map(&p.layout);
  const uint64_t sa = map.StripeOf(0, f0, 1), sb = map.StripeOf(1, f1, 0);
  EXPECT_EQ(r.parity.spare, sa == sb ? 0u : 1u);
  // With parity drive 1 lost too, a stripe holding both bad chunks has
  // three losses; otherwise both come back.
  std::vector<bool> lost(5, false);
  lost[3] = true;
  r = Verify(p, lost);
  rows = RowsOf(r);
  std::set<std::string> gone = p.Unrecoverable(lost, {{0u, sa}, {1u, sb}});
  EXPECT_EQ(rows.unrecoverable, gone);
  EXPECT_EQ(r.files_ok, p.manifest.size() - gone.size());
  // And with both parity drives lost, neither can come back.
  lost[4] = true;
  r = Verify(p, lost);
  rows = RowsOf(r);
  EXPECT_EQ(rows.unrecoverable, (std::set<std::string>{a, b}));
  EXPECT_EQ(r.files_ok, p.manifest.size() - 2);
}

}  // namespace
}  // namespace valise
