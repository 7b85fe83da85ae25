// Signed chunk digests into object storage (issue 15, items 5 and 6),
// through the whole ingest on the simulated disk and the fake S3 store,
// with the signed chunk digests deciding: a part that is exactly one chunk
// is signed with the chunk's signed SHA-256 (not hashed again), and the
// store refuses a chunk that is not the signed one; a part whose chunks
// are a run of chunks of an object committed before (this run, or an
// earlier one's journal) is copied server-side (UploadPartCopy), and a
// copy that fails sends the part.
#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "dest/s3_destination.h"
#include "net/s3_test_util.h"
#include "support/chunked_manifest.h"
#include "support/pipeline_util.h"
#include "support/test_util.h"
#include "valise/chunk_index_v2.h"
#include "valise/fake_s3.h"
#include "valise/manifest.h"
#include "valise/pipeline.h"
#include "valise/s3_file_system.h"
#include "valise/sidecar.h"
#include "valise/sim_disk.h"

namespace valise {
namespace {

constexpr size_t kChunk = 64 << 10;

// A shipment on drives of a simulated disk, its signed chunk index
// (m/M.chunks, bound to the manifest, made from d1 as it was then), and
// a fake store whose parts may be one chunk long.
struct Shipment {
  Shipment() : store(StoreOptions()) {
    disk = std::make_unique<SimDisk>(SimDiskOptions());
    store.CreateBucket("b");
    client = store.NewClient();
  }
  static FakeS3Options StoreOptions() {
    FakeS3Options o;
    o.min_part_size = kChunk;
    return o;
  }
  void Add(const std::string& path, const std::string& data) {
    disk->AddFile(path, data, 1000);
  }
  // The manifest of d1 and its chunk index, bound.
  void MakeManifest() {
    test::MakeChunkedManifest(
        disk.get(), {"d1"}, test::SmallPipelineOptions(kChunk, 1), &m, &index);
    ASSERT_FALSE(::testing::Test::HasFailure());
  }
  PipelineOptions Signed() const {
    PipelineOptions opt = test::SmallPipelineOptions(kChunk, 2);
    opt.chunk_index = index.get();
    opt.chunk_index_signed = true;
    return opt;
  }
  IngestOptions S3Ingest() {
    IngestOptions io;
    io.s3 = client.get();
    io.s3_options.put_max = 100 << 10;
    io.s3_options.part_size = 2 * kChunk;
    io.s3_options.min_part_size = kChunk;  // a chunk is a valid part
    io.s3_options.threads = 3;
    io.s3_options.digest_threads = 2;
    io.s3_options.host = "h1";
    io.s3_options.now = [] { return int64_t{1704067200} + 3600; };
    io.s3_options.journal_poll_ms = 0;
    io.s3_options.counters = &counters;
    return io;
  }
  Status Ingest(const std::vector<std::string>& drives, RunReport* r) {
    auto fs = NewS3FileSystem(disk.get(), client.get(), 3);
    return IngestDrives(fs.get(), m, drives, "s3://b/ship", Signed(),
                        S3Ingest(), r);
  }
  std::string Object(const std::string& rel) const {
    std::string data;
    EXPECT_TRUE(store.ObjectBytes("b", "ship/" + rel, &data)) << rel;
    return data;
  }

