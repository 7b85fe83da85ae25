// Ingest of paths that share their bytes (whole-content dedup) when the
// path read first cannot give them: it has no good copy, it fails in the
// last pass, an earlier run committed another of the paths, or DEST fails
// while the others are placed. Regression tests for bugs 2-4 of
// docs/reliability.md ("Bugs found by the randomized and hostile tests"),
// on the simulated disk, deterministic.
#include <set>

#include "support/pipeline_util.h"
#include "support/test_util.h"
#include "valise/journal.h"
#include "valise/manifest.h"
#include "valise/pipeline.h"
#include "valise/sim_disk.h"

namespace valise {
namespace {

constexpr size_t kChunk = 64 << 10;
constexpr int kEIO = 5;

PipelineOptions SmallOptions() { return test::SmallPipelineOptions(kChunk, 2); }

IngestOptions Dedup(DedupPolicy policy) {
  IngestOptions o;
  o.dedup = policy;
  o.commit_batch = 3;
  o.depth = 4;
  return o;
}

using test::ShaXxh;

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

uint64_t BytesRead(const RunReport& r) {
  uint64_t n = 0;
  for (const DriveReport& d : r.drives) n += d.bytes_read;
  return n;
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

// Goal (bug 2): when the first of two paths with the same bytes ("a") has
// no good copy, the other ("b") is read, and "a" is then placed from it:
// both land, "a"'s unreadable copy is reported repaired from b's drive.
// A file repaired in a second pass ("c", planned first on its rotted copy)
// keeps the passes going, as in seed 20 of the randomized test.
TEST(IngestDedup, FirstPathWithoutGoodCopyPlacedFromAnother) {
  SimDisk disk(SimDiskOptions{});
  const std::string shared = test::RandomBytes(100 * 1024 + 3, 7);
  const std::string c = test::RandomBytes(3 * kChunk, 8);
  disk.AddFile("d1/a", shared, 1000);
  disk.AddFile("d2/b", shared, 1000);
  disk.AddFile("d1/c", c, 1000);
  disk.AddFile("d2/c", c, 1000);
  Manifest m = MakeOrDie(&disk, {"d1", "d2"});
  disk.AddBadRange("d1/a", 5000, 100, kEIO);
  disk.FlipStoredBit("d1/c", kChunk + 9, 2);

  RunReport r;
  ASSERT_VALISE_OK(IngestDrives(&disk, m, {"d1", "d2"}, "dest", SmallOptions(),
                                Dedup(DedupPolicy::kHardlink), &r));
  ExpectDestComplete(&disk, m, {{"a", shared}, {"b", shared}, {"c", c}});
  const FileResult* bad = Find(r, "a", FileStatus::kUnreadable);
  ASSERT_NE(bad, nullptr) << FormatSummary(r);
  EXPECT_EQ(bad->drive, 0);
  EXPECT_EQ(bad->repaired_from, 1) << FormatSummary(r);
  EXPECT_NE(Find(r, "a", FileStatus::kOk), nullptr) << FormatSummary(r);
  EXPECT_NE(Find(r, "b", FileStatus::kOk), nullptr) << FormatSummary(r);
  EXPECT_EQ(r.files_ok, 3u) << FormatSummary(r);
  EXPECT_EQ(r.ExitCode(), 1);  // d1 carried bad data
  EXPECT_EQ(JournaledPaths(&disk), (std::set<std::string>{"a", "b", "c"}));
}

// Goal (bug 2): a path that is on no drive is placed from another path
// with the same bytes, which is read instead of being reported missing.
TEST(IngestDedup, PathOnNoDrivePlacedFromAnother) {
  SimDisk disk(SimDiskOptions{});
  const std::string shared = test::RandomBytes(2 * kChunk + 1, 9);
  disk.AddFile("d1/a", shared, 1000);
  disk.AddFile("d2/b", shared, 1000);
  Manifest m = MakeOrDie(&disk, {"d1", "d2"});
  std::unique_ptr<Directory> d1;
  ASSERT_VALISE_OK(disk.OpenDirectory("d1", false, &d1));
  ASSERT_VALISE_OK(d1->Remove("a"));

  RunReport r;
  ASSERT_VALISE_OK(IngestDrives(&disk, m, {"d1", "d2"}, "dest", SmallOptions(),
                                Dedup(DedupPolicy::kReflink), &r));
  ExpectDestComplete(&disk, m, {{"a", shared}, {"b", shared}});
  EXPECT_EQ(r.files_ok, 2u) << FormatSummary(r);
  EXPECT_EQ(BytesRead(r), shared.size()) << "read once";
  EXPECT_EQ(r.ExitCode(), 0) << FormatSummary(r);
}

// Goal (bug 3): when the first path of a shared content fails in what
// would be the last pass (its only copy rotted, nothing else to read), the
// other path is still read and both are placed; nothing is dropped from
// the report (seeds 45 and 54 of the randomized test).
TEST(IngestDedup, FirstPathFailingInLastPassStillPlaced) {
  SimDisk disk(SimDiskOptions{});
  const std::string shared = test::RandomBytes(2 * kChunk + 77, 11);
  disk.AddFile("d1/sub/f11", shared, 1000);
  disk.AddFile("d2/sub/f2", shared, 1000);
  Manifest m = MakeOrDie(&disk, {"d1", "d2"});
  disk.FlipStoredBit("d1/sub/f11", 100, 0);

  RunReport r;
  ASSERT_VALISE_OK(IngestDrives(&disk, m, {"d1", "d2"}, "dest", SmallOptions(),
                                Dedup(DedupPolicy::kReflink), &r));
  ExpectDestComplete(&disk, m, {{"sub/f11", shared}, {"sub/f2", shared}});
  const FileResult* bad = Find(r, "sub/f11", FileStatus::kCorrupt);
  ASSERT_NE(bad, nullptr) << FormatSummary(r);
  EXPECT_EQ(bad->repaired_from, 1) << FormatSummary(r);
  EXPECT_NE(Find(r, "sub/f2", FileStatus::kOk), nullptr) << FormatSummary(r);
  EXPECT_NE(Find(r, "sub/f11", FileStatus::kOk), nullptr) << FormatSummary(r);
  EXPECT_EQ(r.files_ok, 2u);
  EXPECT_EQ(r.ExitCode(), 1);
}

// Goal (bug 3, nothing recoverable): when every path of a shared content
// fails, every one of them is reported, none is staged.
TEST(IngestDedup, NoGoodCopyOfSharedContentEveryPathReported) {
  SimDisk disk(SimDiskOptions{});
  const std::string shared = test::RandomBytes(kChunk + 5, 12);
  disk.AddFile("d1/a", shared, 1000);
  disk.AddFile("d2/b", shared, 1000);
  disk.AddFile("d2/c", shared, 1000);
  Manifest m = MakeOrDie(&disk, {"d1", "d2"});
  disk.FlipStoredBit("d1/a", 10, 1);
  disk.AddBadRange("d2/b", 0, 4096, kEIO);
  std::unique_ptr<Directory> d2;
  ASSERT_VALISE_OK(disk.OpenDirectory("d2", false, &d2));
  ASSERT_VALISE_OK(d2->Remove("c"));

  RunReport r;
  ASSERT_VALISE_OK(IngestDrives(&disk, m, {"d1", "d2"}, "dest", SmallOptions(),
                                Dedup(DedupPolicy::kHardlink), &r));
  EXPECT_NE(Find(r, "a", FileStatus::kCorrupt), nullptr) << FormatSummary(r);
  EXPECT_NE(Find(r, "b", FileStatus::kUnreadable), nullptr) << FormatSummary(r);
  EXPECT_NE(Find(r, "c", FileStatus::kMissing), nullptr) << FormatSummary(r);
  for (const char* p : {"a", "b", "c"}) {
    EXPECT_FALSE(disk.Exists(std::string("dest/") + p)) << p;
  }
  EXPECT_EQ(r.files_ok, 0u);
  EXPECT_EQ(r.ExitCode(), 1);
}

// The drive of CompactMissingRowsRenderTheSame, and its manifest (made
// before "a0", "e5" and "s1" went, "b2" grew and "d4" rotted), and a DEST
// holding something else under "c3".
Manifest ShipmentWithHoles(SimDisk* disk) {
  const std::string shared = test::RandomBytes(kChunk + 11, 21);
  for (const char* p : {"a0", "b1", "b2", "c3", "d4", "e5"}) {
    disk->AddFile(std::string("d1/") + p, test::RandomBytes(3000, p[1]), 1000);
  }
  disk->AddFile("d1/s1", shared, 1000);
  disk->AddFile("d1/s2", shared, 1000);
  Manifest m = MakeOrDie(disk, {"d1"});
  std::unique_ptr<Directory> d1;
  EXPECT_VALISE_OK(disk->OpenDirectory("d1", false, &d1));
  for (const char* p : {"a0", "e5", "s1"}) EXPECT_VALISE_OK(d1->Remove(p));
  disk->AddFile("d1/b2", test::RandomBytes(3001, 2), 1000);
  disk->FlipStoredBit("d1/d4", 10, 3);
  disk->AddFile("dest/c3", "not c3", 1000);
  return m;
}

// Goal: with RunReport::compact_missing (valise ingest sets it: a large
// manifest against the first drive of a shipment stays within the memory
// budget), files on no drive are held as manifest entries, not in `files`,
// and the report renders exactly as without it: the same rows in the same
// places among a size mismatch, a corrupt copy, a conflict in DEST, a
// path placed from its duplicate ("s1", not on the drive) and the files
// committed.
TEST(IngestDedup, CompactMissingRowsRenderTheSame) {
  SimDisk full_disk(SimDiskOptions{}), compact_disk(SimDiskOptions{});
  Manifest m = ShipmentWithHoles(&full_disk);
  ShipmentWithHoles(&compact_disk);
  RunReport full, compact;
  compact.compact_missing = true;
  ASSERT_VALISE_OK(IngestDrives(&full_disk, m, {"d1"}, "dest", SmallOptions(),
                                Dedup(DedupPolicy::kReflink), &full));
  ASSERT_VALISE_OK(IngestDrives(&compact_disk, m, {"d1"}, "dest",
                                SmallOptions(), Dedup(DedupPolicy::kReflink),
                                &compact));
  EXPECT_EQ(compact.num_compact_missing(), 2u);  // a0, e5
  EXPECT_EQ(full.num_compact_missing(), 0u);
  EXPECT_EQ(compact.num_files(), full.files.size());
  EXPECT_EQ(compact.dedup_bytes_saved, kChunk + 11);
  EXPECT_NE(Find(full, "a0", FileStatus::kMissing), nullptr);
  EXPECT_EQ(Find(compact, "a0", FileStatus::kMissing), nullptr);
  EXPECT_NE(Find(full, "c3", FileStatus::kCorrupt), nullptr);
  EXPECT_NE(Find(full, "b2", FileStatus::kSizeMismatch), nullptr);
  EXPECT_NE(Find(full, "d4", FileStatus::kCorrupt), nullptr);
  // Timings differ from run to run; the rest must not.
  compact.started = full.started;
  compact.seconds = full.seconds;
  for (size_t d = 0; d < full.drives.size(); ++d) {
    compact.drives[d].seconds = full.drives[d].seconds;
    compact.drives[d].bytes_per_second = full.drives[d].bytes_per_second;
  }
  EXPECT_EQ(FormatJson(compact), FormatJson(full));
  EXPECT_EQ(FormatSummary(compact), FormatSummary(full));
  EXPECT_EQ(compact.ExitCode(), 1);
}

// The first run of the resume tests: ingests "a" alone (a manifest of d1).
void IngestFirstPathAlone(SimDisk* disk, const std::string& shared) {
  disk->AddFile("d1/a", shared, 1000);
  Manifest m1 = MakeOrDie(disk, {"d1"});
  RunReport r1;
  ASSERT_VALISE_OK(IngestDrives(disk, m1, {"d1"}, "dest", SmallOptions(),
                                Dedup(DedupPolicy::kReflink), &r1));
  ASSERT_TRUE(StagedAs(disk, "a", shared));
}

// Goal (bug 2, resume): a path whose bytes an earlier run committed under
// another name ("a", in the journal) is placed from that name, not read
// from its own copy (here unreadable): nothing is read from the drives.
TEST(IngestDedup, ResumePlacesFromJournaledPath) {
  SimDisk disk(SimDiskOptions{});
  const std::string shared = test::RandomBytes(3 * kChunk - 1, 13);
  IngestFirstPathAlone(&disk, shared);
  disk.AddFile("d2/b", shared, 1000);
  Manifest m = MakeOrDie(&disk, {"d1", "d2"});
  disk.AddBadRange("d2/b", 4096, 1, kEIO);

  RunReport r;
  ASSERT_VALISE_OK(IngestDrives(&disk, m, {"d1", "d2"}, "dest", SmallOptions(),
                                Dedup(DedupPolicy::kReflink), &r));
  ExpectDestComplete(&disk, m, {{"a", shared}, {"b", shared}});
  EXPECT_EQ(r.files_skipped_resume, 1u);
  EXPECT_EQ(r.files_ok, 1u) << FormatSummary(r);
  EXPECT_EQ(BytesRead(r), 0u) << FormatSummary(r);
  EXPECT_EQ(r.ExitCode(), 0) << FormatSummary(r);
  EXPECT_EQ(JournaledPaths(&disk), (std::set<std::string>{"a", "b"}));
}

// Goal (bug 2, resume): the same when the earlier run's "a" is under its
// final name but not in the journal (a crash between rename and journal):
// "a" is checked in DEST, then "b" is placed from it; the drives are not
// read.
TEST(IngestDedup, ResumePlacesFromPathFoundInPlace) {
  SimDisk disk(SimDiskOptions{});
  const std::string shared = test::RandomBytes(3 * kChunk - 1, 14);
  IngestFirstPathAlone(&disk, shared);
  std::unique_ptr<Directory> dest;
  ASSERT_VALISE_OK(disk.OpenDirectory("dest", false, &dest));
  ASSERT_VALISE_OK(dest->Remove(".valise/journal"));
  disk.AddFile("d2/b", shared, 1000);
  Manifest m = MakeOrDie(&disk, {"d1", "d2"});
  disk.AddBadRange("d2/b", 4096, 1, kEIO);

  RunReport r;
  ASSERT_VALISE_OK(IngestDrives(&disk, m, {"d1", "d2"}, "dest", SmallOptions(),
                                Dedup(DedupPolicy::kHardlink), &r));
  ExpectDestComplete(&disk, m, {{"a", shared}, {"b", shared}});
  EXPECT_EQ(r.files_ok, 2u) << FormatSummary(r);
  EXPECT_EQ(r.drives[0].bytes_read + r.drives[1].bytes_read, 0u)
      << FormatSummary(r);
  EXPECT_EQ(r.ExitCode(), 0) << FormatSummary(r);
  EXPECT_EQ(JournaledPaths(&disk), (std::set<std::string>{"a", "b"}));
}

// Goal (bug 4): when the directory of a placed duplicate cannot be synced,
// the run stops as DEST trouble (an error, exit 2) instead of returning OK
// with the duplicate in DEST, unjournaled and unreported; the rerun checks
// it in place and finishes.
TEST(IngestDedup, DuplicateDirectorySyncFailureStopsRun) {
  // A DEST synced directory by directory: a syncfs covers the whole file
  // system, so one directory's fsync cannot fail on its own.
  SimDiskOptions o;
  o.syncfs = false;
  SimDisk disk(o);
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

// Goal: where DEST trusts syncfs, a clone is sealed by a syncfs before it
// gets its name, like a file read from a drive. A crash that keeps every
// name made (a journaling file system may commit names ahead of data) after
// a syncfs failed finds no clone under its final name without its bytes;
// the rerun finishes. Clones named before a syncfs sealed them failed here.
TEST(IngestDedup, ClonesSealedBeforeNamedWithSyncFs) {
  std::vector<std::pair<std::string, std::string>> files;
  for (int i = 0; i < 6; ++i) {
    const std::string data = test::RandomBytes(kChunk / 2 + i * 999, 40 + i);
    for (const char* dir : {"", "dups/", "more/"}) {
      files.push_back({std::string(dir) + "f" + std::to_string(i), data});
    }
  }
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    SimDiskOptions o;
    o.seed = seed;
    o.names_ahead_of_data = true;
    SimDisk disk(o);
    for (const auto& [rel, data] : files) disk.AddFile("d1/" + rel, data);
    Manifest m = MakeOrDie(&disk, {"d1"});
    SimFaults f;
    f.sync_error_one_in = 2 + seed % 3;
    disk.SetFaults("dest/", f);
    RunReport r;
    IngestDrives(&disk, m, {"d1"}, "dest", SmallOptions(),
                 Dedup(DedupPolicy::kReflink), &r)
        .PermitUncheckedError();  // a failed syncfs stops it
    disk.Crash();
    for (const auto& [rel, data] : files) {
      std::string got;
      if (disk.GetFile("dest/" + rel, &got)) {
        EXPECT_TRUE(got == data)
            << rel << " is wrong under its final name (" << got.size() << " of "
            << data.size() << " bytes)";
      }
    }
    disk.SetFaults("dest/", SimFaults{});
    RunReport r2;
    ASSERT_VALISE_OK(IngestDrives(&disk, m, {"d1"}, "dest", SmallOptions(),
                                  Dedup(DedupPolicy::kReflink), &r2));
    ExpectDestComplete(&disk, m, files);
  }
}

}  // namespace
}  // namespace valise
