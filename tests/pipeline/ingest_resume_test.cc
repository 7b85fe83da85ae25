// Pipeline tests of what a rerun of ingest trusts (issue 12, item 3): a file
// the journal records as staged is skipped only while its size, mtime,
// inode and (one link) ctime are what the journal recorded; any other is
// read back from DEST and checked, --recheck reads them all back, and a
// record of an older valise (no identity) is never trusted blindly.
#include "support/pipeline_util.h"
#include "support/test_util.h"
#include "valise/journal.h"
#include "valise/manifest.h"
#include "valise/pipeline.h"
#include "valise/sim_disk.h"

namespace valise {
namespace {

constexpr size_t kChunk = 64 << 10;

PipelineOptions Options() { return test::SmallPipelineOptions(kChunk, 2); }

IngestOptions Ingest(DedupPolicy dedup = DedupPolicy::kAuto) {
  IngestOptions o;
  o.commit_batch = 3;
  o.depth = 4;
  o.dedup = dedup;
  return o;
}

// d1 holds a, b, dir/c, and d and e with one content.
const std::vector<std::pair<std::string, std::string>>& Files() {
  static const auto* files =
      new std::vector<std::pair<std::string, std::string>>{
          {"a", test::RandomBytes(3 * kChunk + 17, 1)},
          {"b", test::RandomBytes(1000, 2)},
          {"dir/c", test::RandomBytes(kChunk, 3)},
          {"d", test::RandomBytes(2 * kChunk, 4)},
          {"e", test::RandomBytes(2 * kChunk, 4)},
      };
  return *files;
}

struct Fixture {
  SimDisk disk;
  Manifest m;

