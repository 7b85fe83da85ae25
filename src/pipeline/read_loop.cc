// The read loop: the I/O thread of a Reader::Run (see reader.h for the
// shape, hash_schedule.h for what it shares with the hashing threads).
//
// A round (Fill): writes first (they give buffers back), then the sector
// rescues' reads, then reads on every drive, round robin, one at a time,
// so no drive starves the others. A read goes into a free buffer of the
// pool; a drive with no room, no file or no buffer waits for the next
// round. DriveEngine reaps, and each completion comes back here
// (Complete): a read (OnReadDone), a sector read (SectorRescue), or one of
// the StageWriter's writes.
//
// A chunk read whole (AcceptChunk) goes to its file's hasher and, for a
// staged file, to the StageWriter (QueueWrite: in read-completion order,
// when the writer has room); its buffer returns to the pool when both are
// done with it.
//
// Dedup by chunk (chunk_dedup.h), for a staged file: before a chunk is
// read, its signed digest may say it need not be (SkipKnown: zeros, a
// hole; or a chunk staged and verified already, cloned), or that a chunk
// with that digest is being read elsewhere: the drive passes it over and
// reads on (Deferred), and takes it up once that one is a source (cloned)
// or known not to become one (read); once
// read, a chunk of zeros, or one whose digest became a source meanwhile,
// is hashed and checked but not written (NotWritten). Each chunk read
// reports when its write is done (WriteDone) so it may become a source. A chunk
// that fails becomes a hole (DeliverHole): the file has failed, the rest of it
// and of its drive is still read.
//
// Failures, by what the device said:
//   - end of file before the scanned size: the file shrank (Corruption);
//   - a media error (after the engine's retries): the chunk is read again
//     sector by sector (sector_rescue.cc);
//   - a timeout: the drive stalled; its unread files are reported stalled
//     (AbandonDrive) while the other drives go on;
//   - the device gone (ENODEV, ENXIO, ENOTCONN, ESHUTDOWN): the drive is
//     given up at once, its unread files reported unreadable;
//   - anything else: the chunk's range is recorded unreadable.
// DEST full or stalled, the queue failing, running out of descriptors,
// cancellation (SIGINT) or an Abort stop every drive (StopAll): what is in
// flight finishes, every file not finished is reported with why.
#include "pipeline/read_loop.h"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <string>

