// The read loop (src/pipeline/read_loop.cc, through Reader::Run) on the
// simulated disk: chunks that complete out of order are hashed in order; a
// media error is narrowed to the sectors that fail; a stalled drive gives
// up its files while the others finish, a file whose sectors were being
// read again included; and staging through a StageWriter
// that holds chunks and answers from another thread (the way an object
// store's writer does: whole parts, requests finishing elsewhere) gets
// exactly the bytes that were hashed, gives every buffer back, and is told
// to skip the chunks of a file that failed.
#include "pipeline/reader.h"

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/hash_schedule.h"
#include "support/pipeline_util.h"
#include "support/test_util.h"
#include "valise/buffer_pool.h"
#include "valise/sim_disk.h"

namespace valise {
namespace {

constexpr size_t kChunk = 16 << 10;

std::vector<Digest> DigestsOf(const std::string& data) {
  MultiHasher h(test::ShaXxh());
  h.Update(data.data(), data.size());
  return h.Finish();
}

struct Done {
  std::map<std::string, ReadOutcome> by_path;
};

Status ReadAll(const std::vector<std::vector<ReadJob>>& jobs, Done* done,
               Reader* reader) {
  return reader->Run(jobs, nullptr, [&](const ReadJob& job, ReadOutcome&& o) {
    done->by_path[job.path] = std::move(o);
  });
}

ReadJob Job(int drive, const std::string& path, uint64_t size, size_t id,
            bool write = false) {
  ReadJob j;
  j.drive = drive;
  j.path = path;
  j.size = size;
  j.id = id;
  j.write = write;
  return j;
}

// Two drives of `files` random files of `size` bytes each ("dD/fI", id
// 10 * D + I), and their jobs.
std::vector<std::vector<ReadJob>> TwoDrives(SimDisk* disk, int files,
                                            uint64_t size, bool write) {
  std::vector<std::vector<ReadJob>> jobs(2);
  for (int i = 0; i < files; ++i) {
    for (int d = 0; d < 2; ++d) {
      const std::string path =
          "d" + std::to_string(d) + "/f" + std::to_string(i);
      disk->AddFile(path, test::RandomBytes(size, 10 * d + i));
      jobs[d].push_back(Job(d, path, size, 10 * d + i, write));
    }
  }
  return jobs;
}

// Goal: the I/O thread waiting idle looks again within a bounded time
// even if no wake comes (no buffer back, no chunk resolved), so a
// cancellation (SIGINT sets a flag, it wakes nothing) is always seen;
// a wake still ends the wait at once.
TEST(ReadLoop, IdleWaitEndsWithoutAWake) {
  BufferPool pool(1, 4096);
  ASSERT_EQ(pool.TryGet(), 0);  // no buffer free
  PipelineOptions opt;
  RunState rs(&opt, &pool, nullptr, nullptr, nullptr);
  const auto start = std::chrono::steady_clock::now();
  rs.WaitIdle(true);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  rs.woken = true;
  rs.WaitIdle(false);
  EXPECT_FALSE(rs.woken);
}

// Goal: files of many chunks, read several chunks at a time on two drives
// (completions in a seeded, shuffled order), get the digests of their
// bytes in order.
TEST(ReadLoop, ChunksHashedInOrder) {
  SimDiskOptions so;
  so.seed = 11;
  SimDisk disk(so);
  std::vector<std::string> data;
  std::vector<std::vector<ReadJob>> jobs(2);
  for (int i = 0; i < 6; ++i) {
    data.push_back(test::RandomBytes(kChunk * (3 + i) + 7 * i, 100 + i));
    const std::string path =
        "d" + std::to_string(i % 2) + "/f" + std::to_string(i);
    disk.AddFile(path, data.back());
    jobs[i % 2].push_back(Job(i % 2, path, data.back().size(), i));
  }
  PipelineOptions opt = test::SmallPipelineOptions(kChunk, 2);
  Reader reader(&disk, opt, test::ShaXxh(), {false, false});
  Done done;
  ASSERT_VALISE_OK(ReadAll(jobs, &done, &reader));
  for (int i = 0; i < 6; ++i) {
    const ReadOutcome& o =
        done.by_path["d" + std::to_string(i % 2) + "/f" + std::to_string(i)];
    ASSERT_VALISE_OK(o.status);
    EXPECT_EQ(o.bytes_read, data[i].size());
    EXPECT_EQ(o.digests, DigestsOf(data[i])) << i;
  }
}

// An observer that notes how each chunk came: hashed by the caller
// (WholeFileChunk, with that SHA-256) or to be hashed (Chunk).
struct Noted {
  std::mutex mu;
  std::map<std::string, std::vector<std::string>> calls;  // by path
};
class NotingObserver final : public ChunkObserver {
 public:
  NotingObserver(Noted* noted, std::string path)
      : noted_(noted), path_(std::move(path)) {}
  void Chunk(uint64_t index, const char*, size_t len) override {
    Note("chunk " + std::to_string(index) + " " + std::to_string(len));
  }
  void WholeFileChunk(uint64_t index, const char* data, size_t len,
                      const Digest& sha256) override {
    auto h = Hasher::New(DigestType::kSha256);
    h->Update(data, len);
    Note("whole " + std::to_string(index) + " " + std::to_string(len) +
         (h->Finish() == sha256 ? " sha256 right" : " sha256 WRONG"));
  }

