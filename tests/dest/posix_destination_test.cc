// The directory destination against its contract (include/valise/
// destination.h), on the simulated disk, without the rest of ingest: a
// staged file's way (Stage, bytes through the StageWriter, Finish, Seal,
// Name, Record, Sync), what survives a crash, names never replaced,
// temporaries never left, duplicates, the lock. Each case runs with both
// ways of making files durable (one syncfs per seal, or fdatasync each).
#include "dest/posix_destination.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "dest/posix_hosts.h"
#include "support/test_util.h"
#include "valise/buffer_pool.h"
#include "valise/digest.h"
#include "valise/io_engine.h"
#include "valise/sim_disk.h"

namespace valise {
namespace {

constexpr size_t kChunk = 64 << 10;

std::unique_ptr<Destination> OpenDest(SimDisk* disk, DestInfo* info) {
  std::unique_ptr<Destination> d =
      NewPosixDestination(disk, "dest", PosixDestinationOptions());
  Status s = d->Open(info);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return d;
}

StageRequest Request(const std::string& name, const std::string& data,
                     const std::string& key) {
  StageRequest r;
  r.name = name;
  r.key = key;
  r.size = data.size();
  r.mode = 0640;
  r.mtime_ns = 1'234'000'000'000;
  r.direct = true;
  return r;
}

// Stages `data` as read loops do: chunk by chunk through the destination's
// StageWriter on an engine of the disk's queue, the last chunk first (a
// loop hands them over in completion order). Returns the first failure.
Status StageBytes(SimDisk* disk, Destination* dest, const StageRequest& req,
                  const std::string& data, std::unique_ptr<StagedFile>* out) {
  VALISE_RETURN_IF_ERROR(dest->Stage(req, out));
  const size_t chunks = (data.size() + kChunk - 1) / kChunk;
  BufferPool pool(std::max<size_t>(chunks, 1), kChunk);
  std::string note;
  IoEngine engine(disk->NewIoQueue(IoQueueOptions(), &note), 2, EngineOptions(),
                  disk);
  StageWriter* w = dest->writer();
  size_t written = 0, released = 0;
  Status first;
  StageIo io;
  io.engine = &engine;
  io.drive = 1;
  io.pool = &pool;
  io.written = [&](const StageChunk&, const Status& s) {
    ++written;
    if (!s.ok() && first.ok()) first = s;
  };
  io.release = [&](int) { ++released; };
  io.wake = [] {};
  w->Attach(io);
  for (size_t k = chunks; k-- > 0;) {
    StageChunk c;
    c.file = out->get();
    c.offset = k * kChunk;
    c.len = static_cast<uint32_t>(std::min(kChunk, data.size() - c.offset));
    c.buf = static_cast<int>(k);
    c.last = k + 1 == chunks;
    memcpy(pool.data(c.buf), data.data() + c.offset, c.len);
    while (!w->HasRoom()) {
      std::vector<Transfer*> done;
      VALISE_RETURN_IF_ERROR(engine.Reap(&done, true));
      for (Transfer* t : done) w->OnComplete(t);
    }
    w->Write(c);
  }
  while (written < chunks || w->Busy()) {
    w->Issue();
    std::vector<Transfer*> done;
    VALISE_RETURN_IF_ERROR(engine.Reap(&done, true));
    for (Transfer* t : done) w->OnComplete(t);
    w->Poll();
  }
  EXPECT_EQ(released, chunks) << "every buffer given back";
  VALISE_RETURN_IF_ERROR(first);
  return dest->Finish(out->get());
}

// Seals, names and records `files` as the core does, the names and records
// made durable by Sync or, with seal_covers_names, by a second seal.
Status Commit(Destination* dest, const DestInfo& info,
              const std::vector<StagedFile*>& files,
              const std::vector<JournalRecord>& records,
              std::vector<Status>* named) {
  std::vector<Status> each;
  VALISE_RETURN_IF_ERROR(dest->Seal(files, &each));
  for (const Status& s : each) VALISE_RETURN_IF_ERROR(s);
  dest->Name(files, named);
  VALISE_RETURN_IF_ERROR(dest->Record(records));
  if (info.seal_covers_names) return dest->Seal({}, &each);
  return dest->Sync();
}

JournalRecord RecordOf(const std::string& path, uint64_t size) {
  JournalRecord r;
  r.type = JournalRecord::Type::kCommit;
  r.path = path;
  r.size = size;
  return r;
}

std::vector<std::string> StagingLeft(SimDisk* disk) {
  std::vector<DirEntry> entries;
  std::vector<std::string> names;
  if (disk->ListDir("dest/.valise/staging", &entries).ok()) {
    for (const DirEntry& e : entries) names.push_back(e.name);
  }
  return names;
}

class PosixDestinationTest : public testing::TestWithParam<bool> {
 protected:
  SimDiskOptions Options() const {
    SimDiskOptions o;
    o.syncfs = GetParam();
    return o;
  }
};

// Goal: a file staged, sealed, named, recorded and synced is under its
// final name, whole, with its mode and mtime, after a crash; Resume returns
// its record; no temporary is left.
TEST_P(PosixDestinationTest, CommittedFileSurvivesCrashAndIsResumed) {
  SimDisk disk(Options());
  DestInfo info;
  std::unique_ptr<Destination> dest = OpenDest(&disk, &info);
  EXPECT_EQ(info.seal_covers_names, GetParam());
  std::vector<JournalRecord> records;
  std::vector<std::string> notes;
  ASSERT_VALISE_OK(dest->Resume("1 file", &records, &notes));
  EXPECT_TRUE(records.empty());
  // Over two chunks, the tail short: the O_DIRECT tail is cut by Finish.
  const std::string data = test::RandomBytes(2 * kChunk + 100, 7);
  std::unique_ptr<StagedFile> f;
  ASSERT_VALISE_OK(
      StageBytes(&disk, dest.get(), Request("a/b/c", data, "k1"), data, &f));
  std::vector<Status> named;
  ASSERT_VALISE_OK(Commit(dest.get(), info, {f.get()},
                          {RecordOf("a/b/c", data.size())}, &named));
  ASSERT_VALISE_OK(named[0]);
  disk.Crash();
  std::string got;
  ASSERT_TRUE(disk.GetFile("dest/a/b/c", &got));
  EXPECT_TRUE(got == data);
  FileInfo fi;
  ASSERT_VALISE_OK(disk.Stat("dest/a/b/c", &fi));
  EXPECT_EQ(fi.mode, 0640u);
  EXPECT_EQ(fi.mtime_ns, 1'234'000'000'000);
  EXPECT_TRUE(StagingLeft(&disk).empty());

  dest = OpenDest(&disk, &info);
  ASSERT_VALISE_OK(dest->Resume("again", &records, &notes));
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].path, "a/b/c");
  EXPECT_EQ(records[0].size, data.size());
}

