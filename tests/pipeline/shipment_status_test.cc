// valise status (issue 14): a shipment whose drives arrive over several
// runs, on the simulated disk. What arrived comes from DEST's journal,
// what went wrong from the run records, which drives are still needed
// from M.drives.
#include "support/pipeline_util.h"
#include "support/test_util.h"
#include "valise/drives.h"
#include "valise/pipeline.h"
#include "valise/shipment.h"
#include "valise/sim_disk.h"

namespace valise {
namespace {

constexpr size_t kChunk = 64 << 10;

PipelineOptions Options() { return test::SmallPipelineOptions(kChunk, 1); }

DriveIdentity Whole(std::string uuid) {
  DriveIdentity id;
  id.whole = true;
  id.fs_uuid = std::move(uuid);
  return id;
}

// Four drives: s1 {a, b}, s2 {c, shared}, s3 {d, shared}, s4 {e}.
struct Shipment {
  SimDisk disk;
  Manifest m;
  ShipmentDrives drives;
  const std::vector<std::string> sources = {"s1", "s2", "s3", "s4"};

  Shipment() : disk(SimDiskOptions{}) {
    const std::string shared = test::RandomBytes(kChunk + 9, 9);
    disk.AddFile("s1/a", test::RandomBytes(1000, 1), 1000);
    disk.AddFile("s1/b", test::RandomBytes(2 * kChunk, 2), 1000);
    disk.AddFile("s2/c", test::RandomBytes(3000, 3), 1000);
    disk.AddFile("s2/shared", shared, 1000);
    disk.AddFile("s3/d", test::RandomBytes(kChunk, 4), 1000);
    disk.AddFile("s3/shared", shared, 1000);
    disk.AddFile("s4/e", test::RandomBytes(500, 5), 1000);
    ManifestSummary summary;
    EXPECT_VALISE_OK(MakeManifest(&disk, sources, test::ShaXxh(), Options(), &m,
                                  nullptr, &summary));
    std::vector<DriveIdentity> ids = {Whole("u1"), Whole("u2"), Whole("u3"),
                                      Whole("u4")};
    EXPECT_VALISE_OK(DescribeShipmentDrives(
        m, sources, ids, summary.drive_runs,
        {"ship-01", "ship-02", "ship-03", "ship-04"}, &drives));
  }

  // Ingests `srcs` into "dest" and leaves the run record as the CLI does.
  RunReport Ingest(const std::vector<std::string>& srcs,
                   const std::vector<std::string>& labels,
                   const std::string& started) {
    RunReport r;
    EXPECT_VALISE_OK(
        IngestDrives(&disk, m, srcs, "dest", Options(), IngestOptions(), &r));
    r.started = started;
    EXPECT_VALISE_OK(SaveRunRecord(
        &disk, "dest", RunRecordOf(r, "dc-host-1", started, labels)));
    return r;
  }

