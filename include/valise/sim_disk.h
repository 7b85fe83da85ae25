// The simulated disk: an in-memory FileSystem and IoQueue that break on
// purpose, driven by a seed, so every error path of the engine, the
// pipeline and the journal can be exercised without a kernel (faults from
// outside, strace or LD_PRELOAD, never reach io_uring requests).
//
// It models:
//   - a tree of directories, regular files, symlinks, FIFOs, sockets and
//     devices (only regular files hold data). Each top-level directory is a
//     "drive": it has its own st_dev, so rename, link and clone across two
//     drives fail with EXDEV as they would across two mounts;
//   - sector errors: ranges that fail with `err` (EIO) on every read
//     (persistent), and transient read errors (1-in-N per request, the next
//     attempt may succeed);
//   - short reads and -EAGAIN completions (1-in-N), bit flips in returned
//     data (1-in-N reads; one bit of the caller's buffer, the data at rest
//     is unchanged);
//   - write errors, fsync errors (1-in-N), ENOSPC once `capacity_bytes` or
//     `capacity_inodes` would be exceeded;
//   - stalls: requests on a stalled prefix (Stall("drive2/")) or picked by
//     `stall_one_in` never complete until a matching Unstall();
//   - crashes (power loss), see "Crash model" below;
//   - SetActive(false, status): every later call fails with that status.
// Every injected error carries Status::injected() (and the completions the
// queue returns are counted in stats()), so tests tell injected from real.
//
// Paths. The disk has one root; "drive1/a" and "/drive1/a" name the same
// file. FileSystem methods resolve like the kernel (intermediate symlinks
// are followed, at most 40; ".." at the root stays at the root). Directory
// handles resolve like openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS): a
// symlink anywhere in the path fails with ELOOP, an absolute path or a ".."
// that would climb above the handle fails with EXDEV ("a/../b" is fine),
// both through Status::PosixError, so err() is the errno the kernel gives
// (PosixError makes ELOOP an IOError and EXDEV NotSupported: test err()).
// A symlink as the last component is never followed: Stat reports it,
// Rename/Link/Remove act on the link itself, opening it is ELOOP (only
// ReadSmallFile, a plain open(2), follows it). WriteSmallFile writes a
// temporary name, syncs it, renames it and syncs the directory, each step
// subject to the faults of its path.
//
// Faults apply per path prefix: SetFaults("drive2/", f) affects only files
// opened by a path under drive2/, so a test can show one drive's faults
// change nothing on the others. The longest matching prefix wins; "" is the
// default. Prefixes are matched as strings against the path the File was
// opened by, leading "/" and "." components removed ("drive2/" does not
// match "drive20/x"; "drive2" does); a SyncDir is matched as the
// directory's path plus "/".
//
// Fault order, per operation. Each 1-in-N roll is a decision drawn for
// that operation alone (its kind, its file's path, offset and length, and
// how many times the same operation was decided before), never from a
// stream the threads share: the same operations meet the same faults in
// every replay of a seed, whichever thread reaches the disk first.
//   read:  inactive -> crashed file -> stall -> O_DIRECT alignment (EINVAL)
//          -> bad range -> transient EIO -> EAGAIN (queue only) -> short
//          read -> copy -> bit flip
//   write: inactive -> crashed file -> stall -> read-only (EBADF) ->
//          O_DIRECT alignment -> write error (EIO) -> EAGAIN (queue only)
//          -> ENOSPC -> short write (queue only) -> store
//   sync:  inactive -> crashed file -> stall -> fsync error (EIO) -> durable
// Synchronous File calls apply the same model except EAGAIN and short
// writes (pread/pwrite on a regular file give neither); ReadAt may return a
// short count. A synchronous call on a stalled path blocks its thread until
// Unstall (or Crash, or SetActive(false)), like a read on a hung disk.
// Writes never change mtime (the simulated clock is not wall time); every
// change to a file (data, size, mode, mtime, a name added or removed)
// changes its ctime, which is a counter (FileInfo::ctime_ns: never the same
// value twice, not taken back by Crash()), not a time.
//
// O_DIRECT. A File opened with ReadOptions::direct (and allow_direct) or
// WriteOptions::direct reports is_direct(); its reads and writes need
// offset, length and buffer address aligned to kDirectAlignment, else they
// fail with EINVAL (not injected: it is what the kernel does). A read that
// reaches end of file returns the short count, as the kernel does.
//
// Crash model (power loss, mirroring ext4/xfs closely enough for the
// ingest's commit protocol; everything not listed is lost):
//   - File data: each file keeps the bytes as of its last successful Sync()
//     (fdatasync); Crash() puts those back, so unsynced writes, truncates
//     and clones vanish. A file created and never synced comes back empty
//     (if its name survives). A failed Sync makes nothing durable.
//   - Mode and mtime: durable at the file's next successful Sync() or at a
//     successful SyncDir() of a directory that holds a name of it (on ext4
//     and xfs the directory fsync commits the journal that carries the
//     inode change).
//   - Directory::SyncFs() makes everything on the drive (the top-level
//     directory holding the Directory) durable at once: data, mode, mtime
//     and entries, as syncfs(2) does on ext4 and xfs.
//   - Directory entries: each directory keeps its entries as of its last
//     successful SyncDir(); create, rename, link and remove in a directory
//     become durable only then. Crash() puts those entries back, then drops
//     everything no longer reachable from the root. So a file created and
//     synced whose directory was never synced disappears, and a rename is
//     kept only where SyncDir ran: with neither directory synced it
//     reverts; with only the target synced the file has both names.
//   - Everything built with AddFile/AddDir/... is durable at once.
//   - After Crash(), every File and Directory opened before it is invalid:
//     calls fail with an injected IOError whose err() is ESTALE (queue
//     requests on them complete with -ESTALE), and every Lock is released
//     (the process died).
//
// Space. Used bytes are the sizes of every regular file that has a name
// (clones are charged in full: copy semantics); inodes count every file,
// directory, symlink and special except the root. A write or truncate that
// would push used bytes above capacity_bytes, or a create beyond
// capacity_inodes, fails with ENOSPC (injected) and changes nothing.
// FreeSpace reports capacity minus used.
//
// The clock. NowMicros() is simulated: it starts at 1 s and moves only when
// a queue Wait times out (by timeout_us), when a Wait returns completions
// (by latency_us), or by AdvanceClock(). Engine timeouts can thus be tested
// without sleeping: a drive stalled for 30 s costs no real time.
//
// Thread safety: all methods may be called from any thread (one mutex).
// The IoQueue it returns follows IoQueue's contract (one owner thread;
// Wake() from any thread). Files, Directories and queues keep the
// simulated state alive, so they may outlive the SimDisk.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "valise/file_system.h"
#include "valise/io_queue.h"

