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
// Thread safety: the functions are thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "valise/drives.h"
#include "valise/file_system.h"
#include "valise/manifest.h"
#include "valise/shipment.h"
#include "valise/status.h"

namespace valise {

struct IngestDryRun {
  ShipmentStatus dest;  // DEST as it stands: arrived, missing, needed
  struct Drive {
    std::string source, label;  // label: M.drives', or ""
    uint64_t files = 0, bytes = 0;
    std::string error;  // the SRC could not be scanned (the run's trouble)
  };
  std::vector<Drive> drives;          // per SRC, in order
  std::vector<uint64_t> unavailable;  // entries not in place, on no SRC
  uint64_t bytes_unavailable = 0;
  // 0: every file would be in place after the run; 1: some would not.
  int ExitCode() const { return unavailable.empty() ? 0 : 1; }
};

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

}  // namespace valise
