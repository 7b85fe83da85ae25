// valise ingest --dry-run (issue 14): what an ingest of SRC... into DEST
// would read from which drive, and what is already in place, before the
// run. Reads DEST's journal (as `valise status` does: no lock, nothing
// written) and the drives' directory trees (names and sizes, as the run's
// scan does), never a file's contents; writes nothing, not even DEST.
//
// What is in place: the manifest entries DEST's journal records with the
// manifest's size and digests (committed by an earlier run; the run itself
// still checks that each is unchanged, cheaply, before trusting it). What
// would be read: each entry not in place, from one of the SRCs holding a
// file of its path and size, the drive supplying the fewest bytes so far
// (the run balances copies too, by its own rule: the figures are the
// plan's, not a promise). What stays missing: entries on no SRC given,
// with the drives of M.drives that hold them.
//
// Predicted time: each drive's bytes over its rate, the run's the slowest
// drive's (drives are read in parallel). No drive is read, so the rates
// are assumed, and said so: kAssumedSpinningRate for a drive whose device
// spins (sysfs), kAssumedSolidRate for others (`valise bench` measures
// them). DEST's write rate is not counted.
//
// Space: what the run would write into DEST against what DEST's file
// system has free (statvfs of DEST, or of its nearest existing parent when
// DEST is not made yet): the bytes it would read plus kSpacePerFile a file
// (its last block, its journal line), and a file (inode) each. The CLI
// refuses a plan that does not fit (exit 2) unless --no-space-check.
//
// verify --dry-run (PlanVerifyDryRun): every copy of every entry found on
// the SRCs, with its size as the manifest says, is what verify reads.
//
// Thread safety: the functions are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "valise/drives.h"
#include "valise/file_system.h"
#include "valise/manifest.h"
#include "valise/shipment.h"
#include "valise/status.h"

namespace valise {

struct DriveScan;  // src/pipeline/scan.h

// Bytes per second assumed for a drive that is not measured.
inline constexpr double kAssumedSpinningRate = 180e6;
inline constexpr double kAssumedSolidRate = 450e6;
// Bytes counted for each file written into DEST besides its own.
inline constexpr uint64_t kSpacePerFile = 4096;

struct IngestDryRun {
  ShipmentStatus dest;  // DEST as it stands: arrived, missing, needed
  struct Drive {
    std::string source, label;  // label: M.drives', or ""
    uint64_t files = 0, bytes = 0;
    std::string error;      // the SRC could not be scanned (the run's trouble)
    bool spinning = false;  // its device spins (sysfs)
    double rate = 0;        // bytes per second assumed (PredictDryRun)
    double seconds = 0;     // bytes / rate
  };
  std::vector<Drive> drives;          // per SRC, in order
  std::vector<uint64_t> unavailable;  // entries not in place, on no SRC
  uint64_t bytes_unavailable = 0;
  double seconds = 0;  // predicted: the slowest drive's
  int slowest = -1;    // its index, -1 if no drive reads anything
  // DEST's file system (ingest only).
  struct Space {
    bool known = false;  // statvfs answered
    std::string at;      // the directory asked: DEST or its nearest parent
    uint64_t free_bytes = 0, free_inodes = 0;
    uint64_t need_bytes = 0, need_inodes = 0;
    std::string error;  // why not known
    bool Fits() const {
      return !known || (need_bytes <= free_bytes && need_inodes <= free_inodes);
    }
  };
  Space space;
  // The SRCs as scanned for this plan, for the run that follows it
  // (IngestOptions::scans).
  std::shared_ptr<const std::vector<DriveScan>> scans;
  uint64_t files() const;
  uint64_t bytes() const;
  // 0: every file would be in place after the run; 1: some would not.
  int ExitCode() const { return unavailable.empty() ? 0 : 1; }
};

// Fills each drive's rate and seconds, and the run's seconds and slowest,
// from the drives' bytes and kinds.
void PredictDryRun(IngestDryRun* p);
// The space a run writing `files` files of `bytes` bytes needs in DEST.
void NeedSpace(uint64_t files, uint64_t bytes, IngestDryRun::Space* space);
// DEST's free space into *space (known, or error), through `fs`: statvfs
// of `dest`, or of its nearest existing parent.
void MeasureDestSpace(FileSystem* fs, const std::string& dest,
                      IngestDryRun::Space* space);

// `labels[i]`: SRC i's label in M.drives ("" if none); `drives` may be
// null (M binds no M.drives). Errors: DEST's state unreadable (as
// ComputeShipmentStatus).
Status PlanIngestDryRun(FileSystem* fs, const Manifest& m,
                        const ShipmentDrives* drives,
                        const std::vector<std::string>& sources,
                        const std::vector<std::string>& labels,
                        const std::string& dest, IngestDryRun* out);

// The plan in 80 columns; at most `list_limit` files still missing named.
std::string FormatIngestDryRun(const IngestDryRun& p, const Manifest& m,
                               const std::string& dest, size_t list_limit = 20);

// verify --dry-run: what each SRC holds of the manifest (the copies verify
// would read), what is on no SRC (in `unavailable`); `dest` and `space`
// are left empty. Reads the drives' trees only.
Status PlanVerifyDryRun(FileSystem* fs, const Manifest& m,
                        const std::vector<std::string>& sources,
                        const std::vector<std::string>& labels,
                        IngestDryRun* out);
std::string FormatVerifyDryRun(const IngestDryRun& p, const Manifest& m,
                               size_t list_limit = 20);

}  // namespace valise
