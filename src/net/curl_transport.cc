// HttpTransport over libcurl's easy interface.
//
// Connections. Each concurrent caller borrows an easy handle from a pool
// and gives it back after its request; a handle keeps its connection open
// between requests (curl_easy_reset keeps live connections), so N threads
// sending requests in a loop hold N connections and reuse them, without
// the cross-thread connection sharing that curl's share interface warns
// about. The handles share one DNS cache and one TLS session cache
// (CURLSH with lock callbacks), so a new connection resumes a TLS session.
//
// Bodies. A request body is read by curl from the caller's pieces through
// a read callback (no copy); the seek callback lets curl rewind it when it
// resends on a fresh connection (a reused connection the server had
// closed). A 2xx response's body goes straight into the caller's buffer
// (a ranged GET) or into a string (XML), capped.
//
// Choices, each a curl option below:
//   - CURLOPT_PATH_AS_IS: the path is sent as signed; curl would otherwise
//     squash "/./" and "/../" in keys and break the signature;
//   - "Expect:" removed: no 100-continue round trip per part (a refused
//     body is refused after it is sent, at most a part's worth);
//   - "Content-Type:" removed: curl would label a POST form-encoded, and
//     RGW keeps a request's Content-Type as the object's;
//   - CURLOPT_LOW_SPEED_LIMIT 1 byte/s over stall_timeout_s: a hung
//     connection is abandoned, however long a healthy transfer takes;
//   - CURLOPT_NOSIGNAL: timeouts without SIGALRM, as threads require;
//   - only http and https; redirects are not followed (S3 answers a wrong
//     region with 301 and the body says so).
#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "net/http.h"

namespace valise::net {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// The body reader: walks the pieces in order.
struct BodyReader {
  const std::vector<S3Buffer>* pieces = nullptr;
  size_t index = 0;
  size_t offset = 0;  // within pieces[index]
  uint64_t sent = 0;  // bytes handed to curl, rewinds included

  size_t Read(char* out, size_t max) {
    size_t n = 0;
    while (n < max && index < pieces->size()) {
      const S3Buffer& p = (*pieces)[index];
      size_t take = std::min(max - n, p.size - offset);
      std::memcpy(out + n, static_cast<const char*>(p.data) + offset, take);
      n += take;
      offset += take;
      if (offset == p.size) {
        ++index;
        offset = 0;
      }
    }
    sent += n;
    return n;
  }

