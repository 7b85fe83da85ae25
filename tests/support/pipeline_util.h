// Options and digest sets shared by the simulated-disk pipeline tests
// (tests/pipeline/*_test.cc, tests/format/manifest_test.cc), so each test
// file does not carry its own copy.
//
// Thread safety: plain functions returning values.
#pragma once

#include <cstddef>

#include "valise/digest.h"
#include "valise/pipeline.h"

namespace valise::test {

// sha256 + xxh128: the digests the tests' manifests carry.
inline DigestSet ShaXxh() {
  DigestSet d;
  d.Add(DigestType::kSha256);
  d.Add(DigestType::kXxh128);
  return d;
}

// Small chunks, so small files span several; 2 hashing threads, depth 4,
// `retries` EIO retries and a 5 s per-request timeout.
inline PipelineOptions SmallPipelineOptions(size_t chunk, unsigned retries) {
  PipelineOptions opt;
  opt.chunk_size = chunk;
  opt.threads = 2;
  opt.depth = 4;
  opt.engine.retries = retries;
  opt.engine.io_timeout_us = 5'000'000;
  return opt;
}

}  // namespace valise::test
