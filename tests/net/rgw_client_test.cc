// The S3 client against a real Ceph RGW: every call, and the refusals the
// store must make (a wrong Content-MD5, a wrong payload SHA-256, wrong
// credentials). Run by tests/e2e/s3_client.sh on the test cluster
// (tests/support/ceph_cluster.sh), which sets VALISE_RGW_BUCKET (an empty
// bucket of its own) and the AWS_* variables; skipped without them.
#include "net/s3_test_util.h"
#include "support/test_util.h"
#include "valise/s3.h"

namespace valise {
namespace {

using test::Md5Of;
using test::PayloadOf;
using test::Sha256Of;

class RgwS3Client : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* bucket = getenv("VALISE_RGW_BUCKET");
    if (bucket == nullptr || *bucket == '\0') {
      GTEST_SKIP() << "VALISE_RGW_BUCKET is not set: run tests/e2e/"
                      "s3_client.sh (a real RGW)";
    }
    bucket_ = bucket;
    ASSERT_VALISE_OK(
        ResolveS3Config(S3Flags(), S3Environment::FromProcess(), &config_));
    ASSERT_VALISE_OK(NewS3Client(config_, &client_));
  }
  std::string Get(const std::string& key, uint64_t size) {
    std::string buf(size, '\0');
    S3GetResult r;
    Status s = client_->GetObject(bucket_, key, 0, size, buf.data(), "", &r);
    EXPECT_TRUE(s.ok()) << s.ToString();
    buf.resize(r.bytes);
    return buf;
  }
  bool Exists(const std::string& key) {
    S3ObjectInfo info;
    return client_->HeadObject(bucket_, key, &info).ok();
  }

  std::string bucket_;
  S3Config config_;
  std::unique_ptr<S3Client> client_;
};

// Goal: HeadBucket, PutObject with metadata and If-None-Match, HeadObject,
// ranged GETs (with If-Match), CopyObject, DeleteObject, on keys that need
// encoding.
TEST_F(RgwS3Client, SingleObjects) {
  ASSERT_VALISE_OK(client_->HeadBucket(bucket_));
  EXPECT_TRUE(client_->HeadBucket(bucket_ + "-none").IsNotFound());

  const std::string key = "single/a b+c%d~\xC3\xA9.txt";
  std::string data = test::RandomBytes(100000, 1);
  S3WriteResult w;
  ASSERT_VALISE_OK(client_->PutObject(
      bucket_, key, PayloadOf(data),
      {{"sha256", Sha256Of(data).Hex()}, {"mtime", "1700000000"}}, true, &w));
  EXPECT_EQ(w.etag, Md5Of(data).Hex());
  EXPECT_FALSE(w.request_id.empty());
  Status s = client_->PutObject(bucket_, key, PayloadOf("other"), {}, true, &w);
  EXPECT_EQ(s.http_status(), 412) << s.ToString();
  EXPECT_FALSE(s.request_id().empty());

  S3ObjectInfo info;
  ASSERT_VALISE_OK(client_->HeadObject(bucket_, key, &info));
  EXPECT_EQ(info.size, data.size());
  EXPECT_EQ(info.etag, Md5Of(data).Hex());
  EXPECT_EQ(info.metadata["sha256"], Sha256Of(data).Hex());
  EXPECT_EQ(info.metadata["mtime"], "1700000000");
  EXPECT_TRUE(client_->HeadObject(bucket_, key + "x", &info).IsNotFound());

  std::string buf(4096, '\0');
  S3GetResult g;
  ASSERT_VALISE_OK(client_->GetObject(bucket_, key, 50000, buf.size(),
                                      buf.data(), info.etag, &g));
  EXPECT_EQ(g.bytes, buf.size());
  EXPECT_EQ(g.object_size, data.size());
  EXPECT_EQ(buf, data.substr(50000, 4096));
  ASSERT_VALISE_OK(client_->GetObject(bucket_, key, data.size() - 10,
                                      buf.size(), buf.data(), "", &g));
  EXPECT_EQ(g.bytes, 10u);
  EXPECT_EQ(buf.substr(0, 10), data.substr(data.size() - 10));
  ASSERT_VALISE_OK(client_->GetObject(bucket_, key, data.size(), buf.size(),
                                      buf.data(), "", &g));
  EXPECT_EQ(g.bytes, 0u);
  s = client_->GetObject(bucket_, key, 0, 10, buf.data(),
                         "0123456789abcdef0123456789abcdef", &g);
  EXPECT_EQ(s.http_status(), 412) << s.ToString();
  EXPECT_EQ(Get(key, data.size() + 1), data);

  ASSERT_VALISE_OK(
      client_->CopyObject(bucket_, key, bucket_, "single/copy", &w));
  EXPECT_EQ(Get("single/copy", data.size()), data);
  ASSERT_VALISE_OK(client_->HeadObject(bucket_, "single/copy", &info));
  EXPECT_EQ(info.metadata["mtime"], "1700000000");

  ASSERT_VALISE_OK(client_->DeleteObject(bucket_, "single/copy"));
  ASSERT_VALISE_OK(client_->DeleteObject(bucket_, "single/copy"));
  EXPECT_FALSE(Exists("single/copy"));
}

