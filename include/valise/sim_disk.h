// The simulated disk: an in-memory FileSystem and IoQueue that break on
// purpose, driven by a seed, so every error path of the engine, the
// pipeline and the journal can be exercised without a kernel (faults from
// outside, strace or LD_PRELOAD, never reach io_uring requests).
//
// It models:
//   - a tree of directories, regular files, symlinks, FIFOs, sockets and
//     devices (only regular files hold data);
//   - sector errors: ranges that fail with EIO on every read (persistent),
//     and transient read errors (1-in-N per request, succeed on retry);
//   - short reads and -EAGAIN completions (1-in-N), bit flips in returned
//     data (1-in-N reads, the data at rest is unchanged);
//   - write errors, fsync errors (1-in-N), ENOSPC once `capacity_bytes` or
//     `capacity_inodes` is reached;
//   - stalls: a drive (a top-level directory) whose requests never complete
//     until Unstall();
//   - crashes: Crash() forgets every write not followed by a successful
//     Sync() of its file, and every directory entry change (create, rename,
//     remove) not followed by SyncDir() of its directory;
//   - SetActive(false, status): every later call fails with that status.
// Every injected error carries Status::injected() (and the completions the
// queue returns are counted in stats()), so tests tell injected from real.
//
// Faults apply per path prefix: SetFaults("drive2/", f) affects only files
// under drive2/, so a test can show one drive's faults change nothing on
// the others. The longest matching prefix wins; "" is the default.
//
// Thread safety: all methods may be called from any thread (one mutex).
// The IoQueue it returns follows IoQueue's contract (one owner thread).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "valise/file_system.h"
#include "valise/io_queue.h"

namespace valise {

struct SimFaults {
  // Each rate is "1 in N" per operation of that kind; 0 disables.
  uint32_t read_error_one_in = 0;  // transient EIO on a read request
  uint32_t short_read_one_in = 0;  // a read returns fewer bytes than asked
  uint32_t eagain_one_in = 0;      // a request completes with -EAGAIN
  uint32_t bit_flip_one_in = 0;    // one bit of a read's data flipped
  uint32_t write_error_one_in = 0;  // EIO on a write
  uint32_t sync_error_one_in = 0;   // EIO on fsync/fdatasync
  uint32_t stall_one_in = 0;        // a request never completes
};

struct SimDiskOptions {
  uint64_t seed = 1;
  uint64_t capacity_bytes = UINT64_MAX;   // ENOSPC beyond this
  uint64_t capacity_inodes = UINT64_MAX;  // ENOSPC beyond this many inodes
  // Whether O_DIRECT opens succeed (false: they fall back to buffered).
  bool allow_direct = true;
};

class SimDisk final : public FileSystem {
 public:
  explicit SimDisk(const SimDiskOptions& opt);
  ~SimDisk() override;

  // --- Building the tree (never faulted). Parents are created as needed.
  void AddFile(const std::string& path, std::string_view data,
               int64_t mtime_ns = 0, uint32_t mode = 0644);
  void AddDir(const std::string& path);
  void AddSymlink(const std::string& path, const std::string& target);
  void AddSpecial(const std::string& path, FileType type);  // FIFO, etc.
  // The current bytes of a file (synced or not); false if absent.
  bool GetFile(const std::string& path, std::string* data) const;
  bool Exists(const std::string& path) const;

  // --- Faults.
  void SetFaults(const std::string& prefix, const SimFaults& faults);
  // Every read touching [offset, offset+len) of `path` fails with `err`.
  void AddBadRange(const std::string& path, uint64_t offset, uint64_t len,
                   int err = 5 /* EIO */);
  // Flips bit `bit` of byte `offset` of the stored data (rot at rest).
  void FlipStoredBit(const std::string& path, uint64_t offset, int bit);
  void Stall(const std::string& prefix);
  void Unstall(const std::string& prefix);
  void SetActive(bool active, Status status = Status::IOError("sim: inactive"));
  // Drops unsynced writes and unsynced directory changes.
  void Crash();

  struct Stats {
    uint64_t reads = 0, writes = 0, syncs = 0;
    uint64_t injected_errors = 0, short_reads = 0, eagains = 0;
    uint64_t bit_flips = 0, stalls = 0;
    uint64_t bytes_read = 0, bytes_written = 0;
  };
  Stats stats() const;

  // --- FileSystem.
  Status Stat(const std::string& path, FileInfo* info) override;
  Status ListDir(const std::string& path,
                 std::vector<DirEntry>* entries) override;
  Status OpenForRead(const std::string& path, const ReadOptions& opt,
                     std::unique_ptr<File>* result) override;
  Status OpenDirectory(const std::string& path, bool create,
                       std::unique_ptr<Directory>* result) override;
  Status ReadSmallFile(const std::string& path, std::string* data,
                       size_t max_size) override;
  Status WriteSmallFile(const std::string& path, const std::string& data,
                        uint32_t mode) override;
  std::unique_ptr<IoQueue> NewIoQueue(const IoQueueOptions& opt,
                                      std::string* note) override;
  uint64_t NowMicros() override;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace valise
