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

}  // namespace
}  // namespace valise
