// SimDirectory: a DEST directory handle on the simulated disk. Paths are
// resolved beneath it like openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)
// (SimDisk::Impl::ResolveLocked with Resolve::kBeneath); entry changes go
// to the directories' current entries and become durable at SyncDir (the
// crash model in include/valise/sim_disk.h).
#include <algorithm>
#include <cerrno>

#include "io/sim_internal.h"

namespace valise::sim {
namespace {

class SimDirectory final : public Directory {
 public:
  SimDirectory(std::shared_ptr<SimDisk::Impl> impl, NodePtr node,
               std::string path, uint64_t epoch)
      : impl_(std::move(impl)),
        node_(std::move(node)),
        path_(std::move(path)),
        epoch_(epoch) {}

  ~SimDirectory() override {
    std::lock_guard lock(impl_->mu);
    for (uint64_t ino : held_locks_) {
      auto it = impl_->locks.find(ino);
      if (it != impl_->locks.end() && it->second == this) {
        impl_->locks.erase(it);
      }
    }
  }

  const std::string& path() const override { return path_; }

  Status CreateDirs(const std::string& rel) override {
    std::lock_guard lock(impl_->mu);
    const std::string context = Full(rel) + ": mkdir";
    VALISE_RETURN_IF_ERROR(CheckLocked(context));
    if (impl_->DeadLocked(node_)) return Status::PosixError(context, ENOENT);
    bool injected = false;
    int err = impl_->MkdirsLocked(node_, rel, Resolve::kBeneath, &injected);
    if (err != 0) {
      return Status::PosixError(context, err).WithInjected(injected);
    }
    return Status::OK();
  }

  Status CreateFile(const std::string& rel, const WriteOptions& opt,
                    std::unique_ptr<File>* result) override {
    result->reset();
    std::lock_guard lock(impl_->mu);
    const std::string context = Full(rel) + ": create";
    VALISE_RETURN_IF_ERROR(CheckLocked(context));
    Lookup l;
    int err = impl_->ResolveLocked(node_, rel, Resolve::kBeneath,
                                   /*follow_last=*/true, &l);
    if (err == 0 && l.leaf.empty()) err = EISDIR;  // names a directory
    if (err == 0 && l.node) {
      // O_EXCL, else O_TRUNC of what is there (unless !truncate).
      if (opt.exclusive) {
        err = EEXIST;
      } else if (l.node->type == FileType::kDirectory) {
        err = EISDIR;
      } else if (l.node->type != FileType::kRegular) {
        err = EINVAL;
      }
    }
    if (err == 0 && !l.node && impl_->DeadLocked(l.parent)) err = ENOENT;
    if (err != 0) return Status::PosixError(context, err);
    NodePtr node = l.node;
    if (node) {
      if (opt.truncate) impl_->ResizeLocked(node.get(), 0);
    } else {
      if (impl_->InodesFullLocked()) {
        return ToStatus(impl_->InjectLocked(ENOSPC), context);
      }
      node = impl_->NewNodeLocked(l.parent, FileType::kRegular, opt.mode);
      impl_->LinkLocked(l.parent, l.leaf, node);
    }
    const bool direct = opt.direct && impl_->allow_direct;
    *result = impl_->NewFileLocked(impl_, node, Full(rel), /*writable=*/true,
                                   /*append=*/false, direct);
    return Status::OK();
  }

  Status OpenFile(const std::string& rel,
                  std::unique_ptr<File>* result) override {
    result->reset();
    std::lock_guard lock(impl_->mu);
    const std::string context = Full(rel) + ": open";
    VALISE_RETURN_IF_ERROR(CheckLocked(context));
    Lookup l;
    int err = impl_->ResolveLocked(node_, rel, Resolve::kBeneath, true, &l);
    if (err == 0) err = RegularFileErr(l);
    if (err != 0) return Status::PosixError(context, err);
    *result =
        impl_->NewFileLocked(impl_, l.node, Full(rel), false, false, false);
    return Status::OK();
  }

