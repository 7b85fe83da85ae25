// Where valise watch learns of block devices (valise/watch.h): a libudev
// monitor, or polling sysfs.
//
// Polling: every interval, the names under SYS/class/block (disks and
// partitions alike) and each one's "size" (512-byte sectors) and
// "diskseq" (Linux 5.15+: a number the kernel gives each new medium; a
// partition's is its disk's). A device is reported when its size is
// non-zero and its size or diskseq differs from the last poll's (new, or
// 0 before: a loop device attached; another image attached to the same
// loop device between two polls: same size, new diskseq). A device whose
// size went to 0 (detached) is forgotten, so attaching it again reports
// it again. The first poll reports every device of non-zero size. sysfs is read
// through the FileSystem given: the tests point it at a directory of their own.
//
// udev: a netlink monitor filtered on the "block" subsystem; "add" and
// "change" events are reported (attaching a loop device to an existing
// /dev/loopN is a "change", a new disk an "add"; "remove" and the rest are
// not). The first call enumerates the devices present instead (libudev
// reads sysfs), so drives plugged before the watch started are found.
// When udevd runs, its "udev" group is used: the event arrives once udevd
// has made the device's links. Without udevd only the kernel's own
// uevents ("kernel" group) arrive; /dev/NAME exists by then (devtmpfs).
#include <libudev.h>
#include <poll.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>

#include "valise/watch.h"

namespace valise {

namespace {

using Clock = std::chrono::steady_clock;

class PollingDeviceEvents final : public DeviceEvents {
 public:
  PollingDeviceEvents(FileSystem* fs, std::string sys_root, int interval_ms)
      : fs_(fs),
        dir_(std::move(sys_root) + "/class/block"),
        interval_(std::chrono::milliseconds(interval_ms)) {}

