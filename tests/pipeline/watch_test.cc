// valise watch (issue 14): the loop on fakes (devices reported, identities,
// mounts, the ingest) and the polling device source on a sysfs of the
// test's own. The real thing, on loop devices: tests/e2e/watch.sh.
#include "valise/watch.h"

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "support/test_util.h"

namespace valise {
namespace {

// Which runs have ended: in step with the watch, a round of devices is
// reported only once the run going on has ended (the loop's sequence of
// the tests before runs had threads of their own), unless `overlap`.
struct RunGate {
  std::mutex mu;
  std::condition_variable cv;
  int started = 0, ended = 0;
  bool overlap = false;
  void Started() {
    std::lock_guard<std::mutex> l(mu);
    ++started;
  }
  void End() {
    std::lock_guard<std::mutex> l(mu);
    ++ended;
    cv.notify_all();
  }
  int Ended() {
    std::lock_guard<std::mutex> l(mu);
    return ended;
  }
  void AwaitQuiet() {
    std::unique_lock<std::mutex> l(mu);
    if (overlap) return;
    cv.wait(l, [&] { return ended == started; });
  }
};

// Reports scripted rounds of device names, then sets the cancel flag.
class FakeEvents final : public DeviceEvents {
 public:
  std::deque<std::vector<std::string>> rounds;
  std::atomic<bool>* cancel = nullptr;
  RunGate* gate = nullptr;
  // With overlap: rounds of nothing until `want_runs` runs have ended (at
  // most this many), then the stop.
  int empty_rounds_before_cancel = 0;
  int want_runs = 0;
  // At the Nth call (from 1), *release is set: what was reported before
  // has been looked at by then.
  std::atomic<bool>* release = nullptr;
  int release_at = 0, calls = 0;
  bool drained = false;
  Status Wait(int, std::vector<std::string>* names) override {
    gate->AwaitQuiet();
    if (release != nullptr && ++calls == release_at) release->store(true);
    names->clear();
    if (rounds.empty() && empty_rounds_before_cancel > 0 &&
        gate->Ended() < want_runs) {
      --empty_rounds_before_cancel;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      return Status::OK();
    }
    if (rounds.empty()) {
      // One round of nothing first: the loop takes the last run's result
      // (as it would before any stop came), then the stop.
      if (drained) cancel->store(true);
      drained = true;
      return Status::OK();
    }
    *names = rounds.front();
    rounds.pop_front();
    return Status::OK();
  }
  std::string Describe() const override { return "fake"; }
};

class FakeProber final : public DriveProber {
 public:
  std::map<std::string, DriveIdentity> ids;
  Status Identify(const std::string& source, DriveIdentity* out) override {
    auto it = ids.find(source);
    if (it == ids.end()) return Status::NotFound(source, "no such device");
    *out = it->second;
    return Status::OK();
  }
};

class FakeMounter final : public Mounter {
 public:
  std::mutex mu;  // the ingest (its own thread) looks at `mounted`
  std::map<std::string, std::string> mounted;  // dir -> device
  std::vector<std::string> log;
  std::string refuse;  // a device whose mount fails
  Status Mount(const std::string& device, const std::string& fs_type,
               const std::string& dir) override {
    if (device == refuse) return Status::IOError("mount " + device, "EIO");
    std::lock_guard<std::mutex> l(mu);
    log.push_back("mount " + device + " " + fs_type + " " + dir);
    mounted[dir] = device;
    return Status::OK();
  }
  Status Unmount(const std::string& dir) override {
    std::lock_guard<std::mutex> l(mu);
    log.push_back("umount " + dir);
    return mounted.erase(dir) ? Status::OK()
                              : Status::NotFound(dir, "not mounted");
  }
  bool IsMounted(const std::string& dir) {
    std::lock_guard<std::mutex> l(mu);
    return mounted.count(dir) == 1;
  }
};

DriveIdentity Ext4(std::string uuid, uint64_t bytes = 1 << 20) {
  DriveIdentity id;
  id.whole = true;
  id.fs_uuid = std::move(uuid);
  id.fs_type = "ext4";
  id.device_bytes = bytes;
  return id;
}

ShipmentDrives TwoDrives() {
  ShipmentDrives d;
  d.entries = 2;
  for (int i = 1; i <= 2; ++i) {
    ShipmentDrive s;
    s.label = "ship-0" + std::to_string(i);
    s.id = Ext4("uuid-" + std::to_string(i));
    s.runs = {{i - 1, 1}};
    s.files = 1;
    d.drives.push_back(s);
  }
  return d;
}

struct Harness {
  FakeEvents events;
  FakeProber prober;
  FakeMounter mounter;
  std::atomic<bool> cancel{false};
  std::mutex ingests_mu;
  std::vector<std::vector<std::string>> ingests;  // sources of each run
  std::vector<int> codes;                         // exit of each run
  std::vector<std::string> said, custody;
  int needed = 0;
  bool cancel_in_ingest = false;
  // With gate.overlap: a run lasts until told to stop (then 130 for each
  // drive), or, once it is the last run expected, returns at once.
  size_t runs_until_done = 0;
  std::atomic<bool> release{false};  // ends such a run as done (ok)
  RunGate gate;
  WatchHooks hooks;
  WatchOptions opt;

