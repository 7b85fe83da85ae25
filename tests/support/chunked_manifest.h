// The manifest of a signed shipment on the simulated disk, as `valise
// manifest` makes it: the manifest of some drives, its chunk index (the
// SHA-256 of every chunk) written to m/M.chunks and bound to the manifest
// (the signature covers the binding), then opened for the pipeline. The
// tests of what the signed chunk digests decide (chunk_dedup, chunk_repair,
// chunk_resume, the S3 destination's) share it.
//
// Thread safety: a plain function.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "support/pipeline_util.h"
#include "support/test_util.h"
#include "valise/chunk_index_v2.h"
#include "valise/manifest.h"
#include "valise/pipeline.h"
#include "valise/sidecar.h"
#include "valise/sim_disk.h"

namespace valise::test {

// Makes the manifest of `drives` on `disk` (sha256 + xxh128, `opt`'s chunk
// size) into *m, with its chunk index at m/NAME.chunks, bound and opened
// into *index (`name`: several manifests on one disk). Returns the index's
// size in bytes. Failures are test failures.
inline uint64_t MakeChunkedManifest(SimDisk* disk,
                                    const std::vector<std::string>& drives,
                                    const PipelineOptions& opt, Manifest* m,
                                    std::unique_ptr<ChunkIndexV2>* index,
                                    const std::string& name = "M") {
  disk->AddDir("m");
  std::unique_ptr<Directory> dir;
  EXPECT_VALISE_OK(disk->OpenDirectory("m", false, &dir));
  std::unique_ptr<File> file;
  EXPECT_VALISE_OK(dir->CreateFile(name + ".chunks", WriteOptions(), &file));
  ManifestSummary summary;
  EXPECT_VALISE_OK(MakeManifest(disk, drives, ShaXxh(), opt, m, nullptr,
                                &summary, file.get()));
  file.reset();
  SidecarBinding bind;
  EXPECT_VALISE_OK(BindFile(disk, "m/" + name + ".chunks", &bind));
  m->Bind(kChunkIndexSidecar, bind);
  std::unique_ptr<PositionalSource> src;
  EXPECT_VALISE_OK(OpenBoundSidecar(disk, "m/" + name, *m, "chunks", &src));
  EXPECT_VALISE_OK(ChunkIndexV2::Open(std::move(src), *m, index));
  return bind.bytes;
}

}  // namespace valise::test
