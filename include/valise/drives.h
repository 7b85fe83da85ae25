// The drives of a shipment: which physical drive each SRC of `valise
// manifest` was, and which of the manifest's files it held. Written beside
// the manifest M as the bound sidecar M.drives (valise/sidecar.h), so M's
// signature covers it; read by `valise status` (which drives are still
// needed) and by ingest (each SRC matched to its drive before anything is
// read). The format is in docs/formats.md, "Drives (M.drives)".
//
// A drive is known by what does not change when it travels: its file
// system's UUID (and label, type), and for a block device its serial, WWN
// and model. The mount path is not an identity: a drive mounted at
// /mnt/a at the source is /media/x at the datacenter. A SRC that is a
// directory inside a file system (not its root) has no identity of its
// own (several such SRCs may share one file system): it is recorded with
// its files and its source path, and is never matched by identity.
//
// Everything a prober reads (sysfs attributes, the file system's
// superblock through libblkid) goes through an interface: SystemDriveProber
// reads sysfs through a FileSystem under a root the tests choose, and the
// superblock through a function they can replace; tests on the simulated
// disk use a fake DriveProber.
//
// Thread safety: the functions are thread-safe; a DriveProber is used from
// one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "valise/file_system.h"
#include "valise/manifest.h"
#include "valise/status.h"

namespace valise {

// The bound sidecar's name: "M.drives".
inline constexpr std::string_view kDrivesSidecar = "drives";
// Largest M.drives read (its ranges are few unless the drives interleave).
inline constexpr size_t kMaxDrivesSidecarBytes = size_t{256} << 20;

// What identifies one drive. Empty strings: unknown.
struct DriveIdentity {
  std::string fs_uuid;        // file system UUID (blkid "UUID")
  std::string fs_label;       // file system label (blkid "LABEL")
  std::string fs_type;        // "ext4", "xfs", ...
  std::string serial;         // the disk's serial (sysfs device/serial)
  std::string wwn;            // its World Wide Name (sysfs wwid / device/wwid)
  std::string model;          // sysfs device/model
  std::string device;         // kernel name of the block device ("sdb1",
                              // "loop3"): informational, never matched
  uint64_t device_bytes = 0;  // the block device's capacity, if known
  // True when the SRC is a whole drive (a block device, or the root of
  // the file system it is on): only then does the identity name it.
  bool whole = false;

