#include "valise/dedup_index.h"

#include <random>

#include "support/test_util.h"

namespace valise {
namespace {

// Goal: the first place of each content is kept; repeats find it; length
// is part of the key; growth keeps every entry.
TEST(DedupIndex, FirstPlaceWinsThroughGrowth) {
  DedupIndex index(4);
  std::mt19937_64 rng(5);
  std::vector<ChunkDigest> keys;
  for (uint32_t i = 0; i < 10000; ++i) {
    ChunkDigest d{rng(), rng()};
    keys.push_back(d);
    ChunkPlace first;
    EXPECT_FALSE(
        index.FindOrInsert(d, 4096, ChunkPlace{i, i * 4096ull}, &first));
  }
  EXPECT_EQ(index.size(), 10000u);
  for (uint32_t i = 0; i < keys.size(); ++i) {
    ChunkPlace first;
    ASSERT_TRUE(index.FindOrInsert(keys[i], 4096, ChunkPlace{99, 0}, &first));
    EXPECT_EQ(first.file, i);
    EXPECT_EQ(first.offset, i * 4096ull);
    EXPECT_FALSE(index.Find(keys[i], 4095, &first));
  }
  EXPECT_EQ(index.size(), 10000u);
  // About 32 bytes a slot at under 70% load.
  EXPECT_LE(index.memory_bytes() / index.size(), 100u);
  ChunkPlace p;
  EXPECT_FALSE(index.FindOrInsert(keys[0], 0, ChunkPlace{}, &p));
}

}  // namespace
}  // namespace valise
