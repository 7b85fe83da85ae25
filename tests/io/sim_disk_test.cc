#include "valise/sim_disk.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "support/test_util.h"

namespace valise {
namespace {

using test::RandomBytes;

// A heap buffer aligned for O_DIRECT.
struct AlignedBuf {
  explicit AlignedBuf(size_t n)
      : data(static_cast<char*>(std::aligned_alloc(kDirectAlignment, n))),
        size(n) {}
  ~AlignedBuf() { std::free(data); }
  AlignedBuf(const AlignedBuf&) = delete;
  AlignedBuf& operator=(const AlignedBuf&) = delete;
  char* data;
  size_t size;
};

std::unique_ptr<File> OpenBuffered(SimDisk& disk, const std::string& path) {
  std::unique_ptr<File> f;
  ReadOptions ro;
  ro.direct = false;
  Status s = disk.OpenForRead(path, ro, &f);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return f;
}

std::unique_ptr<Directory> OpenDir(SimDisk& disk, const std::string& path) {
  std::unique_ptr<Directory> d;
  Status s = disk.OpenDirectory(path, /*create=*/true, &d);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return d;
}

// Reads [offset, offset+n) with one ReadAt; the Status of that call.
Status ReadOnce(File* f, uint64_t offset, size_t n, std::string* out) {
  out->assign(n, '\0');
  size_t got = 0;
  Status s = f->ReadAt(offset, n, out->data(), &got);
  if (s.ok()) out->resize(got);
  return s;
}

// Reads a whole file through ReadAt, continuing short reads; fails the
// test on any error.
std::string ReadAll(File* f, size_t chunk = 65536) {
  std::string out;
  for (;;) {
    std::string buf(chunk, '\0');
    size_t got = 0;
    Status s = f->ReadAt(out.size(), chunk, buf.data(), &got);
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (!s.ok() || got == 0) break;
    out.append(buf.data(), got);
  }
  return out;
}

int BitsDifferent(const std::string& a, const std::string& b) {
  int n = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    n += __builtin_popcount(static_cast<unsigned char>(a[i] ^ b[i]));
  }
  return n;
}

// Submits one request and waits (with simulated timeouts) for its
// completion; the result.
int32_t QueueOne(IoQueue* q, const IoRequest& req) {
  EXPECT_VALISE_OK(q->Prepare(req));
  EXPECT_VALISE_OK(q->Submit());
  std::vector<IoCompletion> done;
  for (int i = 0; i < 100 && done.empty(); ++i) {
    EXPECT_VALISE_OK(q->Wait(1, 1000, &done));
  }
  EXPECT_EQ(done.size(), 1u);
  if (done.empty()) return INT32_MIN;
  EXPECT_EQ(done[0].user_data, req.user_data);
  return done[0].res;
}

IoRequest ReadReq(File* f, uint64_t offset, char* buf, uint32_t len,
                  uint64_t user_data = 0) {
  IoRequest r;
  r.op = IoOp::kRead;
  r.file = f;
  r.offset = offset;
  r.buf = buf;
  r.len = len;
  r.user_data = user_data;
  return r;
}

// ------------------------------------------------------------ determinism

struct ScenarioResult {
  std::vector<IoCompletion> completions;
  std::vector<std::string> buffers;
  SimDisk::Stats stats;
};

ScenarioResult RunQueueScenario(uint64_t seed) {
  SimDiskOptions opt;
  opt.seed = seed;
  SimDisk disk(opt);
  disk.AddFile("d1/f", RandomBytes(64 * 1024, 7));
  SimFaults faults;
  faults.read_error_one_in = 5;
  faults.short_read_one_in = 4;
  faults.eagain_one_in = 6;
  faults.bit_flip_one_in = 3;
  disk.SetFaults("d1/", faults);
  std::unique_ptr<File> f = OpenBuffered(disk, "d1/f");
  std::string note;
  std::unique_ptr<IoQueue> q = disk.NewIoQueue(IoQueueOptions(), &note);
  ScenarioResult r;
  r.buffers.assign(32, std::string(2048, '\0'));
  for (uint64_t i = 0; i < 32; ++i) {
    EXPECT_VALISE_OK(
        q->Prepare(ReadReq(f.get(), i * 2048, r.buffers[i].data(), 2048, i)));
  }
  EXPECT_VALISE_OK(q->Submit());
  while (q->in_flight() > 0) {
    EXPECT_VALISE_OK(q->Wait(1, 1000, &r.completions));
  }
  r.stats = disk.stats();
  return r;
}

TEST(SimDisk, SameSeedSameResults) {
  // Goal: one seed replays the same completion order, results and data
  // (faults included), another seed gives another run, and the order is
  // not FIFO.
  ScenarioResult a = RunQueueScenario(42);
  ScenarioResult b = RunQueueScenario(42);
  ScenarioResult c = RunQueueScenario(43);
  ASSERT_EQ(a.completions.size(), 32u);
  ASSERT_EQ(b.completions.size(), 32u);
  bool fifo = true;
  for (size_t i = 0; i < 32; ++i) {
    EXPECT_EQ(a.completions[i].user_data, b.completions[i].user_data);
    EXPECT_EQ(a.completions[i].res, b.completions[i].res);
    if (a.completions[i].user_data != i) fifo = false;
  }
  EXPECT_EQ(a.buffers, b.buffers);
  EXPECT_FALSE(fifo) << "completions came back in submission order";
  bool differs = a.buffers != c.buffers;
  for (size_t i = 0; i < 32; ++i) {
    differs |= a.completions[i].user_data != c.completions[i].user_data ||
               a.completions[i].res != c.completions[i].res;
  }
  EXPECT_TRUE(differs);
  // The faults were really rolled.
  EXPECT_GT(a.stats.injected_errors, 0u);
  EXPECT_GT(a.stats.eagains, 0u);
  EXPECT_GT(a.stats.short_reads, 0u);
  EXPECT_GT(a.stats.bit_flips, 0u);
}

// What each synchronous read and write of two files meets, with every
// fault on, the two files' operations interleaved one way or the other.
struct PerFile {
  std::vector<std::string> a, b;  // per operation: status or bytes read
  bool operator==(const PerFile&) const = default;
};

PerFile RunTwoFiles(bool a_first, bool interleave) {
  SimDiskOptions opt;
  opt.seed = 99;
  SimDisk disk(opt);
  disk.AddFile("d1/a", RandomBytes(64 * 1024, 1));
  disk.AddFile("d2/b", RandomBytes(64 * 1024, 2));
  SimFaults f;
  f.read_error_one_in = 3;
  f.short_read_one_in = 3;
  f.bit_flip_one_in = 3;
  f.write_error_one_in = 3;
  f.sync_error_one_in = 3;
  disk.SetFaults("", f);
  std::unique_ptr<File> fa = OpenBuffered(disk, "d1/a");
  std::unique_ptr<File> fb = OpenBuffered(disk, "d2/b");
  std::unique_ptr<Directory> dest = OpenDir(disk, "dest");
  PerFile out;
  auto op = [&](File* file, std::vector<std::string>* log, int i) {
    char buf[4096];
    size_t got = 0;
    Status s = file->ReadAt(uint64_t(i % 8) * 4096, sizeof(buf), buf, &got);
    log->push_back(s.ok() ? std::string(buf, got) : s.ToString());
    std::unique_ptr<File> w;
    Status c =
        dest->CreateFile(file->path().substr(0, 2) + "-" + std::to_string(i),
                         WriteOptions(), &w);
    if (c.ok()) c = w->WriteAt(0, buf, 512);
    if (c.ok()) c = w->Sync();
    log->push_back(c.ToString());
  };
  for (int i = 0; i < 24; ++i) {
    // One file's whole run before the other's, or turn by turn.
    if (interleave) {
      op(a_first ? fa.get() : fb.get(), a_first ? &out.a : &out.b, i);
      op(a_first ? fb.get() : fa.get(), a_first ? &out.b : &out.a, i);
    } else {
      op(a_first ? fa.get() : fb.get(), a_first ? &out.a : &out.b, i);
    }
  }
  if (!interleave) {
    for (int i = 0; i < 24; ++i) {
      op(a_first ? fb.get() : fa.get(), a_first ? &out.b : &out.a, i);
    }
  }
  return out;
}

TEST(SimDisk, DecisionsDoNotDependOnTheOrderOfOperations) {
  // Goal: exact replay whatever the threads' interleaving (the TigerBeetle
  // rule: no thread draws from a shared stream). Each fault decision
  // belongs to its operation (its file, offset, length, attempt), so the
  // faults one file's reads, writes and syncs meet are the same whether
  // the other file's operations ran before, after or in between. (With one
  // generator drawn in call order, each file's faults changed with the
  // interleaving.)
  const PerFile a_then_b = RunTwoFiles(true, false);
  EXPECT_EQ(a_then_b, RunTwoFiles(false, false));
  EXPECT_EQ(a_then_b, RunTwoFiles(true, true));
  EXPECT_EQ(a_then_b, RunTwoFiles(false, true));
  // The faults bit, and differ between retries of the same read.
  int failed = 0;
  for (const std::string& r : a_then_b.a) failed += r.size() != 4096 ? 1 : 0;
  EXPECT_GT(failed, 4);
  EXPECT_NE(a_then_b.a[0], a_then_b.a[16]);  // offset 0, first and third
}

TEST(SimDisk, QueuedRequestsMeetTheSameFaultsInAnyOrder) {
  // Goal: a queued request's result does not depend on the order requests
  // were submitted in, nor on what else was in flight: prepared in
  // reverse, or in two halves with Waits between, each read meets the
  // same faults (by user_data: same result, same bytes).
  auto run = [](int how) {
    SimDiskOptions opt;
    opt.seed = 7;
    SimDisk disk(opt);
    disk.AddFile("d1/f", RandomBytes(64 * 1024, 3));
    SimFaults f;
    f.read_error_one_in = 4;
    f.short_read_one_in = 4;
    f.eagain_one_in = 5;
    f.bit_flip_one_in = 4;
    disk.SetFaults("d1/", f);
    std::unique_ptr<File> file = OpenBuffered(disk, "d1/f");
    std::string note;
    std::unique_ptr<IoQueue> q = disk.NewIoQueue(IoQueueOptions(), &note);
    std::vector<std::string> bufs(32, std::string(2048, '\0'));
    std::vector<IoCompletion> done;
    std::vector<uint64_t> order;
    for (uint64_t i = 0; i < 32; ++i) order.push_back(how == 1 ? 31 - i : i);
    for (uint64_t n = 0; n < 32; ++n) {
      const uint64_t i = order[n];
      EXPECT_VALISE_OK(
          q->Prepare(ReadReq(file.get(), i * 2048, bufs[i].data(), 2048, i)));
      if (how == 2 && n == 15) {
        while (q->in_flight() > 0) EXPECT_VALISE_OK(q->Wait(1, 1000, &done));
      }
    }
    while (q->in_flight() > 0) EXPECT_VALISE_OK(q->Wait(1, 1000, &done));
    std::vector<std::string> by_request(32);
    for (const IoCompletion& c : done) {
      by_request[c.user_data] =
          std::to_string(c.res) + ":" +
          (c.res > 0 ? bufs[c.user_data].substr(0, c.res) : "");
    }
    return by_request;
  };
  const std::vector<std::string> forward = run(0);
  EXPECT_EQ(forward, run(1));
  EXPECT_EQ(forward, run(2));
}

TEST(SimDisk, CrashAfterCutsOnTheExactOperation) {
  // Goal: CrashAfter(n) lets exactly n writes and syncs through, then the
  // power is cut before the next: it fails (ESTALE), unsynced data is
  // gone, the disk counts the crash; CrashAfter(0) disarms it.
  SimDisk disk(SimDiskOptions{});
  std::unique_ptr<Directory> d = OpenDir(disk, "dest");
  std::unique_ptr<File> f;
  ASSERT_VALISE_OK(d->CreateFile("f", WriteOptions(), &f));
  ASSERT_VALISE_OK(d->SyncDir(""));
  disk.CrashAfter(3);
  ASSERT_VALISE_OK(f->WriteAt(0, "abc", 3));  // 1
  ASSERT_VALISE_OK(f->Sync());                // 2
  ASSERT_VALISE_OK(f->WriteAt(3, "def", 3));  // 3
  EXPECT_EQ(disk.stats().crashes, 0u);
  Status s = f->WriteAt(6, "ghi", 3);  // the cut
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.err(), ESTALE) << s.ToString();
  EXPECT_EQ(disk.stats().crashes, 1u);
  std::string stored;
  ASSERT_TRUE(disk.GetFile("dest/f", &stored));
  EXPECT_EQ(stored, "abc");
  std::unique_ptr<Directory> d2 = OpenDir(disk, "dest");
  std::unique_ptr<File> g;
  ASSERT_VALISE_OK(d2->CreateFile("g", WriteOptions(), &g));
  disk.CrashAfter(1);
  disk.CrashAfter(0);
  ASSERT_VALISE_OK(g->WriteAt(0, "x", 1));
  ASSERT_VALISE_OK(g->Sync());
  EXPECT_EQ(disk.stats().crashes, 1u);
}