  explicit Fixture(const SimDiskOptions& o = SimDiskOptions{}) : disk(o) {
    for (const auto& [rel, data] : Files()) {
      disk.AddFile("d1/" + rel, data, 5'000'000'000);
    }
    ManifestSummary summary;
    Status s = MakeManifest(&disk, {"d1"}, test::ShaXxh(), Options(), &m,
                            nullptr, &summary);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }

  RunReport Run(const IngestOptions& iopt) {
    RunReport r;
    Status s = IngestDrives(&disk, m, {"d1"}, "dest", Options(), iopt, &r);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return r;
  }

  uint64_t DriveBytesRead(const RunReport& r) const {
    uint64_t n = 0;
    for (const DriveReport& d : r.drives) n += d.bytes_read;
    return n;
  }

  // verify of DEST against the manifest: its exit status.
  int VerifyDest() {
    RunReport v;
    Status s = VerifyDrives(&disk, m, nullptr, {"dest"}, Options(), &v);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return v.ExitCode();
  }

  FileInfo StatDest(const std::string& rel) {
    FileInfo info;
    EXPECT_TRUE(disk.Stat("dest/" + rel, &info).ok()) << rel;
    return info;
  }
};

const FileResult* Find(const RunReport& r, std::string_view path) {
  for (const FileResult& f : r.files) {
    if (f.path == path) return &f;
  }
  return nullptr;
}

// The verdict line, with the rerun's counts put back after it when they
// went on the line above it (the verdict keeps to 80 columns:
// docs/report.md).
std::string Verdict(const RunReport& r) {
  std::string s = FormatSummary(r);
  s.pop_back();
  const size_t last = s.rfind('\n');
  std::string verdict = s.substr(last + 1);
  const size_t above = s.rfind('\n', last - 1);
  const std::string prev = s.substr(above + 1, last - above - 1);
  if (prev.starts_with("rerun: ")) verdict += "; " + prev.substr(7);
  return verdict;
}

// Goal: an unchanged DEST is trusted from the journal: nothing read, and
// the verdict says how many files were trusted and how many verified now.
TEST(IngestResume, UnchangedFilesAreTrusted) {
  Fixture f;
  RunReport r1 = f.Run(Ingest());
  ASSERT_EQ(r1.ExitCode(), 0) << FormatSummary(r1);
  RunReport r2 = f.Run(Ingest());
  EXPECT_EQ(r2.ExitCode(), 0) << FormatSummary(r2);
  EXPECT_EQ(r2.files_skipped_resume, Files().size());
  EXPECT_EQ(r2.files_rechecked, 0u);
  EXPECT_EQ(f.DriveBytesRead(r2), 0u);
  EXPECT_EQ(Verdict(r2),
            "valise: all 5 files verified and staged (0 B); 0 verified now, "
            "5 trusted from the journal");
}

// Goal (the reproduction): one byte of a staged file changed, its
// mtime put back as it was (the user cannot put back the ctime): the rerun
// reads it back from DEST, finds it wrong and exits 1, never "all
// verified"; verify of DEST agrees.
TEST(IngestResume, AlteredFileIsReadBackNotTrusted) {
  Fixture f;
  ASSERT_EQ(f.Run(Ingest()).ExitCode(), 0);
  const FileInfo before = f.StatDest("a");
  std::string altered = Files()[0].second;
  altered[kChunk + 3] ^= 0x20;
  // Same inode, same size, same mtime: only the ctime tells.
  f.disk.AddFile("dest/a", altered, before.mtime_ns, before.mode);
  const FileInfo after = f.StatDest("a");
  ASSERT_EQ(after.inode, before.inode);
  ASSERT_EQ(after.mtime_ns, before.mtime_ns);
  ASSERT_NE(after.ctime_ns, before.ctime_ns);

  RunReport r = f.Run(Ingest());
  EXPECT_EQ(r.ExitCode(), 1) << FormatSummary(r);
  EXPECT_EQ(r.files_skipped_resume, Files().size() - 1);
  EXPECT_EQ(r.files_rechecked, 1u);
  EXPECT_EQ(f.DriveBytesRead(r), 0u);  // DEST is read, not the drive
  const FileResult* a = Find(r, "a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->status, FileStatus::kCorrupt);
  EXPECT_NE(a->detail.find("changed in DEST since an earlier run staged it"),
            std::string::npos)
      << a->detail;
  EXPECT_NE(a->detail.find("ctime not as journaled"), std::string::npos)
      << a->detail;
  EXPECT_EQ(Verdict(r).find("valise: all"), std::string::npos) << Verdict(r);
  EXPECT_NE(Verdict(r).find("4 trusted from the journal, 1 read back from "
                            "DEST"),
            std::string::npos)
      << Verdict(r);
  // Left as it is, never overwritten.
  std::string now;
  ASSERT_TRUE(f.disk.GetFile("dest/a", &now));
  EXPECT_TRUE(now == altered);
  EXPECT_EQ(f.VerifyDest(), 1);
  // A rerun says the same again.
  EXPECT_EQ(f.Run(Ingest()).ExitCode(), 1);
}

// Goal: a file changed the ordinary way (new mtime) is read back too, and
// a file replaced by an identical copy (a new inode) is read back, found
// right, and trusted by the next run.
TEST(IngestResume, ChangedMtimeOrInodeIsReadBack) {
  Fixture f;
  ASSERT_EQ(f.Run(Ingest()).ExitCode(), 0);
  std::string altered = Files()[1].second;
  altered[10] ^= 1;
  f.disk.AddFile("dest/b", altered, 7'000'000'000);
  // dir/c: the same bytes under a new inode (copied back from a backup).
  FileInfo before = f.StatDest("dir/c");
  {
    std::unique_ptr<Directory> dir;
    ASSERT_VALISE_OK(f.disk.OpenDirectory("dest", false, &dir));
    ASSERT_VALISE_OK(dir->Remove("dir/c"));
  }
  f.disk.AddFile("dest/dir/c", Files()[2].second, before.mtime_ns);
  ASSERT_NE(f.StatDest("dir/c").inode, before.inode);

  RunReport r = f.Run(Ingest());
  EXPECT_EQ(r.ExitCode(), 1) << FormatSummary(r);
  EXPECT_EQ(r.files_rechecked, 2u);
  const FileResult* b = Find(r, "b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->status, FileStatus::kCorrupt);
  EXPECT_NE(b->detail.find("mtime, ctime not as journaled"), std::string::npos)
      << b->detail;
  const FileResult* c = Find(r, "dir/c");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->status, FileStatus::kOk) << c->detail;
  EXPECT_EQ(r.files_ok, 1u);

  // b put right again: read back, ok; dir/c, journaled anew with its new
  // inode, is trusted.
  f.disk.AddFile("dest/b", Files()[1].second, 7'000'000'000);
  RunReport r2 = f.Run(Ingest());
  EXPECT_EQ(r2.ExitCode(), 0) << FormatSummary(r2);
  EXPECT_EQ(r2.files_rechecked, 1u);
  EXPECT_EQ(r2.files_skipped_resume, Files().size() - 1);
  RunReport r3 = f.Run(Ingest());
  EXPECT_EQ(r3.files_skipped_resume, Files().size());
}

// Goal: damage at rest changes no attribute, so a rerun trusts the file;
// --recheck reads every staged file back and finds it.
TEST(IngestResume, RecheckReadsEverythingBack) {
  Fixture f;
  ASSERT_EQ(f.Run(Ingest()).ExitCode(), 0);
  f.disk.FlipStoredBit("dest/d", 100, 3);
  RunReport trusted = f.Run(Ingest());
  EXPECT_EQ(trusted.files_skipped_resume, Files().size());

  IngestOptions recheck = Ingest();
  recheck.recheck = true;
  RunReport r = f.Run(recheck);
  EXPECT_EQ(r.ExitCode(), 1) << FormatSummary(r);
  EXPECT_EQ(r.files_skipped_resume, 0u);
  EXPECT_EQ(r.files_rechecked, Files().size());
  EXPECT_EQ(f.DriveBytesRead(r), 0u);
  const FileResult* d = Find(r, "d");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->status, FileStatus::kCorrupt);
  EXPECT_NE(d->detail.find("--recheck"), std::string::npos) << d->detail;
  bool noted = false;
  for (const std::string& n : r.notes) {
    noted |= n.starts_with("--recheck: 5 files staged by an earlier run");
  }
  EXPECT_TRUE(noted);

  // On a sound DEST, --recheck reads everything back and finds it right.
  Fixture g;
  ASSERT_EQ(g.Run(Ingest()).ExitCode(), 0);
  RunReport ok = g.Run(recheck);
  EXPECT_EQ(ok.ExitCode(), 0) << FormatSummary(ok);
  EXPECT_EQ(ok.files_ok, Files().size());
  EXPECT_EQ(ok.files_rechecked, Files().size());
  EXPECT_EQ(Verdict(ok),
            "valise: all 5 files verified and staged (513.0 KiB); 5 verified "
            "now, 0 trusted from the journal, 5 read back from DEST");
}

// Goal: a journal written by an older valise (records without the file's
// identity) is not trusted blindly: its files are read back once, then
// journaled with their identity and trusted.
TEST(IngestResume, OldRecordsAreReadBackOnce) {
  Fixture f;
  ASSERT_EQ(f.Run(Ingest()).ExitCode(), 0);
  std::string data;
  ASSERT_TRUE(f.disk.GetFile("dest/.valise/journal", &data));
  std::vector<JournalRecord> records;
  uint64_t valid = 0;
  ASSERT_VALISE_OK(DecodeJournal(data, &records, &valid));
  std::string old;
  size_t commits = 0;
  for (JournalRecord& rec : records) {
    if (rec.type == JournalRecord::Type::kCommit) {
      ASSERT_TRUE(rec.has_identity) << rec.path;
      rec.has_identity = false;
      ++commits;
    }
    old += EncodeJournalRecord(rec);
  }
  ASSERT_EQ(commits, Files().size());
  f.disk.AddFile("dest/.valise/journal", old);

  RunReport r = f.Run(Ingest());
  EXPECT_EQ(r.ExitCode(), 0) << FormatSummary(r);
  EXPECT_EQ(r.files_rechecked, Files().size());
  EXPECT_EQ(r.files_skipped_resume, 0u);
  EXPECT_EQ(f.DriveBytesRead(r), 0u);
  bool noted = false;
  for (const std::string& n : r.notes) {
    noted |= n.find("journaled by an older valise") != std::string::npos;
  }
  EXPECT_TRUE(noted);
  RunReport r2 = f.Run(Ingest());
  EXPECT_EQ(r2.files_skipped_resume, Files().size());
  EXPECT_EQ(r2.files_rechecked, 0u);
}

// Goal: with --dedup=hardlink, linking a duplicate changes the ctime of
// the file already journaled: ctime is not compared for a file with
// several names, so a rerun still trusts both.
TEST(IngestResume, HardLinkedFilesAreTrusted) {
  Fixture f;
  RunReport r1 = f.Run(Ingest(DedupPolicy::kHardlink));
  ASSERT_EQ(r1.ExitCode(), 0) << FormatSummary(r1);
  ASSERT_EQ(f.StatDest("d").inode, f.StatDest("e").inode);
  RunReport r2 = f.Run(Ingest(DedupPolicy::kHardlink));
  EXPECT_EQ(r2.files_skipped_resume, Files().size()) << FormatSummary(r2);
  EXPECT_EQ(r2.files_rechecked, 0u);
}

// Goal: a rerun without syncfs (fdatasync per file) journals the identity
// the same way: a second run trusts everything, an altered file is read
// back.
TEST(IngestResume, WithoutSyncFs) {
  SimDiskOptions o;
  o.syncfs = false;
  o.reflink = false;
  for (DedupPolicy dedup : {DedupPolicy::kAuto, DedupPolicy::kHardlink}) {
    Fixture f(o);
    ASSERT_EQ(f.Run(Ingest(dedup)).ExitCode(), 0);
    RunReport r2 = f.Run(Ingest(dedup));
    EXPECT_EQ(r2.files_skipped_resume, Files().size()) << FormatSummary(r2);
    const FileInfo before = f.StatDest("dir/c");
    std::string altered = Files()[2].second;
    altered[0] ^= 1;
    f.disk.AddFile("dest/dir/c", altered, before.mtime_ns, before.mode);
    RunReport r3 = f.Run(Ingest(dedup));
    EXPECT_EQ(r3.ExitCode(), 1) << FormatSummary(r3);
    EXPECT_EQ(r3.files_rechecked, 1u);
  }
}

}  // namespace
}  // namespace valise
