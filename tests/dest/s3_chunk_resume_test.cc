// Resume by chunk into object storage (issue 15), through the whole ingest
// on the simulated disk and the fake S3 store: a run killed (kill -9: the
// fake's KillClients) in the middle of a large file's multipart upload,
// whose parts are one chunk each and signed with their chunks' signed
// SHA-256, leaves the upload open and its marker naming it; the rerun lists
// its parts, keeps the leading run of whole chunks and reads the drive only
// from there, sending the rest into the same upload. An upload made for
// another manifest (the same key "r<entry>", other chunks), one grown stale
// (--stale-upload-age) or another host's is never gone on from.
#include <atomic>
#include <memory>
#include <string>
#include <vector>

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
// big: 40 chunks and 100 bytes (41 parts); small: one PUT.
constexpr uint64_t kBig = 40 * kChunk + 100;
constexpr uint64_t kSmall = 1000;

// A client of the store that dies (KillClients: every later request of
// every client made so far fails, as from a process killed with kill -9)
// right after its `die_after`th UploadPart reached the store, and that
// loses its `lose`th UploadPart (answers it done without sending it: the
// upload then lacks that part). 0: never.
class DyingClient final : public S3Client {
 public:
  DyingClient(FakeS3Store* store, int die_after, int lose = 0)
      : store_(store),
        inner_(store->NewClient()),
        die_after_(die_after),
        lose_(lose) {}

  Status HeadBucket(const std::string& b) override {
    return inner_->HeadBucket(b);
  }
  Status HeadObject(const std::string& b, const std::string& k,
                    S3ObjectInfo* i) override {
    return inner_->HeadObject(b, k, i);
  }
  Status GetObject(const std::string& b, const std::string& k, uint64_t off,
                   size_t len, void* buf, const std::string& if_match,
                   S3GetResult* r) override {
    return inner_->GetObject(b, k, off, len, buf, if_match, r);
  }
  Status PutObject(const std::string& b, const std::string& k,
                   const S3Payload& p, const S3Metadata& m, bool inm,
                   S3WriteResult* r) override {
    return inner_->PutObject(b, k, p, m, inm, r);
  }
  Status CreateMultipartUpload(const std::string& b, const std::string& k,
                               const S3Metadata& m, std::string* id) override {
    return inner_->CreateMultipartUpload(b, k, m, id);
  }
  Status UploadPart(const std::string& b, const std::string& k,
                    const std::string& id, int n, const S3Payload& p,
                    S3WriteResult* r) override {
    const int call = ++parts_;
    if (call == lose_) {
      r->etag = "lost";
      return Status::OK();
    }
    Status s = inner_->UploadPart(b, k, id, n, p, r);
    if (call == die_after_) store_->KillClients();
    return s;
  }
  Status UploadPartCopy(const std::string& b, const std::string& k,
                        const std::string& id, int n, const std::string& sb,
                        const std::string& sk, uint64_t off, uint64_t len,
                        const std::string& if_match,
                        S3WriteResult* r) override {
    return inner_->UploadPartCopy(b, k, id, n, sb, sk, off, len, if_match, r);
  }
  Status CompleteMultipartUpload(const std::string& b, const std::string& k,
                                 const std::string& id,
                                 const std::vector<S3CompletedPart>& parts,
                                 S3WriteResult* r) override {
    return inner_->CompleteMultipartUpload(b, k, id, parts, r);
  }
  Status AbortMultipartUpload(const std::string& b, const std::string& k,
                              const std::string& id) override {
    return inner_->AbortMultipartUpload(b, k, id);
  }
  Status ListObjectsV2(const std::string& b, const S3ListObjectsRequest& q,
                       S3ListObjectsResult* r) override {
    return inner_->ListObjectsV2(b, q, r);
  }
  Status ListMultipartUploads(const std::string& b, const std::string& p,
                              const std::string& km, const std::string& im,
                              S3ListUploadsResult* r) override {
    return inner_->ListMultipartUploads(b, p, km, im, r);
  }
  Status ListParts(const std::string& b, const std::string& k,
                   const std::string& id, int marker,
                   S3ListPartsResult* r) override {
    return inner_->ListParts(b, k, id, marker, r);
  }
  Status CopyObject(const std::string& sb, const std::string& sk,
                    const std::string& b, const std::string& k,
                    S3WriteResult* r) override {
    return inner_->CopyObject(sb, sk, b, k, r);
  }
  Status DeleteObject(const std::string& b, const std::string& k) override {
    return inner_->DeleteObject(b, k);
  }
  S3Stats stats() const override { return inner_->stats(); }

