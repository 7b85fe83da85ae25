// Tests of the IoEngine (src/io/engine.cc): OnCompletion on every result
// class without a kernel; the engine on a scripted fake queue (short
// transfers, retries, O_DIRECT drop, depth, timeouts with a fake clock);
// then on the synchronous and io_uring queues with real files.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "io/io_test_util.h"
#include "support/test_util.h"
#include "valise/buffer_pool.h"
#include "valise/file_system.h"
#include "valise/io_engine.h"
#include "valise/io_queue.h"

namespace valise {
namespace {

using test::DiskTempDir;
using test::FdFile;
using test::MemFile;
using test::RandomBytes;
using test::TempDir;

// --- OnCompletion
// --------------------------------------------------------------

Transfer ReadOf(File* f, uint64_t offset, uint32_t len) {
  Transfer t;
  t.op = IoOp::kRead;
  t.file = f;
  t.offset = offset;
  t.len = len;
  return t;
}

TEST(OnCompletion, FullTransferIsDone) {
  // Goal: res == len finishes the transfer with done == len.
  MemFile f("/mnt/a/x", "");
  Transfer t = ReadOf(&f, 0, 4096);
  EXPECT_EQ(OnCompletion(t, 4096, EngineOptions()), CompletionAction::kDone);
  EXPECT_EQ(t.done, 4096u);
  EXPECT_TRUE(t.status.ok());
}

TEST(OnCompletion, ShortTransferAdvancesThenFinishes) {
  // Goal: 0 < res < remaining advances done and asks for the rest; the
  // rest is then measured against what remains, not against len.
  MemFile f("/mnt/a/x", "");
  Transfer t = ReadOf(&f, 0, 4096);
  EXPECT_EQ(OnCompletion(t, 1000, EngineOptions()),
            CompletionAction::kContinue);
  EXPECT_EQ(t.done, 1000u);
  EXPECT_EQ(OnCompletion(t, 3000, EngineOptions()),
            CompletionAction::kContinue);
  EXPECT_EQ(t.done, 4000u);
  EXPECT_EQ(OnCompletion(t, 96, EngineOptions()), CompletionAction::kDone);
  EXPECT_EQ(t.done, 4096u);

  // A short write continues too.
  Transfer w = ReadOf(&f, 0, 4096);
  w.op = IoOp::kWrite;
  EXPECT_EQ(OnCompletion(w, 4000, EngineOptions()),
            CompletionAction::kContinue);
  EXPECT_EQ(w.done, 4000u);
}

TEST(OnCompletion, ZeroIsEndOfFile) {
  // Goal: a read returning 0 is end of file: done, with what was read so
  // far (0 at the start, 1000 after a short read).
  MemFile f("/mnt/a/x", "");
  Transfer t = ReadOf(&f, 8192, 4096);
  EXPECT_EQ(OnCompletion(t, 0, EngineOptions()), CompletionAction::kDone);
  EXPECT_EQ(t.done, 0u);
  EXPECT_TRUE(t.status.ok());
  Transfer u = ReadOf(&f, 0, 4096);
  ASSERT_EQ(OnCompletion(u, 1000, EngineOptions()),
            CompletionAction::kContinue);
  EXPECT_EQ(OnCompletion(u, 0, EngineOptions()), CompletionAction::kDone);
  EXPECT_EQ(u.done, 1000u);
}

TEST(OnCompletion, ZeroByteWriteFails) {
  // Goal: a write that makes no progress fails instead of looping.
  MemFile f("/mnt/a/x", "");
  Transfer w = ReadOf(&f, 0, 4096);
  w.op = IoOp::kWrite;
  EXPECT_EQ(OnCompletion(w, 0, EngineOptions()), CompletionAction::kFail);
  EXPECT_TRUE(w.status.IsIOError()) << w.status.ToString();
  EXPECT_NE(w.status.message().find("/mnt/a/x: write at 0"), std::string::npos);
}

TEST(OnCompletion, DirectShortReadAtUnalignedEndIsDone) {
  // Goal: an O_DIRECT read that stops at an unaligned offset has hit the
  // end of the file: done (continuing would be an unaligned read); one
  // that stops aligned continues.
  MemFile f("/mnt/a/x", "", /*direct=*/true);
  Transfer t = ReadOf(&f, 1 << 20, 1 << 20);
  EXPECT_EQ(OnCompletion(t, 5000, EngineOptions()), CompletionAction::kDone);
  EXPECT_EQ(t.done, 5000u);
  Transfer u = ReadOf(&f, 0, 1 << 20);
  EXPECT_EQ(OnCompletion(u, 8192, EngineOptions()),
            CompletionAction::kContinue);
}

TEST(OnCompletion, OverLongIsCorruption) {
  // Goal: more bytes than asked is a lying device: Corruption, naming the
  // path and offset.
  MemFile f("/mnt/a/x", "");
  Transfer t = ReadOf(&f, 4096, 4096);
  EXPECT_EQ(OnCompletion(t, 4097, EngineOptions()), CompletionAction::kFail);
  EXPECT_TRUE(t.status.IsCorruption()) << t.status.ToString();
  EXPECT_NE(t.status.message().find("/mnt/a/x: read at 4096"),
            std::string::npos)
      << t.status.message();
  // Over-long measured against what remains after a short read.
  Transfer u = ReadOf(&f, 0, 4096);
  ASSERT_EQ(OnCompletion(u, 4000, EngineOptions()),
            CompletionAction::kContinue);
  EXPECT_EQ(OnCompletion(u, 97, EngineOptions()), CompletionAction::kFail);
  EXPECT_TRUE(u.status.IsCorruption());
}

TEST(OnCompletion, EagainAndEintrResubmitWithoutUsingRetries) {
  // Goal: -EAGAIN and -EINTR resubmit unchanged, however often, without
  // consuming the EIO retry budget.
  MemFile f("/mnt/a/x", "");
  Transfer t = ReadOf(&f, 0, 4096);
  EngineOptions opt;
  opt.retries = 0;
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(OnCompletion(t, -EAGAIN, opt), CompletionAction::kResubmit);
    EXPECT_EQ(OnCompletion(t, -EINTR, opt), CompletionAction::kResubmit);
  }
  EXPECT_EQ(t.attempts, 0u);
  EXPECT_EQ(t.done, 0u);
  EXPECT_TRUE(t.status.ok());
}

TEST(OnCompletion, EioIsRetriedThenFailsWithDataLoss) {
  // Goal: -EIO is retried `retries` times, then fails with data_loss and the
  // message "<path>: read at <offset of the failing request>: <strerror>".
  MemFile f("/mnt/a/x", "");
  EngineOptions opt;
  opt.retries = 2;
  Transfer t = ReadOf(&f, 1 << 20, 8192);
  ASSERT_EQ(OnCompletion(t, 4096, opt), CompletionAction::kContinue);
  EXPECT_EQ(OnCompletion(t, -EIO, opt), CompletionAction::kRetry);
  EXPECT_EQ(t.attempts, 1u);
  EXPECT_EQ(OnCompletion(t, -EIO, opt), CompletionAction::kRetry);
  EXPECT_EQ(t.attempts, 2u);
  EXPECT_EQ(OnCompletion(t, -EIO, opt), CompletionAction::kFail);
  EXPECT_TRUE(t.status.IsIOError());
  EXPECT_TRUE(t.status.data_loss());
  EXPECT_EQ(t.status.err(), EIO);
  EXPECT_EQ(t.status.message(),
            "/mnt/a/x: read at 1052672: Input/output error");
  // Other media errors count the same.
  Transfer u = ReadOf(&f, 0, 4096);
  opt.retries = 0;
  EXPECT_EQ(OnCompletion(u, -EILSEQ, opt), CompletionAction::kFail);
  EXPECT_TRUE(u.status.data_loss());
}

TEST(OnCompletion, EinvalUnderDirectDropsDirect) {
  // Goal: -EINVAL on an O_DIRECT file asks for a buffered retry; on a
  // buffered file it fails (InvalidArgument).
  MemFile direct("/mnt/a/x", "", true);
  Transfer t = ReadOf(&direct, 0, 4096);
  EXPECT_EQ(OnCompletion(t, -EINVAL, EngineOptions()),
            CompletionAction::kDropDirect);
  EXPECT_TRUE(t.status.ok());
  MemFile buffered("/mnt/a/y", "", false);
  Transfer u = ReadOf(&buffered, 0, 4096);
  EXPECT_EQ(OnCompletion(u, -EINVAL, EngineOptions()), CompletionAction::kFail);
  EXPECT_TRUE(u.status.IsInvalidArgument());
  EXPECT_NE(u.status.message().find("/mnt/a/y: read at 0"), std::string::npos);
}

TEST(OnCompletion, EnospcOnWriteFailsAsNoSpace) {
  // Goal: -ENOSPC on a write fails at once (no retry) as NoSpace naming the
  // write and its offset.
  MemFile f("/dest/x.tmp", "");
  Transfer w = ReadOf(&f, 65536, 4096);
  w.op = IoOp::kWrite;
  EXPECT_EQ(OnCompletion(w, -ENOSPC, EngineOptions()), CompletionAction::kFail);
  EXPECT_TRUE(w.status.IsNoSpace()) << w.status.ToString();
  EXPECT_EQ(w.status.err(), ENOSPC);
  EXPECT_EQ(w.status.message(),
            "/dest/x.tmp: write at 65536: No space left on device");
  EXPECT_EQ(w.attempts, 0u);
}

TEST(OnCompletion, EbadfFails) {
  // Goal: -EBADF (a programming or descriptor error) fails at once.
  MemFile f("/mnt/a/x", "");
  Transfer t = ReadOf(&f, 0, 4096);
  EXPECT_EQ(OnCompletion(t, -EBADF, EngineOptions()), CompletionAction::kFail);
  EXPECT_TRUE(t.status.IsIOError());
  EXPECT_EQ(t.status.err(), EBADF);
  EXPECT_FALSE(t.status.data_loss());
  EXPECT_EQ(t.status.message(), "/mnt/a/x: read at 0: Bad file descriptor");
}

TEST(OnCompletion, SyncIsDoneOrFailsWithoutRetry) {
  // Goal: a sync is done on 0; a failed fdatasync is never retried (the
  // dirty pages may already be gone), and keeps data_loss for EIO.
  MemFile f("/dest/x", "");
  Transfer s;
  s.op = IoOp::kSync;
  s.file = &f;
  EXPECT_EQ(OnCompletion(s, 0, EngineOptions()), CompletionAction::kDone);
  EXPECT_EQ(OnCompletion(s, -EIO, EngineOptions()), CompletionAction::kFail);
  EXPECT_TRUE(s.status.data_loss());
  EXPECT_EQ(s.status.message(), "/dest/x: sync: Input/output error");
  EXPECT_EQ(s.attempts, 0u);
}

// --- The engine on a scripted queue ----------------------------------------

// A queue whose completions are chosen by the test: `respond` sees each
// request (and may fill its buffer) and returns the result, or nullopt for
// a request that never completes until Release(). A Wait that finds
// nothing ready returns at once, or, with `clock_us` set, "sleeps" its
// timeout by moving that clock on (as a kernel wait would).
class ScriptedQueue final : public IoQueue {
 public:
  using Responder = std::function<std::optional<int32_t>(const IoRequest&)>;
  explicit ScriptedQueue(Responder respond, unsigned entries = 64)
      : respond_(std::move(respond)), entries_(entries) {}

