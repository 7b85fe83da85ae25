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

namespace {

void NameDrives(const std::vector<DriveScan>& scans,
                const std::vector<std::string>& sources,
                const std::vector<std::string>& labels, IngestDryRun* out) {
  out->drives.resize(sources.size());
  for (size_t i = 0; i < sources.size(); ++i) {
    out->drives[i].source = sources[i];
    out->drives[i].label = i < labels.size() ? labels[i] : "";
    out->drives[i].spinning = scans[i].drive.info.rotational;
    if (!scans[i].status.ok()) out->drives[i].error = scans[i].status.message();
  }
}

// "  LABEL  N files  SIZE  TIME  SRC", the SRC cut at its start to fit.
void DriveLines(const IngestDryRun& p, std::string* out) {
  for (const IngestDryRun::Drive& d : p.drives) {
    const std::string label = d.label.empty() ? "-" : d.label;
    std::string head =
        d.error.empty()
            ? fmt::format("  {:<12} {:>8} files {:>11} {:>8}  ", label, d.files,
                          HumanBytes(d.bytes), ClockTime(d.seconds))
            : fmt::format("  {:<12} cannot be read: {}  ", label,
                          EscapeTerminalText(d.error));
    const std::string src = EscapeTerminalText(d.source);
    *out += head.size() + 8 < 80 ? head + FitTail(src, 80 - head.size()) + "\n"
                                 : FitTail(head + src, 80) + "\n";
  }
}

// "predicted time: 1:02:03 (the slowest drive: ship-07's 11.2 TiB)" and
// the rates assumed, in two lines of at most 80 columns.
void PredictionLines(const IngestDryRun& p, std::string* out) {
  std::string who = "nothing to read";
  if (p.slowest >= 0) {
    const IngestDryRun::Drive& d = p.drives[p.slowest];
    who =
        fmt::format("the slowest drive: {}'s {}",
                    d.label.empty() ? d.source : d.label, HumanBytes(d.bytes));
  }
  const std::string head = "predicted time: " + ClockTime(p.seconds) + " (";
  *out += head + FitTail(EscapeTerminalText(who), 80 - head.size() - 1) + ")\n";
  *out += fmt::format(
      "  at assumed rates: {:.0f} MB/s a spinning drive, {:.0f} MB/s "
      "another\n",
      kAssumedSpinningRate / 1e6, kAssumedSolidRate / 1e6);
}

// The files on no SRC given, at most `list_limit` of them, one a line.
void UnavailableLines(const IngestDryRun& p, const Manifest& m,
                      size_t list_limit, std::string* out) {
  for (size_t i = 0; i < p.unavailable.size() && i < list_limit; ++i) {
    const uint64_t e = p.unavailable[i];
    *out += FitTail(fmt::format("  {} ({})", EscapeTerminalPath(m.path(e)),
                                HumanBytes(m.file_size(e))),
                    80) +
            "\n";
  }
  if (p.unavailable.size() > list_limit) {
    *out +=
        fmt::format("  ... and {} more\n", p.unavailable.size() - list_limit);
  }
}

}  // namespace

Status PlanIngestDryRun(FileSystem* fs, const Manifest& m,
                        const ShipmentDrives* drives,
                        const std::vector<std::string>& sources,
                        const std::vector<std::string>& labels,
                        const std::string& dest, IngestDryRun* out) {
  *out = IngestDryRun();
  VALISE_RETURN_IF_ERROR(
      ComputeShipmentStatus(fs, m, drives, dest, &out->dest));
  auto scanned =
      std::make_shared<const std::vector<DriveScan>>(ScanDrives(fs, sources));
  out->scans = scanned;
  const std::vector<DriveScan>& scans = *scanned;
  Match match;
  MatchDrives(m, scans, &match);
  NameDrives(scans, sources, labels, out);
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
  PredictDryRun(out);
  NeedSpace(out->files(), out->bytes(), &out->space);
  MeasureDestSpace(fs, dest, &out->space);
  return Status::OK();
}

