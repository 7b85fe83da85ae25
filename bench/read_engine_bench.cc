// Reading one file through the IoEngine: the io_uring queue against the
// synchronous one, at queue depths 1, 4 and 16, with 1 MiB buffers from a
// BufferPool. The file (256 MiB) lives in /dev/shm so the numbers show the
// CPU cost of the I/O path, not a disk. For the io_uring queue the two
// registration features are also measured apart:
//   queue=0  synchronous queue (pread per request)
//   queue=1  io_uring, fixed buffers and registered files
//   queue=2  io_uring, fixed buffers, no registered files
//   queue=3  io_uring, neither (plain reads)
// Reports bytes/s; the label is the queue's Describe(). BM_ReadEngineSmall
// repeats the io_uring variants with 16 KiB requests, where the per-request
// costs that registration saves weigh more.
//
// VALISE_BENCH_FILE=/dev/loop0 (or any file) reads that instead of the
// /dev/shm file: its first 256 MiB (or all of it, if smaller).

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "valise/buffer_pool.h"
#include "valise/file_system.h"
#include "valise/io_engine.h"
#include "valise/io_queue.h"

namespace valise {
namespace {

constexpr uint64_t kFileSize = uint64_t{256} << 20;
constexpr uint32_t kChunk = 1 << 20;

// The benchmark file, created once and removed at exit.
const std::string& BenchFile() {
  static const std::string path = []() -> std::string {
    const char* given = getenv("VALISE_BENCH_FILE");
    if (given != nullptr && *given != '\0') return given;
    std::string p =
        "/dev/shm/valise-read-engine-bench-" + std::to_string(getpid());
    int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
      perror(p.c_str());
      abort();
    }
    std::vector<char> chunk(kChunk);
    std::mt19937_64 rng(42);
    for (size_t i = 0; i + 8 <= chunk.size(); i += 8) {
      uint64_t v = rng();
      std::memcpy(&chunk[i], &v, 8);
    }
    for (uint64_t off = 0; off < kFileSize; off += kChunk) {
      chunk[0] = static_cast<char>(off >> 20);  // no two chunks alike
      if (pwrite(fd, chunk.data(), chunk.size(), static_cast<off_t>(off)) !=
          static_cast<ssize_t>(chunk.size())) {
        perror(p.c_str());
        abort();
      }
    }
    close(fd);
    static std::string to_remove = p;
    atexit([] { unlink(to_remove.c_str()); });
    return p;
  }();
  return path;
}

// One pass over the file through the engine (DriveEngine's client): a
// read per free transfer, `depth` in flight, until `size` bytes are back.
class ReadWhole final : public EngineClient {
 public:
  ReadWhole(IoEngine* engine, BufferPool* pool, File* file, uint64_t size,
            bool fixed, std::vector<Transfer>* transfers)
      : engine_(engine), pool_(pool), file_(file), size_(size), fixed_(fixed) {
    for (Transfer& t : *transfers) free_.push_back(&t);
    base_ = transfers->data();
  }
  const Status& error() const { return error_; }

  void Fill() override {
    while (error_.ok() && next_ < size_ && engine_->HasRoom(0) &&
           !free_.empty()) {
      Transfer* t = free_.back();
      free_.pop_back();
      const int idx = static_cast<int>(t - base_);
      *t = Transfer{};
      t->file = file_;
      t->offset = next_;
      t->len = static_cast<uint32_t>(pool_->buffer_size());
      t->buf = pool_->data(idx);
      t->buf_index = fixed_ ? idx : -1;
      error_ = engine_->Submit(t);
      next_ += pool_->buffer_size();
    }
  }
  bool HasWork() override { return error_.ok() && received_ < size_; }
  void Complete(Transfer* t, uint64_t) override {
    if (!t->status.ok() && error_.ok()) error_ = t->status;
    received_ += t->done;
    free_.push_back(t);
  }
  uint64_t WaitMicros() override { return 1'000'000; }

 private:
  IoEngine* const engine_;
  BufferPool* const pool_;
  File* const file_;
  const uint64_t size_;
  const bool fixed_;
  Transfer* base_ = nullptr;
  std::vector<Transfer*> free_;
  uint64_t next_ = 0, received_ = 0;
  Status error_;
};

// Reads the bench file (up to kFileSize) through an engine on queue `kind`
// with `depth` transfers of `chunk` bytes in flight.
void ReadFile(benchmark::State& state, int kind, unsigned depth,
              uint32_t chunk) {
  FileSystem* fs = FileSystem::Default();
  std::unique_ptr<File> file;
  Status s = fs->OpenForRead(BenchFile(), ReadOptions(), &file);
  uint64_t size = 0;
  if (s.ok()) s = file->Size(&size);
  if (!s.ok()) {
    state.SkipWithError(s.ToString().c_str());
    return;
  }
  size = std::min(size, kFileSize);
  IoQueueOptions qo;
  qo.entries = 64;
  qo.use_uring = kind != 0;
  qo.register_files = kind == 1;
  std::string note;
  IoEngine engine(IoQueue::Create(qo, &note), 1, EngineOptions(), fs);
  engine.SetDepth(0, depth);
  BufferPool pool(depth, chunk);
  const bool fixed = kind == 1 || kind == 2;
  if (fixed && !engine.queue()->RegisterBuffers(pool.iovecs()).ok()) {
    state.SkipWithError("cannot register buffers");
    return;
  }
  state.SetLabel(engine.queue()->Describe());

  std::vector<Transfer> transfers(depth);
  for (auto _ : state) {
    ReadWhole reads(&engine, &pool, file.get(), size, fixed, &transfers);
    Status s = DriveEngine(&engine, &reads, fs);
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      return;
    }
    if (!reads.error().ok()) {
      state.SkipWithError(reads.error().ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(pool.data(0)[0]);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(size));
}

void BM_ReadEngine(benchmark::State& state) {
  ReadFile(state, static_cast<int>(state.range(0)),
           static_cast<unsigned>(state.range(1)), kChunk);
}

void BM_ReadEngineSmall(benchmark::State& state) {
  ReadFile(state, static_cast<int>(state.range(0)),
           static_cast<unsigned>(state.range(1)), 16 << 10);
}

BENCHMARK(BM_ReadEngine)
    ->ArgNames({"queue", "depth"})
    ->ArgsProduct({{0, 1, 2, 3}, {1, 4, 16}})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.3)
    ->UseRealTime();

BENCHMARK(BM_ReadEngineSmall)
    ->ArgNames({"queue", "depth"})
    ->ArgsProduct({{1, 2, 3}, {16}})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.3)
    ->UseRealTime();

}  // namespace
}  // namespace valise
