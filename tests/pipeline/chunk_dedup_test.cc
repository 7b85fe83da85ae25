// Dedup by chunk on the simulated disk (issue 15, item 5): a chunk whose
// content was staged and verified earlier in the run is cloned
// (FICLONERANGE) instead of written, and, with the signed chunk digests
// deciding, not read either; zeros become holes; the report says how many
// bytes each saved; what lands is byte for byte the shipment.
#include "pipeline/chunk_dedup.h"

#include "dest/posix_destination.h"
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

constexpr uint64_t K = 64 << 10;  // the chunk size

// One buffer and one read at a time: a chunk is hashed, checked and
// written before the next is read, so what is a source when a chunk comes
// up is the same in every run (the file before it may still be finishing
// its last chunk; no file below shares a chunk with the one before it).
PipelineOptions Options() {
  PipelineOptions opt = test::SmallPipelineOptions(K, 2);
  opt.depth = 1;
  opt.buffers = 1;
  return opt;
}

IngestOptions Iopt() {
  IngestOptions io;
  io.depth = 1;
  return io;
}

std::string Chunks(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) out += p;
  return out;
}

struct Shipment {
  std::unique_ptr<SimDisk> disk;
  Manifest m;
  std::unique_ptr<ChunkIndexV2> index;
  std::map<std::string, std::string> files;  // as on d1
};

// d1 holds:
//   a       8 chunks A0..A7, all distinct;
//   b       A0..A3 B0 Z A4 and a 100-byte tail (a disk image sharing
//           blocks with a; Z a chunk of zeros);
//   c       a with C0 C1 appended;
//   e/copy  a again (a whole-file duplicate: placed from a's file);
//   z       Z Z0 Z Z and 100 zero bytes (a sparse file).
Shipment Make() {
  Shipment s;
  std::vector<std::string> a;
  for (int i = 0; i < 8; ++i) a.push_back(test::RandomBytes(K, 100 + i));
  const std::string zero(K, '\0');
  s.files["a"] = Chunks(a);
  s.files["b"] = Chunks({a[0], a[1], a[2], a[3], test::RandomBytes(K, 200),
                         zero, a[4], test::RandomBytes(100, 201)});
  s.files["c"] = s.files["a"] + test::RandomBytes(2 * K, 300);
  s.files["e/copy"] = s.files["a"];
  s.files["z"] = Chunks(
      {zero, test::RandomBytes(K, 400), zero, zero, std::string(100, '\0')});
  s.disk = std::make_unique<SimDisk>(SimDiskOptions());
  int64_t t = 1000;
  for (const auto& [name, data] : s.files)
    s.disk->AddFile("d1/" + name, data, t++);
  test::MakeChunkedManifest(s.disk.get(), {"d1"}, Options(), &s.m, &s.index);
  return s;
}

PipelineOptions Signed(const Shipment& s) {
  PipelineOptions opt = Options();
  opt.chunk_index = s.index.get();
  opt.chunk_index_signed = true;
  return opt;
}

// Bytes the run wrote into DEST's files: every write but the journal's
// and the reflink probe's (4 KiB).
uint64_t DataWritten(const Shipment& s, const SimDisk::Stats& before) {
  std::string journal;
  EXPECT_TRUE(s.disk->GetFile("dest/.valise/journal", &journal));
  return s.disk->stats().bytes_written - before.bytes_written - 4096 -
         journal.size();
}

void ExpectLanded(const Shipment& s) {
  for (const auto& [name, data] : s.files) {
    std::string got;
    ASSERT_TRUE(s.disk->GetFile("dest/" + name, &got)) << name;
    EXPECT_EQ(got.size(), data.size()) << name;
    EXPECT_TRUE(got == data) << name;
  }
}

// What b, c and z share or hold in zeros: cloned A0..A4 (b) and A0..A7
// (c); holes Z (b), Z Z Z and the zero tail (z).
constexpr uint64_t kCloned = 13 * K;
constexpr uint64_t kHoles = 4 * K + 100;
// Unique non-zero bytes: A0..A7, B0 and b's tail, C0 C1, Z0.
constexpr uint64_t kUnique = 12 * K + 100;