// ------------------------------------------------------------ read faults

TEST(SimDisk, BadRangeFailsEveryTime) {
  // Goal: a bad range fails every read touching it, synchronous or queued,
  // marked injected with data_loss, and nothing else: not the rest of the
  // file, not another file.
  SimDisk disk(SimDiskOptions{});
  const std::string data = RandomBytes(16384, 1);
  disk.AddFile("d1/f", data);
  disk.AddFile("d2/f", data);
  disk.AddBadRange("d1/f", 4096 + 100, 512);
  std::unique_ptr<File> f = OpenBuffered(disk, "d1/f");
  std::unique_ptr<File> g = OpenBuffered(disk, "d2/f");
  std::string out;
  for (int i = 0; i < 5; ++i) {
    Status s = ReadOnce(f.get(), 4096, 4096, &out);
    ASSERT_FALSE(s.ok());
    EXPECT_TRUE(s.IsIOError()) << s.ToString();
    EXPECT_EQ(s.err(), EIO);
    EXPECT_TRUE(s.data_loss());
    EXPECT_TRUE(s.injected());
    EXPECT_NE(s.message().find("d1/f: read at 4096"), std::string::npos)
        << s.message();
  }
  // Touching only the last byte of the range still fails.
  EXPECT_FALSE(ReadOnce(f.get(), 4096 + 100 + 511, 1, &out).ok());
  ASSERT_VALISE_OK(ReadOnce(f.get(), 0, 4096, &out));
  EXPECT_EQ(out, data.substr(0, 4096));
  ASSERT_VALISE_OK(ReadOnce(f.get(), 8192, 8192, &out));
  EXPECT_EQ(out, data.substr(8192));
  EXPECT_EQ(ReadAll(g.get()), data);

  std::string note;
  std::unique_ptr<IoQueue> q = disk.NewIoQueue(IoQueueOptions(), &note);
  std::string buf(4096, '\0');
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(QueueOne(q.get(), ReadReq(f.get(), 4096, buf.data(), 4096)),
              -EIO);
  }
  EXPECT_EQ(QueueOne(q.get(), ReadReq(g.get(), 4096, buf.data(), 4096)), 4096);
  EXPECT_EQ(buf, data.substr(4096, 4096));
}

TEST(SimDisk, BadRangeWithOtherErrno) {
  // Goal: a bad range reports the errno it was given (e.g. EILSEQ from a
  // checksumming file system).
  SimDisk disk(SimDiskOptions{});
  disk.AddFile("d1/f", RandomBytes(8192, 2));
  disk.AddBadRange("d1/f", 0, 1, EILSEQ);
  std::unique_ptr<File> f = OpenBuffered(disk, "d1/f");
  std::string out;
  Status s = ReadOnce(f.get(), 0, 4096, &out);
  EXPECT_EQ(s.err(), EILSEQ);
  EXPECT_TRUE(s.injected());
}

TEST(SimDisk, TransientErrorsSucceedOnRetry) {
  // Goal: transient EIO fails some reads, and retrying the same read
  // eventually returns the right bytes; another prefix never fails.
  SimDisk disk(SimDiskOptions{});
  const std::string data = RandomBytes(8192, 3);
  disk.AddFile("d1/f", data);
  disk.AddFile("d2/f", data);
  SimFaults faults;
  faults.read_error_one_in = 3;
  disk.SetFaults("d1/", faults);
  std::unique_ptr<File> f = OpenBuffered(disk, "d1/f");
  std::unique_ptr<File> g = OpenBuffered(disk, "d2/f");
  int failures = 0;
  for (int i = 0; i < 50; ++i) {
    std::string out;
    int attempts = 0;
    Status s;
    do {
      s = ReadOnce(f.get(), 4096, 4096, &out);
      if (!s.ok()) {
        ++failures;
        EXPECT_EQ(s.err(), EIO);
        EXPECT_TRUE(s.injected());
      }
    } while (!s.ok() && ++attempts < 100);
    ASSERT_VALISE_OK(s);
    EXPECT_EQ(out, data.substr(4096));
  }
  EXPECT_GT(failures, 0);
  for (int i = 0; i < 100; ++i) {
    std::string out;
    ASSERT_VALISE_OK(ReadOnce(g.get(), 0, 4096, &out));
  }
  EXPECT_EQ(disk.stats().injected_errors, static_cast<uint64_t>(failures));
}

TEST(SimDisk, ShortReadsSumToTheWhole) {
  // Goal: short reads return fewer bytes than asked (and than available),
  // and continuing from where they stopped yields the whole file, through
  // ReadAt and through the queue.
  SimDisk disk(SimDiskOptions{});
  const std::string data = RandomBytes(300 * 1024 + 17, 4);
  disk.AddFile("d1/f", data);
  SimFaults faults;
  faults.short_read_one_in = 2;
  disk.SetFaults("d1/", faults);
  std::unique_ptr<File> f = OpenBuffered(disk, "d1/f");

  int shorts = 0;
  std::string whole;
  while (whole.size() < data.size()) {
    std::string buf(65536, '\0');
    size_t got = 0;
    ASSERT_VALISE_OK(f->ReadAt(whole.size(), buf.size(), buf.data(), &got));
    ASSERT_GT(got, 0u);
    size_t available = std::min(buf.size(), data.size() - whole.size());
    if (got < available) ++shorts;
    whole.append(buf.data(), got);
  }
  EXPECT_EQ(whole, data);
  EXPECT_GT(shorts, 0);

  std::string note;
  std::unique_ptr<IoQueue> q = disk.NewIoQueue(IoQueueOptions(), &note);
  std::string qwhole;
  int qshorts = 0;
  while (qwhole.size() < data.size()) {
    std::string buf(65536, '\0');
    int32_t res =
        QueueOne(q.get(), ReadReq(f.get(), qwhole.size(), buf.data(), 65536));
    ASSERT_GT(res, 0);
    if (static_cast<size_t>(res) <
        std::min<size_t>(65536, data.size() - qwhole.size())) {
      ++qshorts;
    }
    qwhole.append(buf.data(), res);
  }
  EXPECT_EQ(qwhole, data);
  EXPECT_GT(qshorts, 0);
  EXPECT_EQ(disk.stats().short_reads, static_cast<uint64_t>(shorts + qshorts));
}

