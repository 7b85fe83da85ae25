// Repair by chunk (chunk_repair.cc; issue 15, item 3): two copies of a
// file, each with different bad chunks, make one good file.
//
// Thread safety: KeepGoodChunks and RepairCommitted on the commit thread
// (or the ingest thread between passes); PlanRepairRead and RepairFailed
// on the ingest thread between passes.
#pragma once

#include <cstddef>

#include "pipeline/ingest_ledger.h"
#include "valise/destination.h"

namespace valise {

// Sets how entry e's next copy is read: keep_going for a file staged
// resumable (its good chunks stay staged whatever its bad ones), and only
// the chunks still missing when an earlier copy's good chunks are kept.
void PlanRepairRead(const IngestLedger& l, const Destination& dest, size_t e,
                    ReadJob* job);

// Copy `f` of its entry failed (its row reported, the entry's attempt
// counted): records the good chunks it gave. True if its staged file is to
// be kept (Destination::Keep) for the entry's next copy to fill in: staged
// resumable, some chunk good, and another copy left.
bool KeepGoodChunks(IngestLedger* l, const Destination& dest,
                    const Finished& f);

// Entry e, read from `drive` with outcome `o`, is committed: if it was
// repaired by chunk, its failed copies' rows say which chunks came from
// which drive and the bytes read for it, and the run's totals count it.
void RepairCommitted(IngestLedger* l, size_t e, int drive,
                     const ReadOutcome& o);

// Entry e failed (no copy left): its last row names the chunks no copy had
// good (when several copies were read by chunk), and its kept file is
// dropped.
void RepairFailed(Destination* dest, IngestLedger* l, size_t e);

}  // namespace valise
