#include "valise/pack_mkfs.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "valise/sim_disk.h"

namespace valise {
namespace {

// A blank block device.
MkfsDeviceFacts Blank(const std::string& path, uint32_t minor) {
  MkfsDeviceFacts f;
  f.path = path;
  f.exists = true;
  f.block_device = true;
  f.major = 7;
  f.minor = minor;
  return f;
}

MkfsRecord Record() {
  MkfsRecord r;
  r.fs_type = "ext4";
  r.drives = {{"ship-01", "11111111-1111-4111-8111-111111111111"},
              {"ship-02", "22222222-2222-4222-8222-222222222222"}};
  return r;
}

// Holds the ext4 file system the record says this pack made at `place`.
MkfsDeviceFacts Ours(const std::string& path, size_t place) {
  MkfsDeviceFacts f = Blank(path, static_cast<uint32_t>(place));
  f.fs_type = "ext4";
  f.fs_uuid = Record().drives[place].uuid;
  f.fs_label = Record().drives[place].label;
  return f;
}

TEST(DecideMkfs, BlankDeviceIsFormatted) {
  const MkfsDecision d =
      DecideMkfs(Blank("/dev/sdb", 0), 0, Record(), false, false);
  EXPECT_EQ(d.action, MkfsAction::kFormat);
}

TEST(DecideMkfs, NotABlockDeviceIsRefused) {
  MkfsDeviceFacts f = Blank("/mnt/ship1", 0);
  f.block_device = false;
  MkfsDecision d = DecideMkfs(f, 0, Record(), false, true);
  EXPECT_EQ(d.action, MkfsAction::kRefuse);
  EXPECT_NE(d.why.find("not a block device"), std::string::npos) << d.why;
  f.exists = false;
  d = DecideMkfs(f, 0, Record(), false, true);
  EXPECT_EQ(d.action, MkfsAction::kRefuse);
  EXPECT_NE(d.why.find("does not exist"), std::string::npos) << d.why;
}

TEST(DecideMkfs, MountedOrBusyIsRefusedEvenWithForce) {
  for (int c = 0; c < 3; ++c) {
    // Even a blank-looking device, even our own file system.
    MkfsDeviceFacts f = c == 2 ? Ours("/dev/sdb", 0) : Blank("/dev/sdb", 0);
    if (c == 0) f.mounted_at = "/media/x";
    if (c == 1) f.busy = true;
    if (c == 2) f.holders = {"dm-0"};
    const MkfsDecision d = DecideMkfs(f, 0, Record(), true, true);
    EXPECT_EQ(d.action, MkfsAction::kRefuse) << c;
    EXPECT_NE(d.why.find("even with --mkfs-force"), std::string::npos) << d.why;
  }
  MkfsDeviceFacts f = Blank("/dev/sdb", 0);
  f.mounted_at = "/media/x";
  EXPECT_NE(DecideMkfs(f, 0, Record(), false, false).why.find("/media/x"),
            std::string::npos);
}

TEST(DecideMkfs, ASignatureOrPartitionTableNeedsForce) {
  std::vector<MkfsDeviceFacts> cases(4, Blank("/dev/sdb", 0));
  cases[0].fs_type = "ext4";
  cases[0].fs_uuid = "abcd";
  cases[0].fs_label = "photos";
  cases[1].partition_table = "gpt";
  cases[2].partitions = {"sdb1"};
  cases[3].fs_type = "LVM2_member";
  for (const MkfsDeviceFacts& f : cases) {
    MkfsDecision d = DecideMkfs(f, 0, Record(), false, false);
    EXPECT_EQ(d.action, MkfsAction::kRefuse);
    EXPECT_NE(d.why.find("--mkfs-force"), std::string::npos) << d.why;
    d = DecideMkfs(f, 0, Record(), false, true);
    EXPECT_EQ(d.action, MkfsAction::kFormat) << d.why;
  }
  const MkfsDecision d = DecideMkfs(cases[0], 0, Record(), false, false);
  EXPECT_NE(d.why.find("ext4"), std::string::npos) << d.why;
  EXPECT_NE(d.why.find("photos"), std::string::npos) << d.why;
}

TEST(DecideMkfs, OurOwnFileSystemIsResumedNeverFormatted) {
  for (bool force : {false, true}) {
    const MkfsDecision d =
        DecideMkfs(Ours("/dev/sdc", 1), 1, Record(), true, force);
    EXPECT_EQ(d.action, MkfsAction::kResume) << d.why;
  }
  // Without the record (a new pack), the same file system is a stranger's.
  EXPECT_EQ(DecideMkfs(Ours("/dev/sdc", 1), 1, Record(), false, false).action,
            MkfsAction::kRefuse);
}

TEST(DecideMkfs, OurFileSystemInAnotherPlaceOrChangedIsRefused) {
  MkfsDecision d = DecideMkfs(Ours("/dev/sdc", 1), 0, Record(), true, true);
  EXPECT_EQ(d.action, MkfsAction::kRefuse);
  EXPECT_NE(d.why.find("for drive 2"), std::string::npos) << d.why;
  MkfsDeviceFacts relabelled = Ours("/dev/sdc", 1);
  relabelled.fs_label = "other";
  d = DecideMkfs(relabelled, 1, Record(), true, true);
  EXPECT_EQ(d.action, MkfsAction::kRefuse) << d.why;
  MkfsDeviceFacts retyped = Ours("/dev/sdc", 1);
  retyped.fs_type = "xfs";
  EXPECT_EQ(DecideMkfs(retyped, 1, Record(), true, true).action,
            MkfsAction::kRefuse);
}

TEST(DecideMkfs, AProbeErrorIsRefused) {
  MkfsDeviceFacts f = Blank("/dev/sdb", 0);
  f.probe_error = "open: Input/output error";
  const MkfsDecision d = DecideMkfs(f, 0, Record(), false, true);
  EXPECT_EQ(d.action, MkfsAction::kRefuse);
  EXPECT_NE(d.why.find("Input/output error"), std::string::npos) << d.why;
}

TEST(DecideAllMkfs, OneRefusalRefusesTheRunNamingEach) {
  std::vector<MkfsDeviceFacts> facts = {Blank("/dev/sdb", 0),
                                        Blank("/dev/sdc", 1)};
  facts[1].fs_type = "xfs";
  std::vector<MkfsDecision> d;
  Status s = DecideAllMkfs(facts, Record(), false, false, &d);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(d[0].action, MkfsAction::kFormat);
  EXPECT_EQ(d[1].action, MkfsAction::kRefuse);
  EXPECT_NE(s.message().find("/dev/sdc holds an xfs signature"),
            std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("nothing was formatted"), std::string::npos);
  EXPECT_TRUE(DecideAllMkfs(facts, Record(), false, true, &d).ok());
}

TEST(DecideAllMkfs, OneDeviceUnderTwoNamesIsRefused) {
  std::vector<MkfsDeviceFacts> facts = {Blank("/dev/sdb", 0),
                                        Blank("/dev/disk/by-id/x", 0)};
  std::vector<MkfsDecision> d;
  Status s = DecideAllMkfs(facts, Record(), false, true, &d);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(d[1].action, MkfsAction::kRefuse);
  EXPECT_NE(s.message().find("same device as /dev/sdb"), std::string::npos)
      << s.message();
}

TEST(MkfsLabels, StemOfTheManifestAndPlace) {
  EXPECT_EQ(MkfsLabels("/x/ship.vm", "ext4", 3),
            (std::vector<std::string>{"ship-01", "ship-02", "ship-03"}));
  // xfs labels hold 12 bytes, ext4 16.
  EXPECT_EQ(MkfsLabels("a-very-long-name.vm", "xfs", 1)[0], "a-very-lo-01");
  EXPECT_EQ(MkfsLabels("a-very-long-name.vm", "ext4", 1)[0],
            "a-very-long-n-01");
  EXPECT_EQ(MkfsLabels("sh ip$.vm", "ext4", 1)[0], "sh_ip_-01");
  EXPECT_EQ(MkfsLabels("", "ext4", 1)[0], "drive-01");
  EXPECT_EQ(MkfsLabels("s.vm", "ext4", 120)[119], "s-120");
}

TEST(MkfsRecord, RoundTripAndRefusals) {
  MkfsRecord r;
  ASSERT_TRUE(ParseMkfsRecord(WriteMkfsRecord(Record()), "M.mkfs", &r).ok());
  EXPECT_EQ(r.fs_type, "ext4");
  ASSERT_EQ(r.drives.size(), 2u);
  EXPECT_EQ(r.drives[1].label, "ship-02");
  EXPECT_EQ(r.drives[1].uuid, Record().drives[1].uuid);
  for (std::string bad :
       {std::string(""), std::string("valise-pack-mkfs 2\n"),
        std::string("valise-pack-mkfs 1\ntype ext4\n"),
        std::string("valise-pack-mkfs 1\ntype ntfs\ndrive a b\n"),
        std::string("valise-pack-mkfs 1\ntype ext4\ndrive a b c\n"),
        WriteMkfsRecord(Record()).substr(0, 40)}) {
    Status s = ParseMkfsRecord(bad, "M.mkfs", &r);
    EXPECT_TRUE(s.IsInvalidArgument()) << bad;
    EXPECT_NE(s.message().find("M.mkfs"), std::string::npos);
  }
}

// A system of devices in memory: what each holds, what was formatted and
// mounted, in the order it happened.
class FakeMkfs final : public MkfsSystem {
 public:
  FakeMkfs(FileSystem* fs, std::string record) : fs_(fs), record_(record) {}