TEST(SimDisk, BitFlipsLeaveStoredDataIntact) {
  // Goal: a bit flip changes exactly one bit of what the caller gets, the
  // stored bytes stay as they were, and another prefix gets clean data.
  SimDisk disk(SimDiskOptions{});
  const std::string data = RandomBytes(4096, 5);
  disk.AddFile("d1/f", data);
  disk.AddFile("d2/f", data);
  SimFaults faults;
  faults.bit_flip_one_in = 1;
  disk.SetFaults("d1/", faults);
  std::unique_ptr<File> f = OpenBuffered(disk, "d1/f");
  std::unique_ptr<File> g = OpenBuffered(disk, "d2/f");
  for (int i = 0; i < 5; ++i) {
    std::string out;
    ASSERT_VALISE_OK(ReadOnce(f.get(), 0, 4096, &out));
    ASSERT_EQ(out.size(), data.size());
    EXPECT_EQ(BitsDifferent(out, data), 1);
  }
  std::string stored;
  ASSERT_TRUE(disk.GetFile("d1/f", &stored));
  EXPECT_EQ(stored, data);
  EXPECT_EQ(disk.stats().bit_flips, 5u);
  std::string out;
  ASSERT_VALISE_OK(ReadOnce(g.get(), 0, 4096, &out));
  EXPECT_EQ(out, data);

  // Through the queue too.
  std::string note;
  std::unique_ptr<IoQueue> q = disk.NewIoQueue(IoQueueOptions(), &note);
  std::string buf(4096, '\0');
  ASSERT_EQ(QueueOne(q.get(), ReadReq(f.get(), 0, buf.data(), 4096)), 4096);
  EXPECT_EQ(BitsDifferent(buf, data), 1);
}

TEST(SimDisk, FlipStoredBitIsRotAtRest) {
  // Goal: FlipStoredBit changes the stored data itself, for every reader.
  SimDisk disk(SimDiskOptions{});
  const std::string data = RandomBytes(100, 6);
  disk.AddFile("d1/f", data);
  disk.FlipStoredBit("d1/f", 10, 3);
  std::unique_ptr<File> f = OpenBuffered(disk, "d1/f");
  std::string out = ReadAll(f.get());
  EXPECT_EQ(BitsDifferent(out, data), 1);
  EXPECT_EQ(out[10], static_cast<char>(data[10] ^ 8));
}

TEST(SimDisk, EagainOnQueuedRequestsOnly) {
  // Goal: queued reads complete -EAGAIN now and then and succeed when
  // resubmitted; synchronous pread never sees EAGAIN.
  SimDisk disk(SimDiskOptions{});
  const std::string data = RandomBytes(4096, 7);
  disk.AddFile("d1/f", data);
  SimFaults faults;
  faults.eagain_one_in = 2;
  disk.SetFaults("d1/", faults);
  std::unique_ptr<File> f = OpenBuffered(disk, "d1/f");
  std::string note;
  std::unique_ptr<IoQueue> q = disk.NewIoQueue(IoQueueOptions(), &note);
  int eagains = 0;
  for (int i = 0; i < 20; ++i) {
    std::string buf(4096, '\0');
    int32_t res;
    int tries = 0;
    while ((res = QueueOne(q.get(), ReadReq(f.get(), 0, buf.data(), 4096))) ==
               -EAGAIN &&
           ++tries < 100) {
      ++eagains;
    }
    ASSERT_EQ(res, 4096);
    EXPECT_EQ(buf, data);
  }
  EXPECT_GT(eagains, 0);
  EXPECT_EQ(disk.stats().eagains, static_cast<uint64_t>(eagains));
  for (int i = 0; i < 50; ++i) {
    std::string out;
    ASSERT_VALISE_OK(ReadOnce(f.get(), 0, 4096, &out));
  }
}

// ------------------------------------------------------------ stalls

TEST(SimDisk, StallAndTimeoutOnSimulatedClock) {
  // Goal: requests on a stalled prefix never complete while the others
  // do; a Wait that times out returns empty after moving the simulated
  // clock by its timeout, without sleeping; Unstall lets them complete.
  SimDisk disk(SimDiskOptions{});
  const std::string data = RandomBytes(4096, 8);
  disk.AddFile("d1/f", data);
  disk.AddFile("d2/f", data);
  std::unique_ptr<File> f1 = OpenBuffered(disk, "d1/f");
  std::unique_ptr<File> f2 = OpenBuffered(disk, "d2/f");
  disk.Stall("d1/");
  std::string note;
  std::unique_ptr<IoQueue> q = disk.NewIoQueue(IoQueueOptions(), &note);
  std::string b1(4096, '\0'), b2(4096, '\0');
  ASSERT_VALISE_OK(q->Prepare(ReadReq(f1.get(), 0, b1.data(), 4096, 1)));
  ASSERT_VALISE_OK(q->Prepare(ReadReq(f2.get(), 0, b2.data(), 4096, 2)));
  ASSERT_VALISE_OK(q->Submit());

  const auto real_start = std::chrono::steady_clock::now();
  std::vector<IoCompletion> done;
  ASSERT_VALISE_OK(q->Wait(1, 5'000'000, &done));
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].user_data, 2u);
  EXPECT_EQ(done[0].res, 4096);

  for (int i = 0; i < 3; ++i) {
    const uint64_t before = disk.NowMicros();
    done.clear();
    ASSERT_VALISE_OK(q->Wait(1, 5'000'000, &done));
    EXPECT_TRUE(done.empty());
    EXPECT_EQ(disk.NowMicros(), before + 5'000'000);
    EXPECT_EQ(q->in_flight(), 1u);
  }
  // 15 simulated seconds took (far) less than one real second.
  EXPECT_LT(std::chrono::steady_clock::now() - real_start,
            std::chrono::seconds(1));
  EXPECT_EQ(disk.stats().stalls, 1u);

  disk.Unstall("d1/");
  done.clear();
  ASSERT_VALISE_OK(q->Wait(1, 5'000'000, &done));
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].user_data, 1u);
  EXPECT_EQ(done[0].res, 4096);
  EXPECT_EQ(b1, data);
  EXPECT_EQ(q->in_flight(), 0u);
}

TEST(SimDisk, RandomStallsReleasedByUnstall) {
  // Goal: stall_one_in holds requests of its prefix until Unstall; the
  // other prefix keeps completing.
  SimDisk disk(SimDiskOptions{});
  disk.AddFile("d1/f", RandomBytes(4096, 9));
  disk.AddFile("d2/f", RandomBytes(4096, 9));
  SimFaults faults;
  faults.stall_one_in = 1;
  disk.SetFaults("d1/", faults);
  std::unique_ptr<File> f1 = OpenBuffered(disk, "d1/f");
  std::unique_ptr<File> f2 = OpenBuffered(disk, "d2/f");
  std::string note;
  std::unique_ptr<IoQueue> q = disk.NewIoQueue(IoQueueOptions(), &note);
  std::string b(4096, '\0');
  for (uint64_t i = 0; i < 4; ++i) {
    ASSERT_VALISE_OK(q->Prepare(ReadReq(f1.get(), 0, b.data(), 4096, i)));
  }
  ASSERT_VALISE_OK(q->Prepare(ReadReq(f2.get(), 0, b.data(), 4096, 99)));
  ASSERT_VALISE_OK(q->Submit());
  std::vector<IoCompletion> done;
  for (int i = 0; i < 5; ++i) ASSERT_VALISE_OK(q->Wait(1, 1000, &done));
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].user_data, 99u);
  EXPECT_EQ(disk.stats().stalls, 4u);
  disk.Unstall("d1/");
  done.clear();
  while (q->in_flight() > 0) ASSERT_VALISE_OK(q->Wait(4, 1000, &done));
  EXPECT_EQ(done.size(), 4u);
}

TEST(SimDisk, SynchronousReadBlocksUntilUnstall) {
  // Goal: a synchronous read on a stalled drive blocks its thread (a hung
  // disk) and finishes once the stall is lifted.
  SimDisk disk(SimDiskOptions{});
  const std::string data = RandomBytes(4096, 10);
  disk.AddFile("d1/f", data);
  std::unique_ptr<File> f = OpenBuffered(disk, "d1/f");
  disk.Stall("d1/");
  std::atomic<bool> finished{false};
  std::string out;
  std::thread reader([&] {
    Status s = ReadOnce(f.get(), 0, 4096, &out);
    EXPECT_TRUE(s.ok()) << s.ToString();
    finished = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(finished.load());
  disk.Unstall("d1/");
  reader.join();
  EXPECT_TRUE(finished.load());
  EXPECT_EQ(out, data);
}

TEST(SimDisk, WakeEndsAWaitWithoutMovingTheClock) {
  // Goal: a Wake() from another thread makes the next Wait that cannot
  // complete enough return at once, without spending its timeout on the
  // simulated clock; the Wait after it times out as usual.
  SimDisk disk(SimDiskOptions{});
  disk.AddFile("d1/f", RandomBytes(4096, 9));
  std::unique_ptr<File> f = OpenBuffered(disk, "d1/f");
  disk.Stall("d1/");
  std::string note;
  std::unique_ptr<IoQueue> q = disk.NewIoQueue(IoQueueOptions(), &note);
  std::string buf(4096, '\0');
  ASSERT_VALISE_OK(q->Prepare(ReadReq(f.get(), 0, buf.data(), 4096, 1)));
  std::thread waker([&] { q->Wake(); });
  waker.join();
  const uint64_t before = disk.NowMicros();
  std::vector<IoCompletion> done;
  ASSERT_VALISE_OK(q->Wait(1, 1'000'000, &done));
  EXPECT_TRUE(done.empty());
  EXPECT_EQ(disk.NowMicros(), before);
  ASSERT_VALISE_OK(q->Wait(1, 1'000'000, &done));
  EXPECT_TRUE(done.empty());
  EXPECT_EQ(disk.NowMicros(), before + 1'000'000);
  // A zero timeout does not wait at all, like the io_uring queue.
  ASSERT_VALISE_OK(q->Wait(1, 0, &done));
  EXPECT_EQ(disk.NowMicros(), before + 1'000'000);
  disk.Unstall("d1/");
  ASSERT_VALISE_OK(q->Wait(1, 0, &done));
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].res, 4096);
}

