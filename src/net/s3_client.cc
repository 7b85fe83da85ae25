// The S3 client: each S3Client method becomes a Call (method, bucket, key,
// query, headers, body, whether it is idempotent), and one loop, Execute,
// sends a Call until it succeeds or the retry policy (retry.h) says stop.
//
// One attempt:
//   1. the target: URL, Host and signed path for (bucket, key), path-style
//      or virtual-host (s3_url.h);
//   2. the headers: the call's own, then x-amz-date, x-amz-content-sha256
//      (the caller's SHA-256 of the payload), x-amz-security-token for
//      temporary credentials, and Authorization (SigV4 over all of them,
//      sigv4.h), signed again at each attempt since the date moves;
//   3. HttpTransport::Send; a 2xx is success unless the call is one where
//      S3 may put an <Error> inside a 200 (Complete, the copies);
//   4. otherwise the failure is classified (retry.h) and, if worth it, the
//      call waits (full jitter) and goes again.
// Errors become Status values carrying the HTTP status, S3 code and request
// id (s3.h's contract), with any secret blanked out of the text.
//
// Two writes recover from a lost answer (the store applied the request
// but the answer never arrived, so the retry is refused): a
// CompleteMultipartUpload retried into NoSuchUpload, and a PutObject with
// If-None-Match retried into 412. Each checks the object with a HEAD: an
// ETag equal to the one the request implies means the first attempt
// landed.
#include "net/s3_client.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>

#include "net/retry.h"
#include "net/s3_url.h"
#include "net/s3_xml.h"
#include "net/sigv4.h"

namespace valise::net {
namespace {

// One S3 operation as the retry loop sees it.
struct Call {
  const char* op = "";  // for messages: "PUT", "UploadPart", ...
  std::string method;
  std::string bucket;
  std::string key;  // "" for the bucket itself
  KeyValues query;
  KeyValues headers;  // besides Host, x-amz-*, Authorization
  std::vector<S3Buffer> body;
  std::string payload_sha256{kEmptySha256};
  void* sink = nullptr;
  size_t sink_capacity = 0;
  bool idempotent = true;
  bool error_in_200 = false;  // a 200 may carry an <Error>
};

// What the loop learned, for the recoveries above.
struct CallInfo {
  int attempts = 0;
  // Some attempt before the last may have been applied by the store.
  bool earlier_maybe_applied = false;
};

const char* ReasonPhrase(int status) {
  switch (status) {
    case 301:
      return "Moved Permanently (another region or endpoint)";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 409:
      return "Conflict";
    case 412:
      return "Precondition Failed";
    case 416:
      return "Range Not Satisfiable";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "";
  }
}

bool IsCorruptBody(std::string_view code) {
  return code == "BadDigest" || code == "InvalidDigest" ||
         code == "XAmzContentSHA256Mismatch";
}

bool ValidMetadataName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_')) {
      return false;
    }
  }
  return true;
}

bool ValidMetadataValue(std::string_view value) {
  for (char c : value) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

std::string HexMd5(const void* data, size_t n) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data, n, md, &len, EVP_md5(), nullptr);
  return HexEncode(md, len);
}

