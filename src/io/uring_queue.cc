// The io_uring IoQueue, and IoQueue::Create, which picks it or falls back
// to the synchronous queue.
//
// Ring setup. The flags that make a single-threaded reader cheap are asked
// for and negotiated with the kernel: on EINVAL the newest is dropped and
// setup retried (fio's fio_ioring_queue_init does the same), and Describe()
// names what was obtained.
//   SUBMIT_ALL      (5.18) one bad SQE does not stop the rest of the batch.
//   COOP_TASKRUN    (5.19) completions do not interrupt the task with an IPI;
//                   they are run at its next kernel entry, which a reader
//                   loop makes all the time anyway.
//   TASKRUN_FLAG    (5.19) the kernel sets IORING_SQ_TASKRUN when such work
//                   is waiting, so a non-blocking Wait knows whether it must
//                   enter the kernel to see completions.
//   SINGLE_ISSUER   (6.0) one task submits: the kernel skips locking.
//   DEFER_TASKRUN   (6.1) completion work runs only when the owner asks for
//                   events (io_uring_enter with GETEVENTS): batched, and on
//                   the owner's CPU. Consequence: completions are never
//                   visible by peeking the CQ ring alone; Wait always enters
//                   the kernel through liburing's wait/get_events calls.
//   R_DISABLED      (5.10, asked with SINGLE_ISSUER) the ring starts
//                   disabled, and the issuer is bound when it is enabled:
//                   at the first Prepare/Submit/Wait, on the owner thread.
//                   So the queue may be created and its buffers registered
//                   on a setup thread, then handed to the reader thread.
//
// Buffers: RegisterBuffers pins the pool once; requests whose buf_index is
// a registered buffer use READ_FIXED/WRITE_FIXED, which skips pinning the
// pages of every request (the larger win, measured in bench/).
//
// Files: a sparse table of registered files is indexed by descriptor
// number. A file is registered at its second request (a small file read in
// one request would pay a registration system call to save one file
// lookup), and keyed by File::open_serial(), so a descriptor number reused
// by another open file is seen and re-registered. A registered slot keeps a
// kernel reference to its file until the slot is reused or the queue is
// destroyed, which unregisters the table before it closes the ring (a
// closed ring frees it only later, and a drive stays busy until then).
//
// Files without a descriptor (native_handle() == -1: the simulated disk,
// wrappers) are served synchronously at Prepare time through File::ReadAt
// and friends, and their completions handed out by the next Wait, so this
// queue works with any File.
//
// Wake: an eventfd watched by a multishot poll kept armed in the ring.
// Wake() writes to it from any thread; the poll's completion ends the
// owner's wait. An atomic flag makes repeated Wake()s cost one write.
//
// Thread safety: see io_queue.h; Wake() is the only call for other threads.

#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "io/queue_internal.h"
#include "valise/io_queue.h"

