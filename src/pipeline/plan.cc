#include "pipeline/plan.h"

#include <algorithm>
#include <string_view>
#include <unordered_map>

namespace valise {

void MatchDrives(const Manifest& manifest, const std::vector<DriveScan>& scans,
                 Match* match) {
  const size_t n = manifest.size();
  // Count the copies of each entry, then fill: two passes keep the result
  // flat (16 bytes a copy) instead of a vector per entry.
  std::vector<std::vector<int64_t>> entry_of(scans.size());
  std::vector<uint64_t> count(n + 1, 0);
  for (size_t d = 0; d < scans.size(); ++d) {
    const DriveScan& scan = scans[d];
    entry_of[d].assign(scan.files.size(), -1);
    const bool image = scan.drive.kind != Drive::Kind::kDirectory;
    for (size_t i = 0; i < scan.files.size(); ++i) {
      int64_t e = manifest.Find(scan.files[i].rel);
      if (e < 0 && image && n == 1) e = 0;
      entry_of[d][i] = e;
      if (e >= 0) {
        ++count[e];
      } else {
        FileResult r;
        r.path = scan.files[i].rel;
        r.drive = static_cast<int>(d);
        r.status = FileStatus::kExtra;
        r.actual_size = scan.files[i].info.size;
        match->extra.push_back(std::move(r));
      }
    }
  }
  match->first.assign(n + 1, 0);
  for (size_t i = 0; i < n; ++i)
    match->first[i + 1] = match->first[i] + count[i];
  match->copies.assign(match->first[n], CopyRef{});
  std::vector<uint64_t> fill(match->first.begin(), match->first.end() - 1);
  for (size_t d = 0; d < scans.size(); ++d) {
    for (size_t i = 0; i < entry_of[d].size(); ++i) {
      int64_t e = entry_of[d][i];
      if (e < 0) continue;
      match->copies[fill[e]++] =
          CopyRef{static_cast<int>(d), static_cast<uint32_t>(i)};
    }
  }
}

void OrderByPhysicalOffset(FileSystem* fs, std::vector<ReadJob>* jobs) {
  constexpr uint64_t kUnknown = UINT64_MAX;
  std::vector<std::pair<uint64_t, size_t>> keys(jobs->size());
  for (size_t i = 0; i < jobs->size(); ++i) {
    uint64_t off = kUnknown;
    std::unique_ptr<File> f;
    ReadOptions ro;
    ro.direct = false;
    if (fs->OpenForRead((*jobs)[i].path, ro, &f).ok()) {
      if (!f->PhysicalOffset(&off).ok()) off = kUnknown;
    }
    keys[i] = {off, i};
  }
  std::stable_sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) {
    return a.first < b.first;
  });
  std::vector<ReadJob> sorted;
  sorted.reserve(jobs->size());
  for (const auto& k : keys) sorted.push_back(std::move((*jobs)[k.second]));
  *jobs = std::move(sorted);
}

}  // namespace valise
