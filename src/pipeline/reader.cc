// The read and hash stages (and, for ingest, the stage writes). See
// reader.h for the shape; here, the details.
//
// Ownership. A FileState is created by the I/O thread when it opens a job's
// file, and deleted by whichever thread drops its last reference: every
// chunk holds one for its hashing and, when staged, one for its write. A
// thread must not touch a FileState after dropping a reference it held.
//
// Chunks. Chunk k of a file covers [k * chunk_size, (k+1) * chunk_size) and
// is read into one buffer. A chunk whose read failed, or that will never be
// read (drive stalled, run cancelled), is delivered as a hole: no buffer,
// nothing hashed or written, but it still counts towards completion.
//
// Buffers. A buffer holds one chunk from its read until the hash and the
// StageWriter (if any) are done with it; buf_refs counts those users.
#include "pipeline/reader.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "valise/buffer_pool.h"
#include "valise/io_engine.h"

namespace valise {

namespace {

constexpr unsigned kDefaultDepthSolid = 16;
constexpr unsigned kDefaultDepthRotational = 4;
// One I/O thread can feed about this many hashing threads at SHA-256 speed
// (1.4 GB/s each) before its own syscalls become the limit.
constexpr unsigned kMaxHashThreads = 16;

struct Chunk {
  uint64_t offset = 0;
  uint32_t len = 0;
  int buf = -1;  // -1: a hole
};

struct FileState {
  const ReadJob* job = nullptr;
  std::unique_ptr<File> file;
  std::unique_ptr<StagedFile> staged;
  uint64_t chunks_total = 0;
  // References: one per chunk for hashing, one more per chunk for writing.
  std::atomic<int64_t> refs{0};

  // I/O thread only.
  uint64_t next_issue = 0;  // next chunk index to read

  // Shared, under mu.
  std::mutex mu;
  std::map<uint64_t, Chunk> ready;  // by offset; completed, not yet hashed
  uint64_t next_hash = 0;           // offset of the next chunk to hash
  bool scheduled = false;           // a hashing thread owns the hasher
  ReadOutcome outcome;              // status, bad ranges, flags
  bool write_failed = false;

