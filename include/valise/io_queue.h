// IoQueue: an asynchronous submission/completion queue of reads, writes and
// syncs on Files, with the shape of io_uring: prepare requests, submit them
// with one call, wait for completions that carry the request's user_data
// and a result (bytes transferred, or -errno).
//
// Three implementations:
//   - the io_uring queue (src/io/uring_queue.cc): one ring, SINGLE_ISSUER and
//     DEFER_TASKRUN negotiated flag by flag with the kernel, registered
//     buffers (READ_FIXED/WRITE_FIXED) and registered files;
//   - the synchronous queue (src/io/sync_queue.cc): performs each request
//     with File::ReadAt/WriteAt at submit time; the fallback where io_uring is
//     unavailable, and the way Files without a native handle are served;
//   - the simulated queue (include/valise/sim_disk.h): completes requests on
//     simulated drives in a seeded order, with faults.
//
// A queue reports what the device said, nothing more: short transfers,
// -EAGAIN, -EINTR and -EIO come back as they are. Continuing, retrying and
// timing out is the IoEngine's job (io_engine.h).
//
// Thread safety: one owner thread calls everything except Wake(), which any
// thread may call. The owner is the thread of the first Prepare, Submit or
// Wait (a SINGLE_ISSUER ring binds to it then); Create and RegisterBuffers
// may run on another thread before that, e.g. while setting up.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "valise/file_system.h"
#include "valise/status.h"

namespace valise {

enum class IoOp : uint8_t {
  kRead,
  kWrite,
  kSync,  // fdatasync of the file; buf and len unused
};

struct IoRequest {
  IoOp op = IoOp::kRead;
  File* file = nullptr;  // must remain live until the completion is reaped
  uint64_t offset = 0;
  char* buf = nullptr;  // must remain live until the completion is reaped
  uint32_t len = 0;
  int buf_index = -1;  // index in RegisterBuffers' list, or -1
  uint64_t user_data = 0;
};

// The one user_data value callers may not use: queues tag their own
// internal requests (the wake-up eventfd poll) with it.
inline constexpr uint64_t kReservedUserData = ~uint64_t{0};

struct IoCompletion {
  uint64_t user_data = 0;
  int32_t res = 0;  // bytes transferred, or -errno
};

struct IoQueueOptions {
  // Submission queue size: the most requests in flight at once. Default 256.
  unsigned entries = 256;
  // Use io_uring when the kernel offers it; false forces the synchronous
  // queue (also what --no-uring selects). Default: true.
  bool use_uring = true;
  // io_uring only: register the descriptors of files that get more than one
  // request (IOSQE_FIXED_FILE), saving the kernel a file lookup and
  // reference per request. Default: true.
  bool register_files = true;
};

class IoQueue {
 public:
  IoQueue() = default;
  IoQueue(const IoQueue&) = delete;
  IoQueue& operator=(const IoQueue&) = delete;
  virtual ~IoQueue() = default;

  // Creates the best queue available: io_uring if opt.use_uring and the
  // kernel allows it, else the synchronous queue. Never fails to return a
  // queue; *note says what was chosen and why ("io_uring: SINGLE_ISSUER
  // DEFER_TASKRUN fixed-buffers" or "sync: io_uring_setup: EPERM").
  static std::unique_ptr<IoQueue> Create(const IoQueueOptions& opt,
                                         std::string* note);

  // Registers buffers for fixed reads/writes. Call before any Prepare.
  // NotSupported is not an error for callers: they pass buf_index = -1.
  virtual Status RegisterBuffers(const std::vector<iovec>& buffers) = 0;

  // Queues a request. Busy when `entries` requests are already in flight.
  // REQUIRES: req.user_data != kReservedUserData (InvalidArgument).
  virtual Status Prepare(const IoRequest& req) = 0;
  // Hands prepared requests to the device.
  virtual Status Submit() = 0;
  // Waits until at least min_complete completions are ready, timeout_us
  // passes, or Wake() is called, then appends every ready completion to
  // *out. Returns OK with nothing appended on timeout or wake. Requests
  // prepared and not yet submitted are submitted first (for io_uring, in
  // the same system call as the wait). min_complete == 0 never blocks.
  virtual Status Wait(unsigned min_complete, uint64_t timeout_us,
                      std::vector<IoCompletion>* out) = 0;
  // Makes the current or next Wait return promptly. Any thread.
  virtual void Wake() = 0;

  // Requests prepared or submitted and not yet reaped.
  virtual unsigned in_flight() const = 0;
  virtual unsigned capacity() const = 0;
  // What this queue is, for --stats and bench output.
  virtual std::string Describe() const = 0;
};

// The synchronous queue, for tests and for --no-uring.
std::unique_ptr<IoQueue> NewSyncQueue(unsigned entries);

}  // namespace valise
