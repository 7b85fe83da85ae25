// The I/O layer: every byte valise reads from a drive or writes to DEST goes
// through these interfaces, so that tests can swap in a simulated disk that
// breaks on purpose (src/io/sim_disk.h) and the pipeline cannot tell.
//
//   FileSystem      opens files, lists directories, stats paths.
//   File            one open file or block device: positional reads and
//                   writes, sync; its native descriptor for io_uring.
//   Directory       a DEST directory handle; every path below it is resolved
//                   with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, so nothing
//                   created through it can land outside it.
//   FileContents    a whole file in memory for one pass (a manifest), given
//                   back page by page as it is parsed.
//
// Asynchronous I/O is in io_queue.h: an IoQueue takes requests on Files and
// completes them later; the io_uring queue uses File::native_handle(), the
// synchronous and simulated queues call File::ReadAt/WriteAt.
//
// Contracts common to every method below: on failure *result is left
// untouched (or reset, where it is a unique_ptr), the Status message names
// the path and the operation ("/mnt/a/x: open"), a missing path is
// NotFound, and errno goes through Status::PosixError.
//
// Thread safety: FileSystem and Directory methods may be called from any
// thread. A File's ReadAt/WriteAt may be called concurrently (they are
// positional); Sync, SetTimes, SetMode and Close from one thread at a time.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "valise/status.h"

namespace valise {

class IoQueue;
struct IoQueueOptions;

enum class FileType : uint8_t {
  kRegular,
  kDirectory,
  kSymlink,
  kBlockDevice,
  kCharDevice,
  kFifo,
  kSocket,
  kUnknown,
};

// "file", "directory", "symlink", "block device", ...
const char* FileTypeName(FileType type);

struct FileInfo {
  FileType type = FileType::kUnknown;
  uint64_t size = 0;     // bytes; for a block device, its capacity
  int64_t mtime_ns = 0;  // nanoseconds since the epoch
  uint32_t mode = 0;     // permission bits (07777)
  uint64_t inode = 0;
  uint64_t device = 0;  // st_dev of the file system holding it
  // Status change time: set by the kernel on every change to the file
  // (data, mode, times, links, rename), never settable by a user. The
  // simulated disk gives a change counter instead (see sim_disk.h).
  int64_t ctime_ns = 0;
  uint64_t nlink = 0;       // names (hard links) of the file
  bool rotational = false;  // the backing device spins (sysfs), if known
};

struct DirEntry {
  std::string name;  // raw bytes, never "." or ".."
  FileType type = FileType::kUnknown;
};

// A directory entry with what lstat says of it (FileSystem::ListDirInfo).
struct DirEntryInfo {
  std::string name;  // raw bytes, never "." or ".."
  Status status;     // why it could not be stat'ed (naming its whole path)
  FileInfo info;     // when status is OK
};

// How a file is opened for reading.
struct ReadOptions {
  // Try O_DIRECT (page cache bypassed; needs aligned offsets, lengths and
  // buffers). Falls back to buffered when the file system refuses it;
  // File::is_direct() tells which one was obtained. Default: true.
  bool direct = true;
};

// How a file is created for writing.
struct WriteOptions {
  bool direct = false;   // O_DIRECT where DEST allows it. Default: false.
  uint32_t mode = 0600;  // permission bits at creation. Default: 0600.
  // Fail with an error whose err() is EEXIST if the name exists (O_EXCL).
  // Default: true.
  bool exclusive = true;
  // Without `exclusive`: an existing file is truncated (O_TRUNC); false
  // keeps its bytes, for a write that resumes one cut short. Default: true.
  bool truncate = true;
};

class File {
 public:
  File() = default;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  virtual ~File() = default;

  // The path this file was opened by, for messages.
  virtual const std::string& path() const = 0;

  // Reads up to n bytes at offset into scratch. *bytes_read < n means end
  // of file, or a short read the caller must continue from. With O_DIRECT,
  // offset, n and scratch must be aligned to kDirectAlignment.
  virtual Status ReadAt(uint64_t offset, size_t n, char* scratch,
                        size_t* bytes_read) const = 0;

  // Writes n bytes at offset; a short write is completed internally or
  // reported as an error.
  virtual Status WriteAt(uint64_t offset, const char* data, size_t n) = 0;

  // Size in bytes (for a block device: BLKGETSIZE64).
  virtual Status Size(uint64_t* size) const = 0;