TEST(SimDisk, WaitSubmitsPreparedRequests) {
  // Goal: Wait() submits what is prepared (like submit_and_wait), and
  // Prepare refuses the reserved user_data; open serials are unique.
  SimDisk disk(SimDiskOptions{});
  disk.AddFile("d1/f", "abcd");
  std::unique_ptr<File> f = OpenBuffered(disk, "d1/f");
  std::unique_ptr<File> g = OpenBuffered(disk, "d1/f");
  EXPECT_NE(f->open_serial(), 0u);
  EXPECT_NE(f->open_serial(), g->open_serial());
  std::string note;
  std::unique_ptr<IoQueue> q = disk.NewIoQueue(IoQueueOptions(), &note);
  std::string buf(4, '\0');
  EXPECT_TRUE(q->Prepare(ReadReq(f.get(), 0, buf.data(), 4, kReservedUserData))
                  .IsInvalidArgument());
  ASSERT_VALISE_OK(q->Prepare(ReadReq(f.get(), 0, buf.data(), 4, 5)));
  std::vector<IoCompletion> done;
  ASSERT_VALISE_OK(q->Wait(1, 1000, &done));
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].user_data, 5u);
  EXPECT_EQ(buf, "abcd");
}

// ------------------------------------------------------------ writes, space

TEST(SimDisk, WriteErrorsChangeNothing) {
  // Goal: injected write errors fail synchronous and queued writes without
  // storing anything; another prefix writes fine.
  SimDisk disk(SimDiskOptions{});
  std::unique_ptr<Directory> d1 = OpenDir(disk, "d1");
  std::unique_ptr<Directory> d2 = OpenDir(disk, "d2");
  SimFaults faults;
  faults.write_error_one_in = 1;
  disk.SetFaults("d1/", faults);
  std::unique_ptr<File> f, g;
  ASSERT_VALISE_OK(d1->CreateFile("f", WriteOptions(), &f));
  ASSERT_VALISE_OK(d2->CreateFile("f", WriteOptions(), &g));
  Status s = f->WriteAt(0, "hello", 5);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_EQ(s.err(), EIO);
  EXPECT_TRUE(s.injected());
  std::string stored;
  ASSERT_TRUE(disk.GetFile("d1/f", &stored));
  EXPECT_EQ(stored, "");
  std::string note;
  std::unique_ptr<IoQueue> q = disk.NewIoQueue(IoQueueOptions(), &note);
  char text[] = "hello";
  IoRequest w;
  w.op = IoOp::kWrite;
  w.file = f.get();
  w.buf = text;
  w.len = 5;
  EXPECT_EQ(QueueOne(q.get(), w), -EIO);
  w.file = g.get();
  EXPECT_EQ(QueueOne(q.get(), w), 5);
  ASSERT_TRUE(disk.GetFile("d2/f", &stored));
  EXPECT_EQ(stored, "hello");
}

TEST(SimDisk, NoSpaceForBytes) {
  // Goal: a write or truncate that would exceed capacity_bytes fails with
  // NoSpace (injected) and stores nothing; FreeSpace is capacity minus
  // used; removing a file gives its space back.
  SimDiskOptions opt;
  opt.capacity_bytes = 10000;
  SimDisk disk(opt);
  std::unique_ptr<Directory> d = OpenDir(disk, "dest");
  std::unique_ptr<File> f;
  ASSERT_VALISE_OK(d->CreateFile("f", WriteOptions(), &f));
  const std::string data = RandomBytes(6000, 11);
  ASSERT_VALISE_OK(f->WriteAt(0, data.data(), data.size()));
  uint64_t bytes = 0, inodes = 0;
  ASSERT_VALISE_OK(d->FreeSpace(&bytes, &inodes));
  EXPECT_EQ(bytes, 4000u);

  Status s = f->WriteAt(6000, data.data(), 5000);
  EXPECT_TRUE(s.IsNoSpace()) << s.ToString();
  EXPECT_EQ(s.err(), ENOSPC);
  EXPECT_TRUE(s.injected());
  std::string stored;
  ASSERT_TRUE(disk.GetFile("dest/f", &stored));
  EXPECT_EQ(stored, data);
  // Overwriting in place needs no space; filling up exactly is fine.
  ASSERT_VALISE_OK(f->WriteAt(0, data.data(), 6000));
  ASSERT_VALISE_OK(f->WriteAt(6000, data.data(), 4000));
  ASSERT_VALISE_OK(d->FreeSpace(&bytes, &inodes));
  EXPECT_EQ(bytes, 0u);
  EXPECT_TRUE(f->Truncate(10001).IsNoSpace());

  std::string note;
  std::unique_ptr<IoQueue> q = disk.NewIoQueue(IoQueueOptions(), &note);
  IoRequest w;
  w.op = IoOp::kWrite;
  w.file = f.get();
  w.offset = 10000;
  w.buf = const_cast<char*>(data.data());
  w.len = 1;
  EXPECT_EQ(QueueOne(q.get(), w), -ENOSPC);

  ASSERT_VALISE_OK(d->Remove("f"));
  ASSERT_VALISE_OK(d->FreeSpace(&bytes, &inodes));
  EXPECT_EQ(bytes, 10000u);
}

TEST(SimDisk, NoSpaceForInodes) {
  // Goal: creating beyond capacity_inodes fails with NoSpace (files,
  // directories, lock files) until something is removed.
  SimDiskOptions opt;
  opt.capacity_inodes = 3;
  SimDisk disk(opt);
  disk.AddDir("dest");  // inode 1 of 3
  std::unique_ptr<Directory> d = OpenDir(disk, "dest");
  std::unique_ptr<File> f;
  ASSERT_VALISE_OK(d->CreateFile("a", WriteOptions(), &f));
  ASSERT_VALISE_OK(d->CreateFile("b", WriteOptions(), &f));
  uint64_t bytes = 0, inodes = 0;
  ASSERT_VALISE_OK(d->FreeSpace(&bytes, &inodes));
  EXPECT_EQ(inodes, 0u);
  Status s = d->CreateFile("c", WriteOptions(), &f);
  EXPECT_TRUE(s.IsNoSpace()) << s.ToString();
  EXPECT_TRUE(s.injected());
  EXPECT_EQ(f, nullptr);
  EXPECT_TRUE(d->CreateDirs("sub").IsNoSpace());
  EXPECT_TRUE(d->Lock("LOCK").IsNoSpace());
  // A hard link takes no inode.
  ASSERT_VALISE_OK(d->Link("a", "a2"));
  ASSERT_VALISE_OK(d->Remove("b"));
  ASSERT_VALISE_OK(d->CreateFile("c", WriteOptions(), &f));
}

TEST(SimDisk, FsyncErrors) {
  // Goal: injected fsync errors fail Sync, SyncDir and queued syncs on
  // their prefix only, and a failed Sync makes nothing durable.
  SimDisk disk(SimDiskOptions{});
  disk.AddDir("dest");
  disk.AddDir("other");
  SimFaults faults;
  faults.sync_error_one_in = 1;
  disk.SetFaults("dest/", faults);
  std::unique_ptr<Directory> d = OpenDir(disk, "dest");
  std::unique_ptr<Directory> o = OpenDir(disk, "other");
  disk.AddFile("dest/f", "old");
  std::unique_ptr<File> f, g;
  ASSERT_VALISE_OK(d->CreateFile("f", WriteOptions{.exclusive = false}, &f));
  ASSERT_VALISE_OK(f->WriteAt(0, "new", 3));
  Status s = f->Sync();
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_EQ(s.err(), EIO);
  EXPECT_TRUE(s.injected());
  EXPECT_NE(s.message().find("dest/f: fdatasync"), std::string::npos);
  EXPECT_TRUE(d->SyncDir("").IsIOError());

  std::string note;
  std::unique_ptr<IoQueue> q = disk.NewIoQueue(IoQueueOptions(), &note);
  IoRequest sync;
  sync.op = IoOp::kSync;
  sync.file = f.get();
  EXPECT_EQ(QueueOne(q.get(), sync), -EIO);

  ASSERT_VALISE_OK(o->CreateFile("g", WriteOptions(), &g));
  ASSERT_VALISE_OK(g->WriteAt(0, "kept", 4));
  ASSERT_VALISE_OK(g->Sync());
  ASSERT_VALISE_OK(o->SyncDir(""));
  sync.file = g.get();
  EXPECT_EQ(QueueOne(q.get(), sync), 0);

  disk.Crash();
  std::string stored;
  ASSERT_TRUE(disk.GetFile("dest/f", &stored));
  EXPECT_EQ(stored, "old");
  ASSERT_TRUE(disk.GetFile("other/g", &stored));
  EXPECT_EQ(stored, "kept");
}