// Goal: with the signed chunk digests deciding, b's and c's chunks that a
// holds are cloned from a's staged chunks and never read, zero chunks are
// holes never read (z's zero tail is read: it is not a whole chunk), the
// bytes written are the unique non-zero bytes, every file lands whole and
// right, and the report gives each saving.
TEST(ChunkDedup, SignedDigestsCloneAndHoleWithoutReading) {
  Shipment s = Make();
  const SimDisk::Stats before = s.disk->stats();
  RunReport r;
  ASSERT_VALISE_OK(
      IngestDrives(s.disk.get(), s.m, {"d1"}, "dest", Signed(s), Iopt(), &r));
  ASSERT_EQ(r.ExitCode(), 0) << FormatSummary(r);
  ExpectLanded(s);
  EXPECT_EQ(r.dedup_bytes_saved, 8 * K);  // e/copy, from a
  EXPECT_EQ(r.chunk_bytes_cloned, kCloned);
  EXPECT_EQ(r.chunk_bytes_holes, kHoles);
  EXPECT_EQ(r.bytes_not_read, kCloned + kHoles - 100);
  const SimDisk::Stats after = s.disk->stats();
  EXPECT_EQ(after.bytes_range_cloned - before.bytes_range_cloned, kCloned);
  EXPECT_EQ(after.range_clones - before.range_clones, 13u);
  EXPECT_EQ(DataWritten(s, before), kUnique);
  uint64_t read = 0;
  for (const DriveReport& d : r.drives) read += d.bytes_read;
  uint64_t total = 0;
  for (const auto& [name, data] : s.files) {
    if (name != "e/copy") total += data.size();
  }
  EXPECT_EQ(read, total - r.bytes_not_read);
  const std::string summary = FormatSummary(r);
  EXPECT_NE(summary.find("dedup by chunk: 832.0 KiB cloned"), std::string::npos)
      << summary;
  EXPECT_NE(FormatJson(r).find("\"chunk_bytes_cloned\":851968"),
            std::string::npos);
  // What landed verifies by the whole-file digests too.
  RunReport v;
  ASSERT_VALISE_OK(
      VerifyDrives(s.disk.get(), s.m, nullptr, {"dest"}, Options(), &v));
  EXPECT_EQ(v.files_ok, s.files.size()) << FormatSummary(v);
}

// Goal: with whole-file digests deciding (--hash-only sha256), a chunk
// digest decides nothing, so nothing is cloned by one: every byte is read,
// every chunk written but the zeros (holes: the bytes read, and checked,
// are zeros).
TEST(ChunkDedup, WithoutSignedDigestsDecidingOnlyHoles) {
  Shipment s = Make();
  PipelineOptions opt = Signed(s);
  opt.hash_only.Add(DigestType::kSha256);
  const SimDisk::Stats before = s.disk->stats();
  RunReport r;
  ASSERT_VALISE_OK(
      IngestDrives(s.disk.get(), s.m, {"d1"}, "dest", opt, Iopt(), &r));
  ASSERT_EQ(r.ExitCode(), 0) << FormatSummary(r);
  ExpectLanded(s);
  EXPECT_EQ(r.chunk_bytes_cloned, 0u);
  EXPECT_EQ(r.chunk_bytes_holes, kHoles);
  EXPECT_EQ(r.bytes_not_read, 0u);
  EXPECT_EQ(DataWritten(s, before), kUnique + kCloned);
}

// Goal: a chunk is cloned only from a chunk that was checked: a's chunk
// A2 is corrupt on the drive, so it is no source; b reads and writes its
// own A2 (then the source of c's and e/copy's), and every file lands
// right: a is repaired from e/copy, read in the next pass, whose chunks
// are all clones by then.
TEST(ChunkDedup, CorruptChunkIsNoSource) {
  Shipment s = Make();
  s.disk->FlipStoredBit("d1/a", 2 * K + 5, 3);
  RunReport r;
  ASSERT_VALISE_OK(
      IngestDrives(s.disk.get(), s.m, {"d1"}, "dest", Signed(s), Iopt(), &r));
  EXPECT_EQ(r.ExitCode(), 1) << FormatSummary(r);
  size_t corrupt = 0;
  for (const FileResult& f : r.files) {
    if (f.status != FileStatus::kCorrupt) continue;
    ++corrupt;
    EXPECT_EQ(f.path, "a");
    EXPECT_EQ(f.first_bad_offset, int64_t(2 * K));
  }
  EXPECT_EQ(corrupt, 1u);
  ExpectLanded(s);
  // b: A0 A1 A3 A4; c: A0..A7; e/copy: A0..A7.
  EXPECT_EQ(r.chunk_bytes_cloned, 20 * K) << FormatSummary(r);
}