 private:
  void Note(std::string what) {
    std::lock_guard<std::mutex> l(noted_->mu);
    noted_->calls[path_].push_back(std::move(what));
  }
  Noted* noted_;
  std::string path_;
};

// Goal: a file of one chunk is hashed with SHA-256 once: the observer (the
// chunk check, the chunk index's recorder) is handed the file's own
// SHA-256 of that chunk rather than hashing it again; a file of several
// chunks gets each chunk to hash; the digests are those of the bytes.
TEST(ReadLoop, OneChunkFileGivesItsSha256ToTheObserver) {
  SimDisk disk(SimDiskOptions{});
  const std::vector<std::pair<std::string, std::string>> files = {
      {"d0/small", test::RandomBytes(5000, 1)},
      {"d0/exact", test::RandomBytes(kChunk, 2)},
      {"d0/three", test::RandomBytes(2 * kChunk + 1, 3)},
      {"d0/empty", ""}};
  std::vector<std::vector<ReadJob>> jobs(1);
  for (size_t i = 0; i < files.size(); ++i) {
    disk.AddFile(files[i].first, files[i].second);
    jobs[0].push_back(Job(0, files[i].first, files[i].second.size(), i));
  }
  Reader reader(&disk, test::SmallPipelineOptions(kChunk, 2), test::ShaXxh(),
                {false});
  Noted noted;
  reader.SetChunkObserver([&](const ReadJob& j) {
    return std::make_unique<NotingObserver>(&noted, j.path);
  });
  Done done;
  ASSERT_VALISE_OK(ReadAll(jobs, &done, &reader));
  for (const auto& [path, data] : files) {
    ASSERT_TRUE(done.by_path[path].status.ok()) << path;
    EXPECT_EQ(done.by_path[path].digests, DigestsOf(data)) << path;
  }
  using V = std::vector<std::string>;
  EXPECT_EQ(noted.calls["d0/small"], V{"whole 0 5000 sha256 right"});
  EXPECT_EQ(noted.calls["d0/exact"],
            V{"whole 0 " + std::to_string(kChunk) + " sha256 right"});
  EXPECT_EQ(noted.calls["d0/three"],
            (V{"chunk 0 16384", "chunk 1 16384", "chunk 2 1"}));
  EXPECT_EQ(noted.calls.count("d0/empty"), 0u);
}

// Goal: a persistent media error in one sector of a chunk is recorded as
// that sector alone (the chunk re-read sector by sector), and the file is
// unreadable while the rest of the drive is read.
TEST(ReadLoop, MediaErrorNarrowedToTheSector) {
  SimDisk disk(SimDiskOptions{});
  const std::string bad = test::RandomBytes(4 * kChunk, 1);
  const std::string good = test::RandomBytes(2 * kChunk, 2);
  disk.AddFile("d0/bad", bad);
  disk.AddFile("d0/good", good);
  disk.AddBadRange("d0/bad", kChunk + 2 * 4096, 4096);
  std::vector<std::vector<ReadJob>> jobs = {
      {Job(0, "d0/bad", bad.size(), 0), Job(0, "d0/good", good.size(), 1)}};
  PipelineOptions opt = test::SmallPipelineOptions(kChunk, 1);
  Reader reader(&disk, opt, test::ShaXxh(), {false});
  Done done;
  ASSERT_VALISE_OK(ReadAll(jobs, &done, &reader));
  const ReadOutcome& o = done.by_path["d0/bad"];
  EXPECT_FALSE(o.status.ok());
  ASSERT_EQ(o.bad_ranges.size(), 1u);
  EXPECT_EQ(o.bad_ranges[0].offset, kChunk + 2 * 4096);
  EXPECT_EQ(o.bad_ranges[0].length, 4096u);
  ASSERT_VALISE_OK(done.by_path["d0/good"].status);
  EXPECT_EQ(done.by_path["d0/good"].digests, DigestsOf(good));
}

// Goal: a drive that stops answering has its files reported stalled (one
// timed out, the others never read), and the other drive's files are all
// read.
TEST(ReadLoop, StalledDriveGivesUpItsFilesOthersFinish) {
  SimDisk disk(SimDiskOptions{});
  const auto jobs = TwoDrives(&disk, 3, 3 * kChunk, false);
  disk.Stall("d1/");
  PipelineOptions opt = test::SmallPipelineOptions(kChunk, 1);
  opt.engine.io_timeout_us = 1'000'000;
  Reader reader(&disk, opt, test::ShaXxh(), {false, false});
  Done done;
  ASSERT_VALISE_OK(ReadAll(jobs, &done, &reader));
  for (int i = 0; i < 3; ++i) {
    EXPECT_VALISE_OK(done.by_path["d0/f" + std::to_string(i)].status);
    const ReadOutcome& s = done.by_path["d1/f" + std::to_string(i)];
    EXPECT_TRUE(s.stalled) << i;
    EXPECT_FALSE(s.status.ok()) << i;
  }
  EXPECT_TRUE(reader.drive_stats()[1].stalled);
  EXPECT_FALSE(reader.drive_stats()[0].stalled);
  disk.Unstall("d1/");
}

// Goal: a drive that stops answering while a chunk of another file is
// being read again sector by sector (after a media error) leaves that
// file stalled, as every file it leaves unread: the sectors never sent
// are not reported as bad ones (they were reported as an "unreadable"
// range with no errno).
TEST(ReadLoop, DriveStalledDuringASectorRescueLeavesItsFileStalled) {
  constexpr size_t kBig = 64 << 10;  // 16 sectors to read one by one
  SimDiskOptions so;
  so.latency_us = 100'000;  // each completion moves the clock 0.1 s
  SimDisk disk(so);
  disk.AddFile("d0/stuck", test::RandomBytes(kBig, 1));
  disk.AddFile("d0/bad", test::RandomBytes(kBig, 2));
  disk.AddBadRange("d0/bad", kBig - 4096, 4096);  // its last sector
  disk.Stall("d0/stuck");
  std::vector<std::vector<ReadJob>> jobs = {
      {Job(0, "d0/stuck", kBig, 0), Job(0, "d0/bad", kBig, 1)}};
  PipelineOptions opt = test::SmallPipelineOptions(kBig, 0);
  opt.depth = 2;  // the stuck read, and one read of "bad" at a time
  opt.engine.io_timeout_us = 500'000;  // within the 16 sector reads
  Reader reader(&disk, opt, test::ShaXxh(), {false});
  Done done;
  ASSERT_VALISE_OK(ReadAll(jobs, &done, &reader));
  EXPECT_TRUE(done.by_path["d0/stuck"].stalled);
  const ReadOutcome& o = done.by_path["d0/bad"];
  EXPECT_TRUE(o.stalled) << o.status.ToString();
  EXPECT_FALSE(o.status.ok());
  EXPECT_TRUE(o.status.IsTimedOut()) << o.status.ToString();
  for (const BadRange& b : o.bad_ranges) {
    EXPECT_NE(b.err, 0) << "unsent sectors at " << b.offset << "+" << b.length;
  }
  EXPECT_TRUE(reader.drive_stats()[0].stalled);
  disk.Unstall("d0/");
}

// A staged file of the holding writer: the bytes it received, by offset.
class HeldFile final : public StagedFile {
 public:
  HeldFile(std::string name, uint64_t size)
      : name_(std::move(name)), size(size), bytes(size, '\0') {}
  const std::string& name() const override { return name_; }
  std::string name_;
  const uint64_t size;  // read on the I/O thread
  std::string bytes;    // written by the sender thread only
};

// A StageWriter shaped like an object store's: a file's chunks are held
// until a whole "part" (kPartChunks consecutive chunks, or the file's end)
// is there, then sent by another thread, which copies the bytes out of the
// pool's buffers and answers through io.wake; Poll hands the answers over.
// A part with a skipped chunk is never sent: its chunks are answered
// failed at once.
class HoldingWriter final : public StageWriter {
 public:
  static constexpr uint64_t kPartChunks = 3;

