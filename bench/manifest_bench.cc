// Manifest v1 throughput: ParseManifest and WriteManifest over a generated
// 100,000-entry manifest (sha256 + xxh128, size and mtime, paths of a
// realistic shape: a few directory levels, some names with spaces and
// escaped bytes). Reports lines per second ("lines/s") and bytes per
// second of manifest text. Meaningful in Release builds only.
//
// A dataset of tens of millions of files has a manifest of gigabytes; at
// these rates reading it must stay a small part of a verify's time.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "valise/digest.h"
#include "valise/manifest.h"

namespace valise {
namespace {

constexpr size_t kEntries = 100'000;

Digest RandomDigest(DigestType type, std::mt19937_64* rng) {
  Digest d;
  d.type = type;
  d.size = static_cast<uint8_t>(DigestSize(type));
  for (size_t i = 0; i < d.size; ++i)
    d.bytes[i] = static_cast<uint8_t>((*rng)());
  return d;
}

// The manifest, built once: entries added in shuffled order, as a scan of
// several drives would add them, then sorted by Finish().
const Manifest& BenchManifest() {
  static const Manifest* m = [] {
    DigestSet set;
    set.Add(DigestType::kSha256);
    set.Add(DigestType::kXxh128);
    auto* out = new Manifest(set);
    std::mt19937_64 rng(7);
    std::vector<size_t> order(kEntries);
    for (size_t i = 0; i < kEntries; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    char path[128];
    for (size_t i : order) {
      // e.g. "run0042/cam 3/frame-0001234.raw"; every 50th has a byte
      // that manifest v1 writes as %XX.
      snprintf(path, sizeof(path), "run%04zu/cam %zu/frame-%07zu%s.raw",
               i / 1000, i % 7, i, i % 50 == 0 ? "\x01" : "");
      std::vector<Digest> digests = {RandomDigest(DigestType::kSha256, &rng),
                                     RandomDigest(DigestType::kXxh128, &rng)};
      out->Add(path, rng() % (uint64_t{64} << 20),
               1'732'831'200'000'000'000 + int64_t(rng() % 1'000'000'000),
               digests);
    }
    if (!out->Finish().ok()) abort();
    return out;
  }();
  return *m;
}

const std::string& BenchText() {
  static const std::string text =
      WriteManifest(BenchManifest(), "2026-11-28T22:00:00Z");
  return text;
}

void BM_ParseManifest(benchmark::State& state) {
  const std::string& text = BenchText();
  for (auto _ : state) {
    Manifest m;
    Status s = ParseManifest(text, "bench.vm", ManifestFormat::kValise, &m);
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(m.size());
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(kEntries));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text.size()));
  state.counters["lines/s"] = benchmark::Counter(
      double(state.iterations()) * kEntries, benchmark::Counter::kIsRate);
  state.counters["bytes_per_line"] = double(text.size()) / kEntries;
}
BENCHMARK(BM_ParseManifest)->Unit(benchmark::kMillisecond);

void BM_WriteManifest(benchmark::State& state) {
  const Manifest& m = BenchManifest();
  size_t bytes = 0;
  for (auto _ : state) {
    std::string text = WriteManifest(m, "2026-11-28T22:00:00Z");
    bytes = text.size();
    benchmark::DoNotOptimize(text.data());
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(kEntries));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes));
  state.counters["lines/s"] = benchmark::Counter(
      double(state.iterations()) * kEntries, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_WriteManifest)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace valise
