// Resume by chunk on the simulated disk (issue 15, item 4): a large file
// whose ingest stopped part way (DEST full) is kept in DEST's staging, and
// the rerun checks that prefix in DEST against the signed chunk digests
// and reads the drive only from the last verified chunk on.
#include "pipeline/chunk_resume.h"

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
// big: 40 chunks and 100 bytes; small: under one chunk (not resumable).
constexpr uint64_t kBig = 40 * kChunk + 100;
constexpr uint64_t kSmall = 1000;
// DEST's room in the first run: 37 chunks of big and some slack for the
// journal and the reflink probe, never a 38th chunk.
constexpr uint64_t kRoom = 37 * kChunk + 8192;
constexpr uint64_t kBallast = 4 << 20;

PipelineOptions Options() {
  PipelineOptions opt = test::SmallPipelineOptions(kChunk, 2);
  opt.depth = 1;  // the big file's chunks staged in order
  return opt;
}

IngestOptions Iopt() {
  IngestOptions io;
  io.depth = 1;
  return io;
}

struct Shipment {
  std::unique_ptr<SimDisk> disk;
  Manifest m;
  std::unique_ptr<ChunkIndexV2> index;
  std::string big;
};

// d1 holds big and small; m/M.chunks the signed chunk index; DEST (on the
// same disk) has kRoom bytes until the ballast is removed.
Shipment Make() {
  Shipment s;
  s.big = test::RandomBytes(kBig, 11);
  const uint64_t index_bytes = kChunkIndexV2HeaderSize + 32 * (41 + 1);
  SimDiskOptions so;
  so.capacity_bytes = kBig + kSmall + index_bytes + kBallast + kRoom;
  s.disk = std::make_unique<SimDisk>(so);
  s.disk->AddFile("d1/big", s.big, 1000);
  s.disk->AddFile("d1/small", test::RandomBytes(kSmall, 12), 1001);
  s.disk->AddFile("ballast", std::string(kBallast, 'b'));
  EXPECT_EQ(test::MakeChunkedManifest(s.disk.get(), {"d1"}, Options(), &s.m,
                                      &s.index),
            index_bytes);
  return s;
}

PipelineOptions Signed(const Shipment& s) {
  PipelineOptions opt = Options();
  opt.chunk_index = s.index.get();
  opt.chunk_index_signed = true;
  return opt;
}

void FreeRoom(SimDisk* disk) {
  std::unique_ptr<Directory> root;
  ASSERT_VALISE_OK(disk->OpenDirectory(".", false, &root));
  ASSERT_VALISE_OK(root->Remove("ballast"));
}

// The first run: DEST fills up inside big. It stops (exit 2) and keeps
// big's staged prefix; `kept` is its bytes.
void FirstRunFillsDest(Shipment* s, std::string* kept) {
  RunReport r;
  Status st =
      IngestDrives(s->disk.get(), s->m, {"d1"}, "dest", Signed(*s), Iopt(), &r);
  ASSERT_TRUE(st.IsNoSpace()) << st.ToString();
  ASSERT_EQ(r.ExitCode(), 2) << FormatSummary(r);
  ASSERT_FALSE(s->disk->Exists("dest/big"));
  ASSERT_TRUE(s->disk->GetFile("dest/.valise/staging/r0", kept))
      << FormatSummary(r);
  ASSERT_GE(kept->size(), 30 * kChunk);
  ASSERT_TRUE(kept->substr(0, 30 * kChunk) == s->big.substr(0, 30 * kChunk));
}

uint64_t BytesRead(const RunReport& r) {
  uint64_t n = 0;
  for (const DriveReport& d : r.drives) n += d.bytes_read;
  return n;
}

