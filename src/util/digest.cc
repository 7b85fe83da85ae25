#include "valise/digest.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstring>

// XXH3 from libxxhash, through its dispatcher, which picks the widest
// vector unit the CPU has (AVX-512, AVX2, SSE2) at run time. Inlined here
// (XXH_INLINE_ALL, as before), XXH3 was compiled for the baseline x86-64
// (SSE2) and ran at about a third of the speed (7.9 against 22.6 GB/s a
// core on the test machine): a tenth of SHA-256's cost per byte instead
// of a few percent.
#include <xxhash.h>
#if defined(__x86_64__) || defined(__i386__)
#define XXH_DISPATCH_DISABLE_REPLACE
#include <xxh_x86dispatch.h>
#define VALISE_XXH3_128 XXH3_128bits_dispatch
#define VALISE_XXH3_128_UPDATE XXH3_128bits_update_dispatch
#else
#define VALISE_XXH3_128 XXH3_128bits
#define VALISE_XXH3_128_UPDATE XXH3_128bits_update
#endif

namespace valise {

namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

// Each byte's value as a hex digit (either case), or 0xff. By table: a
// manifest of 2,000,000 entries has 4,000,000 digests to read, and the
// three-way test per character took a quarter of its parse.
constexpr std::array<uint8_t, 256> kHexValue = [] {
  std::array<uint8_t, 256> t{};
  for (auto& v : t) v = 0xff;
  for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<uint8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[c] = static_cast<uint8_t>(c - 'a' + 10);
  for (int c = 'A'; c <= 'F'; ++c) t[c] = static_cast<uint8_t>(c - 'A' + 10);
  return t;
}();

std::string ToHex(const uint8_t* p, size_t n) {
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kHexDigits[p[i] >> 4];
    out[2 * i + 1] = kHexDigits[p[i] & 15];
  }
  return out;
}

bool FromHexBytes(std::string_view hex, uint8_t* out, size_t n) {
  if (hex.size() != 2 * n) return false;
  uint8_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t hi = kHexValue[static_cast<uint8_t>(hex[2 * i])];
    const uint8_t lo = kHexValue[static_cast<uint8_t>(hex[2 * i + 1])];
    bad |= hi | lo;
    out[i] = static_cast<uint8_t>(hi << 4 | (lo & 15));
  }
  return (bad & 0xf0) == 0;
}

// The cryptographic digests (OpenSSL's) take a large buffer in slices,
// each slice's successor prefetched into the cache while the slice is
// hashed: a buffer read by O_DIRECT (or copied long before) is in memory,
// not in the cache, and SHA-256's SHA-NI loop, one dependent block after
// another, waited on each line's load (the hardware prefetcher did not
// run far enough ahead). verify --hash-only sha256 of 2 GiB on tmpfs:
// 1.75 user s in one call per 1 MiB buffer, 1.27 so; bare SHA-256
// (openssl speed) 1.10. MultiHasher feeds several digests in the same
// slices (see its Update).
constexpr size_t kHashSlice = 8 << 10;

void PrefetchForRead(const char* p, size_t n) {
  constexpr size_t kLine = 64;
  for (size_t at = 0; at < n; at += kLine) __builtin_prefetch(p + at, 0, 3);
}

class EvpHasher final : public Hasher {
 public:
  EvpHasher(DigestType type, const EVP_MD* md)
      : type_(type), md_(md), ctx_(EVP_MD_CTX_new()) {
    Reset();
  }
  ~EvpHasher() override { EVP_MD_CTX_free(ctx_); }
  void Update(const void* data, size_t n) override {
    const char* p = static_cast<const char*>(data);
    while (n > kHashSlice) {
      PrefetchForRead(p + kHashSlice, std::min(kHashSlice, n - kHashSlice));
      EVP_DigestUpdate(ctx_, p, kHashSlice);
      p += kHashSlice;
      n -= kHashSlice;
    }
    EVP_DigestUpdate(ctx_, p, n);
  }
  Digest Finish() override {
    Digest d;
    d.type = type_;
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, d.bytes.data(), &len);
    d.size = static_cast<uint8_t>(len);
    Reset();
    return d;
  }
  void Reset() override { EVP_DigestInit_ex(ctx_, md_, nullptr); }

 private:
  DigestType type_;
  const EVP_MD* md_;
  EVP_MD_CTX* ctx_;
};

class Xxh128Hasher final : public Hasher {
 public:
  Xxh128Hasher() : state_(XXH3_createState()) { Reset(); }
  ~Xxh128Hasher() override { XXH3_freeState(state_); }
  void Update(const void* data, size_t n) override {
    VALISE_XXH3_128_UPDATE(state_, data, n);
  }
  Digest Finish() override {
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(state_));
    Digest d;
    d.type = DigestType::kXxh128;
    d.size = 16;
    memcpy(d.bytes.data(), c.digest, 16);
    Reset();
    return d;
  }
  void Reset() override { XXH3_128bits_reset(state_); }

 private:
  XXH3_state_t* state_;
};

}  // namespace

