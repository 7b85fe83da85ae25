// The stage passes of ingest (stage_passes.cc): read, hash, stage and
// commit, pass after pass, until every file is committed or has no copy
// left to try.
#pragma once

#include "pipeline/committer.h"
#include "pipeline/duplicates.h"
#include "pipeline/ingest_ledger.h"
#include "pipeline/reader.h"
#include "valise/destination.h"

namespace valise {

// What the destination is asked to stage for a job of pass `pass`: on the
// reader's I/O thread or its FileOpener's (the scans and the manifest are
// not changed during a pass), and before the passes, for what a kept
// partial is checked against (chunk_resume.cc).
StageRequest StageRequestFor(const IngestLedger& l, const Destination& dest,
                             const ReadJob& job, int pass);

// Runs the passes. Returns trouble that stopped the run (DEST full or
// failing, the queue); everything else is in the ledger and its report.
// REQUIRES: PlanIngest has filled the ledger. Starts and joins its threads.
// `info` is what dest->Open said.
Status StagePasses(Destination* dest, const DestInfo& info,
                   Committer* committer, DuplicatePlacer* placer,
                   IngestLedger* ledger);

}  // namespace valise