namespace valise {

namespace {

// An errno saying the device itself is gone, not one sector.
bool DeviceGone(int err) {
  return err == ENODEV || err == ENXIO || err == ENOTCONN || err == ESHUTDOWN;
}

}  // namespace

ReadLoop::ReadLoop(const ReadLoopConfig& config,
                   const std::vector<std::vector<ReadJob>>& per_drive,
                   RunState* rs, std::vector<DriveReadStats>* stats)
    : cfg_(config),
      per_drive_(per_drive),
      num_drives_(static_cast<int>(per_drive.size())),
      chunk_(config.opt->chunk_size),
      rs_(rs),
      stats_(stats),
      transfers_(rs->pool->count()),
      cursors_(per_drive.size()),
      rescue_(this, rs, rs->engine, config.fixed_buffers,
              static_cast<int>(per_drive.size())),
      opener_(per_drive, OpenAheadPerDrive(per_drive.size()),
              [this](const ReadJob& job, FileOpener::Opened* o) {
                OpenSource(job, o);
                if (cfg_.stage_ahead) OpenStaged(job, o);
              }),
      start_us_(config.fs->NowMicros()) {
  if (cfg_.dedup != nullptr) cfg_.dedup->SetWake([rs] { rs->Wake(); });
  if (cfg_.writer == nullptr) return;
  stage_io_.engine = rs_->engine;
  stage_io_.drive = cfg_.dest_drive;
  stage_io_.pool = rs_->pool;
  stage_io_.fixed_buffers = cfg_.fixed_buffers;
  stage_io_.written = [this](const StageChunk& c, const Status& s) {
    OnWritten(c, s);
  };
  stage_io_.release = [rs](int buf) { ReleaseBuffer(rs, buf); };
  stage_io_.wake = [rs] { rs->Wake(); };
  cfg_.writer->Attach(stage_io_);
}

ReadLoop::~ReadLoop() {
  if (cfg_.dedup != nullptr) cfg_.dedup->SetWake(nullptr);
}

void ReadLoop::Run() {
  Status s = DriveEngine(rs_->engine, this, cfg_.fs);
  if (!s.ok()) {
    // The queue itself failed: nothing more can be read on any drive.
    StopAll(s);
    if (fatal_.ok()) fatal_ = s;
  }
  DropPendingWrites();
  opener_.Stop();  // a late open of a drive given up is handed over
}

// Whether a job's `only` runs are in order, within its file, and it is
// read without whole-file digests (they need every byte).
bool ReadLoop::OnlyChunksValid(const ReadJob& job) const {
  if (!cfg_.digests.empty()) return false;
  const uint64_t total = (job.size + chunk_ - 1) / chunk_;
  uint64_t after = 0;
  for (const ChunkRun& r : job.only) {
    if (r.first < after || r.first >= r.end || r.end > total) return false;
    after = r.end;
  }
  return true;
}

// The chunks `job` reads of a file of `total` chunks.
uint64_t ReadLoop::ChunksToRead(const ReadJob& job, uint64_t total) const {
  if (job.only.empty()) return total - FirstChunkToRead(job, chunk_, total);
  uint64_t n = 0;
  for (const ChunkRun& r : job.only) n += r.end - r.first;
  return n;
}

// --- The rounds (EngineClient).

void ReadLoop::Fill() {
  if (Cancelled()) StopAll(Status::Aborted("interrupted"));
  if (cfg_.abort != nullptr && cfg_.abort->raised() && !stopped_) {
    Status why = cfg_.abort->why();
    if (fatal_.ok()) fatal_ = why;
    StopAll(why);
  }
  // Writes first: they give buffers back. Then fill every drive's queue,
  // round robin, one read at a time, so no drive starves the others.
  if (cfg_.writer != nullptr) {
    cfg_.writer->Poll();
    while (QueueWrite()) {
    }
    cfg_.writer->Issue();
  }
  for (int d = 0; d < num_drives_; ++d) rescue_.Issue(d);
  waiting_ = false;
  if (!stopped_) {
    bool issued = true;
    while (issued) {
      issued = false;
      for (int d = 0; d < num_drives_; ++d) issued |= QueueRead(d);
    }
    if (!fatal_.ok()) StopAll(fatal_);
  }
}

bool ReadLoop::HasWork() {
  return !pending_writes_.empty() ||
         (cfg_.writer != nullptr && cfg_.writer->Busy()) || rescue_.Queued() ||
         Reading();
}

void ReadLoop::Idle() {
  if (!pending_writes_.empty() || rescue_.Queued()) return;
  // Every buffer is waiting to be hashed (or held by the writer): wait for
  // one to come back, or for the writer's answers.
  // A drive waiting for a pending chunk (SkipKnown), or kept from reading
  // by the buffers saved for chunks passed over, waits for a wake: a
  // chunk resolved, a buffer back.
  rs_->WaitIdle(Reading() && !waiting_);
}

void ReadLoop::Complete(Transfer* t, uint64_t now_us) {
  if (cfg_.writer != nullptr && t->drive == cfg_.dest_drive) {
    cfg_.writer->OnComplete(t);  // one of the writer's, not in transfers_
    return;
  }
  if (t < transfers_.data() || t >= transfers_.data() + transfers_.size()) {
    rescue_.OnRead(t, now_us);
    return;
  }
  const int buf = static_cast<int>(t - transfers_.data());
  if (t->late) {  // its chunk was already given up on
    rs_->pool->Put(buf);
    return;
  }
  OnReadDone(t, buf, now_us);
}

void ReadLoop::Reaped() {
  if (cfg_.progress) cfg_.progress->Tick();
}

// --- Reads.

// Opens job's source (on the FileOpener's thread, or the I/O thread).
void ReadLoop::OpenSource(const ReadJob& job, FileOpener::Opened* o) const {
  ReadOptions ro;
  ro.direct = cfg_.opt->direct;
  o->status = cfg_.fs->OpenForRead(job.path, ro, &o->file);
  if (o->status.ok() && job.start > 0 &&
      (job.start % chunk_ != 0 || job.start >= job.size ||
       !cfg_.digests.empty())) {
    // Whole-file digests need every byte; a start must be a chunk's.
    o->status = Status::InvalidArgument(job.path,
                                        "internal: cannot start reading at " +
                                            std::to_string(job.start) + " of " +
                                            std::to_string(job.size));
  }
  if (o->status.ok() && (!job.only.empty() || job.keep_going) &&
      !OnlyChunksValid(job)) {
    o->status = Status::InvalidArgument(
        job.path, "internal: cannot read only some chunks of it");
  }
}

// Makes job's staged file, if it is staged and its source opened.
void ReadLoop::OpenStaged(const ReadJob& job, FileOpener::Opened* o) const {
  if (!o->status.ok() || !job.write) return;
  o->status = (*cfg_.open_staged)(job, &o->staged);
  o->write_failed = !o->status.ok();  // DEST's failure, not the drive's
}

// Takes drive d's next job with data to read, opened (FileOpener);
// finishes empty and unopenable files on the spot. nullptr when the drive
// has no more.
FileState* ReadLoop::NextFile(int d) {
  DriveCursor& cur = cursors_[d];
  while (cur.next_job < per_drive_[d].size()) {
    const size_t i = cur.next_job++;
    const ReadJob& job = per_drive_[d][i];
    FileOpener::Opened opened = opener_.Take(d, i);
    if (!cfg_.stage_ahead) OpenStaged(job, &opened);
    std::unique_ptr<File> file = std::move(opened.file);
    std::unique_ptr<StagedFile> staged = std::move(opened.staged);
    ReadOutcome out;
    out.start = job.start;
    out.bytes_known = BytesKnown(job, chunk_, job.size);
    out.status = std::move(opened.status);
    out.write_failed = opened.write_failed;
    if (out.write_failed && out.status.IsNoSpace() && fatal_.ok()) {
      fatal_ = out.status;
    }
    if (out.status.err() == EMFILE || out.status.err() == ENFILE) {
      // Out of descriptors: valise's trouble (ulimit -n), not the drive's
      // or DEST's. The run stops (exit 2); the file is left unread.
      // Said once, with the limit: the files after it carry the same
      // reason and are counted, not repeated.
      struct rlimit rl {};
      getrlimit(RLIMIT_NOFILE, &rl);
      out.status = out.status.WithContext(
          "out of file descriptors (ulimit -n is " +
          (rl.rlim_cur == RLIM_INFINITY ? std::string("unlimited")
                                        : std::to_string(rl.rlim_cur)) +
          "; raise it: 1024 or more is enough for most runs)");
      if (fatal_.ok()) fatal_ = out.status;
      out.cancelled = true;
    }
    if (!out.status.ok() || job.size == 0) {
      if (out.status.ok()) out.digests = MultiHasher(cfg_.digests).Finish();
      out.written = out.status.ok() && staged != nullptr;
      out.staged = std::move(staged);
      rs_->FinishWithoutReading(job, std::move(out));
      if (!fatal_.ok()) return nullptr;
      continue;
    }
    auto* f = new FileState;
    f->job = &job;
    f->file = std::move(file);
    f->staged = std::move(staged);
    f->chunks_total = (job.size + chunk_ - 1) / chunk_;
    f->next_issue = FirstChunkToRead(job, chunk_, f->chunks_total);
    f->next_hash = f->next_issue * chunk_;
    f->outcome.start = job.start;
    f->outcome.bytes_known = out.bytes_known;
    f->refs = static_cast<int64_t>(ChunksToRead(job, f->chunks_total) *
                                   (f->staged ? 2 : 1));
    f->hasher = std::make_unique<MultiHasher>(cfg_.digests);
    if (cfg_.make_observer && *cfg_.make_observer) {
      f->observer = (*cfg_.make_observer)(job);
    }
    if (cfg_.dedup != nullptr && f->staged) SetUpDedup(f);
    {
      std::lock_guard<std::mutex> l(rs_->files_mu);
      ++rs_->files_open;
    }
    return f;
  }
  return nullptr;
}

// Issues one read on drive d if it has room, a file and a free buffer;
// or takes up a chunk passed over earlier (TakeUpDeferred), or passes one
// over (SkipKnown's kWait). True if it did something.
bool ReadLoop::QueueRead(int d) {
  DriveCursor& cur = cursors_[d];
  if (cur.stalled || !rs_->engine->HasRoom(d)) return false;
  if (!cur.deferred.empty()) {
    switch (TakeUpDeferred(d)) {
      case Skip::kDone:
        return true;
      case Skip::kRead:
        return false;  // no buffer: every deferred chunk waits for one
      case Skip::kWait:
        break;
    }
  }
  if (cur.current == nullptr) cur.current = NextFile(d);
  FileState* f = cur.current;
  if (f == nullptr) {
    if (!cur.deferred.empty()) waiting_ = true;
    return false;
  }
  const uint64_t index = f->next_issue;
  if (f->skip_known) {
    ChunkSha256 digest;
    switch (SkipKnown(f, index, &digest)) {
      case Skip::kDone:
        Advance(d, f, index);
        DeliverKnown(d, f, index);
        return true;
      case Skip::kWait:
        if (cur.deferred.size() < kMaxDeferred &&
            rs_->pool->free_count() > deferred_ + 1) {
          // Read past it: the chunks after it are read meanwhile, and it
          // is taken up once its twin is a source or known not to become
          // one.
          Advance(d, f, index);
          cur.deferred.push_back(
              Deferred{f, index, digest, cfg_.dedup->Next()});
          ++deferred_;
          ++(*stats_)[d].chunks_read_past;
          return true;
        }
        waiting_ = true;
        return false;
      case Skip::kRead:
        break;
    }
  }
  // Keep one free buffer for each chunk passed over, so it can always be
  // read if its twin fails: the chunks read after it hold their buffers
  // until it is hashed.
  if (deferred_ > 0 && rs_->pool->free_count() <= deferred_) {
    waiting_ = true;  // for a buffer back, or a twin resolved: both wake
    return false;
  }
  return ReadChunk(d, f, index, true);
}

// Drive d's first deferred chunk whose twin is no longer pending, if any:
// cloned (kDone), or read (kDone; kRead if no buffer is free). kWait if
// every one is still pending.
ReadLoop::Skip ReadLoop::TakeUpDeferred(int d) {
  DriveCursor& cur = cursors_[d];
  for (auto it = cur.deferred.begin(); it != cur.deferred.end(); ++it) {
    const Deferred e = *it;
    if (!Failed(e.file) && !e.file->write_failed &&
        cfg_.dedup->Pending(e.digest, e.before)) {
      continue;
    }
    const bool cloned = !Failed(e.file) && !e.file->write_failed &&
                        Clone(e.file, e.index, e.digest);
    if (!cloned && rs_->pool->free_count() == 0) return Skip::kRead;
    cur.deferred.erase(it);
    --deferred_;
    if (cloned) {
      CountKnown(e.file, false);
      DeliverKnown(d, e.file, e.index);
    } else {
      ReadChunk(d, e.file, e.index, false);
    }
    return Skip::kDone;
  }
  return Skip::kWait;
}

// f's chunk `index` is the one issued from drive d's cursor: the cursor
// moves on to f's next chunk, or off f after its last.
void ReadLoop::Advance(int d, FileState* f, uint64_t index) {
  f->next_issue = NextChunkToRead(*f->job, index, f->chunks_total);
  if (f->next_issue == f->chunks_total) cursors_[d].current = nullptr;
}

// Reads chunk `index` of f into a free buffer (false, nothing done, if
// none is free). `from_cursor`: it is drive d's next chunk (Advance).
bool ReadLoop::ReadChunk(int d, FileState* f, uint64_t index,
                         bool from_cursor) {
  int buf = rs_->pool->TryGet();
  if (buf < 0) return false;
  if (f->dedup) Issue(f, index);
  const uint64_t offset = index * chunk_;
  const uint64_t want = std::min<uint64_t>(chunk_, f->job->size - offset);
  Transfer& t = transfers_[buf];
  t = Transfer{};
  t.op = IoOp::kRead;
  t.file = f->file.get();
  t.offset = offset;
  t.buf = rs_->pool->data(buf);
  // O_DIRECT needs whole blocks: read the tail rounded up; the device
  // returns the bytes up to end of file.
  t.len = static_cast<uint32_t>(f->file->is_direct()
                                    ? (want + kDirectAlignment - 1) /
                                          kDirectAlignment * kDirectAlignment
                                    : want);
  t.buf_index = cfg_.fixed_buffers ? buf : -1;
  t.drive = d;
  t.tag = f;
  if (from_cursor) Advance(d, f, index);
  Status s = rs_->engine->Submit(&t);
  if (!s.ok()) {
    rs_->pool->Put(buf);
    Fail(f, s.WithContext(f->job->path));
    DeliverHole(f, index);  // f may be gone
  }
  return true;
}

// A read finished: account for it and hand the chunk on.
void ReadLoop::OnReadDone(Transfer* t, int buf, uint64_t now_us) {
  auto* f = static_cast<FileState*>(t->tag);
  const int d = t->drive;
  const uint64_t want = std::min<uint64_t>(chunk_, f->job->size - t->offset);
  DriveReadStats& st = (*stats_)[d];
  CountRead(d, t->done, now_us);
  size_t second = static_cast<size_t>((now_us - start_us_) / 1'000'000);
  if (st.bytes_per_second.size() <= second) {
    st.bytes_per_second.resize(second + 1);
  }
  st.bytes_per_second[second] += t->done;
  if (cfg_.progress) cfg_.progress->Add(d, t->done);
  const uint64_t index = t->offset / chunk_;

  if (t->status.ok() && t->done >= want) {
    AcceptChunk(f, t->offset, static_cast<uint32_t>(want), buf);
    return;
  }
  if (t->status.ok()) {
    // End of file before the size the scan saw.
    Fail(f, Status::Corruption(f->job->path,
                               "file shrank while being read (ends at " +
                                   std::to_string(t->offset + t->done) + ")"));
    rs_->pool->Put(buf);
  } else if (t->status.IsTimedOut()) {
    // The kernel keeps the buffer until the late completion.
    st.stalled = true;
    cursors_[d].stalled = true;
    {
      std::lock_guard<std::mutex> l(f->mu);
      f->outcome.stalled = true;
    }
    Fail(f, t->status.WithContext(DriveLabel(d)));
    DeliverHole(f, index);  // f may be gone after this
    AbandonDrive(d, t->status, Why::kStalled);
    return;
  } else if (t->status.data_loss() && want > kDirectAlignment) {
    rescue_.Start(f, buf, t->offset, static_cast<uint32_t>(want), d);
    return;
  } else if (DeviceGone(t->status.err())) {
    // Unplugged (ENODEV, ENXIO) or its connection lost (ENOTCONN,
    // ESHUTDOWN: a network or FUSE drive): every later read would fail the
    // same way, one by one. Give the drive up at once; the others go on.
    {
      std::lock_guard<std::mutex> l(f->mu);
      f->outcome.bad_ranges.push_back(
          BadRange{t->offset, want, t->status.err()});
    }
    Fail(f, t->status);
    rs_->pool->Put(buf);
    if (!cursors_[d].stalled) {
      cursors_[d].stalled = true;  // nothing more is issued on it
      st.gone = "drive gone: " + t->status.message() +
                "; its files not read yet are reported unreadable";
      DeliverHole(f, index);  // f may be gone after this
      AbandonDrive(d, Status::IOError(t->status.message(), "drive gone"),
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
    rs_->pool->Put(buf);
  }
  DeliverHole(f, index);
}

// A chunk read whole: hand it to its hasher and, when staged, its write.
void ReadLoop::AcceptChunk(FileState* f, uint64_t offset, uint32_t len,
                           int buf) {
  {
    std::lock_guard<std::mutex> l(f->mu);
    f->outcome.bytes_read += len;
  }
  Chunk c{offset, len, buf};
  // With keep_going, a chunk read whole is staged even once the file has
  // failed (its good chunks stay for a repair by chunk), unless its
  // writes failed or the run stopped (QueueWrite).
  if (f->staged && !Failed(f) && f->dedup && NotWritten(f, offset, len, buf)) {
    rs_->buf_refs[buf].store(1, std::memory_order_relaxed);
    WriteDone(f, offset, false);
    DropRef(rs_, f);  // its write
  } else if (f->staged && (f->job->keep_going || !Failed(f))) {
    rs_->buf_refs[buf].store(2, std::memory_order_relaxed);
    pending_writes_.push_back(PendingWrite{f, buf, offset, len});
  } else {
    rs_->buf_refs[buf].store(1, std::memory_order_relaxed);
    if (f->staged) {  // no write for a failed file
      cfg_.writer->Skip(f->staged.get(), offset);
      WriteDone(f, offset, false);
      DropRef(rs_, f);
    }
  }
  Deliver(rs_, f, c);
}

// Delivers a hole for chunk `index` of f: hashed as nothing, never
// written. May finish f.
void ReadLoop::DeliverHole(FileState* f, uint64_t index) {
  Chunk c;
  c.offset = index * chunk_;
  if (f->staged) {  // its write will never happen
    cfg_.writer->Skip(f->staged.get(), c.offset);
    WriteDone(f, c.offset, false);
    DropRef(rs_, f);
  }
  Deliver(rs_, f, c);
}

bool ReadLoop::DriveStopped(int d) const {
  return stopped_ || cursors_[d].stalled;
}

void ReadLoop::DriveStalled(int d, const Status& why) {
  (*stats_)[d].stalled = true;
  if (!cursors_[d].stalled) {
    cursors_[d].stalled = true;
    AbandonDrive(d, why, Why::kStalled);
  }
}

// "drive /mnt/d1", for messages (see Reader::SetDriveNames).
std::string ReadLoop::DriveLabel(int d) const {
  const std::vector<std::string>* names = cfg_.drive_names;
  return names != nullptr && static_cast<size_t>(d) < names->size()
             ? "drive " + (*names)[d]
             : std::string("its drive");
}

void ReadLoop::CountRead(int d, uint64_t bytes, uint64_t now_us) {
  DriveReadStats& st = (*stats_)[d];
  st.bytes_read += bytes;
  st.seconds = double(now_us - start_us_) / 1e6;
}

// True while some drive has reads left to issue.
bool ReadLoop::Reading() const {
  if (stopped_) return false;
  for (int d = 0; d < num_drives_; ++d) {
    const DriveCursor& cur = cursors_[d];
    if (!cur.stalled && (cur.current || cur.next_job < per_drive_[d].size() ||
                         !cur.deferred.empty())) {
      return true;
    }
  }
  return false;
}

// --- Dedup by chunk (chunk_dedup.h).

// A staged file's dedup: its signed digests, its chunks as sources once
// written and verified (the checker's on_good), and whether its chunks may
// go unread: only when nothing but the checker needs their bytes (no
// whole-file digest, no XXH3 chunk digests) and it counts them.
void ReadLoop::SetUpDedup(FileState* f) {
  f->dedup =
      std::make_shared<FileDedup>(cfg_.dedup, f->job->id, f->staged.get());
  if (f->observer && f->dedup->clones()) {
    f->observer->on_good = [d = f->dedup](uint64_t index) {
      d->Verified(index);
    };
  }
  // Not for a repair by chunk (its chunks are chosen already); the first
  // copy of a file read with keep_going (its good chunks kept for a
  // repair) may skip: a chunk cloned or left a hole is in the staged file
  // as much as one written, and its checker counts it good.
  f->skip_known = cfg_.dedup->index() != nullptr && cfg_.digests.empty() &&
                  !f->job->chunk_digests && f->job->only.empty() &&
                  f->observer && f->observer->TakesKnownChunks();
}

// Chunk `index` of staged file f is not read if its signed digest says
// DEST can have it without: a whole chunk of zeros (a hole), or one staged
// and verified earlier in the run (cloned): kDone, and the caller
// delivers it (DeliverKnown). If a chunk with its digest (*digest) is
// being read and staged (pending), kWait: it may become a source soon.
// Else kRead.
ReadLoop::Skip ReadLoop::SkipKnown(FileState* f, uint64_t index,
                                   ChunkSha256* digest) {
  const uint64_t offset = index * chunk_;
  if (f->job->size - offset < chunk_ || f->write_failed || Failed(f)) {
    return Skip::kRead;
  }
  if (!f->dedup->Digest(index, digest)) return Skip::kRead;
  const bool hole = cfg_.dedup->holes() && cfg_.dedup->IsZeroChunk(*digest);
  if (hole) {
    cfg_.dedup->dest()->LeaveHole(f->staged.get(), offset, chunk_);
  } else if (!Clone(f, index, *digest)) {
    return f->dedup->clones() && cfg_.dedup->Pending(*digest) ? Skip::kWait
                                                              : Skip::kRead;
  }
  CountKnown(f, hole);
  return Skip::kDone;
}

// A whole chunk of f left as a hole or cloned, not read.
void ReadLoop::CountKnown(FileState* f, bool hole) {
  std::lock_guard<std::mutex> l(f->mu);
  f->outcome.bytes_known += chunk_;
  f->outcome.bytes_not_read += chunk_;
  (hole ? f->outcome.bytes_holes : f->outcome.bytes_cloned) += chunk_;
}

// Hands chunk `index` of f, not read (SkipKnown), to its hasher as known;
// drive d's progress counts it. f may be gone after.
void ReadLoop::DeliverKnown(int d, FileState* f, uint64_t index) {
  if (cfg_.progress) cfg_.progress->Add(d, chunk_);
  DropRef(rs_, f);  // its write; its hash still holds f
  Deliver(rs_, f,
          Chunk{index * chunk_, static_cast<uint32_t>(chunk_), kKnownChunk});
}

// Chunk `index` of f is about to be read: a whole chunk that may become a
// source is pending until it is known whether it does (FileDedup::Issued).
void ReadLoop::Issue(FileState* f, uint64_t index) {
  ChunkSha256 digest;
  if (!f->dedup->clones() || f->job->size - index * chunk_ < chunk_ ||
      !f->dedup->Digest(index, &digest) || cfg_.dedup->IsZeroChunk(digest)) {
    return;
  }
  f->dedup->Issued(index, digest);
}

// The write of f's chunk at `offset` is done (`ok`: written whole), or
// will never happen.
void ReadLoop::WriteDone(FileState* f, uint64_t offset, bool ok) {
  if (f->dedup) f->dedup->WriteDone(offset / chunk_, ok);
}

// A chunk read (in `buf`) of a staged file is not written if its bytes are
// all zeros (a hole) or its signed digest is a source's (cloned). It is
// hashed and checked all the same. True if so.
bool ReadLoop::NotWritten(FileState* f, uint64_t offset, uint32_t len,
                          int buf) {
  if (f->write_failed) return false;
  // A repair by chunk (`only` set) reopens the staged file as it is: its
  // missing chunks hold the bad bytes an earlier copy wrote, so zeros are
  // written there, never left as a hole.
  const bool hole = cfg_.dedup->holes() && f->job->only.empty() &&
                    AllZero(rs_->pool->data(buf), len);
  if (hole) {
    cfg_.dedup->dest()->LeaveHole(f->staged.get(), offset, len);
  } else {
    ChunkSha256 digest;
    if (len != chunk_ || !f->dedup->Digest(offset / chunk_, &digest) ||
        !Clone(f, offset / chunk_, digest)) {
      return false;
    }
  }
  std::lock_guard<std::mutex> l(f->mu);
  (hole ? f->outcome.bytes_holes : f->outcome.bytes_cloned) += len;
  return true;
}

// Clones whole chunk `index` of f from the source with signed digest
// `digest`, if there is one; false (nothing changed) otherwise or if the
// clone fails: the chunk is then read or written as usual.
bool ReadLoop::Clone(FileState* f, uint64_t index, const ChunkSha256& digest) {
  if (!f->dedup->clones()) return false;
  std::shared_ptr<File> from;
  uint64_t at = 0;
  if (!cfg_.dedup->Find(digest, &from, &at)) return false;
  return cfg_.dedup->dest()
      ->CloneChunk(f->staged.get(), index * chunk_, *from, at,
                   static_cast<uint32_t>(chunk_))
      .ok();
}

// --- Writes.

// Gives the oldest pending write to the StageWriter if it has room.
bool ReadLoop::QueueWrite() {
  if (pending_writes_.empty() || !cfg_.writer->HasRoom()) return false;
  PendingWrite w = pending_writes_.front();
  pending_writes_.pop_front();
  FileState* f = w.file;
  if (f->write_failed || stopped_) {
    // Never issued: the staged file misses this chunk, so the file must
    // not count as written.
    f->write_failed = true;
    Fail(f, Status::Aborted(f->job->path, "run stopped before its write"));
    cfg_.writer->Skip(f->staged.get(), w.offset);
    WriteDone(f, w.offset, false);
    ReleaseBuffer(rs_, w.buf);
    DropRef(rs_, f);
    return true;
  }
  StageChunk c;
  c.file = f->staged.get();
  c.offset = w.offset;
  c.len = w.len;
  c.buf = w.buf;
  c.last = w.offset + w.len >= f->job->size;
  c.owner = f;
  cfg_.writer->Write(c);
  return true;
}

// The StageWriter is done with a chunk: staged, or failed.
void ReadLoop::OnWritten(const StageChunk& c, const Status& s) {
  auto* f = static_cast<FileState*>(c.owner);
  if (s.ok()) {
    bytes_written_ += c.len;
    WriteDone(f, c.offset, true);
  } else {
    WriteDone(f, c.offset, false);
    f->write_failed = true;
    Fail(f, s);
    // A full or stalled destination stops every drive: nothing more can
    // land.
    if ((s.IsNoSpace() || s.IsTimedOut()) && fatal_.ok()) {
      fatal_ = s;
      StopAll(s);
    }
  }
  DropRef(rs_, f);
}

// Writes never issued (the run stopped) give their references back.
void ReadLoop::DropPendingWrites() {
  for (const PendingWrite& w : pending_writes_) {
    w.file->write_failed = true;
    Fail(w.file,
         Status::Aborted(w.file->job->path, "run stopped before its write"));
    cfg_.writer->Skip(w.file->staged.get(), w.offset);
    WriteDone(w.file, w.offset, false);
    ReleaseBuffer(rs_, w.buf);
    DropRef(rs_, w.file);
  }
  pending_writes_.clear();
}

// --- Stopping.

// Abandons what drive d has not read yet: its current file's unread chunks
// become holes, its unopened jobs are reported with `why`, as stalled (the
// drive stopped answering), cancelled (the run stopped) or, for a drive
// that is gone, plain failures (unreadable). For a stalled drive, `why` is
// the request that timed out; each file left unread says so, naming
// itself and the drive.
void ReadLoop::AbandonDrive(int d, const Status& why, Why kind) {
  DriveCursor& cur = cursors_[d];
  if (!cur.abandoned) {
    cur.abandoned = true;
    cur.abandoned_why = why;
    cur.abandoned_as = kind;
  }
  if (FileState* f = cur.current) {
    cur.current = nullptr;
    FailUnread(f, d);
    while (f->next_issue < f->chunks_total) {
      uint64_t index = f->next_issue;
      f->next_issue = NextChunkToRead(*f->job, index, f->chunks_total);
      bool last = f->next_issue == f->chunks_total;
      DeliverHole(f, index);
      if (last) break;  // f may be gone
    }
  }
  while (!cur.deferred.empty()) {
    const Deferred e = cur.deferred.front();
    cur.deferred.pop_front();
    --deferred_;
    FailUnread(e.file, d);
    DeliverHole(e.file, e.index);  // e.file may be gone
  }
  // Files opened ahead go with their outcome (a staged one is the core's
  // to discard or keep); one being opened, once its open returns.
  FileOpener::Dropped ahead =
      opener_.Drop(d, [this, d](const ReadJob& job, FileOpener::Opened&& o) {
        rs_->FinishWithoutReading(job, UnreadOutcome(d, job, std::move(o)));
      });
  size_t k = 0;
  for (; cur.next_job < per_drive_[d].size(); ++cur.next_job) {
    if (ahead.under_way == cur.next_job) continue;
    FileOpener::Opened o;
    if (k < ahead.opened.size() && ahead.opened[k].first == cur.next_job) {
      o = std::move(ahead.opened[k++].second);
    }
    const ReadJob& job = per_drive_[d][cur.next_job];
    rs_->FinishWithoutReading(job, UnreadOutcome(d, job, std::move(o)));
  }
}

// What a job drive d leaves unread reports, with what was opened for it.
// It reads only what the drive's first AbandonDrive set, once, before it
// dropped the drive: so the opening thread may call it too (a late open).
ReadOutcome ReadLoop::UnreadOutcome(int d, const ReadJob& job,
                                    FileOpener::Opened&& o) const {
  const DriveCursor& cur = cursors_[d];
  ReadOutcome out;
  out.status = AbandonedStatus(d, job);
  out.stalled = cur.abandoned_as == Why::kStalled;
  out.cancelled = cur.abandoned_as == Why::kCancelled;
  out.staged = std::move(o.staged);
  return out;
}

// What a file drive d left unread reports: for a stalled drive, the file
// and the request that timed out; else why the drive was abandoned.
Status ReadLoop::AbandonedStatus(int d, const ReadJob& job) const {
  const DriveCursor& cur = cursors_[d];
  if (cur.abandoned_as != Why::kStalled) return cur.abandoned_why;
  return Status::TimedOut(job.path, "not read: " + DriveLabel(d) +
                                        " stopped answering (" +
                                        cur.abandoned_why.message() + ")");
}

void ReadLoop::FailUnread(FileState* f, int d) {
  const DriveCursor& cur = cursors_[d];
  Fail(f, AbandonedStatus(d, *f->job));
  std::lock_guard<std::mutex> l(f->mu);
  f->outcome.stalled |= cur.abandoned_as == Why::kStalled;
  f->outcome.cancelled |= cur.abandoned_as == Why::kCancelled;
}

// Cancelled, DEST full, or the queue failed: every drive stops.
void ReadLoop::StopAll(const Status& why) {
  if (stopped_) return;
  stopped_ = true;
  for (int d = 0; d < num_drives_; ++d) AbandonDrive(d, why, Why::kCancelled);
}

bool ReadLoop::Cancelled() const {
  return cfg_.opt->cancel != nullptr &&
         cfg_.opt->cancel->load(std::memory_order_relaxed);
}

}  // namespace valise
