// The drives of a shipment (issue 14): M.drives records which drive each
// SRC of `valise manifest` was and which files it holds; the system
// prober reads sysfs and the superblock through fakes; ingest matches SRCs
// to it. On the simulated disk.
#include <sys/stat.h>

#include <map>

#include "support/pipeline_util.h"
#include "support/test_util.h"
#include "valise/drives.h"
#include "valise/pipeline.h"
#include "valise/sidecar.h"
#include "valise/sim_disk.h"

namespace valise {
namespace {

constexpr size_t kChunk = 64 << 10;

// A prober answering from a table (source -> identity).
class FakeProber final : public DriveProber {
 public:
  std::map<std::string, DriveIdentity> ids;
  Status Identify(const std::string& source, DriveIdentity* out) override {
    auto it = ids.find(source);
    if (it == ids.end()) return Status::NotFound(source, "no such drive");
    *out = it->second;
    return Status::OK();
  }
};

DriveIdentity Whole(std::string uuid, std::string label,
                    std::string serial = "") {
  DriveIdentity id;
  id.whole = true;
  id.fs_uuid = std::move(uuid);
  id.fs_label = std::move(label);
  id.fs_type = "ext4";
  id.serial = std::move(serial);
  return id;
}

// d1 holds a and c, d2 holds b and c (the same bytes), d3 holds d.
std::unique_ptr<SimDisk> ThreeDrives() {
  SimDiskOptions o;
  o.seed = 14;
  auto disk = std::make_unique<SimDisk>(o);
  const std::string c = test::RandomBytes(kChunk + 3, 3);
  disk->AddFile("d1/a", test::RandomBytes(1000, 1), 1000);
  disk->AddFile("d1/c", c, 1000);
  disk->AddFile("d2/b", test::RandomBytes(2000, 2), 1000);
  disk->AddFile("d2/c", c, 1000);
  disk->AddFile("d3/d", test::RandomBytes(300, 4), 1000);
  return disk;
}

struct Made {
  Manifest m;
  ShipmentDrives drives;
};

Made MakeShipment(SimDisk* disk, FakeProber* prober,
                  const std::vector<std::string>& labels = {}) {
  const std::vector<std::string> sources = {"d1", "d2", "d3"};
  Made out;
  std::vector<DriveIdentity> ids;
  EXPECT_VALISE_OK(IdentifySources(prober, sources, &ids));
  ManifestSummary summary;
  EXPECT_VALISE_OK(MakeManifest(disk, sources, test::ShaXxh(),
                                test::SmallPipelineOptions(kChunk, 1), &out.m,
                                nullptr, &summary));
  EXPECT_VALISE_OK(DescribeShipmentDrives(
      out.m, sources, ids, summary.drive_runs, labels, &out.drives));
  return out;
}

FakeProber ThreeIds() {
  FakeProber p;
  p.ids["d1"] = Whole("uuid-1", "ship-01", "SER1");
  p.ids["d2"] = Whole("uuid-2", "ship-02");
  p.ids["d3"] = Whole("uuid-3", "");
  return p;
}

// Goal: M.drives says which drive holds which manifest entries (a path on
// two drives is held by both), names drives by label (the operator's, else
// the file system's, else the SRC's name), and survives a round trip.
TEST(ShipmentDrives, RecordsWhichDriveHoldsWhat) {
  auto disk = ThreeDrives();
  FakeProber prober = ThreeIds();
  Made made = MakeShipment(disk.get(), &prober, {"", "", ""});
  ASSERT_EQ(made.m.size(), 4u);  // a b c d
  ASSERT_EQ(made.drives.drives.size(), 3u);
  EXPECT_EQ(made.drives.drives[0].label, "ship-01");
  EXPECT_EQ(made.drives.drives[2].label, "d3");
  EXPECT_EQ(made.drives.drives[0].files, 2u);
  EXPECT_EQ(made.drives.drives[1].bytes, 2000u + kChunk + 3);
  const auto holders = HoldersByEntry(made.drives);
  EXPECT_EQ(holders[made.m.Find("a")], (std::vector<uint32_t>{0}));
  EXPECT_EQ(holders[made.m.Find("c")], (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(holders[made.m.Find("d")], (std::vector<uint32_t>{2}));

  const std::string text = WriteShipmentDrives(made.drives);
  ShipmentDrives back;
  ASSERT_VALISE_OK(ParseShipmentDrives(text, "M.drives", &back));
  EXPECT_EQ(back.entries, 4u);
  ASSERT_EQ(back.drives.size(), 3u);
  EXPECT_EQ(back.drives[0].id.serial, "SER1");
  EXPECT_EQ(back.drives[1].id.fs_uuid, "uuid-2");
  EXPECT_EQ(back.drives[1].runs, made.drives.drives[1].runs);
  EXPECT_EQ(WriteShipmentDrives(back), text);

  Made labelled = MakeShipment(disk.get(), &prober, {"east", "west", ""});
  EXPECT_EQ(labelled.drives.drives[0].label, "east");
}

// Goal: M.drives is used only once it matches M's binding: altered, it is
// refused naming both files; one describing another manifest is refused.
TEST(ShipmentDrives, LoadedOnlyAsBound) {
  auto disk = ThreeDrives();
  FakeProber prober = ThreeIds();
  Made made = MakeShipment(disk.get(), &prober);
  const std::string text = WriteShipmentDrives(made.drives);
  ASSERT_VALISE_OK(disk->WriteSmallFile("M.drives", text, 0644));
  made.m.Bind(kDrivesSidecar, BindingOf(text));
  ShipmentDrives loaded;
  ASSERT_VALISE_OK(LoadShipmentDrives(disk.get(), "M", made.m, &loaded));
  EXPECT_EQ(loaded.drives.size(), 3u);

  std::string altered = text;
  altered[altered.find("ship-02")] = 'S';
  ASSERT_VALISE_OK(disk->WriteSmallFile("M.drives", altered, 0644));
  Status s = LoadShipmentDrives(disk.get(), "M", made.m, &loaded);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("M.drives"), std::string::npos) << s.message();

  Manifest unbound;
  s = LoadShipmentDrives(disk.get(), "M", unbound, &loaded);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
}

// Goal: a malformed M.drives is refused with its name and what is wrong.
TEST(ShipmentDrives, ParseRefusesWhatItCannotTrust) {
  ShipmentDrives d;
  auto bad = [&](const std::string& text, const std::string& want) {
    Status s = ParseShipmentDrives(text, "M.drives", &d);
    EXPECT_FALSE(s.ok()) << text;
    EXPECT_NE(s.message().find(want), std::string::npos) << s.message();
  };
  bad("not json", "is not JSON");
  bad(R"({"format": "other", "version": 1})", "not a valise drives file");
  bad(R"({"format": "valise-drives", "version": 2, "entries": 1})",
      "version 2");
  const std::string head =
      R"({"format": "valise-drives", "version": 1, "entries": 4, "drives": [)";
  const std::string drive =
      R"({"label": "x", "device_bytes": 0, "bytes": 0, "files": )";
  bad(head + drive + R"(3, "runs": [[2, 3]]}]})", "past the manifest");
  bad(head + drive + R"(2, "runs": [[2, 1], [0, 1]]}]})", "out of order");
  bad(head + drive + R"(2, "runs": [[0, 1], [1, 1]]}]})", "out of order");
  bad(head + drive + R"(2, "runs": [[0, 1]]}]})", "files says 2");
  bad(head + drive + R"(1, "runs": [[0, 1]], "pack": {"role": "x", )" +
          R"("index": 1}}]})",
      "'pack' is not");
  bad(head + drive + R"(1, "runs": [[0, 1]], "pack": {"role": "data", )" +
          R"("index": 0}}]})",
      "'pack' is not");
  bad(head + drive + R"(1, "runs": [[0, 1]], "pack": {"role": "parity", )" +
          R"("index": 1}}]})",
      "a parity drive holds no manifest entries");
}

// Goal (issue 18): a packed shipment's drives carry their place in the
// layout ("pack": data I or parity J), written and read back; a drive of
// a file written before the field (or by `valise manifest`) reads as
// kNone, so version 1 stays readable both ways.
TEST(ShipmentDrives, PackRoleRoundTripsAndIsOptional) {
  ShipmentDrives d;
  d.entries = 2;
  ShipmentDrive data;
  data.label = "ship-01";
  data.runs = {{0, 2}};
  data.files = 2;
  data.pack_role = PackRole::kData;
  data.pack_index = 1;
  ShipmentDrive parity;
  parity.label = "ship-02";
  parity.pack_role = PackRole::kParity;
  parity.pack_index = 1;
  d.drives = {data, parity};
  const std::string text = WriteShipmentDrives(d);
  EXPECT_NE(text.find(R"("pack":{"role":"parity","index":1})"),
            std::string::npos)
      << text;
  ShipmentDrives back;
  ASSERT_VALISE_OK(ParseShipmentDrives(text, "M.drives", &back));
  ASSERT_EQ(back.drives.size(), 2u);
  EXPECT_EQ(back.drives[0].pack_role, PackRole::kData);
  EXPECT_EQ(back.drives[1].pack_role, PackRole::kParity);
  EXPECT_EQ(back.drives[1].pack_index, 1u);
  EXPECT_EQ(WriteShipmentDrives(back), text);
  // Without the field: not a pack's drive.
  d.drives[0].pack_role = PackRole::kNone;
  d.drives.pop_back();
  const std::string plain = WriteShipmentDrives(d);
  EXPECT_EQ(plain.find("pack"), std::string::npos) << plain;
  ASSERT_VALISE_OK(ParseShipmentDrives(plain, "M.drives", &back));
  EXPECT_EQ(back.drives[0].pack_role, PackRole::kNone);
}

// Goal: the same drive given twice is refused before anything is read,
// at the source (IdentifySources) and at ingest (MatchShipmentDrives),
// by UUID or by serial; a drive of no shipment is refused at ingest with
// what identifies it; a directory inside a file system is never matched.
TEST(ShipmentDrives, MatchRefusesForeignAndTwice) {
  auto disk = ThreeDrives();
  FakeProber prober = ThreeIds();
  Made made = MakeShipment(disk.get(), &prober);

  FakeProber twice = ThreeIds();
  twice.ids["d3"] = Whole("uuid-1", "copy");
  std::vector<DriveIdentity> ids;
  Status s = IdentifySources(&twice, {"d1", "d2", "d3"}, &ids);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("d3: is the same drive as d1"), std::string::npos)
      << s.message();

  std::vector<int> drive_of;
  ASSERT_VALISE_OK(MatchShipmentDrives(
      made.drives, {"/media/x", "/media/y"},
      {Whole("uuid-3", ""), Whole("", "", "SER1")}, &drive_of));
  EXPECT_EQ(drive_of, (std::vector<int>{2, 0}));

  s = MatchShipmentDrives(made.drives, {"/media/x", "/media/y"},
                          {Whole("uuid-2", ""), Whole("uuid-2", "")},
                          &drive_of);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("/media/y: is the same drive as /media/x"),
            std::string::npos)
      << s.message();

