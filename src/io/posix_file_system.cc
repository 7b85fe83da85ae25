// The real FileSystem: POSIX calls on this machine's kernel.
//
// Reading sources: OpenForRead never follows a symlink in the last component
// and never opens anything but a regular file or a block device, so a FIFO
// planted on a drive cannot block the scan. Files are opened O_DIRECT where
// the file system allows it (the page cache is bypassed: on this kind of
// machine filling it costs more than the read), buffered otherwise.
//
// Writing DEST: every path below a Directory is resolved by the kernel with
// openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
// relative to a directory descriptor, so a symlink planted in DEST (or a
// component swapped for one while valise runs) can never redirect a create,
// a rename or a remove outside of it. Operations that take a name (mkdirat,
// renameat2, linkat, unlinkat) act on a parent descriptor obtained the same
// way, and never follow the final component.
//
// Thread safety: as file_system.h says. The only shared mutable state is
// the sysfs rotational cache (a mutex) and each Directory's list of lock
// descriptors (a mutex).

#include <dirent.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "io/posix_internal.h"
#include "valise/file_system.h"
#include "valise/io_queue.h"
#include "valise/status.h"

namespace valise {

const char* FileTypeName(FileType type) {
  switch (type) {
    case FileType::kRegular:
      return "file";
    case FileType::kDirectory:
      return "directory";
    case FileType::kSymlink:
      return "symlink";
    case FileType::kBlockDevice:
      return "block device";
    case FileType::kCharDevice:
      return "character device";
    case FileType::kFifo:
      return "fifo";
    case FileType::kSocket:
      return "socket";
    case FileType::kUnknown:
      break;
  }
  return "unknown";
}

// ---------------------------------------------------------------------------
// FileContents: anonymous memory, grown with mremap, given back with
// madvise.

namespace {

size_t PageSize() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

size_t RoundUpToPage(size_t n) {
  const size_t page = PageSize();
  return (n + page - 1) / page * page;
}

}  // namespace

FileContents::~FileContents() {
  if (base_ != nullptr) munmap(base_, capacity_);
}

Status FileContents::Reserve(size_t n, char** tail) {
  if (capacity_ - size_ >= n) {
    *tail = base_ + size_;
    return Status::OK();
  }
  if (n > SIZE_MAX - size_ - PageSize()) {
    return Status::InvalidArgument("mmap", "size overflows");
  }
  const size_t want = RoundUpToPage(size_ + n);
  void* p;
  if (base_ == nullptr) {
    // MAP_NORESERVE is not asked for: the bytes will all be written, so the
    // kernel may as well refuse now (ENOMEM) rather than kill us later.
    p = mmap(nullptr, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
             -1, 0);
    if (p == MAP_FAILED) {
      return Status::PosixError("mmap of " + std::to_string(want) + " bytes",
                                errno);
    }
  } else {
    // Moves the pages, not the bytes: growing a pipe's contents never
    // holds two copies.
    p = mremap(base_, capacity_, want, MREMAP_MAYMOVE);
    if (p == MAP_FAILED) {
      return Status::PosixError("mremap to " + std::to_string(want) + " bytes",
                                errno);
    }
  }
  base_ = static_cast<char*>(p);
  capacity_ = want;
  *tail = base_ + size_;
  return Status::OK();
}

void FileContents::Release(size_t offset) {
  // Whole pages only; at the end, the last partial page too.
  const size_t end =
      offset >= size_ ? capacity_ : offset / PageSize() * PageSize();
  if (end <= released_pages_) return;
  // MADV_DONTNEED on private anonymous memory frees the pages at once (RSS
  // drops now, unlike MADV_FREE, which waits for memory pressure); a later
  // read of them maps the zero page. It fails only with EINVAL for a bad
  // range, which the rounding rules out; the pages then stay, harmlessly.
  if (madvise(base_ + released_pages_, end - released_pages_, MADV_DONTNEED) ==
      0) {
    released_pages_ = end;
  }
}

namespace {

// The directory holding `path` ("." for a bare name, "/" for "/x").
std::string OutputDir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// OK if an output may be written over what is at `path` (of `type`): only
// a regular file, only with `replace`.
Status CheckOutputTarget(const std::string& path, FileType type, bool replace) {
  switch (type) {
    case FileType::kRegular:
      if (replace) return Status::OK();
      return Status::InvalidArgument(path, "exists; not replaced");
    case FileType::kSymlink:
      return Status::InvalidArgument(
          path, "a symbolic link: never written through or replaced");
    default:
      return Status::InvalidArgument(
          path, std::string("a ") + FileTypeName(type) +
                    ", not a regular file: never written to or replaced");
  }
}

// The output `path` cannot be created: its directory is missing (ENOENT)
// or not a directory (ENOTDIR).
Status MissingOutputDir(const std::string& path, int err) {
  const std::string dir = OutputDir(path);
  return Status::NotFound(
      path, "cannot be created: '" + dir + "' " +
                (err == ENOTDIR ? "is not a directory" : "does not exist"));
}

// The default OutputFile: gathers the pieces, writes them at Close with
// WriteSmallFile once what is at the path has been checked again.
class GatheredOutput final : public OutputFile {
 public:
  GatheredOutput(FileSystem* fs, std::string path, uint32_t mode, bool replace)
      : fs_(fs), path_(std::move(path)), mode_(mode), replace_(replace) {}
  Status Append(std::string_view data) override {
    data_.append(data);
    return Status::OK();
  }
  Status Close() override {
    FileInfo info;
    Status s = fs_->Stat(path_, &info);
    if (s.ok()) {
      VALISE_RETURN_IF_ERROR(CheckOutputTarget(path_, info.type, replace_));
    } else if (!s.IsNotFound()) {
      return s;
    }
    return fs_->WriteSmallFile(path_, data_, mode_);
  }

