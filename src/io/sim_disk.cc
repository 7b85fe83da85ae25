// SimDisk: the tree, the fault rolls and the crash model behind the
// simulated disk. The contract is in include/valise/sim_disk.h; the
// Files, Directories and the queue built on this state are in
// sim_file.cc, sim_directory.cc and sim_queue.cc.
//
// Everything is one graph of Nodes under one mutex: the simulated disk is
// for tests, where being obviously right beats being fast. Randomness is
// splitmix64's mixer (not <random>'s distributions, whose output differs
// between standard libraries) over each decision's identity
// (DecideLocked), so a seed replays the same faults anywhere, whatever
// order the threads reach the disk in.
#include "valise/sim_disk.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>

#include "io/sim_internal.h"

namespace valise {

using sim::Lookup;
using sim::Node;
using sim::NodePtr;
using sim::OpResult;
using sim::Resolve;
using sim::SimFile;

namespace {

// Splits on '/', keeping empty and "." components (resolution skips them).
std::deque<std::string> SplitComponents(std::string_view path) {
  std::deque<std::string> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    out.emplace_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool IsLastComponent(const std::deque<std::string>& pending) {
  for (const std::string& c : pending) {
    if (!c.empty() && c != ".") return false;
  }
  return true;
}

uint64_t Mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

// ---------------------------------------------------------------- Impl

SimDisk::Impl::Impl(const SimDiskOptions& o)
    : opt(o), allow_direct(o.allow_direct) {
  root = std::make_shared<Node>();
  root->ino = 1;
  root->type = FileType::kDirectory;
  root->device = 1;
  root->mode = root->synced_mode = 0755;
  root->nlink = 1;  // never counted in live_inodes
}

std::string SimDisk::Impl::NormalizeKey(std::string_view path) {
  std::vector<std::string> parts;
  for (std::string& c : SplitComponents(path)) {
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(std::move(c));
  }
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out += '/';
    out += p;
  }
  if (!out.empty() && !path.empty() && path.back() == '/') out += '/';
  return out;
}

std::string SimDisk::Impl::JoinPath(const std::string& dir,
                                    const std::string& rel) {
  if (rel.empty()) return dir;
  if (dir.empty()) return rel;
  if (dir.back() == '/') return dir + rel;
  return dir + "/" + rel;
}

int SimDisk::Impl::ResolveLocked(const NodePtr& start, std::string_view path,
                                 Resolve how, bool follow_last, Lookup* out,
                                 std::string* canonical) const {
  const bool beneath = how == Resolve::kBeneath;
  // RESOLVE_BENEATH refuses absolute paths outright.
  if (beneath && !path.empty() && path[0] == '/') return EXDEV;
  std::vector<NodePtr> stack = {beneath ? start : root};
  // The names of stack[1...], kept only for `canonical`.
  std::vector<std::string> names;
  auto finish = [&](const std::string& leaf) {
    if (canonical == nullptr) return;
    canonical->clear();
    for (const std::string& n : names) *canonical += "/" + n;
    if (!leaf.empty()) *canonical += "/" + leaf;
    if (canonical->empty()) *canonical = "/";
  };
  std::deque<std::string> pending = SplitComponents(path);
  int follows = 0;
  while (!pending.empty()) {
    std::string c = std::move(pending.front());
    pending.pop_front();
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (stack.size() == 1) {
        // Above the handle: openat2 RESOLVE_BENEATH says EXDEV; above "/"
        // the kernel stays at "/".
        if (beneath) return EXDEV;
        continue;
      }
      stack.pop_back();
      if (!names.empty()) names.pop_back();
      continue;
    }
    const NodePtr& cur = stack.back();
    auto it = cur->entries.find(c);
    NodePtr child = it == cur->entries.end() ? nullptr : it->second;
    const bool last = IsLastComponent(pending);
    if (child && child->type == FileType::kSymlink && (!last || follow_last)) {
      // RESOLVE_NO_SYMLINKS: any symlink met is ELOOP.
      if (beneath) return ELOOP;
      if (++follows > sim::kMaxSymlinkFollows) return ELOOP;
      if (child->target.empty()) return ENOENT;
      std::deque<std::string> target = SplitComponents(child->target);
      pending.insert(pending.begin(), target.begin(), target.end());
      if (child->target[0] == '/') {
        stack.resize(1);
        names.clear();
      }
      continue;
    }
    if (last) {
      finish(c);
      out->parent = cur;
      out->leaf = std::move(c);
      out->node = std::move(child);
      return 0;
    }
    if (!child) return ENOENT;
    if (child->type != FileType::kDirectory) return ENOTDIR;
    stack.push_back(std::move(child));
    if (canonical != nullptr) names.push_back(c);
  }
  finish("");
  out->parent = nullptr;
  out->leaf.clear();
  out->node = stack.back();
  return 0;
}

NodePtr SimDisk::Impl::NewNodeLocked(const NodePtr& parent, FileType type,
                                     uint32_t mode) {
  auto node = std::make_shared<Node>();
  node->ino = next_ino++;
  node->type = type;
  // Each top-level directory is a drive of its own (its own st_dev, like a
  // mount point); everything else lives on its parent's.
  node->device = parent == root && type == FileType::kDirectory
                     ? next_device++
                     : parent->device;
  if (type == FileType::kRegular) {
    node->physical = next_physical++ * sim::kPhysicalStride;
  }
  node->mode = node->synced_mode = mode & 07777;
  node->mtime_ns = node->synced_mtime_ns =
      static_cast<int64_t>(clock_us.load()) * 1000;
  ChangedLocked(node.get());
  return node;
}

void SimDisk::Impl::LinkLocked(const NodePtr& dir, const std::string& name,
                               const NodePtr& node) {
  dir->entries[name] = node;
  ChangedLocked(node.get());
  if (node->nlink++ == 0) {
    ++live_inodes;
    if (node->type == FileType::kRegular) used_bytes += node->data.size();
  }
}

void SimDisk::Impl::UnlinkLocked(const NodePtr& dir, const std::string& name) {
  auto it = dir->entries.find(name);
  if (it == dir->entries.end()) return;
  NodePtr node = std::move(it->second);
  dir->entries.erase(it);
  ChangedLocked(node.get());
  if (--node->nlink == 0) {
    --live_inodes;
    if (node->type == FileType::kRegular) {
      used_bytes -= node->data.size();
      if (opt.free_space_lag > 0 && !node->data.empty()) {
        lagging_bytes.emplace_back(node->data.size(), opt.free_space_lag);
      }
    }
  }
}

NodePtr SimDisk::Impl::MakeDurableParentsLocked(const std::string& key,
                                                std::string* leaf) {
  std::vector<std::string> parts;
  for (std::string& c : SplitComponents(NormalizeKey(key))) {
    if (!c.empty()) parts.push_back(std::move(c));
  }
  if (parts.empty()) return nullptr;
  NodePtr dir = root;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    auto it = dir->entries.find(parts[i]);
    if (it == dir->entries.end()) {
      NodePtr child = NewNodeLocked(dir, FileType::kDirectory, 0755);
      AddDurableLocked(dir, parts[i], child);
      dir = std::move(child);
    } else if (it->second->type == FileType::kDirectory) {
      dir = it->second;
    } else {
      return nullptr;
    }
  }
  *leaf = parts.back();
  return dir;
}

