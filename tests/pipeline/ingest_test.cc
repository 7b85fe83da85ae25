// Pipeline tests of ingest on the simulated disk: staging, repair from
// another copy, resume, dedup, hostile DEST, and crashes at random moments.
#include <algorithm>

#include "support/pipeline_util.h"
#include "support/test_util.h"
#include "valise/journal.h"
#include "valise/manifest.h"
#include "valise/pipeline.h"
#include "valise/sim_disk.h"

namespace valise {
namespace {

constexpr size_t kChunk = 64 << 10;

PipelineOptions SmallOptions() { return test::SmallPipelineOptions(kChunk, 2); }

IngestOptions SmallIngest() {
  IngestOptions o;
  o.commit_batch = 3;
  o.depth = 4;
  return o;
}

using test::ShaXxh;

struct Dataset {
  std::vector<std::pair<std::string, std::string>> files;  // rel, data
};

// d1: a, shared/s, dir/deep/c; d2: b, shared/s (a second copy), dup1 and
// dup2 (one content under two names).
Dataset MakeDataset() {
  Dataset ds;
  ds.files = {
      {"a", test::RandomBytes(300 * 1024 + 17, 1)},
      {"b", test::RandomBytes(kChunk, 3)},
      {"dir/deep/c", test::RandomBytes(1000, 4)},
      {"dup1", test::RandomBytes(2 * kChunk + 5, 9)},
      {"dup2", test::RandomBytes(2 * kChunk + 5, 9)},
      {"empty", ""},
      {"shared/s", test::RandomBytes(5 * kChunk, 2)},
  };
  return ds;
}

void Populate(SimDisk* disk, const Dataset& ds) {
  for (const auto& [rel, data] : ds.files) {
    if (rel == "b" || rel == "dup1" || rel == "dup2") {
      disk->AddFile("d2/" + rel, data, 1000);
    } else if (rel == "shared/s") {
      disk->AddFile("d1/" + rel, data, 1000);
      disk->AddFile("d2/" + rel, data, 1000);
    } else {
      disk->AddFile("d1/" + rel, data, 1000);
    }
  }
}

Manifest MakeOrDie(SimDisk* disk) {
  Manifest m;
  ManifestSummary summary;
  Status s = MakeManifest(disk, {"d1", "d2"}, ShaXxh(), SmallOptions(), &m,
                          nullptr, &summary);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return m;
}

// Every file under its final name in DEST is whole and right.
void ExpectNoBadFinalFile(SimDisk* disk, const Dataset& ds) {
  for (const auto& [rel, data] : ds.files) {
    std::string got;
    if (disk->GetFile("dest/" + rel, &got)) {
      EXPECT_EQ(got.size(), data.size()) << rel;
      EXPECT_TRUE(got == data) << rel << " differs under its final name";
    }
  }
}

// Every commit record in the journal names a file that is under its final
// name, whole and right.
void ExpectJournalTrue(SimDisk* disk, const Dataset& ds) {
  std::string data;
  if (!disk->GetFile("dest/.valise/journal", &data)) return;
  std::vector<JournalRecord> records;
  uint64_t valid = 0;
  ASSERT_VALISE_OK(DecodeJournal(data, &records, &valid));
  for (const JournalRecord& r : records) {
    if (r.type != JournalRecord::Type::kCommit) continue;
    std::string got;
    ASSERT_TRUE(disk->GetFile("dest/" + r.path, &got))
        << "journal holds " << r.path << " but DEST does not";
    bool found = false;
    for (const auto& [rel, want] : ds.files) {
      if (rel == r.path) {
        found = true;
        EXPECT_TRUE(got == want) << "journal holds a wrong " << r.path;
      }
    }
    EXPECT_TRUE(found) << r.path;
  }
}

void ExpectAllStaged(SimDisk* disk, const Dataset& ds) {
  for (const auto& [rel, data] : ds.files) {
    std::string got;
    ASSERT_TRUE(disk->GetFile("dest/" + rel, &got)) << rel << " missing";
    EXPECT_TRUE(got == data) << rel;
  }
  std::vector<DirEntry> staging;
  ASSERT_VALISE_OK(disk->ListDir("dest/.valise/staging", &staging));
  EXPECT_TRUE(staging.empty()) << staging.size() << " temporary files left";
}

const FileResult* Find(const RunReport& r, std::string_view path,
                       FileStatus status) {
  for (const FileResult& f : r.files) {
    if (f.path == path && f.status == status) return &f;
  }
  return nullptr;
}

// Goal: every file lands under its name, verified, with no temporary file
// left; the report lists each with its digests; verify of DEST passes.
TEST(IngestPipeline, StagesEverything) {
  SimDisk disk(SimDiskOptions{});
  Dataset ds = MakeDataset();
  Populate(&disk, ds);
  Manifest m = MakeOrDie(&disk);
  RunReport r;
  ASSERT_VALISE_OK(IngestDrives(&disk, m, {"d1", "d2"}, "dest", SmallOptions(),
                                SmallIngest(), &r));
  ExpectAllStaged(&disk, ds);
  EXPECT_EQ(r.files_ok, ds.files.size());
  EXPECT_EQ(r.ExitCode(), 0) << FormatSummary(r);
  const FileResult* a = Find(r, "a", FileStatus::kOk);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->digests.size(), 2u);

