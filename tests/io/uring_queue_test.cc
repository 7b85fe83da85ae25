// Tests of the IoQueues (src/io/uring_queue.cc, src/io/sync_queue.cc) on
// real files: what they report, that completions are reaped (DEFER_TASKRUN
// only shows them to a thread that enters the kernel), fixed buffers and
// registered files (including descriptor reuse), files without a
// descriptor, Wake from another thread, and capacity.

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "io/io_test_util.h"
#include "support/test_util.h"
#include "valise/buffer_pool.h"
#include "valise/file_system.h"
#include "valise/io_queue.h"

namespace valise {
namespace {

using test::DiskTempDir;
using test::FdFile;
using test::MemFile;
using test::RandomBytes;
using test::TempDir;
using Clock = std::chrono::steady_clock;

std::unique_ptr<IoQueue> MakeUring(unsigned entries = 64) {
  IoQueueOptions opt;
  opt.entries = entries;
  std::string note;
  auto q = IoQueue::Create(opt, &note);
  EXPECT_EQ(note.rfind("io_uring:", 0), 0u) << note;
  return q;
}

// Collects `n` completions, waiting at most `limit` in all.
std::vector<IoCompletion> WaitFor(
    IoQueue& q, size_t n,
    std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
  std::vector<IoCompletion> out;
  auto end = Clock::now() + limit;
  while (out.size() < n && Clock::now() < end) {
    Status s = q.Wait(static_cast<unsigned>(n - out.size()), 100'000, &out);
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (!s.ok()) break;
  }
  return out;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A file in /var/tmp (ext4: O_DIRECT) holding `data`.
struct DiskFile {
  TempDir* dir;
  std::string path;
  std::unique_ptr<File> file;
  DiskFile(const TempDir& d, const std::string& name, const std::string& data,
           bool direct = true) {
    d.Write(name, data);
    path = d.path() + "/" + name;
    ReadOptions ro;
    ro.direct = direct;
    Status s = FileSystem::Default()->OpenForRead(path, ro, &file);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
};

TEST(UringQueue, NegotiatesTheModernFlags) {
  // Goal: on this kernel (6.18) every flag asked for is obtained, and the
  // note names them; Describe() says the same.
  IoQueueOptions opt;
  std::string note;
  auto q = IoQueue::Create(opt, &note);
  for (const char* flag : {"SINGLE_ISSUER", "DEFER_TASKRUN", "COOP_TASKRUN",
                           "TASKRUN_FLAG", "SUBMIT_ALL"}) {
    EXPECT_NE(note.find(flag), std::string::npos) << flag << " in " << note;
  }
  EXPECT_EQ(q->Describe(), note);
  EXPECT_EQ(q->capacity(), 256u);
  EXPECT_EQ(q->in_flight(), 0u);
}

TEST(UringQueue, SyncWhenNotRequested) {
  // Goal: use_uring=false gives the synchronous queue, and the note says
  // why.
  IoQueueOptions opt;
  opt.use_uring = false;
  opt.entries = 8;
  std::string note;
  auto q = IoQueue::Create(opt, &note);
  EXPECT_EQ(note, "sync: io_uring not requested");
  EXPECT_EQ(q->capacity(), 8u);
}

// Runs IoQueue::Create in a child process whose io_uring_setup fails with
// `err` (a seccomp filter, as container runtimes install), and returns the
// note it gave and whether the queue it got can read.
std::string CreateUnderSeccomp(int err) {
  int p[2];
  if (pipe(p) != 0) return "pipe failed";
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K,
                 SECCOMP_RET_ERRNO |
                     (static_cast<unsigned>(err) & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {static_cast<unsigned short>(std::size(filter)),
                              filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
      _exit(2);
    }
    std::string note;
    auto q = IoQueue::Create(IoQueueOptions(), &note);
    MemFile mem("/m", "data");
    char buf[4];
    IoRequest r;
    r.file = &mem;
    r.buf = buf;
    r.len = 4;
    std::vector<IoCompletion> out;
    bool works = q->Prepare(r).ok() && q->Wait(1, 1'000'000, &out).ok() &&
                 out.size() == 1 && out[0].res == 4;
    note += works ? " [reads]" : " [broken]";
    ssize_t n = write(p[1], note.data(), note.size());
    _exit(n == static_cast<ssize_t>(note.size()) ? 0 : 3);
  }
  close(p[1]);
  std::string note;
  char buf[256];
  ssize_t n;
  while ((n = read(p[0], buf, sizeof(buf))) > 0) note.append(buf, n);
  close(p[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return "child failed: " + std::to_string(status);
  }
  return note;
}

TEST(UringQueue, FallsBackToSyncWhenSetupIsRefused) {
  // Goal: where io_uring_setup is refused (EPERM from a seccomp filter, or
  // EINVAL for every flag combination, which exercises the flag-dropping
  // loop to its end) Create returns the synchronous queue, which works,
  // and the note gives the reason.
  EXPECT_EQ(CreateUnderSeccomp(EPERM),
            "sync: io_uring_setup: Operation not permitted [reads]");
  EXPECT_EQ(CreateUnderSeccomp(EINVAL),
            "sync: io_uring_setup: Invalid argument [reads]");
  EXPECT_EQ(CreateUnderSeccomp(ENOSYS),
            "sync: io_uring_setup: Function not implemented [reads]");
}

// Reads `chunks` 4 KiB blocks of a file through a queue, checking bytes.
void ReadBlocksThrough(IoQueue& q, bool block_until_done) {
  std::string data = RandomBytes(16 * 4096, 11);
  DiskTempDir scratch;
  DiskFile f(scratch, "blocks" + std::to_string(block_until_done), data);
  BufferPool pool(16, 4096);
  for (int i = 0; i < 16; ++i) {
    IoRequest r;
    r.file = f.file.get();
    r.offset = uint64_t(i) * 4096;
    r.buf = pool.data(i);
    r.len = 4096;
    r.user_data = 100 + i;
    ASSERT_VALISE_OK(q.Prepare(r));
  }
  EXPECT_EQ(q.in_flight(), 16u);
  ASSERT_VALISE_OK(q.Submit());
  std::vector<IoCompletion> got;
  if (block_until_done) {
    got = WaitFor(q, 16);
  } else {
    // Never blocking: min_complete 0, no timeout. Under DEFER_TASKRUN the
    // completions appear only because Wait enters the kernel for them.
    auto end = Clock::now() + std::chrono::seconds(5);
    while (got.size() < 16 && Clock::now() < end) {
      ASSERT_VALISE_OK(q.Wait(0, 0, &got));
    }
  }
  ASSERT_EQ(got.size(), 16u);
  EXPECT_EQ(q.in_flight(), 0u);
  std::vector<bool> seen(16, false);
  for (const IoCompletion& c : got) {
    ASSERT_GE(c.user_data, 100u);
    ASSERT_LT(c.user_data, 116u);
    int i = static_cast<int>(c.user_data - 100);
    EXPECT_FALSE(seen[i]);
    seen[i] = true;
    EXPECT_EQ(c.res, 4096);
    EXPECT_EQ(memcmp(pool.data(i), data.data() + i * 4096, 4096), 0) << i;
  }
}

TEST(UringQueue, CompletionsAreReapedByBlockingWait) {
  // Goal: 16 O_DIRECT reads prepared, submitted once and waited for come
  // back with the right bytes and user_data.
  auto q = MakeUring();
  ReadBlocksThrough(*q, true);
}

TEST(UringQueue, CompletionsAreReapedByPollingWait) {
  // Goal: with DEFER_TASKRUN, a caller that only polls (Wait with
  // min_complete 0) still gets every completion.
  auto q = MakeUring();
  ReadBlocksThrough(*q, false);
}

TEST(SyncQueue, ReadsLikeTheRing) {
  // Goal: the synchronous queue gives the same completions for the same
  // requests, blocking or polling.
  auto q = NewSyncQueue(64);
  ReadBlocksThrough(*q, true);
  auto q2 = NewSyncQueue(64);
  ReadBlocksThrough(*q2, false);
}

TEST(UringQueue, BoundToTheFirstThreadThatUsesIt) {
  // Goal: a SINGLE_ISSUER ring created (and its buffers registered) on one
  // thread works from the thread that first submits: R_DISABLED binds the
  // issuer at first use, not at creation.
  DiskTempDir scratch;
  auto q = MakeUring();
  BufferPool pool(4, 4096);
  ASSERT_VALISE_OK(q->RegisterBuffers(pool.iovecs()));
  std::string data = RandomBytes(4096, 5);
  DiskFile f(scratch, "threaded", data);
  std::vector<IoCompletion> got;
  std::thread owner([&] {
    IoRequest r;
    r.file = f.file.get();
    r.buf = pool.data(2);
    r.buf_index = 2;
    r.len = 4096;
    r.user_data = 7;
    Status s = q->Prepare(r);
    EXPECT_TRUE(s.ok()) << s.ToString();
    got = WaitFor(*q, 1);
  });
  owner.join();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].res, 4096);
  EXPECT_EQ(memcmp(pool.data(2), data.data(), 4096), 0);
}

TEST(UringQueue, FixedBuffersAndRegisteredFilesSurviveDescriptorReuse) {
  // Goal: reads through registered buffers and registered files return the
  // right bytes, and when a registered file is closed and its descriptor
  // number reused by another file, the new file is read, not the old one.
  DiskTempDir scratch;
  auto q = MakeUring();
  BufferPool pool(4, 8192);
  ASSERT_VALISE_OK(q->RegisterBuffers(pool.iovecs()));
  EXPECT_NE(q->Describe().find("fixed-buffers"), std::string::npos);
  EXPECT_NE(q->Describe().find("fixed-files"), std::string::npos);
  std::string a = RandomBytes(8192, 1), b = RandomBytes(8192, 2);
  auto read_all = [&](File* file, const std::string& want) {
    // Three requests: the second and third go through the file table.
    for (int round = 0; round < 3; ++round) {
      for (int i = 0; i < 2; ++i) {
        IoRequest r;
        r.file = file;
        r.offset = uint64_t(i) * 4096;
        r.buf = pool.data(i) + 4096;  // inside the registered buffer
        r.buf_index = i;
        r.len = 4096;
        r.user_data = i;
        ASSERT_VALISE_OK(q->Prepare(r));
      }
      auto got = WaitFor(*q, 2);
      ASSERT_EQ(got.size(), 2u);
      for (const IoCompletion& c : got) EXPECT_EQ(c.res, 4096);
      for (int i = 0; i < 2; ++i) {
        EXPECT_EQ(memcmp(pool.data(i) + 4096, want.data() + i * 4096, 4096), 0)
            << "round " << round << " block " << i;
      }
    }
  };
  DiskFile fa(scratch, "fa", a);
  int fd_a = fa.file->native_handle();
  read_all(fa.file.get(), a);
  fa.file.reset();  // closes fd_a; the ring still holds its registration
  scratch.Write("fb", b);
  std::unique_ptr<File> fb;
  ASSERT_VALISE_OK(FileSystem::Default()->OpenForRead(scratch.path() + "/fb",
                                                      ReadOptions(), &fb));
  ASSERT_EQ(fb->native_handle(), fd_a) << "descriptor not reused: no test";
  read_all(fb.get(), b);
}

TEST(UringQueue, WritesThenSyncs) {
  // Goal: writes (fixed and not) and a datasync through the ring land in
  // the file.
  DiskTempDir scratch;
  auto q = MakeUring();
  BufferPool pool(2, 4096);
  ASSERT_VALISE_OK(q->RegisterBuffers(pool.iovecs()));
  std::string data = RandomBytes(8192, 3);
  memcpy(pool.data(0), data.data(), 4096);
  std::string tail = data.substr(4096);
  std::unique_ptr<Directory> dir;
  ASSERT_VALISE_OK(
      FileSystem::Default()->OpenDirectory(scratch.path(), false, &dir));
  std::unique_ptr<File> out;
  ASSERT_VALISE_OK(dir->CreateFile("written", WriteOptions(), &out));
  IoRequest w1;
  w1.op = IoOp::kWrite;
  w1.file = out.get();
  w1.buf = pool.data(0);
  w1.buf_index = 0;
  w1.len = 4096;
  w1.user_data = 1;
  IoRequest w2 = w1;
  w2.offset = 4096;
  w2.buf = tail.data();
  w2.buf_index = -1;
  w2.user_data = 2;
  ASSERT_VALISE_OK(q->Prepare(w1));
  ASSERT_VALISE_OK(q->Prepare(w2));
  auto got = WaitFor(*q, 2);
  ASSERT_EQ(got.size(), 2u);
  for (const IoCompletion& c : got) EXPECT_EQ(c.res, 4096);
  IoRequest sync;
  sync.op = IoOp::kSync;
  sync.file = out.get();
  sync.user_data = 3;
  ASSERT_VALISE_OK(q->Prepare(sync));
  got = WaitFor(*q, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].user_data, 3u);
  EXPECT_EQ(got[0].res, 0);
  EXPECT_EQ(Slurp(scratch.path() + "/written"), data);
}

TEST(UringQueue, ErrorsComeBackAsNegativeErrno) {
  // Goal: the queue reports what the kernel said, unchanged: a read on a
  // write-only descriptor is -EBADF, a read past the end is 0.
  DiskTempDir scratch;
  for (bool uring : {true, false}) {
    SCOPED_TRACE(uring ? "uring" : "sync");
    auto q = uring ? MakeUring() : NewSyncQueue(8);
    scratch.Write("wo", "abc");
    int fd = open((scratch.path() + "/wo").c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    FdFile wo(scratch.path() + "/wo", fd);
    char buf[16];
    IoRequest r;
    r.file = &wo;
    r.buf = buf;
    r.len = sizeof(buf);
    r.user_data = 1;
    ASSERT_VALISE_OK(q->Prepare(r));
    auto got = WaitFor(*q, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].res, -EBADF);

    DiskFile f(scratch, "short", "abc", false);
    r.file = f.file.get();
    r.offset = 100;
    ASSERT_VALISE_OK(q->Prepare(r));
    got = WaitFor(*q, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].res, 0);
    r.offset = 1;
    ASSERT_VALISE_OK(q->Prepare(r));
    got = WaitFor(*q, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].res, 2);  // short: end of file
    EXPECT_EQ(std::string(buf, 2), "bc");
  }
}

TEST(UringQueue, ServesFilesWithoutDescriptor) {
  // Goal: a File with no descriptor (native_handle -1) is served through
  // ReadAt/WriteAt/Sync and its completions handed out by Wait, mixed with
  // ring completions.
  DiskTempDir scratch;
  auto q = MakeUring();
  MemFile mem("/sim/a", "hello world");
  std::string data = RandomBytes(4096, 8);
  DiskFile disk(scratch, "mixed", data);
  BufferPool pool(2, 4096);
  IoRequest r1;
  r1.file = &mem;
  r1.offset = 6;
  r1.buf = pool.data(0);
  r1.len = 100;
  r1.user_data = 1;
  IoRequest r2;
  r2.file = disk.file.get();
  r2.buf = pool.data(1);
  r2.len = 4096;
  r2.user_data = 2;
  IoRequest w;
  w.op = IoOp::kWrite;
  w.file = &mem;
  w.offset = 0;
  w.buf = const_cast<char*>("HELLO");
  w.len = 5;
  w.user_data = 3;
  IoRequest s;
  s.op = IoOp::kSync;
  s.file = &mem;
  s.user_data = 4;
  mem.sync_status = Status::IOError("/sim/a: sync", "injected");
  ASSERT_VALISE_OK(q->Prepare(r1));
  ASSERT_VALISE_OK(q->Prepare(r2));
  ASSERT_VALISE_OK(q->Prepare(w));
  ASSERT_VALISE_OK(q->Prepare(s));
  EXPECT_EQ(q->in_flight(), 4u);
  auto got = WaitFor(*q, 4);
  ASSERT_EQ(got.size(), 4u);
  std::sort(got.begin(), got.end(),
            [](const IoCompletion& a, const IoCompletion& b) {
              return a.user_data < b.user_data;
            });
  EXPECT_EQ(got[0].res, 5);
  EXPECT_EQ(std::string(pool.data(0), 5), "world");
  EXPECT_EQ(got[1].res, 4096);
  EXPECT_EQ(memcmp(pool.data(1), data.data(), 4096), 0);
  EXPECT_EQ(got[2].res, 5);
  EXPECT_EQ(mem.data(), "HELLO world");
  EXPECT_EQ(got[3].res, -EIO);  // a Status without errno reads as EIO
  EXPECT_EQ(mem.syncs, 1);
  EXPECT_EQ(q->in_flight(), 0u);
}

void CheckWake(IoQueue& q) {
  // A Wake from another thread ends a long wait with nothing in flight.
  std::vector<IoCompletion> out;
  auto start = Clock::now();
  std::thread waker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    q.Wake();
  });
  ASSERT_VALISE_OK(q.Wait(1, 20'000'000, &out));
  auto took = Clock::now() - start;
  waker.join();
  EXPECT_TRUE(out.empty());
  EXPECT_LT(took, std::chrono::seconds(5));
  EXPECT_GE(took, std::chrono::milliseconds(40));

  // A Wake before the Wait makes the next Wait return at once...
  q.Wake();
  q.Wake();
  start = Clock::now();
  ASSERT_VALISE_OK(q.Wait(1, 20'000'000, &out));
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  // ... and is then used up: the following Wait runs to its timeout.
  start = Clock::now();
  ASSERT_VALISE_OK(q.Wait(1, 200'000, &out));
  took = Clock::now() - start;
  EXPECT_GE(took, std::chrono::milliseconds(150));
  EXPECT_LT(took, std::chrono::seconds(5));
  EXPECT_TRUE(out.empty());
}

TEST(UringQueue, WakeFromAnotherThreadEndsWait) {
  // Goal: Wake() from any thread ends the owner's Wait (eventfd poll in the
  // ring), once per wake-up.
  auto q = MakeUring();
  CheckWake(*q);
}

TEST(SyncQueue, WakeFromAnotherThreadEndsWait) {
  // Goal: the same for the synchronous queue.
  auto q = NewSyncQueue(8);
  CheckWake(*q);
}

TEST(UringQueue, WakeEndsWaitOnStuckRead) {
  // Goal: a read that cannot complete (an empty pipe) does not keep Wait
  // from returning on Wake; when data arrives the read completes.
  auto q = MakeUring();
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  FdFile reader("pipe", p[0]);
  char buf[8];
  IoRequest r;
  r.file = &reader;
  r.buf = buf;
  r.len = sizeof(buf);
  r.offset = static_cast<uint64_t>(-1);  // -1: current position (a pipe)
  r.user_data = 9;
  ASSERT_VALISE_OK(q->Prepare(r));
  ASSERT_VALISE_OK(q->Submit());
  std::thread waker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    q->Wake();
  });
  std::vector<IoCompletion> out;
  auto start = Clock::now();
  ASSERT_VALISE_OK(q->Wait(1, 20'000'000, &out));
  waker.join();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(q->in_flight(), 1u);
  ASSERT_EQ(write(p[1], "pipe!", 5), 5);
  out = WaitFor(*q, 1);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].res, 5);
  EXPECT_EQ(std::string(buf, 5), "pipe!");
  close(p[1]);
}

TEST(IoQueue, BusyWhenFullAndReservedUserData) {
  // Goal: both queues refuse more than `entries` requests in flight (Busy)
  // and the reserved user_data (InvalidArgument).
  for (bool uring : {true, false}) {
    SCOPED_TRACE(uring ? "uring" : "sync");
    auto q = uring ? MakeUring(4) : NewSyncQueue(4);
    ASSERT_EQ(q->capacity(), 4u);
    MemFile mem("/m", std::string(100, 'x'));
    char buf[4][8];
    IoRequest r;
    r.file = &mem;
    r.len = 8;
    for (int i = 0; i < 4; ++i) {
      r.buf = buf[i];
      r.user_data = i;
      ASSERT_VALISE_OK(q->Prepare(r));
    }
    Status s = q->Prepare(r);
    EXPECT_TRUE(s.IsBusy()) << s.ToString();
    auto got = WaitFor(*q, 4);
    EXPECT_EQ(got.size(), 4u);
    r.user_data = kReservedUserData;
    s = q->Prepare(r);
    EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
    EXPECT_EQ(q->in_flight(), 0u);
  }
}

}  // namespace
}  // namespace valise
