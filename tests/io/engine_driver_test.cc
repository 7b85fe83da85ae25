// DriveEngine (src/io/engine_driver.cc), the one submit/reap loop, on the
// simulated disk: it carries a client's transfers to the end, ends when
// nothing is in flight and the client has no work, idles when the client
// waits, and does not wait for transfers a timeout abandoned (a later
// drive collects their late completions).
#include <memory>
#include <string>
#include <vector>

#include "support/test_util.h"
#include "valise/buffer_pool.h"
#include "valise/io_engine.h"
#include "valise/sim_disk.h"

namespace valise {
namespace {

constexpr uint32_t kChunk = 64 << 10;

// Reads `size` bytes of `file` in chunks, one per free transfer.
class Reads final : public EngineClient {
 public:
  Reads(IoEngine* engine, BufferPool* pool, File* file, uint64_t size,
        int drive = 0)
      : engine_(engine),
        pool_(pool),
        file_(file),
        size_(size),
        drive_(drive),
        transfers_(pool->count()) {
    for (size_t i = 0; i < transfers_.size(); ++i) free_.push_back(i);
  }

  void Fill() override {
    ++fills;
    while (next_ < size_ && !free_.empty() && engine_->HasRoom(drive_)) {
      const size_t i = free_.back();
      free_.pop_back();
      Transfer& t = transfers_[i];
      t = Transfer{};
      t.file = file_;
      t.offset = next_;
      t.len = kChunk;
      t.buf = pool_->data(static_cast<int>(i));
      t.drive = drive_;
      ASSERT_VALISE_OK(engine_->Submit(&t));
      next_ += kChunk;
    }
  }
  bool HasWork() override { return next_ < size_ && !give_up; }
  void Idle() override { ++idles; }
  void Complete(Transfer* t, uint64_t) override {
    if (t->late) {
      ++late;
    } else if (t->status.IsTimedOut()) {
      ++timed_out;
      give_up = true;
      return;  // the kernel keeps the buffer
    } else {
      EXPECT_VALISE_OK(t->status);
      got += t->done;
    }
    free_.push_back(static_cast<size_t>(t - transfers_.data()));
  }

  uint64_t got = 0;
  int fills = 0, idles = 0, timed_out = 0, late = 0;
  bool give_up = false;

