// Tests of the real FileSystem (src/io/posix_file_system.cc) on this
// machine's kernel: /var/tmp is ext4 on a disk, /dev/shm is tmpfs, and the
// root-only tests mount a ramfs (no O_DIRECT) or a btrfs image (reflinks).

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "io/posix_internal.h"
#include "support/test_util.h"
#include "valise/file_system.h"
#include "valise/io_queue.h"

namespace valise {
namespace {

namespace fs = std::filesystem;
using test::RandomBytes;
using test::TempDir;

FileSystem* Fs() { return FileSystem::Default(); }

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

// A TempDir under a chosen base (TempDir honours $TMPDIR).
class TempDirIn {
 public:
  explicit TempDirIn(const char* base) {
    const char* old = getenv("TMPDIR");
    std::string saved = old ? old : "";
    setenv("TMPDIR", base, 1);
    dir_ = std::make_unique<TempDir>();
    if (old) {
      setenv("TMPDIR", saved.c_str(), 1);
    } else {
      unsetenv("TMPDIR");
    }
  }
  const std::string& path() const { return dir_->path(); }
  void Write(const std::string& rel, const std::string& data) const {
    dir_->Write(rel, data);
  }

 private:
  std::unique_ptr<TempDir> dir_;
};

// A file system mounted on a fresh directory, unmounted (lazily if busy)
// and removed on destruction.
class ScopedMount {
 public:
  ScopedMount(const std::string& dir, const std::string& mount_cmd)
      : dir_(dir) {
    mkdir(dir_.c_str(), 0755);
    mounted_ = system(mount_cmd.c_str()) == 0;
  }
  ~ScopedMount() {
    if (mounted_ && umount(dir_.c_str()) != 0)
      umount2(dir_.c_str(), MNT_DETACH);
    rmdir(dir_.c_str());
  }
  bool ok() const { return mounted_; }

