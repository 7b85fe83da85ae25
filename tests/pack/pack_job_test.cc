#include "valise/pack_job.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <string>
#include <vector>

#include "support/test_util.h"
#include "valise/chunk_index_v2.h"
#include "valise/rebuild.h"
#include "valise/sidecar.h"
#include "valise/sim_disk.h"

namespace valise {
namespace {

constexpr uint64_t kChunk = 4096;

std::vector<uint64_t> RaggedSizes() {
  return {0,           1,
          kChunk - 1,  kChunk,
          kChunk + 1,  3 * kChunk + 5,
          10 * kChunk, 7 * kChunk - 1,
          123,         0,
          20000,       50000,
          2 * kChunk,  5 * kChunk + 4095,
          17,          9 * kChunk + 1};
}

// A dataset under "src/" on a simulated disk, packed onto drives d1..dk,
// p1..pm; the sidecars written to out/.
struct PackRun {
  explicit PackRun(uint64_t seed,
                   const std::vector<uint64_t>& sizes = RaggedSizes())
      : disk([&] {
          SimDiskOptions o;
          o.seed = seed;
          return o;
        }()) {
    for (size_t i = 0; i < sizes.size(); ++i) {
      const std::string rel =
          (i % 3 ? "dir" + std::to_string(i % 3) + "/" : std::string()) + "f" +
          std::to_string(i);
      contents[rel] = test::RandomBytes(sizes[i], seed * 131 + i);
      disk.AddFile("src/" + rel, contents[rel], 1'000'000'000 * int64_t(i + 1),
                   i % 2 ? 0640 : 0600);
    }
    disk.AddDir("out");
  }

  std::vector<std::string> Drives(uint32_t k, uint32_t m) {
    std::vector<std::string> d;
    for (uint32_t i = 0; i < k; ++i) d.push_back("d" + std::to_string(i + 1));
    for (uint32_t j = 0; j < m; ++j) d.push_back("p" + std::to_string(j + 1));
    for (const std::string& r : d) {
      if (!disk.Exists(r)) disk.AddDir(r);
    }
    return d;
  }

  Status Pack(uint32_t k, uint32_t m, PackOptions opt = PackOptions()) {
    opt.parity = m;
    opt.chunk_size = kChunk;
    if (opt.window == 0) opt.window = 3;
    if (opt.threads == 0) opt.threads = 2;
    VALISE_RETURN_IF_ERROR(
        PlanPack(&disk, {"src"}, Drives(k, m), opt, true, &plan));
    std::unique_ptr<Directory> out;
    VALISE_RETURN_IF_ERROR(disk.OpenDirectory("out", false, &out));
    std::unique_ptr<File> index, parity;
    WriteOptions wo;
    VALISE_RETURN_IF_ERROR(out->CreateFile("M.chunks", wo, &index));
    VALISE_RETURN_IF_ERROR(out->CreateFile("M.parity", wo, &parity));
    return WritePack(&disk, &plan, opt, index.get(), parity.get(), &manifest,
                     &summary);
  }

  std::string Get(const std::string& path) {
    std::string data;
    EXPECT_TRUE(disk.GetFile(path, &data)) << path;
    return data;
  }

