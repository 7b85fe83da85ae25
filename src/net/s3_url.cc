#include "net/s3_url.h"

#include <charconv>
#include <cstdio>
#include <ctime>

namespace valise {
namespace {

bool IsBucketChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

}  // namespace

int64_t ParseS3Time(const std::string& s) {
  struct tm tm = {};
  int ms = 0;
  if (sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon,
             &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) < 6) {
    return 0;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return int64_t{timegm(&tm)} * 1000000000 + int64_t{ms} * 1000000;
}

std::string S3Url::Key(std::string_view rel) const {
  if (prefix.empty()) return std::string(rel);
  return prefix + "/" + std::string(rel);
}

std::string S3Url::ToString() const {
  return prefix.empty() ? "s3://" + bucket : "s3://" + bucket + "/" + prefix;
}

bool IsS3Url(std::string_view s) { return s.substr(0, 5) == "s3://"; }

Status ParseS3Url(std::string_view s, S3Url* out) {
  const std::string what = "S3 URL " + std::string(s);
  if (!IsS3Url(s)) {
    return Status::InvalidArgument(what, "does not start with s3://");
  }
  std::string_view rest = s.substr(5);
  size_t slash = rest.find('/');
  std::string_view bucket = rest.substr(0, slash);
  if (bucket.empty() || bucket.size() > 255) {
    return Status::InvalidArgument(what, "no bucket name");
  }
  for (char c : bucket) {
    if (!IsBucketChar(c)) {
      return Status::InvalidArgument(
          what, "a bucket name holds only letters, digits, '.', '-', '_'");
    }
  }
  std::string_view prefix = slash == std::string_view::npos
                                ? std::string_view()
                                : rest.substr(slash + 1);
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  // Every segment of the prefix must be a plain name: keys are compared
  // and listed as strings, so "a//b" or "a/./b" would be a second name for
  // the same place on a file system but not in the store.
  size_t start = 0;
  while (!prefix.empty() && start <= prefix.size()) {
    size_t end = prefix.find('/', start);
    if (end == std::string_view::npos) end = prefix.size();
    std::string_view seg = prefix.substr(start, end - start);
    if (seg.empty() || seg == "." || seg == "..") {
      return Status::InvalidArgument(
          what, "the prefix has an empty, '.' or '..' segment");
    }
    start = end + 1;
  }
  out->bucket.assign(bucket);
  out->prefix.assign(prefix);
  return Status::OK();
}

namespace net {

Status ParseS3Endpoint(std::string_view url, S3Endpoint* out) {
  const std::string what = "S3 endpoint " + std::string(url);
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) {
    return Status::InvalidArgument(what,
                                   "expected http://HOST[:PORT] or "
                                   "https://HOST[:PORT]");
  }
  std::string scheme(url.substr(0, sep));
  for (char& c : scheme) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  if (scheme != "http" && scheme != "https") {
    return Status::InvalidArgument(what, "the scheme must be http or https");
  }
  std::string_view rest = url.substr(sep + 3);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/?#") != std::string_view::npos) {
    return Status::InvalidArgument(what, "an endpoint has no path");
  }
  if (rest.find('@') != std::string_view::npos) {
    return Status::InvalidArgument(what,
                                   "credentials do not go in the endpoint URL");
  }
  std::string_view host = rest;
  std::string_view port;
  bool has_port = false;
  if (!rest.empty() && rest.front() == '[') {  // [IPv6]:port
    size_t close = rest.find(']');
    if (close == std::string_view::npos) {
      return Status::InvalidArgument(what, "unterminated [IPv6 address]");
    }
    host = rest.substr(0, close + 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') {
        return Status::InvalidArgument(what, "junk after the address");
      }
      has_port = true;
      port = rest.substr(close + 2);
    }
  } else if (size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    has_port = true;
    port = rest.substr(colon + 1);
  }
  if (host.empty()) return Status::InvalidArgument(what, "no host");
  if (has_port) {
    unsigned value = 0;
    auto [p, ec] =
        std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || p != port.data() + port.size() ||
        value == 0 || value > 65535) {
      return Status::InvalidArgument(what, "bad port");
    }
  }
  bool default_port = port.empty() || (scheme == "http" && port == "80") ||
                      (scheme == "https" && port == "443");
  out->scheme = scheme;
  out->host.assign(host);
  out->authority = default_port ? std::string(host)
                                : std::string(host) + ":" + std::string(port);
  return Status::OK();
}

bool IsDnsCompatibleBucket(std::string_view bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  for (char c : bucket) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return false;
    }
  }
  return bucket.front() != '-' && bucket.back() != '-';
}

bool UseVirtualHost(S3Addressing addressing, const S3Endpoint& endpoint,
                    std::string_view bucket) {
  switch (addressing) {
    case S3Addressing::kPath:
      return false;
    case S3Addressing::kVirtual:
      return true;
    case S3Addressing::kAuto:
      break;
  }
  std::string_view host = endpoint.host;
  constexpr std::string_view kAws = "amazonaws.com";
  bool aws = host.size() >= kAws.size() &&
             host.substr(host.size() - kAws.size()) == kAws;
  return aws && IsDnsCompatibleBucket(bucket);
}

S3Target BuildS3Target(const S3Endpoint& endpoint, bool virtual_host,
                       std::string_view bucket, std::string_view key,
                       const KeyValues& query) {
  S3Target t;
  if (virtual_host) {
    t.host = std::string(bucket) + "." + endpoint.authority;
    t.path = "/" + std::string(key);
  } else {
    t.host = endpoint.authority;
    t.path = "/" + std::string(bucket);
    if (!key.empty()) t.path += "/" + std::string(key);
  }
  t.url = endpoint.scheme + "://" + t.host + UriEncode(t.path, true);
  std::string q = CanonicalQuery(query);
  if (!q.empty()) t.url += "?" + q;
  return t;
}

}  // namespace net
}  // namespace valise
