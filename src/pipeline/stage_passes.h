// The stage passes of ingest (stage_passes.cc): read, hash, stage and
// commit, pass after pass, until every file is committed or has no copy
// left to try.
#pragma once

#include "pipeline/committer.h"
#include "pipeline/duplicates.h"
#include "pipeline/ingest_ledger.h"
#include "valise/destination.h"

namespace valise {

// Runs the passes. Returns trouble that stopped the run (DEST full or
// failing, the queue); everything else is in the ledger and its report.
// REQUIRES: PlanIngest has filled the ledger. Starts and joins its threads.
Status StagePasses(Destination* dest, Committer* committer,
                   DuplicatePlacer* placer, IngestLedger* ledger);

}  // namespace valise
