// A shipment packed by `valise pack` (RunPackJob) on the simulated disk,
// for the tests of verify and ingest with parity: a dataset of ragged
// files under "src/", packed onto data drives "d1".."dk" and parity drives
// "p1".."pm", the sealed manifest at "out/M" with its sidecars, loaded
// back as verify and ingest load them.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "support/pipeline_util.h"
#include "support/test_util.h"
#include "valise/chunk_index_v2.h"
#include "valise/manifest.h"
#include "valise/pack_state.h"
#include "valise/pipeline.h"
#include "valise/rebuild.h"
#include "valise/sidecar.h"
#include "valise/sim_disk.h"

namespace valise::test {

struct PackedDrives {
  static constexpr uint64_t kChunk = 4096;

  // Files of `sizes`, random bytes from `seed`, packed onto k + m drives.
  PackedDrives(uint32_t k_in, uint32_t m_in, uint64_t seed,
               const std::vector<uint64_t>& sizes)
      : disk(SimDiskOptions{}), k(k_in), m(m_in) {
    for (size_t i = 0; i < sizes.size(); ++i) {
      const std::string rel =
          "dir" + std::to_string(i % 3) + "/f" + std::to_string(i);
      contents[rel] = RandomBytes(sizes[i], seed * 977 + i);
      disk.AddFile("src/" + rel, contents[rel], 1'000'000'000 * int64_t(i + 1),
                   0644);
    }
    disk.AddDir("out");
    for (uint32_t i = 0; i < k + m; ++i) {
      drives.push_back(i < k ? "d" + std::to_string(i + 1)
                             : "p" + std::to_string(i - k + 1));
      disk.AddDir(drives.back());
    }
    PackOptions opt;
    opt.parity = m;
    opt.chunk_size = kChunk;
    opt.window = 3;
    opt.threads = 2;
    PackJobResult r;
    Status s = RunPackJob(&disk, {"src"}, drives, "out/M", opt,
                          "2026-12-06T08:00:00Z", &r);
    EXPECT_TRUE(s.ok()) << s.ToString();
    layout = r.plan.layout;
    std::string text;
    EXPECT_TRUE(disk.GetFile("out/M", &text));
    s = ParseManifest(text, "out/M", ManifestFormat::kAuto, &manifest);
    EXPECT_TRUE(s.ok()) << s.ToString();
    std::unique_ptr<PositionalSource> src;
    s = OpenBoundSidecar(&disk, "out/M", manifest, kChunkIndexSidecar, &src);
    EXPECT_TRUE(s.ok()) << s.ToString();
    s = ChunkIndexV2::Open(std::move(src), manifest, &index);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }

  // The drives given when those marked in `lost` (k + m) are not.
  std::vector<std::string> Given(const std::vector<bool>& lost) const {
    std::vector<std::string> out;
    for (uint32_t i = 0; i < k + m; ++i) {
      if (!lost[i]) out.push_back(drives[i]);
    }
    return out;
  }

  // Options as the CLI sets them for this manifest; *pack holds what
  // opt.pack points to.
  PipelineOptions Options(std::unique_ptr<PackParity>* pack) {
    PipelineOptions opt = SmallPipelineOptions(kChunk, 0);
    opt.chunk_index = index.get();
    Status s = LoadPackParity(&disk, "out/M", manifest, pack);
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_NE(*pack, nullptr);
    opt.pack = pack->get();
    return opt;
  }

  // The files that cannot come back with `lost` drives gone and the
  // single chunks `bad` unusable (AssessLoss), by path.
  std::set<std::string> Unrecoverable(
      const std::vector<bool>& lost,
      const std::vector<std::pair<uint32_t, uint64_t>>& bad = {}) const {
    StripeMap map(&layout);
    const LossAssessment a = AssessLoss(map, lost, bad);
    std::set<std::string> out;
    for (uint32_t d = 0; d < k; ++d) {
      for (uint32_t f : a.unrecoverable[d]) {
        out.insert(layout.data[d].files[f].path);
      }
    }
    return out;
  }

  // The files of the data drives marked in `lost`.
  std::set<std::string> FilesOf(const std::vector<bool>& lost) const {
    std::set<std::string> out;
    for (uint32_t d = 0; d < k; ++d) {
      if (!lost[d]) continue;
      for (const PackFile& f : layout.data[d].files) out.insert(f.path);
    }
    return out;
  }

  SimDisk disk;
  uint32_t k, m;
  std::vector<std::string> drives;
  std::map<std::string, std::string> contents;
  PackLayout layout;
  Manifest manifest;
  std::unique_ptr<ChunkIndexV2> index;
};

// Ragged sizes: empty, within one chunk, on and across chunk boundaries.
inline std::vector<uint64_t> PackedSizes() {
  const uint64_t c = PackedDrives::kChunk;
  return {0,      1,         c - 1, c,          c + 1, 3 * c + 5,
          10 * c, 123,       20000, 50000,      2 * c, 5 * c + 9,
          17,     9 * c + 1, 7 * c, 4 * c + 100};
}

// A loss pattern as text for failure messages: "x.x." (x: lost).
inline std::string Pattern(const std::vector<bool>& lost) {
  std::string s;
  for (bool b : lost) s += b ? 'x' : '.';
  return s;
}

// Every subset of n members with at least `least` and at most `most` of
// them, as loss patterns.
inline std::vector<std::vector<bool>> Patterns(uint32_t n, uint32_t least,
                                               uint32_t most) {
  std::vector<std::vector<bool>> out;
  for (uint32_t bits = 0; bits < (1u << n); ++bits) {
    const uint32_t c = static_cast<uint32_t>(__builtin_popcount(bits));
    if (c < least || c > most) continue;
    std::vector<bool> lost(n);
    for (uint32_t i = 0; i < n; ++i) lost[i] = bits >> i & 1;
    out.push_back(lost);
  }
  return out;
}

}  // namespace valise::test