  Status RegisterBuffers(const std::vector<iovec>&) override {
    return Status::OK();
  }
  Status Prepare(const IoRequest& req) override {
    if (in_flight() >= entries_) return Status::Busy("scripted", "full");
    prepared_.push_back(req);
    log.push_back(req);
    return Status::OK();
  }
  Status Submit() override {
    ++submits;
    for (const IoRequest& r : prepared_) {
      std::optional<int32_t> res = respond_(r);
      if (res) {
        ready_.push_back({r.user_data, *res});
      } else {
        stuck_.push_back(r);
      }
    }
    prepared_.clear();
    return Status::OK();
  }
  Status Wait(unsigned min_complete, uint64_t timeout_us,
              std::vector<IoCompletion>* out) override {
    VALISE_RETURN_IF_ERROR(Submit());
    if (ready_.empty() && min_complete > 0 && clock_us != nullptr) {
      *clock_us += timeout_us;
    }
    if (clock_us != nullptr) {
      *clock_us += pause_next_wait_us;  // the process stopped in the wait
      pause_next_wait_us = 0;
    }
    out->insert(out->end(), ready_.begin(), ready_.end());
    ready_.clear();
    return Status::OK();
  }
  void Wake() override {}
  unsigned in_flight() const override {
    return static_cast<unsigned>(prepared_.size() + ready_.size() +
                                 stuck_.size());
  }
  unsigned capacity() const override { return entries_; }
  std::string Describe() const override { return "scripted"; }