bool ParseU64(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

// "bytes 0-9/443" -> first 0, last 9, total 443; "bytes */443" -> total.
bool ParseContentRange(std::string_view v, uint64_t* first, uint64_t* last,
                       uint64_t* total) {
  if (v.substr(0, 6) != "bytes ") return false;
  v.remove_prefix(6);
  size_t slash = v.find('/');
  if (slash == std::string_view::npos) return false;
  if (!ParseU64(v.substr(slash + 1), total)) return false;
  std::string_view range = v.substr(0, slash);
  if (range == "*") return false;
  size_t dash = range.find('-');
  return dash != std::string_view::npos &&
         ParseU64(range.substr(0, dash), first) &&
         ParseU64(range.substr(dash + 1), last) && *first <= *last;
}

class S3ClientImpl final : public S3Client {
 public:
  S3ClientImpl(const S3Config& config, const S3Endpoint& endpoint,
               std::shared_ptr<HttpTransport> transport,
               const S3ClientHooks& hooks)
      : config_(config),
        endpoint_(endpoint),
        transport_(std::move(transport)),
        hooks_(hooks),
        rng_(hooks.jitter_seed != 0 ? hooks.jitter_seed
                                    : std::random_device()()) {
    if (!hooks_.sleep) {
      hooks_.sleep = [](uint64_t ms) {
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      };
    }
    if (!hooks_.now) hooks_.now = [] { return std::time(nullptr); };
  }

  Status HeadBucket(const std::string& bucket) override;
  Status HeadObject(const std::string& bucket, const std::string& key,
                    S3ObjectInfo* info) override;
  Status GetObject(const std::string& bucket, const std::string& key,
                   uint64_t offset, size_t length, void* buffer,
                   const std::string& if_match, S3GetResult* result) override;
  Status PutObject(const std::string& bucket, const std::string& key,
                   const S3Payload& payload, const S3Metadata& metadata,
                   bool if_none_match, S3WriteResult* result) override;
  Status CreateMultipartUpload(const std::string& bucket,
                               const std::string& key,
                               const S3Metadata& metadata,
                               std::string* upload_id) override;
  Status UploadPart(const std::string& bucket, const std::string& key,
                    const std::string& upload_id, int part_number,
                    const S3Payload& payload, S3WriteResult* result) override;
  Status UploadPartCopy(const std::string& bucket, const std::string& key,
                        const std::string& upload_id, int part_number,
                        const std::string& src_bucket,
                        const std::string& src_key, uint64_t offset,
                        uint64_t length, const std::string& src_if_match,
                        S3WriteResult* result) override;
  Status CompleteMultipartUpload(const std::string& bucket,
                                 const std::string& key,
                                 const std::string& upload_id,
                                 const std::vector<S3CompletedPart>& parts,
                                 S3WriteResult* result) override;
  Status AbortMultipartUpload(const std::string& bucket, const std::string& key,
                              const std::string& upload_id) override;
  Status ListObjectsV2(const std::string& bucket,
                       const S3ListObjectsRequest& request,
                       S3ListObjectsResult* result) override;
  Status ListMultipartUploads(const std::string& bucket,
                              const std::string& prefix,
                              const std::string& key_marker,
                              const std::string& upload_id_marker,
                              S3ListUploadsResult* result) override;
  Status ListParts(const std::string& bucket, const std::string& key,
                   const std::string& upload_id, int part_number_marker,
                   S3ListPartsResult* result) override;
  Status CopyObject(const std::string& src_bucket, const std::string& src_key,
                    const std::string& bucket, const std::string& key,
                    S3WriteResult* result) override;
  Status DeleteObject(const std::string& bucket,
                      const std::string& key) override;

  S3Stats stats() const override {
    S3Stats s;
    s.requests = requests_.load();
    s.retries = retries_.load();
    s.throttled = throttled_.load();
    s.bytes_uploaded = bytes_uploaded_.load();
    s.bytes_downloaded = bytes_downloaded_.load();
    return s;
  }

 private:
  Status Execute(const Call& call, HttpResponse* resp, CallInfo* info);
  HttpRequest BuildRequest(const Call& call);
  Status AnswerError(const Call& call, const HttpResponse& resp,
                     const S3ErrorBody& error) const;
  std::string What(const Call& call) const;
  std::string Redact(std::string text) const;
  uint64_t NextJitter();
  Status CheckPayload(const Call& call, const S3Payload& payload) const;
  Status CheckMetadata(const Call& call, const S3Metadata& metadata) const;
  static void AddMetadata(const S3Metadata& metadata, Call* call);
  static void SetPayload(const S3Payload& payload, Call* call);

  const S3Config config_;
  const S3Endpoint endpoint_;
  std::shared_ptr<HttpTransport> transport_;
  S3ClientHooks hooks_;
  std::mutex rng_mu_;
  std::mt19937_64 rng_;
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> retries_{0};
  std::atomic<uint64_t> throttled_{0};
  std::atomic<uint64_t> bytes_uploaded_{0};
  std::atomic<uint64_t> bytes_downloaded_{0};
};

std::string S3ClientImpl::What(const Call& call) const {
  std::string out = "s3: ";
  out += call.op;
  out += " s3://" + call.bucket;
  if (!call.key.empty()) out += "/" + call.key;
  return out;
}

std::string S3ClientImpl::Redact(std::string text) const {
  for (const std::string* secret : {&config_.credentials.secret_access_key,
                                    &config_.credentials.session_token}) {
    if (secret->size() < 4) continue;
    for (size_t at = text.find(*secret); at != std::string::npos;
         at = text.find(*secret, at)) {
      text.replace(at, secret->size(), "[secret]");
    }
  }
  return text;
}

uint64_t S3ClientImpl::NextJitter() {
  std::lock_guard<std::mutex> lock(rng_mu_);
  return rng_();
}

HttpRequest S3ClientImpl::BuildRequest(const Call& call) {
  bool vhost = UseVirtualHost(config_.addressing, endpoint_, call.bucket);
  S3Target target =
      BuildS3Target(endpoint_, vhost, call.bucket, call.key, call.query);
  std::string amz_date = AmzDate(hooks_.now());

  HttpRequest req;
  req.method = call.method;
  req.url = std::move(target.url);
  req.body = call.body;
  req.sink = call.sink;
  req.sink_capacity = call.sink_capacity;
  req.headers.emplace_back("Host", target.host);
  for (const auto& h : call.headers) req.headers.push_back(h);
  req.headers.emplace_back("x-amz-date", amz_date);
  req.headers.emplace_back("x-amz-content-sha256", call.payload_sha256);
  if (!config_.credentials.session_token.empty()) {
    req.headers.emplace_back("x-amz-security-token",
                             config_.credentials.session_token);
  }
  SigV4Request sreq{call.method, target.path, call.query, req.headers,
                    call.payload_sha256};
  SigV4Scope scope{amz_date, config_.region, "s3"};
  req.headers.emplace_back(
      "Authorization",
      Authorization(sreq, scope, config_.credentials.access_key_id,
                    config_.credentials.secret_access_key));
  return req;
}

Status S3ClientImpl::AnswerError(const Call& call, const HttpResponse& resp,
                                 const S3ErrorBody& error) const {
  std::string request_id = error.request_id;
  if (request_id.empty()) request_id = resp.Header("x-amz-request-id");
  std::string detail = "HTTP " + std::to_string(resp.status);
  if (!error.code.empty()) {
    detail += " " + error.code;
  } else if (*ReasonPhrase(resp.status) != '\0') {
    detail += std::string(" ") + ReasonPhrase(resp.status);
  }
  if (!error.message.empty()) detail += ": " + error.message;
  if (!request_id.empty()) detail += " (request id " + request_id + ")";
  std::string what = Redact(What(call));
  detail = Redact(detail);

  // An <Error> inside a 200 is classified by its code, as a 400 would be.
  const int status = resp.status < 300 ? 400 : resp.status;
  Status s;
  if (status == 404) {
    s = Status::NotFound(what, detail);
  } else if (IsCorruptBody(error.code)) {
    s = Status::Corruption(what, detail);
  } else if (IsRetryableAnswer(resp.status, error.code)) {
    s = Status::IOError(what, detail).WithRetryable(true);
  } else if (status >= 300 && status < 500) {
    s = Status::InvalidArgument(what, detail);
  } else {
    s = Status::IOError(what, detail);
  }
  return s.WithHttp(resp.status, error.code, request_id);
}

Status S3ClientImpl::Execute(const Call& call, HttpResponse* resp,
                             CallInfo* info) {
  CallInfo local;
  if (info == nullptr) info = &local;
  *info = CallInfo();
  const int max_attempts = std::max(1, config_.max_attempts);
  bool maybe_applied_so_far = false;
  Status last;
  for (int attempt = 1;; ++attempt) {
    if (attempt > 1) {
      ++retries_;
      info->earlier_maybe_applied = maybe_applied_so_far;
      hooks_.sleep(BackoffMs(attempt - 1, config_.backoff_base_ms,
                             config_.backoff_cap_ms, NextJitter()));
    }
    info->attempts = attempt;
    HttpRequest req = BuildRequest(call);
    ++requests_;
    bool maybe_applied = false;
    Status ts = transport_->Send(req, resp, &maybe_applied);
    bytes_uploaded_ += resp->bytes_sent;

    AttemptFailure failure;
    if (!ts.ok()) {
      failure.transport_failed = true;
      failure.transport_retryable = ts.retryable();
      failure.maybe_applied = maybe_applied;
      // The transport's message names the URL and what went wrong (curl's
      // words), never a header: no secret to blank out.
      last = ts.WithContext(Redact(What(call)));
    } else {
      S3ErrorBody error;
      bool ok_status = resp->status >= 200 && resp->status < 300;
      if (ok_status &&
          !(call.error_in_200 && ParseS3Error(resp->body, &error))) {
        return Status::OK();
      }
      if (!ok_status && !resp->body.empty()) {
        ParseS3Error(resp->body, &error);
      }
      if (IsThrottle(resp->status, error.code)) ++throttled_;
      failure.http_status = resp->status;
      failure.code = error.code;
      failure.maybe_applied = !IsThrottle(resp->status, error.code);
      maybe_applied = failure.maybe_applied;
      last = AnswerError(call, *resp, error);
    }
    maybe_applied_so_far = maybe_applied_so_far || maybe_applied;
    if (attempt >= max_attempts || !ShouldRetry(failure, call.idempotent)) {
      return last;
    }
  }
}

Status S3ClientImpl::CheckPayload(const Call& call,
                                  const S3Payload& payload) const {
  const bool md5_ok =
      payload.md5.size == 0 ||
      (payload.md5.type == DigestType::kMd5 && payload.md5.size == 16);
  if (!md5_ok || payload.sha256.type != DigestType::kSha256 ||
      payload.sha256.size != 32) {
    return Status::InvalidArgument(
        What(call), "the payload lacks its SHA-256 (or has a malformed MD5)");
  }
  return Status::OK();
}

Status S3ClientImpl::CheckMetadata(const Call& call,
                                   const S3Metadata& metadata) const {
  for (const auto& [name, value] : metadata) {
    if (!ValidMetadataName(name) || !ValidMetadataValue(value)) {
      return Status::InvalidArgument(
          What(call), "metadata " + name +
                          ": names are a-z 0-9 - _, values printable ASCII");
    }
  }
  return Status::OK();
}

void S3ClientImpl::AddMetadata(const S3Metadata& metadata, Call* call) {
  for (const auto& [name, value] : metadata) {
    call->headers.emplace_back("x-amz-meta-" + name, value);
  }
}

void S3ClientImpl::SetPayload(const S3Payload& payload, Call* call) {
  call->body = payload.pieces;
  call->payload_sha256 = payload.sha256.Hex();
  if (payload.md5.size != 0) {
    call->headers.emplace_back(
        "Content-MD5",
        Base64Encode(payload.md5.bytes.data(), payload.md5.size));
  }
}

Status S3ClientImpl::HeadBucket(const std::string& bucket) {
  Call call;
  call.op = "HeadBucket";
  call.method = "HEAD";
  call.bucket = bucket;
  HttpResponse resp;
  return Execute(call, &resp, nullptr);
}

Status S3ClientImpl::HeadObject(const std::string& bucket,
                                const std::string& key, S3ObjectInfo* info) {
  Call call;
  call.op = "HeadObject";
  call.method = "HEAD";
  call.bucket = bucket;
  call.key = key;
  HttpResponse resp;
  VALISE_RETURN_IF_ERROR(Execute(call, &resp, nullptr));
  *info = S3ObjectInfo();
  if (!ParseU64(resp.Header("content-length"), &info->size)) {
    return Status::Corruption(What(call), "no Content-Length in the answer");
  }
  info->etag = UnquoteETag(resp.Header("etag"));
  info->last_modified = resp.Header("last-modified");
  info->request_id = resp.Header("x-amz-request-id");
  constexpr std::string_view kMeta = "x-amz-meta-";
  for (const auto& [name, value] : resp.headers) {
    if (name.size() > kMeta.size() &&
        name.compare(0, kMeta.size(), kMeta) == 0) {
      info->metadata[name.substr(kMeta.size())] = value;
    }
  }
  return Status::OK();
}

Status S3ClientImpl::GetObject(const std::string& bucket,
                               const std::string& key, uint64_t offset,
                               size_t length, void* buffer,
                               const std::string& if_match,
                               S3GetResult* result) {
  Call call;
  call.op = "GetObject";
  call.method = "GET";
  call.bucket = bucket;
  call.key = key;
  if (length == 0) return Status::InvalidArgument(What(call), "length 0");
  call.headers.emplace_back("Range", "bytes=" + std::to_string(offset) + "-" +
                                         std::to_string(offset + length - 1));
  if (!if_match.empty()) {
    call.headers.emplace_back("If-Match", "\"" + if_match + "\"");
  }
  call.sink = buffer;
  call.sink_capacity = length;
  HttpResponse resp;
  *result = S3GetResult();
  Status s = Execute(call, &resp, nullptr);
  if (s.http_status() == 416) {
    // At or past the end: nothing to read. "bytes */SIZE" gives the size.
    uint64_t first = 0, last = 0, total = 0;
    ParseContentRange(resp.Header("content-range"), &first, &last, &total);
    result->object_size = total;
    result->request_id = resp.Header("x-amz-request-id");
    return Status::OK();
  }
  VALISE_RETURN_IF_ERROR(s);
  result->bytes = resp.sink_bytes;
  result->etag = UnquoteETag(resp.Header("etag"));
  result->request_id = resp.Header("x-amz-request-id");
  bytes_downloaded_ += resp.sink_bytes;
  uint64_t first = 0, last = 0, total = 0;
  if (resp.status == 206) {
    if (!ParseContentRange(resp.Header("content-range"), &first, &last,
                           &total) ||
        first != offset || last - first + 1 != resp.sink_bytes) {
      return Status::Corruption(
          What(call), "the answer's Content-Range (" +
                          resp.Header("content-range") +
                          ") is not the range asked for, or not its length");
    }
    result->object_size = total;
    return Status::OK();
  }
  // 200: the whole object. Right only when it was asked from 0 and fits.
  if (offset != 0 || resp.sink_bytes >= length + uint64_t{1}) {
    return Status::Corruption(What(call), "the store ignored the Range");
  }
  result->object_size = resp.sink_bytes;
  return Status::OK();
}

Status S3ClientImpl::PutObject(const std::string& bucket,
                               const std::string& key, const S3Payload& payload,
                               const S3Metadata& metadata, bool if_none_match,
                               S3WriteResult* result) {
  Call call;
  call.op = "PutObject";
  call.method = "PUT";
  call.bucket = bucket;
  call.key = key;
  VALISE_RETURN_IF_ERROR(CheckPayload(call, payload));
  VALISE_RETURN_IF_ERROR(CheckMetadata(call, metadata));
  SetPayload(payload, &call);
  AddMetadata(metadata, &call);
  if (if_none_match) call.headers.emplace_back("If-None-Match", "*");
  HttpResponse resp;
  CallInfo info;
  Status s = Execute(call, &resp, &info);
  if (s.http_status() == 412 && info.earlier_maybe_applied) {
    // Lost answer? The key exists now: it is ours if it holds our bytes.
    S3ObjectInfo head;
    if (payload.md5.size != 0 && HeadObject(bucket, key, &head).ok() &&
        head.etag == payload.md5.Hex()) {
      result->etag = head.etag;
      result->request_id = head.request_id;
      return Status::OK();
    }
  }
  VALISE_RETURN_IF_ERROR(s);
  result->etag = UnquoteETag(resp.Header("etag"));
  result->request_id = resp.Header("x-amz-request-id");
  return Status::OK();
}

Status S3ClientImpl::CreateMultipartUpload(const std::string& bucket,
                                           const std::string& key,
                                           const S3Metadata& metadata,
                                           std::string* upload_id) {
  Call call;
  call.op = "CreateMultipartUpload";
  call.method = "POST";
  call.bucket = bucket;
  call.key = key;
  call.query = {{"uploads", ""}};
  call.idempotent = false;
  VALISE_RETURN_IF_ERROR(CheckMetadata(call, metadata));
  AddMetadata(metadata, &call);
  HttpResponse resp;
  VALISE_RETURN_IF_ERROR(Execute(call, &resp, nullptr));
  return ParseInitiateMultipartUpload(resp.body, upload_id)
      .WithContext(What(call));
}

Status S3ClientImpl::UploadPart(const std::string& bucket,
                                const std::string& key,
                                const std::string& upload_id, int part_number,
                                const S3Payload& payload,
                                S3WriteResult* result) {
  Call call;
  call.op = "UploadPart";
  call.method = "PUT";
  call.bucket = bucket;
  call.key = key;
  call.query = {{"partNumber", std::to_string(part_number)},
                {"uploadId", upload_id}};
  VALISE_RETURN_IF_ERROR(CheckPayload(call, payload));
  SetPayload(payload, &call);
  HttpResponse resp;
  VALISE_RETURN_IF_ERROR(Execute(call, &resp, nullptr));
  result->etag = UnquoteETag(resp.Header("etag"));
  result->request_id = resp.Header("x-amz-request-id");
  return Status::OK();
}

Status S3ClientImpl::UploadPartCopy(
    const std::string& bucket, const std::string& key,
    const std::string& upload_id, int part_number,
    const std::string& src_bucket, const std::string& src_key, uint64_t offset,
    uint64_t length, const std::string& src_if_match, S3WriteResult* result) {
  Call call;
  call.op = "UploadPartCopy";
  call.method = "PUT";
  call.bucket = bucket;
  call.key = key;
  call.query = {{"partNumber", std::to_string(part_number)},
                {"uploadId", upload_id}};
  call.headers.emplace_back("x-amz-copy-source",
                            UriEncode("/" + src_bucket + "/" + src_key, true));
  if (length > 0) {
    call.headers.emplace_back("x-amz-copy-source-range",
                              "bytes=" + std::to_string(offset) + "-" +
                                  std::to_string(offset + length - 1));
  }
  if (!src_if_match.empty()) {
    call.headers.emplace_back("x-amz-copy-source-if-match",
                              "\"" + src_if_match + "\"");
  }
  call.error_in_200 = true;
  HttpResponse resp;
  VALISE_RETURN_IF_ERROR(Execute(call, &resp, nullptr));
  S3ErrorBody unused;
  VALISE_RETURN_IF_ERROR(ParseCopyResult(resp.body, &result->etag, &unused)
                             .WithContext(What(call)));
  result->request_id = resp.Header("x-amz-request-id");
  return Status::OK();
}

Status S3ClientImpl::CompleteMultipartUpload(
    const std::string& bucket, const std::string& key,
    const std::string& upload_id, const std::vector<S3CompletedPart>& parts,
    S3WriteResult* result) {
  Call call;
  call.op = "CompleteMultipartUpload";
  call.method = "POST";
  call.bucket = bucket;
  call.key = key;
  call.query = {{"uploadId", upload_id}};
  const std::string xml = CompleteMultipartUploadXml(parts);
  call.body = {S3Buffer{xml.data(), xml.size()}};
  call.payload_sha256 = Sha256Hex(xml);
  call.error_in_200 = true;
  HttpResponse resp;
  CallInfo info;
  Status s = Execute(call, &resp, &info);
  if (s.IsNotFound() && info.earlier_maybe_applied) {
    // Lost answer? The upload is gone: it was completed if the object is
    // the one these parts make.
    S3ObjectInfo head;
    std::string expected = MultipartETag(parts);
    if (!expected.empty() && HeadObject(bucket, key, &head).ok() &&
        head.etag == expected) {
      result->etag = head.etag;
      result->request_id = head.request_id;
      return Status::OK();
    }
  }
  VALISE_RETURN_IF_ERROR(s);
  S3ErrorBody unused;
  VALISE_RETURN_IF_ERROR(
      ParseCompleteMultipartUpload(resp.body, &result->etag, &unused)
          .WithContext(What(call)));
  // RGW 16 answers with an empty <ETag>; the object's is the parts' one.
  if (result->etag.empty()) result->etag = MultipartETag(parts);
  result->request_id = resp.Header("x-amz-request-id");
  return Status::OK();
}

Status S3ClientImpl::AbortMultipartUpload(const std::string& bucket,
                                          const std::string& key,
                                          const std::string& upload_id) {
  Call call;
  call.op = "AbortMultipartUpload";
  call.method = "DELETE";
  call.bucket = bucket;
  call.key = key;
  call.query = {{"uploadId", upload_id}};
  HttpResponse resp;
  CallInfo info;
  Status s = Execute(call, &resp, &info);
  if (s.IsNotFound() && info.earlier_maybe_applied) {
    return Status::OK();  // an earlier attempt aborted it
  }
  return s;
}

Status S3ClientImpl::ListObjectsV2(const std::string& bucket,
                                   const S3ListObjectsRequest& request,
                                   S3ListObjectsResult* result) {
  Call call;
  call.op = "ListObjectsV2";
  call.method = "GET";
  call.bucket = bucket;
  call.query = {{"list-type", "2"},
                {"encoding-type", "url"},
                {"max-keys", std::to_string(request.max_keys)}};
  if (!request.prefix.empty())
    call.query.emplace_back("prefix", request.prefix);
  if (!request.delimiter.empty()) {
    call.query.emplace_back("delimiter", request.delimiter);
  }
  if (!request.continuation_token.empty()) {
    call.query.emplace_back("continuation-token", request.continuation_token);
  }
  if (!request.start_after.empty()) {
    call.query.emplace_back("start-after", request.start_after);
  }
  HttpResponse resp;
  VALISE_RETURN_IF_ERROR(Execute(call, &resp, nullptr));
  VALISE_RETURN_IF_ERROR(
      ParseListObjectsV2(resp.body, result).WithContext(What(call)));
  result->request_id = resp.Header("x-amz-request-id");
  return Status::OK();
}

Status S3ClientImpl::ListMultipartUploads(const std::string& bucket,
                                          const std::string& prefix,
                                          const std::string& key_marker,
                                          const std::string& upload_id_marker,
                                          S3ListUploadsResult* result) {
  Call call;
  call.op = "ListMultipartUploads";
  call.method = "GET";
  call.bucket = bucket;
  call.query = {{"uploads", ""}, {"encoding-type", "url"}};
  if (!prefix.empty()) call.query.emplace_back("prefix", prefix);
  if (!key_marker.empty()) call.query.emplace_back("key-marker", key_marker);
  if (!upload_id_marker.empty()) {
    call.query.emplace_back("upload-id-marker", upload_id_marker);
  }
  HttpResponse resp;
  VALISE_RETURN_IF_ERROR(Execute(call, &resp, nullptr));
  VALISE_RETURN_IF_ERROR(
      ParseListMultipartUploads(resp.body, /*keys_url_encoded=*/true, result)
          .WithContext(What(call)));
  result->request_id = resp.Header("x-amz-request-id");
  return Status::OK();
}

Status S3ClientImpl::ListParts(const std::string& bucket,
                               const std::string& key,
                               const std::string& upload_id,
                               int part_number_marker,
                               S3ListPartsResult* result) {
  Call call;
  call.op = "ListParts";
  call.method = "GET";
  call.bucket = bucket;
  call.key = key;
  call.query = {{"uploadId", upload_id}};
  if (part_number_marker > 0) {
    call.query.emplace_back("part-number-marker",
                            std::to_string(part_number_marker));
  }
  HttpResponse resp;
  VALISE_RETURN_IF_ERROR(Execute(call, &resp, nullptr));
  VALISE_RETURN_IF_ERROR(
      ParseListParts(resp.body, result).WithContext(What(call)));
  result->request_id = resp.Header("x-amz-request-id");
  return Status::OK();
}

Status S3ClientImpl::CopyObject(const std::string& src_bucket,
                                const std::string& src_key,
                                const std::string& bucket,
                                const std::string& key, S3WriteResult* result) {
  Call call;
  call.op = "CopyObject";
  call.method = "PUT";
  call.bucket = bucket;
  call.key = key;
  call.headers.emplace_back("x-amz-copy-source",
                            UriEncode("/" + src_bucket + "/" + src_key, true));
  call.headers.emplace_back("x-amz-metadata-directive", "COPY");
  call.error_in_200 = true;
  HttpResponse resp;
  VALISE_RETURN_IF_ERROR(Execute(call, &resp, nullptr));
  S3ErrorBody unused;
  VALISE_RETURN_IF_ERROR(ParseCopyResult(resp.body, &result->etag, &unused)
                             .WithContext(What(call)));
  result->request_id = resp.Header("x-amz-request-id");
  return Status::OK();
}

Status S3ClientImpl::DeleteObject(const std::string& bucket,
                                  const std::string& key) {
  Call call;
  call.op = "DeleteObject";
  call.method = "DELETE";
  call.bucket = bucket;
  call.key = key;
  HttpResponse resp;
  Status s = Execute(call, &resp, nullptr);
  if (s.IsNotFound() && s.service_code() == "NoSuchKey") return Status::OK();
  return s;
}

}  // namespace