  RunReport v;
  ASSERT_VALISE_OK(
      VerifyDrives(&disk, m, nullptr, {"dest"}, SmallOptions(), &v));
  EXPECT_EQ(v.files_ok, ds.files.size()) << FormatSummary(v);
}

// Goal: a corrupt copy is discarded and the file is staged from the other
// drive's copy, reported as repaired.
TEST(IngestPipeline, RepairsFromAnotherDrive) {
  SimDisk disk(SimDiskOptions{});
  Dataset ds = MakeDataset();
  Populate(&disk, ds);
  Manifest m = MakeOrDie(&disk);
  // shared/s is the largest file, planned first, on d1 (least loaded).
  disk.FlipStoredBit("d1/shared/s", 2 * kChunk + 1, 4);
  RunReport r;
  ASSERT_VALISE_OK(IngestDrives(&disk, m, {"d1", "d2"}, "dest", SmallOptions(),
                                SmallIngest(), &r));
  ExpectAllStaged(&disk, ds);
  const FileResult* c = Find(r, "shared/s", FileStatus::kCorrupt);
  ASSERT_NE(c, nullptr) << FormatSummary(r);
  EXPECT_EQ(c->drive, 0);
  EXPECT_EQ(c->repaired_from, 1);
}

// Goal (issue 14): ingest names the first bad chunk of a corrupt copy as
// verify does: without signed chunk digests, by comparing it with the good
// copy read from another drive.
TEST(IngestPipeline, NamesTheFirstBadChunkAsVerifyDoes) {
  SimDisk disk(SimDiskOptions{});
  Dataset ds = MakeDataset();
  Populate(&disk, ds);
  Manifest m = MakeOrDie(&disk);
  disk.FlipStoredBit("d1/shared/s", 2 * kChunk + 1, 4);
  RunReport v;
  ASSERT_VALISE_OK(
      VerifyDrives(&disk, m, nullptr, {"d1", "d2"}, SmallOptions(), &v));
  const FileResult* vc = Find(v, "shared/s", FileStatus::kCorrupt);
  ASSERT_NE(vc, nullptr) << FormatSummary(v);
  EXPECT_EQ(vc->first_bad_offset, int64_t{2 * kChunk});
  RunReport r;
  ASSERT_VALISE_OK(IngestDrives(&disk, m, {"d1", "d2"}, "dest", SmallOptions(),
                                SmallIngest(), &r));
  const FileResult* c = Find(r, "shared/s", FileStatus::kCorrupt);
  ASSERT_NE(c, nullptr) << FormatSummary(r);
  EXPECT_EQ(c->repaired_from, 1);
  EXPECT_EQ(c->first_bad_offset, vc->first_bad_offset) << FormatSummary(r);
  EXPECT_NE(FormatSummary(r).find("corrupt at offset 131072 (chunk 2)"),
            std::string::npos)
      << FormatSummary(r);
}

// Goal (issue 14): verify and ingest list the files of one run in the same
// order: the files on no drive, then those found wrong by reading, each in
// manifest order, then extra, then skipped (ingest listed skipped before
// extra, and its read failures in the order reads finished).
TEST(IngestPipeline, ListsFilesAsVerifyDoes) {
  SimDisk disk(SimDiskOptions{});
  Dataset ds = MakeDataset();
  Populate(&disk, ds);
  Manifest m = MakeOrDie(&disk);
  disk.FlipStoredBit("d1/a", 1000, 2);         // a's only copy
  disk.FlipStoredBit("d1/dir/deep/c", 10, 2);  // read sooner: smaller
  disk.AddFile("d1/zz-extra", "not in the manifest", 1000);
  disk.AddSymlink("d1/a-link", "a");
  auto problems = [](const RunReport& r) {
    std::vector<std::string> out;
    for (const FileResult& f : r.files) {
      if (f.status == FileStatus::kOk) continue;
      out.push_back(std::string(FileStatusName(f.status)) + " " + f.path);
    }
    return out;
  };
  RunReport v;  // only d1: b, dup1 and dup2 (on d2 alone) are missing
  ASSERT_VALISE_OK(VerifyDrives(&disk, m, nullptr, {"d1"}, SmallOptions(), &v));
  RunReport r;
  ASSERT_VALISE_OK(IngestDrives(&disk, m, {"d1"}, "dest", SmallOptions(),
                                SmallIngest(), &r));
  const std::vector<std::string> want = problems(v);
  ASSERT_GE(want.size(), 6u) << FormatSummary(v);
  EXPECT_EQ(want.front(), "missing b");
  EXPECT_EQ(want[3], "corrupt a");
  EXPECT_EQ(want[4], "corrupt dir/deep/c");
  EXPECT_EQ(problems(r), want) << FormatSummary(r);
  // ingest's own rows, the files committed, come last, in manifest order.
  std::vector<std::string> ok;
  for (const FileResult& f : r.files) {
    if (f.status == FileStatus::kOk) ok.push_back(f.path);
  }
  EXPECT_TRUE(std::is_sorted(ok.begin(), ok.end()));
  EXPECT_EQ(r.files.back().status, FileStatus::kOk);
}

// Goal: a rerun after a complete ingest reads nothing and changes nothing.
TEST(IngestPipeline, RerunSkipsCommitted) {
  SimDisk disk(SimDiskOptions{});
  Dataset ds = MakeDataset();
  Populate(&disk, ds);
  Manifest m = MakeOrDie(&disk);
  RunReport r1, r2;
  ASSERT_VALISE_OK(IngestDrives(&disk, m, {"d1", "d2"}, "dest", SmallOptions(),
                                SmallIngest(), &r1));
  ASSERT_VALISE_OK(IngestDrives(&disk, m, {"d1", "d2"}, "dest", SmallOptions(),
                                SmallIngest(), &r2));
  EXPECT_EQ(r2.files_skipped_resume, ds.files.size());
  uint64_t read = 0;
  for (const DriveReport& d : r2.drives) read += d.bytes_read;
  EXPECT_EQ(read, 0u);
  EXPECT_EQ(r2.ExitCode(), 0);
}

// Goal: one content under two names is read once and cloned.
TEST(IngestPipeline, DuplicatesCloned) {
  SimDisk disk(SimDiskOptions{});
  Dataset ds = MakeDataset();
  Populate(&disk, ds);
  Manifest m = MakeOrDie(&disk);
  RunReport r;
  ASSERT_VALISE_OK(IngestDrives(&disk, m, {"d1", "d2"}, "dest", SmallOptions(),
                                SmallIngest(), &r));
  ExpectAllStaged(&disk, ds);
  EXPECT_EQ(r.dedup_bytes_saved, 2 * kChunk + 5);
  uint64_t read = 0;
  for (const DriveReport& d : r.drives) read += d.bytes_read;
  uint64_t total = 0;
  for (const auto& f : ds.files) total += f.second.size();
  EXPECT_EQ(read, total - (2 * kChunk + 5));
}

// Goal: a symlink planted in DEST is never followed: the file under it is
// refused, nothing is written outside DEST.
TEST(IngestPipeline, SymlinkInDestNeverFollowed) {
  SimDisk disk(SimDiskOptions{});
  Dataset ds = MakeDataset();
  Populate(&disk, ds);
  Manifest m = MakeOrDie(&disk);
  disk.AddDir("outside");
  disk.AddSymlink("dest/dir", "../outside");
  RunReport r;
  Status s = IngestDrives(&disk, m, {"d1", "d2"}, "dest", SmallOptions(),
                          SmallIngest(), &r);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_FALSE(disk.Exists("outside/deep/c"));
  EXPECT_FALSE(disk.Exists("outside/deep"));
  EXPECT_EQ(r.ExitCode(), 1) << FormatSummary(r);
  std::string got;
  ASSERT_TRUE(disk.GetFile("dest/a", &got));  // the rest landed
}

// Goal (issue 12, item 1): a manifest path that would land in DEST/.valise
// (valise's journal, lock and staging) is refused before DEST is created or
// a drive read; under --bag's "data/" it is an ordinary path.
TEST(IngestPipeline, ManifestPathInStateDirRefused) {
  SimDisk disk(SimDiskOptions{});
  disk.AddFile("d1/.valise/notes/keep", "x\n", 1000);  // not state: listed
  disk.AddFile("d1/n", "y\n", 1000);
  Manifest m;
  ManifestSummary summary;
  ASSERT_VALISE_OK(MakeManifest(&disk, {"d1"}, ShaXxh(), SmallOptions(), &m,
                                nullptr, &summary));
  ASSERT_EQ(m.size(), 2u);
  RunReport r;
  r.manifest = "M";
  Status s =
      IngestDrives(&disk, m, {"d1"}, "dest", SmallOptions(), SmallIngest(), &r);
  ASSERT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("M: path '.valise/notes/keep'"), std::string::npos)
      << s.message();
  EXPECT_FALSE(disk.Exists("dest"));
  EXPECT_TRUE(r.drives.empty());  // no drive scanned