  std::unique_ptr<SimDisk> disk;
  FakeS3Store store;
  std::unique_ptr<S3Client> client;
  Manifest m;
  std::unique_ptr<ChunkIndexV2> index;
  S3PartCounters counters;
};

// The hex SHA-256 of each chunk of `data`.
std::vector<std::string> ChunkDigests(const std::string& data) {
  std::vector<std::string> out;
  for (size_t off = 0; off < data.size(); off += kChunk) {
    out.push_back(test::Sha256Of(data.substr(off, kChunk)).Hex());
  }
  return out;
}

bool HasNote(const RunReport& r, const std::string& part) {
  for (const std::string& n : r.verbose_notes) {
    if (n.find(part) != std::string::npos) return true;
  }
  return false;
}

// Goal (item 6): with the signed chunk digests deciding and a chunk size
// the store takes as a part, each part is one chunk, signed with that
// chunk's SHA-256 from the manifest's index: the x-amz-content-sha256 the
// store received for part N is chunk N-1's digest, and the destination
// hashed no byte of any part (the core's check hashed each chunk once).
// Without a signed index (whole-file digests deciding) the same parts are
// hashed, as before.
TEST(S3Chunks, OneChunkPartsAreSignedWithTheirChunkDigest) {
  Shipment s;
  const std::string big = test::RandomBytes(6 * kChunk + 100, 1);
  s.Add("d1/big", big);
  s.Add("d1/small", test::RandomBytes(1000, 2));
  s.MakeManifest();
  RunReport r;
  ASSERT_VALISE_OK(s.Ingest({"d1"}, &r));
  EXPECT_EQ(r.ExitCode(), 0) << FormatSummary(r);
  EXPECT_TRUE(s.Object("big") == big);
  const std::vector<std::string> want = ChunkDigests(big);
  std::vector<FakeS3PartSeen> seen = s.store.parts_seen();
  ASSERT_EQ(seen.size(), want.size());  // 7 parts of one chunk each
  for (const FakeS3PartSeen& p : seen) {
    EXPECT_EQ(p.key, "ship/big");
    ASSERT_GE(p.number, 1);
    ASSERT_LE(static_cast<size_t>(p.number), want.size());
    EXPECT_EQ(p.sha256, want[p.number - 1]) << "part " << p.number;
  }
  EXPECT_EQ(s.counters.parts_signed_by_chunk.load(), want.size());
  EXPECT_EQ(s.counters.parts_hashed.load(), 0u);
  EXPECT_EQ(s.counters.bytes_hashed.load(), 0u);
  EXPECT_TRUE(HasNote(r,
                      "s3: 7 part(s) of one chunk signed with the chunk's "
                      "signed SHA-256 (not hashed again), 0 part(s) hashed"))
      << FormatSummary(r, SummaryOptions{.verbose = true});
  EXPECT_TRUE(s.store.Uploads("b").empty());

  // --hash-only sha256: the whole-file digests decide, not the chunk
  // digests, and the parts are hashed.
  Shipment u;
  u.Add("d1/big", big);
  u.MakeManifest();
  auto fs = NewS3FileSystem(u.disk.get(), u.client.get(), 3);
  PipelineOptions opt = u.Signed();
  opt.hash_only.Add(DigestType::kSha256);
  RunReport ur;
  ASSERT_VALISE_OK(IngestDrives(fs.get(), u.m, {"d1"}, "s3://b/ship", opt,
                                u.S3Ingest(), &ur));
  EXPECT_EQ(ur.ExitCode(), 0) << FormatSummary(ur);
  EXPECT_TRUE(u.Object("big") == big);
  EXPECT_EQ(u.counters.parts_signed_by_chunk.load(), 0u);
  EXPECT_EQ(u.counters.parts_hashed.load(), want.size());
  EXPECT_EQ(u.counters.bytes_hashed.load(), big.size());
}

// Goal: parts follow the chunk size only where the store takes a chunk as
// a part (min_part_size, S3's 5 MiB): with chunks below it, parts stay
// part_size (two chunks here) and are hashed.
TEST(S3Chunks, ChunksBelowTheMinimumPartStayHashedParts) {
  Shipment s;
  const std::string big = test::RandomBytes(6 * kChunk + 100, 3);
  s.Add("d1/big", big);
  s.MakeManifest();
  auto fs = NewS3FileSystem(s.disk.get(), s.client.get(), 3);
  IngestOptions io = s.S3Ingest();
  io.s3_options.min_part_size = kChunk + 4096;
  RunReport r;
  ASSERT_VALISE_OK(
      IngestDrives(fs.get(), s.m, {"d1"}, "s3://b/ship", s.Signed(), io, &r));
  EXPECT_EQ(r.ExitCode(), 0) << FormatSummary(r);
  EXPECT_TRUE(s.Object("big") == big);
  EXPECT_EQ(s.store.parts_seen().size(), 4u);  // 2 + 2 + 2 + 1 chunks
  EXPECT_EQ(s.counters.parts_signed_by_chunk.load(), 0u);
  EXPECT_EQ(s.counters.bytes_hashed.load(), big.size());
}

// Goal: a chunk that is not its signed chunk's bytes (a flipped bit on the
// drive) is refused by the store (XAmzContentSHA256Mismatch), since its
// part is signed with the signed digest. That is the copy's fault, not
// DEST's: the run goes on, the file is reported corrupt at that chunk and
// made from its other copy, the other files land, and no upload is left.
// With no other copy, the file is reported corrupt and not made.
TEST(S3Chunks, AChunkNotTheSignedOneIsRefusedByTheStore) {
  for (bool second_copy : {true, false}) {
    SCOPED_TRACE(second_copy);
    Shipment s;
    const std::string big = test::RandomBytes(6 * kChunk + 100, 4);
    const std::string other = test::RandomBytes(3 * kChunk, 5);
    s.Add("d1/big", big);
    s.Add("d1/other", other);
    if (second_copy) s.Add("d2/big", big);
    s.MakeManifest();
    s.disk->FlipStoredBit("d1/big", 3 * kChunk + 5, 1);
    RunReport r;
    ASSERT_VALISE_OK(s.Ingest({"d1", "d2"}, &r));
    const std::string summary = FormatSummary(r);
    EXPECT_EQ(r.ExitCode(), 1) << summary;
    EXPECT_TRUE(s.Object("other") == other);
    const FileResult* bad = nullptr;
    for (const FileResult& f : r.files) {
      if (f.path == "big" && f.status == FileStatus::kCorrupt) bad = &f;
    }
    ASSERT_NE(bad, nullptr) << summary;
    EXPECT_EQ(bad->first_bad_offset, static_cast<int64_t>(3 * kChunk));
    // d1 is read first (its drive is listed first), its chunk 3 refused.
    EXPECT_EQ(s.store.counters().sha256_refused, 1u) << summary;
    std::string got;
    EXPECT_EQ(s.store.ObjectBytes("b", "ship/big", &got), second_copy);
    if (second_copy) {
      EXPECT_TRUE(got == big);
    }
    EXPECT_TRUE(s.store.Uploads("b").empty());
  }
}

// "a" (6 chunks) and "b" (a with 3 chunks and 100 bytes appended) in the
// manifest, made from d1; da holds a alone, db holds b alone.
constexpr uint64_t kA = 6 * kChunk;
constexpr uint64_t kB = kA + 3 * kChunk + 100;

struct Appended {
  Appended() {
    a = test::RandomBytes(kA, 11);
    b = a + test::RandomBytes(kB - kA, 12);
    s.Add("d1/a", a);
    s.Add("d1/b", b);
    s.MakeManifest();
    s.Add("da/a", a);
    s.Add("db/b", b);
  }
  Shipment s;
  std::string a, b;
};

// Goal (item 5): an earlier run committed a; this run, reading b, copies
// b's first 6 parts server-side from a's object (their chunks' signed
// digests are a's chunks', at the same offsets), sends only the 4 others,
// and says so (summary, JSON chunk_bytes_copied_server_side); b is right
// and verify from the store finds both files intact. The copies name a's
// ETag (x-amz-copy-source-if-match): the fake refuses another.
TEST(S3Chunks, AppendedFileIsCopiedFromAnObjectAnEarlierRunCommitted) {
  Appended t;
  Shipment& s = t.s;
  RunReport first;
  ASSERT_VALISE_OK(s.Ingest({"da"}, &first));
  EXPECT_EQ(first.ExitCode(), 1) << FormatSummary(first);  // b: missing
  EXPECT_TRUE(s.Object("a") == t.a);
  const size_t parts_before = s.store.parts_seen().size();

  RunReport r;
  ASSERT_VALISE_OK(s.Ingest({"db"}, &r));
  const std::string summary = FormatSummary(r);
  EXPECT_EQ(r.ExitCode(), 0) << summary;
  EXPECT_EQ(r.files_skipped_resume, 1u);
  EXPECT_TRUE(s.Object("b") == t.b);
  EXPECT_EQ(s.store.counters().part_copies, 6u);
  EXPECT_EQ(s.store.counters().part_copy_bytes, kA);
  std::vector<FakeS3PartSeen> seen = s.store.parts_seen();
  ASSERT_EQ(seen.size() - parts_before, 4u);
  for (size_t i = parts_before; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].key, "ship/b");
    EXPECT_GT(seen[i].number, 6);
  }
  EXPECT_EQ(r.chunk_bytes_copied_server_side, kA);
  EXPECT_NE(summary.find("dedup by chunk: 384.0 KiB copied server-side"),
            std::string::npos)
      << summary;
  auto j = nlohmann::json::parse(FormatJson(r));
  EXPECT_EQ(j["totals"]["chunk_bytes_copied_server_side"], kA);
  EXPECT_TRUE(s.store.Uploads("b").empty());

