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
}

void FinishIngestReport(const Status& s, IngestLedger* ledger) {
  IngestLedger& l = *ledger;
  RunReport* report = l.report;
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
  for (DriveScan& scan : l.scans) {
    for (FileResult& r : scan.skipped) report->files.push_back(std::move(r));
  }
  for (FileResult& r : l.match.extra) report->files.push_back(std::move(r));
  for (FileResult& r : l.ok_results) report->files.push_back(std::move(r));
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