 private:
  std::string dir_;
  bool mounted_ = false;
};

// --- Stat, ListDir ---------------------------------------------------------

TEST(PosixFileSystem, StatReportsFileAndNeverFollowsSymlinks) {
  // Goal: Stat is lstat: size, mode, mtime of a file; a symlink is kSymlink
  // with its own size, not its target's.
  TempDir dir;
  dir.Write("f", RandomBytes(12345, 1));
  std::string f = dir.path() + "/f";
  ASSERT_EQ(chmod(f.c_str(), 0640), 0);
  struct timespec times[2] = {{0, UTIME_OMIT}, {1'700'000'000, 123456789}};
  ASSERT_EQ(utimensat(AT_FDCWD, f.c_str(), times, 0), 0);
  ASSERT_EQ(symlink("f", (dir.path() + "/link").c_str()), 0);

  FileInfo info;
  ASSERT_VALISE_OK(Fs()->Stat(f, &info));
  EXPECT_EQ(info.type, FileType::kRegular);
  EXPECT_EQ(info.size, 12345u);
  EXPECT_EQ(info.mode, 0640u);
  EXPECT_EQ(info.mtime_ns, 1'700'000'000'123'456'789);
  EXPECT_NE(info.inode, 0u);

  FileInfo link;
  ASSERT_VALISE_OK(Fs()->Stat(dir.path() + "/link", &link));
  EXPECT_EQ(link.type, FileType::kSymlink);
  EXPECT_EQ(link.size, 1u);  // the length of "f"
  EXPECT_NE(link.inode, info.inode);
}

TEST(PosixFileSystem, ResolvePathFollowsEveryLink) {
  // Goal (issue 12, item 11): ResolvePath is realpath(3): relative and
  // chained links are followed to an absolute path; a dangling link is
  // NotFound naming the path given.
  TempDir dir;
  dir.Write("d/f", "x");
  ASSERT_EQ(symlink("d", (dir.path() + "/l1").c_str()), 0);
  ASSERT_EQ(symlink(dir.path().c_str(), (dir.path() + "/d/up").c_str()), 0);
  ASSERT_EQ(symlink("l1/up/l1/f", (dir.path() + "/l2").c_str()), 0);
  ASSERT_EQ(symlink("nowhere", (dir.path() + "/dangling").c_str()), 0);
  char* real = realpath(dir.path().c_str(), nullptr);
  ASSERT_NE(real, nullptr);
  const std::string base = real;
  free(real);
  std::string r;
  ASSERT_VALISE_OK(Fs()->ResolvePath(dir.path() + "/l1", &r));
  EXPECT_EQ(r, base + "/d");
  ASSERT_VALISE_OK(Fs()->ResolvePath(dir.path() + "/l2", &r));
  EXPECT_EQ(r, base + "/d/f");
  Status s = Fs()->ResolvePath(dir.path() + "/dangling", &r);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_NE(s.message().find(dir.path() + "/dangling"), std::string::npos);
}

TEST(PosixFileSystem, StatMissingIsNotFound) {
  // Goal: a missing path is NotFound, and the message names it.
  TempDir dir;
  FileInfo info;
  Status s = Fs()->Stat(dir.path() + "/nope", &info);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_NE(s.message().find(dir.path() + "/nope"), std::string::npos);
}

TEST(PosixFileSystem, RotationalOfRegularFileIsItsDisk) {
  // Goal: a file on /var/tmp reports the rotational flag of the disk that
  // holds it (read here from sysfs by hand); a file on tmpfs reports false.
  TempDirIn disk("/var/tmp");
  disk.Write("f", "x");
  struct stat st;
  ASSERT_EQ(stat((disk.path() + "/f").c_str(), &st), 0);
  std::string attr =
      Slurp("/sys/dev/block/" + std::to_string(major(st.st_dev)) + ":" +
            std::to_string(minor(st.st_dev)) + "/queue/rotational");
  ASSERT_FALSE(attr.empty()) << "no sysfs entry for /var/tmp's device";
  FileInfo info;
  ASSERT_VALISE_OK(Fs()->Stat(disk.path() + "/f", &info));
  EXPECT_EQ(info.rotational, attr[0] == '1');

  TempDirIn shm("/dev/shm");
  shm.Write("f", "x");
  ASSERT_VALISE_OK(Fs()->Stat(shm.path() + "/f", &info));
  EXPECT_FALSE(info.rotational);
}

TEST(PosixFileSystem, RotationalOfPartitionWalksUpToItsDisk) {
  // Goal: a partition has no queue/ of its own; its flag is its disk's,
  // found through the sysfs symlink. Checked on a fake sysfs tree (this
  // kernel does not scan partitions of loop devices), both values.
  TempDir root;
  fs::create_directories(root.path() + "/devices/sda/sda1");
  fs::create_directories(root.path() + "/devices/sda/queue");
  fs::create_directories(root.path() + "/devices/nvme0n1/queue");
  fs::create_directories(root.path() + "/dev/block");
  fs::create_directory_symlink("../../devices/sda/sda1",
                               root.path() + "/dev/block/8:1");
  fs::create_directory_symlink("../../devices/sda",
                               root.path() + "/dev/block/8:0");
  fs::create_directory_symlink("../../devices/nvme0n1",
                               root.path() + "/dev/block/259:0");
  root.Write("devices/sda/queue/rotational", "1\n");
  root.Write("devices/nvme0n1/queue/rotational", "0\n");
  EXPECT_TRUE(io_internal::RotationalFromSysfs(root.path(), 8, 0));
  EXPECT_TRUE(io_internal::RotationalFromSysfs(root.path(), 8, 1));
  EXPECT_FALSE(io_internal::RotationalFromSysfs(root.path(), 259, 0));
  root.Write("devices/sda/queue/rotational", "0\n");
  EXPECT_FALSE(io_internal::RotationalFromSysfs(root.path(), 8, 1));
  EXPECT_FALSE(io_internal::RotationalFromSysfs(root.path(), 9, 9));
  EXPECT_FALSE(io_internal::RotationalFromSysfs(root.path(), 0, 42));
}

// A loop device over a file, detached on destruction.
class LoopDevice {
 public:
  explicit LoopDevice(const std::string& image) {
    std::string cmd = "losetup -f --show " + image;
    FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr) return;
    char buf[64] = {0};
    if (fgets(buf, sizeof(buf), p) != nullptr) {
      dev_ = buf;
      while (!dev_.empty() && dev_.back() == '\n') dev_.pop_back();
    }
    pclose(p);
  }
  ~LoopDevice() {
    if (!dev_.empty()) {
      std::string cmd = "losetup -d " + dev_;
      if (system(cmd.c_str()) != 0)
        fprintf(stderr, "cannot detach %s\n", dev_.c_str());
    }
  }
  const std::string& dev() const { return dev_; }

 private:
  std::string dev_;
};

TEST(PosixFileSystem, StatBlockDeviceSizeAndRotational) {
  // Goal: a block device is kBlockDevice, its size is its capacity
  // (BLKGETSIZE64, not st_size 0), and `rotational` is what sysfs says
  // (flipped here first and back, so a constant answer cannot pass).
  if (geteuid() != 0) GTEST_SKIP() << "needs root for losetup";
  TempDirIn disk("/var/tmp");
  std::string image = disk.path() + "/img";
  { std::ofstream(image).close(); }
  ASSERT_EQ(truncate(image.c_str(), 3 << 20), 0);
  LoopDevice loop(image);
  ASSERT_FALSE(loop.dev().empty()) << "losetup failed";
  std::string rot = "/sys/block/" + fs::path(loop.dev()).filename().string() +
                    "/queue/rotational";
  std::string saved = Slurp(rot);
  ASSERT_FALSE(saved.empty());
  bool want = saved[0] != '1';
  {
    std::ofstream out(rot);
    out << (want ? "1" : "0");
  }
  ASSERT_EQ(Slurp(rot)[0] == '1', want) << "cannot flip " << rot;

  FileInfo info;
  ASSERT_VALISE_OK(Fs()->Stat(loop.dev(), &info));
  {
    std::ofstream out(rot);
    out << saved;
  }
  EXPECT_EQ(info.type, FileType::kBlockDevice);
  EXPECT_EQ(info.size, uint64_t{3} << 20);
  EXPECT_EQ(info.rotational, want);
  ASSERT_VALISE_OK(Fs()->Stat(loop.dev(), &info));  // restored above
  EXPECT_EQ(info.rotational, !want);

  std::unique_ptr<File> f;
  ASSERT_VALISE_OK(Fs()->OpenForRead(loop.dev(), ReadOptions(), &f));
  uint64_t size = 0;
  ASSERT_VALISE_OK(f->Size(&size));
  EXPECT_EQ(size, uint64_t{3} << 20);
  EXPECT_TRUE(f->is_direct());
  uint64_t phys = 1;
  ASSERT_VALISE_OK(f->PhysicalOffset(&phys));
  EXPECT_EQ(phys, 0u);
}

// In `dir`: "file", a directory "sub", a symlink "link" to file, a FIFO
// "fifo".
void MakeOneOfEachType(const TempDir& dir) {
  dir.Write("file", "hello");
  fs::create_directory(dir.path() + "/sub");
  ASSERT_EQ(symlink("file", (dir.path() + "/link").c_str()), 0);
  ASSERT_EQ(mkfifo((dir.path() + "/fifo").c_str(), 0600), 0);
}

TEST(PosixFileSystem, ListDirGivesTypesWithoutDots) {
  // Goal: ListDir returns every entry once with its type (file, directory,
  // symlink, fifo), and never "." or "..".
  TempDir dir;
  ASSERT_NO_FATAL_FAILURE(MakeOneOfEachType(dir));
  std::vector<DirEntry> entries;
  ASSERT_VALISE_OK(Fs()->ListDir(dir.path(), &entries));
  std::map<std::string, FileType> got;
  for (const DirEntry& e : entries) got[e.name] = e.type;
  EXPECT_EQ(got.size(), 4u);
  EXPECT_EQ(got["file"], FileType::kRegular);
  EXPECT_EQ(got["sub"], FileType::kDirectory);
  EXPECT_EQ(got["link"], FileType::kSymlink);
  EXPECT_EQ(got["fifo"], FileType::kFifo);

  Status s = Fs()->ListDir(dir.path() + "/missing", &entries);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
}

TEST(PosixFileSystem, ListDirInfoStatsEachEntryAsStatDoes) {
  // Goal: ListDirInfo gives every entry once, never "." or "..", each with
  // what Stat of its whole path says (a symlink reported, not followed),
  // through a path given with or without a trailing slash; a missing
  // directory is NotFound.
  TempDir dir;
  ASSERT_NO_FATAL_FAILURE(MakeOneOfEachType(dir));
  for (const std::string& path : {dir.path(), dir.path() + "/"}) {
    SCOPED_TRACE(path);
    std::vector<DirEntryInfo> entries;
    ASSERT_VALISE_OK(Fs()->ListDirInfo(path, &entries));
    ASSERT_EQ(entries.size(), 4u);
    std::set<std::string> names;
    for (const DirEntryInfo& e : entries) {
      names.insert(e.name);
      ASSERT_VALISE_OK(e.status);
      FileInfo want;
      ASSERT_VALISE_OK(Fs()->Stat(dir.path() + "/" + e.name, &want));
      EXPECT_EQ(e.info.type, want.type) << e.name;
      EXPECT_EQ(e.info.size, want.size) << e.name;
      EXPECT_EQ(e.info.mtime_ns, want.mtime_ns) << e.name;
      EXPECT_EQ(e.info.mode, want.mode) << e.name;
      EXPECT_EQ(e.info.inode, want.inode) << e.name;
      EXPECT_EQ(e.info.ctime_ns, want.ctime_ns) << e.name;
    }
    EXPECT_EQ(names, (std::set<std::string>{"file", "sub", "link", "fifo"}));
  }
  std::vector<DirEntryInfo> entries;
  Status s = Fs()->ListDirInfo(dir.path() + "/missing", &entries);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
}

// --- OpenForRead -------------------------------------------------------------

// Runs `open_fn` (which opens `fifo` for reading) on another thread. If it
// has not returned after 5 s it is stuck in open(): *blocked is set, and
// writers are opened on the FIFO until it returns, so a regression fails
// the test instead of hanging it.
template <typename Fn>
Status WithoutHanging(const std::string& fifo, bool* blocked, Fn open_fn) {
  auto fut = std::async(std::launch::async, open_fn);
  *blocked = fut.wait_for(std::chrono::seconds(5)) != std::future_status::ready;
  while (fut.wait_for(std::chrono::milliseconds(10)) !=
         std::future_status::ready) {
    int w = open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    if (w >= 0) close(w);
  }
  return fut.get();
}

TEST(PosixFileSystem, OpenFifoFailsAtOnceWithoutWriter) {
  // Goal: opening a FIFO that has no writer returns InvalidArgument
  // "(fifo)" at once instead of blocking forever. The open runs on another
  // thread so a regression fails the test instead of hanging it.
  TempDir dir;
  std::string fifo = dir.path() + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  bool blocked = false;
  Status s = WithoutHanging(fifo, &blocked, [&] {
    std::unique_ptr<File> f;
    return Fs()->OpenForRead(fifo, ReadOptions(), &f);
  });
  ASSERT_FALSE(blocked) << "OpenForRead blocked on a FIFO";
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("not a regular file or block device (fifo)"),
            std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find(fifo), std::string::npos);
}

TEST(PosixFileSystem, OpenRefusesSymlinkAndDirectory) {
  // Goal: OpenForRead never reads through a symlink (O_NOFOLLOW) and
  // refuses a directory, both with messages naming the path.
  TempDir dir;
  dir.Write("target", "secret");
  ASSERT_EQ(symlink("target", (dir.path() + "/link").c_str()), 0);
  std::unique_ptr<File> f;
  Status s = Fs()->OpenForRead(dir.path() + "/link", ReadOptions(), &f);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(f, nullptr);
  EXPECT_NE(s.message().find(dir.path() + "/link"), std::string::npos);
  s = Fs()->OpenForRead(dir.path(), ReadOptions(), &f);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("(directory)"), std::string::npos);
  s = Fs()->OpenForRead(dir.path() + "/missing", ReadOptions(), &f);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
}

TEST(PosixFileSystem, DirectReadOnDiskAndDropDirect) {
  // Goal: on ext4 (/var/tmp) O_DIRECT is obtained; aligned reads return the
  // file's bytes; the tail comes back short at EOF; DropDirect clears
  // O_DIRECT on the descriptor itself.
  TempDirIn disk("/var/tmp");
  std::string data = RandomBytes(3 * 4096 + 100, 7);
  disk.Write("f", data);
  std::unique_ptr<File> f;
  ASSERT_VALISE_OK(Fs()->OpenForRead(disk.path() + "/f", ReadOptions(), &f));
  EXPECT_TRUE(f->is_direct());
  EXPECT_TRUE(fcntl(f->native_handle(), F_GETFL) & O_DIRECT);
  EXPECT_FALSE(fcntl(f->native_handle(), F_GETFL) & O_NONBLOCK);
  EXPECT_EQ(f->path(), disk.path() + "/f");
  void* mem = nullptr;
  ASSERT_EQ(posix_memalign(&mem, 4096, 4 * 4096), 0);
  std::unique_ptr<char, decltype(&free)> buf(static_cast<char*>(mem), &free);
  size_t n = 0;
  ASSERT_VALISE_OK(f->ReadAt(0, 4 * 4096, buf.get(), &n));
  ASSERT_EQ(n, data.size());  // short: end of file
  EXPECT_EQ(std::string(buf.get(), n), data);
  ASSERT_VALISE_OK(f->ReadAt(4096, 4096, buf.get(), &n));
  EXPECT_EQ(std::string(buf.get(), n), data.substr(4096, 4096));
  // Unaligned under O_DIRECT: the kernel says EINVAL, named with offset.
  Status s = f->ReadAt(100, 4096, buf.get(), &n);
  EXPECT_EQ(s.err(), EINVAL) << s.ToString();
  EXPECT_NE(s.message().find(": read at 100: "), std::string::npos)
      << s.message();

  ASSERT_VALISE_OK(f->DropDirect());
  EXPECT_FALSE(f->is_direct());
  EXPECT_FALSE(fcntl(f->native_handle(), F_GETFL) & O_DIRECT);
  ASSERT_VALISE_OK(f->ReadAt(100, 50, buf.get(), &n));
  EXPECT_EQ(std::string(buf.get(), n), data.substr(100, 50));
  ReadOptions buffered;
  buffered.direct = false;
  ASSERT_VALISE_OK(Fs()->OpenForRead(disk.path() + "/f", buffered, &f));
  EXPECT_FALSE(f->is_direct());
}

TEST(PosixFileSystem, DirectFallsBackWhereRefused) {
  // Goal: where the file system refuses O_DIRECT (ramfs; procfs) the open
  // falls back to buffered, is_direct() is false and reads work. (tmpfs,
  // /dev/shm, accepts O_DIRECT since Linux 6.6, so it cannot show this.)
  std::unique_ptr<File> f;
  ASSERT_VALISE_OK(Fs()->OpenForRead("/proc/self/status", ReadOptions(), &f));
  EXPECT_FALSE(f->is_direct());
  char buf[64];
  size_t n = 0;
  ASSERT_VALISE_OK(f->ReadAt(0, 5, buf, &n));
  EXPECT_EQ(std::string(buf, n), "Name:");

  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a ramfs";
  TempDir dir;
  std::string mnt = dir.path() + "/ramfs";
  ScopedMount m(mnt, "mount -t ramfs none " + mnt);
  ASSERT_TRUE(m.ok()) << "mount ramfs failed";
  std::string data = RandomBytes(10000, 3);
  {
    std::ofstream out(mnt + "/f", std::ios::binary);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
  }
  ASSERT_VALISE_OK(Fs()->OpenForRead(mnt + "/f", ReadOptions(), &f));
  EXPECT_FALSE(f->is_direct());
  std::string got(data.size(), '\0');
  ASSERT_VALISE_OK(f->ReadAt(0, got.size(), got.data(), &n));
  EXPECT_EQ(n, data.size());
  EXPECT_EQ(got, data);

  // CreateFile with direct on ramfs: created once, buffered.
  std::unique_ptr<Directory> d;
  ASSERT_VALISE_OK(Fs()->OpenDirectory(mnt, false, &d));
  WriteOptions wo;
  wo.direct = true;
  std::unique_ptr<File> w;
  ASSERT_VALISE_OK(d->CreateFile("new", wo, &w));
  EXPECT_FALSE(w->is_direct());
  ASSERT_VALISE_OK(w->WriteAt(0, "abc", 3));
  w.reset();
  f.reset();
  d.reset();
  EXPECT_EQ(Slurp(mnt + "/new"), "abc");
}

TEST(PosixFileSystem, SyncFsTrustedOnLocalJournalingFileSystemsOnly) {
  // Goal: SyncFs runs syncfs(2) on ext4 (/var/tmp here) and is
  // NotSupported on tmpfs (/dev/shm), where ingest must then sync file by
  // file; the answer names the directory.
  TempDirIn shm("/dev/shm");
  std::unique_ptr<Directory> d;
  ASSERT_VALISE_OK(Fs()->OpenDirectory(shm.path(), false, &d));
  Status s = d->SyncFs();
  EXPECT_TRUE(s.IsNotSupported()) << s.ToString();
  EXPECT_NE(s.ToString().find(shm.path()), std::string::npos) << s.ToString();

  TempDirIn disk("/var/tmp");
  struct statfs sf;
  ASSERT_EQ(statfs(disk.path().c_str(), &sf), 0);
  if (sf.f_type != EXT4_SUPER_MAGIC) {
    GTEST_SKIP() << "/var/tmp is not ext4 here";
  }
  ASSERT_VALISE_OK(Fs()->OpenDirectory(disk.path(), false, &d));
  std::unique_ptr<File> w;
  ASSERT_VALISE_OK(d->CreateFile("f", WriteOptions(), &w));
  ASSERT_VALISE_OK(w->WriteAt(0, "abc", 3));
  ASSERT_VALISE_OK(d->SyncFs());
}

// Goal: SetModeAndTime leaves the file with the mode asked for whatever
// it was created with: the same mode (no fchmod needed, unless the umask
// took bits from it), another one, set-id and sticky bits; and the time.
TEST(PosixFileSystem, ModeSetWhateverTheModeAtCreation) {
  TempDirIn disk("/var/tmp");
  std::unique_ptr<Directory> d;
  ASSERT_VALISE_OK(Fs()->OpenDirectory(disk.path(), false, &d));
  struct Case {
    uint32_t created, wanted;
  };
  int n = 0;
  for (const Case& c :
       {Case{0644, 0644}, Case{0755, 0755}, Case{0600, 0600}, Case{0666, 0666},
        Case{0777, 0777}, Case{0600, 0644}, Case{0644, 0600}, Case{0640, 0444},
        Case{0755, 04755}, Case{0755, 02755}, Case{0755, 01777}}) {
    const std::string name = "m" + std::to_string(n++);
    WriteOptions wo;
    wo.mode = c.created;
    std::unique_ptr<File> f;
    ASSERT_VALISE_OK(d->CreateFile(name, wo, &f));
    ASSERT_VALISE_OK(f->WriteAt(0, "x", 1));
    ASSERT_VALISE_OK(f->SetModeAndTime(c.wanted, 7'000'000'123));
    struct stat st;
    ASSERT_EQ(stat((disk.path() + "/" + name).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, c.wanted)
        << std::oct << c.created << " -> " << c.wanted;
    EXPECT_EQ(st.st_mtim.tv_sec, 7);
    EXPECT_EQ(st.st_mtim.tv_nsec, 123);
  }
}

TEST(PosixFileSystem, FileWriteSizeSyncTruncateModeTime) {
  // Goal: the write side of File: WriteAt at offsets, Size, Sync,
  // Truncate, SetModeAndTime (including a time before 1970), seen by stat.
  TempDirIn disk("/var/tmp");
  std::unique_ptr<Directory> d;
  ASSERT_VALISE_OK(Fs()->OpenDirectory(disk.path(), false, &d));
  std::unique_ptr<File> f;
  ASSERT_VALISE_OK(d->CreateFile("w", WriteOptions(), &f));
  EXPECT_FALSE(f->is_direct());
  std::string a = RandomBytes(5000, 1);
  ASSERT_VALISE_OK(f->WriteAt(0, a.data(), a.size()));
  ASSERT_VALISE_OK(f->WriteAt(10000, "tail", 4));
  uint64_t size = 0;
  ASSERT_VALISE_OK(f->Size(&size));
  EXPECT_EQ(size, 10004u);
  ASSERT_VALISE_OK(f->Sync());
  ASSERT_VALISE_OK(f->Truncate(5000));
  ASSERT_VALISE_OK(f->SetModeAndTime(0604, -1'500'000'000));  // 1969
  std::string p = disk.path() + "/w";
  struct stat st;
  ASSERT_EQ(stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 5000);
  EXPECT_EQ(st.st_mode & 07777, 0604u);
  EXPECT_EQ(st.st_mtim.tv_sec, -2);
  EXPECT_EQ(st.st_mtim.tv_nsec, 500'000'000);
  EXPECT_EQ(Slurp(p), a);

  // O_EXCL by default: a second create fails with EEXIST.
  std::unique_ptr<File> again;
  Status s = d->CreateFile("w", WriteOptions(), &again);
  EXPECT_EQ(s.err(), EEXIST) << s.ToString();
  // Without O_EXCL and O_TRUNC (a resumed write): the bytes stay.
  WriteOptions keep;
  keep.exclusive = false;
  keep.truncate = false;
  ASSERT_VALISE_OK(d->CreateFile("w", keep, &again));
  ASSERT_VALISE_OK(again->Size(&size));
  EXPECT_EQ(size, 5000u);
  ASSERT_VALISE_OK(again->WriteAt(4999, "Z", 1));
  EXPECT_EQ(Slurp(p), a.substr(0, 4999) + "Z");
  WriteOptions trunc;
  trunc.exclusive = false;
  ASSERT_VALISE_OK(d->CreateFile("w", trunc, &again));
  ASSERT_VALISE_OK(again->Size(&size));
  EXPECT_EQ(size, 0u);

  WriteOptions direct;
  direct.direct = true;
  ASSERT_VALISE_OK(d->CreateFile("direct", direct, &again));
  EXPECT_TRUE(again->is_direct());
}

TEST(PosixFileSystem, PhysicalOffsetFromFiemap) {
  // Goal: on ext4 two files written and synced have distinct, non-zero
  // physical offsets; on tmpfs (no FIEMAP) the answer is NotSupported.
  TempDirIn disk("/var/tmp");
  std::unique_ptr<Directory> d;
  ASSERT_VALISE_OK(Fs()->OpenDirectory(disk.path(), false, &d));
  uint64_t off[2];
  for (int i = 0; i < 2; ++i) {
    std::unique_ptr<File> f;
    ASSERT_VALISE_OK(
        d->CreateFile("f" + std::to_string(i), WriteOptions(), &f));
    std::string data = RandomBytes(65536, i);
    ASSERT_VALISE_OK(f->WriteAt(0, data.data(), data.size()));
    ASSERT_VALISE_OK(f->Sync());  // allocate: no delayed-allocation extent
    ASSERT_VALISE_OK(f->PhysicalOffset(&off[i]));
    EXPECT_NE(off[i], 0u);
  }
  EXPECT_NE(off[0], off[1]);

  TempDirIn shm("/dev/shm");
  shm.Write("f", "data");
  std::unique_ptr<File> f;
  ASSERT_VALISE_OK(Fs()->OpenForRead(shm.path() + "/f", ReadOptions(), &f));
  uint64_t o = 0;
  Status s = f->PhysicalOffset(&o);
  EXPECT_TRUE(s.IsNotSupported()) << s.ToString();
}

TEST(PosixFileSystem, CloneIsNotSupportedOnExt4) {
  // Goal: FICLONE on ext4 (no reflinks) is NotSupported, so the caller can
  // copy instead.
  TempDirIn disk("/var/tmp");
  disk.Write("src", RandomBytes(8192, 1));
  std::unique_ptr<Directory> d;
  ASSERT_VALISE_OK(Fs()->OpenDirectory(disk.path(), false, &d));
  std::unique_ptr<File> src, dst;
  ASSERT_VALISE_OK(d->OpenFile("src", &src));
  ASSERT_VALISE_OK(d->CreateFile("dst", WriteOptions(), &dst));
  Status s = dst->CloneFrom(*src, 0, 0, 0);
  EXPECT_TRUE(s.IsNotSupported()) << s.ToString();
  s = dst->CloneFrom(*src, 0, 0, 4096);
  EXPECT_TRUE(s.IsNotSupported()) << s.ToString();
}

TEST(PosixFileSystem, CloneSharesExtentsOnBtrfs) {
  // Goal: on a reflink file system (btrfs on a loop image) FICLONE and
  // FICLONERANGE succeed, the bytes match, and the clone shares the
  // source's physical extent.
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a btrfs image";
  TempDirIn shm("/dev/shm");
  std::string image = shm.path() + "/btrfs.img";
  std::string mnt = shm.path() + "/mnt";
  ASSERT_EQ(system(("truncate -s 160M " + image + " && mkfs.btrfs -q " + image +
                    " >/dev/null 2>&1")
                       .c_str()),
            0);
  ScopedMount m(mnt, "mount -o loop " + image + " " + mnt);
  ASSERT_TRUE(m.ok()) << "mount btrfs failed";
  std::unique_ptr<Directory> d;
  ASSERT_VALISE_OK(Fs()->OpenDirectory(mnt, false, &d));
  std::string data = RandomBytes(1 << 20, 9);
  std::unique_ptr<File> src, whole, part;
  ASSERT_VALISE_OK(d->CreateFile("src", WriteOptions(), &src));
  ASSERT_VALISE_OK(src->WriteAt(0, data.data(), data.size()));
  ASSERT_VALISE_OK(src->Sync());
  ASSERT_VALISE_OK(d->CreateFile("whole", WriteOptions(), &whole));
  ASSERT_VALISE_OK(whole->CloneFrom(*src, 0, 0, 0));
  ASSERT_VALISE_OK(d->CreateFile("part", WriteOptions(), &part));
  ASSERT_VALISE_OK(part->CloneFrom(*src, 65536, 0, 131072));
  ASSERT_VALISE_OK(whole->Sync());
  ASSERT_VALISE_OK(part->Sync());
  uint64_t src_phys = 0, whole_phys = 1;
  ASSERT_VALISE_OK(src->PhysicalOffset(&src_phys));
  ASSERT_VALISE_OK(whole->PhysicalOffset(&whole_phys));
  EXPECT_EQ(src_phys, whole_phys);
  src.reset();
  whole.reset();
  part.reset();
  d.reset();
  EXPECT_EQ(Slurp(mnt + "/whole"), data);
  EXPECT_EQ(Slurp(mnt + "/part"), data.substr(65536, 131072));
}

// --- Directory ---------------------------------------------------------------

struct DestFixture {
  TempDir root;  // holds dest/ and outside/
  std::string dest, outside;
  std::unique_ptr<Directory> dir;
  DestFixture() {
    dest = root.path() + "/dest";
    outside = root.path() + "/outside";
    fs::create_directories(dest);
    fs::create_directories(outside);
  }
};

TEST(PosixDirectory, SymlinkToOutsideIsNeverFollowed) {
  // Goal: symlinks planted in DEST (a directory link to outside, a dangling
  // link to an outside file name, a link as a middle component) are never
  // followed by CreateFile, CreateDirs, Rename, Link, OpenAppend or Lock:
  // each fails, and nothing appears outside.
  DestFixture t;
  ASSERT_EQ(symlink(t.outside.c_str(), (t.dest + "/out").c_str()), 0);
  ASSERT_EQ(
      symlink((t.outside + "/planted").c_str(), (t.dest + "/dangling").c_str()),
      0);
  fs::create_directories(t.dest + "/real");
  ASSERT_VALISE_OK(Fs()->OpenDirectory(t.dest, false, &t.dir));
  std::unique_ptr<File> f;
  Status s = t.dir->CreateFile("out/x", WriteOptions(), &f);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find(t.dest + "/out/x"), std::string::npos);
  WriteOptions no_excl;
  no_excl.exclusive = false;
  s = t.dir->CreateFile("dangling", no_excl, &f);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  s = t.dir->CreateDirs("out/sub/deeper");
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  s = t.dir->CreateDirs("real/../out/sub");
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  // The last component a link, its parent there (CreateDirs' one-call
  // path): refused too; and a file there is not a directory.
  ASSERT_EQ(symlink(t.outside.c_str(), (t.dest + "/real/last").c_str()), 0);
  s = t.dir->CreateDirs("real/last");
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  s = t.dir->CreateDirs("real/last/sub");
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  ASSERT_VALISE_OK(t.dir->CreateFile("real/a", WriteOptions(), &f));
  EXPECT_FALSE(t.dir->CreateDirs("real/a").ok());
  s = t.dir->Rename("real/a", "out/a", true);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  s = t.dir->Rename("real/a", "out/a", false);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  s = t.dir->Link("real/a", "out/b");
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  s = t.dir->OpenAppend("out/journal", &f);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  s = t.dir->Lock("out/lock");
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  s = t.dir->Remove("out/anything");
  EXPECT_FALSE(s.ok());
  std::vector<DirEntry> entries;
  s = t.dir->List("out", &entries);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();

  EXPECT_TRUE(fs::is_empty(t.outside)) << "something was created outside";
  EXPECT_FALSE(Exists(t.outside + "/planted"));
  // The links themselves are untouched, and renaming onto a link replaces
  // the link (never writes through it).
  EXPECT_TRUE(fs::is_symlink(t.dest + "/out"));
  ASSERT_VALISE_OK(t.dir->Rename("real/a", "dangling", false));
  EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(t.dest + "/dangling")));
  EXPECT_FALSE(Exists(t.outside + "/planted"));
}

TEST(PosixDirectory, DotDotAndAbsolutePathsRejected) {
  // Goal: "..", ".", empty components and absolute paths are
  // InvalidArgument before anything is touched.
  DestFixture t;
  ASSERT_VALISE_OK(Fs()->OpenDirectory(t.dest, false, &t.dir));
  std::unique_ptr<File> f;
  for (const char* rel :
       {"../x", "a/../../x", "a/..", "/etc/passwd", "a//b", "./x", "a/", ""}) {
    Status s = t.dir->CreateFile(rel, WriteOptions(), &f);
    EXPECT_TRUE(s.IsInvalidArgument()) << rel << ": " << s.ToString();
    s = t.dir->Rename("x", rel, true);
    EXPECT_TRUE(s.IsInvalidArgument()) << rel << ": " << s.ToString();
  }
  EXPECT_TRUE(t.dir->CreateDirs("../escape").IsInvalidArgument());
  EXPECT_TRUE(t.dir->CreateDirs("a/../../escape").IsInvalidArgument());
  EXPECT_FALSE(Exists(t.root.path() + "/escape"));
  EXPECT_FALSE(Exists(t.root.path() + "/x"));
  EXPECT_TRUE(fs::is_empty(t.dest));
}

// Goal: CreateDirs makes a directory whose parent is there (one call for
// the parent, one mkdir), one at DEST's top, and one whose parents are
// not there yet; each again is no error.
TEST(PosixDirectory, CreateDirsWithOrWithoutItsParents) {
  DestFixture t;
  ASSERT_VALISE_OK(Fs()->OpenDirectory(t.dest, false, &t.dir));
  for (const char* rel : {"top", "top/sub", "x/y/z", "x/y/z2", "x/y2"}) {
    ASSERT_VALISE_OK(t.dir->CreateDirs(rel));
    ASSERT_VALISE_OK(t.dir->CreateDirs(rel));
    EXPECT_TRUE(fs::is_directory(t.dest + "/" + rel)) << rel;
  }
}

TEST(PosixDirectory, CreateDirsFilesListStatLinkRemove) {
  // Goal: the ordinary DEST operations work beneath the handle: mkdir -p
  // (idempotent), create, stat, list, hard link, remove of a file and of a
  // directory, directory sync, free space.
  DestFixture t;
  ASSERT_VALISE_OK(Fs()->OpenDirectory(t.dest + "/new/deep", true, &t.dir));
  EXPECT_EQ(t.dir->path(), t.dest + "/new/deep");
  ASSERT_VALISE_OK(t.dir->CreateDirs("a/b/c"));
  ASSERT_VALISE_OK(t.dir->CreateDirs("a/b/c"));
  std::unique_ptr<File> f;
  ASSERT_VALISE_OK(t.dir->CreateFile("a/b/c/file", WriteOptions(), &f));
  ASSERT_VALISE_OK(f->WriteAt(0, "hello", 5));
  f.reset();
  FileInfo info;
  ASSERT_VALISE_OK(t.dir->Stat("a/b/c/file", &info));
  EXPECT_EQ(info.type, FileType::kRegular);
  EXPECT_EQ(info.size, 5u);
  EXPECT_EQ(info.mode, 0600u);
  ASSERT_VALISE_OK(t.dir->Stat("", &info));
  EXPECT_EQ(info.type, FileType::kDirectory);
  Status s = t.dir->Stat("a/missing", &info);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();

  ASSERT_VALISE_OK(t.dir->Link("a/b/c/file", "a/hard"));
  FileInfo hard;
  ASSERT_VALISE_OK(t.dir->Stat("a/hard", &hard));
  ASSERT_VALISE_OK(t.dir->Stat("a/b/c/file", &info));
  EXPECT_EQ(hard.inode, info.inode);

  std::vector<DirEntry> entries;
  ASSERT_VALISE_OK(t.dir->List("a", &entries));
  std::map<std::string, FileType> got;
  for (const DirEntry& e : entries) got[e.name] = e.type;
  EXPECT_EQ(got.size(), 2u);
  EXPECT_EQ(got["b"], FileType::kDirectory);
  EXPECT_EQ(got["hard"], FileType::kRegular);
  ASSERT_VALISE_OK(t.dir->List("", &entries));
  EXPECT_EQ(entries.size(), 1u);

  ASSERT_VALISE_OK(t.dir->SyncDir(""));
  ASSERT_VALISE_OK(t.dir->SyncDir("a/b"));
  ASSERT_VALISE_OK(t.dir->Remove("a/b/c/file"));
  ASSERT_VALISE_OK(t.dir->Remove("a/b/c"));
  EXPECT_FALSE(Exists(t.dest + "/new/deep/a/b/c"));
  s = t.dir->Remove("a/b/c");
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  uint64_t bytes = 0, inodes = 0;
  ASSERT_VALISE_OK(t.dir->FreeSpace(&bytes, &inodes));
  EXPECT_GT(bytes, 0u);
  EXPECT_GT(inodes, 0u);

  // A file where a directory is wanted.
  s = t.dir->CreateDirs("a/hard/sub");
  EXPECT_FALSE(s.ok());
}

TEST(PosixDirectory, RenameNoReplaceFailsWithEexist) {
  // Goal: Rename with noreplace never overwrites: EEXIST, both files keep
  // their bytes; without noreplace the target is replaced.
  DestFixture t;
  ASSERT_VALISE_OK(Fs()->OpenDirectory(t.dest, false, &t.dir));
  t.root.Write("dest/from", "new");
  t.root.Write("dest/sub/to", "old");
  Status s = t.dir->Rename("from", "sub/to", true);
  EXPECT_EQ(s.err(), EEXIST) << s.ToString();
  EXPECT_NE(s.message().find(t.dest + "/from"), std::string::npos);
  EXPECT_EQ(Slurp(t.dest + "/from"), "new");
  EXPECT_EQ(Slurp(t.dest + "/sub/to"), "old");
  ASSERT_VALISE_OK(t.dir->Rename("from", "sub/fresh", true));
  EXPECT_EQ(Slurp(t.dest + "/sub/fresh"), "new");
  EXPECT_FALSE(Exists(t.dest + "/from"));
  ASSERT_VALISE_OK(t.dir->Rename("sub/fresh", "sub/to", false));
  EXPECT_EQ(Slurp(t.dest + "/sub/to"), "new");
}

TEST(PosixDirectory, RenameManyAsRenameWouldEachParentOpenedOnce) {
  // Goal: a batch of renames gives each name what Rename would (done,
  // EEXIST without replacing, a symbolic link or an absent directory
  // refused, a bad path refused) and, for each name made, the lstat of the
  // new name, whatever the others did.
  DestFixture t;
  ASSERT_EQ(symlink(t.outside.c_str(), (t.dest + "/out").c_str()), 0);
  for (const char* n : {"a", "b", "c", "d", "e", "f"}) {
    t.root.Write(std::string("dest/s/") + n, n);
  }
  t.root.Write("dest/x/taken", "old");
  ASSERT_VALISE_OK(Fs()->OpenDirectory(t.dest, false, &t.dir));
  std::vector<RenameOp> ops(7);
  const char* moves[][2] = {{"s/a", "x/a"},   {"s/b", "x/taken"},
                            {"s/c", "out/c"}, {"s/d", "missing/d"},
                            {"s/e", "e"},     {"s/f", "x/f"},
                            {"s/a", "../esc"}};
  for (size_t i = 0; i < ops.size(); ++i) {
    ops[i].from = moves[i][0];
    ops[i].to = moves[i][1];
  }
  t.dir->RenameMany(&ops, true);
  for (size_t i : {0, 4, 5}) {
    ASSERT_VALISE_OK(ops[i].status);
    ASSERT_TRUE(ops[i].stat_ok) << i;
    struct stat st;
    ASSERT_EQ(lstat((t.dest + "/" + ops[i].to).c_str(), &st), 0);
    EXPECT_EQ(ops[i].after.inode, st.st_ino) << i;
    EXPECT_EQ(ops[i].after.type, FileType::kRegular);
    EXPECT_EQ(ops[i].after.size, 1u);
  }
  EXPECT_EQ(Slurp(t.dest + "/x/a"), "a");
  EXPECT_EQ(Slurp(t.dest + "/x/f"), "f");
  EXPECT_EQ(ops[1].status.err(), EEXIST) << ops[1].status.ToString();
  EXPECT_EQ(Slurp(t.dest + "/x/taken"), "old");
  EXPECT_EQ(Slurp(t.dest + "/s/b"), "b");
  EXPECT_TRUE(ops[2].status.IsInvalidArgument()) << ops[2].status.ToString();
  EXPECT_TRUE(ops[3].status.IsNotFound()) << ops[3].status.ToString();
  EXPECT_TRUE(ops[6].status.IsInvalidArgument()) << ops[6].status.ToString();
  for (size_t i : {1, 2, 3, 6}) EXPECT_FALSE(ops[i].stat_ok) << i;
  EXPECT_TRUE(fs::is_empty(t.outside));
}

TEST(PosixDirectory, StatManyAsStatWould) {
  // Goal: a batch of lstats gives each name what Stat would: found, absent
  // (in a present directory or an absent one), refused through a symbolic
  // link or for a bad path.
  DestFixture t;
  ASSERT_EQ(symlink(t.outside.c_str(), (t.dest + "/out").c_str()), 0);
  t.root.Write("outside/o", "o");
  t.root.Write("dest/d/one", "1");
  t.root.Write("dest/d/two", "22");
  t.root.Write("dest/top", "333");
  ASSERT_VALISE_OK(Fs()->OpenDirectory(t.dest, false, &t.dir));
  const std::vector<std::string> names = {"d/one", "d/none", "gone/a", "gone/b",
                                          "top",   "out/o",  "d/two",  "a//b"};
  std::vector<Status> status;
  std::vector<FileInfo> info;
  t.dir->StatMany(names, &status, &info);
  ASSERT_EQ(status.size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    FileInfo want;
    Status s = t.dir->Stat(names[i], &want);
    EXPECT_EQ(status[i].ok(), s.ok()) << names[i] << ": " << s.ToString();
    EXPECT_EQ(status[i].code(), s.code()) << names[i];
    if (s.ok()) {
      EXPECT_EQ(info[i].inode, want.inode) << names[i];
      EXPECT_EQ(info[i].size, want.size) << names[i];
    }
  }
  EXPECT_TRUE(status[0].ok() && status[4].ok() && status[6].ok());
  EXPECT_TRUE(status[2].IsNotFound()) << status[2].ToString();
  EXPECT_TRUE(status[5].IsInvalidArgument()) << status[5].ToString();
}

TEST(PosixDirectory, LockIsExclusiveUntilDestruction) {
  // Goal: a second Lock on the same file, through another Directory in this
  // process, is Busy naming the holder's pid; once the first Directory is
  // destroyed the lock can be taken.
  DestFixture t;
  std::unique_ptr<Directory> first, second;
  ASSERT_VALISE_OK(Fs()->OpenDirectory(t.dest, false, &first));
  ASSERT_VALISE_OK(Fs()->OpenDirectory(t.dest, false, &second));
  ASSERT_VALISE_OK(first->CreateDirs(".valise"));
  ASSERT_VALISE_OK(first->Lock(".valise/lock"));
  EXPECT_EQ(Slurp(t.dest + "/.valise/lock"), std::to_string(getpid()) + "\n");
  Status s = second->Lock(".valise/lock");
  EXPECT_TRUE(s.IsBusy()) << s.ToString();
  EXPECT_NE(s.message().find("DEST is locked by another valise (pid " +
                             std::to_string(getpid()) + ")"),
            std::string::npos)
      << s.message();
  // Even the same Directory cannot take it twice (a new open file).
  EXPECT_TRUE(first->Lock(".valise/lock").IsBusy());
  first.reset();
  ASSERT_VALISE_OK(second->Lock(".valise/lock"));
}

TEST(PosixDirectory, OpenAppendAppendsAndOpenFileRefusesFifo) {
  // Goal: OpenAppend creates then appends whatever offset is given, and can
  // read back; OpenFile reads a file and refuses a FIFO without blocking;
  // CreateFile refuses to reuse a FIFO's name.
  DestFixture t;
  ASSERT_VALISE_OK(Fs()->OpenDirectory(t.dest, false, &t.dir));
  std::unique_ptr<File> j;
  ASSERT_VALISE_OK(t.dir->OpenAppend("journal", &j));
  ASSERT_VALISE_OK(j->WriteAt(0, "one\n", 4));
  j.reset();
  ASSERT_VALISE_OK(t.dir->OpenAppend("journal", &j));
  ASSERT_VALISE_OK(j->WriteAt(0, "two\n", 4));
  char buf[16];
  size_t n = 0;
  ASSERT_VALISE_OK(j->ReadAt(0, sizeof(buf), buf, &n));
  EXPECT_EQ(std::string(buf, n), "one\ntwo\n");

  std::unique_ptr<File> r;
  ASSERT_VALISE_OK(t.dir->OpenFile("journal", &r));
  EXPECT_FALSE(r->is_direct());
  ASSERT_VALISE_OK(r->ReadAt(4, 4, buf, &n));
  EXPECT_EQ(std::string(buf, n), "two\n");
  ASSERT_EQ(mkfifo((t.dest + "/fifo").c_str(), 0600), 0);
  bool blocked = false;
  Status fifo_status = WithoutHanging(t.dest + "/fifo", &blocked, [&] {
    std::unique_ptr<File> f;
    return t.dir->OpenFile("fifo", &f);
  });
  ASSERT_FALSE(blocked) << "OpenFile blocked on a FIFO";
  EXPECT_TRUE(fifo_status.IsInvalidArgument()) << fifo_status.ToString();
  // Nor will CreateFile without O_EXCL open the FIFO for writing.
  WriteOptions no_excl;
  no_excl.exclusive = false;
  Status s = t.dir->CreateFile("fifo", no_excl, &r);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("(fifo)"), std::string::npos);
}

// --- Small files, clock, queue ----------------------------------------------

TEST(PosixFileSystem, SmallFilesRoundTripAtomically) {
  // Goal: WriteSmallFile replaces a file with exactly the new bytes and
  // mode, leaving no temporary behind; ReadSmallFile reads it back and
  // refuses a file larger than max_size.
  TempDir dir;
  std::string p = dir.path() + "/m";
  dir.Write("m", "old contents");
  std::string data = RandomBytes(100000, 4);
  ASSERT_VALISE_OK(Fs()->WriteSmallFile(p, data, 0640));
  struct stat st;
  ASSERT_EQ(stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  std::vector<DirEntry> entries;
  ASSERT_VALISE_OK(Fs()->ListDir(dir.path(), &entries));
  EXPECT_EQ(entries.size(), 1u);
  std::string got;
  ASSERT_VALISE_OK(Fs()->ReadSmallFile(p, &got));
  EXPECT_EQ(got, data);
  Status s = Fs()->ReadSmallFile(p, &got, 1000);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  s = Fs()->ReadSmallFile(dir.path() + "/missing", &got);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  s = Fs()->WriteSmallFile(dir.path() + "/no/such/dir/m", "x", 0600);
  EXPECT_FALSE(s.ok());
  ASSERT_VALISE_OK(Fs()->WriteSmallFile(p, "", 0600));
  ASSERT_VALISE_OK(Fs()->ReadSmallFile(p, &got));
  EXPECT_EQ(got, "");
}

TEST(PosixFileSystem, OutputFileStreamsAndNamesOnlyAtClose) {
  // Goal: CreateOutput takes an output in pieces: nothing is under the
  // name (nor any temporary name beside it) until Close, which puts every
  // piece there with the mode asked; dropped without Close, it leaves
  // nothing behind. With replace, a regular file there is replaced at
  // Close, and stays whole until then.
  TempDir dir;
  const std::string p = dir.path() + "/r.json";
  std::unique_ptr<OutputFile> out;
  ASSERT_VALISE_OK(Fs()->CreateOutput(p, 0640, OutputOptions{}, &out));
  std::string all;
  for (int i = 0; i < 50; ++i) {
    const std::string piece = RandomBytes(30000 + i, 100 + i);
    ASSERT_VALISE_OK(out->Append(piece));
    all += piece;
  }
  std::vector<DirEntry> entries;
  ASSERT_VALISE_OK(Fs()->ListDir(dir.path(), &entries));
  EXPECT_TRUE(entries.empty()) << entries[0].name << " before Close";
  ASSERT_VALISE_OK(out->Close());
  out.reset();
  std::string got;
  ASSERT_VALISE_OK(Fs()->ReadSmallFile(p, &got));
  EXPECT_EQ(got, all);
  struct stat st;
  ASSERT_EQ(stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);

  OutputOptions replace;
  replace.replace = true;
  ASSERT_VALISE_OK(Fs()->CreateOutput(p, 0640, replace, &out));
  ASSERT_VALISE_OK(out->Append("never closed"));
  out.reset();
  ASSERT_VALISE_OK(Fs()->ReadSmallFile(p, &got));
  EXPECT_EQ(got, all);
  ASSERT_VALISE_OK(Fs()->ListDir(dir.path(), &entries));
  EXPECT_EQ(entries.size(), 1u) << "a temporary was left behind";

  ASSERT_VALISE_OK(Fs()->CreateOutput(p, 0600, replace, &out));
  ASSERT_VALISE_OK(out->Append("new"));
  ASSERT_VALISE_OK(Fs()->ReadSmallFile(p, &got));
  EXPECT_EQ(got, all);  // whole until Close
  ASSERT_VALISE_OK(out->Close());
  ASSERT_VALISE_OK(Fs()->ReadSmallFile(p, &got));
  EXPECT_EQ(got, "new");
  ASSERT_VALISE_OK(Fs()->ListDir(dir.path(), &entries));
  EXPECT_EQ(entries.size(), 1u) << "a temporary was left behind";
}

TEST(PosixFileSystem, OutputNeverReplacesWhatItMustNot) {
  // Goal (issue 12, items 2 and 9): an output is refused at creation,
  // naming the path the caller gave (never a temporary name), when its
  // directory is missing, when a regular file is there and replace was
  // not asked, and always for a symlink (never followed: /dev/stdout is
  // one), a FIFO, a device or a directory; a file or symlink that appears
  // at the path while the output is written is not replaced at Close.
  TempDir dir;
  std::unique_ptr<OutputFile> out;
  OutputOptions replace;
  replace.replace = true;
  const std::string missing = dir.path() + "/nodir/r.json";
  Status s = Fs()->CreateOutput(missing, 0644, replace, &out);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_EQ(s.message(), missing + ": cannot be created: '" + dir.path() +
                             "/nodir' does not exist");
  dir.Write("file", "x");
  s = Fs()->CreateOutput(dir.path() + "/file/r.json", 0644, replace, &out);
  EXPECT_NE(s.message().find("is not a directory"), std::string::npos)
      << s.ToString();

  const std::string existing = dir.path() + "/existing";
  dir.Write("existing", "keep");
  s = Fs()->CreateOutput(existing, 0644, OutputOptions{}, &out);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_EQ(s.message(), existing + ": exists; not replaced");

  const std::string link = dir.path() + "/link";
  ASSERT_EQ(symlink("existing", link.c_str()), 0);
  const std::string fifo = dir.path() + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::string stdout_link = dir.path() + "/stdout";
  ASSERT_EQ(symlink("/proc/self/fd/1", stdout_link.c_str()), 0);
  for (const std::string& p :
       {link, fifo, stdout_link, dir.path(), std::string("/dev/null")}) {
    s = Fs()->CreateOutput(p, 0644, replace, &out);
    EXPECT_TRUE(s.IsInvalidArgument()) << p << ": " << s.ToString();
    EXPECT_EQ(s.message().rfind(p + ": ", 0), 0u) << s.ToString();
  }
  struct stat st;
  ASSERT_EQ(lstat(link.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  ASSERT_EQ(lstat(stdout_link.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  ASSERT_EQ(lstat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  std::string got;
  ASSERT_VALISE_OK(Fs()->ReadSmallFile(existing, &got));
  EXPECT_EQ(got, "keep");

  // Appearing meanwhile: a file (no replace) and a symlink (replace).
  const std::string late = dir.path() + "/late";
  ASSERT_VALISE_OK(Fs()->CreateOutput(late, 0644, OutputOptions{}, &out));
  ASSERT_VALISE_OK(out->Append("ours"));
  dir.Write("late", "theirs");
  s = out->Close();
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_EQ(s.message().rfind(late + ": exists", 0), 0u) << s.ToString();
  ASSERT_VALISE_OK(Fs()->ReadSmallFile(late, &got));
  EXPECT_EQ(got, "theirs");
  const std::string late_link = dir.path() + "/late-link";
  ASSERT_VALISE_OK(Fs()->CreateOutput(late_link, 0644, replace, &out));
  ASSERT_VALISE_OK(out->Append("ours"));
  ASSERT_EQ(symlink("existing", late_link.c_str()), 0);
  s = out->Close();
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  ASSERT_EQ(lstat(late_link.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  out.reset();
  std::vector<DirEntry> entries;
  ASSERT_VALISE_OK(Fs()->ListDir(dir.path(), &entries));
  for (const DirEntry& e : entries) {
    EXPECT_EQ(e.name.find(".tmp-"), std::string::npos) << e.name;
  }
}

// Resident memory of this process, in bytes (/proc/self/statm).
size_t ResidentBytes() {
  std::ifstream in("/proc/self/statm");
  size_t total = 0, resident = 0;
  in >> total >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

TEST(PosixFileSystem, LargeFileReadWholeThenGivenBack) {
  // Goal: ReadLargeFile reads a file whole (through a symlink too), refuses
  // one over max_size and a missing one; Release gives the pages before
  // an offset back to the kernel at once (resident memory drops; those
  // bytes read as zeros) and leaves the rest intact.
  TempDir dir;
  constexpr size_t kSize = (48 << 20) + 123;
  const std::string data = RandomBytes(kSize, 9);
  dir.Write("m", data);
  ASSERT_EQ(symlink("m", (dir.path() + "/link").c_str()), 0);
  std::unique_ptr<FileContents> c;
  ASSERT_VALISE_OK(Fs()->ReadLargeFile(dir.path() + "/link", kSize, &c));
  ASSERT_EQ(c->data().size(), kSize);
  EXPECT_TRUE(c->data() == data);
  EXPECT_EQ(c->released(), 0u);

  const size_t before = ResidentBytes();
  c->Release(kSize / 2 + 7);
  const size_t after = ResidentBytes();
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  EXPECT_EQ(c->released(), (kSize / 2 + 7) / page * page);
  EXPECT_GE(before - std::min(before, after), size_t{20} << 20)
      << before << " -> " << after;
  EXPECT_EQ(c->data()[0], '\0');
  EXPECT_EQ(c->data()[c->released() - 1], '\0');
  EXPECT_TRUE(c->data().substr(c->released()) ==
              std::string_view(data).substr(c->released()));
  c->Release(100);  // behind what was given back: nothing
  EXPECT_EQ(c->released(), (kSize / 2 + 7) / page * page);
  c->Release(kSize);
  EXPECT_EQ(c->released(), kSize);

  Status s = Fs()->ReadLargeFile(dir.path() + "/m", kSize - 1, &c);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_EQ(c, nullptr);
  s = Fs()->ReadLargeFile(dir.path() + "/none", kSize, &c);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  dir.Write("empty", "");
  ASSERT_VALISE_OK(Fs()->ReadLargeFile(dir.path() + "/empty", kSize, &c));
  EXPECT_TRUE(c->data().empty());
  c->Release(0);
  EXPECT_EQ(c->released(), 0u);
}

TEST(PosixFileSystem, LargeFileFromAPipe) {
  // Goal: ReadLargeFile reads a pipe (`-m <(zcat m.gz)`) to its end,
  // growing its memory as the bytes come (3 MiB, past the first 1 MiB),
  // and refuses a pipe that brings more than max_size.
  for (size_t max : {size_t{8} << 20, size_t{2} << 20}) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const std::string data = RandomBytes((3 << 20) + 5, 10);
    std::thread writer([&] {
      size_t done = 0;
      while (done < data.size()) {
        ssize_t n = write(fds[1], data.data() + done, data.size() - done);
        if (n <= 0) break;  // EPIPE once the reader gave up
        done += static_cast<size_t>(n);
      }
      close(fds[1]);
    });
    std::unique_ptr<FileContents> c;
    Status s =
        Fs()->ReadLargeFile("/proc/self/fd/" + std::to_string(fds[0]), max, &c);
    close(fds[0]);
    writer.join();
    if (max > data.size()) {
      ASSERT_VALISE_OK(s);
      EXPECT_TRUE(c->data() == data);
    } else {
      EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
    }
  }
}

TEST(PosixFileSystem, NowMicrosIsMonotonic) {
  // Goal: NowMicros advances with real time (a 20 ms sleep shows as at least
  // 20000 us and less than 10 s).
  uint64_t a = Fs()->NowMicros();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  uint64_t b = Fs()->NowMicros();
  EXPECT_GE(b - a, 20000u);
  EXPECT_LT(b - a, 10'000'000u);
}

TEST(PosixFileSystem, NewIoQueueSaysWhatItIs) {
  // Goal: the default file system gives an io_uring queue here (kernel
  // 6.18) and the synchronous one when asked not to use io_uring.
  std::string note;
  IoQueueOptions opt;
  auto q = Fs()->NewIoQueue(opt, &note);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(note.rfind("io_uring:", 0), 0u) << note;
  opt.use_uring = false;
  q = Fs()->NewIoQueue(opt, &note);
  EXPECT_EQ(note.rfind("sync:", 0), 0u) << note;
  EXPECT_EQ(q->Describe().rfind("sync", 0), 0u);
}

TEST(FileTypeName, NamesEveryType) {
  // Goal: every FileType has the name used in messages.
  EXPECT_STREQ(FileTypeName(FileType::kRegular), "file");
  EXPECT_STREQ(FileTypeName(FileType::kDirectory), "directory");
  EXPECT_STREQ(FileTypeName(FileType::kSymlink), "symlink");
  EXPECT_STREQ(FileTypeName(FileType::kBlockDevice), "block device");
  EXPECT_STREQ(FileTypeName(FileType::kCharDevice), "character device");
  EXPECT_STREQ(FileTypeName(FileType::kFifo), "fifo");
  EXPECT_STREQ(FileTypeName(FileType::kSocket), "socket");
  EXPECT_STREQ(FileTypeName(FileType::kUnknown), "unknown");
}

}  // namespace
}  // namespace valise
