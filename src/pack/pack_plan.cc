// Plan of a pack: what the dataset holds, whether the drives given can
// take it, and the layout (src/pack/layout.cc) over them.
//
// The drives are checked before anything is written, because packing
// onto the wrong thing destroys data or ships less than it claims:
//   - each is an existing directory (a mounted file system);
//   - each is empty (an empty lost+found, which mkfs.ext4 makes, is
//     allowed): pack never mixes a shipment with what was on a drive;
//   - no two are on the same file system, and none is on a dataset's: two
//     "drives" that are one device would be lost together, and parity
//     that shares a device with its data protects nothing;
//   - together they have room: each drive's free space (times
//     PackOptions::fill) bounds the files placed on it, each parity drive
//     must hold one chunk per stripe.
#include <algorithm>

#include "pipeline/scan.h"
#include "valise/pack_job.h"

namespace valise {

namespace {

std::string Basename(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const size_t slash = path.rfind('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  return base.empty() ? path : base;
}

// The drive is an empty directory (an empty lost+found aside).
Status CheckEmpty(FileSystem* fs, const std::string& root) {
  std::vector<DirEntry> entries;
  VALISE_RETURN_IF_ERROR(fs->ListDir(root, &entries));
  for (const DirEntry& e : entries) {
    if (e.name == "lost+found" && e.type == FileType::kDirectory) {
      std::vector<DirEntry> inside;
      Status s = fs->ListDir(root + "/lost+found", &inside);
      if (s.ok() && inside.empty()) continue;
    }
    return Status::InvalidArgument(
        root, "not empty (holds " + EscapeTerminalPath(e.name) +
                  "): valise pack writes only onto empty drives");
  }
  return Status::OK();
}

// Scans the datasets into one sorted list of files; a path found in two
// datasets is refused (the manifest can hold it once).
Status ScanDatasets(FileSystem* fs, const std::vector<std::string>& datasets,
                    std::vector<DriveScan>* scans,
                    std::vector<std::pair<size_t, size_t>>* files,
                    PackPlan* plan) {
  *scans = ScanDrives(fs, datasets);
  for (DriveScan& s : *scans) {
    VALISE_RETURN_IF_ERROR(s.status);
    if (!s.errors.empty()) {
      return Status::IOError(
          s.drive.source,
          "could not be scanned whole; first: " + s.errors.front());
    }
    for (FileResult& r : s.skipped) plan->skipped.push_back(std::move(r));
  }
  for (size_t d = 0; d < scans->size(); ++d) {
    for (size_t i = 0; i < (*scans)[d].files.size(); ++i) {
      files->push_back({d, i});
    }
  }
  auto rel = [&](const std::pair<size_t, size_t>& f) -> const std::string& {
    return (*scans)[f.first].files[f.second].rel;
  };
  std::stable_sort(
      files->begin(), files->end(),
      [&](const auto& a, const auto& b) { return rel(a) < rel(b); });
  for (size_t i = 1; i < files->size(); ++i) {
    if (rel((*files)[i - 1]) == rel((*files)[i])) {
      return Status::InvalidArgument(
          DrivePath((*scans)[(*files)[i].first].drive, rel((*files)[i])),
          "is also in " + datasets[(*files)[i - 1].first] +
              ": a path may be packed once");
    }
  }
  return Status::OK();
}

// Checks every drive and measures its room.
Status CheckDrives(FileSystem* fs, const std::vector<std::string>& drives,
                   const std::vector<DriveScan>& scans, const PackOptions& opt,
                   bool require_empty, std::vector<uint64_t>* capacity) {
  std::vector<uint64_t> devices;
  for (const DriveScan& s : scans) devices.push_back(s.drive.info.device);
  for (size_t i = 0; i < drives.size(); ++i) {
    const std::string& root = drives[i];
    FileInfo info;
    VALISE_RETURN_IF_ERROR(fs->Stat(root, &info));
    if (info.type != FileType::kDirectory) {
      return Status::InvalidArgument(
          root, std::string("is a ") + FileTypeName(info.type) +
                    ": give the mount point of an empty file system");
    }
    for (size_t j = 0; j < i; ++j) {
      FileInfo other;
      if (fs->Stat(drives[j], &other).ok() && other.device == info.device) {
        return Status::InvalidArgument(
            root, "is on the same file system as " + drives[j] +
                      ": each drive must be a file system of its own");
      }
    }
    for (size_t d = 0; d < devices.size(); ++d) {
      if (devices[d] == info.device) {
        return Status::InvalidArgument(
            root, "is on the same file system as the dataset " +
                      scans[d].drive.source);
      }
    }
    if (require_empty) VALISE_RETURN_IF_ERROR(CheckEmpty(fs, root));
    std::unique_ptr<Directory> dir;
    VALISE_RETURN_IF_ERROR(fs->OpenDirectory(root, false, &dir));
    uint64_t bytes = 0, inodes = 0;
    VALISE_RETURN_IF_ERROR(dir->FreeSpace(&bytes, &inodes));
    capacity->push_back(static_cast<uint64_t>(double(bytes) * opt.fill));
  }
  return Status::OK();
}

}  // namespace

namespace {

// What PlanPack and PlanResume share: the drives split into data and
// parity, the datasets scanned into manifest order, the drives checked.
Status ScanAndCheck(FileSystem* fs, const std::vector<std::string>& datasets,
                    const std::vector<std::string>& drives,
                    const PackOptions& opt, bool require_empty,
                    std::vector<DriveScan>* scans,
                    std::vector<std::pair<size_t, size_t>>* files,
                    PackPlan* plan) {
  *plan = PackPlan();
  plan->datasets = datasets;
  if (datasets.empty()) {
    return Status::InvalidArgument("pack", "no dataset given");
  }
  if (drives.size() <= opt.parity) {
    return Status::InvalidArgument(
        "--drives", std::to_string(drives.size()) + " drives for " +
                        std::to_string(opt.parity) +
                        " parity drives: at least one data drive is needed");
  }
  const size_t k = drives.size() - opt.parity;
  plan->data_roots.assign(drives.begin(), drives.begin() + k);
  plan->parity_roots.assign(drives.begin() + k, drives.end());
  VALISE_RETURN_IF_ERROR(ScanDatasets(fs, datasets, scans, files, plan));
  for (const auto& [d, i] : *files) {
    const ScannedFile& f = (*scans)[d].files[i];
    plan->entry_paths.push_back(f.rel);
    plan->entry_sizes.push_back(f.info.size);
  }
  return CheckDrives(fs, drives, *scans, opt, require_empty, &plan->capacity);
}

// Where each file of the layout comes from.
void FillSources(const std::vector<DriveScan>& scans,
                 const std::vector<std::pair<size_t, size_t>>& files,
                 PackPlan* plan) {
  const size_t k = plan->layout.data.size();
  plan->sources.assign(k, {});
  for (size_t d = 0; d < k; ++d) {
    for (const PackFile& f : plan->layout.data[d].files) {
      auto it = std::lower_bound(plan->entry_paths.begin(),
                                 plan->entry_paths.end(), f.path);
      const size_t entry = static_cast<size_t>(it - plan->entry_paths.begin());
      const auto& [ds, i] = files[entry];
      const ScannedFile& sf = scans[ds].files[i];
      plan->sources[d].push_back(PackSource{DrivePath(scans[ds].drive, sf.rel),
                                            sf.info.mode, sf.info.mtime_ns,
                                            entry});
    }
  }
}

}  // namespace

Status PlanPack(FileSystem* fs, const std::vector<std::string>& datasets,
                const std::vector<std::string>& drives, const PackOptions& opt,
                bool require_empty, PackPlan* plan) {
  // 1. The dataset in manifest order; the drives and their room.
  std::vector<DriveScan> scans;
  std::vector<std::pair<size_t, size_t>> files;
  VALISE_RETURN_IF_ERROR(ScanAndCheck(fs, datasets, drives, opt, require_empty,
                                      &scans, &files, plan));
  // 2. The layout.
  const size_t k = plan->data_roots.size();
  std::vector<PackFile> pack_files;
  for (size_t e = 0; e < plan->entry_paths.size(); ++e) {
    pack_files.push_back({plan->entry_paths[e], plan->entry_sizes[e]});
  }
  LayoutPlanOptions lo;
  lo.data_drives = static_cast<uint32_t>(k);
  lo.parity_drives = opt.parity;
  lo.chunk_size = opt.chunk_size;
  lo.segment_bytes = opt.segment_bytes;
  lo.data_capacity.assign(plan->capacity.begin(), plan->capacity.begin() + k);
  lo.parity_capacity.assign(plan->capacity.begin() + k, plan->capacity.end());
  for (const std::string& r : plan->data_roots) {
    lo.data_labels.push_back(Basename(r));
  }
  for (const std::string& r : plan->parity_roots) {
    lo.parity_labels.push_back(Basename(r));
  }
  VALISE_RETURN_IF_ERROR(PlanLayout(pack_files, lo, &plan->layout));
  // 3. Where each placed file comes from.
  FillSources(scans, files, plan);
  return Status::OK();
}

Status CheckFitsRawDrives(FileSystem* fs,
                          const std::vector<std::string>& datasets,
                          const std::vector<uint64_t>& drive_bytes,
                          const PackOptions& opt) {
  if (datasets.empty()) {
    return Status::InvalidArgument("pack", "no dataset given");
  }
  if (drive_bytes.size() <= opt.parity) {
    return Status::InvalidArgument(
        "--drives", std::to_string(drive_bytes.size()) + " drives for " +
                        std::to_string(opt.parity) +
                        " parity drives: at least one data drive is needed");
  }
  PackPlan plan;
  std::vector<DriveScan> scans;
  std::vector<std::pair<size_t, size_t>> files;
  VALISE_RETURN_IF_ERROR(ScanDatasets(fs, datasets, &scans, &files, &plan));
  std::vector<PackFile> pack_files;
  for (const auto& [d, i] : files) {
    const ScannedFile& f = scans[d].files[i];
    pack_files.push_back({f.rel, f.info.size});
  }
  const size_t k = drive_bytes.size() - opt.parity;
  LayoutPlanOptions lo;
  lo.data_drives = static_cast<uint32_t>(k);
  lo.parity_drives = opt.parity;
  lo.chunk_size = opt.chunk_size;
  lo.segment_bytes = opt.segment_bytes;
  lo.data_capacity.assign(drive_bytes.begin(), drive_bytes.begin() + k);
  lo.parity_capacity.assign(drive_bytes.begin() + k, drive_bytes.end());
  PackLayout layout;
  Status s = PlanLayout(pack_files, lo, &layout);
  if (s.IsNoSpace()) {
    return Status::NoSpace("--drives",
                           "the dataset would not fit even on every byte of "
                           "the devices, so none was formatted: " +
                               s.message());
  }
  return s;
}

Status PlanResume(FileSystem* fs, const std::vector<std::string>& datasets,
                  const std::vector<std::string>& drives,
                  const PackLayout& layout, const PackOptions& opt,
                  PackPlan* plan) {
  if (drives.size() != layout.k() + layout.m() || opt.parity != layout.m()) {
    return Status::InvalidArgument(
        "--drives", "the interrupted pack had " + std::to_string(layout.k()) +
                        " data and " + std::to_string(layout.m()) +
                        " parity drives; give the same drives, in the same "
                        "order, with the same --parity");
  }
  std::vector<DriveScan> scans;
  std::vector<std::pair<size_t, size_t>> files;
  VALISE_RETURN_IF_ERROR(
      ScanAndCheck(fs, datasets, drives, opt, false, &scans, &files, plan));
  // The dataset must be the one the layout was made of.
  std::vector<std::pair<std::string_view, uint64_t>> laid;
  for (const DataDriveLayout& d : layout.data) {
    for (const PackFile& f : d.files) laid.push_back({f.path, f.size});
  }
  std::sort(laid.begin(), laid.end());
  for (size_t i = 0; i < std::max(laid.size(), plan->entry_paths.size()); ++i) {
    if (i >= laid.size() || i >= plan->entry_paths.size() ||
        laid[i].first != plan->entry_paths[i]) {
      const std::string path =
          i < plan->entry_paths.size() &&
                  (i >= laid.size() || plan->entry_paths[i] < laid[i].first)
              ? plan->entry_paths[i] + " is in the dataset but was not"
              : std::string(laid[i].first) + " was packed but is not";
      return Status::InvalidArgument(
          "resume", path +
                        " in the interrupted pack's plan: the dataset "
                        "changed; empty the drives and start again");
    }
    if (laid[i].second != plan->entry_sizes[i]) {
      return Status::InvalidArgument(
          "resume", plan->entry_paths[i] +
                        ": its size changed since the interrupted pack began; "
                        "empty the drives and start again");
    }
  }
  plan->layout = layout;
  FillSources(scans, files, plan);
  return Status::OK();
}

}  // namespace valise