// Goal: a multipart upload: Create with metadata, UploadPart, UploadPartCopy
// of a range, ListParts, ListMultipartUploads, Complete (the ETag the parts
// make, as HEAD gives it), the bytes read back; Abort of another upload,
// and it is gone from the listing.
TEST_F(RgwS3Client, MultipartUpload) {
  const uint64_t kPart = 5 << 20;
  std::string source = test::RandomBytes(kPart + 1000, 2);
  S3WriteResult w;
  ASSERT_VALISE_OK(client_->PutObject(bucket_, "mp/source", PayloadOf(source),
                                      {}, false, &w));

  const std::string key = "mp/big file";
  std::string id;
  ASSERT_VALISE_OK(
      client_->CreateMultipartUpload(bucket_, key, {{"mtime", "42"}}, &id));
  std::string part1 = test::RandomBytes(kPart, 3);
  std::string part3 = "the last part, short";
  S3WriteResult p1, p2, p3;
  ASSERT_VALISE_OK(
      client_->UploadPart(bucket_, key, id, 1, PayloadOf(part1), &p1));
  EXPECT_EQ(p1.etag, Md5Of(part1).Hex());
  ASSERT_VALISE_OK(client_->UploadPartCopy(bucket_, key, id, 2, bucket_,
                                           "mp/source", 500, kPart, "", &p2));
  ASSERT_VALISE_OK(
      client_->UploadPart(bucket_, key, id, 3, PayloadOf(part3), &p3));

  S3ListPartsResult lp;
  ASSERT_VALISE_OK(client_->ListParts(bucket_, key, id, 0, &lp));
  ASSERT_EQ(lp.parts.size(), 3u);
  EXPECT_EQ(lp.parts[0].etag, p1.etag);
  EXPECT_EQ(lp.parts[1].size, kPart);
  EXPECT_EQ(lp.parts[2].size, part3.size());
  S3ListUploadsResult lu;
  ASSERT_VALISE_OK(client_->ListMultipartUploads(bucket_, "mp/", "", "", &lu));
  ASSERT_EQ(lu.uploads.size(), 1u);
  EXPECT_EQ(lu.uploads[0].key, key);
  EXPECT_EQ(lu.uploads[0].upload_id, id);
  EXPECT_FALSE(Exists(key));  // nothing under the key before Complete

  std::vector<S3CompletedPart> parts = {
      {1, p1.etag}, {2, p2.etag}, {3, p3.etag}};
  ASSERT_VALISE_OK(
      client_->CompleteMultipartUpload(bucket_, key, id, parts, &w));
  EXPECT_EQ(w.etag, MultipartETag(parts));
  S3ObjectInfo info;
  ASSERT_VALISE_OK(client_->HeadObject(bucket_, key, &info));
  EXPECT_EQ(info.etag, MultipartETag(parts));
  EXPECT_EQ(info.metadata["mtime"], "42");
  std::string expected = part1 + source.substr(500, kPart) + part3;
  EXPECT_EQ(info.size, expected.size());
  EXPECT_TRUE(Get(key, expected.size()) == expected);

  ASSERT_VALISE_OK(
      client_->CreateMultipartUpload(bucket_, "mp/dropped", {}, &id));
  ASSERT_VALISE_OK(
      client_->UploadPart(bucket_, "mp/dropped", id, 1, PayloadOf(part3), &p1));
  ASSERT_VALISE_OK(client_->AbortMultipartUpload(bucket_, "mp/dropped", id));
  EXPECT_TRUE(
      client_->AbortMultipartUpload(bucket_, "mp/dropped", id).IsNotFound());
  EXPECT_TRUE(
      client_->ListParts(bucket_, "mp/dropped", id, 0, &lp).IsNotFound());
  ASSERT_VALISE_OK(client_->ListMultipartUploads(bucket_, "mp/", "", "", &lu));
  EXPECT_TRUE(lu.uploads.empty());
  EXPECT_FALSE(Exists("mp/dropped"));
}

