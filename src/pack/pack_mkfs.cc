// valise pack --mkfs (valise/pack_mkfs.h): the record M.mkfs, the labels,
// the decision for each device (pure), and the preparation of the drives
// (probe all, decide, then record, format, mount) over a MkfsSystem.
#include "valise/pack_mkfs.h"

#include <algorithm>
#include <set>
#include <utility>

#include "valise/sidecar.h"

namespace valise {

namespace {

constexpr std::string_view kRecordHead = "valise-pack-mkfs 1";

std::string Basename(std::string_view path) {
  const size_t slash = path.find_last_of('/');
  return std::string(slash == std::string_view::npos ? path
                                                     : path.substr(slash + 1));
}

std::string Dirname(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool LabelChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '_';
}

// "a" or "an" before a type name as it is read: "an ext4", "an LVM2...",
// "a btrfs".
std::string Article(std::string_view word) {
  if (word.empty()) return "a";
  const char c = word[0];
  const bool vowel =
      std::string_view("aeioux").find(c) != std::string_view::npos ||
      std::string_view("AEIOUFHLMNRSX").find(c) != std::string_view::npos;
  return vowel ? "an" : "a";
}

// "an ext4 signature labelled 'ship-01' (uuid 1b2c...)": what a device
// holds, for messages.
std::string Holds(const MkfsDeviceFacts& f) {
  std::vector<std::string> parts;
  if (!f.partition_table.empty()) {
    parts.push_back(Article(f.partition_table) + " " + f.partition_table +
                    " partition table");
  }
  if (!f.partitions.empty()) {
    std::string p = "partitions";
    for (const std::string& name : f.partitions) p += " " + name;
    parts.push_back(p);
  }
  if (!f.fs_type.empty()) {
    std::string s = Article(f.fs_type) + " " + f.fs_type + " signature";
    if (!f.fs_label.empty()) s += " labelled '" + f.fs_label + "'";
    if (!f.fs_uuid.empty()) s += " (uuid " + f.fs_uuid + ")";
    parts.push_back(s);
  }
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    out += (i == 0 ? "" : i + 1 == parts.size() ? " and " : ", ") + parts[i];
  }
  return out;
}

MkfsDecision Refuse(std::string why) {
  return {MkfsAction::kRefuse, std::move(why)};
}

}  // namespace

bool IsMkfsType(std::string_view type) {
  return type == "ext4" || type == "xfs";
}

std::string WriteMkfsRecord(const MkfsRecord& r) {
  std::string out = std::string(kRecordHead) + "\ntype " + r.fs_type + "\n";
  for (const MkfsRecord::Drive& d : r.drives) {
    out += "drive " + d.label + " " + d.uuid + "\n";
  }
  return out;
}

Status ParseMkfsRecord(std::string_view text, std::string_view name,
                       MkfsRecord* out) {
  *out = MkfsRecord();
  size_t line_no = 0;
  auto bad = [&](std::string_view what) {
    return Status::InvalidArgument(
        std::string(name), "line " + std::to_string(line_no) + ": " +
                               std::string(what) + " (not a valise M.mkfs)");
  };
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    if (nl == std::string_view::npos) {
      ++line_no;
      return bad("cut short");
    }
    const std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    ++line_no;
    if (line_no == 1) {
      if (line != kRecordHead) return bad("unknown head");
      continue;
    }
    if (line.starts_with("type ")) {
      out->fs_type = std::string(line.substr(5));
      if (!IsMkfsType(out->fs_type)) return bad("unknown file system type");
      continue;
    }
    if (line.starts_with("drive ")) {
      const std::string_view rest = line.substr(6);
      const size_t sp = rest.find(' ');
      if (sp == std::string_view::npos || sp == 0 || sp + 1 == rest.size() ||
          rest.find(' ', sp + 1) != std::string_view::npos) {
        return bad("a drive line is not 'drive LABEL UUID'");
      }
      out->drives.push_back(
          {std::string(rest.substr(0, sp)), std::string(rest.substr(sp + 1))});
      continue;
    }
    return bad("unknown line");
  }
  if (line_no == 0) return bad("empty");
  if (out->fs_type.empty()) return bad("no type line");
  if (out->drives.empty()) return bad("no drive line");
  return Status::OK();
}