// Goal: a name already taken is never replaced: Name fails with EEXIST,
// the file there keeps its bytes, and the temporary is gone.
TEST_P(PosixDestinationTest, NameNeverReplaces) {
  SimDisk disk(Options());
  disk.AddFile("dest/x", "theirs");
  DestInfo info;
  std::unique_ptr<Destination> dest = OpenDest(&disk, &info);
  const std::string data = "ours, verified";
  std::unique_ptr<StagedFile> f;
  ASSERT_VALISE_OK(
      StageBytes(&disk, dest.get(), Request("x", data, "k1"), data, &f));
  std::vector<Status> each;
  ASSERT_VALISE_OK(dest->Seal({f.get()}, &each));
  dest->Name({f.get()}, &each);
  EXPECT_EQ(each[0].err(), EEXIST) << each[0].ToString();
  std::string got;
  ASSERT_TRUE(disk.GetFile("dest/x", &got));
  EXPECT_EQ(got, "theirs");
  EXPECT_TRUE(StagingLeft(&disk).empty());
}

// Goal: a record is never durable without its name: when the names cannot
// be made durable (the directory fsyncs, or the syncfs, fail), the journal
// holds nothing after a crash.
TEST_P(PosixDestinationTest, RecordsDroppedWhenNamesNotDurable) {
  SimDisk disk(Options());
  DestInfo info;
  std::unique_ptr<Destination> dest = OpenDest(&disk, &info);
  std::vector<JournalRecord> records;
  std::vector<std::string> notes;
  ASSERT_VALISE_OK(dest->Resume("1 file", &records, &notes));
  const std::string data = "abc";
  std::unique_ptr<StagedFile> f;
  ASSERT_VALISE_OK(
      StageBytes(&disk, dest.get(), Request("d/y", data, "k1"), data, &f));
  std::vector<Status> each;
  ASSERT_VALISE_OK(dest->Seal({f.get()}, &each));
  dest->Name({f.get()}, &each);
  ASSERT_VALISE_OK(each[0]);
  ASSERT_VALISE_OK(dest->Record({RecordOf("d/y", 3)}));
  SimFaults faults;
  faults.sync_error_one_in = 1;
  // The directory fsync fails (not the journal's); or, with syncfs, the
  // one syncfs.
  disk.SetFaults(info.seal_covers_names ? "dest/" : "dest/d", faults);
  if (info.seal_covers_names) {
    EXPECT_FALSE(dest->Seal({}, &each).ok());
  } else {
    EXPECT_FALSE(dest->Sync().ok());
  }
  disk.SetFaults("dest/", SimFaults{});
  disk.Crash();
  dest = OpenDest(&disk, &info);
  ASSERT_VALISE_OK(dest->Resume("again", &records, &notes));
  EXPECT_TRUE(records.empty()) << records[0].path;
}