namespace valise {

namespace {

constexpr uint64_t kWakeTag = kReservedUserData;
// Registered-file table size cap: descriptors above it are used unregistered.
constexpr unsigned kMaxFileTable = 8192;

struct SetupFlag {
  unsigned flag;
  const char* name;
};
// In the order they are given up when the kernel says EINVAL: newest first.
constexpr SetupFlag kSetupFlags[] = {
    {IORING_SETUP_DEFER_TASKRUN, "DEFER_TASKRUN"},
    {IORING_SETUP_SINGLE_ISSUER, "SINGLE_ISSUER"},
    {IORING_SETUP_TASKRUN_FLAG, "TASKRUN_FLAG"},
    {IORING_SETUP_COOP_TASKRUN, "COOP_TASKRUN"},
    {IORING_SETUP_SUBMIT_ALL, "SUBMIT_ALL"},
};

std::string ErrnoText(int err) { return strerror(err); }

// kernel.io_uring_disabled: 0 allowed, 1 only for a group or CAP_SYS_ADMIN
// (setup then fails with EPERM, handled like any setup failure), 2 never.
int IoUringDisabledSysctl() {
  static const int value = [] {
    int fd = open("/proc/sys/kernel/io_uring_disabled", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;  // older kernel: no such switch
    char c = '0';
    ssize_t n = read(fd, &c, 1);
    close(fd);
    return n == 1 && c >= '0' && c <= '9' ? c - '0' : 0;
  }();
  return value;
}

class UringQueue final : public IoQueue {
 public:
  UringQueue() = default;
  ~UringQueue() override {
    // The registered files are let go of here, synchronously: closing the
    // ring frees its file table later, from a kernel worker that polls
    // every 50 ms, and until then each registered file pins its file
    // system (`valise verify ... && umount` failed with EBUSY). On the
    // owner thread, as SINGLE_ISSUER requires; a ring still disabled has
    // no table.
    if (ring_ok_ && file_table_) io_uring_unregister_files(&ring_);
    if (ring_ok_) io_uring_queue_exit(&ring_);
    if (event_fd_ >= 0) close(event_fd_);
  }

  Status Init(const IoQueueOptions& opt) {
    entries_ = std::clamp(opt.entries, 1u, 32768u);
    register_files_ = opt.register_files;
    // Non-blocking: the owner drains it after a wake without ever waiting.
    event_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (event_fd_ < 0) return Status::PosixError("io_uring: eventfd", errno);

    unsigned flags = 0;
    for (const SetupFlag& f : kSetupFlags) flags |= f.flag;
    size_t next_drop = 0;
    for (;;) {
      io_uring_params p;
      memset(&p, 0, sizeof(p));
      p.flags = flags;
      if (flags & IORING_SETUP_SINGLE_ISSUER)
        p.flags |= IORING_SETUP_R_DISABLED;
      int r = io_uring_queue_init_params(entries_, &ring_, &p);
      if (r == 0) {
        setup_flags_ = p.flags;
        break;
      }
      if (r == -EINVAL && next_drop < std::size(kSetupFlags)) {
        flags &= ~kSetupFlags[next_drop++].flag;
        // DEFER_TASKRUN needs SINGLE_ISSUER, TASKRUN_FLAG needs COOP (or
        // DEFER): drop the dependants with what they depend on.
        if (!(flags & IORING_SETUP_SINGLE_ISSUER)) {
          flags &= ~IORING_SETUP_DEFER_TASKRUN;
        }
        if (!(flags &
              (IORING_SETUP_COOP_TASKRUN | IORING_SETUP_DEFER_TASKRUN))) {
          flags &= ~IORING_SETUP_TASKRUN_FLAG;
        }
        continue;
      }
      return Status::PosixError("io_uring_setup", -r);
    }
    ring_ok_ = true;
    enabled_ = !(setup_flags_ & IORING_SETUP_R_DISABLED);
    ready_.reserve(entries_);
    return Status::OK();
  }

  Status RegisterBuffers(const std::vector<iovec>& buffers) override {
    if (buffers.empty()) return Status::OK();
    if (num_buffers_ > 0) {
      io_uring_unregister_buffers(&ring_);
      num_buffers_ = 0;
    }
    int r = io_uring_register_buffers(&ring_, buffers.data(),
                                      static_cast<unsigned>(buffers.size()));
    if (r < 0) {
      // ENOMEM (RLIMIT_MEMLOCK for non-root), EEXIST (called off the owner
      // thread after it bound): requests go unfixed, nothing else changes.
      return Status::NotSupported("io_uring: register buffers", ErrnoText(-r));
    }
    num_buffers_ = static_cast<unsigned>(buffers.size());
    return Status::OK();
  }

  Status Prepare(const IoRequest& req) override {
    if (req.user_data == kWakeTag) {
      return Status::InvalidArgument("io_uring queue", "reserved user_data");
    }
    if (in_flight_ >= entries_) {
      return Status::Busy(
          "io_uring queue",
          "full (" + std::to_string(entries_) + " requests in flight)");
    }
    VALISE_RETURN_IF_ERROR(Enable());
    int fd = req.file != nullptr ? req.file->native_handle() : -1;
    if (fd < 0) {
      // No descriptor: performed now, completed at the next Wait.
      ready_.push_back({req.user_data, io_internal::PerformRequest(req)});
      ++in_flight_;
      return Status::OK();
    }
    io_uring_sqe* sqe = GetSqe();
    if (sqe == nullptr) {
      return Status::Busy("io_uring queue", "submission ring full");
    }
    int target = fd;
    bool fixed_file = register_files_ && FixedFile(*req.file, fd);
    bool fixed_buf = req.buf_index >= 0 &&
                     static_cast<unsigned>(req.buf_index) < num_buffers_;
    switch (req.op) {
      case IoOp::kRead:
        if (fixed_buf) {
          io_uring_prep_read_fixed(sqe, target, req.buf, req.len, req.offset,
                                   req.buf_index);
        } else {
          io_uring_prep_read(sqe, target, req.buf, req.len, req.offset);
        }
        break;
      case IoOp::kWrite:
        if (fixed_buf) {
          io_uring_prep_write_fixed(sqe, target, req.buf, req.len, req.offset,
                                    req.buf_index);
        } else {
          io_uring_prep_write(sqe, target, req.buf, req.len, req.offset);
        }
        break;
      case IoOp::kSync:
        // fdatasync, like File::Sync.
        io_uring_prep_fsync(sqe, target, IORING_FSYNC_DATASYNC);
        break;
    }
    // The fixed-file index is the descriptor number itself (see FixedFile).
    if (fixed_file) sqe->flags |= IOSQE_FIXED_FILE;
    io_uring_sqe_set_data64(sqe, req.user_data);
    ++in_flight_;
    return Status::OK();
  }

  Status Submit() override {
    VALISE_RETURN_IF_ERROR(Enable());
    if (io_uring_sq_ready(&ring_) == 0) return Status::OK();
    int r = io_uring_submit(&ring_);
    // EBUSY/EAGAIN: the completion side is backed up; the SQEs stay in the
    // ring and go with the next Wait, which reaps first.
    if (r < 0 && r != -EBUSY && r != -EAGAIN && r != -EINTR) {
      return Status::PosixError("io_uring: submit", -r);
    }
    return Status::OK();
  }

  Status Wait(unsigned min_complete, uint64_t timeout_us,
              std::vector<IoCompletion>* out) override {
    VALISE_RETURN_IF_ERROR(Enable());
    unsigned got = static_cast<unsigned>(ready_.size());
    if (got > 0) {
      out->insert(out->end(), ready_.begin(), ready_.end());
      in_flight_ -= got;
      ready_.clear();
    }
    unsigned need = min_complete > got ? min_complete - got : 0;
    int r = 0;
    if (need > 0 && timeout_us > 0) {
      // One system call: submit what is prepared, run deferred completion
      // work, and sleep until `need` CQEs, the timeout, or a wake CQE.
      __kernel_timespec ts;
      ts.tv_sec = static_cast<int64_t>(timeout_us / 1'000'000);
      ts.tv_nsec = static_cast<int64_t>(timeout_us % 1'000'000) * 1000;
      io_uring_cqe* cqe = nullptr;
      r = io_uring_submit_and_wait_timeout(&ring_, &cqe, need, &ts, nullptr);
    } else if (io_uring_sq_ready(&ring_) > 0 || MustEnterForEvents()) {
      r = io_uring_submit_and_get_events(&ring_);
    }
    if (r < 0 && r != -ETIME && r != -EINTR && r != -EBUSY && r != -EAGAIN) {
      return Status::PosixError("io_uring: wait", -r);
    }
    Harvest(out);
    return Status::OK();
  }

  void Wake() override {
    // One eventfd write per wake-up, however many threads call.
    if (wake_pending_.exchange(true, std::memory_order_acq_rel)) return;
    uint64_t one = 1;
    ssize_t n = write(event_fd_, &one, sizeof(one));
    (void)n;  // EAGAIN only if the counter is saturated: already readable
  }

  unsigned in_flight() const override { return in_flight_; }
  unsigned capacity() const override { return entries_; }

  std::string Describe() const override {
    std::string s = "io_uring:";
    for (const SetupFlag& f : kSetupFlags) {
      if (setup_flags_ & f.flag) {
        s += ' ';
        s += f.name;
      }
    }
    if (num_buffers_ > 0) s += " fixed-buffers";
    if (register_files_) s += " fixed-files";
    s += " entries=" + std::to_string(entries_);
    if (!files_note_.empty()) s += " (" + files_note_ + ")";
    return s;
  }

 private:
  // Enables an R_DISABLED ring on the calling (owner) thread, which binds
  // it as the single issuer, and arms the wake-up poll.
  Status Enable() {
    if (wake_armed_ && enabled_) return Status::OK();
    if (!enabled_) {
      // liburing 2.3 declares io_uring_enable_rings() but does not export
      // it (missing from its symbol map): the register call it wraps.
      long r = syscall(__NR_io_uring_register, ring_.ring_fd,
                       IORING_REGISTER_ENABLE_RINGS, nullptr, 0);
      if (r < 0) return Status::PosixError("io_uring: enable rings", errno);
      enabled_ = true;
    }
    if (!wake_armed_) ArmWake();
    return Status::OK();
  }

  void ArmWake() {
    io_uring_sqe* sqe = GetSqe();
    if (sqe == nullptr) return;  // retried at the next Enable()
    if (wake_multishot_) {
      io_uring_prep_poll_multishot(sqe, event_fd_, POLLIN);
    } else {
      io_uring_prep_poll_add(sqe, event_fd_, POLLIN);
    }
    io_uring_sqe_set_data64(sqe, kWakeTag);
    wake_armed_ = true;
  }

  io_uring_sqe* GetSqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) {
      // The SQ ring is full of prepared requests: hand them over first.
      int r = io_uring_submit(&ring_);
      (void)r;  // an error leaves the ring full: Prepare reports Busy
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }

  // Whether completions may be waiting in the kernel, invisible in the CQ
  // ring until the owner enters it.
  bool MustEnterForEvents() const {
    unsigned sq_flags = IO_URING_READ_ONCE(*ring_.sq.kflags);
    if (sq_flags & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)) return true;
    // Deferred or cooperative task work without the flag: no way to know.
    bool coop =
        setup_flags_ & (IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN);
    return coop && !(setup_flags_ & IORING_SETUP_TASKRUN_FLAG);
  }