  ~HoldingWriter() override { Stop(); }

  void Attach(const StageIo& io) override {
    io_ = io;
    sender_ = std::thread([this] { Send(); });
  }
  size_t buffers(size_t num_drives, size_t) const override {
    return (num_drives + 2) * kPartChunks;
  }
  bool HasRoom() const override { return true; }
  void Write(const StageChunk& c) override {
    const Part key{c.file, c.offset / kChunk / kPartChunks};
    ++written_in;
    if (dead_.count(key)) {
      Answer(c, Status::Aborted("part skipped"));
      return;
    }
    std::vector<StageChunk>& part = held_[key];
    part.push_back(c);
    max_held = std::max(max_held, HeldCount());
    const uint64_t size = AsHeld(c.file)->size;
    const uint64_t first = key.index * kPartChunks * kChunk;
    const uint64_t end = std::min(size, first + kPartChunks * kChunk);
    const uint64_t want = (end - first + kChunk - 1) / kChunk;
    if (part.size() < want) return;
    {
      std::lock_guard<std::mutex> l(mu_);
      to_send_.push_back(std::move(part));
      ++in_flight_;
    }
    held_.erase(key);
    cv_.notify_one();
  }
  void Skip(StagedFile* file, uint64_t offset) override {
    ++skips;
    const Part key{file, offset / kChunk / kPartChunks};
    dead_.insert(key);
    auto it = held_.find(key);
    if (it == held_.end()) return;
    for (const StageChunk& c : it->second) {
      Answer(c, Status::Aborted("part skipped"));
    }
    held_.erase(it);
  }
  bool Issue() override { return false; }
  void OnComplete(Transfer*) override { ADD_FAILURE() << "no engine writes"; }
  void Poll() override {
    std::vector<std::vector<StageChunk>> sent;
    {
      std::lock_guard<std::mutex> l(mu_);
      sent.swap(sent_);
    }
    for (const auto& part : sent) {
      for (const StageChunk& c : part) Answer(c, Status::OK());
      std::lock_guard<std::mutex> l(mu_);
      --in_flight_;
    }
  }
  bool Busy() const override {
    std::lock_guard<std::mutex> l(mu_);
    return !held_.empty() || in_flight_ > 0;
  }

