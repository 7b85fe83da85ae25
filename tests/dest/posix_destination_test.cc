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

#include "support/test_util.h"
#include "valise/buffer_pool.h"
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

}  // namespace
}  // namespace valise