  // The hashing thread that holds `scheduled` only.
  std::unique_ptr<MultiHasher> hasher;
  std::unique_ptr<ChunkObserver> observer;
};

// A FIFO of files with a chunk ready to hash, served by the pool.
class HashQueue {
 public:
  void Push(FileState* f) {
    {
      std::lock_guard<std::mutex> l(mu_);
      q_.push_back(f);
    }
    cv_.notify_one();
  }
  // nullptr once closed and drained.
  FileState* Pop() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [this] { return closed_ || !q_.empty(); });
    if (q_.empty()) return nullptr;
    FileState* f = q_.front();
    q_.pop_front();
    return f;
  }
  void Close() {
    {
      std::lock_guard<std::mutex> l(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<FileState*> q_;
  bool closed_ = false;
};

// Everything one Run() shares between the I/O thread and the hashers.
struct RunState {
  const PipelineOptions* opt = nullptr;
  BufferPool* pool = nullptr;
  IoEngine* engine = nullptr;
  std::vector<std::atomic<int>> buf_refs;
  HashQueue hash_queue;
  const std::function<void(const ReadJob&, ReadOutcome&&)>* on_done = nullptr;
  std::mutex done_mu;  // serialises on_done
  // Files with a timed-out request still in the queue: kept open until the
  // queue is gone (a request's File must stay live until it is reaped).
  std::vector<std::unique_ptr<File>>* graveyard = nullptr;
  std::mutex files_mu;
  std::condition_variable files_cv;
  size_t files_open = 0;  // FileStates alive
  // The I/O thread, with nothing in flight, waits here for a buffer to come
  // back or for the StageWriter's wake.
  std::mutex idle_mu;
  std::condition_variable idle_cv;
  bool woken = false;

  explicit RunState(size_t buffers) : buf_refs(buffers) {}

  // Wakes the I/O thread wherever it waits (the engine, or idle).
  void Wake() {
    engine->Wake();
    {
      std::lock_guard<std::mutex> l(idle_mu);
      woken = true;
    }
    idle_cv.notify_one();
  }
  // Returns once Wake was called or, if `for_buffer`, a buffer is free.
  void WaitIdle(bool for_buffer) {
    std::unique_lock<std::mutex> l(idle_mu);
    idle_cv.wait(
        l, [&] { return woken || (for_buffer && pool->free_count() > 0); });
    woken = false;
  }
};

void ReleaseBuffer(RunState* rs, int buf) {
  if (rs->buf_refs[buf].fetch_sub(1, std::memory_order_acq_rel) == 1) {
    rs->pool->Put(buf);
    rs->Wake();  // the I/O thread may be waiting for a buffer
  }
}

void FinishFile(RunState* rs, FileState* f) {
  ReadOutcome out = std::move(f->outcome);
  if (out.stalled && f->file) {
    std::lock_guard<std::mutex> l(rs->done_mu);
    rs->graveyard->push_back(std::move(f->file));
  }
  if (out.status.ok() && f->hasher) out.digests = f->hasher->Finish();
  if (!out.status.ok()) out.chunks.clear();
  out.observer = std::move(f->observer);
  if (f->staged) {
    out.written = !f->write_failed && out.status.ok();
    out.write_failed = f->write_failed;
    out.staged = std::move(f->staged);
  }
  {
    std::lock_guard<std::mutex> l(rs->done_mu);
    (*rs->on_done)(*f->job, std::move(out));
  }
  delete f;
  {
    std::lock_guard<std::mutex> l(rs->files_mu);
    --rs->files_open;
  }
  rs->files_cv.notify_all();
}

// Drops one reference; the last one finishes the file.
void DropRef(RunState* rs, FileState* f) {
  if (f->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) FinishFile(rs, f);
}

// Hashes the ready chunks of `f` in order, while the next one is there.
// Runs on a hashing thread that took `f` from the queue (scheduled is set).
void HashReadyChunks(RunState* rs, FileState* f) {
  for (;;) {
    Chunk c;
    bool failed;
    {
      std::lock_guard<std::mutex> l(f->mu);
      auto it = f->ready.begin();
      if (it == f->ready.end() || it->first != f->next_hash) {
        f->scheduled = false;
        return;
      }
      c = it->second;
      f->ready.erase(it);
      f->next_hash += rs->opt->chunk_size;
      failed = !f->outcome.status.ok();
    }
    if (c.buf >= 0) {
      if (!failed) {
        const char* data = rs->pool->data(c.buf);
        f->hasher->Update(data, c.len);
        if (f->job->chunk_digests) {
          f->outcome.chunks.push_back(HashChunk(data, c.len));
        }
        if (f->observer) {
          f->observer->Chunk(c.offset / rs->opt->chunk_size, data, c.len);
        }
      }
      ReleaseBuffer(rs, c.buf);
    }
    const bool last =
        c.offset + rs->opt->chunk_size >= f->chunks_total * rs->opt->chunk_size;
    DropRef(rs, f);
    if (last) return;  // f may be gone; its last chunk is hashed
  }
}

void HashWorker(RunState* rs) {
  while (FileState* f = rs->hash_queue.Pop()) HashReadyChunks(rs, f);
}

// Gives a completed (or abandoned) chunk to its file's hasher.
void Deliver(RunState* rs, FileState* f, const Chunk& c) {
  bool schedule = false;
  {
    std::lock_guard<std::mutex> l(f->mu);
    f->ready.emplace(c.offset, c);
    if (!f->scheduled && f->ready.begin()->first == f->next_hash) {
      f->scheduled = true;
      schedule = true;
    }
  }
  if (schedule) rs->hash_queue.Push(f);
}

// Marks `f` failed with `s` (the first failure wins).
void Fail(FileState* f, const Status& s) {
  std::lock_guard<std::mutex> l(f->mu);
  if (f->outcome.status.ok()) f->outcome.status = s;
}

bool Failed(FileState* f) {
  std::lock_guard<std::mutex> l(f->mu);
  return !f->outcome.status.ok();
}

// An errno saying the device itself is gone, not one sector.
bool DeviceGone(int err) {
  return err == ENODEV || err == ENXIO || err == ENOTCONN || err == ESHUTDOWN;
}

struct DriveCursor {
  size_t next_job = 0;
  FileState* current = nullptr;  // file being issued
  bool stalled = false;
};

struct PendingWrite {
  FileState* file;
  int buf;
  uint64_t offset;
  uint32_t len;
};

}  // namespace

Reader::Reader(FileSystem* fs, const PipelineOptions& opt, DigestSet digests,
               std::vector<bool> rotational)
    : fs_(fs),
      opt_(opt),
      digests_(digests),
      rotational_(std::move(rotational)),
      stats_(rotational_.size()) {}

Reader::~Reader() = default;

void Reader::Abort(const Status& why) {
  {
    std::lock_guard<std::mutex> l(abort_mu_);
    if (abort_status_.ok()) abort_status_ = why;
  }
  abort_.store(true, std::memory_order_release);
}

void Reader::SetSink(StageWriter* writer, StageOpener open) {
  writer_ = writer;
  open_staged_ = std::move(open);
}

Status Reader::Run(
    const std::vector<std::vector<ReadJob>>& per_drive, Progress* progress,
    const std::function<void(const ReadJob&, ReadOutcome&&)>& on_done) {
  const int num_drives = static_cast<int>(per_drive.size());
  if (num_drives == 0) return Status::OK();
  const size_t chunk = opt_.chunk_size;
  // The destination is one more "drive" of the engine, with its own depth.
  const int dest = num_drives;
  const bool has_sink = writer_ != nullptr;

  unsigned threads = opt_.threads;
  if (threads == 0) {
    threads = std::max(1u, std::thread::hardware_concurrency());
  }
  threads = std::min(threads, kMaxHashThreads);

  std::vector<unsigned> depth(num_drives);
  size_t depth_total = 0;
  for (int d = 0; d < num_drives; ++d) {
    depth[d] = opt_.depth       ? opt_.depth
               : rotational_[d] ? kDefaultDepthRotational
                                : kDefaultDepthSolid;
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
  IoEngine engine(std::move(queue), num_drives + (has_sink ? 1 : 0),
                  opt_.engine, fs_);
  for (int d = 0; d < num_drives; ++d) engine.SetDepth(d, depth[d]);

  RunState rs(buffers);
  rs.opt = &opt_;
  rs.pool = &pool;
  rs.engine = &engine;
  rs.on_done = &on_done;
  rs.graveyard = &graveyard;

  std::vector<std::thread> workers;
  for (unsigned i = 0; i < threads; ++i) workers.emplace_back(HashWorker, &rs);

  // One Transfer per buffer: a buffer is in at most one read at a time.
  std::vector<Transfer> transfers(buffers);
  StageIo stage_io;  // lent to the StageWriter (Attach, below)
  std::vector<DriveCursor> cursors(num_drives);
  std::deque<PendingWrite> pending_writes;
  const uint64_t start_us = fs_->NowMicros();

  // "drive /mnt/d1", for messages (see SetDriveNames).
  auto drive_label = [&](int d) {
    return static_cast<size_t>(d) < drive_names_.size()
               ? "drive " + drive_names_[d]
               : std::string("its drive");
  };

  auto finish_without_reading = [&](const ReadJob& job, ReadOutcome out) {
    std::lock_guard<std::mutex> l(rs.done_mu);
    on_done(job, std::move(out));
  };

  // Delivers a hole for chunk `index` of f: hashed as nothing, never
  // written. May finish f.
  auto deliver_hole = [&](FileState* f, uint64_t index) {
    Chunk c;
    c.offset = index * chunk;
    if (f->staged) {  // its write will never happen
      writer_->Skip(f->staged.get(), c.offset);
      DropRef(&rs, f);
    }
    Deliver(&rs, f, c);
  };

  // Abandons what drive d has not read yet: its current file's unread
  // chunks become holes, its unopened jobs are reported with `why`, as
  // stalled (the drive stopped answering), cancelled (the run stopped) or,
  // for a drive that is gone, plain failures (unreadable).
  enum class Why { kStalled, kCancelled, kGone };
  // For a stalled drive, `why` is the request that timed out; each file
  // left unread says so, naming itself and the drive.
  auto abandon_drive = [&](int d, const Status& why, Why kind) {
    const bool stalled = kind == Why::kStalled;
    const bool cancelled = kind == Why::kCancelled;
    auto status_of = [&](const ReadJob& job) {
      if (!stalled) return why;
      return Status::TimedOut(job.path, "not read: " + drive_label(d) +
                                            " stopped answering (" +
                                            why.message() + ")");
    };
    DriveCursor& cur = cursors[d];
    if (FileState* f = cur.current) {
      cur.current = nullptr;
      Fail(f, status_of(*f->job));
      {
        std::lock_guard<std::mutex> l(f->mu);
        f->outcome.stalled |= stalled;
        f->outcome.cancelled |= cancelled;
      }
      while (f->next_issue < f->chunks_total) {
        uint64_t index = f->next_issue++;
        bool last = f->next_issue == f->chunks_total;
        deliver_hole(f, index);
        if (last) break;  // f may be gone
      }
    }
    for (; cur.next_job < per_drive[d].size(); ++cur.next_job) {
      ReadOutcome out;
      out.status = status_of(per_drive[d][cur.next_job]);
      out.stalled = stalled;
      out.cancelled = cancelled;
      finish_without_reading(per_drive[d][cur.next_job], std::move(out));
    }
  };

  bool stopped = false;  // cancelled, DEST full, or the queue failed
  auto stop_all = [&](const Status& why) {
    if (stopped) return;
    stopped = true;
    for (int d = 0; d < num_drives; ++d) abandon_drive(d, why, Why::kCancelled);
  };

  // Opens drive d's next job with data to read; finishes empty and
  // unopenable files on the spot. nullptr when the drive has no more.
  auto next_file = [&](int d) -> FileState* {
    DriveCursor& cur = cursors[d];
    while (cur.next_job < per_drive[d].size()) {
      const ReadJob& job = per_drive[d][cur.next_job++];
      ReadOptions ro;
      ro.direct = opt_.direct;
      ReadOutcome out;
      std::unique_ptr<File> file;
      std::unique_ptr<StagedFile> staged;
      out.status = fs_->OpenForRead(job.path, ro, &file);
      if (out.status.ok() && job.write) {
        out.status = open_staged_(job, &staged);
        // DEST's failure, not the drive's.
        out.write_failed = !out.status.ok();
        if (out.status.IsNoSpace() && fatal_.ok()) fatal_ = out.status;
      }
      if (out.status.err() == EMFILE || out.status.err() == ENFILE) {
        // Out of descriptors: valise's trouble (ulimit -n), not the drive's
        // or DEST's. The run stops (exit 2); the file is left unread.
        if (fatal_.ok()) {
          fatal_ = out.status.WithContext(
              "out of file descriptors (raise ulimit -n)");
        }
        out.cancelled = true;
      }
      if (!out.status.ok() || job.size == 0) {
        if (out.status.ok()) out.digests = MultiHasher(digests_).Finish();
        out.written = out.status.ok() && staged != nullptr;
        out.staged = std::move(staged);
        finish_without_reading(job, std::move(out));
        if (!fatal_.ok()) return nullptr;
        continue;
      }
      auto* f = new FileState;
      f->job = &job;
      f->file = std::move(file);
      f->staged = std::move(staged);
      f->chunks_total = (job.size + chunk - 1) / chunk;
      f->refs = static_cast<int64_t>(f->chunks_total * (f->staged ? 2 : 1));
      f->hasher = std::make_unique<MultiHasher>(digests_);
      if (make_observer_) f->observer = make_observer_(job);
      {
        std::lock_guard<std::mutex> l(rs.files_mu);
        ++rs.files_open;
      }
      return f;
    }
    return nullptr;
  };

  // Issues one read on drive d if it has room, a file and a free buffer.
  auto issue_read = [&](int d) -> bool {
    DriveCursor& cur = cursors[d];
    if (cur.stalled || !engine.HasRoom(d)) return false;
    if (cur.current == nullptr) cur.current = next_file(d);
    FileState* f = cur.current;
    if (f == nullptr) return false;
    int buf = pool.TryGet();
    if (buf < 0) return false;
    const uint64_t index = f->next_issue;
    const uint64_t offset = index * chunk;
    const uint64_t want = std::min<uint64_t>(chunk, f->job->size - offset);
    Transfer& t = transfers[buf];
    t = Transfer{};
    t.op = IoOp::kRead;
    t.file = f->file.get();
    t.offset = offset;
    t.buf = pool.data(buf);
    // O_DIRECT needs whole blocks: read the tail rounded up; the device
    // returns the bytes up to end of file.
    t.len = static_cast<uint32_t>(f->file->is_direct()
                                      ? (want + kDirectAlignment - 1) /
                                            kDirectAlignment * kDirectAlignment
                                      : want);
    t.buf_index = fixed ? buf : -1;
    t.drive = d;
    t.tag = f;
    if (++f->next_issue == f->chunks_total) cur.current = nullptr;
    Status s = engine.Submit(&t);
    if (!s.ok()) {
      pool.Put(buf);
      Fail(f, s.WithContext(f->job->path));
      deliver_hole(f, index);
    }
    return true;
  };

  // Gives the oldest pending write to the StageWriter if it has room.
  auto issue_write = [&]() -> bool {
    if (pending_writes.empty() || !writer_->HasRoom()) return false;
    PendingWrite w = pending_writes.front();
    pending_writes.pop_front();
    FileState* f = w.file;
    if (f->write_failed || stopped) {
      // Never issued: the staged file misses this chunk, so the file must
      // not count as written.
      f->write_failed = true;
      Fail(f, Status::Aborted(f->job->path, "run stopped before its write"));
      writer_->Skip(f->staged.get(), w.offset);
      ReleaseBuffer(&rs, w.buf);
      DropRef(&rs, f);
      return true;
    }
    StageChunk c;
    c.file = f->staged.get();
    c.offset = w.offset;
    c.len = w.len;
    c.buf = w.buf;
    c.last = w.offset + w.len >= f->job->size;
    c.owner = f;
    writer_->Write(c);
    return true;
  };

  auto cancelled = [&] {
    return opt_.cancel != nullptr &&
           opt_.cancel->load(std::memory_order_relaxed);
  };

  // A chunk read whole: hand it to its hasher and, with a sink, its write.
  auto accept_chunk = [&](FileState* f, uint64_t offset, uint32_t len,
                          int buf) {
    {
      std::lock_guard<std::mutex> l(f->mu);
      f->outcome.bytes_read += len;
    }
    Chunk c{offset, len, buf};
    if (f->staged && !Failed(f)) {
      rs.buf_refs[buf].store(2, std::memory_order_relaxed);
      pending_writes.push_back(PendingWrite{f, buf, offset, len});
    } else {
      rs.buf_refs[buf].store(1, std::memory_order_relaxed);
      if (f->staged) {  // no write for a failed file
        writer_->Skip(f->staged.get(), offset);
        DropRef(&rs, f);
      }
    }
    Deliver(&rs, f, c);
  };

  // Rescue, after ddrescue: a chunk that failed with a media error (EIO
  // after the engine's retries) is read again sector by sector, so that the
  // range recorded is the sectors that really fail rather than the whole
  // chunk; if every sector reads, the chunk was good after all. Sector
  // reads go through the engine like any read, with its retries, into the
  // chunk's own buffer.
  struct Rescue {
    FileState* f = nullptr;
    int buf = -1;
    uint64_t offset = 0;
    uint32_t want = 0;
    unsigned pending = 0;       // sector reads not yet finished
    unsigned held = 0;          // sector reads the kernel still holds
    std::vector<BadRange> bad;  // failed sectors, in completion order
    Status first_error;
    bool stalled = false;
  };
  std::deque<Rescue> rescues;             // stable addresses
  std::deque<Transfer> rescue_transfers;  // one per sector read
  std::vector<std::deque<Transfer*>> rescue_queue(num_drives);
  auto is_rescue = [&](const Transfer* t) {
    return t < transfers.data() || t >= transfers.data() + transfers.size();
  };

  auto start_rescue = [&](FileState* f, int buf, uint64_t offset, uint32_t want,
                          int d) {
    Rescue& r = rescues.emplace_back();
    r.f = f;
    r.buf = buf;
    r.offset = offset;
    r.want = want;
    for (uint32_t at = 0; at < want; at += kDirectAlignment) {
      Transfer& t = rescue_transfers.emplace_back();
      t.op = IoOp::kRead;
      t.file = f->file.get();
      t.offset = offset + at;
      t.buf = pool.data(buf) + at;
      t.len = static_cast<uint32_t>(kDirectAlignment);
      if (!f->file->is_direct()) {
        t.len = std::min<uint32_t>(t.len, want - at);
      }
      t.buf_index = fixed ? buf : -1;  // an address inside a fixed buffer
      t.drive = d;
      t.tag = &r;
      ++r.pending;
      rescue_queue[d].push_back(&t);
    }
  };

  // Ends a rescue whose sector reads are all back.
  auto finish_rescue = [&](Rescue* r) {
    FileState* f = r->f;
    const uint64_t index = r->offset / chunk;
    if (r->bad.empty() && !r->stalled) {
      accept_chunk(f, r->offset, r->want, r->buf);
      return;
    }
    std::sort(r->bad.begin(), r->bad.end(),
              [](const BadRange& a, const BadRange& b) {
                return a.offset < b.offset;
              });
    std::vector<BadRange> merged;
    for (const BadRange& b : r->bad) {
      if (!merged.empty() && merged.back().err == b.err &&
          merged.back().offset + merged.back().length == b.offset) {
        merged.back().length += b.length;
      } else {
        merged.push_back(b);
      }
    }
    {
      std::lock_guard<std::mutex> l(f->mu);
      for (const BadRange& b : merged) f->outcome.bad_ranges.push_back(b);
      f->outcome.stalled |= r->stalled;
    }
    Fail(f, r->first_error);
    if (r->held == 0) pool.Put(r->buf);  // else when the last comes back
    deliver_hole(f, index);
  };

  // Issues queued sector reads while their drive has room; a stopped run
  // or a stalled drive fails them unsent.
  auto issue_rescues = [&](int d) {
    while (!rescue_queue[d].empty()) {
      Transfer* t = rescue_queue[d].front();
      auto* r = static_cast<Rescue*>(t->tag);
      if (stopped || cursors[d].stalled) {
        rescue_queue[d].pop_front();
        if (r->first_error.ok()) r->first_error = Status::Aborted("stopped");
        r->bad.push_back(BadRange{t->offset, t->len, 0});
        if (--r->pending == 0) finish_rescue(r);
        continue;
      }
      if (!engine.HasRoom(d)) return;
      rescue_queue[d].pop_front();
      Status s = engine.Submit(t);
      if (!s.ok()) {
        if (r->first_error.ok()) r->first_error = s;
        r->bad.push_back(BadRange{t->offset, t->len, s.err()});
        if (--r->pending == 0) finish_rescue(r);
      }
    }
  };

  // A sector read of a rescue finished.
  auto on_rescue_read = [&](Transfer* t, uint64_t now_us) {
    auto* r = static_cast<Rescue*>(t->tag);
    const uint64_t end = r->offset + r->want;
    const uint64_t sector = std::min<uint64_t>(t->len, end - t->offset);
    if (t->late) {
      if (--r->held == 0 && r->pending == 0) pool.Put(r->buf);
      return;
    }
    DriveReadStats& st = stats_[t->drive];
    st.bytes_read += t->done;
    st.seconds = double(now_us - start_us) / 1e6;
    if (!t->status.ok() || t->done < sector) {
      Status s = t->status.ok()
                     ? Status::Corruption(t->file->path(), "short sector read")
                     : t->status;
      if (s.IsTimedOut()) s = s.WithContext(drive_label(t->drive));
      if (r->first_error.ok()) r->first_error = s;
      if (s.IsTimedOut()) {
        ++r->held;
        r->stalled = true;
        st.stalled = true;
        // The drive is given up on as after any timed-out read: what it has
        // not read yet is reported stalled (without this, its current file
        // never finished and the run waited for it for ever).
        if (!cursors[t->drive].stalled) {
          cursors[t->drive].stalled = true;
          abandon_drive(t->drive, t->status, Why::kStalled);
        }
      }
      r->bad.push_back(BadRange{t->offset, sector, s.err()});
    }
    if (--r->pending == 0) finish_rescue(r);
  };

  // A read finished: account for it and hand the chunk on.
  auto on_read = [&](Transfer* t, int buf, uint64_t now_us) {
    auto* f = static_cast<FileState*>(t->tag);
    const int d = t->drive;
    const uint64_t want = std::min<uint64_t>(chunk, f->job->size - t->offset);
    DriveReadStats& st = stats_[d];
    st.bytes_read += t->done;
    st.seconds = double(now_us - start_us) / 1e6;
    size_t second = static_cast<size_t>((now_us - start_us) / 1'000'000);
    if (st.bytes_per_second.size() <= second) {
      st.bytes_per_second.resize(second + 1);
    }
    st.bytes_per_second[second] += t->done;
    if (progress) progress->Add(d, t->done);
    const uint64_t index = t->offset / chunk;

    if (t->status.ok() && t->done >= want) {
      accept_chunk(f, t->offset, static_cast<uint32_t>(want), buf);
      return;
    }
    if (t->status.ok()) {
      // End of file before the size the scan saw.
      Fail(f, Status::Corruption(
                  f->job->path, "file shrank while being read (ends at " +
                                    std::to_string(t->offset + t->done) + ")"));
      pool.Put(buf);
    } else if (t->status.IsTimedOut()) {
      // The kernel keeps the buffer until the late completion.
      st.stalled = true;
      cursors[d].stalled = true;
      {
        std::lock_guard<std::mutex> l(f->mu);
        f->outcome.stalled = true;
      }
      Fail(f, t->status.WithContext(drive_label(d)));
      deliver_hole(f, index);  // f may be gone after this
      abandon_drive(d, t->status, Why::kStalled);
      return;
    } else if (t->status.data_loss() && want > kDirectAlignment) {
      start_rescue(f, buf, t->offset, static_cast<uint32_t>(want), d);
      return;
    } else if (DeviceGone(t->status.err())) {
      // Unplugged (ENODEV, ENXIO) or its connection lost (ENOTCONN,
      // ESHUTDOWN: a network or FUSE drive): every later read would fail
      // the same way, one by one. Give the drive up at once; the others go
      // on.
      {
        std::lock_guard<std::mutex> l(f->mu);
        f->outcome.bad_ranges.push_back(
            BadRange{t->offset, want, t->status.err()});
      }
      Fail(f, t->status);
      pool.Put(buf);
      if (!cursors[d].stalled) {
        cursors[d].stalled = true;  // nothing more is issued on it
        st.gone = "drive gone: " + t->status.message() +
                  "; its files not read yet are reported unreadable";
        deliver_hole(f, index);  // f may be gone after this
        abandon_drive(d, Status::IOError(t->status.message(), "drive gone"),
                      Why::kGone);
        return;
      }
    } else {
      {
        std::lock_guard<std::mutex> l(f->mu);
        f->outcome.bad_ranges.push_back(
            BadRange{t->offset, want, t->status.err()});
      }
      Fail(f, t->status);
      pool.Put(buf);
    }
    deliver_hole(f, index);
  };

  // The StageWriter is done with a chunk: staged, or failed.
  auto on_written = [&](const StageChunk& c, const Status& s) {
    auto* f = static_cast<FileState*>(c.owner);
    if (s.ok()) {
      bytes_written_ += c.len;
    } else {
      f->write_failed = true;
      Fail(f, s);
      // A full or stalled destination stops every drive: nothing more can
      // land.
      if ((s.IsNoSpace() || s.IsTimedOut()) && fatal_.ok()) {
        fatal_ = s;
        stop_all(s);
      }
    }
    DropRef(&rs, f);
  };
  if (has_sink) {
    StageIo io;
    io.engine = &engine;
    io.drive = dest;
    io.pool = &pool;
    io.fixed_buffers = fixed;
    io.written = on_written;
    io.release = [&rs](int buf) { ReleaseBuffer(&rs, buf); };
    io.wake = [&rs] { rs.Wake(); };
    stage_io = io;
    writer_->Attach(stage_io);
  }

  // Transfers failed by timeout whose late completion has not come back:
  // the engine still counts them in flight, but nothing waits on them.
  unsigned abandoned = 0;
  std::vector<Transfer*> done;
  for (;;) {
    if (cancelled()) stop_all(Status::Aborted("interrupted"));
    if (abort_.load(std::memory_order_acquire) && !stopped) {
      Status why;
      {
        std::lock_guard<std::mutex> l(abort_mu_);
        why = abort_status_;
      }
      if (fatal_.ok()) fatal_ = why;
      stop_all(why);
    }
    // Writes first: they give buffers back. Then fill every drive's queue,
    // round robin, one read at a time, so no drive starves the others.
    if (has_sink) {
      writer_->Poll();
      while (issue_write()) {
      }
      writer_->Issue();
    }
    for (int d = 0; d < num_drives; ++d) issue_rescues(d);
    if (!stopped) {
      bool issued = true;
      while (issued) {
        issued = false;
        for (int d = 0; d < num_drives; ++d) issued |= issue_read(d);
      }
      if (!fatal_.ok()) stop_all(fatal_);
    }

    const bool writing =
        !pending_writes.empty() || (has_sink && writer_->Busy());
    bool more_to_issue = writing;
    for (int d = 0; d < num_drives; ++d) {
      more_to_issue |= !rescue_queue[d].empty();
    }
    bool reading = false;  // reads left to issue
    if (!stopped) {
      for (int d = 0; d < num_drives; ++d) {
        const DriveCursor& cur = cursors[d];
        if (!cur.stalled &&
            (cur.current || cur.next_job < per_drive[d].size())) {
          reading = true;
        }
      }
    }
    more_to_issue |= reading;
    if (engine.in_flight() == abandoned) {
      if (!more_to_issue) break;
      bool rescuing = false;
      for (int d = 0; d < num_drives; ++d) rescuing |= !rescue_queue[d].empty();
      if (!pending_writes.empty() || rescuing) continue;
      // Every buffer is waiting to be hashed (or held by the writer): wait
      // for one to come back, or for the writer's answers.
      rs.WaitIdle(reading);
      continue;
    }

    done.clear();
    Status s = engine.Reap(&done, true, 100'000);
    if (!s.ok()) {
      // The queue itself failed: nothing more can be read on any drive.
      stop_all(s);
      if (fatal_.ok()) fatal_ = s;
      break;
    }
    const uint64_t now_us = fs_->NowMicros();
    for (Transfer* t : done) {
      if (has_sink && t->drive == dest) {  // the writer's, not in transfers
        if (t->late) {
          --abandoned;
        } else if (t->status.IsTimedOut()) {
          ++abandoned;
        }
        writer_->OnComplete(t);
        continue;
      }
      if (is_rescue(t)) {
        if (!t->late && t->status.IsTimedOut()) ++abandoned;
        if (t->late) --abandoned;
        on_rescue_read(t, now_us);
        continue;
      }
      const int buf = static_cast<int>(t - transfers.data());
      if (t->late) {  // its chunk was already given up on
        --abandoned;
        pool.Put(buf);
      } else {
        if (t->status.IsTimedOut()) ++abandoned;
        on_read(t, buf, now_us);
      }
    }
    if (progress) progress->Tick();
  }
  // Writes never issued (the run stopped) give their references back.
  for (const PendingWrite& w : pending_writes) {
    w.file->write_failed = true;
    Fail(w.file,
         Status::Aborted(w.file->job->path, "run stopped before its write"));
    writer_->Skip(w.file->staged.get(), w.offset);
    ReleaseBuffer(&rs, w.buf);
    DropRef(&rs, w.file);
  }
  pending_writes.clear();

  // Every read is done; wait for the hashers to finish the open files.
  {
    std::unique_lock<std::mutex> l(rs.files_mu);
    rs.files_cv.wait(l, [&] { return rs.files_open == 0; });
  }
  rs.hash_queue.Close();
  for (auto& w : workers) w.join();
  return Status::OK();
}

}  // namespace valise