  size_t written_in = 0, answered = 0, skips = 0, max_held = 0;

 private:
  struct Part {
    StagedFile* file;
    uint64_t index;
    bool operator<(const Part& o) const {
      return file != o.file ? file < o.file : index < o.index;
    }
  };
  static HeldFile* AsHeld(StagedFile* f) { return static_cast<HeldFile*>(f); }
  size_t HeldCount() const {
    size_t n = 0;
    for (const auto& [k, v] : held_) n += v.size();
    return n;
  }
  // On the I/O thread: the buffer goes back first, then the chunk counts.
  void Answer(const StageChunk& c, const Status& s) {
    ++answered;
    io_.release(c.buf);
    io_.written(c, s);
  }
  // The sender thread: copies each part's bytes out of the pool.
  void Send() {
    std::unique_lock<std::mutex> l(mu_);
    for (;;) {
      cv_.wait(l, [&] { return stop_ || !to_send_.empty(); });
      if (to_send_.empty()) return;
      std::vector<StageChunk> part = std::move(to_send_.front());
      to_send_.erase(to_send_.begin());
      l.unlock();
      for (const StageChunk& c : part) {
        AsHeld(c.file)->bytes.replace(c.offset, c.len, io_.pool->data(c.buf),
                                      c.len);
      }
      l.lock();
      sent_.push_back(std::move(part));
      io_.wake();
    }
  }
  void Stop() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (sender_.joinable()) sender_.join();
  }

