// Resume by chunk (chunk_resume.cc; issue 15, item 4): a large file whose
// ingest was cut short goes on from its last verified chunk.
//
// Thread safety: the ingest thread, between the plan and the first pass.
#pragma once

#include <string>

#include "pipeline/ingest_ledger.h"
#include "valise/destination.h"

namespace valise {

// Whether entry e is staged resumable in this run: the signed chunk
// digests decide (ledger.by_chunks), the file has more than one chunk,
// and DEST can keep it part way (Destination::KeepsPartials).
bool StagedResumable(const IngestLedger& l, const Destination& dest, size_t e);
// The key of entry e's resumable staged file: "r<e>".
std::string ResumableKey(size_t e);

// For every kept partial in DEST: if its entry is still to be read
// (kTodo) and staged resumable, its longest prefix of whole chunks that
// match their signed digests, as DEST checked them when it took them
// (Destination::CheckedPrefix: an object store's one-chunk parts) or else
// read back from DEST (never from a drive), becomes l->resume_from[e] (at most
// the start of the last chunk, so the file's last chunk is always read from its
// drive); every other partial, or one with no good first chunk, is dropped.
// Adds to the report what it found. Errors reading a partial only drop it (it
// is read from the drive); the chunk index failing to read is the run's trouble
// (l->chunk_check).
void PlanChunkResume(Destination* dest, IngestLedger* l);

}  // namespace valise