// Goal: a discarded staged file leaves nothing; a temporary an earlier run
// left is removed by Open; a second run is kept out by the lock.
TEST_P(PosixDestinationTest, TemporariesRemovedAndLockHeld) {
  SimDisk disk(Options());
  disk.AddFile("dest/.valise/staging/e3-p0", "left by a crash");
  DestInfo info;
  std::unique_ptr<Destination> dest = OpenDest(&disk, &info);
  EXPECT_TRUE(StagingLeft(&disk).empty());
  const std::string data = test::RandomBytes(kChunk, 3);
  std::unique_ptr<StagedFile> f;
  ASSERT_VALISE_OK(
      StageBytes(&disk, dest.get(), Request("z", data, "k1"), data, &f));
  EXPECT_EQ(StagingLeft(&disk).size(), 1u);
  dest->Discard(std::move(f));
  EXPECT_TRUE(StagingLeft(&disk).empty());
  EXPECT_FALSE(disk.Exists("dest/z"));

  std::unique_ptr<Destination> second =
      NewPosixDestination(&disk, "dest", PosixDestinationOptions());
  DestInfo info2;
  Status s = second->Open(&info2);
  EXPECT_TRUE(s.IsBusy()) << s.ToString();
}

// Goal: duplicates of a committed file: a clone is staged with its own
// mode and mtime, sealed and named like a read file; a hard link is the
// same file under another name at once.
TEST_P(PosixDestinationTest, DuplicatesCloneAndHardlink) {
  SimDisk disk(Options());
  disk.AddFile("dest/src", "shared bytes", 5, 0600);
  DestInfo info;
  std::unique_ptr<Destination> dest = OpenDest(&disk, &info);
  std::vector<JournalRecord> records;
  std::vector<std::string> notes;
  ASSERT_VALISE_OK(dest->Resume("2 files", &records, &notes));
  EXPECT_TRUE(info.clone);
  EXPECT_TRUE(info.hardlink);
  StageRequest clone = Request("dup/clone", "shared bytes", "d1");
  StageRequest link = Request("dup/link", "shared bytes", "d2");
  std::unique_ptr<StagedFile> c, l;
  ASSERT_VALISE_OK(dest->Duplicate("src", clone, DuplicateKind::kClone, &c));
  ASSERT_VALISE_OK(dest->Duplicate("src", link, DuplicateKind::kHardlink, &l));
  EXPECT_TRUE(disk.Exists("dest/dup/link")) << "a hard link is named at once";
  EXPECT_FALSE(disk.Exists("dest/dup/clone"));
  std::vector<Status> named;
  ASSERT_VALISE_OK(Commit(dest.get(), info, {c.get(), l.get()},
                          {RecordOf("dup/clone", 12), RecordOf("dup/link", 12)},
                          &named));
  ASSERT_VALISE_OK(named[0]);
  ASSERT_VALISE_OK(named[1]);
  disk.Crash();
  std::string got;
  ASSERT_TRUE(disk.GetFile("dest/dup/clone", &got));
  EXPECT_EQ(got, "shared bytes");
  ASSERT_TRUE(disk.GetFile("dest/dup/link", &got));
  EXPECT_EQ(got, "shared bytes");
  FileInfo fi;
  ASSERT_VALISE_OK(disk.Stat("dest/dup/clone", &fi));
  EXPECT_EQ(fi.mode, 0640u);
  EXPECT_EQ(fi.mtime_ns, 1'234'000'000'000);
  EXPECT_TRUE(StagingLeft(&disk).empty());
}