  auto fs = NewS3FileSystem(s.disk.get(), s.client.get(), 3);
  RunReport v;
  ASSERT_VALISE_OK(
      VerifyDrives(fs.get(), s.m, nullptr, {"s3://b/ship"}, s.Signed(), &v));
  EXPECT_EQ(v.ExitCode(), 0) << FormatSummary(v);
  EXPECT_EQ(v.files_ok, 2u);
}

// Goal: a source is any object committed in this run too. d1 has a and a
// copy of b whose chunk 0 is flipped, d2 a good b: the first pass commits
// a and finds d1's b corrupt at chunk 0 (its other chunks' parts kept:
// repair by chunk); the second reads only chunk 0 of b from d2 and copies
// its part from a's object (a's chunk 0 has its signed digest).
TEST(S3Chunks, AFileCommittedInThisRunIsASource) {
  Appended t;
  Shipment& s = t.s;
  s.Add("d2/b", t.b);
  s.disk->FlipStoredBit("d1/b", 3, 2);
  RunReport r;
  ASSERT_VALISE_OK(s.Ingest({"d1", "d2"}, &r));
  const std::string summary = FormatSummary(r);
  EXPECT_EQ(r.ExitCode(), 1) << summary;  // d1 carried a bad chunk
  EXPECT_TRUE(s.Object("a") == t.a);
  EXPECT_TRUE(s.Object("b") == t.b);
  EXPECT_EQ(r.files_repaired_by_chunk, 1u) << summary;
  EXPECT_EQ(r.chunk_bytes_copied_server_side, kChunk) << summary;
  EXPECT_TRUE(s.store.Uploads("b").empty());
}