  // Completes every stuck request with `res`.
  void Release(int32_t res) {
    for (const IoRequest& r : stuck_) ready_.push_back({r.user_data, res});
    stuck_.clear();
  }

  std::vector<IoRequest> log;  // every request prepared, in order
  int submits = 0;
  uint64_t* clock_us = nullptr;     // moved on by a Wait that sleeps
  uint64_t pause_next_wait_us = 0;  // the next Wait lasts this much longer

 private:
  Responder respond_;
  unsigned entries_;
  std::vector<IoRequest> prepared_, stuck_;
  std::vector<IoCompletion> ready_;
};

// A FileSystem that is only a clock the test moves.
class FakeClock final : public FileSystem {
 public:
  uint64_t now = 1'000'000;
  uint64_t NowMicros() override { return now; }
  Status Stat(const std::string&, FileInfo*) override { return No(); }
  Status ListDir(const std::string&, std::vector<DirEntry>*) override {
    return No();
  }
  Status OpenForRead(const std::string&, const ReadOptions&,
                     std::unique_ptr<File>*) override {
    return No();
  }
  Status OpenDirectory(const std::string&, bool,
                       std::unique_ptr<Directory>*) override {
    return No();
  }
  Status ReadSmallFile(const std::string&, std::string*, size_t) override {
    return No();
  }
  Status WriteSmallFile(const std::string&, const std::string&,
                        uint32_t) override {
    return No();
  }
  std::unique_ptr<IoQueue> NewIoQueue(const IoQueueOptions&,
                                      std::string*) override {
    return nullptr;
  }