  IngestOptions bag = SmallIngest();
  bag.dest_prefix = "data/";
  RunReport r2;
  ASSERT_VALISE_OK(
      IngestDrives(&disk, m, {"d1"}, "dest", SmallOptions(), bag, &r2));
  EXPECT_EQ(r2.files_ok, 2u) << FormatSummary(r2);
  EXPECT_TRUE(disk.Exists("dest/data/.valise/notes/keep"));
}

// Goal (issue 12, item 1): the clean-up of DEST's staging directory
// removes the temporary files valise names, and nothing else found there.
TEST(IngestPipeline, CleanupRemovesOnlyStagingNames) {
  SimDisk disk(SimDiskOptions{});
  Dataset ds = MakeDataset();
  Populate(&disk, ds);
  Manifest m = MakeOrDie(&disk);
  const std::vector<std::string> ours = {"e0-p0", "e12-p3", "d4", "probe-a"};
  const std::vector<std::string> theirs = {"keep",   "e1-p",    "e1-p2x", "d",
                                           "d7.bak", "probe-c", "E1-p0"};
  for (const std::string& n : ours) {
    disk.AddFile("dest/.valise/staging/" + n, "leftover");
  }
  for (const std::string& n : theirs) {
    disk.AddFile("dest/.valise/staging/" + n, "someone's");
  }
  disk.AddFile("dest/.valise/notes", "someone's");
  RunReport r;
  ASSERT_VALISE_OK(IngestDrives(&disk, m, {"d1", "d2"}, "dest", SmallOptions(),
                                SmallIngest(), &r));
  EXPECT_EQ(r.ExitCode(), 0) << FormatSummary(r);
  for (const std::string& n : ours) {
    EXPECT_FALSE(disk.Exists("dest/.valise/staging/" + n)) << n;
  }
  for (const std::string& n : theirs) {
    EXPECT_TRUE(disk.Exists("dest/.valise/staging/" + n)) << n;
  }
  EXPECT_TRUE(disk.Exists("dest/.valise/notes"));
}