// Goal: ListObjectsV2 pages through keys that need encoding (space, '+',
// '%', UTF-8), with and without a delimiter.
TEST_F(RgwS3Client, ListObjects) {
  std::vector<std::string> keys = {"ls/a",    "ls/b c",       "ls/d+e",
                                   "ls/f%g",  "ls/h\xC3\xA9", "ls/sub/x",
                                   "ls/sub/y"};
  S3WriteResult w;
  for (const auto& k : keys) {
    ASSERT_VALISE_OK(
        client_->PutObject(bucket_, k, PayloadOf(k), {}, false, &w));
  }
  S3ListObjectsRequest req;
  req.prefix = "ls/";
  req.max_keys = 2;
  std::vector<std::string> got;
  S3ListObjectsResult r;
  do {
    ASSERT_VALISE_OK(client_->ListObjectsV2(bucket_, req, &r));
    EXPECT_LE(r.objects.size(), 2u);
    for (const auto& o : r.objects) {
      got.push_back(o.key);
      EXPECT_EQ(o.size, o.key.size());
      EXPECT_EQ(o.etag, Md5Of(o.key).Hex());
    }
    req.continuation_token = r.next_continuation_token;
  } while (r.truncated);
  EXPECT_EQ(got, keys);

  req = S3ListObjectsRequest();
  req.prefix = "ls/";
  req.delimiter = "/";
  ASSERT_VALISE_OK(client_->ListObjectsV2(bucket_, req, &r));
  EXPECT_EQ(r.objects.size(), 5u);
  ASSERT_EQ(r.common_prefixes.size(), 1u);
  EXPECT_EQ(r.common_prefixes[0], "ls/sub/");
}

// Goal: the store checks the digests the client sends: a wrong Content-MD5
// is BadDigest, a wrong payload SHA-256 XAmzContentSHA256Mismatch (for a
// PUT and for a part, with or without a Content-MD5 beside it), and
// nothing is stored.
TEST_F(RgwS3Client, WrongDigestsRefused) {
  std::string data = test::RandomBytes(70000, 4);
  S3Payload bad_md5 = PayloadOf(data);
  bad_md5.md5 = Md5Of("not these bytes");
  S3WriteResult w;
  Status s = client_->PutObject(bucket_, "bad/md5", bad_md5, {}, false, &w);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_EQ(s.service_code(), "BadDigest");
  EXPECT_EQ(s.http_status(), 400);
  EXPECT_FALSE(Exists("bad/md5"));

  S3Payload bad_sha = PayloadOf(data);
  bad_sha.sha256 = Sha256Of("not these bytes");
  s = client_->PutObject(bucket_, "bad/sha", bad_sha, {}, false, &w);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_EQ(s.service_code(), "XAmzContentSHA256Mismatch");
  EXPECT_FALSE(Exists("bad/sha"));

  std::string id;
  ASSERT_VALISE_OK(
      client_->CreateMultipartUpload(bucket_, "bad/part", {}, &id));
  s = client_->UploadPart(bucket_, "bad/part", id, 1, bad_md5, &w);
  EXPECT_EQ(s.service_code(), "BadDigest") << s.ToString();
  s = client_->UploadPart(bucket_, "bad/part", id, 1, bad_sha, &w);
  EXPECT_EQ(s.service_code(), "XAmzContentSHA256Mismatch") << s.ToString();
  // A part with the SHA-256 alone (as ingest sends them) is checked too.
  S3Payload sha_only = bad_sha;
  sha_only.md5 = Digest();
  s = client_->UploadPart(bucket_, "bad/part", id, 1, sha_only, &w);
  EXPECT_EQ(s.service_code(), "XAmzContentSHA256Mismatch") << s.ToString();
  S3ListPartsResult lp;
  ASSERT_VALISE_OK(client_->ListParts(bucket_, "bad/part", id, 0, &lp));
  EXPECT_TRUE(lp.parts.empty());
  ASSERT_VALISE_OK(client_->AbortMultipartUpload(bucket_, "bad/part", id));
}

// Goal: wrong credentials (an unknown key id, a wrong secret) are a 403
// error, not retried, whose text holds neither secret.
TEST_F(RgwS3Client, WrongCredentials) {
  for (bool wrong_id : {true, false}) {
    S3Config bad = config_;
    if (wrong_id) {
      bad.credentials.access_key_id = "AKIDNOSUCHUSER000000";
    } else {
      bad.credentials.secret_access_key = "wrong/secret/zzzzzzzzzzzzzzzzzzzzzz";
    }
    std::unique_ptr<S3Client> c;
    ASSERT_VALISE_OK(NewS3Client(bad, &c));
    S3WriteResult w;
    Status s = c->PutObject(bucket_, "creds/x", PayloadOf("x"), {}, false, &w);
    EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
    EXPECT_EQ(s.http_status(), 403);
    EXPECT_TRUE(s.service_code() == "InvalidAccessKeyId" ||
                s.service_code() == "SignatureDoesNotMatch")
        << s.ToString();
    EXPECT_EQ(c->stats().requests, 1u);
    for (const std::string& secret : {config_.credentials.secret_access_key,
                                      bad.credentials.secret_access_key}) {
      EXPECT_EQ(s.ToString().find(secret), std::string::npos) << s.ToString();
    }
    EXPECT_FALSE(Exists("creds/x"));
  }
}

}  // namespace
}  // namespace valise
