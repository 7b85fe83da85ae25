// libFuzzer target for the chunk index reader (M.chunks).
//
// ParseChunkIndex must survive any bytes. When an input parses, writing it
// back and parsing again gives the same index, and the rewritten text is a
// fixed point. Failures abort.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "valise/manifest.h"

namespace {

[[noreturn]] void Fail(const char* what) {
  fprintf(stderr, "chunk_index_fuzz: %s\n", what);
  abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  valise::ChunkIndex index;
  if (!valise::ParseChunkIndex(input, "fuzz", &index).ok()) return 0;
  if (index.paths.size() != index.chunks.size()) Fail("ragged index");
  if (index.chunk_size == 0) Fail("zero chunk size accepted");
  for (const auto& p : index.paths) {
    if (!valise::ValidatePath(p).ok()) Fail("unsafe path accepted");
  }
  std::string text = valise::WriteChunkIndex(index);
  valise::ChunkIndex again;
  valise::Status s = valise::ParseChunkIndex(text, "fuzz", &again);
  if (!s.ok()) {
    fprintf(stderr, "%s\n", s.ToString().c_str());
    Fail("rewritten index does not parse");
  }
  if (again.chunk_size != index.chunk_size || again.paths != index.paths ||
      again.chunks != index.chunks) {
    Fail("round trip changed the index");
  }
  if (valise::WriteChunkIndex(again) != text) Fail("not a fixed point");
  return 0;
}
