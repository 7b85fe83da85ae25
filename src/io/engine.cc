// IoEngine: carries Transfers on an IoQueue to the end (see io_engine.h for
// the contract and the completion table).
//
// Bookkeeping without allocation on the request path: every transfer in
// flight holds a slot in a vector-indexed table (grown only when more
// transfers are in flight than ever before) and its user_data is
// (generation << 32 | slot index), so a completion finds its transfer with
// one index and a stale completion cannot be mistaken for a newer one.
// Free slots are a stack. Per-drive state is a small vector.
//
// Timeouts: each request records when it went out, on the reaper's clock
// (below). The earliest deadline is kept; the in-flight slots are scanned
// only when it has passed, and a waiting Reap sleeps no longer than until
// it.
//
// The reaper's clock. A drive is stalled only if its requests stayed
// unanswered while this process was able to reap them. Time the process
// did not run (stopped by SIGSTOP or Ctrl-Z, a VM paused, a laptop lid
// closed) is not the drive's fault: the requests may well have completed
// meanwhile, and with io_uring's deferred completions they are seen only
// at the next wait, after the deadline check would have failed them all.
// So deadlines are kept on a clock of their own, which moves only while
// the owner is reaping: each Reap advances it by the FileSystem clock's
// progress since the previous one, but by no more than the wait that Reap
// allowed itself plus kAwakeSlackUs (scheduling delay). A longer gap is a
// pause, or the owner held elsewhere, and is not counted. The FileSystem
// clock stays the source (the simulated disk drives it in tests).
//
// Thread safety: one owner thread; Wake() from any thread (the queue's).

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "valise/file_system.h"
#include "valise/io_engine.h"
#include "valise/io_queue.h"
#include "valise/status.h"

namespace valise {

namespace {

constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();
// The most a Reap's gap may exceed the wait it allowed itself and still
// count in full on the reaper's clock (see the essay above).
constexpr uint64_t kAwakeSlackUs = 1'000'000;

// Errors that mean "the medium could not deliver these bytes": worth a
// retry (a marginal sector may read on the second try), then a bad region.
bool IsMediaError(int err) {
  return err == EIO || err == EILSEQ || err == EBADMSG || err == ENODATA ||
         err == EUCLEAN || err == EREMOTEIO;
}

const char* OpName(IoOp op) {
  switch (op) {
    case IoOp::kRead:
      return "read";
    case IoOp::kWrite:
      return "write";
    case IoOp::kSync:
      return "sync";
  }
  return "io";
}

// "<path>: read at <offset>" for the request that failed (the transfer's
// offset advanced by what was already done); "<path>: sync" for a sync.
std::string Where(const Transfer& t) {
  std::string s = t.file != nullptr ? t.file->path() : std::string("?");
  s += ": ";
  s += OpName(t.op);
  if (t.op != IoOp::kSync) {
    s += " at ";
    s += std::to_string(t.offset + t.done);
  }
  return s;
}

std::string Seconds(uint64_t us) {
  if (us % 1'000'000 == 0) return std::to_string(us / 1'000'000);
  char buf[32];
  snprintf(buf, sizeof(buf), "%.3g", static_cast<double>(us) / 1e6);
  return buf;
}

}  // namespace

CompletionAction OnCompletion(Transfer& t, int32_t res,
                              const EngineOptions& opt) {
  if (res >= 0) {
    if (t.op == IoOp::kSync) {
      t.status = Status::OK();
      return CompletionAction::kDone;
    }
    uint32_t remaining = t.len - t.done;
    uint32_t got = static_cast<uint32_t>(res);
    if (got > remaining) {
      t.status = Status::Corruption(
          Where(t), "device returned " + std::to_string(got) +
                        " bytes for a request of " + std::to_string(remaining));
      return CompletionAction::kFail;
    }
    if (got == remaining) {
      t.done += got;
      t.status = Status::OK();
      return CompletionAction::kDone;
    }
    if (got == 0) {
      if (t.op == IoOp::kRead) {  // end of file before len
        t.status = Status::OK();
        return CompletionAction::kDone;
      }
      // A write that makes no progress would be resubmitted forever.
      t.status = Status::IOError(Where(t), "no progress (0 bytes written)");
      return CompletionAction::kFail;
    }
    t.done += got;
    // An O_DIRECT read that stops short of an aligned offset stopped at the
    // end of the file: continuing would ask for an unaligned read (EINVAL)
    // only to learn the same thing.
    if (t.op == IoOp::kRead && t.file != nullptr && t.file->is_direct() &&
        (t.offset + t.done) % kDirectAlignment != 0) {
      t.status = Status::OK();
      return CompletionAction::kDone;
    }
    return CompletionAction::kContinue;
  }

  int err = -res;
  if (err == EAGAIN || err == EINTR) return CompletionAction::kResubmit;
  if (err == EINVAL && t.op != IoOp::kSync && t.file != nullptr &&
      t.file->is_direct()) {
    return CompletionAction::kDropDirect;
  }
  // A failed fdatasync is never retried: the kernel may already have
  // dropped the dirty pages, and a second fdatasync would report success
  // for data that is gone.
  if (IsMediaError(err) && t.op != IoOp::kSync) {
    if (t.attempts < opt.retries) {
      ++t.attempts;
      return CompletionAction::kRetry;
    }
    t.status = Status::PosixError(Where(t), err).WithDataLoss(true);
    return CompletionAction::kFail;
  }
  t.status = Status::PosixError(Where(t), err);
  if (IsMediaError(err)) t.status = t.status.WithDataLoss(true);
  return CompletionAction::kFail;
}

struct IoEngine::State {
  struct Slot {
    Transfer* t = nullptr;  // null when free
    uint32_t gen = 0;
    bool timed_out = false;
  };
  struct Drive {
    unsigned depth = 1;
    unsigned in_flight = 0;  // includes timed-out, not yet answered
    unsigned timed_out = 0;  // failed by timeout, late completion pending
    bool stalled = false;
  };

