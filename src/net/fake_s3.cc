// The fake S3 store (valise/fake_s3.h): an HttpTransport that answers in
// memory, as an S3 server would, for clients made by NewS3ClientOver.
//
// One request, under the store's lock:
//   refuse (killed client, unavailable) -> parse the target -> the faults
//   drawn before applying (reset, 500, 503, error in a 200) -> check the
//   signature and the body's digests -> apply (one function per S3
//   operation) -> the lost-answer fault -> the answer.
// Every random decision comes from one generator, in that order, so a seed
// replays exactly for the same sequence of requests.
#include "valise/fake_s3.h"

#include <openssl/evp.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <mutex>
#include <random>

#include "net/http.h"
#include "net/s3_client.h"
#include "net/s3_xml.h"
#include "net/sigv4.h"

namespace valise {

using net::HttpRequest;
using net::HttpResponse;
using net::KeyValues;
using net::S3ErrorBody;

namespace {

struct Part {
  std::string bytes;
  std::string etag;
};

struct Upload {
  std::string key;
  S3Metadata metadata;
  std::map<int, Part> parts;
  std::string initiated;
};

struct Object {
  std::string bytes;
  std::string etag;
  S3Metadata metadata;
  std::string last_modified;  // ISO 8601
};

struct Bucket {
  std::map<std::string, Object> objects;
  std::map<std::string, Upload> uploads;  // by upload id
};

std::string HexMd5(std::string_view s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(s.data(), s.size(), md, &len, EVP_md5(), nullptr);
  return net::HexEncode(md, len);
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// A parsed request.
struct Target {
  std::string bucket;
  std::string key;
  std::string wire_path;  // as sent, for the fault log
  KeyValues query;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;

  bool Has(const std::string& name) const {
    for (const auto& [n, v] : query) {
      if (n == name) return true;
    }
    return false;
  }
  std::string Query(const std::string& name) const {
    for (const auto& [n, v] : query) {
      if (n == name) return v;
    }
    return std::string();
  }
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

bool ParseTarget(const HttpRequest& req, Target* t) {
  std::string_view url = req.url;
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return false;
  size_t path_at = url.find('/', scheme + 3);
  if (path_at == std::string_view::npos) return false;
  std::string_view rest = url.substr(path_at);
  size_t q = rest.find('?');
  t->wire_path.assign(rest);
  std::string path;
  if (!net::UriDecode(rest.substr(0, q), &path)) return false;
  if (q != std::string_view::npos) {
    std::string_view qs = rest.substr(q + 1);
    while (!qs.empty()) {
      size_t amp = qs.find('&');
      std::string_view pair = qs.substr(0, amp);
      size_t eq = pair.find('=');
      std::string n, v;
      if (!net::UriDecode(pair.substr(0, eq), &n)) return false;
      if (eq != std::string_view::npos &&
          !net::UriDecode(pair.substr(eq + 1), &v)) {
        return false;
      }
      t->query.emplace_back(n, v);
      if (amp == std::string_view::npos) break;
      qs.remove_prefix(amp + 1);
    }
  }
  // Path-style: /bucket[/key].
  size_t slash = path.find('/', 1);
  t->bucket = path.substr(
      1, slash == std::string::npos ? std::string::npos : slash - 1);
  if (slash != std::string::npos) t->key = path.substr(slash + 1);
  for (const auto& [n, v] : req.headers) t->headers[Lower(n)] = v;
  for (const S3Buffer& b : req.body) {
    t->body.append(static_cast<const char*>(b.data), b.size);
  }
  return true;
}

}  // namespace

class FakeS3Store::Impl {
 public:
  explicit Impl(const FakeS3Options& options)
      : options_(options), faults_(options.faults), rng_(options.seed) {}

  Status Handle(const HttpRequest& req, HttpResponse* resp, bool* maybe_applied,
                uint64_t generation);

  // The store's state and everything FakeS3Store's methods touch.
  mutable std::mutex mu_;
  const FakeS3Options options_;
  FakeS3Faults faults_;
  std::mt19937_64 rng_;
  std::map<std::string, Bucket> buckets_;
  uint64_t generation_ = 0;
  bool unavailable_ = false;
  FakeS3Counters counters_;
  std::vector<FakeS3PartSeen> parts_seen_;
  std::vector<std::string> fault_log_;
  uint64_t next_upload_ = 1;
  uint64_t clock_ = 0;

 private:
  bool Roll(uint32_t one_in) { return one_in > 0 && rng_() % one_in == 0; }
  void LogFault(const HttpRequest& req, const Target& t, const char* fault) {
    fault_log_.push_back(std::to_string(counters_.requests) + " " + req.method +
                         " " + t.wire_path + ": " + fault);
  }
  std::string Now();
  std::string RequestId() const {
    return "fake-" + std::to_string(counters_.requests);
  }

  // The answers.
  void Answer(HttpResponse* resp, int status) {
    resp->status = status;
    resp->headers.emplace_back("x-amz-request-id", RequestId());
  }
  void Fail(HttpResponse* resp, int status, const std::string& code,
            const std::string& message, bool head) {
    Answer(resp, status);
    if (!head) {
      resp->body =
          net::ErrorXml(S3ErrorBody{code, message, RequestId(), "fake-host"});
    }
  }

  bool CheckAuth(const HttpRequest& req, const Target& t, HttpResponse* resp);
  bool CheckBody(const HttpRequest& req, const Target& t, bool need_md5,
                 HttpResponse* resp);
  Bucket* FindBucket(const HttpRequest& req, const Target& t,
                     HttpResponse* resp);

  // One per operation; each returns whether the store changed.
  bool Apply(const HttpRequest& req, const Target& t, HttpResponse* resp);
  void HeadOrGetObject(const HttpRequest& req, const Target& t, Bucket& b,
                       HttpResponse* resp);
  void ListObjects(const Target& t, Bucket& b, HttpResponse* resp);
  void ListUploads(const Target& t, Bucket& b, HttpResponse* resp);
  void ListParts(const Target& t, Bucket& b, HttpResponse* resp);
  bool PutObject(const HttpRequest& req, const Target& t, Bucket& b,
                 HttpResponse* resp);
  bool UploadPart(const HttpRequest& req, const Target& t, Bucket& b,
                  HttpResponse* resp);
  bool CopySource(const Target& t, std::string* bytes, Object* source,
                  HttpResponse* resp);
  bool Create(const Target& t, Bucket& b, HttpResponse* resp);
  bool Complete(const Target& t, Bucket& b, HttpResponse* resp);
  bool Abort(const Target& t, Bucket& b, HttpResponse* resp);
};

std::string FakeS3Store::Impl::Now() {
  // A logical clock: one second a write, from 2024-01-01.
  std::time_t t = 1704067200 + static_cast<std::time_t>(clock_++);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[40];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
  return buf;
}

Status FakeS3Store::Impl::Handle(const HttpRequest& req, HttpResponse* resp,
                                 bool* maybe_applied, uint64_t generation) {
  std::lock_guard<std::mutex> lock(mu_);
  *resp = HttpResponse();
  *maybe_applied = false;
  if (generation < generation_) {
    ++counters_.refused;
    return Status::Aborted("fake S3", "this client was killed")
        .WithInjected(true);
  }
  if (unavailable_) {
    ++counters_.refused;
    return Status::IOError(req.url, "Failed to connect: Connection refused")
        .WithRetryable(true)
        .WithInjected(true);
  }
  ++counters_.requests;
  Target t;
  if (!ParseTarget(req, &t)) {
    Fail(resp, 400, "InvalidURI", "Couldn't parse the specified URI.", false);
    return Status::OK();
  }
  const bool head = req.method == "HEAD";
  const bool get_object = req.sink != nullptr;

  // 1-3: the faults before the store looks at the request.
  if ((!req.body.empty() || get_object) && Roll(faults_.reset_one_in)) {
    ++counters_.resets;
    LogFault(req, t, "reset");
    if (!get_object) {
      *maybe_applied = true;  // the client cannot know it was not
      resp->bytes_sent = t.body.size() / 2;
      return Status::IOError(req.url, "Connection reset by peer (injected)")
          .WithRetryable(true)
          .WithInjected(true);
    }
    // A GET: the answer is cut after half its bytes reached the buffer.
    HttpResponse full;
    Apply(req, t, &full);
    if (full.status >= 200 && full.status < 300) {
      resp->sink_bytes = full.sink_bytes / 2;
    }
    *maybe_applied = true;
    return Status::IOError(req.url, "Connection reset by peer (injected)")
        .WithRetryable(true)
        .WithInjected(true);
  }
  if (Roll(faults_.error_500_one_in)) {
    ++counters_.errors_500;
    LogFault(req, t, "500");
    Fail(resp, 500, "InternalError", "We encountered an internal error.", head);
    *maybe_applied = true;
    return Status::OK();
  }
  if (Roll(faults_.slowdown_one_in)) {
    ++counters_.slowdowns;
    LogFault(req, t, "503 SlowDown");
    Fail(resp, 503, "SlowDown", "Please reduce your request rate.", head);
    *maybe_applied = true;
    return Status::OK();
  }
  const bool may_error_in_200 =
      (req.method == "POST" && t.Has("uploadId")) ||
      (req.method == "PUT" && !t.Header("x-amz-copy-source").empty());
  if (may_error_in_200 && Roll(faults_.error_in_200_one_in)) {
    ++counters_.errors_in_200;
    LogFault(req, t, "error in 200");
    Fail(resp, 200, "InternalError", "We encountered an internal error.",
         false);
    *maybe_applied = true;
    return Status::OK();
  }

  // 4: apply.
  resp->bytes_sent = t.body.size();
  bool changed = Apply(req, t, resp);
  *maybe_applied = true;

  // 6: the answer is lost.
  if (changed && Roll(faults_.lost_answer_one_in)) {
    ++counters_.lost_answers;
    LogFault(req, t, "lost answer");
    return Status::IOError(req.url, "Connection reset by peer (injected)")
        .WithRetryable(true)
        .WithInjected(true);
  }
  return Status::OK();
}

bool FakeS3Store::Impl::CheckAuth(const HttpRequest& req, const Target& t,
                                  HttpResponse* resp) {
  const bool head = req.method == "HEAD";
  // AWS4-HMAC-SHA256 Credential=AK/DATE/REGION/s3/aws4_request,
  // SignedHeaders=a;b, Signature=hex
  std::string auth = t.Header("authorization");
  auto field = [&auth](const std::string& name) {
    size_t at = auth.find(name + "=");
    if (at == std::string::npos) return std::string();
    at += name.size() + 1;
    size_t end = auth.find_first_of(", ", at);
    return auth.substr(at,
                       end == std::string::npos ? std::string::npos : end - at);
  };
  std::string credential = field("Credential");
  std::string signed_headers = field("SignedHeaders");
  std::string signature = field("Signature");
  if (auth.rfind("AWS4-HMAC-SHA256 ", 0) != 0 || credential.empty() ||
      signature.empty()) {
    Fail(resp, 403, "AccessDenied", "Access Denied", head);
    return false;
  }
  std::vector<std::string> scope;
  for (size_t start = 0;;) {
    size_t slash = credential.find('/', start);
    scope.push_back(credential.substr(
        start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (scope.size() != 5 || scope[0] != options_.access_key_id) {
    Fail(resp, 403, "InvalidAccessKeyId",
         "The AWS Access Key Id you provided does not exist in our records.",
         head);
    return false;
  }
  net::SigV4Request sreq;
  sreq.method = req.method;
  std::string path;
  net::UriDecode(t.wire_path.substr(0, t.wire_path.find('?')), &path);
  sreq.path = path;
  sreq.query = t.query;
  std::string names = ";" + signed_headers + ";";
  for (const auto& [n, v] : req.headers) {
    if (names.find(";" + Lower(n) + ";") != std::string::npos) {
      sreq.headers.emplace_back(n, v);
    }
  }
  std::string payload = t.Header("x-amz-content-sha256");
  sreq.payload_sha256 = payload;
  std::string amz_date = t.Header("x-amz-date");
  net::SigV4Scope sscope{amz_date, scope[2], scope[3]};
  std::string expected = net::Authorization(
      sreq, sscope, options_.access_key_id, options_.secret_access_key);
  if (expected.substr(expected.rfind('=') + 1) != signature ||
      names.find(";host;") == std::string::npos) {
    Fail(resp, 403, "SignatureDoesNotMatch",
         "The request signature we calculated does not match the signature "
         "you provided. Check your key and signing method.",
         head);
    return false;
  }
  return true;
}

bool FakeS3Store::Impl::CheckBody(const HttpRequest& req, const Target& t,
                                  bool need_md5, HttpResponse* resp) {
  const bool head = req.method == "HEAD";
  std::string sha = t.Header("x-amz-content-sha256");
  if (sha != "UNSIGNED-PAYLOAD" && sha != net::Sha256Hex(t.body)) {
    ++counters_.sha256_refused;
    Fail(resp, 400, "XAmzContentSHA256Mismatch",
         "The provided 'x-amz-content-sha256' header does not match what "
         "was computed.",
         head);
    return false;
  }
  std::string md5 = t.Header("content-md5");
  if (md5.empty()) {
    if (!need_md5 || sha != "UNSIGNED-PAYLOAD") return true;
    Fail(resp, 400, "InvalidRequest",
         "Missing required header for this request: Content-MD5 (the fake "
         "store requires it)",
         head);
    return false;
  }
  std::string raw;
  if (!net::Base64Decode(md5, &raw) || raw.size() != 16) {
    Fail(resp, 400, "InvalidDigest",
         "The Content-MD5 you specified was invalid.", head);
    return false;
  }
  if (net::HexEncode(raw.data(), raw.size()) != HexMd5(t.body)) {
    Fail(resp, 400, "BadDigest",
         "The Content-MD5 you specified did not match what we received.", head);
    return false;
  }
  return true;
}

Bucket* FakeS3Store::Impl::FindBucket(const HttpRequest& req, const Target& t,
                                      HttpResponse* resp) {
  auto it = buckets_.find(t.bucket);
  if (it == buckets_.end()) {
    Fail(resp, 404, "NoSuchBucket", "The specified bucket does not exist",
         req.method == "HEAD");
    return nullptr;
  }
  return &it->second;
}

bool FakeS3Store::Impl::Apply(const HttpRequest& req, const Target& t,
                              HttpResponse* resp) {
  if (!CheckAuth(req, t, resp)) return false;
  const bool plain_write =
      req.method == "PUT" && t.Header("x-amz-copy-source").empty();
  if (!CheckBody(req, t, plain_write, resp)) return false;
  if (plain_write && !t.key.empty()) {
    const bool md5 = !t.Header("content-md5").empty();
    if (t.Has("partNumber")) {
      ++counters_.parts;
      counters_.parts_with_md5 += md5;
    } else {
      ++counters_.puts;
      counters_.puts_with_md5 += md5;
    }
  }
  Bucket* b = FindBucket(req, t, resp);
  if (b == nullptr) return false;
  const std::string& m = req.method;
  if (t.key.empty()) {
    if (m == "HEAD") {
      Answer(resp, 200);
    } else if (m == "GET" && t.Query("list-type") == "2") {
      ListObjects(t, *b, resp);
    } else if (m == "GET" && t.Has("uploads")) {
      ListUploads(t, *b, resp);
    } else {
      Fail(resp, 501, "NotImplemented", "not in the fake store", false);
    }
    return false;
  }
  if (m == "HEAD" || (m == "GET" && !t.Has("uploadId"))) {
    HeadOrGetObject(req, t, *b, resp);
    return false;
  }
  if (m == "GET") {
    ListParts(t, *b, resp);
    return false;
  }
  if (m == "PUT" && t.Has("uploadId")) return UploadPart(req, t, *b, resp);
  if (m == "PUT") return PutObject(req, t, *b, resp);
  if (m == "POST" && t.Has("uploads")) return Create(t, *b, resp);
  if (m == "POST" && t.Has("uploadId")) return Complete(t, *b, resp);
  if (m == "DELETE" && t.Has("uploadId")) return Abort(t, *b, resp);
  if (m == "DELETE") {
    b->objects.erase(t.key);
    Answer(resp, 204);
    return true;
  }
  Fail(resp, 501, "NotImplemented", "not in the fake store", false);
  return false;
}

void FakeS3Store::Impl::HeadOrGetObject(const HttpRequest& req, const Target& t,
                                        Bucket& b, HttpResponse* resp) {
  const bool head = req.method == "HEAD";
  auto it = b.objects.find(t.key);
  if (it == b.objects.end()) {
    Fail(resp, 404, "NoSuchKey", "The specified key does not exist.", head);
    return;
  }
  const Object& o = it->second;
  std::string if_match = net::UnquoteETag(t.Header("if-match"));
  if (!if_match.empty() && if_match != o.etag) {
    Fail(resp, 412, "PreconditionFailed",
         "At least one of the pre-conditions you specified did not hold", head);
    return;
  }
  uint64_t first = 0;
  uint64_t last = o.bytes.empty() ? 0 : o.bytes.size() - 1;
  bool ranged = false;
  std::string range = t.Header("range");
  if (!head && range.rfind("bytes=", 0) == 0) {
    size_t dash = range.find('-');
    first = std::stoull(range.substr(6, dash - 6));
    last = std::stoull(range.substr(dash + 1));
    ranged = true;
    if (first >= o.bytes.size()) {
      Fail(resp, 416, "InvalidRange", "The requested range is not satisfiable",
           false);
      resp->headers.emplace_back("content-range",
                                 "bytes */" + std::to_string(o.bytes.size()));
      return;
    }
    last = std::min<uint64_t>(last, o.bytes.size() - 1);
  }
  Answer(resp, ranged ? 206 : 200);
  resp->headers.emplace_back("etag", "\"" + o.etag + "\"");
  resp->headers.emplace_back("last-modified", o.last_modified);
  for (const auto& [n, v] : o.metadata) {
    resp->headers.emplace_back("x-amz-meta-" + n, v);
  }
  uint64_t n = o.bytes.empty() ? 0 : last - first + 1;
  resp->headers.emplace_back("content-length",
                             std::to_string(head ? o.bytes.size() : n));
  if (ranged) {
    resp->headers.emplace_back("content-range",
                               "bytes " + std::to_string(first) + "-" +
                                   std::to_string(last) + "/" +
                                   std::to_string(o.bytes.size()));
  }
  if (head) return;
  std::string_view data = std::string_view(o.bytes).substr(first, n);
  if (req.sink == nullptr) {
    resp->body.assign(data);
  } else if (data.size() <= req.sink_capacity) {
    std::copy(data.begin(), data.end(), static_cast<char*>(req.sink));
    resp->sink_bytes = data.size();
  }
}

void FakeS3Store::Impl::ListObjects(const Target& t, Bucket& b,
                                    HttpResponse* resp) {
  S3ListObjectsRequest r;
  r.prefix = t.Query("prefix");
  r.delimiter = t.Query("delimiter");
  r.continuation_token = t.Query("continuation-token");
  r.start_after = t.Query("start-after");
  std::string max = t.Query("max-keys");
  r.max_keys = max.empty() ? 1000 : std::max(1, std::min(1000, std::stoi(max)));
  std::string after = r.start_after;
  if (!r.continuation_token.empty()) {
    std::string decoded;
    if (!net::Base64Decode(r.continuation_token, &decoded)) {
      Fail(resp, 400, "InvalidArgument", "The continuation token is invalid.",
           false);
      return;
    }
    after = std::max(after, decoded);
  }
  S3ListObjectsResult out;
  auto it = after.empty() ? b.objects.lower_bound(r.prefix)
                          : b.objects.upper_bound(after);
  std::string last_seen;
  int count = 0;
  while (it != b.objects.end()) {
    const std::string& k = it->first;
    if (k.compare(0, r.prefix.size(), r.prefix) != 0) {
      if (k > r.prefix) break;
      ++it;
      continue;
    }
    if (count == r.max_keys) {
      out.truncated = true;
      break;
    }
    size_t d = r.delimiter.empty() ? std::string::npos
                                   : k.find(r.delimiter, r.prefix.size());
    if (d != std::string::npos) {
      std::string cp = k.substr(0, d + r.delimiter.size());
      out.common_prefixes.push_back(cp);
      while (it != b.objects.end() &&
             it->first.compare(0, cp.size(), cp) == 0) {
        last_seen = it->first;
        ++it;
      }
    } else {
      const Object& o = it->second;
      out.objects.push_back(
          S3ObjectSummary{k, o.bytes.size(), o.etag, o.last_modified});
      last_seen = k;
      ++it;
    }
    ++count;
  }
  if (out.truncated) {
    out.next_continuation_token =
        net::Base64Encode(last_seen.data(), last_seen.size());
  }
  Answer(resp, 200);
  resp->body = net::ListObjectsV2Xml(t.bucket, r, out,
                                     t.Query("encoding-type") == "url");
}

void FakeS3Store::Impl::ListUploads(const Target& t, Bucket& b,
                                    HttpResponse* resp) {
  std::string prefix = t.Query("prefix");
  std::string key_marker = t.Query("key-marker");
  std::string id_marker = t.Query("upload-id-marker");
  std::vector<S3UploadSummary> all;
  for (const auto& [id, u] : b.uploads) {
    if (u.key.compare(0, prefix.size(), prefix) != 0) continue;
    if (!key_marker.empty() &&
        (u.key < key_marker ||
         (u.key == key_marker && (id_marker.empty() || id <= id_marker)))) {
      continue;
    }
    all.push_back(S3UploadSummary{u.key, id, u.initiated});
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& c) {
    return a.key != c.key ? a.key < c.key : a.upload_id < c.upload_id;
  });
  S3ListUploadsResult out;
  constexpr size_t kMax = 1000;
  if (all.size() > kMax) {
    out.truncated = true;
    all.resize(kMax);
  }
  if (!all.empty()) {
    out.next_key_marker = all.back().key;
    out.next_upload_id_marker = all.back().upload_id;
  }
  out.uploads = std::move(all);
  Answer(resp, 200);
  resp->body = net::ListMultipartUploadsXml(t.bucket, prefix, out,
                                            t.Query("encoding-type") == "url");
}

void FakeS3Store::Impl::ListParts(const Target& t, Bucket& b,
                                  HttpResponse* resp) {
  auto it = b.uploads.find(t.Query("uploadId"));
  if (it == b.uploads.end() || it->second.key != t.key) {
    Fail(resp, 404, "NoSuchUpload", "The specified upload does not exist.",
         false);
    return;
  }
  std::string marker = t.Query("part-number-marker");
  int after = marker.empty() ? 0 : std::stoi(marker);
  S3ListPartsResult out;
  constexpr size_t kMax = 1000;
  for (auto p = it->second.parts.upper_bound(after);
       p != it->second.parts.end(); ++p) {
    if (out.parts.size() == kMax) {
      out.truncated = true;
      break;
    }
    out.parts.push_back(
        S3PartSummary{p->first, p->second.bytes.size(), p->second.etag});
    out.next_part_number_marker = p->first;
  }
  Answer(resp, 200);
  resp->body = net::ListPartsXml(t.bucket, t.key, it->first, out);
}

bool FakeS3Store::Impl::CopySource(const Target& t, std::string* bytes,
                                   Object* source, HttpResponse* resp) {
  std::string src;
  net::UriDecode(t.Header("x-amz-copy-source"), &src);
  if (!src.empty() && src[0] == '/') src.erase(0, 1);
  size_t slash = src.find('/');
  auto bit = buckets_.find(src.substr(0, slash));
  if (slash == std::string::npos || bit == buckets_.end()) {
    Fail(resp, 404, "NoSuchBucket", "The specified bucket does not exist",
         false);
    return false;
  }
  auto oit = bit->second.objects.find(src.substr(slash + 1));
  if (oit == bit->second.objects.end()) {
    Fail(resp, 404, "NoSuchKey", "The specified key does not exist.", false);
    return false;
  }
  *source = oit->second;
  std::string if_match = t.Header("x-amz-copy-source-if-match");
  if (if_match.size() >= 2 && if_match.front() == '"' &&
      if_match.back() == '"') {
    if_match = if_match.substr(1, if_match.size() - 2);
  }
  if (!if_match.empty() && if_match != source->etag) {
    Fail(resp, 412, "PreconditionFailed",
         "At least one of the pre-conditions you specified did not hold",
         false);
    return false;
  }
  std::string range = t.Header("x-amz-copy-source-range");
  if (range.empty()) {
    *bytes = source->bytes;
    return true;
  }
  size_t dash = range.find('-');
  uint64_t first = std::stoull(range.substr(6, dash - 6));
  uint64_t last = std::stoull(range.substr(dash + 1));
  if (range.rfind("bytes=", 0) != 0 || first > last ||
      last >= source->bytes.size()) {
    Fail(resp, 400, "InvalidRange", "The requested range is not valid", false);
    return false;
  }
  *bytes = source->bytes.substr(first, last - first + 1);
  return true;
}

bool FakeS3Store::Impl::PutObject(const HttpRequest& req, const Target& t,
                                  Bucket& b, HttpResponse* resp) {
  (void)req;
  const bool exists = b.objects.count(t.key) > 0;
  if (t.Header("if-none-match") == "*" && exists) {
    Fail(resp, 412, "PreconditionFailed",
         "At least one of the pre-conditions you specified did not hold",
         false);
    return false;
  }
  Object o;
  if (!t.Header("x-amz-copy-source").empty()) {
    Object source;
    if (!CopySource(t, &o.bytes, &source, resp)) return false;
    o.etag = source.etag;
    o.metadata = source.metadata;
  } else {
    o.bytes = t.body;
    o.etag = HexMd5(o.bytes);
    for (const auto& [n, v] : t.headers) {
      if (n.rfind("x-amz-meta-", 0) == 0) o.metadata[n.substr(11)] = v;
    }
  }
  o.last_modified = Now();
  std::string etag = o.etag;
  b.objects[t.key] = std::move(o);
  Answer(resp, 200);
  if (t.Header("x-amz-copy-source").empty()) {
    resp->headers.emplace_back("etag", "\"" + etag + "\"");
  } else {
    resp->body = net::CopyResultXml("CopyObjectResult", etag);
  }
  return true;
}

bool FakeS3Store::Impl::UploadPart(const HttpRequest& req, const Target& t,
                                   Bucket& b, HttpResponse* resp) {
  (void)req;
  auto it = b.uploads.find(t.Query("uploadId"));
  if (it == b.uploads.end() || it->second.key != t.key) {
    Fail(resp, 404, "NoSuchUpload", "The specified upload does not exist.",
         false);
    return false;
  }
  std::string n = t.Query("partNumber");
  int number = 0;
  if (n.empty() || n.size() > 5 || (number = std::stoi(n)) < 1 ||
      number > 10000) {
    Fail(resp, 400, "InvalidArgument",
         "Part number must be an integer between 1 and 10000, inclusive",
         false);
    return false;
  }
  Part p;
  const bool copy = !t.Header("x-amz-copy-source").empty();
  if (copy && faults_.part_copy_source_gone) {
    Fail(resp, 404, "NoSuchKey", "The specified key does not exist.", false);
    return false;
  }
  if (copy && faults_.part_copy_fails) {
    Fail(resp, 500, "InternalError", "We encountered an internal error.",
         false);
    return false;
  }
  if (copy) {
    Object source;
    if (!CopySource(t, &p.bytes, &source, resp)) return false;
    ++counters_.part_copies;
    counters_.part_copy_bytes += p.bytes.size();
  } else {
    p.bytes = t.body;
    parts_seen_.push_back({t.key, number, t.Header("x-amz-content-sha256")});
  }
  p.etag = HexMd5(p.bytes);
  std::string etag = p.etag;
  it->second.parts[number] = std::move(p);
  Answer(resp, 200);
  if (copy) {
    resp->body = net::CopyResultXml("CopyPartResult", etag);
  } else {
    resp->headers.emplace_back("etag", "\"" + etag + "\"");
  }
  return true;
}

bool FakeS3Store::Impl::Create(const Target& t, Bucket& b, HttpResponse* resp) {
  char id[32];
  snprintf(id, sizeof(id), "fake-upload-%06llu",
           static_cast<unsigned long long>(next_upload_++));
  Upload u;
  u.key = t.key;
  u.initiated = Now();
  for (const auto& [n, v] : t.headers) {
    if (n.rfind("x-amz-meta-", 0) == 0) u.metadata[n.substr(11)] = v;
  }
  b.uploads[id] = std::move(u);
  Answer(resp, 200);
  resp->body = net::InitiateMultipartUploadXml(t.bucket, t.key, id);
  return true;
}

bool FakeS3Store::Impl::Complete(const Target& t, Bucket& b,
                                 HttpResponse* resp) {
  auto it = b.uploads.find(t.Query("uploadId"));
  if (it == b.uploads.end() || it->second.key != t.key) {
    Fail(resp, 404, "NoSuchUpload", "The specified upload does not exist.",
         false);
    return false;
  }
  std::vector<S3CompletedPart> parts;
  if (!net::ParseCompleteMultipartUploadRequest(t.body, &parts).ok() ||
      parts.empty()) {
    Fail(resp, 400, "MalformedXML", "The XML you provided was not well-formed",
         false);
    return false;
  }
  Upload& u = it->second;
  Object o;
  for (size_t i = 1; i < parts.size(); ++i) {
    if (parts[i].part_number <= parts[i - 1].part_number) {
      Fail(resp, 400, "InvalidPartOrder",
           "The list of parts was not in ascending order.", false);
      return false;
    }
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    auto p = u.parts.find(parts[i].part_number);
    if (p == u.parts.end() || p->second.etag != parts[i].etag) {
      Fail(resp, 400, "InvalidPart",
           "One or more of the specified parts could not be found.", false);
      return false;
    }
    if (i + 1 < parts.size() &&
        p->second.bytes.size() < options_.min_part_size) {
      Fail(resp, 400, "EntityTooSmall",
           "Your proposed upload is smaller than the minimum allowed size",
           false);
      return false;
    }
    o.bytes += p->second.bytes;
  }
  o.etag = MultipartETag(parts);
  o.metadata = u.metadata;
  o.last_modified = Now();
  std::string etag = o.etag;
  b.objects[t.key] = std::move(o);
  b.uploads.erase(it);
  Answer(resp, 200);
  resp->body = net::CompleteMultipartUploadResultXml(t.bucket, t.key, etag);
  return true;
}

bool FakeS3Store::Impl::Abort(const Target& t, Bucket& b, HttpResponse* resp) {
  auto it = b.uploads.find(t.Query("uploadId"));
  if (it == b.uploads.end() || it->second.key != t.key) {
    Fail(resp, 404, "NoSuchUpload", "The specified upload does not exist.",
         false);
    return false;
  }
  b.uploads.erase(it);
  Answer(resp, 204);
  return true;
}

namespace {

class FakeTransport final : public net::HttpTransport {
 public:
  FakeTransport(std::shared_ptr<FakeS3Store::Impl> store, uint64_t generation)
      : store_(std::move(store)), generation_(generation) {}
  Status Send(const HttpRequest& req, HttpResponse* resp,
              bool* maybe_applied) override {
    return store_->Handle(req, resp, maybe_applied, generation_);
  }

 private:
  std::shared_ptr<FakeS3Store::Impl> store_;
  const uint64_t generation_;
};

}  // namespace

FakeS3Store::FakeS3Store(const FakeS3Options& options)
    : impl_(std::make_shared<Impl>(options)) {}

FakeS3Store::~FakeS3Store() = default;

void FakeS3Store::CreateBucket(const std::string& bucket) {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  impl_->buckets_[bucket];
}

std::unique_ptr<S3Client> FakeS3Store::NewClient(int max_attempts) {
  S3Credentials creds;
  creds.access_key_id = impl_->options_.access_key_id;
  creds.secret_access_key = impl_->options_.secret_access_key;
  return NewClient(creds, max_attempts);
}

std::unique_ptr<S3Client> FakeS3Store::NewClient(
    const S3Credentials& credentials, int max_attempts) {
  S3Config config;
  config.endpoint = impl_->options_.endpoint;
  config.credentials = credentials;
  config.addressing = S3Addressing::kPath;
  config.max_attempts = max_attempts;
  net::S3ClientHooks hooks;
  hooks.sleep = [](uint64_t) {};
  hooks.now = [] { return std::time_t{1700000000}; };
  hooks.jitter_seed = impl_->options_.seed;
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(impl_->mu_);
    generation = impl_->generation_;
  }
  std::unique_ptr<S3Client> client;
  Status s = net::NewS3ClientOver(
      config, std::make_shared<FakeTransport>(impl_, generation), hooks,
      &client);
  s.PermitUncheckedError();  // the endpoint is ours and well-formed
  return client;
}

void FakeS3Store::SetFaults(const FakeS3Faults& faults) {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  impl_->faults_ = faults;
}

void FakeS3Store::KillClients() {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  ++impl_->generation_;
}

void FakeS3Store::SetUnavailable(bool unavailable) {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  impl_->unavailable_ = unavailable;
}

bool FakeS3Store::ObjectBytes(const std::string& bucket, const std::string& key,
                              std::string* bytes, S3Metadata* metadata) const {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  auto b = impl_->buckets_.find(bucket);
  if (b == impl_->buckets_.end()) return false;
  auto o = b->second.objects.find(key);
  if (o == b->second.objects.end()) return false;
  *bytes = o->second.bytes;
  if (metadata != nullptr) *metadata = o->second.metadata;
  return true;
}

std::vector<std::string> FakeS3Store::Keys(const std::string& bucket) const {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  std::vector<std::string> out;
  auto b = impl_->buckets_.find(bucket);
  if (b == impl_->buckets_.end()) return out;
  for (const auto& [k, o] : b->second.objects) out.push_back(k);
  return out;
}

std::vector<std::pair<std::string, std::string>> FakeS3Store::Uploads(
    const std::string& bucket) const {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  std::vector<std::pair<std::string, std::string>> out;
  auto b = impl_->buckets_.find(bucket);
  if (b == impl_->buckets_.end()) return out;
  for (const auto& [id, u] : b->second.uploads) out.emplace_back(u.key, id);
  return out;
}

FakeS3Counters FakeS3Store::counters() const {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  return impl_->counters_;
}

std::vector<FakeS3PartSeen> FakeS3Store::parts_seen() const {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  return impl_->parts_seen_;
}

std::vector<std::string> FakeS3Store::fault_log() const {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  return impl_->fault_log_;
}

}  // namespace valise