// ------------------------------------------------------------ crash

TEST(SimDisk, CrashKeepsSyncedDataOnly) {
  // Goal: Crash() keeps what Sync made durable and drops later writes and
  // truncates; a file whose name is durable but data never synced comes
  // back empty.
  SimDisk disk(SimDiskOptions{});
  disk.AddFile("dest/existing", "v1");
  std::unique_ptr<Directory> d = OpenDir(disk, "dest");
  std::unique_ptr<File> synced, unsynced, existing;
  ASSERT_VALISE_OK(d->CreateFile("synced", WriteOptions(), &synced));
  ASSERT_VALISE_OK(d->CreateFile("unsynced", WriteOptions(), &unsynced));
  ASSERT_VALISE_OK(d->SyncDir(""));
  ASSERT_VALISE_OK(synced->WriteAt(0, "durable", 7));
  ASSERT_VALISE_OK(synced->Sync());
  ASSERT_VALISE_OK(synced->WriteAt(7, " and lost", 9));
  ASSERT_VALISE_OK(unsynced->WriteAt(0, "lost", 4));
  ASSERT_VALISE_OK(
      d->CreateFile("existing", WriteOptions{.exclusive = false}, &existing));
  ASSERT_VALISE_OK(existing->WriteAt(0, "v2", 2));

  disk.Crash();
  std::string stored;
  ASSERT_TRUE(disk.GetFile("dest/synced", &stored));
  EXPECT_EQ(stored, "durable");
  ASSERT_TRUE(disk.GetFile("dest/unsynced", &stored));
  EXPECT_EQ(stored, "");
  ASSERT_TRUE(disk.GetFile("dest/existing", &stored));
  EXPECT_EQ(stored, "v1");
}

TEST(SimDisk, CreateWithoutTruncateKeepsTheBytes) {
  // Goal: CreateFile without exclusive and without truncate opens what is
  // there for writing and keeps its bytes (a resumed write); with truncate
  // (the default) it empties the file.
  SimDisk disk(SimDiskOptions{});
  disk.AddFile("dest/f", "0123456789");
  std::unique_ptr<Directory> d = OpenDir(disk, "dest");
  std::unique_ptr<File> f;
  ASSERT_VALISE_OK(d->CreateFile(
      "f", WriteOptions{.exclusive = false, .truncate = false}, &f));
  ASSERT_VALISE_OK(f->WriteAt(8, "xy", 2));
  std::string stored;
  ASSERT_TRUE(disk.GetFile("dest/f", &stored));
  EXPECT_EQ(stored, "01234567xy");
  ASSERT_VALISE_OK(d->CreateFile("f", WriteOptions{.exclusive = false}, &f));
  ASSERT_TRUE(disk.GetFile("dest/f", &stored));
  EXPECT_EQ(stored, "");
}

TEST(SimDisk, CrashDropsEntriesWithoutDirSync) {
  // Goal: a file created and synced whose directory was never synced
  // disappears; so does a directory created without syncing its parent,
  // with what is in it.
  SimDisk disk(SimDiskOptions{});
  disk.AddDir("dest");
  std::unique_ptr<Directory> d = OpenDir(disk, "dest");
  std::unique_ptr<File> f;
  ASSERT_VALISE_OK(d->CreateFile("f", WriteOptions(), &f));
  ASSERT_VALISE_OK(f->WriteAt(0, "data", 4));
  ASSERT_VALISE_OK(f->Sync());
  ASSERT_VALISE_OK(d->CreateDirs("sub/deeper"));
  std::unique_ptr<File> g;
  ASSERT_VALISE_OK(d->CreateFile("sub/deeper/g", WriteOptions(), &g));
  ASSERT_VALISE_OK(g->Sync());
  ASSERT_VALISE_OK(d->SyncDir("sub/deeper"));
  ASSERT_VALISE_OK(d->SyncDir("sub"));
  EXPECT_TRUE(disk.Exists("dest/f"));
  disk.Crash();
  EXPECT_FALSE(disk.Exists("dest/f"));
  EXPECT_FALSE(disk.Exists("dest/sub"));
  EXPECT_TRUE(disk.Exists("dest"));
}

TEST(SimDisk, CrashRevertsRenameWithoutDirSync) {
  // Goal: a rename not followed by SyncDir reverts; with SyncDir it stays;
  // across directories both must be synced.
  SimDisk disk(SimDiskOptions{});
  disk.AddFile("dest/r1", "one");
  disk.AddFile("dest/r2", "two");
  disk.AddFile("dest/a/x", "ex");
  disk.AddDir("dest/b");
  disk.AddFile("dest/a/y", "why");
  disk.AddDir("dest/c");
  std::unique_ptr<Directory> d = OpenDir(disk, "dest");
  ASSERT_VALISE_OK(d->Rename("r1", "r1.new", /*noreplace=*/true));
  ASSERT_VALISE_OK(d->Rename("r2", "r2.new", /*noreplace=*/true));
  ASSERT_VALISE_OK(d->SyncDir(""));
  ASSERT_VALISE_OK(d->Rename("r1.new", "r1.newer", true));  // not synced
  ASSERT_VALISE_OK(d->Rename("a/x", "b/x", true));
  ASSERT_VALISE_OK(d->SyncDir("a"));
  ASSERT_VALISE_OK(d->SyncDir("b"));
  ASSERT_VALISE_OK(d->Rename("a/y", "c/y", true));
  ASSERT_VALISE_OK(d->SyncDir("c"));  // only the target
  disk.Crash();
  EXPECT_TRUE(disk.Exists("dest/r1.new"));
  EXPECT_FALSE(disk.Exists("dest/r1.newer"));
  EXPECT_FALSE(disk.Exists("dest/r1"));
  EXPECT_TRUE(disk.Exists("dest/r2.new"));
  EXPECT_FALSE(disk.Exists("dest/r2"));
  EXPECT_TRUE(disk.Exists("dest/b/x"));
  EXPECT_FALSE(disk.Exists("dest/a/x"));
  // Only the target directory was synced: the file has both names.
  EXPECT_TRUE(disk.Exists("dest/a/y"));
  EXPECT_TRUE(disk.Exists("dest/c/y"));
  std::string stored;
  ASSERT_TRUE(disk.GetFile("dest/r2.new", &stored));
  EXPECT_EQ(stored, "two");
}

TEST(SimDisk, SyncFsMakesTheWholeDriveDurable) {
  // Goal: one SyncFs keeps, across a crash, every write, new directory,
  // mode, mtime and rename on the drive holding the directory, and nothing
  // on another drive; a later unsynced change still reverts; with the
  // option off it is NotSupported and makes nothing durable.
  for (bool supported : {true, false}) {
    SCOPED_TRACE(supported ? "syncfs" : "no syncfs");
    SimDiskOptions o;
    o.syncfs = supported;
    SimDisk disk(o);
    disk.AddFile("dest/old", "old");
    disk.AddFile("other/keep", "keep");
    std::unique_ptr<Directory> d = OpenDir(disk, "dest");
    std::unique_ptr<Directory> other = OpenDir(disk, "other");
    ASSERT_VALISE_OK(d->CreateDirs("a/b"));
    std::unique_ptr<File> f;
    ASSERT_VALISE_OK(d->CreateFile("a/b/tmp", WriteOptions(), &f));
    ASSERT_VALISE_OK(f->WriteAt(0, "data", 4));
    ASSERT_VALISE_OK(f->SetModeAndTime(0640, 777));
    ASSERT_VALISE_OK(d->Rename("a/b/tmp", "a/b/final", true));
    std::unique_ptr<File> g;
    ASSERT_VALISE_OK(other->CreateFile("new", WriteOptions(), &g));
    ASSERT_VALISE_OK(g->WriteAt(0, "x", 1));
    Status s = d->SyncFs();
    if (!supported) {
      EXPECT_TRUE(s.IsNotSupported()) << s.ToString();
    } else {
      ASSERT_VALISE_OK(s);
    }
    ASSERT_VALISE_OK(d->Rename("old", "renamed", true));  // not synced
    disk.Crash();
    std::string got;
    EXPECT_EQ(disk.GetFile("dest/a/b/final", &got), supported);
    if (supported) {
      EXPECT_EQ(got, "data");
      FileInfo info;
      ASSERT_VALISE_OK(disk.Stat("dest/a/b/final", &info));
      EXPECT_EQ(info.mode & 07777, 0640u);
      EXPECT_EQ(info.mtime_ns, 777);
    }
    EXPECT_TRUE(disk.Exists("dest/old"));
    EXPECT_FALSE(disk.Exists("dest/renamed"));
    EXPECT_FALSE(disk.Exists("other/new"));
    EXPECT_TRUE(disk.Exists("other/keep"));
  }
}