  ShipmentStatus Status() {
    ShipmentStatus st;
    EXPECT_VALISE_OK(ComputeShipmentStatus(&disk, m, &drives, "dest", &st));
    return st;
  }
};

std::vector<std::string> Labels(const ShipmentStatus& st,
                                const std::vector<uint32_t>& idx) {
  std::vector<std::string> out;
  for (uint32_t i : idx) out.push_back(st.drives[i].label);
  return out;
}

// Goal: before anything arrived, every file is missing and the drives
// needed are a smallest set covering them (s2 or s3 holds "shared": both
// are needed anyway for c and d); after s1 and s2, only s3 and s4 are
// named; after all four, complete, exit 0.
TEST(ShipmentStatus, NamesTheDrivesStillNeeded) {
  Shipment sh;
  ShipmentStatus st = sh.Status();
  EXPECT_EQ(st.files_arrived, 0u);
  EXPECT_EQ(st.missing.size(), 6u);
  EXPECT_EQ(st.needed.size(), 4u);
  EXPECT_EQ(st.ExitCode(), 1);

  sh.Ingest({"s1", "s2"}, {"ship-01", "ship-02"}, "2026-12-06T01:00:00Z");
  st = sh.Status();
  EXPECT_EQ(st.files_arrived, 4u);   // a b c shared
  EXPECT_EQ(st.missing.size(), 2u);  // d e
  EXPECT_EQ(Labels(st, st.needed),
            (std::vector<std::string>{"ship-03", "ship-04"}));
  EXPECT_EQ(st.drives[2].files_missing, 1u);  // d; shared has arrived
  EXPECT_EQ(st.drives[0].files_missing, 0u);
  ASSERT_EQ(st.drives[0].runs.size(), 1u);
  EXPECT_EQ(st.drives[0].runs[0], "2026-12-06T01:00:00Z on dc-host-1: ok");
  EXPECT_TRUE(st.drives[3].runs.empty());
  const std::string text =
      FormatShipmentStatus(st, sh.m, "M", "dest", /*list_limit=*/20);
  EXPECT_NE(text.find("bring: ship-03, ship-04"), std::string::npos) << text;
  EXPECT_NE(text.find("arrived:  4 of 6 files"), std::string::npos) << text;
  // A row too long for 80 columns keeps its drive's label and the run's
  // result; the run's start is what gets cut (it lost the label).
  EXPECT_NE(text.find("\nship-01 "), std::string::npos) << text;
  EXPECT_NE(text.find("on dc-host-1: ok\n"), std::string::npos) << text;
  for (size_t start = 0, end; start < text.size(); start = end + 1) {
    end = text.find('\n', start);
    EXPECT_LE(end - start, 80u) << text.substr(start, end - start);
  }

  sh.Ingest({"s3", "s4"}, {"ship-03", "ship-04"}, "2026-12-07T01:00:00Z");
  st = sh.Status();
  EXPECT_TRUE(st.complete());
  EXPECT_EQ(st.ExitCode(), 0);
  EXPECT_TRUE(st.needed.empty());
  EXPECT_EQ(st.runs.size(), 2u);
}

// Goal: a corrupt copy is a problem named with the drive that carried it
// (its label) and the run, until the file arrives from another drive;
// the drive holding it stays needed (after ship-03, which holds the most
// missing bytes, and ship-02).
TEST(ShipmentStatus, CorruptCopyNamedWithItsDriveUntilRepaired) {
  Shipment sh;
  sh.disk.FlipStoredBit("s4/e", 100, 3);
  sh.Ingest({"s1", "s4"}, {"ship-01", "ship-04"}, "2026-12-06T01:00:00Z");
  ShipmentStatus st = sh.Status();
  ASSERT_EQ(st.problems.size(), 1u);
  EXPECT_EQ(st.problems[0].path, "e");
  EXPECT_EQ(st.problems[0].status, "corrupt");
  EXPECT_EQ(st.problems[0].drive, "ship-04");
  EXPECT_EQ(st.problems[0].run, "2026-12-06T01:00:00Z on dc-host-1");
  const std::string json = FormatShipmentStatusJson(st, sh.m, "M", "dest");
  EXPECT_NE(json.find("\"status\": \"corrupt\""), std::string::npos) << json;
  EXPECT_EQ(Labels(st, st.needed),
            (std::vector<std::string>{"ship-03", "ship-02", "ship-04"}));

  sh.disk.FlipStoredBit("s4/e", 100, 3);  // the drive, cleaned and resent
  sh.Ingest({"s4"}, {"ship-04"}, "2026-12-07T01:00:00Z");
  st = sh.Status();
  EXPECT_TRUE(st.problems.empty());
}

// Goal: a journal of another manifest's file under the same path is a
// problem ("mismatch"), not an arrival; a DEST with no state is a
// shipment nothing of which arrived; a torn journal tail is a note.
TEST(ShipmentStatus, JournalOfAnotherManifestIsNotAnArrival) {
  Shipment sh;
  ShipmentStatus st = sh.Status();
  EXPECT_EQ(st.files_arrived, 0u);
  EXPECT_TRUE(st.problems.empty());

  SimDisk& disk = sh.disk;
  disk.AddFile("other/a", "not the shipment's a", 1000);
  Manifest other;
  ManifestSummary summary;
  ASSERT_VALISE_OK(MakeManifest(&disk, {"other"}, test::ShaXxh(), Options(),
                                &other, nullptr, &summary));
  RunReport r;
  ASSERT_VALISE_OK(IngestDrives(&disk, other, {"other"}, "dest", Options(),
                                IngestOptions(), &r));
  std::string journal;
  ASSERT_VALISE_OK(
      disk.ReadSmallFile("dest/.valise/journal", &journal, size_t{1} << 20));
  ASSERT_VALISE_OK(
      disk.WriteSmallFile("dest/.valise/journal", journal + "\x05\0", 0600));
  st = sh.Status();
  EXPECT_EQ(st.files_arrived, 0u);
  ASSERT_EQ(st.problems.size(), 1u);
  EXPECT_EQ(st.problems[0].status, "mismatch");
  ASSERT_EQ(st.notes.size(), 1u);
  EXPECT_NE(st.notes[0].find("torn tail"), std::string::npos) << st.notes[0];
}

// Goal (issue 17): a directory DEST shared by hosts. A one-host run
// ingests s1 (DEST/.valise/journal); host h1 then ingests s1 and s2 and
// reads nothing of s1 again (trusted from the one-host journal); h2
// ingests s3, whose "shared" h1 committed (not read again). Status merges
// the one-host journal and each host's: what arrived, per host files
// and whether its run ended, where each drive was last seen (a host
// without a journal has no row).
TEST(ShipmentStatus, SharedDirectoryDestMergesEveryHostsJournal) {
  Shipment sh;
  sh.Ingest({"s1"}, {"ship-01"}, "2026-12-06T01:00:00Z");
  IngestOptions h1;
  h1.host = "h1";
  RunReport r1, r2;
  ASSERT_VALISE_OK(
      IngestDrives(&sh.disk, sh.m, {"s1", "s2"}, "dest", Options(), h1, &r1));
  EXPECT_EQ(r1.files_ok, 2u) << "c and shared read; a and b trusted";
  EXPECT_EQ(r1.files_rechecked, 0u);
  EXPECT_TRUE(sh.disk.Exists("dest/.valise/hosts/h1/journal"));
  IngestOptions h2;
  h2.host = "h2";
  ASSERT_VALISE_OK(
      IngestDrives(&sh.disk, sh.m, {"s3"}, "dest", Options(), h2, &r2));
  EXPECT_EQ(r2.files_ok, 1u) << "d read; shared committed by h1";
  EXPECT_EQ(r2.files_rechecked, 0u);
  // A host whose run was refused at open: a directory, no journal, no row.
  sh.disk.AddDir("dest/.valise/hosts/h0/staging");
  ShipmentStatus st = sh.Status();
  EXPECT_EQ(st.files_arrived, 5u);
  EXPECT_EQ(Labels(st, st.needed), std::vector<std::string>{"ship-04"});
  ASSERT_EQ(st.hosts.size(), 2u);
  EXPECT_EQ(st.hosts[0].name, "h1");
  EXPECT_EQ(st.hosts[0].files, 2u);  // c, shared
  EXPECT_TRUE(st.hosts[0].ended);
  EXPECT_EQ(st.hosts[0].last_run.size(), 20u) << st.hosts[0].last_run;
  EXPECT_EQ(st.hosts[1].name, "h2");
  EXPECT_EQ(st.hosts[1].files, 1u);  // d
  EXPECT_TRUE(st.hosts[1].ended);
  EXPECT_EQ(st.drives[1].seen_at, "h1");
  EXPECT_EQ(st.drives[2].seen_at, "h2");
}

}  // namespace
}  // namespace valise
