// FsStripeReader: stripe members read from the drives' mount points
// through FileSystem (so the simulated disk can lose, break and corrupt
// them), one positional read per member.
//
// Files are opened with O_DIRECT where the file system allows it. A
// chunk starts at a multiple of the chunk size (4 KiB at least), so only
// its length may be ragged (a file's last chunk): the read is rounded up
// to 4 KiB into a buffer of our own and the chunk's bytes copied out. An
// O_DIRECT read returns short only at the end of the file, so a short
// count that is not a whole number of blocks is where the file ends.
//
// The rebuilder's hints (Prefetch*) are then real reads: each member has
// an Ahead, a thread reading the hinted chunks in order into its own
// buffers, which ReadFrom takes from when it asks for one of them (and
// waits for, if it is still being read). A read nobody hinted, or one the
// read-ahead failed (its error is not kept: the read is made again, and
// its error is the one reported), is made there and then. Where O_DIRECT
// is refused (tmpfs, or the simulated disk told so), files are read
// through the page cache and the hints are File::WillNeed, as before.
#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "valise/buffer_pool.h"
#include "valise/rebuild.h"

namespace valise {

namespace {

uint64_t RoundUp(uint64_t n) {
  return (n + kDirectAlignment - 1) / kDirectAlignment * kDirectAlignment;
}

// Reads [offset, +n) of `file` (opened O_DIRECT) into `buf` (aligned,
// RoundUp(n) bytes). A short read means the end of the file: Corruption,
// the file being shorter than the layout says.
Status ReadDirect(const File& file, uint64_t offset, uint64_t n, uint8_t* buf) {
  const uint64_t want = RoundUp(n);
  uint64_t done = 0;
  while (done < n) {
    size_t got = 0;
    VALISE_RETURN_IF_ERROR(file.ReadAt(
        offset + done, want - done, reinterpret_cast<char*>(buf) + done, &got));
    done += got;
    if (done < n && (got == 0 || done % kDirectAlignment != 0)) {
      return Status::Corruption(file.path(), "ends at " +
                                                 std::to_string(offset + done) +
                                                 ", the layout says it holds " +
                                                 std::to_string(offset + n) +
                                                 " bytes or more: truncated");
    }
  }
  return Status::OK();
}

}  // namespace

// One member's read-ahead: a thread reading the hinted chunks in the order
// hinted, each into a buffer of its pool, at most `depth` held at once.
class FsStripeReader::Ahead {
 public:
  Ahead(FileSystem* fs, size_t chunk, unsigned depth)
      : fs_(fs), pool_(depth, chunk) {}

  ~Ahead() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  // Queues a read of [offset, +n) of `path` unless it is queued already or
  // `depth` reads are held.
  void Queue(const std::string& path, uint64_t offset, uint64_t n) {
    {
      std::lock_guard<std::mutex> l(mu_);
      for (const Req& r : reqs_) {
        if (r.path == path && r.offset == offset && r.n == n) return;
      }
      Req r;
      r.buf = pool_.TryGet();
      if (r.buf < 0) return;  // `depth` held
      r.path = path;
      r.offset = offset;
      r.n = n;
      reqs_.push_back(std::move(r));
      if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
    }
    cv_.notify_all();
  }

  // If [offset, +n) of `path` was queued: waits until it is read and, if
  // the read succeeded, copies it into `buf` and returns true. Whatever
  // was queued before it is dropped; a read not queued drops everything
  // not being read (the rebuilder went elsewhere).
  bool Take(const std::string& path, uint64_t offset, uint64_t n,
            uint8_t* buf) {
    std::unique_lock<std::mutex> l(mu_);
    auto it = std::find_if(reqs_.begin(), reqs_.end(), [&](const Req& r) {
      return r.path == path && r.offset == offset && r.n == n;
    });
    if (it == reqs_.end()) {
      // Requests are read in order: those not yet started follow the one
      // being read, if any.
      while (!reqs_.empty() && !reqs_.back().started)
        Recycle(&reqs_.back(), true);
      return false;
    }
    const size_t at = static_cast<size_t>(it - reqs_.begin());
    done_cv_.wait(l, [&] { return reqs_[at].done; });
    for (size_t i = 0; i < at; ++i) Recycle(&reqs_.front(), false);
    Req& r = reqs_.front();
    const bool ok = r.status.ok();
    if (ok) {
      std::memcpy(buf, pool_.data(r.buf), n);
      ++taken_;
    }
    Recycle(&r, false);
    return ok;
  }

