// The report of an ingest (ingest_report.cc), from its ledger.
#pragma once

#include <string>

#include "pipeline/ingest_ledger.h"

namespace valise {

// Fills the report's header before the run: command, DEST, counts.
void StartIngestReport(const std::string& dest, IngestLedger* ledger);

// Fills the rest of the report from the ledger: counts, per-drive rows,
// skipped and extra files, the files committed; `s` is the run's outcome
// (its message is the report's fatal error).
void FinishIngestReport(const Status& s, IngestLedger* ledger);

}  // namespace valise
