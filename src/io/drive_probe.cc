// What identifies a drive (valise/drives.h): the device behind a SRC, its
// serial, WWN and model from sysfs, its file system's UUID, label and type
// from the superblock (libblkid).
//
// How the device is found:
//   - a block device SRC (/dev/sdc, /dev/disk/by-id/... followed): its
//     kernel name is the last component of what it resolves to;
//   - a directory SRC: only the root of a file system is a whole drive
//     (its st_dev differs from its parent's, or it is "/"); its st_dev
//     MAJ:MIN names sys_root/dev/block/MAJ:MIN, a link whose last
//     component is the kernel name. File systems on no block device
//     (tmpfs, btrfs subvolumes: major 0) have no identity here;
//   - an image file is never a whole drive.
// sysfs then gives sys_root/class/block/NAME/size (512-byte sectors) and,
// for a partition (a "partition" attribute), its disk one directory up;
// the disk's device/serial, device/wwid or wwid, device/model. Values are
// trimmed of blanks. The superblock is read by libblkid on dev_root/NAME
// (read only, no cache: /dev/disk/by-uuid may not exist without udevd).
//
// Every sysfs read goes through the FileSystem given, every superblock
// read through the probe function given: the tests point both at fakes.
#include <blkid/blkid.h>

#include <string_view>

#include "valise/drives.h"

namespace valise {

namespace {

std::string Trim(std::string s) {
  const char* blanks = " \t\r\n";
  s.erase(0, s.find_first_not_of(blanks));
  const size_t end = s.find_last_not_of(blanks);
  s.erase(end == std::string::npos ? 0 : end + 1);
  return s;
}

std::string Basename(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string Dirname(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

class SystemDriveProber final : public DriveProber {
 public:
  SystemDriveProber(FileSystem* fs, std::string sys_root, std::string dev_root,
                    FsProbeFn probe)
      : fs_(fs),
        sys_root_(std::move(sys_root)),
        dev_root_(std::move(dev_root)),
        probe_(std::move(probe)) {}

  Status Identify(const std::string& source, DriveIdentity* out) override {
    *out = DriveIdentity();
    std::string path;
    Status s = fs_->ResolvePath(source, &path);
    if (s.IsNotSupported())
      path = source;
    else
      VALISE_RETURN_IF_ERROR(s);
    FileInfo info;
    VALISE_RETURN_IF_ERROR(fs_->Stat(path, &info));
    std::string name;
    if (info.type == FileType::kBlockDevice) {
      name = Basename(path);
    } else if (info.type == FileType::kDirectory) {
      if (!IsFileSystemRoot(path, info)) return Status::OK();
      name = KernelName(info.device);
      if (name.empty()) return Status::OK();
    } else {
      return Status::OK();  // an image file: not a whole drive
    }
    out->whole = true;
    out->device = name;
    ReadSysfs(name, out);
    FsProbe fsp;
    s = probe_(dev_root_ + "/" + name, &fsp);
    if (s.ok()) {
      out->fs_uuid = fsp.uuid;
      out->fs_label = fsp.label;
      out->fs_type = fsp.type;
    } else if (!s.IsNotFound()) {
      return Status::IOError(
          source, "reading its file system's identity: " + s.message());
    }
    return Status::OK();
  }

 private:
  bool IsFileSystemRoot(const std::string& path, const FileInfo& info) {
    if (path == "/") return true;
    FileInfo parent;
    if (!fs_->Stat(Dirname(path), &parent).ok()) return false;
    return parent.device != info.device;
  }

  // The kernel name of block device `dev` (st_dev), or "".
  std::string KernelName(uint64_t dev) {
    const unsigned maj = static_cast<unsigned>(((dev >> 32) & 0xfffff000) |
                                               ((dev >> 8) & 0x00000fff));
    const unsigned min =
        static_cast<unsigned>(((dev >> 12) & 0xffffff00) | (dev & 0x000000ff));
    if (maj == 0) return "";
    std::string link = sys_root_ + "/dev/block/" + std::to_string(maj) + ":" +
                       std::to_string(min);
    std::string target;
    if (!fs_->ResolvePath(link, &target).ok()) return "";
    return Basename(target);
  }

  std::string Attr(const std::string& dir, const char* attr) {
    std::string v;
    if (!fs_->ReadSmallFile(dir + "/" + attr, &v, 4096).ok()) return "";
    return Trim(std::move(v));
  }

  void ReadSysfs(const std::string& name, DriveIdentity* out) {
    std::string dir = sys_root_ + "/class/block/" + name;
    std::string resolved;
    if (fs_->ResolvePath(dir, &resolved).ok()) dir = resolved;
    const std::string sectors = Attr(dir, "size");
    if (!sectors.empty()) {
      out->device_bytes = std::strtoull(sectors.c_str(), nullptr, 10) * 512;
    }
    // A partition's identity is its disk's.
    const std::string disk =
        Attr(dir, "partition").empty() ? dir : Dirname(dir);
    out->serial = Attr(disk, "device/serial");
    out->wwn = Attr(disk, "wwid");
    if (out->wwn.empty()) out->wwn = Attr(disk, "device/wwid");
    out->model = Attr(disk, "device/model");
  }

  FileSystem* fs_;
  const std::string sys_root_;
  const std::string dev_root_;
  const FsProbeFn probe_;
};

}  // namespace

Status BlkidProbe(const std::string& device, FsProbe* out) {
  blkid_probe pr = blkid_new_probe_from_filename(device.c_str());
  if (pr == nullptr) {
    return Status::PosixError(device + ": open for blkid", errno);
  }
  blkid_probe_enable_superblocks(pr, 1);
  blkid_probe_set_superblocks_flags(
      pr, BLKID_SUBLKS_UUID | BLKID_SUBLKS_LABEL | BLKID_SUBLKS_TYPE);
  const int rc = blkid_do_safeprobe(pr);
  Status s;
  if (rc == 0) {
    auto get = [&](const char* tag, std::string* v) {
      const char* data = nullptr;
      if (blkid_probe_lookup_value(pr, tag, &data, nullptr) == 0 && data) {
        *v = data;
      }
    };
    get("UUID", &out->uuid);
    get("LABEL", &out->label);
    get("TYPE", &out->type);
  } else if (rc == 1) {
    s = Status::NotFound(device, "no file system blkid knows");
  } else if (rc == -2) {
    s = Status::InvalidArgument(device,
                                "ambivalent: several file system "
                                "signatures");
  } else {
    s = Status::IOError(device, "blkid probe failed");
  }
  blkid_free_probe(pr);
  return s;
}

std::unique_ptr<DriveProber> NewSystemDriveProber(FileSystem* fs,
                                                  std::string sys_root,
                                                  std::string dev_root,
                                                  FsProbeFn probe) {
  return std::make_unique<SystemDriveProber>(
      fs, std::move(sys_root), std::move(dev_root), std::move(probe));
}

}  // namespace valise
