// The report: what a run found, told twice — a summary an operator on a
// loading dock can read at a glance, and a JSON document for machines
// (schema "valise-report/1", docs/report.md).
//
// The summary reads top-down in the order an operator asks questions:
// what ran and how fast (header), did every drive behave (table), which
// files are wrong and how (one section per status, capped so forty drives
// of damage still fit a screen; the JSON has them all), then the verdict
// as the last line, so `tail -1` answers "is it all there?".
//
// Everything that reaches the terminal is escaped: paths with the manifest
// v1 rule (so a listed path can be grepped in the manifest), free text with
// control bytes and invalid UTF-8 as %XX, so no file name can move the
// cursor or forge a line.
//
// The JSON is written entry by entry (one drive, one file a line) instead
// of building one document tree: a kept-all-files ingest report can list
// millions of files, and a tree costs several times the text it prints.

#include "valise/report.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pipeline/progress_render.h"
#include "valise/manifest.h"

namespace valise {

const char* FileStatusName(FileStatus s) {
  switch (s) {
    case FileStatus::kOk:
      return "ok";
    case FileStatus::kCorrupt:
      return "corrupt";
    case FileStatus::kSizeMismatch:
      return "size-mismatch";
    case FileStatus::kMissing:
      return "missing";
    case FileStatus::kUnreadable:
      return "unreadable";
    case FileStatus::kExtra:
      return "extra";
    case FileStatus::kSkipped:
      return "skipped";
    case FileStatus::kStalled:
      return "stalled";
  }
  return "unknown";
}

const char* CheckedByName(CheckedBy c) {
  return c == CheckedBy::kSignedChunks ? "signed-chunk-digests"
                                       : "file-digests";
}

bool IsProblem(FileStatus s) {
  switch (s) {
    case FileStatus::kCorrupt:
    case FileStatus::kSizeMismatch:
    case FileStatus::kMissing:
    case FileStatus::kUnreadable:
    case FileStatus::kStalled:
      return true;
    case FileStatus::kOk:
    case FileStatus::kExtra:
    case FileStatus::kSkipped:
      return false;
  }
  return false;
}

const char* ExitResultWord(int exit_code) {
  switch (exit_code) {
    case 0:
      return "ok";
    case 1:
      return "problems";
    case 130:
      return "interrupted";
    default:
      return "trouble";
  }
}

int RunReport::ExitCode() const {
  if (interrupted) return 130;
  if (!fatal_error.empty()) return 2;
  if (!missing_entries_.empty()) return 1;
  for (const FileResult& f : files) {
    if (IsProblem(f.status)) return 1;
  }
  for (const DriveReport& d : drives) {
    if (d.stalled || !d.errors.empty()) return 1;
  }
  return 0;
}

void RunReport::AddMissing(const Manifest* manifest, size_t entry) {
  missing_manifest_ = manifest;
  // Entries are below UINT32_MAX: Manifest::Finish refuses more.
  missing_entries_.push_back(static_cast<uint32_t>(entry));
  if (missing_runs_.empty() || missing_runs_.back().before != files.size()) {
    missing_runs_.push_back(MissingRun{files.size(), 0});
  }
  ++missing_runs_.back().count;
}

void RunReport::ForEachFile(
    const std::function<void(const FileResult&)>& fn) const {
  size_t row = 0;      // next row of `files`
  size_t missing = 0;  // next compact row
  FileResult scratch;  // every compact row, refilled (its path's buffer
                       // is reused, so millions of rows cost no allocation)
  scratch.status = FileStatus::kMissing;
  for (const MissingRun& run : missing_runs_) {
    for (; row < run.before && row < files.size(); ++row) fn(files[row]);
    for (size_t k = 0; k < run.count; ++k, ++missing) {
      const size_t e = missing_entries_[missing];
      scratch.path.assign(missing_manifest_->path(e));
      scratch.expected_size = missing_manifest_->file_size(e);
      fn(scratch);
    }
  }
  for (; row < files.size(); ++row) fn(files[row]);
}

// ---------------------------------------------------------------------------
// Small text helpers (declared in progress_render.h, shared with the bars).

std::string HumanBytes(uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB",
                                           "TiB", "PiB", "EiB"};
  double v = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  // Move up a unit before printing would round to "1024.0".
  while (v >= 1023.95 && unit + 1 < std::size(kUnits)) {
    v /= 1024;
    ++unit;
  }
  return fmt::format("{:.1f} {}", v, kUnits[unit]);
}