 private:
  FileSystem* fs_;
  std::string path_;
  uint32_t mode_;
  bool replace_;
  std::string data_;
};

// `dir` ready to take a name after it: "d/" for "d" and for "d/".
std::string DirPrefix(const std::string& dir) {
  return dir.empty() || dir.back() == '/' ? dir : dir + "/";
}

}  // namespace

Status FileSystem::CreateOutput(const std::string& path, uint32_t mode,
                                const OutputOptions& opt,
                                std::unique_ptr<OutputFile>* result) {
  FileInfo info;
  Status s = Stat(path, &info);
  if (s.ok()) {
    VALISE_RETURN_IF_ERROR(CheckOutputTarget(path, info.type, opt.replace));
  } else if (!s.IsNotFound()) {
    return s;
  }
  s = Stat(OutputDir(path), &info);
  if (s.IsNotFound()) return MissingOutputDir(path, ENOENT);
  VALISE_RETURN_IF_ERROR(s);
  if (info.type != FileType::kDirectory) {
    return MissingOutputDir(path, ENOTDIR);
  }
  *result = std::make_unique<GatheredOutput>(this, path, mode, opt.replace);
  return Status::OK();
}

Status FileSystem::ListDirInfo(const std::string& path,
                               std::vector<DirEntryInfo>* entries) {
  std::vector<DirEntry> names;
  VALISE_RETURN_IF_ERROR(ListDir(path, &names));
  const std::string prefix = DirPrefix(path);
  std::vector<DirEntryInfo> out;
  out.reserve(names.size());
  for (DirEntry& e : names) {
    DirEntryInfo d;
    d.status = Stat(prefix + e.name, &d.info);
    d.name = std::move(e.name);
    out.push_back(std::move(d));
  }
  *entries = std::move(out);
  return Status::OK();
}

Status FileSystem::ResolvePath(const std::string& path, std::string*) {
  return Status::NotSupported(path, "resolving symlinks");
}

Status FileSystem::ReadLargeFile(const std::string& path, size_t max_size,
                                 std::unique_ptr<FileContents>* result) {
  result->reset();
  std::string data;
  VALISE_RETURN_IF_ERROR(ReadSmallFile(path, &data, max_size));
  auto contents = std::make_unique<FileContents>();
  char* tail = nullptr;
  Status s = contents->Reserve(data.size(), &tail);
  if (!s.ok()) return s.WithContext(path);
  if (!data.empty()) memcpy(tail, data.data(), data.size());
  contents->Append(data.size());
  *result = std::move(contents);
  return Status::OK();
}

namespace {

// Every open gets a serial so queues can tell a reused descriptor number
// from the file they registered (File::open_serial).
std::atomic<uint64_t> g_next_serial{1};

FileType TypeFromMode(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return FileType::kRegular;
    case S_IFDIR:
      return FileType::kDirectory;
    case S_IFLNK:
      return FileType::kSymlink;
    case S_IFBLK:
      return FileType::kBlockDevice;
    case S_IFCHR:
      return FileType::kCharDevice;
    case S_IFIFO:
      return FileType::kFifo;
    case S_IFSOCK:
      return FileType::kSocket;
    default:
      return FileType::kUnknown;
  }
}

FileType TypeFromDirent(unsigned char d_type) {
  switch (d_type) {
    case DT_REG:
      return FileType::kRegular;
    case DT_DIR:
      return FileType::kDirectory;
    case DT_LNK:
      return FileType::kSymlink;
    case DT_BLK:
      return FileType::kBlockDevice;
    case DT_CHR:
      return FileType::kCharDevice;
    case DT_FIFO:
      return FileType::kFifo;
    case DT_SOCK:
      return FileType::kSocket;
    default:
      return FileType::kUnknown;
  }
}

std::string OffsetContext(const std::string& path, const char* op,
                          uint64_t offset) {
  std::string s = path;
  s += ": ";
  s += op;
  s += " at ";
  s += std::to_string(offset);
  return s;
}

std::string Context(const std::string& path, const char* op) {
  std::string s = path;
  s += ": ";
  s += op;
  return s;
}

// Closes a descriptor it owns when it goes out of scope.
class ScopedFd final {
 public:
  ScopedFd() = default;
  explicit ScopedFd(int fd) : fd_(fd) {}
  ~ScopedFd() { Reset(-1); }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  int get() const { return fd_; }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset(int fd) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// fsync of the directory holding `path` (an absolute or relative path).
Status SyncParentOf(const std::string& path) {
  size_t slash = path.find_last_of('/');
  std::string parent = slash == std::string::npos ? "."
                       : slash == 0               ? "/"
                                                  : path.substr(0, slash);
  int fd = open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return Status::PosixError(Context(parent, "open directory"), errno);
  ScopedFd guard(fd);
  if (fsync(fd) != 0)
    return Status::PosixError(Context(parent, "fsync"), errno);
  return Status::OK();
}

// Writes all of `data` to `fd`; `path` names it in errors.
Status WriteAll(int fd, const std::string& path, std::string_view data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::PosixError(Context(path, "write"), errno);
    }
    done += static_cast<size_t>(n);
  }
  return Status::OK();
}

// An output to a regular file, atomically: a temporary name beside it,
// then at Close fchmod, fsync, rename, fsync of the directory.
class AtomicOutput final : public OutputFile {
 public:
  AtomicOutput(std::string path, std::string tmp, int fd, uint32_t mode)
      : path_(std::move(path)), tmp_(std::move(tmp)), fd_(fd), mode_(mode) {}
  ~AtomicOutput() override {
    if (!closed_) unlink(tmp_.c_str());
  }
  Status Append(std::string_view data) override {
    return WriteAll(fd_.get(), tmp_, data);
  }
  Status Close() override {
    // The umask may have narrowed the mode; set exactly what was asked.
    if (fchmod(fd_.get(), mode_ & 07777) != 0) {
      return Status::PosixError(Context(tmp_, "fchmod"), errno);
    }
    if (fsync(fd_.get()) != 0) {
      return Status::PosixError(Context(tmp_, "fsync"), errno);
    }
    if (rename(tmp_.c_str(), path_.c_str()) != 0) {
      return Status::PosixError(Context(tmp_, "rename to ") + path_, errno);
    }
    closed_ = true;
    // The new name is durable once its directory is.
    return SyncParentOf(path_);
  }

 private:
  std::string path_, tmp_;
  ScopedFd fd_;
  uint32_t mode_;
  bool closed_ = false;
};

// A name beside `path` for a temporary file: PATH.tmp-PID-N.
std::string TempNameFor(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  return path + ".tmp-" + std::to_string(getpid()) + "-" +
         std::to_string(counter.fetch_add(1));
}

Status OpenAtomic(const std::string& path, uint32_t mode,
                  std::unique_ptr<OutputFile>* result) {
  std::string tmp = TempNameFor(path);
  // O_EXCL|O_NOFOLLOW: the temporary name is ours alone.
  const int fd =
      open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
           mode & 07777);
  if (fd < 0) return Status::PosixError(Context(tmp, "create"), errno);
  *result = std::make_unique<AtomicOutput>(path, std::move(tmp), fd, mode);
  return Status::OK();
}

// An output the operator named (FileSystem::CreateOutput): its bytes go to
// an unnamed file in the path's directory (O_TMPFILE), linked under the
// path at Close (linkat fails if the name was taken meanwhile: nothing is
// replaced); with `replace`, linked under a temporary name and renamed
// over the regular file there. Where the file system has no O_TMPFILE, a
// temporary name beside the path (removed unless Close succeeds) is
// renamed with RENAME_NOREPLACE. A crash before Close leaves nothing with
// O_TMPFILE, a PATH.tmp-PID-N file otherwise. Messages name the path.
class NamedOutput final : public OutputFile {
 public:
  NamedOutput(std::string path, std::string tmp, int fd, uint32_t mode,
              bool replace)
      : path_(std::move(path)),
        tmp_(std::move(tmp)),
        fd_(fd),
        mode_(mode),
        replace_(replace) {}
  ~NamedOutput() override {
    if (!named_ && !tmp_.empty()) unlink(tmp_.c_str());
  }
  Status Append(std::string_view data) override {
    return WriteAll(fd_.get(), path_, data);
  }
  Status Close() override {
    // The umask may have narrowed the mode; set exactly what was asked.
    if (fchmod(fd_.get(), mode_ & 07777) != 0) {
      return Status::PosixError(Context(path_, "fchmod"), errno);
    }
    if (fsync(fd_.get()) != 0) {
      return Status::PosixError(Context(path_, "fsync"), errno);
    }
    // Whatever appeared at the path while the run went on is checked
    // again: only a regular file is ever replaced, and only if asked.
    struct stat st;
    if (lstat(path_.c_str(), &st) == 0) {
      VALISE_RETURN_IF_ERROR(
          CheckOutputTarget(path_, TypeFromMode(st.st_mode), replace_));
    }
    if (tmp_.empty() && !replace_) {
      VALISE_RETURN_IF_ERROR(LinkAs(path_));
    } else {
      if (tmp_.empty()) {
        tmp_ = TempNameFor(path_);
        VALISE_RETURN_IF_ERROR(LinkAs(tmp_));
      }
      VALISE_RETURN_IF_ERROR(Rename());
    }
    named_ = true;
    // The new name is durable once its directory is.
    return SyncParentOf(path_);
  }

 private:
  // Gives the unnamed file the name `name`, never replacing one.
  Status LinkAs(const std::string& name) {
    // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; /proc/self/fd does not.
    int r = linkat(fd_.get(), "", AT_FDCWD, name.c_str(), AT_EMPTY_PATH);
    if (r != 0 && errno != EEXIST) {
      const std::string proc = "/proc/self/fd/" + std::to_string(fd_.get());
      r = linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, name.c_str(),
                 AT_SYMLINK_FOLLOW);
    }
    if (r == 0) return Status::OK();
    if (errno == EEXIST) return AppearedMeanwhile();
    return Status::PosixError(Context(path_, "link"), errno);
  }
  // tmp_ -> path_, replacing a regular file only with replace_.
  Status Rename() {
    int r = 0;
    if (replace_) {
      r = rename(tmp_.c_str(), path_.c_str());
    } else {
      r = renameat2(AT_FDCWD, tmp_.c_str(), AT_FDCWD, path_.c_str(),
                    RENAME_NOREPLACE);
      if (r != 0 && (errno == EINVAL || errno == ENOSYS)) {
        // No RENAME_NOREPLACE here: link(2) never replaces either.
        r = link(tmp_.c_str(), path_.c_str());
        if (r == 0) unlink(tmp_.c_str());
      }
    }
    if (r == 0) return Status::OK();
    const int err = errno;
    unlink(tmp_.c_str());
    tmp_.clear();
    if (err == EEXIST) return AppearedMeanwhile();
    return Status::PosixError(Context(path_, "rename"), err);
  }
  Status AppearedMeanwhile() const {
    return Status::InvalidArgument(
        path_, "exists (it appeared while valise ran); not replaced");
  }

  std::string path_, tmp_;
  ScopedFd fd_;
  uint32_t mode_;
  bool replace_;
  bool named_ = false;
};

