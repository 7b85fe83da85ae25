// Hash scheduling: one file's chunks may complete out of order (several
// reads of it in flight), but its SHA-256 is sequential. Each completed
// chunk waits in its file's `ready` map; when the chunk at next_hash is
// there and no hashing thread holds the file, the file is queued, and the
// thread that takes it hashes every chunk that is ready in order, then lets
// the file go. So one file is hashed by one thread at a time, files and
// drives in parallel, and a thread never waits for a chunk.
//
// Each chunk is run through the file's digests (MultiHasher) and, if asked,
// its own XXH3-128 (the chunk index). A hole (a chunk that failed or will
// never be read) is skipped: the file has failed already (with keep_going
// its observer is told, and still sees the chunks after it). A job that
// reads only some chunks (ReadJob::only) is hashed along those.
//
// When a file's last reference drops (every chunk hashed, every staged
// write done), it is finished: digests computed, on_done called (one file
// at a time), and the FileState deleted.
#include "pipeline/hash_schedule.h"

#include <chrono>

namespace valise {

void HashQueue::Push(FileState* f) {
  {
    std::lock_guard<std::mutex> l(mu_);
    q_.push_back(f);
  }
  cv_.notify_one();
}

FileState* HashQueue::Pop() {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [this] { return closed_ || !q_.empty(); });
  if (q_.empty()) return nullptr;
  FileState* f = q_.front();
  q_.pop_front();
  return f;
}

void HashQueue::Close() {
  {
    std::lock_guard<std::mutex> l(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

RunState::RunState(const PipelineOptions* opt_in, BufferPool* pool_in,
                   IoEngine* engine_in, const DoneCallback* on_done_in,
                   std::vector<std::unique_ptr<File>>* graveyard_in)
    : opt(opt_in),
      pool(pool_in),
      engine(engine_in),
      buf_refs(pool_in->count()),
      on_done(on_done_in),
      graveyard(graveyard_in) {}

void RunState::Wake() {
  engine->Wake();
  {
    std::lock_guard<std::mutex> l(idle_mu);
    woken = true;
  }
  idle_cv.notify_one();
}

// A waiting I/O thread looks again at least this often.
constexpr std::chrono::milliseconds kIdleRecheck{100};

void RunState::WaitIdle(bool for_buffer) {
  std::unique_lock<std::mutex> l(idle_mu);
  idle_cv.wait_for(l, kIdleRecheck, [&] {
    return woken || (for_buffer && pool->free_count() > 0);
  });
  woken = false;
}

void RunState::FinishWithoutReading(const ReadJob& job, ReadOutcome out) {
  std::lock_guard<std::mutex> l(done_mu);
  (*on_done)(job, std::move(out));
}

void RunState::WaitForFiles() {
  std::unique_lock<std::mutex> l(files_mu);
  files_cv.wait(l, [&] { return files_open == 0; });
}

void ReleaseBuffer(RunState* rs, int buf) {
  if (rs->buf_refs[buf].fetch_sub(1, std::memory_order_acq_rel) == 1) {
    rs->pool->Put(buf);
    rs->Wake();  // the I/O thread may be waiting for a buffer
  }
}

namespace {

void FinishFile(RunState* rs, FileState* f) {
  ReadOutcome out = std::move(f->outcome);
  if (out.stalled && f->file) {
    std::lock_guard<std::mutex> l(rs->done_mu);
    rs->graveyard->push_back(std::move(f->file));
  }
  if (out.status.ok() && f->hasher) {
    out.digests = f->digests ? std::move(*f->digests) : f->hasher->Finish();
  }
  if (!out.status.ok()) out.chunks.clear();
  out.observer = std::move(f->observer);
  // Its chunks are all checked: what on_good holds (the file's dedup, a
  // descriptor) is let go now, not when the outcome is.
  if (out.observer) out.observer->on_good = nullptr;
  if (f->dedup) f->dedup->Done();
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

// Hashes the ready chunks of `f` in order, while the next one is there.
// Runs on a hashing thread that took `f` from the queue (scheduled is set).
void HashReadyChunks(RunState* rs, FileState* f) {
  const uint64_t cs = rs->opt->chunk_size;
  for (;;) {
    Chunk c;
    bool failed;
    uint64_t next;  // the chunk after c
    {
      std::lock_guard<std::mutex> l(f->mu);
      auto it = f->ready.begin();
      if (it == f->ready.end() || it->first != f->next_hash) {
        f->scheduled = false;
        return;
      }
      c = it->second;
      f->ready.erase(it);
      next = NextChunkToRead(*f->job, c.offset / cs, f->chunks_total);
      f->next_hash = next * cs;
      failed = !f->outcome.status.ok();
    }
    if (c.buf >= 0) {
      const char* data = rs->pool->data(c.buf);
      // A file of one chunk: its SHA-256, if the manifest has one, is the
      // chunk's too, for the observer (each byte hashed once).
      const Digest* sha256 = nullptr;
      if (!failed) {
        f->hasher->Update(data, c.len);
        if (f->job->chunk_digests) {
          f->outcome.chunks.push_back(HashChunk(data, c.len));
        }
        if (f->observer && f->chunks_total == 1 && c.offset == 0) {
          f->digests = f->hasher->Finish();
          for (const Digest& d : *f->digests) {
            if (d.type == DigestType::kSha256) sha256 = &d;
          }
        }
      }
      // keep_going: the observer sees every chunk read, failed or not.
      if (f->observer && (!failed || f->job->keep_going)) {
        if (sha256 != nullptr) {
          f->observer->WholeFileChunk(0, data, c.len, *sha256);
        } else {
          f->observer->Chunk(c.offset / cs, data, c.len);
        }
      }
      ReleaseBuffer(rs, c.buf);
    } else if (c.buf == kKnownChunk) {
      // Cloned or a hole: in the staged file as much as a chunk written,
      // so with keep_going it is good for a repair even once the file
      // has failed.
      if (f->observer && (!failed || f->job->keep_going)) {
        f->observer->KnownChunk(c.offset / cs, c.len);
      }
    } else if (f->observer && f->job->keep_going) {
      f->observer->Missing(c.offset / cs);
    }
    // Checked or not, its hash is done (dedup by chunk: it may now become
    // a source, or is known not to).
    if (f->dedup) f->dedup->HashDone(c.offset / cs);
    const bool last = next == f->chunks_total;
    DropRef(rs, f);
    if (last) return;  // f may be gone; its last chunk is hashed
  }
}

}  // namespace

void DropRef(RunState* rs, FileState* f) {
  if (f->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) FinishFile(rs, f);
}

void HashWorker(RunState* rs) {
  while (FileState* f = rs->hash_queue.Pop()) HashReadyChunks(rs, f);
}

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

void Fail(FileState* f, const Status& s) {
  std::lock_guard<std::mutex> l(f->mu);
  if (f->outcome.status.ok()) f->outcome.status = s;
}

bool Failed(FileState* f) {
  std::lock_guard<std::mutex> l(f->mu);
  return !f->outcome.status.ok();
}

}  // namespace valise
