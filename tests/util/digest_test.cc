#include "valise/digest.h"

#include <cctype>

#include "support/test_util.h"

namespace valise {
namespace {

std::string HexOf(DigestType t, std::string_view data) {
  auto h = Hasher::New(t);
  h->Update(data.data(), data.size());
  return h->Finish().Hex();
}

// Goal: several digests fed together (in cache-sized slices) give each
// digest of the whole input, for inputs around the slice size and pieces
// of any length.
TEST(Digest, MultiHasherSlicesGiveEachDigest) {
  DigestSet set;
  set.Add(DigestType::kSha256);
  set.Add(DigestType::kXxh128);
  set.Add(DigestType::kMd5);
  const std::string data = test::RandomBytes((1 << 20) + 12345, 3);
  for (size_t n : {size_t{0}, size_t{1}, size_t{32767}, size_t{32768},
                   size_t{32769}, size_t{100000}, data.size()}) {
    for (size_t piece : {size_t{1000}, size_t{1} << 20}) {
      MultiHasher m(set);
      for (size_t at = 0; at < n; at += piece) {
        m.Update(data.data() + at, std::min(piece, n - at));
      }
      std::vector<Digest> got = m.Finish();
      std::vector<DigestType> types = set.Types();
      ASSERT_EQ(got.size(), types.size());
      for (size_t k = 0; k < types.size(); ++k) {
        EXPECT_EQ(got[k].Hex(),
                  HexOf(types[k], std::string_view(data).substr(0, n)))
            << n << " " << piece << " " << DigestName(types[k]);
      }
    }
  }
}

// Goal: each algorithm matches the reference tools' output for "abc".
TEST(Digest, KnownVectors) {
  EXPECT_EQ(HexOf(DigestType::kSha256, "abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexOf(DigestType::kMd5, "abc"), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(HexOf(DigestType::kSha1, "abc"),
            "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(HexOf(DigestType::kSha512, "abc").substr(0, 16),
            "ddaf35a193617aba");
  // xxhsum -H2 of an empty input.
  EXPECT_EQ(HexOf(DigestType::kXxh128, ""), "99aa06d3014798d86001c324468d497f");
}

// Goal: the cryptographic digests take a large buffer in prefetched
// slices (digest.cc) and still give the reference value: FIPS 180-2's
// SHA-256 of a million "a" in one call, and any buffer around the slice
// size (8 KiB) in one call equal to the same bytes fed 1 byte then 1,000
// at a time.
TEST(Digest, LargeBuffersInSlicesGiveTheReference) {
  const std::string million(1000000, 'a');
  EXPECT_EQ(HexOf(DigestType::kSha256, million),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  const std::string data = test::RandomBytes(3 * 8192 + 5, 11);
  for (DigestType t : {DigestType::kSha256, DigestType::kSha512,
                       DigestType::kSha1, DigestType::kMd5}) {
    for (size_t n : {size_t{8191}, size_t{8192}, size_t{8193}, size_t{16384},
                     size_t{16385}, data.size()}) {
      auto h = Hasher::New(t);
      h->Update(data.data(), 1);
      for (size_t at = 1; at < n; at += 1000) {
        h->Update(data.data() + at, std::min<size_t>(1000, n - at));
      }
      EXPECT_EQ(h->Finish().Hex(),
                HexOf(t, std::string_view(data).substr(0, n)))
          << DigestName(t) << " " << n;
    }
  }
}

// Goal: streaming in pieces equals hashing at once; Finish resets.
TEST(Digest, StreamingAndReset) {
  std::string data = test::RandomBytes(100000, 7);
  for (int i = 0; i < kNumDigestTypes; ++i) {
    auto t = static_cast<DigestType>(i);
    auto h = Hasher::New(t);
    h->Update(data.data(), 1000);
    h->Update(data.data() + 1000, data.size() - 1000);
    Digest a = h->Finish();
    h->Update(data.data(), data.size());
    Digest b = h->Finish();
    EXPECT_EQ(a, b) << DigestName(t);
    EXPECT_EQ(a.size, DigestSize(t));
    Digest parsed;
    ASSERT_TRUE(Digest::FromHex(t, a.Hex(), &parsed));
    EXPECT_EQ(parsed, a);
  }
}

TEST(Digest, NamesAndHexErrors) {
  DigestType t;
  EXPECT_TRUE(ParseDigestName("sha512", &t));
  EXPECT_EQ(t, DigestType::kSha512);
  EXPECT_FALSE(ParseDigestName("crc32", &t));
  Digest d;
  EXPECT_FALSE(Digest::FromHex(DigestType::kMd5, "abc", &d));
  EXPECT_FALSE(Digest::FromHex(DigestType::kMd5, std::string(32, 'g'), &d));
  // Every byte that is not a hex digit is refused, in either place of a
  // pair, among valid ones; both cases are read.
  const std::string good = "0123456789abcdefABCDEF0123456789";
  ASSERT_TRUE(Digest::FromHex(DigestType::kMd5, good, &d));
  EXPECT_EQ(d.Hex(), "0123456789abcdefabcdef0123456789");
  for (int c = 0; c < 256; ++c) {
    if (std::isxdigit(c)) continue;
    for (size_t at : {size_t{0}, size_t{1}, size_t{31}}) {
      std::string bad = good;
      bad[at] = static_cast<char>(c);
      EXPECT_FALSE(Digest::FromHex(DigestType::kMd5, bad, &d))
          << c << "@" << at;
    }
  }
}

// Goal: the chunk digest's hex equals the file-level xxh128 of the same bytes.
TEST(Digest, ChunkDigestMatchesXxh128) {
  std::string data = test::RandomBytes(4096, 3);
  ChunkDigest c = HashChunk(data.data(), data.size());
  EXPECT_EQ(c.Hex(), HexOf(DigestType::kXxh128, data));
  ChunkDigest back;
  ASSERT_TRUE(ChunkDigest::FromHex(c.Hex(), &back));
  EXPECT_EQ(back, c);
}

}  // namespace
}  // namespace valise