namespace valise {

struct SimFaults {
  // Each rate is "1 in N" per operation of that kind; 0 disables, 1 makes
  // every operation fail.
  uint32_t read_error_one_in = 0;   // transient EIO on a read request
  uint32_t short_read_one_in = 0;   // a read returns fewer bytes than asked
  uint32_t eagain_one_in = 0;       // a queued read/write completes -EAGAIN
  uint32_t bit_flip_one_in = 0;     // one bit of a read's data flipped
  uint32_t write_error_one_in = 0;  // EIO on a write (nothing written)
  uint32_t sync_error_one_in = 0;   // EIO on fsync/fdatasync/directory fsync
  uint32_t stall_one_in = 0;        // a request never completes (Unstall)
  uint32_t short_write_one_in = 0;  // a queued write stores only a prefix
};

struct SimDiskOptions {
  // Seeds every fault roll and the queue's completion order. Default: 1.
  uint64_t seed = 1;
  // ENOSPC beyond this many bytes of file data. Default: unlimited.
  uint64_t capacity_bytes = UINT64_MAX;
  // ENOSPC beyond this many inodes. Default: unlimited.
  uint64_t capacity_inodes = UINT64_MAX;
  // Whether O_DIRECT opens succeed (false: they fall back to buffered).
  // Default: true.
  bool allow_direct = true;
  // Whether File::CloneFrom works (false: NotSupported with EOPNOTSUPP, a
  // DEST without reflinks). Default: true.
  bool reflink = true;
  // Whether Directory::SyncFs works (false: NotSupported, a DEST where
  // syncfs is not trusted, so the caller syncs file by file). Default: true.
  bool syncfs = true;
  // Whether Directory::Rename with noreplace works onto an absent name
  // (false: it fails with EINVAL, as on ceph-fuse, which has no rename
  // with flags; onto an existing name it still fails with EEXIST). Link is
  // unaffected. Default: true.
  bool rename_noreplace = true;
  // Crash() keeps every directory's entries as they are (each create,
  // rename, link and remove durable, as if the file system's log had been
  // forced just before the power cut, which a journaling file system may do
  // at any moment), while file data, mode and mtime still go back to their
  // last sync. The worst case for a name given before its data is durable.
  // Default: false (entries as of each directory's last sync).
  bool names_ahead_of_data = false;
  // Simulated microseconds a queue Wait that returns completions advances
  // the clock by. Default: 100.
  uint64_t latency_us = 100;
  // Directory::FreeSpace still counts a removed file's bytes as used the
  // next this many times it is asked, as xfs frees a removed file's blocks
  // in the background (statfs shows them used until then). Default: 0.
  unsigned free_space_lag = 0;
};

class SimDisk final : public FileSystem {
 public:
  explicit SimDisk(const SimDiskOptions& opt);
  ~SimDisk() override;

