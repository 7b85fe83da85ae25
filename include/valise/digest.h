// Digests: the hash algorithms a manifest may name, one streaming Hasher per
// algorithm, and the XXH3-128 chunk digest used for dedup and localisation.
//
// SHA-2, SHA-1 and MD5 go through OpenSSL's EVP interface (the low-level
// SHA256_* calls lose the SHA-NI code path in newer OpenSSL); XXH3-128 comes
// from libxxhash, inlined. Hex forms are lowercase and match the tools that
// print them: sha256sum, md5sum, xxhsum -H2 (high 64 bits first).
//
// Thread safety: a Hasher is used by one thread at a time; the free
// functions are thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace valise {

enum class DigestType : uint8_t {
  kXxh128 = 0,
  kSha256,
  kSha1,
  kMd5,
  kSha512,
};
inline constexpr int kNumDigestTypes = 5;

// "xxh128", "sha256", "sha1", "md5", "sha512": the manifest column names.
std::string_view DigestName(DigestType type);
// Accepts the names above; false for anything else.
bool ParseDigestName(std::string_view name, DigestType* type);
// Size of the digest in bytes (16, 32, 20, 16, 64).
size_t DigestSize(DigestType type);

// A digest value of any type. Compares by type and bytes.
struct Digest {
  DigestType type = DigestType::kXxh128;
  uint8_t size = 0;
  std::array<uint8_t, 64> bytes{};

  std::string Hex() const;
  // Parses `hex` (either case) as a digest of `type`; false if the length or
  // a character is wrong.
  static bool FromHex(DigestType type, std::string_view hex, Digest* out);
  bool operator==(const Digest& o) const;
  bool operator!=(const Digest& o) const { return !(*this == o); }
};

// Streaming hash of one algorithm.
class Hasher {
 public:
  virtual ~Hasher() = default;
  static std::unique_ptr<Hasher> New(DigestType type);
  virtual void Update(const void* data, size_t n) = 0;
  // Returns the digest of everything since construction or Reset().
  virtual Digest Finish() = 0;
  virtual void Reset() = 0;
};

// A set of digest types, as a bit mask over DigestType.
class DigestSet {
 public:
  DigestSet() = default;
  void Add(DigestType t) { bits_ |= 1u << static_cast<int>(t); }
  bool Has(DigestType t) const { return bits_ & (1u << static_cast<int>(t)); }
  bool empty() const { return bits_ == 0; }
  std::vector<DigestType> Types() const;
  bool operator==(const DigestSet& o) const { return bits_ == o.bits_; }

 private:
  uint32_t bits_ = 0;
};

// Several hashers fed the same bytes: one file's digests over its chunks.
class MultiHasher {
 public:
  explicit MultiHasher(DigestSet set);
  void Update(const void* data, size_t n);
  std::vector<Digest> Finish();
  void Reset();

 private:
  std::vector<std::unique_ptr<Hasher>> hashers_;  // in DigestSet order
  std::vector<size_t> order_;                     // of Update: xxh128 last
};

// XXH3-128 of one chunk, as two 64-bit halves (the dedup index key).
struct ChunkDigest {
  uint64_t lo = 0;
  uint64_t hi = 0;
  bool operator==(const ChunkDigest& o) const {
    return lo == o.lo && hi == o.hi;
  }
  bool operator!=(const ChunkDigest& o) const { return !(*this == o); }
  std::string Hex() const;  // 32 hex, high half first (xxhsum's form)
  static bool FromHex(std::string_view hex, ChunkDigest* out);
};
ChunkDigest HashChunk(const void* data, size_t n);

}  // namespace valise
