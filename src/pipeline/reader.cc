// The Reader: sets up one run (see reader.h for the shape) and runs it.
// The parts are in their own files: the I/O thread's loop
// (read_loop.cc), the hashing threads and what they share with it
// (hash_schedule.cc), and the re-reading of failed chunks sector by sector
// (sector_rescue.cc); DriveEngine (io_engine.h) runs the loop's rounds.
//
// Setup: the hashing threads (one per core, at most kMaxHashThreads), the
// queue depth of each drive (by its kind, unless set), and the buffer pool
// sized for every drive's depth, the StageWriter's hold and four buffers a
// hashing thread (so hashing never waits for the I/O thread to find one).
// Buffers are registered with the queue where it can (READ_FIXED).
#include "pipeline/reader.h"

#include <algorithm>
#include <thread>

#include "pipeline/hash_schedule.h"
#include "pipeline/read_loop.h"
#include "valise/buffer_pool.h"
#include "valise/io_engine.h"

namespace valise {

namespace {

// One I/O thread can feed about this many hashing threads at SHA-256 speed
// (1.4 GB/s each) before its own syscalls become the limit.
constexpr unsigned kMaxHashThreads = 16;

}  // namespace

uint64_t FirstChunkToRead(const ReadJob& job, uint64_t chunk_size,
                          uint64_t total) {
  if (job.only.empty()) return std::min(total, job.start / chunk_size);
  return std::min(total, job.only.front().first);
}

uint64_t NextChunkToRead(const ReadJob& job, uint64_t index, uint64_t total) {
  if (job.only.empty()) return std::min(total, index + 1);
  // The first run that ends after index + 1.
  auto it =
      std::upper_bound(job.only.begin(), job.only.end(), index + 1,
                       [](uint64_t i, const ChunkRun& r) { return i < r.end; });
  if (it == job.only.end()) return total;
  return std::min(total, std::max(index + 1, it->first));
}

uint64_t BytesKnown(const ReadJob& job, uint64_t chunk_size, uint64_t size) {
  if (job.only.empty()) return std::min(size, job.start);
  uint64_t read = 0;
  for (const ChunkRun& r : job.only) {
    const uint64_t from = std::min(size, r.first * chunk_size);
    read += std::min(size, r.end * chunk_size) - from;
  }
  return size - std::min(size, read);
}

void AbortSignal::Raise(const Status& why) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (why_.ok()) why_ = why;
  }
  raised_.store(true, std::memory_order_release);
}

Status AbortSignal::why() const {
  std::lock_guard<std::mutex> l(mu_);
  return why_;
}

Reader::Reader(FileSystem* fs, const PipelineOptions& opt, DigestSet digests,
               std::vector<bool> rotational)
    : fs_(fs),
      opt_(opt),
      digests_(digests),
      rotational_(std::move(rotational)),
      stats_(rotational_.size()) {}

Reader::~Reader() = default;

void Reader::Abort(const Status& why) { abort_.Raise(why); }

void Reader::SetSink(StageWriter* writer, StageOpener open, bool ahead) {
  writer_ = writer;
  open_staged_ = std::move(open);
  stage_ahead_ = ahead;
}

Status Reader::Run(
    const std::vector<std::vector<ReadJob>>& per_drive, Progress* progress,
    const std::function<void(const ReadJob&, ReadOutcome&&)>& on_done) {
  const int num_drives = static_cast<int>(per_drive.size());
  if (num_drives == 0) return Status::OK();
  const size_t chunk = opt_.chunk_size;
  const bool has_sink = writer_ != nullptr;

  unsigned threads = opt_.threads;
  if (threads == 0) {
    threads = std::max(1u, std::thread::hardware_concurrency());
  }
  threads = std::min(threads, kMaxHashThreads);

  std::vector<unsigned> depth(num_drives);
  size_t depth_total = 0;
  for (int d = 0; d < num_drives; ++d) {
    depth[d] = opt_.depth ? opt_.depth : DefaultReadDepth(rotational_[d]);
    depth_total += depth[d];
  }
  if (has_sink) depth_total += writer_->buffers(num_drives, chunk);
  size_t buffers = opt_.buffers ? opt_.buffers : depth_total + 4 * threads;
  VALISE_RETURN_IF_ERROR(BufferPool::CheckFits(buffers, chunk));
  BufferPool pool(buffers, chunk);

  // Declared before the engine so it outlives the queue.
  std::vector<std::unique_ptr<File>> graveyard;
  auto queue = fs_->NewIoQueue(opt_.queue, &queue_note_);
  // Fixed buffers spare the kernel a page-table walk per read; a queue that
  // cannot register them still works with plain reads.
  bool fixed = queue->RegisterBuffers(pool.iovecs()).ok();
  // The destination is one more "drive" of the engine, with its own depth
  // (the StageWriter sets it).
  IoEngine engine(std::move(queue), num_drives + (has_sink ? 1 : 0),
                  opt_.engine, fs_);
  for (int d = 0; d < num_drives; ++d) engine.SetDepth(d, depth[d]);

  // The progress counts files per drive, and those whose read failed (a
  // cancelled file is neither: it was not read).
  std::function<void(const ReadJob&, ReadOutcome&&)> counted;
  if (progress != nullptr) {
    for (int d = 0; d < num_drives; ++d) {
      progress->AddPlannedFiles(d, per_drive[d].size());
    }
    counted = [&](const ReadJob& job, ReadOutcome&& out) {
      progress->FileDone(job.drive, !out.status.ok() && !out.cancelled);
      on_done(job, std::move(out));
    };
  }
  RunState rs(&opt_, &pool, &engine, progress ? &counted : &on_done,
              &graveyard);
  std::vector<std::thread> workers;
  for (unsigned i = 0; i < threads; ++i) workers.emplace_back(HashWorker, &rs);

  ReadLoopConfig config;
  config.fs = fs_;
  config.opt = &opt_;
  config.digests = digests_;
  config.writer = writer_;
  config.open_staged = &open_staged_;
  config.stage_ahead = stage_ahead_;
  config.make_observer = &make_observer_;
  config.dedup = dedup_;
  config.progress = progress;
  config.drive_names = &drive_names_;
  config.dest_drive = num_drives;
  config.fixed_buffers = fixed;
  config.abort = &abort_;
  ReadLoop loop(config, per_drive, &rs, &stats_);
  loop.Run();
  if (fatal_.ok()) fatal_ = loop.fatal();
  bytes_written_ += loop.bytes_written();

  // Every read is done; wait for the hashers to finish the open files.
  rs.WaitForFiles();
  rs.hash_queue.Close();
  for (auto& w : workers) w.join();
  return Status::OK();
}

}  // namespace valise
