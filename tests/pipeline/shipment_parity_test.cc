// valise status of a packed shipment (issue 18): parity counts as a way to
// complete it. Checked against what ingest actually does: the drives
// status says to plug in together complete the shipment in one run, and
// fewer (files already in DEST standing in for a drive) do not.
#include "pipeline/shipment_parity.h"

#include <algorithm>

#include "pipeline/packed_shipment.h"
#include "support/test_util.h"
#include "valise/drives.h"
#include "valise/shipment.h"

namespace valise {
namespace {

using test::PackedDrives;
using test::PackedSizes;

std::vector<std::string> Labels(const ShipmentStatus& st,
                                const std::vector<uint32_t>& idx) {
  std::vector<std::string> out;
  for (uint32_t i : idx) out.push_back(st.drives[i].label);
  return out;
}

struct PackedShipment {
  PackedShipment() : p(3, 1, 11, PackedSizes()) {
    EXPECT_VALISE_OK(LoadShipmentDrives(&p.disk, "out/M", p.manifest, &drives));
  }

  // Ingests `given` into "dest" (with the pack's parity when `parity`),
  // leaving the run record as the CLI does (labels: M.drives' own).
  void Ingest(const std::vector<std::string>& given, bool parity,
              const std::string& started) {
    std::unique_ptr<PackParity> pack;
    PipelineOptions opt = p.Options(&pack);
    if (!parity) opt.pack = nullptr;
    IngestOptions io;
    io.commit_batch = 3;
    RunReport r;
    ASSERT_VALISE_OK(
        IngestDrives(&p.disk, p.manifest, given, "dest", opt, io, &r));
    r.started = started;
    ASSERT_VALISE_OK(
        SaveRunRecord(&p.disk, "dest", RunRecordOf(r, "dc", started, given)));
  }

  ShipmentStatus Status() {
    ShipmentStatus st;
    EXPECT_VALISE_OK(ComputeShipmentStatus(&p.disk, p.manifest, &drives, "dest",
                                           &st, &p.layout));
    return st;
  }