 private:
  static Status No() { return Status::NotSupported("fake clock"); }
};

// Serves reads from the request's MemFile, at most `cap` bytes each.
ScriptedQueue::Responder ServeFromMemFile(uint32_t cap) {
  return [cap](const IoRequest& r) -> std::optional<int32_t> {
    size_t n = 0;
    Status s = r.file->ReadAt(r.offset, std::min(r.len, cap), r.buf, &n);
    if (!s.ok()) return -EIO;
    return static_cast<int32_t>(n);
  };
}

// Reaps until `n` transfers came back (the scripted queue never blocks).
std::vector<Transfer*> ReapAll(IoEngine& e, size_t n) {
  std::vector<Transfer*> done;
  for (int i = 0; i < 1000 && done.size() < n; ++i) {
    Status s = e.Reap(&done, true, 1000);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  return done;
}

TEST(IoEngine, ShortReadsAreContinuedToTheEnd) {
  // Goal: a device that returns at most 1000 bytes per request still
  // delivers the whole transfer; each follow-up asks for the rest at the
  // advanced offset; a transfer past the end stops at end of file.
  std::string data = RandomBytes(10000, 1);
  MemFile f("/mnt/a/x", data);
  auto q = std::make_unique<ScriptedQueue>(ServeFromMemFile(1000));
  ScriptedQueue* sq = q.get();
  FakeClock clock;
  IoEngine e(std::move(q), 1, EngineOptions(), &clock);
  e.SetDepth(0, 2);
  std::vector<char> buf1(4096), buf2(4096);
  Transfer a = ReadOf(&f, 0, 4096), b = ReadOf(&f, 8192, 4096);
  a.buf = buf1.data();
  b.buf = buf2.data();
  ASSERT_VALISE_OK(e.Submit(&a));
  ASSERT_VALISE_OK(e.Submit(&b));
  EXPECT_FALSE(e.HasRoom(0));
  auto done = ReapAll(e, 2);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_TRUE(a.status.ok());
  EXPECT_EQ(a.done, 4096u);
  EXPECT_EQ(std::string(buf1.data(), 4096), data.substr(0, 4096));
  EXPECT_EQ(b.done, 10000u - 8192u);
  EXPECT_EQ(std::string(buf2.data(), b.done), data.substr(8192));
  // a: 0+1000, 1000+1000, 2000+1000, 3000+1000, 4000+96.
  std::vector<uint64_t> a_offsets;
  for (const IoRequest& r : sq->log) {
    if (r.buf >= buf1.data() && r.buf < buf1.data() + 4096) {
      a_offsets.push_back(r.offset);
      EXPECT_EQ(r.buf, buf1.data() + r.offset);
      EXPECT_EQ(r.len, 4096u - r.offset);
    }
  }
  EXPECT_EQ(a_offsets, (std::vector<uint64_t>{0, 1000, 2000, 3000, 4000}));
  EXPECT_EQ(e.in_flight(), 0u);
  EXPECT_TRUE(e.HasRoom(0));
}

TEST(IoEngine, RetriesEioThenSucceedsOrFails) {
  // Goal: transient -EIO is retried up to `retries` times and the transfer
  // then succeeds; a persistent one fails with data_loss after exactly
  // retries + 1 requests.
  std::string data = RandomBytes(4096, 2);
  MemFile f("/mnt/a/x", data);
  int failures_left = 2;
  auto q = std::make_unique<ScriptedQueue>(
      [&](const IoRequest& r) -> std::optional<int32_t> {
        if (failures_left > 0) {
          --failures_left;
          return -EIO;
        }
        size_t n = 0;
        EXPECT_TRUE(r.file->ReadAt(r.offset, r.len, r.buf, &n).ok());
        return static_cast<int32_t>(n);
      });
  ScriptedQueue* sq = q.get();
  EngineOptions opt;
  opt.retries = 2;
  FakeClock clock;
  IoEngine e(std::move(q), 1, opt, &clock);
  std::vector<char> buf(4096);
  Transfer t = ReadOf(&f, 0, 4096);
  t.buf = buf.data();
  ASSERT_VALISE_OK(e.Submit(&t));
  auto done = ReapAll(e, 1);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(t.status.ok()) << t.status.ToString();
  EXPECT_EQ(t.attempts, 2u);
  EXPECT_EQ(std::string(buf.data(), 4096), data);
  EXPECT_EQ(sq->log.size(), 3u);

  failures_left = 100;
  sq->log.clear();
  ASSERT_VALISE_OK(e.Submit(&t));  // a Transfer may be reused
  EXPECT_EQ(t.attempts, 0u);
  done = ReapAll(e, 1);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(t.status.data_loss());
  EXPECT_EQ(t.status.message(), "/mnt/a/x: read at 0: Input/output error");
  EXPECT_EQ(sq->log.size(), 3u);
}

TEST(IoEngine, EagainIsResubmitted) {
  // Goal: -EAGAIN completions are resubmitted until the device answers.
  MemFile f("/mnt/a/x", std::string(4096, 'z'));
  int eagains = 5;
  auto q = std::make_unique<ScriptedQueue>(
      [&](const IoRequest& r) -> std::optional<int32_t> {
        if (eagains-- > 0) return -EAGAIN;
        return ServeFromMemFile(1 << 20)(r);
      });
  FakeClock clock;
  EngineOptions opt;
  opt.retries = 0;
  IoEngine e(std::move(q), 1, opt, &clock);
  std::vector<char> buf(4096);
  Transfer t = ReadOf(&f, 0, 4096);
  t.buf = buf.data();
  ASSERT_VALISE_OK(e.Submit(&t));
  auto done = ReapAll(e, 1);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(t.status.ok()) << t.status.ToString();
  EXPECT_EQ(t.done, 4096u);
}

TEST(IoEngine, EinvalUnderDirectDropsDirectAndResubmits) {
  // Goal: a device refusing O_DIRECT (-EINVAL) makes the engine drop
  // O_DIRECT on the file once and read it buffered.
  std::string data = RandomBytes(4096, 3);
  MemFile f("/mnt/a/x", data, /*direct=*/true);
  auto q = std::make_unique<ScriptedQueue>(
      [](const IoRequest& r) -> std::optional<int32_t> {
        if (r.file->is_direct()) return -EINVAL;
        return ServeFromMemFile(1 << 20)(r);
      });
  FakeClock clock;
  IoEngine e(std::move(q), 1, EngineOptions(), &clock);
  std::vector<char> buf(4096);
  Transfer t = ReadOf(&f, 0, 4096);
  t.buf = buf.data();
  ASSERT_VALISE_OK(e.Submit(&t));
  auto done = ReapAll(e, 1);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(t.status.ok()) << t.status.ToString();
  EXPECT_EQ(f.drop_direct_calls, 1);
  EXPECT_FALSE(f.is_direct());
  EXPECT_EQ(std::string(buf.data(), 4096), data);
}

TEST(IoEngine, DepthIsPerDrive) {
  // Goal: each drive has its own depth (default 1) and in-flight count;
  // Submit beyond the depth is Busy; an unknown drive is refused.
  MemFile f("/mnt/a/x", std::string(1 << 16, 'q'));
  auto q = std::make_unique<ScriptedQueue>(
      [](const IoRequest&) -> std::optional<int32_t> { return std::nullopt; });
  ScriptedQueue* sq = q.get();
  FakeClock clock;
  IoEngine e(std::move(q), 3, EngineOptions(), &clock);
  EXPECT_EQ(e.depth(0), 1u);
  e.SetDepth(1, 3);
  EXPECT_EQ(e.depth(1), 3u);
  std::vector<char> buf(4096 * 8);
  std::vector<Transfer> ts(8);
  for (int i = 0; i < 8; ++i) {
    ts[i] = ReadOf(&f, uint64_t(i) * 4096, 4096);
    ts[i].buf = buf.data() + i * 4096;
  }
  ts[0].drive = 0;
  ASSERT_VALISE_OK(e.Submit(&ts[0]));
  EXPECT_FALSE(e.HasRoom(0));
  ts[1].drive = 0;
  EXPECT_TRUE(e.Submit(&ts[1]).IsBusy());
  for (int i = 2; i < 5; ++i) {
    ts[i].drive = 1;
    EXPECT_TRUE(e.HasRoom(1));
    ASSERT_VALISE_OK(e.Submit(&ts[i]));
  }
  EXPECT_FALSE(e.HasRoom(1));
  EXPECT_TRUE(e.HasRoom(2));
  EXPECT_EQ(e.in_flight(0), 1u);
  EXPECT_EQ(e.in_flight(1), 3u);
  EXPECT_EQ(e.in_flight(2), 0u);
  EXPECT_EQ(e.in_flight(), 4u);
  ts[5].drive = 7;
  EXPECT_TRUE(e.Submit(&ts[5]).IsInvalidArgument());
  EXPECT_FALSE(e.HasRoom(-1));
  // Once the device answers, the room is back.
  ASSERT_VALISE_OK(e.Flush());
  EXPECT_EQ(sq->submits, 1);
  sq->Release(4096);
  std::vector<Transfer*> done;
  ASSERT_VALISE_OK(e.Reap(&done, true, 1000));
  EXPECT_EQ(done.size(), 4u);
  EXPECT_EQ(e.in_flight(), 0u);
  EXPECT_TRUE(e.HasRoom(0));
  EXPECT_TRUE(e.HasRoom(1));
}

TEST(IoEngine, TimeoutMarksDriveStalledAndLateCompletionComesBack) {
  // Goal: a request that never completes is failed (TimedOut, message with
  // path, offset and the timeout) once io_timeout has passed on the clock
  // while the engine waited for it, its drive is stalled (no room) while
  // the other drive goes on; the late completion is returned with `late`
  // set and the drive answers again.
  MemFile stuck_file("/mnt/slow/x", std::string(8192, 's'));
  MemFile fine_file("/mnt/fast/y", std::string(8192, 'f'));
  auto q = std::make_unique<ScriptedQueue>(
      [&](const IoRequest& r) -> std::optional<int32_t> {
        if (r.file == &stuck_file) return std::nullopt;
        return static_cast<int32_t>(r.len);
      });
  ScriptedQueue* sq = q.get();
  FakeClock clock;
  sq->clock_us = &clock.now;
  EngineOptions opt;
  opt.io_timeout_us = 5'000'000;
  IoEngine e(std::move(q), 2, opt, &clock);
  std::vector<char> buf(8192);
  Transfer slow = ReadOf(&stuck_file, 4096, 4096);
  slow.buf = buf.data();
  slow.drive = 0;
  ASSERT_VALISE_OK(e.Submit(&slow));
  std::vector<Transfer*> done;
  ASSERT_VALISE_OK(e.Reap(&done, true, 1000));
  EXPECT_TRUE(done.empty());
  ASSERT_VALISE_OK(e.Reap(&done, true, 3'999'000));  // 4 s waited in all
  EXPECT_TRUE(done.empty());
  EXPECT_FALSE(e.stalled(0));
  EXPECT_EQ(clock.now, 5'000'000u);
  // The engine sleeps no longer than until the deadline: 1 s more.
  ASSERT_VALISE_OK(e.Reap(&done, true, 60'000'000));
  EXPECT_EQ(clock.now, 6'000'000u);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0], &slow);
  EXPECT_TRUE(slow.status.IsTimedOut()) << slow.status.ToString();
  EXPECT_EQ(slow.status.message(),
            "/mnt/slow/x: read at 4096: no answer after 5 s; drive stalled");
  EXPECT_FALSE(slow.late);
  EXPECT_TRUE(e.stalled(0));
  EXPECT_FALSE(e.HasRoom(0));
  EXPECT_EQ(e.in_flight(0), 1u);  // the buffer is still with the device