void SimDisk::Impl::AddDurableLocked(const NodePtr& parent,
                                     const std::string& leaf,
                                     const NodePtr& node) {
  UnlinkLocked(parent, leaf);
  LinkLocked(parent, leaf, node);
  parent->synced_entries[leaf] = node;
}

void SimDisk::Impl::ResizeLocked(Node* node, uint64_t new_size) {
  if (node->nlink > 0 && node->type == FileType::kRegular) {
    used_bytes = used_bytes - node->data.size() + new_size;
  }
  node->data.resize(new_size);
  ChangedLocked(node);
}

bool SimDisk::Impl::WouldExceedBytesLocked(const Node& node,
                                           uint64_t new_size) const {
  if (node.nlink == 0 || new_size <= node.data.size()) return false;
  const uint64_t grow = new_size - node.data.size();
  return used_bytes > opt.capacity_bytes ||
         grow > opt.capacity_bytes - used_bytes;
}

bool SimDisk::Impl::CrashDueLocked() {
  if (crash_at_ops == 0 || stats.writes + stats.syncs <= crash_at_ops) {
    return false;
  }
  crash_at_ops = 0;
  CrashLocked();
  cv.notify_all();  // calls stalled on the dead disk end
  return true;
}

void SimDisk::Impl::CrashLocked() {
  ++stats.crashes;
  ++epoch;
  locks.clear();
  const uint64_t mark = ++visit_mark;
  // Walk from the root over the entries as of each directory's last
  // SyncDir, putting back each reached node's durable state and counting
  // its names again; whatever is not reached is gone.
  std::vector<NodePtr> reached;
  auto visit = [&](const NodePtr& n) {
    if (n->visit_mark == mark) return;
    n->visit_mark = mark;
    if (!opt.names_ahead_of_data) n->entries = n->synced_entries;
    n->data = n->synced_data;
    n->mode = n->synced_mode;
    n->mtime_ns = n->synced_mtime_ns;
    n->nlink = 0;
    reached.push_back(n);
  };
  visit(root);
  root->nlink = 1;
  for (size_t i = 0; i < reached.size(); ++i) {
    NodePtr dir = reached[i];
    for (auto& [name, child] : dir->entries) {
      visit(child);
      ++child->nlink;
    }
  }
  live_inodes = reached.size() - 1;
  used_bytes = 0;
  for (const NodePtr& n : reached) {
    if (n->type == FileType::kRegular) used_bytes += n->data.size();
  }
}

