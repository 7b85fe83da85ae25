// Repair by chunk on the simulated disk (issue 15, item 3): two copies of
// a file on two drives, each with different bad chunks (a chunk that
// differs from its signed digest, sectors that cannot be read), make one
// good staged file, and only the chunks still missing are read from the
// second copy.
#include "pipeline/chunk_repair.h"

#include <nlohmann/json.hpp>

#include "support/chunked_manifest.h"
#include "support/pipeline_util.h"
#include "support/test_util.h"
#include "valise/chunk_index_v2.h"
#include "valise/manifest.h"
#include "valise/pipeline.h"
#include "valise/sidecar.h"
#include "valise/sim_disk.h"

namespace valise {
namespace {

constexpr size_t kChunk = 64 << 10;
// big: 40 chunks and 100 bytes, on d1 and d2; small: one chunk, on d1.
constexpr uint64_t kBig = 40 * kChunk + 100;
constexpr uint64_t kSmall = 1000;

PipelineOptions Options() {
  PipelineOptions opt = test::SmallPipelineOptions(kChunk, 2);
  opt.depth = 2;
  return opt;
}

struct Shipment {
  std::unique_ptr<SimDisk> disk;
  Manifest m;
  std::unique_ptr<ChunkIndexV2> index;
  std::string big;
};

// d1 and d2 hold big; d1 holds small; m/M.chunks is the signed chunk
// index, made from d1 before any damage.
Shipment Make() {
  Shipment s;
  s.big = test::RandomBytes(kBig, 21);
  s.disk = std::make_unique<SimDisk>(SimDiskOptions());
  s.disk->AddFile("d1/big", s.big, 1000);
  s.disk->AddFile("d1/small", test::RandomBytes(kSmall, 22), 1001);
  s.disk->AddFile("d2/big", s.big, 1000);
  test::MakeChunkedManifest(s.disk.get(), {"d1"}, Options(), &s.m, &s.index);
  return s;
}

PipelineOptions Signed(const Shipment& s) {
  PipelineOptions opt = Options();
  opt.chunk_index = s.index.get();
  opt.chunk_index_signed = true;
  return opt;
}

uint64_t BytesRead(const RunReport& r) {
  uint64_t n = 0;
  for (const DriveReport& d : r.drives) n += d.bytes_read;
  return n;
}

// The rows of big's failed copies.
std::vector<const FileResult*> BadRows(const RunReport& r) {
  std::vector<const FileResult*> rows;
  for (const FileResult& f : r.files) {
    if (f.path == "big" && f.status != FileStatus::kOk) rows.push_back(&f);
  }
  return rows;
}

// Goal: copy 1 has chunk 3 flipped and chunk 20 unreadable, copy 2 has
// chunks 10 and 30 flipped: the file lands whole and right, the second
// copy read is read only for the two chunks the first lacked, and the
// report says which chunks came from which drive. Both orders of the
// drives (either copy first).
TEST(ChunkRepair, TwoCopiesWithDisjointBadChunksMakeOneGoodFile) {
  for (bool swap : {false, true}) {
    SCOPED_TRACE(swap);
    Shipment s = Make();
    s.disk->FlipStoredBit("d1/big", 3 * kChunk + 5, 1);
    s.disk->AddBadRange("d1/big", 20 * kChunk + 4096, 512);
    s.disk->FlipStoredBit("d2/big", 10 * kChunk + 7, 0);
    s.disk->FlipStoredBit("d2/big", 30 * kChunk, 3);
    std::vector<std::string> drives = {"d1", "d2"};
    if (swap) std::swap(drives[0], drives[1]);
    RunReport r;
    ASSERT_VALISE_OK(IngestDrives(s.disk.get(), s.m, drives, "dest", Signed(s),
                                  IngestOptions(), &r));
    const std::string summary = FormatSummary(r);
    EXPECT_EQ(r.ExitCode(), 1) << summary;  // a drive carried bad data
    std::string got;
    ASSERT_TRUE(s.disk->GetFile("dest/big", &got)) << summary;
    EXPECT_TRUE(got == s.big);
    EXPECT_FALSE(s.disk->Exists("dest/.valise/staging/r0"));
    // Every byte of big once, plus the two chunks the first copy lacked
    // (less the sector that could not be read, if d1 was read first).
    uint64_t unreadable = 0;
    for (const FileResult& f : r.files) {
      for (const BadRange& b : f.bad_ranges) unreadable += b.length;
    }
    EXPECT_EQ(BytesRead(r), kBig + 2 * kChunk + kSmall - unreadable) << summary;
    EXPECT_EQ(r.files_repaired_by_chunk, 1u);
    EXPECT_EQ(r.bytes_read_for_chunk_repair, 2 * kChunk);
    std::vector<const FileResult*> rows = BadRows(r);
    ASSERT_EQ(rows.size(), 1u) << summary;
    const FileResult& row = *rows[0];
    ASSERT_EQ(row.chunks_from.size(), 2u) << summary;
    EXPECT_EQ(row.chunks_from[0].drive, row.drive);
    EXPECT_EQ(row.chunks_from[1].drive, row.repaired_from);
    EXPECT_NE(row.drive, row.repaired_from);
    const ChunkRuns from_second = r.drives[row.repaired_from].source == "d2"
                                      ? ChunkRuns{{3, 3}, {20, 20}}
                                      : ChunkRuns{{10, 10}, {30, 30}};
    EXPECT_EQ(row.chunks_from[1].chunks, from_second);
    EXPECT_EQ(row.repair_bytes_read, 2 * kChunk);
    EXPECT_NE(summary.find("repaired by chunk: chunks 0-"), std::string::npos)
        << summary;
    EXPECT_NE(summary.find("repair: 1 file made whole from the good chunks"),
              std::string::npos)
        << summary;
    auto j = nlohmann::json::parse(FormatJson(r));
    EXPECT_EQ(j["totals"]["files_repaired_by_chunk"], 1);
    EXPECT_EQ(j["totals"]["bytes_read_for_chunk_repair"], 2 * kChunk);
    bool found = false;
    for (const auto& f : j["files"]) {
      if (!f.contains("chunks_from")) continue;
      found = true;
      EXPECT_EQ(f["chunks_from"].size(), 2u);
      EXPECT_EQ(f["chunks_from"][1]["drive"],
                r.drives[row.repaired_from].source);
      EXPECT_EQ(f["repair_bytes_read"], 2 * kChunk);
    }
    EXPECT_TRUE(found);
    EXPECT_NE(FormatHtml(r).find("repaired by chunk"), std::string::npos);
    // What landed verifies, by the whole-file digests too.
    RunReport v;
    ASSERT_VALISE_OK(
        VerifyDrives(s.disk.get(), s.m, nullptr, {"dest"}, Options(), &v));
    EXPECT_EQ(v.files_ok, 2u) << FormatSummary(v);
  }
}

// Goal: chunk 5 is bad on both copies (flipped on one, unreadable on the
// other): the file fails, nothing is under its name, its kept staged
// file is gone, and the report names chunk 5 as the one no copy had good.
TEST(ChunkRepair, AChunkBadOnEveryCopyFailsTheFileAndIsNamed) {
  Shipment s = Make();
  s.disk->FlipStoredBit("d1/big", 5 * kChunk + 1, 1);
  s.disk->FlipStoredBit("d1/big", 7 * kChunk + 1, 1);
  s.disk->AddBadRange("d2/big", 5 * kChunk, 512);
  RunReport r;
  ASSERT_VALISE_OK(IngestDrives(s.disk.get(), s.m, {"d1", "d2"}, "dest",
                                Signed(s), IngestOptions(), &r));
  const std::string summary = FormatSummary(r);
  EXPECT_EQ(r.ExitCode(), 1) << summary;
  EXPECT_FALSE(s.disk->Exists("dest/big"));
  EXPECT_FALSE(s.disk->Exists("dest/.valise/staging/r0"));
  EXPECT_EQ(r.files_repaired_by_chunk, 0u);
  std::vector<const FileResult*> rows = BadRows(r);
  ASSERT_EQ(rows.size(), 2u) << summary;
  EXPECT_EQ(rows[1]->chunks_lost, (ChunkRuns{{5, 5}})) << summary;
  EXPECT_NE(summary.find("no copy had chunk 5 good"), std::string::npos)
      << summary;
  auto j = nlohmann::json::parse(FormatJson(r));
  bool found = false;
  for (const auto& f : j["files"]) {
    if (f.contains("chunks_lost")) {
      found = true;
      EXPECT_EQ(f["chunks_lost"], nlohmann::json::parse("[[5,5]]"));
    }
  }
  EXPECT_TRUE(found);
}

// Goal: with the whole-file digests deciding (--hash-only sha256, signed
// or not), nothing is repaired by chunk: the second copy is read whole,
// as before.
TEST(ChunkRepair, WithFileDigestsDecidingTheNextCopyIsReadWhole) {
  Shipment s = Make();
  s.disk->FlipStoredBit("d1/big", 3 * kChunk + 5, 1);
  PipelineOptions opt = Signed(s);
  opt.hash_only.Add(DigestType::kSha256);
  RunReport r;
  ASSERT_VALISE_OK(IngestDrives(s.disk.get(), s.m, {"d1", "d2"}, "dest", opt,
                                IngestOptions(), &r));
  EXPECT_EQ(r.ExitCode(), 1) << FormatSummary(r);
  EXPECT_EQ(r.files_repaired_by_chunk, 0u);
  std::string got;
  ASSERT_TRUE(s.disk->GetFile("dest/big", &got));
  EXPECT_TRUE(got == s.big);
  // d1 first or d2 first: big whole once or twice.
  EXPECT_TRUE(BytesRead(r) == kBig + kSmall ||
              BytesRead(r) == 2 * kBig + kSmall)
      << FormatSummary(r);
}

}  // namespace
}  // namespace valise

