#include "valise/pack_job.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "support/test_util.h"
#include "valise/chunk_index_v2.h"
#include "valise/drives.h"
#include "valise/manifest.h"
#include "valise/pack_state.h"
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
    Defaults(m, &opt);
    VALISE_RETURN_IF_ERROR(
        PlanPack(&disk, {"src"}, Drives(k, m), opt, true, &plan));
    return Write(opt, nullptr);
  }

  static void Defaults(uint32_t m, PackOptions* opt) {
    opt->parity = m;
    opt->chunk_size = kChunk;
    if (opt->window == 0) opt->window = 3;
    if (opt->threads == 0) opt->threads = 2;
  }

  // WritePack into out/M.chunks and out/M.parity, kept as they are (a
  // resumed pack writes on).
  Status Write(const PackOptions& opt, const PackResume* resume) {
    std::unique_ptr<Directory> out;
    VALISE_RETURN_IF_ERROR(disk.OpenDirectory("out", false, &out));
    std::unique_ptr<File> index, parity;
    WriteOptions wo;
    wo.exclusive = false;
    wo.truncate = false;
    VALISE_RETURN_IF_ERROR(out->CreateFile("M.chunks", wo, &index));
    VALISE_RETURN_IF_ERROR(out->CreateFile("M.parity", wo, &parity));
    VALISE_RETURN_IF_ERROR(out->SyncDir(""));  // as PackState does
    return WritePack(&disk, &plan, opt, resume, index.get(), parity.get(),
                     &manifest, &summary);
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

// Everything a pack must leave: every file whole on its drive with its
// mode and mtime; the manifest's digests; the chunk index; each parity
// file's SHA-256 as the layout records it; parity that rebuilds every
// file after the loss of any two drives (m >= 2), checked against the
// written sidecars.
void ExpectWholePack(PackRun& r, const std::string& what, bool one_run = true) {
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
  if (one_run) {
    EXPECT_EQ(r.summary.files, r.contents.size());
  }
  for (size_t e = 0; e < r.manifest.size(); ++e) {
    const std::string& c = r.contents.at(std::string(r.manifest.path(e)));
    EXPECT_EQ(r.manifest.file_size(e), c.size());
    for (DigestType t : r.manifest.digests().Types()) {
      EXPECT_EQ(r.manifest.digest(e, t), DigestOf(t, c));
    }
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
      EXPECT_EQ(
          got,
          Sha256Of(reinterpret_cast<const uint8_t*>(c.data()) + i * kChunk, n));
    }
  }
  // Each parity file's SHA-256, as the layout records it.
  for (uint32_t j = 0; j < l.m(); ++j) {
    for (const ParitySegment& s : l.parity[j].segments) {
      const std::string p = r.Get(r.plan.parity_roots[j] + "/" + s.path);
      EXPECT_EQ(p.size(), s.stripes * kChunk);
      EXPECT_EQ(Sha256Of(reinterpret_cast<const uint8_t*>(p.data()), p.size()),
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
  ASSERT_VALISE_OK(ParityCode::Create(static_cast<int>(l.k()),
                                      static_cast<int>(l.m()), &code));
  StripeMap map(&l);
  int patterns = 0;
  const uint32_t n = l.k() + l.m();
  for (uint32_t a = 0; a < n; ++a) {
    for (uint32_t b = l.m() >= 2 ? a : n; b < n; ++b) {
      std::vector<bool> lost(n, false);
      lost[a] = lost[b] = true;
      EXPECT_EQ(RecoverAll(r, lost, digests.get(), *code, map), 0)
          << what << ": lost " << a << "," << b;
      ++patterns;
    }
  }
  if (l.m() >= 2) {
    EXPECT_EQ(patterns, int(n * (n + 1) / 2)) << what;
  }
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
    ExpectWholePack(r, "seed " + std::to_string(seed));
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
  Status s = WritePack(&r.disk, &r.plan, opt, nullptr, index.get(),
                       parity.get(), &r.manifest, &r.summary);
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

// The checkpoints a journal would hold, and the resume point they give.
struct Journal {
  std::vector<PackCheckpoint> checkpoints;

  PackResume Resume(const PackPlan& plan) const {
    PackResume r;
    r.files.assign(plan.entry_paths.size(), std::nullopt);
    r.segments.assign(plan.layout.m(), {});
    for (uint32_t j = 0; j < plan.layout.m(); ++j) {
      r.segments[j].assign(plan.layout.parity[j].segments.size(), std::nullopt);
    }
    for (const PackCheckpoint& c : checkpoints) {
      r.stripes_done = c.stripes;
      for (const PackCheckpoint::File& f : c.files) r.files[f.entry] = f;
      for (const PackCheckpoint::Segment& g : c.segments) {
        r.segments[g.drive][g.segment] = g.sha256;
      }
    }
    return r;
  }
};

// An interrupted pack of 4+2 with a checkpoint every 2 stripes and parity
// files of 3 stripes (so the resume point falls inside some): the writer
// stops when `stop` (called at each checkpoint with its count) says so,
// by returning an error (a crash) or by setting the cancel flag (a
// signal).
struct Interrupted {
  Interrupted(uint64_t seed,
              std::function<Status(int, std::atomic<bool>*)> stop)
      : r(seed) {
    PackRun::Defaults(2, &opt);
    opt.checkpoint_bytes = 2 * 4 * kChunk;
    opt.segment_bytes = 3 * kChunk;
    opt.cancel = &cancel;
    opt.checkpoint = [this, stop](const PackCheckpoint& c) {
      Status s = stop(++calls, &cancel);
      if (s.ok()) journal.checkpoints.push_back(c);
      return s;
    };
    drives = r.Drives(4, 2);
    EXPECT_TRUE(PlanPack(&r.disk, {"src"}, drives, opt, true, &r.plan).ok());
    planned = r.plan.layout;
    first = r.Write(opt, nullptr);
  }

  // Plans again from the layout the interrupted run began with and writes
  // the rest.
  Status Resume() {
    PackOptions again = opt;
    again.cancel = nullptr;
    again.checkpoint = nullptr;
    VALISE_RETURN_IF_ERROR(
        PlanResume(&r.disk, {"src"}, drives, planned, again, &r.plan));
    resume = journal.Resume(r.plan);
    return r.Write(again, &resume);
  }

  PackRun r;
  PackOptions opt;
  std::atomic<bool> cancel{false};
  Journal journal;
  int calls = 0;
  std::vector<std::string> drives;
  PackLayout planned;
  PackResume resume;
  Status first;
};

// Goal: a pack cut short after a checkpoint (an error at the third
// checkpoint, then, in half the runs, a power cut that loses whatever was
// not made durable) resumes from its last journaled checkpoint and leaves
// exactly what an uninterrupted pack leaves: every file whole, every
// digest right, parity that rebuilds any two lost drives.
TEST(PackJob, ResumesFromTheLastCheckpointAfterACrash) {
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    for (bool power_cut : {false, true}) {
      Interrupted run(seed, [](int n, std::atomic<bool>*) {
        return n == 3 ? Status::IOError("test: cut here") : Status::OK();
      });
      EXPECT_TRUE(run.first.IsIOError()) << run.first.ToString();
      ASSERT_EQ(run.journal.checkpoints.size(), 2u);
      if (power_cut) run.r.disk.Crash();
      ASSERT_VALISE_OK(run.Resume());
      // Checkpoints come once 2 stripes more have retired (in order): at
      // 2 or more, then at 4 or more.
      EXPECT_GE(run.resume.stripes_done, 4u);
      EXPECT_EQ(run.resume.stripes_done, run.journal.checkpoints[1].stripes);
      ExpectWholePack(run.r, "seed " + std::to_string(seed) +
                                 (power_cut ? " power cut" : ""));
    }
  }
}

// Goal: a signal stops admitting stripes, lets those in flight finish,
// takes a checkpoint of all of them and returns Aborted; the pack then
// resumes from that checkpoint.
TEST(PackJob, InterruptedBySignalResumes) {
  Interrupted run(4, [](int n, std::atomic<bool>* cancel) {
    if (n == 2) cancel->store(true);
    return Status::OK();
  });
  EXPECT_TRUE(run.first.IsAborted()) << run.first.ToString();
  EXPECT_NE(run.first.message().find("run the same command again"),
            std::string::npos);
  ASSERT_GE(run.journal.checkpoints.size(), 3u);  // 2, then the final one
  const uint64_t saved = run.journal.checkpoints.back().stripes;
  // The stripes in flight at the signal retire before the last checkpoint;
  // there may be none (the writes of every admitted stripe may all have
  // completed by then: it depends on the threads' timing).
  EXPECT_GE(saved, run.journal.checkpoints[1].stripes);
  EXPECT_LT(saved, run.planned.stripes);
  ASSERT_VALISE_OK(run.Resume());
  EXPECT_EQ(run.resume.stripes_done, saved);
  ExpectWholePack(run.r, "signal");
}

// Goal: a resume refuses a dataset that changed since the pack began: a
// file added, or a file being written when it stopped whose bytes differ
// now (its chunks are checked against the chunk index as it is read
// again).
TEST(PackJob, ResumeRefusesAChangedDataset) {
  Interrupted run(5, [](int n, std::atomic<bool>*) {
    return n == 3 ? Status::IOError("test: cut here") : Status::OK();
  });
  ASSERT_EQ(run.journal.checkpoints.size(), 2u);
  run.r.disk.AddFile("src/new-file", "x");
  Status s = run.Resume();
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("new-file is in the dataset but was not"),
            std::string::npos)
      << s.ToString();
  std::unique_ptr<Directory> src;
  ASSERT_VALISE_OK(run.r.disk.OpenDirectory("src", false, &src));
  ASSERT_VALISE_OK(src->Remove("new-file"));
  // A file straddling the resume point, changed in its first chunk.
  StripeMap map(&run.planned);
  std::string changed;
  for (uint32_t d = 0; d < 4 && changed.empty(); ++d) {
    ChunkRef at;
    if (map.Locate(d, run.journal.checkpoints.back().stripes, &at) &&
        at.chunk > 0) {
      changed = run.planned.data[d].files[at.file].path;
    }
  }
  ASSERT_FALSE(changed.empty());
  run.r.disk.FlipStoredBit("src/" + changed, 5, 0);
  s = run.Resume();
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("changed since the interrupted pack"),
            std::string::npos)
      << s.ToString();
}

// RunPackJob on r's disk as `valise pack -o out/M` runs it, with a
// checkpoint every 2 stripes and parity files of 3 stripes.
Status PackJobOnDisk(PackRun& r, PackJobResult* result) {
  PackOptions opt;
  PackRun::Defaults(2, &opt);
  opt.checkpoint_bytes = 2 * 4 * kChunk;
  opt.segment_bytes = 3 * kChunk;
  return RunPackJob(&r.disk, {"src"}, r.Drives(4, 2), "out/M", opt,
                    "2026-12-06T04:00:00Z", result);
}

// A prober answering from a table (source -> identity).
class FakeProber final : public DriveProber {
 public:
  std::map<std::string, DriveIdentity> ids;
  Status Identify(const std::string& source, DriveIdentity* out) override {
    auto it = ids.find(source);
    if (it == ids.end()) return Status::NotFound(source, "no such drive");
    *out = it->second;
    return Status::OK();
  }
};

// Goal (issue 18, drive identity): a pack writes M.drives and binds it, as
// `valise manifest` does: each drive (4 data, 2 parity) with its identity,
// label and place in the layout; each data drive holding exactly its
// layout files (as manifest runs), the parity drives none; ingest's
// matching then finds each drive by identity wherever it is mounted. A
// drive given twice (same file system) is refused before anything is
// written.
TEST(PackJob, WritesDriveIdentityForIngestAndStatus) {
  PackRun r(7);
  FakeProber prober;
  const std::vector<std::string> drives = r.Drives(4, 2);
  for (size_t i = 0; i < drives.size(); ++i) {
    DriveIdentity& id = prober.ids[drives[i]];
    id.whole = true;
    id.fs_uuid = "uuid-" + std::to_string(i);
    id.fs_type = "ext4";
    id.serial = "SER" + std::to_string(i);
    if (i != 2) id.fs_label = "ship-0" + std::to_string(i + 1);
  }
  PackOptions opt;
  PackRun::Defaults(2, &opt);
  opt.prober = &prober;
  PackJobResult res;
  ASSERT_VALISE_OK(RunPackJob(&r.disk, {"src"}, drives, "out/M", opt,
                              "2026-12-06T04:00:00Z", &res));
  Manifest m;
  ASSERT_VALISE_OK(
      ParseManifest(r.Get("out/M"), "out/M", ManifestFormat::kAuto, &m));
  ASSERT_NE(m.binding(kDrivesSidecar), nullptr);
  ShipmentDrives got;
  ASSERT_VALISE_OK(LoadShipmentDrives(&r.disk, "out/M", m, &got));
  ASSERT_EQ(got.drives.size(), 6u);
  EXPECT_EQ(got.entries, m.size());
  const PackLayout& l = res.plan.layout;
  std::vector<int> seen(m.size(), 0);
  for (size_t i = 0; i < 6; ++i) {
    const ShipmentDrive& d = got.drives[i];
    EXPECT_EQ(d.id.fs_uuid, "uuid-" + std::to_string(i));
    EXPECT_EQ(d.id.serial, "SER" + std::to_string(i));
    EXPECT_EQ(d.label, i == 2 ? "d3" : "ship-0" + std::to_string(i + 1));
    EXPECT_EQ(d.source, drives[i]);
    if (i >= 4) {
      EXPECT_EQ(d.pack_role, PackRole::kParity);
      EXPECT_EQ(d.pack_index, i - 3);
      EXPECT_TRUE(d.runs.empty());
      continue;
    }
    EXPECT_EQ(d.pack_role, PackRole::kData);
    EXPECT_EQ(d.pack_index, i + 1);
    EXPECT_EQ(d.files, l.data[i].files.size());
    EXPECT_EQ(d.bytes, l.data[i].bytes);
    for (const auto& [first, count] : d.runs) {
      for (uint64_t e = first; e < first + count; ++e) {
        ++seen[e];
        bool in_layout = false;
        for (const PackFile& f : l.data[i].files)
          in_layout = in_layout || f.path == m.path(e);
        EXPECT_TRUE(in_layout) << m.path(e) << " on drive " << i;
      }
    }
  }
  for (size_t e = 0; e < m.size(); ++e) EXPECT_EQ(seen[e], 1) << m.path(e);
  // At the datacenter, mounted elsewhere and given in another order.
  std::vector<int> drive_of;
  ASSERT_VALISE_OK(MatchShipmentDrives(got, {"/media/x", "/media/y"},
                                       {prober.ids["p2"], prober.ids["d3"]},
                                       &drive_of));
  EXPECT_EQ(drive_of, (std::vector<int>{5, 2}));

  // One file system given twice: refused before anything is written.
  PackRun twice(7);
  FakeProber same = prober;
  std::vector<std::string> d2 = twice.Drives(4, 2);
  same.ids["d2"] = same.ids["d1"];
  opt.prober = &same;
  Status s = RunPackJob(&twice.disk, {"src"}, d2, "out/M", opt,
                        "2026-12-06T04:00:00Z", &res);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("is the same drive as d1"), std::string::npos)
      << s.ToString();
  EXPECT_FALSE(twice.disk.Exists("out/M.pack"));
}