const SimFaults& SimDisk::Impl::FaultsForLocked(const std::string& key) const {
  static const SimFaults kNone;
  const SimFaults* best = &kNone;
  size_t best_len = 0;
  bool found = false;
  for (const auto& [prefix, f] : faults) {
    if (key.starts_with(prefix) && (!found || prefix.size() > best_len)) {
      best = &f;
      best_len = prefix.size();
      found = true;
    }
  }
  return *best;
}

uint64_t sim::Draws::Next() {
  // splitmix64's sequence from the decision's base: every base is good.
  return Mix(base_ + 0x9e3779b97f4a7c15ULL * ++i_);
}

sim::Draws SimDisk::Impl::DecideLocked(sim::Decision kind, std::string_view key,
                                       uint64_t offset, uint64_t len,
                                       uint64_t extra) {
  // FNV-1a over the identity, then mixed with the seed and the count.
  uint64_t h = 1469598103934665603ULL ^ static_cast<uint64_t>(kind);
  for (unsigned char c : key) h = (h ^ c) * 1099511628211ULL;
  for (uint64_t v : {offset, len, extra}) h = Mix(h ^ v);
  const uint64_t nth = decided[h]++;
  return sim::Draws(Mix(Mix(opt.seed) ^ h) + Mix(nth));
}

bool SimDisk::Impl::StalledLocked(const std::string& key,
                                  const sim::StallToken* token) const {
  if (token != nullptr && !token->released) return true;
  for (const std::string& p : stalled_prefixes) {
    if (key.starts_with(p)) return true;
  }
  return false;
}

std::shared_ptr<sim::StallToken> SimDisk::Impl::RollStallLocked(
    const std::string& key, sim::Decision op, uint64_t offset, uint64_t len) {
  const uint32_t one_in = FaultsForLocked(key).stall_one_in;
  if (one_in == 0) return nullptr;
  if (!DecideLocked(sim::Decision::kStall, key, offset, len,
                    static_cast<uint64_t>(op))
           .OneIn(one_in)) {
    return nullptr;
  }
  auto token = std::make_shared<sim::StallToken>();
  token->key = key;
  stall_tokens.push_back(token);
  return token;
}

void SimDisk::Impl::WaitUnstalledLocked(std::unique_lock<std::mutex>& lock,
                                        const std::string& key,
                                        uint64_t file_epoch, sim::Decision op,
                                        uint64_t offset, uint64_t len) {
  std::shared_ptr<sim::StallToken> token =
      RollStallLocked(key, op, offset, len);
  if (!active || file_epoch != epoch || !StalledLocked(key, token.get())) {
    return;
  }
  ++stats.stalls;
  // A hung disk: the calling thread sleeps until someone lifts the stall,
  // or the disk dies (Crash, SetActive(false)) under it.
  cv.wait(lock, [&] {
    return !active || file_epoch != epoch || !StalledLocked(key, token.get());
  });
}

OpResult SimDisk::Impl::InjectLocked(int err) {
  ++stats.injected_errors;
  if (err == EAGAIN) ++stats.eagains;
  return OpResult{-static_cast<int64_t>(err), true};
}

int SimDisk::Impl::InactiveErrLocked() const {
  return inactive_status.err() != 0 ? inactive_status.err() : EIO;
}

Status SimDisk::Impl::InactiveStatusLocked(const std::string& context) const {
  Status s =
      inactive_status.ok() ? Status::IOError("sim: inactive") : inactive_status;
  return s.WithContext(context).WithInjected(true);
}

OpResult SimDisk::Impl::CheckFileLocked(const SimFile& f) {
  if (!active) return InjectLocked(InactiveErrLocked());
  // A handle from before a crash: the process that held it is gone.
  if (f.epoch() != epoch) return InjectLocked(ESTALE);
  return OpResult{};
}

namespace {

bool Misaligned(uint64_t offset, size_t n, const void* buf) {
  return offset % kDirectAlignment != 0 || n % kDirectAlignment != 0 ||
         reinterpret_cast<uintptr_t>(buf) % kDirectAlignment != 0;
}

// A random count in [1, n), a multiple of kDirectAlignment under O_DIRECT
// when one fits (the kernel's short O_DIRECT transfers are whole blocks).
// A short count the kernel could return. Under O_DIRECT the kernel moves
// whole blocks, so a short read ends on a block boundary, and a request of
// one block or less is never cut (a read that ends mid-block means end of
// file, which is how the engine reads it).
uint64_t ShortCount(uint64_t n, bool direct, uint64_t draw) {
  if (direct) {
    if (n <= kDirectAlignment) return n;
    uint64_t blocks = (n - 1) / kDirectAlignment;
    return kDirectAlignment * (1 + draw % blocks);
  }
  return 1 + draw % (n - 1);
}

}  // namespace

