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
//      alone, named, logged. A device of a drive that is in the running
//      run (pulled and plugged in again) waits until that run ended;
//   3. mount it under mount_root/LABEL (read-only and the rest, Mounter):
//      it waits for the next run.
// Then the run:
//   - none running and drives waiting: a run of them starts, on a thread
//     of its own (the caller's ingest);
//   - one running and drives waiting, none new for opt.settle_ms: the run
//     is told to stop (its stop flag) and, once it has, its drives that
//     were interrupted start again at once beside the waiting ones;
//   - a run that ended: each drive it finished is unmounted, its custody
//     line written, and the drives still needed are said.
// A drive that fails to mount or unmount is said and logged; the watch
// goes on with the others.
#include "valise/watch.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

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
    Status s;
    while (!Cancelled()) {
      std::vector<std::string> names;
      s = hooks_.events->Wait(opt_.wait_ms, &names);
      if (!s.ok()) break;
      std::set<std::string> done;
      for (const std::string& name : names) {
        if (Cancelled()) break;
        if (done.insert(name).second) Consider(name);
      }
      if (Cancelled()) break;
      if (run_ && run_->done.load()) FinishRun();
      if (run_ && !waiting_.empty() && !run_->stop.load() &&
          Clock::now() - last_plugged_ >=
              std::chrono::milliseconds(opt_.settle_ms)) {
        hooks_.say(Labels(waiting_) + " joins the run of " +
                   Labels(run_->drives) +
                   ": that run stops at a clean point and starts again "
                   "with every drive");
        run_->restart = true;
        run_->stop.store(true);
      }
      if (!run_) {
        std::vector<std::string> later = std::move(later_);
        later_.clear();
        for (const std::string& name : later) Consider(name);
        if (!waiting_.empty()) StartRun();
      }
    }
    // Stopped (or the events failed): the run stops as an interrupted
    // ingest; the drives waiting for a run are unmounted, interrupted.
    if (run_) {
      run_->stop.store(true);
      FinishRun();
    }
    std::vector<WatchDrive> waiting = std::move(waiting_);
    waiting_.clear();
    for (const WatchDrive& w : waiting) Finish(w, 130);
    return s;
  }

 private:
  bool Cancelled() const {
    return hooks_.cancel != nullptr &&
           hooks_.cancel->load(std::memory_order_relaxed);
  }

  void Worsen(int code) {
    if (Rank(code) > Rank(summary_->worst_exit)) summary_->worst_exit = code;
  }

  // A custody record's common fields; the caller adds done and result.
  CustodyRecord Record(const char* event, const std::string& device,
                       const std::string& label, const DriveIdentity& id,
                       const std::string& plugged) const {
    CustodyRecord r;
    r.event = event;
    r.device = device;
    r.label = label;
    r.fs_uuid = id.fs_uuid;
    r.serial = id.serial;
    r.host = opt_.host;
    r.plugged = plugged;
    return r;
  }

  void Log(const CustodyRecord& r) {
    Status s = hooks_.custody(CustodyLine(r));
    if (!s.ok()) hooks_.say("custody log not written: " + s.message());
  }

  void LeaveAlone(const std::string& device, const DriveIdentity& id,
                  const std::string& label, const std::string& why) {
    hooks_.say(device + ": left alone: " + why);
    CustodyRecord r = Record("left alone", device, label, id, hooks_.now());
    r.result = why;
    Log(r);
    ++summary_->left_alone;
  }

  void Consider(const std::string& name) {
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
    if (run_) {
      for (const WatchDrive& w : run_->drives) {
        if (w.label == d.label) {
          // Pulled and plugged in again while its run goes on (that run
          // will find it gone): looked at once the run ended.
          if (std::find(later_.begin(), later_.end(), name) == later_.end()) {
            hooks_.say(device + ": drive " + d.label +
                       " is in the running run (as " + w.device +
                       "): looked at when that run ends");
            later_.push_back(name);
          }
          return;
        }
      }
    }
    for (const WatchDrive& w : waiting_) {
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
      CustodyRecord r = Record("failed", device, d.label, id, w.plugged);
      r.done = hooks_.now();
      r.result = "not mounted: " + s.message();
      Log(r);
      Worsen(2);
      return;
    }
    waiting_.push_back(std::move(w));
    last_plugged_ = Clock::now();
  }

  static std::string Labels(const std::vector<WatchDrive>& drives) {
    std::string labels;
    for (const WatchDrive& w : drives) {
      labels += (labels.empty() ? "" : ", ") + w.label;
    }
    return labels;
  }

  // A run of the drives waiting (those a restart carried over first).
  void StartRun() {
    run_ = std::make_unique<ActiveRun>();
    run_->drives = std::move(waiting_);
    waiting_.clear();
    hooks_.say("ingesting " + Labels(run_->drives));
    ++summary_->ingests;
    ActiveRun* r = run_.get();
    r->thread = std::thread([this, r] {
      r->codes = hooks_.ingest(r->drives, &r->stop);
      r->done.store(true);
      if (hooks_.run_ended) hooks_.run_ended();
    });
  }

  // Waits for the run to end. Its drives are finished, except those a
  // restart interrupted: they wait (still mounted) for the next run.
  void FinishRun() {
    std::unique_ptr<ActiveRun> r = std::move(run_);
    r->thread.join();
    r->codes.resize(r->drives.size(), 2);  // a result not given: trouble
    const bool restart = r->restart && !Cancelled();
    std::vector<WatchDrive> carried;
    for (size_t i = 0; i < r->drives.size(); ++i) {
      if (restart && r->codes[i] == 130) {
        carried.push_back(std::move(r->drives[i]));
      } else {
        Finish(r->drives[i], r->codes[i]);
      }
    }
    waiting_.insert(waiting_.begin(), std::make_move_iterator(carried.begin()),
                    std::make_move_iterator(carried.end()));
    if (!Cancelled() && carried.size() < r->drives.size()) {
      hooks_.report_needed();
    }
  }

  // A drive done with: unmounted, logged, said.
  void Finish(const WatchDrive& w, int code) {
    Worsen(code);
    if (code == 130) summary_->interrupted = true;
    Status s = hooks_.mounter->Unmount(w.mount);
    if (!s.ok()) hooks_.say(w.device + ": not unmounted: " + s.message());
    CustodyRecord r = Record("ingested", w.device, w.label, w.id, w.plugged);
    r.done = hooks_.now();
    r.result = ExitResultWord(code);
    r.exit_code = code;
    Log(r);
    hooks_.say("drive " + w.label + " (" + w.device + "): " + r.result +
               (s.ok() ? "; unmounted, it can be unplugged"
                       : "; still mounted at " + w.mount));
    if (code == 0 || code == 1) ++summary_->drives_ingested;
  }

  using Clock = std::chrono::steady_clock;
  // The run going on, on its own thread.
  struct ActiveRun {
    std::vector<WatchDrive> drives;
    std::thread thread;
    std::vector<int> codes;  // written by the thread before `done`
    std::atomic<bool> done{false};
    std::atomic<bool> stop{false};
    bool restart = false;  // stopped to take the waiting drives in
  };

  const ShipmentDrives& drives_;
  const WatchOptions& opt_;
  const WatchHooks& hooks_;
  WatchSummary* summary_;
  std::unique_ptr<ActiveRun> run_;
  std::vector<WatchDrive> waiting_;  // mounted, for the next run
  std::vector<std::string> later_;   // devices of drives in run_
  Clock::time_point last_plugged_;   // when the last of waiting_ came
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
