// libFuzzer target for the chunk index v2 reader (M.chunks, bound to M).
//
// The index is checked against its binding before it is read, but the
// reader must not depend on that: any bytes, against any manifest, must
// give an error or an index that reads back exactly. The input is split
// into a manifest (byte 0: how many files, 0-15; then 3 bytes of size
// each, little-endian) and the index's bytes (the rest). When the index
// opens: every entry's digests are the bytes at the place the sizes give,
// reads outside an entry's chunks fail, and encoding the digests read
// gives the input back (so nothing was skipped or invented). Failures
// abort.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "valise/chunk_index_v2.h"
#include "valise/manifest.h"
#include "valise/sidecar.h"

namespace {

[[noreturn]] void Fail(const char* what) {
  fprintf(stderr, "chunk_index_v2_fuzz: %s\n", what);
  abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace valise;
  if (size < 1) return 0;
  const size_t files = data[0] % 16;
  if (size < 1 + 3 * files) return 0;
  DigestSet set;
  set.Add(DigestType::kXxh128);
  Manifest m(set);
  Digest d;
  d.type = DigestType::kXxh128;
  d.size = 16;
  std::vector<uint64_t> sizes;
  for (size_t i = 0; i < files; ++i) {
    const uint8_t* p = data + 1 + 3 * i;
    sizes.push_back(p[0] | p[1] << 8 | uint64_t{p[2]} << 16);
    char name[8];
    snprintf(name, sizeof(name), "f%02zu", i);
    m.Add(name, sizes.back(), 0, {d});
  }
  if (!m.Finish().ok()) Fail("manifest of fuzz sizes");
  const std::string bytes(reinterpret_cast<const char*>(data) + 1 + 3 * files,
                          size - 1 - 3 * files);

  std::unique_ptr<ChunkIndexV2> index;
  if (!ChunkIndexV2::Open(std::make_unique<MemorySource>("fuzz", bytes), m,
                          &index)
           .ok()) {
    return 0;
  }
  const uint64_t cs = index->chunk_size();
  if (!ValidChunkSize(cs)) Fail("invalid chunk size accepted");
  if (bytes.size() != 64 + 32 * index->header().chunks) Fail("length");
  std::vector<std::vector<ChunkSha256>> all(files);
  uint64_t first = 0;
  for (size_t e = 0; e < files; ++e) {
    const uint64_t n = ChunksOf(sizes[e], cs);
    if (index->NumChunks(e) != n) Fail("NumChunks");
    if (index->FirstChunk(e) != first) Fail("FirstChunk");
    all[e].resize(n);
    if (!index->Read(e, 0, n, all[e].data()).ok()) Fail("read of a file");
    if (n > 0 &&
        memcmp(all[e].data(), bytes.data() + 64 + 32 * first, 32 * n) != 0) {
      Fail("digests not where the sizes put them");
    }
    ChunkSha256 one;
    if (index->Read(e, n, 1, &one).ok()) Fail("read past a file's chunks");
    first += n;
  }
  if (EncodeChunkIndexV2(cs, sizes, all) != bytes) Fail("round trip");
  return 0;
}