OpResult SimDisk::Impl::ReadLocked(const SimFile& f, uint64_t offset, size_t n,
                                   char* buf, bool async) {
  ++stats.reads;
  OpResult check = CheckFileLocked(f);
  if (check.res < 0) return check;
  // O_DIRECT on a misaligned request is EINVAL from the kernel, not a
  // fault: the engine answers it by dropping O_DIRECT.
  if (f.is_direct() && Misaligned(offset, n, buf)) return OpResult{-EINVAL};
  const Node& node = *f.node();
  if (n > 0) {
    for (const sim::BadRange& r : node.bad_ranges) {
      if (offset < r.offset + r.len && r.offset < offset + n) {
        return InjectLocked(r.err);
      }
    }
  }
  const SimFaults& faults = FaultsForLocked(f.key());
  sim::Draws d = DecideLocked(sim::Decision::kRead, f.key(), offset, n);
  if (d.OneIn(faults.read_error_one_in)) return InjectLocked(EIO);
  if (async && d.OneIn(faults.eagain_one_in)) return InjectLocked(EAGAIN);
  uint64_t size = node.data.size();
  uint64_t count = offset >= size ? 0 : std::min<uint64_t>(n, size - offset);
  if (count > 1 && d.OneIn(faults.short_read_one_in)) {
    count = ShortCount(count, f.is_direct(), d.Next());
    ++stats.short_reads;
  }
  if (count > 0) memcpy(buf, node.data.data() + offset, count);
  if (count > 0 && d.OneIn(faults.bit_flip_one_in)) {
    uint64_t bit = d.Next() % (count * 8);
    buf[bit / 8] = static_cast<char>(buf[bit / 8] ^ (1 << (bit % 8)));
    ++stats.bit_flips;
  }
  stats.bytes_read += count;
  return OpResult{static_cast<int64_t>(count)};
}

OpResult SimDisk::Impl::WriteLocked(const SimFile& f, uint64_t offset,
                                    const char* data, size_t n, bool async) {
  ++stats.writes;
  if (CrashDueLocked()) return InjectLocked(ESTALE);
  OpResult check = CheckFileLocked(f);
  if (check.res < 0) return check;
  if (!f.writable()) return OpResult{-EBADF};
  if (f.is_direct() && Misaligned(offset, n, data)) return OpResult{-EINVAL};
  const SimFaults& faults = FaultsForLocked(f.key());
  sim::Draws d = DecideLocked(sim::Decision::kWrite, f.key(), offset, n);
  if (d.OneIn(faults.write_error_one_in)) return InjectLocked(EIO);
  if (async && d.OneIn(faults.eagain_one_in)) return InjectLocked(EAGAIN);
  Node* node = f.node().get();
  // Linux pwrite on an O_APPEND descriptor appends whatever the offset.
  if (f.append()) offset = node->data.size();
  if (n == 0) return OpResult{};
  uint64_t new_size = std::max<uint64_t>(node->data.size(), offset + n);
  if (WouldExceedBytesLocked(*node, new_size)) return InjectLocked(ENOSPC);
  if (async && n > 1 && d.OneIn(faults.short_write_one_in)) {
    n = ShortCount(n, f.is_direct(), d.Next());
    new_size = std::max<uint64_t>(node->data.size(), offset + n);
  }
  if (new_size > node->data.size()) ResizeLocked(node, new_size);
  memcpy(node->data.data() + offset, data, n);
  ChangedLocked(node);
  stats.bytes_written += n;
  return OpResult{static_cast<int64_t>(n)};
}

OpResult SimDisk::Impl::SyncLocked(const SimFile& f) {
  ++stats.syncs;
  ++stats.file_syncs;
  if (CrashDueLocked()) return InjectLocked(ESTALE);
  OpResult check = CheckFileLocked(f);
  if (check.res < 0) return check;
  // A failed fdatasync makes nothing durable (after an fsync error Linux
  // may already have dropped the dirty pages; assume the worst).
  if (DecideLocked(sim::Decision::kSync, f.key())
          .OneIn(FaultsForLocked(f.key()).sync_error_one_in)) {
    return InjectLocked(EIO);
  }
  Node* node = f.node().get();
  node->synced_data = node->data;
  node->synced_mode = node->mode;
  node->synced_mtime_ns = node->mtime_ns;
  return OpResult{};
}

OpResult SimDisk::Impl::SyncDirLocked(const NodePtr& dir,
                                      const std::string& key) {
  ++stats.syncs;
  if (CrashDueLocked()) return InjectLocked(ESTALE);
  if (!active) return InjectLocked(InactiveErrLocked());
  if (DecideLocked(sim::Decision::kSyncDir, key)
          .OneIn(FaultsForLocked(key).sync_error_one_in)) {
    return InjectLocked(EIO);
  }
  dir->synced_entries = dir->entries;
  // The journal commit that a directory fsync forces carries the inode
  // changes (mode, mtime) of what it names.
  for (auto& [name, child] : dir->entries) {
    child->synced_mode = child->mode;
    child->synced_mtime_ns = child->mtime_ns;
  }
  return OpResult{};
}

