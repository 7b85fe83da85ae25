// The watch loop (valise/watch.h): devices as they appear, identified
// against M.drives, mounted read-only, ingested, unmounted, logged.
//
// One round: wait for devices (at most opt.wait_ms, so a stop is seen
// soon), then for each device reported, in order:
//   1. identify it (prober: sysfs and the superblock, as ingest does). A
//      device of size 0 (an empty loop device, one just detached) is no
//      drive: skipped without a word. One that holds no file system is
//      left alone (its partitions, reported on their own, are looked at);
//   2. match it to M.drives by file system UUID or serial
//      (MatchShipmentDrives). A device of no drive of the shipment is left
//      alone, named, logged;
//   3. mount it under mount_root/LABEL (read-only and the rest, Mounter).
// The drives mounted in the round are ingested in one run (the caller's
// ingest), then each is unmounted and its custody line written, and the
// drives still needed are said. A drive that fails to mount or unmount is
// said and logged; the watch goes on with the others.
#include "valise/watch.h"

#include <nlohmann/json.hpp>
#include <set>

#include "valise/report.h"

namespace valise {

namespace {

// A label as one path component: '/' and NUL become '_', and a name that
// is empty, "." or ".." or starts with '.' gets a leading '_'.
std::string MountName(const std::string& label) {
  std::string s = label;
  for (char& c : s) {
    if (c == '/' || c == '\0') c = '_';
  }
  if (s.empty() || s[0] == '.') s.insert(s.begin(), '_');
  return s;
}

// How bad an exit status is: 0 < 1 < 2 < 130.
int Rank(int code) {
  switch (code) {
    case 0:
      return 0;
    case 1:
      return 1;
    case 130:
      return 3;
    default:
      return 2;
  }
}

class Watch {
 public:
  Watch(const ShipmentDrives& drives, const WatchOptions& opt,
        const WatchHooks& hooks, WatchSummary* summary)
      : drives_(drives), opt_(opt), hooks_(hooks), summary_(summary) {}

  Status Run() {
    hooks_.say("watching for the shipment's drives (" +
               hooks_.events->Describe() + "); mounting them under " +
               opt_.mount_root);
    hooks_.report_needed();
    while (!Cancelled()) {
      std::vector<std::string> names;
      VALISE_RETURN_IF_ERROR(hooks_.events->Wait(opt_.wait_ms, &names));
      std::vector<WatchDrive> batch;
      std::set<std::string> done;
      for (const std::string& name : names) {
        if (Cancelled()) break;
        if (done.insert(name).second) Consider(name, &batch);
      }
      if (!batch.empty()) Ingest(batch);
    }
    return Status::OK();
  }

 private:
  bool Cancelled() const {
    return hooks_.cancel != nullptr &&
           hooks_.cancel->load(std::memory_order_relaxed);
  }

  void Worsen(int code) {
    if (Rank(code) > Rank(summary_->worst_exit)) summary_->worst_exit = code;
  }

  void Log(const CustodyRecord& r) {
    Status s = hooks_.custody(CustodyLine(r));
    if (!s.ok()) hooks_.say("custody log not written: " + s.message());
  }

  void LeaveAlone(const std::string& device, const DriveIdentity& id,
                  const std::string& label, const std::string& why) {
    hooks_.say(device + ": left alone: " + why);
    CustodyRecord r;
    r.event = "left alone";
    r.device = device;
    r.label = label;
    r.fs_uuid = id.fs_uuid;
    r.serial = id.serial;
    r.host = opt_.host;
    r.plugged = hooks_.now();
    r.result = why;
    Log(r);
    ++summary_->left_alone;
  }

