// What bench.cc and bench_s3.cc share: the test data and the measurement
// of an s3:// DEST.
#pragma once

#include <cstddef>
#include <cstdint>

#include "valise/bench.h"
#include "valise/file_system.h"
#include "valise/s3.h"

namespace valise::bench_internal {

// Incompressible bytes, so a compressing file system (btrfs, ZFS) or
// store cannot make DEST look faster than it is with real data.
void FillPseudoRandom(char* p, size_t n, uint64_t seed);

// True when the run was asked to stop (BenchOptions::pipeline.cancel).
bool Cancelled(const BenchOptions& o);

// Measures an s3://BUCKET/PREFIX DEST (bench_s3.cc): UploadParts, then
// small PUTs, each for at most o.seconds, many in flight; fills the
// report's dest_write, dest_small*, dest_s3_* and dest_errors, and
// removes everything it wrote.
// REQUIRES: o.s3 is not null; the bucket exists.
void MeasureS3Write(FileSystem* fs, const S3Url& url, const BenchOptions& o,
                    BenchReport* report);

}  // namespace valise::bench_internal