  EngineOptions opt;
  FileSystem* clock = nullptr;
  std::vector<Drive> drives;
  std::vector<Slot> slots;
  std::vector<uint32_t> free_slots;
  std::vector<IoCompletion> completions;  // reused by every Reap
  unsigned in_flight = 0;
  uint64_t next_deadline_us = kNever;  // on the reaper's clock
  // The reaper's clock (see the essay above), and the FileSystem clock
  // when it last moved.
  uint64_t awake_us = 0;
  uint64_t last_seen_us = 0;

  // Moves the reaper's clock on by the time since it last moved, counting
  // at most `allowed_us` + kAwakeSlackUs of it; returns the new reading.
  uint64_t Advance(uint64_t allowed_us) {
    const uint64_t now = clock->NowMicros();
    const uint64_t gap = now > last_seen_us ? now - last_seen_us : 0;
    awake_us += std::min(gap, allowed_us + kAwakeSlackUs);
    last_seen_us = now;
    return awake_us;
  }

  bool ValidDrive(int d) const {
    return d >= 0 && static_cast<size_t>(d) < drives.size();
  }

  uint32_t AllocSlot(Transfer* t) {
    uint32_t index;
    if (free_slots.empty()) {
      index = static_cast<uint32_t>(slots.size());
      slots.emplace_back();
    } else {
      index = free_slots.back();
      free_slots.pop_back();
    }
    Slot& s = slots[index];
    s.t = t;
    s.gen++;
    s.timed_out = false;
    return index;
  }

  uint64_t UserData(uint32_t index) const {
    return (uint64_t{slots[index].gen} << 32) | index;
  }

  void Finish(uint32_t index) {
    Slot& s = slots[index];
    Drive& d = drives[s.t->drive];
    --d.in_flight;
    --in_flight;
    s.t = nullptr;
    free_slots.push_back(index);
  }

