// valise bench: measure each stage of an ingest apart, then together, and
// name the one that limits it.
//
// The problem. An operator with a cart of drives wants to know, before a
// day-long ingest, how long it will take and what to change to make it
// shorter: another DEST, more cores, or nothing (the drives are the limit,
// as they should be). Each stage of the pipeline has a ceiling that can be
// measured in seconds:
//
//   read   the drives, through the same engine and settings as ingest
//          (IoEngine on io_uring, O_DIRECT, registered buffers, chunk_size
//          reads, depth per drive kind). Alone, each drive shows what it
//          can do; together, the machine shows what it can carry (one I/O
//          thread, a shared bus or HBA).
//   hash   SHA-256 and XXH3-128 over an in-memory buffer, on one thread and
//          on every core: the CPU's ceiling, no I/O involved.
//   write  one temporary file on DEST written the way ingest writes staging
//          files (O_DIRECT where allowed, `depth` in flight), fdatasync
//          included in the time because ingest pays it at every commit.
//
// The model (docs/bench.md). Ingest's planner gives every drive about the
// same number of bytes, so the slowest drive finishes last: N drives carry
// at most N x the slowest one's rate, and never more than what was
// measured reading them all at once. Hashing costs 1/sha256 + 1/xxh128
// seconds per byte spread over every core. DEST takes what it can write.
// The smallest of the three is the bottleneck and the predicted rate.
// Finally the real pipeline (the ingest Reader: read, hash, write to DEST)
// runs for the same time as a check on the model: the two should agree
// within the noise unless something not modelled (memory bandwidth, the
// page cache) interferes.
//
// Bounded time. Each measurement stops after `seconds` (or when its data
// runs out); a directory drive's walk to find its largest files stops
// after `seconds` too. Total: about (drives + 3) x seconds + 10 x
// hash_seconds.
//
// Never writes to a source: sources are opened read-only (O_NOATIME where
// allowed), and DEST gets only names starting ".valise-bench-", removed on
// every way out.
#include "valise/bench.h"

#include <fmt/format.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <latch>
#include <list>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "dest/posix_destination.h"
#include "pipeline/bench_internal.h"
#include "pipeline/progress_render.h"
#include "pipeline/reader.h"
#include "pipeline/scan.h"
#include "pipeline/verify_internal.h"
#include "valise/buffer_pool.h"
#include "valise/io_engine.h"
#include "valise/io_queue.h"

namespace valise {

namespace bench_internal {

void FillPseudoRandom(char* p, size_t n, uint64_t seed) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(p + i, &x, std::min<size_t>(8, n - i));
  }
}

bool Cancelled(const BenchOptions& o) {
  return o.pipeline.cancel != nullptr &&
         o.pipeline.cancel->load(std::memory_order_relaxed);
}

}  // namespace bench_internal

const char* BottleneckKindName(BottleneckKind kind) {
  switch (kind) {
    case BottleneckKind::kNone:
      return "none";
    case BottleneckKind::kDrive:
      return "drive";
    case BottleneckKind::kDrives:
      return "drives";
    case BottleneckKind::kHash:
      return "hash";
    case BottleneckKind::kDest:
      return "dest";
    case BottleneckKind::kPipeline:
      return "pipeline";
  }
  return "?";
}

bool BenchReport::HasErrors() const {
  for (const BenchDrive& d : drives) {
    if (!d.errors.empty()) return true;
  }
  return !dest_errors.empty() || !pipeline_errors.empty();
}

namespace {

using bench_internal::Cancelled;
using bench_internal::FillPseudoRandom;

// A drive stops being read after this many errors (each one recorded).
constexpr size_t kMaxDriveErrors = 5;
// A directory walk lists at most this many entries: enough to find the
// largest files of any drive worth benchmarking, and bounded in memory.
constexpr size_t kMaxWalkEntries = 1'000'000;
// The Reader is given at most this many jobs per drive; more would not be
// reached in `seconds` at any rate a drive reaches today.
constexpr size_t kMaxPipelineJobs = 100'000;
constexpr char kTempPrefix[] = ".valise-bench-";

// The digests an ingest computes on every byte.
DigestSet IngestDigests() {
  DigestSet d;
  d.Add(DigestType::kSha256);
  d.Add(DigestType::kXxh128);
  return d;
}

// The chunk check's cost without its verdict: the SHA-256 of each chunk
// (BenchOptions::chunk_sha256; the reader computes no whole-file digest
// then, so a file of one chunk comes through Chunk too).
class ChunkSha256Cost final : public ChunkObserver {
 public:
  void Chunk(uint64_t, const char* data, size_t len) override {
    sha_->Update(data, len);
    sink_ ^= sha_->Finish().bytes[0];
  }

 private:
  std::unique_ptr<Hasher> sha_ = Hasher::New(DigestType::kSha256);
  uint8_t sink_ = 0;
};

// The machine's CPU time so far (all cores, the kernel's threads
// included: /proc/stat's user, nice, system, irq and softirq), in seconds;
// 0 if it cannot be read (the simulated disk has no /proc).
double MachineCpuSeconds(FileSystem* fs) {
  std::string stat;
  if (!fs->ReadSmallFile("/proc/stat", &stat, 1 << 20).ok()) return 0;
  unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0,
                     irq = 0, softirq = 0;
  if (sscanf(stat.c_str(), "cpu %llu %llu %llu %llu %llu %llu %llu", &user,
             &nice, &system, &idle, &iowait, &irq, &softirq) != 7) {
    return 0;
  }
  const long hz = sysconf(_SC_CLK_TCK);
  if (hz <= 0) return 0;
  return double(user + nice + system + irq + softirq) / double(hz);
}

// Sets m->cpu_seconds from two MachineCpuSeconds readings around it.
void SetCpu(double before, double after, BenchRate* m) {
  m->cpu_seconds = before > 0 && after > before ? after - before : 0;
}

// CPUs this process may run on (sched_getaffinity honours taskset and
// container limits, which hardware_concurrency does not).
unsigned UsableCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return static_cast<unsigned>(n);
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

uint64_t Micros(double seconds) {
  return seconds <= 0 ? 0 : static_cast<uint64_t>(seconds * 1e6);
}

std::string TempName(FileSystem* fs, const char* what) {
  return fmt::format("{}{}-{}.{}", kTempPrefix, getpid(), fs->NowMicros(),
                     what);
}

// ---------------------------------------------------------------------------
// What each drive offers to read.

struct ReadTarget {
  std::string path;
  uint64_t size = 0;
};

struct DrivePlan {
  Drive drive;
  Status status;                  // the drive cannot be read at all
  std::vector<ReadTarget> files;  // largest first
  bool walk_cut = false;          // the walk stopped at its bound
};

// Lists the regular files under a directory drive, depth first, until
// `deadline_us` or kMaxWalkEntries; then sorts them largest first.
void ListLargest(FileSystem* fs, uint64_t deadline_us, DrivePlan* plan) {
  std::vector<std::string> stack{""};
  size_t entries = 0;
  while (!stack.empty()) {
    if (fs->NowMicros() > deadline_us || entries >= kMaxWalkEntries) {
      plan->walk_cut = true;
      break;
    }
    std::string rel = std::move(stack.back());
    stack.pop_back();
    std::string dir =
        rel.empty() ? plan->drive.path : DrivePath(plan->drive, rel);
    std::vector<DirEntry> list;
    Status s = fs->ListDir(dir, &list);
    if (!s.ok()) continue;  // verify and ingest report it; bench reads others
    for (const DirEntry& e : list) {
      ++entries;
      std::string child = rel.empty() ? e.name : rel + "/" + e.name;
      std::string full = DrivePath(plan->drive, child);
      FileInfo info;
      if (!fs->Stat(full, &info).ok()) continue;
      if (info.type == FileType::kDirectory) {
        stack.push_back(std::move(child));
      } else if (info.type == FileType::kRegular && info.size > 0) {
        plan->files.push_back(ReadTarget{std::move(full), info.size});
      }
    }
  }
  std::stable_sort(
      plan->files.begin(), plan->files.end(),
      [](const ReadTarget& a, const ReadTarget& b) { return a.size > b.size; });
}

DrivePlan PlanDrive(FileSystem* fs, const std::string& source,
                    double walk_seconds, const PipelineOptions& opt) {
  DrivePlan plan;
  plan.status = OpenDrive(fs, source, &plan.drive);
  if (!plan.status.ok()) return plan;
  if (plan.drive.kind == Drive::Kind::kDirectory) {
    ListLargest(fs, fs->NowMicros() + Micros(std::max(1.0, walk_seconds)),
                &plan);
    if (plan.files.empty()) {
      plan.status = Status::InvalidArgument(source, "no file to read");
    }
    return plan;
  }
  // An image or a block device is read raw from its start. Its size comes
  // from the open file (BLKGETSIZE64 for a device).
  std::unique_ptr<File> f;
  ReadOptions ro;
  ro.direct = opt.direct;
  uint64_t size = 0;
  plan.status = fs->OpenForRead(plan.drive.path, ro, &f);
  if (plan.status.ok()) plan.status = f->Size(&size);
  if (plan.status.ok() && size == 0) {
    plan.status = Status::InvalidArgument(source, "empty");
  }
  if (plan.status.ok()) plan.files.push_back(ReadTarget{plan.drive.path, size});
  return plan;
}

// ---------------------------------------------------------------------------
// Timed raw reads through the engine.

struct OpenRead {
  std::unique_ptr<File> file;
  uint64_t size = 0;
  uint64_t next = 0;  // next offset to issue
  unsigned in_flight = 0;
};

struct DriveRun {
  const DrivePlan* plan = nullptr;
  size_t next_file = 0;
  std::list<OpenRead> open;  // files with reads in flight; current last
  OpenRead* current = nullptr;
  bool failed = false;
  bool all_direct = true;
  uint64_t bytes = 0;
  uint64_t last_us = 0;
  std::vector<std::string> errors;

