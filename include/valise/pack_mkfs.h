// valise pack --mkfs: the drives given are block devices, which the pack
// formats (Debian's mkfs.ext4 or mkfs.xfs), mounts on a private directory,
// fills as it would fill mounted drives, and unmounts at the end, leaving
// plain file systems anyone can mount (docs/pack.md, "Formatting the
// drives").
//
// Safety first: formatting destroys what a device holds, so the decision
// is taken from probed facts by a pure function (DecideMkfs) and every
// device is checked before any is formatted; one refusal formats nothing.
//
//   refused always   not a block device; mounted anywhere (mountinfo, by
//                    path or major:minor, a partition of it too); in use
//                    (open O_EXCL says EBUSY: mounted in another
//                    namespace, held by device-mapper, md, swap); holders
//                    in sysfs; a probe that failed; the same device given
//                    twice; a file system this pack made for another place
//   resumed          the file system this pack made for this place: its
//                    UUID, label and type are the ones M.mkfs records
//   refused unless --mkfs-force   a partition table, partitions, or any
//                    signature blkid knows (file system, LVM, RAID, swap,
//                    LUKS)
//   formatted        a blank device
//
// M.mkfs, beside the manifest M, records the file system type and, for
// each place in --drives order, the label and the UUID the pack gives the
// file system it makes there. It is written (durably) before the first
// mkfs and the UUID is handed to mkfs, so a pack cut short at any point
// recognises its own file systems on the rerun and never formats them
// again:
//
//   valise-pack-mkfs 1
//   type ext4
//   drive <label> <uuid>
//   ...
//
// It is removed once the pack is sealed and its drives unmounted.
//
// Thread safety: one thread at a time.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "valise/file_system.h"
#include "valise/status.h"