  StageIo io_;
  std::map<Part, std::vector<StageChunk>> held_;  // I/O thread
  std::set<Part> dead_;                           // I/O thread
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::vector<StageChunk>> to_send_, sent_;
  size_t in_flight_ = 0;
  bool stop_ = false;
  std::thread sender_;
};

// Goal: through a writer that holds chunks to send whole parts and answers
// from another thread, every good file is staged with exactly the bytes
// that were hashed, every chunk is answered once, the run ends only when
// the writer is done, and a file with an unreadable chunk has the chunks
// of that part skipped (never sent) and is not counted written.
TEST(ReadLoop, StagesThroughAWriterThatHoldsChunks) {
  SimDiskOptions so;
  so.seed = 3;
  SimDisk disk(so);
  std::vector<std::string> data;
  std::vector<std::vector<ReadJob>> jobs(2);
  std::map<size_t, HeldFile*> staged_of;
  for (int i = 0; i < 6; ++i) {
    data.push_back(test::RandomBytes(kChunk * (2 + 2 * i) + 100 * i, 50 + i));
    const std::string path =
        "d" + std::to_string(i % 2) + "/f" + std::to_string(i);
    disk.AddFile(path, data.back());
    jobs[i % 2].push_back(Job(i % 2, path, data.back().size(), i, true));
  }
  // f5 (12 chunks): chunk 7 unreadable, in its third part.
  disk.AddBadRange("d1/f5", 7 * kChunk, kChunk);
  PipelineOptions opt = test::SmallPipelineOptions(kChunk, 1);
  Reader reader(&disk, opt, test::ShaXxh(), {false, false});
  HoldingWriter writer;
  reader.SetSink(&writer,
                 [&](const ReadJob& job, std::unique_ptr<StagedFile>* out) {
                   auto f = std::make_unique<HeldFile>(job.path, job.size);
                   staged_of[job.id] = f.get();
                   *out = std::move(f);
                   return Status::OK();
                 });
  Done done;
  ASSERT_VALISE_OK(ReadAll(jobs, &done, &reader));
  uint64_t f5_sent = 0;
  EXPECT_FALSE(writer.Busy());
  EXPECT_EQ(writer.answered, writer.written_in)
      << "every chunk handed over is answered once";
  EXPECT_GT(writer.max_held, 1u) << "chunks were held for whole parts";
  for (int i = 0; i < 6; ++i) {
    const std::string path =
        "d" + std::to_string(i % 2) + "/f" + std::to_string(i);
    ReadOutcome& o = done.by_path[path];
    ASSERT_TRUE(o.staged) << path;
    auto* held = static_cast<HeldFile*>(o.staged.get());
    if (i == 5) {
      EXPECT_FALSE(o.status.ok());
      EXPECT_FALSE(o.written);
      EXPECT_GT(writer.skips, 0u);
      // The part with the bad chunk (chunks 6-8) was never sent; every
      // part that was sent holds the file's bytes.
      EXPECT_EQ(held->bytes.substr(6 * kChunk, 3 * kChunk),
                std::string(3 * kChunk, '\0'));
      for (uint64_t at = 0; at < data[i].size(); at += 3 * kChunk) {
        const std::string got = held->bytes.substr(at, 3 * kChunk);
        if (got != std::string(got.size(), '\0')) {
          EXPECT_TRUE(got == data[i].substr(at, 3 * kChunk)) << at;
          f5_sent += got.size();
        }
      }
      continue;
    }
    ASSERT_VALISE_OK(o.status);
    EXPECT_TRUE(o.written) << path;
    EXPECT_EQ(o.digests, DigestsOf(data[i])) << path;
    EXPECT_TRUE(held->bytes == data[i]) << path << ": staged bytes differ";
  }
  uint64_t good = 0;
  for (int i = 0; i < 5; ++i) good += data[i].size();
  EXPECT_EQ(reader.bytes_written(), good + f5_sent);
}

// Goal: with staged files made ahead of the I/O thread (FileOpener), a
// drive that stops answering gives every one of its files one outcome,
// stalled, and each staged file made for it goes with its file's outcome
// (for the core to discard or keep), none lost or made twice; the other
// drive's files are all read and staged on its way.
TEST(ReadLoop, FilesStagedAheadOfAStalledDriveGoToTheirOutcome) {
  SimDisk disk(SimDiskOptions{});
  const auto jobs = TwoDrives(&disk, 6, kChunk / 2, true);
  disk.Stall("d1/");
  PipelineOptions opt = test::SmallPipelineOptions(kChunk, 1);
  opt.engine.io_timeout_us = 1'000'000;
  Reader reader(&disk, opt, test::ShaXxh(), {false, false});
  HoldingWriter writer;
  std::mutex mu;
  std::map<std::string, int> staged;  // Stage calls, by path
  reader.SetSink(
      &writer,
      [&](const ReadJob& job, std::unique_ptr<StagedFile>* out) {
        std::lock_guard<std::mutex> l(mu);
        ++staged[job.path];
        *out = std::make_unique<HeldFile>(job.path, job.size);
        return Status::OK();
      },
      /*ahead=*/true);
  std::map<std::string, int> outcomes;
  Done done;
  ASSERT_VALISE_OK(
      reader.Run(jobs, nullptr, [&](const ReadJob& job, ReadOutcome&& o) {
        ++outcomes[job.path];
        done.by_path[job.path] = std::move(o);
      }));
  size_t d1_staged = 0;
  for (int i = 0; i < 6; ++i) {
    const std::string good = "d0/f" + std::to_string(i);
    EXPECT_EQ(outcomes[good], 1) << good;
    EXPECT_VALISE_OK(done.by_path[good].status);
    EXPECT_TRUE(done.by_path[good].written) << good;
    const std::string bad = "d1/f" + std::to_string(i);
    EXPECT_EQ(outcomes[bad], 1) << bad;
    EXPECT_TRUE(done.by_path[bad].stalled) << bad;
    EXPECT_FALSE(done.by_path[bad].written) << bad;
    // A staged file made for it is in its outcome, and only then.
    EXPECT_EQ(staged[bad], done.by_path[bad].staged ? 1 : 0) << bad;
    d1_staged += staged[bad];
  }
  // The files after the first stalled one were staged ahead of the I/O
  // thread, which never took them.
  EXPECT_GT(d1_staged, 1u);
  disk.Unstall("d1/");
}

}  // namespace
}  // namespace valise