  void Error(const Status& s) {
    errors.push_back(s.message());
    if (errors.size() >= kMaxDriveErrors) failed = true;
  }
  bool HasMore() const {
    return !failed && ((current && current->next < current->size) ||
                       next_file < plan->files.size());
  }
};

struct TimedReadResult {
  std::vector<BenchRate> rates;  // per drive
  std::vector<std::vector<std::string>> errors;
  std::vector<bool> direct;
  BenchRate total;
  std::string note;
};

// TimedRead's side of the engine loop (DriveEngine): each drive reads its
// files in order, one chunk per free buffer, until the time is up.
class TimedReads final : public EngineClient {
 public:
  TimedReads(FileSystem* fs, const BenchOptions& o, IoEngine* engine,
             BufferPool* pool, bool fixed, double seconds,
             std::vector<DriveRun>* runs)
      : fs_(fs),
        o_(o),
        engine_(engine),
        pool_(pool),
        fixed_(fixed),
        runs_(*runs),
        transfers_(pool->count()),
        start_us_(fs->NowMicros()),
        deadline_us_(start_us_ + Micros(seconds)) {
    for (size_t b = pool->count(); b-- > 0;) {
      free_bufs_.push_back(static_cast<int>(b));
    }
  }

  uint64_t start_us() const { return start_us_; }

  void Fill() override {
    now_ = fs_->NowMicros();
    stop_ = now_ >= deadline_us_ || Cancelled(o_);
    issued_any_ = false;
    if (stop_) return;
    for (bool issued = true; issued;) {
      issued = false;
      for (int d = 0; d < static_cast<int>(runs_.size()); ++d) {
        issued |= Issue(d);
      }
      issued_any_ |= issued;
    }
  }

  bool HasWork() override {
    bool more = false;
    for (const DriveRun& r : runs_) more |= r.HasMore();
    return !stop_ && more && issued_any_;
  }

  uint64_t WaitMicros() override {
    return stop_ ? 100'000
                 : std::clamp<uint64_t>(deadline_us_ - now_, 1'000, 100'000);
  }

  void Complete(Transfer* t, uint64_t now_us) override {
    const int buf = static_cast<int>(t - transfers_.data());
    if (t->late) {
      free_bufs_.push_back(buf);
      return;
    }
    DriveRun& r = runs_[t->drive];
    auto* f = static_cast<OpenRead*>(t->tag);
    --f->in_flight;
    if (t->status.ok()) {
      r.bytes += t->done;
      r.last_us = now_us;
      const uint64_t want =
          std::min<uint64_t>(pool_->buffer_size(), f->size - t->offset);
      if (t->done < want) f->next = f->size;  // shorter than listed
      free_bufs_.push_back(buf);
    } else if (t->status.IsTimedOut()) {
      // The buffer comes back with the late completion.
      r.errors.push_back(t->status.message());
      r.failed = true;
    } else {
      r.Error(t->status);
      r.failed = true;  // a drive that fails reads has no rate to give
      free_bufs_.push_back(buf);
    }
    CloseIfDone(r, f);
  }

 private:
  static void CloseIfDone(DriveRun& r, OpenRead* f) {
    if (f->next < f->size || f->in_flight > 0) return;
    if (r.current == f) r.current = nullptr;
    r.open.remove_if([f](const OpenRead& x) { return &x == f; });
  }

  // Issues one read on drive d if it has room, data and a free buffer.
  bool Issue(int d) {
    DriveRun& r = runs_[d];
    if (r.failed || free_bufs_.empty() || !engine_->HasRoom(d)) return false;
    while (r.current == nullptr || r.current->next >= r.current->size) {
      if (r.current) CloseIfDone(r, r.current);
      r.current = nullptr;
      if (r.next_file >= r.plan->files.size() || r.failed) return false;
      const ReadTarget& t = r.plan->files[r.next_file++];
      ReadOptions ro;
      ro.direct = o_.pipeline.direct;
      std::unique_ptr<File> f;
      Status s = fs_->OpenForRead(t.path, ro, &f);
      if (!s.ok()) {
        r.Error(s);
        continue;
      }
      r.all_direct &= f->is_direct();
      r.open.emplace_back();
      r.open.back().file = std::move(f);
      r.open.back().size = t.size;
      r.current = &r.open.back();
    }
    OpenRead* f = r.current;
    const int buf = free_bufs_.back();
    free_bufs_.pop_back();
    const uint64_t want =
        std::min<uint64_t>(pool_->buffer_size(), f->size - f->next);
    Transfer& t = transfers_[buf];
    t = Transfer{};
    t.op = IoOp::kRead;
    t.file = f->file.get();
    t.offset = f->next;
    t.buf = pool_->data(buf);
    // O_DIRECT reads whole blocks; the tail comes back short.
    t.len = static_cast<uint32_t>(f->file->is_direct()
                                      ? (want + kDirectAlignment - 1) /
                                            kDirectAlignment * kDirectAlignment
                                      : want);
    t.buf_index = fixed_ ? buf : -1;
    t.drive = d;
    t.tag = f;
    Status s = engine_->Submit(&t);
    if (!s.ok()) {
      free_bufs_.push_back(buf);
      r.Error(s);
      r.failed = true;
      return false;
    }
    f->next += want;
    ++f->in_flight;
    return true;
  }