Status CreateNamedOutput(const std::string& path, uint32_t mode,
                         const OutputOptions& opt,
                         std::unique_ptr<OutputFile>* result) {
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    VALISE_RETURN_IF_ERROR(
        CheckOutputTarget(path, TypeFromMode(st.st_mode), opt.replace));
  } else if (errno != ENOENT && errno != ENOTDIR) {
    return Status::PosixError(Context(path, "lstat"), errno);
  }
  const std::string dir = OutputDir(path);
  std::string tmp;
  int fd = open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, mode & 07777);
  if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
    // No O_TMPFILE on this file system: a temporary name, ours alone.
    tmp = TempNameFor(path);
    fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
              mode & 07777);
  }
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return MissingOutputDir(path, errno);
    }
    return Status::PosixError(Context(path, "create"), errno);
  }
  *result = std::make_unique<NamedOutput>(path, std::move(tmp), fd, mode,
                                          opt.replace);
  return Status::OK();
}

// Reads a small sysfs attribute; empty on any error.
std::string ReadSysfs(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  char buf[64];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return {};
  return std::string(buf, static_cast<size_t>(n));
}

// The queue attributes of a block device live in
// SYS/dev/block/MAJ:MIN/queue/; a partition has none and its parent disk
// is the directory above it ("../queue" resolves through the sysfs symlink
// to the disk's directory).
std::string SysBlockAttr(const std::string& sys_root, dev_t dev,
                         const char* attr) {
  std::string base = sys_root + "/dev/block/" + std::to_string(major(dev)) +
                     ":" + std::to_string(minor(dev));
  std::string v = ReadSysfs(base + "/" + attr);
  if (v.empty()) v = ReadSysfs(base + "/../" + attr);
  return v;
}

}  // namespace

namespace io_internal {

bool RotationalFromSysfs(const std::string& sys_root, unsigned dev_major,
                         unsigned dev_minor) {
  // Anonymous devices (major 0: tmpfs, btrfs subvolumes, overlay) have no
  // sysfs entry and report false.
  if (dev_major == 0) return false;
  std::string v =
      SysBlockAttr(sys_root, makedev(dev_major, dev_minor), "queue/rotational");
  return !v.empty() && v[0] == '1';
}

}  // namespace io_internal

namespace {

// Whether the block device `dev` holding files spins. Cached per device: a
// scan stats every file and sysfs reads cost three system calls.
bool IsRotational(dev_t dev) {
  static std::mutex mu;
  static std::unordered_map<dev_t, bool>* cache =
      new std::unordered_map<dev_t, bool>();
  {
    std::lock_guard<std::mutex> l(mu);
    auto it = cache->find(dev);
    if (it != cache->end()) return it->second;
  }
  bool rot = io_internal::RotationalFromSysfs("/sys", major(dev), minor(dev));
  std::lock_guard<std::mutex> l(mu);
  (*cache)[dev] = rot;
  return rot;
}

// Capacity of a block device: BLKGETSIZE64 on an open descriptor.
Status BlockDeviceSize(int fd, const std::string& path, uint64_t* size) {
  uint64_t bytes = 0;
  if (ioctl(fd, BLKGETSIZE64, &bytes) != 0) {
    return Status::PosixError(Context(path, "ioctl BLKGETSIZE64"), errno);
  }
  *size = bytes;
  return Status::OK();
}

void FillInfo(const struct stat& st, FileInfo* info) {
  info->type = TypeFromMode(st.st_mode);
  info->size = static_cast<uint64_t>(st.st_size);
  info->mtime_ns =
      int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
  info->mode = st.st_mode & 07777;
  info->inode = st.st_ino;
  info->device = st.st_dev;
  info->ctime_ns =
      int64_t{st.st_ctim.tv_sec} * 1'000'000'000 + st.st_ctim.tv_nsec;
  info->nlink = st.st_nlink;
  if (info->type == FileType::kBlockDevice) {
    // A drive itself: read fresh (a loop or hot-plugged device number may
    // be reused by another disk), it is stat'ed once per run.
    info->rotational = io_internal::RotationalFromSysfs(
        "/sys", major(st.st_rdev), minor(st.st_rdev));
  } else {
    info->rotational = IsRotational(st.st_dev);
  }
}

// For a block device found by stat: its capacity, through the device
// itself (BLKGETSIZE64), or sysfs (512-byte sectors) if it cannot be opened.
void FillBlockSize(const std::string& path, const struct stat& st,
                   FileInfo* info) {
  // O_NONBLOCK: opening a device must never wait (e.g. on removable media);
  // O_NOFOLLOW: the path was lstat'ed as a device, not a link.
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
  if (fd >= 0) {
    uint64_t bytes = 0;
    Status s = BlockDeviceSize(fd, path, &bytes);
    close(fd);
    if (s.ok()) {
      info->size = bytes;
      return;
    }
  }
  std::string v = SysBlockAttr("/sys", st.st_rdev, "size");
  if (!v.empty()) info->size = strtoull(v.c_str(), nullptr, 10) * 512;
}

// A relative path below a Directory: non-empty components, none "." or
// "..", no leading "/". The kernel (RESOLVE_BENEATH) would refuse an escape
// anyway; refusing it here gives a clear message.
Status CheckRelative(const std::string& dir, const std::string& rel) {
  bool bad = rel.empty() || rel.front() == '/' || rel.back() == '/';
  size_t start = 0;
  while (!bad && start <= rel.size()) {
    size_t end = rel.find('/', start);
    if (end == std::string::npos) end = rel.size();
    std::string_view comp(rel.data() + start, end - start);
    if (comp.empty() || comp == "." || comp == "..") bad = true;
    start = end + 1;
  }
  if (bad) {
    return Status::InvalidArgument(dir + "/" + rel,
                                   "not a plain relative path beneath DEST");
  }
  return Status::OK();
}

// openat2 with the DEST resolution rules. glibc 2.36 has no wrapper.
//   RESOLVE_BENEATH: no absolute symlink or ".." may leave dirfd's tree;
//   RESOLVE_NO_SYMLINKS: no symlink at all, in any component, final
//     included (so O_CREAT cannot create through a dangling link);
//   RESOLVE_NO_MAGICLINKS: no /proc/self/fd-style jumps.
int OpenBeneath(int dirfd, const char* rel, uint64_t flags, uint64_t mode) {
  struct open_how how;
  memset(&how, 0, sizeof(how));
  how.flags = flags;
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  long r;
  do {
    r = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
  } while (r < 0 && errno == EINTR);
  return static_cast<int>(r);
}

// The error of a failed OpenBeneath: a refused symlink (ELOOP) or escape
// (EXDEV) is InvalidArgument, the rest goes through PosixError.
Status BeneathError(const std::string& full, const char* op, int err) {
  if (err == ELOOP) {
    return Status::InvalidArgument(
        Context(full, op), "a component is a symbolic link (not followed)");
  }
  if (err == EXDEV) {
    return Status::InvalidArgument(Context(full, op),
                                   "path leads outside of DEST");
  }
  return Status::PosixError(Context(full, op), err);
}

// After an open with O_NONBLOCK (so a FIFO could not block it): refuse all
// but regular files and block devices, then clear O_NONBLOCK so reads wait
// for data as usual. `open_flags` are those the file was opened with
// (F_SETFL then needs no F_GETFL first: it takes only the status flags).
Status CheckReadableAndBlock(int fd, int open_flags, const std::string& path,
                             bool* is_block) {
  struct stat st;
  if (fstat(fd, &st) != 0) {
    return Status::PosixError(Context(path, "fstat"), errno);
  }
  FileType type = TypeFromMode(st.st_mode);
  if (type != FileType::kRegular && type != FileType::kBlockDevice) {
    return Status::InvalidArgument(
        path, std::string("not a regular file or block device (") +
                  FileTypeName(type) + ")");
  }
  *is_block = type == FileType::kBlockDevice;
  if (fcntl(fd, F_SETFL, open_flags & ~O_NONBLOCK) != 0) {
    return Status::PosixError(Context(path, "fcntl F_SETFL"), errno);
  }
  return Status::OK();
}

// The process's umask, read once from /proc/self/status (umask(2) cannot
// read it without setting it, which would race with other threads);
// 07777 when it cannot be read, so that no mode counts as kept at creation.
uint32_t ProcessUmask() {
  static const uint32_t mask = [] {
    FILE* f = std::fopen("/proc/self/status", "re");
    if (f == nullptr) return 07777u;
    char line[256];
    unsigned m = 07777;
    while (std::fgets(line, sizeof(line), f) != nullptr) {
      if (std::sscanf(line, "Umask: %o", &m) == 1) break;
    }
    std::fclose(f);
    return m;
  }();
  return mask;
}

class PosixFile final : public File {
 public:
  PosixFile(std::string path, int fd, bool direct, bool is_block)
      : path_(std::move(path)),
        fd_(fd),
        direct_(direct),
        is_block_(is_block),
        serial_(g_next_serial.fetch_add(1, std::memory_order_relaxed)) {}
  ~PosixFile() override { close(fd_); }

