// manifest: hash a dataset spread over drives and describe it.
//
// MakeManifest() is the whole data path: scan -> union -> read and hash ->
// check copies agree -> manifest. A path found on several sources is read
// on each; differing contents are an error naming both, since the manifest
// could only describe one of them.
//
// The chunk index v2 (valise/chunk_index_v2.h) is written while the files
// are read, in whatever order the drives give them: once the union has
// fixed the manifest's order and sizes, each file's place in the index is
// known, and the first copy of each path writes its chunks' SHA-256s there
// (chunk_check.h). Nothing of it is held in memory.
#include <algorithm>

#include "pipeline/chunk_check.h"
#include "pipeline/plan.h"
#include "pipeline/reader.h"
#include "pipeline/scan.h"
#include "pipeline/verify_internal.h"
#include "valise/pipeline.h"

namespace valise {

Status MakeManifest(FileSystem* fs, const std::vector<std::string>& sources,
                    DigestSet digests, const PipelineOptions& opt,
                    Manifest* manifest, ChunkIndex* chunks,
                    ManifestSummary* summary, File* chunk_index) {
  const uint64_t start_us = fs->NowMicros();
  if (digests.empty()) {
    return Status::InvalidArgument("--hash", "no digest chosen");
  }
  if (chunk_index != nullptr && !ValidChunkSize(opt.chunk_size)) {
    return Status::InvalidArgument(
        "--chunk-size",
        "a chunk index needs a multiple of 4 KiB from 4 KiB "
        "to 64 MiB");
  }

  // Stage 1, scan. A source that is not there is trouble, not a finding.
  std::vector<DriveScan> scans = ScanDrives(fs, sources);
  for (const DriveScan& s : scans) {
    if (!s.status.ok()) return s.status;
    for (const std::string& e : s.errors) summary->errors.push_back(e);
  }
  for (DriveScan& s : scans) {
    for (FileResult& r : s.skipped) summary->skipped.push_back(std::move(r));
  }
  // An entry the scan could not list or stat (a directory without
  // permission, a path deeper than PATH_MAX) would be missing from the
  // manifest without a word: a manifest that leaves files out is trouble.
  if (!summary->errors.empty()) {
    return Status::IOError(std::to_string(summary->errors.size()) + " entr" +
                               (summary->errors.size() == 1 ? "y" : "ies") +
                               " on the sources could not be scanned; first",
                           summary->errors.front());
  }

  // Stage 2, union: every (path, drive) pair, grouped by path.
  struct Item {
    const std::string* rel;
    int drive;
    uint32_t file;
  };
  std::vector<Item> items;
  for (size_t d = 0; d < scans.size(); ++d) {
    for (size_t i = 0; i < scans[d].files.size(); ++i) {
      items.push_back(Item{&scans[d].files[i].rel, static_cast<int>(d),
                           static_cast<uint32_t>(i)});
    }
  }
  std::stable_sort(
      items.begin(), items.end(),
      [](const Item& a, const Item& b) { return *a.rel < *b.rel; });
  for (size_t i = 1; i < items.size(); ++i) {
    const Item& a = items[i - 1];
    const Item& b = items[i];
    if (*a.rel != *b.rel) continue;
    const FileInfo& ia = scans[a.drive].files[a.file].info;
    const FileInfo& ib = scans[b.drive].files[b.file].info;
    if (ia.size != ib.size) {
      return Status::InvalidArgument(
          DrivePath(scans[a.drive].drive, *a.rel),
          "differs from " + DrivePath(scans[b.drive].drive, *b.rel) + " (" +
              std::to_string(ia.size) + " vs " + std::to_string(ib.size) +
              " bytes)");
    }
  }

  // Each path's place in the manifest (the union's order), and whether an
  // item is the first copy of its path (the one that records its chunks).
  std::vector<size_t> entry_of(items.size());
  std::vector<uint64_t> entry_sizes;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i == 0 || *items[i - 1].rel != *items[i].rel) {
      entry_sizes.push_back(
          scans[items[i].drive].files[items[i].file].info.size);
    }
    entry_of[i] = entry_sizes.size() - 1;
  }
  auto first_copy = [&](size_t i) {
    return i == 0 || *items[i - 1].rel != *items[i].rel;
  };
  std::unique_ptr<ChunkIndexV2Writer> index_writer;
  if (chunk_index != nullptr) {
    index_writer = std::make_unique<ChunkIndexV2Writer>(
        chunk_index, opt.chunk_size, entry_sizes);
    VALISE_RETURN_IF_ERROR(index_writer->Begin());
  }
  std::vector<uint64_t>().swap(entry_sizes);

  // Stage 3, read and hash every copy.
  std::vector<std::vector<ReadJob>> jobs(scans.size());
  std::vector<uint64_t> planned(scans.size(), 0);
  for (size_t i = 0; i < items.size(); ++i) {
    const Item& it = items[i];
    ReadJob job;
    job.drive = it.drive;
    job.path = DrivePath(scans[it.drive].drive, *it.rel);
    job.size = scans[it.drive].files[it.file].info.size;
    job.id = i;
    job.chunk_digests = chunks != nullptr;
    planned[it.drive] += job.size;
    jobs[it.drive].push_back(std::move(job));
  }
  for (size_t d = 0; d < scans.size(); ++d) {
    if (scans[d].drive.info.rotational) OrderByPhysicalOffset(fs, &jobs[d]);
  }
  std::vector<ReadOutcome> outcomes(items.size());
  std::vector<std::string> names;
  std::vector<bool> rotational;
  for (const DriveScan& s : scans) {
    names.push_back(s.drive.source);
    rotational.push_back(s.drive.info.rotational);
  }
  Reader reader(fs, opt, digests, rotational);
  reader.SetDriveNames(names);
  Status index_status;
  if (index_writer) {
    reader.SetChunkObserver(
        [&](const ReadJob& job) -> std::unique_ptr<ChunkObserver> {
          if (!first_copy(job.id)) return nullptr;
          return std::make_unique<ChunkDigestRecorder>(index_writer.get(),
                                                       entry_of[job.id]);
        });
  }
  {
    Progress progress(names, planned, ProgressOptionsOf(opt));
    VALISE_RETURN_IF_ERROR(
        reader.Run(jobs, &progress, [&](const ReadJob& job, ReadOutcome&& out) {
          if (out.status.ok() && out.observer) {
            Status s =
                static_cast<ChunkDigestRecorder*>(out.observer.get())->Done();
            if (!s.ok() && index_status.ok()) index_status = s;
          }
          out.observer.reset();
          outcomes[job.id] = std::move(out);
        }));
    progress.Finish();
  }
  if (opt.cancel != nullptr && opt.cancel->load()) {
    return Status::Aborted("interrupted");
  }

  // Stage 4, check: every copy read, copies of one path agree.
  // A file left unread because the run stopped (out of descriptors)
  // carries the reason that stopped it: said once, counted for the rest.
  Status first_error;
  size_t failed = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const ReadOutcome& o = outcomes[i];
    if (!o.status.ok()) {
      ++failed;
      if (!o.cancelled || first_error.ok()) {
        summary->errors.push_back(o.status.message());
      }
      if (first_error.ok()) first_error = o.status;
      continue;
    }
    if (i > 0 && *items[i - 1].rel == *items[i].rel &&
        outcomes[i - 1].status.ok() && outcomes[i - 1].digests != o.digests) {
      return Status::InvalidArgument(
          DrivePath(scans[items[i - 1].drive].drive, *items[i].rel),
          "differs from " +
              DrivePath(scans[items[i].drive].drive, *items[i].rel) +
              " (same path, different contents)");
    }
  }
  if (!first_error.ok()) {
    return Status::IOError(
        std::to_string(failed) + " file(s) could not be read; first",
        first_error.message());
  }
  if (index_writer) {
    VALISE_RETURN_IF_ERROR(index_status);
    VALISE_RETURN_IF_ERROR(index_writer->Finish());
  }

  // Stage 5, describe: one entry per path.
  *manifest = Manifest(digests);
  if (chunks != nullptr) {
    chunks->chunk_size = opt.chunk_size;
    chunks->paths.clear();
    chunks->chunks.clear();
  }
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0 && *items[i - 1].rel == *items[i].rel) continue;
    const FileInfo& info = scans[items[i].drive].files[items[i].file].info;
    manifest->Add(*items[i].rel, info.size, info.mtime_ns, outcomes[i].digests);
    summary->bytes += info.size;
    ++summary->files;
    if (chunks != nullptr) {
      chunks->paths.push_back(*items[i].rel);
      chunks->chunks.push_back(std::move(outcomes[i].chunks));
    }
  }
  summary->seconds = double(fs->NowMicros() - start_us) / 1e6;
  VALISE_RETURN_IF_ERROR(manifest->Finish());

  // Which entries each drive holds, as runs of manifest indices.
  summary->drive_runs.assign(scans.size(), {});
  for (size_t d = 0; d < scans.size(); ++d) {
    auto& runs = summary->drive_runs[d];
    for (const ScannedFile& f : scans[d].files) {
      const int64_t e = manifest->Find(f.rel);
      if (e < 0) continue;
      const uint64_t idx = static_cast<uint64_t>(e);
      if (!runs.empty() && runs.back().first + runs.back().second == idx) {
        ++runs.back().second;
      } else {
        runs.emplace_back(idx, 1);
      }
    }
  }
  return Status::OK();
}

}  // namespace valise
