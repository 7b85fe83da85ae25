// The shipment's status as an operator reads it (80 columns) and as a
// machine does (JSON, schema valise-status/1, docs/report.md).
#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "pipeline/progress_render.h"
#include "valise/shipment.h"

namespace valise {

namespace {

using Json = nlohmann::ordered_json;

std::string DriveState(const ShipmentStatus& s, size_t i) {
  const ShipmentStatus::Drive& d = s.drives[i];
  if (d.parity) return "parity";
  if (std::find(s.covered.begin(), s.covered.end(), i) != s.covered.end()) {
    return "covered";
  }
  if (d.files_missing == 0) return "done";
  if (d.files_arrived == 0) return "needed";
  return "partial";
}

std::string ProblemLine(const ShipmentStatus::Problem& p) {
  std::string where = p.drive.empty() ? "" : " on " + p.drive;
  std::string at = p.first_bad_offset >= 0
                       ? fmt::format(", first bad byte {}", p.first_bad_offset)
                       : "";
  return fmt::format("  {} {}{}{}", p.status, EscapeTerminalPath(p.path), where,
                     at);
}

}  // namespace

std::string FormatShipmentStatus(const ShipmentStatus& s, const Manifest& m,
                                 const std::string& manifest_path,
                                 const std::string& dest, size_t list_limit) {
  std::string out;
  auto line = [&](const std::string& l) { out += FitTail(l, 80) + "\n"; };
  const double pct =
      s.bytes_total ? 100.0 * double(s.bytes_arrived) / double(s.bytes_total)
                    : 100.0;
  line(fmt::format("shipment {} into {}", EscapeTerminalText(manifest_path),
                   EscapeTerminalText(dest)));
  line(
      fmt::format("arrived:  {} of {} files, {} of {} ({:.0f}%; sizes in "
                  "KiB = 1024 B)",
                  s.files_arrived, s.files_total, HumanBytes(s.bytes_arrived),
                  HumanBytes(s.bytes_total), pct));
  line(fmt::format("missing:  {} files, {}", s.missing.size(),
                   HumanBytes(s.bytes_missing)));
  if (s.have_drives) {
    out += "\n";
    line(fmt::format("{:<16} {:<8} {:>15} {:>11}  {}", "drive", "state",
                     "files arrived", "bytes", "last run"));
    for (size_t i = 0; i < s.drives.size(); ++i) {
      const ShipmentStatus::Drive& d = s.drives[i];
      // The last run gets the room the columns leave (25): cut from its
      // start, so the label, the host and the result stay.
      const std::string run = EscapeTerminalText(
          !d.runs.empty()      ? d.runs.back()
          : !d.seen_at.empty() ? "at " + d.seen_at + " (its journal)"
                               : "never ingested");
      line(fmt::format(
          "{:<16} {:<8} {:>15} {:>11}  {}",
          FitTail(EscapeTerminalText(d.label), 16), DriveState(s, i),
          d.parity ? std::string("-")
                   : fmt::format("{}/{}", d.files_arrived, d.files),
          HumanBytes(d.bytes), FitTail(run, 80 - 55)));
    }
    if (!s.hosts.empty()) {
      out += "\n";
      line(fmt::format("{:<16} {:>7} {:>11}  {:<20}  {}", "host", "files",
                       "bytes", "last run began", "and"));
      for (const ShipmentStatus::Host& h : s.hosts) {
        line(fmt::format("{:<16} {:>7} {:>11}  {:<20}  {}",
                         FitTail(EscapeTerminalText(h.name), 16), h.files,
                         HumanBytes(h.bytes), h.last_run,
                         h.ended ? "ended" : "running or died"));
      }
    }
    if (!s.needed.empty()) {
      std::string names;
      for (uint32_t d : s.needed) {
        names += names.empty() ? "" : ", ";
        names += EscapeTerminalText(s.drives[d].label);
      }
      out += "\n";
      if (s.together) {
        line("bring together, in one ingest run: " + names);
      } else {
        out += fmt::format("bring: {}\n", names);
      }
      for (uint32_t d : s.needed) {
        const ShipmentStatus::Drive& sd = s.drives[d];
        std::string ids;
        if (!sd.fs_uuid.empty()) ids += "uuid " + sd.fs_uuid;
        if (!sd.serial.empty())
          ids += (ids.empty() ? "" : ", ") + ("serial " + sd.serial);
        if (ids.empty()) ids = "was " + sd.source;
        const std::string what =
            sd.parity ? "parity"
            : sd.files_missing == 0
                ? "all its files arrived; its stripes rebuild the rest"
                : fmt::format("{} missing files, {} only on it",
                              sd.files_missing, sd.files_missing_only_here);
        line(fmt::format("  {} ({}): {}", EscapeTerminalText(sd.label),
                         EscapeTerminalText(ids), what));
        if (!sd.seen_at.empty()) {
          line("    last seen at " + EscapeTerminalText(sd.seen_at));
        }
      }
    }
    for (uint32_t d : s.covered) {
      line(fmt::format("{} is not needed: parity covers it ({} missing files)",
                       EscapeTerminalText(s.drives[d].label),
                       s.drives[d].files_missing));
    }
    if (!s.covered.empty()) {
      line("  rebuilt from the drives above, given together: files already in");
      line("  DEST do not serve as stripe members");
    }
    if (s.files_on_no_drive > 0) {
      line(fmt::format("{} missing files are on no drive of M.drives",
                       s.files_on_no_drive));
    }
  }
  if (!s.problems.empty()) {
    out += "\n";
    line(fmt::format("problems: {} (not repaired since)", s.problems.size()));
    for (size_t i = 0; i < s.problems.size() && i < list_limit; ++i) {
      line(ProblemLine(s.problems[i]));
    }
    if (s.problems.size() > list_limit) {
      line(fmt::format("  ... and {} more (--json lists all)",
                       s.problems.size() - list_limit));
    }
  }
  if (!s.missing.empty()) {
    out += "\n";
    line(fmt::format("missing files{}:",
                     s.missing.size() > list_limit
                         ? fmt::format(" (first {})", list_limit)
                         : ""));
    for (size_t i = 0; i < s.missing.size() && i < list_limit; ++i) {
      line("  " + EscapeTerminalPath(m.path(s.missing[i])));
    }
  }
  for (const std::string& n : s.notes) line("note: " + EscapeTerminalText(n));
  out += "\n";
  out += s.complete()        ? "complete: every file arrived and verified\n"
         : s.missing.empty() ? "not complete: problems to resolve\n"
                             : fmt::format("not complete: {} files to come\n",
                                           s.missing.size());
  return out;
}

std::string FormatShipmentStatusJson(const ShipmentStatus& s, const Manifest& m,
                                     const std::string& manifest_path,
                                     const std::string& dest) {
  Json j;
  j["schema"] = "valise-status/1";
  j["manifest"] = EscapePath(manifest_path);
  j["dest"] = EscapePath(dest);
  j["complete"] = s.complete();
  j["files_total"] = s.files_total;
  j["bytes_total"] = s.bytes_total;
  j["files_arrived"] = s.files_arrived;
  j["bytes_arrived"] = s.bytes_arrived;
  j["files_missing"] = s.missing.size();
  j["bytes_missing"] = s.bytes_missing;
  Json drives = Json::array();
  for (size_t i = 0; i < s.drives.size(); ++i) {
    const ShipmentStatus::Drive& d = s.drives[i];
    drives.push_back({{"label", EscapePath(d.label)},
                      {"source", EscapePath(d.source)},
                      {"fs_uuid", EscapePath(d.fs_uuid)},
                      {"serial", EscapePath(d.serial)},
                      {"state", DriveState(s, i)},
                      {"parity", d.parity},
                      {"files", d.files},
                      {"bytes", d.bytes},
                      {"files_arrived", d.files_arrived},
                      {"bytes_arrived", d.bytes_arrived},
                      {"files_missing", d.files_missing},
                      {"files_missing_only_here", d.files_missing_only_here},
                      {"runs", d.runs},
                      {"seen_at", EscapePath(d.seen_at)}});
  }
  j["drives"] = std::move(drives);
  Json hosts = Json::array();
  for (const ShipmentStatus::Host& h : s.hosts) {
    hosts.push_back({{"host", EscapePath(h.name)},
                     {"files", h.files},
                     {"bytes", h.bytes},
                     {"last_run", h.last_run},
                     {"ended", h.ended}});
  }
  j["hosts"] = std::move(hosts);
  Json needed = Json::array();
  for (uint32_t d : s.needed) needed.push_back(EscapePath(s.drives[d].label));
  j["needed"] = std::move(needed);
  j["needed_together"] = s.together;
  Json covered = Json::array();
  for (uint32_t d : s.covered) covered.push_back(EscapePath(s.drives[d].label));
  j["covered_by_parity"] = std::move(covered);
  j["files_on_no_drive"] = s.files_on_no_drive;
  Json problems = Json::array();
  for (const ShipmentStatus::Problem& p : s.problems) {
    problems.push_back({{"path", EscapePath(p.path)},
                        {"status", p.status},
                        {"drive", EscapePath(p.drive)},
                        {"run", EscapePath(p.run)},
                        {"first_bad_offset", p.first_bad_offset},
                        {"detail", EscapePath(p.detail)}});
  }
  j["problems"] = std::move(problems);
  Json missing = Json::array();
  for (uint64_t e : s.missing) missing.push_back(EscapePath(m.path(e)));
  j["missing"] = std::move(missing);
  Json runs = Json::array();
  for (const RunRecord& r : s.runs) {
    runs.push_back({{"host", EscapePath(r.host)},
                    {"started", r.started},
                    {"finished", r.finished},
                    {"exit_code", r.exit_code},
                    {"problems_total", r.problems_total}});
  }
  j["runs"] = std::move(runs);
  Json notes = Json::array();
  for (const std::string& n : s.notes) notes.push_back(EscapePath(n));
  j["notes"] = std::move(notes);
  return j.dump(1) + "\n";
}

}  // namespace valise