std::string_view DigestName(DigestType type) {
  switch (type) {
    case DigestType::kXxh128:
      return "xxh128";
    case DigestType::kSha256:
      return "sha256";
    case DigestType::kSha1:
      return "sha1";
    case DigestType::kMd5:
      return "md5";
    case DigestType::kSha512:
      return "sha512";
  }
  return "?";
}

bool ParseDigestName(std::string_view name, DigestType* type) {
  for (int i = 0; i < kNumDigestTypes; ++i) {
    auto t = static_cast<DigestType>(i);
    if (DigestName(t) == name) {
      *type = t;
      return true;
    }
  }
  return false;
}

size_t DigestSize(DigestType type) {
  switch (type) {
    case DigestType::kXxh128:
    case DigestType::kMd5:
      return 16;
    case DigestType::kSha256:
      return 32;
    case DigestType::kSha1:
      return 20;
    case DigestType::kSha512:
      return 64;
  }
  return 0;
}

std::string Digest::Hex() const { return ToHex(bytes.data(), size); }

bool Digest::FromHex(DigestType type, std::string_view hex, Digest* out) {
  Digest d;
  d.type = type;
  d.size = static_cast<uint8_t>(DigestSize(type));
  if (!FromHexBytes(hex, d.bytes.data(), d.size)) return false;
  *out = d;
  return true;
}

bool Digest::operator==(const Digest& o) const {
  return type == o.type && size == o.size &&
         memcmp(bytes.data(), o.bytes.data(), size) == 0;
}

std::unique_ptr<Hasher> Hasher::New(DigestType type) {
  switch (type) {
    case DigestType::kXxh128:
      return std::make_unique<Xxh128Hasher>();
    case DigestType::kSha256:
      return std::make_unique<EvpHasher>(type, EVP_sha256());
    case DigestType::kSha1:
      return std::make_unique<EvpHasher>(type, EVP_sha1());
    case DigestType::kMd5:
      return std::make_unique<EvpHasher>(type, EVP_md5());
    case DigestType::kSha512:
      return std::make_unique<EvpHasher>(type, EVP_sha512());
  }
  return nullptr;
}

std::vector<DigestType> DigestSet::Types() const {
  std::vector<DigestType> out;
  for (int i = 0; i < kNumDigestTypes; ++i) {
    if (Has(static_cast<DigestType>(i)))
      out.push_back(static_cast<DigestType>(i));
  }
  return out;
}

MultiHasher::MultiHasher(DigestSet set) {
  const std::vector<DigestType> types = set.Types();
  for (DigestType t : types) hashers_.push_back(Hasher::New(t));
  // XXH3 last: see Update.
  for (size_t i = 0; i < types.size(); ++i) {
    if (types[i] != DigestType::kXxh128) order_.push_back(i);
  }
  for (size_t i = 0; i < types.size(); ++i) {
    if (types[i] == DigestType::kXxh128) order_.push_back(i);
  }
}

// Several digests take the bytes 8 KiB at a time, every digest over a
// slice before the next slice, the cryptographic ones first: SHA-256 is
// bound by its computation, so the loads from memory hide behind it, and
// XXH3 then reads the slice from the L1 cache. XXH3 first (it went over
// the whole 1 MiB buffer before SHA-256 did, as the digests are ordered)
// waits on memory itself. bench/hash_bench BM_DefaultDigests, 1 MiB
// buffers fresh from memory: sha256 + xxh128 at 0.93 of sha256 alone one
// after the other over the whole buffer, 0.87 in 32 KiB slices with XXH3
// first, 0.96 in 8 KiB slices (kHashSlice) with SHA-256 first.

void MultiHasher::Update(const void* data, size_t n) {
  if (hashers_.size() == 1) {
    hashers_[0]->Update(data, n);
    return;
  }
  const char* p = static_cast<const char*>(data);
  for (size_t at = 0; at < n; at += kHashSlice) {
    const size_t len = std::min(kHashSlice, n - at);
    for (size_t i : order_) hashers_[i]->Update(p + at, len);
  }
}

std::vector<Digest> MultiHasher::Finish() {
  std::vector<Digest> out;
  out.reserve(hashers_.size());
  for (auto& h : hashers_) out.push_back(h->Finish());
  return out;
}

void MultiHasher::Reset() {
  for (auto& h : hashers_) h->Reset();
}

std::string ChunkDigest::Hex() const {
  uint8_t b[16];
  for (int i = 0; i < 8; ++i) {
    b[i] = static_cast<uint8_t>(hi >> (56 - 8 * i));
    b[8 + i] = static_cast<uint8_t>(lo >> (56 - 8 * i));
  }
  return ToHex(b, 16);
}

bool ChunkDigest::FromHex(std::string_view hex, ChunkDigest* out) {
  uint8_t b[16];
  if (!FromHexBytes(hex, b, 16)) return false;
  ChunkDigest d;
  for (int i = 0; i < 8; ++i) {
    d.hi = d.hi << 8 | b[i];
    d.lo = d.lo << 8 | b[8 + i];
  }
  *out = d;
  return true;
}

ChunkDigest HashChunk(const void* data, size_t n) {
  XXH128_hash_t h = VALISE_XXH3_128(data, n);
  return ChunkDigest{h.low64, h.high64};
}

}  // namespace valise
