// Hash throughput per digest and buffer size: the CPU side of the figures
// (bare hash cost, against `openssl speed -evp sha256` and `xxhsum -b`).
#include <benchmark/benchmark.h>

#include <string>

#include "valise/digest.h"

namespace valise {
namespace {

void BM_Hash(benchmark::State& state) {
  auto type = static_cast<DigestType>(state.range(0));
  std::string buf(static_cast<size_t>(state.range(1)), 'x');
  auto h = Hasher::New(type);
  for (auto _ : state) {
    h->Update(buf.data(), buf.size());
    benchmark::DoNotOptimize(h->Finish());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * state.range(1));
  state.SetLabel(std::string(DigestName(type)));
}
BENCHMARK(BM_Hash)
    ->ArgNames({"digest", "bytes"})
    ->ArgsProduct({{0, 1, 2, 3, 4}, {4096, 1 << 20}});

void BM_HashChunk(benchmark::State& state) {
  std::string buf(static_cast<size_t>(state.range(0)), 'x');
  for (auto _ : state)
    benchmark::DoNotOptimize(HashChunk(buf.data(), buf.size()));
  state.SetBytesProcessed(int64_t(state.iterations()) * state.range(0));
}
BENCHMARK(BM_HashChunk)->Arg(4096)->Arg(1 << 20);

// The default digests against SHA-256 alone, the way the reader hashes:
// 1 MiB buffers fresh from memory (a 256 MiB ring, larger than any cache),
// both digests through MultiHasher (in cache-sized slices). Figure
// verify_default_digests wants the pair at >= 0.95 of SHA-256 alone.
void BM_DefaultDigests(benchmark::State& state) {
  DigestSet set;
  set.Add(DigestType::kSha256);
  if (state.range(0) == 1) set.Add(DigestType::kXxh128);
  constexpr size_t kBuf = 1 << 20;
  constexpr size_t kRing = 256;
  std::string ring(kBuf * kRing, 'x');
  for (size_t i = 0; i < ring.size(); i += 4096) ring[i] = char(i >> 12);
  MultiHasher m(set);
  // Arg 2: the pair one after the other over the whole buffer (no slices).
  auto sha = Hasher::New(DigestType::kSha256);
  auto xxh = Hasher::New(DigestType::kXxh128);
  size_t next = 0;
  for (auto _ : state) {
    const char* buf = ring.data() + next * kBuf;
    if (state.range(0) == 2) {
      sha->Update(buf, kBuf);
      xxh->Update(buf, kBuf);
    } else if (state.range(0) >= 4096) {  // slices of that many bytes
      const size_t slice = size_t(state.range(0));
      for (size_t at = 0; at < kBuf; at += slice) {
        sha->Update(buf + at, slice);
        xxh->Update(buf + at, slice);
      }
    } else {
      m.Update(buf, kBuf);
    }
    next = (next + 1) % kRing;
  }
  benchmark::DoNotOptimize(m.Finish());
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(kBuf));
  state.SetLabel(state.range(0) == 0   ? "sha256"
                 : state.range(0) == 1 ? "sha256+xxh128"
                                       : "sha256, then xxh128");
}
BENCHMARK(BM_DefaultDigests)
    ->Arg(0)
    ->Arg(1)
    ->Arg(2)
    ->Arg(8192)
    ->Arg(32768)
    ->Arg(131072)
    ->Arg(262144);

}  // namespace
}  // namespace valise
