// Ingest of paths that share their bytes (whole-content dedup) when the
// path read first cannot give them: it has no good copy, it fails in the
// last pass, an earlier run committed another of the paths, or DEST fails
// while the others are placed. Regression tests for bugs 2-4 of
// docs/reliability.md ("Bugs found by the randomized and hostile tests"),
// on the simulated disk, deterministic.
#include <set>

#include "support/test_util.h"
#include "valise/journal.h"
#include "valise/manifest.h"
#include "valise/pipeline.h"
#include "valise/sim_disk.h"

namespace valise {
namespace {

constexpr size_t kChunk = 64 << 10;
constexpr int kEIO = 5;

PipelineOptions SmallOptions() {
  PipelineOptions opt;
  opt.chunk_size = kChunk;
  opt.threads = 2;
  opt.depth = 4;
  opt.engine.retries = 2;
  opt.engine.io_timeout_us = 5'000'000;
  return opt;
}

IngestOptions Dedup(DedupPolicy policy) {
  IngestOptions o;
  o.dedup = policy;
  o.commit_batch = 3;
  o.depth = 4;
  return o;
}

DigestSet ShaXxh() {
  DigestSet d;
  d.Add(DigestType::kSha256);
  d.Add(DigestType::kXxh128);
  return d;
}

Manifest MakeOrDie(SimDisk* disk, const std::vector<std::string>& drives) {
  Manifest m;
  ManifestSummary summary;
  Status s = MakeManifest(disk, drives, ShaXxh(), SmallOptions(), &m, nullptr,
                          &summary);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return m;
}

// True if DEST holds `rel` with exactly `want`.
bool StagedAs(SimDisk* disk, const std::string& rel, const std::string& want) {
  std::string got;
  return disk->GetFile("dest/" + rel, &got) && got == want;
}

std::set<std::string> JournaledPaths(SimDisk* disk) {
  std::set<std::string> out;
  std::string data;
  if (!disk->GetFile("dest/.valise/journal", &data)) return out;
  std::vector<JournalRecord> records;
  uint64_t valid = 0;
  EXPECT_VALISE_OK(DecodeJournal(data, &records, &valid));
  for (const JournalRecord& r : records) {
    if (r.type == JournalRecord::Type::kCommit) out.insert(r.path);
  }
  return out;
}

const FileResult* Find(const RunReport& r, std::string_view path,
                       FileStatus status) {
  for (const FileResult& f : r.files) {
    if (f.path == path && f.status == status) return &f;
  }
  return nullptr;
}

// Every manifest path is in DEST, right, and `valise verify` of DEST agrees.
void ExpectDestComplete(
    SimDisk* disk, const Manifest& m,
    const std::vector<std::pair<std::string, std::string>>& files) {
  for (const auto& [rel, data] : files) {
    EXPECT_TRUE(StagedAs(disk, rel, data)) << rel << " not staged right";
  }
  RunReport v;
  ASSERT_VALISE_OK(
      VerifyDrives(disk, m, nullptr, {"dest"}, SmallOptions(), &v));
  EXPECT_EQ(v.files_ok, files.size()) << FormatSummary(v);
}

// Goal (bug 4): when the directory of a placed duplicate cannot be synced,
// the run stops as DEST trouble (an error, exit 2) instead of returning OK
// with the duplicate in DEST, unjournaled and unreported; the rerun checks
// it in place and finishes.
TEST(IngestDedup, DuplicateDirectorySyncFailureStopsRun) {
  SimDisk disk(SimDiskOptions{});
  const std::string shared = test::RandomBytes(kChunk + 300, 15);
  disk.AddFile("d1/a", shared, 1000);
  disk.AddFile("d1/dups/b", shared, 1000);
  Manifest m = MakeOrDie(&disk, {"d1"});
  SimFaults sync_fails;
  sync_fails.sync_error_one_in = 1;
  disk.SetFaults("dest/dups/", sync_fails);  // only "b"'s directory

  RunReport r;
  Status s = IngestDrives(&disk, m, {"d1"}, "dest", SmallOptions(),
                          Dedup(DedupPolicy::kHardlink), &r);
  EXPECT_FALSE(s.ok()) << "b is not durable, yet the run returned OK\n"
                       << FormatSummary(r);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_EQ(r.ExitCode(), 2) << FormatSummary(r);
  EXPECT_EQ(Find(r, "dups/b", FileStatus::kOk), nullptr)
      << "reported ok though not durable";
  EXPECT_EQ(JournaledPaths(&disk).count("dups/b"), 0u);
  EXPECT_TRUE(StagedAs(&disk, "a", shared));

  disk.SetFaults("dest/dups/", SimFaults{});
  RunReport r2;
  ASSERT_VALISE_OK(IngestDrives(&disk, m, {"d1"}, "dest", SmallOptions(),
                                Dedup(DedupPolicy::kHardlink), &r2));
  ExpectDestComplete(&disk, m, {{"a", shared}, {"dups/b", shared}});
  EXPECT_EQ(r2.ExitCode(), 0) << FormatSummary(r2);
  EXPECT_EQ(JournaledPaths(&disk), (std::set<std::string>{"a", "dups/b"}));
}

}  // namespace
}  // namespace valise