std::string FitTail(const std::string& s, size_t width) {
  if (s.size() <= width) return s;
  return "..." + s.substr(s.size() - (width - 3));
}

std::string HumanRate(double bytes_per_second) {
  if (!std::isfinite(bytes_per_second) || bytes_per_second < 0) {
    return "- MB/s";
  }
  return fmt::format("{:.1f} MB/s", bytes_per_second / 1e6);
}

std::string HumanDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
  if (seconds < 59.95) return fmt::format("{:.1f}s", seconds);
  uint64_t total = static_cast<uint64_t>(std::llround(seconds));
  if (total < 3600) return fmt::format("{}m {:02}s", total / 60, total % 60);
  return fmt::format("{}h {:02}m {:02}s", total / 3600, total / 60 % 60,
                     total % 60);
}

std::string ClockTime(double seconds) {
  // Beyond 999 hours an estimate means nothing; say so rather than print
  // a number that overflows its field.
  if (!std::isfinite(seconds) || seconds < 0 || seconds >= 3600.0 * 1000) {
    return "--:--";
  }
  uint64_t total = static_cast<uint64_t>(std::ceil(seconds));
  uint64_t h = total / 3600, m = total / 60 % 60, s = total % 60;
  if (h == 0) return fmt::format("{}:{:02}", m, s);
  return fmt::format("{}:{:02}:{:02}", h, m, s);
}

std::string EscapeReportPath(std::string_view raw) {
  return EscapeTerminalPath(raw);
}
std::string EscapeReportText(std::string_view text) {
  return EscapeTerminalText(text);
}

// ---------------------------------------------------------------------------
// The human summary.

