// Chunk index v2 (valise/chunk_index_v2.h): the header byte by byte, the
// round trip through the writer and the reader, and every way a file can
// fail to be the index of a manifest (cut short, extended, another
// version, another manifest's).
#include "valise/chunk_index_v2.h"

#include <gtest/gtest.h>

#include <cstring>

#include "support/test_util.h"
#include "valise/file_system.h"
#include "valise/manifest.h"

namespace valise {
namespace {

constexpr uint64_t kCs = 4096;

ChunkSha256 Fake(uint64_t seed) {
  ChunkSha256 d;
  std::string b = test::RandomBytes(32, seed);
  memcpy(d.data(), b.data(), 32);
  return d;
}

Manifest WithSizes(const std::vector<uint64_t>& sizes) {
  DigestSet set;
  set.Add(DigestType::kXxh128);
  Manifest m(set);
  Digest d;
  d.type = DigestType::kXxh128;
  d.size = 16;
  for (size_t i = 0; i < sizes.size(); ++i) {
    char name[32];
    snprintf(name, sizeof(name), "f%05zu", i);
    m.Add(name, sizes[i], 0, {d});
  }
  EXPECT_TRUE(m.Finish().ok());
  return m;
}

// Sizes 0, 1, one chunk, one chunk and a byte, three chunks.
const std::vector<uint64_t> kSizes = {0, 1, kCs, kCs + 1, 3 * kCs};

std::vector<std::vector<ChunkSha256>> FakeDigests(
    const std::vector<uint64_t>& sizes, uint64_t cs) {
  std::vector<std::vector<ChunkSha256>> out(sizes.size());
  uint64_t seed = 100;
  for (size_t e = 0; e < sizes.size(); ++e) {
    for (uint64_t k = 0; k < ChunksOf(sizes[e], cs); ++k) {
      out[e].push_back(Fake(seed++));
    }
  }
  return out;
}

// A File in memory, for the writer.
class MemFile final : public File {
 public:
  explicit MemFile(std::string path) : path_(std::move(path)) {}
  const std::string& path() const override { return path_; }
  Status ReadAt(uint64_t offset, size_t n, char* scratch,
                size_t* bytes_read) const override {
    *bytes_read =
        offset < data.size() ? std::min<size_t>(n, data.size() - offset) : 0;
    memcpy(scratch, data.data() + offset, *bytes_read);
    return Status::OK();
  }
  Status WriteAt(uint64_t offset, const char* p, size_t n) override {
    if (data.size() < offset + n) data.resize(offset + n);
    memcpy(&data[offset], p, n);
    return Status::OK();
  }
  Status Size(uint64_t* size) const override {
    *size = data.size();
    return Status::OK();
  }
  Status Sync() override {
    ++syncs;
    return Status::OK();
  }
  Status Truncate(uint64_t size) override {
    data.resize(size);
    return Status::OK();
  }
  Status SetModeAndTime(uint32_t, int64_t) override { return Status::OK(); }
  Status PhysicalOffset(uint64_t*) const override {
    return Status::NotSupported("mem");
  }
  Status CloneFrom(const File&, uint64_t, uint64_t, uint64_t) override {
    return Status::NotSupported("mem");
  }

  std::string data;
  int syncs = 0;

