// Pieces shared by the jobs in src/pipeline (verify, manifest, ingest).
#pragma once

#include <string>
#include <vector>

#include "pipeline/reader.h"
#include "pipeline/scan.h"
#include "valise/digest.h"
#include "valise/manifest.h"
#include "valise/pipeline.h"
#include "valise/report.h"

namespace valise {

// The current time, "2026-11-28T22:00:00Z".
std::string NowIso8601();

// The digests a run computes: the manifest's, narrowed by --hash-only.
Status ChooseDigests(const Manifest& manifest, const PipelineOptions& opt,
                     DigestSet* out);

// Empty if every digest in `digests` matches manifest entry `entry`, else
// "<name> mismatch" for the first that differs.
std::string CompareDigests(const Manifest& manifest, size_t entry,
                           DigestSet digests, const std::vector<Digest>& got);

// Index of the first chunk whose digest differs between two copies
// chunk digests (ReadJob::chunk_digests), or -1 if none does.
int64_t FirstDifferentChunk(const std::vector<ChunkDigest>& got,
                            const std::vector<ChunkDigest>& want);

// Fills report->drives from the scans and the reader's statistics.
void FillDriveReports(const std::vector<DriveScan>& scans,
                      const std::vector<DriveReadStats>& stats,
                      const std::vector<uint64_t>& planned, RunReport* report);

}  // namespace valise