  SimDisk disk;
  std::map<std::string, std::string> contents;
  PackPlan plan;
  Manifest manifest;
  PackSummary summary;
};

Digest DigestOf(DigestType t, const std::string& data) {
  auto h = Hasher::New(t);
  h->Update(data.data(), data.size());
  return h->Finish();
}

// Every file of the pack, recovered with `lost` drives not given; returns
// the number of chunks that came back wrong or not at all.
int RecoverAll(PackRun& r, const std::vector<bool>& lost,
               SidecarChunkDigests* digests, const ParityCode& code,
               const StripeMap& map) {
  std::vector<std::string> data, parity;
  const PackLayout& l = r.plan.layout;
  for (uint32_t d = 0; d < l.k(); ++d) {
    data.push_back(lost[d] ? "" : r.plan.data_roots[d]);
  }
  for (uint32_t j = 0; j < l.m(); ++j) {
    parity.push_back(lost[l.k() + j] ? "" : r.plan.parity_roots[j]);
  }
  FsStripeReader reader(&r.disk, &l, data, parity);
  StripeRebuilder rb(&map, &code, &reader, digests);
  std::vector<uint8_t> buf(l.chunk_size);
  int bad = 0;
  for (uint32_t d = 0; d < l.k(); ++d) {
    for (uint32_t f = 0; f < l.data[d].files.size(); ++f) {
      const std::string& want = r.contents.at(l.data[d].files[f].path);
      for (uint64_t c = 0; c * l.chunk_size < want.size(); ++c) {
        ChunkSource src;
        Status why;
        if (!RecoverDataChunk(&rb, d, f, c, lost, buf.data(), &src, &why)
                 .ok() ||
            src == ChunkSource::kLost) {
          ++bad;
          continue;
        }
        const uint64_t off = c * l.chunk_size;
        const uint64_t n = std::min<uint64_t>(l.chunk_size, want.size() - off);
        bad += std::string(reinterpret_cast<char*>(buf.data()), n) !=
               want.substr(off, n);
      }
    }
  }
  return bad;
}

// Goal (issue 18): valise pack writes every file whole onto its drive with
// its mode and mtime, digests it as it writes (the manifest's digests, the
// chunk index, M.parity, each parity file's SHA-256), and computes parity
// that rebuilds every file after the loss of any m drives, whatever order
// the simulated queue completes requests in.
TEST(PackJob, WritesFilesDigestsAndParityThatRebuild) {
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    PackRun r(seed);
    ASSERT_VALISE_OK(r.Pack(4, 2));
    const PackLayout& l = r.plan.layout;
    // The files, whole, on their drives.
    for (uint32_t d = 0; d < l.k(); ++d) {
      for (const PackFile& f : l.data[d].files) {
        const std::string path = r.plan.data_roots[d] + "/" + f.path;
        EXPECT_EQ(r.Get(path), r.contents.at(f.path)) << path;
        FileInfo info, src;
        ASSERT_VALISE_OK(r.disk.Stat(path, &info));
        ASSERT_VALISE_OK(r.disk.Stat("src/" + f.path, &src));
        EXPECT_EQ(info.mode, src.mode) << path;
        EXPECT_EQ(info.mtime_ns, src.mtime_ns) << path;
      }
    }
    // The manifest's digests.
    ASSERT_EQ(r.manifest.size(), r.contents.size());
    EXPECT_EQ(r.summary.files, r.contents.size());
    for (size_t e = 0; e < r.manifest.size(); ++e) {
      const std::string& c = r.contents.at(std::string(r.manifest.path(e)));
      EXPECT_EQ(r.manifest.file_size(e), c.size());
      EXPECT_EQ(r.manifest.digest(e, DigestType::kSha256),
                DigestOf(DigestType::kSha256, c));
      EXPECT_EQ(r.manifest.digest(e, DigestType::kXxh128),
                DigestOf(DigestType::kXxh128, c));
    }
    // The chunk index: every chunk's SHA-256.
    std::unique_ptr<ChunkIndexV2> index;
    ASSERT_VALISE_OK(ChunkIndexV2::Open(
        std::make_unique<MemorySource>("M.chunks", r.Get("out/M.chunks")),
        r.manifest, &index));
    for (size_t e = 0; e < r.manifest.size(); ++e) {
      const std::string& c = r.contents.at(std::string(r.manifest.path(e)));
      for (uint64_t i = 0; i < index->NumChunks(e); ++i) {
        ChunkSha256 got;
        ASSERT_VALISE_OK(index->Read(e, i, 1, &got));
        const size_t n = std::min<uint64_t>(kChunk, c.size() - i * kChunk);
        EXPECT_EQ(got, Sha256Of(reinterpret_cast<const uint8_t*>(c.data()) +
                                    i * kChunk,
                                n));
      }
    }
    // Each parity file's SHA-256, as the layout records it.
    for (uint32_t j = 0; j < l.m(); ++j) {
      for (const ParitySegment& s : l.parity[j].segments) {
        const std::string p = r.Get(r.plan.parity_roots[j] + "/" + s.path);
        EXPECT_EQ(p.size(), s.stripes * kChunk);
        EXPECT_EQ(
            Sha256Of(reinterpret_cast<const uint8_t*>(p.data()), p.size()),
            s.sha256);
      }
    }
    // Every loss of up to m drives rebuilds byte-exact, checked against
    // the written sidecars.
    std::vector<std::vector<size_t>> entries;
    ASSERT_VALISE_OK(CheckLayoutMatchesManifest(l, r.manifest, "L", &entries));
    std::unique_ptr<SidecarChunkDigests> digests;
    ASSERT_VALISE_OK(SidecarChunkDigests::Open(
        &l, entries, index.get(),
        std::make_unique<MemorySource>("M.parity", r.Get("out/M.parity")),
        &digests));
    std::unique_ptr<ParityCode> code;
    ASSERT_VALISE_OK(ParityCode::Create(4, 2, &code));
    StripeMap map(&l);
    int patterns = 0;
    for (uint32_t a = 0; a < 6; ++a) {
      for (uint32_t b = a; b < 6; ++b) {
        std::vector<bool> lost(6, false);
        lost[a] = lost[b] = true;
        EXPECT_EQ(RecoverAll(r, lost, digests.get(), *code, map), 0)
            << "seed " << seed << " lost " << a << "," << b;
        ++patterns;
      }
    }
    EXPECT_EQ(patterns, 21);
  }
}

// Goal: without parity, the pack is the files, the manifest and the chunk
// index; M.parity is its header alone.
TEST(PackJob, NoParity) {
  PackRun r(7);
  ASSERT_VALISE_OK(r.Pack(3, 0));
  EXPECT_EQ(r.plan.layout.m(), 0u);
  EXPECT_EQ(r.Get("out/M.parity").size(), kParityDigestsHeaderSize);
  EXPECT_EQ(r.summary.parity_bytes, 0u);
  for (uint32_t d = 0; d < 3; ++d) {
    for (const PackFile& f : r.plan.layout.data[d].files) {
      EXPECT_EQ(r.Get(r.plan.data_roots[d] + "/" + f.path),
                r.contents.at(f.path));
    }
  }
}

// Goal: drives that would make a wrong shipment are refused before
// anything is written: not empty (an empty lost+found is fine), two on one
// file system, one on the dataset's, too few for the parity asked.
TEST(PackJob, RefusesUnfitDrives) {
  PackRun r(3);
  PackPlan plan;
  PackOptions opt;
  opt.parity = 1;
  r.disk.AddDir("d1/lost+found");
  r.disk.AddDir("d2");
  r.disk.AddDir("p1");
  EXPECT_VALISE_OK(
      PlanPack(&r.disk, {"src"}, {"d1", "d2", "p1"}, opt, true, &plan));
  r.disk.AddFile("d2/old.txt", "x");
  Status s = PlanPack(&r.disk, {"src"}, {"d1", "d2", "p1"}, opt, true, &plan);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("d2: not empty (holds old.txt)"),
            std::string::npos)
      << s.ToString();
  r.disk.AddDir("d3/a");
  r.disk.AddDir("d3/b");
  s = PlanPack(&r.disk, {"src"}, {"d3/a", "d3/b", "p1"}, opt, true, &plan);
  EXPECT_NE(s.message().find("same file system as d3/a"), std::string::npos)
      << s.ToString();
  r.disk.AddDir("src2/empty");
  r.disk.AddFile("src2/x", "y");
  s = PlanPack(&r.disk, {"src2/empty"}, {"d1", "src2/e2"}, PackOptions(), true,
               &plan);
  EXPECT_FALSE(s.ok());
  r.disk.AddDir("src2/e2");
  s = PlanPack(&r.disk, {"src"}, {"d1", "src2/e2"}, PackOptions(), true, &plan);
  EXPECT_VALISE_OK(s);
  s = PlanPack(&r.disk, {"src", "src2"}, {"d1", "src2/e2"}, PackOptions(), true,
               &plan);
  EXPECT_NE(s.message().find("same file system as the dataset src2"),
            std::string::npos)
      << s.ToString();
  s = PlanPack(
      &r.disk, {"src"}, {"d1", "p1"},
      [] {
        PackOptions o;
        o.parity = 2;
        return o;
      }(),
      true, &plan);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  // A path in two datasets.
  r.disk.AddFile("src3/f0", "dup");
  s = PlanPack(&r.disk, {"src", "src3"}, {"d1", "p1"}, PackOptions(), true,
               &plan);
  EXPECT_NE(s.message().find("a path may be packed once"), std::string::npos)
      << s.ToString();
}