OpResult SimDisk::Impl::SyncFsLocked(const std::string& key) {
  ++stats.syncs;
  ++stats.syncfs;
  if (CrashDueLocked()) return InjectLocked(ESTALE);
  if (!active) return InjectLocked(InactiveErrLocked());
  if (DecideLocked(sim::Decision::kSyncFs, key)
          .OneIn(FaultsForLocked(key).sync_error_one_in)) {
    return InjectLocked(EIO);
  }
  // The drive: the first component of `key` (the whole tree for the root).
  NodePtr top = root;
  const size_t slash = key.find('/');
  if (slash != std::string::npos && slash > 0) {
    auto it = root->entries.find(key.substr(0, slash));
    if (it == root->entries.end()) return OpResult{-ENOENT};
    top = it->second;
  }
  std::vector<Node*> todo{top.get()};
  while (!todo.empty()) {
    Node* n = todo.back();
    todo.pop_back();
    n->synced_data = n->data;
    n->synced_mode = n->mode;
    n->synced_mtime_ns = n->mtime_ns;
    if (n->type != FileType::kDirectory) continue;
    n->synced_entries = n->entries;
    for (auto& [name, child] : n->entries) todo.push_back(child.get());
  }
  return OpResult{};
}

int SimDisk::Impl::MkdirsLocked(const NodePtr& start, std::string_view rel,
                                Resolve how, bool* injected) {
  std::deque<std::string> parts = SplitComponents(rel);
  std::string prefix;
  for (const std::string& c : parts) {
    if (!prefix.empty()) prefix += '/';
    prefix += c;
    if (c.empty() || c == "." || c == "..") continue;
    Lookup l;
    int err = ResolveLocked(start, prefix, how, /*follow_last=*/true, &l);
    if (err != 0) return err;
    if (l.node) {
      if (l.node->type != FileType::kDirectory) return ENOTDIR;
      continue;
    }
    if (DeadLocked(l.parent)) return ENOENT;
    if (InodesFullLocked()) {
      InjectLocked(ENOSPC);
      *injected = true;
      return ENOSPC;
    }
    LinkLocked(l.parent, l.leaf,
               NewNodeLocked(l.parent, FileType::kDirectory, 0755));
  }
  return 0;
}

void SimDisk::Impl::ListLocked(const Node& dir,
                               std::vector<DirEntry>* entries) const {
  // Unsorted, like readdir: callers must not rely on an order. The order is
  // a hash of the seed and the name, so it is still reproducible.
  std::vector<std::pair<uint64_t, DirEntry>> keyed;
  for (const auto& [name, child] : dir.entries) {
    uint64_t h = 1469598103934665603ULL ^ opt.seed;
    for (unsigned char ch : name) h = (h ^ ch) * 1099511628211ULL;
    keyed.push_back({Mix(h), DirEntry{name, child->type}});
  }
  std::sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first
                              : a.second.name < b.second.name;
  });
  entries->clear();
  for (auto& [h, e] : keyed) entries->push_back(std::move(e));
}

bool SimDisk::Impl::RotationalLocked(const std::string& key) const {
  bool value = false;
  size_t best_len = 0;
  bool found = false;
  for (const auto& [prefix, v] : rotational) {
    if (key.starts_with(prefix) && (!found || prefix.size() > best_len)) {
      value = v;
      best_len = prefix.size();
      found = true;
    }
  }
  return value;
}

void SimDisk::Impl::FillInfoLocked(const Node& node, const std::string& key,
                                   FileInfo* info) const {
  info->type = node.type;
  info->size = node.type == FileType::kRegular ? node.data.size() : 0;
  info->mtime_ns = node.mtime_ns;
  info->mode = node.mode;
  info->inode = node.ino;
  info->device = node.device;
  info->ctime_ns = node.ctime_ns;
  info->nlink = node.nlink;
  info->rotational = RotationalLocked(key);
}

std::unique_ptr<File> SimDisk::Impl::NewFileLocked(
    const std::shared_ptr<Impl>& self, const NodePtr& node,
    const std::string& path, bool writable, bool append, bool direct) {
  return std::make_unique<SimFile>(self, node, path, epoch, writable, append,
                                   direct);
}

// ---------------------------------------------------------------- SimDisk

SimDisk::SimDisk(const SimDiskOptions& opt)
    : impl_(std::make_shared<Impl>(opt)) {}

SimDisk::~SimDisk() = default;