INSTANTIATE_TEST_SUITE_P(Durability, PosixDestinationTest, testing::Bool(),
                         [](const testing::TestParamInfo<bool>& p) {
                           return p.param ? "SyncFs" : "Fdatasync";
                         });

// --- Several hosts into one directory DEST (issue 17): a shared file
// system each host mounts, here one simulated disk that every host's
// destination opens.

std::unique_ptr<Destination> OpenHost(SimDisk* disk, const std::string& host,
                                      DestInfo* info,
                                      unsigned poll_ms = 3'600'000,
                                      uint64_t stale_age_s = 24 * 3600) {
  PosixDestinationOptions o;
  o.host = host;
  o.journal_poll_ms = poll_ms;
  o.stale_age_s = stale_age_s;
  std::unique_ptr<Destination> d = NewPosixDestination(disk, "dest", o);
  Status s = d->Open(info);
  EXPECT_TRUE(s.ok()) << host << ": " << s.ToString();
  return d;
}

// A request for `data` under `name` with its SHA-256 (what the core
// stages with: the manifest's digests).
StageRequest Signed(const std::string& name, const std::string& data,
                    const std::string& key) {
  StageRequest r = Request(name, data, key);
  auto h = Hasher::New(DigestType::kSha256);
  h->Update(data.data(), data.size());
  r.digests = {h->Finish()};
  return r;
}

JournalRecord RecordFor(const StageRequest& r) {
  JournalRecord rec = RecordOf(r.name, r.size);
  rec.digests = r.digests;
  return rec;
}

std::vector<std::string> Paths(const std::vector<JournalRecord>& records) {
  std::vector<std::string> out;
  for (const JournalRecord& r : records) out.push_back(r.path);
  std::sort(out.begin(), out.end());
  return out;
}

// Stages `data` for `req` on `dest` and commits it (record included).
void StageAndCommit(SimDisk* disk, Destination* dest, const DestInfo& info,
                    const StageRequest& req, const std::string& data) {
  std::unique_ptr<StagedFile> f;
  ASSERT_VALISE_OK(StageBytes(disk, dest, req, data, &f));
  std::vector<Status> named;
  ASSERT_VALISE_OK(Commit(dest, info, {f.get()}, {RecordFor(req)}, &named));
  ASSERT_VALISE_OK(named[0]);
}

class SharedDestTest : public PosixDestinationTest {};

// Hosts h1 and h2 with DEST open on one disk, each run begun (Resume).
struct TwoHosts {
  DestInfo i1, i2;
  std::unique_ptr<Destination> h1, h2;
  std::vector<JournalRecord> records;
  std::vector<std::string> notes;
  TwoHosts(SimDisk* disk, const std::string& begin_note) {
    h1 = OpenHost(disk, "h1", &i1);
    h2 = OpenHost(disk, "h2", &i2);
    EXPECT_VALISE_OK(h1->Resume(begin_note, &records, &notes));
    EXPECT_VALISE_OK(h2->Resume(begin_note, &records, &notes));
  }
};