  // Moves every CQE in the ring to *out (wake CQEs are consumed here).
  void Harvest(std::vector<IoCompletion>* out) {
    unsigned head;
    unsigned seen = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      uint64_t ud = io_uring_cqe_get_data64(cqe);
      if (ud == kWakeTag) {
        OnWakeCqe(cqe->res, cqe->flags);
        continue;
      }
      out->push_back({ud, cqe->res});
      --in_flight_;
    }
    if (seen > 0) io_uring_cq_advance(&ring_, seen);
    if (!wake_armed_) ArmWake();
  }

  void OnWakeCqe(int32_t res, uint32_t flags) {
    if (res == -EINVAL && wake_multishot_) {
      wake_multishot_ = false;  // kernel without multishot poll (< 5.13)
    }
    if (!(flags & IORING_CQE_F_MORE)) wake_armed_ = false;  // re-armed soon
    if (res > 0) {
      // Clear the flag before draining: a Wake() racing with us then either
      // is drained here (this Wait is returning anyway) or writes again.
      wake_pending_.store(false, std::memory_order_release);
      uint64_t count;
      ssize_t n = read(event_fd_, &count, sizeof(count));
      (void)n;  // EAGAIN: already drained by an earlier wake CQE
    }
  }

  // Whether `file` (descriptor fd) may be used through the registered-file
  // table, registering it at its second request.
  bool FixedFile(const File& file, int fd) {
    uint64_t serial = file.open_serial();
    if (serial == 0) return false;
    if (slot_serial_.empty()) {
      // Sized by RLIMIT_NOFILE (the kernel refuses a larger table) and
      // capped; allocated once, at the first request.
      struct rlimit rl;
      unsigned size = kMaxFileTable;
      if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < size) {
        size = static_cast<unsigned>(rl.rlim_cur);
      }
      slot_serial_.assign(size, 0);
      seen_serial_.assign(size, 0);
    }
    if (static_cast<unsigned>(fd) >= slot_serial_.size()) return false;
    if (slot_serial_[fd] == serial) return true;
    if (seen_serial_[fd] != serial) {
      seen_serial_[fd] = serial;
      return false;
    }
    if (!file_table_) {
      int r = io_uring_register_files_sparse(
          &ring_, static_cast<unsigned>(slot_serial_.size()));
      if (r < 0) {
        register_files_ = false;
        files_note_ = "register files: " + ErrnoText(-r);
        return false;
      }
      file_table_ = true;
    }
    // Replaces whatever the slot held: an earlier file on the same
    // descriptor number, closed since (its requests were all reaped).
    int r = io_uring_register_files_update(&ring_, static_cast<unsigned>(fd),
                                           &fd, 1);
    if (r < 0) {
      register_files_ = false;
      files_note_ = "register files: " + ErrnoText(-r);
      return false;
    }
    slot_serial_[fd] = serial;
    return true;
  }

  io_uring ring_;
  bool ring_ok_ = false;
  unsigned entries_ = 0;
  unsigned setup_flags_ = 0;
  bool enabled_ = true;
  int event_fd_ = -1;
  std::atomic<bool> wake_pending_{false};
  bool wake_armed_ = false;
  bool wake_multishot_ = true;
  unsigned in_flight_ = 0;
  std::vector<IoCompletion> ready_;  // served synchronously, not yet reaped
  unsigned num_buffers_ = 0;
  bool register_files_ = true;
  bool file_table_ = false;
  std::vector<uint64_t> slot_serial_;  // by fd: serial registered there
  std::vector<uint64_t> seen_serial_;  // by fd: serial seen once
  std::string files_note_;
};

}  // namespace

std::unique_ptr<IoQueue> IoQueue::Create(const IoQueueOptions& opt,
                                         std::string* note) {
  std::string why;
  if (!opt.use_uring) {
    why = "io_uring not requested";
  } else if (IoUringDisabledSysctl() == 2) {
    why = "io_uring disabled by sysctl kernel.io_uring_disabled=2";
  } else {
    auto q = std::make_unique<UringQueue>();
    Status s = q->Init(opt);
    if (s.ok()) {
      if (note != nullptr) *note = q->Describe();
      return q;
    }
    // EPERM (seccomp, io_uring_disabled=1), ENOSYS (kernel without it),
    // ENOMEM: the synchronous queue does the same work, slower.
    why = s.message();
  }
  if (note != nullptr) *note = "sync: " + why;
  return NewSyncQueue(opt.entries);
}

}  // namespace valise