namespace valise {
namespace {

// Goal: verify stages nothing, but a file no copy of which is intact,
// whose copies' bad chunks differ, is reported repairable: each copy's row
// names the drive whose copy has its bad chunks good; a chunk bad on both
// is named as good on no copy.
TEST(ChunkRepair, VerifySaysWhereEachCopysBadChunksAreGood) {
  Shipment s = Make();
  s.disk->FlipStoredBit("d1/big", 3 * kChunk + 5, 1);
  s.disk->FlipStoredBit("d1/big", 9 * kChunk + 5, 1);
  s.disk->FlipStoredBit("d2/big", 9 * kChunk + 6, 1);
  s.disk->FlipStoredBit("d2/big", 30 * kChunk, 3);
  RunReport v;
  ASSERT_VALISE_OK(
      VerifyDrives(s.disk.get(), s.m, nullptr, {"d1", "d2"}, Signed(s), &v));
  const std::string summary = FormatSummary(v);
  EXPECT_EQ(v.ExitCode(), 1) << summary;
  std::vector<const FileResult*> rows = BadRows(v);
  ASSERT_EQ(rows.size(), 2u) << summary;
  for (const FileResult* r : rows) {
    const bool on_d1 = v.drives[r->drive].source == "d1";
    EXPECT_NE(r->detail.find(on_d1 ? "repairable by chunk: chunk 3 from d2"
                                   : "repairable by chunk: chunk 30 from d1"),
              std::string::npos)
        << r->detail;
    EXPECT_NE(r->detail.find("no copy has chunk 9 good"), std::string::npos)
        << r->detail;
  }
}

}  // namespace
}  // namespace valise