 private:
  FakeS3Store* store_;
  std::unique_ptr<S3Client> inner_;
  const int die_after_;
  const int lose_;
  std::atomic<int> parts_{0};
};

// A signed manifest of one drive and its chunk index (m/NAME.chunks).
struct SignedManifest {
  Manifest m;
  std::unique_ptr<ChunkIndexV2> index;
};

// Drives d1 (and d2: the same names, other bytes in big) on a simulated
// disk, and the store.
struct Shipment {
  Shipment() : store(StoreOptions()) {
    disk = std::make_unique<SimDisk>(SimDiskOptions());
    disk->AddDir("m");
    store.CreateBucket("b");
    big = test::RandomBytes(kBig, 1);
    other_big = test::RandomBytes(kBig, 2);
    const std::string small = test::RandomBytes(kSmall, 3);
    disk->AddFile("d1/big", big, 1000);
    disk->AddFile("d1/small", small, 1001);
    disk->AddFile("d2/big", other_big, 1000);
    disk->AddFile("d2/small", small, 1001);
  }
  static FakeS3Options StoreOptions() {
    FakeS3Options o;
    o.min_part_size = kChunk;  // a chunk is a valid part
    return o;
  }
  // The manifest of `drive` alone, its index at m/DRIVE.chunks.
  SignedManifest Make(const std::string& drive) {
    SignedManifest out;
    test::MakeChunkedManifest(disk.get(), {drive},
                              test::SmallPipelineOptions(kChunk, 1), &out.m,
                              &out.index, drive);
    return out;
  }
  IngestOptions S3Ingest(S3Client* client, const std::string& host = "h1") {
    IngestOptions io;
    io.s3 = client;
    io.s3_options.put_max = 100 << 10;
    io.s3_options.min_part_size = kChunk;
    // One request at a time: the parts reach the store in order, so a
    // kill after the Nth leaves exactly parts 1..N.
    io.s3_options.threads = 1;
    io.s3_options.digest_threads = 1;
    io.s3_options.host = host;
    io.s3_options.now = [] { return int64_t{1704067200} + 3600; };
    io.s3_options.journal_poll_ms = 0;
    return io;
  }
  Status Ingest(const SignedManifest& sm, const std::string& drive,
                S3Client* client, RunReport* r,
                const IngestOptions* with = nullptr) {
    auto fs = NewS3FileSystem(disk.get(), client, 3);
    PipelineOptions opt = test::SmallPipelineOptions(kChunk, 2);
    opt.depth = 1;  // big's chunks read in order
    opt.chunk_index = sm.index.get();
    opt.chunk_index_signed = true;
    IngestOptions io = with ? *with : S3Ingest(client);
    io.depth = 1;
    return IngestDrives(fs.get(), sm.m, {drive}, "s3://b/ship", opt, io, r);
  }
  // The first run, killed right after the `parts`th part of big reached
  // the store (losing part `lose` on the way, if not 0): big's upload is
  // left open, with exactly those parts.
  void KilledRun(const SignedManifest& sm, int parts, int lose = 0) {
    DyingClient client(&store, parts, lose);
    RunReport r;
    (void)Ingest(sm, "d1", &client, &r);
    std::string got;
    EXPECT_FALSE(store.ObjectBytes("b", "ship/big", &got));
    ASSERT_EQ(store.Uploads("b").size(), 1u);
    EXPECT_EQ(static_cast<int>(store.parts_seen().size()),
              parts - (lose > 0 ? 1 : 0));
    // small may have been committed before the kill, or not.
    small_left = store.ObjectBytes("b", "ship/small", &got) ? 0 : kSmall;
  }
  std::vector<std::string> Markers() const {
    std::vector<std::string> out;
    for (const std::string& k : store.Keys("b")) {
      if (k.rfind("ship/.valise/uploads/", 0) == 0) out.push_back(k);
    }
    return out;
  }
  // After a rerun: every file whole and right under its key, nothing left
  // open, no marker.
  void CheckDone(const std::string& want_big) const {
    std::string got;
    ASSERT_TRUE(store.ObjectBytes("b", "ship/big", &got));
    EXPECT_TRUE(got == want_big);
    EXPECT_TRUE(store.ObjectBytes("b", "ship/small", &got));
    EXPECT_TRUE(store.Uploads("b").empty());
    EXPECT_TRUE(Markers().empty());
  }