Status NewS3ClientOver(const S3Config& config,
                       std::shared_ptr<HttpTransport> transport,
                       const S3ClientHooks& hooks,
                       std::unique_ptr<S3Client>* client) {
  S3Endpoint endpoint;
  VALISE_RETURN_IF_ERROR(ParseS3Endpoint(config.endpoint, &endpoint));
  if (config.credentials.access_key_id.empty() ||
      config.credentials.secret_access_key.empty()) {
    return Status::InvalidArgument("s3", "no credentials");
  }
  *client = std::make_unique<S3ClientImpl>(config, endpoint,
                                           std::move(transport), hooks);
  return Status::OK();
}

}  // namespace valise::net

namespace valise {

uint64_t S3Payload::size() const {
  uint64_t n = 0;
  for (const S3Buffer& b : pieces) n += b.size;
  return n;
}

std::string MultipartETag(const std::vector<S3CompletedPart>& parts) {
  std::string binary;
  for (const S3CompletedPart& p : parts) {
    Digest d;
    if (!Digest::FromHex(DigestType::kMd5, p.etag, &d)) return std::string();
    binary.append(reinterpret_cast<const char*>(d.bytes.data()), d.size);
  }
  return net::HexMd5(binary.data(), binary.size()) + "-" +
         std::to_string(parts.size());
}

Status NewS3Client(const S3Config& config, std::unique_ptr<S3Client>* client) {
  net::HttpOptions options;
  options.ca_bundle = config.ca_bundle;
  options.connect_timeout_ms = config.connect_timeout_ms;
  options.stall_timeout_s = config.stall_timeout_s;
  if (!config.ca_bundle.empty() &&
      access(config.ca_bundle.c_str(), R_OK) != 0) {
    return Status::PosixError("s3: CA bundle " + config.ca_bundle, errno)
        .WithContext("s3");
  }
  return net::NewS3ClientOver(config, net::NewCurlTransport(options),
                              net::S3ClientHooks(), client);
}

}  // namespace valise