// Goal (issue 12, item 1): a tree holding valise's state (a DEST, killed
// mid-ingest or not) makes a manifest of its dataset alone: .valise is
// skipped and said so; ingesting that manifest and verifying DEST against
// it finds no missing file and no extra (DEST's own state is skipped).
TEST(IngestPipeline, StateDirSkippedByManifestAndVerify) {
  SimDisk disk(SimDiskOptions{});
  disk.AddFile("d1/.valise/staging/keep", "x\n", 1000);
  disk.AddFile("d1/n", "y\n", 1000);
  Manifest m;
  ManifestSummary summary;
  ASSERT_VALISE_OK(MakeManifest(&disk, {"d1"}, ShaXxh(), SmallOptions(), &m,
                                nullptr, &summary));
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m.path(0), "n");
  ASSERT_EQ(summary.skipped.size(), 1u);
  EXPECT_EQ(summary.skipped[0].path, ".valise");
  RunReport r;
  ASSERT_VALISE_OK(IngestDrives(&disk, m, {"d1"}, "dest", SmallOptions(),
                                SmallIngest(), &r));
  EXPECT_EQ(r.ExitCode(), 0) << FormatSummary(r);
  RunReport v;
  ASSERT_VALISE_OK(
      VerifyDrives(&disk, m, nullptr, {"dest"}, SmallOptions(), &v));
  EXPECT_EQ(v.ExitCode(), 0) << FormatSummary(v);
  for (const FileResult& f : v.files) {
    EXPECT_NE(f.status, FileStatus::kExtra) << f.path;
  }
}

