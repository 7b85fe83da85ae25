// The fake S3 store: every client call against it, the checks it shares
// with RGW, its seeded faults (survived through the client's retries, and
// replayed exactly from a seed) and its crash model.
#include "valise/fake_s3.h"

#include "net/s3_test_util.h"
#include "support/test_util.h"

namespace valise {
namespace {

using test::Md5Of;
using test::PayloadOf;
using test::Sha256Of;

constexpr uint64_t kMinPart = 1024;

FakeS3Options SmallParts(uint64_t seed = 1) {
  FakeS3Options o;
  o.seed = seed;
  o.min_part_size = kMinPart;
  return o;
}

// Uploads `data` under `key` in parts of `part` bytes (a single PUT when
// it fits one), as S3Destination will.
Status Upload(S3Client* c, const std::string& key, const std::string& data,
              size_t part, S3WriteResult* result) {
  if (data.size() <= part) {
    return c->PutObject("b", key, PayloadOf(data), {{"size", "x"}}, true,
                        result);
  }
  std::string id;
  VALISE_RETURN_IF_ERROR(
      c->CreateMultipartUpload("b", key, {{"size", "x"}}, &id));
  std::vector<S3CompletedPart> parts;
  std::vector<std::string> pieces;
  for (size_t off = 0; off < data.size(); off += part) {
    pieces.push_back(data.substr(off, part));
  }
  for (size_t i = 0; i < pieces.size(); ++i) {
    S3WriteResult r;
    VALISE_RETURN_IF_ERROR(c->UploadPart("b", key, id, static_cast<int>(i + 1),
                                         PayloadOf(pieces[i]), &r));
    parts.push_back({static_cast<int>(i + 1), r.etag});
  }
  return c->CompleteMultipartUpload("b", key, id, parts, result);
}

// Goal: every S3Client call works against the fake: single and multipart
// writes with metadata, HEAD, ranged GETs, listings (prefix, delimiter,
// pages), copies, aborts, deletes.
TEST(FakeS3, EveryCall) {
  FakeS3Store store(SmallParts());
  store.CreateBucket("b");
  auto c = store.NewClient();
  ASSERT_VALISE_OK(c->HeadBucket("b"));
  EXPECT_TRUE(c->HeadBucket("nope").IsNotFound());

  std::string small = test::RandomBytes(100, 1);
  std::string big = test::RandomBytes(3 * kMinPart + 10, 2);
  S3WriteResult w;
  ASSERT_VALISE_OK(Upload(c.get(), "d/small", small, kMinPart, &w));
  EXPECT_EQ(w.etag, Md5Of(small).Hex());
  ASSERT_VALISE_OK(Upload(c.get(), "d/big one", big, kMinPart, &w));
  EXPECT_EQ(w.etag.substr(w.etag.size() - 2), "-4");

  S3ObjectInfo info;
  ASSERT_VALISE_OK(c->HeadObject("b", "d/big one", &info));
  EXPECT_EQ(info.size, big.size());
  EXPECT_EQ(info.etag, w.etag);
  EXPECT_EQ(info.metadata["size"], "x");
  EXPECT_TRUE(c->HeadObject("b", "d/none", &info).IsNotFound());

  std::string buf(1000, '\0');
  S3GetResult g;
  ASSERT_VALISE_OK(
      c->GetObject("b", "d/big one", 1500, buf.size(), buf.data(), w.etag, &g));
  EXPECT_EQ(g.bytes, 1000u);
  EXPECT_EQ(g.object_size, big.size());
  EXPECT_EQ(buf, big.substr(1500, 1000));
  ASSERT_VALISE_OK(
      c->GetObject("b", "d/small", 90, buf.size(), buf.data(), "", &g));
  EXPECT_EQ(g.bytes, 10u);
  EXPECT_EQ(buf.substr(0, 10), small.substr(90));
  ASSERT_VALISE_OK(
      c->GetObject("b", "d/small", 100, buf.size(), buf.data(), "", &g));
  EXPECT_EQ(g.bytes, 0u);
  Status s = c->GetObject("b", "d/small", 0, 10, buf.data(), "other", &g);
  EXPECT_EQ(s.http_status(), 412) << s.ToString();

  ASSERT_VALISE_OK(c->CopyObject("b", "d/small", "b", "e/copy", &w));
  std::string bytes;
  S3Metadata meta;
  ASSERT_TRUE(store.ObjectBytes("b", "e/copy", &bytes, &meta));
  EXPECT_EQ(bytes, small);
  EXPECT_EQ(meta["size"], "x");

  // A part copied from a range of another object.
  std::string id;
  ASSERT_VALISE_OK(c->CreateMultipartUpload("b", "e/spliced", {}, &id));
  S3WriteResult p1, p2;
  ASSERT_VALISE_OK(c->UploadPartCopy("b", "e/spliced", id, 1, "b", "d/big one",
                                     0, kMinPart, "", &p1));
  ASSERT_VALISE_OK(
      c->UploadPart("b", "e/spliced", id, 2, PayloadOf(small), &p2));
  S3ListPartsResult lp;
  ASSERT_VALISE_OK(c->ListParts("b", "e/spliced", id, 0, &lp));
  ASSERT_EQ(lp.parts.size(), 2u);
  EXPECT_EQ(lp.parts[0].size, kMinPart);
  EXPECT_EQ(lp.parts[1].etag, p2.etag);
  S3ListUploadsResult lu;
  ASSERT_VALISE_OK(c->ListMultipartUploads("b", "e/", "", "", &lu));
  ASSERT_EQ(lu.uploads.size(), 1u);
  EXPECT_EQ(lu.uploads[0].upload_id, id);
  ASSERT_VALISE_OK(c->CompleteMultipartUpload(
      "b", "e/spliced", id, {{1, p1.etag}, {2, p2.etag}}, &w));
  ASSERT_TRUE(store.ObjectBytes("b", "e/spliced", &bytes));
  EXPECT_EQ(bytes, big.substr(0, kMinPart) + small);

  // Abort drops an upload; a second abort is NotFound.
  ASSERT_VALISE_OK(c->CreateMultipartUpload("b", "e/dropped", {}, &id));
  ASSERT_VALISE_OK(c->AbortMultipartUpload("b", "e/dropped", id));
  EXPECT_TRUE(c->AbortMultipartUpload("b", "e/dropped", id).IsNotFound());
  EXPECT_TRUE(store.Uploads("b").empty());

  // Listings: flat, with a delimiter, in pages of 2.
  S3ListObjectsRequest lr;
  S3ListObjectsResult l;
  ASSERT_VALISE_OK(c->ListObjectsV2("b", lr, &l));
  ASSERT_EQ(l.objects.size(), 4u);
  EXPECT_EQ(l.objects[0].key, "d/big one");
  EXPECT_EQ(l.objects[1].size, small.size());
  lr.delimiter = "/";
  ASSERT_VALISE_OK(c->ListObjectsV2("b", lr, &l));
  EXPECT_TRUE(l.objects.empty());
  ASSERT_EQ(l.common_prefixes.size(), 2u);
  EXPECT_EQ(l.common_prefixes[1], "e/");
  lr = S3ListObjectsRequest();
  lr.max_keys = 3;
  std::vector<std::string> keys;
  do {
    ASSERT_VALISE_OK(c->ListObjectsV2("b", lr, &l));
    for (const auto& o : l.objects) keys.push_back(o.key);
    lr.continuation_token = l.next_continuation_token;
  } while (l.truncated);
  EXPECT_EQ(keys, store.Keys("b"));

  ASSERT_VALISE_OK(c->DeleteObject("b", "e/copy"));
  ASSERT_VALISE_OK(c->DeleteObject("b", "e/copy"));
  EXPECT_FALSE(store.ObjectBytes("b", "e/copy", &bytes));
}

// Goal: the store refuses what RGW refuses, and keeps nothing of it: a
// wrong Content-MD5 (BadDigest), a wrong payload SHA-256, no Content-MD5
// (the fake's own rule), a small part, a wrong ETag, parts out of order,
// an existing key under If-None-Match.
TEST(FakeS3, StoreChecks) {
  FakeS3Store store(SmallParts());
  store.CreateBucket("b");
  auto c = store.NewClient();
  std::string data = "the verified bytes";
  S3WriteResult w;

  S3Payload bad_md5 = PayloadOf(data);
  bad_md5.md5 = Md5Of("other bytes");
  Status s = c->PutObject("b", "k", bad_md5, {}, false, &w);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_EQ(s.service_code(), "BadDigest");

  S3Payload bad_sha = PayloadOf(data);
  bad_sha.sha256 = Sha256Of("other bytes");
  s = c->PutObject("b", "k", bad_sha, {}, false, &w);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_EQ(s.service_code(), "XAmzContentSHA256Mismatch");
  std::string bytes;
  EXPECT_FALSE(store.ObjectBytes("b", "k", &bytes));

  std::string id;
  ASSERT_VALISE_OK(c->CreateMultipartUpload("b", "m", {}, &id));
  std::string small(kMinPart - 1, 'a'), last = "z";
  S3WriteResult p1, p2;
  ASSERT_VALISE_OK(c->UploadPart("b", "m", id, 1, PayloadOf(small), &p1));
  ASSERT_VALISE_OK(c->UploadPart("b", "m", id, 2, PayloadOf(last), &p2));
  s = c->CompleteMultipartUpload("b", "m", id, {{1, p1.etag}, {2, p2.etag}},
                                 &w);
  EXPECT_EQ(s.service_code(), "EntityTooSmall") << s.ToString();
  std::string full(kMinPart, 'a');
  ASSERT_VALISE_OK(c->UploadPart("b", "m", id, 1, PayloadOf(full), &p1));
  s = c->CompleteMultipartUpload("b", "m", id, {{1, p2.etag}, {2, p2.etag}},
                                 &w);
  EXPECT_EQ(s.service_code(), "InvalidPart") << s.ToString();
  s = c->CompleteMultipartUpload("b", "m", id, {{2, p2.etag}, {1, p1.etag}},
                                 &w);
  EXPECT_EQ(s.service_code(), "InvalidPartOrder") << s.ToString();
  EXPECT_FALSE(store.ObjectBytes("b", "m", &bytes));
  ASSERT_EQ(store.Uploads("b").size(), 1u);  // still open after refusals
  ASSERT_VALISE_OK(c->CompleteMultipartUpload(
      "b", "m", id, {{1, p1.etag}, {2, p2.etag}}, &w));
  ASSERT_TRUE(store.ObjectBytes("b", "m", &bytes));
  EXPECT_EQ(bytes, full + last);

  ASSERT_VALISE_OK(c->PutObject("b", "k", PayloadOf(data), {}, true, &w));
  s = c->PutObject("b", "k", PayloadOf("new"), {}, true, &w);
  EXPECT_EQ(s.http_status(), 412) << s.ToString();
  ASSERT_TRUE(store.ObjectBytes("b", "k", &bytes));
  EXPECT_EQ(bytes, data);
  EXPECT_TRUE(c->UploadPart("b", "m", "no-such-upload", 1, PayloadOf(data), &w)
                  .IsNotFound());
  EXPECT_TRUE(c->PutObject("nobucket", "k", PayloadOf(data), {}, false, &w)
                  .IsNotFound());
}

// Goal: wrong credentials are refused (unknown key id, wrong secret) and
// the message holds no secret.
TEST(FakeS3, WrongCredentials) {
  FakeS3Store store(SmallParts());
  store.CreateBucket("b");
  S3WriteResult w;
  S3Credentials wrong_id{"AKIDWRONG", "fake/secret/access/key", "", ""};
  S3Credentials wrong_secret{"FAKEACCESSKEYID", "not/the/secret/at/all", "",
                             ""};
  Status s = store.NewClient(wrong_id)->HeadBucket("b");
  EXPECT_EQ(s.http_status(), 403);
  s = store.NewClient(wrong_secret)
          ->PutObject("b", "k", PayloadOf("x"), {}, false, &w);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_EQ(s.service_code(), "SignatureDoesNotMatch");
  EXPECT_EQ(s.ToString().find("not/the/secret"), std::string::npos);
  EXPECT_EQ(store.counters().requests, 2u);  // no retries of a refusal
}

// A deterministic workload under faults: 12 files, each uploaded until it
// succeeds, then every upload left behind is aborted. Returns the files.
std::vector<std::pair<std::string, std::string>> Workload(FakeS3Store* store,
                                                          S3Client* c) {
  std::vector<std::pair<std::string, std::string>> files;
  for (int i = 0; i < 12; ++i) {
    std::string key = "f/" + std::to_string(i);
    std::string data = test::RandomBytes(100 + i * 700, 100 + i);
    for (int attempt = 0;; ++attempt) {
      EXPECT_LT(attempt, 50) << key;
      if (attempt >= 50) break;
      S3WriteResult w;
      Status s = Upload(c, key, data, kMinPart, &w);
      if (s.ok()) break;
      if (s.http_status() == 412) {  // an earlier attempt landed
        std::string bytes;
        EXPECT_TRUE(store->ObjectBytes("b", key, &bytes) && bytes == data);
        break;
      }
      // Anything else (retries used up, an upload whose completion was
      // lost and then reported gone): run the file again.
    }
    files.emplace_back(key, data);
  }
  // Abort the uploads lost answers left behind.
  for (int attempt = 0; attempt < 50; ++attempt) {
    S3ListUploadsResult lu;
    if (!c->ListMultipartUploads("b", "", "", "", &lu).ok()) continue;
    if (lu.uploads.empty()) break;
    for (const auto& u : lu.uploads) {
      c->AbortMultipartUpload("b", u.key, u.upload_id).PermitUncheckedError();
    }
  }
  return files;
}

FakeS3Faults AllFaults() {
  FakeS3Faults f;
  f.reset_one_in = 7;
  f.error_500_one_in = 9;
  f.slowdown_one_in = 8;
  f.error_in_200_one_in = 3;
  f.lost_answer_one_in = 5;
  return f;
}

// Goal: under every fault at once, the client's retries and the workload's
// reruns land every file intact and leave no upload behind; every kind of
// fault happened; ranged reads under resets get the right bytes.
TEST(FakeS3, FaultsAreSurvived) {
  FakeS3Options o = SmallParts(42);
  o.faults = AllFaults();
  FakeS3Store store(o);
  store.CreateBucket("b");
  auto c = store.NewClient(/*max_attempts=*/6);
  auto files = Workload(&store, c.get());
  for (const auto& [key, data] : files) {
    std::string bytes;
    ASSERT_TRUE(store.ObjectBytes("b", key, &bytes)) << key;
    EXPECT_EQ(bytes, data) << key;
    std::string buf(data.size(), '\0');
    S3GetResult g;
    Status s;
    for (int i = 0; i < 10; ++i) {
      s = c->GetObject("b", key, 0, buf.size(), buf.data(), "", &g);
      if (s.ok()) break;
    }
    ASSERT_VALISE_OK(s);
    EXPECT_EQ(buf, data) << key;
  }
  EXPECT_TRUE(store.Uploads("b").empty());
  FakeS3Counters n = store.counters();
  EXPECT_GT(n.resets, 0u);
  EXPECT_GT(n.errors_500, 0u);
  EXPECT_GT(n.slowdowns, 0u);
  EXPECT_GT(n.errors_in_200, 0u);
  EXPECT_GT(n.lost_answers, 0u);
  S3Stats st = c->stats();
  EXPECT_GT(st.retries, 0u);
  EXPECT_GT(st.throttled, 0u);
  EXPECT_EQ(st.requests, n.requests);
}

// Goal: one seed, one sequence of calls: the same faults, in the same
// order, and the same store; another seed differs.
TEST(FakeS3, SeedReplaysExactly) {
  auto run = [](uint64_t seed, std::vector<std::string>* keys) {
    FakeS3Options o = SmallParts(seed);
    o.faults = AllFaults();
    FakeS3Store store(o);
    store.CreateBucket("b");
    auto c = store.NewClient(6);
    Workload(&store, c.get());
    *keys = store.Keys("b");
    return store.fault_log();
  };
  std::vector<std::string> k1, k2, k3;
  std::vector<std::string> a = run(7, &k1);
  std::vector<std::string> b = run(7, &k2);
  std::vector<std::string> d = run(8, &k3);
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, b);
  EXPECT_EQ(k1, k2);
  EXPECT_NE(a, d);
}

// Goal: a lost answer to Complete is recovered by the client (HEAD finds
// the object the parts make), not reported as a failure.
TEST(FakeS3, LostCompletionRecovered) {
  FakeS3Store store(SmallParts());
  store.CreateBucket("b");
  auto c = store.NewClient();
  std::string data = test::RandomBytes(2 * kMinPart + 1, 3);
  std::string id;
  ASSERT_VALISE_OK(c->CreateMultipartUpload("b", "k", {}, &id));
  std::vector<S3CompletedPart> parts;
  for (int i = 0; i < 3; ++i) {
    std::string piece = data.substr(i * kMinPart, kMinPart);
    S3WriteResult r;
    ASSERT_VALISE_OK(c->UploadPart("b", "k", id, i + 1, PayloadOf(piece), &r));
    parts.push_back({i + 1, r.etag});
  }
  FakeS3Faults f;
  f.lost_answer_one_in = 1;  // every change's answer is lost
  store.SetFaults(f);
  S3WriteResult w;
  ASSERT_VALISE_OK(c->CompleteMultipartUpload("b", "k", id, parts, &w));
  EXPECT_EQ(w.etag, MultipartETag(parts));
  EXPECT_EQ(store.counters().lost_answers, 1u);
  std::string bytes;
  ASSERT_TRUE(store.ObjectBytes("b", "k", &bytes));
  EXPECT_EQ(bytes, data);
}

// Goal: the crash model: a killed client sends nothing more (Aborted,
// injected); its open uploads and their parts and its completed objects
// are all there for the next client, which can finish or abort them.
TEST(FakeS3, KilledClientLeavesUploadsForTheRerun) {
  FakeS3Store store(SmallParts());
  store.CreateBucket("b");
  auto first = store.NewClient();
  S3WriteResult w;
  ASSERT_VALISE_OK(first->PutObject("b", "done", PayloadOf("x"), {}, true, &w));
  std::string id;
  ASSERT_VALISE_OK(first->CreateMultipartUpload("b", "open", {}, &id));
  std::string part(kMinPart, 'p');
  S3WriteResult p1;
  ASSERT_VALISE_OK(first->UploadPart("b", "open", id, 1, PayloadOf(part), &p1));

  store.KillClients();
  Status s = first->UploadPart("b", "open", id, 2, PayloadOf(part), &w);
  EXPECT_TRUE(s.IsAborted()) << s.ToString();
  EXPECT_TRUE(s.injected());

  auto rerun = store.NewClient();
  std::string bytes;
  ASSERT_TRUE(store.ObjectBytes("b", "done", &bytes));
  S3ListUploadsResult lu;
  ASSERT_VALISE_OK(rerun->ListMultipartUploads("b", "", "", "", &lu));
  ASSERT_EQ(lu.uploads.size(), 1u);
  EXPECT_EQ(lu.uploads[0].key, "open");
  S3ListPartsResult lp;
  ASSERT_VALISE_OK(rerun->ListParts("b", "open", id, 0, &lp));
  ASSERT_EQ(lp.parts.size(), 1u);
  EXPECT_EQ(lp.parts[0].etag, p1.etag);
  S3WriteResult p2;
  ASSERT_VALISE_OK(
      rerun->UploadPart("b", "open", id, 2, PayloadOf("end"), &p2));
  ASSERT_VALISE_OK(rerun->CompleteMultipartUpload(
      "b", "open", id, {{1, p1.etag}, {2, p2.etag}}, &w));
  ASSERT_TRUE(store.ObjectBytes("b", "open", &bytes));
  EXPECT_EQ(bytes, part + "end");
}

// Goal: a store that is down (RGW restarting) fails requests as refused
// connections, retried until the attempts run out (retryable, not
// applied); once it is back, the same client works.
TEST(FakeS3, UnavailableThenBack) {
  FakeS3Store store(SmallParts());
  store.CreateBucket("b");
  auto c = store.NewClient(3);
  store.SetUnavailable(true);
  std::string id;
  Status s = c->CreateMultipartUpload("b", "k", {}, &id);
  EXPECT_TRUE(s.IsIOError());
  EXPECT_TRUE(s.retryable());
  EXPECT_EQ(store.counters().refused, 3u);  // retried: never applied
  store.SetUnavailable(false);
  ASSERT_VALISE_OK(c->CreateMultipartUpload("b", "k", {}, &id));
}

}  // namespace
}  // namespace valise
