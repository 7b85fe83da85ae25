// The state behind SimDisk (include/valise/sim_disk.h), shared by the
// FileSystem, its Files and Directories and the simulated IoQueue.
//
// One mutex guards everything. Methods named ...Locked require it to be
// held; the condition variable `cv` is signalled whenever a synchronous
// call blocked on a stall may be able to go on (Unstall, Crash, SetActive).
//
// The tree is a graph of shared Nodes: a directory maps names to children,
// once as they are now (`entries`) and once as they were at its last
// SyncDir (`synced_entries`); hard links are two names for one Node. Open
// Files and Directories hold their Node, so a removed file stays readable
// through an open handle, as on a real file system.
//
// Thread safety: everything here requires `mu` unless stated otherwise.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "valise/file_system.h"
#include "valise/io_queue.h"
#include "valise/sim_disk.h"
#include "valise/status.h"

namespace valise {
namespace sim {

inline constexpr uint64_t kPhysicalStride = uint64_t{1} << 20;  // 1 MiB
inline constexpr int kMaxSymlinkFollows = 40;  // the kernel's MAXSYMLINKS

struct BadRange {
  uint64_t offset = 0;
  uint64_t len = 0;
  int err = 0;
};

struct Node {
  uint64_t ino = 0;
  FileType type = FileType::kUnknown;
  uint64_t device = 0;
  uint64_t physical = 0;  // fake FIEMAP offset of a regular file
  uint64_t nlink = 0;     // names in current entries

  uint32_t mode = 0, synced_mode = 0;
  int64_t mtime_ns = 0, synced_mtime_ns = 0;
  // A change counter standing for ctime (see ChangedLocked).
  int64_t ctime_ns = 0;

  std::string data, synced_data;  // regular files
  std::string target;             // symlinks
  std::vector<BadRange> bad_ranges;

  // Directories.
  std::map<std::string, std::shared_ptr<Node>> entries, synced_entries;

  uint64_t visit_mark = 0;  // for Crash()'s walk
};
using NodePtr = std::shared_ptr<Node>;

// A request stalled by `stall_one_in`, released by a matching Unstall.
struct StallToken {
  std::string key;
  bool released = false;
};

// How a path is resolved.
enum class Resolve : uint8_t {
  kFree,     // like open(2): symlinks followed in the middle, ".." clamps
  kBeneath,  // openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS
};

struct Lookup {
  NodePtr parent;    // the directory holding `leaf`; null if no leaf
  std::string leaf;  // last component; empty if the path names `node`
                     // without one ("", ".", "a/..")
  NodePtr node;      // what the path names; null if the leaf is absent
};

// What a random decision of the disk decides (see Impl::DecideLocked).
enum class Decision : uint8_t {
  kStall,     // whether a request or a synchronous call stalls
  kRead,      // a read's faults: EIO, EAGAIN, short count, bit flip
  kWrite,     // a write's faults: EIO, EAGAIN, short count
  kSync,      // fdatasync of a file
  kSyncDir,   // fsync of a directory
  kSyncFs,    // syncfs of a drive
  kClone,     // a clone's EIO
  kComplete,  // a queued request's place among those a Wait completes
  kWait,      // how many of the ready requests a Wait completes
};

// The draws of one decision: value i is a pure function of the decision's
// base (seed, identity, how many times it was decided before) and i.
class Draws {
 public:
  explicit Draws(uint64_t base) : base_(base) {}
  uint64_t Next();
  // True one time in `one_in` (never for 0).
  bool OneIn(uint32_t one_in) { return one_in != 0 && Next() % one_in == 0; }

 private:
  uint64_t base_;
  uint64_t i_ = 0;
};

// Result of one simulated operation: bytes transferred, or -errno.
struct OpResult {
  int64_t res = 0;
  bool injected = false;
};

class SimFile;

}  // namespace sim

struct SimDisk::Impl {
  using BadRange = sim::BadRange;
  using Decision = sim::Decision;
  using Draws = sim::Draws;
  using Lookup = sim::Lookup;
  using Node = sim::Node;
  using NodePtr = sim::NodePtr;
  using OpResult = sim::OpResult;
  using Resolve = sim::Resolve;
  using SimFile = sim::SimFile;
  using StallToken = sim::StallToken;

  explicit Impl(const SimDiskOptions& opt);

