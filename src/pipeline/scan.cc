#include "pipeline/scan.h"

#include <algorithm>
#include <thread>

#include "valise/pipeline.h"

namespace valise {

const char* DriveKindName(Drive::Kind kind) {
  switch (kind) {
    case Drive::Kind::kDirectory:
      return "directory";
    case Drive::Kind::kImage:
      return "image";
    case Drive::Kind::kBlockDevice:
      return "block device";
  }
  return "?";
}

Status ResolveSource(FileSystem* fs, const std::string& source,
                     std::string* path) {
  *path = source;
  FileInfo info;
  VALISE_RETURN_IF_ERROR(fs->Stat(source, &info));
  if (info.type != FileType::kSymlink) return Status::OK();
  // "SRC: realpath: No such file or directory" for a dangling link.
  Status s = fs->ResolvePath(source, path);
  if (!s.ok()) *path = source;
  return s;
}

Status OpenDrive(FileSystem* fs, const std::string& source, Drive* drive) {
  drive->source = source;
  VALISE_RETURN_IF_ERROR(ResolveSource(fs, source, &drive->path));
  VALISE_RETURN_IF_ERROR(fs->Stat(drive->path, &drive->info));
  const std::string name =
      drive->resolved() ? source + " (-> " + drive->path + ")" : source;
  switch (drive->info.type) {
    case FileType::kDirectory:
      drive->kind = Drive::Kind::kDirectory;
      return Status::OK();
    case FileType::kRegular:
      drive->kind = Drive::Kind::kImage;
      return Status::OK();
    case FileType::kBlockDevice:
      drive->kind = Drive::Kind::kBlockDevice;
      return Status::OK();
    default:
      return Status::InvalidArgument(
          name, std::string("not a directory, image file or block device (") +
                    FileTypeName(drive->info.type) + ")");
  }
}

Status CheckSource(FileSystem* fs, const std::string& source) {
  Drive drive;
  return OpenDrive(fs, source, &drive);
}

std::string DrivePath(const Drive& drive, const std::string& rel) {
  if (drive.kind != Drive::Kind::kDirectory) return drive.path;
  if (!drive.path.empty() && drive.path.back() == '/') {
    return drive.path + rel;
  }
  return drive.path + "/" + rel;
}

namespace {

std::string Basename(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

// True if `dir` (a drive's top-level ".valise") is valise's state directory,
// the journal, lock or staging directory of an ingest into that tree, or
// the hosts' directory of a DEST several hosts share.
bool IsStateDirectory(FileSystem* fs, const std::string& dir) {
  std::vector<DirEntry> entries;
  if (!fs->ListDir(dir, &entries).ok()) return false;
  for (const DirEntry& e : entries) {
    if (e.name == "journal" || e.name == "lock" || e.name == "staging" ||
        e.name == "hosts") {
      return true;
    }
  }
  return false;
}

void Walk(FileSystem* fs, const Drive& drive, int drive_index,
          const std::string& rel_dir, DriveScan* out) {
  std::string dir = rel_dir.empty() ? drive.path : DrivePath(drive, rel_dir);
  // lstat each entry: the size and mtime are needed anyway, and d_type
  // can lie on some file systems.
  std::vector<DirEntryInfo> entries;
  Status s = fs->ListDirInfo(dir, &entries);
  if (!s.ok()) {
    out->errors.push_back(s.message());
    return;
  }
  for (const DirEntryInfo& e : entries) {
    std::string rel = rel_dir.empty() ? e.name : rel_dir + "/" + e.name;
    if (!e.status.ok()) {
      out->errors.push_back(e.status.message());
      continue;
    }
    const FileInfo& info = e.info;
    if (info.type == FileType::kDirectory && rel == kStateDirName &&
        IsStateDirectory(fs, DrivePath(drive, rel))) {
      // A DEST (or a copy of one) scanned as a drive: its state is no part
      // of the dataset (ingest refuses manifest paths there).
      FileResult r;
      r.path = rel;
      r.drive = drive_index;
      r.status = FileStatus::kSkipped;
      r.detail = kStateDirDetail;
      out->skipped.push_back(std::move(r));
    } else if (info.type == FileType::kDirectory) {
      Walk(fs, drive, drive_index, rel, out);
    } else if (info.type == FileType::kRegular) {
      out->files.push_back(ScannedFile{rel, info});
    } else {
      FileResult r;
      r.path = rel;
      r.drive = drive_index;
      r.status = FileStatus::kSkipped;
      r.detail = FileTypeName(info.type);
      out->skipped.push_back(std::move(r));
    }
  }
}

}  // namespace

void ScanDrive(FileSystem* fs, const Drive& drive, int drive_index,
               DriveScan* out) {
  out->drive = drive;
  if (drive.kind != Drive::Kind::kDirectory) {
    out->files.push_back(ScannedFile{Basename(drive.source), drive.info});
    return;
  }
  Walk(fs, drive, drive_index, "", out);
  std::sort(
      out->files.begin(), out->files.end(),
      [](const ScannedFile& a, const ScannedFile& b) { return a.rel < b.rel; });
}

std::vector<DriveScan> ScanDrives(FileSystem* fs,
                                  const std::vector<std::string>& sources) {
  std::vector<DriveScan> scans(sources.size());
  std::vector<std::thread> threads;
  for (size_t d = 0; d < sources.size(); ++d) {
    threads.emplace_back([fs, &sources, &scans, d] {
      Drive drive;
      Status s = OpenDrive(fs, sources[d], &drive);
      if (!s.ok()) {
        scans[d].drive = drive;
        scans[d].status = s;
        return;
      }
      ScanDrive(fs, drive, static_cast<int>(d), &scans[d]);
    });
  }
  for (auto& t : threads) t.join();
  return scans;
}

}  // namespace valise