  // fdatasync: data written so far survives power loss once this is OK.
  virtual Status Sync() = 0;
  // Sets the length (ftruncate).
  virtual Status Truncate(uint64_t size) = 0;
  virtual Status SetModeAndTime(uint32_t mode, int64_t mtime_ns) = 0;

  // Byte offset on the underlying device of this file's first data block
  // (FIEMAP), used to read a drive's files in physical order. NotSupported
  // when the file system cannot tell.
  virtual Status PhysicalOffset(uint64_t* offset) const = 0;

  // Makes this file share `src`'s bytes [src_offset, +n) at dst_offset
  // (FICLONERANGE); n == 0 with both offsets 0 clones the whole file
  // (FICLONE). NotSupported where DEST has no reflinks.
  virtual Status CloneFrom(const File& src, uint64_t src_offset,
                           uint64_t dst_offset, uint64_t n) = 0;

  // A hint that bytes [offset, +n) will be read soon: the kernel may start
  // reading them into its cache now (POSIX_FADV_WILLNEED), so that the
  // device works while the caller computes. Nothing is promised and
  // nothing fails: a file without a cache ignores it.
  virtual void WillNeed(uint64_t offset, uint64_t n) const {
    (void)offset;
    (void)n;
  }

  // The kernel descriptor, for io_uring; -1 if this file has none (the
  // simulated disk), in which case queues call ReadAt/WriteAt.
  virtual int native_handle() const { return -1; }
  // Whether the file was opened with O_DIRECT.
  virtual bool is_direct() const { return false; }
  // Reopen without O_DIRECT (for a file system or tail that refuses it).
  virtual Status DropDirect() { return Status::OK(); }
  // A number that names this open file for the whole process and is never
  // reused (unlike a descriptor number), or 0 if the File has none. Queues
  // use it to cache per-file kernel state safely, e.g. the io_uring queue's
  // registered-file slot keyed by descriptor: a closed and reused
  // descriptor shows up with a new serial.
  virtual uint64_t open_serial() const { return 0; }
};

// Alignment that O_DIRECT needs of offsets, lengths and buffers. 4096 covers
// every logical block size valise meets.
inline constexpr size_t kDirectAlignment = 4096;

// One rename of Directory::RenameMany, and what came of it.
struct RenameOp {
  std::string from;
  std::string to;
  Status status;         // out: as Rename would return it
  bool stat_ok = false;  // out: `after` holds the lstat of `to`, renamed
  FileInfo after;
};

// A directory on DEST. Relative paths ("a/b/c") are resolved beneath it,
// never through a symlink, never by "..": openat2(RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS). A path that would escape is InvalidArgument.
class Directory {
 public:
  Directory() = default;
  Directory(const Directory&) = delete;
  Directory& operator=(const Directory&) = delete;
  virtual ~Directory() = default;

  virtual const std::string& path() const = 0;