  void Probe(const std::string& device, MkfsDeviceFacts* out) override {
    auto it = devices.find(device);
    *out = it == devices.end() ? MkfsDeviceFacts() : it->second;
    out->path = device;
  }
  Status Format(const std::string& device, const std::string& type,
                const std::string& label, const std::string& uuid,
                bool overwrite) override {
    // The record is durable before any mkfs.
    std::string text;
    EXPECT_TRUE(fs_->ReadSmallFile(record_, &text).ok());
    log.push_back("format " + device + (overwrite ? " -F" : ""));
    if (fail_format == device) return Status::IOError(device, "mkfs failed");
    MkfsDeviceFacts& f = devices[device];
    f.fs_type = type;
    f.fs_label = label;
    f.fs_uuid = uuid;
    f.partition_table.clear();
    return Status::OK();
  }
  Status MakeMountRoot(std::string* dir) override {
    *dir = "/run/root";
    dirs.insert(*dir);
    return Status::OK();
  }
  Status Mount(const std::string& device, const std::string&,
               const std::string& dir) override {
    if (fail_mount == device) return Status::IOError("mount " + device, "no");
    log.push_back("mount " + device + " " + dir);
    mounted.insert(dir);
    return Status::OK();
  }
  Status Unmount(const std::string& dir) override {
    log.push_back("umount " + dir);
    mounted.erase(dir);
    return Status::OK();
  }
  Status RemoveDir(const std::string& dir) override {
    dirs.erase(dir);
    return Status::OK();
  }
  std::string NewUuid() override {
    return "00000000-0000-4000-8000-00000000000" + std::to_string(++uuids_);
  }