  Status Wait(int timeout_ms, std::vector<std::string>* names) override {
    names->clear();
    if (polled_) {
      const Clock::time_point now = Clock::now();
      const Clock::time_point until =
          std::min(next_, now + std::chrono::milliseconds(timeout_ms));
      if (until > now) std::this_thread::sleep_for(until - now);
      if (Clock::now() < next_) return Status::OK();
    }
    polled_ = true;
    next_ = Clock::now() + interval_;
    std::vector<DirEntry> entries;
    VALISE_RETURN_IF_ERROR(fs_->ListDir(dir_, &entries));
    // In name order: the order devices are looked at does not depend on
    // the directory's.
    std::sort(
        entries.begin(), entries.end(),
        [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
    std::map<std::string, std::string> seen;
    for (const DirEntry& e : entries) {
      const std::string sig = Signature(e.name);
      if (sig.empty()) continue;
      auto it = last_.find(e.name);
      if (it == last_.end() || it->second != sig) names->push_back(e.name);
      seen[e.name] = sig;
    }
    last_ = std::move(seen);
    return Status::OK();
  }

  // "SIZE DISKSEQ" of a device, "" when its size is 0 or unreadable (a
  // device removed between the listing and the read). sysfs says every
  // attribute is 4096 bytes long.
  std::string Signature(const std::string& name) {
    const std::string dir = dir_ + "/" + name;
    std::string size, seq;
    if (!fs_->ReadSmallFile(dir + "/size", &size, 4096).ok()) return "";
    if (std::strtoull(size.c_str(), nullptr, 10) == 0) return "";
    // A partition's diskseq is its disk's, one directory up.
    if (!fs_->ReadSmallFile(dir + "/diskseq", &seq, 4096).ok()) {
      if (!fs_->ReadSmallFile(dir + "/../diskseq", &seq, 4096).ok()) {
        seq.clear();  // before Linux 5.15: the size alone
      }
    }
    return size + " " + seq;
  }

  std::string Describe() const override {
    return "polling " + dir_ + " every " + std::to_string(interval_.count()) +
           " ms";
  }

 private:
  FileSystem* fs_;
  const std::string dir_;
  const std::chrono::milliseconds interval_;
  bool polled_ = false;
  Clock::time_point next_;
  // name -> Signature, for devices of non-zero size.
  std::map<std::string, std::string> last_;
};

class UdevDeviceEvents final : public DeviceEvents {
 public:
  UdevDeviceEvents(udev* u, udev_monitor* mon, std::string group)
      : udev_(u), mon_(mon), group_(std::move(group)) {}
  ~UdevDeviceEvents() override {
    udev_monitor_unref(mon_);
    udev_unref(udev_);
  }

  Status Wait(int timeout_ms, std::vector<std::string>* names) override {
    names->clear();
    if (!enumerated_) {
      enumerated_ = true;
      return Enumerate(names);
    }
    pollfd p{};
    p.fd = udev_monitor_get_fd(mon_);
    p.events = POLLIN;
    const int n = poll(&p, 1, timeout_ms);
    if (n < 0) {
      if (errno == EINTR) return Status::OK();  // a signal: the caller looks
      return Status::PosixError("udev monitor: poll", errno);
    }
    if (n == 0) return Status::OK();
    if (p.revents & (POLLERR | POLLNVAL)) {
      return Status::IOError("udev monitor", "its netlink socket failed");
    }
    // The socket is non-blocking: take every event queued.
    while (udev_device* d = udev_monitor_receive_device(mon_)) {
      const char* action = udev_device_get_action(d);
      const char* name = udev_device_get_sysname(d);
      if (action != nullptr && name != nullptr &&
          (std::string_view(action) == "add" ||
           std::string_view(action) == "change")) {
        names->push_back(name);
      }
      udev_device_unref(d);
    }
    return Status::OK();
  }

  std::string Describe() const override {
    return "udev events (" + group_ + ")";
  }

 private:
  Status Enumerate(std::vector<std::string>* names) {
    udev_enumerate* e = udev_enumerate_new(udev_);
    if (e == nullptr) return Status::IOError("udev", "cannot enumerate");
    udev_enumerate_add_match_subsystem(e, "block");
    udev_enumerate_scan_devices(e);
    udev_list_entry* entry;
    udev_list_entry_foreach(entry, udev_enumerate_get_list_entry(e)) {
      const std::string path = udev_list_entry_get_name(entry);
      const size_t slash = path.find_last_of('/');
      names->push_back(path.substr(slash + 1));
    }
    udev_enumerate_unref(e);
    return Status::OK();
  }

  udev* udev_;
  udev_monitor* mon_;
  const std::string group_;
  bool enumerated_ = false;
};

}  // namespace

std::unique_ptr<DeviceEvents> NewPollingDeviceEvents(FileSystem* fs,
                                                     std::string sys_root,
                                                     int interval_ms) {
  return std::make_unique<PollingDeviceEvents>(fs, std::move(sys_root),
                                               interval_ms);
}

bool UdevdRuns() {
  struct stat st;
  return stat("/run/udev/control", &st) == 0;
}

Status NewUdevDeviceEvents(std::unique_ptr<DeviceEvents>* out) {
  udev* u = udev_new();
  if (u == nullptr) return Status::IOError("udev", "udev_new failed");
  const std::string group = UdevdRuns() ? "udev" : "kernel";
  udev_monitor* mon = udev_monitor_new_from_netlink(u, group.c_str());
  if (mon == nullptr) {
    udev_unref(u);
    return Status::IOError("udev monitor (" + group + ")",
                           "cannot open its netlink socket");
  }
  if (udev_monitor_filter_add_match_subsystem_devtype(mon, "block", nullptr) <
          0 ||
      udev_monitor_enable_receiving(mon) < 0) {
    udev_monitor_unref(mon);
    udev_unref(u);
    return Status::IOError("udev monitor (" + group + ")",
                           "cannot listen for block devices");
  }
  *out = std::make_unique<UdevDeviceEvents>(u, mon, group);
  return Status::OK();
}

}  // namespace valise
