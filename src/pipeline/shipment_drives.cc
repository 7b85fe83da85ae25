// The drives of a shipment as `valise manifest` records them, and M.drives
// loaded back once checked against M (valise/drives.h). Here, not in
// src/format, because both read through FileSystem and a DriveProber.
#include <algorithm>

#include "pipeline/scan.h"
#include "valise/drives.h"
#include "valise/sidecar.h"

namespace valise {

namespace {

std::string LastComponent(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

Status IdentifySources(DriveProber* prober,
                       const std::vector<std::string>& sources,
                       std::vector<DriveIdentity>* ids) {
  ids->assign(sources.size(), DriveIdentity());
  for (size_t i = 0; i < sources.size(); ++i) {
    VALISE_RETURN_IF_ERROR(prober->Identify(sources[i], &(*ids)[i]));
  }
  // A drive given twice: refused (its files would count twice).
  std::vector<int> drive_of;
  return MatchShipmentDrives(ShipmentDrives(), sources, *ids, &drive_of,
                             /*twice_only=*/true);
}

Status DescribeShipmentDrives(const Manifest& m,
                              const std::vector<std::string>& sources,
                              const std::vector<DriveIdentity>& ids,
                              const std::vector<std::vector<EntryRun>>& runs_of,
                              const std::vector<std::string>& labels,
                              ShipmentDrives* out) {
  *out = ShipmentDrives();
  out->entries = m.size();
  for (size_t i = 0; i < sources.size(); ++i) {
    ShipmentDrive d;
    d.source = sources[i];
    d.id = ids[i];
    if (i < labels.size() && !labels[i].empty()) {
      d.label = labels[i];
    } else if (!ids[i].fs_label.empty()) {
      d.label = ids[i].fs_label;
    } else {
      d.label = LastComponent(sources[i]);
    }
    d.runs = runs_of[i];
    for (const auto& [first, count] : d.runs) {
      d.files += count;
      for (uint64_t e = first; e < first + count; ++e)
        d.bytes += m.file_size(e);
    }
    out->drives.push_back(std::move(d));
  }
  // Labels name drives in status and messages: two alike would confuse.
  // The operator's own must differ; a default one that repeats another
  // gets its SRC's number ("data#2").
  for (size_t i = 0; i < out->drives.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (out->drives[i].label != out->drives[j].label) continue;
      if (i < labels.size() && !labels[i].empty()) {
        return Status::InvalidArgument(
            "--label", "'" + labels[i] + "' is given to " + sources[j] +
                           " and " + sources[i] + ": give each drive its own");
      }
      out->drives[i].label += "#" + std::to_string(i + 1);
      break;
    }
  }
  return Status::OK();
}

Status LoadShipmentDrives(FileSystem* fs, const std::string& manifest_path,
                          const Manifest& m, ShipmentDrives* out) {
  std::string data;
  VALISE_RETURN_IF_ERROR(LoadBoundSidecar(fs, manifest_path, m, kDrivesSidecar,
                                          kMaxDrivesSidecarBytes, &data));
  const std::string name = SidecarPath(manifest_path, kDrivesSidecar);
  VALISE_RETURN_IF_ERROR(ParseShipmentDrives(data, name, out));
  if (out->entries != m.size()) {
    return Status::InvalidArgument(
        name, "describes " + std::to_string(out->entries) + " entries, but " +
                  manifest_path + " has " + std::to_string(m.size()));
  }
  return Status::OK();
}

Status CheckArrivedSource(FileSystem* fs, const std::string& source,
                          const Manifest& m, const FsProbeFn& probe) {
  Drive drive;
  if (!OpenDrive(fs, source, &drive).ok()) return Status::OK();
  if (drive.kind == Drive::Kind::kDirectory) {
    std::vector<DirEntry> entries;
    if (fs->ListDir(drive.path, &entries).ok() && entries.empty() &&
        m.size() > 0) {
      return Status::InvalidArgument(
          source,
          "is empty: is its drive mounted? mount the drive there, or give "
          "its mount point");
    }
    return Status::OK();
  }
  if (drive.kind != Drive::Kind::kBlockDevice || m.size() == 1) {
    return Status::OK();
  }
  FsProbe fsp;
  if (!probe(drive.path, &fsp).ok() || fsp.type.empty()) return Status::OK();
  std::string what = fsp.type;
  if (!fsp.label.empty()) {
    what += " '" + fsp.label + "'";
  } else if (!fsp.uuid.empty()) {
    what += " (UUID " + fsp.uuid + ")";
  }
  return Status::InvalidArgument(source,
                                 "holds " + what +
                                     ": mount it, or give its mount point (a "
                                     "block device is read raw, as one image)");
}

}  // namespace valise