  // The other drive is not affected.
  Transfer fast = ReadOf(&fine_file, 0, 4096);
  fast.buf = buf.data() + 4096;
  fast.drive = 1;
  ASSERT_VALISE_OK(e.Submit(&fast));
  done.clear();
  ASSERT_VALISE_OK(e.Reap(&done, true, 1000));
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0], &fast);
  EXPECT_TRUE(fast.status.ok());
  EXPECT_FALSE(e.stalled(1));

  // Reported only once.
  clock.now += 60'000'000;
  done.clear();
  ASSERT_VALISE_OK(e.Reap(&done, true, 1000));
  EXPECT_TRUE(done.empty());

  sq->Release(4096);
  ASSERT_VALISE_OK(e.Reap(&done, true, 1000));
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0], &slow);
  EXPECT_TRUE(slow.late);
  EXPECT_TRUE(slow.status.IsTimedOut());
  EXPECT_FALSE(e.stalled(0));
  EXPECT_TRUE(e.HasRoom(0));
  EXPECT_EQ(e.in_flight(), 0u);
}

TEST(IoEngine, PauseOfTheProcessIsNotAStall) {
  // Goal (issue 12, item 6): time the process did not run (SIGSTOP,
  // Ctrl-Z, a VM paused), between two reaps or inside a wait, does not
  // count towards io_timeout: a request outstanding across pauses longer
  // than the timeout is not failed, and completes once the drive answers.
  MemFile file("/mnt/d1/x", std::string(4096, 'x'));
  auto q = std::make_unique<ScriptedQueue>(
      [](const IoRequest&) -> std::optional<int32_t> { return std::nullopt; });
  ScriptedQueue* sq = q.get();
  FakeClock clock;
  sq->clock_us = &clock.now;
  EngineOptions opt;
  opt.io_timeout_us = 10'000'000;
  IoEngine e(std::move(q), 1, opt, &clock);
  std::vector<char> buf(4096);
  Transfer t = ReadOf(&file, 0, 4096);
  t.buf = buf.data();
  ASSERT_VALISE_OK(e.Submit(&t));
  std::vector<Transfer*> done;
  ASSERT_VALISE_OK(e.Reap(&done, true, 1'000'000));  // 1 s waited
  clock.now += 60'000'000;  // stopped for a minute between two reaps
  ASSERT_VALISE_OK(e.Reap(&done, true, 1'000'000));
  EXPECT_TRUE(done.empty());
  sq->pause_next_wait_us = 60'000'000;  // and for a minute inside a wait
  ASSERT_VALISE_OK(e.Reap(&done, true, 1'000'000));
  EXPECT_TRUE(done.empty());
  EXPECT_FALSE(e.stalled(0));
  sq->Release(4096);
  ASSERT_VALISE_OK(e.Reap(&done, true, 1'000'000));
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(t.status.ok()) << t.status.ToString();
  EXPECT_FALSE(t.late);
}