  Status OpenAppend(const std::string& rel,
                    std::unique_ptr<File>* result) override {
    result->reset();
    std::lock_guard lock(impl_->mu);
    const std::string context = Full(rel) + ": open for append";
    VALISE_RETURN_IF_ERROR(CheckLocked(context));
    Lookup l;
    int err = impl_->ResolveLocked(node_, rel, Resolve::kBeneath, true, &l);
    if (err == 0 && l.leaf.empty()) err = EISDIR;
    if (err == 0 && l.node) err = RegularFileErr(l);
    if (err == 0 && !l.node && impl_->DeadLocked(l.parent)) err = ENOENT;
    if (err != 0) return Status::PosixError(context, err);
    NodePtr node = l.node;
    if (!node) {
      if (impl_->InodesFullLocked()) {
        return ToStatus(impl_->InjectLocked(ENOSPC), context);
      }
      node = impl_->NewNodeLocked(l.parent, FileType::kRegular, 0644);
      impl_->LinkLocked(l.parent, l.leaf, node);
    }
    *result = impl_->NewFileLocked(impl_, node, Full(rel), /*writable=*/true,
                                   /*append=*/true, /*direct=*/false);
    return Status::OK();
  }

  Status Stat(const std::string& rel, FileInfo* info) override {
    std::lock_guard lock(impl_->mu);
    const std::string context = Full(rel) + ": stat";
    VALISE_RETURN_IF_ERROR(CheckLocked(context));
    Lookup l;
    // lstat: a symlink as the last component is reported, not followed.
    int err = impl_->ResolveLocked(node_, rel, Resolve::kBeneath, false, &l);
    if (err == 0 && !l.node) err = ENOENT;
    if (err != 0) return Status::PosixError(context, err);
    impl_->FillInfoLocked(*l.node, SimDisk::Impl::NormalizeKey(Full(rel)),
                          info);
    return Status::OK();
  }

  Status Rename(const std::string& from, const std::string& to,
                bool noreplace) override {
    std::lock_guard lock(impl_->mu);
    const std::string context = Full(from) + ": rename to " + Full(to);
    VALISE_RETURN_IF_ERROR(CheckLocked(context));
    Lookup f, t;
    // renameat2 acts on the last components themselves (a symlink is
    // renamed, not followed).
    int err = impl_->ResolveLocked(node_, from, Resolve::kBeneath, false, &f);
    if (err == 0)
      err = impl_->ResolveLocked(node_, to, Resolve::kBeneath, false, &t);
    if (err == 0 && (f.leaf.empty() || t.leaf.empty())) err = EBUSY;
    if (err == 0 && !f.node) err = ENOENT;
    if (err == 0 && f.parent->device != t.parent->device) err = EXDEV;
    if (err == 0 && t.node == f.node) return Status::OK();  // POSIX: no-op
    if (err == 0 && t.node && noreplace) err = EEXIST;
    if (err == 0 && noreplace && !impl_->opt.rename_noreplace) err = EINVAL;
    const bool is_dir = err == 0 && f.node->type == FileType::kDirectory;
    if (err == 0 && t.node) {
      const bool to_dir = t.node->type == FileType::kDirectory;
      if (is_dir && !to_dir) err = ENOTDIR;
      if (!is_dir && to_dir) err = EISDIR;
      if (is_dir && to_dir && !t.node->entries.empty()) err = ENOTEMPTY;
    }
    // A directory cannot move below itself.
    if (err == 0 && is_dir && Contains(f.node, t.parent)) err = EINVAL;
    if (err == 0 && impl_->DeadLocked(t.parent)) err = ENOENT;
    if (err != 0) return Status::PosixError(context, err);
    NodePtr node = f.node;
    // Name the node at its destination before unnaming it at its source,
    // so its link count (and the space it is charged) never drops to 0.
    impl_->UnlinkLocked(t.parent, t.leaf);
    impl_->LinkLocked(t.parent, t.leaf, node);
    impl_->UnlinkLocked(f.parent, f.leaf);
    return Status::OK();
  }