void SimDisk::AddFile(const std::string& path, std::string_view data,
                      int64_t mtime_ns, uint32_t mode) {
  std::lock_guard lock(impl_->mu);
  std::string leaf;
  NodePtr parent = impl_->MakeDurableParentsLocked(path, &leaf);
  if (!parent) return;
  auto it = parent->entries.find(leaf);
  NodePtr node;
  if (it != parent->entries.end() && it->second->type == FileType::kRegular) {
    node = it->second;  // replaced in place: same inode
  } else {
    node = impl_->NewNodeLocked(parent, FileType::kRegular, mode);
    impl_->AddDurableLocked(parent, leaf, node);
  }
  impl_->ResizeLocked(node.get(), data.size());
  node->data.assign(data);
  node->synced_data = node->data;
  node->mode = node->synced_mode = mode & 07777;
  node->mtime_ns = node->synced_mtime_ns = mtime_ns;
}

void SimDisk::AddDir(const std::string& path) {
  std::lock_guard lock(impl_->mu);
  std::string leaf;
  NodePtr parent = impl_->MakeDurableParentsLocked(path, &leaf);
  if (!parent) return;
  auto it = parent->entries.find(leaf);
  if (it != parent->entries.end() && it->second->type == FileType::kDirectory) {
    return;
  }
  impl_->AddDurableLocked(
      parent, leaf, impl_->NewNodeLocked(parent, FileType::kDirectory, 0755));
}

void SimDisk::AddSymlink(const std::string& path, const std::string& target) {
  std::lock_guard lock(impl_->mu);
  std::string leaf;
  NodePtr parent = impl_->MakeDurableParentsLocked(path, &leaf);
  if (!parent) return;
  NodePtr node = impl_->NewNodeLocked(parent, FileType::kSymlink, 0777);
  node->target = target;
  impl_->AddDurableLocked(parent, leaf, node);
}

void SimDisk::AddSpecial(const std::string& path, FileType type) {
  std::lock_guard lock(impl_->mu);
  std::string leaf;
  NodePtr parent = impl_->MakeDurableParentsLocked(path, &leaf);
  if (!parent) return;
  impl_->AddDurableLocked(parent, leaf,
                          impl_->NewNodeLocked(parent, type, 0644));
}

bool SimDisk::GetFile(const std::string& path, std::string* data) const {
  std::lock_guard lock(impl_->mu);
  Lookup l;
  if (impl_->ResolveLocked(impl_->root, path, Resolve::kFree, true, &l) != 0 ||
      !l.node || l.node->type != FileType::kRegular) {
    return false;
  }
  *data = l.node->data;
  return true;
}

bool SimDisk::Exists(const std::string& path) const {
  std::lock_guard lock(impl_->mu);
  Lookup l;
  return impl_->ResolveLocked(impl_->root, path, Resolve::kFree, false, &l) ==
             0 &&
         l.node != nullptr;
}

bool SimDisk::SetPhysicalOffset(const std::string& path, uint64_t offset) {
  std::lock_guard lock(impl_->mu);
  Lookup l;
  if (impl_->ResolveLocked(impl_->root, path, Resolve::kFree, true, &l) != 0 ||
      !l.node || l.node->type != FileType::kRegular) {
    return false;
  }
  l.node->physical = offset;
  return true;
}

void SimDisk::SetRotational(const std::string& prefix, bool rotational) {
  std::lock_guard lock(impl_->mu);
  impl_->rotational[Impl::NormalizeKey(prefix)] = rotational;
}

void SimDisk::SetAllowDirect(bool allow) {
  std::lock_guard lock(impl_->mu);
  impl_->allow_direct = allow;
}

void SimDisk::SetFaults(const std::string& prefix, const SimFaults& faults) {
  std::lock_guard lock(impl_->mu);
  impl_->faults[Impl::NormalizeKey(prefix)] = faults;
}

void SimDisk::AddBadRange(const std::string& path, uint64_t offset,
                          uint64_t len, int err) {
  std::lock_guard lock(impl_->mu);
  Lookup l;
  if (impl_->ResolveLocked(impl_->root, path, Resolve::kFree, true, &l) != 0 ||
      !l.node || l.node->type != FileType::kRegular) {
    return;
  }
  l.node->bad_ranges.push_back(sim::BadRange{offset, len, err});
}

void SimDisk::FlipStoredBit(const std::string& path, uint64_t offset, int bit) {
  std::lock_guard lock(impl_->mu);
  Lookup l;
  if (impl_->ResolveLocked(impl_->root, path, Resolve::kFree, true, &l) != 0 ||
      !l.node || l.node->type != FileType::kRegular) {
    return;
  }
  const char mask = static_cast<char>(1 << (bit & 7));
  if (offset < l.node->data.size()) l.node->data[offset] ^= mask;
  if (offset < l.node->synced_data.size()) {
    l.node->synced_data[offset] ^= mask;
  }
}

void SimDisk::Stall(const std::string& prefix) {
  std::lock_guard lock(impl_->mu);
  std::string key = Impl::NormalizeKey(prefix);
  auto& v = impl_->stalled_prefixes;
  if (std::find(v.begin(), v.end(), key) == v.end()) v.push_back(key);
}