std::vector<std::string> MkfsLabels(std::string_view manifest_path,
                                    std::string_view fs_type, size_t count) {
  std::string stem = Basename(manifest_path);
  stem = stem.substr(0, stem.find('.'));
  for (char& c : stem) {
    if (!LabelChar(c)) c = '_';
  }
  if (stem.empty()) stem = "drive";
  const size_t max_label = fs_type == "xfs" ? 12 : 16;
  const size_t digits = count < 100 ? 2 : std::to_string(count).size();
  const size_t room = max_label - 1 - digits;
  if (stem.size() > room) stem.resize(room);
  std::vector<std::string> labels;
  for (size_t i = 1; i <= count; ++i) {
    std::string n = std::to_string(i);
    n.insert(0, digits - n.size(), '0');
    labels.push_back(stem + "-" + n);
  }
  return labels;
}

MkfsDecision DecideMkfs(const MkfsDeviceFacts& f, size_t place,
                        const MkfsRecord& want, bool recorded, bool force) {
  // Refused whatever the flags: what is not a block device, or is in use.
  if (!f.probe_error.empty()) {
    return Refuse("could not be checked: " + f.probe_error);
  }
  if (!f.exists) return Refuse("does not exist");
  if (!f.block_device) {
    return Refuse(
        "is not a block device (--mkfs formats block devices; without it, "
        "give the mount points of empty file systems)");
  }
  if (!f.mounted_at.empty()) {
    return Refuse("is mounted on " + f.mounted_at +
                  ": a mounted device is never formatted, even with "
                  "--mkfs-force");
  }
  if (f.busy) {
    return Refuse(
        "is in use (the kernel refuses an exclusive open: mounted in another "
        "mount namespace, or held by device-mapper, md or swap): never "
        "formatted, even with --mkfs-force");
  }
  if (!f.holders.empty()) {
    std::string names;
    for (const std::string& h : f.holders) names += " " + h;
    return Refuse("is held by" + names +
                  " (device-mapper, md...): never formatted, even with "
                  "--mkfs-force");
  }
  const std::string& label =
      place < want.drives.size() ? want.drives[place].label : std::string();
  // The file system this pack made here: mounted and resumed, never
  // formatted again (not even with --mkfs-force).
  if (recorded && !f.fs_uuid.empty()) {
    for (size_t i = 0; i < want.drives.size(); ++i) {
      if (want.drives[i].uuid != f.fs_uuid) continue;
      if (i != place) {
        return Refuse("holds the file system this pack made for drive " +
                      std::to_string(i + 1) + " ('" + want.drives[i].label +
                      "', uuid " + f.fs_uuid + "), not drive " +
                      std::to_string(place + 1) +
                      ": give the drives in the order of the first run");
      }
      if (f.fs_type != want.fs_type || f.fs_label != label ||
          !f.partition_table.empty() || !f.partitions.empty()) {
        return Refuse("holds " + Holds(f) + ", not the " + want.fs_type +
                      " file system '" + label +
                      "' this pack made there: changed since; not formatted");
      }
      return {MkfsAction::kResume,
              "holds the " + f.fs_type + " file system this pack made ('" +
                  label + "', uuid " + f.fs_uuid + "): mounted and packed on"};
    }
  }
  const std::string holds = Holds(f);
  if (!holds.empty()) {
    if (force) {
      return {MkfsAction::kFormat,
              "holds " + holds + ": overwritten (--mkfs-force)"};
    }
    return Refuse("holds " + holds +
                  ": not formatted (wipe it first, e.g. wipefs -a, or give "
                  "--mkfs-force to overwrite it)");
  }
  return {MkfsAction::kFormat, "blank"};
}