// Goal: hosts h1 and h2 run at once, each with its own journal, lock and
// staging under DEST/.valise/hosts/HOST/; a second run of h1 is refused
// (Busy) while h1's runs; a later run (any host) resumes from every
// host's journal; nothing of the one-host layout is made.
TEST_P(SharedDestTest, EachHostItsJournalAndLock) {
  SimDisk disk(Options());
  TwoHosts t(&disk, "1 file");
  ASSERT_FALSE(HasFailure());
  PosixDestinationOptions again;
  again.host = "h1";
  std::unique_ptr<Destination> h1b = NewPosixDestination(&disk, "dest", again);
  DestInfo ib;
  Status s = h1b->Open(&ib);
  EXPECT_TRUE(s.IsBusy()) << s.ToString();
  EXPECT_NE(s.message().find("hosts/h1/lock"), std::string::npos)
      << s.message();

  const std::string a = test::RandomBytes(kChunk + 5, 1), b = "bee";
  StageAndCommit(&disk, t.h1.get(), t.i1, Signed("x/a", a, "e0-p0"), a);
  StageAndCommit(&disk, t.h2.get(), t.i2, Signed("y/b", b, "e0-p0"), b);
  ASSERT_VALISE_OK(t.h1->Close("1 files committed"));
  t.h1.reset();
  t.h2.reset();
  disk.Crash();
  EXPECT_TRUE(disk.Exists("dest/.valise/hosts/h1/journal"));
  EXPECT_TRUE(disk.Exists("dest/.valise/hosts/h2/journal"));
  EXPECT_TRUE(disk.Exists("dest/.valise/hosts/h2/lock"));
  EXPECT_FALSE(disk.Exists("dest/.valise/journal"));
  EXPECT_FALSE(disk.Exists("dest/.valise/lock"));
  EXPECT_FALSE(disk.Exists("dest/.valise/staging"));
  std::unique_ptr<Destination> h3 = OpenHost(&disk, "h3", &ib);
  ASSERT_VALISE_OK(h3->Resume("again", &t.records, &t.notes));
  EXPECT_EQ(Paths(t.records), (std::vector<std::string>{"x/a", "y/b"}));
}

// Goal: when a file's turn comes, a file another host committed since
// (its journal says so, same size and digests) is not staged
// (CommittedElsewhere, naming the host): found by the periodic read of
// the journals, and at once when the final name exists (the read every
// hour here has not come). A file of other bytes under the name is staged.
TEST_P(SharedDestTest, FileCommittedByAnotherHostIsNotStaged) {
  SimDisk disk(Options());
  TwoHosts t(&disk, "2 files");
  ASSERT_FALSE(HasFailure());
  Destination* h1 = t.h1.get();
  Destination* h2 = t.h2.get();
  const std::string data = test::RandomBytes(3000, 4);
  StageAndCommit(&disk, h1, t.i1, Signed("f", data, "e0-p0"), data);
  std::unique_ptr<StagedFile> f;
  Status s = h2->Stage(Signed("f", data, "e1-p0"), &f);
  EXPECT_TRUE(IsCommittedElsewhere(s)) << s.ToString();
  EXPECT_NE(s.message().find("host h1"), std::string::npos) << s.message();
  EXPECT_FALSE(f);
  // Another manifest's file under that name: staged (Name will refuse it).
  ASSERT_VALISE_OK(h2->Stage(Signed("f", "other bytes", "e2-p0"), &f));
  h2->Discard(std::move(f));

  // Polled every time (0 ms): found before the name is even looked at.
  DestInfo i3;
  std::unique_ptr<Destination> h3 = OpenHost(&disk, "h3", &i3, 0);
  ASSERT_VALISE_OK(h3->Resume("2 files", &t.records, &t.notes));
  const std::string g = "gee";
  StageAndCommit(&disk, h1, t.i1, Signed("g", g, "e3-p0"), g);
  s = h3->Stage(Signed("g", g, "e4-p0"), &f);
  EXPECT_TRUE(IsCommittedElsewhere(s)) << s.ToString();
}

// Goal: where renameat2(RENAME_NOREPLACE) fails with EINVAL (ceph-fuse),
// Name gives the name by link then unlink: the file is named, nothing is
// left in staging, it survives a crash and is resumed; a name taken by
// other bytes is still refused (EEXIST) and kept, shared or not.
TEST_P(SharedDestTest, LinkThenUnlinkWhereNoReplaceRenameIsRefused) {
  for (const std::string host : {"h1", ""}) {
    SCOPED_TRACE("host '" + host + "'");
    SimDiskOptions o = Options();
    o.rename_noreplace = false;
    SimDisk disk(o);
    disk.AddFile("dest/taken", "theirs");
    DestInfo info;
    std::unique_ptr<Destination> dest = OpenHost(&disk, host, &info);
    std::vector<JournalRecord> records;
    std::vector<std::string> notes;
    ASSERT_VALISE_OK(dest->Resume("2 files", &records, &notes));
    const std::string data = test::RandomBytes(2 * kChunk + 1, 5);
    StageAndCommit(&disk, dest.get(), info, Signed("d/f", data, "e0-p0"), data);
    std::unique_ptr<StagedFile> f;
    ASSERT_VALISE_OK(StageBytes(&disk, dest.get(),
                                Request("taken", "ours", "e1-p0"), "ours", &f));
    std::vector<Status> each;
    ASSERT_VALISE_OK(dest->Seal({f.get()}, &each));
    dest->Name({f.get()}, &each);
    EXPECT_EQ(each[0].err(), EEXIST) << each[0].ToString();
    std::vector<DirEntry> left;
    ASSERT_VALISE_OK(
        disk.ListDir(host.empty() ? "dest/.valise/staging"
                                  : "dest/.valise/hosts/" + host + "/staging",
                     &left));
    EXPECT_TRUE(left.empty()) << left[0].name;
    dest.reset();
    disk.Crash();
    std::string got;
    ASSERT_TRUE(disk.GetFile("dest/d/f", &got));
    EXPECT_TRUE(got == data);
    ASSERT_TRUE(disk.GetFile("dest/taken", &got));
    EXPECT_EQ(got, "theirs");
    dest = OpenHost(&disk, host, &info);
    ASSERT_VALISE_OK(dest->Resume("again", &records, &notes));
    EXPECT_EQ(Paths(records), std::vector<std::string>{"d/f"});
  }
}

