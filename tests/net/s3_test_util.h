// Helpers for the S3 tests: payloads with their digests.
#pragma once

#include <openssl/evp.h>

#include <string>
#include <string_view>

#include "valise/s3.h"

namespace valise::test {

inline Digest Md5Of(std::string_view s) {
  Digest d;
  d.type = DigestType::kMd5;
  d.size = 16;
  unsigned int len = 0;
  EVP_Digest(s.data(), s.size(), d.bytes.data(), &len, EVP_md5(), nullptr);
  return d;
}

inline Digest Sha256Of(std::string_view s) {
  Digest d;
  d.type = DigestType::kSha256;
  d.size = 32;
  unsigned int len = 0;
  EVP_Digest(s.data(), s.size(), d.bytes.data(), &len, EVP_sha256(), nullptr);
  return d;
}

// A payload of `s` (one piece; `s` must outlive it) with its digests.
inline S3Payload PayloadOf(const std::string& s) {
  S3Payload p;
  p.pieces = {{s.data(), s.size()}};
  p.md5 = Md5Of(s);
  p.sha256 = Sha256Of(s);
  return p;
}

}  // namespace valise::test