TEST(IoEngine, StallIsFoundAfterAPause) {
  // Goal: after a pause, a request that still gets no answer is failed
  // once the engine has waited io_timeout for it while running (less the
  // slack of 1 s it grants one gap), not at once and not never.
  MemFile file("/mnt/d1/x", std::string(4096, 'x'));
  auto q = std::make_unique<ScriptedQueue>(
      [](const IoRequest&) -> std::optional<int32_t> { return std::nullopt; });
  ScriptedQueue* sq = q.get();
  FakeClock clock;
  sq->clock_us = &clock.now;
  EngineOptions opt;
  opt.io_timeout_us = 5'000'000;
  IoEngine e(std::move(q), 1, opt, &clock);
  std::vector<char> buf(4096);
  Transfer t = ReadOf(&file, 0, 4096);
  t.buf = buf.data();
  ASSERT_VALISE_OK(e.Submit(&t));
  clock.now += 60'000'000;  // stopped for a minute
  const uint64_t continued = clock.now;
  std::vector<Transfer*> done;
  ASSERT_VALISE_OK(e.Reap(&done, true, 1'000'000));
  EXPECT_TRUE(done.empty());
  for (int i = 0; i < 20 && done.empty(); ++i) {
    ASSERT_VALISE_OK(e.Reap(&done, true, 1'000'000));
  }
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(t.status.IsTimedOut()) << t.status.ToString();
  EXPECT_TRUE(e.stalled(0));
  EXPECT_EQ(clock.now - continued, 4'000'000u);
}

// --- The engine on real queues and files -----------------------------------