  uint64_t taken() const {
    std::lock_guard<std::mutex> l(mu_);
    return taken_;
  }

 private:
  struct Req {
    std::string path;
    uint64_t offset = 0;
    uint64_t n = 0;
    int buf = -1;  // in pool_
    bool started = false;
    bool done = false;
    Status status;
  };

  // Gives r's buffer back and removes it (the front, or the back when
  // `back`). REQUIRES: mu_ held; r done or not started.
  void Recycle(Req* r, bool back) {
    pool_.Put(r->buf);
    if (back) {
      reqs_.pop_back();
    } else {
      reqs_.pop_front();
    }
  }

  void Loop() {
    std::unique_lock<std::mutex> l(mu_);
    for (;;) {
      cv_.wait(l, [&] { return stop_ || Next() != nullptr; });
      if (stop_) return;
      Req* r = Next();
      r->started = true;
      const std::string path = r->path;
      const uint64_t offset = r->offset, n = r->n;
      uint8_t* buf = reinterpret_cast<uint8_t*>(pool_.data(r->buf));
      l.unlock();
      // The request stays in reqs_ (and its buffer with it) while it is
      // read: Take waits for it rather than dropping it.
      Status s = Read(path, offset, n, buf);
      l.lock();
      for (Req& q : reqs_) {
        if (q.started && !q.done) {
          q.status = s;
          q.done = true;
          break;
        }
      }
      done_cv_.notify_all();
    }
  }

  // The first request not started, or nullptr. REQUIRES: mu_ held.
  Req* Next() {
    for (Req& r : reqs_) {
      if (!r.started) return &r;
    }
    return nullptr;
  }

  // On the thread, without the lock.
  Status Read(const std::string& path, uint64_t offset, uint64_t n,
              uint8_t* buf) {
    if (file_ == nullptr || file_->path() != path) {
      file_.reset();
      ReadOptions opt;
      opt.direct = true;
      VALISE_RETURN_IF_ERROR(fs_->OpenForRead(path, opt, &file_));
      if (!file_->is_direct()) {
        file_.reset();
        return Status::NotSupported(path, "O_DIRECT refused");
      }
    }
    Status s = ReadDirect(*file_, offset, n, buf);
    if (!s.ok()) file_.reset();
    return s;
  }

  FileSystem* fs_;
  BufferPool pool_;
  std::unique_ptr<File> file_;  // the thread's

