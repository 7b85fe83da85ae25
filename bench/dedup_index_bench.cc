// DedupIndex (include/valise/dedup_index.h): inserts per second into an
// index growing from empty, lookups per second that hit and that miss in
// a full one, and the bytes each entry costs ("bytes_per_entry", the
// table's memory over its entries, so the growth slack is counted).
// Sizes: 100k and 1M entries (100 GiB and 1 TiB of 1 MiB chunks); the
// larger no longer fits in the CPU caches. Meaningful in Release builds
// only.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "valise/dedup_index.h"
#include "valise/digest.h"

namespace valise {
namespace {

constexpr uint32_t kChunk = 1 << 20;

// `n` distinct chunk digests: XXH3-128 outputs are uniform, so random
// 128-bit values stand for them.
std::vector<ChunkDigest> Digests(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<ChunkDigest> out(n);
  for (ChunkDigest& d : out) d = ChunkDigest{rng(), rng()};
  return out;
}

void BM_DedupInsert(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const std::vector<ChunkDigest> digests = Digests(n, 1);
  double bytes_per_entry = 0;
  for (auto _ : state) {
    DedupIndex index;  // from empty: growth is part of the cost
    ChunkPlace first;
    for (size_t i = 0; i < n; ++i) {
      benchmark::DoNotOptimize(index.FindOrInsert(
          digests[i], kChunk, ChunkPlace{uint32_t(i), i * kChunk}, &first));
    }
    bytes_per_entry = double(index.memory_bytes()) / double(index.size());
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(n));
  state.counters["inserts/s"] = benchmark::Counter(
      double(state.iterations()) * double(n), benchmark::Counter::kIsRate);
  state.counters["bytes_per_entry"] = bytes_per_entry;
}
BENCHMARK(BM_DedupInsert)
    ->ArgName("entries")
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Unit(benchmark::kMillisecond);

// hit = 1: every lookup finds its digest; hit = 0: none does.
void BM_DedupLookup(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const bool hit = state.range(1) != 0;
  const std::vector<ChunkDigest> stored = Digests(n, 1);
  const std::vector<ChunkDigest> probes = hit ? stored : Digests(n, 2);
  DedupIndex index;
  ChunkPlace first;
  for (size_t i = 0; i < n; ++i) {
    benchmark::DoNotOptimize(index.FindOrInsert(
        stored[i], kChunk, ChunkPlace{uint32_t(i), i * kChunk}, &first));
  }
  // Probe in an order unrelated to insertion, as a real dataset would.
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937_64(3));
  size_t found = 0;
  for (auto _ : state) {
    for (size_t i : order) found += index.Find(probes[i], kChunk, &first);
    benchmark::DoNotOptimize(found);
  }
  if (found != (hit ? n * state.iterations() : 0)) {
    state.SkipWithError("lookups found the wrong number of entries");
    return;
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(n));
  state.counters["lookups/s"] = benchmark::Counter(
      double(state.iterations()) * double(n), benchmark::Counter::kIsRate);
  state.counters["bytes_per_entry"] =
      double(index.memory_bytes()) / double(index.size());
}
BENCHMARK(BM_DedupLookup)
    ->ArgNames({"entries", "hit"})
    ->ArgsProduct({{100'000, 1'000'000}, {1, 0}})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace valise
