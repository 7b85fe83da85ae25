// Tests of valise bench -d s3://BUCKET/PREFIX (src/pipeline/bench_s3.cc)
// on the fake S3 store: both rates measured with the requests counted,
// retries through the store's faults, and the promise that nothing is
// left in the bucket: no object, no multipart upload, whatever happened.
#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/test_util.h"
#include "valise/bench.h"
#include "valise/fake_s3.h"

namespace valise {
namespace {

using json = nlohmann::ordered_json;

struct Store {
  FakeS3Store store;
  std::unique_ptr<S3Client> client;
  explicit Store(const FakeS3Options& o = {}, int max_attempts = 10)
      : store(o) {
    store.CreateBucket("b");
    std::string keep = "already here";
    S3WriteResult res;
    client = store.NewClient(max_attempts);
    EXPECT_TRUE(
        client->PutObject("b", "p/keep", PayloadOf(keep), {}, false, &res)
            .ok());
  }
  static S3Payload PayloadOf(const std::string& s);
};

S3Payload Store::PayloadOf(const std::string& s) {
  S3Payload p;
  p.pieces = {{s.data(), s.size()}};
  for (DigestType t : {DigestType::kMd5, DigestType::kSha256}) {
    std::unique_ptr<Hasher> h = Hasher::New(t);
    h->Update(s.data(), s.size());
    (t == DigestType::kMd5 ? p.md5 : p.sha256) = h->Finish();
  }
  return p;
}

// No drive: the hashes and the store only, 4 requests in flight, small
// parts so the fake store's memory stays small.
BenchOptions S3Options(S3Client* client) {
  BenchOptions o;
  o.dest = "s3://b/p";
  o.s3 = client;
  o.seconds = 0.3;
  o.hash_seconds = 0.02;
  o.pipeline.threads = 1;
  o.pipeline.depth = 4;
  o.s3_options.part_size = 64 << 10;
  o.s3_small_size = 1000;
  return o;
}

void ExpectNothingLeft(const Store& s) {
  EXPECT_EQ(s.store.Keys("b"), std::vector<std::string>{"p/keep"});
  EXPECT_TRUE(s.store.Uploads("b").empty());
}

// Goal: parts (bytes/s) and small PUTs (objects/s) are both measured with
// the requests that made them, the store is the model's DEST limit, and
// the bucket holds afterwards exactly what it held before.
TEST(BenchS3, MeasuresPartsAndSmallObjectsAndLeavesNothing) {
  Store s;
  BenchOptions o = S3Options(s.client.get());
  BenchReport r;
  Status st = RunBench(FileSystem::Default(), o, &r);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(r.has_dest);
  EXPECT_TRUE(r.dest_s3);
  EXPECT_TRUE(r.dest_errors.empty()) << r.dest_errors[0];
  EXPECT_EQ(r.dest_in_flight, 4u);
  EXPECT_EQ(r.dest_part_size, 64u << 10);
  EXPECT_GT(r.dest_parts, 0u);
  EXPECT_EQ(r.dest_write.bytes, r.dest_parts * (64 << 10));
  EXPECT_GE(r.dest_write.seconds, 0.3);
  EXPECT_GT(r.dest_small_objects, 0u);
  EXPECT_EQ(r.dest_small.bytes, r.dest_small_objects * 1000);
  EXPECT_GE(r.dest_small.seconds, 0.3);
  // Every part and PUT, 4 Creates, and the clean-up (4 aborts, a DELETE
  // per object, one listing).
  EXPECT_GE(r.dest_s3_requests,
            r.dest_parts + 2 * r.dest_small_objects + 4 + 4 + 1);
  EXPECT_EQ(r.dest_s3_retries, 0u);
  EXPECT_GT(r.limit_dest, 0);
  EXPECT_EQ(r.limit_dest, r.dest_write.rate());
  EXPECT_TRUE(r.drives.empty());
  EXPECT_FALSE(r.has_pipeline);
  ExpectNothingLeft(s);

  json j = json::parse(FormatBenchJson(r));
  EXPECT_EQ(j["dest"]["path"], "s3://b/p");
  EXPECT_EQ(j["dest"]["s3"]["parts"], r.dest_parts);
  EXPECT_EQ(j["dest"]["s3"]["small"]["objects"], r.dest_small_objects);
  EXPECT_GT(j["dest"]["s3"]["small"]["objects_per_s"].get<double>(), 0);
  EXPECT_EQ(j["dest"]["s3"]["requests"], r.dest_s3_requests);
  const std::string table = FormatBenchTable(r);
  EXPECT_NE(table.find("objects/s"), std::string::npos) << table;
  EXPECT_NE(table.find("requests in flight"), std::string::npos) << table;
}

// Goal: 500s, SlowDown and resets are retried and counted, and the run
// still measures and leaves nothing. Which requests meet a fault depends
// on how the four in flight interleave, so the client may retry 30 times
// (with 10, one request in ~20,000 met ten faults in a row and failed the
// run), and the SlowDowns are compared with the store's own count rather
// than expected of a window a loaded machine may fill with few requests.
TEST(BenchS3, RetriesThroughFaultsAreCounted) {
  FakeS3Options fo;
  fo.seed = 7;
  Store s(fo, /*max_attempts=*/30);
  FakeS3Faults f;
  f.error_500_one_in = 6;
  f.slowdown_one_in = 7;
  f.reset_one_in = 9;
  s.store.SetFaults(f);
  const FakeS3Counters before = s.store.counters();
  BenchOptions o = S3Options(s.client.get());
  BenchReport r;
  Status st = RunBench(FileSystem::Default(), o, &r);
  ASSERT_TRUE(st.ok()) << st.ToString();
  const FakeS3Counters after = s.store.counters();
  EXPECT_TRUE(r.dest_errors.empty()) << r.dest_errors[0];
  EXPECT_GT(r.dest_parts, 0u);
  EXPECT_GT(r.dest_small_objects, 0u);
  EXPECT_GT(r.dest_s3_retries, 0u);
  EXPECT_EQ(r.dest_s3_throttled, after.slowdowns - before.slowdowns);
  EXPECT_LE(r.dest_s3_retries, r.dest_s3_requests);
  s.store.SetFaults({});
  ExpectNothingLeft(s);
}

// Goal: answers lost after the store applied the request (an upload made
// whose Create the client saw fail, a PUT applied whose answer was lost)
// leave nothing behind either, whatever the measurement made of them.
TEST(BenchS3, LostAnswersLeaveNothing) {
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    SCOPED_TRACE(seed);
    FakeS3Options fo;
    fo.seed = seed;
    Store s(fo);
    FakeS3Faults f;
    f.lost_answer_one_in = 5;
    f.error_in_200_one_in = 5;
    s.store.SetFaults(f);
    BenchOptions o = S3Options(s.client.get());
    o.seconds = 0.1;
    BenchReport r;
    Status st = RunBench(FileSystem::Default(), o, &r);
    EXPECT_TRUE(st.ok()) << st.ToString();
    s.store.SetFaults({});
    ExpectNothingLeft(s);
  }
}

// Goal: interrupted while sending, the run returns Aborted and the bucket
// is as it was.
TEST(BenchS3, InterruptedRunLeavesNothing) {
  Store s;
  std::atomic<bool> cancel{false};
  BenchOptions o = S3Options(s.client.get());
  o.seconds = 30;
  o.pipeline.cancel = &cancel;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    cancel = true;
  });
  BenchReport r;
  Status st = RunBench(FileSystem::Default(), o, &r);
  stopper.join();
  EXPECT_TRUE(st.IsAborted()) << st.ToString();
  ExpectNothingLeft(s);
}

// Goal: a bucket that does not exist, or no client, is trouble before
// anything is measured.
TEST(BenchS3, MissingBucketOrClientIsTrouble) {
  Store s;
  BenchOptions o = S3Options(s.client.get());
  o.dest = "s3://nobucket/p";
  BenchReport r;
  Status st = RunBench(FileSystem::Default(), o, &r);
  EXPECT_TRUE(st.IsNotFound()) << st.ToString();
  EXPECT_NE(st.message().find("s3://nobucket/p"), std::string::npos);
  EXPECT_TRUE(r.hashes.empty());

  o = S3Options(nullptr);
  BenchReport r2;
  EXPECT_FALSE(RunBench(FileSystem::Default(), o, &r2).ok());
}

}  // namespace
}  // namespace valise