// Goal: on a DEST without reflinks, zeros are still holes; chunks are
// written, and the file sizes are right.
TEST(ChunkDedup, HolesWithoutReflinks) {
  Shipment s = Make();
  SimDiskOptions so;
  so.reflink = false;
  auto disk = std::make_unique<SimDisk>(so);
  for (const auto& [name, data] : s.files) disk->AddFile("d1/" + name, data);
  std::string index;
  ASSERT_TRUE(s.disk->GetFile("m/M.chunks", &index));
  disk->AddFile("m/M.chunks", index);
  s.disk = std::move(disk);
  std::unique_ptr<PositionalSource> src;
  ASSERT_VALISE_OK(OpenBoundSidecar(s.disk.get(), "m/M", s.m, "chunks", &src));
  ASSERT_VALISE_OK(ChunkIndexV2::Open(std::move(src), s.m, &s.index));
  RunReport r;
  ASSERT_VALISE_OK(
      IngestDrives(s.disk.get(), s.m, {"d1"}, "dest", Signed(s), Iopt(), &r));
  ASSERT_EQ(r.ExitCode(), 0) << FormatSummary(r);
  ExpectLanded(s);
  EXPECT_EQ(r.chunk_bytes_cloned, 0u);
  EXPECT_EQ(r.chunk_bytes_holes, kHoles);
  EXPECT_EQ(s.disk->stats().range_clones, 0u);
}

// Goal: a repair by chunk writes zeros over the bad bytes the first copy
// left in the staged file; it never leaves them as a hole. w, x, y and z
// end in a tail of zeros (a partial chunk: read, never skipped) and each
// is on d1 and d2, bad in its tail on one drive and in chunk 1 on the
// other (w and x the other way round from y and z): whichever copy of
// each is read first, some file is repaired by reading its zero tail from
// its second copy, over the first copy's bad tail. All land right.
TEST(ChunkDedup, ARepairWritesZerosOverTheBadBytesOfTheFirstCopy) {
  const std::string zero(K, '\0');
  std::map<std::string, std::string> files;
  files["y"] =
      Chunks({zero, test::RandomBytes(K, 500), std::string(100, '\0')});
  files["z"] =
      Chunks({zero, test::RandomBytes(K, 501), std::string(100, '\0')});
  files["w"] =
      Chunks({zero, test::RandomBytes(K, 502), std::string(100, '\0')});
  files["x"] =
      Chunks({zero, test::RandomBytes(K, 503), std::string(100, '\0')});
  auto disk = std::make_unique<SimDisk>(SimDiskOptions());
  for (const char* d : {"d1", "d2"}) {
    for (const auto& [name, data] : files) {
      disk->AddFile(std::string(d) + "/" + name, data, 1000);
    }
  }
  Manifest m;
  std::unique_ptr<ChunkIndexV2> index;
  test::MakeChunkedManifest(disk.get(), {"d1", "d2"}, Options(), &m, &index);
  ASSERT_FALSE(::testing::Test::HasFailure());
  disk->FlipStoredBit("d1/z", 2 * K + 50, 1);
  disk->FlipStoredBit("d2/z", K + 5, 1);
  disk->FlipStoredBit("d2/y", 2 * K + 50, 1);
  disk->FlipStoredBit("d1/y", K + 5, 1);
  disk->FlipStoredBit("d1/w", 2 * K + 50, 1);
  disk->FlipStoredBit("d2/w", K + 5, 1);
  disk->FlipStoredBit("d2/x", 2 * K + 50, 1);
  disk->FlipStoredBit("d1/x", K + 5, 1);
  PipelineOptions opt = Options();
  opt.chunk_index = index.get();
  opt.chunk_index_signed = true;
  RunReport r;
  ASSERT_VALISE_OK(
      IngestDrives(disk.get(), m, {"d1", "d2"}, "dest", opt, Iopt(), &r));
  EXPECT_EQ(r.ExitCode(), 1) << FormatSummary(r);  // the bad copies
  for (const auto& [name, data] : files) {
    std::string got;
    ASSERT_TRUE(disk->GetFile("dest/" + name, &got)) << FormatSummary(r);
    EXPECT_TRUE(got == data) << name << " landed wrong\n" << FormatSummary(r);
  }
  EXPECT_EQ(r.files_ok, files.size()) << FormatSummary(r);
}

// A file whose odd chunks are each a copy of the chunk before it: with
// reads in flight, a chunk's twin is being read when its turn comes.
struct Twins {
  std::unique_ptr<SimDisk> disk;
  Manifest m;
  std::unique_ptr<ChunkIndexV2> index;
  std::string data;
};
Twins MakeTwins(int pairs) {
  Twins t;
  std::vector<std::string> chunks;
  for (int i = 0; i < pairs; ++i) {
    chunks.push_back(test::RandomBytes(K, 600 + i));
    chunks.push_back(chunks.back());
  }
  t.data = Chunks(chunks);
  t.disk = std::make_unique<SimDisk>(SimDiskOptions());
  t.disk->AddFile("d1/t", t.data, 1000);
  test::MakeChunkedManifest(t.disk.get(), {"d1"}, Options(), &t.m, &t.index);
  return t;
}