  // --- Building the tree (never faulted, durable at once). Parents are
  // created as needed; an existing file is replaced.
  void AddFile(const std::string& path, std::string_view data,
               int64_t mtime_ns = 0, uint32_t mode = 0644);
  void AddDir(const std::string& path);
  void AddSymlink(const std::string& path, const std::string& target);
  void AddSpecial(const std::string& path, FileType type);  // FIFO, etc.
  // The current bytes of a file (synced or not); false if absent.
  bool GetFile(const std::string& path, std::string* data) const;
  bool Exists(const std::string& path) const;
  // Overrides the fake physical offset PhysicalOffset() reports (by default
  // creation order * 1 MiB). False if `path` is not a regular file.
  bool SetPhysicalOffset(const std::string& path, uint64_t offset);
  // Stat reports `rotational` for paths under `prefix` (a spinning drive).
  void SetRotational(const std::string& prefix, bool rotational);
  // Files opened from now on may be O_DIRECT (SimDiskOptions::allow_direct)
  // or not (a file system that refuses it, as tmpfs does).
  void SetAllowDirect(bool allow);

  // --- Faults.
  void SetFaults(const std::string& prefix, const SimFaults& faults);
  // Every read touching [offset, offset+len) of the file at `path` fails
  // with `err`. The range belongs to the file (it follows renames); nothing
  // happens if `path` is not a regular file.
  void AddBadRange(const std::string& path, uint64_t offset, uint64_t len,
                   int err = 5 /* EIO */);
  // Flips bit `bit` of byte `offset` of the stored data (rot at rest; the
  // synced copy too).
  void FlipStoredBit(const std::string& path, uint64_t offset, int bit);
  // Requests on paths under `prefix` stop completing. Unstall(prefix) lifts
  // that stall and releases requests stalled by `stall_one_in` under it.
  void Stall(const std::string& prefix);
  void Unstall(const std::string& prefix);
  void SetActive(bool active, Status status = Status::IOError("sim: inactive"));
  // Drops unsynced writes and unsynced directory changes (see above).
  void Crash();
  // Cuts the power (Crash) just before the disk's next write or sync once
  // it has executed `ops` more of them (counted from this call; 0: never):
  // that operation fails as on a dead handle (ESTALE). The cut falls on an
  // exact operation, inside the disk, where a thread watching stats()
  // would let a few more slip by. Stats::crashes counts the cuts.
  void CrashAfter(uint64_t ops);
  // Moves the simulated clock forward.
  void AdvanceClock(uint64_t us);

  struct Stats {
    // Operations executed (failed ones included), sync calls and queued.
    uint64_t reads = 0, writes = 0, syncs = 0;
    // Of the syncs: fdatasyncs of a file, and SyncFs calls.
    uint64_t file_syncs = 0, syncfs = 0;
    // Every injected failure (EIO, bad range, EAGAIN, ENOSPC, inactive,
    // crashed file); then some of the kinds on their own.
    uint64_t injected_errors = 0, short_reads = 0, eagains = 0;
    uint64_t bit_flips = 0, stalls = 0;
    uint64_t bytes_read = 0, bytes_written = 0;
    uint64_t crashes = 0;  // by Crash() and CrashAfter()
    // Range clones (FICLONERANGE) that succeeded, and their bytes.
    uint64_t range_clones = 0, bytes_range_cloned = 0;
  };
  Stats stats() const;

  // --- FileSystem.
  Status Stat(const std::string& path, FileInfo* info) override;
  // As the kernel resolves (at most 40 links, ".." at the root stays
  // there); the result is "/drive1/a" for "drive1/a".
  Status ResolvePath(const std::string& path, std::string* resolved) override;
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
  // The simulated queue. Prepare() queues, Submit() (or Wait()) puts the
  // prepared requests in flight, Wait() completes a seeded random subset of
  // the in-flight requests that are not stalled (at least min_complete when
  // that many can complete), in a seeded random order, computing each
  // result from the file contents at that moment with the faults above.
  // Wait never sleeps: when fewer than min_complete can complete, the wait
  // "lasts" timeout_us on the simulated clock (0: returns at once, as the
  // io_uring queue does) and returns the ready ones, perhaps none; a
  // Wake() before it (from any thread) makes it return without moving the
  // clock. Requests with a buf_index must lie inside that registered
  // buffer (else -EFAULT). While the disk is inactive, requests complete
  // with -err of the SetActive status (EIO if it has none).
  std::unique_ptr<IoQueue> NewIoQueue(const IoQueueOptions& opt,
                                      std::string* note) override;
  uint64_t NowMicros() override;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace valise
