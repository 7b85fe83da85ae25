// Plan: which copy of which file is read from which drive, and in what
// order.
//
// Matching. Manifest paths are relative to each drive's root. A drive may
// hold any subset of the dataset and a file may be on several drives; every
// copy found is listed. A file on a drive that the manifest does not name
// is an extra (reported, never read). An image or block-device drive holds
// one file named by its basename; if no entry has that name and the
// manifest has exactly one entry, the image is that entry.
//
// Ordering. On a rotational drive, reading files in the order their data
// lies on the platter turns seeks into a sequential stream (published: 50k
// files on a 7200 rpm disk, 217 s in size order, 28 s in inode order, 19.5 s
// in FIEMAP order), so each such drive's jobs are sorted by the physical
// offset of their first extent. On solid-state and memory-backed drives the
// order does not matter and the open+ioctl per file is skipped.
//
// Thread safety: functions are thread-safe on distinct inputs.
#pragma once

#include <cstdint>
#include <vector>

#include "pipeline/reader.h"
#include "pipeline/scan.h"
#include "valise/manifest.h"
#include "valise/report.h"

namespace valise {

struct CopyRef {
  int drive = 0;
  uint32_t file = 0;  // index into that drive's DriveScan::files
};

struct Match {
  // For each manifest entry, the copies found (in drive order). Flat: the
  // copies of entry i are copies[first[i] .. first[i+1]).
  std::vector<uint64_t> first;
  std::vector<CopyRef> copies;
  std::vector<FileResult> extra;  // status kExtra

  size_t num_copies(size_t entry) const {
    return first[entry + 1] - first[entry];
  }
  const CopyRef& copy(size_t entry, size_t k) const {
    return copies[first[entry] + k];
  }
};

void MatchDrives(const Manifest& manifest, const std::vector<DriveScan>& scans,
                 Match* match);

// Sorts a rotational drive's jobs by physical offset (FIEMAP); files whose
// offset cannot be had keep their relative order, after the others.
void OrderByPhysicalOffset(FileSystem* fs, std::vector<ReadJob>* jobs);

}  // namespace valise