  PackedDrives p;
  ShipmentDrives drives;
};

// Goal: a 3+1 pack arriving drive by drive. Before anything arrived, the
// three data drives are needed (parity saves nothing: 2 data + 1 parity
// are as many). With d1 and d2 in, d3 is needed (parity alone cannot
// stand in: its stripes would lose d3 and p1). Once p1 has been read
// too, d3 is "not needed: parity covers it", and d1, d2, p1 must be
// plugged in together: ingesting p1 again alone (d1's and d2's files
// being in DEST already) leaves d3's files missing, as status says it
// would; ingesting the drives it names completes the shipment.
TEST(ShipmentParity, ParityCoversADriveOnlyWithTheDrivesItNeedsTogether) {
  PackedShipment sh;
  ShipmentStatus st = sh.Status();
  std::vector<std::string> needed = Labels(st, st.needed);
  std::sort(needed.begin(), needed.end());
  EXPECT_EQ(needed, (std::vector<std::string>{"d1", "d2", "d3"}));
  EXPECT_TRUE(st.covered.empty());
  EXPECT_FALSE(st.together);
  EXPECT_TRUE(st.drives[3].parity);

  sh.Ingest({"d1", "d2"}, false, "2026-12-06T01:00:00Z");
  st = sh.Status();
  EXPECT_EQ(Labels(st, st.needed), (std::vector<std::string>{"d3"}));
  EXPECT_TRUE(st.covered.empty());

  sh.Ingest({"p1"}, false, "2026-12-06T02:00:00Z");
  st = sh.Status();
  EXPECT_EQ(Labels(st, st.covered), (std::vector<std::string>{"d3"}));
  EXPECT_EQ(Labels(st, st.needed),
            (std::vector<std::string>{"d1", "d2", "p1"}));
  EXPECT_TRUE(st.together);
  const std::string text = FormatShipmentStatus(st, sh.p.manifest, "M", "dest");
  EXPECT_NE(text.find("d3 is not needed: parity covers it"), std::string::npos)
      << text;
  EXPECT_NE(text.find("bring together, in one ingest run: d1, d2, p1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("d3               covered"), std::string::npos) << text;
  const std::string json =
      FormatShipmentStatusJson(st, sh.p.manifest, "M", "dest");
  EXPECT_NE(json.find(R"("covered_by_parity": [
  "d3"
 ])"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("needed_together": true)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("state": "parity",
   "parity": true)"),
            std::string::npos)
      << json;

  // p1 alone: the staged files of d1 and d2 are no stripe members.
  const uint64_t missing = st.bytes_missing;
  ASSERT_GT(missing, 0u);
  sh.Ingest({"p1"}, true, "2026-12-06T03:00:00Z");
  st = sh.Status();
  EXPECT_EQ(st.bytes_missing, missing);
  // The drives status names, together: complete.
  std::vector<std::string> given = Labels(st, st.needed);
  sh.Ingest(given, true, "2026-12-06T04:00:00Z");
  st = sh.Status();
  EXPECT_TRUE(st.missing.empty())
      << FormatShipmentStatus(st, sh.p.manifest, "M", "dest");
  EXPECT_TRUE(st.needed.empty());
}

// A manifest of `sizes` ("f0", "f1", ...) and a layout of 3 data drives
// and 1 parity drive holding them as `on` says, chunk 4096.
struct Synthetic {
  Synthetic(const std::vector<uint64_t>& sizes,
            const std::vector<uint32_t>& on) {
    DigestSet set;
    set.Add(DigestType::kXxh128);
    m = Manifest(set);
    auto h = Hasher::New(DigestType::kXxh128);
    const Digest any = h->Finish();
    layout.chunk_size = 4096;
    layout.data.resize(3);
    layout.parity.resize(1);
    for (size_t i = 0; i < sizes.size(); ++i) {
      const std::string path = "f" + std::to_string(i);
      m.Add(path, sizes[i], 0, {any});
      DataDriveLayout& d = layout.data[on[i]];
      d.files.push_back({path, sizes[i]});
      d.bytes += sizes[i];
      d.chunks += PackChunksOf(sizes[i], 4096);
    }
    EXPECT_VALISE_OK(m.Finish());
    drives.entries = m.size();
    for (uint32_t i = 0; i < 4; ++i) {
      ShipmentDrive d;
      d.label = i < 3 ? "ship-0" + std::to_string(i + 1) : "ship-par";
      d.pack_role = i < 3 ? PackRole::kData : PackRole::kParity;
      d.pack_index = i < 3 ? i + 1 : 1;
      drives.drives.push_back(d);
      st.drives.emplace_back();
      st.drives.back().label = d.label;
    }
  }
  Manifest m;
  PackLayout layout;
  ShipmentDrives drives;
  ShipmentStatus st;
};

// Goal: the first stripe of the missing files decides, and a data drive
// with no chunk that far contributes known zeros: ship-03's missing file
// lies past stripe 5, where ship-02 (2 chunks) has none, so ship-01 and
// the parity drive are enough together. A missing file from stripe 0
// would need ship-02 too. Nothing at hand: no plan, status as before.
TEST(ShipmentParity, DrivesWithNoChunkThatFarAreNotNeeded) {
  const uint64_t c = 4096;
  // ship-01: 10 chunks; ship-02: 2; ship-03: f3 (5 chunks) then f4 (5).
  Synthetic s({10 * c, 2 * c, 0, 5 * c, 5 * c}, {0, 1, 0, 2, 2});
  s.st.missing = {uint64_t(s.m.Find("f4"))};
  EXPECT_FALSE(PlanParityCover(s.layout, s.drives, s.m, &s.st));
  for (int i : {0, 1, 3}) s.st.drives[i].runs = {"earlier: ok"};
  ASSERT_TRUE(PlanParityCover(s.layout, s.drives, s.m, &s.st));
  EXPECT_EQ(Labels(s.st, s.st.covered), (std::vector<std::string>{"ship-03"}));
  EXPECT_EQ(Labels(s.st, s.st.needed),
            (std::vector<std::string>{"ship-01", "ship-par"}));

  s.st.missing = {uint64_t(s.m.Find("f3")), uint64_t(s.m.Find("f4"))};
  ASSERT_TRUE(PlanParityCover(s.layout, s.drives, s.m, &s.st));
  EXPECT_EQ(Labels(s.st, s.st.needed),
            (std::vector<std::string>{"ship-01", "ship-02", "ship-par"}));

  // The parity drive never read: ship-03 is needed, no plan.
  s.st.drives[3].runs.clear();
  s.st.needed = {2};
  s.st.covered.clear();
  s.st.together = false;
  EXPECT_FALSE(PlanParityCover(s.layout, s.drives, s.m, &s.st));
  EXPECT_EQ(s.st.needed, (std::vector<uint32_t>{2}));
  EXPECT_TRUE(s.st.covered.empty());
}

}  // namespace
}  // namespace valise
