#include "net/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstring>

namespace valise::net {
namespace {

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Trims the value and turns every run of spaces (and tabs) into one space,
// as the canonical headers require.
std::string TrimAll(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  bool in_space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      in_space = true;
      continue;
    }
    if (in_space && !out.empty()) out.push_back(' ');
    in_space = false;
    out.push_back(c);
  }
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
       &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

}  // namespace

std::string UriEncode(std::string_view s, bool keep_slash) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3 / 2);
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

bool UriDecode(std::string_view s, std::string* out) {
  out->clear();
  out->reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out->push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return false;
    int hi = HexValue(s[i + 1]);
    int lo = HexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

std::string CanonicalQuery(const KeyValues& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(query.size());
  for (const auto& [name, value] : query) {
    encoded.emplace_back(UriEncode(name, false), UriEncode(value, false));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out.push_back('&');
    out += name;
    out.push_back('=');
    out += value;
  }
  return out;
}

std::string AmzDate(std::time_t t) {
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string CanonicalRequest(const SigV4Request& req,
                             std::string* signed_headers) {
  // Headers: lower-case names, sorted (stable, so repeated names keep the
  // order of their values), repeated names joined into one line.
  std::vector<std::pair<std::string, std::string>> headers;
  headers.reserve(req.headers.size());
  for (const auto& [name, value] : req.headers) {
    headers.emplace_back(Lower(name), TrimAll(value));
  }
  std::stable_sort(
      headers.begin(), headers.end(),
      [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string canonical_headers;
  signed_headers->clear();
  for (size_t i = 0; i < headers.size(); ++i) {
    if (i > 0 && headers[i].first == headers[i - 1].first) {
      canonical_headers.pop_back();  // the '\n' of the line being extended
      canonical_headers += ',' + headers[i].second + '\n';
      continue;
    }
    canonical_headers += headers[i].first + ':' + headers[i].second + '\n';
    if (!signed_headers->empty()) signed_headers->push_back(';');
    *signed_headers += headers[i].first;
  }

  std::string out;
  out.reserve(256 + canonical_headers.size());
  out += req.method;
  out += '\n';
  out += UriEncode(req.path, true);
  out += '\n';
  out += CanonicalQuery(req.query);
  out += '\n';
  out += canonical_headers;
  out += '\n';
  out += *signed_headers;
  out += '\n';
  out += req.payload_sha256;
  return out;
}

std::string StringToSign(const SigV4Scope& scope,
                         std::string_view canonical_request) {
  std::string out = "AWS4-HMAC-SHA256\n";
  out += scope.amz_date;
  out += '\n';
  out += scope.amz_date.substr(0, 8);
  out += '/';
  out += scope.region;
  out += '/';
  out += scope.service;
  out += "/aws4_request\n";
  out += Sha256Hex(canonical_request);
  return out;
}

std::string Signature(std::string_view secret_access_key,
                      const SigV4Scope& scope,
                      std::string_view string_to_sign) {
  std::string key = "AWS4";
  key += secret_access_key;
  std::string k_date = HmacSha256(key, scope.amz_date.substr(0, 8));
  std::string k_region = HmacSha256(k_date, scope.region);
  std::string k_service = HmacSha256(k_region, scope.service);
  std::string k_signing = HmacSha256(k_service, "aws4_request");
  // The derived keys are as good as the secret for a day: wipe them.
  std::string sig = HmacSha256(k_signing, string_to_sign);
  for (std::string* k : {&key, &k_date, &k_region, &k_service, &k_signing}) {
    OPENSSL_cleanse(k->data(), k->size());
  }
  return HexEncode(sig.data(), sig.size());
}

std::string Authorization(const SigV4Request& req, const SigV4Scope& scope,
                          std::string_view access_key_id,
                          std::string_view secret_access_key) {
  std::string signed_headers;
  std::string creq = CanonicalRequest(req, &signed_headers);
  std::string sts = StringToSign(scope, creq);
  std::string out = "AWS4-HMAC-SHA256 Credential=";
  out += access_key_id;
  out += '/';
  out += scope.amz_date.substr(0, 8);
  out += '/';
  out += scope.region;
  out += '/';
  out += scope.service;
  out += "/aws4_request, SignedHeaders=";
  out += signed_headers;
  out += ", Signature=";
  out += Signature(secret_access_key, scope, sts);
  return out;
}

std::string Sha256Hex(const void* data, size_t n) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data, n, md, &len, EVP_sha256(), nullptr);
  return HexEncode(md, len);
}

std::string HexEncode(const void* data, size_t n) {
  static const char kHex[] = "0123456789abcdef";
  const auto* p = static_cast<const unsigned char*>(data);
  std::string out(n * 2, '\0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[p[i] >> 4];
    out[2 * i + 1] = kHex[p[i] & 15];
  }
  return out;
}

std::string Base64Encode(const void* data, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            static_cast<const unsigned char*>(data),
                            static_cast<int>(n));
  out.resize(static_cast<size_t>(len));
  return out;
}

bool Base64Decode(std::string_view s, std::string* out) {
  if (s.size() % 4 != 0) return false;
  out->assign(s.size() / 4 * 3 + 1, '\0');
  int len = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out->data()),
                            reinterpret_cast<const unsigned char*>(s.data()),
                            static_cast<int>(s.size()));
  if (len < 0) return false;
  // EVP_DecodeBlock counts the padding's bytes as zeros: drop them.
  size_t pad = 0;
  if (!s.empty() && s.back() == '=') ++pad;
  if (s.size() > 1 && s[s.size() - 2] == '=') ++pad;
  out->resize(static_cast<size_t>(len) - pad);
  return Base64Encode(out->data(), out->size()) == s;
}

}  // namespace valise::net