  std::unique_ptr<SimDisk> disk;
  FakeS3Store store;
  std::string big, other_big;
  uint64_t small_left = kSmall;  // small's bytes a rerun reads (KilledRun)
};

uint64_t BytesRead(const RunReport& r) {
  uint64_t n = 0;
  for (const DriveReport& d : r.drives) n += d.bytes_read;
  return n;
}

std::string Notes(const RunReport& r) {
  std::string out;
  for (const std::string& n : r.notes) out += n + "\n";
  return out;
}

// The part numbers the store took since `from` (parts_seen order).
std::vector<int> PartsSince(const FakeS3Store& store, size_t from) {
  std::vector<int> out;
  std::vector<FakeS3PartSeen> seen = store.parts_seen();
  for (size_t i = from; i < seen.size(); ++i) out.push_back(seen[i].number);
  return out;
}

std::vector<int> Range(int first, int last) {
  std::vector<int> out;
  for (int n = first; n <= last; ++n) out.push_back(n);
  return out;
}

// Goal: a run killed after 30 of big's 41 parts reached the store: the
// rerun keeps the upload (its marker names it, for this manifest's big),
// lists its parts, goes on from chunk 30 and reads only the rest of big
// from the drive (10 chunks and 100 bytes, plus small), sends parts 31..41
// into the same upload and completes it: big is whole and right, nothing
// is left open, no marker; the report says a file was resumed by 30
// chunks. Fails with the uploads aborted at Open (as before: big read
// whole, 41 parts sent again).
TEST(S3ChunkResume, KilledMidUploadGoesOnFromTheStoredParts) {
  Shipment s;
  SignedManifest sm = s.Make("d1");
  s.KilledRun(sm, 30);
  const size_t before = s.store.parts_seen().size();
  auto client = s.store.NewClient();
  RunReport r;
  ASSERT_VALISE_OK(s.Ingest(sm, "d1", client.get(), &r));
  EXPECT_EQ(r.ExitCode(), 0) << FormatSummary(r);
  EXPECT_EQ(r.files_resumed_by_chunk, 1u);
  EXPECT_EQ(r.bytes_resumed_by_chunk, 30 * kChunk);
  EXPECT_EQ(BytesRead(r), kBig - 30 * kChunk + s.small_left)
      << FormatSummary(r);
  EXPECT_EQ(PartsSince(s.store, before), Range(31, 41));
  EXPECT_NE(Notes(r).find("1 multipart upload(s) of this host kept to "
                          "resume by chunk"),
            std::string::npos)
      << Notes(r);
  s.CheckDone(s.big);

  // What landed verifies from the store, by the whole-file digests too.
  auto fs = NewS3FileSystem(s.disk.get(), client.get(), 3);
  PipelineOptions opt = test::SmallPipelineOptions(kChunk, 2);
  RunReport v;
  ASSERT_VALISE_OK(
      VerifyDrives(fs.get(), sm.m, nullptr, {"s3://b/ship"}, opt, &v));
  EXPECT_EQ(v.files_ok, 2u) << FormatSummary(v);
}

