// AWS Signature Version 4, as S3 wants it, over OpenSSL.
//
// A request is signed by hashing a canonical form of it (method, path,
// query, chosen headers, the payload's SHA-256) and HMAC-ing that with a
// key derived from the secret, the date, the region and the service. The
// steps and their names follow the AWS documentation ("Create a canonical
// request", "Create a string to sign", "Calculate the signature"); each is
// a function here so the tests can hold it against the published vectors
// (tests/net/sigv4_suite/) and the S3 examples.
//
// S3's rules, which differ from the other services':
//   - the path is URI-encoded once (keys are not double-encoded) and never
//     normalised: "a//b/./c" is signed as written, so the same string must
//     go on the wire (the HTTP layer sets CURLOPT_PATH_AS_IS);
//   - x-amz-content-sha256 is a signed header holding the payload's
//     SHA-256 in hex; the store recomputes it from the bytes it receives
//     and refuses the request when they differ. The caller gives it (we
//     never hash a payload here: the pipeline hashed the verified bytes).
//
// Thread safety: every function is pure and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace valise::net {

using KeyValues = std::vector<std::pair<std::string, std::string>>;

// SHA-256 of "" in hex: the payload hash of a request without a body.
inline constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// Percent-encodes every byte but the unreserved A-Z a-z 0-9 - . _ ~ as
// %XX (upper-case hex); '/' is kept when `keep_slash` (paths), encoded
// otherwise (query names and values).
std::string UriEncode(std::string_view s, bool keep_slash);
// Decodes %XX escapes (and nothing else: '+' stays '+'). False on a
// malformed escape.
bool UriDecode(std::string_view s, std::string* out);

// The canonical query string: names and values (decoded) encoded, pairs
// sorted by encoded name then value, "name=value" joined by '&' (a name
// without value becomes "name="). The S3 client sends exactly this string
// on the wire too.
std::string CanonicalQuery(const KeyValues& query);

// What is signed.
struct SigV4Request {
  std::string_view method;  // "GET", "PUT", ...
  // The decoded path, starting with '/'; encoded here with
  // UriEncode(path, true).
  std::string_view path;
  KeyValues query;  // decoded names and values, any order
  // Headers to sign, as sent: any case, values untrimmed, a name may
  // repeat (values are joined by ',' in order). Must include host and
  // x-amz-date, and for S3 x-amz-content-sha256 (and x-amz-security-token
  // with temporary credentials).
  KeyValues headers;
  // Hex SHA-256 of the payload, or "UNSIGNED-PAYLOAD".
  std::string_view payload_sha256;
};

// The credential scope and time of a signature.
struct SigV4Scope {
  std::string_view amz_date;  // "20150830T123600Z" (the x-amz-date value)
  std::string_view region;    // "us-east-1"
  std::string_view service;   // "s3"
};

// "20150830T123600Z" for `t` (UTC).
std::string AmzDate(std::time_t t);

// Step 1. Also returns the signed header list ("host;x-amz-date").
std::string CanonicalRequest(const SigV4Request& req,
                             std::string* signed_headers);
// Step 2.
std::string StringToSign(const SigV4Scope& scope,
                         std::string_view canonical_request);
// Step 3: the signature in hex.
std::string Signature(std::string_view secret_access_key,
                      const SigV4Scope& scope, std::string_view string_to_sign);
// All three, and the Authorization header's value:
// "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/
// aws4_request, SignedHeaders=host;x-amz-date, Signature=...".
std::string Authorization(const SigV4Request& req, const SigV4Scope& scope,
                          std::string_view access_key_id,
                          std::string_view secret_access_key);

// Helpers over OpenSSL.
std::string Sha256Hex(const void* data, size_t n);
inline std::string Sha256Hex(std::string_view s) {
  return Sha256Hex(s.data(), s.size());
}
std::string HexEncode(const void* data, size_t n);
std::string Base64Encode(const void* data, size_t n);
// False when `s` is not canonical base64.
bool Base64Decode(std::string_view s, std::string* out);

}  // namespace valise::net