PipelineOptions Deep(const Twins& t) {
  PipelineOptions opt = test::SmallPipelineOptions(K, 2);
  opt.depth = 4;
  opt.buffers = 8;
  opt.chunk_index = t.index.get();
  opt.chunk_index_signed = true;
  return opt;
}

// Goal: a chunk whose twin (same signed digest) is still being read does
// not stop its drive: the drive reads on past it (chunks_read_past) and
// takes it up once the twin is a source, so it is still cloned, never
// read, and the file lands right.
TEST(ChunkDedup, ReadsPastAChunkWhoseTwinIsBeingRead) {
  Twins t = MakeTwins(8);
  IngestOptions io;
  io.depth = 4;
  RunReport r;
  ASSERT_VALISE_OK(
      IngestDrives(t.disk.get(), t.m, {"d1"}, "dest", Deep(t), io, &r));
  ASSERT_EQ(r.ExitCode(), 0) << FormatSummary(r);
  std::string got;
  ASSERT_TRUE(t.disk->GetFile("dest/t", &got));
  EXPECT_TRUE(got == t.data);
  ASSERT_EQ(r.drives.size(), 1u);
  EXPECT_GE(r.drives[0].chunks_read_past, 1u);
  // Every twin is cloned, read past or not: the first of each pair is
  // read, the second never.
  EXPECT_EQ(r.chunk_bytes_cloned, 8 * K);
  EXPECT_EQ(r.bytes_not_read, 8 * K);
  EXPECT_EQ(r.drives[0].bytes_read, 8 * K);
  EXPECT_NE(FormatJson(r).find("\"chunks_read_past\":"), std::string::npos);
}

// Goal: a chunk read past whose twin turns out bad (it matched no signed
// digest, so it is no source) is read after all: nothing is cloned from
// the bad chunk, and only the bad chunk is reported.
TEST(ChunkDedup, AChunkReadPastIsReadWhenItsTwinIsBad) {
  Twins t = MakeTwins(4);
  t.disk->FlipStoredBit("d1/t", 2 * K + 7, 2);  // chunk 2, twin of chunk 3
  IngestOptions io;
  io.depth = 4;
  RunReport r;
  ASSERT_VALISE_OK(
      IngestDrives(t.disk.get(), t.m, {"d1"}, "dest", Deep(t), io, &r));
  EXPECT_EQ(r.ExitCode(), 1) << FormatSummary(r);
  ASSERT_EQ(r.files.size(), 1u) << FormatSummary(r);
  EXPECT_EQ(r.files[0].status, FileStatus::kCorrupt);
  EXPECT_EQ(r.files[0].first_bad_offset, int64_t(2 * K));
  EXPECT_FALSE(t.disk->Exists("dest/t"));
  // Chunk 3 is read: its twin never became a source. 0, 2, 4 and 6 are
  // read; 1, 5 and 7 are cloned unless chunk 2's failure was known by
  // their turn (a failed file's chunks are read). A failed file's clones
  // are not in the totals.
  EXPECT_GE(r.drives[0].chunks_read_past, 1u);
  EXPECT_GE(r.drives[0].bytes_read, 5 * K) << FormatSummary(r);
  EXPECT_EQ(r.chunk_bytes_cloned, 0u);
}

// Goal: a chunk read past waits only for the chunks with its digest that
// were pending when it was passed over (numbered before Next() then), not
// for one issued since, which may itself wait for it through its file's
// hashing order; plain Pending still sees every one.
TEST(ChunkDedup, PendingBeforeCountsOnlyEarlierChunks) {
  SimDisk disk{SimDiskOptions()};
  std::unique_ptr<Destination> dest = NewPosixDestination(&disk, "dest", {});
  ChunkDedup run(dest.get(), nullptr, K, true, true);
  ChunkSha256 d{};
  d[0] = 7;
  const uint64_t first = run.Pend(d);
  const uint64_t before = run.Next();
  EXPECT_GT(before, first);
  EXPECT_TRUE(run.Pending(d, before));
  const uint64_t later = run.Pend(d);
  EXPECT_GE(later, before);
  run.Unpend(d, first);
  EXPECT_FALSE(run.Pending(d, before));  // only `later` is left
  EXPECT_TRUE(run.Pending(d));
  run.Unpend(d, later);
  EXPECT_FALSE(run.Pending(d));
}

TEST(ChunkDedup, AllZero) {
  std::string z(1000, '\0');
  EXPECT_TRUE(AllZero(z.data(), z.size()));
  EXPECT_TRUE(AllZero(z.data(), 0));
  z[999] = 1;
  EXPECT_FALSE(AllZero(z.data(), z.size()));
  z[999] = 0;
  z[0] = 1;
  EXPECT_FALSE(AllZero(z.data(), z.size()));
}

}  // namespace
}  // namespace valise