 private:
  std::string path_;
};

Status OpenIndex(const std::string& bytes, const Manifest& m,
                 std::unique_ptr<ChunkIndexV2>* out) {
  return ChunkIndexV2::Open(std::make_unique<MemorySource>("M.chunks", bytes),
                            m, out);
}

// Goal: the header is exactly the documented 64 bytes (docs/formats.md).
TEST(ChunkIndexV2, HeaderBytesAreExact) {
  ChunkIndexV2Header h;
  h.chunk_size = 0x100000;
  h.files = 2;
  h.bytes = 0x0102030405060708;
  h.chunks = 0x1234;
  std::string want("valise-chunks 2\n", 16);
  want += std::string("\x01\x00\x00\x00", 4);  // SHA-256
  want += std::string("\x20\x00\x00\x00", 4);  // 32 bytes a digest
  want += std::string("\x00\x00\x10\x00\x00\x00\x00\x00", 8);
  want += std::string("\x02\x00\x00\x00\x00\x00\x00\x00", 8);
  want += std::string("\x08\x07\x06\x05\x04\x03\x02\x01", 8);
  want += std::string("\x34\x12\x00\x00\x00\x00\x00\x00", 8);
  want += std::string(8, '\0');
  ASSERT_EQ(want.size(), kChunkIndexV2HeaderSize);
  EXPECT_EQ(EncodeChunkIndexV2Header(h), want);
  ChunkIndexV2Header back;
  ASSERT_VALISE_OK(DecodeChunkIndexV2Header(want, "C", &back));
  EXPECT_EQ(back.chunk_size, h.chunk_size);
  EXPECT_EQ(back.files, h.files);
  EXPECT_EQ(back.bytes, h.bytes);
  EXPECT_EQ(back.chunks, h.chunks);
}

// Goal: every file's digests come back from where the sizes put them,
// whole or in part, and an empty file has none.
TEST(ChunkIndexV2, RoundTrip) {
  Manifest m = WithSizes(kSizes);
  auto digests = FakeDigests(kSizes, kCs);
  const std::string bytes = EncodeChunkIndexV2(kCs, kSizes, digests);
  EXPECT_EQ(bytes.size(), 64u + 32u * (0 + 1 + 1 + 2 + 3));
  std::unique_ptr<ChunkIndexV2> index;
  ASSERT_VALISE_OK(OpenIndex(bytes, m, &index));
  EXPECT_EQ(index->chunk_size(), kCs);
  EXPECT_EQ(index->header().chunks, 7u);
  const uint64_t first[] = {0, 0, 1, 2, 4};
  for (size_t e = 0; e < kSizes.size(); ++e) {
    EXPECT_EQ(index->FirstChunk(e), first[e]) << e;
    ASSERT_EQ(index->NumChunks(e), digests[e].size());
    std::vector<ChunkSha256> got(digests[e].size());
    ASSERT_VALISE_OK(index->Read(e, 0, got.size(), got.data()));
    EXPECT_EQ(got, digests[e]) << e;
  }
  ChunkSha256 one;
  ASSERT_VALISE_OK(index->Read(4, 2, 1, &one));
  EXPECT_EQ(one, digests[4][2]);
  // Past a file's chunks, or an entry that is not there.
  EXPECT_TRUE(index->Read(4, 2, 2, &one).IsInvalidArgument());
  EXPECT_TRUE(index->Read(0, 0, 1, &one).IsInvalidArgument());
  EXPECT_TRUE(index->Read(5, 0, 1, &one).IsInvalidArgument());
  EXPECT_VALISE_OK(index->Read(0, 0, 0, &one));
}

// Goal: the prefix sum is sampled every 64 entries and the rest added up:
// FirstChunk agrees with the plain sum for every entry of a larger
// manifest.
TEST(ChunkIndexV2, FirstChunkOverManyEntries) {
  std::vector<uint64_t> sizes;
  for (uint64_t i = 0; i < 300; ++i) sizes.push_back((i * 7919) % (5 * kCs));
  Manifest m = WithSizes(sizes);
  const std::string bytes =
      EncodeChunkIndexV2(kCs, sizes, FakeDigests(sizes, kCs));
  std::unique_ptr<ChunkIndexV2> index;
  ASSERT_VALISE_OK(OpenIndex(bytes, m, &index));
  uint64_t sum = 0;
  for (size_t e = 0; e < sizes.size(); ++e) {
    ASSERT_EQ(index->FirstChunk(e), sum) << e;
    sum += ChunksOf(sizes[e], kCs);
  }
}

// Goal: an index cut at any length, or one byte longer, is refused.
TEST(ChunkIndexV2, TruncatedOrExtendedIsRefused) {
  Manifest m = WithSizes(kSizes);
  const std::string bytes =
      EncodeChunkIndexV2(kCs, kSizes, FakeDigests(kSizes, kCs));
  for (size_t len = 0; len < bytes.size(); ++len) {
    std::unique_ptr<ChunkIndexV2> index;
    Status s = OpenIndex(bytes.substr(0, len), m, &index);
    EXPECT_TRUE(s.IsCorruption()) << len << ": " << s.ToString();
  }
  std::unique_ptr<ChunkIndexV2> index;
  Status s = OpenIndex(bytes + "x", m, &index);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("M.chunks"), std::string::npos);
}

// Goal: another manifest's index (other files, other sizes, another chunk
// size) is refused naming it, as is a manifest without sizes.
TEST(ChunkIndexV2, AnotherManifestsIndexIsRefused) {
  const std::string bytes =
      EncodeChunkIndexV2(kCs, kSizes, FakeDigests(kSizes, kCs));
  std::unique_ptr<ChunkIndexV2> index;
  // One file fewer.
  Status s = OpenIndex(
      bytes, WithSizes(std::vector<uint64_t>(kSizes.begin(), kSizes.end() - 1)),
      &index);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("another manifest"), std::string::npos);
  // Same count, another size.
  std::vector<uint64_t> other = kSizes;
  other[1] = 2;
  s = OpenIndex(bytes, WithSizes(other), &index);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  // Same files and bytes, digests laid out for another chunk size.
  std::vector<uint64_t> sizes = {3 * kCs};
  std::string wrong =
      EncodeChunkIndexV2(2 * kCs, sizes, FakeDigests(sizes, kCs));
  s = OpenIndex(wrong, WithSizes(sizes), &index);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  // No sizes: nowhere to find a file's digests.
  Manifest no_sizes = WithSizes({});
  no_sizes.set_has_sizes(false);
  s = OpenIndex(EncodeChunkIndexV2(kCs, {}, {}), no_sizes, &index);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
}

