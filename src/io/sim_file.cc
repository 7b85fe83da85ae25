// SimFile: a File on the simulated disk. Every call takes the disk's mutex,
// checks that the disk is active and the handle predates no crash, waits
// out a stall, and runs the operation through the one fault model in
// SimDisk::Impl (sim_disk.cc), the same one the simulated queue uses.
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "io/sim_internal.h"

namespace valise::sim {

namespace {
// Open serials are unique in the process (File::open_serial), across disks.
std::atomic<uint64_t> g_next_serial{1};
}  // namespace

Status ToStatus(const OpResult& r, const std::string& context) {
  Status s = Status::PosixError(context, static_cast<int>(-r.res));
  return r.injected ? s.WithInjected(true) : s;
}

SimFile::SimFile(std::shared_ptr<SimDisk::Impl> impl, NodePtr node,
                 std::string path, uint64_t epoch, bool writable, bool append,
                 bool direct)
    : impl_(std::move(impl)),
      node_(std::move(node)),
      path_(std::move(path)),
      key_(SimDisk::Impl::NormalizeKey(path_)),
      epoch_(epoch),
      writable_(writable),
      append_(append),
      direct_(direct),
      serial_(g_next_serial.fetch_add(1)) {}

Status SimFile::Fail(const OpResult& r, const std::string& what) const {
  const std::string context = path_ + ": " + what;
  // While inactive, the status the test chose, not a made-up errno.
  if (!impl_->active) return impl_->InactiveStatusLocked(context);
  return ToStatus(r, context);
}

Status SimFile::ReadAt(uint64_t offset, size_t n, char* scratch,
                       size_t* bytes_read) const {
  std::unique_lock lock(impl_->mu);
  impl_->WaitUnstalledLocked(lock, key_, epoch_, Decision::kRead, offset, n);
  OpResult r = impl_->ReadLocked(*this, offset, n, scratch, /*async=*/false);
  if (r.res < 0) return Fail(r, "read at " + std::to_string(offset));
  *bytes_read = static_cast<size_t>(r.res);
  return Status::OK();
}

Status SimFile::WriteAt(uint64_t offset, const char* data, size_t n) {
  std::unique_lock lock(impl_->mu);
  impl_->WaitUnstalledLocked(lock, key_, epoch_, Decision::kWrite, offset, n);
  OpResult r = impl_->WriteLocked(*this, offset, data, n, /*async=*/false);
  if (r.res < 0) return Fail(r, "write at " + std::to_string(offset));
  return Status::OK();
}

Status SimFile::Size(uint64_t* size) const {
  std::lock_guard lock(impl_->mu);
  OpResult r = impl_->CheckFileLocked(*this);
  if (r.res < 0) return Fail(r, "fstat");
  *size = node_->data.size();
  return Status::OK();
}

Status SimFile::Sync() {
  std::unique_lock lock(impl_->mu);
  impl_->WaitUnstalledLocked(lock, key_, epoch_, Decision::kSync);
  OpResult r = impl_->SyncLocked(*this);
  if (r.res < 0) return Fail(r, "fdatasync");
  return Status::OK();
}

Status SimFile::Truncate(uint64_t size) {
  std::lock_guard lock(impl_->mu);
  const std::string what = "ftruncate to " + std::to_string(size);
  OpResult r = impl_->CheckFileLocked(*this);
  if (r.res == 0 && !writable_) r.res = -EBADF;
  if (r.res == 0 && impl_->WouldExceedBytesLocked(*node_, size)) {
    r = impl_->InjectLocked(ENOSPC);
  }
  if (r.res < 0) return Fail(r, what);
  impl_->ResizeLocked(node_.get(), size);
  return Status::OK();
}

Status SimFile::SetModeAndTime(uint32_t mode, int64_t mtime_ns) {
  std::lock_guard lock(impl_->mu);
  OpResult r = impl_->CheckFileLocked(*this);
  if (r.res < 0) return Fail(r, "fchmod");
  node_->mode = mode & 07777;
  node_->mtime_ns = mtime_ns;
  impl_->ChangedLocked(node_.get());
  return Status::OK();
}

Status SimFile::PhysicalOffset(uint64_t* offset) const {
  std::lock_guard lock(impl_->mu);
  OpResult r = impl_->CheckFileLocked(*this);
  if (r.res < 0) return Fail(r, "fiemap");
  if (node_->type != FileType::kRegular) {
    return Status::NotSupported(path_ + ": fiemap", "not a regular file");
  }
  *offset = node_->physical;
  return Status::OK();
}

Status SimFile::CloneFrom(const File& src, uint64_t src_offset,
                          uint64_t dst_offset, uint64_t n) {
  std::lock_guard lock(impl_->mu);
  const std::string what = "clone from " + src.path();
  OpResult r = impl_->CheckFileLocked(*this);
  if (r.res < 0) return Fail(r, what);
  // A DEST without reflinks answers FICLONE with EOPNOTSUPP.
  if (!impl_->opt.reflink)
    return ToStatus(OpResult{-EOPNOTSUPP}, path_ + ": " + what);
  const auto* s = dynamic_cast<const SimFile*>(&src);
  // Another disk, or a real file: another file system, EXDEV.
  if (s == nullptr || s->impl_ != impl_) {
    return ToStatus(OpResult{-EXDEV}, path_ + ": " + what);
  }
  r = impl_->CheckFileLocked(*s);
  if (r.res < 0) return Fail(r, what);
  int err = 0;
  if (!writable_) err = EBADF;
  if (err == 0 && s->node_->device != node_->device) err = EXDEV;
  if (err == 0 && s->node_->type != FileType::kRegular) err = EINVAL;
  if (err != 0) return ToStatus(OpResult{-err}, path_ + ": " + what);
  if (impl_->DecideLocked(Decision::kClone, key_, dst_offset, n)
          .OneIn(impl_->FaultsForLocked(key_).write_error_one_in)) {
    return Fail(impl_->InjectLocked(EIO), what);
  }

  const std::string& from = s->node_->data;
  const uint64_t src_size = from.size();
  const uint64_t dst_size = node_->data.size();
  if (n == 0 && src_offset == 0 && dst_offset == 0) {
    // FICLONE: the whole of src replaces the whole of this file.
    if (s->node_ == node_) return Status::OK();
    if (impl_->WouldExceedBytesLocked(*node_, src_size)) {
      return Fail(impl_->InjectLocked(ENOSPC), what);
    }
    std::string copy = from;
    impl_->ResizeLocked(node_.get(), src_size);
    node_->data = std::move(copy);
    impl_->ChangedLocked(node_.get());
    return Status::OK();
  }
  // FICLONERANGE, with the checks XFS makes (tried on kernel 6.18): 0
  // means "to src's end", a range past src's end is EINVAL; offsets must be
  // block-aligned, and so must the length unless it ends at src's EOF, in
  // which case that partial block may not land inside dst.
  if (n == 0) n = src_offset >= src_size ? 0 : src_size - src_offset;
  const uint64_t a = kDirectAlignment;
  if (src_offset > src_size || n > src_size - src_offset) err = EINVAL;
  if (src_offset % a != 0 || dst_offset % a != 0) err = EINVAL;
  if (err == 0 && n % a != 0 &&
      (src_offset + n != src_size || dst_offset + n < dst_size)) {
    err = EINVAL;
  }
  // The same file with overlapping ranges.
  if (err == 0 && s->node_ == node_ && src_offset < dst_offset + n &&
      dst_offset < src_offset + n) {
    err = EINVAL;
  }
  if (err != 0) return ToStatus(OpResult{-err}, path_ + ": " + what);
  if (n == 0) return Status::OK();
  const uint64_t new_size = std::max(dst_size, dst_offset + n);
  if (impl_->WouldExceedBytesLocked(*node_, new_size)) {
    return Fail(impl_->InjectLocked(ENOSPC), what);
  }
  std::string copy = from.substr(src_offset, n);
  if (new_size > dst_size) impl_->ResizeLocked(node_.get(), new_size);
  memcpy(node_->data.data() + dst_offset, copy.data(), n);
  impl_->ChangedLocked(node_.get());
  ++impl_->stats.range_clones;
  impl_->stats.bytes_range_cloned += n;
  return Status::OK();
}

Status SimFile::DropDirect() {
  direct_.store(false, std::memory_order_relaxed);
  return Status::OK();
}

}  // namespace valise::sim