  // Creates the directories of `rel` (mkdir -p beneath this directory).
  virtual Status CreateDirs(const std::string& rel) = 0;
  // Creates (or with !exclusive, opens and, unless !truncate, truncates) a
  // file for writing.
  virtual Status CreateFile(const std::string& rel, const WriteOptions& opt,
                            std::unique_ptr<File>* result) = 0;
  // Opens an existing file beneath this directory for reading (no O_DIRECT).
  virtual Status OpenFile(const std::string& rel,
                          std::unique_ptr<File>* result) = 0;
  // Opens a file for appending records, creating it if absent.
  virtual Status OpenAppend(const std::string& rel,
                            std::unique_ptr<File>* result) = 0;
  // lstat beneath this directory.
  virtual Status Stat(const std::string& rel, FileInfo* info) = 0;
  // Stat of each of `rels`: (*status)[i] and (*info)[i] as Stat(rels[i])
  // would give them, except that a name in a directory that cannot be
  // opened (absent, or not a directory) is NotFound without a call of its
  // own: an implementation may open each parent directory once for the
  // batch (what ingest asks of a DEST at its start, one name per file).
  // Default: Stat, name by name.
  virtual void StatMany(const std::vector<std::string>& rels,
                        std::vector<Status>* status,
                        std::vector<FileInfo>* info) {
    status->assign(rels.size(), Status::OK());
    info->assign(rels.size(), FileInfo());
    for (size_t i = 0; i < rels.size(); ++i) {
      (*status)[i] = Stat(rels[i], &(*info)[i]);
    }
  }
  // renameat2; with noreplace, an existing `to` is an error with EEXIST.
  virtual Status Rename(const std::string& from, const std::string& to,
                        bool noreplace) = 0;
  // Renames each op's `from` to its `to`, in order, as Rename(from, to,
  // noreplace) would, and lstats each `to` so renamed (one commit group's
  // names, and what the journal records of each): an implementation may
  // open each parent directory once for the batch rather than once per
  // call. Default: Rename, then Stat, op by op.
  virtual void RenameMany(std::vector<RenameOp>* ops, bool noreplace) {
    for (RenameOp& op : *ops) {
      op.status = Rename(op.from, op.to, noreplace);
      op.stat_ok = op.status.ok() && Stat(op.to, &op.after).ok();
    }
  }
  // Hard link `to` to the existing `from`.
  virtual Status Link(const std::string& from, const std::string& to) = 0;
  virtual Status Remove(const std::string& rel) = 0;
  virtual Status List(const std::string& rel,
                      std::vector<DirEntry>* entries) = 0;
  // fsync of the directory `rel` ("" for this one): its entries survive
  // power loss once this is OK.
  virtual Status SyncDir(const std::string& rel) = 0;
  // syncfs(2) of the file system holding this directory: once OK, every
  // file's data and attributes and every directory's entries on it are
  // durable (one flush for many files, where fdatasync is one per file).
  // NotSupported where syncfs is not known to flush everything and report
  // writeback errors (only ext4, xfs and btrfs on Linux >= 5.8 qualify;
  // FUSE may ignore it): the caller then syncs file by file.
  virtual Status SyncFs() = 0;
  // Takes an exclusive advisory lock on `rel` (created if absent), held
  // until this Directory is destroyed; Busy if another process holds it.
  virtual Status Lock(const std::string& rel) = 0;
  // Bytes and inodes free on the file system.
  virtual Status FreeSpace(uint64_t* bytes, uint64_t* inodes) = 0;
};

// A whole file's bytes in memory, read for one pass from front to back
// (FileSystem::ReadLargeFile). A manifest of 10^7 lines is 1.3 GB of text
// and its parsed form another 0.9 GB: a reader that gives back the text it
// has parsed (Release) never holds both. The bytes live in private
// anonymous memory (mmap MAP_PRIVATE|MAP_ANONYMOUS), not in a mapping of
// the file: once read, nothing done to the file (rewritten, truncated, its
// drive pulled) can change them under the reader or fault it with SIGBUS,
// so a signature checked over them holds while they are parsed.
//
// Thread safety: data() may be read from any thread while no thread calls
// Release, Reserve or Append; those from one thread at a time.
class FileContents {
 public:
  FileContents() = default;
  ~FileContents();  // munmap
  FileContents(const FileContents&) = delete;
  FileContents& operator=(const FileContents&) = delete;

  std::string_view data() const { return std::string_view(base_, size_); }
  // Gives the memory of the whole pages before `offset` back to the kernel
  // (madvise MADV_DONTNEED). Those bytes read as zeros afterwards: release
  // only what will not be read again. An offset at or below an earlier one
  // does nothing.
  void Release(size_t offset);
  // Bytes given back so far: [0, released()) reads as zeros. A multiple of
  // the page size, or size().
  size_t released() const {
    return released_pages_ < size_ ? released_pages_ : size_;
  }

  // For FileSystem implementations filling it. Makes room for `n` more
  // bytes after data() (the mapping grows with mremap, and may move) and
  // sets *tail to where they go; Append(k), k <= n, then counts the bytes
  // written there. Errors (ENOMEM) name the operation; the caller adds the
  // path. REQUIRES: nothing released yet.
  Status Reserve(size_t n, char** tail);
  void Append(size_t n) { size_ += n; }

 private:
  char* base_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;        // bytes mapped, a multiple of the page size
  size_t released_pages_ = 0;  // [0, this) given back; page-aligned
};

// How FileSystem::CreateOutput treats what is already at its path.
struct OutputOptions {
  // Replace a regular file already there (the operator said --force).
  // Never anything else: a symlink (/dev/stdout is one), a directory, a
  // device, a FIFO or a socket at the path is refused even so.
  // Default: false (a file already there is refused).
  bool replace = false;
};

// An output the operator named (FileSystem::CreateOutput), written in
// pieces. Its bytes go to a file without a name (or with a temporary one
// beside the path) until Close gives it the path, whole and durable.
// Destroyed without a successful Close, it leaves nothing behind. Messages
// name the path, never a temporary name.
// Thread safety: one thread at a time.
class OutputFile {
 public:
  virtual ~OutputFile() = default;
  virtual Status Append(std::string_view data) = 0;
  virtual Status Close() = 0;
};

class FileSystem {
 public:
  FileSystem() = default;
  FileSystem(const FileSystem&) = delete;
  FileSystem& operator=(const FileSystem&) = delete;
  virtual ~FileSystem() = default;

