// valise watch (issue 14): the shipment's drives ingested as they are
// plugged in, over days, without an operator typing a command per drive.
//
// The loop (RunWatch) waits for block devices to appear (DeviceEvents),
// identifies each against the manifest's drive entries M.drives by file
// system UUID or serial (DriveProber, MatchShipmentDrives: the same rules
// as ingest), mounts a drive of the shipment read-only under the mount root
// (Mounter), ingests it into DEST (the caller's ingest: the ingest job, so
// resumable as ingest is), unmounts it, appends what happened to the
// custody log, and says which drives are still needed. A device that is no
// drive of the shipment (or holds no file system, or cannot be mounted) is
// named, logged and left alone.
//
// Drives found together (a rescan at start, or plugged in one round) are
// ingested together, in one run that reads them in parallel. A drive
// plugged while a run is under way is mounted and joins it: once no other
// drive has come for opt.settle_ms, the run is stopped at a clean point
// (as an interrupted ingest stops: what is committed stays, resumable) and
// started again at once with the old drives and the new (one ingest holds
// DEST at a time: DEST/.valise/lock). A device of a drive that is in the
// running run (a drive pulled and plugged in again) is looked at once that
// run has ended.
//
// Where devices come from, behind DeviceEvents:
//   - udev: a libudev monitor on the "block" subsystem ("add" and "change"
//     events: attaching a loop device is a "change"), from udevd once it
//     processed the device ("udev" netlink group) when udevd runs, else
//     the kernel's own uevents ("kernel" group). Preferred: no delay.
//   - polling: SYS/class/block/*/size read every interval; a device whose
//     size became non-zero or changed is reported. Where no udevd runs
//     (containers), and the path the tests drive.
// Both report every block device present on their first call (the rescan
// on start). A device reported again (another "change") while it is
// queued or being ingested is ignored.
//
// Stopping: `cancel` (SIGINT/SIGTERM) is checked between events; a
// running ingest is then stopped as an interrupted ingest stops (files
// committed kept, resumable), its drives and those waiting are unmounted,
// and RunWatch returns.
//
// Thread safety: RunWatch runs on one thread and calls its interfaces from
// it, except `ingest`, which runs on a thread of its own, one run at a
// time, beside the others' calls.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "valise/drives.h"
#include "valise/file_system.h"
#include "valise/status.h"

namespace valise {

// Block devices as they appear.
class DeviceEvents {
 public:
  virtual ~DeviceEvents() = default;
  // Waits at most `timeout_ms` for block devices to appear or change;
  // their kernel names ("loop3", "sdb1") in *names (empty: none came).
  // The first call returns every block device present. Errors: the event
  // source failed (a closed netlink socket, SYS unreadable).
  virtual Status Wait(int timeout_ms, std::vector<std::string>* names) = 0;
  // "udev (kernel uevents)", "polling /sys/class/block every 500 ms".
  virtual std::string Describe() const = 0;
};

// Polls `sys_root`/class/block through `fs` every `interval_ms`.
std::unique_ptr<DeviceEvents> NewPollingDeviceEvents(FileSystem* fs,
                                                     std::string sys_root,
                                                     int interval_ms);
// A libudev monitor on "block": the "udev" group when udevd runs
// (/run/udev/control exists), else "kernel". Errors name what failed.
Status NewUdevDeviceEvents(std::unique_ptr<DeviceEvents>* out);
// True when udevd runs on this machine (/run/udev/control exists).
bool UdevdRuns();

// Mounts and unmounts drives.
class Mounter {
 public:
  virtual ~Mounter() = default;
  // Makes the directory `dir` (its parent exists; an empty directory there
  // is reused) and mounts `device` (a file system of type `fs_type`) on it
  // read-only, noexec, nodev, nosuid, without replaying a journal where
  // the file system has the option (ext3/ext4, xfs: norecovery; btrfs:
  // nologreplay). Errors name the device, the directory and the cause.
  virtual Status Mount(const std::string& device, const std::string& fs_type,
                       const std::string& dir) = 0;
  // Unmounts `dir` (retrying a busy one for a few seconds) and removes it.
  virtual Status Unmount(const std::string& dir) = 0;
};
std::unique_ptr<Mounter> NewSystemMounter();

// One drive ingest the watch started: the caller's ingest gets them.
struct WatchDrive {
  std::string device;  // "/dev/loop3"
  std::string label;   // M.drives' label
  std::string mount;   // where it is mounted: the ingest's SRC
  DriveIdentity id;
  std::string plugged;  // ISO 8601 UTC: when the watch noticed it
};

// One line of the custody log (JSON, docs/formats.md "Custody log").
struct CustodyRecord {
  std::string event;  // "ingested", "left alone", "failed"
  std::string device, label, fs_uuid, serial, host;
  std::string plugged, done;  // ISO 8601 UTC; done empty for "left alone"
  std::string result;         // "ok", "problems", "interrupted", "trouble",
                              // or why it was left alone
  int exit_code = -1;         // the drive's result as a code, -1: none ran
};
std::string CustodyLine(const CustodyRecord& r);  // JSON, ending in '\n'

struct WatchOptions {
  std::string mount_root;  // drives are mounted at mount_root/LABEL
  std::string host;        // for the custody log
  int wait_ms = 250;       // longest wait between checks of `cancel`
  // A drive plugged while a run is going joins it: the run is stopped at
  // a clean point (as an interrupted ingest stops) and started again with
  // the new drives beside the old, once no other drive has come for this
  // long (a cart of drives plugged one after another: one restart).
  int settle_ms = 2000;
};

struct WatchHooks {
  DeviceEvents* events = nullptr;
  DriveProber* prober = nullptr;  // Identify("/dev/NAME")
  Mounter* mounter = nullptr;
  // Ingests the drives (mounted) into DEST in one run, on a thread of
  // the watch's own (the watch goes on looking at devices meanwhile);
  // stops as an interrupted ingest does once *stop is set (a stop of the
  // watch, or new drives to join the run). Returns each drive's result in
  // batch order: 0 ok (every file it was read for arrived), 1 problems
  // (corrupt, unreadable, stalled), 2 trouble (the run failed: DEST full,
  // a bad manifest), 130 interrupted.
  std::function<std::vector<int>(const std::vector<WatchDrive>&,
                                 const std::atomic<bool>* stop)>
      ingest;
  // Optional: called on the run's thread once its result is in (the loop
  // takes it at its next round). The tests wait on it.
  std::function<void()> run_ended;
  // A line for the operator (stderr).
  std::function<void(const std::string&)> say;
  // Appends a line to the custody log; an error is said, not fatal.
  std::function<Status(const std::string&)> custody;
  // Says which drives are still needed (after each ingest and at start).
  std::function<void()> report_needed;
  // ISO 8601 UTC now.
  std::function<std::string()> now;
  const std::atomic<bool>* cancel = nullptr;
};

struct WatchSummary {
  uint64_t ingests = 0;  // runs started
  uint64_t drives_ingested = 0;
  uint64_t left_alone = 0;
  int worst_exit = 0;  // worst drive result (130 > 2 > 1 > 0)
  bool interrupted = false;
};

// Runs until *hooks.cancel or an event source error (returned). The
// shipment `drives` is what devices are matched against.
Status RunWatch(const ShipmentDrives& drives, const WatchOptions& opt,
                const WatchHooks& hooks, WatchSummary* summary);

}  // namespace valise