  mutable std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  std::deque<Req> reqs_;  // in the order hinted
  uint64_t taken_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

FsStripeReader::FsStripeReader(FileSystem* fs, const PackLayout* layout,
                               std::vector<std::string> data_roots,
                               std::vector<std::string> parity_roots)
    : fs_(fs),
      layout_(layout),
      data_roots_(std::move(data_roots)),
      parity_roots_(std::move(parity_roots)),
      open_(layout->k() + layout->m()),
      ahead_(layout->k() + layout->m()),
      direct_(layout->k() + layout->m()) {
  data_roots_.resize(layout->k());
  parity_roots_.resize(layout->m());
  const uint64_t members = std::max<uint64_t>(1, layout->k() + layout->m());
  const uint64_t fit =
      kDirectAheadBytes / (members * std::max<uint64_t>(1, layout->chunk_size));
  depth_ =
      static_cast<unsigned>(std::clamp<uint64_t>(fit, 1, kReadAheadStripes));
}

FsStripeReader::~FsStripeReader() = default;

uint64_t FsStripeReader::reads_taken_ahead() const {
  uint64_t n = 0;
  for (const auto& a : direct_) {
    if (a != nullptr) n += a->taken();
  }
  return n;
}

Status FsStripeReader::OpenIn(Open* slot, const std::string& root,
                              const std::string& rel,
                              const std::string& label) {
  if (root.empty()) {
    return Status::NotFound(label, "drive not given");
  }
  const std::string path = root + "/" + rel;
  if (slot->file != nullptr && slot->path == path) return Status::OK();
  slot->file.reset();
  ReadOptions opt;
  opt.direct = true;  // falls back to the page cache where refused
  VALISE_RETURN_IF_ERROR(fs_->OpenForRead(path, opt, &slot->file));
  slot->path = path;
  return Status::OK();
}

Status FsStripeReader::ReadFrom(uint32_t member, const std::string& root,
                                const std::string& rel,
                                const std::string& label, uint64_t offset,
                                uint64_t n, uint8_t* buf) {
  Open* slot = &open_[member];
  VALISE_RETURN_IF_ERROR(OpenIn(slot, root, rel, label));
  const std::string& path = slot->path;
  if (slot->file->is_direct()) {
    if (direct_[member] != nullptr &&
        direct_[member]->Take(path, offset, n, buf)) {
      return Status::OK();
    }
    if (slot->bounce == nullptr) {
      slot->bounce = std::make_unique<BufferPool>(1, layout_->chunk_size);
    }
    uint8_t* bounce = reinterpret_cast<uint8_t*>(slot->bounce->data(0));
    Status s = ReadDirect(*slot->file, offset, n, bounce);
    if (!s.ok()) {
      slot->file.reset();  // a later read reopens (the drive may be back)
      return s;
    }
    std::memcpy(buf, bounce, n);
    return Status::OK();
  }
  uint64_t done = 0;
  while (done < n) {
    size_t got = 0;
    Status s = slot->file->ReadAt(offset + done, n - done,
                                  reinterpret_cast<char*>(buf) + done, &got);
    if (!s.ok()) {
      slot->file.reset();  // a later read reopens (the drive may be back)
      return s;
    }
    if (got == 0) {
      return Status::Corruption(
          path, "ends at " + std::to_string(offset + done) +
                    ", the layout says it holds " + std::to_string(offset + n) +
                    " bytes or more: truncated");
    }
    done += got;
  }
  return Status::OK();
}

Status FsStripeReader::ReadData(uint32_t d, const ChunkRef& ref, uint8_t* buf) {
  const DataDriveLayout& drive = layout_->data[d];
  return ReadFrom(d, data_roots_[d], drive.files[ref.file].path,
                  "data drive " + drive.label, ref.offset, ref.length, buf);
}

Status FsStripeReader::ReadParity(uint32_t j, uint64_t stripe, uint8_t* buf) {
  size_t segment = 0;
  uint64_t offset = 0;
  LocateParity(*layout_, stripe, &segment, &offset);
  const ParityDriveLayout& drive = layout_->parity[j];
  return ReadFrom(layout_->k() + j, parity_roots_[j],
                  drive.segments[segment].path, "parity drive " + drive.label,
                  offset, layout_->chunk_size, buf);
}

void FsStripeReader::Prefetch(uint32_t member, const std::string& root,
                              const std::string& rel, const std::string& label,
                              uint64_t offset, uint64_t n) {
  // Direct or not is known once the member's reads opened a file.
  const Open& reading = open_[member];
  if (reading.file != nullptr && reading.file->is_direct()) {
    if (root.empty()) return;
    if (direct_[member] == nullptr) {
      direct_[member] =
          std::make_unique<Ahead>(fs_, layout_->chunk_size, depth_);
    }
    direct_[member]->Queue(root + "/" + rel, offset, n);
    return;
  }
  Open* slot = &ahead_[member];
  if (OpenIn(slot, root, rel, label).ok()) slot->file->WillNeed(offset, n);
}

void FsStripeReader::PrefetchData(uint32_t d, const ChunkRef& ref) {
  Prefetch(d, data_roots_[d], layout_->data[d].files[ref.file].path,
           "data drive " + layout_->data[d].label, ref.offset, ref.length);
}

void FsStripeReader::PrefetchParity(uint32_t j, uint64_t stripe) {
  size_t segment = 0;
  uint64_t offset = 0;
  LocateParity(*layout_, stripe, &segment, &offset);
  Prefetch(layout_->k() + j, parity_roots_[j],
           layout_->parity[j].segments[segment].path,
           "parity drive " + layout_->parity[j].label, offset,
           layout_->chunk_size);
}

}  // namespace valise
