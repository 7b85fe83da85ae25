// The system calls of valise pack --mkfs (valise/pack_mkfs.h): probing a
// device (stat, /proc/self/mountinfo, sysfs, an exclusive open, libblkid),
// running mkfs.ext4 / mkfs.xfs (posix_spawn, no shell: the label and the
// device are arguments, never parsed), mount(2) and umount2(2).
#include <blkid/blkid.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sched.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "valise/pack_mkfs.h"

extern char** environ;

namespace valise {

namespace {

std::string DevNumber(uint32_t major, uint32_t minor) {
  return std::to_string(major) + ":" + std::to_string(minor);
}

std::vector<std::string> ListNames(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') names.push_back(e->d_name);
  }
  closedir(d);
  return names;
}

std::string ReadLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// mountinfo's octal escapes (\040 for a space) undone.
std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      const std::string oct = s.substr(i + 1, 3);
      if (oct.size() == 3 &&
          oct.find_first_not_of("01234567") == std::string::npos) {
        out += static_cast<char>(std::stoi(oct, nullptr, 8));
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

// Where the device numbers `devs` (MAJ:MIN), or the device at one of
// `paths`, are mounted in this mount namespace, or "".
std::string MountedAt(const std::set<std::string>& devs,
                      const std::set<std::string>& paths) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    // ID PARENT MAJ:MIN ROOT MOUNT-POINT OPTIONS [TAGS...] - TYPE SOURCE ...
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    fields >> id >> parent >> dev >> root >> point;
    std::string field, source;
    while (fields >> field && field != "-") {
    }
    std::string type;
    fields >> type >> source;
    if (devs.count(dev) || paths.count(Unescape(source))) {
      return Unescape(point);
    }
  }
  return "";
}

class SystemMkfs final : public MkfsSystem {
 public:
  explicit SystemMkfs(std::string mount_parent)
      : mount_parent_(std::move(mount_parent)) {}

