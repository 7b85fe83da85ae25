#include "valise/parity.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "support/test_util.h"

namespace valise {
namespace {

// A stripe of k data chunks of random bytes and its m parity chunks.
struct Stripe {
  size_t len;
  std::vector<std::vector<uint8_t>> members;  // k + m
};

Stripe Encoded(const ParityCode& code, size_t len, uint64_t seed) {
  Stripe s{len, {}};
  for (int i = 0; i < code.members(); ++i) {
    std::string bytes = test::RandomBytes(len, seed * 1000 + i);
    s.members.emplace_back(bytes.begin(), bytes.end());
  }
  std::vector<const uint8_t*> data;
  std::vector<uint8_t*> parity;
  for (int i = 0; i < code.k(); ++i) data.push_back(s.members[i].data());
  for (int j = 0; j < code.m(); ++j) {
    parity.push_back(s.members[code.k() + j].data());
  }
  code.Encode(len, data.data(), parity.data());
  return s;
}

// Calls f(sources) for every k-subset of 0..n-1, in lexicographic order.
template <typename F>
void ForEachSubset(int n, int k, F f) {
  std::vector<int> pick(static_cast<size_t>(k));
  for (int i = 0; i < k; ++i) pick[i] = i;
  while (true) {
    f(pick);
    int i = k - 1;
    while (i >= 0 && pick[i] == n - k + i) --i;
    if (i < 0) return;
    ++pick[i];
    for (int j = i + 1; j < k; ++j) pick[j] = pick[j - 1] + 1;
  }
}

// Goal: the code is MDS: for every choice of k surviving members, the
// other m (data and parity alike) are rebuilt byte-exact.
TEST(ParityCode, EveryKMembersRebuildTheRest) {
  const std::pair<int, int> codes[] = {{1, 1}, {2, 1}, {4, 2}, {6, 2},
                                       {3, 3}, {5, 4}, {8, 2}, {10, 4}};
  for (const auto& km : codes) {
    const int k = km.first, m = km.second;  // a lambda captures these
    std::unique_ptr<ParityCode> code;
    ASSERT_VALISE_OK(ParityCode::Create(k, m, &code));
    const Stripe s = Encoded(*code, 1024, k * 31 + m);
    ParityDecoder dec(code.get());
    int patterns = 0;
    ForEachSubset(k + m, k, [&](const std::vector<int>& sources) {
      std::vector<int> want;
      for (int i = 0; i < k + m; ++i) {
        if (!std::binary_search(sources.begin(), sources.end(), i)) {
          want.push_back(i);
        }
      }
      std::vector<std::vector<uint8_t>> work = s.members;
      for (int w : want) std::fill(work[w].begin(), work[w].end(), 0xEE);
      std::vector<uint8_t*> ptrs;
      for (auto& v : work) ptrs.push_back(v.data());
      ASSERT_VALISE_OK(dec.Rebuild(s.len, sources, want, ptrs.data()));
      for (int w : want) {
        ASSERT_EQ(work[w], s.members[w])
            << k << "+" << m << " member " << w << " pattern " << patterns;
      }
      ++patterns;
    });
    EXPECT_GT(patterns, 0);
  }
}

// Goal: fewer wanted members than m (a single lost chunk) rebuild too,
// from any k sources.
TEST(ParityCode, RebuildsASubsetOfTheErased) {
  std::unique_ptr<ParityCode> code;
  ASSERT_VALISE_OK(ParityCode::Create(6, 2, &code));
  const Stripe s = Encoded(*code, 4096, 7);
  ParityDecoder dec(code.get());
  for (int lost = 0; lost < 8; ++lost) {
    std::vector<int> sources;
    for (int i = 0; i < 8 && sources.size() < 6; ++i) {
      if (i != lost) sources.push_back(i);
    }
    std::vector<std::vector<uint8_t>> work = s.members;
    std::fill(work[lost].begin(), work[lost].end(), 0);
    std::vector<uint8_t*> ptrs;
    for (auto& v : work) ptrs.push_back(v.data());
    ASSERT_VALISE_OK(dec.Rebuild(s.len, sources, {lost}, ptrs.data()));
    EXPECT_EQ(work[lost], s.members[lost]) << lost;
  }
}

// Goal: the generator's top rows are the identity (data members are the
// data: a data drive is a plain file system), and a lost drive's pattern
// is decoded with cached tables.
TEST(ParityCode, SystematicAndCachesPatterns) {
  std::unique_ptr<ParityCode> code;
  ASSERT_VALISE_OK(ParityCode::Create(4, 2, &code));
  for (int r = 0; r < 4; ++r) {
    for (int c = 0; c < 4; ++c) {
      EXPECT_EQ(code->matrix()[r * 4 + c], r == c ? 1 : 0);
    }
  }
  ParityDecoder dec(code.get());
  for (uint64_t seed = 0; seed < 5; ++seed) {
    Stripe s = Encoded(*code, 512, seed);
    std::vector<uint8_t> keep = s.members[1];
    std::fill(s.members[1].begin(), s.members[1].end(), 0);
    std::vector<uint8_t*> ptrs;
    for (auto& v : s.members) ptrs.push_back(v.data());
    ASSERT_VALISE_OK(dec.Rebuild(512, {0, 2, 3, 4}, {1}, ptrs.data()));
    EXPECT_EQ(s.members[1], keep);
  }
  EXPECT_EQ(dec.cached_patterns(), 1u);
}

// Goal: bad arguments are refused before anything is written.
TEST(ParityCode, RefusesBadArguments) {
  std::unique_ptr<ParityCode> code;
  EXPECT_TRUE(ParityCode::Create(0, 2, &code).IsInvalidArgument());
  EXPECT_TRUE(ParityCode::Create(250, 6, &code).IsInvalidArgument());
  EXPECT_TRUE(ParityCode::Create(3, -1, &code).IsInvalidArgument());
  ASSERT_VALISE_OK(ParityCode::Create(253, 2, &code));
  ASSERT_VALISE_OK(ParityCode::Create(3, 2, &code));
  std::vector<std::vector<uint8_t>> m(5, std::vector<uint8_t>(64, 9));
  std::vector<uint8_t*> ptrs;
  for (auto& v : m) ptrs.push_back(v.data());
  ParityDecoder dec(code.get());
  EXPECT_TRUE(dec.Rebuild(64, {0, 1}, {2}, ptrs.data()).IsInvalidArgument());
  EXPECT_TRUE(dec.Rebuild(64, {0, 1, 1}, {2}, ptrs.data()).IsInvalidArgument());
  EXPECT_TRUE(dec.Rebuild(64, {0, 1, 2}, {2}, ptrs.data()).IsInvalidArgument());
  EXPECT_TRUE(dec.Rebuild(64, {0, 1, 2}, {5}, ptrs.data()).IsInvalidArgument());
  EXPECT_TRUE(
      dec.Rebuild(64, {0, 1, 2}, {3, 3}, ptrs.data()).IsInvalidArgument());
  for (auto& v : m) EXPECT_EQ(v, std::vector<uint8_t>(64, 9));
}

// Goal: with m = 0 there is nothing to compute and nothing is written.
TEST(ParityCode, NoParity) {
  std::unique_ptr<ParityCode> code;
  ASSERT_VALISE_OK(ParityCode::Create(5, 0, &code));
  std::vector<uint8_t> d(64, 1);
  const uint8_t* data[5] = {d.data(), d.data(), d.data(), d.data(), d.data()};
  code->Encode(64, data, nullptr);
  EXPECT_EQ(code->members(), 5);
}

}  // namespace
}  // namespace valise
