// The S3 client's request building, retries, error values and lost-answer
// recoveries, over a scripted transport (each attempt's answer given by
// the test) so every case is exact.
#include "net/s3_client.h"

#include <deque>

#include "net/s3_test_util.h"
#include "net/s3_xml.h"
#include "net/sigv4.h"
#include "support/test_util.h"

namespace valise::net {
namespace {

constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr char kToken[] = "session-token-value-0123456789";

// One recorded request.
struct Sent {
  HttpRequest request;
  std::string body;  // the pieces' bytes, concatenated
  std::string Header(const std::string& name) const {
    for (const auto& [n, v] : request.headers) {
      std::string lower = n;
      for (char& c : lower) c = static_cast<char>(tolower(c));
      if (lower == name) return v;
    }
    return std::string();
  }
};

using Reply = std::function<Status(const HttpRequest&, HttpResponse*, bool*)>;

// Answers each attempt with the next scripted reply; records what was sent.
class ScriptedTransport final : public HttpTransport {
 public:
  Status Send(const HttpRequest& req, HttpResponse* resp,
              bool* maybe_applied) override {
    Sent s{req, {}};
    for (const S3Buffer& b : req.body) {
      s.body.append(static_cast<const char*>(b.data), b.size);
    }
    sent.push_back(std::move(s));
    *resp = HttpResponse();
    *maybe_applied = true;
    resp->bytes_sent = req.body_size();
    if (replies.empty()) {
      ADD_FAILURE() << "unscripted request " << req.method << " " << req.url;
      return Status::IOError("test", "unscripted");
    }
    Reply r = std::move(replies.front());
    replies.pop_front();
    return r(req, resp, maybe_applied);
  }
  std::deque<Reply> replies;
  std::vector<Sent> sent;
};

Reply Answer(int status, std::string body = "",
             std::vector<std::pair<std::string, std::string>> headers = {}) {
  return [=](const HttpRequest&, HttpResponse* resp, bool*) {
    resp->status = status;
    resp->body = body;
    resp->headers = headers;
    resp->headers.emplace_back("x-amz-request-id",
                               "req-" + std::to_string(status));
    return Status::OK();
  };
}

Reply ErrorAnswer(int status, const std::string& code,
                  const std::string& message = "msg") {
  return Answer(status, ErrorXml({code, message, "rid-" + code, "host"}));
}

// A transport failure; `applied`: whether the request may have reached
// the store.
Reply Drop(bool applied, bool retryable = true) {
  return [=](const HttpRequest& req, HttpResponse*, bool* maybe_applied) {
    *maybe_applied = applied;
    return Status::IOError(req.url, applied ? "Connection reset by peer"
                                            : "Connection refused")
        .WithRetryable(retryable);
  };
}

using test::Md5Of;
using test::Sha256Of;

class S3ClientTest : public ::testing::Test {
 protected:
  void SetUp() override { MakeClient(""); }
  void MakeClient(const std::string& token) {
    transport_ = std::make_shared<ScriptedTransport>();
    S3Config config;
    config.endpoint = "http://127.0.0.1:7480";
    config.credentials.access_key_id = "AKIAIOSFODNN7EXAMPLE";
    config.credentials.secret_access_key = kSecret;
    config.credentials.session_token = token;
    config.max_attempts = 4;
    S3ClientHooks hooks;
    hooks.sleep = [this](uint64_t ms) { sleeps_.push_back(ms); };
    hooks.now = [] { return std::time_t{1369353600}; };  // 2013-05-24
    hooks.jitter_seed = 7;
    ASSERT_VALISE_OK(NewS3ClientOver(config, transport_, hooks, &client_));
  }
  std::shared_ptr<ScriptedTransport> transport_;
  std::unique_ptr<S3Client> client_;
  std::vector<uint64_t> sleeps_;
};

// Goal: PutObject sends the caller's pieces without a copy (the request
// points at the caller's memory), Content-MD5 and x-amz-content-sha256 from
// the caller's digests, metadata and If-None-Match, a signature that
// verifies, and returns the ETag and request id.
TEST_F(S3ClientTest, PutObjectRequest) {
  std::string a = "hello ", b = "world";
  S3Payload p;
  p.pieces = {{a.data(), a.size()}, {b.data(), b.size()}};
  p.md5 = Md5Of("hello world");
  p.sha256 = Sha256Of("hello world");
  transport_->replies.push_back(
      Answer(200, "", {{"etag", "\"5eb63bbbe01eeed093cb22bb8f5acdc3\""}}));
  S3WriteResult r;
  ASSERT_VALISE_OK(client_->PutObject("bkt", "dir/a b.txt", p,
                                      {{"sha256", "ab12"}, {"mtime", "17"}},
                                      true, &r));
  EXPECT_EQ(r.etag, "5eb63bbbe01eeed093cb22bb8f5acdc3");
  EXPECT_EQ(r.request_id, "req-200");
  ASSERT_EQ(transport_->sent.size(), 1u);
  const Sent& s = transport_->sent[0];
  EXPECT_EQ(s.request.method, "PUT");
  EXPECT_EQ(s.request.url, "http://127.0.0.1:7480/bkt/dir/a%20b.txt");
  ASSERT_EQ(s.request.body.size(), 2u);
  EXPECT_EQ(s.request.body[0].data, a.data());  // not copied
  EXPECT_EQ(s.request.body[1].data, b.data());
  EXPECT_EQ(s.body, "hello world");
  EXPECT_EQ(s.Header("content-md5"), "XrY7u+Ae7tCTyyK7j1rNww==");
  EXPECT_EQ(s.Header("x-amz-content-sha256"), Sha256Hex("hello world"));
  EXPECT_EQ(s.Header("x-amz-meta-sha256"), "ab12");
  EXPECT_EQ(s.Header("x-amz-meta-mtime"), "17");
  EXPECT_EQ(s.Header("if-none-match"), "*");
  EXPECT_EQ(s.Header("host"), "127.0.0.1:7480");
  EXPECT_EQ(s.Header("x-amz-date"), "20130524T000000Z");
  EXPECT_EQ(s.Header("x-amz-security-token"), "");

  // The signature covers every header sent but itself, and verifies.
  SigV4Request check;
  check.method = "PUT";
  check.path = "/bkt/dir/a b.txt";
  for (const auto& h : s.request.headers) {
    if (h.first != "Authorization") check.headers.push_back(h);
  }
  std::string sha = Sha256Hex("hello world");
  check.payload_sha256 = sha;
  EXPECT_EQ(s.Header("authorization"),
            Authorization(check, {"20130524T000000Z", "us-east-1", "s3"},
                          "AKIAIOSFODNN7EXAMPLE", kSecret));
  EXPECT_NE(s.Header("authorization")
                .find("SignedHeaders=content-md5;host;if-none-match;"
                      "x-amz-content-sha256;x-amz-date;x-amz-meta-mtime;"
                      "x-amz-meta-sha256,"),
            std::string::npos)
      << s.Header("authorization");
  EXPECT_EQ(client_->stats().bytes_uploaded, 11u);
}

// Goal: temporary credentials send x-amz-security-token, and sign it.
TEST_F(S3ClientTest, SessionTokenSigned) {
  MakeClient(kToken);
  transport_->replies.push_back(Answer(200));
  ASSERT_VALISE_OK(client_->HeadBucket("bkt"));
  const Sent& s = transport_->sent[0];
  EXPECT_EQ(s.Header("x-amz-security-token"), kToken);
  EXPECT_NE(s.Header("authorization").find("x-amz-security-token"),
            std::string::npos);
  EXPECT_EQ(s.request.url, "http://127.0.0.1:7480/bkt");
}

// Goal: a payload without its digests is refused before anything is sent;
// so are metadata names or values S3 cannot carry.
TEST_F(S3ClientTest, RefusesPayloadWithoutDigestsAndBadMetadata) {
  S3Payload p;
  S3WriteResult r;
  EXPECT_TRUE(
      client_->PutObject("b", "k", p, {}, false, &r).IsInvalidArgument());
  p.md5 = Md5Of("");
  p.sha256 = Sha256Of("");
  EXPECT_TRUE(client_->PutObject("b", "k", p, {{"Upper", "x"}}, false, &r)
                  .IsInvalidArgument());
  EXPECT_TRUE(
      client_->PutObject("b", "k", p, {{"ok", "line\nbreak"}}, false, &r)
          .IsInvalidArgument());
  EXPECT_TRUE(transport_->sent.empty());
}

// Goal: 503 SlowDown and 500 are retried with full-jitter waits inside the
// exponential bound; the counters say so; the retried request is signed
// again.
TEST_F(S3ClientTest, RetriesThrottlingAndServerErrors) {
  transport_->replies.push_back(ErrorAnswer(503, "SlowDown"));
  transport_->replies.push_back(ErrorAnswer(500, "InternalError"));
  transport_->replies.push_back(Drop(true));
  transport_->replies.push_back(Answer(204));
  ASSERT_VALISE_OK(client_->DeleteObject("b", "k"));
  EXPECT_EQ(transport_->sent.size(), 4u);
  ASSERT_EQ(sleeps_.size(), 3u);
  EXPECT_LE(sleeps_[0], 50u);
  EXPECT_LE(sleeps_[1], 100u);
  EXPECT_LE(sleeps_[2], 200u);
  S3Stats st = client_->stats();
  EXPECT_EQ(st.requests, 4u);
  EXPECT_EQ(st.retries, 3u);
  EXPECT_EQ(st.throttled, 1u);
}

// Goal: when the attempts run out, the last error comes back with its
// HTTP status, code, request id and the retryable bit.
TEST_F(S3ClientTest, GivesUpAfterMaxAttempts) {
  for (int i = 0; i < 4; ++i) {
    transport_->replies.push_back(ErrorAnswer(503, "SlowDown", "Reduce rate"));
  }
  S3ObjectInfo info;
  std::string body;
  Status s = client_->HeadBucket("b");
  EXPECT_TRUE(s.IsIOError());
  EXPECT_TRUE(s.retryable());
  EXPECT_EQ(s.http_status(), 503);
  EXPECT_EQ(s.service_code(), "SlowDown");
  EXPECT_EQ(s.request_id(), "rid-SlowDown");
  EXPECT_EQ(s.message(),
            "s3: HeadBucket s3://b: HTTP 503 SlowDown: Reduce rate (request id "
            "rid-SlowDown)");
  EXPECT_EQ(transport_->sent.size(), 4u);
}

// Goal: CreateMultipartUpload is not idempotent: retried after a refused
// connection or a SlowDown, not after a 500 or a reset (it may have
// started an upload).
TEST_F(S3ClientTest, CreateMultipartUploadRetriedOnlyWhenNotApplied) {
  const std::string ok = InitiateMultipartUploadXml("b", "k", "upload-1");
  transport_->replies.push_back(Drop(false));
  transport_->replies.push_back(ErrorAnswer(503, "SlowDown"));
  transport_->replies.push_back(Answer(200, ok));
  std::string id;
  ASSERT_VALISE_OK(client_->CreateMultipartUpload("b", "k", {}, &id));
  EXPECT_EQ(id, "upload-1");
  EXPECT_EQ(transport_->sent.size(), 3u);
  EXPECT_EQ(transport_->sent[0].request.url,
            "http://127.0.0.1:7480/b/k?uploads=");

  transport_->replies.push_back(ErrorAnswer(500, "InternalError"));
  EXPECT_TRUE(client_->CreateMultipartUpload("b", "k", {}, &id).IsIOError());
  transport_->replies.push_back(Drop(true));
  EXPECT_TRUE(client_->CreateMultipartUpload("b", "k", {}, &id).IsIOError());
  EXPECT_EQ(transport_->sent.size(), 5u);
}

// Goal: answers become the codes of s3.h's contract, with the store's
// message and request id; a transport error that is not retryable (TLS)
// is not retried.
TEST_F(S3ClientTest, ErrorValues) {
  S3ObjectInfo info;
  transport_->replies.push_back(Answer(404));  // HEAD: no body
  Status s = client_->HeadObject("b", "nokey", &info);
  EXPECT_TRUE(s.IsNotFound());
  EXPECT_EQ(s.message(),
            "s3: HeadObject s3://b/nokey: HTTP 404 Not Found (request id "
            "req-404)");

  S3Payload p;
  p.md5 = Md5Of("x");
  p.sha256 = Sha256Of("x");
  p.pieces = {{"x", 1}};
  S3WriteResult r;
  transport_->replies.push_back(
      ErrorAnswer(400, "BadDigest",
                  "The Content-MD5 you specified did not match what we "
                  "received."));
  s = client_->UploadPart("b", "k", "u", 1, p, &r);
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_FALSE(s.retryable());
  EXPECT_EQ(s.service_code(), "BadDigest");

  transport_->replies.push_back(ErrorAnswer(400, "XAmzContentSHA256Mismatch"));
  EXPECT_TRUE(client_->UploadPart("b", "k", "u", 1, p, &r).IsCorruption());

  transport_->replies.push_back(ErrorAnswer(403, "InvalidAccessKeyId"));
  s = client_->HeadBucket("b");
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_EQ(s.http_status(), 403);

  transport_->replies.push_back(Drop(false, /*retryable=*/false));
  s = client_->HeadBucket("b");
  EXPECT_TRUE(s.IsIOError());
  EXPECT_FALSE(s.retryable());
  EXPECT_EQ(s.http_status(), 0);
  EXPECT_EQ(transport_->sent.size(), 5u);
}

// Goal: a secret the store echoes back (or any text holding it) is blanked
// out of the message.
TEST_F(S3ClientTest, NoSecretInMessages) {
  MakeClient(kToken);
  transport_->replies.push_back(
      ErrorAnswer(403, "SignatureDoesNotMatch",
                  std::string("signed with ") + kSecret + " and " + kToken));
  Status s = client_->HeadBucket("b");
  EXPECT_EQ(s.ToString().find(kSecret), std::string::npos) << s.ToString();
  EXPECT_EQ(s.ToString().find(kToken), std::string::npos) << s.ToString();
  EXPECT_NE(s.ToString().find("[secret]"), std::string::npos);
}

// Goal: an <Error> inside a 200 answer to Complete is an error, retried
// (InternalError); the retry's answer counts.
TEST_F(S3ClientTest, CompleteErrorInside200IsRetried) {
  transport_->replies.push_back(ErrorAnswer(200, "InternalError"));
  transport_->replies.push_back(
      Answer(200, CompleteMultipartUploadResultXml(
                      "b", "k", "0123456789abcdef0123456789abcdef-2")));
  std::vector<S3CompletedPart> parts = {
      {1, "a54357aff0632cce46d942af68356b38"},
      {2, "0c78aef83f66abc1fa1e8477f296d394"}};
  S3WriteResult r;
  ASSERT_VALISE_OK(client_->CompleteMultipartUpload("b", "k", "u1", parts, &r));
  EXPECT_EQ(r.etag, "0123456789abcdef0123456789abcdef-2");
  ASSERT_EQ(transport_->sent.size(), 2u);
  const Sent& s = transport_->sent[0];
  EXPECT_EQ(s.request.url, "http://127.0.0.1:7480/b/k?uploadId=u1");
  EXPECT_EQ(s.body, CompleteMultipartUploadXml(parts));
  EXPECT_EQ(s.Header("x-amz-content-sha256"), Sha256Hex(s.body));

  // An error in a 200 that is not worth retrying comes back as it is.
  transport_->replies.push_back(ErrorAnswer(200, "InvalidPart"));
  Status st = client_->CompleteMultipartUpload("b", "k", "u1", parts, &r);
  EXPECT_TRUE(st.IsInvalidArgument()) << st.ToString();
  EXPECT_EQ(st.service_code(), "InvalidPart");
}

// Goal: RGW 16's Complete answer has an empty ETag: the result carries the
// one the parts make.
TEST_F(S3ClientTest, CompleteWithoutETagComputesIt) {
  transport_->replies.push_back(
      Answer(200, CompleteMultipartUploadResultXml("b", "k", "")));
  std::vector<S3CompletedPart> parts = {
      {1, "a54357aff0632cce46d942af68356b38"}};
  S3WriteResult r;
  ASSERT_VALISE_OK(client_->CompleteMultipartUpload("b", "k", "u1", parts, &r));
  EXPECT_EQ(r.etag, MultipartETag(parts));
  EXPECT_EQ(r.etag.size(), 34u);
  EXPECT_EQ(r.etag.substr(32), "-1");
}

// Goal: a lost answer to Complete (applied, reset), then NoSuchUpload on
// the retry: the object is HEADed and, holding the ETag the parts make,
// the call succeeds; with another ETag it fails.
TEST_F(S3ClientTest, CompleteLostAnswerRecovered) {
  std::vector<S3CompletedPart> parts = {
      {1, "a54357aff0632cce46d942af68356b38"},
      {2, "0c78aef83f66abc1fa1e8477f296d394"}};
  std::string etag = MultipartETag(parts);
  transport_->replies.push_back(Drop(true));
  transport_->replies.push_back(ErrorAnswer(404, "NoSuchUpload"));
  transport_->replies.push_back(
      Answer(200, "", {{"etag", "\"" + etag + "\""}, {"content-length", "9"}}));
  S3WriteResult r;
  ASSERT_VALISE_OK(client_->CompleteMultipartUpload("b", "k", "u1", parts, &r));
  EXPECT_EQ(r.etag, etag);
  EXPECT_EQ(transport_->sent[2].request.method, "HEAD");

  transport_->replies.push_back(Drop(true));
  transport_->replies.push_back(ErrorAnswer(404, "NoSuchUpload"));
  transport_->replies.push_back(
      Answer(200, "", {{"etag", "\"other-2\""}, {"content-length", "9"}}));
  EXPECT_TRUE(
      client_->CompleteMultipartUpload("b", "k", "u1", parts, &r).IsNotFound());
  // A NoSuchUpload at the first attempt is just that: no HEAD.
  transport_->replies.push_back(ErrorAnswer(404, "NoSuchUpload"));
  EXPECT_TRUE(
      client_->CompleteMultipartUpload("b", "k", "u1", parts, &r).IsNotFound());
  EXPECT_EQ(transport_->sent.size(), 7u);
}

// Goal: a lost answer to PutObject with If-None-Match: the retry's 412 is
// success when the key holds our bytes (ETag = our MD5), an error when it
// holds others'.
TEST_F(S3ClientTest, PutIfNoneMatchLostAnswerRecovered) {
  S3Payload p;
  std::string data = "payload";
  p.pieces = {{data.data(), data.size()}};
  p.md5 = Md5Of(data);
  p.sha256 = Sha256Of(data);
  transport_->replies.push_back(Drop(true));
  transport_->replies.push_back(ErrorAnswer(412, "PreconditionFailed"));
  transport_->replies.push_back(Answer(
      200, "", {{"etag", "\"" + p.md5.Hex() + "\""}, {"content-length", "7"}}));
  S3WriteResult r;
  ASSERT_VALISE_OK(client_->PutObject("b", "k", p, {}, true, &r));
  EXPECT_EQ(r.etag, p.md5.Hex());

  transport_->replies.push_back(ErrorAnswer(412, "PreconditionFailed"));
  Status s = client_->PutObject("b", "k", p, {}, true, &r);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_EQ(s.http_status(), 412);
}

// Goal: ranged GETs: the Range header, bytes into the caller's buffer, the
// object size from Content-Range; past the end is 0 bytes; a Content-Range
// that is not the one asked for, or a 200 for a range from the middle, is
// Corruption.
TEST_F(S3ClientTest, GetObjectRanges) {
  char buf[8];
  auto fill = [](std::string bytes, std::string range, int status = 206) {
    return [=](const HttpRequest& req, HttpResponse* resp, bool*) {
      resp->status = status;
      memcpy(req.sink, bytes.data(), bytes.size());
      resp->sink_bytes = bytes.size();
      resp->headers = {{"content-range", range}, {"etag", "\"e1\""}};
      return Status::OK();
    };
  };
  transport_->replies.push_back(fill("abcdefgh", "bytes 8-15/20"));
  S3GetResult r;
  ASSERT_VALISE_OK(client_->GetObject("b", "k", 8, 8, buf, "e1", &r));
  EXPECT_EQ(std::string(buf, 8), "abcdefgh");
  EXPECT_EQ(r.bytes, 8u);
  EXPECT_EQ(r.object_size, 20u);
  EXPECT_EQ(r.etag, "e1");
  EXPECT_EQ(transport_->sent[0].Header("range"), "bytes=8-15");
  EXPECT_EQ(transport_->sent[0].Header("if-match"), "\"e1\"");
  EXPECT_EQ(transport_->sent[0].request.sink, buf);
  EXPECT_EQ(transport_->sent[0].request.sink_capacity, 8u);

  transport_->replies.push_back(fill("abcd", "bytes 16-19/20"));
  ASSERT_VALISE_OK(client_->GetObject("b", "k", 16, 8, buf, "", &r));
  EXPECT_EQ(r.bytes, 4u);

  transport_->replies.push_back(Answer(416,
                                       ErrorXml({"InvalidRange", "", "r", "h"}),
                                       {{"content-range", "bytes */20"}}));
  ASSERT_VALISE_OK(client_->GetObject("b", "k", 20, 8, buf, "", &r));
  EXPECT_EQ(r.bytes, 0u);
  EXPECT_EQ(r.object_size, 20u);

  transport_->replies.push_back(fill("abcd", "bytes 0-3/20"));
  EXPECT_TRUE(client_->GetObject("b", "k", 16, 8, buf, "", &r).IsCorruption());
  transport_->replies.push_back(fill("abcd", "", 200));
  EXPECT_TRUE(client_->GetObject("b", "k", 4, 8, buf, "", &r).IsCorruption());
  transport_->replies.push_back(fill("abcd", "", 200));
  ASSERT_VALISE_OK(client_->GetObject("b", "k", 0, 8, buf, "", &r));
  EXPECT_EQ(r.object_size, 4u);
  // Every byte received counts, those of the refused answers too.
  EXPECT_EQ(client_->stats().bytes_downloaded, 8u + 4u + 4u + 4u + 4u);
}

// Goal: the listing requests carry their parameters (and ask for
// URL-encoded keys); copies name their source, encoded once.
TEST_F(S3ClientTest, ListAndCopyRequests) {
  S3ListObjectsRequest lr;
  lr.prefix = "p q/";
  lr.continuation_token = "tok+/=";
  lr.max_keys = 2;
  S3ListObjectsResult lres;
  S3ListObjectsResult empty;
  transport_->replies.push_back(
      Answer(200, ListObjectsV2Xml("b", lr, empty, true)));
  ASSERT_VALISE_OK(client_->ListObjectsV2("b", lr, &lres));
  EXPECT_EQ(transport_->sent[0].request.url,
            "http://127.0.0.1:7480/b?continuation-token=tok%2B%2F%3D&"
            "encoding-type=url&list-type=2&max-keys=2&prefix=p%20q%2F");

  S3ListUploadsResult ur;
  transport_->replies.push_back(Answer(
      200, ListMultipartUploadsXml("b", "", S3ListUploadsResult(), true)));
  ASSERT_VALISE_OK(client_->ListMultipartUploads("b", "x/", "km", "im", &ur));
  EXPECT_EQ(
      transport_->sent[1].request.url,
      "http://127.0.0.1:7480/b?encoding-type=url&key-marker=km&prefix=x%2F&"
      "upload-id-marker=im&uploads=");

  S3ListPartsResult pr;
  transport_->replies.push_back(
      Answer(200, ListPartsXml("b", "k", "u", S3ListPartsResult())));
  ASSERT_VALISE_OK(client_->ListParts("b", "k", "u", 3, &pr));
  EXPECT_EQ(transport_->sent[2].request.url,
            "http://127.0.0.1:7480/b/k?part-number-marker=3&uploadId=u");

  S3WriteResult wr;
  transport_->replies.push_back(
      Answer(200, CopyResultXml("CopyObjectResult", "e0")));
  ASSERT_VALISE_OK(client_->CopyObject("src", "a b/c", "b", "d", &wr));
  EXPECT_EQ(wr.etag, "e0");
  EXPECT_EQ(transport_->sent[3].Header("x-amz-copy-source"), "/src/a%20b/c");
  EXPECT_EQ(transport_->sent[3].Header("x-amz-metadata-directive"), "COPY");

  transport_->replies.push_back(
      Answer(200, CopyResultXml("CopyPartResult", "e1")));
  ASSERT_VALISE_OK(
      client_->UploadPartCopy("b", "d", "u", 2, "src", "s", 10, 5, "", &wr));
  EXPECT_EQ(wr.etag, "e1");
  EXPECT_EQ(transport_->sent[4].Header("x-amz-copy-source-range"),
            "bytes=10-14");
  EXPECT_EQ(transport_->sent[4].Header("x-amz-copy-source-if-match"), "");
  transport_->replies.push_back(
      Answer(200, CopyResultXml("CopyPartResult", "e2")));
  ASSERT_VALISE_OK(client_->UploadPartCopy("b", "d", "u", 3, "src", "s", 10, 5,
                                           "0123abcd", &wr));
  EXPECT_EQ(transport_->sent[5].Header("x-amz-copy-source-if-match"),
            "\"0123abcd\"");
  EXPECT_EQ(transport_->sent[4].request.url,
            "http://127.0.0.1:7480/b/d?partNumber=2&uploadId=u");

  // A copy answered 200 with an error inside, not retryable: an error.
  transport_->replies.push_back(ErrorAnswer(200, "AccessDenied"));
  EXPECT_FALSE(client_->CopyObject("src", "s", "b", "d", &wr).ok());
}

// Goal: HeadObject reads size, ETag and metadata (prefix removed).
TEST_F(S3ClientTest, HeadObjectMetadata) {
  transport_->replies.push_back(Answer(200, "",
                                       {{"content-length", "1234"},
                                        {"etag", "\"abc-2\""},
                                        {"last-modified", "Fri, 24 May 2013"},
                                        {"x-amz-meta-sha256", "ff00"},
                                        {"x-amz-meta-mtime", "1700000000"}}));
  S3ObjectInfo info;
  ASSERT_VALISE_OK(client_->HeadObject("b", "k", &info));
  EXPECT_EQ(info.size, 1234u);
  EXPECT_EQ(info.etag, "abc-2");
  EXPECT_EQ(info.metadata.size(), 2u);
  EXPECT_EQ(info.metadata["sha256"], "ff00");
  EXPECT_EQ(info.metadata["mtime"], "1700000000");
  EXPECT_EQ(info.request_id, "req-200");
}

// Goal: a retried Abort that finds the upload gone succeeded earlier; a
// Delete of a missing key is fine.
TEST_F(S3ClientTest, AbortAndDeleteAfterLostAnswers) {
  transport_->replies.push_back(Drop(true));
  transport_->replies.push_back(ErrorAnswer(404, "NoSuchUpload"));
  ASSERT_VALISE_OK(client_->AbortMultipartUpload("b", "k", "u"));
  transport_->replies.push_back(ErrorAnswer(404, "NoSuchUpload"));
  EXPECT_TRUE(client_->AbortMultipartUpload("b", "k", "u").IsNotFound());
  transport_->replies.push_back(ErrorAnswer(404, "NoSuchKey"));
  ASSERT_VALISE_OK(client_->DeleteObject("b", "k"));
  transport_->replies.push_back(ErrorAnswer(404, "NoSuchBucket"));
  EXPECT_TRUE(client_->DeleteObject("b", "k").IsNotFound());
}

// Goal: MultipartETag is S3's: MD5 of the parts' binary MD5s, "-N".
TEST(S3MultipartETag, AsS3ComputesIt) {
  // Two parts whose MD5s are those of "a" and "b".
  std::vector<S3CompletedPart> parts = {
      {1, "0cc175b9c0f1b6a831c399e269772661"},
      {2, "92eb5ffee6ae2fec3ad71c777531578f"}};
  std::string binary;
  for (const auto& p : parts) {
    Digest d;
    ASSERT_TRUE(Digest::FromHex(DigestType::kMd5, p.etag, &d));
    binary.append(reinterpret_cast<const char*>(d.bytes.data()), 16);
  }
  auto hasher = Hasher::New(DigestType::kMd5);
  hasher->Update(binary.data(), binary.size());
  EXPECT_EQ(MultipartETag(parts), hasher->Finish().Hex() + "-2");
  EXPECT_EQ(MultipartETag({{1, "not-hex"}}), "");
}

}  // namespace
}  // namespace valise::net