// Goal: a part missing in the middle of the upload (part 12 lost on the
// way: the run went on as if sent) ends the prefix: the rerun goes on
// from chunk 11, sending parts 12..41 again, and big is right. Fails if
// the parts after a gap were counted.
TEST(S3ChunkResume, AMissingPartEndsThePrefix) {
  Shipment s;
  SignedManifest sm = s.Make("d1");
  s.KilledRun(sm, 30, /*lose=*/12);
  const size_t before = s.store.parts_seen().size();
  auto client = s.store.NewClient();
  RunReport r;
  ASSERT_VALISE_OK(s.Ingest(sm, "d1", client.get(), &r));
  EXPECT_EQ(r.ExitCode(), 0) << FormatSummary(r);
  EXPECT_EQ(r.files_resumed_by_chunk, 1u);
  EXPECT_EQ(r.bytes_resumed_by_chunk, 11 * kChunk);
  EXPECT_EQ(BytesRead(r), kBig - 11 * kChunk + s.small_left);
  EXPECT_EQ(PartsSince(s.store, before), Range(12, 41));
  s.CheckDone(s.big);
}

// Goal: an upload kept under "r0" is gone on from only by the run of the
// manifest it was made for. Under another manifest whose entry 0 is big
// with other bytes (same name, same size: the same key and the same
// "r0"), its parts are not that entry's chunks: the rerun aborts it and
// reads big whole (41 parts sent); the object is the new big. Fails if
// the key alone located the upload (the old parts 1..30 would be
// completed into the object).
TEST(S3ChunkResume, AnUploadForAnotherManifestIsAbortedNotUsed) {
  Shipment s;
  SignedManifest first = s.Make("d1");
  SignedManifest second = s.Make("d2");
  s.KilledRun(first, 30);
  const size_t before = s.store.parts_seen().size();
  auto client = s.store.NewClient();
  RunReport r;
  ASSERT_VALISE_OK(s.Ingest(second, "d2", client.get(), &r));
  EXPECT_EQ(r.ExitCode(), 0) << FormatSummary(r);
  EXPECT_EQ(r.files_resumed_by_chunk, 0u);
  EXPECT_EQ(BytesRead(r), kBig + s.small_left);
  EXPECT_EQ(PartsSince(s.store, before), Range(1, 41));
  s.CheckDone(s.other_big);
}

// Goal: the multi-host and stale rules hold for kept uploads. Host h2's
// run leaves h1's kept upload alone (it may be live) and reads big whole;
// h1's rerun then finds big committed (h2's journal) and aborts its kept
// upload. And h1's own kept upload older than --stale-upload-age is
// aborted like any stale upload, and big read whole.
TEST(S3ChunkResume, AnotherHostsAndStaleUploadsAreNotGoneOnFrom) {
  {
    Shipment s;
    SignedManifest sm = s.Make("d1");
    s.KilledRun(sm, 30);
    auto client = s.store.NewClient();
    IngestOptions h2 = s.S3Ingest(client.get(), "h2");
    RunReport r;
    ASSERT_VALISE_OK(s.Ingest(sm, "d1", client.get(), &r, &h2));
    EXPECT_EQ(r.ExitCode(), 0) << FormatSummary(r);
    EXPECT_EQ(r.files_resumed_by_chunk, 0u);
    EXPECT_EQ(BytesRead(r), kBig + s.small_left);
    EXPECT_EQ(s.store.Uploads("b").size(), 1u);  // h1's, left alone
    RunReport again;
    ASSERT_VALISE_OK(s.Ingest(sm, "d1", client.get(), &again));
    EXPECT_EQ(again.ExitCode(), 0) << FormatSummary(again);
    EXPECT_EQ(BytesRead(again), 0u);
    s.CheckDone(s.big);
  }
  {
    Shipment s;
    SignedManifest sm = s.Make("d1");
    s.KilledRun(sm, 30);
    auto client = s.store.NewClient();
    IngestOptions io = s.S3Ingest(client.get());
    io.s3_options.now = [] { return int64_t{1704067200} + 3 * 86400; };
    RunReport r;
    ASSERT_VALISE_OK(s.Ingest(sm, "d1", client.get(), &r, &io));
    EXPECT_EQ(r.ExitCode(), 0) << FormatSummary(r);
    EXPECT_EQ(r.files_resumed_by_chunk, 0u);
    EXPECT_EQ(BytesRead(r), kBig + s.small_left);
    EXPECT_NE(Notes(r).find("older than 86400 s"), std::string::npos)
        << Notes(r);
    s.CheckDone(s.big);
  }
}

}  // namespace
}  // namespace valise
