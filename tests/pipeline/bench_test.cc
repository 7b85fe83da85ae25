// Tests of valise bench (src/pipeline/bench.cc) on real temporary
// directories: every measurement present and positive, the bottleneck
// model, the JSON schema, and the promises about the file systems: the
// sources are untouched, DEST is left as it was found, on success and on
// interruption.
#include "valise/bench.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/test_util.h"
#include "valise/sim_disk.h"

namespace valise {
namespace {

namespace fsys = std::filesystem;
using json = nlohmann::ordered_json;

constexpr uint64_t kMiB = 1 << 20;

// Everything observable about a tree: each entry's type, size, content
// and mtime (nanoseconds).
struct Entry {
  bool dir = false;
  std::string data;
  int64_t mtime_ns = 0;
  bool operator==(const Entry& o) const {
    return dir == o.dir && data == o.data && mtime_ns == o.mtime_ns;
  }
};

std::map<std::string, Entry> Snapshot(const std::string& root) {
  std::map<std::string, Entry> out;
  for (const auto& e : fsys::recursive_directory_iterator(root)) {
    Entry en;
    struct stat st;
    EXPECT_EQ(lstat(e.path().c_str(), &st), 0) << e.path();
    en.mtime_ns =
        int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    en.dir = S_ISDIR(st.st_mode);
    if (!en.dir) {
      std::ifstream in(e.path(), std::ios::binary);
      en.data.assign(std::istreambuf_iterator<char>(in), {});
    }
    out[fsys::relative(e.path(), root).string()] = std::move(en);
  }
  return out;
}

std::vector<std::string> Listing(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fsys::directory_iterator(dir)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Two drives with a few files each, and a DEST holding one file of its
// own.
struct Drives {
  test::TempDir tmp;
  std::string d1, d2, dest;
  uint64_t bytes = 0;
  size_t files = 0;

  Drives() {
    d1 = tmp.path() + "/d1";
    d2 = tmp.path() + "/d2";
    dest = tmp.path() + "/dest";
    Add("d1/big.bin", 3 * kMiB + 123, 1);
    Add("d1/sub/mid.bin", kMiB, 2);
    Add("d1/sub/small.txt", 5000, 3);
    Add("d2/a.bin", 2 * kMiB, 4);
    Add("d2/deep/er/b.bin", 700 * 1024 + 1, 5);
    tmp.Write("d2/empty", "");
    tmp.Write("dest/keep.txt", "already here");
  }
  void Add(const std::string& rel, size_t n, uint64_t seed) {
    tmp.Write(rel, test::RandomBytes(n, seed));
    bytes += n;
    ++files;
  }
};

BenchOptions QuickOptions(const Drives& s) {
  BenchOptions o;
  o.sources = {s.d1, s.d2};
  o.dest = s.dest;
  // The reads run out of data long before this (7 MiB): every read sees
  // all of it. DEST's write always takes this long.
  o.seconds = 1.5;
  o.hash_seconds = 0.05;
  o.pipeline.threads = 2;
  return o;
}

// A quick run on the simulated disk: the drive `drive`, DEST /dest.
BenchOptions QuickSimOptions(const std::string& drive) {
  BenchOptions o;
  o.sources = {drive};
  o.dest = "/dest";
  o.seconds = 0.5;
  o.hash_seconds = 0.02;
  o.pipeline.threads = 1;
  return o;
}

// Goal: on real directories every number is there and positive, the
// pipeline wrote every byte, the bottleneck is the smallest limit and is
// named, DEST is exactly as before and the sources are byte-identical
// with the same mtimes.
TEST(Bench, MeasuresEveryStageAndLeavesNoTrace) {
  Drives s;
  auto src_before = Snapshot(s.tmp.path() + "/d1");
  auto src2_before = Snapshot(s.tmp.path() + "/d2");
  auto dest_before = Snapshot(s.dest);
  std::vector<std::string> phases;
  BenchOptions o = QuickOptions(s);
  o.on_phase = [&](const std::string& p) { phases.push_back(p); };

  BenchReport r;
  ASSERT_VALISE_OK(RunBench(FileSystem::Default(), o, &r));

  ASSERT_EQ(r.drives.size(), 2u);
  EXPECT_EQ(r.drives[0].kind, "directory");
  EXPECT_EQ(r.drives[0].files, 3u);
  EXPECT_EQ(r.drives[1].files, 2u);  // the empty file has nothing to read
  uint64_t alone = 0;
  for (const BenchDrive& d : r.drives) {
    EXPECT_TRUE(d.errors.empty()) << d.source << ": " << d.errors[0];
    EXPECT_GT(d.alone.rate(), 0) << d.source;
    EXPECT_GT(d.together.rate(), 0) << d.source;
    alone += d.alone.bytes;
  }
  EXPECT_EQ(alone, s.bytes);  // all of it, largest files first
  EXPECT_EQ(r.read_together.bytes, s.bytes);
  EXPECT_GT(r.read_together.rate(), 0);

  ASSERT_EQ(r.hashes.size(), size_t(kNumDigestTypes));
  for (const BenchHash& h : r.hashes) {
    EXPECT_GT(h.rate_one, 0) << DigestName(h.type);
    EXPECT_GT(h.rate_all, 0) << DigestName(h.type);
    EXPECT_EQ(h.threads, 2u);
  }

  ASSERT_TRUE(r.has_dest);
  EXPECT_TRUE(r.dest_errors.empty()) << r.dest_errors[0];
  EXPECT_GT(r.dest_write.rate(), 0);
  ASSERT_TRUE(r.has_pipeline);
  EXPECT_TRUE(r.pipeline_errors.empty()) << r.pipeline_errors[0];
  EXPECT_EQ(r.pipeline_files, s.files);
  EXPECT_EQ(r.pipeline_bytes_read, s.bytes);
  // O_DIRECT writes a file's tail as a whole block.
  EXPECT_GE(r.pipeline.bytes, s.bytes);
  EXPECT_LT(r.pipeline.bytes, s.bytes + s.files * 4096);
  EXPECT_GT(r.pipeline.rate(), 0);

  EXPECT_GT(r.limit_drives, 0);
  EXPECT_GT(r.limit_hash, 0);
  EXPECT_GT(r.limit_dest, 0);
  EXPECT_DOUBLE_EQ(r.predicted_rate,
                   std::min({r.limit_drives, r.limit_hash, r.limit_dest}));
  EXPECT_NE(r.bottleneck, BottleneckKind::kNone);
  EXPECT_EQ(r.bottleneck_text.rfind("bottleneck: ", 0), 0u)
      << r.bottleneck_text;
  EXPECT_NE(r.bottleneck_text.find("limits the ingest to"), std::string::npos);
  EXPECT_FALSE(r.queue.empty());
  EXPECT_GE(phases.size(), 5u);

  EXPECT_EQ(Snapshot(s.dest), dest_before) << "DEST changed";
  EXPECT_EQ(Listing(s.dest), std::vector<std::string>{"keep.txt"});
  EXPECT_EQ(Snapshot(s.tmp.path() + "/d1"), src_before) << "a source changed";
  EXPECT_EQ(Snapshot(s.tmp.path() + "/d2"), src2_before) << "a source changed";
}

// Goal: an image file is one drive read raw, from its start to its end.
TEST(Bench, ImageFileIsReadRaw) {
  test::TempDir tmp;
  const size_t size = 4 * kMiB + 512;
  tmp.Write("disk.img", test::RandomBytes(size, 9));
  BenchOptions o;
  o.sources = {tmp.path() + "/disk.img"};
  o.seconds = 3;
  o.hash_seconds = 0.02;
  BenchReport r;
  ASSERT_VALISE_OK(RunBench(FileSystem::Default(), o, &r));
  ASSERT_EQ(r.drives.size(), 1u);
  EXPECT_EQ(r.drives[0].kind, "image");
  EXPECT_EQ(r.drives[0].files, 1u);
  EXPECT_EQ(r.drives[0].alone.bytes, size);
  // One drive: "together" is the same measurement.
  EXPECT_EQ(r.read_together.bytes, size);
  EXPECT_FALSE(r.has_dest);
  EXPECT_FALSE(r.has_pipeline);
  EXPECT_EQ(r.limit_dest, 0);
  EXPECT_NE(r.bottleneck, BottleneckKind::kNone);
}

// Goal: a drive that cannot be read is reported with its error, the
// others are still measured, and the report says there were errors.
TEST(Bench, UnreadableDriveIsReportedOthersMeasured) {
  Drives s;
  BenchOptions o = QuickOptions(s);
  o.sources = {s.tmp.path() + "/no-such-drive", s.d1};
  o.dest.clear();
  BenchReport r;
  ASSERT_VALISE_OK(RunBench(FileSystem::Default(), o, &r));
  ASSERT_EQ(r.drives.size(), 2u);
  ASSERT_FALSE(r.drives[0].errors.empty());
  EXPECT_NE(r.drives[0].errors[0].find("no-such-drive"), std::string::npos);
  EXPECT_EQ(r.drives[0].alone.bytes, 0u);
  EXPECT_GT(r.drives[1].alone.rate(), 0);
  EXPECT_TRUE(r.HasErrors());
  // Only d1 counts towards the drives' limit.
  EXPECT_DOUBLE_EQ(r.limit_drives, r.drives[1].alone.rate());
  if (r.bottleneck == BottleneckKind::kDrive) {
    EXPECT_EQ(r.bottleneck_subject, s.d1);
  }
}

// Goal: a DEST that does not exist is an error naming it, and it is not
// created; no readable drive at all is an error too.
TEST(Bench, MissingDestOrNoDriveIsTrouble) {
  Drives s;
  BenchOptions o = QuickOptions(s);
  o.dest = s.tmp.path() + "/nowhere/dest";
  BenchReport r;
  Status st = RunBench(FileSystem::Default(), o, &r);
  EXPECT_TRUE(st.IsNotFound()) << st.ToString();
  EXPECT_NE(st.message().find("nowhere"), std::string::npos);
  EXPECT_NE(st.message().find("DEST does not exist: create it"),
            std::string::npos)
      << st.ToString();
  EXPECT_FALSE(fsys::exists(s.tmp.path() + "/nowhere"));

  BenchOptions o2 = QuickOptions(s);
  o2.dest.clear();
  o2.sources = {s.tmp.path() + "/missing1"};
  BenchReport r2;
  EXPECT_FALSE(RunBench(FileSystem::Default(), o2, &r2).ok());
}

// Goal: the whole pipeline's time includes making what it wrote durable,
// as ingest makes every file before naming it: one syncfs of DEST, or,
// where syncfs is not trusted, an fdatasync of each file it wrote. (On a
// disk DEST whose page cache took the writes, the rate without it was
// twice the ingest's.) On the simulated disk, which counts syncs.
TEST(Bench, WholePipelineMakesItsWritesDurable) {
  for (bool syncfs : {true, false}) {
    SCOPED_TRACE(syncfs ? "syncfs" : "file by file");
    SimDiskOptions so;
    so.syncfs = syncfs;
    so.capacity_bytes = 64 * kMiB;  // DEST's write measures 32 MiB at most
    SimDisk disk(so);
    const int kFiles = 5;
    for (int i = 0; i < kFiles; ++i) {
      disk.AddFile("/d1/f" + std::to_string(i),
                   test::RandomBytes(kMiB + 1000 * i, 40 + i));
    }
    disk.AddDir("/dest");
    const BenchOptions o = QuickSimOptions("/d1");
    BenchReport r;
    ASSERT_TRUE(RunBench(&disk, o, &r).ok());
    ASSERT_TRUE(r.has_pipeline);
    EXPECT_TRUE(r.pipeline_errors.empty()) << r.pipeline_errors[0];
    EXPECT_EQ(r.pipeline_files, static_cast<uint64_t>(kFiles));
    const SimDisk::Stats st = disk.stats();
    if (syncfs) {
      EXPECT_GE(st.syncfs, 1u);
    } else {
      // DEST's write measurement syncs its one file; the pipeline, each.
      EXPECT_GE(st.file_syncs, 1u + kFiles);
    }
  }
}

// Goal: the pipeline is measured on the space DEST's write measurement
// gave back, also where the file system frees a removed file's blocks
// after statfs was asked (xfs, in the background): it reads every byte,
// as DEST has room for all of it, and no note says it was cut short.
TEST(Bench, PipelineGetsTheSpaceDestsMeasurementFreed) {
  // The drive and DEST share the disk's 64 MiB: the drive's 20 MiB leave
  // 44 free, DEST's write measures half (22 MiB) and removes it. Until the
  // removal shows, 22 MiB are free, of which the pipeline may use half:
  // 11 MiB, not the drive's 20.
  SimDiskOptions so;
  so.capacity_bytes = 64 * kMiB;
  so.free_space_lag = 3;
  SimDisk disk(so);
  const int kFiles = 5;
  for (int i = 0; i < kFiles; ++i) {
    disk.AddFile("/d1/f" + std::to_string(i),
                 test::RandomBytes(4 * kMiB, 60 + i));
  }
  disk.AddDir("/dest");
  const BenchOptions o = QuickSimOptions("/d1");
  BenchReport r;
  ASSERT_TRUE(RunBench(&disk, o, &r).ok());
  EXPECT_EQ(r.dest_write.bytes, 22 * kMiB);
  ASSERT_TRUE(r.has_pipeline);
  EXPECT_EQ(r.pipeline_bytes_read, kFiles * 4 * kMiB);
  EXPECT_EQ(r.pipeline_files, static_cast<uint64_t>(kFiles));
  for (const std::string& note : r.notes) {
    EXPECT_EQ(note.find("room"), std::string::npos) << note;
  }
}

// Goal: DEST without a drive measures the hashes and DEST only (no
// pipeline), and leaves DEST as it was; neither a drive nor DEST is
// trouble.
TEST(Bench, DestWithoutDrives) {
  Drives s;
  const auto before = Snapshot(s.dest);
  BenchOptions o = QuickOptions(s);
  o.sources.clear();
  o.seconds = 0.3;
  BenchReport r;
  Status st = RunBench(FileSystem::Default(), o, &r);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(r.drives.empty());
  EXPECT_FALSE(r.hashes.empty());
  EXPECT_GT(r.dest_write.bytes, 0u);
  EXPECT_FALSE(r.has_pipeline);
  EXPECT_EQ(r.bottleneck == BottleneckKind::kDest ||
                r.bottleneck == BottleneckKind::kHash,
            true);
  EXPECT_EQ(Snapshot(s.dest), before);
  EXPECT_EQ(FormatBenchTable(r).find("drives "), std::string::npos);

  o.dest.clear();
  BenchReport r2;
  EXPECT_TRUE(RunBench(FileSystem::Default(), o, &r2).IsInvalidArgument());
}

// Goal: interrupted during DEST's write, or during the pipeline, the run
// returns Aborted and DEST is left exactly as it was.
TEST(Bench, InterruptedRunCleansDest) {
  for (const char* when : {"writing to", "whole pipeline"}) {
    SCOPED_TRACE(when);
    Drives s;
    auto dest_before = Snapshot(s.dest);
    std::atomic<bool> cancel{false};
    BenchOptions o = QuickOptions(s);
    o.pipeline.cancel = &cancel;
    o.on_phase = [&](const std::string& p) {
      if (p.rfind(when, 0) == 0) cancel = true;
    };
    BenchReport r;
    Status st = RunBench(FileSystem::Default(), o, &r);
    EXPECT_TRUE(st.IsAborted()) << st.ToString();
    EXPECT_EQ(Snapshot(s.dest), dest_before);
  }
}

BenchReport ModelReport(double a, double b, double together, double sha,
                        double xxh, double dest) {
  BenchReport r;
  BenchDrive d1, d2;
  d1.source = "/mnt/fast";
  d1.alone = BenchRate{uint64_t(a), 1.0};
  d2.source = "/mnt/slow";
  d2.alone = BenchRate{uint64_t(b), 1.0};
  r.drives = {d1, d2};
  r.read_together = BenchRate{uint64_t(together), 1.0};
  r.hash_threads = 2;
  BenchHash hs{DigestType::kSha256, sha / 2, sha, 2};
  BenchHash hx{DigestType::kXxh128, xxh / 2, xxh, 2};
  r.hashes = {hs, hx};
  if (dest > 0) {
    r.has_dest = true;
    r.dest = "/srv/stage";
    r.dest_write = BenchRate{uint64_t(dest), 1.0};
  }
  return r;
}

// Goal: the model of docs/bench.md: drives = min(N x slowest alone, all at
// once); hash = sha256 and xxh128 times added; the smallest limit is the
// bottleneck, named in the exact sentence the operator reads; a manifest
// gets a predicted time.
TEST(Bench, BottleneckModel) {
  // The slow drive: 2 x 100 MB/s = 200 MB/s < 290 together.
  BenchReport r = ModelReport(300e6, 100e6, 290e6, 1000e6, 10000e6, 500e6);
  r.manifest_bytes = 1'000'000'000;
  ComputeBottleneck(&r);
  EXPECT_DOUBLE_EQ(r.limit_drives, 200e6);
  EXPECT_NEAR(r.limit_hash, 1.0 / (1.0 / 1000e6 + 1.0 / 10000e6), 1);
  EXPECT_DOUBLE_EQ(r.limit_dest, 500e6);
  EXPECT_EQ(r.bottleneck, BottleneckKind::kDrive);
  EXPECT_EQ(r.bottleneck_subject, "/mnt/slow");
  EXPECT_DOUBLE_EQ(r.predicted_rate, 200e6);
  EXPECT_DOUBLE_EQ(r.predicted_seconds, 5.0);
  EXPECT_EQ(r.bottleneck_text,
            "bottleneck: drive /mnt/slow at 100.0 MB/s limits the ingest to "
            "200.0 MB/s (2 drives)");

  // Reading both at once is slower than twice the slowest: that limits.
  r = ModelReport(300e6, 100e6, 150e6, 1000e6, 10000e6, 500e6);
  ComputeBottleneck(&r);
  EXPECT_EQ(r.bottleneck, BottleneckKind::kDrives);
  EXPECT_DOUBLE_EQ(r.predicted_rate, 150e6);
  EXPECT_NE(r.bottleneck_text.find("reading all 2 drives at once at 150.0 "
                                   "MB/s limits the ingest to 150.0 MB/s"),
            std::string::npos)
      << r.bottleneck_text;

  // DEST slower than everything.
  r = ModelReport(300e6, 100e6, 290e6, 1000e6, 10000e6, 50e6);
  ComputeBottleneck(&r);
  EXPECT_EQ(r.bottleneck, BottleneckKind::kDest);
  EXPECT_EQ(r.bottleneck_text,
            "bottleneck: DEST /srv/stage writing at 50.0 MB/s limits the "
            "ingest to 50.0 MB/s");

  // Hashing: 100 + 100 MB/s per byte in turn = 50 MB/s.
  r = ModelReport(300e6, 100e6, 290e6, 100e6, 100e6, 500e6);
  ComputeBottleneck(&r);
  EXPECT_EQ(r.bottleneck, BottleneckKind::kHash);
  EXPECT_DOUBLE_EQ(r.predicted_rate, 50e6);
  EXPECT_EQ(r.bottleneck_text,
            "bottleneck: hashing sha256+xxh128 on 2 cores at 50.0 MB/s "
            "limits the ingest to 50.0 MB/s");
  // A manifest binding a chunk index: the chunk digests decide, so ingest
  // hashes each chunk with SHA-256 and computes no whole-file digest:
  // SHA-256 alone: 80 MB/s (with the whole-file digests, 80 and 100 in
  // turn, it would be 44.4).
  r = ModelReport(300e6, 100e6, 290e6, 80e6, 100e6, 500e6);
  r.chunk_sha256 = true;
  ComputeBottleneck(&r);
  EXPECT_EQ(r.bottleneck, BottleneckKind::kHash);
  EXPECT_DOUBLE_EQ(r.predicted_rate, 80e6);
  EXPECT_EQ(r.bottleneck_text,
            "bottleneck: hashing sha256 of each chunk on 2 cores at 80.0 "
            "MB/s limits the ingest to 80.0 MB/s");

  // The cores hash and also copy what is read and written: 100 MB/s of
  // hashing (sha256 + xxh128 on 2 cores), reading costs 0.5 s of CPU per
  // 100 MB and writing 1.5 s, over 2 cores: 1 / (1/100 + (0.5 + 1.5)/100/2)
  // = 50 MB/s.
  r = ModelReport(300e6, 100e6, 290e6, 200e6, 200e6, 500e6);
  r.read_together.cpu_seconds = 0.5 * 290e6 / 100e6;
  r.dest_write.cpu_seconds = 1.5 * 500e6 / 100e6;
  ComputeBottleneck(&r);
  EXPECT_EQ(r.bottleneck, BottleneckKind::kHash);
  EXPECT_NEAR(r.limit_hash, 50e6, 1);
  EXPECT_EQ(r.bottleneck_text,
            "bottleneck: hashing sha256+xxh128 (beside reading and writing) "
            "on 2 cores at 50.0 MB/s limits the ingest to 50.0 MB/s");

  // Nothing read: no bottleneck can be named, and no time predicted.
  BenchReport empty;
  empty.manifest_bytes = 10;
  ComputeBottleneck(&empty);
  EXPECT_EQ(empty.bottleneck, BottleneckKind::kNone);
  EXPECT_EQ(empty.predicted_seconds, 0);
  EXPECT_EQ(empty.bottleneck_text.rfind("bottleneck: ", 0), 0u);
}

std::vector<std::string> Keys(const json& j) {
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  return keys;
}

// Goal: the JSON schema "valise-bench/1" keeps its keys, in order, with
// the types docs/bench.md gives, for a full report and one without DEST.
TEST(Bench, JsonSchemaIsStable) {
  BenchReport r = ModelReport(300e6, 100e6, 290e6, 1000e6, 10000e6, 500e6);
  r.started = "2026-11-28T22:00:00Z";
  r.chunk_size = kMiB;
  r.has_pipeline = true;
  r.pipeline = BenchRate{250000000, 1.0};  // faster than the model
  r.manifest = "m.vm";
  r.manifest_bytes = 1000;
  r.manifest_files = 3;
  r.drives[0].errors.push_back("bad\xff");  // not UTF-8: replaced, not thrown
  ComputeBottleneck(&r);
  json j = json::parse(FormatBenchJson(r));
  EXPECT_EQ(Keys(j), (std::vector<std::string>{"schema",
                                               "version",
                                               "started",
                                               "seconds",
                                               "seconds_per_test",
                                               "chunk_size",
                                               "depth",
                                               "queue",
                                               "drives",
                                               "read_together",
                                               "hashes",
                                               "chunk_sha256",
                                               "dest",
                                               "pipeline",
                                               "limits",
                                               "predicted_rate_bytes_per_s",
                                               "bottleneck",
                                               "model_rate_bytes_per_s",
                                               "manifest",
                                               "notes",
                                               "untrusted"}));
  EXPECT_EQ(j["schema"], "valise-bench/1");
  EXPECT_TRUE(j["depth"].is_null());
  ASSERT_EQ(j["drives"].size(), 2u);
  EXPECT_EQ(Keys(j["drives"][0]),
            (std::vector<std::string>{"source", "kind", "files", "direct",
                                      "alone", "together", "errors"}));
  EXPECT_EQ(Keys(j["drives"][0]["alone"]),
            (std::vector<std::string>{"bytes", "seconds", "rate_bytes_per_s",
                                      "cpu_seconds"}));
  EXPECT_EQ(j["drives"][1]["alone"]["rate_bytes_per_s"], 100000000);
  EXPECT_EQ(Keys(j["hashes"][0]),
            (std::vector<std::string>{"digest", "threads", "rate_one_core",
                                      "rate_all_cores"}));
  EXPECT_EQ(j["hashes"][0]["digest"], "sha256");
  EXPECT_EQ(Keys(j["dest"]),
            (std::vector<std::string>{"bytes", "seconds", "rate_bytes_per_s",
                                      "cpu_seconds", "path", "direct", "errors",
                                      "s3"}));
  EXPECT_TRUE(j["dest"]["s3"].is_null());  // a directory DEST
  EXPECT_EQ(Keys(j["pipeline"]),
            (std::vector<std::string>{"bytes", "seconds", "rate_bytes_per_s",
                                      "cpu_seconds", "bytes_read", "files",
                                      "digests", "errors"}));
  EXPECT_EQ(j["pipeline"]["digests"], json::array({"sha256", "xxh128"}));
  EXPECT_NE(FormatBenchTable(r).find("pipeline (read, sha256+xxh128, write"),
            std::string::npos);
  // Bound to a chunk index, the pipeline hashes each chunk with SHA-256
  // alone, as ingest does, and says so.
  {
    BenchReport c = r;
    c.chunk_sha256 = true;
    ComputeBottleneck(&c);
    EXPECT_EQ(json::parse(FormatBenchJson(c))["pipeline"]["digests"],
              json::array({"sha256"}));
    EXPECT_NE(
        FormatBenchTable(c).find("pipeline (read, sha256 of each chunk, write"),
        std::string::npos);
  }
  EXPECT_EQ(Keys(j["limits"]),
            (std::vector<std::string>{"drives", "hash", "dest"}));
  EXPECT_EQ(j["limits"]["drives"], 200000000);
  EXPECT_EQ(j["predicted_rate_bytes_per_s"], 200000000);
  EXPECT_EQ(Keys(j["bottleneck"]),
            (std::vector<std::string>{"kind", "subject", "rate_bytes_per_s",
                                      "text", "remedy"}));
  EXPECT_EQ(j["bottleneck"]["kind"], "drive");
  EXPECT_EQ(j["bottleneck"]["subject"], "/mnt/slow");
  EXPECT_EQ(j["bottleneck"]["text"], r.bottleneck_text);
  EXPECT_EQ(Keys(j["manifest"]),
            (std::vector<std::string>{"path", "files", "bytes",
                                      "predicted_seconds"}));
  EXPECT_EQ(j["manifest"]["predicted_seconds"], 1000 / 200e6);

  // Without DEST, pipeline and manifest: nulls, keys still there.
  BenchReport bare = ModelReport(300e6, 100e6, 290e6, 1000e6, 10000e6, 0);
  ComputeBottleneck(&bare);
  json b = json::parse(FormatBenchJson(bare));
  EXPECT_EQ(Keys(b), Keys(j));
  EXPECT_TRUE(b["dest"].is_null());
  EXPECT_TRUE(b["pipeline"].is_null());
  EXPECT_TRUE(b["manifest"].is_null());
  EXPECT_TRUE(b["limits"]["dest"].is_null());
}

// Goal: the table names every drive and digest and ends with the
// bottleneck line, so `valise bench ... | tail -1` answers the question.
TEST(Bench, TableEndsWithBottleneck) {
  BenchReport r = ModelReport(300e6, 100e6, 290e6, 1000e6, 10000e6, 500e6);
  r.manifest = "m.vm";
  r.manifest_files = 2;
  r.manifest_bytes = 2'000'000'000;
  ComputeBottleneck(&r);
  std::string t = FormatBenchTable(r);
  EXPECT_NE(t.find("/mnt/fast"), std::string::npos);
  EXPECT_NE(t.find("/mnt/slow"), std::string::npos);
  EXPECT_NE(t.find("sha256"), std::string::npos);
  EXPECT_NE(t.find("predicted ingest time 10.0s"), std::string::npos) << t;
  ASSERT_FALSE(t.empty());
  EXPECT_EQ(t.back(), '\n');
  // The bottleneck, then the step against it.
  EXPECT_EQ(t.substr(t.size() - r.bottleneck_text.size() - r.remedy.size() - 2),
            r.bottleneck_text + "\n" + r.remedy + "\n");
  EXPECT_EQ(r.remedy.rfind("next: more drives at once on this host: each "
                           "adds about 100.0 MB/s",
                           0),
            0u)
      << r.remedy;
}

// Goal: the whole pipeline, measured for long enough and slower than
// every stage apart, is the prediction and the bottleneck (the model
// alone promised more than an ingest gets); measured on too little data,
// it is listed as untrusted and the model stands.
TEST(Bench, SlowerWholePipelineIsThePrediction) {
  BenchReport r = ModelReport(300e6, 100e6, 290e6, 1000e6, 10000e6, 500e6);
  r.has_pipeline = true;
  r.pipeline = BenchRate{uint64_t(60e6), 2.0};  // 30 MB/s over 2 s
  r.manifest_bytes = 300'000'000;
  ComputeBottleneck(&r);
  EXPECT_EQ(r.bottleneck, BottleneckKind::kPipeline);
  EXPECT_DOUBLE_EQ(r.predicted_rate, 30e6);
  EXPECT_DOUBLE_EQ(r.model_rate, 200e6);
  EXPECT_DOUBLE_EQ(r.predicted_seconds, 10.0);
  EXPECT_EQ(r.bottleneck_text,
            "bottleneck: the whole pipeline measured 30.0 MB/s, below its "
            "slowest stage apart (200.0 MB/s): the stages slow each other "
            "down on this host");
  EXPECT_EQ(r.remedy.rfind("next: more cores", 0), 0u) << r.remedy;
  EXPECT_TRUE(r.untrusted.empty());
  EXPECT_NE(FormatBenchTable(r).find("predicted ingest rate: 30.0 MB/s (the "
                                     "whole pipeline, measured; the stages "
                                     "apart allow 200.0 MB/s)"),
            std::string::npos)
      << FormatBenchTable(r);

  r.pipeline = BenchRate{uint64_t(3e6), 0.1};  // ran out of data
  ComputeBottleneck(&r);
  EXPECT_EQ(r.bottleneck, BottleneckKind::kDrive);
  EXPECT_DOUBLE_EQ(r.predicted_rate, 200e6);
  ASSERT_EQ(r.untrusted.size(), 1u);
  EXPECT_EQ(r.untrusted[0].rfind("the whole pipeline: ", 0), 0u)
      << r.untrusted[0];
}

// Goal: every bottleneck comes with one concrete step against it.
TEST(Bench, EveryBottleneckHasARemedy) {
  struct Case {
    BenchReport r;
    BottleneckKind kind;
    const char* starts;
  };
  std::vector<Case> cases = {
      {ModelReport(300e6, 100e6, 290e6, 1000e6, 10000e6, 500e6),
       BottleneckKind::kDrive, "next: more drives at once"},
      {ModelReport(300e6, 100e6, 150e6, 1000e6, 10000e6, 500e6),
       BottleneckKind::kDrives, "next: spread the drives over more"},
      {ModelReport(300e6, 100e6, 290e6, 100e6, 100e6, 500e6),
       BottleneckKind::kHash,
       "next: more hashing cores (each adds about "
       "25.0 MB/s)"},
      {ModelReport(300e6, 100e6, 290e6, 1000e6, 10000e6, 50e6),
       BottleneckKind::kDest,
       "next: a faster DEST (the drives and hashing "
       "allow 200.0 MB/s)"},
      {BenchReport{}, BottleneckKind::kNone, "next: see the errors above"},
  };
  for (Case& c : cases) {
    ComputeBottleneck(&c.r);
    EXPECT_EQ(c.r.bottleneck, c.kind) << c.r.bottleneck_text;
    EXPECT_EQ(c.r.remedy.rfind(c.starts, 0), 0u) << c.r.remedy;
  }
}

// Goal: a digest slower on every core than on one, and a drive whose data
// ran out within a second, are listed as measurements not to trust.
TEST(Bench, UntrustworthyMeasurementsAreFlagged) {
  BenchReport r = ModelReport(300e6, 100e6, 290e6, 1000e6, 10000e6, 500e6);
  r.drives[1].alone = BenchRate{uint64_t(320 * 1024), 0.02};
  r.hashes.push_back(BenchHash{DigestType::kMd5, 265e6, 193e6, 2});
  ComputeBottleneck(&r);
  ASSERT_EQ(r.untrusted.size(), 2u);
  EXPECT_EQ(r.untrusted[0].rfind("drive /mnt/slow alone: 320.0 KiB in ", 0), 0u)
      << r.untrusted[0];
  EXPECT_NE(r.untrusted[0].find("too little data"), std::string::npos);
  EXPECT_EQ(r.untrusted[1].rfind("md5 hashed 193.0 MB/s on 2 threads, less "
                                 "than on one (265.0 MB/s)",
                                 0),
            0u)
      << r.untrusted[1];
  std::string t = FormatBenchTable(r);
  EXPECT_NE(t.find("untrusted: md5 hashed"), std::string::npos) << t;
}

}  // namespace
}  // namespace valise