  // --- Paths and the tree.
  // "/a//b/./c" -> "a/b/c", keeping a trailing "/" (prefix matching).
  static std::string NormalizeKey(std::string_view path);
  // Joins a directory handle's path and a relative path, for messages.
  static std::string JoinPath(const std::string& dir, const std::string& rel);
  // 0 or an errno (ENOENT, ENOTDIR, ELOOP, EXDEV).
  // With `canonical`, also the absolute path of what was found, every
  // symlink followed ("/drive1/a"; for kFree only).
  int ResolveLocked(const NodePtr& start, std::string_view path, Resolve how,
                    bool follow_last, Lookup* out,
                    std::string* canonical = nullptr) const;
  // A new node below `parent` (device inherited, or a new one below the
  // root), not yet named anywhere.
  NodePtr NewNodeLocked(const NodePtr& parent, FileType type, uint32_t mode);
  // Name changes in current entries, keeping nlink and usage up to date.
  void LinkLocked(const NodePtr& dir, const std::string& name,
                  const NodePtr& node);
  void UnlinkLocked(const NodePtr& dir, const std::string& name);
  // Tree building (AddFile & co.): creates durable parents of `key`,
  // returns the parent directory and sets *leaf; null on a non-directory.
  NodePtr MakeDurableParentsLocked(const std::string& key, std::string* leaf);
  void AddDurableLocked(const NodePtr& parent, const std::string& leaf,
                        const NodePtr& node);
  // ctime: every change to a node (data, size, mode, mtime, a name added
  // or removed) gives it the next value of a counter, so two stats see the
  // same ctime only if nothing changed in between. Crash() does not take it
  // back (a value is never given twice).
  void ChangedLocked(Node* node) {
    node->ctime_ns = static_cast<int64_t>(++change_count);
  }
  // Usage after a change of a named file's size.
  void ResizeLocked(Node* node, uint64_t new_size);
  bool WouldExceedBytesLocked(const Node& node, uint64_t new_size) const;
  bool InodesFullLocked() const { return live_inodes >= opt.capacity_inodes; }
  void CrashLocked();
  // CrashAfter's cut: true (and the disk crashed) if it is due before the
  // write or sync being counted now.
  bool CrashDueLocked();

  // --- Faults.
  const SimFaults& FaultsForLocked(const std::string& key) const;
  // Exact replay, the TigerBeetle way: every random decision of the disk
  // is drawn from one generator in an order fixed by the seed alone, not
  // by the threads that happen to reach the disk first. A decision is
  // addressed by what it decides: its kind, the path (`key`, normalized,
  // as the file was opened), offset and length, `extra` (an op code), and
  // how many times that same decision was made before (the second attempt
  // at a read is the next one). So the faults an operation meets do not
  // depend on which other operations ran before it, on which thread: a
  // seed replays the same faults whatever the interleaving.
  Draws DecideLocked(Decision kind, std::string_view key, uint64_t offset = 0,
                     uint64_t len = 0, uint64_t extra = 0);
  bool StalledLocked(const std::string& key, const StallToken* token) const;
  // A token when `stall_one_in` picks this request, else null. The request
  // is identified as for DecideLocked.
  std::shared_ptr<StallToken> RollStallLocked(const std::string& key,
                                              Decision op, uint64_t offset,
                                              uint64_t len);
  // Rolls `stall_one_in` for a synchronous call (op, offset, len), then
  // blocks while its path is stalled, until Unstall, Crash or
  // SetActive(false).
  void WaitUnstalledLocked(std::unique_lock<std::mutex>& lock,
                           const std::string& key, uint64_t file_epoch,
                           Decision op, uint64_t offset = 0, uint64_t len = 0);
  // Counts an injected failure; returns -err.
  OpResult InjectLocked(int err);

  // --- Operations on files: the one fault model for synchronous calls
  // and queue completions. `async` enables EAGAIN and short writes.
  // REQUIRES: the file's stall, if any, has been waited for.
  OpResult ReadLocked(const SimFile& f, uint64_t offset, size_t n, char* buf,
                      bool async);
  OpResult WriteLocked(const SimFile& f, uint64_t offset, const char* data,
                       size_t n, bool async);
  OpResult SyncLocked(const SimFile& f);
  // fsync of a directory: its entries (and its children's mode and mtime)
  // become durable. `key` is the directory's normalized path plus "/".
  OpResult SyncDirLocked(const NodePtr& dir, const std::string& key);
  // syncfs: everything on the drive (the top-level directory) holding
  // `key` becomes durable: data, mode, mtime, entries.
  OpResult SyncFsLocked(const std::string& key);
  // Inactive or crashed: the failure, else res 0.
  OpResult CheckFileLocked(const SimFile& f);
  // The status a synchronous call returns while inactive.
  Status InactiveStatusLocked(const std::string& context) const;
  int InactiveErrLocked() const;