void SimDisk::Unstall(const std::string& prefix) {
  {
    std::lock_guard lock(impl_->mu);
    std::string key = Impl::NormalizeKey(prefix);
    auto& v = impl_->stalled_prefixes;
    v.erase(std::remove(v.begin(), v.end(), key), v.end());
    auto& tokens = impl_->stall_tokens;
    for (const auto& weak : tokens) {
      if (auto t = weak.lock(); t && t->key.starts_with(key)) {
        t->released = true;
      }
    }
    tokens.erase(std::remove_if(tokens.begin(), tokens.end(),
                                [](const auto& w) { return w.expired(); }),
                 tokens.end());
  }
  impl_->cv.notify_all();
}

void SimDisk::SetActive(bool active, Status status) {
  {
    std::lock_guard lock(impl_->mu);
    impl_->active = active;
    impl_->inactive_status = std::move(status);
  }
  impl_->cv.notify_all();
}

void SimDisk::Crash() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->CrashLocked();
  }
  impl_->cv.notify_all();
}

void SimDisk::CrashAfter(uint64_t ops) {
  std::lock_guard lock(impl_->mu);
  impl_->crash_at_ops =
      ops == 0 ? 0 : impl_->stats.writes + impl_->stats.syncs + ops;
}

void SimDisk::AdvanceClock(uint64_t us) { impl_->clock_us.fetch_add(us); }

SimDisk::Stats SimDisk::stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

uint64_t SimDisk::NowMicros() { return impl_->clock_us.load(); }

Status SimDisk::Stat(const std::string& path, FileInfo* info) {
  std::lock_guard lock(impl_->mu);
  const std::string context = path + ": stat";
  if (!impl_->active) return impl_->InactiveStatusLocked(context);
  Lookup l;
  // lstat: the last component is reported, not followed.
  int err = impl_->ResolveLocked(impl_->root, path, Resolve::kFree, false, &l);
  if (err == 0 && !l.node) err = ENOENT;
  if (err != 0) return Status::PosixError(context, err);
  impl_->FillInfoLocked(*l.node, Impl::NormalizeKey(path), info);
  return Status::OK();
}

Status SimDisk::ResolvePath(const std::string& path, std::string* resolved) {
  std::lock_guard lock(impl_->mu);
  const std::string context = path + ": realpath";
  if (!impl_->active) return impl_->InactiveStatusLocked(context);
  Lookup l;
  int err = impl_->ResolveLocked(impl_->root, path, Resolve::kFree, true, &l,
                                 resolved);
  if (err == 0 && !l.node) err = ENOENT;
  if (err != 0) return Status::PosixError(context, err);
  return Status::OK();
}

Status SimDisk::ListDir(const std::string& path,
                        std::vector<DirEntry>* entries) {
  std::lock_guard lock(impl_->mu);
  const std::string context = path + ": opendir";
  if (!impl_->active) return impl_->InactiveStatusLocked(context);
  Lookup l;
  int err = impl_->ResolveLocked(impl_->root, path, Resolve::kFree, true, &l);
  if (err == 0 && !l.node) err = ENOENT;
  if (err == 0 && l.node->type != FileType::kDirectory) err = ENOTDIR;
  if (err != 0) return Status::PosixError(context, err);
  impl_->ListLocked(*l.node, entries);
  return Status::OK();
}

Status SimDisk::OpenForRead(const std::string& path, const ReadOptions& opt,
                            std::unique_ptr<File>* result) {
  result->reset();
  std::lock_guard lock(impl_->mu);
  const std::string context = path + ": open";
  if (!impl_->active) return impl_->InactiveStatusLocked(context);
  Lookup l;
  // O_NOFOLLOW: a symlink as the last component is ELOOP.
  int err = impl_->ResolveLocked(impl_->root, path, Resolve::kFree, false, &l);
  if (err == 0 && !l.node) err = ENOENT;
  if (err == 0 && l.node->type == FileType::kSymlink) err = ELOOP;
  if (err == 0 && l.node->type == FileType::kDirectory) err = EISDIR;
  if (err != 0) return Status::PosixError(context, err);
  if (l.node->type != FileType::kRegular &&
      l.node->type != FileType::kBlockDevice) {
    // Opening a FIFO could block forever; a device could be anything.
    return Status::InvalidArgument(
        context, std::string(FileTypeName(l.node->type)) +
                     " is not a regular file or block device");
  }
  const bool direct = opt.direct && impl_->allow_direct;
  *result = impl_->NewFileLocked(impl_, l.node, path, /*writable=*/false,
                                 /*append=*/false, direct);
  return Status::OK();
}

