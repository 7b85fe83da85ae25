// M.drives of a pack (DescribePackDrives in valise/pack_state.h): the same
// sidecar `valise manifest` writes, so that ingest, status and watch know
// a packed shipment's drives by their identity like any other shipment's,
// plus each drive's place in M.layout ("pack": data I or parity J), which
// is how `valise status` counts parity as a way to complete the shipment.
#include <algorithm>

#include "valise/pack_state.h"

namespace valise {

Status DescribePackDrives(const PackPlan& plan, const Manifest& m,
                          const std::vector<DriveIdentity>& ids,
                          ShipmentDrives* out,
                          const std::vector<std::string>& sources) {
  const PackLayout& l = plan.layout;
  std::vector<std::string> roots = plan.data_roots;
  roots.insert(roots.end(), plan.parity_roots.begin(), plan.parity_roots.end());
  if (!sources.empty()) {
    if (sources.size() != roots.size()) {
      return Status::InvalidArgument(
          "pack", std::to_string(sources.size()) + " drive sources for " +
                      std::to_string(roots.size()) + " drives");
    }
    roots = sources;
  }
  if (ids.size() != roots.size()) {
    return Status::InvalidArgument(
        "pack", std::to_string(ids.size()) + " drive identities for " +
                    std::to_string(roots.size()) + " drives");
  }
  // Each data drive's entries as runs of manifest indices (the manifest is
  // sorted by path, the layout is not).
  std::vector<std::vector<EntryRun>> runs_of(roots.size());
  for (uint32_t d = 0; d < l.k(); ++d) {
    std::vector<uint64_t> entries;
    for (const PackFile& f : l.data[d].files) {
      const int64_t e = m.Find(f.path);
      if (e < 0) {
        return Status::InvalidArgument(
            f.path, "is on data drive " + l.data[d].label +
                        " in the layout but not in the manifest");
      }
      entries.push_back(static_cast<uint64_t>(e));
    }
    std::sort(entries.begin(), entries.end());
    for (uint64_t e : entries) {
      auto& runs = runs_of[d];
      if (!runs.empty() && runs.back().first + runs.back().second == e) {
        ++runs.back().second;
      } else {
        runs.emplace_back(e, 1);
      }
    }
  }
  VALISE_RETURN_IF_ERROR(
      DescribeShipmentDrives(m, roots, ids, runs_of, {}, out));
  for (size_t i = 0; i < out->drives.size(); ++i) {
    const bool parity = i >= l.k();
    out->drives[i].pack_role = parity ? PackRole::kParity : PackRole::kData;
    out->drives[i].pack_index =
        static_cast<uint32_t>(parity ? i - l.k() + 1 : i + 1);
  }
  return Status::OK();
}

}  // namespace valise
