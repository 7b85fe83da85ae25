// IoEngine: carries transfers on an IoQueue to the end. It turns what the
// device said into what the pipeline wants to know: a transfer finished
// (all bytes, or fewer only at end of file), or failed with a Status that
// names the file, the offset and the errno.
//
// What it does with each completion is decided by OnCompletion(), a pure
// function unit-tested on every result class without a kernel:
//   full                  -> done
//   short (0 < res < len) -> advance and resubmit the rest; a read that
//                            returns 0 before len is end of file -> done;
//                            so is an O_DIRECT read that stops at an
//                            unaligned offset (the tail of the file); a
//                            write that returns 0 fails (no progress)
//   over-long (res > len) -> fail (Corruption: the device lied)
//   -EAGAIN, -EINTR       -> resubmit unchanged (not counted as a retry)
//   -EINVAL on O_DIRECT   -> drop O_DIRECT on the file, resubmit
//   -EIO and the like     -> resubmit up to `retries` times, then fail with
//                            data_loss set (never for a sync: after a failed
//                            fdatasync the dirty pages may be gone, and a
//                            retry would report success)
//   other -errno          -> fail
//
// A drive is a small integer; each has a queue depth (how many transfers on
// it may be in flight at once). A transfer outstanding for longer than
// io_timeout, counted only while the owner was reaping (time the process
// was stopped or its VM paused does not count: see engine.cc, the
// reaper's clock), marks its drive stalled and is reported failed
// (TimedOut);
// its buffer stays with the kernel until the late completion arrives, which
// is then reported with `late` set so the caller can reuse the buffer.
// A stalled drive has no room (HasRoom is false) until every timed-out
// transfer on it has come back late; it then counts as answering again.
//
// Error messages name the file, the operation and the offset of the
// request that failed: "<path>: read at <offset>: <strerror>".
//
// Thread safety: one thread owns the engine (the ring is SINGLE_ISSUER);
// Wake() may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "valise/io_queue.h"
#include "valise/status.h"

namespace valise {

struct EngineOptions {
  // Times an EIO-class error is retried before the transfer fails.
  // Default: 2 (--retries).
  unsigned retries = 2;
  // A transfer outstanding longer than this, while the owner was reaping,
  // marks its drive stalled. 0 disables. Default: 30 s (--io-timeout).
  uint64_t io_timeout_us = 30'000'000;
};

// One read, write or sync that the engine carries to the end. The caller
// owns it; it must remain live until Reap returns it.
struct Transfer {
  // Set by the caller.
  IoOp op = IoOp::kRead;
  File* file = nullptr;
  uint64_t offset = 0;
  char* buf = nullptr;
  uint32_t len = 0;
  int buf_index = -1;
  int drive = 0;
  void* tag = nullptr;  // the caller's; the engine never reads it

  // Set by the engine when Reap returns the transfer.
  uint32_t done = 0;  // bytes transferred; < len only at end of file
  Status status;      // OK, or why it failed
  bool late = false;  // a completion for a transfer already failed by timeout

  // Engine bookkeeping.
  unsigned attempts = 0;      // EIO-class retries used
  uint64_t submitted_us = 0;  // when the current request went out
};

// What to do with one completion (see the table atop this file).
enum class CompletionAction : uint8_t {
  kDone,        // finished: t.done holds the final count
  kContinue,    // short transfer: t.done advanced, resubmit the rest
  kResubmit,    // EAGAIN/EINTR: resubmit unchanged
  kRetry,       // EIO-class within budget: attempts incremented, resubmit
  kDropDirect,  // EINVAL under O_DIRECT: reopen buffered, resubmit
  kFail,        // t.status set
};

// Pure: updates t.done, t.attempts and t.status from `res` and says what
// to do next. Never touches a file or a queue.
CompletionAction OnCompletion(Transfer& t, int32_t res,
                              const EngineOptions& opt);

class IoEngine {
 public:
  // REQUIRES: queue != nullptr; num_drives > 0.
  IoEngine(std::unique_ptr<IoQueue> queue, int num_drives,
           const EngineOptions& opt, FileSystem* clock_source);
  ~IoEngine();
  IoEngine(const IoEngine&) = delete;
  IoEngine& operator=(const IoEngine&) = delete;

  IoQueue* queue() { return queue_.get(); }

  // Default depth for every drive is 1.
  void SetDepth(int drive, unsigned depth);
  unsigned depth(int drive) const;
  // True if another transfer may be submitted on `drive` now.
  bool HasRoom(int drive) const;
  unsigned in_flight(int drive) const;
  unsigned in_flight() const;
  // Transfers failed by a timeout whose late completion has not come back
  // yet (in_flight() counts them).
  unsigned timed_out() const;
  bool stalled(int drive) const;

  // Starts a transfer. REQUIRES: HasRoom(t->drive). Submission to the
  // device is batched: call Flush() after a round of Submit()s (Reap does).
  Status Submit(Transfer* t);
  Status Flush();

  // Flushes, then waits (if `wait` and anything is in flight) until at least
  // one transfer finishes, wait_us passes or Wake() is called, and appends
  // the finished ones to *done.
  Status Reap(std::vector<Transfer*>* done, bool wait,
              uint64_t wait_us = 100'000);
  void Wake();

 private:
  struct State;
  std::unique_ptr<IoQueue> queue_;
  std::unique_ptr<State> state_;
};

// What a caller of DriveEngine does with the engine: the loop's cases, as
// fio's ioengine users give do_io theirs. Every method on the thread that
// owns the engine.
class EngineClient {
 public:
  virtual ~EngineClient() = default;
  // Submits what can be submitted now (while the engine has room and the
  // client has buffers and work). Called at the start of every round.
  virtual void Fill() = 0;
  // True while the client has work left that needs no transfer in flight
  // to go on (more to submit later). When nothing is in flight and this is
  // false, the drive ends.
  virtual bool HasWork() = 0;
  // Nothing is in flight (but transfers abandoned by a timeout) and
  // HasWork: waits for what the client waits for (a buffer given back by
  // another thread) before the next round. Default: returns at once.
  virtual void Idle() {}
  // A transfer came back: done, failed, timed out (its buffer still with
  // the kernel), or late (a timed-out transfer's buffer is free again).
  virtual void Complete(Transfer* t, uint64_t now_us) = 0;
  // After each round's completions (a progress tick). Default: nothing.
  virtual void Reaped() {}
  // How long a round waits for a completion, in microseconds. Default:
  // 100 ms.
  virtual uint64_t WaitMicros() { return 100'000; }
};

// The one submit/reap loop over an engine, for every user (the reader,
// `valise bench`, the micro benches), after liburing's io_uring-cp.c and
// fio's do_io: Fill, then if nothing is in flight end or Idle, else wait
// for at least one completion and Complete each, until nothing is in
// flight and the client has no work. Transfers failed by a timeout whose
// late completion has not come back are not waited for (the kernel may
// hold them for ever): the caller keeps their files and buffers alive
// until the engine is destroyed. Returns OK, or the queue's own failure
// (nothing more can run on it); transfers' failures go to Complete.
// `clock` gives now_us (the engine's clock source).
Status DriveEngine(IoEngine* engine, EngineClient* client, FileSystem* clock);

}  // namespace valise