Status SimDisk::OpenDirectory(const std::string& path, bool create,
                              std::unique_ptr<Directory>* result) {
  result->reset();
  std::lock_guard lock(impl_->mu);
  const std::string context = path + (create ? ": mkdir" : ": open");
  if (!impl_->active) return impl_->InactiveStatusLocked(context);
  if (create) {
    // The prefixes that do not exist yet: each is made durable in its
    // parent once created (the real one fsyncs the parent of each).
    std::vector<std::string> missing;
    for (size_t i = 1; i <= path.size(); ++i) {
      if (i < path.size() && path[i] != '/') continue;
      Lookup p;
      if (impl_->ResolveLocked(impl_->root, path.substr(0, i), Resolve::kFree,
                               true, &p) == 0 &&
          !p.node && p.parent) {
        missing.push_back(path.substr(0, i));
      }
    }
    bool injected = false;
    int err = impl_->MkdirsLocked(impl_->root, path, Resolve::kFree, &injected);
    if (err != 0) {
      return Status::PosixError(context, err).WithInjected(injected);
    }
    for (const std::string& prefix : missing) {
      Lookup p;
      if (impl_->ResolveLocked(impl_->root, prefix, Resolve::kFree, true, &p) ==
              0 &&
          p.node && p.parent) {
        p.parent->synced_entries[p.leaf] = p.node;
      }
    }
  }
  Lookup l;
  int err = impl_->ResolveLocked(impl_->root, path, Resolve::kFree, true, &l);
  if (err == 0 && !l.node) err = ENOENT;
  if (err == 0 && l.node->type != FileType::kDirectory) err = ENOTDIR;
  if (err != 0) return Status::PosixError(context, err);
  *result = sim::NewSimDirectory(impl_, l.node, path, impl_->epoch);
  return Status::OK();
}

Status SimDisk::ReadSmallFile(const std::string& path, std::string* data,
                              size_t max_size) {
  std::unique_ptr<File> file;
  {
    std::lock_guard lock(impl_->mu);
    const std::string context = path + ": open";
    if (!impl_->active) return impl_->InactiveStatusLocked(context);
    Lookup l;
    // A plain open(2): symlinks are followed.
    int err = impl_->ResolveLocked(impl_->root, path, Resolve::kFree, true, &l);
    if (err == 0 && !l.node) err = ENOENT;
    if (err == 0 && l.node->type == FileType::kDirectory) err = EISDIR;
    if (err != 0) return Status::PosixError(context, err);
    if (l.node->type != FileType::kRegular) {
      return Status::InvalidArgument(context, "not a regular file");
    }
    if (l.node->data.size() > max_size) {
      return Status::InvalidArgument(
          context, "larger than " + std::to_string(max_size) + " bytes");
    }
    file = impl_->NewFileLocked(impl_, l.node, path, false, false, false);
  }
  // Through ReadAt, so the read faults of the path apply; short reads are
  // continued here.
  std::string out;
  constexpr size_t kChunk = size_t{1} << 20;
  for (;;) {
    size_t old = out.size();
    out.resize(old + kChunk);
    size_t got = 0;
    VALISE_RETURN_IF_ERROR(file->ReadAt(old, kChunk, out.data() + old, &got));
    out.resize(old + got);
    if (got == 0) break;
    if (out.size() > max_size) {
      return Status::InvalidArgument(
          path + ": read",
          "larger than " + std::to_string(max_size) + " bytes");
    }
  }
  *data = std::move(out);
  return Status::OK();
}

Status SimDisk::WriteSmallFile(const std::string& path, const std::string& data,
                               uint32_t mode) {
  // Temporary name, write, fdatasync, rename, directory fsync: each step
  // through the Directory code, so its faults apply.
  std::string key = Impl::NormalizeKey(path);
  size_t slash = key.rfind('/');
  std::string dir_path = slash == std::string::npos ? "" : key.substr(0, slash);
  std::string leaf = slash == std::string::npos ? key : key.substr(slash + 1);
  if (leaf.empty()) {
    return Status::PosixError(path + ": write", EISDIR);
  }
  std::unique_ptr<Directory> dir;
  VALISE_RETURN_IF_ERROR(OpenDirectory(dir_path, false, &dir));
  const std::string tmp = leaf + ".valise-tmp";
  WriteOptions wopt;
  wopt.mode = mode;
  wopt.exclusive = false;
  std::unique_ptr<File> file;
  VALISE_RETURN_IF_ERROR(dir->CreateFile(tmp, wopt, &file));
  Status s = file->WriteAt(0, data.data(), data.size());
  if (s.ok()) s = file->Sync();
  if (s.ok()) s = dir->Rename(tmp, leaf, /*noreplace=*/false);
  if (s.ok()) return dir->SyncDir("");
  dir->Remove(tmp).PermitUncheckedError();  // best effort; s says why
  return s;
}

std::unique_ptr<IoQueue> SimDisk::NewIoQueue(const IoQueueOptions& opt,
                                             std::string* note) {
  unsigned entries = opt.entries > 0 ? opt.entries : 256;
  if (note != nullptr) {
    *note = "sim: seeded completion order, injected faults";
  }
  return sim::NewSimQueue(impl_, entries);
}

}  // namespace valise