  const std::string& path() const override { return path_; }

  Status ReadAt(uint64_t offset, size_t n, char* scratch,
                size_t* bytes_read) const override {
    // Loops only on EINTR: a short read is the caller's to continue (it is
    // how end of file and O_DIRECT tails show).
    ssize_t r;
    do {
      r = pread(fd_, scratch, n, static_cast<off_t>(offset));
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
      *bytes_read = 0;
      return Status::PosixError(OffsetContext(path_, "read", offset), errno);
    }
    *bytes_read = static_cast<size_t>(r);
    return Status::OK();
  }

  Status WriteAt(uint64_t offset, const char* data, size_t n) override {
    // A short write (signal, quota edge) is continued until done or error.
    while (n > 0) {
      ssize_t r = pwrite(fd_, data, n, static_cast<off_t>(offset));
      if (r < 0) {
        if (errno == EINTR) continue;
        return Status::PosixError(OffsetContext(path_, "write", offset), errno);
      }
      if (r == 0) {
        return Status::IOError(OffsetContext(path_, "write", offset),
                               "no progress (0 bytes written)");
      }
      data += r;
      n -= static_cast<size_t>(r);
      offset += static_cast<uint64_t>(r);
    }
    return Status::OK();
  }

  Status Size(uint64_t* size) const override {
    if (is_block_) return BlockDeviceSize(fd_, path_, size);
    struct stat st;
    if (fstat(fd_, &st) != 0) {
      return Status::PosixError(Context(path_, "fstat"), errno);
    }
    *size = static_cast<uint64_t>(st.st_size);
    return Status::OK();
  }

  Status Sync() override {
    // fdatasync: data and the metadata needed to read it back (size), not
    // timestamps; what "durable" means for a staged file.
    if (fdatasync(fd_) != 0) {
      return Status::PosixError(Context(path_, "fdatasync"), errno);
    }
    return Status::OK();
  }

  Status Truncate(uint64_t size) override {
    if (ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      return Status::PosixError(Context(path_, "ftruncate"), errno);
    }
    return Status::OK();
  }

  // A file created with the mode asked for already has it: no fchmod.
  Status SetModeAndTime(uint32_t mode, int64_t mtime_ns) override {
    if ((mode & 07777) != mode_) {
      if (fchmod(fd_, mode & 07777) != 0) {
        return Status::PosixError(Context(path_, "fchmod"), errno);
      }
      mode_ = mode & 07777;
    }
    // Floor division so times before 1970 keep 0 <= tv_nsec < 1e9.
    int64_t sec = mtime_ns / 1'000'000'000;
    int64_t nsec = mtime_ns % 1'000'000'000;
    if (nsec < 0) {
      nsec += 1'000'000'000;
      sec -= 1;
    }
    struct timespec times[2];
    times[0].tv_sec = 0;
    times[0].tv_nsec = UTIME_OMIT;  // atime: left as the kernel keeps it
    times[1].tv_sec = sec;
    times[1].tv_nsec = nsec;
    if (futimens(fd_, times) != 0) {
      return Status::PosixError(Context(path_, "futimens"), errno);
    }
    return Status::OK();
  }

  void WillNeed(uint64_t offset, uint64_t n) const override {
    // The kernel reads at most max(read_ahead_kb, max_sectors_kb) of one
    // WILLNEED (force_page_cache_ra): 128 KiB on a disk left at the
    // default read-ahead behind a USB bridge. Pieces that small are read
    // whole on any device.
    constexpr uint64_t kPiece = 128 << 10;
    for (uint64_t at = offset; at < offset + n; at += kPiece) {
      const uint64_t len = std::min(kPiece, offset + n - at);
      posix_fadvise(fd_, static_cast<off_t>(at), static_cast<off_t>(len),
                    POSIX_FADV_WILLNEED);
    }
  }

  Status PhysicalOffset(uint64_t* offset) const override {
    if (is_block_) {
      *offset = 0;  // the device is its own single extent
      return Status::OK();
    }
    // FIEMAP for the first extent only. No FIEMAP_FLAG_SYNC: source drives
    // have no dirty data, and a sync per file would cost a flush.
    // struct fiemap ends in a flexible array: room for one extent after it.
    alignas(struct fiemap) char
        raw[sizeof(struct fiemap) + sizeof(struct fiemap_extent)];
    memset(raw, 0, sizeof(raw));
    auto* map = reinterpret_cast<struct fiemap*>(raw);
    map->fm_start = 0;
    map->fm_length = FIEMAP_MAX_OFFSET;
    map->fm_extent_count = 1;
    if (ioctl(fd_, FS_IOC_FIEMAP, map) != 0) {
      int err = errno;
      if (err == EOPNOTSUPP || err == ENOTTY || err == EINVAL) {
        return Status::NotSupported(Context(path_, "ioctl FIEMAP"),
                                    strerror(err));
      }
      return Status::PosixError(Context(path_, "ioctl FIEMAP"), err);
    }
    if (map->fm_mapped_extents == 0) {
      *offset = 0;  // no data blocks (empty or sparse): order is moot
      return Status::OK();
    }
    const struct fiemap_extent& extent = map->fm_extents[0];
    if (extent.fe_flags & (FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC |
                           FIEMAP_EXTENT_DATA_INLINE)) {
      return Status::NotSupported(Context(path_, "ioctl FIEMAP"),
                                  "first extent has no known location");
    }
    *offset = extent.fe_physical;
    return Status::OK();
  }

  Status CloneFrom(const File& src, uint64_t src_offset, uint64_t dst_offset,
                   uint64_t n) override {
    int src_fd = src.native_handle();
    if (src_fd < 0) {
      return Status::NotSupported(Context(path_, "clone"),
                                  src.path() + " has no descriptor");
    }
    int r;
    if (n == 0 && src_offset == 0 && dst_offset == 0) {
      r = ioctl(fd_, FICLONE, src_fd);
    } else {
      struct file_clone_range range;
      range.src_fd = src_fd;
      range.src_offset = src_offset;
      range.src_length = n;
      range.dest_offset = dst_offset;
      r = ioctl(fd_, FICLONERANGE, &range);
    }
    if (r != 0) {
      int err = errno;
      std::string ctx = Context(path_, "clone from ") + src.path();
      // No reflinks here (EOPNOTSUPP, ENOTTY), across file systems (EXDEV),
      // or unaligned / unsupported ranges (EINVAL): the caller copies.
      if (err == EOPNOTSUPP || err == EXDEV || err == EINVAL || err == ENOTTY) {
        return Status::NotSupported(ctx, strerror(err));
      }
      return Status::PosixError(ctx, err);
    }
    return Status::OK();
  }