  // Hands the rest of slot `index`'s transfer to the queue.
  Status Issue(IoQueue* queue, uint32_t index) {
    Transfer& t = *slots[index].t;
    IoRequest req;
    req.op = t.op;
    req.file = t.file;
    req.offset = t.offset + t.done;
    req.buf = t.buf == nullptr ? nullptr : t.buf + t.done;
    req.len = t.len - t.done;
    req.buf_index = t.buf_index;
    req.user_data = UserData(index);
    t.submitted_us = awake_us;
    if (opt.io_timeout_us > 0) {
      next_deadline_us =
          std::min(next_deadline_us, t.submitted_us + opt.io_timeout_us);
    }
    return queue->Prepare(req);
  }
};

IoEngine::IoEngine(std::unique_ptr<IoQueue> queue, int num_drives,
                   const EngineOptions& opt, FileSystem* clock_source)
    : queue_(std::move(queue)), state_(std::make_unique<State>()) {
  state_->opt = opt;
  state_->clock =
      clock_source != nullptr ? clock_source : FileSystem::Default();
  state_->last_seen_us = state_->clock->NowMicros();
  state_->drives.resize(static_cast<size_t>(std::max(num_drives, 1)));
  unsigned cap = queue_->capacity();
  state_->slots.reserve(cap);
  state_->free_slots.reserve(cap);
  state_->completions.reserve(cap);
}

IoEngine::~IoEngine() = default;

void IoEngine::SetDepth(int drive, unsigned depth) {
  if (state_->ValidDrive(drive)) state_->drives[drive].depth = depth;
}

unsigned IoEngine::depth(int drive) const {
  return state_->ValidDrive(drive) ? state_->drives[drive].depth : 0;
}

bool IoEngine::HasRoom(int drive) const {
  if (!state_->ValidDrive(drive)) return false;
  const State::Drive& d = state_->drives[drive];
  return !d.stalled && d.in_flight < d.depth &&
         queue_->in_flight() < queue_->capacity();
}

unsigned IoEngine::in_flight(int drive) const {
  return state_->ValidDrive(drive) ? state_->drives[drive].in_flight : 0;
}

unsigned IoEngine::in_flight() const { return state_->in_flight; }

unsigned IoEngine::timed_out() const {
  unsigned n = 0;
  for (const State::Drive& d : state_->drives) n += d.timed_out;
  return n;
}

bool IoEngine::stalled(int drive) const {
  return state_->ValidDrive(drive) && state_->drives[drive].stalled;
}

Status IoEngine::Submit(Transfer* t) {
  State& st = *state_;
  if (!st.ValidDrive(t->drive)) {
    return Status::InvalidArgument("io engine",
                                   "no drive " + std::to_string(t->drive));
  }
  if (!HasRoom(t->drive)) {
    return Status::Busy("io engine", "drive " + std::to_string(t->drive) +
                                         (st.drives[t->drive].stalled
                                              ? " is stalled"
                                              : " is at its queue depth"));
  }
  t->done = 0;
  t->status = Status::OK();
  t->late = false;
  t->attempts = 0;
  uint32_t index = st.AllocSlot(t);
  ++st.drives[t->drive].in_flight;
  ++st.in_flight;
  Status s = st.Issue(queue_.get(), index);
  if (!s.ok()) st.Finish(index);
  return s;
}

Status IoEngine::Flush() { return queue_->Submit(); }

Status IoEngine::Reap(std::vector<Transfer*>* done, bool wait,
                      uint64_t wait_us) {
  State& st = *state_;
  unsigned min_complete = (wait && st.in_flight > 0) ? 1 : 0;
  // The caller's work since the last Reap counts up to the slack.
  uint64_t now = st.Advance(0);
  if (min_complete > 0 && st.next_deadline_us != kNever) {
    // Sleep no longer than until the earliest deadline.
    if (st.next_deadline_us <= now) {
      min_complete = 0;
    } else {
      wait_us = std::min(wait_us, st.next_deadline_us - now);
    }
  }
  st.completions.clear();
  // Submits whatever Submit() prepared and waits, in one call.
  VALISE_RETURN_IF_ERROR(queue_->Wait(min_complete, wait_us, &st.completions));
  // The wait counts up to what it was allowed (plus the slack): a process
  // stopped in it was not able to reap.
  now = st.Advance(min_complete > 0 ? wait_us : 0);

  bool resubmitted = false;
  for (const IoCompletion& c : st.completions) {
    uint32_t index = static_cast<uint32_t>(c.user_data);
    uint32_t gen = static_cast<uint32_t>(c.user_data >> 32);
    if (index >= st.slots.size() || st.slots[index].t == nullptr ||
        st.slots[index].gen != gen) {
      continue;  // not ours (cannot happen with a correct queue)
    }
    State::Slot& slot = st.slots[index];
    Transfer& t = *slot.t;
    if (slot.timed_out) {
      // Already reported failed; now the buffer is free again.
      State::Drive& d = st.drives[t.drive];
      t.late = true;
      if (--d.timed_out == 0) d.stalled = false;
      st.Finish(index);
      done->push_back(&t);
      continue;
    }
    CompletionAction action = OnCompletion(t, c.res, st.opt);
    if (action == CompletionAction::kDropDirect) {
      Status s = t.file->DropDirect();
      if (!s.ok()) {
        t.status = s;
        action = CompletionAction::kFail;
      }
    }
    switch (action) {
      case CompletionAction::kDone:
      case CompletionAction::kFail:
        st.Finish(index);
        done->push_back(&t);
        break;
      case CompletionAction::kContinue:
      case CompletionAction::kResubmit:
      case CompletionAction::kRetry:
      case CompletionAction::kDropDirect: {
        Status s = st.Issue(queue_.get(), index);
        if (s.ok()) {
          resubmitted = true;
        } else {
          t.status = s;
          st.Finish(index);
          done->push_back(&t);
        }
        break;
      }
    }
  }
  if (resubmitted) VALISE_RETURN_IF_ERROR(queue_->Submit());

  // Timeouts: only when the earliest deadline has passed.
  if (st.opt.io_timeout_us == 0 || st.in_flight == 0) {
    st.next_deadline_us = kNever;
    return Status::OK();
  }
  if (now < st.next_deadline_us) return Status::OK();
  uint64_t next = kNever;
  for (State::Slot& slot : st.slots) {
    if (slot.t == nullptr || slot.timed_out) continue;
    Transfer& t = *slot.t;
    uint64_t deadline = t.submitted_us + st.opt.io_timeout_us;
    if (now < deadline) {
      next = std::min(next, deadline);
      continue;
    }
    slot.timed_out = true;
    State::Drive& d = st.drives[t.drive];
    d.stalled = true;
    ++d.timed_out;
    t.status = Status::TimedOut(Where(t), "no answer after " +
                                              Seconds(st.opt.io_timeout_us) +
                                              " s; drive stalled");
    done->push_back(&t);
  }
  st.next_deadline_us = next;
  return Status::OK();
}

void IoEngine::Wake() { queue_->Wake(); }

}  // namespace valise