  Status Link(const std::string& from, const std::string& to) override {
    std::lock_guard lock(impl_->mu);
    const std::string context = Full(from) + ": link to " + Full(to);
    VALISE_RETURN_IF_ERROR(CheckLocked(context));
    Lookup f, t;
    // linkat without AT_SYMLINK_FOLLOW links a symlink itself.
    int err = impl_->ResolveLocked(node_, from, Resolve::kBeneath, false, &f);
    if (err == 0)
      err = impl_->ResolveLocked(node_, to, Resolve::kBeneath, false, &t);
    if (err == 0 && f.leaf.empty()) err = EPERM;
    if (err == 0 && !f.node) err = ENOENT;
    if (err == 0 && f.node->type == FileType::kDirectory) err = EPERM;
    if (err == 0 && (t.leaf.empty() || t.node)) err = EEXIST;
    if (err == 0 && f.parent->device != t.parent->device) err = EXDEV;
    if (err == 0 && impl_->DeadLocked(t.parent)) err = ENOENT;
    if (err != 0) return Status::PosixError(context, err);
    impl_->LinkLocked(t.parent, t.leaf, f.node);
    return Status::OK();
  }

  Status Remove(const std::string& rel) override {
    std::lock_guard lock(impl_->mu);
    const std::string context = Full(rel) + ": remove";
    VALISE_RETURN_IF_ERROR(CheckLocked(context));
    Lookup l;
    int err = impl_->ResolveLocked(node_, rel, Resolve::kBeneath, false, &l);
    if (err == 0 && l.leaf.empty()) err = EBUSY;
    if (err == 0 && !l.node) err = ENOENT;
    if (err == 0 && l.node->type == FileType::kDirectory &&
        !l.node->entries.empty()) {
      err = ENOTEMPTY;
    }
    if (err != 0) return Status::PosixError(context, err);
    impl_->UnlinkLocked(l.parent, l.leaf);
    return Status::OK();
  }

  Status List(const std::string& rel, std::vector<DirEntry>* entries) override {
    std::lock_guard lock(impl_->mu);
    const std::string context = Full(rel) + ": opendir";
    VALISE_RETURN_IF_ERROR(CheckLocked(context));
    Lookup l;
    int err = impl_->ResolveLocked(node_, rel, Resolve::kBeneath, true, &l);
    if (err == 0 && !l.node) err = ENOENT;
    if (err == 0 && l.node->type != FileType::kDirectory) err = ENOTDIR;
    if (err != 0) return Status::PosixError(context, err);
    impl_->ListLocked(*l.node, entries);
    return Status::OK();
  }

  Status SyncDir(const std::string& rel) override {
    std::unique_lock lock(impl_->mu);
    const std::string context = Full(rel) + ": fsync";
    VALISE_RETURN_IF_ERROR(CheckLocked(context));
    Lookup l;
    int err = impl_->ResolveLocked(node_, rel, Resolve::kBeneath, true, &l);
    if (err == 0 && !l.node) err = ENOENT;
    if (err == 0 && l.node->type != FileType::kDirectory) err = ENOTDIR;
    if (err != 0) return Status::PosixError(context, err);
    // The directory's own prefix with a "/", so SyncDir of "drive2" obeys
    // the faults and stalls set for "drive2/".
    std::string key = SimDisk::Impl::NormalizeKey(Full(rel));
    if (!key.empty() && key.back() != '/') key += '/';
    impl_->WaitUnstalledLocked(lock, key, epoch_, Decision::kSyncDir);
    VALISE_RETURN_IF_ERROR(CheckLocked(context));
    OpResult r = impl_->SyncDirLocked(l.node, key);
    if (r.res < 0) return ToStatus(r, context);
    return Status::OK();
  }

  Status SyncFs() override {
    std::unique_lock lock(impl_->mu);
    const std::string context = path_ + ": syncfs";
    VALISE_RETURN_IF_ERROR(CheckLocked(context));
    if (!impl_->opt.syncfs) {
      return Status::NotSupported(context, "not trusted on this file system");
    }
    std::string key = SimDisk::Impl::NormalizeKey(path_);
    if (!key.empty() && key.back() != '/') key += '/';
    impl_->WaitUnstalledLocked(lock, key, epoch_, Decision::kSyncFs);
    VALISE_RETURN_IF_ERROR(CheckLocked(context));
    OpResult r = impl_->SyncFsLocked(key);
    if (r.res < 0) return ToStatus(r, context);
    return Status::OK();
  }

