// valise ingest --dry-run (valise/ingest_dry_run.h): DEST's journal read
// as status reads it, the drives scanned and matched as the run does,
// each entry not in place given to the SRC holding it that supplies the
// fewest bytes so far.
#include "valise/ingest_dry_run.h"

#include <fmt/format.h>

#include "pipeline/plan.h"
#include "pipeline/progress_render.h"
#include "pipeline/scan.h"
#include "valise/report.h"

namespace valise {

Status PlanIngestDryRun(FileSystem* fs, const Manifest& m,
                        const ShipmentDrives* drives,
                        const std::vector<std::string>& sources,
                        const std::vector<std::string>& labels,
                        const std::string& dest, IngestDryRun* out) {
  *out = IngestDryRun();
  VALISE_RETURN_IF_ERROR(
      ComputeShipmentStatus(fs, m, drives, dest, &out->dest));
  const std::vector<DriveScan> scans = ScanDrives(fs, sources);
  Match match;
  MatchDrives(m, scans, &match);
  out->drives.resize(sources.size());
  for (size_t i = 0; i < sources.size(); ++i) {
    out->drives[i].source = sources[i];
    out->drives[i].label = i < labels.size() ? labels[i] : "";
    if (!scans[i].status.ok()) out->drives[i].error = scans[i].status.message();
  }
  for (uint64_t e : out->dest.missing) {
    int best = -1;
    for (size_t k = 0; k < match.num_copies(e); ++k) {
      const CopyRef& c = match.copy(e, k);
      if (scans[c.drive].files[c.file].info.size != m.file_size(e)) continue;
      if (best < 0 || out->drives[c.drive].bytes < out->drives[best].bytes) {
        best = c.drive;
      }
    }
    if (best < 0) {
      out->unavailable.push_back(e);
      out->bytes_unavailable += m.file_size(e);
      continue;
    }
    ++out->drives[best].files;
    out->drives[best].bytes += m.file_size(e);
  }
  return Status::OK();
}

std::string FormatIngestDryRun(const IngestDryRun& p, const Manifest& m,
                               const std::string& dest, size_t list_limit) {
  std::string out;
  auto line = [&](const std::string& l) { out += FitTail(l, 80) + "\n"; };
  const ShipmentStatus& s = p.dest;
  line("ingest --dry-run: nothing read or written (sizes in KiB = 1024 B)");
  line("into " + EscapeTerminalText(dest));
  line(fmt::format("in place: {} of {} files, {} of {} (journaled in DEST)",
                   s.files_arrived, s.files_total, HumanBytes(s.bytes_arrived),
                   HumanBytes(s.bytes_total)));
  uint64_t files = 0, bytes = 0;
  for (const IngestDryRun::Drive& d : p.drives) {
    files += d.files;
    bytes += d.bytes;
  }
  line(fmt::format("would read: {} files, {}", files, HumanBytes(bytes)));
  // "  LABEL  N files  SIZE  SRC", the SRC cut at its start to fit.
  for (const IngestDryRun::Drive& d : p.drives) {
    const std::string label = d.label.empty() ? "-" : d.label;
    std::string head = d.error.empty()
                           ? fmt::format("  {:<12} {:>8} files {:>11}  ", label,
                                         d.files, HumanBytes(d.bytes))
                           : fmt::format("  {:<12} cannot be read: {}  ", label,
                                         EscapeTerminalText(d.error));
    const std::string src = EscapeTerminalText(d.source);
    out += head.size() + 8 < 80 ? head + FitTail(src, 80 - head.size()) + "\n"
                                : FitTail(head + src, 80) + "\n";
  }
  if (p.unavailable.empty()) {
    line("after it: every file in place");
    return out;
  }
  line(fmt::format("still missing after it: {} files, {} (on no SRC given)",
                   p.unavailable.size(), HumanBytes(p.bytes_unavailable)));
  for (size_t i = 0; i < p.unavailable.size() && i < list_limit; ++i) {
    const uint64_t e = p.unavailable[i];
    line(fmt::format("  {} ({})", EscapeTerminalPath(m.path(e)),
                     HumanBytes(m.file_size(e))));
  }
  if (p.unavailable.size() > list_limit) {
    line(fmt::format("  ... and {} more", p.unavailable.size() - list_limit));
  }
  return out;
}

}  // namespace valise
