// Where a request for (bucket, key) goes: the endpoint's parts, path-style
// or virtual-host addressing, and the URL, Host header and signed path
// that follow.
//
//   path-style:    http://127.0.0.1:8000/bucket/key
//   virtual-host:  https://bucket.s3.us-east-1.amazonaws.com/key
//
// kAuto picks virtual-host only for an AWS endpoint (host ending in
// amazonaws.com) and a bucket name DNS allows in a host name (3-63 of a-z
// 0-9 '-', no dots: a dot breaks the wildcard certificate); anything else
// (RGW, MinIO, an IP address, a name with '_' or capitals) is path-style,
// which every S3 store accepts.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "net/sigv4.h"
#include "valise/s3.h"
#include "valise/status.h"

namespace valise::net {

struct S3Endpoint {
  std::string scheme;  // "http" or "https"
  // host[:port] as the Host header carries it (a default port dropped, an
  // IPv6 literal in brackets).
  std::string authority;
  std::string host;  // without the port
};

// "http://127.0.0.1:8000", "https://s3.example.com/" (a trailing '/'
// only). InvalidArgument otherwise (no scheme, a path, user:password@).
Status ParseS3Endpoint(std::string_view url, S3Endpoint* out);

bool IsDnsCompatibleBucket(std::string_view bucket);
bool UseVirtualHost(S3Addressing addressing, const S3Endpoint& endpoint,
                    std::string_view bucket);

struct S3Target {
  std::string url;   // what is sent: scheme://authority/encoded-path?query
  std::string host;  // the Host header (signed)
  std::string path;  // the decoded path (signed, encoded by the signer)
};

// The request target for (bucket, key) with `query`; key "" addresses the
// bucket itself ("/bucket" path-style, "/" virtual-host).
S3Target BuildS3Target(const S3Endpoint& endpoint, bool virtual_host,
                       std::string_view bucket, std::string_view key,
                       const KeyValues& query);

}  // namespace valise::net