Status DecideAllMkfs(const std::vector<MkfsDeviceFacts>& facts,
                     const MkfsRecord& want, bool recorded, bool force,
                     std::vector<MkfsDecision>* out) {
  out->clear();
  for (size_t i = 0; i < facts.size(); ++i) {
    out->push_back(DecideMkfs(facts[i], i, want, recorded, force));
  }
  // One device under two names would be formatted twice and packed as two
  // drives that are lost together.
  for (size_t i = 0; i < facts.size(); ++i) {
    if (!facts[i].block_device) continue;
    for (size_t j = 0; j < i; ++j) {
      if (facts[j].block_device && facts[j].major == facts[i].major &&
          facts[j].minor == facts[i].minor) {
        (*out)[i] = Refuse("is the same device as " + facts[j].path);
        break;
      }
    }
  }
  std::string refused;
  size_t n = 0;
  for (size_t i = 0; i < facts.size(); ++i) {
    if ((*out)[i].action != MkfsAction::kRefuse) continue;
    refused += (n++ == 0 ? "" : "; ") + facts[i].path + " " + (*out)[i].why;
  }
  if (n == 0) return Status::OK();
  return Status::InvalidArgument(
      "--mkfs",
      refused + (n == 1 ? "" : " (" + std::to_string(n) + " devices refused)") +
          "; nothing was formatted");
}

MkfsDrives::~MkfsDrives() {
  // An error path: its own error is the one reported.
  if (!finished_) static_cast<void>(UnmountAll());
}

std::vector<std::string> MkfsDrives::mount_points() const { return points_; }

Status MkfsDrives::UnmountAll() {
  Status first;
  for (size_t i = mounted_.size(); i-- > 0;) {
    Status s = sys_->Unmount(mounted_[i]);
    if (s.ok()) {
      mounted_.erase(mounted_.begin() + static_cast<ptrdiff_t>(i));
    } else if (first.ok()) {
      first = s;
    }
  }
  if (mounted_.empty() && !root_.empty()) {
    Status s = sys_->RemoveDir(root_);
    if (s.ok()) {
      root_.clear();
    } else if (first.ok()) {
      first = s;
    }
  }
  return first;
}

Status MkfsDrives::Finish(bool sealed) {
  finished_ = true;
  Status s = UnmountAll();
  if (!s.ok() || !sealed) return s;
  std::unique_ptr<Directory> dir;
  s = fs_->OpenDirectory(Dirname(record_path_), false, &dir);
  if (s.ok()) s = dir->Remove(Basename(record_path_));
  if (s.ok()) s = dir->SyncDir("");
  if (!s.ok() && !s.IsNotFound()) {
    return Status::IOError(record_path_, "removing it: " + s.message());
  }
  return Status::OK();
}