  int native_handle() const override { return fd_; }
  // The permission bits the file is known to have (creation), if known.
  void set_mode(uint32_t mode) { mode_ = mode; }
  bool is_direct() const override {
    return direct_.load(std::memory_order_relaxed);
  }
  uint64_t open_serial() const override { return serial_; }

  Status DropDirect() override {
    if (!is_direct()) return Status::OK();
    // F_SETFL may change O_DIRECT on an open file: the descriptor (and any
    // io_uring registration of it) stays the same.
    int fl = fcntl(fd_, F_GETFL);
    if (fl < 0 || fcntl(fd_, F_SETFL, fl & ~O_DIRECT) != 0) {
      return Status::PosixError(Context(path_, "fcntl F_SETFL ~O_DIRECT"),
                                errno);
    }
    direct_.store(false, std::memory_order_relaxed);
    return Status::OK();
  }

 private:
  const std::string path_;
  const int fd_;
  std::atomic<bool> direct_;
  const bool is_block_;
  const uint64_t serial_;
  static constexpr uint32_t kModeUnknown = ~0u;
  uint32_t mode_ = kModeUnknown;  // permission bits, when known
};

// Reads the directory open at `fd` (taken: closed before this returns),
// calling each(dir_fd, name, d_type) for every entry but "." and "..".
template <typename Each>
Status ReadDirFd(int fd, const std::string& path, const Each& each) {
  // fdopendir takes ownership of fd; readdir batches getdents64 calls.
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    int err = errno;
    close(fd);
    return Status::PosixError(Context(path, "opendir"), err);
  }
  Status s;
  for (;;) {
    errno = 0;
    struct dirent* de = readdir(dir);
    if (de == nullptr) {
      if (errno != 0) s = Status::PosixError(Context(path, "readdir"), errno);
      break;
    }
    const char* name = de->d_name;
    if (name[0] == '.' &&
        (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) {
      continue;
    }
    each(dirfd(dir), name, de->d_type);
  }
  closedir(dir);
  return s;
}

Status ListFd(int fd, const std::string& path, std::vector<DirEntry>* out) {
  std::vector<DirEntry> entries;
  VALISE_RETURN_IF_ERROR(ReadDirFd(
      fd, path, [&](int dir_fd, const char* name, unsigned char d_type) {
        DirEntry e;
        e.name = name;
        e.type = TypeFromDirent(d_type);
        if (d_type == DT_UNKNOWN) {
          // Some file systems (older XFS, some FUSE) leave d_type unset.
          struct stat st;
          if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            e.type = TypeFromMode(st.st_mode);
          }
        }
        entries.push_back(std::move(e));
      }));
  *out = std::move(entries);
  return Status::OK();
}

// Whether syncfs(2) on `fd`'s file system makes everything durable and
// reports writeback errors: Linux >= 5.8 (before, syncfs returned 0 after a
// writeback error) on a local journaling file system whose sync_fs forces
// its log and flushes the device cache. Not FUSE (the daemon may ignore
// it), not network file systems (their semantics vary): those are synced
// file by file.
bool SyncFsTrusted(int fd) {
  struct utsname u;
  int major = 0, minor = 0;
  if (uname(&u) != 0 || sscanf(u.release, "%d.%d", &major, &minor) != 2 ||
      major < 5 || (major == 5 && minor < 8)) {
    return false;
  }
  struct statfs sf;
  if (fstatfs(fd, &sf) != 0) return false;
  switch (static_cast<uint64_t>(sf.f_type)) {
    case EXT4_SUPER_MAGIC:  // also ext2/ext3 (one magic)
    case XFS_SUPER_MAGIC:
    case BTRFS_SUPER_MAGIC:
      return true;
    default:
      return false;
  }
}

class PosixDirectory final : public Directory {
 public:
  PosixDirectory(std::string path, int fd)
      : path_(std::move(path)), fd_(fd), syncfs_trusted_(SyncFsTrusted(fd)) {}
  ~PosixDirectory() override {
    for (int fd : lock_fds_) close(fd);  // releases the flocks
    close(fd_);
  }

  const std::string& path() const override { return path_; }

  Status CreateDirs(const std::string& rel) override {
    if (rel.empty()) return Status::OK();
    VALISE_RETURN_IF_ERROR(CheckRelative(path_, rel));
    return MakeDirs(rel);
  }

  Status CreateFile(const std::string& rel, const WriteOptions& opt,
                    std::unique_ptr<File>* result) override {
    result->reset();
    VALISE_RETURN_IF_ERROR(CheckRelative(path_, rel));
    std::string full = Full(rel);
    // O_DIRECT is not asked of open(): where the file system refuses it the
    // open fails with EINVAL only after O_CREAT has created the file, and a
    // retry with O_EXCL would then hit our own file. It is set afterwards
    // with F_SETFL, which refuses it cleanly. O_NONBLOCK: without O_EXCL an
    // existing name is opened, and a planted FIFO or device must neither
    // block the open nor be written to (refused below). With O_EXCL the
    // file is a new regular file (O_CREAT|O_EXCL opens nothing that
    // exists, a symbolic link included): no check, no flag to clear; the
    // staging of every small file is one call.
    const bool fresh = opt.exclusive;
    uint64_t flags = O_RDWR | O_CREAT | O_CLOEXEC |
                     (fresh          ? O_EXCL
                      : opt.truncate ? O_TRUNC | O_NONBLOCK
                                     : O_NONBLOCK);
    int fd = OpenBeneath(fd_, rel.c_str(), flags, opt.mode & 07777);
    if (fd < 0) return BeneathError(full, "create", errno);
    ScopedFd guard(fd);
    if (!fresh) {
      struct stat st;
      if (fstat(fd, &st) != 0) {
        return Status::PosixError(Context(full, "fstat"), errno);
      }
      if (!S_ISREG(st.st_mode)) {
        return Status::InvalidArgument(
            full, std::string("not a regular file (") +
                      FileTypeName(TypeFromMode(st.st_mode)) + ")");
      }
    }
    // F_SETFL takes only the status flags: O_DIRECT, or none (O_NONBLOCK
    // cleared).
    bool direct = opt.direct && fcntl(fd, F_SETFL, O_DIRECT) == 0;
    if (!direct && !fresh && fcntl(fd, F_SETFL, 0) != 0) {
      return Status::PosixError(Context(full, "fcntl F_SETFL"), errno);
    }
    auto file = std::make_unique<PosixFile>(std::move(full), guard.Release(),
                                            direct, false);
    // A new file has the mode it was created with, less the umask: known
    // when the umask took nothing from it (set-id and sticky bits aside:
    // the kernel may drop S_ISGID at creation).
    const uint32_t mode = opt.mode & 07777;
    if (fresh && (mode & 07000) == 0 && (mode & ProcessUmask()) == 0) {
      file->set_mode(mode);
    }
    *result = std::move(file);
    return Status::OK();
  }

  Status OpenFile(const std::string& rel,
                  std::unique_ptr<File>* result) override {
    result->reset();
    VALISE_RETURN_IF_ERROR(CheckRelative(path_, rel));
    std::string full = Full(rel);
    constexpr int kFlags = O_RDONLY | O_CLOEXEC | O_NONBLOCK;
    int fd = OpenBeneath(fd_, rel.c_str(), kFlags, 0);
    if (fd < 0) return BeneathError(full, "open", errno);
    ScopedFd guard(fd);
    bool is_block = false;
    VALISE_RETURN_IF_ERROR(CheckReadableAndBlock(fd, kFlags, full, &is_block));
    *result = std::make_unique<PosixFile>(std::move(full), guard.Release(),
                                          false, is_block);
    return Status::OK();
  }

  Status OpenAppend(const std::string& rel,
                    std::unique_ptr<File>* result) override {
    result->reset();
    VALISE_RETURN_IF_ERROR(CheckRelative(path_, rel));
    std::string full = Full(rel);
    // O_RDWR so a journal can be read back and its torn tail truncated;
    // O_APPEND so every write lands at the end whatever offset is given;
    // O_NONBLOCK only so that a planted FIFO cannot block the open.
    constexpr int kFlags = O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK;
    int fd = OpenBeneath(fd_, rel.c_str(), kFlags, 0644);
    if (fd < 0) return BeneathError(full, "open for append", errno);
    ScopedFd guard(fd);
    bool is_block = false;
    VALISE_RETURN_IF_ERROR(CheckReadableAndBlock(fd, kFlags, full, &is_block));
    *result = std::make_unique<PosixFile>(std::move(full), guard.Release(),
                                          false, is_block);
    return Status::OK();
  }