  std::map<std::string, MkfsDeviceFacts> devices;
  std::vector<std::string> log;
  std::set<std::string> mounted, dirs;
  std::string fail_format, fail_mount;

 private:
  FileSystem* fs_;
  std::string record_;
  int uuids_ = 0;
};

class PrepareMkfs : public ::testing::Test {
 protected:
  PrepareMkfs() : disk_(SimDiskOptions{}), sys_(&disk_, "/out/ship.vm.mkfs") {
    std::unique_ptr<Directory> d;
    EXPECT_TRUE(disk_.OpenDirectory("/out", true, &d).ok());
    for (uint32_t i = 0; i < 3; ++i) {
      const std::string dev = "/dev/loop" + std::to_string(i);
      sys_.devices[dev] = Blank(dev, i);
      devices_.push_back(dev);
    }
    opt_.manifest = "/out/ship.vm";
  }

  bool RecordExists() {
    FileInfo info;
    return disk_.Stat("/out/ship.vm.mkfs", &info).ok();
  }

  SimDisk disk_;
  FakeMkfs sys_;
  std::vector<std::string> devices_;
  MkfsOptions opt_;
  std::vector<MkfsDrive> drives_;
  std::unique_ptr<MkfsDrives> mounted_;
};

TEST_F(PrepareMkfs, FormatsRecordsMountsThenUnmountsAll) {
  ASSERT_TRUE(
      MkfsDrives::Prepare(&disk_, &sys_, devices_, opt_, &drives_, &mounted_)
          .ok());
  ASSERT_NE(mounted_, nullptr);
  EXPECT_EQ(mounted_->mount_points(),
            (std::vector<std::string>{"/run/root/ship-01", "/run/root/ship-02",
                                      "/run/root/ship-03"}));
  EXPECT_EQ(sys_.log[0], "format /dev/loop0");
  EXPECT_EQ(sys_.log[3], "mount /dev/loop0 /run/root/ship-01");
  EXPECT_EQ(sys_.devices["/dev/loop2"].fs_label, "ship-03");
  EXPECT_TRUE(RecordExists());
  ASSERT_TRUE(mounted_->Finish(false).ok());
  EXPECT_TRUE(sys_.mounted.empty());
  EXPECT_TRUE(sys_.dirs.empty());
  EXPECT_TRUE(RecordExists());  // not sealed: kept for the rerun
}

TEST_F(PrepareMkfs, ARerunMountsItsOwnFileSystemsWithoutFormatting) {
  ASSERT_TRUE(
      MkfsDrives::Prepare(&disk_, &sys_, devices_, opt_, &drives_, &mounted_)
          .ok());
  const std::string uuid = sys_.devices["/dev/loop1"].fs_uuid;
  ASSERT_TRUE(mounted_->Finish(false).ok());
  sys_.log.clear();
  for (bool force : {false, true}) {
    opt_.force = force;
    ASSERT_TRUE(
        MkfsDrives::Prepare(&disk_, &sys_, devices_, opt_, &drives_, &mounted_)
            .ok());
    for (const std::string& l : sys_.log) {
      EXPECT_EQ(l.find("format"), std::string::npos) << l;
    }
    EXPECT_EQ(drives_[1].decision.action, MkfsAction::kResume);
    EXPECT_EQ(sys_.devices["/dev/loop1"].fs_uuid, uuid);
    EXPECT_EQ(sys_.mounted.size(), 3u);
    // The first rerun is cut short again; the second seals.
    ASSERT_TRUE(mounted_->Finish(force).ok());
  }
  EXPECT_FALSE(RecordExists());  // sealed: removed
}

TEST_F(PrepareMkfs, ACrashBetweenTwoFormatsFormatsOnlyTheRest) {
  sys_.fail_format = "/dev/loop1";
  EXPECT_FALSE(
      MkfsDrives::Prepare(&disk_, &sys_, devices_, opt_, &drives_, &mounted_)
          .ok());
  EXPECT_EQ(mounted_, nullptr);
  const std::string uuid0 = sys_.devices["/dev/loop0"].fs_uuid;
  sys_.fail_format.clear();
  sys_.log.clear();
  ASSERT_TRUE(
      MkfsDrives::Prepare(&disk_, &sys_, devices_, opt_, &drives_, &mounted_)
          .ok());
  EXPECT_EQ(sys_.log[0], "format /dev/loop1");
  EXPECT_EQ(sys_.log[1], "format /dev/loop2");
  EXPECT_EQ(sys_.devices["/dev/loop0"].fs_uuid, uuid0);
  ASSERT_TRUE(mounted_->Finish(true).ok());
}

TEST_F(PrepareMkfs, OneRefusedDeviceFormatsNothing) {
  sys_.devices["/dev/loop2"].fs_type = "ext4";
  sys_.devices["/dev/loop2"].fs_uuid = "feed";
  Status s =
      MkfsDrives::Prepare(&disk_, &sys_, devices_, opt_, &drives_, &mounted_);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("/dev/loop2"), std::string::npos) << s.message();
  EXPECT_TRUE(sys_.log.empty());
  EXPECT_FALSE(RecordExists());
  // --mkfs-force: formatted over (-F), the others as blank devices.
  opt_.force = true;
  ASSERT_TRUE(
      MkfsDrives::Prepare(&disk_, &sys_, devices_, opt_, &drives_, &mounted_)
          .ok());
  EXPECT_EQ(sys_.log[0], "format /dev/loop0");
  EXPECT_EQ(sys_.log[2], "format /dev/loop2 -F");
  ASSERT_TRUE(mounted_->Finish(true).ok());
}

TEST_F(PrepareMkfs, AFailedCheckFormatsNothing) {
  std::vector<uint64_t> seen;
  opt_.check = [&](const std::vector<MkfsDeviceFacts>& facts) {
    for (const MkfsDeviceFacts& f : facts) seen.push_back(f.minor);
    return Status::NoSpace("--drives", "does not fit");
  };
  Status s =
      MkfsDrives::Prepare(&disk_, &sys_, devices_, opt_, &drives_, &mounted_);
  EXPECT_TRUE(s.IsNoSpace()) << s.message();
  EXPECT_EQ(seen, (std::vector<uint64_t>{0, 1, 2}));
  EXPECT_TRUE(sys_.log.empty());
  EXPECT_FALSE(RecordExists());
  // Not called when nothing is to be formatted (every drive resumed).
  opt_.check = nullptr;
  ASSERT_TRUE(
      MkfsDrives::Prepare(&disk_, &sys_, devices_, opt_, &drives_, &mounted_)
          .ok());
  ASSERT_TRUE(mounted_->Finish(false).ok());
  bool called = false;
  opt_.check = [&](const std::vector<MkfsDeviceFacts>&) {
    called = true;
    return Status::OK();
  };
  ASSERT_TRUE(
      MkfsDrives::Prepare(&disk_, &sys_, devices_, opt_, &drives_, &mounted_)
          .ok());
  EXPECT_FALSE(called);
  ASSERT_TRUE(mounted_->Finish(true).ok());
}

TEST_F(PrepareMkfs, ADryRunDecidesAndWritesNothing) {
  sys_.devices["/dev/loop1"].mounted_at = "/mnt/x";
  opt_.dry_run = true;
  EXPECT_FALSE(
      MkfsDrives::Prepare(&disk_, &sys_, devices_, opt_, &drives_, &mounted_)
          .ok());
  ASSERT_EQ(drives_.size(), 3u);
  EXPECT_EQ(drives_[0].decision.action, MkfsAction::kFormat);
  EXPECT_EQ(drives_[1].decision.action, MkfsAction::kRefuse);
  sys_.devices["/dev/loop1"].mounted_at.clear();
  EXPECT_TRUE(
      MkfsDrives::Prepare(&disk_, &sys_, devices_, opt_, &drives_, &mounted_)
          .ok());
  EXPECT_EQ(mounted_, nullptr);
  EXPECT_TRUE(sys_.log.empty());
  EXPECT_FALSE(RecordExists());
}

TEST_F(PrepareMkfs, AFailedMountUnmountsWhatWasMounted) {
  sys_.fail_mount = "/dev/loop2";
  Status s =
      MkfsDrives::Prepare(&disk_, &sys_, devices_, opt_, &drives_, &mounted_);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/dev/loop2"), std::string::npos);
  EXPECT_TRUE(sys_.mounted.empty());
  EXPECT_TRUE(sys_.dirs.empty());
  EXPECT_EQ(sys_.log.back(), "umount /run/root/ship-01");
}

TEST_F(PrepareMkfs, DestroyingUnfinishedDrivesUnmountsThem) {
  ASSERT_TRUE(
      MkfsDrives::Prepare(&disk_, &sys_, devices_, opt_, &drives_, &mounted_)
          .ok());
  mounted_.reset();  // an error path out of the pack
  EXPECT_TRUE(sys_.mounted.empty());
  EXPECT_TRUE(sys_.dirs.empty());
}

TEST_F(PrepareMkfs, ARerunWithAnotherTypeOrCountIsRefused) {
  ASSERT_TRUE(
      MkfsDrives::Prepare(&disk_, &sys_, devices_, opt_, &drives_, &mounted_)
          .ok());
  ASSERT_TRUE(mounted_->Finish(false).ok());
  sys_.log.clear();
  opt_.fs_type = "xfs";
  Status s =
      MkfsDrives::Prepare(&disk_, &sys_, devices_, opt_, &drives_, &mounted_);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("--mkfs ext4"), std::string::npos) << s.message();
  opt_.fs_type = "ext4";
  devices_.pop_back();
  EXPECT_TRUE(
      MkfsDrives::Prepare(&disk_, &sys_, devices_, opt_, &drives_, &mounted_)
          .IsInvalidArgument());
  EXPECT_TRUE(sys_.log.empty());
}

}  // namespace
}  // namespace valise