TEST(SimDisk, SyncFsObeysFaultsAndStalls) {
  // Goal: SyncFs fails with the drive's fsync errors (making nothing
  // durable) and waits on its stalls like any sync.
  SimDisk disk(SimDiskOptions{});
  disk.AddDir("dest");
  std::unique_ptr<Directory> d = OpenDir(disk, "dest");
  std::unique_ptr<File> f;
  ASSERT_VALISE_OK(d->CreateFile("f", WriteOptions(), &f));
  SimFaults always;
  always.sync_error_one_in = 1;
  disk.SetFaults("dest/", always);
  Status s = d->SyncFs();
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_TRUE(s.injected());
  disk.SetFaults("dest/", SimFaults{});
  disk.Crash();
  EXPECT_FALSE(disk.Exists("dest/f"));

  std::unique_ptr<Directory> d2 = OpenDir(disk, "dest");
  disk.Stall("dest/");
  std::atomic<bool> done{false};
  std::thread t([&] {
    EXPECT_VALISE_OK(d2->SyncFs());
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(done.load());
  disk.Unstall("dest/");
  t.join();
  EXPECT_TRUE(done.load());
}

TEST(SimDisk, CrashInvalidatesHandlesAndLocks) {
  // Goal: after Crash(), Files, Directories and queue requests opened
  // before fail with an injected IOError, locks are released, and new
  // handles work.
  SimDisk disk(SimDiskOptions{});
  disk.AddFile("dest/f", "data");
  std::unique_ptr<File> f = OpenBuffered(disk, "dest/f");
  std::unique_ptr<Directory> d = OpenDir(disk, "dest");
  ASSERT_VALISE_OK(d->Lock("LOCK"));
  ASSERT_VALISE_OK(d->SyncDir(""));
  disk.Crash();
  std::string out;
  Status s = ReadOnce(f.get(), 0, 4, &out);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_TRUE(s.injected());
  EXPECT_TRUE(d->SyncDir("").IsIOError());
  std::string note;
  std::unique_ptr<IoQueue> q = disk.NewIoQueue(IoQueueOptions(), &note);
  std::string buf(4, '\0');
  EXPECT_LT(QueueOne(q.get(), ReadReq(f.get(), 0, buf.data(), 4)), 0);

  std::unique_ptr<Directory> d2 = OpenDir(disk, "dest");
  ASSERT_VALISE_OK(d2->Lock("LOCK"));
  std::unique_ptr<File> f2 = OpenBuffered(disk, "dest/f");
  EXPECT_EQ(ReadAll(f2.get()), "data");
}

TEST(SimDisk, ModeAndTimeDurableWithDirSync) {
  // Goal: mode and mtime set after the data sync survive a crash once the
  // directory is synced (the commit protocol), and not before.
  SimDisk disk(SimDiskOptions{});
  disk.AddDir("dest");
  std::unique_ptr<Directory> d = OpenDir(disk, "dest");
  std::unique_ptr<File> a, b;
  ASSERT_VALISE_OK(d->CreateFile("a", WriteOptions{.mode = 0600}, &a));
  ASSERT_VALISE_OK(d->CreateFile("b", WriteOptions{.mode = 0600}, &b));
  ASSERT_VALISE_OK(d->SyncDir(""));
  ASSERT_VALISE_OK(a->Sync());
  ASSERT_VALISE_OK(b->Sync());
  ASSERT_VALISE_OK(a->SetModeAndTime(0644, 123456789));
  ASSERT_VALISE_OK(b->SetModeAndTime(0644, 123456789));
  ASSERT_VALISE_OK(d->SyncDir(""));
  // b's second change is followed by no sync...
  ASSERT_VALISE_OK(b->SetModeAndTime(0640, 5));
  disk.Crash();
  FileInfo info;
  ASSERT_VALISE_OK(disk.Stat("dest/a", &info));
  EXPECT_EQ(info.mode, 0644u);
  EXPECT_EQ(info.mtime_ns, 123456789);
  ASSERT_VALISE_OK(disk.Stat("dest/b", &info));
  EXPECT_EQ(info.mode, 0644u);  // ...so its last change is lost
  EXPECT_EQ(info.mtime_ns, 123456789);
}

// ------------------------------------------------------------ SetActive

TEST(SimDisk, SetActiveFalseFailsEverything) {
  // Goal: while inactive, every call fails with the given status (marked
  // injected, naming the path), queued requests fail; reactivating
  // restores service.
  SimDisk disk(SimDiskOptions{});
  disk.AddFile("d1/f", "data");
  std::unique_ptr<File> f = OpenBuffered(disk, "d1/f");
  std::unique_ptr<Directory> d = OpenDir(disk, "d1");
  disk.SetActive(false, Status::IOError("unplugged"));
  FileInfo info;
  std::string out;
  std::unique_ptr<File> g;
  std::unique_ptr<Directory> d2;
  std::vector<DirEntry> entries;
  std::vector<Status> results = {
      disk.Stat("d1/f", &info),
      disk.ListDir("d1", &entries),
      disk.OpenForRead("d1/f", ReadOptions(), &g),
      disk.OpenDirectory("d1", false, &d2),
      disk.ReadSmallFile("d1/f", &out, 100),
      disk.WriteSmallFile("d1/h", "x", 0644),
      ReadOnce(f.get(), 0, 4, &out),
      d->CreateFile("new", WriteOptions(), &g),
      d->SyncDir(""),
  };
  for (const Status& s : results) {
    EXPECT_TRUE(s.IsIOError()) << s.ToString();
    EXPECT_TRUE(s.injected()) << s.ToString();
    EXPECT_NE(s.message().find("unplugged"), std::string::npos);
    EXPECT_NE(s.message().find("d1"), std::string::npos) << s.message();
  }
  std::string note;
  std::unique_ptr<IoQueue> q = disk.NewIoQueue(IoQueueOptions(), &note);
  std::string buf(4, '\0');
  EXPECT_EQ(QueueOne(q.get(), ReadReq(f.get(), 0, buf.data(), 4)), -EIO);

  disk.SetActive(true);
  ASSERT_VALISE_OK(ReadOnce(f.get(), 0, 4, &out));
  EXPECT_EQ(out, "data");
  EXPECT_EQ(QueueOne(q.get(), ReadReq(f.get(), 0, buf.data(), 4)), 4);
}

// ------------------------------------------------------------ resolution

TEST(SimDisk, DirectoryRefusesSymlinksAndEscapes) {
  // Goal: beneath a Directory, any symlink component is ELOOP and any way
  // out (absolute path, ".." above the handle) is EXDEV, like openat2
  // RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS; nothing is created outside.
  SimDisk disk(SimDiskOptions{});
  disk.AddDir("dest/sub");
  disk.AddFile("secret", "s");
  disk.AddSymlink("dest/link", "sub");
  disk.AddSymlink("dest/out", "/");
  std::unique_ptr<Directory> d = OpenDir(disk, "dest");
  std::unique_ptr<File> f;

  for (const char* rel : {"link/x", "out/secret", "link"}) {
    Status s = d->CreateFile(rel, WriteOptions(), &f);
    EXPECT_FALSE(s.ok()) << rel;
    EXPECT_EQ(s.err(), ELOOP) << rel << ": " << s.ToString();
    EXPECT_EQ(f, nullptr);
  }
  EXPECT_EQ(d->OpenFile("link", &f).err(), ELOOP);
  EXPECT_EQ(d->CreateDirs("link/deeper").err(), ELOOP);
  EXPECT_EQ(d->Rename("link/../x", "y", false).err(), ELOOP);
  std::vector<DirEntry> entries;
  EXPECT_EQ(d->List("out", &entries).err(), ELOOP);
  EXPECT_FALSE(disk.Exists("dest/sub/x"));

  for (const char* rel :
       {"../secret2", "sub/../../secret2", "/secret2", ".."}) {
    Status s = d->CreateFile(rel, WriteOptions(), &f);
    EXPECT_FALSE(s.ok()) << rel;
    EXPECT_EQ(s.err(), EXDEV) << rel << ": " << s.ToString();
  }
  EXPECT_EQ(d->OpenFile("../secret", &f).err(), EXDEV);
  EXPECT_EQ(d->Link("sub/../../secret", "stolen").err(), EXDEV);
  EXPECT_FALSE(disk.Exists("secret2"));
  EXPECT_FALSE(disk.Exists("dest/stolen"));

  // ".." that stays inside is fine, and lstat reports the link itself.
  ASSERT_VALISE_OK(d->CreateFile("sub/../inside", WriteOptions(), &f));
  EXPECT_TRUE(disk.Exists("dest/inside"));
  FileInfo info;
  ASSERT_VALISE_OK(d->Stat("link", &info));
  EXPECT_EQ(info.type, FileType::kSymlink);

  // The FileSystem itself follows symlinks in the middle of a path but
  // never in the last component of OpenForRead.
  disk.AddFile("dest/sub/file", "content");
  std::unique_ptr<File> g = OpenBuffered(disk, "dest/link/file");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(ReadAll(g.get()), "content");
  disk.AddSymlink("dest/flink", "sub/file");
  EXPECT_EQ(disk.OpenForRead("dest/flink", ReadOptions(), &g).err(), ELOOP);
  ASSERT_VALISE_OK(disk.Stat("dest/flink", &info));
  EXPECT_EQ(info.type, FileType::kSymlink);
}

TEST(SimDisk, OpenForReadRefusesSpecialFiles) {
  // Goal: FIFOs, sockets and character devices are refused with
  // InvalidArgument; directories with EISDIR; a missing file is NotFound.
  SimDisk disk(SimDiskOptions{});
  disk.AddSpecial("d1/fifo", FileType::kFifo);
  disk.AddSpecial("d1/sock", FileType::kSocket);
  disk.AddSpecial("d1/tty", FileType::kCharDevice);
  std::unique_ptr<File> f;
  for (const char* p : {"d1/fifo", "d1/sock", "d1/tty"}) {
    EXPECT_TRUE(disk.OpenForRead(p, ReadOptions(), &f).IsInvalidArgument())
        << p;
  }
  EXPECT_EQ(disk.OpenForRead("d1", ReadOptions(), &f).err(), EISDIR);
  EXPECT_TRUE(disk.OpenForRead("d1/none", ReadOptions(), &f).IsNotFound());
  std::vector<DirEntry> entries;
  ASSERT_VALISE_OK(disk.ListDir("d1", &entries));
  EXPECT_EQ(entries.size(), 3u);
}

// ------------------------------------------------------------ prefixes

TEST(SimDisk, EachFaultConfinedToItsPrefix) {
  // Goal: every fault kind set on "d1/" hits d1 and leaves d2 and "d10"
  // (which merely starts with the same letters) untouched.
  struct Kind {
    const char* name;
    SimFaults faults;
  };
  std::vector<Kind> kinds = {
      {"read_error", {.read_error_one_in = 1}},
      {"short_read", {.short_read_one_in = 1}},
      {"eagain", {.eagain_one_in = 1}},
      {"bit_flip", {.bit_flip_one_in = 1}},
      {"write_error", {.write_error_one_in = 1}},
      {"sync_error", {.sync_error_one_in = 1}},
      {"stall", {.stall_one_in = 1}},
      {"short_write", {.short_write_one_in = 1}},
  };
  const std::string data = RandomBytes(8192, 12);
  for (const Kind& kind : kinds) {
    SCOPED_TRACE(kind.name);
    SimDisk disk(SimDiskOptions{});
    disk.SetFaults("d1/", kind.faults);
    // Files outlive the queue's requests (stalled ones stay in flight).
    std::vector<std::unique_ptr<File>> files;
    std::string note;
    std::unique_ptr<IoQueue> q = disk.NewIoQueue(IoQueueOptions(), &note);
    // One read, write and sync through the queue per drive: true when all
    // came back complete and correct.
    auto clean = [&](const std::string& drive) {
      std::unique_ptr<Directory> d = OpenDir(disk, drive);
      std::unique_ptr<File> owned;
      EXPECT_VALISE_OK(d->CreateFile("f", WriteOptions(), &owned));
      if (!owned) return false;
      File* f = owned.get();
      files.push_back(std::move(owned));
      std::string buf(8192, '\0');
      IoRequest w = ReadReq(f, 0, const_cast<char*>(data.data()), 8192);
      w.op = IoOp::kWrite;
      IoRequest s;
      s.op = IoOp::kSync;
      s.file = f;
      std::vector<IoCompletion> done;
      bool ok = true;
      for (const IoRequest& req : {w, ReadReq(f, 0, buf.data(), 8192), s}) {
        EXPECT_VALISE_OK(q->Prepare(req));
        EXPECT_VALISE_OK(q->Submit());
        done.clear();
        EXPECT_VALISE_OK(q->Wait(1, 1000, &done));
        int32_t expect = req.op == IoOp::kSync ? 0 : 8192;
        if (done.size() != 1 || done[0].res != expect) ok = false;
      }
      if (buf != data) ok = false;
      return ok;
    };
    EXPECT_FALSE(clean("d1")) << "fault not injected";
    EXPECT_TRUE(clean("d2")) << "fault leaked to another drive";
    EXPECT_TRUE(clean("d10")) << "fault leaked to a name with the prefix";
    disk.Unstall("");  // lets the stalled requests go before teardown
  }
}

// ------------------------------------------------------------ concurrency

TEST(SimDisk, ConcurrentReaders) {
  // Goal: several threads reading through ReadAt at once (one drive with
  // short reads and bit flips off, one with short reads) all get the
  // right bytes; the counters add up.
  SimDisk disk(SimDiskOptions{});
  const std::string data = RandomBytes(1 << 20, 13);
  disk.AddFile("d1/f", data);
  disk.AddFile("d2/f", data);
  SimFaults faults;
  faults.short_read_one_in = 3;
  disk.SetFaults("d2/", faults);
  std::unique_ptr<File> f1 = OpenBuffered(disk, "d1/f");
  std::unique_ptr<File> f2 = OpenBuffered(disk, "d2/f");
  constexpr int kThreads = 4, kReads = 300;
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      File* f = t % 2 == 0 ? f1.get() : f2.get();
      uint64_t x = 1234567 + t;
      for (int i = 0; i < kReads; ++i) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t off = (x >> 20) % data.size();
        std::string buf(4096, '\0');
        size_t got = 0;
        Status s = f->ReadAt(off, buf.size(), buf.data(), &got);
        if (!s.ok() || got == 0 ||
            memcmp(buf.data(), data.data() + off, got) != 0) {
          ++mismatches;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(disk.stats().reads, static_cast<uint64_t>(kThreads * kReads));
  EXPECT_GT(disk.stats().short_reads, 0u);
}

// ------------------------------------------------------------ the rest

TEST(SimDisk, LockIsExclusiveBetweenHandles) {
  // Goal: Lock on one path from two Directory objects is Busy for the
  // second until the first is destroyed.
  SimDisk disk(SimDiskOptions{});
  std::unique_ptr<Directory> a = OpenDir(disk, "dest");
  std::unique_ptr<Directory> b = OpenDir(disk, "dest");
  ASSERT_VALISE_OK(a->Lock("lock"));
  ASSERT_VALISE_OK(a->Lock("lock"));  // again, same handle: fine
  Status s = b->Lock("lock");
  EXPECT_TRUE(s.IsBusy()) << s.ToString();
  ASSERT_VALISE_OK(b->Lock("other"));
  a.reset();
  ASSERT_VALISE_OK(b->Lock("lock"));
}

TEST(SimDisk, CloneFromSharesBytesOrIsNotSupported) {
  // Goal: CloneFrom copies whole files and aligned ranges, refuses what
  // FICLONERANGE refuses, and is NotSupported with reflink = false.
  SimDisk disk(SimDiskOptions{});
  const std::string data = RandomBytes(3 * 4096 + 100, 14);
  disk.AddFile("dest/src", data);
  std::unique_ptr<Directory> d = OpenDir(disk, "dest");
  std::unique_ptr<File> src, whole, part;
  ASSERT_VALISE_OK(d->OpenFile("src", &src));
  ASSERT_VALISE_OK(d->CreateFile("whole", WriteOptions(), &whole));
  ASSERT_VALISE_OK(whole->CloneFrom(*src, 0, 0, 0));
  std::string stored;
  ASSERT_TRUE(disk.GetFile("dest/whole", &stored));
  EXPECT_EQ(stored, data);

  ASSERT_VALISE_OK(d->CreateFile("part", WriteOptions(), &part));
  ASSERT_VALISE_OK(part->CloneFrom(*src, 4096, 8192, 4096));
  ASSERT_TRUE(disk.GetFile("dest/part", &stored));
  ASSERT_EQ(stored.size(), 3 * 4096u);
  EXPECT_EQ(stored.substr(8192), data.substr(4096, 4096));
  // An unaligned tail ending at src's EOF may extend dst, not land inside
  // it; an unaligned length or offset elsewhere, or a range past src's
  // end, is refused (as XFS does).
  EXPECT_EQ(part->CloneFrom(*src, 3 * 4096, 0, 100).err(), EINVAL);
  ASSERT_VALISE_OK(part->CloneFrom(*src, 3 * 4096, 3 * 4096, 100));
  ASSERT_TRUE(disk.GetFile("dest/part", &stored));
  EXPECT_EQ(stored.substr(3 * 4096), data.substr(3 * 4096));
  EXPECT_EQ(part->CloneFrom(*src, 100, 0, 4096).err(), EINVAL);
  EXPECT_EQ(part->CloneFrom(*src, 0, 0, 4000).err(), EINVAL);
  EXPECT_EQ(part->CloneFrom(*src, 8192, 0, 8192).err(), EINVAL);
  // Length 0 from an offset: to src's end.
  std::unique_ptr<File> rest;
  ASSERT_VALISE_OK(d->CreateFile("rest", WriteOptions(), &rest));
  ASSERT_VALISE_OK(rest->CloneFrom(*src, 4096, 0, 0));
  ASSERT_TRUE(disk.GetFile("dest/rest", &stored));
  EXPECT_EQ(stored, data.substr(4096));

  SimDiskOptions opt;
  opt.reflink = false;
  SimDisk flat(opt);
  flat.AddFile("dest/src", data);
  std::unique_ptr<Directory> fd = OpenDir(flat, "dest");
  std::unique_ptr<File> fsrc, fdst;
  ASSERT_VALISE_OK(fd->OpenFile("src", &fsrc));
  ASSERT_VALISE_OK(fd->CreateFile("dst", WriteOptions(), &fdst));
  Status s = fdst->CloneFrom(*fsrc, 0, 0, 0);
  EXPECT_TRUE(s.IsNotSupported()) << s.ToString();
  // Across two disks: another file system.
  EXPECT_FALSE(fdst->CloneFrom(*src, 0, 0, 0).ok());
}

TEST(SimDisk, PhysicalOffsetsFollowCreationOrder) {
  // Goal: PhysicalOffset is deterministic, in creation order (1 MiB
  // apart), and can be overridden for planner tests.
  SimDisk disk(SimDiskOptions{});
  disk.AddFile("d1/a", "a");
  disk.AddFile("d1/b", "b");
  disk.AddFile("d1/c", "c");
  uint64_t pa = 0, pb = 0, pc = 0;
  ASSERT_VALISE_OK(OpenBuffered(disk, "d1/a")->PhysicalOffset(&pa));
  ASSERT_VALISE_OK(OpenBuffered(disk, "d1/b")->PhysicalOffset(&pb));
  ASSERT_VALISE_OK(OpenBuffered(disk, "d1/c")->PhysicalOffset(&pc));
  EXPECT_EQ(pb - pa, 1u << 20);
  EXPECT_EQ(pc - pb, 1u << 20);
  ASSERT_TRUE(disk.SetPhysicalOffset("d1/a", 99u << 20));
  ASSERT_VALISE_OK(OpenBuffered(disk, "d1/a")->PhysicalOffset(&pa));
  EXPECT_EQ(pa, 99u << 20);
}

TEST(SimDisk, DirectIoNeedsAlignment) {
  // Goal: an O_DIRECT file refuses misaligned reads with EINVAL (not
  // injected), reads aligned ones, and reads anything after DropDirect;
  // allow_direct = false opens buffered.
  SimDisk disk(SimDiskOptions{});
  const std::string data = RandomBytes(10000, 15);
  disk.AddFile("d1/f", data);
  std::unique_ptr<File> f;
  ASSERT_VALISE_OK(disk.OpenForRead("d1/f", ReadOptions(), &f));
  ASSERT_TRUE(f->is_direct());
  AlignedBuf buf(16384);
  size_t got = 0;
  Status s = f->ReadAt(0, 4096, buf.data + 1, &got);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_FALSE(s.injected());
  EXPECT_TRUE(f->ReadAt(100, 4096, buf.data, &got).IsInvalidArgument());
  // The tail: aligned request past EOF returns the short count.
  ASSERT_VALISE_OK(f->ReadAt(8192, 4096, buf.data, &got));
  EXPECT_EQ(got, 10000u - 8192);
  EXPECT_EQ(std::string(buf.data, got), data.substr(8192));
  ASSERT_VALISE_OK(f->DropDirect());
  EXPECT_FALSE(f->is_direct());
  ASSERT_VALISE_OK(f->ReadAt(100, 50, buf.data + 1, &got));
  EXPECT_EQ(std::string(buf.data + 1, got), data.substr(100, 50));

  SimDiskOptions opt;
  opt.allow_direct = false;
  SimDisk buffered(opt);
  buffered.AddFile("d1/f", data);
  ASSERT_VALISE_OK(buffered.OpenForRead("d1/f", ReadOptions(), &f));
  EXPECT_FALSE(f->is_direct());
}

TEST(SimDisk, QueueLimitsAndFixedBuffers) {
  // Goal: Prepare is Busy at capacity; a fixed-buffer request outside its
  // registered buffer completes -EFAULT; user_data comes back unchanged.
  SimDisk disk(SimDiskOptions{});
  disk.AddFile("d1/f", RandomBytes(8192, 16));
  std::unique_ptr<File> f = OpenBuffered(disk, "d1/f");
  std::string note;
  IoQueueOptions qopt;
  qopt.entries = 2;
  std::unique_ptr<IoQueue> q = disk.NewIoQueue(qopt, &note);
  EXPECT_EQ(q->capacity(), 2u);
  EXPECT_FALSE(note.empty());
  std::string buf(8192, '\0');
  ASSERT_VALISE_OK(q->RegisterBuffers({iovec{buf.data(), 4096}}));
  IoRequest in = ReadReq(f.get(), 0, buf.data(), 4096, 0xabcdef);
  in.buf_index = 0;
  IoRequest out = ReadReq(f.get(), 0, buf.data() + 4096, 4096, 7);
  out.buf_index = 0;
  ASSERT_VALISE_OK(q->Prepare(in));
  ASSERT_VALISE_OK(q->Prepare(out));
  EXPECT_TRUE(q->Prepare(in).IsBusy());
  ASSERT_VALISE_OK(q->Submit());
  std::vector<IoCompletion> done;
  while (q->in_flight() > 0) ASSERT_VALISE_OK(q->Wait(1, 1000, &done));
  ASSERT_EQ(done.size(), 2u);
  for (const IoCompletion& c : done) {
    if (c.user_data == 0xabcdef) {
      EXPECT_EQ(c.res, 4096);
    } else {
      EXPECT_EQ(c.user_data, 7u);
      EXPECT_EQ(c.res, -EFAULT);
    }
  }
}

TEST(SimDisk, LargeFileReadsThroughTheFaults) {
  // Goal: ReadLargeFile (the FileSystem default: ReadSmallFile, copied into
  // a FileContents) gives the file's bytes, enforces max_size, and a bad
  // range on the file fails it as a read of the file does.
  SimDisk disk(SimDiskOptions{});
  const std::string data = RandomBytes(3 << 20, 18);
  disk.AddFile("m/manifest", data);
  std::unique_ptr<FileContents> c;
  ASSERT_VALISE_OK(disk.ReadLargeFile("m/manifest", 4 << 20, &c));
  EXPECT_TRUE(c->data() == data);
  EXPECT_TRUE(
      disk.ReadLargeFile("m/manifest", 1 << 20, &c).IsInvalidArgument());
  EXPECT_TRUE(disk.ReadLargeFile("m/none", 1 << 20, &c).IsNotFound());
  disk.AddBadRange("m/manifest", 2 << 20, 1);
  Status s = disk.ReadLargeFile("m/manifest", 4 << 20, &c);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.err(), EIO) << s.ToString();
  EXPECT_EQ(c, nullptr);
}

TEST(SimDisk, SmallFilesRoundTripAndSurviveCrash) {
  // Goal: WriteSmallFile is atomic and durable (it survives a crash),
  // ReadSmallFile reads it back and enforces max_size.
  SimDisk disk(SimDiskOptions{});
  disk.AddDir("keys");
  const std::string data = RandomBytes(3000, 17);
  ASSERT_VALISE_OK(disk.WriteSmallFile("keys/k", data, 0600));
  disk.Crash();
  std::string out;
  ASSERT_VALISE_OK(disk.ReadSmallFile("keys/k", &out, 1 << 20));
  EXPECT_EQ(out, data);
  EXPECT_TRUE(disk.ReadSmallFile("keys/k", &out, 100).IsInvalidArgument());
  EXPECT_TRUE(disk.ReadSmallFile("keys/none", &out, 100).IsNotFound());
  std::vector<DirEntry> entries;
  ASSERT_VALISE_OK(disk.ListDir("keys", &entries));
  ASSERT_EQ(entries.size(), 1u);  // no temporary left behind
  EXPECT_EQ(entries[0].name, "k");
  FileInfo info;
  ASSERT_VALISE_OK(disk.Stat("keys/k", &info));
  EXPECT_EQ(info.mode, 0600u);
}

TEST(SimDisk, OutputRefusesWhatIsThere) {
  // Goal (issue 12): the default FileSystem::CreateOutput, which the
  // simulated disk uses, keeps the rules of the real one: a missing
  // directory, a symlink, or a regular file without replace is refused at
  // creation; the bytes land at Close, not before.
  SimDisk disk(SimDiskOptions{});
  disk.AddDir("out");
  disk.AddFile("out/old", "keep");
  disk.AddSymlink("out/link", "old");
  std::unique_ptr<OutputFile> out;
  OutputOptions replace;
  replace.replace = true;
  Status s = disk.CreateOutput("nodir/r.json", 0644, replace, &out);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_EQ(s.message(),
            "nodir/r.json: cannot be created: 'nodir' does not exist");
  s = disk.CreateOutput("out/old", 0644, OutputOptions{}, &out);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  s = disk.CreateOutput("out/link", 0644, replace, &out);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  ASSERT_VALISE_OK(disk.CreateOutput("out/r.json", 0644, {}, &out));
  ASSERT_VALISE_OK(out->Append("{}"));
  EXPECT_FALSE(disk.Exists("out/r.json"));
  ASSERT_VALISE_OK(out->Close());
  std::string got;
  ASSERT_TRUE(disk.GetFile("out/r.json", &got));
  EXPECT_EQ(got, "{}");
  ASSERT_VALISE_OK(disk.CreateOutput("out/old", 0644, replace, &out));
  ASSERT_VALISE_OK(out->Append("new"));
  ASSERT_VALISE_OK(out->Close());
  ASSERT_TRUE(disk.GetFile("out/old", &got));
  EXPECT_EQ(got, "new");
}

TEST(SimDisk, DrivesAreSeparateDevices) {
  // Goal: each top-level directory has its own st_dev, so renames and
  // links across drives fail with EXDEV; within a drive they work; the
  // rotational flag follows SetRotational.
  SimDisk disk(SimDiskOptions{});
  disk.AddFile("d1/a", "a");
  disk.AddFile("d1/sub/b", "b");
  disk.AddDir("d2");
  disk.SetRotational("d1/", true);
  FileInfo a, b, d2;
  ASSERT_VALISE_OK(disk.Stat("d1/a", &a));
  ASSERT_VALISE_OK(disk.Stat("d1/sub/b", &b));
  ASSERT_VALISE_OK(disk.Stat("d2", &d2));
  EXPECT_EQ(a.device, b.device);
  EXPECT_NE(a.device, d2.device);
  EXPECT_NE(a.inode, b.inode);
  EXPECT_TRUE(a.rotational);
  EXPECT_FALSE(d2.rotational);
  EXPECT_EQ(a.size, 1u);
  std::unique_ptr<Directory> root = OpenDir(disk, "");
  EXPECT_EQ(root->Rename("d1/a", "d2/a", false).err(), EXDEV);
  EXPECT_EQ(root->Link("d1/a", "d2/a").err(), EXDEV);
  ASSERT_VALISE_OK(root->Link("d1/a", "d1/sub/a"));
  ASSERT_VALISE_OK(root->Rename("d1/sub/b", "d1/b", true));
  EXPECT_EQ(root->Rename("d1/a", "d1/b", true).err(), EEXIST);
}

}  // namespace
}  // namespace valise