  Harness() {
    events.cancel = &cancel;
    events.gate = &gate;
    opt.mount_root = "/mnt/w";
    opt.host = "h";
    hooks.events = &events;
    hooks.prober = &prober;
    hooks.mounter = &mounter;
    hooks.cancel = &cancel;
    hooks.now = [] { return std::string("2026-12-06T08:00:00Z"); };
    hooks.say = [this](const std::string& l) {
      // Said on the loop's thread just before a run's thread starts.
      if (l.rfind("ingesting ", 0) == 0) gate.Started();
      said.push_back(l);
    };
    hooks.custody = [this](const std::string& l) {
      custody.push_back(l);
      return Status::OK();
    };
    hooks.report_needed = [this] { ++needed; };
    hooks.run_ended = [this] { gate.End(); };
    hooks.ingest = [this](const std::vector<WatchDrive>& batch,
                          const std::atomic<bool>* stop) {
      std::vector<std::string> srcs;
      for (const WatchDrive& w : batch) {
        // The drives are mounted while they are ingested.
        EXPECT_TRUE(mounter.IsMounted(w.mount)) << w.mount;
        srcs.push_back(w.mount);
      }
      size_t n;
      {
        std::lock_guard<std::mutex> l(ingests_mu);
        ingests.push_back(srcs);
        n = ingests.size();
      }
      if (gate.overlap && n < runs_until_done) {
        while (!stop->load() && !release.load()) {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        if (stop->load()) return std::vector<int>(batch.size(), 130);
      }
      if (cancel_in_ingest) cancel.store(true);
      // Each run: the next code, for the first drive; the others ok.
      std::vector<int> out(batch.size(), 0);
      out[0] = codes.empty() ? 0 : codes.front();
      if (!codes.empty()) codes.erase(codes.begin());
      return out;
    };
  }

  WatchSummary Run(const ShipmentDrives& d) {
    WatchSummary s;
    EXPECT_VALISE_OK(RunWatch(d, opt, hooks, &s));
    return s;
  }

  bool Said(const std::string& text) const {
    for (const std::string& l : said) {
      if (l.find(text) != std::string::npos) return true;
    }
    return false;
  }
};

TEST(Watch, IngestsADriveOfTheShipmentAndLeavesOthersAlone) {
  Harness h;
  h.prober.ids["/dev/loop1"] = Ext4("uuid-2");
  h.prober.ids["/dev/loop2"] = Ext4("uuid-other");
  h.prober.ids["/dev/loop3"] = Ext4("uuid-1", 0);  // detached: size 0
  DriveIdentity bare;  // a disk of partitions: no file system
  bare.whole = true;
  bare.device_bytes = 1 << 20;
  bare.serial = "SER";
  h.prober.ids["/dev/sda"] = bare;
  h.events.rounds = {{"sda", "loop2", "loop3"}, {"loop1"}};
  const WatchSummary s = h.Run(TwoDrives());
  ASSERT_EQ(h.ingests.size(), 1u);
  EXPECT_EQ(h.ingests[0], std::vector<std::string>{"/mnt/w/ship-02"});
  EXPECT_EQ(h.mounter.log,
            (std::vector<std::string>{"mount /dev/loop1 ext4 /mnt/w/ship-02",
                                      "umount /mnt/w/ship-02"}));
  EXPECT_TRUE(h.mounter.mounted.empty());
  EXPECT_EQ(s.drives_ingested, 1u);
  EXPECT_EQ(s.left_alone, 2u);  // sda and loop2; loop3 (empty) unsaid
  EXPECT_EQ(s.worst_exit, 0);
  EXPECT_FALSE(s.interrupted);
  EXPECT_TRUE(
      h.Said("/dev/loop2: left alone: ext4 file system UUID "
             "uuid-other is not one of the shipment's 2 drives"));
  EXPECT_TRUE(h.Said("/dev/sda: left alone: holds no file system"));
  EXPECT_FALSE(h.Said("loop3"));
  EXPECT_TRUE(h.Said("drive ship-02 (/dev/loop1): ok; unmounted"));
  EXPECT_EQ(h.needed, 2);  // at start and after the ingest
  ASSERT_EQ(h.custody.size(), 3u);
  EXPECT_EQ(h.custody[0],
            "{\"event\":\"left alone\",\"drive\":\"\",\"device\":\"/dev/sda\","
            "\"fs_uuid\":\"\",\"serial\":\"SER\",\"host\":\"h\",\"plugged\":"
            "\"2026-12-06T08:00:00Z\",\"result\":\"holds no file system\"}\n");
  EXPECT_EQ(h.custody[2],
            "{\"event\":\"ingested\",\"drive\":\"ship-02\",\"device\":"
            "\"/dev/loop1\",\"fs_uuid\":\"uuid-2\",\"serial\":\"\",\"host\":"
            "\"h\",\"plugged\":\"2026-12-06T08:00:00Z\",\"done\":"
            "\"2026-12-06T08:00:00Z\",\"result\":\"ok\",\"exit_code\":0}\n");
}

TEST(Watch, DrivesFoundTogetherAreIngestedInOneRun) {
  Harness h;
  h.prober.ids["/dev/loop1"] = Ext4("uuid-1");
  h.prober.ids["/dev/loop2"] = Ext4("uuid-2");
  h.prober.ids["/dev/loop4"] = Ext4("uuid-2");  // ship-02 again
  h.events.rounds = {{"loop1", "loop2", "loop4", "loop1"}};
  h.codes = {1};
  const WatchSummary s = h.Run(TwoDrives());
  ASSERT_EQ(h.ingests.size(), 1u);
  EXPECT_EQ(h.ingests[0],
            (std::vector<std::string>{"/mnt/w/ship-01", "/mnt/w/ship-02"}));
  EXPECT_TRUE(
      h.Said("/dev/loop4: left alone: is drive ship-02, which "
             "/dev/loop2 is already"));
  EXPECT_EQ(s.worst_exit, 1);
  EXPECT_TRUE(h.Said("drive ship-01 (/dev/loop1): problems"));
  EXPECT_TRUE(h.Said("drive ship-02 (/dev/loop2): ok"));
  EXPECT_TRUE(h.mounter.mounted.empty());
}

TEST(Watch, ADriveThatCannotBeMountedIsLoggedAndTheOthersGoOn) {
  Harness h;
  h.prober.ids["/dev/loop1"] = Ext4("uuid-1");
  h.prober.ids["/dev/loop2"] = Ext4("uuid-2");
  h.mounter.refuse = "/dev/loop1";
  h.events.rounds = {{"loop1", "loop2"}};
  const WatchSummary s = h.Run(TwoDrives());
  ASSERT_EQ(h.ingests.size(), 1u);
  EXPECT_EQ(h.ingests[0], std::vector<std::string>{"/mnt/w/ship-02"});
  EXPECT_TRUE(
      h.Said("/dev/loop1: drive ship-01 not mounted: mount /dev/loop1"));
  EXPECT_NE(h.custody[0].find("\"event\":\"failed\""), std::string::npos);
  EXPECT_EQ(s.worst_exit, 2);
}

TEST(Watch, AStopDuringAnIngestUnmountsAndSaysInterrupted) {
  Harness h;
  h.prober.ids["/dev/loop1"] = Ext4("uuid-1");
  h.events.rounds = {{"loop1"}, {"loop1"}};
  h.codes = {130};
  h.cancel_in_ingest = true;
  const WatchSummary s = h.Run(TwoDrives());
  EXPECT_EQ(h.ingests.size(), 1u);  // the second round never comes
  EXPECT_TRUE(s.interrupted);
  EXPECT_EQ(s.worst_exit, 130);
  EXPECT_TRUE(h.mounter.mounted.empty());
  EXPECT_NE(h.custody.back().find("\"result\":\"interrupted\""),
            std::string::npos);
  EXPECT_EQ(h.needed, 1);  // not said again once stopping
}

TEST(Watch, ADriveReattachedIsIngestedAgain) {
  Harness h;
  h.prober.ids["/dev/loop1"] = Ext4("uuid-1");
  h.events.rounds = {{"loop1"}, {}, {"loop1"}};
  h.codes = {1, 0};  // detached mid-read, then complete
  const WatchSummary s = h.Run(TwoDrives());
  ASSERT_EQ(h.ingests.size(), 2u);
  EXPECT_EQ(s.drives_ingested, 2u);
  EXPECT_EQ(s.worst_exit, 1);
}

TEST(Watch, ADrivePluggedDuringARunJoinsIt) {
  Harness h;
  h.gate.overlap = true;
  h.opt.settle_ms = 0;
  h.runs_until_done = 2;  // the first run lasts until it is stopped
  h.prober.ids["/dev/loop1"] = Ext4("uuid-1");
  h.prober.ids["/dev/loop2"] = Ext4("uuid-2");
  h.events.rounds = {{"loop1"}, {"loop2"}};
  h.events.empty_rounds_before_cancel = 400;  // 2 s at most for the rest
  h.events.want_runs = 2;
  const WatchSummary s = h.Run(TwoDrives());
  ASSERT_EQ(h.ingests.size(), 2u);
  EXPECT_EQ(h.ingests[0], std::vector<std::string>{"/mnt/w/ship-01"});
  EXPECT_EQ(h.ingests[1],
            (std::vector<std::string>{"/mnt/w/ship-01", "/mnt/w/ship-02"}));
  EXPECT_TRUE(h.Said("ship-02 joins the run of ship-01: that run stops"));
  // The restart is no drive's result: each drive is logged once, ok.
  ASSERT_EQ(h.custody.size(), 2u);
  for (const std::string& l : h.custody) {
    EXPECT_NE(l.find("\"result\":\"ok\""), std::string::npos) << l;
  }
  EXPECT_EQ(s.drives_ingested, 2u);
  EXPECT_EQ(s.worst_exit, 0);
  EXPECT_FALSE(s.interrupted);
  EXPECT_TRUE(h.mounter.mounted.empty());
}

TEST(Watch, ADrivePluggedAgainDuringItsRunIsLookedAtAfterIt) {
  Harness h;
  h.gate.overlap = true;
  h.runs_until_done = 2;  // the first run lasts until released
  h.events.release = &h.release;
  h.events.release_at = 3;  // once the second round was looked at
  h.prober.ids["/dev/loop1"] = Ext4("uuid-1");
  h.prober.ids["/dev/loop5"] = Ext4("uuid-1");  // ship-01, pulled, back
  h.codes = {1, 0};  // pulled mid-read: problems; then complete
  h.events.rounds = {{"loop1"}, {"loop5"}};
  h.events.empty_rounds_before_cancel = 400;
  h.events.want_runs = 2;
  const WatchSummary s = h.Run(TwoDrives());
  EXPECT_TRUE(
      h.Said("/dev/loop5: drive ship-01 is in the running run (as "
             "/dev/loop1): looked at when that run ends"));
  ASSERT_EQ(h.ingests.size(), 2u);
  EXPECT_EQ(h.ingests[1], std::vector<std::string>{"/mnt/w/ship-01"});
  EXPECT_TRUE(h.Said("drive ship-01 (/dev/loop1): problems"));
  EXPECT_TRUE(h.Said("drive ship-01 (/dev/loop5): ok"));
  EXPECT_EQ(s.drives_ingested, 2u);
  EXPECT_TRUE(h.mounter.mounted.empty());
}

TEST(Watch, ALabelIsOnePathComponent) {
  Harness h;
  ShipmentDrives d = TwoDrives();
  d.drives[0].label = "../a/b";
  h.prober.ids["/dev/loop1"] = Ext4("uuid-1");
  h.events.rounds = {{"loop1"}};
  h.Run(d);
  ASSERT_EQ(h.ingests.size(), 1u);
  EXPECT_EQ(h.ingests[0], std::vector<std::string>{"/mnt/w/_.._a_b"});
}

void SetSize(const test::TempDir& sys, const std::string& name,
             const std::string& sectors) {
  sys.Write("class/block/" + name + "/size", sectors + "\n");
}

TEST(PollingDeviceEvents, ReportsDevicesPresentThenThoseThatAppearOrChange) {
  test::TempDir sys;
  SetSize(sys, "sda", "1000");
  SetSize(sys, "loop0", "0");
  std::unique_ptr<DeviceEvents> ev =
      NewPollingDeviceEvents(FileSystem::Default(), sys.path(), 5);
  std::vector<std::string> names;
  // The first call: every device of non-zero size (the rescan at start).
  ASSERT_VALISE_OK(ev->Wait(0, &names));
  EXPECT_EQ(names, std::vector<std::string>{"sda"});
  // Nothing changed: nothing reported, however long it waits.
  ASSERT_VALISE_OK(ev->Wait(20, &names));
  EXPECT_TRUE(names.empty());
  // A loop device attached (size 0 -> 2048), a new disk.
  SetSize(sys, "loop0", "2048");
  SetSize(sys, "sdb", "4096");
  ASSERT_VALISE_OK(ev->Wait(20, &names));
  EXPECT_EQ(names, (std::vector<std::string>{"loop0", "sdb"}));
  // Detached: unsaid; attached again: reported again.
  SetSize(sys, "loop0", "0");
  ASSERT_VALISE_OK(ev->Wait(20, &names));
  EXPECT_TRUE(names.empty());
  SetSize(sys, "loop0", "2048");
  ASSERT_VALISE_OK(ev->Wait(20, &names));
  EXPECT_EQ(names, std::vector<std::string>{"loop0"});
  // Another image of the same size attached between two polls: a new
  // diskseq.
  sys.Write("class/block/loop0/diskseq", "7\n");
  ASSERT_VALISE_OK(ev->Wait(20, &names));
  EXPECT_EQ(names, std::vector<std::string>{"loop0"});
  // A partition (a link to a directory inside its disk's, as in sysfs):
  // its diskseq is its disk's, one directory up.
  sys.Write("devices/sdc/diskseq", "3\n");
  sys.Write("devices/sdc/sdc1/size", "100\n");
  ASSERT_EQ(0, symlink("../../devices/sdc/sdc1",
                       (sys.path() + "/class/block/sdc1").c_str()));
  ASSERT_VALISE_OK(ev->Wait(20, &names));
  EXPECT_EQ(names, std::vector<std::string>{"sdc1"});
  sys.Write("devices/sdc/diskseq", "4\n");
  ASSERT_VALISE_OK(ev->Wait(20, &names));
  EXPECT_EQ(names, std::vector<std::string>{"sdc1"});
  ASSERT_VALISE_OK(ev->Wait(20, &names));
  EXPECT_TRUE(names.empty());
  EXPECT_NE(ev->Describe().find("every 5 ms"), std::string::npos);
}

TEST(PollingDeviceEvents, AnUnreadableSysfsIsAnError) {
  test::TempDir sys;
  std::unique_ptr<DeviceEvents> ev =
      NewPollingDeviceEvents(FileSystem::Default(), sys.path() + "/missing", 5);
  std::vector<std::string> names;
  EXPECT_FALSE(ev->Wait(0, &names).ok());
}

TEST(CustodyLine, NonUtf8IsReplacedNotThrown) {
  CustodyRecord r;
  r.event = "left alone";
  r.label = "bad\xff";
  const std::string l = CustodyLine(r);
  EXPECT_EQ(l.back(), '\n');
  EXPECT_NE(l.find("\"drive\":\"bad\xEF\xBF\xBD\""), std::string::npos);
}

}  // namespace
}  // namespace valise
