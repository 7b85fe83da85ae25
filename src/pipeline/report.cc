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
// A file's row is written as text where it can be (report_json.h): the
// object of each row cost six times the time of the text.

#include "valise/report.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pipeline/progress_render.h"
#include "pipeline/report_json.h"
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
  switch (c) {
    case CheckedBy::kFileDigests:
      return "file-digests";
    case CheckedBy::kChunks:
      return "chunk-digests";
    case CheckedBy::kSignedChunks:
      return "signed-chunk-digests";
  }
  return "unknown";
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
  AddMissingAt(manifest, entry, files.size());
}

void RunReport::AddMissingAt(const Manifest* manifest, size_t entry,
                             size_t before) {
  missing_manifest_ = manifest;
  // Entries are below UINT32_MAX: Manifest::Finish refuses more.
  missing_entries_.push_back(static_cast<uint32_t>(entry));
  if (missing_runs_.empty() || missing_runs_.back().before != before) {
    missing_runs_.push_back(MissingRun{before, 0});
  }
  ++missing_runs_.back().count;
}

std::vector<uint32_t> RunReport::TakeMissing() {
  std::vector<uint32_t> out = std::move(missing_entries_);
  missing_entries_.clear();
  missing_runs_.clear();
  return out;
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

std::string ChunkRunsText(const ChunkRuns& runs, size_t max_runs) {
  uint64_t chunks = 0;
  for (const auto& [first, last] : runs) chunks += last - first + 1;
  std::string out = chunks == 1 ? "chunk " : "chunks ";
  for (size_t i = 0; i < runs.size() && i < max_runs; ++i) {
    if (i > 0) out += ", ";
    const auto& [first, last] = runs[i];
    out += first == last ? std::to_string(first)
                         : fmt::format("{}-{}", first, last);
  }
  if (runs.size() > max_runs) {
    out += fmt::format(" and {} more runs", runs.size() - max_runs);
  }
  return out;
}

std::string ChunkRepairText(const FileResult& f,
                            const std::function<std::string(int)>& name) {
  if (f.chunks_from.empty()) return std::string();
  std::string out = "repaired by chunk:";
  for (size_t i = 0; i < f.chunks_from.size(); ++i) {
    out += i == 0 ? " " : ", ";
    out += ChunkRunsText(f.chunks_from[i].chunks) + " from " +
           name(f.chunks_from[i].drive);
  }
  return out +
         fmt::format(" ({} read for it)", HumanBytes(f.repair_bytes_read));
}

std::string ChunksLostText(const FileResult& f) {
  if (f.chunks_lost.empty()) return std::string();
  return "no copy had " + ChunkRunsText(f.chunks_lost) + " good";
}

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
//
// It fits kSummaryWidth columns: every line is built from words and
// wrapped at spaces, a continuation indented under its first line. A path
// or a drive name is one word, never broken (so it can be copied and
// grepped whole): one longer than the room gets a line of its own and is
// the only kind of line that may be wider. The verdict stays one line, the
// last: a part of it that would not fit goes, in the same words, on the
// line above it.

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

// What the operator does next about files of a status (the line under
// its section).
const char* NextStep(FileStatus s, bool ingest) {
  switch (s) {
    case FileStatus::kCorrupt:
      return ingest ? "bring another drive that holds these files (a rerun "
                      "reads only what is left), or ask the source to send "
                      "them again; a file repaired from another drive is "
                      "already staged"
                    : "the copy on that drive is bad: use another drive "
                      "that holds the file, or ask the source to send it "
                      "again";
    case FileStatus::kSizeMismatch:
      return "the file changed after the manifest was made, or was cut "
             "short: ask the source to send it again";
    case FileStatus::kUnreadable:
      return "retry the drive on another port or reader (a rerun reads "
             "only what is left), or image it with ddrescue and give the "
             "image";
    case FileStatus::kStalled:
      return "check the drive's cable and power, then rerun the same "
             "command";
    case FileStatus::kMissing:
      return ingest ? "`valise status -m M DEST` names the drives that "
                      "hold them: bring those, or ask the source to send "
                      "them"
                    : "bring the drives that hold them (valise status names "
                      "them), or ask the source to send them";
    case FileStatus::kExtra:
      return "nothing to do: files outside the manifest are neither "
             "checked nor staged";
    case FileStatus::kSkipped:
      return "nothing to do: the manifest lists regular files only";
    case FileStatus::kOk:
      return "";
  }
  return "";
}

// The word used for a status in the verdict line: "2 corrupt".
const char* VerdictWord(FileStatus s) {
  return s == FileStatus::kSizeMismatch ? "wrong size" : FileStatusName(s);
}

bool HasDrive(const RunReport& r, int drive) {
  return drive >= 0 && static_cast<size_t>(drive) < r.drives.size();
}

// A drive as the summary names it: its label where it has one, else its
// source as given.
std::string DriveName(const RunReport& r, int drive) {
  if (!HasDrive(r, drive)) return fmt::format("drive #{}", drive);
  const DriveReport& d = r.drives[drive];
  return EscapeReportPath(d.label.empty() ? d.source : d.label);
}

std::string ErrnoText(int err) {
  // strerrordesc_np (glibc >= 2.32) is thread-safe and never localised,
  // unlike strerror; it returns null for an unknown value.
  const char* text = err > 0 ? strerrordesc_np(err) : nullptr;
  return text ? std::string(text) : fmt::format("errno {}", err);
}

// Columns `s` takes on a terminal: one per code point (the text is
// escaped: no control characters).
size_t Columns(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// Keeps the tail of a long (escaped) string, where drive names differ
// (/mnt/ingest/drive07), and never cuts a UTF-8 sequence in two.
std::string KeepTail(const std::string& s, size_t max) {
  if (Columns(s) <= max || max <= 3) return s;
  size_t start = s.size();
  for (size_t cols = 0; start > 0 && cols < max - 3;) {
    --start;
    cols += (static_cast<unsigned char>(s[start]) & 0xC0) != 0x80;
  }
  return "..." + s.substr(start);
}

// Words of a line: Whole() adds one that is never broken (a path), Text()
// the words of free text.
class Words {
 public:
  Words& Whole(std::string w) {
    if (!w.empty()) words_.push_back(std::move(w));
    return *this;
  }
  Words& Text(std::string_view text) {
    size_t pos = 0;
    while (pos < text.size()) {
      size_t sp = text.find(' ', pos);
      if (sp == std::string_view::npos) sp = text.size();
      if (sp > pos) words_.emplace_back(text.substr(pos, sp - pos));
      pos = sp + 1;
    }
    return *this;
  }
  // Glues `s` to the last word ("path" + ":").
  Words& Glue(std::string_view s) {
    if (words_.empty()) return Text(s);
    words_.back() += s;
    return *this;
  }
  // Text that goes on from the last word: a first word that does not
  // start with a space (": corrupt") is glued to it.
  Words& Continue(std::string_view text) {
    if (!text.empty() && text[0] != ' ') {
      const size_t sp = text.find(' ');
      Glue(text.substr(0, sp));
      if (sp == std::string_view::npos) return *this;
      text = text.substr(sp);
    }
    return Text(text);
  }

  // Appends the words as lines of at most kSummaryWidth columns, the
  // first starting with `first`, the others with `cont`.
  void AppendTo(std::string_view first, std::string_view cont,
                std::string* out) const {
    std::string line(first);
    size_t cols = Columns(first);
    bool empty = true;
    for (const std::string& w : words_) {
      const size_t wc = Columns(w);
      if (!empty && cols + 1 + wc > kSummaryWidth) {
        *out += line + "\n";
        line = cont;
        cols = Columns(cont);
        empty = true;
      }
      if (!empty) {
        line += ' ';
        ++cols;
      }
      line += w;
      cols += wc;
      empty = false;
    }
    *out += line + "\n";
  }

 private:
  std::vector<std::string> words_;
};

constexpr size_t kMaxRangesShown = 4;

Words DescribeFile(const RunReport& r, const FileResult& f) {
  Words w;
  w.Whole(EscapeReportPath(f.path));
  if (HasDrive(r, f.drive)) {
    w.Whole("(on " + DriveName(r, f.drive) + ")");
  }
  std::string line;  // what follows the path and drive
  auto o = std::back_inserter(line);
  std::string detail = EscapeReportText(f.detail);
  auto append_detail = [&] {
    if (!detail.empty()) line += ": " + detail;
  };
  switch (f.status) {
    case FileStatus::kCorrupt:
      if (f.first_bad_offset >= 0) {
        auto off = static_cast<uint64_t>(f.first_bad_offset);
        fmt::format_to(o, ": corrupt at offset {}", off);
        if (r.chunk_size > 0) {
          fmt::format_to(o, " (chunk {})", off / r.chunk_size);
        }
      } else {
        line += ": corrupt, offset unknown";
      }
      if (!f.corrupt_ranges.empty()) {
        size_t shown = 0;
        line += "; chunks differ at";
        for (const BadRange& br : f.corrupt_ranges) {
          if (shown == kMaxRangesShown) break;
          fmt::format_to(o, "{} {} ({} bytes)", shown == 0 ? "" : ",",
                         br.offset, br.length);
          ++shown;
        }
        if (f.corrupt_ranges.size() > shown) {
          fmt::format_to(o, " and {} more ranges",
                         f.corrupt_ranges.size() - shown);
        }
      }
      append_detail();
      break;
    case FileStatus::kSizeMismatch:
      fmt::format_to(o, ": {} bytes ({}), expected {} bytes ({})",
                     f.actual_size, HumanBytes(f.actual_size), f.expected_size,
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
        fmt::format_to(o, "{} at {} ({} bytes): {}", shown == 0 ? "" : ";",
                       br.offset, br.length, ErrnoText(br.err));
        ++shown;
      }
      if (f.bad_ranges.size() > shown) {
        fmt::format_to(o, "; and {} more ranges ({} unreadable in all)",
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
      fmt::format_to(o, " ({})", HumanBytes(f.expected_size));
      append_detail();
      break;
    case FileStatus::kExtra:
      fmt::format_to(o, " ({})", HumanBytes(f.actual_size));
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
  if (f.parity == FileResult::Parity::kRebuilt) {
    line += "; rebuilt from parity";
  } else if (f.parity == FileResult::Parity::kUnrecoverable) {
    line += "; cannot be rebuilt from parity";
  }
  // ": corrupt" goes on from the path or the drive.
  w.Continue(line);
  if (!f.chunks_from.empty()) {
    w.Glue(";").Text(
        ChunkRepairText(f, [&r](int d) { return DriveName(r, d); }));
  } else if (f.repaired_from >= 0) {
    w.Glue(";").Text("repaired from").Whole(DriveName(r, f.repaired_from));
  }
  if (!f.chunks_lost.empty()) w.Glue(";").Text(ChunksLostText(f));
  return w;
}

// A drive's state in the table: "stalled", "errors" (drive-level errors),
// "bad" (it carried a file that is not ok: counted, or `bad_file`, a
// problem row names it), else "ok".
const char* DriveStatus(const DriveReport& d, bool bad_file) {
  if (d.stalled) return "stalled";
  if (!d.errors.empty()) return "errors";
  if (d.files_bad > 0 || bad_file) return "bad";
  return "ok";
}

// A drive that failed whole: errors or a stall, and no file read right.
// Its unreadable and stalled files are told in one line, not one each.
bool FailedWhole(const DriveReport& d) {
  return (d.stalled || !d.errors.empty()) && d.files_ok == 0;
}
bool CollapsedStatus(FileStatus s) {
  return s == FileStatus::kUnreadable || s == FileStatus::kStalled;
}

std::string Rate(double bytes_per_second) {
  if (!std::isfinite(bytes_per_second) || bytes_per_second < 0) return "-";
  return fmt::format("{:.1f}", bytes_per_second / (1 << 20));
}

void AppendDriveTable(const RunReport& r, size_t list_limit,
                      const std::vector<bool>& bad_file, std::string* out) {
  std::vector<std::string> names;
  size_t name_w = 5, kind_w = 4;
  for (size_t i = 0; i < r.drives.size(); ++i) {
    names.push_back(DriveName(r, static_cast<int>(i)));
    kind_w = std::max(kind_w, Columns(EscapeReportText(r.drives[i].kind)));
  }
  // The columns after the name take 2 + kind + 49; the name gets the rest.
  const size_t room =
      kSummaryWidth > kind_w + 53 ? kSummaryWidth - kind_w - 53 : 8;
  for (const std::string& n : names) name_w = std::max(name_w, Columns(n));
  name_w = std::min(name_w, room);
  auto o = std::back_inserter(*out);
  auto row = [&](const std::string& name, const std::string& kind,
                 const std::string& ok, const std::string& bad,
                 const std::string& read, const std::string& rate,
                 const char* status) {
    const std::string shown = KeepTail(name, name_w);
    const size_t pad = name_w - std::min(name_w, Columns(shown));
    const size_t kpad = kind_w - std::min(kind_w, Columns(kind));
    fmt::format_to(o, "  {}{:{}}  {}{:{}}  {:>8}  {:>7}  {:>10}  {:>7}  {}\n",
                   shown, "", pad, kind, "", kpad, ok, bad, read, rate, status);
  };
  row("drive", "kind", "files ok", "bad", "read", "MiB/s", "status");
  for (size_t i = 0; i < r.drives.size(); ++i) {
    const DriveReport& d = r.drives[i];
    row(names[i], EscapeReportText(d.kind), std::to_string(d.files_ok),
        std::to_string(d.files_bad), HumanBytes(d.bytes_read),
        d.seconds > 0 ? Rate(d.bytes_read / d.seconds) : "-",
        DriveStatus(d, bad_file[i]));
  }
  // Which drive each name is: its source when the table shows a label or
  // a cut name, what a symlink named when the run opened it, its serial.
  for (size_t i = 0; i < r.drives.size(); ++i) {
    const DriveReport& d = r.drives[i];
    const std::string source = EscapeReportPath(d.source);
    const bool named = names[i] != source || Columns(names[i]) > name_w;
    if (!named && d.resolved.empty() && d.serial.empty()) continue;
    Words w;
    if (names[i] != source) w.Whole(names[i] + ":");
    w.Whole(source);
    if (!d.resolved.empty()) w.Text("->").Whole(EscapeReportPath(d.resolved));
    if (!d.serial.empty())
      w.Glue(",").Text("serial").Whole(EscapeReportText(d.serial));
    w.AppendTo("  ", "    ", out);
  }
  // Drive-level errors, under the table, capped like the file lists.
  // Messages name their subject already ("/dev/sdc: read at 0: ..."); the
  // drive is prefixed only to one that does not.
  size_t listed = 0, total = 0;
  for (size_t i = 0; i < r.drives.size(); ++i) {
    const DriveReport& d = r.drives[i];
    std::string source = EscapeReportPath(d.source);
    for (const std::string& e : d.errors) {
      ++total;
      if (listed == list_limit) continue;
      std::string text = EscapeReportText(e);
      Words w;
      if (text.rfind(source, 0) == 0) {
        w.Whole(source).Continue(std::string_view(text).substr(source.size()));
      } else {
        w.Whole(names[i] + ":").Text(text);
      }
      w.AppendTo("  ", "    ", out);
      ++listed;
    }
  }
  if (total > listed) {
    fmt::format_to(o, "  ... and {} more drive errors (see --report)\n",
                   total - listed);
  }
  if (total > 0) {
    Words()
        .Text(
            "next: check the failed drive's cable and power and rerun (a "
            "rerun reads only what is left), or image it with ddrescue "
            "and give the image")
        .AppendTo("  ", "    ", out);
  }
}

std::string Plural(uint64_t n, const char* one, const char* many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

// "parity: 4+2; drives not given: s5, s6; 12 files rebuilt from parity,
// 0 cannot be; the shipment could still lose 0 more drives".
void AppendParity(const ParityReport& p, std::string* out) {
  Words w;
  w.Text(fmt::format("parity: {}+{}", p.data_drives, p.parity_drives));
  if (!p.drives_lost.empty()) {
    w.Glue(";").Text("drives not given:");
    for (size_t i = 0; i < p.drives_lost.size(); ++i) {
      w.Whole(EscapeReportText(p.drives_lost[i]) +
              (i + 1 < p.drives_lost.size() ? "," : ""));
    }
  }
  w.Glue(";").Text(
      fmt::format("{} rebuilt from parity ({} chunks), {} "
                  "cannot be",
                  Plural(p.files_rebuilt, "file", "files"), p.chunks_rebuilt,
                  p.files_unrecoverable));
  if (p.stripes_lost > 0) {
    w.Glue(";").Text(fmt::format("{} stripes lost more than {} members",
                                 p.stripes_lost, p.parity_drives));
  } else {
    w.Glue(";").Text(fmt::format("the shipment could still lose {} more {}",
                                 p.spare, p.spare == 1 ? "drive" : "drives"));
  }
  w.AppendTo("", "    ", out);
}

// One section's worth of rows: the first `list_limit` (copies: a compact
// row exists only during its call), the true count, and per failed drive
// how many of its files (and bytes) are in it.
struct Section {
  std::vector<FileResult> listed;
  uint64_t count = 0;
  std::vector<uint64_t> drive_files, drive_bytes;  // collapsed, by drive
};

}  // namespace

std::string ChunkDedupText(const RunReport& r) {
  if (r.chunk_bytes_cloned == 0 && r.chunk_bytes_holes == 0) return "";
  std::string out;
  if (r.chunk_bytes_cloned > 0) {
    out = fmt::format(
        "{} cloned from chunks already staged with the same "
        "chunk digest",
        HumanBytes(r.chunk_bytes_cloned));
  }
  if (r.chunk_bytes_holes > 0) {
    out += fmt::format("{}{} of zeros left as holes", out.empty() ? "" : ", ",
                       HumanBytes(r.chunk_bytes_holes));
  }
  out += ": not written";
  if (r.bytes_not_read > 0) {
    out += fmt::format(" ({} of them not read either)",
                       HumanBytes(r.bytes_not_read));
  }
  return out;
}

std::string FormatSummary(const RunReport& r, const SummaryOptions& opt) {
  std::string out;
  auto o = std::back_inserter(out);
  const bool ingest = r.command == "ingest";

  // Header: what ran, on what, how long, how fast, and the units.
  uint64_t bytes_read = 0;
  for (const DriveReport& d : r.drives) bytes_read += d.bytes_read;
  Words head;
  head.Text(fmt::format("valise {}:", r.command.empty()
                                          ? "run"
                                          : EscapeReportText(r.command)))
      .Text("manifest")
      .Whole(EscapeReportPath(r.manifest) + ",")
      .Text(fmt::format("{}, {} ({}) expected",
                        Plural(r.drives.size(), "drive", "drives"),
                        Plural(r.files_expected, "file", "files"),
                        HumanBytes(r.bytes_expected)));
  head.AppendTo("", "    ", &out);
  Words run;
  run.Text(fmt::format("elapsed {}, read {} at {} MiB/s",
                       HumanDuration(r.seconds), HumanBytes(bytes_read),
                       r.seconds > 0 ? Rate(bytes_read / r.seconds) : "-"));
  if (!r.started.empty()) {
    run.Glue(",").Text("started").Text(EscapeReportText(r.started));
  }
  if (!r.host.empty()) run.Text("on").Text(EscapeReportText(r.host));
  if (!r.dest.empty())
    run.Glue(",").Text("dest").Whole(EscapeReportPath(r.dest));
  run.AppendTo("  ", "    ", &out);
  out += "  (sizes and rates in binary units: 1 KiB = 1024 bytes)\n";

  if (!r.drives.empty()) {
    std::vector<bool> bad_file(r.drives.size(), false);
    r.ForEachFile([&](const FileResult& f) {
      if (IsProblem(f.status) && HasDrive(r, f.drive)) bad_file[f.drive] = true;
    });
    out += "\n";
    AppendDriveTable(r, opt.list_limit, bad_file, &out);
  }

  // Problem files, one section per status. Only the first `list_limit` of
  // each are kept, so a report of every file costs no extra memory here.
  constexpr size_t kNumStatuses = 8;
  std::vector<bool> failed(r.drives.size());
  for (size_t d = 0; d < r.drives.size(); ++d) {
    failed[d] = FailedWhole(r.drives[d]);
  }
  Section sections[kNumStatuses];
  for (Section& s : sections) {
    s.drive_files.assign(r.drives.size(), 0);
    s.drive_bytes.assign(r.drives.size(), 0);
  }
  r.ForEachFile([&](const FileResult& f) {
    auto s = static_cast<size_t>(f.status);
    if (s >= kNumStatuses) return;
    Section& sec = sections[s];
    ++sec.count;
    if (HasDrive(r, f.drive) && failed[f.drive] && CollapsedStatus(f.status)) {
      ++sec.drive_files[f.drive];
      sec.drive_bytes[f.drive] += f.expected_size;
      return;
    }
    if (sec.listed.size() < opt.list_limit) sec.listed.push_back(f);
  });
  uint64_t counts[kNumStatuses] = {};
  for (size_t s = 0; s < kNumStatuses; ++s) counts[s] = sections[s].count;
  for (FileStatus status : kSectionOrder) {
    const Section& sec = sections[static_cast<size_t>(status)];
    if (sec.count == 0) continue;
    fmt::format_to(o, "\n{} ({}):\n", SectionTitle(status), sec.count);
    uint64_t shown = sec.listed.size();
    for (size_t d = 0; d < r.drives.size(); ++d) {
      if (sec.drive_files[d] == 0) continue;
      shown += sec.drive_files[d];
      Words()
          .Whole(DriveName(r, static_cast<int>(d)) + ":")
          .Text(fmt::format("{} ({}): the whole drive failed, see its "
                            "errors above",
                            Plural(sec.drive_files[d], "file", "files"),
                            HumanBytes(sec.drive_bytes[d])))
          .AppendTo("  ", "    ", &out);
    }
    for (const FileResult& f : sec.listed) {
      DescribeFile(r, f).AppendTo("  ", "    ", &out);
    }
    if (sec.count > shown) {
      fmt::format_to(o, "  ... and {} more (see --report)\n",
                     sec.count - shown);
    }
    Words()
        .Text("next:")
        .Text(NextStep(status, ingest))
        .AppendTo("  ", "    ", &out);
  }

  // Run-level facts.
  const bool by_chunks = r.checked_by != CheckedBy::kFileDigests;
  const bool verbose = opt.verbose && !r.verbose_notes.empty();
  const std::string chunk_dedup = ChunkDedupText(r);
  bool facts = r.dedup_bytes_saved > 0 || !chunk_dedup.empty() ||
               r.chunk_bytes_copied_server_side > 0 ||
               r.files_skipped_resume > 0 || r.files_resumed_by_chunk > 0 ||
               r.files_repaired_by_chunk > 0 || !r.notes.empty() ||
               r.parity.present || by_chunks || verbose;
  if (facts) out += "\n";
  if (by_chunks) {
    Words()
        .Text(r.checked_by == CheckedBy::kSignedChunks
                  ? fmt::format("checked by: signed chunk digests (the "
                                "SHA-256 of every {} chunk, bound to the "
                                "signed manifest; whole-file digests not "
                                "computed)",
                                HumanBytes(r.chunk_size))
                  : fmt::format("checked by: chunk digests (the SHA-256 of "
                                "every {} chunk, bound to the manifest, whose "
                                "signature was not checked; whole-file "
                                "digests not computed)",
                                HumanBytes(r.chunk_size)))
        .AppendTo("", "    ", &out);
  }
  if (r.parity.present) AppendParity(r.parity, &out);
  if (r.dedup_bytes_saved > 0) {
    Words()
        .Text(fmt::format("dedup: {} not written again (identical content)",
                          HumanBytes(r.dedup_bytes_saved)))
        .AppendTo("", "    ", &out);
  }
  if (!chunk_dedup.empty()) {
    Words().Text("dedup by chunk: " + chunk_dedup).AppendTo("", "    ", &out);
  }
  if (r.chunk_bytes_copied_server_side > 0) {
    Words()
        .Text(fmt::format(
            "dedup by chunk: {} copied server-side from chunks with the same "
            "chunk digests in objects already committed, not sent",
            HumanBytes(r.chunk_bytes_copied_server_side)))
        .AppendTo("", "    ", &out);
  }
  if (r.files_skipped_resume > 0) {
    Words()
        .Text(fmt::format("resume: {} already staged by an earlier run, "
                          "unchanged since (size, mtime, inode, ctime as "
                          "journaled): not read",
                          Plural(r.files_skipped_resume, "file", "files")))
        .AppendTo("", "    ", &out);
  }
  if (r.files_repaired_by_chunk > 0) {
    Words()
        .Text(fmt::format("repair: {} made whole from the good chunks of "
                          "several copies ({} read for it: only the chunks "
                          "still missing)",
                          Plural(r.files_repaired_by_chunk, "file", "files"),
                          HumanBytes(r.bytes_read_for_chunk_repair)))
        .AppendTo("", "    ", &out);
  }
  if (r.files_resumed_by_chunk > 0) {
    Words()
        .Text(fmt::format("resume: {} went on from what an earlier run staged "
                          "({} checked in DEST against the chunk "
                          "digests, not read again)",
                          Plural(r.files_resumed_by_chunk, "file", "files"),
                          HumanBytes(r.bytes_resumed_by_chunk)))
        .AppendTo("", "    ", &out);
  }
  for (const std::string& note : r.notes) {
    Words().Text("note: " + EscapeReportText(note)).AppendTo("", "    ", &out);
  }
  if (verbose) {
    for (const std::string& note : r.verbose_notes) {
      Words()
          .Text("note: " + EscapeReportText(note))
          .AppendTo("", "    ", &out);
    }
  }

  // The verdict, always the last line, and one line: a part that does not
  // fit goes on the line above it.
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
  const std::string problem_list = fmt::format("{}", fmt::join(problems, ", "));
  const std::string n_problems_text = Plural(n_problems, "problem", "problems");
  const char* verb = ingest ? "verified and staged" : "verified";
  const uint64_t done = r.files_ok + r.files_skipped_resume;

  std::string verdict;
  std::vector<std::string> above;  // parts moved to the line above
  // Appends `sep` + `part` to the verdict if it fits, else puts `part`
  // (with `label` before it) on a line above and `short_part` in its place.
  auto add = [&](const std::string& sep, const std::string& part,
                 const std::string& label, const std::string& short_part) {
    if (Columns(verdict) + sep.size() + Columns(part) <= kSummaryWidth) {
      verdict += sep + part;
      return;
    }
    above.push_back(label + part);
    if (!short_part.empty() &&
        Columns(verdict) + sep.size() + Columns(short_part) <= kSummaryWidth) {
      verdict += sep + short_part;
    }
  };
  if (r.interrupted) {
    verdict =
        fmt::format("valise: interrupted after {}: {} of {} files {}",
                    HumanDuration(r.seconds), done, r.files_expected, verb);
    add("; ", "rerun to resume", "next: ", "");
    if (n_problems > 0) {
      add("; ", n_problems_text + " so far: " + problem_list, "",
          n_problems_text + " so far (listed above)");
    }
  } else if (!r.fatal_error.empty()) {
    verdict = "valise: stopped";
    add(": ", EscapeReportText(r.fatal_error), "stopped: ", "see above");
    verdict += fmt::format("; {} of {} files {}", done, r.files_expected, verb);
    if (n_problems > 0) {
      add("; ", n_problems_text + ": " + problem_list, "",
          n_problems_text + " (listed above)");
    }
  } else if (n_problems > 0) {
    verdict = "valise: " + n_problems_text;
    add(": ", problem_list, "problems: ", "see above");
  } else {
    if (done >= r.files_expected) {
      verdict = fmt::format("valise: all {} {} ({})",
                            Plural(r.files_expected, "file", "files"), verb,
                            HumanBytes(r.bytes_verified));
    } else {
      // Nothing reported wrong, yet not everything accounted for: say only
      // what is known rather than "all".
      verdict =
          fmt::format("valise: {} of {} files {} ({}), no problem found", done,
                      r.files_expected, verb, HumanBytes(r.bytes_verified));
    }
    uint64_t extra = counts[static_cast<size_t>(FileStatus::kExtra)];
    uint64_t skipped = counts[static_cast<size_t>(FileStatus::kSkipped)];
    if (extra > 0 || skipped > 0) {
      add("; ",
          fmt::format("also {} extra, {} skipped (listed above)", extra,
                      skipped),
          "", "");
    }
  }
  // A rerun: what this run checked, and what it took from the journal.
  if (!r.interrupted && (r.files_skipped_resume > 0 || r.files_rechecked > 0)) {
    std::string rerun =
        fmt::format("{} verified now, {} trusted from the journal", r.files_ok,
                    r.files_skipped_resume);
    if (r.files_rechecked > 0) {
      rerun += fmt::format(", {} read back from DEST", r.files_rechecked);
    }
    add("; ", rerun, "rerun: ", "");
  }
  out += "\n";
  for (const std::string& a : above) Words().Text(a).AppendTo("", "    ", &out);
  out += verdict + "\n";
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
  j["absolute"] = StringOrNull(d.absolute, true);
  j["label"] = StringOrNull(d.label, false);
  j["serial"] = StringOrNull(d.serial, false);
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
  j["chunks_read_past"] = d.chunks_read_past;
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
  j["repaired_from"] = DriveOrNull(r, f.repaired_from);
  // Repair by chunk: present only on the rows it concerns.
  auto runs = [](const ChunkRuns& c) {
    Json a = Json::array();
    for (const auto& [first, last] : c) a.push_back(Json::array({first, last}));
    return a;
  };
  if (!f.chunks_from.empty()) {
    Json from = Json::array();
    for (const ChunkOrigin& c : f.chunks_from) {
      Json jc;
      jc["drive"] = DriveOrNull(r, c.drive);
      jc["chunks"] = runs(c.chunks);
      from.push_back(std::move(jc));
    }
    j["chunks_from"] = std::move(from);
    j["repair_bytes_read"] = f.repair_bytes_read;
  }
  if (!f.chunks_lost.empty()) j["chunks_lost"] = runs(f.chunks_lost);
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

// A string as FileJson's dump writes it: printable ASCII other than '"'
// and '\\' (nearly every path, digest and name) as it is, anything else
// through the JSON library.
void AppendJsonString(std::string_view s, std::string* out) {
  for (unsigned char c : s) {
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
      *out += Dump(Json(std::string(s)));
      return;
    }
  }
  *out += '"';
  *out += s;
  *out += '"';
}

void AppendDriveOrNull(const RunReport& r, int drive, std::string* out) {
  if (!HasDrive(r, drive)) {
    *out += "null";
    return;
  }
  AppendJsonString(JsonPath(r.drives[drive].source), out);
}

template <typename Int>
void AppendInt(Int v, std::string* out) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, res.ptr);
}

}  // namespace

std::string FileRowByObject(const RunReport& r, const FileResult& f) {
  return Dump(FileJson(r, f));
}

void AppendFileRow(const RunReport& r, const FileResult& f, std::string* out) {
  // Rows with ranges or chunk lists (damage, repair: few) go through the
  // object; so does a row naming a digest type twice (the object keeps
  // the last value at the first one's place).
  bool general = !f.bad_ranges.empty() || !f.corrupt_ranges.empty() ||
                 !f.chunks_from.empty() || !f.chunks_lost.empty();
  for (size_t i = 0; i < f.digests.size() && !general; ++i) {
    for (size_t k = 0; k < i; ++k) {
      if (f.digests[k].type == f.digests[i].type) general = true;
    }
  }
  if (general) {
    *out += FileRowByObject(r, f);
    return;
  }
  *out += "{\"path\":";
  AppendJsonString(JsonPath(f.path), out);
  *out += ",\"drive\":";
  AppendDriveOrNull(r, f.drive, out);
  *out += ",\"status\":";
  AppendJsonString(FileStatusName(f.status), out);
  *out += ",\"expected_size\":";
  if (f.status == FileStatus::kExtra) {
    *out += "null";
  } else {
    AppendInt(f.expected_size, out);
  }
  *out += ",\"actual_size\":";
  if (f.status == FileStatus::kMissing) {
    *out += "null";
  } else {
    AppendInt(f.actual_size, out);
  }
  *out += ",\"first_bad_offset\":";
  if (f.first_bad_offset >= 0) {
    AppendInt(f.first_bad_offset, out);
  } else {
    *out += "null";
  }
  *out += ",\"bad_ranges\":[],\"corrupt_ranges\":[],\"detail\":";
  if (f.detail.empty()) {
    *out += "null";
  } else {
    AppendJsonString(f.detail, out);
  }
  *out += ",\"repaired_from\":";
  AppendDriveOrNull(r, f.repaired_from, out);
  *out += ",\"parity\":";
  switch (f.parity) {
    case FileResult::Parity::kNone:
      *out += "null";
      break;
    case FileResult::Parity::kRebuilt:
      *out += "\"rebuilt\"";
      break;
    case FileResult::Parity::kUnrecoverable:
      *out += "\"unrecoverable\"";
      break;
  }
  *out += ",\"digests\":{";
  for (size_t i = 0; i < f.digests.size(); ++i) {
    if (i > 0) *out += ',';
    AppendJsonString(DigestName(f.digests[i].type), out);
    *out += ':';
    AppendJsonString(f.digests[i].Hex(), out);
  }
  *out += "}}";
}

namespace {

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
  // An element already in JSON text (AppendFileRow).
  template <typename AppendFn>
  void ItemText(AppendFn&& append) {
    buf_ += items_++ == 0 ? "\n    " : ",\n    ";
    append(&buf_);
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
  w.Field("host", StringOrNull(r.host, false));
  w.Field("manifest_absolute", StringOrNull(r.manifest_absolute, true));
  w.Field("dest_absolute", StringOrNull(r.dest_absolute, true));
  Json signature;
  signature["checked"] = r.signature_checked;
  signature["key_fingerprint"] = StringOrNull(r.key_fingerprint, false);
  w.Field("signature", signature);
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
  totals["chunk_bytes_copied_server_side"] = r.chunk_bytes_copied_server_side;
  totals["chunk_bytes_cloned"] = r.chunk_bytes_cloned;
  totals["chunk_bytes_holes"] = r.chunk_bytes_holes;
  totals["bytes_not_read"] = r.bytes_not_read;
  totals["files_skipped_resume"] = r.files_skipped_resume;
  totals["files_rechecked"] = r.files_rechecked;
  totals["files_resumed_by_chunk"] = r.files_resumed_by_chunk;
  totals["bytes_resumed_by_chunk"] = r.bytes_resumed_by_chunk;
  totals["files_repaired_by_chunk"] = r.files_repaired_by_chunk;
  totals["bytes_read_for_chunk_repair"] = r.bytes_read_for_chunk_repair;
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
  r.ForEachFile([&](const FileResult& f) {
    w.ItemText([&](std::string* out) { AppendFileRow(r, f, out); });
  });
  w.EndArray();
  w.BeginArray("notes");
  for (const std::string& note : r.notes) w.Item(note);
  for (const std::string& note : r.verbose_notes) w.Item(note);
  w.EndArray();
  w.Close();
}

}  // namespace valise