// Goal: a drive that fails its writes stops the pack with an error naming
// the file on that drive; nothing is reported as packed.
TEST(PackJob, WriteErrorStopsThePackNamingTheDrive) {
  PackRun r(5);
  SimFaults f;
  f.write_error_one_in = 1;
  r.Drives(3, 1);
  r.disk.SetFaults("d2/", f);
  Status s = r.Pack(3, 1);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_NE(s.message().find("d2/"), std::string::npos) << s.ToString();
}

// Goal: a dataset file that changed between the plan and its read is an
// error (the manifest would describe bytes that were not packed).
TEST(PackJob, SourceChangedWhilePackedIsAnError) {
  PackRun r(6);
  PackOptions opt;
  opt.parity = 1;
  opt.chunk_size = kChunk;
  ASSERT_VALISE_OK(
      PlanPack(&r.disk, {"src"}, r.Drives(2, 1), opt, true, &r.plan));
  r.disk.AddFile("src/f6", std::string(3 * kChunk, 'x'));  // was 10 chunks
  std::unique_ptr<Directory> out;
  ASSERT_VALISE_OK(r.disk.OpenDirectory("out", false, &out));
  std::unique_ptr<File> index, parity;
  ASSERT_VALISE_OK(out->CreateFile("M.chunks", WriteOptions(), &index));
  ASSERT_VALISE_OK(out->CreateFile("M.parity", WriteOptions(), &parity));
  Status s = WritePack(&r.disk, &r.plan, opt, index.get(), parity.get(),
                       &r.manifest, &r.summary);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("src/f6"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("changed while packed"), std::string::npos)
      << s.ToString();
}

// Goal: an interrupted pack stops with Aborted.
TEST(PackJob, Cancelled) {
  PackRun r(8);
  std::atomic<bool> cancel{true};
  PackOptions opt;
  opt.cancel = &cancel;
  Status s = r.Pack(2, 1, opt);
  EXPECT_TRUE(s.IsAborted()) << s.ToString();
}

}  // namespace
}  // namespace valise