  Status Lock(const std::string& rel) override {
    std::lock_guard lock(impl_->mu);
    const std::string context = Full(rel) + ": flock";
    VALISE_RETURN_IF_ERROR(CheckLocked(context));
    Lookup l;
    int err = impl_->ResolveLocked(node_, rel, Resolve::kBeneath, true, &l);
    if (err == 0 && !l.node && impl_->DeadLocked(l.parent)) err = ENOENT;
    if (err != 0) return Status::PosixError(context, err);
    NodePtr node = l.node;
    if (!node) {
      if (impl_->InodesFullLocked()) {
        return ToStatus(impl_->InjectLocked(ENOSPC), context);
      }
      node = impl_->NewNodeLocked(l.parent, FileType::kRegular, 0644);
      impl_->LinkLocked(l.parent, l.leaf, node);
    }
    // flock locks belong to the open file description: a second handle,
    // even in this process, is refused (EWOULDBLOCK under LOCK_NB).
    auto [it, inserted] = impl_->locks.emplace(node->ino, this);
    if (!inserted && it->second != this) {
      return Status::PosixError(context, EWOULDBLOCK);
    }
    if (inserted) held_locks_.push_back(node->ino);
    return Status::OK();
  }

  Status FreeSpace(uint64_t* bytes, uint64_t* inodes) override {
    std::lock_guard lock(impl_->mu);
    VALISE_RETURN_IF_ERROR(CheckLocked(path_ + ": statfs"));
    const SimDiskOptions& o = impl_->opt;
    uint64_t used = impl_->used_bytes;
    auto& lagging = impl_->lagging_bytes;
    for (auto& [size, calls_left] : lagging) {
      used += size;
      --calls_left;
    }
    std::erase_if(lagging, [](const auto& l) { return l.second == 0; });
    *bytes = used >= o.capacity_bytes ? 0 : o.capacity_bytes - used;
    *inodes = impl_->live_inodes >= o.capacity_inodes
                  ? 0
                  : o.capacity_inodes - impl_->live_inodes;
    return Status::OK();
  }

 private:
  std::string Full(const std::string& rel) const {
    return SimDisk::Impl::JoinPath(path_, rel);
  }

  // Inactive disk, or a handle from before a crash.
  Status CheckLocked(const std::string& context) const {
    if (!impl_->active) return impl_->InactiveStatusLocked(context);
    if (epoch_ != impl_->epoch) {
      return ToStatus(impl_->InjectLocked(ESTALE), context);
    }
    return Status::OK();
  }

  // What opening `l` as an existing regular file would say.
  static int RegularFileErr(const Lookup& l) {
    if (l.leaf.empty()) return EISDIR;
    if (!l.node) return ENOENT;
    if (l.node->type == FileType::kDirectory) return EISDIR;
    if (l.node->type != FileType::kRegular) return EINVAL;
    return 0;
  }

  // Whether `needle` is `dir` or below it.
  static bool Contains(const NodePtr& dir, const NodePtr& needle) {
    if (dir == needle) return true;
    for (const auto& [name, child] : dir->entries) {
      if (child->type == FileType::kDirectory && Contains(child, needle)) {
        return true;
      }
    }
    return false;
  }

  std::shared_ptr<SimDisk::Impl> impl_;
  NodePtr node_;
  std::string path_;
  uint64_t epoch_;
  std::vector<uint64_t> held_locks_;
};

}  // namespace

std::unique_ptr<Directory> NewSimDirectory(std::shared_ptr<SimDisk::Impl> impl,
                                           NodePtr node, std::string path,
                                           uint64_t epoch) {
  return std::make_unique<SimDirectory>(std::move(impl), std::move(node),
                                        std::move(path), epoch);
}

}  // namespace valise::sim