  bool Seek(uint64_t pos) {
    index = 0;
    offset = 0;
    while (index < pieces->size() && pos >= (*pieces)[index].size) {
      pos -= (*pieces)[index].size;
      ++index;
    }
    if (index == pieces->size()) return pos == 0;
    offset = static_cast<size_t>(pos);
    return true;
  }
};

// What the callbacks of one transfer write to.
struct Transfer {
  const HttpRequest* request = nullptr;
  HttpResponse* response = nullptr;
  BodyReader reader;
  bool overflow = false;
};

size_t ReadCallback(char* out, size_t size, size_t nitems, void* user) {
  return static_cast<Transfer*>(user)->reader.Read(out, size * nitems);
}

int SeekCallback(void* user, curl_off_t offset, int origin) {
  if (origin != SEEK_SET || offset < 0) return CURL_SEEKFUNC_CANTSEEK;
  auto* t = static_cast<Transfer*>(user);
  return t->reader.Seek(static_cast<uint64_t>(offset)) ? CURL_SEEKFUNC_OK
                                                       : CURL_SEEKFUNC_FAIL;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' ||
                        s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// One header line of a response. A status line starts a new response (a
// "100 Continue" comes before the final one): the headers so far are
// dropped.
size_t HeaderCallback(char* data, size_t size, size_t nitems, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * nitems;
  std::string_view line(data, n);
  if (line.substr(0, 5) == "HTTP/") {
    t->response->headers.clear();
    size_t sp = line.find(' ');
    t->response->status =
        sp == std::string_view::npos ? 0 : std::atoi(line.data() + sp + 1);
    return n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;  // the blank line
  std::string name(Trim(line.substr(0, colon)));
  for (char& c : name) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  t->response->headers.emplace_back(std::move(name),
                                    std::string(Trim(line.substr(colon + 1))));
  return n;
}

size_t WriteCallback(char* data, size_t size, size_t nitems, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * nitems;
  const HttpRequest& req = *t->request;
  HttpResponse& resp = *t->response;
  bool to_sink = req.sink != nullptr && resp.status >= 200 && resp.status < 300;
  if (to_sink) {
    if (resp.sink_bytes + n > req.sink_capacity) {
      t->overflow = true;
      return 0;  // CURLE_WRITE_ERROR
    }
    std::memcpy(static_cast<char*>(req.sink) + resp.sink_bytes, data, n);
    resp.sink_bytes += n;
    return n;
  }
  if (resp.body.size() + n > req.max_body) {
    t->overflow = true;
    return 0;
  }
  resp.body.append(data, n);
  return n;
}

class CurlTransport final : public HttpTransport {
 public:
  explicit CurlTransport(const HttpOptions& options) : options_(options) {
    GlobalInit();
    share_ = curl_share_init();
    curl_share_setopt(share_, CURLSHOPT_LOCKFUNC, &CurlTransport::Lock);
    curl_share_setopt(share_, CURLSHOPT_UNLOCKFUNC, &CurlTransport::Unlock);
    curl_share_setopt(share_, CURLSHOPT_USERDATA, this);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  }

  ~CurlTransport() override {
    for (CURL* h : free_) curl_easy_cleanup(h);
    curl_share_cleanup(share_);
  }

  Status Send(const HttpRequest& request, HttpResponse* response,
              bool* maybe_applied) override {
    CURL* h = Borrow();
    Status s = Perform(h, request, response, maybe_applied);
    GiveBack(h);
    return s;
  }

 private:
  static void Lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
    static_cast<CurlTransport*>(user)->MutexFor(data).lock();
  }
  static void Unlock(CURL*, curl_lock_data data, void* user) {
    static_cast<CurlTransport*>(user)->MutexFor(data).unlock();
  }
  std::mutex& MutexFor(curl_lock_data data) {
    switch (data) {
      case CURL_LOCK_DATA_DNS:
        return dns_mu_;
      case CURL_LOCK_DATA_SSL_SESSION:
        return ssl_mu_;
      default:
        return share_mu_;
    }
  }

  CURL* Borrow() {
    {
      std::lock_guard<std::mutex> lock(pool_mu_);
      if (!free_.empty()) {
        CURL* h = free_.back();
        free_.pop_back();
        return h;
      }
    }
    return curl_easy_init();
  }

  void GiveBack(CURL* h) {
    std::lock_guard<std::mutex> lock(pool_mu_);
    free_.push_back(h);
  }

  Status Perform(CURL* h, const HttpRequest& req, HttpResponse* resp,
                 bool* maybe_applied);

  HttpOptions options_;
  CURLSH* share_ = nullptr;
  std::mutex dns_mu_, ssl_mu_, share_mu_;
  std::mutex pool_mu_;
  std::vector<CURL*> free_;
};

// Maps a failed transfer to a Status: whether to retry, and whether the
// server may have seen the request.
Status TransferError(CURLcode rc, const char* errbuf, const Transfer& t,
                     const std::string& what) {
  std::string detail = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
  if (t.overflow) {
    return Status::Corruption(what, "the response is longer than asked for");
  }
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
      return Status::IOError(what, detail).WithRetryable(true);
    case CURLE_OPERATION_TIMEDOUT:
      return Status::TimedOut(what, detail).WithRetryable(true);
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
      return Status::IOError(what, detail).WithRetryable(true);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
      return Status::IOError(what, "TLS: " + detail);
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return Status::InvalidArgument(what, detail);
    default:
      return Status::IOError(what, detail);
  }
}

Status CurlTransport::Perform(CURL* h, const HttpRequest& req,
                              HttpResponse* resp, bool* maybe_applied) {
  *resp = HttpResponse();
  *maybe_applied = false;
  curl_easy_reset(h);
  Transfer t;
  t.request = &req;
  t.response = resp;
  t.reader.pieces = &req.body;
  char errbuf[CURL_ERROR_SIZE];
  errbuf[0] = '\0';

  curl_slist* headers = nullptr;
  for (const auto& [name, value] : req.headers) {
    headers = curl_slist_append(headers, (name + ": " + value).c_str());
  }
  headers = curl_slist_append(headers, "Expect:");
  headers = curl_slist_append(headers, "Content-Type:");

  curl_easy_setopt(h, CURLOPT_SHARE, share_);
  curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, options_.connect_timeout_ms);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, options_.stall_timeout_s);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "valise/" VALISE_VERSION);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  if (!options_.ca_bundle.empty()) {
    curl_easy_setopt(h, CURLOPT_CAINFO, options_.ca_bundle.c_str());
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &HeaderCallback);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &WriteCallback);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(h, CURLOPT_READFUNCTION, &ReadCallback);
  curl_easy_setopt(h, CURLOPT_READDATA, &t);
  curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, &SeekCallback);
  curl_easy_setopt(h, CURLOPT_SEEKDATA, &t);

  const auto size = static_cast<curl_off_t>(req.body_size());
  if (req.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (req.method == "PUT") {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, size);
  } else if (req.method == "POST") {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, size);
  } else if (req.method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }

  CURLcode rc = curl_easy_perform(h);
  curl_slist_free_all(headers);
  resp->bytes_sent = t.reader.sent;
  long request_size = 0;
  curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &request_size);
  if (rc == CURLE_OK) {
    *maybe_applied = true;
    return Status::OK();
  }
  // A request whose header never left (no connection) cannot have been
  // applied; one that did may have been, whatever came back.
  *maybe_applied = request_size > 0;
  return TransferError(rc, errbuf, t, req.method + " " + req.url);
}

}  // namespace

uint64_t HttpRequest::body_size() const {
  uint64_t n = 0;
  for (const S3Buffer& b : body) n += b.size;
  return n;
}

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return std::string();
}

bool HttpResponse::HasHeader(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return true;
  }
  return false;
}

std::unique_ptr<HttpTransport> NewCurlTransport(const HttpOptions& options) {
  return std::make_unique<CurlTransport>(options);
}

}  // namespace valise::net