// Goal: a file cut short at ~90% by a full DEST resumes from its last
// verified chunk: the rerun reads at most 10% of it and one chunk more
// from its drive (plus the small file), the prefix is checked in DEST, the
// file lands whole and right, and the report says what was resumed.
TEST(ChunkResume, DestFullMidFileResumesFromLastVerifiedChunk) {
  Shipment s = Make();
  std::string kept;
  FirstRunFillsDest(&s, &kept);
  FreeRoom(s.disk.get());
  RunReport r;
  ASSERT_VALISE_OK(
      IngestDrives(s.disk.get(), s.m, {"d1"}, "dest", Signed(s), Iopt(), &r));
  EXPECT_EQ(r.ExitCode(), 0) << FormatSummary(r);
  EXPECT_LE(BytesRead(r), kBig / 10 + kChunk + kSmall) << FormatSummary(r);
  EXPECT_EQ(r.files_resumed_by_chunk, 1u);
  EXPECT_GE(r.bytes_resumed_by_chunk, 35 * kChunk);
  EXPECT_EQ(BytesRead(r), kBig - r.bytes_resumed_by_chunk + kSmall);
  EXPECT_NE(FormatSummary(r).find("resume: 1 file went on from what an "
                                  "earlier run staged"),
            std::string::npos)
      << FormatSummary(r);
  std::string got;
  ASSERT_TRUE(s.disk->GetFile("dest/big", &got));
  EXPECT_TRUE(got == s.big);
  EXPECT_FALSE(s.disk->Exists("dest/.valise/staging/r0"));
  // What landed verifies, by the whole-file digests too.
  RunReport v;
  ASSERT_VALISE_OK(
      VerifyDrives(s.disk.get(), s.m, nullptr, {"dest"}, Options(), &v));
  EXPECT_EQ(v.files_ok, 2u) << FormatSummary(v);
}

// Goal: the kept prefix is trusted only as far as its chunks match their
// signed digests in DEST: a bit rotted in chunk 10 of it makes the rerun
// go on from chunk 10 (read from the drive again), and the file is right.
TEST(ChunkResume, PrefixCheckedInDestStopsAtTheFirstBadChunk) {
  Shipment s = Make();
  std::string kept;
  FirstRunFillsDest(&s, &kept);
  FreeRoom(s.disk.get());
  s.disk->FlipStoredBit("dest/.valise/staging/r0", 10 * kChunk + 5, 2);
  RunReport r;
  ASSERT_VALISE_OK(
      IngestDrives(s.disk.get(), s.m, {"d1"}, "dest", Signed(s), Iopt(), &r));
  EXPECT_EQ(r.ExitCode(), 0) << FormatSummary(r);
  EXPECT_EQ(r.bytes_resumed_by_chunk, 10 * kChunk);
  EXPECT_EQ(BytesRead(r), kBig - 10 * kChunk + kSmall);
  std::string got;
  ASSERT_TRUE(s.disk->GetFile("dest/big", &got));
  EXPECT_TRUE(got == s.big);
}

// Goal: with the whole-file digests deciding (--hash-only sha256), a kept
// partial is not used: it is dropped and the file read whole; deciding by
// chunks, a partial whose first chunk is wrong is dropped too.
TEST(ChunkResume, UnusedPartialsAreDroppedAndTheFileReadWhole) {
  for (bool by_chunks : {false, true}) {
    SCOPED_TRACE(by_chunks);
    Shipment s = Make();
    std::string kept;
    FirstRunFillsDest(&s, &kept);
    FreeRoom(s.disk.get());
    if (by_chunks) s.disk->FlipStoredBit("dest/.valise/staging/r0", 3, 0);
    PipelineOptions opt = Signed(s);
    if (!by_chunks) opt.hash_only.Add(DigestType::kSha256);
    RunReport r;
    ASSERT_VALISE_OK(
        IngestDrives(s.disk.get(), s.m, {"d1"}, "dest", opt, Iopt(), &r));
    EXPECT_EQ(r.ExitCode(), 0) << FormatSummary(r);
    EXPECT_EQ(r.files_resumed_by_chunk, 0u);
    EXPECT_EQ(BytesRead(r), kBig + kSmall);
    std::string got;
    ASSERT_TRUE(s.disk->GetFile("dest/big", &got));
    EXPECT_TRUE(got == s.big);
    EXPECT_FALSE(s.disk->Exists("dest/.valise/staging/r0"));
  }
}

}  // namespace
}  // namespace valise
