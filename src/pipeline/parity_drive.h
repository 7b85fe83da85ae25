// The parity drive: a pack's files as rebuilt from their stripes, given to
// ingest as one more drive, so that the stage passes read, hash, stage
// and commit a rebuilt file exactly as they do a file read from a drive
// (and report it "repaired from" that drive when its own copy failed).
//
//   ParityDriveScan   the drive as scanned: every file the layout holds,
//                     under its manifest path, with its manifest size and
//                     mtime (mode 0644: a manifest records none);
//   ParityFileSystem  a FileSystem that opens the drive's files (reads go
//                     through ParitySource::Read, every chunk checked) and
//                     hands every other path to the file system it wraps;
//                     its queue serves files without a descriptor on a
//                     thread (threaded_queue.h), the others on base's.
//
// The drive is read only for files whose copies on the real drives failed
// or are missing: ingest tries it last (ingest_plan.cc). A chunk that
// cannot be rebuilt fails the read with ENOTRECOVERABLE (not a media
// error: no sector-by-sector rescue of bytes that cannot come back).
//
// Thread safety: as FileSystem and File (reads are serialized by the
// ParitySource).
#pragma once

#include <memory>
#include <string>

#include "pipeline/parity_source.h"
#include "pipeline/scan.h"
#include "valise/file_system.h"
#include "valise/manifest.h"

namespace valise {

// How reports name the parity drive.
inline constexpr const char* kParityDriveName = "(parity)";

// The scan of the parity drive of `src` (whose manifest is `m`).
DriveScan ParityDriveScan(const ParitySource& src, const Manifest& m);

// A FileSystem over `base` that opens the parity drive's files once
// Attach has given it their source (before, it is `base`). `base` and `m`
// are borrowed and must outlive it, as must the source attached.
class ParityFileSystem : public FileSystem {
 public:
  virtual void Attach(ParitySource* src) = 0;
};
std::unique_ptr<ParityFileSystem> NewParityFileSystem(FileSystem* base,
                                                      const Manifest& m);

}  // namespace valise