 private:
  IoEngine* const engine_;
  BufferPool* const pool_;
  File* const file_;
  const uint64_t size_;
  const int drive_;
  std::vector<Transfer> transfers_;
  std::vector<size_t> free_;
  uint64_t next_ = 0;
};

// Goal: every byte of the file comes back through the client, with at most
// `depth` transfers in flight, and the drive ends by itself.
TEST(DriveEngine, CarriesEveryTransferToTheEnd) {
  SimDisk disk(SimDiskOptions{});
  const std::string data = test::RandomBytes(20 * kChunk, 5);
  disk.AddFile("d/f", data);
  std::unique_ptr<File> file;
  ASSERT_VALISE_OK(disk.OpenForRead("d/f", ReadOptions(), &file));
  std::string note;
  IoEngine engine(disk.NewIoQueue(IoQueueOptions(), &note), 1, EngineOptions(),
                  &disk);
  engine.SetDepth(0, 4);
  BufferPool pool(6, kChunk);
  Reads reads(&engine, &pool, file.get(), data.size());
  ASSERT_VALISE_OK(DriveEngine(&engine, &reads, &disk));
  EXPECT_EQ(reads.got, data.size());
  EXPECT_EQ(engine.in_flight(), 0u);
  EXPECT_EQ(reads.idles, 0);
}

// Goal: on a drive that stops answering, the transfers time out and the
// drive ends without waiting for them (they stay in flight, abandoned);
// once the drive answers again, the next run (reading another drive of the
// engine) collects their late completions, so every buffer comes back.
TEST(DriveEngine, DoesNotWaitForAbandonedTransfers) {
  SimDisk disk(SimDiskOptions{});
  disk.AddFile("d/f", test::RandomBytes(8 * kChunk, 6));
  const std::string other = test::RandomBytes(16 * kChunk, 8);
  disk.AddFile("e/f", other);
  std::unique_ptr<File> file, other_file;
  ASSERT_VALISE_OK(disk.OpenForRead("d/f", ReadOptions(), &file));
  ASSERT_VALISE_OK(disk.OpenForRead("e/f", ReadOptions(), &other_file));
  EngineOptions eo;
  eo.io_timeout_us = 1'000'000;
  std::string note;
  IoEngine engine(disk.NewIoQueue(IoQueueOptions(), &note), 2, eo, &disk);
  engine.SetDepth(0, 4);
  engine.SetDepth(1, 4);
  BufferPool pool(4, kChunk), other_pool(4, kChunk);
  disk.Stall("d/");
  Reads reads(&engine, &pool, file.get(), 8 * kChunk, 0);
  ASSERT_VALISE_OK(DriveEngine(&engine, &reads, &disk));
  EXPECT_EQ(reads.timed_out, 4);
  EXPECT_EQ(engine.in_flight(), 4u) << "abandoned, still with the kernel";
  EXPECT_EQ(engine.timed_out(), 4u);
  EXPECT_TRUE(engine.stalled(0));

  // Drive 1 is read; drive 0's late completions come back meanwhile.
  disk.Unstall("d/");
  class Both final : public EngineClient {
   public:
    Both(Reads* a, Reads* b) : a_(a), b_(b) {}
    void Fill() override { b_->Fill(); }
    bool HasWork() override { return b_->HasWork(); }
    void Complete(Transfer* t, uint64_t now) override {
      (t->drive == 0 ? a_ : b_)->Complete(t, now);
    }

   private:
    Reads* a_;
    Reads* b_;
  };
  Reads more(&engine, &other_pool, other_file.get(), other.size(), 1);
  Both both(&reads, &more);
  ASSERT_VALISE_OK(DriveEngine(&engine, &both, &disk));
  EXPECT_EQ(more.got, other.size());
  EXPECT_EQ(reads.late, 4);
  EXPECT_EQ(engine.in_flight(), 0u);
  EXPECT_EQ(engine.timed_out(), 0u);
  EXPECT_FALSE(engine.stalled(0)) << "answering again";
}

// Goal: with nothing in flight and work left, the client idles (waits for
// what it waits for) and the next round goes on.
TEST(DriveEngine, IdlesWhenTheClientWaits) {
  SimDisk disk(SimDiskOptions{});
  disk.AddFile("d/f", test::RandomBytes(4 * kChunk, 7));
  std::unique_ptr<File> file;
  ASSERT_VALISE_OK(disk.OpenForRead("d/f", ReadOptions(), &file));
  std::string note;
  IoEngine engine(disk.NewIoQueue(IoQueueOptions(), &note), 1, EngineOptions(),
                  &disk);
  engine.SetDepth(0, 4);
  BufferPool pool(4, kChunk);

  // Issues nothing until it has idled twice, then reads.
  class Waits final : public EngineClient {
   public:
    explicit Waits(Reads* r) : r_(r) {}
    void Fill() override {
      if (idles >= 2) r_->Fill();
    }
    bool HasWork() override { return r_->HasWork(); }
    void Idle() override { ++idles; }
    void Complete(Transfer* t, uint64_t now) override { r_->Complete(t, now); }
    int idles = 0;

   private:
    Reads* r_;
  };
  Reads reads(&engine, &pool, file.get(), 4 * kChunk);
  Waits waits(&reads);
  ASSERT_VALISE_OK(DriveEngine(&engine, &waits, &disk));
  EXPECT_EQ(waits.idles, 2);
  EXPECT_EQ(reads.got, 4 * kChunk);
}

}  // namespace
}  // namespace valise