// Goal: a bad magic, another version, another digest algorithm, a chunk
// size out of bounds, a non-zero reserved field and an impossible chunk
// count are each refused with a reason.
TEST(ChunkIndexV2, HeaderRejections) {
  const std::string good = EncodeChunkIndexV2Header(ChunkIndexV2Header{
      .chunk_size = kCs, .files = 0, .bytes = 0, .chunks = 0});
  auto with = [&](size_t at, std::string_view bytes) {
    std::string h = good;
    h.replace(at, bytes.size(), bytes);
    return h;
  };
  struct Case {
    std::string bytes;
    std::string want;
    bool not_supported;
  } cases[] = {
      {with(0, "VALISE"), "not a chunk index v2", false},
      {with(14, "3"), "version '3'", true},
      {"valise-chunks 1\n# chunk-size 4096\n# end files=0\n" +
           std::string(30, ' '),
       "version '1'", true},
      {with(16, std::string("\x02", 1)), "algorithm 2", true},
      {with(20, std::string("\x40", 1)), "algorithm 1 of 64", true},
      {with(24, std::string("\x00\x02\x00\x00", 4)), "chunk size 512", false},
      {with(24, std::string("\x00\x00\x00\x08", 4)), "chunk size 134217728",
       false},
      {with(24, std::string("\x01\x10\x00\x00", 4)), "chunk size 4097", false},
      {with(60, "x"), "reserved", false},
      {with(48, std::string(8, '\xff')), "cannot fit", false},
  };
  for (const Case& c : cases) {
    ChunkIndexV2Header h;
    Status s = DecodeChunkIndexV2Header(c.bytes, "C", &h);
    EXPECT_FALSE(s.ok()) << c.want;
    EXPECT_EQ(s.IsNotSupported(), c.not_supported) << s.ToString();
    EXPECT_NE(s.message().find(c.want), std::string::npos) << s.ToString();
  }
}

// Goal: the writer puts each file's digests at their place whatever the
// order they come in, and the file it writes is the encoder's byte for
// byte; Finish refuses an index with digests missing.
TEST(ChunkIndexV2, WriterOutOfOrderMatchesEncoder) {
  auto digests = FakeDigests(kSizes, kCs);
  for (bool complete : {true, false}) {
    MemFile file("M.chunks");
    ChunkIndexV2Writer w(&file, kCs, kSizes);
    EXPECT_EQ(w.header().chunks, 7u);
    ASSERT_VALISE_OK(w.Begin());
    // Entry 4 in two pieces, the last first; then 3, 1, 2.
    ASSERT_VALISE_OK(w.Write(4, 1, &digests[4][1], 2));
    ASSERT_VALISE_OK(w.Write(4, 0, &digests[4][0], 1));
    ASSERT_VALISE_OK(w.Write(3, 0, digests[3].data(), 2));
    ASSERT_VALISE_OK(w.Write(1, 0, digests[1].data(), 1));
    EXPECT_TRUE(w.Write(2, 1, digests[2].data(), 1).IsInvalidArgument());
    if (!complete) {
      Status s = w.Finish();
      EXPECT_TRUE(s.IsCorruption()) << s.ToString();
      EXPECT_NE(s.message().find("6 chunk digests written of 7"),
                std::string::npos);
      continue;
    }
    ASSERT_VALISE_OK(w.Write(2, 0, digests[2].data(), 1));
    ASSERT_VALISE_OK(w.Finish());
    EXPECT_EQ(file.syncs, 1);
    EXPECT_EQ(file.data, EncodeChunkIndexV2(kCs, kSizes, digests));
  }
}

}  // namespace
}  // namespace valise