  FileSystem* const fs_;
  const BenchOptions& o_;
  IoEngine* const engine_;
  BufferPool* const pool_;
  const bool fixed_;
  std::vector<DriveRun>& runs_;
  std::vector<Transfer> transfers_;
  std::vector<int> free_bufs_;
  const uint64_t start_us_;
  const uint64_t deadline_us_;
  uint64_t now_ = 0;
  bool stop_ = false;
  bool issued_any_ = false;
};

// Reads the drives of `plans` at once, each sequentially through its files
// (largest first), for at most `seconds`. Each drive's rate is its bytes
// over the time from the start to its last completion.
Status TimedRead(FileSystem* fs, const BenchOptions& o,
                 const std::vector<const DrivePlan*>& plans, double seconds,
                 TimedReadResult* out) {
  const PipelineOptions& opt = o.pipeline;
  const int n = static_cast<int>(plans.size());
  const size_t chunk = opt.chunk_size;
  std::vector<unsigned> depth(n);
  size_t buffers = 0;
  for (int d = 0; d < n; ++d) {
    depth[d] = opt.depth ? opt.depth
                         : DefaultReadDepth(plans[d]->drive.info.rotational);
    buffers += depth[d];
  }
  BufferPool pool(buffers, chunk);
  IoQueueOptions qo = opt.queue;
  qo.entries = std::max<unsigned>(qo.entries, static_cast<unsigned>(buffers));
  auto queue = fs->NewIoQueue(qo, &out->note);
  // Registered buffers, as the Reader uses: part of what is measured.
  const bool fixed = queue->RegisterBuffers(pool.iovecs()).ok();
  IoEngine engine(std::move(queue), n, opt.engine, fs);
  for (int d = 0; d < n; ++d) engine.SetDepth(d, depth[d]);

  std::vector<DriveRun> runs(n);
  for (int d = 0; d < n; ++d) runs[d].plan = plans[d];
  TimedReads reads(fs, o, &engine, &pool, fixed, seconds, &runs);
  const uint64_t start_us = reads.start_us();
  Status s = DriveEngine(&engine, &reads, fs);
  if (!s.ok()) {
    for (DriveRun& r : runs) r.errors.push_back(s.message());
  }

  out->rates.assign(n, BenchRate{});
  out->errors.assign(n, {});
  out->direct.assign(n, false);
  uint64_t last = start_us;
  for (int d = 0; d < n; ++d) {
    DriveRun& r = runs[d];
    out->rates[d].bytes = r.bytes;
    out->rates[d].seconds =
        r.bytes > 0 ? double(r.last_us - start_us) / 1e6 : 0;
    out->errors[d] = std::move(r.errors);
    out->direct[d] = r.all_direct;
    out->total.bytes += r.bytes;
    if (r.bytes > 0) last = std::max(last, r.last_us);
  }
  out->total.seconds = double(last - start_us) / 1e6;
  return Status::OK();
}

// ---------------------------------------------------------------------------
// Hashing.

// Bytes per second of `type` on `threads` threads, each hashing its own
// buffer of `size` bytes over and over for `seconds`; the sum of the
// threads' rates.
double HashRate(DigestType type, unsigned threads, size_t size, double seconds,
                const BenchOptions& o) {
  std::vector<double> rates(threads, 0);
  std::latch ready(threads);
  std::vector<std::thread> pool;
  auto clock = [] {
    return std::chrono::duration<double>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  };
  for (unsigned i = 0; i < threads; ++i) {
    pool.emplace_back([&, i] {
      std::string buf(size, '\0');
      FillPseudoRandom(buf.data(), buf.size(), i + 1);
      auto h = Hasher::New(type);
      ready.arrive_and_wait();  // all start together
      uint64_t bytes = 0;
      const double start = clock();
      double now = start;
      do {
        h->Update(buf.data(), buf.size());
        bytes += buf.size();
        now = clock();
      } while (now - start < seconds && !Cancelled(o));
      Digest d = h->Finish();
      // Keeps the work observable so it cannot be optimised away.
      if (d.size == 0) bytes = 0;
      rates[i] = now > start ? double(bytes) / (now - start) : 0;
    });
  }
  for (auto& t : pool) t.join();
  double sum = 0;
  for (double r : rates) sum += r;
  return sum;
}

// ---------------------------------------------------------------------------
// DEST.

// Removes what the benchmark made in DEST when it goes out of scope.
class DestCleanup final {
 public:
  DestCleanup(Directory* dir, std::vector<std::string>* errors)
      : dir_(dir), errors_(errors) {}
  ~DestCleanup() { Clean(); }
  void AddFile(const std::string& rel) { files_.push_back(rel); }
  void AddDir(const std::string& rel) { dirs_.push_back(rel); }
  // Removes every file recorded, then everything inside the recorded
  // directories, then the directories.
  void Clean() {
    for (const std::string& f : files_) Remove(f);
    files_.clear();
    for (const std::string& d : dirs_) {
      std::vector<DirEntry> entries;
      if (dir_->List(d, &entries).ok()) {
        for (const DirEntry& e : entries) Remove(d + "/" + e.name);
      }
      Remove(d);
    }
    dirs_.clear();
  }

 private:
  void Remove(const std::string& rel) {
    Status s = dir_->Remove(rel);
    if (!s.ok() && !s.IsNotFound()) errors_->push_back(s.message());
  }
  Directory* dir_;
  std::vector<std::string>* errors_;
  std::vector<std::string> files_, dirs_;
};

// MeasureDestWrite's side of the engine loop (DriveEngine): chunk after
// chunk of pseudo-random bytes into one file, `depth` at a time, until the
// time is up, `cap` bytes are written, or a write fails.
class DestWrites final : public EngineClient {
 public:
  DestWrites(FileSystem* fs, const BenchOptions& o, IoEngine* engine,
             BufferPool* pool, bool fixed, File* file, uint64_t cap,
             std::vector<std::string>* errors)
      : fs_(fs),
        o_(o),
        engine_(engine),
        pool_(pool),
        fixed_(fixed),
        file_(file),
        cap_(cap),
        errors_(errors),
        transfers_(pool->count()),
        deadline_us_(fs->NowMicros() + Micros(o.seconds)) {
    for (size_t b = pool->count(); b-- > 0;) {
      free_bufs_.push_back(static_cast<int>(b));
    }
  }

  bool failed() const { return failed_; }
  uint64_t written() const { return written_; }

  void Fill() override {
    const uint64_t now = fs_->NowMicros();
    stop_ = failed_ || now >= deadline_us_ || next_ >= cap_ || Cancelled(o_);
    const size_t chunk = pool_->buffer_size();
    while (!stop_ && !free_bufs_.empty() && engine_->HasRoom(0) &&
           next_ < cap_) {
      const int buf = free_bufs_.back();
      free_bufs_.pop_back();
      Transfer& t = transfers_[buf];
      t = Transfer{};
      t.op = IoOp::kWrite;
      t.file = file_;
      t.offset = next_;
      t.buf = pool_->data(buf);
      t.len = static_cast<uint32_t>(chunk);
      t.buf_index = fixed_ ? buf : -1;
      Status s = engine_->Submit(&t);
      if (!s.ok()) {
        free_bufs_.push_back(buf);
        errors_->push_back(s.message());
        failed_ = true;
        break;
      }
      next_ += chunk;
    }
  }

  bool HasWork() override { return !stop_ && !failed_; }

  void Complete(Transfer* t, uint64_t) override {
    const int buf = static_cast<int>(t - transfers_.data());
    if (t->late) {
      free_bufs_.push_back(buf);
      return;
    }
    if (t->status.ok() && t->done == t->len) {
      written_ += t->done;
      free_bufs_.push_back(buf);
      return;
    }
    // A timed-out write's buffer comes back with the late completion.
    if (!t->status.IsTimedOut()) free_bufs_.push_back(buf);
    if (!failed_) {
      errors_->push_back(t->status.ok() ? file_->path() + ": short write"
                                        : t->status.message());
    }
    failed_ = true;
  }

 private:
  FileSystem* const fs_;
  const BenchOptions& o_;
  IoEngine* const engine_;
  BufferPool* const pool_;
  const bool fixed_;
  File* const file_;
  const uint64_t cap_;
  std::vector<std::string>* const errors_;
  std::vector<Transfer> transfers_;
  std::vector<int> free_bufs_;
  const uint64_t deadline_us_;
  uint64_t next_ = 0;
  uint64_t written_ = 0;
  bool stop_ = false;
  bool failed_ = false;
};

// One fdatasync of `file` through the engine (DriveEngine's client).
class OneSync final : public EngineClient {
 public:
  OneSync(IoEngine* engine, File* file) : engine_(engine) {
    sync_.op = IoOp::kSync;
    sync_.file = file;
  }
  const Status& status() const { return status_; }

  void Fill() override {
    if (submitted_) return;
    submitted_ = true;
    status_ = engine_->Submit(&sync_);
  }
  bool HasWork() override { return false; }
  void Complete(Transfer* t, uint64_t) override { status_ = t->status; }