  void Consider(const std::string& name, std::vector<WatchDrive>* batch) {
    const std::string device = "/dev/" + name;
    DriveIdentity id;
    Status s = hooks_.prober->Identify(device, &id);
    if (!s.ok()) {
      // Gone again already (detached), or unreadable: said, not fatal.
      LeaveAlone(device, id, "", "cannot identify it: " + s.message());
      return;
    }
    if (id.device_bytes == 0) return;  // empty loop device, or gone
    if (id.fs_type.empty()) {
      LeaveAlone(device, id, "", "holds no file system");
      return;
    }
    std::vector<int> drive_of;
    s = MatchShipmentDrives(drives_, {device}, {id}, &drive_of);
    if (!s.ok()) {
      // "DEVICE: ext4 file system UUID ... is not one of ...": without the
      // device, which LeaveAlone names.
      std::string why = s.message();
      if (why.rfind(device + ": ", 0) == 0) why.erase(0, device.size() + 2);
      LeaveAlone(device, id, "", why);
      return;
    }
    if (drive_of.empty() || drive_of[0] < 0) {
      LeaveAlone(device, id, "",
                 id.fs_type +
                     " file system without a UUID and no serial: "
                     "not a drive of the shipment");
      return;
    }
    const ShipmentDrive& d = drives_.drives[drive_of[0]];
    for (const WatchDrive& w : *batch) {
      if (w.label == d.label) {
        LeaveAlone(device, id, d.label,
                   "is drive " + d.label + ", which " + w.device +
                       " is already: the same drive twice");
        return;
      }
    }
    WatchDrive w;
    w.device = device;
    w.label = d.label;
    w.id = id;
    w.plugged = hooks_.now();
    w.mount = opt_.mount_root + "/" + MountName(d.label);
    hooks_.say(device + ": drive " + DescribeDrive(d) + "; mounting it at " +
               w.mount + " (read-only)");
    s = hooks_.mounter->Mount(device, id.fs_type, w.mount);
    if (!s.ok()) {
      hooks_.say(device + ": drive " + d.label +
                 " not mounted: " + s.message());
      CustodyRecord r;
      r.event = "failed";
      r.device = device;
      r.label = d.label;
      r.fs_uuid = id.fs_uuid;
      r.serial = id.serial;
      r.host = opt_.host;
      r.plugged = w.plugged;
      r.done = hooks_.now();
      r.result = "not mounted: " + s.message();
      Log(r);
      Worsen(2);
      return;
    }
    batch->push_back(std::move(w));
  }

  void Ingest(const std::vector<WatchDrive>& batch) {
    std::string labels;
    for (const WatchDrive& w : batch) {
      labels += (labels.empty() ? "" : ", ") + w.label;
    }
    hooks_.say("ingesting " + labels);
    ++summary_->ingests;
    std::vector<int> codes = hooks_.ingest(batch);
    codes.resize(batch.size(), 2);  // a result not given: trouble
    for (size_t i = 0; i < batch.size(); ++i) {
      const WatchDrive& w = batch[i];
      const int code = codes[i];
      Worsen(code);
      if (code == 130) summary_->interrupted = true;
      Status s = hooks_.mounter->Unmount(w.mount);
      if (!s.ok()) hooks_.say(w.device + ": not unmounted: " + s.message());
      CustodyRecord r;
      r.event = "ingested";
      r.device = w.device;
      r.label = w.label;
      r.fs_uuid = w.id.fs_uuid;
      r.serial = w.id.serial;
      r.host = opt_.host;
      r.plugged = w.plugged;
      r.done = hooks_.now();
      r.result = ExitResultWord(code);
      r.exit_code = code;
      Log(r);
      hooks_.say("drive " + w.label + " (" + w.device + "): " + r.result +
                 (s.ok() ? "; unmounted, it can be unplugged"
                         : "; still mounted at " + w.mount));
      if (code == 0 || code == 1) ++summary_->drives_ingested;
    }
    if (!Cancelled()) hooks_.report_needed();
  }

  const ShipmentDrives& drives_;
  const WatchOptions& opt_;
  const WatchHooks& hooks_;
  WatchSummary* summary_;
};

}  // namespace

std::string CustodyLine(const CustodyRecord& r) {
  nlohmann::ordered_json j;
  j["event"] = r.event;
  j["drive"] = r.label;
  j["device"] = r.device;
  j["fs_uuid"] = r.fs_uuid;
  j["serial"] = r.serial;
  j["host"] = r.host;
  j["plugged"] = r.plugged;
  if (!r.done.empty()) j["done"] = r.done;
  j["result"] = r.result;
  if (r.exit_code >= 0) j["exit_code"] = r.exit_code;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
         "\n";
}

Status RunWatch(const ShipmentDrives& drives, const WatchOptions& opt,
                const WatchHooks& hooks, WatchSummary* summary) {
  *summary = WatchSummary();
  Watch w(drives, opt, hooks, summary);
  return w.Run();
}

}  // namespace valise
