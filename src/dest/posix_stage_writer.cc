// The directory destination's StageWriter: each chunk read for a staged
// file is written at its offset in the file's temporary, from the buffer
// the read filled (no copy), through the read loop's own engine: the
// writes share the ring with the reads, on one more engine "drive" with
// its own depth, so DEST's queue never starves the drives' nor the other
// way round.
//
// A staged file opened with O_DIRECT takes whole blocks: its tail chunk is
// written rounded up to kDirectAlignment (the bytes past the file's end are
// whatever the buffer holds), and Finish cuts the file back to its size
// (ftruncate) before it is sealed.
//
// Failures: a write that fails (after the engine's retries) or comes back
// short fails its chunk; the read loop then fails the file and, for a full
// or stalled DEST, stops the run. A write that times out leaves its buffer
// with the kernel: it is released only when the late completion arrives.
//
// Thread safety: the read loop's I/O thread only.
#include <vector>

#include "dest/posix_destination.h"
#include "dest/posix_staged_file.h"
#include "valise/buffer_pool.h"
#include "valise/io_engine.h"

namespace valise {

namespace {

class PosixStageWriter final : public StageWriter {
 public:
  explicit PosixStageWriter(unsigned depth) : depth_(depth ? depth : 1) {}

  void Attach(const StageIo& io) override {
    io_ = io;
    io_.engine->SetDepth(io_.drive, depth_);
    // One transfer per buffer: a buffer is in at most one write at a time.
    transfers_.assign(io_.pool->count(), Transfer{});
    chunks_.assign(io_.pool->count(), StageChunk{});
  }

  size_t buffers(size_t, size_t) const override { return depth_; }

  bool HasRoom() const override { return io_.engine->HasRoom(io_.drive); }

  void Write(const StageChunk& c) override {
    File* file = AsPosix(c.file)->file();
    Transfer& t = transfers_[c.buf];
    t = Transfer{};
    t.op = IoOp::kWrite;
    t.file = file;
    t.offset = c.offset;
    t.buf = io_.pool->data(c.buf);
    t.len = file->is_direct()
                ? static_cast<uint32_t>((c.len + kDirectAlignment - 1) /
                                        kDirectAlignment * kDirectAlignment)
                : c.len;
    t.buf_index = io_.fixed_buffers ? c.buf : -1;
    t.drive = io_.drive;
    chunks_[c.buf] = c;
    Status s = io_.engine->Submit(&t);
    if (!s.ok()) {
      io_.release(c.buf);
      io_.written(c, s);
    }
  }

  void Skip(StagedFile*, uint64_t) override {}  // nothing is held

  bool Issue() override { return false; }  // Write submits at once

  void OnComplete(Transfer* t) override {
    const int buf = static_cast<int>(t - transfers_.data());
    const StageChunk c = chunks_[buf];
    if (t->late) {  // its chunk was already failed by the timeout
      io_.release(buf);
      return;
    }
    Status s;
    if (!t->status.ok()) {
      s = t->status;
    } else if (t->done != t->len) {
      s = Status::IOError(t->file->path(), "short write");
    }
    // A timed-out write's buffer stays with the kernel until it comes back
    // late; it is released then.
    if (!t->status.IsTimedOut()) io_.release(buf);
    io_.written(c, s);
  }

  bool Busy() const override { return false; }  // in flight = the engine's

 private:
  const unsigned depth_;
  StageIo io_;
  std::vector<Transfer> transfers_;  // by buffer
  std::vector<StageChunk> chunks_;   // by buffer: what each write carries
};

}  // namespace

std::unique_ptr<StageWriter> NewPosixStageWriter(unsigned depth) {
  return std::make_unique<PosixStageWriter>(depth);
}

std::unique_ptr<StagedFile> NewStagedFile(std::unique_ptr<File> file,
                                          std::string name) {
  std::string temp = name;
  return std::make_unique<PosixStagedFile>(std::move(name), std::move(temp),
                                           std::move(file));
}

}  // namespace valise