  Status Stat(const std::string& rel, FileInfo* info) override {
    struct stat st;
    if (rel.empty()) {
      if (fstat(fd_, &st) != 0) {
        return Status::PosixError(Context(path_, "fstat"), errno);
      }
    } else {
      VALISE_RETURN_IF_ERROR(CheckRelative(path_, rel));
      ScopedFd parent;
      std::string base;
      VALISE_RETURN_IF_ERROR(OpenParent(rel, &parent, &base));
      int pfd = parent.get() >= 0 ? parent.get() : fd_;
      if (fstatat(pfd, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return Status::PosixError(Context(Full(rel), "stat"), errno);
      }
    }
    FileInfo fi;
    FillInfo(st, &fi);
    *info = fi;
    return Status::OK();
  }

  // Each parent opened once for the batch (O_PATH, beneath); a parent that
  // cannot be opened makes its names NotFound (or the open's error: a
  // symbolic link, a path leading outside).
  void StatMany(const std::vector<std::string>& rels,
                std::vector<Status>* status,
                std::vector<FileInfo>* info) override {
    status->assign(rels.size(), Status::OK());
    info->assign(rels.size(), FileInfo());
    ParentCache parents(this);
    for (size_t i = 0; i < rels.size(); ++i) {
      const std::string& rel = rels[i];
      Status& s = (*status)[i];
      int pfd = -1;
      std::string base;
      s = CheckRelative(path_, rel);
      if (s.ok()) s = parents.Get(rel, &pfd, &base);
      if (!s.ok()) continue;
      struct stat st;
      if (fstatat(pfd, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        s = Status::PosixError(Context(Full(rel), "stat"), errno);
        continue;
      }
      FillInfo(st, &(*info)[i]);
    }
  }

  Status Rename(const std::string& from, const std::string& to,
                bool noreplace) override {
    VALISE_RETURN_IF_ERROR(CheckRelative(path_, from));
    VALISE_RETURN_IF_ERROR(CheckRelative(path_, to));
    ScopedFd from_parent, to_parent;
    std::string from_base, to_base;
    VALISE_RETURN_IF_ERROR(OpenParent(from, &from_parent, &from_base));
    VALISE_RETURN_IF_ERROR(OpenParent(to, &to_parent, &to_base));
    int ffd = from_parent.get() >= 0 ? from_parent.get() : fd_;
    int tfd = to_parent.get() >= 0 ? to_parent.get() : fd_;
    return RenameAt(ffd, from_base, tfd, to_base, from, to, noreplace);
  }

  // One commit group's names: each parent directory is opened (beneath,
  // as by Rename) once for the batch, not once per name, and each name is
  // lstat'ed through the parent it was renamed into. A batch lasts a
  // moment, as the time between one Rename's opening of the parent and
  // its renameat2 does.
  void RenameMany(std::vector<RenameOp>* ops, bool noreplace) override {
    ParentCache parents(this);
    for (RenameOp& op : *ops) {
      op.stat_ok = false;
      op.status = CheckRelative(path_, op.from);
      if (op.status.ok()) op.status = CheckRelative(path_, op.to);
      std::string from_base, to_base;
      int ffd = -1, tfd = -1;
      if (op.status.ok()) op.status = parents.Get(op.from, &ffd, &from_base);
      if (op.status.ok()) op.status = parents.Get(op.to, &tfd, &to_base);
      if (!op.status.ok()) continue;
      op.status =
          RenameAt(ffd, from_base, tfd, to_base, op.from, op.to, noreplace);
      struct stat st;
      if (op.status.ok() &&
          fstatat(tfd, to_base.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        FillInfo(st, &op.after);
        op.stat_ok = true;
      }
    }
  }

  Status Link(const std::string& from, const std::string& to) override {
    VALISE_RETURN_IF_ERROR(CheckRelative(path_, from));
    VALISE_RETURN_IF_ERROR(CheckRelative(path_, to));
    ScopedFd from_parent, to_parent;
    std::string from_base, to_base;
    VALISE_RETURN_IF_ERROR(OpenParent(from, &from_parent, &from_base));
    VALISE_RETURN_IF_ERROR(OpenParent(to, &to_parent, &to_base));
    int ffd = from_parent.get() >= 0 ? from_parent.get() : fd_;
    int tfd = to_parent.get() >= 0 ? to_parent.get() : fd_;
    // Flags 0: a symlink `from` is linked as the link itself, not followed.
    if (linkat(ffd, from_base.c_str(), tfd, to_base.c_str(), 0) != 0) {
      return Status::PosixError(Context(Full(to), "link to ") + Full(from),
                                errno);
    }
    return Status::OK();
  }

  Status Remove(const std::string& rel) override {
    VALISE_RETURN_IF_ERROR(CheckRelative(path_, rel));
    ScopedFd parent;
    std::string base;
    VALISE_RETURN_IF_ERROR(OpenParent(rel, &parent, &base));
    int pfd = parent.get() >= 0 ? parent.get() : fd_;
    if (unlinkat(pfd, base.c_str(), 0) == 0) return Status::OK();
    int err = errno;
    if (err == EISDIR) {
      // Linux says EISDIR for unlink of a directory: remove it as one.
      if (unlinkat(pfd, base.c_str(), AT_REMOVEDIR) == 0) return Status::OK();
      err = errno;
    }
    return Status::PosixError(Context(Full(rel), "remove"), err);
  }

  Status List(const std::string& rel, std::vector<DirEntry>* entries) override {
    std::string full = rel.empty() ? path_ : Full(rel);
    if (!rel.empty()) VALISE_RETURN_IF_ERROR(CheckRelative(path_, rel));
    int fd = OpenBeneath(fd_, rel.empty() ? "." : rel.c_str(),
                         O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0) return BeneathError(full, "opendir", errno);
    return ListFd(fd, full, entries);
  }

  Status SyncDir(const std::string& rel) override {
    std::string full = rel.empty() ? path_ : Full(rel);
    if (!rel.empty()) VALISE_RETURN_IF_ERROR(CheckRelative(path_, rel));
    // fsync needs a real descriptor (not O_PATH); O_RDONLY is enough.
    int fd = OpenBeneath(fd_, rel.empty() ? "." : rel.c_str(),
                         O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0) return BeneathError(full, "open directory", errno);
    ScopedFd guard(fd);
    if (fsync(fd) != 0)
      return Status::PosixError(Context(full, "fsync"), errno);
    return Status::OK();
  }

  // fd_ was opened before anything was written through this directory, so
  // syncfs on it reports every writeback error since (errseq).
  Status SyncFs() override {
    if (!syncfs_trusted_) {
      return Status::NotSupported(Context(path_, "syncfs"),
                                  "not trusted on this file system");
    }
    if (syncfs(fd_) != 0) {
      return Status::PosixError(Context(path_, "syncfs"), errno);
    }
    return Status::OK();
  }

  Status Lock(const std::string& rel) override {
    VALISE_RETURN_IF_ERROR(CheckRelative(path_, rel));
    std::string full = Full(rel);
    int fd = OpenBeneath(fd_, rel.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return BeneathError(full, "open lock", errno);
    ScopedFd guard(fd);
    // flock locks belong to the open file description: a second open, in
    // this process or another, is refused (LOCK_NB: at once, no waiting),
    // and the lock goes away with the descriptor, even on a crash.
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      if (err == EWOULDBLOCK) {
        char buf[32] = {0};
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        long pid = n > 0 ? strtol(buf, nullptr, 10) : 0;
        return Status::Busy(path_, "DEST is locked by another valise (pid " +
                                       std::to_string(pid) + ")");
      }
      return Status::PosixError(Context(full, "flock"), err);
    }
    // Record who holds it, for the message above.
    std::string pid = std::to_string(getpid()) + "\n";
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) !=
                                     static_cast<ssize_t>(pid.size())) {
      return Status::PosixError(Context(full, "write lock"), errno);
    }
    std::lock_guard<std::mutex> l(mu_);
    lock_fds_.push_back(guard.Release());
    return Status::OK();
  }

  Status FreeSpace(uint64_t* bytes, uint64_t* inodes) override {
    struct statvfs sv;
    if (fstatvfs(fd_, &sv) != 0) {
      return Status::PosixError(Context(path_, "statvfs"), errno);
    }
    // f_bavail / f_favail: what an unprivileged writer may still use.
    *bytes = uint64_t{sv.f_bavail} * sv.f_frsize;
    *inodes = sv.f_favail;
    return Status::OK();
  }

 private:
  std::string Full(const std::string& rel) const {
    return path_.back() == '/' ? path_ + rel : path_ + "/" + rel;
  }

  // The parent directories of one batch's names (StatMany, RenameMany),
  // each opened beneath (O_PATH) once for the batch, or its failure to
  // open kept as the answer for every name in it.
  class ParentCache {
   public:
    explicit ParentCache(const PosixDirectory* dir) : dir_(dir) {}
    // For "a/b/c": *fd = "a/b" opened and *base = "c"; for "c": the
    // directory itself. REQUIRES: CheckRelative(rel) passed.
    Status Get(const std::string& rel, int* fd, std::string* base) {
      const size_t slash = rel.rfind('/');
      if (slash == std::string::npos) {
        *fd = dir_->fd_;
        *base = rel;
        return Status::OK();
      }
      *base = rel.substr(slash + 1);
      std::string parent = rel.substr(0, slash);
      auto it = parents_.find(parent);
      if (it == parents_.end()) {
        it = parents_.try_emplace(parent).first;
        int f = OpenBeneath(dir_->fd_, parent.c_str(),
                            O_DIRECTORY | O_PATH | O_CLOEXEC, 0);
        if (f < 0) {
          it->second.status =
              BeneathError(dir_->Full(parent), "open directory", errno);
        } else {
          it->second.fd.Reset(f);
        }
      }
      *fd = it->second.fd.get();
      return it->second.status;
    }

   private:
    struct Parent {
      ScopedFd fd;
      Status status;
    };
    const PosixDirectory* dir_;
    std::map<std::string, Parent> parents_;
  };

  // renameat2 of `from_base` in directory `ffd` to `to_base` in `tfd`
  // (`from` and `to`, relative to this directory, for messages). It acts
  // on names in the two parent directories and never follows either final
  // component. RENAME_NOREPLACE makes "exists" an atomic EEXIST instead of
  // a silent overwrite.
  Status RenameAt(int ffd, const std::string& from_base, int tfd,
                  const std::string& to_base, const std::string& from,
                  const std::string& to, bool noreplace) const {
    unsigned flags = noreplace ? RENAME_NOREPLACE : 0;
    if (renameat2(ffd, from_base.c_str(), tfd, to_base.c_str(), flags) == 0) {
      return Status::OK();
    }
    const std::string ctx = Context(Full(from), "rename to ") + Full(to);
    int err = errno;
    if (!(noreplace && err == EINVAL)) return Status::PosixError(ctx, err);
    // The file system does not know RENAME_NOREPLACE (some network and FUSE
    // file systems): link + unlink is no-replace too (linkat fails with
    // EEXIST), at the price of a moment with both names.
    if (linkat(ffd, from_base.c_str(), tfd, to_base.c_str(), 0) != 0) {
      return Status::PosixError(ctx, errno);
    }
    if (unlinkat(ffd, from_base.c_str(), 0) != 0) {
      return Status::PosixError(Context(Full(from), "unlink"), errno);
    }
    return Status::OK();
  }

  // mkdir -p of `rel` beneath DEST, from its end: the parent opened in one
  // call (openat2 beneath, no symbolic link on the way) and the last
  // component made in it; a missing parent is made first, the same way.
  // An ingest names a directory's files before its subdirectories' most of
  // the time, so a new directory costs an openat2 and a mkdirat, not a
  // walk from DEST (which made most of its mkdirat fail with EEXIST). A
  // name already there must be a directory, not a link to one: mkdirat
  // never follows a final link (EEXIST), and the open beneath refuses it.
  Status MakeDirs(const std::string& rel) {
    ScopedFd parent;
    std::string base;
    Status s = OpenParent(rel, &parent, &base);
    if (s.err() == ENOENT) {
      VALISE_RETURN_IF_ERROR(MakeDirs(rel.substr(0, rel.rfind('/'))));
      s = OpenParent(rel, &parent, &base);
    }
    VALISE_RETURN_IF_ERROR(s);
    const int pfd = parent.get() >= 0 ? parent.get() : fd_;
    if (mkdirat(pfd, base.c_str(), 0755) == 0) return Status::OK();
    if (errno != EEXIST) {
      return Status::PosixError(Context(Full(rel), "mkdir"), errno);
    }
    int fd =
        OpenBeneath(pfd, base.c_str(), O_DIRECTORY | O_PATH | O_CLOEXEC, 0);
    if (fd < 0) return BeneathError(Full(rel), "open directory", errno);
    close(fd);
    return Status::OK();
  }

  // For "a/b/c": *parent = descriptor of "a/b" opened beneath (O_PATH) and
  // *base = "c". For "c": *parent stays empty (use fd_) and *base = "c".
  Status OpenParent(const std::string& rel, ScopedFd* parent,
                    std::string* base) const {
    size_t slash = rel.rfind('/');
    if (slash == std::string::npos) {
      *base = rel;
      return Status::OK();
    }
    std::string dir = rel.substr(0, slash);
    *base = rel.substr(slash + 1);
    int fd = OpenBeneath(fd_, dir.c_str(), O_DIRECTORY | O_PATH | O_CLOEXEC, 0);
    if (fd < 0) return BeneathError(Full(dir), "open directory", errno);
    parent->Reset(fd);
    return Status::OK();
  }

  const std::string path_;
  const int fd_;
  const bool syncfs_trusted_;
  std::mutex mu_;
  std::vector<int> lock_fds_;  // guarded by mu_
};

// Opens `path` to read it whole (ReadSmallFile, ReadLargeFile): follows
// symlinks (a manifest may be one) and accepts a pipe, e.g.
// `-m <(zcat m.gz)`; O_NONBLOCK keeps a FIFO without writer from blocking
// the open, and is cleared before reading. A regular file larger than
// max_size is refused before any read. On success *fd is the caller's.
Status OpenWholeFile(const std::string& path, size_t max_size, int* fd,
                     struct stat* st) {
  int f = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (f < 0) return Status::PosixError(Context(path, "open"), errno);
  ScopedFd guard(f);
  if (fstat(f, st) != 0) {
    return Status::PosixError(Context(path, "fstat"), errno);
  }
  if (!S_ISREG(st->st_mode) && !S_ISFIFO(st->st_mode)) {
    return Status::InvalidArgument(
        path, std::string("not a regular file (") +
                  FileTypeName(TypeFromMode(st->st_mode)) + ")");
  }
  if (S_ISREG(st->st_mode) && static_cast<uint64_t>(st->st_size) > max_size) {
    return Status::InvalidArgument(
        path, "larger than " + std::to_string(max_size) + " bytes");
  }
  int fl = fcntl(f, F_GETFL);
  if (fl < 0 || fcntl(f, F_SETFL, fl & ~O_NONBLOCK) != 0) {
    return Status::PosixError(Context(path, "fcntl F_SETFL"), errno);
  }
  *fd = guard.Release();
  return Status::OK();
}

class PosixFileSystem final : public FileSystem {
 public:
  Status Stat(const std::string& path, FileInfo* info) override {
    // lstat: a symlink is reported, never followed.
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) {
      return Status::PosixError(Context(path, "stat"), errno);
    }
    FileInfo fi;
    FillInfo(st, &fi);
    if (fi.type == FileType::kBlockDevice) FillBlockSize(path, st, &fi);
    *info = fi;
    return Status::OK();
  }

