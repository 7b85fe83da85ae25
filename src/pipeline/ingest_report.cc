// The report of an ingest: what the ledger holds, summed up. Files
// committed by an earlier run count as resumed, not as ok; each drive's
// row counts the files read ok from it and the copies that failed on it;
// the files skipped by the scan and the extra files follow the failures,
// and the files committed come last.
#include "pipeline/ingest_report.h"

#include <algorithm>

#include "pipeline/verify_internal.h"

namespace valise {

void StartIngestReport(const std::string& dest, IngestLedger* l) {
  RunReport* r = l->report;
  l->start_us = l->fs->NowMicros();
  r->command = "ingest";
  r->dest = dest;
  r->started = NowIso8601();
  r->files_expected = l->m.size();
  r->bytes_expected = l->m.total_bytes();
  r->chunk_size = l->opt.chunk_size;
  if (l->by_chunks) r->checked_by = CheckedByChunks(l->opt);
}

namespace {

// The rows of a pack's files that went through its parity drive: a file
// committed from it was rebuilt (its drive not given: a missing row says
// so); one whose parity copy failed cannot be rebuilt.
void ReportParity(IngestLedger* ledger) {
  IngestLedger& l = *ledger;
  for (size_t e = 0; e < l.m.size(); ++e) {
    auto it = l.failures_of.find(e);
    const bool rebuilt = l.state[e] == EntryState::kCommitted &&
                         !l.resumed[e] && l.read_from[e] == l.parity_drive;
    bool lost = false;
    if (!rebuilt && it != l.failures_of.end()) {
      for (size_t i : it->second) {
        lost |= l.report->files[i].drive == l.parity_drive;
      }
    }
    if (!rebuilt && !lost) continue;
    l.parity->CountFile(rebuilt);
    if (rebuilt && it == l.failures_of.end()) {
      FileResult r = l.Result(e, -1, FileStatus::kMissing);
      r.repaired_from = l.parity_drive;
      l.AddFailure(e, std::move(r));
      it = l.failures_of.find(e);
    }
    const std::string why = l.parity->LostWhy(e);
    for (size_t i : it->second) {
      FileResult& r = l.report->files[i];
      r.parity = rebuilt ? FileResult::Parity::kRebuilt
                         : FileResult::Parity::kUnrecoverable;
      if (!rebuilt && r.drive == l.parity_drive && !why.empty()) {
        r.detail = why;
      }
    }
  }
  // The parity drives' files are the pack's, not extra.
  std::vector<FileResult> extra;
  for (FileResult& r : l.match.extra) {
    if (!l.parity->IsParityFile(r.drive, r.path)) extra.push_back(std::move(r));
  }
  l.match.extra = std::move(extra);
  l.report->parity = l.parity->Report();
}

// Reorders the first entry.size() rows by their entry (stable: the copies
// of one file keep their order). REQUIRES: rows->size() >= entry.size().
void SortByEntry(const std::vector<size_t>& entry,
                 std::vector<FileResult>* rows) {
  // Already in order (one drive read in manifest order, say): no row
  // moved.
  if (std::is_sorted(entry.begin(), entry.end())) return;
  std::vector<size_t> order(entry.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return entry[a] < entry[b]; });
  std::vector<FileResult> sorted;
  sorted.reserve(rows->size());
  for (size_t i : order) sorted.push_back(std::move((*rows)[i]));
  for (size_t i = entry.size(); i < rows->size(); ++i) {
    sorted.push_back(std::move((*rows)[i]));
  }
  *rows = std::move(sorted);
}

// Sorts the problem rows (SortByEntry) and puts the compact missing rows
// back among them, in their place by entry: a file on no drive is found
// before any reading, so its key is its entry (RowKey).
void PlaceRowsFoundBeforeReading(IngestLedger* ledger) {
  IngestLedger& l = *ledger;
  RunReport* report = l.report;
  std::vector<uint32_t> missing = report->TakeMissing();
  SortByEntry(l.row_entry, &report->files);
  std::sort(l.row_entry.begin(), l.row_entry.end());
  std::sort(missing.begin(), missing.end());
  for (uint32_t e : missing) {
    const size_t before =
        std::upper_bound(l.row_entry.begin(), l.row_entry.end(), size_t{e}) -
        l.row_entry.begin();
    report->AddMissingAt(&l.m, e, before);
  }
}

}  // namespace

void FinishIngestReport(const Status& s, IngestLedger* ledger) {
  IngestLedger& l = *ledger;
  RunReport* report = l.report;
  if (l.parity != nullptr && !l.state.empty()) ReportParity(ledger);
  std::vector<uint64_t> planned(l.scans.size(), 0);
  for (size_t e = 0; e < l.m.size(); ++e) {
    if (!l.candidates.empty() && !l.candidates[e].empty()) {
      planned[l.candidates[e][0].drive] += l.m.file_size(e);
    }
    // Files committed by an earlier run count as resumed, not as ok.
    if (l.state[e] == EntryState::kCommitted && !l.resumed[e]) {
      ++report->files_ok;
      report->bytes_verified += l.m.file_size(e);
    }
  }
  std::vector<DriveReadStats> st(
      l.drive_stats.begin(),
      l.drive_stats.begin() + std::min(l.drive_stats.size(), l.scans.size()));
  FillDriveReports(l.scans, st, planned, report);
  for (const FileResult& r : report->files) {
    if (r.drive >= 0 && r.drive < static_cast<int>(report->drives.size())) {
      ++report->drives[r.drive].files_bad;
    }
  }
  for (const FileResult& r : l.ok_results) {
    if (r.drive >= 0) ++report->drives[r.drive].files_ok;
  }
  // Listed as verify lists them: the problem rows found before reading
  // (files on no drive), then those found by reading, each in manifest
  // order (a file's copies in the order they were tried); the extra
  // files; the skipped entries; then, ingest's own, the files committed.
  PlaceRowsFoundBeforeReading(ledger);
  SortByEntry(l.ok_entry, &l.ok_results);
  size_t rows =
      report->files.size() + l.match.extra.size() + l.ok_results.size();
  for (const DriveScan& scan : l.scans) rows += scan.skipped.size();
  if (rows == l.ok_results.size()) {
    // Only files committed (the common end): their rows are the report's.
    report->files = std::move(l.ok_results);
  } else {
    // Room for every row first: a FileResult is 240 bytes, and a vector
    // grown row by row moved them all again at each doubling.
    report->files.reserve(rows);
    for (FileResult& r : l.match.extra) report->files.push_back(std::move(r));
    for (DriveScan& scan : l.scans) {
      for (FileResult& r : scan.skipped) report->files.push_back(std::move(r));
    }
    for (FileResult& r : l.ok_results) report->files.push_back(std::move(r));
  }
  report->interrupted = l.Cancelled();
  report->seconds = double(l.fs->NowMicros() - l.start_us) / 1e6;
  if (!s.ok()) {
    report->fatal_error = s.message();
  } else if (l.chunk_check && !l.chunk_check->trouble().ok() &&
             report->fatal_error.empty()) {
    // The chunk index unreadable or changed during the run: trouble.
    report->fatal_error = l.chunk_check->trouble().message();
  }
}

}  // namespace valise