// Goal: two hosts read the two copies of one file at once and race for
// its name: the second to name finds it taken (EEXIST, from rename or from
// link) by the very bytes it verified, and counts it named (no error, its
// staged file dropped, the first's file kept); other bytes there stay a
// name taken.
TEST_P(SharedDestTest, RaceForOneNameSameBytesCountsNamed) {
  for (bool noreplace : {true, false}) {
    SCOPED_TRACE(noreplace ? "rename noreplace" : "link, unlink");
    SimDiskOptions o = Options();
    o.rename_noreplace = noreplace;
    SimDisk disk(o);
    TwoHosts t(&disk, "2 files");
    ASSERT_FALSE(HasFailure());
    Destination* h1 = t.h1.get();
    Destination* h2 = t.h2.get();
    const std::string data = test::RandomBytes(kChunk + 77, 6);
    std::unique_ptr<StagedFile> f1, f2, g1, g2;
    ASSERT_VALISE_OK(
        StageBytes(&disk, h1, Signed("s/f", data, "e0-p0"), data, &f1));
    ASSERT_VALISE_OK(
        StageBytes(&disk, h2, Signed("s/f", data, "e0-p0"), data, &f2));
    ASSERT_VALISE_OK(
        StageBytes(&disk, h1, Request("s/g", "one", "e1-p0"), "one", &g1));
    ASSERT_VALISE_OK(
        StageBytes(&disk, h2, Request("s/g", "two", "e1-p0"), "two", &g2));
    std::vector<Status> named;
    ASSERT_VALISE_OK(Commit(
        h1, t.i1, {f1.get(), g1.get()},
        {RecordFor(Signed("s/f", data, "")), RecordOf("s/g", 3)}, &named));
    ASSERT_VALISE_OK(named[0]);
    ASSERT_VALISE_OK(named[1]);
    std::vector<Status> each;
    ASSERT_VALISE_OK(h2->Seal({f2.get(), g2.get()}, &each));
    h2->Name({f2.get(), g2.get()}, &each);
    EXPECT_VALISE_OK(each[0]);
    EXPECT_EQ(each[1].err(), EEXIST) << each[1].ToString();
    std::vector<DirEntry> left;
    ASSERT_VALISE_OK(disk.ListDir("dest/.valise/hosts/h2/staging", &left));
    EXPECT_TRUE(left.empty()) << left[0].name;
    std::string got;
    ASSERT_TRUE(disk.GetFile("dest/s/f", &got));
    EXPECT_TRUE(got == data);
    ASSERT_TRUE(disk.GetFile("dest/s/g", &got));
    EXPECT_EQ(got, "one");
  }
}