  // Whether it can be matched: a whole drive with a UUID or a serial.
  bool Identified() const {
    return whole && (!fs_uuid.empty() || !serial.empty());
  }
};

// [first, first + count) of manifest indices.
using EntryRun = std::pair<uint64_t, uint64_t>;

// A packed shipment's drives (`valise pack`, docs/pack.md) say which
// member of the layout each one is; other shipments' drives are kNone.
enum class PackRole { kNone, kData, kParity };

// One drive of a shipment as M.drives records it.
struct ShipmentDrive {
  std::string label;   // what operators call it (--label, else the file
                       // system label, else the SRC's last component)
  std::string source;  // the SRC as given to `valise manifest`
  DriveIdentity id;
  uint64_t files = 0;  // manifest entries it holds
  uint64_t bytes = 0;  // their total size
  // The manifest entries it holds, as [first, first + count) runs of
  // manifest indices (manifest order), ascending, not touching.
  std::vector<EntryRun> runs;
  // Written by `valise pack` only: data drive I or parity drive J of
  // M.layout (pack_index from 1, as the layout numbers them). A parity
  // drive holds no manifest entry (no runs).
  PackRole pack_role = PackRole::kNone;
  uint32_t pack_index = 0;
};

struct ShipmentDrives {
  uint64_t entries = 0;  // the manifest's entry count
  std::vector<ShipmentDrive> drives;
};

// M.drives as text (JSON, one drive per line); strings that are not UTF-8
// are %XX-escaped as manifest paths are.
std::string WriteShipmentDrives(const ShipmentDrives& d);
// Parses M.drives (`name` for messages). InvalidArgument naming the file
// and what is wrong: not JSON, another format or version, runs out of
// order or past `entries`.
Status ParseShipmentDrives(std::string_view data, std::string_view name,
                           ShipmentDrives* out);

// Loads M.drives bound to the manifest at `manifest_path` (parsed into
// `m`, its signature checked by the caller), checked against the binding
// (LoadBoundSidecar), and that it describes m (same entry count).
// NotFound when m binds no drives.
Status LoadShipmentDrives(FileSystem* fs, const std::string& manifest_path,
                          const Manifest& m, ShipmentDrives* out);

// For each manifest entry, the drives (indices into d.drives) that hold
// it. REQUIRES: d parsed (runs within d.entries).
std::vector<std::vector<uint32_t>> HoldersByEntry(const ShipmentDrives& d);

// "ship-03 (uuid 1b2c..., serial WD-123)": a drive for messages.
std::string DescribeDrive(const ShipmentDrive& d);

// Reads what identifies a SRC.
class DriveProber {
 public:
  virtual ~DriveProber() = default;
  // The identity of the drive `source` names (a directory, an image or a
  // block device; a symlink is followed). A SRC that is not a whole drive
  // (a directory below a file system's root, an image file) gets
  // whole == false and OK. Errors name the source and what failed.
  virtual Status Identify(const std::string& source, DriveIdentity* out) = 0;
};

// The file system found on a block device: UUID, label, type.
struct FsProbe {
  std::string uuid, label, type;
};
// Reads a block device's superblock (libblkid, low-level probe, read
// only). NotFound when it holds no file system blkid knows.
using FsProbeFn = std::function<Status(const std::string& device, FsProbe*)>;
Status BlkidProbe(const std::string& device, FsProbe* out);

// The real prober: the device behind a SRC from `fs` (stat of the SRC and
// of its parent; sys_root/dev/block/MAJ:MIN resolved to the kernel name;
// sys_root/class/block/NAME/{size,partition,device/serial,device/model,
// device/wwid,wwid}, a partition's disk being the directory above it),
// the file system by `probe` on dev_root/NAME.
// Defaults: sys_root "/sys", dev_root "/dev", probe BlkidProbe.
std::unique_ptr<DriveProber> NewSystemDriveProber(FileSystem* fs,
                                                  std::string sys_root = "/sys",
                                                  std::string dev_root = "/dev",
                                                  FsProbeFn probe = BlkidProbe);

// `inner`, bounded in time: an Identify that has not returned after
// `timeout_ms` returns TimedOut ("SOURCE: did not answer within N s"),
// and its call is left to finish (or never) on a thread of its own, its
// result dropped. For valise watch, where one failing drive that hangs a
// read must not keep the others waiting. timeout_ms 0: no bound.
// REQUIRES: inner->Identify may run on several threads at once (a late
// call may still be running when the next one starts).
std::unique_ptr<DriveProber> NewTimedDriveProber(
    std::shared_ptr<DriveProber> inner, int64_t timeout_ms);

// Identifies every SRC (in order) with `prober`, before anything is read.
// Errors: the prober's; InvalidArgument for two SRCs that are the same
// drive (same UUID or serial), naming both.
Status IdentifySources(DriveProber* prober,
                       const std::vector<std::string>& sources,
                       std::vector<DriveIdentity>* ids);

// Builds M.drives for `sources` (in order, identified as `ids`) of a
// manifest `m` just made: `runs_of[i]` the manifest entries SRC i holds
// (ascending runs, as ManifestSummary::drive_runs gives them); `labels`
// the operator's labels in SRC order (may be shorter: the rest are the
// file system's label, else the SRC's last component). Two drives with
// one label are InvalidArgument.
Status DescribeShipmentDrives(const Manifest& m,
                              const std::vector<std::string>& sources,
                              const std::vector<DriveIdentity>& ids,
                              const std::vector<std::vector<EntryRun>>& runs_of,
                              const std::vector<std::string>& labels,
                              ShipmentDrives* out);

// At ingest: each SRC's identity matched to M.drives. *drive_of[i] is the
// index of SRC i's drive in d, or -1 for a SRC that is not a whole drive
// (a directory inside a file system: not matched). InvalidArgument (the
// run must not start) for a whole drive that is none of d's drives ("not
// part of this shipment") or a drive given twice; the message names the
// SRC, what identifies it, and what to do. With `twice_only`, only a
// drive given twice is refused.
Status MatchShipmentDrives(const ShipmentDrives& d,
                           const std::vector<std::string>& sources,
                           const std::vector<DriveIdentity>& ids,
                           std::vector<int>* drive_of, bool twice_only = false);

// At the datacenter, before anything is read: a SRC that cannot be the
// drive it stands for is refused (InvalidArgument naming it and saying
// what to do):
//   - a directory that is empty: a mount point with no drive mounted on
//     it ("is empty: is its drive mounted? mount it there, or give its
//     mount point");
//   - a block device holding a file system (`probe` finds one), unless
//     M has exactly one entry (then the device may be the raw image M
//     describes, read as one file): "/dev/sdc holds ext4 'ship-07': mount
//     it, or give its mount point".
// Other SRCs (and errors reading them, which the run reports) pass.
Status CheckArrivedSource(FileSystem* fs, const std::string& source,
                          const Manifest& m, const FsProbeFn& probe);

}  // namespace valise