  // mkdir -p of `rel` below `start`; 0 or an errno (*injected for ENOSPC).
  int MkdirsLocked(const NodePtr& start, std::string_view rel, Resolve how,
                   bool* injected);
  // A removed directory: nothing can be created in it (ENOENT).
  bool DeadLocked(const NodePtr& dir) const {
    return dir != root && dir->nlink == 0;
  }
  // The entries of `dir` in a seeded, unsorted order.
  void ListLocked(const Node& dir, std::vector<DirEntry>* entries) const;
  bool RotationalLocked(const std::string& key) const;
  void FillInfoLocked(const Node& node, const std::string& key,
                      FileInfo* info) const;
  std::unique_ptr<File> NewFileLocked(const std::shared_ptr<Impl>& self,
                                      const NodePtr& node,
                                      const std::string& path, bool writable,
                                      bool append, bool direct);

  const SimDiskOptions opt;
  mutable std::mutex mu;
  bool allow_direct;  // opt.allow_direct until SetAllowDirect; guarded by mu
  std::condition_variable cv;
  std::atomic<uint64_t> clock_us{1'000'000};

  NodePtr root;
  uint64_t next_ino = 2;
  uint64_t change_count = 0;  // see ChangedLocked
  uint64_t next_device = 2;   // the root's is 1
  uint64_t next_physical = 0;
  uint64_t live_inodes = 0;   // named nodes, root excluded
  uint64_t used_bytes = 0;    // data of named regular files
  uint64_t epoch = 0;         // bumped by Crash()
  uint64_t crash_at_ops = 0;  // CrashAfter: writes + syncs at the cut; 0 none
  uint64_t visit_mark = 0;
  // Bytes of removed files FreeSpace still counts, each with the number of
  // FreeSpace calls left before it stops (SimDiskOptions::free_space_lag).
  std::vector<std::pair<uint64_t, unsigned>> lagging_bytes;
  // Decisions made so far, by identity (see DecideLocked).
  std::unordered_map<uint64_t, uint64_t> decided;

  bool active = true;
  Status inactive_status;
  std::map<std::string, SimFaults> faults;  // by normalized prefix
  std::map<std::string, bool> rotational;   // by normalized prefix
  std::vector<std::string> stalled_prefixes;
  std::vector<std::weak_ptr<StallToken>> stall_tokens;
  std::map<uint64_t, const void*> locks;  // ino -> owning Directory
  SimDisk::Stats stats;
};

namespace sim {

// A File on the simulated disk.
class SimFile final : public File {
 public:
  SimFile(std::shared_ptr<SimDisk::Impl> impl, NodePtr node, std::string path,
          uint64_t epoch, bool writable, bool append, bool direct);

  const std::string& path() const override { return path_; }
  Status ReadAt(uint64_t offset, size_t n, char* scratch,
                size_t* bytes_read) const override;
  Status WriteAt(uint64_t offset, const char* data, size_t n) override;
  Status Size(uint64_t* size) const override;
  Status Sync() override;
  Status Truncate(uint64_t size) override;
  Status SetModeAndTime(uint32_t mode, int64_t mtime_ns) override;
  Status PhysicalOffset(uint64_t* offset) const override;
  Status CloneFrom(const File& src, uint64_t src_offset, uint64_t dst_offset,
                   uint64_t n) override;
  bool is_direct() const override {
    return direct_.load(std::memory_order_relaxed);
  }
  Status DropDirect() override;
  uint64_t open_serial() const override { return serial_; }

  // For the queue and Impl.
  const std::shared_ptr<SimDisk::Impl>& impl() const { return impl_; }
  const NodePtr& node() const { return node_; }
  const std::string& key() const { return key_; }
  uint64_t epoch() const { return epoch_; }
  bool writable() const { return writable_; }
  bool append() const { return append_; }

 private:
  // The status for a failed result of an operation described by `what`.
  Status Fail(const OpResult& r, const std::string& what) const;

  std::shared_ptr<SimDisk::Impl> impl_;
  NodePtr node_;
  std::string path_;  // as opened, for messages
  std::string key_;   // normalized, for fault prefixes
  uint64_t epoch_;
  bool writable_;
  bool append_;
  std::atomic<bool> direct_;
  const uint64_t serial_;
};

// The Directory handle (sim_directory.cc).
std::unique_ptr<Directory> NewSimDirectory(std::shared_ptr<SimDisk::Impl> impl,
                                           NodePtr node, std::string path,
                                           uint64_t epoch);

// The simulated queue (sim_queue.cc).
std::unique_ptr<IoQueue> NewSimQueue(std::shared_ptr<SimDisk::Impl> impl,
                                     unsigned entries);

// Formats a failed result as a Status: PosixError(context, -res), marked
// injected when it was.
Status ToStatus(const OpResult& r, const std::string& context);

}  // namespace sim
}  // namespace valise