namespace {

// The order problem sections appear in: worst (data is there but wrong)
// first, then what is absent, then what is only reported.
constexpr FileStatus kSectionOrder[] = {
    FileStatus::kCorrupt, FileStatus::kSizeMismatch, FileStatus::kUnreadable,
    FileStatus::kStalled, FileStatus::kMissing,      FileStatus::kExtra,
    FileStatus::kSkipped,
};

const char* SectionTitle(FileStatus s) {
  switch (s) {
    case FileStatus::kCorrupt:
      return "corrupt";
    case FileStatus::kSizeMismatch:
      return "wrong size";
    case FileStatus::kUnreadable:
      return "unreadable";
    case FileStatus::kStalled:
      return "stalled, drive stopped answering";
    case FileStatus::kMissing:
      return "missing, on no drive";
    case FileStatus::kExtra:
      return "extra, on a drive but not in the manifest";
    case FileStatus::kSkipped:
      return "skipped, not regular files";
    case FileStatus::kOk:
      return "ok";
  }
  return "?";
}

// The word used for a status in the verdict line: "2 corrupt".
const char* VerdictWord(FileStatus s) {
  return s == FileStatus::kSizeMismatch ? "wrong size" : FileStatusName(s);
}

std::string DriveName(const RunReport& r, int drive) {
  if (drive < 0 || static_cast<size_t>(drive) >= r.drives.size()) {
    return fmt::format("drive #{}", drive);
  }
  return EscapeReportPath(r.drives[drive].source);
}

bool HasDrive(const RunReport& r, int drive) {
  return drive >= 0 && static_cast<size_t>(drive) < r.drives.size();
}

std::string ErrnoText(int err) {
  // strerrordesc_np (glibc >= 2.32) is thread-safe and never localised,
  // unlike strerror; it returns null for an unknown value.
  const char* text = err > 0 ? strerrordesc_np(err) : nullptr;
  return text ? std::string(text) : fmt::format("errno {}", err);
}

// Keeps the tail of a long (escaped) string, where drive names differ
// (/mnt/ingest/drive07), and never cuts a UTF-8 sequence in two.
std::string KeepTail(const std::string& s, size_t max) {
  if (s.size() <= max || max <= 3) return s;
  size_t start = s.size() - (max - 3);
  while (start < s.size() &&
         (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) {
    ++start;
  }
  return "..." + s.substr(start);
}

constexpr size_t kMaxRangesShown = 4;

std::string DescribeFile(const RunReport& r, const FileResult& f) {
  std::string line = EscapeReportPath(f.path);
  if (HasDrive(r, f.drive)) {
    fmt::format_to(std::back_inserter(line), " (on {})", DriveName(r, f.drive));
  }
  std::string detail = EscapeReportText(f.detail);
  auto append_detail = [&] {
    if (!detail.empty()) line += ": " + detail;
  };
  switch (f.status) {
    case FileStatus::kCorrupt:
      if (f.first_bad_offset >= 0) {
        auto off = static_cast<uint64_t>(f.first_bad_offset);
        fmt::format_to(std::back_inserter(line), ": corrupt at offset {}", off);
        if (r.chunk_size > 0) {
          fmt::format_to(std::back_inserter(line), " (chunk {})",
                         off / r.chunk_size);
        }
      } else {
        line += ": corrupt, offset unknown";
      }
      if (!f.corrupt_ranges.empty()) {
        size_t shown = 0;
        line += "; chunks differ at";
        for (const BadRange& br : f.corrupt_ranges) {
          if (shown == kMaxRangesShown) break;
          fmt::format_to(std::back_inserter(line), "{} {} ({} bytes)",
                         shown == 0 ? "" : ",", br.offset, br.length);
          ++shown;
        }
        if (f.corrupt_ranges.size() > shown) {
          fmt::format_to(std::back_inserter(line), " and {} more ranges",
                         f.corrupt_ranges.size() - shown);
        }
      }
      append_detail();
      break;
    case FileStatus::kSizeMismatch:
      fmt::format_to(std::back_inserter(line),
                     ": {} bytes ({}), expected {} bytes ({})", f.actual_size,
                     HumanBytes(f.actual_size), f.expected_size,
                     HumanBytes(f.expected_size));
      append_detail();
      break;
    case FileStatus::kUnreadable: {
      line += ": unreadable";
      size_t shown = 0;
      uint64_t bad_bytes = 0;
      for (const BadRange& br : f.bad_ranges) {
        bad_bytes += br.length;
        if (shown == kMaxRangesShown) continue;
        fmt::format_to(std::back_inserter(line), "{} at {} ({} bytes): {}",
                       shown == 0 ? "" : ";", br.offset, br.length,
                       ErrnoText(br.err));
        ++shown;
      }
      if (f.bad_ranges.size() > shown) {
        fmt::format_to(std::back_inserter(line),
                       "; and {} more ranges ({} unreadable in all)",
                       f.bad_ranges.size() - shown, HumanBytes(bad_bytes));
      }
      append_detail();
      break;
    }
    case FileStatus::kStalled:
      line += ": its drive stopped answering";
      append_detail();
      break;
    case FileStatus::kMissing:
      fmt::format_to(std::back_inserter(line), " ({})",
                     HumanBytes(f.expected_size));
      append_detail();
      break;
    case FileStatus::kExtra:
      fmt::format_to(std::back_inserter(line), " ({})",
                     HumanBytes(f.actual_size));
      append_detail();
      break;
    case FileStatus::kSkipped:
      line += ": skipped (";
      line += detail.empty() ? "not a regular file" : detail;
      line += ")";
      break;
    case FileStatus::kOk:
      line += ": ok";
      break;
  }
  if (f.repaired_from >= 0) {
    line += "; repaired from " + DriveName(r, f.repaired_from);
  }
  if (f.parity == FileResult::Parity::kRebuilt) {
    line += "; rebuilt from parity";
  } else if (f.parity == FileResult::Parity::kUnrecoverable) {
    line += "; cannot be rebuilt from parity";
  }
  return line;
}

const char* DriveStatus(const DriveReport& d) {
  if (d.stalled) return "stalled";
  if (!d.errors.empty()) return "errors";
  return "ok";
}

void AppendDriveTable(const RunReport& r, size_t list_limit, std::string* out) {
  constexpr size_t kMaxSourceWidth = 40;
  std::vector<std::string> sources;
  size_t source_w = 5, kind_w = 4;
  for (const DriveReport& d : r.drives) {
    sources.push_back(KeepTail(EscapeReportPath(d.source), kMaxSourceWidth));
    source_w = std::max(source_w, sources.back().size());
    kind_w = std::max(kind_w, EscapeReportText(d.kind).size());
  }
  auto o = std::back_inserter(*out);
  fmt::format_to(o, "  {:<{}}  {:<{}}  {:>9}  {:>7}  {:>10}  {:>8}  {}\n",
                 "drive", source_w, "kind", kind_w, "files ok", "bad", "read",
                 "MB/s", "status");
  for (size_t i = 0; i < r.drives.size(); ++i) {
    const DriveReport& d = r.drives[i];
    std::string rate =
        d.seconds > 0 ? fmt::format("{:.1f}", d.bytes_read / d.seconds / 1e6)
                      : "-";
    fmt::format_to(o, "  {:<{}}  {:<{}}  {:>9}  {:>7}  {:>10}  {:>8}  {}\n",
                   sources[i], source_w, EscapeReportText(d.kind), kind_w,
                   d.files_ok, d.files_bad, HumanBytes(d.bytes_read), rate,
                   DriveStatus(d));
  }
  // A drive given as a symlink: what it named when the run opened it.
  for (const DriveReport& d : r.drives) {
    if (d.resolved.empty()) continue;
    fmt::format_to(o, "  {} -> {}\n", EscapeReportPath(d.source),
                   EscapeReportPath(d.resolved));
  }
  // Drive-level errors, under the table, capped like the file lists.
  // Messages name their subject already ("/dev/sdc: read at 0: ..."); the
  // drive is prefixed only to one that does not.
  size_t listed = 0, total = 0;
  for (const DriveReport& d : r.drives) {
    std::string source = EscapeReportPath(d.source);
    for (const std::string& e : d.errors) {
      ++total;
      if (listed == list_limit) continue;
      std::string text = EscapeReportText(e);
      if (text.rfind(source, 0) == 0) {
        fmt::format_to(o, "  {}\n", text);
      } else {
        fmt::format_to(o, "  {}: {}\n", source, text);
      }
      ++listed;
    }
  }
  if (total > listed) {
    fmt::format_to(o, "  ... and {} more drive errors (see --report)\n",
                   total - listed);
  }
}

std::string Plural(uint64_t n, const char* one, const char* many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

// "parity: 4+2; drives not given: s5, s6; 12 files rebuilt from parity,
// 0 cannot be; the shipment could still lose 0 more drives".
void AppendParity(const ParityReport& p, std::string* out) {
  auto o = std::back_inserter(*out);
  fmt::format_to(o, "parity: {}+{}", p.data_drives, p.parity_drives);
  if (!p.drives_lost.empty()) {
    std::string lost;
    for (const std::string& d : p.drives_lost) {
      lost += lost.empty() ? "" : ", ";
      lost += EscapeReportText(d);
    }
    fmt::format_to(o, "; drives not given: {}", lost);
  }
  fmt::format_to(o, "; {} rebuilt from parity ({} chunks), {} cannot be",
                 Plural(p.files_rebuilt, "file", "files"), p.chunks_rebuilt,
                 p.files_unrecoverable);
  if (p.stripes_lost > 0) {
    fmt::format_to(o, "; {} stripes lost more than {} members\n",
                   p.stripes_lost, p.parity_drives);
  } else {
    fmt::format_to(o, "; the shipment could still lose {} more {}\n", p.spare,
                   p.spare == 1 ? "drive" : "drives");
  }
}

}  // namespace

std::string FormatSummary(const RunReport& r, size_t list_limit) {
  std::string out;
  auto o = std::back_inserter(out);

  // Header: what ran, on what, how long, how fast.
  uint64_t bytes_read = 0;
  for (const DriveReport& d : r.drives) bytes_read += d.bytes_read;
  fmt::format_to(
      o, "valise {}: manifest {}, {}, {} ({}) expected\n",
      r.command.empty() ? "run" : EscapeReportText(r.command),
      EscapeReportPath(r.manifest), Plural(r.drives.size(), "drive", "drives"),
      Plural(r.files_expected, "file", "files"), HumanBytes(r.bytes_expected));
  fmt::format_to(o, "  elapsed {}, read {} at {}", HumanDuration(r.seconds),
                 HumanBytes(bytes_read),
                 r.seconds > 0 ? HumanRate(bytes_read / r.seconds)
                               : std::string("- MB/s"));
  if (!r.started.empty()) {
    fmt::format_to(o, ", started {}", EscapeReportText(r.started));
  }
  if (!r.dest.empty()) fmt::format_to(o, ", dest {}", EscapeReportPath(r.dest));
  out += "\n";

  if (!r.drives.empty()) {
    out += "\n";
    AppendDriveTable(r, list_limit, &out);
  }

  // Problem files, one section per status. Only the first `list_limit` of
  // each are kept (copies: a compact row exists only during its call), so
  // a report of every file costs no extra memory here.
  constexpr size_t kNumStatuses = 8;
  std::vector<FileResult> listed[kNumStatuses];
  uint64_t counts[kNumStatuses] = {};
  r.ForEachFile([&](const FileResult& f) {
    auto s = static_cast<size_t>(f.status);
    if (s >= kNumStatuses) return;
    ++counts[s];
    if (listed[s].size() < list_limit) listed[s].push_back(f);
  });
  for (FileStatus status : kSectionOrder) {
    auto s = static_cast<size_t>(status);
    if (counts[s] == 0) continue;
    fmt::format_to(o, "\n{} ({}):\n", SectionTitle(status), counts[s]);
    for (const FileResult& f : listed[s]) {
      fmt::format_to(o, "  {}\n", DescribeFile(r, f));
    }
    if (counts[s] > listed[s].size()) {
      fmt::format_to(o, "  ... and {} more (see --report)\n",
                     counts[s] - listed[s].size());
    }
  }

  // Run-level facts.
  const bool by_chunks = r.checked_by == CheckedBy::kSignedChunks;
  bool facts = r.dedup_bytes_saved > 0 || r.files_skipped_resume > 0 ||
               r.files_resumed_by_chunk > 0 || !r.notes.empty() ||
               r.parity.present || by_chunks;
  if (facts) out += "\n";
  if (by_chunks) {
    fmt::format_to(o,
                   "checked by: signed chunk digests (the SHA-256 of every "
                   "{} chunk, bound to the signed manifest; whole-file "
                   "digests not computed)\n",
                   HumanBytes(r.chunk_size));
  }
  if (r.parity.present) AppendParity(r.parity, &out);
  if (r.dedup_bytes_saved > 0) {
    fmt::format_to(o, "dedup: {} not written again (identical content)\n",
                   HumanBytes(r.dedup_bytes_saved));
  }
  if (r.files_skipped_resume > 0) {
    fmt::format_to(o,
                   "resume: {} already staged by an earlier run, unchanged "
                   "since (size, mtime, inode, ctime as journaled): not read\n",
                   Plural(r.files_skipped_resume, "file", "files"));
  }
  if (r.files_resumed_by_chunk > 0) {
    fmt::format_to(o,
                   "resume: {} went on from what an earlier run staged ({} "
                   "checked in DEST against the signed chunk digests, not "
                   "read again)\n",
                   Plural(r.files_resumed_by_chunk, "file", "files"),
                   HumanBytes(r.bytes_resumed_by_chunk));
  }
  for (const std::string& note : r.notes) {
    fmt::format_to(o, "note: {}\n", EscapeReportText(note));
  }

  // The verdict, always the last line.
  std::vector<std::string> problems;
  uint64_t n_problems = 0;
  for (FileStatus status :
       {FileStatus::kCorrupt, FileStatus::kSizeMismatch, FileStatus::kMissing,
        FileStatus::kUnreadable, FileStatus::kStalled}) {
    uint64_t c = counts[static_cast<size_t>(status)];
    if (c == 0) continue;
    n_problems += c;
    problems.push_back(fmt::format("{} {}", c, VerdictWord(status)));
  }
  uint64_t drives_stalled = 0, drives_errors = 0;
  for (const DriveReport& d : r.drives) {
    if (d.stalled) {
      ++drives_stalled;
    } else if (!d.errors.empty()) {
      ++drives_errors;
    }
  }
  if (drives_errors > 0) {
    problems.push_back(
        Plural(drives_errors, "drive with errors", "drives with errors"));
  }
  if (drives_stalled > 0) {
    problems.push_back(
        Plural(drives_stalled, "drive stalled", "drives stalled"));
  }
  n_problems += drives_errors + drives_stalled;
  std::string problem_list = fmt::format("{}", fmt::join(problems, ", "));
  const char* verb = r.command == "ingest" ? "verified and staged" : "verified";
  uint64_t done = r.files_ok + r.files_skipped_resume;

  out += "\n";
  if (r.interrupted) {
    fmt::format_to(o,
                   "valise: interrupted after {}: {} of {} files {}; rerun "
                   "to resume",
                   HumanDuration(r.seconds), done, r.files_expected, verb);
    if (n_problems > 0) {
      fmt::format_to(o, "; {} so far: {}",
                     Plural(n_problems, "problem", "problems"), problem_list);
    }
  } else if (!r.fatal_error.empty()) {
    fmt::format_to(o, "valise: stopped: {}; {} of {} files {}",
                   EscapeReportText(r.fatal_error), done, r.files_expected,
                   verb);
    if (n_problems > 0) {
      fmt::format_to(o, "; {}: {}", Plural(n_problems, "problem", "problems"),
                     problem_list);
    }
  } else if (n_problems > 0) {
    fmt::format_to(o, "valise: {}: {}",
                   Plural(n_problems, "problem", "problems"), problem_list);
  } else {
    if (done >= r.files_expected) {
      fmt::format_to(o, "valise: all {} {} ({})",
                     Plural(r.files_expected, "file", "files"), verb,
                     HumanBytes(r.bytes_verified));
    } else {
      // Nothing reported wrong, yet not everything accounted for: say only
      // what is known rather than "all".
      fmt::format_to(o, "valise: {} of {} files {} ({}), no problem found",
                     done, r.files_expected, verb,
                     HumanBytes(r.bytes_verified));
    }
    uint64_t extra = counts[static_cast<size_t>(FileStatus::kExtra)];
    uint64_t skipped = counts[static_cast<size_t>(FileStatus::kSkipped)];
    if (extra > 0 || skipped > 0) {
      fmt::format_to(o, "; also {} extra, {} skipped (listed above)", extra,
                     skipped);
    }
  }
  // A rerun: what this run checked, and what it took from the journal.
  if (!r.interrupted && (r.files_skipped_resume > 0 || r.files_rechecked > 0)) {
    fmt::format_to(o, "; {} verified now, {} trusted from the journal",
                   r.files_ok, r.files_skipped_resume);
    if (r.files_rechecked > 0) {
      fmt::format_to(o, ", {} read back from DEST", r.files_rechecked);
    }
  }
  out += "\n";
  return out;
}

// ---------------------------------------------------------------------------
// The machine report.

namespace {

using Json = nlohmann::ordered_json;

// Free text may hold bytes that are not UTF-8 (an error message quoting a
// raw path); `replace` turns them into U+FFFD instead of throwing, which
// src/ must never do.
std::string Dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// Paths in the JSON are escaped as in a manifest (valise::EscapePath:
// control bytes, '%' and bytes that are not UTF-8 as %XX), not for a
// terminal: a C1 control or a bidi character stays literal (the JSON
// writer emits it as UTF-8), so a path is byte for byte the manifest's and
// UnescapePath gives the exact name.
std::string JsonPath(std::string_view raw) { return EscapePath(raw); }

Json DriveOrNull(const RunReport& r, int drive) {
  if (!HasDrive(r, drive)) return nullptr;
  return JsonPath(r.drives[drive].source);
}

Json StringOrNull(const std::string& s, bool is_path) {
  if (s.empty()) return nullptr;
  return is_path ? JsonPath(s) : s;
}

Json DriveJson(const DriveReport& d) {
  Json j;
  j["source"] = JsonPath(d.source);
  j["resolved"] = StringOrNull(d.resolved, true);
  j["kind"] = d.kind;
  j["bytes_planned"] = d.bytes_planned;
  j["bytes_read"] = d.bytes_read;
  j["files_ok"] = d.files_ok;
  j["files_bad"] = d.files_bad;
  j["seconds"] = d.seconds;
  if (d.seconds > 0) {
    j["rate_bytes_per_s"] =
        static_cast<uint64_t>(std::llround(d.bytes_read / d.seconds));
  } else {
    j["rate_bytes_per_s"] = nullptr;
  }
  j["stalled"] = d.stalled;
  j["errors"] = d.errors;
  j["timeline"] = d.bytes_per_second;
  return j;
}

Json FileJson(const RunReport& r, const FileResult& f) {
  Json j;
  j["path"] = JsonPath(f.path);
  j["drive"] = DriveOrNull(r, f.drive);
  j["status"] = FileStatusName(f.status);
  // A size that does not apply is null: an extra file has no expected
  // size, a missing one no actual size.
  if (f.status == FileStatus::kExtra) {
    j["expected_size"] = nullptr;
  } else {
    j["expected_size"] = f.expected_size;
  }
  if (f.status == FileStatus::kMissing) {
    j["actual_size"] = nullptr;
  } else {
    j["actual_size"] = f.actual_size;
  }
  if (f.first_bad_offset >= 0) {
    j["first_bad_offset"] = f.first_bad_offset;
  } else {
    j["first_bad_offset"] = nullptr;
  }
  Json ranges = Json::array();
  for (const BadRange& br : f.bad_ranges) {
    Json jr;
    jr["offset"] = br.offset;
    jr["length"] = br.length;
    jr["errno"] = br.err;
    jr["error"] = ErrnoText(br.err);
    ranges.push_back(std::move(jr));
  }
  j["bad_ranges"] = std::move(ranges);
  Json corrupt = Json::array();
  for (const BadRange& br : f.corrupt_ranges) {
    Json jr;
    jr["offset"] = br.offset;
    jr["length"] = br.length;
    corrupt.push_back(std::move(jr));
  }
  j["corrupt_ranges"] = std::move(corrupt);
  j["detail"] = StringOrNull(f.detail, false);
  j["repaired_from"] =
      f.repaired_from >= 0 ? DriveOrNull(r, f.repaired_from) : Json(nullptr);
  switch (f.parity) {
    case FileResult::Parity::kNone:
      j["parity"] = nullptr;
      break;
    case FileResult::Parity::kRebuilt:
      j["parity"] = "rebuilt";
      break;
    case FileResult::Parity::kUnrecoverable:
      j["parity"] = "unrecoverable";
      break;
  }
  Json digests = Json::object();
  for (const Digest& d : f.digests) {
    digests[std::string(DigestName(d.type))] = d.Hex();
  }
  j["digests"] = std::move(digests);
  return j;
}

// Writes a top-level object one key a line; arrays of drives and files one
// element a line, so the report stays readable and grep-able when large.
// The text goes to `sink` in pieces of about 1 MiB, so a report of
// millions of rows is never held whole.
class TopLevelWriter {
 public:
  explicit TopLevelWriter(const std::function<void(std::string_view)>& sink)
      : sink_(sink), buf_("{\n") {}
  void Field(std::string_view key, const Json& value) {
    Key(key);
    buf_ += Dump(value);
  }
  void BeginArray(std::string_view key) {
    Key(key);
    buf_ += "[";
    items_ = 0;
  }
  void Item(const Json& value) {
    buf_ += items_++ == 0 ? "\n    " : ",\n    ";
    buf_ += Dump(value);
    if (buf_.size() >= (1 << 20)) Flush();
  }
  void EndArray() { buf_ += items_ == 0 ? "]" : "\n  ]"; }
  void Close() {
    buf_ += "\n}\n";
    Flush();
  }

 private:
  void Key(std::string_view key) {
    buf_ += first_ ? "  " : ",\n  ";
    first_ = false;
    buf_ += Dump(Json(std::string(key)));
    buf_ += ": ";
  }

  void Flush() {
    sink_(buf_);
    buf_.clear();
  }

  const std::function<void(std::string_view)>& sink_;
  std::string buf_;
  bool first_ = true;
  size_t items_ = 0;
};

}  // namespace

std::string FormatJson(const RunReport& r) {
  std::string out;
  WriteJson(r, [&](std::string_view piece) { out.append(piece); });
  return out;
}

void WriteJson(const RunReport& r,
               const std::function<void(std::string_view)>& sink) {
  // Counts by status, every status present so readers need no defaults.
  constexpr FileStatus kCounted[] = {
      FileStatus::kCorrupt,    FileStatus::kSizeMismatch, FileStatus::kMissing,
      FileStatus::kUnreadable, FileStatus::kStalled,      FileStatus::kExtra,
      FileStatus::kSkipped};
  uint64_t counts[8] = {};
  uint64_t files_problem = 0;
  r.ForEachFile([&](const FileResult& f) {
    auto s = static_cast<size_t>(f.status);
    if (s < std::size(counts)) ++counts[s];
    if (IsProblem(f.status)) ++files_problem;
  });
  uint64_t drives_stalled = 0, drives_errors = 0;
  for (const DriveReport& d : r.drives) {
    if (d.stalled) ++drives_stalled;
    if (!d.errors.empty()) ++drives_errors;
  }

  TopLevelWriter w(sink);
  w.Field("schema", "valise-report/1");
#ifdef VALISE_VERSION
  w.Field("version", VALISE_VERSION);
#endif
  w.Field("command", r.command);
  w.Field("manifest", JsonPath(r.manifest));
  w.Field("dest", StringOrNull(r.dest, true));
  w.Field("started", StringOrNull(r.started, false));
  w.Field("seconds", r.seconds);
  w.Field("exit_code", r.ExitCode());
  w.Field("interrupted", r.interrupted);
  w.Field("fatal_error", StringOrNull(r.fatal_error, false));
  w.Field("chunk_size", r.chunk_size > 0 ? Json(r.chunk_size) : Json(nullptr));
  w.Field("checked_by", CheckedByName(r.checked_by));

  Json totals;
  totals["files_expected"] = r.files_expected;
  totals["files_ok"] = r.files_ok;
  totals["files_problem"] = files_problem;
  totals["bytes_expected"] = r.bytes_expected;
  totals["bytes_verified"] = r.bytes_verified;
  totals["dedup_bytes_saved"] = r.dedup_bytes_saved;
  totals["files_skipped_resume"] = r.files_skipped_resume;
  totals["files_rechecked"] = r.files_rechecked;
  totals["files_resumed_by_chunk"] = r.files_resumed_by_chunk;
  totals["bytes_resumed_by_chunk"] = r.bytes_resumed_by_chunk;
  totals["drives_with_errors"] = drives_errors;
  totals["drives_stalled"] = drives_stalled;
  Json by_status = Json::object();
  for (FileStatus s : kCounted) {
    by_status[FileStatusName(s)] = counts[static_cast<size_t>(s)];
  }
  totals["by_status"] = std::move(by_status);
  w.Field("totals", totals);

  if (r.parity.present) {
    const ParityReport& p = r.parity;
    Json pj;
    pj["data_drives"] = p.data_drives;
    pj["parity_drives"] = p.parity_drives;
    Json lost = Json::array();
    for (const std::string& d : p.drives_lost) lost.push_back(JsonPath(d));
    pj["drives_lost"] = std::move(lost);
    pj["files_rebuilt"] = p.files_rebuilt;
    pj["files_unrecoverable"] = p.files_unrecoverable;
    pj["chunks_rebuilt"] = p.chunks_rebuilt;
    pj["stripes_degraded"] = p.stripes_degraded;
    pj["stripes_lost"] = p.stripes_lost;
    pj["spare_drives"] = p.spare;
    w.Field("parity", pj);
  } else {
    w.Field("parity", Json(nullptr));
  }

  w.BeginArray("drives");
  for (const DriveReport& d : r.drives) w.Item(DriveJson(d));
  w.EndArray();
  w.BeginArray("files");
  r.ForEachFile([&](const FileResult& f) { w.Item(FileJson(r, f)); });
  w.EndArray();
  w.BeginArray("notes");
  for (const std::string& note : r.notes) w.Item(note);
  w.EndArray();
  w.Close();
}

}  // namespace valise