  Status ResolvePath(const std::string& path, std::string* resolved) override {
    char* r = realpath(path.c_str(), nullptr);
    if (r == nullptr) {
      return Status::PosixError(Context(path, "realpath"), errno);
    }
    *resolved = r;
    free(r);
    return Status::OK();
  }

  Status ListDir(const std::string& path,
                 std::vector<DirEntry>* entries) override {
    int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status::PosixError(Context(path, "opendir"), errno);
    return ListFd(fd, path, entries);
  }

  // Each name lstat'ed relative to the directory (fstatat): a drive's scan
  // looked up every entry's whole path from the root, a dentry walk per
  // component, for each of its files.
  Status ListDirInfo(const std::string& path,
                     std::vector<DirEntryInfo>* entries) override {
    int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status::PosixError(Context(path, "opendir"), errno);
    const std::string prefix = DirPrefix(path);
    std::vector<DirEntryInfo> out;
    VALISE_RETURN_IF_ERROR(
        ReadDirFd(fd, path, [&](int dir_fd, const char* name, unsigned char) {
          DirEntryInfo e;
          e.name = name;
          struct stat st;
          if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            e.status =
                Status::PosixError(Context(prefix + e.name, "stat"), errno);
          } else {
            FillInfo(st, &e.info);
            if (e.info.type == FileType::kBlockDevice) {
              FillBlockSize(prefix + e.name, st, &e.info);
            }
          }
          out.push_back(std::move(e));
        }));
    *entries = std::move(out);
    return Status::OK();
  }

  Status OpenForRead(const std::string& path, const ReadOptions& opt,
                     std::unique_ptr<File>* result) override {
    result->reset();
    // O_NOFOLLOW: a symlink on a drive is reported, never read through.
    // O_NONBLOCK: opening a FIFO with no writer returns at once instead of
    //   waiting forever; it is refused right after by fstat, and cleared
    //   for regular files.
    // O_NOATIME: reading a source drive must not write to it; allowed only
    //   to the owner or CAP_FOWNER, so dropped on EPERM.
    int base = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
    int extra = O_NOATIME | (opt.direct ? O_DIRECT : 0);
    int fd;
    for (;;) {
      fd = open(path.c_str(), base | extra);
      if (fd >= 0) break;
      int err = errno;
      if (err == EINTR) continue;
      if (err == EPERM && (extra & O_NOATIME)) {
        extra &= ~O_NOATIME;
        continue;
      }
      // EINVAL: the file system does not do O_DIRECT; read it buffered.
      if (err == EINVAL && (extra & O_DIRECT)) {
        extra &= ~O_DIRECT;
        continue;
      }
      if (err == ELOOP) {
        return Status::InvalidArgument(Context(path, "open"),
                                       "is a symbolic link (not followed)");
      }
      return Status::PosixError(Context(path, "open"), err);
    }
    ScopedFd guard(fd);
    bool is_block = false;
    VALISE_RETURN_IF_ERROR(
        CheckReadableAndBlock(fd, base | extra, path, &is_block));
    bool direct = (extra & O_DIRECT) != 0;
    if (!direct && !is_block) {
      // Buffered reads are sequential: ask for the larger readahead.
      posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    *result =
        std::make_unique<PosixFile>(path, guard.Release(), direct, is_block);
    return Status::OK();
  }

  Status OpenDirectory(const std::string& path, bool create,
                       std::unique_ptr<Directory>* result) override {
    result->reset();
    if (path.empty()) return Status::InvalidArgument("DEST", "empty path");
    if (create) {
      // mkdir -p of DEST itself, which the operator named: ordinary path
      // resolution (DEST may be reached through a symlink on purpose).
      // Each directory made is fsync'ed into its parent: an ingest that
      // made DEST must not lose all of it to a power cut after it ends.
      for (size_t i = 1; i <= path.size(); ++i) {
        if (i == path.size() || path[i] == '/') {
          std::string prefix = path.substr(0, i);
          if (mkdir(prefix.c_str(), 0755) == 0) {
            VALISE_RETURN_IF_ERROR(SyncParentOf(prefix));
          } else if (errno != EEXIST) {
            return Status::PosixError(Context(prefix, "mkdir"), errno);
          }
        }
      }
    }
    int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      return Status::PosixError(Context(path, "open directory"), errno);
    }
    std::string p = path;
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    *result = std::make_unique<PosixDirectory>(std::move(p), fd);
    return Status::OK();
  }

  Status ReadSmallFile(const std::string& path, std::string* data,
                       size_t max_size) override {
    int fd = -1;
    struct stat st;
    VALISE_RETURN_IF_ERROR(OpenWholeFile(path, max_size, &fd, &st));
    ScopedFd guard(fd);
    std::string out;
    out.resize(S_ISREG(st.st_mode) ? static_cast<size_t>(st.st_size) + 1
                                   : 65536);
    size_t len = 0;
    for (;;) {
      if (len == out.size()) {
        if (out.size() > max_size) break;
        out.resize(out.size() * 2);
      }
      ssize_t r = read(fd, out.data() + len, out.size() - len);
      if (r < 0) {
        if (errno == EINTR) continue;
        return Status::PosixError(OffsetContext(path, "read", len), errno);
      }
      if (r == 0) break;
      len += static_cast<size_t>(r);
    }
    if (len > max_size) {
      return Status::InvalidArgument(
          path, "larger than " + std::to_string(max_size) + " bytes");
    }
    out.resize(len);
    *data = std::move(out);
    return Status::OK();
  }

  Status ReadLargeFile(const std::string& path, size_t max_size,
                       std::unique_ptr<FileContents>* result) override {
    result->reset();
    int fd = -1;
    struct stat st;
    VALISE_RETURN_IF_ERROR(OpenWholeFile(path, max_size, &fd, &st));
    ScopedFd guard(fd);
    // Regular files are read in their announced size (one byte more shows
    // whether they grew meanwhile); pipes from 1 MiB, doubling.
    auto contents = std::make_unique<FileContents>();
    size_t room = S_ISREG(st.st_mode) ? static_cast<size_t>(st.st_size) + 1
                                      : size_t{1} << 20;
    char* tail = nullptr;
    size_t left = 0;
    for (;;) {
      if (left == 0) {
        const size_t len = contents->data().size();
        if (len > max_size) break;
        if (len > 0) room = len;
        Status s = contents->Reserve(room, &tail);
        if (!s.ok()) return s.WithContext(path);
        left = room;
      }
      // read(2) moves at most 0x7ffff000 bytes a call; the loop goes on.
      ssize_t r = read(fd, tail, left);
      if (r < 0) {
        if (errno == EINTR) continue;
        return Status::PosixError(
            OffsetContext(path, "read", contents->data().size()), errno);
      }
      if (r == 0) break;
      contents->Append(static_cast<size_t>(r));
      tail += r;
      left -= static_cast<size_t>(r);
    }
    if (contents->data().size() > max_size) {
      return Status::InvalidArgument(
          path, "larger than " + std::to_string(max_size) + " bytes");
    }
    *result = std::move(contents);
    return Status::OK();
  }

  Status WriteSmallFile(const std::string& path, const std::string& data,
                        uint32_t mode) override {
    // Temporary name, fsync, rename, directory fsync: AtomicOutput.
    std::unique_ptr<OutputFile> out;
    VALISE_RETURN_IF_ERROR(OpenAtomic(path, mode, &out));
    VALISE_RETURN_IF_ERROR(out->Append(data));
    return out->Close();
  }

  Status CreateOutput(const std::string& path, uint32_t mode,
                      const OutputOptions& opt,
                      std::unique_ptr<OutputFile>* result) override {
    return CreateNamedOutput(path, mode, opt, result);
  }

  std::unique_ptr<IoQueue> NewIoQueue(const IoQueueOptions& opt,
                                      std::string* note) override {
    return IoQueue::Create(opt, note);
  }

  uint64_t NowMicros() override {
    // CLOCK_MONOTONIC: never jumps with wall-clock changes (NTP, operator),
    // so timeouts and rates stay right; vDSO, no system call.
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1'000'000 + uint64_t(ts.tv_nsec) / 1000;
  }
};

}  // namespace

FileSystem* FileSystem::Default() {
  // Never destroyed: Files and Directories may outlive static destruction.
  static FileSystem* fs = new PosixFileSystem();
  return fs;
}

}  // namespace valise