Status MkfsDrives::Prepare(FileSystem* fs, MkfsSystem* sys,
                           const std::vector<std::string>& devices,
                           const MkfsOptions& opt,
                           std::vector<MkfsDrive>* drives,
                           std::unique_ptr<MkfsDrives>* out) {
  drives->clear();
  out->reset();
  if (!IsMkfsType(opt.fs_type)) {
    return Status::InvalidArgument(
        "--mkfs", "'" + opt.fs_type + "': makes ext4 or xfs file systems");
  }
  if (devices.empty()) return Status::InvalidArgument("--drives", "none given");
  // 1. What this pack formats each place with: M.mkfs of an interrupted
  // run, or new labels and UUIDs.
  const std::string record_path = opt.manifest.empty()
                                      ? std::string()
                                      : SidecarPath(opt.manifest, kMkfsSidecar);
  MkfsRecord want;
  bool recorded = false;
  if (!record_path.empty()) {
    std::string text;
    Status s = fs->ReadSmallFile(record_path, &text, 1 << 20);
    if (s.ok()) {
      VALISE_RETURN_IF_ERROR(ParseMkfsRecord(text, record_path, &want));
      recorded = true;
      if (want.fs_type != opt.fs_type) {
        return Status::InvalidArgument(
            record_path, "the interrupted pack formats " + want.fs_type +
                             ", not " + opt.fs_type + ": give --mkfs " +
                             want.fs_type);
      }
      if (want.drives.size() != devices.size()) {
        return Status::InvalidArgument(
            record_path, "the interrupted pack has " +
                             std::to_string(want.drives.size()) + " drives, " +
                             std::to_string(devices.size()) +
                             " given: give the same drives in the same order "
                             "(to start over instead, remove it and the "
                             "pack's state " +
                             opt.manifest +
                             ".pack: the file systems it made are then "
                             "refused as any other, unless --mkfs-force)");
      }
    } else if (!s.IsNotFound()) {
      return Status::IOError(record_path, "reading: " + s.message());
    }
  }
  if (!recorded) {
    want.fs_type = opt.fs_type;
    const std::vector<std::string> labels =
        MkfsLabels(opt.manifest, opt.fs_type, devices.size());
    for (const std::string& l : labels)
      want.drives.push_back({l, sys->NewUuid()});
  }
  // 2. Every device probed and decided before any is touched.
  std::vector<MkfsDeviceFacts> facts(devices.size());
  for (size_t i = 0; i < devices.size(); ++i) {
    sys->Probe(devices[i], &facts[i]);
    facts[i].path = devices[i];
  }
  std::vector<MkfsDecision> decisions;
  Status decided = DecideAllMkfs(facts, want, recorded, opt.force, &decisions);
  for (size_t i = 0; i < devices.size(); ++i) {
    drives->push_back({devices[i], want.drives[i].label, want.drives[i].uuid,
                       decisions[i], ""});
  }
  VALISE_RETURN_IF_ERROR(decided);
  const bool formats = std::any_of(
      decisions.begin(), decisions.end(),
      [](const auto& d) { return d.action == MkfsAction::kFormat; });
  if (formats && opt.check) {
    VALISE_RETURN_IF_ERROR(opt.check(facts));
  }
  if (opt.dry_run) return Status::OK();
  // 3. The record, durable before the first mkfs: a rerun knows the file
  // systems this run makes by the UUIDs it gives them.
  if (!recorded) {
    Status s = fs->WriteSmallFile(record_path, WriteMkfsRecord(want), 0644);
    if (!s.ok()) return Status::IOError(record_path, "writing: " + s.message());
  }
  std::unique_ptr<MkfsDrives> d(new MkfsDrives(fs, sys));
  d->record_path_ = record_path;
  // 4. Format, each device checked again just before (what was blank a
  // moment ago must still be).
  for (size_t i = 0; i < devices.size(); ++i) {
    if (decisions[i].action != MkfsAction::kFormat) continue;
    MkfsDeviceFacts again;
    sys->Probe(devices[i], &again);
    again.path = devices[i];
    const MkfsDecision now = DecideMkfs(again, i, want, recorded, opt.force);
    if (now.action != MkfsAction::kFormat) {
      return Status::InvalidArgument(
          devices[i], "changed while the drives were checked: " + now.why +
                          "; not formatted");
    }
    const bool overwrite = opt.force && !Holds(again).empty();
    Status s = sys->Format(devices[i], want.fs_type, want.drives[i].label,
                           want.drives[i].uuid, overwrite);
    if (!s.ok()) return s;
    // What mkfs made must be what the record says, or a rerun would
    // refuse it.
    MkfsDeviceFacts made;
    sys->Probe(devices[i], &made);
    if (made.fs_uuid != want.drives[i].uuid ||
        made.fs_label != want.drives[i].label) {
      return Status::IOError(
          devices[i],
          "after mkfs." + want.fs_type + ": holds uuid '" + made.fs_uuid +
              "' label '" + made.fs_label + "', not " + want.drives[i].uuid +
              " '" + want.drives[i].label + "'" +
              (made.probe_error.empty() ? "" : " (" + made.probe_error + ")"));
    }
  }
  // 5. Mounted, each on ROOT/LABEL: the label is then the name pack gives
  // the drive.
  VALISE_RETURN_IF_ERROR(sys->MakeMountRoot(&d->root_));
  for (size_t i = 0; i < devices.size(); ++i) {
    const std::string point = d->root_ + "/" + want.drives[i].label;
    VALISE_RETURN_IF_ERROR(sys->Mount(devices[i], want.fs_type, point));
    d->mounted_.push_back(point);
    d->points_.push_back(point);
    (*drives)[i].mount_point = point;
  }
  *out = std::move(d);
  return Status::OK();
}

}  // namespace valise