// Goal: a DEST of the one-host layout (DEST/.valise/journal, lock,
// staging) resumes as a shared one: a host's run returns the one-host
// journal's commits, moves its kept partial into the host's staging and
// removes its temporaries, never writes the one-host journal; a run
// without --host then finds DEST shared and goes by the machine's host
// name; while a one-host run holds its lock, a host's run is refused.
TEST_P(SharedDestTest, OneHostLayoutResumes) {
  SimDisk disk(Options());
  DestInfo info;
  std::unique_ptr<Destination> old = OpenDest(&disk, &info);
  std::vector<JournalRecord> records;
  std::vector<std::string> notes;
  ASSERT_VALISE_OK(old->Resume("2 files", &records, &notes));
  const std::string data = test::RandomBytes(5000, 8);
  StageAndCommit(&disk, old.get(), info, Signed("old", data, "e0-p0"), data);
  ASSERT_VALISE_OK(old->Close("1 files committed"));
  PosixDestinationOptions po;
  po.host = "h1";
  std::unique_ptr<Destination> refused = NewPosixDestination(&disk, "dest", po);
  Status s = refused->Open(&info);
  EXPECT_TRUE(s.IsBusy()) << s.ToString();
  EXPECT_NE(s.message().find("one-host run"), std::string::npos) << s.message();
  refused.reset();
  old.reset();
  disk.AddFile("dest/.valise/staging/r7", "kept part way");
  disk.AddFile("dest/.valise/staging/e9-p1", "left by a crash");
  std::string journal;
  ASSERT_TRUE(disk.GetFile("dest/.valise/journal", &journal));

  std::unique_ptr<Destination> h1 = OpenHost(&disk, "h1", &info);
  ASSERT_VALISE_OK(h1->Resume("2 files", &records, &notes));
  EXPECT_EQ(Paths(records), std::vector<std::string>{"old"});
  std::vector<std::string> partials;
  h1->ListPartials(&partials);
  EXPECT_EQ(partials, std::vector<std::string>{"r7"});
  EXPECT_FALSE(disk.Exists("dest/.valise/staging/e9-p1"));
  EXPECT_FALSE(disk.Exists("dest/.valise/staging/r7"));
  const std::string b = "new";
  StageAndCommit(&disk, h1.get(), info, Signed("new", b, "e1-p0"), b);
  ASSERT_VALISE_OK(h1->Close("1 files committed"));
  h1.reset();
  std::string after;
  ASSERT_TRUE(disk.GetFile("dest/.valise/journal", &after));
  EXPECT_TRUE(after == journal) << "the one-host journal is only read";

  std::unique_ptr<Destination> any = OpenDest(&disk, &info);
  ASSERT_VALISE_OK(any->Resume("2 files", &records, &notes));
  EXPECT_EQ(Paths(records), (std::vector<std::string>{"new", "old"}));
  EXPECT_TRUE(disk.Exists("dest/.valise/hosts/" + MachineHostName() + "/lock"));
}

// Goal: a host that died leaves staged files: a run on another host
// removes them once untouched for the grace period (stale_age_s; the
// simulated ctime is a counter, so here "0 s" against "never"), and says
// so; younger ones (maybe a live run's) are left and said left.
TEST_P(SharedDestTest, DeadHostsStagedFilesRemovedAfterGrace) {
  SimDisk disk(Options());
  disk.AddFile("dest/.valise/hosts/h2/staging/e4-p0", "dead host's");
  disk.AddFile("dest/.valise/hosts/h2/staging/notes", "not valise's");
  DestInfo info;
  std::unique_ptr<Destination> h1 =
      OpenHost(&disk, "h1", &info, 2000, UINT64_MAX);
  EXPECT_TRUE(disk.Exists("dest/.valise/hosts/h2/staging/e4-p0"));
  ASSERT_EQ(info.notes.size(), 1u);
  EXPECT_NE(info.notes[0].find("left 1 staged file(s)"), std::string::npos)
      << info.notes[0];
  h1.reset();
  info = DestInfo();
  h1 = OpenHost(&disk, "h1", &info, 2000, 0);
  EXPECT_FALSE(disk.Exists("dest/.valise/hosts/h2/staging/e4-p0"));
  EXPECT_TRUE(disk.Exists("dest/.valise/hosts/h2/staging/notes"));
  ASSERT_EQ(info.notes.size(), 1u);
  EXPECT_NE(info.notes[0].find("removed 1 staged file(s) of other hosts"),
            std::string::npos)
      << info.notes[0];
}

INSTANTIATE_TEST_SUITE_P(Durability, SharedDestTest, testing::Bool(),
                         [](const testing::TestParamInfo<bool>& p) {
                           return p.param ? "SyncFs" : "Fdatasync";
                         });

}  // namespace
}  // namespace valise
