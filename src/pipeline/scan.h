// Scan: what is on each drive. A drive (SRC) is a directory (a mounted
// drive), a regular file (an image) or a block device (read raw, as one
// image). A SRC that is a symlink (/dev/disk/by-id/..., the stable names
// of drives) is followed once, when the drive is opened: everything is then
// read through what it named at that moment (Drive::path), and the drive
// keeps the user's name (Drive::source) in reports. Inside a drive no
// symlink is ever followed: directories are walked without following them;
// regular files are listed with their size and mtime; everything else
// (symlinks, devices, FIFOs, sockets) is listed as skipped and never opened, so
// nothing can block or lead outside the drive. A top-level ".valise" directory
// holding a journal, lock or staging directory is valise's state (the drive is
// a DEST, or a copy of one): skipped too, never walked, so a manifest of a DEST
// holds only the dataset and a verify of DEST reports no extras.
//
// Thread safety: functions are thread-safe; a DriveScan is a plain value.
#pragma once

#include <string>
#include <vector>

#include "valise/file_system.h"
#include "valise/report.h"
#include "valise/status.h"

namespace valise {

// The state directory's name at the top of a DEST, and the detail of its
// skipped result.
inline constexpr char kStateDirName[] = ".valise";
inline constexpr char kStateDirDetail[] = "valise's state directory";

struct Drive {
  enum class Kind { kDirectory, kImage, kBlockDevice };
  std::string source;  // as given: names the drive in reports
  std::string path;    // what is read: `source`, or what it resolved to
  Kind kind = Kind::kDirectory;
  FileInfo info;  // of what is read (the symlink's target)

  bool resolved() const { return path != source; }
};
const char* DriveKindName(Drive::Kind kind);

struct ScannedFile {
  std::string rel;  // raw relative path ('/'-separated); for an image, its
                    // basename
  FileInfo info;
};

struct DriveScan {
  Drive drive;
  Status status;                    // the source itself could not be used
  std::vector<ScannedFile> files;   // sorted by rel
  std::vector<FileResult> skipped;  // status kSkipped, detail = type
  std::vector<std::string> errors;  // directories that could not be read
};

// What a name given on the command line (a SRC, a bag) is read through:
// `source` itself, or what it names if it is a symlink (ResolvePath).
// NotFound for a missing source or a dangling link, naming `source`.
Status ResolveSource(FileSystem* fs, const std::string& source,
                     std::string* path);

// Stats the source and decides its kind, following the source itself if it
// is a symlink (ResolvePath, once). NotFound for a missing source or a
// dangling link, InvalidArgument for one that is none of the three kinds;
// every message names the source as given (and its target).
Status OpenDrive(FileSystem* fs, const std::string& source, Drive* drive);

// Walks the drive. Errors inside (an unreadable directory) are recorded in
// out->errors and the walk goes on. `drive_index` is stored in skipped
// results.
void ScanDrive(FileSystem* fs, const Drive& drive, int drive_index,
               DriveScan* out);

// Opens and scans every source, one thread per drive (drives are
// independent devices, so their metadata reads overlap). A source that
// cannot be opened gets its status set and no files.
std::vector<DriveScan> ScanDrives(FileSystem* fs,
                                  const std::vector<std::string>& sources);

// The full path of a scanned file on its drive (under Drive::path).
std::string DrivePath(const Drive& drive, const std::string& rel);

}  // namespace valise