namespace valise {

// The sidecar's name: "M.mkfs".
inline constexpr std::string_view kMkfsSidecar = "mkfs";

// What was probed of one device given to --mkfs. Nothing here is written.
struct MkfsDeviceFacts {
  std::string path;  // as given
  bool exists = false;
  uint64_t bytes = 0;  // a block device's size
  bool block_device = false;
  uint32_t major = 0, minor = 0;
  // Where /proc/self/mountinfo shows it, or a partition of it, mounted
  // ("" nowhere).
  std::string mounted_at;
  // open(O_EXCL) failed with EBUSY: the kernel holds it (a mount in any
  // namespace, device-mapper, md, swap).
  bool busy = false;
  std::vector<std::string> holders;     // sysfs holders/ (dm-0, md0)
  std::vector<std::string> partitions;  // sysfs partitions (sdb1)
  std::string partition_table;          // blkid PTTYPE ("gpt", "dos")
  std::string fs_type;                  // blkid TYPE (ext4, LVM2_member...)
  std::string fs_uuid;
  std::string fs_label;
  std::string probe_error;  // why the probe could not be finished
};

// M.mkfs: what this pack formats (or formatted) each place with.
struct MkfsRecord {
  std::string fs_type;
  struct Drive {
    std::string label;
    std::string uuid;
  };
  std::vector<Drive> drives;  // in --drives order
};

std::string WriteMkfsRecord(const MkfsRecord& r);
// InvalidArgument naming `name` when the text is not an M.mkfs.
Status ParseMkfsRecord(std::string_view text, std::string_view name,
                       MkfsRecord* out);

// File system types --mkfs makes.
bool IsMkfsType(std::string_view type);

// The labels of `count` drives, as pack names them (its drives' labels are
// their mount points' last components, and the mount points are named by
// these): the stem of the manifest's name (up to its first dot, characters
// other than letters, digits, '-' and '_' made '_'; "drive" when empty)
// and "-01", "-02"... The whole fits the type's label (xfs: 12 bytes,
// ext4: 16): the stem is cut to fit.
std::vector<std::string> MkfsLabels(std::string_view manifest_path,
                                    std::string_view fs_type, size_t count);

enum class MkfsAction { kFormat, kResume, kRefuse };

struct MkfsDecision {
  MkfsAction action = MkfsAction::kRefuse;
  std::string why;  // for the operator: what was found, what to do
};

// The decision for the device at `place` of --drives from its facts: the
// rules at the top of this file. `want` is M.mkfs (loaded, or made for a
// new pack: then `recorded` is false and no device can be resumed).
// Pure: no I/O.
MkfsDecision DecideMkfs(const MkfsDeviceFacts& f, size_t place,
                        const MkfsRecord& want, bool recorded, bool force);

// Every device's decision, and two devices that are one (same major:minor)
// refused. OK when none is refused; else InvalidArgument listing every
// refused device (path, what was found) and saying nothing was formatted.
Status DecideAllMkfs(const std::vector<MkfsDeviceFacts>& facts,
                     const MkfsRecord& want, bool recorded, bool force,
                     std::vector<MkfsDecision>* out);

// The system calls --mkfs makes, behind an interface the tests replace.
class MkfsSystem {
 public:
  virtual ~MkfsSystem() = default;
  // Reads what DecideMkfs needs of `device`. Errors reading it go into
  // out->probe_error (a refusal), not the Status, which is for nothing.
  virtual void Probe(const std::string& device, MkfsDeviceFacts* out) = 0;
  // Makes a file system of `type` on `device` with `label` and `uuid`
  // (mkfs.ext4 / mkfs.xfs run without a shell). `overwrite`: a signature
  // there may be overwritten (-F / -f); else mkfs itself refuses one.
  virtual Status Format(const std::string& device, const std::string& type,
                        const std::string& label, const std::string& uuid,
                        bool overwrite) = 0;
  // A new private directory (mode 0700) to mount the drives under.
  virtual Status MakeMountRoot(std::string* dir) = 0;
  // Makes directory `dir` and mounts `device` (`type`, read-write) on it.
  virtual Status Mount(const std::string& device, const std::string& type,
                       const std::string& dir) = 0;
  // Makes the file system on `dir` durable (syncfs), unmounts it and
  // removes the directory.
  virtual Status Unmount(const std::string& dir) = 0;
  virtual Status RemoveDir(const std::string& dir) = 0;
  // A new random UUID, "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".
  virtual std::string NewUuid() = 0;
};

// The real one: stat, /proc/self/mountinfo, sysfs, open(O_EXCL), libblkid;
// posix_spawn of mkfs.*; mount(2) and umount2(2) under `mount_parent`
// (/run by default).
std::unique_ptr<MkfsSystem> NewSystemMkfs(std::string mount_parent = "/run");

// The mounts of processes started after this call are this process's own:
// a new mount namespace, its mounts private (never propagated back), so
// that the drives' mounts are seen by no one else and go away with the
// process however it ends (even SIGKILL). Call before any thread starts.
Status PrivateMountNamespace();

struct MkfsOptions {
  std::string fs_type = "ext4";
  bool force = false;    // --mkfs-force
  bool dry_run = false;  // decide only
  std::string manifest;  // -o: M.mkfs beside it, and the labels' stem
  // Called with every device's facts once none is refused and one is to be
  // formatted, before anything is written (also in a dry run): pack's
  // check that the dataset could fit. An error stops Prepare, nothing
  // formatted. Default: none.
  std::function<Status(const std::vector<MkfsDeviceFacts>&)> check;
};

// One device as Prepare left it.
struct MkfsDrive {
  std::string device;
  std::string label;
  std::string uuid;
  MkfsDecision decision;
  std::string mount_point;  // "" in a dry run
};

// The formatted, mounted drives of one `valise pack --mkfs`. Unmounts them
// (and removes the private directory) at Finish, or at destruction, so on
// every path out.
class MkfsDrives {
 public:
  ~MkfsDrives();

  // Loads M.mkfs (or makes the record of a new pack), probes every device
  // and decides (DecideAllMkfs: any refusal returns before anything is
  // written). A dry run stops there: *drives hold the decisions and *out
  // stays null. Else M.mkfs is written if new, each device to format is
  // probed again (refused if it changed) and formatted, and every drive is
  // mounted on ROOT/LABEL. On an error, what was mounted is unmounted.
  static Status Prepare(FileSystem* fs, MkfsSystem* sys,
                        const std::vector<std::string>& devices,
                        const MkfsOptions& opt, std::vector<MkfsDrive>* drives,
                        std::unique_ptr<MkfsDrives>* out);

  // The mount points, in --drives order: the drives to pack onto.
  std::vector<std::string> mount_points() const;

  // Unmounts every drive (each synced first) and removes the private
  // directory; then, if `sealed` (the pack is finished), M.mkfs. The first
  // error, after trying them all.
  Status Finish(bool sealed);

 private:
  MkfsDrives(FileSystem* fs, MkfsSystem* sys) : fs_(fs), sys_(sys) {}
  Status UnmountAll();

  FileSystem* fs_;
  MkfsSystem* sys_;
  std::string record_path_;
  std::string root_;
  std::vector<std::string> mounted_;  // mount points, in mount order
  std::vector<std::string> points_;   // in --drives order
  bool finished_ = false;
};

}  // namespace valise
