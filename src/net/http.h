// HTTP for the S3 client: one request in, one response (or a transport
// error) out. HttpTransport is the seam: the real one is libcurl
// (NewCurlTransport), the tests' fake store (fake_s3.cc) answers in
// memory and breaks on purpose, and the S3 client above cannot tell.
//
// Contract of Send(): a Status that is not OK means no complete response
// arrived (could not connect, connection reset, timeout, TLS failure);
// retryable() says whether trying again may help, and
// `maybe_applied` whether the server may have acted on the request (false
// only when the connection was never made). An OK Status means a whole
// response arrived, whatever its HTTP status.
//
// Thread safety: Send may be called from many threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "valise/s3.h"
#include "valise/status.h"

namespace valise::net {

struct HttpRequest {
  std::string method;  // GET, HEAD, PUT, POST, DELETE
  // scheme://host[:port]/path?query, path and query already encoded; sent
  // as is (no dot-segment squashing).
  std::string url;
  // Headers to send, Host included (it was signed). Content-Length is set
  // from the body.
  std::vector<std::pair<std::string, std::string>> headers;
  // The body, sent from these pieces without a copy (may be empty).
  std::vector<S3Buffer> body;
  // Where a 2xx response's body goes: `sink` of `sink_capacity` bytes
  // (a GET into the caller's buffer), or HttpResponse::body when null. A
  // body longer than the capacity is an error.
  void* sink = nullptr;
  size_t sink_capacity = 0;
  // Bodies not going to a sink are capped (XML answers and errors).
  size_t max_body = 64 << 20;

  uint64_t body_size() const;
};

struct HttpResponse {
  int status = 0;
  // Names lower-cased, in arrival order (of the final response, not of a
  // "100 Continue").
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;         // when the request had no sink (or not 2xx)
  uint64_t sink_bytes = 0;  // bytes written into the sink
  uint64_t bytes_sent = 0;  // request body bytes sent

  // The first header of that (lower-case) name, or "".
  std::string Header(std::string_view name) const;
  bool HasHeader(std::string_view name) const;
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // See the contract atop this file. `*maybe_applied` is set on every
  // return.
  virtual Status Send(const HttpRequest& request, HttpResponse* response,
                      bool* maybe_applied) = 0;
};

struct HttpOptions {
  std::string ca_bundle;  // empty: the system's
  long connect_timeout_ms = 10000;
  long stall_timeout_s = 120;
};

// libcurl: a pool of easy handles (one per concurrent caller, each keeping
// its connection alive between requests) sharing DNS and TLS sessions.
std::unique_ptr<HttpTransport> NewCurlTransport(const HttpOptions& options);

}  // namespace valise::net
