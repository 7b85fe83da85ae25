// DEST's setup and end for an ingest (dest_setup.cc): which destination
// DEST names, opened, what earlier runs left, and the policy that depends
// on what it can do.
//
// Thread safety: the ingest thread.
#pragma once

#include <memory>
#include <string>

#include "pipeline/ingest_ledger.h"
#include "pipeline/ingest_plan.h"
#include "valise/destination.h"

namespace valise {

// Refuses a manifest with a path that would land in DEST's state
// directory (DEST/.valise: journal, lock, staging), before anything is
// created: InvalidArgument naming the first such path.
Status RefuseStatePaths(const IngestLedger& ledger);

// Opens the destination `dest` names (a directory), with its lock, its
// leftovers removed, and decides ledger->dedup from what it can do (notes
// in the report say how files are made durable and how duplicates land).
// On failure *out may hold a destination that was not opened.
Status OpenDest(const std::string& dest, IngestLedger* ledger,
                std::unique_ptr<Destination>* out, DestInfo* info);

// What earlier runs committed (every journal), by manifest path; writes
// this run's begin record.
Status ResumeDest(Destination* dest, IngestLedger* ledger,
                  JournaledFiles* journaled);

// Ends the run: temporaries removed and, if `s` is OK, the end record
// written. Returns `s`, or the end record's failure.
Status CloseDest(Destination* dest, const IngestLedger& ledger, Status s);

}  // namespace valise
