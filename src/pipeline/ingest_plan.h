// The plan of an ingest (ingest_plan.cc): what is done already, what is
// checked in place, which paths share a content, and which copy of each
// file is read first.
//
// Thread safety: the calling thread only (between passes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "pipeline/ingest_ledger.h"
#include "valise/destination.h"
#include "valise/journal.h"

namespace valise {

// The commit records of earlier runs, by manifest path (the last one
// wins).
using JournaledFiles = std::unordered_map<std::string, JournalRecord>;

// Fills *ledger's per-entry plan: entries journaled and under their final
// name in `dest`, unchanged since (size, mtime, inode, ctime; see
// ingest_plan.cc), are done (resumed); other entries under their final
// name with their size are checked (kCheck; all of them with --recheck),
// with notes saying why journaled ones are read back; a name
// holding something else is a conflict; paths sharing a content form
// groups (not with --dedup=copy) of which one is read; every entry to read
// gets its copies, the best balanced one first.
// REQUIRES: ledger->scans, ->match and ->dedup are set.
void PlanIngest(Destination* dest, const JournaledFiles& journaled,
                IngestLedger* ledger);

// Fills ledger->candidates[e]: the copies of entry e with its manifest
// size, the one on the drive with the fewest bytes `assigned` so far
// first (and counts it there); reports the others. With none: kMissing
// (on no drive) or kFailed.
void ChooseCopies(size_t e, std::vector<uint64_t>* assigned,
                  IngestLedger* ledger);

// The paths of group `g` to read next, appended to *out, when none of its
// paths is committed, being read or being checked: the first waiting one
// with a copy of the right size; if none has one, every waiting one (each
// is then reported).
void NextReaders(const IngestLedger& ledger, const std::vector<size_t>& g,
                 std::vector<size_t>* out);

}  // namespace valise
