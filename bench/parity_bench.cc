// Reed-Solomon parity throughput (src/pack/parity.cc): encode of a stripe
// of k data chunks into m parity chunks, and rebuild of m lost members,
// per (k, m) and chunk size; bytes counted are the stripe's data bytes.
// The CPU side of `valise pack` and of a rebuild from parity.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "valise/parity.h"

namespace valise {
namespace {

struct Bufs {
  Bufs(int n, size_t len) {
    for (int i = 0; i < n; ++i) {
      v.emplace_back(len, static_cast<uint8_t>(i * 37 + 1));
      p.push_back(v.back().data());
    }
  }
  std::vector<std::vector<uint8_t>> v;
  std::vector<uint8_t*> p;
};

void BM_Encode(benchmark::State& state) {
  const int k = static_cast<int>(state.range(0));
  const int m = static_cast<int>(state.range(1));
  const size_t len = static_cast<size_t>(state.range(2));
  std::unique_ptr<ParityCode> code;
  if (!ParityCode::Create(k, m, &code).ok()) state.SkipWithError("create");
  Bufs b(k + m, len);
  for (auto _ : state) {
    code->Encode(len, b.p.data(), b.p.data() + k);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * k * int64_t(len));
}
BENCHMARK(BM_Encode)
    ->ArgNames({"k", "m", "chunk"})
    ->Args({6, 2, 1 << 20})
    ->Args({8, 2, 1 << 20})
    ->Args({10, 4, 1 << 20})
    ->Args({8, 2, 4096});

// Rebuild of members 0..m-1 (data) from the others.
void BM_Rebuild(benchmark::State& state) {
  const int k = static_cast<int>(state.range(0));
  const int m = static_cast<int>(state.range(1));
  const size_t len = static_cast<size_t>(state.range(2));
  std::unique_ptr<ParityCode> code;
  if (!ParityCode::Create(k, m, &code).ok()) state.SkipWithError("create");
  Bufs b(k + m, len);
  code->Encode(len, b.p.data(), b.p.data() + k);
  ParityDecoder dec(code.get());
  std::vector<int> sources, want;
  for (int i = 0; i < k + m; ++i) (i < m ? want : sources).push_back(i);
  for (auto _ : state) {
    if (!dec.Rebuild(len, sources, want, b.p.data()).ok()) {
      state.SkipWithError("rebuild");
    }
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * k * int64_t(len));
}
BENCHMARK(BM_Rebuild)
    ->ArgNames({"k", "m", "chunk"})
    ->Args({6, 2, 1 << 20})
    ->Args({8, 2, 1 << 20});

}  // namespace
}  // namespace valise