// Reads the whole file through the engine with `depth` 1 MiB transfers in
// flight from `pool`; returns the bytes.
std::string ReadThroughEngine(IoEngine& e, File* f, uint64_t size,
                              BufferPool& pool, bool fixed, unsigned depth) {
  e.SetDepth(0, depth);
  std::string out(size, '\0');
  const uint32_t chunk = static_cast<uint32_t>(pool.buffer_size());
  std::vector<Transfer> ts(pool.count());
  std::vector<Transfer*> free_ts;
  for (Transfer& t : ts) free_ts.push_back(&t);
  uint64_t next = 0;
  uint64_t received = 0;
  std::vector<Transfer*> done;
  while (received < size) {
    while (next < size && e.HasRoom(0) && !free_ts.empty()) {
      Transfer* t = free_ts.back();
      free_ts.pop_back();
      int idx = static_cast<int>(t - ts.data());
      *t = Transfer();
      t->file = f;
      t->offset = next;
      t->len = chunk;
      t->buf = pool.data(idx);
      t->buf_index = fixed ? idx : -1;
      Status s = e.Submit(t);
      EXPECT_TRUE(s.ok()) << s.ToString();
      if (!s.ok()) return {};
      next += chunk;
    }
    done.clear();
    Status s = e.Reap(&done, true, 1'000'000);
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (!s.ok()) return {};
    for (Transfer* t : done) {
      EXPECT_TRUE(t->status.ok()) << t->status.ToString();
      if (!t->status.ok()) return {};
      uint64_t expect = std::min<uint64_t>(chunk, size - t->offset);
      EXPECT_EQ(t->done, expect) << "at " << t->offset;
      memcpy(out.data() + t->offset, t->buf, t->done);
      received += t->done;
      free_ts.push_back(t);
    }
  }
  EXPECT_EQ(e.in_flight(), 0u);
  return out;
}

std::string WriteDiskFile(const TempDir& scratch, const std::string& name,
                          const std::string& data) {
  scratch.Write(name, data);
  return scratch.path() + "/" + name;
}

TEST(IoEngine, SyncQueueReadsRealFileWithUnalignedTail) {
  // Goal: the engine on the synchronous queue reads a 5 MiB + 123 byte
  // file with O_DIRECT, the short tail included, byte for byte.
  std::string data = RandomBytes((5 << 20) + 123, 21);
  DiskTempDir scratch;
  std::string path = WriteDiskFile(scratch, "sync_tail", data);
  std::unique_ptr<File> f;
  ASSERT_VALISE_OK(FileSystem::Default()->OpenForRead(path, ReadOptions(), &f));
  ASSERT_TRUE(f->is_direct());
  IoEngine e(NewSyncQueue(64), 1, EngineOptions(), FileSystem::Default());
  BufferPool pool(4, 1 << 20);
  std::string got = ReadThroughEngine(e, f.get(), data.size(), pool, false, 4);
  EXPECT_TRUE(got == data);
  EXPECT_TRUE(f->is_direct());  // the tail did not need a buffered retry
}

