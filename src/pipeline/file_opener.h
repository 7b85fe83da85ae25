// FileOpener (file_opener.cc): opens the files the read loop reads next on
// a thread of its own, a few per drive ahead of the I/O thread. On small
// files the I/O thread spent a third of its time opening them (the
// source's open, fstat and fcntl; making the staged file in DEST, an xfs
// transaction), and every file passes through that one thread; the opening
// thread takes that work to another core. (On 2 cores, both busy, the run
// takes as long either way: the gain is the I/O thread's headroom.)
//
// Each drive's files are opened in reading order, at most `ahead` of them
// beyond the one the I/O thread takes next; the I/O thread takes them in
// the same order (Take), and opens a file itself when the thread has not
// reached it: it waits only for an open of that very file under way. A
// drive given up (Drop) is opened no further: its files opened and not
// taken are handed back, and an open under way then is given to the
// drop's `late` once it returns, on the opening thread.
//
// A hung drive can hang an open, as it would on the I/O thread; here the
// other drives go on, and Stop waits for it.
//
// Thread safety: Take, Drop and Stop from one thread (the I/O thread);
// `open` and `late` run on the opening thread, or in Take on the caller's.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "pipeline/reader.h"
#include "valise/destination.h"
#include "valise/file_system.h"

namespace valise {

class FileOpener {
 public:
  // One job's files: the source, and its staged file if the opener made
  // it. `status` is the first failure; `write_failed` says it is DEST's.
  struct Opened {
    Status status;
    std::unique_ptr<File> file;
    std::unique_ptr<StagedFile> staged;
    bool write_failed = false;
  };
  using OpenFn = std::function<void(const ReadJob&, Opened*)>;
  using LateFn = std::function<void(const ReadJob&, Opened&&)>;

  // `per_drive[d]`: drive d's jobs in reading order (live while this is).
  // ahead == 0: no thread; Take opens every file itself.
  FileOpener(const std::vector<std::vector<ReadJob>>& per_drive, size_t ahead,
             OpenFn open);
  ~FileOpener();  // Stop()
  FileOpener(const FileOpener&) = delete;
  FileOpener& operator=(const FileOpener&) = delete;

  // Drive d's job i, opened: by the thread (waiting for it if its open is
  // under way) or now. Each drive's jobs are taken in order, each once.
  Opened Take(int d, size_t i);

  // Drive d takes nothing more; nothing more of it is opened. Its jobs
  // opened and not taken, in order, with their index; `under_way`: the
  // index of an open under way, handed to `late` when it returns.
  struct Dropped {
    std::vector<std::pair<size_t, Opened>> opened;
    std::optional<size_t> under_way;
  };
  Dropped Drop(int d, LateFn late);

  // Ends the thread once its open under way is done (and handed over).
  void Stop();

  // Jobs the thread has opened (tests).
  size_t opened_ahead() const;

 private:
  struct DriveState {
    size_t taken = 0;          // the next job to take
    size_t claimed = 0;        // the next job to open (by either thread)
    std::deque<Opened> ready;  // jobs [taken, taken + ready.size())
    bool dropped = false;
    LateFn late;
  };
  static constexpr size_t kNone = static_cast<size_t>(-1);

  void Loop();
  bool PickLocked(int* d);

  const std::vector<std::vector<ReadJob>>& per_drive_;
  const size_t ahead_;
  const OpenFn open_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<DriveState> drives_;
  int busy_drive_ = -1;  // the thread's open under way: drive, job
  size_t busy_job_ = kNone;
  int next_drive_ = 0;  // round robin
  bool quit_ = false;
  size_t opened_ahead_ = 0;
  std::thread thread_;
};

// Files opened ahead per drive for `drives` drives read at once: 16 in
// all (a source and a staged file each), at least 1 and at most 8 a drive.
size_t OpenAheadPerDrive(size_t drives);

}  // namespace valise