 private:
  IoEngine* const engine_;
  Transfer sync_;
  bool submitted_ = false;
  Status status_;
};

// What the pipeline measurement hashes, as ingest would: each chunk's
// SHA-256 when a chunk index decides, else both whole-file digests.
const char* PipelineHashes(bool chunk_sha256) {
  return chunk_sha256 ? "sha256 of each chunk" : "sha256+xxh128";
}

// Waits, up to 5 s, until DEST has `before` bytes free again (less 1%):
// xfs frees a removed file's blocks in the background, and until then
// they count as used. Right after the DEST measurement removed its 3 GiB
// file, a 6 GB DEST still had 3 GB free; the pipeline, given half of
// that, read 1.4 GiB of 2 in under a second, too little to be trusted, and
// the prediction fell back to the stages apart (1.25x the ingest's rate).
// Counted in tries of 20 ms of real time, not by the file system's clock
// (the simulated disk's stands still while nothing is read or written).
void AwaitFreeSpace(Directory* dir, uint64_t before) {
  for (int tries = 0; tries < 250; ++tries) {
    uint64_t free_bytes = 0, free_inodes = 0;
    if (!dir->FreeSpace(&free_bytes, &free_inodes).ok() ||
        free_bytes >= before - before / 100) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// Writes one temporary file in DEST for at most `seconds` (and at most
// half the free space), then fdatasyncs it, all through the engine.
void MeasureDestWrite(FileSystem* fs, Directory* dir, const BenchOptions& o,
                      BenchReport* report) {
  const PipelineOptions& opt = o.pipeline;
  const size_t chunk = opt.chunk_size;
  uint64_t free_bytes = 0, free_inodes = 0;
  uint64_t cap = uint64_t{1} << 30;
  if (dir->FreeSpace(&free_bytes, &free_inodes).ok()) cap = free_bytes / 2;
  cap = cap / chunk * chunk;
  if (cap == 0) {
    report->dest_errors.push_back(o.dest + ": no free space to measure");
    return;
  }
  DestCleanup cleanup(dir, &report->dest_errors);
  const std::string name = TempName(fs, "write");
  WriteOptions wo;
  wo.direct = opt.direct;
  wo.mode = 0600;
  wo.exclusive = true;
  std::unique_ptr<File> file;
  Status s = dir->CreateFile(name, wo, &file);
  if (!s.ok()) {
    report->dest_errors.push_back(s.message());
    return;
  }
  cleanup.AddFile(name);
  report->dest_direct = file->is_direct();

  const unsigned depth = opt.depth ? opt.depth : kDefaultWriteDepth;
  BufferPool pool(depth, chunk);
  for (unsigned b = 0; b < depth; ++b) {
    FillPseudoRandom(pool.data(static_cast<int>(b)), chunk, 1000 + b);
  }
  std::string note;
  auto queue = fs->NewIoQueue(opt.queue, &note);
  const bool fixed = queue->RegisterBuffers(pool.iovecs()).ok();
  auto engine = std::make_unique<IoEngine>(std::move(queue), 1, opt.engine, fs);
  engine->SetDepth(0, depth);
  const double cpu_before = MachineCpuSeconds(fs);
  const uint64_t start_us = fs->NowMicros();
  DestWrites writes(fs, o, engine.get(), &pool, fixed, file.get(), cap,
                    &report->dest_errors);
  s = DriveEngine(engine.get(), &writes, fs);
  if (!s.ok()) report->dest_errors.push_back(s.message());
  bool failed = !s.ok() || writes.failed();
  const uint64_t written = writes.written();
  // fdatasync: ingest makes every staged file durable before naming it,
  // so DEST's rate includes getting the bytes to stable storage.
  if (!failed && written > 0 && engine->in_flight() == 0) {
    OneSync sync(engine.get(), file.get());
    s = DriveEngine(engine.get(), &sync, fs);
    if (s.ok()) s = sync.status();
    if (!s.ok()) {
      report->dest_errors.push_back(s.message());
      failed = true;
    }
  }
  const uint64_t end_us = fs->NowMicros();
  if (!failed) {
    report->dest_write.bytes = written;
    report->dest_write.seconds = double(end_us - start_us) / 1e6;
    SetCpu(cpu_before, MachineCpuSeconds(fs), &report->dest_write);
  }
  // The ring first: it holds the file (registered files), and a removed
  // file still held keeps its blocks.
  engine.reset();
  file.reset();
  cleanup.Clean();
  AwaitFreeSpace(dir, free_bytes);
}

// Makes the files `names` of `dir` durable as ingest's commit does: one
// syncfs of DEST, or, where syncfs is not trusted, each file's fdatasync.
Status MakeDurable(Directory* dir, const std::vector<std::string>& names) {
  Status s = dir->SyncFs();
  if (!s.IsNotSupported()) return s;
  for (const std::string& name : names) {
    std::unique_ptr<File> file;
    VALISE_RETURN_IF_ERROR(dir->OpenFile(name, &file));
    VALISE_RETURN_IF_ERROR(file->Sync());
  }
  return Status::OK();
}

// Runs the ingest Reader over every drive, writing to temporary files in
// a temporary directory of DEST, until `seconds` pass or the data runs
// out, and makes what it wrote durable (timed too); then removes it all.
void MeasurePipeline(FileSystem* fs, Directory* dir,
                     const std::vector<DrivePlan>& plans, const BenchOptions& o,
                     BenchReport* report) {
  DestCleanup cleanup(dir, &report->pipeline_errors);
  const std::string tmp = TempName(fs, "pipeline");
  Status s = dir->CreateDirs(tmp);
  if (!s.ok()) {
    report->pipeline_errors.push_back(s.message());
    return;
  }
  cleanup.AddDir(tmp);

  // At most half of DEST's free space is written, shared by the drives;
  // a file that does not fit is read and written in part (a prefix of
  // whole chunks), which the Reader treats as a file of that size.
  const size_t chunk = o.pipeline.chunk_size;
  size_t usable = 0;
  for (const DrivePlan& p : plans) usable += p.status.ok();
  uint64_t free_bytes = 0, free_inodes = 0;
  uint64_t room = uint64_t{1} << 30;
  if (dir->FreeSpace(&free_bytes, &free_inodes).ok()) room = free_bytes / 2;
  const uint64_t share = usable ? room / usable / chunk * chunk : 0;
  std::vector<std::vector<ReadJob>> jobs(plans.size());
  std::vector<bool> rotational;
  size_t id = 0;
  bool capped = false;
  for (size_t d = 0; d < plans.size(); ++d) {
    rotational.push_back(plans[d].drive.info.rotational);
    if (!plans[d].status.ok()) continue;
    uint64_t left = share;
    for (const ReadTarget& t : plans[d].files) {
      if (jobs[d].size() >= kMaxPipelineJobs) break;
      uint64_t size = t.size;
      if (size > left) {
        capped = true;
        size = left / chunk * chunk;
        if (size == 0) break;
      }
      left -= size;
      ReadJob j;
      j.drive = static_cast<int>(d);
      j.path = t.path;
      j.size = size;
      j.id = id++;
      j.write = true;
      jobs[d].push_back(std::move(j));
    }
  }
  if (capped) {
    report->notes.push_back(fmt::format(
        "DEST has room for {} of test data: the pipeline read at most {} "
        "per drive",
        HumanBytes(room), HumanBytes(share)));
  }

  std::atomic<bool> stop{false};
  PipelineOptions popt = o.pipeline;
  popt.cancel = &stop;
  popt.progress = false;
  // With a chunk index the chunk digests decide: ingest computes no
  // whole-file digest, only each chunk's SHA-256.
  Reader reader(fs, popt, o.chunk_sha256 ? DigestSet() : IngestDigests(),
                rotational);
  if (o.chunk_sha256) {
    reader.SetChunkObserver(
        [](const ReadJob&) -> std::unique_ptr<ChunkObserver> {
          return std::make_unique<ChunkSha256Cost>();
        });
  }
  WriteOptions wo;
  wo.direct = o.pipeline.direct;
  wo.mode = 0600;
  wo.exclusive = true;
  // Staged the way ingest writes DEST's staging files.
  std::unique_ptr<StageWriter> writer = NewPosixStageWriter(
      o.pipeline.depth ? o.pipeline.depth : kDefaultWriteDepth);
  reader.SetSink(
      writer.get(),
      [dir, &tmp, wo](const ReadJob& job, std::unique_ptr<StagedFile>* out) {
        const std::string name = tmp + "/" + std::to_string(job.id);
        std::unique_ptr<File> file;
        VALISE_RETURN_IF_ERROR(dir->CreateFile(name, wo, &file));
        *out = NewStagedFile(std::move(file), name);
        return Status::OK();
      });

  // The timer: stops the Reader after `seconds`, or at once when the
  // benchmark is interrupted.
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;
  const uint64_t start_us = fs->NowMicros();
  const uint64_t deadline_us = start_us + Micros(o.seconds);
  std::thread timer([&] {
    std::unique_lock<std::mutex> l(mu);
    while (!finished) {
      if (fs->NowMicros() >= deadline_us || Cancelled(o)) {
        stop.store(true);
        return;
      }
      cv.wait_for(l, std::chrono::milliseconds(20));
    }
  });
  uint64_t files_ok = 0;
  std::vector<std::string> written;  // every file staged, whole or not
  s = reader.Run(jobs, nullptr, [&](const ReadJob& job, ReadOutcome&& out) {
    if (out.status.ok() && out.written) ++files_ok;
    if (out.staged) written.push_back(tmp + "/" + std::to_string(job.id));
    // The staged file closes here; its name is removed with the
    // directory.
  });
  // Durable, inside the timed region: ingest makes every file's data
  // durable before naming it, and where the page cache takes DEST's
  // writes faster than the disk under it (a disk DEST with memory to
  // spare) the rate without this was the cache's, twice the ingest's.
  Status durable = MakeDurable(dir, written);
  if (!durable.ok()) report->pipeline_errors.push_back(durable.message());
  const uint64_t end_us = fs->NowMicros();
  {
    std::lock_guard<std::mutex> l(mu);
    finished = true;
  }
  cv.notify_all();
  timer.join();
  if (!s.ok()) report->pipeline_errors.push_back(s.message());
  if (!reader.fatal().ok()) {
    report->pipeline_errors.push_back(reader.fatal().message());
  }
  report->has_pipeline = true;
  report->pipeline.bytes = reader.bytes_written();
  report->pipeline.seconds = double(end_us - start_us) / 1e6;
  for (const DriveReadStats& st : reader.drive_stats()) {
    report->pipeline_bytes_read += st.bytes_read;
  }
  report->pipeline_files = files_ok;
  cleanup.Clean();
}

std::string Rate(double bytes_per_second) {
  return HumanRate(bytes_per_second);
}

}  // namespace

// ---------------------------------------------------------------------------
// The model.

namespace {

// The measurements a figure should not be read from, each with why.
std::vector<std::string> Untrusted(const BenchReport& r) {
  std::vector<std::string> out;
  auto too_short = [&](const std::string& what, const BenchRate& m) {
    if (m.bytes > 0 && m.seconds < kBenchMinTrustedSeconds) {
      out.push_back(fmt::format(
          "{}: {} in {}: too little data for a rate (it ran out within {:g} "
          "s); measure it with larger files",
          what, HumanBytes(m.bytes), HumanDuration(m.seconds),
          kBenchMinTrustedSeconds));
    }
  };
  for (const BenchDrive& d : r.drives) {
    too_short("drive " + EscapeReportPath(d.source) + " alone", d.alone);
  }
  if (r.drives.size() > 1) too_short("all drives at once", r.read_together);
  for (const BenchHash& h : r.hashes) {
    if (h.threads > 1 && h.rate_all > 0 && h.rate_all < h.rate_one) {
      out.push_back(fmt::format(
          "{} hashed {} on {} threads, less than on one ({}): other work is "
          "using the cores, so every rate measured here is below this "
          "host's",
          DigestName(h.type), Rate(h.rate_all), h.threads, Rate(h.rate_one)));
    }
  }
  if (r.has_pipeline) too_short("the whole pipeline", r.pipeline);
  return out;
}

// What hashing gives ingest: it computes sha256 and xxh128 over every
// byte, one after the other, so their times per byte add up; or, with a
// chunk index (chunk_sha256), each chunk's SHA-256 alone. `rate` is
// &BenchHash::rate_one (one core) or &BenchHash::rate_all (every core);
// 0 when either digest was not measured.
double DefaultDigestsRate(const BenchReport& r, double BenchHash::*rate) {
  double sha = 0, xxh = 0;
  for (const BenchHash& h : r.hashes) {
    if (h.type == DigestType::kSha256) sha = h.*rate;
    if (h.type == DigestType::kXxh128) xxh = h.*rate;
  }
  if (r.chunk_sha256) return sha;
  return sha > 0 && xxh > 0 ? 1.0 / (1.0 / sha + 1.0 / xxh) : 0;
}

// The cores' limit. Every byte is hashed (DefaultDigestsRate, on every
// core) and, on the same cores, read from the drives and written to DEST:
// what those cost the machine (BenchRate::cpu_seconds of reading the
// drives together and of writing DEST, per byte) is spread over the cores
// too. On drives and a DEST that move bytes by DMA it is small; on a rig
// of memory-backed loop devices every byte is copied twice by the CPU, and
// leaving it out predicted the ingest ~20% too fast. 0 when hashing was
// not measured.
double IoCpuPerByte(const BenchReport& r) {
  auto cpu_per_byte = [](const BenchRate& m) {
    return m.cpu_seconds > 0 && m.bytes > 0 ? m.cpu_seconds / double(m.bytes)
                                            : 0.0;
  };
  return cpu_per_byte(r.read_together) +
         (r.has_dest ? cpu_per_byte(r.dest_write) : 0.0);
}

double CoresLimit(const BenchReport& r) {
  const double hash = DefaultDigestsRate(r, &BenchHash::rate_all);
  if (hash <= 0) return 0;
  const double cores = std::max(1u, r.hash_threads);
  return 1.0 / (1.0 / hash + IoCpuPerByte(r) / cores);
}

}  // namespace

void ComputeBottleneck(BenchReport* r) {
  // Drives: balanced planning gives each about the same bytes, so the
  // slowest alone sets the pace of all; reading them at once may be less.
  const BenchDrive* slowest = nullptr;
  size_t usable = 0;
  for (const BenchDrive& d : r->drives) {
    if (d.alone.rate() <= 0) continue;
    ++usable;
    if (slowest == nullptr || d.alone.rate() < slowest->alone.rate()) {
      slowest = &d;
    }
  }
  r->limit_drives = 0;
  BottleneckKind drive_kind = BottleneckKind::kNone;
  if (slowest != nullptr) {
    r->limit_drives = double(usable) * slowest->alone.rate();
    drive_kind = BottleneckKind::kDrive;
    const double together = r->read_together.rate();
    if (usable > 1 && together > 0 && together < r->limit_drives) {
      r->limit_drives = together;
      drive_kind = BottleneckKind::kDrives;
    }
  }
  r->limit_hash = CoresLimit(*r);
  r->limit_dest = r->has_dest ? r->dest_write.rate() : 0;

  r->predicted_rate = 0;
  r->bottleneck = BottleneckKind::kNone;
  auto consider = [&](double limit, BottleneckKind kind) {
    if (limit <= 0) return;
    if (r->predicted_rate == 0 || limit < r->predicted_rate) {
      r->predicted_rate = limit;
      r->bottleneck = kind;
    }
  };
  consider(r->limit_drives, drive_kind);
  consider(r->limit_hash, BottleneckKind::kHash);
  consider(r->limit_dest, BottleneckKind::kDest);
  r->model_rate = r->predicted_rate;
  // The stages measured apart can only overestimate: when the whole
  // pipeline, measured on enough data, is slower, it is the prediction.
  const double whole = r->pipeline.rate();
  if (r->has_pipeline && whole > 0 &&
      r->pipeline.seconds >= kBenchMinTrustedSeconds &&
      (r->predicted_rate == 0 || whole < r->predicted_rate)) {
    r->predicted_rate = whole;
    r->bottleneck = BottleneckKind::kPipeline;
  }

  const std::string limit = Rate(r->predicted_rate);
  switch (r->bottleneck) {
    case BottleneckKind::kNone:
      r->bottleneck_subject.clear();
      r->bottleneck_rate = 0;
      r->bottleneck_text = "bottleneck: unknown (nothing could be measured)";
      r->remedy = "next: see the errors above";
      break;
    case BottleneckKind::kDrive:
      r->bottleneck_subject = slowest->source;
      r->bottleneck_rate = slowest->alone.rate();
      r->bottleneck_text = fmt::format(
          "bottleneck: drive {} at {} limits the ingest to {}",
          EscapeReportPath(slowest->source), Rate(r->bottleneck_rate), limit);
      if (usable > 1) {
        r->bottleneck_text += fmt::format(" ({} drives)", usable);
      }
      r->remedy = fmt::format(
          "next: more drives at once on this host: each adds about {}, as "
          "the host is not the limit yet (an SSD or an array may also read "
          "faster with a higher --depth)",
          Rate(r->bottleneck_rate));
      break;
    case BottleneckKind::kDrives:
      r->bottleneck_subject = "all drives";
      r->bottleneck_rate = r->read_together.rate();
      r->bottleneck_text = fmt::format(
          "bottleneck: reading all {} drives at once at {} limits the "
          "ingest to {} (each alone: {} x {} = {})",
          usable, Rate(r->bottleneck_rate), limit, usable,
          Rate(slowest->alone.rate()),
          Rate(double(usable) * slowest->alone.rate()));
      r->remedy =
          "next: spread the drives over more controllers or more hosts: "
          "this host reads them at once slower than apart";
      break;
    case BottleneckKind::kHash:
      r->bottleneck_subject = PipelineHashes(r->chunk_sha256);
      if (IoCpuPerByte(*r) > 0) {
        r->bottleneck_subject += " (beside reading and writing)";
      }
      r->bottleneck_rate = r->limit_hash;
      r->bottleneck_text = fmt::format(
          "bottleneck: hashing {} on {} cores at {} limits the ingest to {}",
          r->bottleneck_subject, r->hash_threads, Rate(r->bottleneck_rate),
          limit);
      r->remedy = fmt::format(
          "next: more hashing cores (each adds about {}): a host with more "
          "cores{}",
          Rate(DefaultDigestsRate(*r, &BenchHash::rate_one)),
          usable > 0 ? ", or fewer drives per host" : "");
      break;
    case BottleneckKind::kDest:
      r->bottleneck_subject = r->dest;
      r->bottleneck_rate = r->limit_dest;
      r->bottleneck_text = fmt::format(
          "bottleneck: DEST {} writing at {} limits the ingest to {}",
          EscapeReportPath(r->dest), Rate(r->bottleneck_rate), limit);
      r->remedy = fmt::format(
          "next: a faster DEST ({} allow{} {}), or DESTs on more hosts",
          usable > 0 ? "the drives and hashing" : "hashing",
          usable > 0 ? "" : "s",
          Rate(std::min(r->limit_drives > 0 ? r->limit_drives : 1e18,
                        r->limit_hash > 0 ? r->limit_hash : 1e18)));
      break;
    case BottleneckKind::kPipeline:
      r->bottleneck_subject = "pipeline";
      r->bottleneck_rate = whole;
      r->bottleneck_text = fmt::format(
          "bottleneck: the whole pipeline measured {}, below its slowest "
          "stage apart ({}): the stages slow each other down on this host",
          Rate(whole), Rate(r->model_rate));
      r->remedy =
          "next: more cores for the stages to share (hashing, the I/O "
          "thread, DEST's writes), or fewer drives per host";
      break;
  }
  r->untrusted = Untrusted(*r);
  r->predicted_seconds = r->manifest_bytes > 0 && r->predicted_rate > 0
                             ? double(r->manifest_bytes) / r->predicted_rate
                             : 0;
}

// ---------------------------------------------------------------------------
// The run.

Status RunBench(FileSystem* fs, const BenchOptions& o, BenchReport* report) {
  const uint64_t start_us = fs->NowMicros();
  BenchReport& r = *report;
  r.started = NowIso8601();
  r.seconds_per_test = o.seconds;
  r.chunk_size = o.pipeline.chunk_size;
  r.chunk_sha256 = o.chunk_sha256;
  r.depth = o.pipeline.depth;
  r.manifest = o.manifest;
  r.manifest_bytes = o.manifest_bytes;
  r.manifest_files = o.manifest_files;
  auto phase = [&](const std::string& what) {
    if (o.on_phase) o.on_phase(what);
  };
  auto finish = [&](Status s) {
    ComputeBottleneck(&r);
    r.seconds = double(fs->NowMicros() - start_us) / 1e6;
    return s;
  };
  if (o.sources.empty() && o.dest.empty()) {
    return finish(Status::InvalidArgument("bench", "no drive to measure"));
  }
  if (!(o.seconds > 0) || !(o.hash_seconds > 0)) {
    return finish(Status::InvalidArgument("--seconds", "must be positive"));
  }
  if (o.pipeline.chunk_size == 0 ||
      o.pipeline.chunk_size % kDirectAlignment != 0) {
    return finish(
        Status::InvalidArgument("chunk size", "must be a multiple of 4096"));
  }

  // Stage 1: DEST exists and is a directory (or a bucket the client may
  // use); nothing is created otherwise.
  std::unique_ptr<Directory> dir;
  S3Url s3_dest;
  const bool s3 = IsS3Url(o.dest);
  if (s3) {
    Status s = ParseS3Url(o.dest, &s3_dest);
    if (s.ok() && o.s3 == nullptr) {
      s = Status::InvalidArgument(o.dest, "no S3 client for an s3:// DEST");
    }
    if (s.ok()) s = o.s3->HeadBucket(s3_dest.bucket);
    if (s.IsNotFound()) {
      s = Status::NotFound(o.dest, "the bucket does not exist");
    }
    if (!s.ok()) return finish(s);
    r.has_dest = true;
    r.dest = o.dest;
  } else if (!o.dest.empty()) {
    FileInfo info;
    Status s = fs->Stat(o.dest, &info);
    if (s.IsNotFound()) {
      s = Status::NotFound(o.dest,
                           "DEST does not exist: create it, or give the "
                           "directory where the file system to stage onto "
                           "is mounted");
    }
    if (s.ok() && info.type != FileType::kDirectory) {
      s = Status::InvalidArgument(o.dest, "DEST is not a directory");
    }
    if (s.ok()) s = fs->OpenDirectory(o.dest, false, &dir);
    if (!s.ok()) return finish(s);
    r.has_dest = true;
    r.dest = o.dest;
  }

  // Stage 2: what each drive offers (largest files first).
  if (!o.sources.empty()) phase("listing the drives");
  std::vector<DrivePlan> plans;
  for (const std::string& src : o.sources) {
    plans.push_back(PlanDrive(fs, src, o.seconds, o.pipeline));
  }
  std::vector<const DrivePlan*> usable;
  for (const DrivePlan& p : plans) {
    BenchDrive d;
    d.source = p.drive.source;
    d.kind = p.status.ok() || p.drive.info.type != FileType::kUnknown
                 ? DriveKindName(p.drive.kind)
                 : "";
    d.files = p.files.size();
    if (!p.status.ok()) d.errors.push_back(p.status.message());
    if (p.walk_cut) {
      r.notes.push_back(EscapeReportPath(p.drive.source) +
                        ": listing stopped early; the largest files found "
                        "so far were read");
    }
    r.drives.push_back(std::move(d));
    if (p.status.ok()) usable.push_back(&p);
  }
  if (usable.empty() && !o.sources.empty()) {
    return finish(Status::InvalidArgument("bench", "no drive can be read"));
  }

  // Stage 3: hashing, one core then every core.
  r.hash_threads = o.pipeline.threads ? o.pipeline.threads : UsableCores();
  const double hash_seconds = std::min(o.hash_seconds, o.seconds);
  for (int t = 0; t < kNumDigestTypes; ++t) {
    if (Cancelled(o)) return finish(Status::Aborted("bench", "interrupted"));
    auto type = static_cast<DigestType>(t);
    phase(fmt::format("hashing {} on 1 and {} threads", DigestName(type),
                      r.hash_threads));
    BenchHash h;
    h.type = type;
    h.threads = r.hash_threads;
    h.rate_one = HashRate(type, 1, o.pipeline.chunk_size, hash_seconds, o);
    h.rate_all =
        HashRate(type, r.hash_threads, o.pipeline.chunk_size, hash_seconds, o);
    r.hashes.push_back(h);
  }

  // Stage 4: each drive alone.
  std::vector<bool> direct(plans.size(), true);
  for (size_t d = 0; d < plans.size(); ++d) {
    if (!plans[d].status.ok()) continue;
    if (Cancelled(o)) return finish(Status::Aborted("bench", "interrupted"));
    phase(fmt::format("reading {} alone, up to {}s",
                      EscapeReportPath(plans[d].drive.source), o.seconds));
    TimedReadResult res;
    const double cpu_before = MachineCpuSeconds(fs);
    Status s = TimedRead(fs, o, {&plans[d]}, o.seconds, &res);
    if (!s.ok()) return finish(s);
    SetCpu(cpu_before, MachineCpuSeconds(fs), &res.rates[0]);
    if (r.queue.empty()) r.queue = res.note;
    r.drives[d].alone = res.rates[0];
    r.drives[d].direct = res.direct[0];
    for (std::string& e : res.errors[0]) r.drives[d].errors.push_back(e);
  }

  // Stage 5: every drive at once.
  if (usable.size() > 1) {
    if (Cancelled(o)) return finish(Status::Aborted("bench", "interrupted"));
    phase(fmt::format("reading all {} drives at once, up to {}s", usable.size(),
                      o.seconds));
    TimedReadResult res;
    const double cpu_before = MachineCpuSeconds(fs);
    Status s = TimedRead(fs, o, usable, o.seconds, &res);
    if (!s.ok()) return finish(s);
    SetCpu(cpu_before, MachineCpuSeconds(fs), &res.total);
    size_t k = 0;
    for (size_t d = 0; d < plans.size(); ++d) {
      if (!plans[d].status.ok()) continue;
      // Over the whole measurement's time, so the drives add up to the
      // total: a drive whose files ran out early read nothing after.
      r.drives[d].together = BenchRate{res.rates[k].bytes, res.total.seconds};
      for (std::string& e : res.errors[k]) r.drives[d].errors.push_back(e);
      ++k;
    }
    r.read_together = res.total;
  } else {
    for (size_t d = 0; d < plans.size(); ++d) {
      if (plans[d].status.ok()) {
        r.drives[d].together = r.drives[d].alone;
        r.read_together = r.drives[d].alone;
      }
    }
  }
  for (const BenchDrive& d : r.drives) {
    if (d.alone.bytes > 0 && !d.direct) {
      r.notes.push_back(EscapeReportPath(d.source) +
                        ": read through the page cache (no O_DIRECT); "
                        "repeated reads may come from memory");
    }
  }

  // Stage 6: DEST's write rate, then the whole pipeline into DEST (an
  // s3:// DEST: the store's rates only).
  if (s3) {
    if (Cancelled(o)) return finish(Status::Aborted("bench", "interrupted"));
    phase(
        fmt::format("writing to {}: parts, then small objects, up to {}s "
                    "each",
                    o.dest, o.seconds));
    bench_internal::MeasureS3Write(fs, s3_dest, o, &r);
    if (Cancelled(o)) return finish(Status::Aborted("bench", "interrupted"));
    if (!o.sources.empty()) {
      r.notes.push_back(
          "the whole pipeline into an s3:// DEST is not measured (valise "
          "ingest -d s3://... reports its own rate)");
    }
  }
  if (dir) {
    if (Cancelled(o)) return finish(Status::Aborted("bench", "interrupted"));
    phase(fmt::format("writing to {}, up to {}s", EscapeReportPath(o.dest),
                      o.seconds));
    MeasureDestWrite(fs, dir.get(), o, &r);
    if (r.dest_write.bytes > 0 && !r.dest_direct) {
      r.notes.push_back(
          "DEST refused O_DIRECT: writes went through the page cache "
          "(the fdatasync at the end is timed)");
    }
    if (Cancelled(o)) return finish(Status::Aborted("bench", "interrupted"));
    if (!usable.empty()) {
      phase(fmt::format("whole pipeline (read, {}, write to DEST), up to {}s",
                        PipelineHashes(o.chunk_sha256), o.seconds));
      MeasurePipeline(fs, dir.get(), plans, o, &r);
      if (Cancelled(o)) {
        return finish(Status::Aborted("bench", "interrupted"));
      }
    }
  }
  return finish(Status::OK());
}

// ---------------------------------------------------------------------------
// Output.

namespace {

using Json = nlohmann::ordered_json;

uint64_t RoundRate(double rate) {
  return static_cast<uint64_t>(std::llround(std::max(0.0, rate)));
}

Json RateJson(const BenchRate& r) {
  Json j;
  j["bytes"] = r.bytes;
  j["seconds"] = r.seconds;
  j["rate_bytes_per_s"] = RoundRate(r.rate());
  j["cpu_seconds"] = r.cpu_seconds > 0 ? Json(r.cpu_seconds) : Json(nullptr);
  return j;
}

Json RateOrNull(double rate) {
  return rate > 0 ? Json(RoundRate(rate)) : Json(nullptr);
}

std::string Mbps(double rate) { return fmt::format("{:.1f}", rate / 1e6); }

}  // namespace

std::string FormatBenchJson(const BenchReport& r) {
  Json j;
  j["schema"] = "valise-bench/1";
#ifdef VALISE_VERSION
  j["version"] = VALISE_VERSION;
#else
  j["version"] = nullptr;
#endif
  j["started"] = r.started.empty() ? Json(nullptr) : Json(r.started);
  j["seconds"] = r.seconds;
  j["seconds_per_test"] = r.seconds_per_test;
  j["chunk_size"] = r.chunk_size;
  j["depth"] = r.depth > 0 ? Json(r.depth) : Json(nullptr);
  j["queue"] = r.queue;
  Json drives = Json::array();
  for (const BenchDrive& d : r.drives) {
    Json dj;
    dj["source"] = EscapePath(d.source);  // exact, as in a manifest
    dj["kind"] = d.kind.empty() ? Json(nullptr) : Json(d.kind);
    dj["files"] = d.files;
    dj["direct"] = d.direct;
    dj["alone"] = RateJson(d.alone);
    dj["together"] = RateJson(d.together);
    dj["errors"] = d.errors;
    drives.push_back(std::move(dj));
  }
  j["drives"] = std::move(drives);
  j["read_together"] = RateJson(r.read_together);
  Json hashes = Json::array();
  for (const BenchHash& h : r.hashes) {
    Json hj;
    hj["digest"] = std::string(DigestName(h.type));
    hj["threads"] = h.threads;
    hj["rate_one_core"] = RoundRate(h.rate_one);
    hj["rate_all_cores"] = RoundRate(h.rate_all);
    hashes.push_back(std::move(hj));
  }
  j["hashes"] = std::move(hashes);
  j["chunk_sha256"] = r.chunk_sha256;
  if (r.has_dest) {
    Json dj = RateJson(r.dest_write);
    dj["path"] = EscapePath(r.dest);
    dj["direct"] = r.dest_direct;
    dj["errors"] = r.dest_errors;
    if (r.dest_s3) {
      Json sj;
      sj["in_flight"] = r.dest_in_flight;
      sj["part_size"] = r.dest_part_size;
      sj["parts"] = r.dest_parts;
      Json small = RateJson(r.dest_small);
      small["objects"] = r.dest_small_objects;
      small["object_size"] = r.dest_small_size;
      small["objects_per_s"] =
          r.dest_small.seconds > 0
              ? Json(double(r.dest_small_objects) / r.dest_small.seconds)
              : Json(nullptr);
      sj["small"] = std::move(small);
      sj["requests"] = r.dest_s3_requests;
      sj["retries"] = r.dest_s3_retries;
      sj["throttled"] = r.dest_s3_throttled;
      dj["s3"] = std::move(sj);
    } else {
      dj["s3"] = nullptr;
    }
    j["dest"] = std::move(dj);
  } else {
    j["dest"] = nullptr;
  }
  if (r.has_pipeline) {
    Json pj = RateJson(r.pipeline);
    pj["bytes_read"] = r.pipeline_bytes_read;
    pj["files"] = r.pipeline_files;
    pj["digests"] = r.chunk_sha256 ? Json::array({"sha256"})
                                   : Json::array({"sha256", "xxh128"});
    pj["errors"] = r.pipeline_errors;
    j["pipeline"] = std::move(pj);
  } else {
    j["pipeline"] = nullptr;
  }
  Json limits;
  limits["drives"] = RateOrNull(r.limit_drives);
  limits["hash"] = RateOrNull(r.limit_hash);
  limits["dest"] = RateOrNull(r.limit_dest);
  j["limits"] = std::move(limits);
  j["predicted_rate_bytes_per_s"] = RateOrNull(r.predicted_rate);
  Json b;
  b["kind"] = BottleneckKindName(r.bottleneck);
  b["subject"] = r.bottleneck_subject.empty()
                     ? Json(nullptr)
                     : Json(EscapePath(r.bottleneck_subject));
  b["rate_bytes_per_s"] = RateOrNull(r.bottleneck_rate);
  b["text"] = r.bottleneck_text;
  b["remedy"] = r.remedy;
  j["bottleneck"] = std::move(b);
  j["model_rate_bytes_per_s"] = RateOrNull(r.model_rate);
  if (r.manifest_bytes > 0 || !r.manifest.empty()) {
    Json mj;
    mj["path"] = EscapePath(r.manifest);
    mj["files"] = r.manifest_files;
    mj["bytes"] = r.manifest_bytes;
    mj["predicted_seconds"] =
        r.predicted_seconds > 0 ? Json(r.predicted_seconds) : Json(nullptr);
    j["manifest"] = std::move(mj);
  } else {
    j["manifest"] = nullptr;
  }
  j["notes"] = r.notes;
  j["untrusted"] = r.untrusted;
  // Free text may hold bytes that are not UTF-8: replaced, never thrown.
  return j.dump(2, ' ', false, Json::error_handler_t::replace);
}

std::string FormatBenchTable(const BenchReport& r) {
  std::string out;
  size_t usable = 0;
  for (const BenchDrive& d : r.drives) usable += d.alone.bytes > 0;
  out += fmt::format(
      "valise bench: {} drive{}, up to {}s per test, {} reads, depth {}, {}\n",
      r.drives.size(), r.drives.size() == 1 ? "" : "s", r.seconds_per_test,
      HumanBytes(r.chunk_size),
      r.depth ? std::to_string(r.depth) : std::string("by drive kind"),
      EscapeReportText(r.queue.empty() ? "queue unknown" : r.queue));
  out += fmt::format("  started {}, took {}\n\n", r.started,
                     HumanDuration(r.seconds));

  size_t w = std::string("all drives at once").size();
  for (const BenchDrive& d : r.drives) {
    w = std::max(w, EscapeReportPath(d.source).size());
  }
  w = std::min<size_t>(w, 48);
  if (!r.drives.empty()) {
    out +=
        fmt::format("  {:<{}}  {:<12}  {:>7}  {:>10}  {:>13}  {:>9}\n", "drive",
                    w, "kind", "files", "alone MB/s", "together MB/s", "read");
  }
  for (const BenchDrive& d : r.drives) {
    std::string name = EscapeReportPath(d.source);
    if (name.size() > w) name = "..." + name.substr(name.size() - (w - 3));
    out +=
        fmt::format("  {:<{}}  {:<12}  {:>7}  {:>10}  {:>13}  {:>9}\n", name, w,
                    d.kind, d.files, d.alone.bytes ? Mbps(d.alone.rate()) : "-",
                    d.together.bytes ? Mbps(d.together.rate()) : "-",
                    HumanBytes(d.alone.bytes));
    for (const std::string& e : d.errors) {
      out += "    error: " + EscapeReportText(e) + "\n";
    }
  }
  if (usable > 1) {
    out += fmt::format("  {:<{}}  {:<12}  {:>7}  {:>10}  {:>13}\n",
                       "all drives at once", w, "", "", "",
                       Mbps(r.read_together.rate()));
  }
  if (!r.drives.empty()) out += "\n";

  out += fmt::format("  {:<8}  {:>12}  {:>12}\n", "digest", "1 core MB/s",
                     fmt::format("{} cores MB/s", r.hash_threads));
  for (const BenchHash& h : r.hashes) {
    out += fmt::format("  {:<8}  {:>12}  {:>12}\n", DigestName(h.type),
                       Mbps(h.rate_one), Mbps(h.rate_all));
  }
  out += "\n";

  if (r.has_dest && r.dest_s3) {
    out += fmt::format("  dest {}: {} requests in flight\n",
                       EscapeReportPath(r.dest), r.dest_in_flight);
    out += r.dest_write.seconds > 0
               ? fmt::format("    parts:  {} ({} parts of {})\n",
                             Rate(r.dest_write.rate()), r.dest_parts,
                             HumanBytes(r.dest_part_size))
               : std::string("    parts:  not measured\n");
    out += r.dest_small.seconds > 0
               ? fmt::format(
                     "    small:  {:.0f} objects/s ({} PUTs of {}, "
                     "{})\n",
                     double(r.dest_small_objects) / r.dest_small.seconds,
                     r.dest_small_objects, HumanBytes(r.dest_small_size),
                     Rate(r.dest_small.rate()))
               : std::string("    small:  not measured\n");
    out +=
        fmt::format("    {} requests, {} retries ({} throttled)\n",
                    r.dest_s3_requests, r.dest_s3_retries, r.dest_s3_throttled);
    for (const std::string& e : r.dest_errors) {
      out += "    error: " + EscapeReportText(e) + "\n";
    }
  } else if (r.has_dest) {
    if (r.dest_write.bytes > 0) {
      out += fmt::format(
          "  dest {}: write {} ({}, fdatasync included, {} written)\n",
          EscapeReportPath(r.dest), Rate(r.dest_write.rate()),
          r.dest_direct ? "O_DIRECT" : "buffered",
          HumanBytes(r.dest_write.bytes));
    } else {
      out += fmt::format("  dest {}: not measured\n", EscapeReportPath(r.dest));
    }
    for (const std::string& e : r.dest_errors) {
      out += "    error: " + EscapeReportText(e) + "\n";
    }
  }
  if (r.has_pipeline) {
    out += fmt::format(
        "  pipeline (read, {}, write to DEST): {} ({} written, "
        "{} files whole)\n",
        PipelineHashes(r.chunk_sha256), Rate(r.pipeline.rate()),
        HumanBytes(r.pipeline.bytes), r.pipeline_files);
    for (const std::string& e : r.pipeline_errors) {
      out += "    error: " + EscapeReportText(e) + "\n";
    }
  }
  if (r.has_dest || r.has_pipeline) out += "\n";

  std::string limits = r.drives.empty()
                           ? "  limits: hash " + Rate(r.limit_hash)
                           : "  limits: drives " + Rate(r.limit_drives) +
                                 ", hash " + Rate(r.limit_hash);
  if (r.has_dest) limits += ", dest " + Rate(r.limit_dest);
  out += limits + "\n";
  out += "  predicted ingest rate: " + Rate(r.predicted_rate);
  if (r.bottleneck == BottleneckKind::kPipeline) {
    out += " (the whole pipeline, measured; the stages apart allow " +
           Rate(r.model_rate) + ")";
  } else if (r.has_pipeline && r.pipeline.bytes > 0) {
    out += " (the whole pipeline measured " + Rate(r.pipeline.rate()) + ")";
  }
  out += "\n";
  if (r.manifest_bytes > 0) {
    out += fmt::format(
        "  manifest {}: {} files, {}: ", EscapeReportPath(r.manifest),
        r.manifest_files, HumanBytes(r.manifest_bytes));
    out += r.predicted_seconds > 0
               ? "predicted ingest time " + HumanDuration(r.predicted_seconds)
               : std::string("no prediction (no rate)");
    out += "\n";
  }
  for (const std::string& n : r.notes) {
    out += "note: " + EscapeReportText(n) + "\n";
  }
  for (const std::string& u : r.untrusted) {
    out += "untrusted: " + EscapeReportText(u) + "\n";
  }
  out += r.bottleneck_text + "\n";
  out += r.remedy + "\n";
  return out;
}

}  // namespace valise