TEST(IoEngine, UringReads64MiBWithFixedBuffersAtDepth16) {
  // Goal: the engine on the io_uring queue, registered buffers from a
  // BufferPool and depth 16, reads a 64 MiB file in /var/tmp with O_DIRECT
  // and gets the same bytes as a plain read.
  const size_t size = size_t{64} << 20;
  std::string data = RandomBytes(size, 64);
  DiskTempDir scratch;
  std::string path = WriteDiskFile(scratch, "big", data);
  data.clear();
  std::unique_ptr<File> f;
  ASSERT_VALISE_OK(FileSystem::Default()->OpenForRead(path, ReadOptions(), &f));
  ASSERT_TRUE(f->is_direct());
  std::string note;
  IoEngine e(IoQueue::Create(IoQueueOptions(), &note), 1, EngineOptions(),
             FileSystem::Default());
  ASSERT_EQ(note.rfind("io_uring:", 0), 0u) << note;
  BufferPool pool(16, 1 << 20);
  ASSERT_VALISE_OK(e.queue()->RegisterBuffers(pool.iovecs()));
  std::string got = ReadThroughEngine(e, f.get(), size, pool, true, 16);
  // The plain read, for comparison.
  std::string plain;
  {
    std::ifstream in(path, std::ios::binary);
    plain.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_EQ(plain.size(), size);
  EXPECT_TRUE(got == plain);
  unlink(path.c_str());
}

TEST(IoEngine, UringReadsUnalignedTailAndDescriptorlessFiles) {
  // Goal: on the io_uring queue, an O_DIRECT file with an unaligned size
  // and a File without a descriptor are both read whole.
  std::string data = RandomBytes((3 << 20) + 4097, 33);
  DiskTempDir scratch;
  std::string path = WriteDiskFile(scratch, "uring_tail", data);
  std::unique_ptr<File> f;
  ASSERT_VALISE_OK(FileSystem::Default()->OpenForRead(path, ReadOptions(), &f));
  IoEngine e(IoQueue::Create(IoQueueOptions(), nullptr), 1, EngineOptions(),
             FileSystem::Default());
  BufferPool pool(4, 1 << 20);
  ASSERT_VALISE_OK(e.queue()->RegisterBuffers(pool.iovecs()));
  EXPECT_TRUE(ReadThroughEngine(e, f.get(), data.size(), pool, true, 4) ==
              data);
  MemFile mem("/sim/m", data);
  EXPECT_TRUE(ReadThroughEngine(e, &mem, data.size(), pool, true, 2) == data);
}

TEST(IoEngine, UringWriteThenSync) {
  // Goal: writes and a sync through the engine on io_uring land on disk.
  DiskTempDir scratch;
  std::unique_ptr<Directory> dir;
  ASSERT_VALISE_OK(
      FileSystem::Default()->OpenDirectory(scratch.path(), false, &dir));
  std::unique_ptr<File> out;
  ASSERT_VALISE_OK(dir->CreateFile("engine_written", WriteOptions(), &out));
  IoEngine e(IoQueue::Create(IoQueueOptions(), nullptr), 1, EngineOptions(),
             FileSystem::Default());
  e.SetDepth(0, 4);
  std::string data = RandomBytes(4 * 65536, 44);
  std::vector<Transfer> ts(4);
  for (int i = 0; i < 4; ++i) {
    ts[i].op = IoOp::kWrite;
    ts[i].file = out.get();
    ts[i].offset = uint64_t(i) * 65536;
    ts[i].buf = data.data() + i * 65536;
    ts[i].len = 65536;
    ASSERT_VALISE_OK(e.Submit(&ts[i]));
  }
  std::vector<Transfer*> done;
  while (done.size() < 4) ASSERT_VALISE_OK(e.Reap(&done, true, 1'000'000));
  for (Transfer* t : done) {
    EXPECT_TRUE(t->status.ok()) << t->status.ToString();
    EXPECT_EQ(t->done, 65536u);
  }
  Transfer sync;
  sync.op = IoOp::kSync;
  sync.file = out.get();
  ASSERT_VALISE_OK(e.Submit(&sync));
  done.clear();
  while (done.empty()) ASSERT_VALISE_OK(e.Reap(&done, true, 1'000'000));
  EXPECT_TRUE(sync.status.ok()) << sync.status.ToString();
  std::ifstream in(scratch.path() + "/engine_written", std::ios::binary);
  std::string got(std::istreambuf_iterator<char>(in), {});
  EXPECT_TRUE(got == data);
}

TEST(IoEngine, UringErrorNamesPathOffsetAndErrno) {
  // Goal: a kernel error through the ring comes back as a failed transfer
  // whose message is "<path>: read at <offset>: <strerror>".
  DiskTempDir scratch;
  scratch.Write("wo", "abc");
  int fd = open((scratch.path() + "/wo").c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  FdFile wo("/drive/wo", fd);
  IoEngine e(IoQueue::Create(IoQueueOptions(), nullptr), 1, EngineOptions(),
             FileSystem::Default());
  char buf[16];
  Transfer t = ReadOf(&wo, 8, sizeof(buf));
  t.buf = buf;
  ASSERT_VALISE_OK(e.Submit(&t));
  std::vector<Transfer*> done;
  while (done.empty()) ASSERT_VALISE_OK(e.Reap(&done, true, 1'000'000));
  EXPECT_EQ(t.status.err(), EBADF);
  EXPECT_EQ(t.status.message(), "/drive/wo: read at 8: Bad file descriptor");
}

TEST(IoEngine, UringTimeoutOnStuckReadThenLateCompletion) {
  // Goal: with the real clock and ring, a read that cannot complete (an
  // empty pipe) is failed by the 200 ms timeout without the caller having
  // to pass a short wait; when data arrives the late completion is
  // returned.
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  FdFile reader("/drive/pipe", p[0]);
  EngineOptions opt;
  opt.io_timeout_us = 200'000;
  IoEngine e(IoQueue::Create(IoQueueOptions(), nullptr), 1, opt,
             FileSystem::Default());
  char buf[8];
  Transfer t = ReadOf(&reader, static_cast<uint64_t>(-1), sizeof(buf));
  t.buf = buf;
  ASSERT_VALISE_OK(e.Submit(&t));
  auto start = std::chrono::steady_clock::now();
  std::vector<Transfer*> done;
  // One long wait: the engine must cut it short at the deadline.
  ASSERT_VALISE_OK(e.Reap(&done, true, 20'000'000));
  while (done.empty() &&
         std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
    ASSERT_VALISE_OK(e.Reap(&done, true, 20'000'000));
  }
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(t.status.IsTimedOut()) << t.status.ToString();
  EXPECT_GE(took, std::chrono::milliseconds(190));
  EXPECT_LT(took, std::chrono::seconds(5));
  EXPECT_EQ(t.status.message(),
            "/drive/pipe: read at 18446744073709551615: no answer after "
            "0.2 s; drive stalled");
  EXPECT_TRUE(e.stalled(0));
  ASSERT_EQ(write(p[1], "late", 4), 4);
  done.clear();
  while (done.empty() &&
         std::chrono::steady_clock::now() - start < std::chrono::seconds(10)) {
    ASSERT_VALISE_OK(e.Reap(&done, true, 1'000'000));
  }
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(t.late);
  EXPECT_FALSE(e.stalled(0));
  close(p[1]);
}

TEST(IoEngine, WakeEndsReap) {
  // Goal: Wake() from another thread ends a Reap that waits on a transfer
  // that is not completing.
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  FdFile reader("/drive/pipe", p[0]);
  IoEngine e(IoQueue::Create(IoQueueOptions(), nullptr), 1, EngineOptions(),
             FileSystem::Default());
  char buf[8];
  Transfer t = ReadOf(&reader, static_cast<uint64_t>(-1), sizeof(buf));
  t.buf = buf;
  ASSERT_VALISE_OK(e.Submit(&t));
  std::thread waker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    e.Wake();
  });
  auto start = std::chrono::steady_clock::now();
  std::vector<Transfer*> done;
  ASSERT_VALISE_OK(e.Reap(&done, true, 20'000'000));
  waker.join();
  EXPECT_TRUE(done.empty());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  ASSERT_EQ(write(p[1], "12345678", 8), 8);
  while (done.empty()) ASSERT_VALISE_OK(e.Reap(&done, true, 1'000'000));
  EXPECT_EQ(t.done, 8u);
  close(p[1]);
}

}  // namespace
}  // namespace valise