  // The real one: POSIX calls on this machine's kernel. Never null; lives
  // for the whole process.
  static FileSystem* Default();

  // lstat: a symlink is reported as kSymlink, never followed.
  virtual Status Stat(const std::string& path, FileInfo* info) = 0;
  // realpath(3): `path` with every symlink in it followed (the last
  // component too), made absolute, without "." or ".." components. For a
  // name the operator gave (a SRC such as /dev/disk/by-id/..., a key),
  // never for a name found inside a drive. NotFound if it leads nowhere;
  // ELOOP past 40 links. The default says NotSupported.
  virtual Status ResolvePath(const std::string& path, std::string* resolved);
  // Entries of a directory, unsorted, without "." and "..". Types come from
  // d_type, or lstat where d_type is DT_UNKNOWN.
  virtual Status ListDir(const std::string& path,
                         std::vector<DirEntry>* entries) = 0;
  // Entries of a directory, unsorted, without "." and "..", each with its
  // Stat (a symlink reported, never followed): what a scan of a drive needs
  // of every entry. The default lists with ListDir and Stats `path`/name;
  // the POSIX file system stats each name relative to the directory it
  // opened (one lookup instead of the whole path's again).
  virtual Status ListDirInfo(const std::string& path,
                             std::vector<DirEntryInfo>* entries);
  // Opens a regular file or block device for reading. Never follows a
  // symlink in the last component (O_NOFOLLOW) and never opens a FIFO,
  // socket or character device (InvalidArgument), so nothing can block.
  virtual Status OpenForRead(const std::string& path, const ReadOptions& opt,
                             std::unique_ptr<File>* result) = 0;
  // Opens an existing directory (created if `create`) as a DEST handle.
  virtual Status OpenDirectory(const std::string& path, bool create,
                               std::unique_ptr<Directory>* result) = 0;
  // Whole small files (manifests, keys, signatures); at most max_size bytes,
  // more is InvalidArgument.
  virtual Status ReadSmallFile(const std::string& path, std::string* data,
                               size_t max_size = size_t{1} << 30) = 0;
  // A whole file of at most max_size bytes (more is InvalidArgument), read
  // into memory that can be given back part by part as it is parsed: for
  // manifests, which may run to gigabytes. Opens as ReadSmallFile does
  // (follows symlinks, accepts a pipe). The default reads through
  // ReadSmallFile and copies (the simulated disk: its read faults apply).
  virtual Status ReadLargeFile(const std::string& path, size_t max_size,
                               std::unique_ptr<FileContents>* result);
  // Writes a whole file atomically: temporary name, fsync, rename.
  virtual Status WriteSmallFile(const std::string& path,
                                const std::string& data, uint32_t mode) = 0;
  // Creates an output the operator named (--report FILE, -o FILE), to be
  // written in pieces and named at OutputFile::Close. Refused at once, so
  // a long run never ends unable to write it: a directory of the path
  // missing (NotFound, "its directory ... does not exist") or not
  // writable; something other than a regular file at the path (a symlink
  // is never followed, a FIFO or device never written through:
  // InvalidArgument); a regular file there without opt.replace
  // (InvalidArgument, "exists"). Close never replaces what appeared at the
  // path meanwhile unless opt.replace, and never a non-regular file. The
  // default checks with Stat and writes with WriteSmallFile at Close (the
  // simulated disk).
  virtual Status CreateOutput(const std::string& path, uint32_t mode,
                              const OutputOptions& opt,
                              std::unique_ptr<OutputFile>* result);

  // The queue that runs asynchronous I/O on this file system's Files: the
  // real one gives io_uring (or the synchronous fallback, see
  // IoQueue::Create), the simulated disk its own. *note says which.
  virtual std::unique_ptr<IoQueue> NewIoQueue(const IoQueueOptions& opt,
                                              std::string* note) = 0;

  // Monotonic clock, microseconds; the simulated disk may run its own.
  virtual uint64_t NowMicros() = 0;
};

}  // namespace valise