// What a pack leaves beside M and on its drives, for comparison.
std::map<std::string, std::string> Shipment(PackRun& r, const PackLayout& l) {
  std::map<std::string, std::string> out;
  for (const char* f : {"out/M", "out/M.chunks", "out/M.parity", "out/M.layout",
                        "out/M.drives"}) {
    out[f] = r.Get(f);
  }
  for (uint32_t j = 0; j < l.m(); ++j) {
    for (const ParitySegment& s : l.parity[j].segments) {
      const std::string p = "p" + std::to_string(j + 1) + "/" + s.path;
      out[p] = r.Get(p);
    }
  }
  return out;
}

// Goal (issue 18: resumable after a crash): the power is cut at a seeded
// write or sync of a pack (SimDisk::CrashAfter: while its state is
// created, between or during checkpoints, while it is sealed) and the same
// pack run again (RunPackJob, as `valise pack` runs it) resumes from the
// journal's last checkpoint; it rewrites none of the stripes made durable
// before (it writes fewer bytes than a whole pack, by at least theirs),
// and leaves exactly what an uninterrupted pack leaves: M, M.chunks,
// M.parity, M.layout and the parity files byte for byte, every data file
// whole with its mode and mtime, parity that rebuilds any two lost drives;
// no state directory, no marker.
TEST(PackJob, PowerCutAtSeededPointsResumesToTheSameShipment) {
  std::mt19937_64 rng(20261206);
  int crashed = 0, deep = 0;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    // The uninterrupted pack, and how many writes and syncs it makes.
    PackRun ref(seed);
    PackJobResult whole;
    const SimDisk::Stats before = ref.disk.stats();
    ASSERT_VALISE_OK(PackJobOnDisk(ref, &whole));
    const SimDisk::Stats after = ref.disk.stats();
    const uint64_t ops =
        after.writes + after.syncs - before.writes - before.syncs;
    const uint64_t whole_bytes = after.bytes_written - before.bytes_written;
    const std::map<std::string, std::string> want =
        Shipment(ref, whole.plan.layout);
    for (int cut = 0; cut < 3; ++cut) {
      const uint64_t at = std::uniform_int_distribution<uint64_t>(1, ops)(rng);
      const std::string what =
          "seed " + std::to_string(seed) + " cut at op " + std::to_string(at);
      PackRun r(seed);
      PackJobResult first;
      r.disk.CrashAfter(at);
      Status s = PackJobOnDisk(r, &first);
      r.disk.CrashAfter(0);
      if (r.disk.stats().crashes == 0) {
        // The cut fell past the last operation.
        ASSERT_TRUE(s.ok()) << what << ": " << s.ToString();
      } else {
        ++crashed;
        EXPECT_FALSE(s.ok()) << what;
        const uint64_t b0 = r.disk.stats().bytes_written;
        PackJobResult again;
        s = PackJobOnDisk(r, &again);
        ASSERT_TRUE(s.ok()) << what << ": " << s.ToString();
        const uint64_t resumed_bytes = r.disk.stats().bytes_written - b0;
        // What the stripes durable before the cut hold: every parity
        // chunk of theirs, and the data of the files finished in them
        // (a file straddling the resume point is written again).
        const PackLayout& l = again.plan.layout;
        StripeMap map(&l);
        uint64_t kept = again.resumed_at * l.m() * kChunk;
        for (uint32_t d = 0; d < l.k(); ++d) {
          for (uint32_t f = 0; f < l.data[d].files.size(); ++f) {
            const uint64_t size = l.data[d].files[f].size;
            const uint64_t chunks = (size + kChunk - 1) / kChunk;
            if (chunks > 0 &&
                map.StripeOf(d, f, chunks - 1) < again.resumed_at) {
              kept += size;
            }
          }
        }
        // The slack: the chunk index written whole again, journal lines.
        EXPECT_LE(resumed_bytes + kept, whole_bytes + 16384)
            << what << ": resumed at stripe " << again.resumed_at;
        if (again.resumed_at >= 2) ++deep;
        r.plan = again.plan;
      }
      EXPECT_FALSE(r.disk.Exists("out/M.pack")) << what;
      for (const std::string& d : r.Drives(4, 2)) {
        EXPECT_FALSE(r.disk.Exists(d + "/" + std::string(kPackMarker)))
            << what << " " << d;
      }
      if (r.disk.stats().crashes == 0) r.plan = first.plan;
      EXPECT_TRUE(Shipment(r, r.plan.layout) == want) << what;
      s = ParseManifest(r.Get("out/M"), "out/M", ManifestFormat::kAuto,
                        &r.manifest);
      ASSERT_TRUE(s.ok()) << what << ": " << s.ToString();
      ExpectWholePack(r, what, /*one_run=*/false);
    }
  }
  // The seeded points reached both early cuts and resumes deep in a pack.
  EXPECT_GE(crashed, 10);
  EXPECT_GE(deep, 3);
}

}  // namespace
}  // namespace valise