  void Probe(const std::string& device, MkfsDeviceFacts* out) override {
    *out = MkfsDeviceFacts();
    out->path = device;
    struct stat st;
    if (stat(device.c_str(), &st) != 0) {
      if (errno != ENOENT)
        out->probe_error = std::string("stat: ") + strerror(errno);
      return;
    }
    out->exists = true;
    if (!S_ISBLK(st.st_mode)) return;
    out->block_device = true;
    out->major = major(st.st_rdev);
    out->minor = minor(st.st_rdev);
    // sysfs: its partitions and holders.
    const std::string sys =
        "/sys/dev/block/" + DevNumber(out->major, out->minor);
    std::set<std::string> devs = {DevNumber(out->major, out->minor)};
    for (const std::string& name : ListNames(sys)) {
      const std::string dev = ReadLine(sys + "/" + name + "/dev");
      if (!dev.empty() && !ReadLine(sys + "/" + name + "/partition").empty()) {
        out->partitions.push_back(name);
        devs.insert(dev);
      }
    }
    out->holders = ListNames(sys + "/holders");
    // A partition held by device-mapper or md holds the disk too.
    for (const std::string& part : out->partitions) {
      for (const std::string& h : ListNames(sys + "/" + part + "/holders")) {
        out->holders.push_back(h + " (on " + part + ")");
      }
    }
    // Mounted: by number (whatever name it was mounted under), or by name.
    std::set<std::string> paths = {device};
    char resolved[PATH_MAX];
    if (realpath(device.c_str(), resolved) != nullptr) paths.insert(resolved);
    out->mounted_at = MountedAt(devs, paths);
    // In use anywhere: the kernel refuses an exclusive open of a block
    // device that is mounted (in any namespace) or held.
    int fd = open(device.c_str(), O_RDONLY | O_EXCL | O_CLOEXEC);
    if (fd < 0) {
      if (errno == EBUSY) {
        out->busy = true;
      } else {
        out->probe_error = std::string("open: ") + strerror(errno);
      }
      return;
    }
    uint64_t bytes = 0;
    if (ioctl(fd, BLKGETSIZE64, &bytes) == 0) out->bytes = bytes;
    // Signatures: file systems and other superblocks (LVM, RAID, swap,
    // LUKS), partition tables; read only, no cache.
    blkid_probe pr = blkid_new_probe();
    if (pr == nullptr || blkid_probe_set_device(pr, fd, 0, 0) != 0) {
      out->probe_error = "blkid: cannot probe";
      if (pr) blkid_free_probe(pr);
      close(fd);
      return;
    }
    blkid_probe_enable_superblocks(pr, 1);
    blkid_probe_set_superblocks_flags(
        pr, BLKID_SUBLKS_UUID | BLKID_SUBLKS_LABEL | BLKID_SUBLKS_TYPE);
    blkid_probe_enable_partitions(pr, 1);
    blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC);
    const int rc = blkid_do_safeprobe(pr);
    auto get = [&](const char* tag) {
      const char* data = nullptr;
      return blkid_probe_lookup_value(pr, tag, &data, nullptr) == 0 && data
                 ? std::string(data)
                 : std::string();
    };
    if (rc == 0) {
      out->fs_type = get("TYPE");
      out->fs_uuid = get("UUID");
      out->fs_label = get("LABEL");
      out->partition_table = get("PTTYPE");
    } else if (rc == -2) {
      // Several signatures disagree: something is there.
      out->fs_type = "ambivalent (several signatures)";
    } else if (rc != 1) {
      out->probe_error = "blkid: probe failed";
    }
    blkid_free_probe(pr);
    close(fd);
  }

  Status Format(const std::string& device, const std::string& type,
                const std::string& label, const std::string& uuid,
                bool overwrite) override {
    std::vector<std::string> argv;
    if (type == "ext4") {
      // -m 0: no blocks reserved for root on a drive that only carries a
      // dataset. (mke2fs with no terminal formats over a file system
      // without asking, -F or not: the checks before are what guard.)
      argv = {"mkfs.ext4", "-q", "-m", "0", "-L", label, "-U", uuid};
      if (overwrite) argv.push_back("-F");
    } else if (type == "xfs") {
      // Without -f, mkfs.xfs refuses a device holding a signature.
      argv = {"mkfs.xfs", "-q", "-L", label, "-m", "uuid=" + uuid};
      if (overwrite) argv.push_back("-f");
    } else {
      return Status::InvalidArgument("--mkfs", "unknown type " + type);
    }
    argv.push_back(device);
    return Run(argv, device);
  }

  Status MakeMountRoot(std::string* dir) override {
    std::string tmpl = mount_parent_ + "/valise-pack-mkfs.XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) {
      return Status::PosixError(tmpl + ": mkdtemp", errno);
    }
    *dir = tmpl;
    return Status::OK();
  }

  Status Mount(const std::string& device, const std::string& type,
               const std::string& dir) override {
    if (mkdir(dir.c_str(), 0700) != 0) {
      return Status::PosixError(dir + ": mkdir", errno);
    }
    const unsigned long flags = MS_NODEV | MS_NOSUID | MS_NOEXEC;
    if (mount(device.c_str(), dir.c_str(), type.c_str(), flags, nullptr) != 0) {
      const int err = errno;
      rmdir(dir.c_str());
      return Status::PosixError("mount " + device + " (" + type + ") on " + dir,
                                err);
    }
    return Status::OK();
  }

  Status Unmount(const std::string& dir) override {
    int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
      const int rc = syncfs(fd);
      const int err = errno;
      close(fd);
      if (rc != 0) return Status::PosixError("syncfs " + dir, err);
    }
    // Busy for a moment after the last file closed (a kernel worker still
    // holding it): retried for up to 5 s.
    for (int i = 0;; ++i) {
      if (umount2(dir.c_str(), 0) == 0) break;
      if (errno != EBUSY || i == 25) {
        return Status::PosixError("umount " + dir, errno);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return RemoveDir(dir);
  }

  Status RemoveDir(const std::string& dir) override {
    if (rmdir(dir.c_str()) != 0) {
      return Status::PosixError(dir + ": rmdir", errno);
    }
    return Status::OK();
  }

  std::string NewUuid() override {
    std::random_device rd;
    unsigned char b[16];
    for (unsigned char& c : b) c = static_cast<unsigned char>(rd());
    b[6] = (b[6] & 0x0f) | 0x40;  // version 4
    b[8] = (b[8] & 0x3f) | 0x80;  // RFC 4122 variant
    static const char* hex = "0123456789abcdef";
    std::string s;
    for (int i = 0; i < 16; ++i) {
      if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
      s += hex[b[i] >> 4];
      s += hex[b[i] & 15];
    }
    return s;
  }

 private:
  // Runs argv[0] (from /usr/sbin or /sbin, else $PATH) with stdin
  // /dev/null, its output captured for the error message.
  static Status Run(const std::vector<std::string>& argv,
                    const std::string& device) {
    std::string prog = argv[0];
    for (const char* dir : {"/usr/sbin/", "/sbin/"}) {
      if (access((dir + argv[0]).c_str(), X_OK) == 0) {
        prog = dir + argv[0];
        break;
      }
    }
    const std::string what = argv[0] + " " + device;
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
      return Status::PosixError(what + ": pipe", errno);
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
    std::vector<char*> cargv;
    for (const std::string& a : argv)
      cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    pid_t pid = 0;
    const int rc =
        posix_spawnp(&pid, prog.c_str(), &fa, nullptr, cargv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    if (rc != 0) {
      close(pipefd[0]);
      return Status::PosixError(what + ": running " + prog, rc);
    }
    std::string output;
    char buf[4096];
    for (;;) {
      const ssize_t n = read(pipefd[0], buf, sizeof buf);
      if (n > 0) {
        if (output.size() < 16384) output.append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        break;
      }
    }
    close(pipefd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
      if (errno != EINTR) return Status::PosixError(what + ": waitpid", errno);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::OK();
    while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) {
      output.pop_back();
    }
    for (char& c : output) {
      if (c == '\n') c = ' ';
    }
    const std::string how =
        WIFEXITED(status)
            ? "exit status " + std::to_string(WEXITSTATUS(status))
            : "killed by signal " + std::to_string(WTERMSIG(status));
    return Status::IOError(what, "formatting failed (" + how + ")" +
                                     (output.empty() ? "" : ": " + output));
  }

  const std::string mount_parent_;
};

}  // namespace

std::unique_ptr<MkfsSystem> NewSystemMkfs(std::string mount_parent) {
  return std::make_unique<SystemMkfs>(std::move(mount_parent));
}

Status PrivateMountNamespace() {
  if (unshare(CLONE_NEWNS) != 0) {
    return Status::PosixError("unshare(CLONE_NEWNS) for the drives' mounts",
                              errno);
  }
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return Status::PosixError("mount --make-rprivate /", errno);
  }
  return Status::OK();
}

}  // namespace valise
