// Mounting a shipped drive for valise watch (valise/watch.h): read-only,
// noexec, nodev, nosuid, and never a journal replay (a replay writes to
// the drive, whatever MS_RDONLY says of the mount): ext3/ext4 and xfs
// "norecovery", btrfs "rescue=nologreplay". Other file system types are
// mounted with the flags alone.
//
// The mount point is a directory of its own under the mount root (mode
// 0700): made here, removed when the drive is unmounted. An empty
// directory left there (by a watch that was killed) is reused; anything
// else in the way is refused, naming it.
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "valise/watch.h"

namespace valise {

namespace {

const char* NoReplayOption(const std::string& fs_type) {
  if (fs_type == "ext3" || fs_type == "ext4" || fs_type == "xfs") {
    return "norecovery";
  }
  if (fs_type == "btrfs") return "rescue=nologreplay";
  return nullptr;
}

Status MakeMountPoint(const std::string& dir) {
  if (mkdir(dir.c_str(), 0700) == 0) return Status::OK();
  if (errno != EEXIST) return Status::PosixError(dir + ": mkdir", errno);
  // An empty directory (a killed watch's) goes; a mount point or a
  // directory with files does not (rmdir fails: EBUSY, ENOTEMPTY).
  if (rmdir(dir.c_str()) != 0) {
    return Status::PosixError(
        dir + ": in the way (not an empty directory, or in use)", errno);
  }
  if (mkdir(dir.c_str(), 0700) != 0) {
    return Status::PosixError(dir + ": mkdir", errno);
  }
  return Status::OK();
}

class SystemMounter final : public Mounter {
 public:
  Status Mount(const std::string& device, const std::string& fs_type,
               const std::string& dir) override {
    VALISE_RETURN_IF_ERROR(MakeMountPoint(dir));
    const unsigned long flags = MS_RDONLY | MS_NOEXEC | MS_NODEV | MS_NOSUID;
    const char* data = NoReplayOption(fs_type);
    if (mount(device.c_str(), dir.c_str(), fs_type.c_str(), flags, data) != 0) {
      const int err = errno;
      rmdir(dir.c_str());
      return Status::PosixError("mount " + device + " (" + fs_type + ", ro" +
                                    (data ? std::string(",") + data : "") +
                                    ") on " + dir,
                                err);
    }
    return Status::OK();
  }

  Status Unmount(const std::string& dir) override {
    // Busy for a moment after the last file closed (a kernel worker
    // still holding it): retried for up to 5 s.
    for (int i = 0;; ++i) {
      if (umount2(dir.c_str(), 0) == 0) break;
      if (errno != EBUSY || i == 25) {
        return Status::PosixError("umount " + dir, errno);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (rmdir(dir.c_str()) != 0) {
      return Status::PosixError(dir + ": rmdir after unmounting", errno);
    }
    return Status::OK();
  }
};

}  // namespace

std::unique_ptr<Mounter> NewSystemMounter() {
  return std::make_unique<SystemMounter>();
}

}  // namespace valise
