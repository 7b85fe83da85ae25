// The threaded queue (src/io/threaded_queue.cc): requests on Files without
// a descriptor run on its threads at once; requests on real files go to the
// base queue; Wait hands out both; Wake ends a wait.
#include "io/threaded_queue.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "io/io_test_util.h"
#include "support/test_util.h"

namespace valise {
namespace {

// A File without a descriptor whose reads block until `parties` reads are
// inside ReadAt at once (or 10 s pass: then the read fails), as slow
// network reads would overlap.
class RendezvousFile final : public File {
 public:
  explicit RendezvousFile(int parties) : parties_(parties) {}
  const std::string& path() const override { return path_; }
  Status ReadAt(uint64_t offset, size_t n, char* scratch,
                size_t* bytes_read) const override {
    std::unique_lock<std::mutex> l(mu_);
    ++inside_;
    cv_.notify_all();
    bool met = cv_.wait_for(l, std::chrono::seconds(10),
                            [this] { return inside_ >= parties_; });
    if (!met) return Status::PosixError(path_, ETIMEDOUT);
    memset(scratch, static_cast<int>('a' + offset % 26), n);
    *bytes_read = n;
    return Status::OK();
  }
  Status WriteAt(uint64_t, const char*, size_t) override {
    return Status::NotSupported("x");
  }
  Status Size(uint64_t* s) const override {
    *s = 1 << 20;
    return Status::OK();
  }
  Status Sync() override { return Status::OK(); }
  Status Truncate(uint64_t) override { return Status::OK(); }
  Status SetModeAndTime(uint32_t, int64_t) override { return Status::OK(); }
  Status PhysicalOffset(uint64_t*) const override {
    return Status::NotSupported("x");
  }
  Status CloneFrom(const File&, uint64_t, uint64_t, uint64_t) override {
    return Status::NotSupported("x");
  }

 private:
  const int parties_;
  const std::string path_ = "rendezvous";
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  mutable int inside_ = 0;
};

std::vector<IoCompletion> WaitFor(IoQueue& q, size_t n) {
  std::vector<IoCompletion> out;
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (out.size() < n && std::chrono::steady_clock::now() < end) {
    EXPECT_VALISE_OK(
        q.Wait(static_cast<unsigned>(n - out.size()), 100'000, &out));
  }
  return out;
}

// Goal: four reads of a descriptor-less file are all inside ReadAt at
// once (they could not all finish otherwise), and complete with their
// bytes.
TEST(ThreadedQueue, NetworkReadsRunTogether) {
  auto q = NewThreadedQueue(NewSyncQueue(16), 4);
  RendezvousFile f(4);
  std::vector<std::string> bufs(4, std::string(10, '\0'));
  for (int i = 0; i < 4; ++i) {
    IoRequest r;
    r.file = &f;
    r.offset = static_cast<uint64_t>(i);
    r.buf = bufs[i].data();
    r.len = 10;
    r.user_data = 100 + i;
    ASSERT_VALISE_OK(q->Prepare(r));
  }
  EXPECT_EQ(q->in_flight(), 4u);
  auto done = WaitFor(*q, 4);
  ASSERT_EQ(done.size(), 4u);
  for (const IoCompletion& c : done) {
    EXPECT_EQ(c.res, 10) << c.user_data;
    EXPECT_EQ(bufs[c.user_data - 100],
              std::string(10, char('a' + c.user_data - 100)));
  }
  EXPECT_EQ(q->in_flight(), 0u);
}

// Goal: a real file (descriptor) goes through the base queue, a
// descriptor-less one through the pool; one Wait collects both.
TEST(ThreadedQueue, MixedFiles) {
  test::TempDir dir;
  dir.Write("real", "0123456789");
  int fd = open((dir.path() + "/real").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  test::FdFile real(dir.path() + "/real", fd);
  test::MemFile mem("mem", "abcdefghij");
  IoQueueOptions o;
  std::string note;
  auto q = NewThreadedQueue(IoQueue::Create(o, &note), 2);
  char a[4], b[4];
  IoRequest r1{IoOp::kRead, &real, 2, a, 4, -1, 1};
  IoRequest r2{IoOp::kRead, &mem, 3, b, 4, -1, 2};
  ASSERT_VALISE_OK(q->Prepare(r1));
  ASSERT_VALISE_OK(q->Prepare(r2));
  auto done = WaitFor(*q, 2);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(std::string(a, 4), "2345");
  EXPECT_EQ(std::string(b, 4), "defg");
  EXPECT_NE(q->Describe().find("2 threads"), std::string::npos);
}

// Goal: Wake from another thread ends a Wait that nothing completes.
TEST(ThreadedQueue, WakeEndsWait) {
  auto q = NewThreadedQueue(NewSyncQueue(4), 1);
  std::thread waker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    q->Wake();
  });
  std::vector<IoCompletion> out;
  ASSERT_VALISE_OK(q->Wait(1, 60'000'000, &out));  // returns on the Wake
  waker.join();
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace valise
