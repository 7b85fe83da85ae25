// Duplicate placement (duplicates.cc): the paths that share a content with
// a committed path get its bytes from DEST (a clone or a hard link), not
// from a drive.
//
// Thread safety: one thread at a time (the commit thread during a pass,
// the ingest thread between passes).
#pragma once

#include <cstddef>
#include <vector>

#include "pipeline/ingest_ledger.h"
#include "valise/destination.h"

namespace valise {

class DuplicatePlacer {
 public:
  // `dest` and `ledger` must remain live while the placer is.
  // `pipelined`: the destination's seal_covers_names (see committer.h).
  DuplicatePlacer(Destination* dest, bool pipelined, IngestLedger* ledger);

  // Places every path waiting for the content of committed entry p (the
  // others of its group that wait, or that failed to be read). Pipelined,
  // each is staged (a clone) or linked and appended to *staged, for the
  // committer to seal and name with its next group; else each is sealed
  // and named, and the names and records made durable here. Returns DEST
  // trouble: what was placed is made durable and journaled if it can be,
  // and the run stops. A path that cannot be placed otherwise (EMLINK,
  // EEXIST...) is noted and read like any other file in the next pass.
  Status PlaceFrom(size_t p, std::vector<Finished>* staged);

  // Between passes: each group with a committed path is placed from it
  // (appending to *staged, as PlaceFrom).
  Status Settle(std::vector<Finished>* staged);
  // Then, once what Settle staged is committed: each group with no path
  // committed, being read or checked gets its next path to read
  // (NextReaders, ChooseCopies).
  void ChooseNextReaders();

 private:
  Status StageOne(size_t e, size_t p, std::vector<Finished>* staged);
  Status PlaceOne(size_t e, size_t p);
  StageRequest Request(size_t e) const;
  bool WaitsForContent(size_t e) const;

  Destination* const dest_;
  const bool pipelined_;
  IngestLedger* const l_;
  std::vector<size_t> readers_;  // found by Settle, for ChooseNextReaders
};

}  // namespace valise