// Goal: a second ingest into a locked DEST is refused.
TEST(IngestPipeline, LockedDestRefused) {
  SimDisk disk(SimDiskOptions{});
  Dataset ds = MakeDataset();
  Populate(&disk, ds);
  Manifest m = MakeOrDie(&disk);
  std::unique_ptr<Directory> held;
  ASSERT_VALISE_OK(disk.OpenDirectory("dest", true, &held));
  ASSERT_VALISE_OK(held->CreateDirs(".valise"));
  ASSERT_VALISE_OK(held->Lock(".valise/lock"));
  RunReport r;
  Status s = IngestDrives(&disk, m, {"d1", "d2"}, "dest", SmallOptions(),
                          SmallIngest(), &r);
  EXPECT_TRUE(s.IsBusy()) << s.ToString();
}

// Goal: DEST full stops the run cleanly: no partial file under a final
// name, no temporary file left, and once space is freed a rerun of the
// same command finishes the job.
TEST(IngestPipeline, DestFullThenResume) {
  SimDiskOptions o;
  Dataset ds = MakeDataset();
  uint64_t sources = 0;
  for (const auto& f : ds.files) sources += f.second.size();
  sources += 5 * kChunk;  // the second copy of shared/s
  const uint64_t ballast = 1 << 20;
  o.capacity_bytes = sources + ballast + 200 * 1024;  // room for a little
  SimDisk disk(o);
  Populate(&disk, ds);
  disk.AddFile("ballast", std::string(ballast, 'b'));
  Manifest m = MakeOrDie(&disk);
  IngestOptions io = SmallIngest();
  io.dedup = DedupPolicy::kCopy;
  RunReport r;
  Status s =
      IngestDrives(&disk, m, {"d1", "d2"}, "dest", SmallOptions(), io, &r);
  ASSERT_TRUE(s.IsNoSpace()) << s.ToString();
  EXPECT_NE(s.message().find("rerun"), std::string::npos) << s.ToString();
  EXPECT_EQ(r.ExitCode(), 2);  // the report says what the exit status says
  for (const FileResult& f : r.files) {
    // A full DEST is never blamed on a drive.
    EXPECT_NE(f.status, FileStatus::kUnreadable) << f.path << ": " << f.detail;
  }
  ExpectNoBadFinalFile(&disk, ds);
  std::vector<DirEntry> staging;
  ASSERT_VALISE_OK(disk.ListDir("dest/.valise/staging", &staging));
  EXPECT_TRUE(staging.empty());
  EXPECT_LT(r.files_ok, ds.files.size());

  // Free space, rerun: it resumes and finishes.
  std::unique_ptr<Directory> root;
  ASSERT_VALISE_OK(disk.OpenDirectory(".", false, &root));
  ASSERT_VALISE_OK(root->Remove("ballast"));
  RunReport r2;
  ASSERT_VALISE_OK(
      IngestDrives(&disk, m, {"d1", "d2"}, "dest", SmallOptions(), io, &r2));
  ExpectAllStaged(&disk, ds);
  EXPECT_EQ(r2.files_skipped_resume, r.files_ok);
}