uint64_t BytesRead(const RunReport& r) {
  uint64_t n = 0;
  for (const DriveReport& d : r.drives) n += d.bytes_read;
  return n;
}

// Goal: repair by chunk into the store. Two copies of big with different
// bad chunks (d1: chunk 2 flipped, a sector of chunk 6 unreadable; d2:
// chunk 5 flipped): the store refuses d1's part 3 (not the signed chunk),
// part 7 is not sent, and d1's other parts stay in the upload; the second
// pass reads only chunks 2 and 6 from d2, sends them as parts 3 and 7 into
// the same upload and completes it: big is right, d2's bad chunk never
// read, nothing left open. With chunk 2 bad on both copies the file
// fails, naming it, and its upload is aborted. Fails without the repair
// (d2 read whole, and its chunk 5 is bad too).
TEST(S3Chunks, TwoCopiesWithDifferentBadChunksMakeOneObject) {
  for (bool both_bad : {false, true}) {
    SCOPED_TRACE(both_bad);
    Shipment s;
    const std::string big = test::RandomBytes(8 * kChunk + 100, 31);
    s.Add("d1/big", big);
    s.MakeManifest();
    s.Add("d2/big", big);
    s.disk->FlipStoredBit("d1/big", 2 * kChunk + 7, 1);
    s.disk->AddBadRange("d1/big", 6 * kChunk + 4096, 512);
    s.disk->FlipStoredBit("d2/big", (both_bad ? 2 : 5) * kChunk + 9, 3);
    RunReport r;
    ASSERT_VALISE_OK(s.Ingest({"d1", "d2"}, &r));
    const std::string summary = FormatSummary(r);
    EXPECT_EQ(r.ExitCode(), 1) << summary;
    std::string got;
    EXPECT_EQ(s.store.ObjectBytes("b", "ship/big", &got), !both_bad);
    if (!both_bad) {
      EXPECT_TRUE(got == big);
      EXPECT_EQ(r.files_repaired_by_chunk, 1u) << summary;
      EXPECT_EQ(r.bytes_read_for_chunk_repair, 2 * kChunk) << summary;
      EXPECT_LE(BytesRead(r), big.size() + 2 * kChunk) << summary;
      EXPECT_EQ(s.store.counters().sha256_refused, 1u);
    } else {
      EXPECT_EQ(r.files_repaired_by_chunk, 0u) << summary;
      EXPECT_NE(summary.find("chunk 2"), std::string::npos) << summary;
      EXPECT_EQ(s.store.counters().sha256_refused, 2u);
    }
    EXPECT_TRUE(s.store.Uploads("b").empty());
    for (const std::string& k : s.store.Keys("b")) {
      EXPECT_NE(k.rfind("ship/.valise/uploads/", 0), 0u) << "marker: " << k;
    }
  }
}