Status PlanVerifyDryRun(FileSystem* fs, const Manifest& m,
                        const std::vector<std::string>& sources,
                        const std::vector<std::string>& labels,
                        IngestDryRun* out) {
  *out = IngestDryRun();
  const std::vector<DriveScan> scans = ScanDrives(fs, sources);
  Match match;
  MatchDrives(m, scans, &match);
  NameDrives(scans, sources, labels, out);
  for (size_t e = 0; e < m.size(); ++e) {
    bool any = false;
    for (size_t k = 0; k < match.num_copies(e); ++k) {
      const CopyRef& c = match.copy(e, k);
      any = true;
      // A copy of another size is reported without being read.
      if (scans[c.drive].files[c.file].info.size != m.file_size(e)) continue;
      ++out->drives[c.drive].files;
      out->drives[c.drive].bytes += m.file_size(e);
    }
    if (!any) {
      out->unavailable.push_back(e);
      out->bytes_unavailable += m.file_size(e);
    }
  }
  PredictDryRun(out);
  return Status::OK();
}

uint64_t IngestDryRun::files() const {
  uint64_t n = 0;
  for (const Drive& d : drives) n += d.files;
  return n;
}

uint64_t IngestDryRun::bytes() const {
  uint64_t n = 0;
  for (const Drive& d : drives) n += d.bytes;
  return n;
}

void PredictDryRun(IngestDryRun* p) {
  p->seconds = 0;
  p->slowest = -1;
  for (size_t i = 0; i < p->drives.size(); ++i) {
    IngestDryRun::Drive& d = p->drives[i];
    d.rate = d.spinning ? kAssumedSpinningRate : kAssumedSolidRate;
    d.seconds = static_cast<double>(d.bytes) / d.rate;
    if (d.bytes > 0 && d.seconds >= p->seconds) {
      p->seconds = d.seconds;
      p->slowest = static_cast<int>(i);
    }
  }
}

void NeedSpace(uint64_t files, uint64_t bytes, IngestDryRun::Space* space) {
  space->need_inodes = files;
  space->need_bytes = bytes + files * kSpacePerFile;
}

void MeasureDestSpace(FileSystem* fs, const std::string& dest,
                      IngestDryRun::Space* space) {
  // The run makes DEST (and its parents) if missing: what it writes then
  // lands on the file system of the nearest parent that exists.
  std::string at = dest.empty() ? "." : dest;
  for (FileInfo info; !fs->Stat(at, &info).ok();) {
    const size_t slash = at.find_last_of('/');
    if (slash == std::string::npos) {
      at = ".";
      break;
    }
    if (slash == 0) {
      at = "/";
      break;
    }
    at = at.substr(0, slash);
  }
  space->at = at;
  std::unique_ptr<Directory> dir;
  Status s = fs->OpenDirectory(at, /*create=*/false, &dir);
  if (s.ok()) s = dir->FreeSpace(&space->free_bytes, &space->free_inodes);
  if (!s.ok()) {
    space->known = false;
    space->error = s.message();
    return;
  }
  space->known = true;
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
  line(fmt::format("would read: {} files, {}", p.files(),
                   HumanBytes(p.bytes())));
  DriveLines(p, &out);
  PredictionLines(p, &out);
  const IngestDryRun::Space& sp = p.space;
  if (sp.known) {
    line(sp.Fits() ? "DEST space: fits" : "DEST space: DOES NOT FIT");
    line(fmt::format("  the run writes {} and {} files",
                     HumanBytes(sp.need_bytes), sp.need_inodes));
    line(fmt::format("  free: {} and {} files in ", HumanBytes(sp.free_bytes),
                     sp.free_inodes) +
         EscapeTerminalText(sp.at));
  } else {
    line("DEST space: not known (" + EscapeTerminalText(sp.error) + ")");
  }
  if (p.unavailable.empty()) {
    line("after it: every file in place");
    return out;
  }
  line(fmt::format("still missing after it: {} files, {} (on no SRC given)",
                   p.unavailable.size(), HumanBytes(p.bytes_unavailable)));
  UnavailableLines(p, m, list_limit, &out);
  return out;
}

std::string FormatVerifyDryRun(const IngestDryRun& p, const Manifest& m,
                               size_t list_limit) {
  std::string out;
  auto line = [&](const std::string& l) { out += FitTail(l, 80) + "\n"; };
  line("verify --dry-run: nothing read (sizes in KiB = 1024 B)");
  line(fmt::format("would read: {} files, {} (every copy found)", p.files(),
                   HumanBytes(p.bytes())));
  DriveLines(p, &out);
  PredictionLines(p, &out);
  if (p.unavailable.empty()) {
    line(fmt::format("every one of the {} files is on a SRC given", m.size()));
    return out;
  }
  line(
      fmt::format("on no SRC given: {} files, {} (verify reports them "
                  "missing)",
                  p.unavailable.size(), HumanBytes(p.bytes_unavailable)));
  UnavailableLines(p, m, list_limit, &out);
  return out;
}

}  // namespace valise