  s = MatchShipmentDrives(made.drives, {"/media/z"},
                          {Whole("uuid-9", "other-07")}, &drive_of);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("/media/z: ext4 file system UUID uuid-9 (label "
                             "'other-07') is not one of the shipment's 3 "
                             "drives"),
            std::string::npos)
      << s.message();

  DriveIdentity inside = Whole("uuid-9", "");
  inside.whole = false;  // a directory below a file system's root
  ASSERT_VALISE_OK(
      MatchShipmentDrives(made.drives, {"/srv/copy"}, {inside}, &drive_of));
  EXPECT_EQ(drive_of, (std::vector<int>{-1}));
}

// Goal: the system prober finds a block device's kernel name, reads its
// size, serial, WWN and model from sysfs (a partition's from its disk)
// and its file system from the superblock probe, all through the
// interfaces given (here the simulated disk and a fake probe); an image
// file and a directory inside a file system are not whole drives.
TEST(SystemDriveProber, ReadsSysfsAndSuperblockThroughFakes) {
  SimDiskOptions o;
  o.seed = 1;
  SimDisk disk(o);
  disk.AddSpecial("dev/sdb1", FileType::kBlockDevice);
  disk.AddSymlink("dev/disk/by-id/usb-X-part1", "/dev/sdb1");
  disk.AddSymlink("sys/class/block/sdb1", "/sys/devices/pci0/sdb/sdb1");
  disk.AddFile("sys/devices/pci0/sdb/sdb1/partition", "1\n", 1);
  disk.AddFile("sys/devices/pci0/sdb/sdb1/size", "2048\n", 1);
  disk.AddFile("sys/devices/pci0/sdb/device/serial", "  WD-123 \n", 1);
  disk.AddFile("sys/devices/pci0/sdb/device/model", "Ultrastar\n", 1);
  disk.AddFile("sys/devices/pci0/sdb/wwid", "naa.5000c500\n", 1);
  disk.AddFile("img/drive.img", "image", 1);
  disk.AddFile("data/x", "x", 1);
  std::vector<std::string> probed;
  auto prober = NewSystemDriveProber(
      &disk, "/sys", "/dev",
      [&](const std::string& device, FsProbe* out) -> Status {
        probed.push_back(device);
        out->uuid = "1b2c3d";
        out->label = "ship-07";
        out->type = "ext4";
        return Status::OK();
      });
  DriveIdentity id;
  ASSERT_VALISE_OK(prober->Identify("dev/disk/by-id/usb-X-part1", &id));
  EXPECT_TRUE(id.Identified());
  EXPECT_EQ(id.device, "sdb1");
  EXPECT_EQ(id.device_bytes, 2048u * 512);
  EXPECT_EQ(id.serial, "WD-123");
  EXPECT_EQ(id.model, "Ultrastar");
  EXPECT_EQ(id.wwn, "naa.5000c500");
  EXPECT_EQ(id.fs_uuid, "1b2c3d");
  EXPECT_EQ(id.fs_label, "ship-07");
  EXPECT_EQ(probed, (std::vector<std::string>{"/dev/sdb1"}));

  ASSERT_VALISE_OK(prober->Identify("img/drive.img", &id));
  EXPECT_FALSE(id.whole);
  ASSERT_VALISE_OK(prober->Identify("data", &id));
  EXPECT_FALSE(id.whole);  // same device as its parent
  EXPECT_EQ(probed.size(), 1u);

  // A superblock that cannot be read is trouble naming the SRC.
  auto failing = NewSystemDriveProber(
      &disk, "/sys", "/dev", [](const std::string& device, FsProbe*) {
        return Status::IOError(device, "read: Input/output error");
      });
  Status s = failing->Identify("dev/sdb1", &id);
  EXPECT_TRUE(s.IsIOError());
  EXPECT_NE(s.message().find("dev/sdb1"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace valise

namespace valise {
namespace {

Manifest EntriesOf(int n) {
  Manifest m;
  for (int i = 0; i < n; ++i) m.Add("f" + std::to_string(i), 1, 0, {});
  EXPECT_VALISE_OK(m.Finish());
  return m;
}

Status NoFileSystem(const std::string& device, FsProbe*) {
  return Status::NotFound(device, "no file system blkid knows");
}

// Item 2 of issue 14: an empty mount point is refused before anything is
// read; a drive with files, a missing SRC (the run's own error) pass. A
// block device holding a file system: tests/e2e/shipment_drives.sh.
TEST(CheckArrivedSource, AnEmptyMountPointIsRefused) {
  test::TempDir dir;
  dir.Write("full/f0", "x");
  ASSERT_EQ(0, mkdir((dir.path() + "/empty").c_str(), 0755));
  FileSystem* fs = FileSystem::Default();
  const Manifest m = EntriesOf(2);
  Status s = CheckArrivedSource(fs, dir.path() + "/empty", m, NoFileSystem);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.message();
  EXPECT_EQ(s.message(), dir.path() +
                             "/empty: is empty: is its drive mounted? mount "
                             "the drive there, or give its mount point");
  EXPECT_VALISE_OK(
      CheckArrivedSource(fs, dir.path() + "/full", m, NoFileSystem));
  EXPECT_VALISE_OK(
      CheckArrivedSource(fs, dir.path() + "/gone", m, NoFileSystem));
  // A manifest of nothing: an empty directory is all of it.
  EXPECT_VALISE_OK(CheckArrivedSource(fs, dir.path() + "/empty", EntriesOf(0),
                                      NoFileSystem));
}

}  // namespace
}  // namespace valise