// Goal: a copy that fails sends the part instead, and b lands whole and
// right: the source gone (every UploadPartCopy finds no source, 404), or
// the store failing every copy (500s, after the client's retries). The
// source is given up after its first failure; nothing counts as copied.
// And a source whose ETag is not the one verified is never copied from
// (the fake's x-amz-copy-source-if-match).
TEST(S3Chunks, ACopyThatFailsSendsThePart) {
  for (int fault : {0, 1}) {
    SCOPED_TRACE(fault);
    Appended t;
    Shipment& s = t.s;
    RunReport first;
    ASSERT_VALISE_OK(s.Ingest({"da"}, &first));
    FakeS3Faults faults;
    faults.part_copy_source_gone = fault == 0;
    faults.part_copy_fails = fault == 1;
    s.store.SetFaults(faults);
    RunReport r;
    ASSERT_VALISE_OK(s.Ingest({"db"}, &r));
    EXPECT_EQ(r.ExitCode(), 0) << FormatSummary(r);
    EXPECT_TRUE(s.Object("b") == t.b);
    EXPECT_EQ(s.store.counters().part_copies, 0u);
    EXPECT_GE(s.counters.copies_failed.load(), 1u);
    EXPECT_EQ(r.chunk_bytes_copied_server_side, 0u);
    EXPECT_TRUE(s.store.Uploads("b").empty());
  }
}

TEST(S3Chunks, ACopyNamesTheSourceVersion) {
  Shipment s;
  const std::string src = test::RandomBytes(2 * kChunk, 21);
  S3WriteResult w;
  ASSERT_VALISE_OK(
      s.client->PutObject("b", "src", test::PayloadOf(src), {}, false, &w));
  std::string id;
  ASSERT_VALISE_OK(s.client->CreateMultipartUpload("b", "dst", {}, &id));
  S3WriteResult p;
  Status wrong = s.client->UploadPartCopy("b", "dst", id, 1, "b", "src", 0,
                                          kChunk, "0123", &p);
  EXPECT_EQ(wrong.http_status(), 412) << wrong.ToString();
  ASSERT_VALISE_OK(s.client->UploadPartCopy("b", "dst", id, 1, "b", "src", 0,
                                            kChunk, w.etag, &p));
  ASSERT_VALISE_OK(s.client->AbortMultipartUpload("b", "dst", id));
}

}  // namespace
}  // namespace valise