// Goal: where DEST trusts syncfs, a batch of small files costs a few
// syncs, not one per file (~270 files/s when each file was one flush);
// where it does not, each file is fdatasync'ed. Either way everything is
// durable when the run returns: a crash right after loses nothing.
TEST(IngestPipeline, SyncFsBatchesTheFlushes) {
  constexpr int kFiles = 60;
  for (bool syncfs : {true, false}) {
    SCOPED_TRACE(syncfs ? "syncfs" : "fdatasync per file");
    SimDiskOptions o;
    o.syncfs = syncfs;
    SimDisk disk(o);
    Dataset ds;
    for (int i = 0; i < kFiles; ++i) {
      ds.files.push_back(
          {"dir" + std::to_string(i % 4) + "/f" + std::to_string(i),
           test::RandomBytes(1000 + i * 37, i + 1)});
      disk.AddFile("d1/" + ds.files.back().first, ds.files.back().second);
    }
    Manifest m;
    ManifestSummary summary;
    ASSERT_VALISE_OK(MakeManifest(&disk, {"d1"}, ShaXxh(), SmallOptions(), &m,
                                  nullptr, &summary));
    IngestOptions io;  // default batches
    const SimDisk::Stats before = disk.stats();
    RunReport r;
    ASSERT_VALISE_OK(
        IngestDrives(&disk, m, {"d1"}, "dest", SmallOptions(), io, &r));
    const uint64_t file_syncs = disk.stats().file_syncs - before.file_syncs;
    const uint64_t syncfs_calls = disk.stats().syncfs - before.syncfs;
    if (syncfs) {
      // Nothing is fdatasync'ed one by one: the only file syncs are the
      // journal's begin and end records; each batch has one syncfs (two
      // more: the trial when DEST is opened, and the one that commits the
      // last batch's names).
      EXPECT_LE(file_syncs, 2u);
      EXPECT_GE(syncfs_calls, 2u);
      EXPECT_LE(syncfs_calls, uint64_t{kFiles} + 2);
    } else {
      EXPECT_EQ(syncfs_calls, 0u);  // refused before it counts
      EXPECT_GE(file_syncs, uint64_t{kFiles});
    }
    bool noted = false;
    for (const std::string& n : r.verbose_notes) {  // shown with --verbose
      if (n.find(syncfs ? "one syncfs" : "fdatasync per file") !=
          std::string::npos) {
        noted = true;
      }
    }
    EXPECT_TRUE(noted) << "the report says how files were made durable";
    disk.Crash();
    ExpectAllStaged(&disk, ds);
  }
}

// Goal: whatever faults DEST throws and wherever a crash cuts the run, no
// file under its final name is ever incomplete or wrong (also when the
// crash keeps names whose data was never synced), every journal record is
// true, and a clean rerun after the crash finishes the job.
TEST(IngestPipeline, CrashesAtRandomMomentsLoseNothing) {
  Dataset ds = MakeDataset();
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    SimDiskOptions o;
    o.seed = seed;
    o.syncfs = seed % 2 == 0;  // one syncfs per batch, or fdatasync per file
    // Half the crashes keep every name made, not the unsynced data.
    o.names_ahead_of_data = seed % 4 < 2;
    SimDisk disk(o);
    Populate(&disk, ds);
    Manifest m = MakeOrDie(&disk);
    IngestOptions io = SmallIngest();
    if (seed % 3 == 0) io.direct_min_bytes = 0;  // O_DIRECT staging too
    SimFaults f;
    f.write_error_one_in = 3 + seed % 7;
    f.sync_error_one_in = 2 + seed % 5;
    f.short_read_one_in = 4;
    disk.SetFaults("dest/", f);
    RunReport r1;
    IngestDrives(&disk, m, {"d1", "d2"}, "dest", SmallOptions(), io, &r1)
        .PermitUncheckedError();  // faults may stop it: that is the point
    ExpectNoBadFinalFile(&disk, ds);
    disk.Crash();
    ExpectNoBadFinalFile(&disk, ds);
    ExpectJournalTrue(&disk, ds);
    disk.SetFaults("dest/", SimFaults{});
    RunReport r2;
    Status s =
        IngestDrives(&disk, m, {"d1", "d2"}, "dest", SmallOptions(), io, &r2);
    ASSERT_TRUE(s.ok()) << "seed " << seed << ": " << s.ToString();
    ExpectAllStaged(&disk, ds);
    ASSERT_EQ(r2.files_ok + r2.files_skipped_resume, ds.files.size())
        << "seed " << seed << "\n"
        << FormatSummary(r2);
  }
}

}  // namespace
}  // namespace valise
