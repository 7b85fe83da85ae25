// What a run found, and how it is told: a summary for people, JSON for
// machines, and progress bars on a terminal while it runs.
//
// The pipeline fills a RunReport; report.cc renders it. Problem files are
// listed one by one; files that checked out are only counted, unless
// keep_all_files is set (ingest's JSON lists every staged file's digests).
// The rendered forms are described in docs/report.md.
//
// Missing files may be kept compact (RunReport::compact_missing): a row
// that is only "manifest entry e is on no drive" is stored as e (4 bytes)
// instead of a FileResult (about 200 bytes plus its path), so a
// 10-million-entry manifest checked against an empty drive stays within
// the memory budget (docs/reliability.md, bug 7). Such rows borrow the
// manifest; ForEachFile shows them as FileResults, in the order the rows
// were added, and every formatter reads the rows through it, so the
// rendered report is the same either way.
//
// Exit status (RunReport::ExitCode): 130 if interrupted; else 1 if any file
// result is a problem (corrupt, size-mismatch, missing, unreadable, stalled)
// or any drive has errors or stalled; else 0. Extra and skipped files are
// reported but do not, alone, make the exit status 1.
//
// Thread safety: RunReport is a plain value, and FormatSummary/FormatJson
// are pure functions of it (safe from any thread on a const report).
// Progress::Add may be called from any thread (lock-free); Tick, Log and
// Finish from one thread at a time.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "valise/digest.h"

namespace valise {

class Manifest;

enum class FileStatus : uint8_t {
  kOk,
  kCorrupt,       // read whole, a digest differs
  kSizeMismatch,  // size on the drive differs from the manifest
  kMissing,       // in the manifest, on no drive
  kUnreadable,    // read errors remained after retries
  kExtra,         // on a drive, not in the manifest (reported only)
  kSkipped,       // not a regular file (symlink, device, FIFO, socket)
  kStalled,       // its drive stopped answering
};
// "ok", "corrupt", "size-mismatch", "missing", "unreadable", "extra",
// "skipped", "stalled": also the JSON values.
const char* FileStatusName(FileStatus s);
// True for the statuses that make the exit status 1: corrupt,
// size-mismatch, missing, unreadable, stalled.
bool IsProblem(FileStatus s);

struct BadRange {
  uint64_t offset = 0;
  uint64_t length = 0;
  int err = 0;  // errno
};

// Runs of chunks of a file, by index, inclusive: {{0, 2}, {4, 4}} is
// chunks 0-2 and 4.
using ChunkRuns = std::vector<std::pair<uint64_t, uint64_t>>;

// Ingest, repair by chunk: the chunks of a staged file that one drive's
// copy gave.
struct ChunkOrigin {
  int drive = -1;  // index into RunReport::drives
  ChunkRuns chunks;
};

// One file (or one copy of a file, for problem copies).
struct FileResult {
  std::string path;  // raw manifest-relative path
  int drive = -1;    // index into RunReport::drives; -1: on none
  FileStatus status = FileStatus::kOk;
  uint64_t expected_size = 0;
  uint64_t actual_size = 0;
  // kCorrupt: offset of the first chunk that differs, -1 if unknown.
  int64_t first_bad_offset = -1;
  std::vector<BadRange> bad_ranges;  // kUnreadable
  // kCorrupt, checked by signed chunk digests: the runs of chunks whose
  // SHA-256 differs from the chunk index's (err 0), in file order, at most
  // 1,024 of them. Empty when the check was not made.
  std::vector<BadRange> corrupt_ranges;
  std::string detail;  // "sha256 mismatch", "symlink", an error message...
  // Ingest: the drive whose copy was staged after this one failed, or -1.
  // A repaired copy is still a problem (its drive carried bad data).
  int repaired_from = -1;
  // Ingest, repair by chunk (signed chunk digests): the file was staged
  // from the good chunks of several copies; which chunks came from which
  // drive, and the bytes read from the copies after the first (only the
  // chunks still missing). Set on the rows of the copies that failed.
  std::vector<ChunkOrigin> chunks_from;
  uint64_t repair_bytes_read = 0;
  // Ingest, repair by chunk: the file failed, and these chunks matched
  // their signed digests on no copy read (the others did on some copy).
  // Set on the row of the last copy tried.
  ChunkRuns chunks_lost;
  // A pack's file that no drive delivered whole and right, and that went
  // through its stripes' parity (valise/rebuild.h): kRebuilt, every chunk
  // came back checked and the file's digests match (a rebuilt file is
  // still a problem row: its drive was lost or carried bad data, as for
  // repaired_from); kUnrecoverable, more than m members of some stripe of
  // it were lost (detail names the stripe). kNone: parity not involved.
  enum class Parity : uint8_t { kNone, kRebuilt, kUnrecoverable };
  Parity parity = Parity::kNone;
  std::vector<Digest> digests;  // as computed (ok files, with keep_all_files)
};

struct DriveReport {
  std::string source;  // as given on the command line
  // `source` made absolute (against the working directory, lexically
  // normalised; an s3:// URL as it is). Empty: not known.
  std::string absolute;
  // The drive's label and serial in the manifest's drive entries
  // (M.drives, valise/drives.h), when the SRC was matched to one; empty
  // otherwise. The summary names the drive by its label when it has one.
  std::string label;
  std::string serial;
  // What `source` resolved to when it is a symlink (/dev/disk/by-id/... ->
  // /dev/sdb): the drive that was read. Empty when it is not one.
  std::string resolved;
  std::string kind;  // "directory", "image", "block device"
  uint64_t bytes_planned = 0;
  uint64_t bytes_read = 0;
  uint64_t files_ok = 0;
  uint64_t files_bad = 0;
  double seconds = 0;
  bool stalled = false;
  std::vector<std::string> errors;  // drive-level (open, scan, stall)
  // Throughput timeline: bytes read in each whole second since the start.
  std::vector<uint64_t> bytes_per_second;
  // Dedup by chunk: chunks whose twin (same signed digest) was still being
  // read when their turn came; the drive read on past them and took each
  // up later (cloned, or read if the twin did not become a source).
  uint64_t chunks_read_past = 0;
};

// What a pack's parity did in a run (verify, ingest of a manifest that
// binds M.layout).
struct ParityReport {
  bool present = false;  // the manifest is a pack's: the rest is set
  uint32_t data_drives = 0;
  uint32_t parity_drives = 0;
  // The layout's labels of the drives no drive given was found to be.
  std::vector<std::string> drives_lost;
  uint64_t files_rebuilt = 0;        // rows with Parity::kRebuilt
  uint64_t files_unrecoverable = 0;  // rows with Parity::kUnrecoverable
  uint64_t chunks_rebuilt = 0;
  // Stripes that lost members, and more than parity_drives of them
  // (counting the drives lost and every bad chunk the run met).
  uint64_t stripes_degraded = 0;
  uint64_t stripes_lost = 0;
  // How many more drives any stripe could still lose and be rebuilt:
  // parity_drives minus the most members lost in one stripe (0 once data
  // is lost). Counts what the run read: parity chunks it did not need are
  // assumed good.
  uint32_t spare = 0;
};

// How a run found files intact: by the manifest's whole-file digests, or
// by the chunk digests alone (a manifest binding a chunk index: every
// chunk's SHA-256 matched), the manifest's signature checked or not. JSON
// "checked_by": "file-digests", "chunk-digests", "signed-chunk-digests".
enum class CheckedBy : uint8_t { kFileDigests, kChunks, kSignedChunks };
const char* CheckedByName(CheckedBy c);

struct RunReport {
  std::string command;   // "verify", "ingest"
  std::string manifest;  // path of the manifest
  std::string dest;      // ingest
  std::string started;   // ISO 8601 UTC
  // Where the run was: the host's name, and the manifest and DEST made
  // absolute (as DriveReport::absolute). Empty: not known.
  std::string host;
  std::string manifest_absolute;
  std::string dest_absolute;
  // Whether the manifest's signature was checked (--pubkey) and passed,
  // and the fingerprint of the key that checked it ("sha256:" and the hex
  // SHA-256 of its DER form, valise::PublicKeyFingerprint).
  bool signature_checked = false;
  std::string key_fingerprint;
  double seconds = 0;
  // Bytes per chunk, so a corrupt file's first bad offset can also be told
  // as a chunk number. 0: unknown (the chunk number is left out).
  uint64_t chunk_size = 0;
  CheckedBy checked_by = CheckedBy::kFileDigests;
  std::vector<DriveReport> drives;
  // Problems (and ok ones if kept), except the compact missing rows (see
  // compact_missing): read every row with ForEachFile. Once a compact row
  // was added, rows are only appended here (a compact row's place is
  // fixed by how many rows `files` had when it was added).
  std::vector<FileResult> files;
  // Set by the caller before VerifyDrives: list each missing file
  // compactly, by its manifest entry (AddMissing), not as a FileResult in
  // `files`. The manifest then must remain live while the report is read
  // (ForEachFile, num_files, ExitCode, FormatSummary, FormatJson,
  // FormatHtml). Default: false (every row in `files`, for callers that
  // walk `files` themselves).
  bool compact_missing = false;
  uint64_t files_expected = 0;
  uint64_t files_ok = 0;
  uint64_t bytes_expected = 0;
  uint64_t bytes_verified = 0;
  // ingest: bytes not written because a path's whole content was placed
  // from another path's (a clone, a hard link: whole-file dedup).
  uint64_t dedup_bytes_saved = 0;
  // ingest into an object store, dedup by chunk: bytes of the committed
  // files' parts copied server-side (UploadPartCopy) from chunks with the
  // same signed digests in objects committed and verified before, not
  // sent.
  uint64_t chunk_bytes_copied_server_side = 0;
  // ingest, dedup by chunk, over the files committed: bytes of chunks
  // cloned from a chunk staged and verified with the same signed digest,
  // and bytes of zeros left as holes, neither written; of those, bytes not
  // read at all (the signed digest alone said what they are).
  uint64_t chunk_bytes_cloned = 0;
  uint64_t chunk_bytes_holes = 0;
  uint64_t bytes_not_read = 0;
  // ingest: committed by an earlier run and trusted from the journal (size,
  // mtime, inode and ctime unchanged since), not read.
  uint64_t files_skipped_resume = 0;
  // ingest: files already under their final name that this run read back
  // from DEST (journaled but changed since, journaled by an older valise,
  // not journaled, or --recheck); each is also ok or a problem.
  uint64_t files_rechecked = 0;
  // ingest: files an earlier run staged part way that this run went on
  // from their verified prefix (resume by chunk), and the bytes of those
  // prefixes (checked in DEST against the signed chunk digests, not read
  // from a drive again).
  uint64_t files_resumed_by_chunk = 0;
  uint64_t bytes_resumed_by_chunk = 0;
  // ingest: files staged from the good chunks of several copies (repair
  // by chunk), and the bytes read from the copies after the first for
  // them (only the chunks still missing).
  uint64_t files_repaired_by_chunk = 0;
  uint64_t bytes_read_for_chunk_repair = 0;
  bool interrupted = false;
  // Trouble that stopped the run after it began (DEST full, DEST failing):
  // the report is still written, and says so. Empty if none.
  std::string fatal_error;
  std::vector<std::string> notes;  // run-level remarks for the operator
  // How the run went about it (the I/O queue: "io_uring: ...", DEST's
  // durability, the dedup policy): in the summary only with --verbose
  // (SummaryOptions::verbose), always in the JSON's "notes" (after
  // `notes`) and the HTML page.
  std::vector<std::string> verbose_notes;
  ParityReport parity;  // a pack's parity: what it rebuilt, what it spares

  // 130 if interrupted; 2 if fatal_error is set; 1 if a file result
  // IsProblem() or a drive has errors or stalled; else 0. (Trouble found
  // before a run starts is exit 2 without a report.)
  int ExitCode() const;

  // Adds a kMissing row for entry `entry` of `*manifest` (path and
  // expected size from the manifest, no drive), after every row added so
  // far, at a cost of 4 bytes (plus 16 per run of such rows between two
  // rows of `files`). REQUIRES: manifest->finished(); the same manifest
  // for every call; it must remain live while this report is read.
  void AddMissing(const Manifest* manifest, size_t entry);
  // Like AddMissing, the row placed before files[before] (files.size():
  // after every row). REQUIRES: before <= files.size(), and not below the
  // place of the compact row added before it.
  void AddMissingAt(const Manifest* manifest, size_t entry, size_t before);
  // Takes every compact missing row out (their entries, in the order
  // added), for a caller that reorders `files` and puts them back in
  // place with AddMissingAt (ingest, FinishIngestReport).
  std::vector<uint32_t> TakeMissing();
  // Rows held: files.size() plus the compact missing rows.
  size_t num_files() const { return files.size() + missing_entries_.size(); }
  // The compact missing rows (a part of num_files()).
  size_t num_compact_missing() const { return missing_entries_.size(); }
  // Calls fn on every row in order: those of `files`, with each compact
  // missing row shown as a FileResult at the place it was added. The
  // reference is valid during the call only (compact rows share one
  // FileResult, refilled for each).
  void ForEachFile(const std::function<void(const FileResult&)>& fn) const;

 private:
  // `count` compact rows (the next ones of missing_entries_) come before
  // files[before].
  struct MissingRun {
    size_t before = 0;
    size_t count = 0;
  };
  const Manifest* missing_manifest_ = nullptr;  // borrowed
  std::vector<uint32_t> missing_entries_;       // in the order added
  std::vector<MissingRun> missing_runs_;        // in the order added
};

// How many files of one status the summary lists before "... and N more".
inline constexpr size_t kSummaryListLimit = 50;
// The summary's width: no line is longer, but for one holding a single
// word (a path, a drive name) longer than the room, which is never broken.
inline constexpr size_t kSummaryWidth = 80;

struct SummaryOptions {
  size_t list_limit = kSummaryListLimit;  // lines per status
  bool verbose = false;                   // also RunReport::verbose_notes
};

// The report's sentence on dedup by chunk: "8.0 MiB cloned from chunks
// already staged with the same signed digest, 4.0 MiB of zeros left as
// holes: not written (6.0 MiB of them not read either)"; empty if none.
std::string ChunkDedupText(const RunReport& r);

// The human summary, for stdout (docs/report.md): header, per-drive table,
// problem files by status (at most `list_limit` lines each; all the files
// of a drive that failed whole in one line) each followed by a next step,
// dedup savings, notes, and a final verdict line starting "valise: ".
// Lines fit kSummaryWidth columns (a code point is a column). Every path
// is escaped as in manifest v1 (%XX for control bytes, '%' and invalid
// UTF-8); free text (details, errors, notes) has its control bytes and
// invalid UTF-8 escaped so nothing written can move the terminal's cursor.
// Sizes and rates are binary (KiB, MiB/s), as the header says.
std::string FormatSummary(const RunReport& r, const SummaryOptions& opt);
inline std::string FormatSummary(const RunReport& r,
                                 size_t list_limit = kSummaryListLimit) {
  SummaryOptions opt;
  opt.list_limit = list_limit;
  return FormatSummary(r, opt);
}
// The machine report: a JSON document, schema "valise-report/1"
// (docs/report.md). Paths are given escaped as in manifest v1, so they
// compare byte for byte with the manifest's path field.
std::string FormatJson(const RunReport& r);
// The same text as FormatJson, handed to `sink` in pieces of about 1 MiB:
// a report of millions of rows is never held whole.
void WriteJson(const RunReport& r,
               const std::function<void(std::string_view)>& sink);
// A self-contained HTML page (inline CSS and SVG, no external reference):
// the verdict, the run's facts, a line chart of each drive's and the
// total read rate (MB/s) over time from DriveReport::bytes_per_second,
// the drive table and the problem files. What `--report FILE.html` writes.
std::string FormatHtml(const RunReport& r);

// Progress::planned_bytes value for a drive whose size is not known yet:
// its line shows bytes and rate, without percent or ETA.
inline constexpr uint64_t kUnknownSize = ~uint64_t{0};

// How a run shows its progress (ProgressOptions below):
//  - bars on a terminal: one line per drive (bytes done / planned,
//    percent, rate over the last few seconds, ETA, "stalled" over the bar
//    of a drive that has delivered nothing for stall_seconds) and a total
//    whose ETA is the slowest drive's, redrawn in place at most 5 times a
//    second; the final frame shows average rates. Nothing when `fd` is not
//    a terminal or bars are off (Add still counts).
//  - stats lines (--stats): one line every stats_seconds on `fd`, for a
//    log (src/pipeline/progress_render.h, RenderStatsLine), and a last one
//    with average rates.
//  - a metrics file (--metrics): Prometheus text format, rewritten
//    atomically every metrics_seconds and at the end
//    (src/pipeline/progress_metrics.h lists the metrics).
// The rules of rates, stalls and ETAs: src/pipeline/progress_estimate.h.
class FileSystem;
struct ProgressOptions {
  // Bars, where `fd` is a terminal. Default: false.
  bool bars = false;
  // A stats line every this many seconds; 0: none. Default: 0.
  double stats_seconds = 0;
  // The last stats line (average rates) even when no interval passed;
  // false: only after at least one interval line (the default --stats of a
  // stderr that is no terminal stays silent on a short run). Default: true.
  bool stats_final = true;
  // The metrics file; "": none. Default: "".
  std::string metrics_path;
  double metrics_seconds = 10;  // Default: 10.
  // A drive that delivers no byte for this long reads "stalled" (the
  // read still waits: --io-timeout gives the drive up). Default: 10.
  double stall_seconds = 10;
  // Where the metrics file is written; null: FileSystem::Default().
  FileSystem* fs = nullptr;
  // Seconds since the run began; null: the monotonic clock. Tests.
  std::function<double()> clock;
  static ProgressOptions Bars(bool enabled);
};

class Progress {
 public:
  // `fd` is where the bars and stats lines go (stderr unless a test says
  // otherwise). REQUIRES: drive_names.size() == planned_bytes.size().
  Progress(std::vector<std::string> drive_names,
           std::vector<uint64_t> planned_bytes, bool enabled, int fd = 2);
  Progress(std::vector<std::string> drive_names,
           std::vector<uint64_t> planned_bytes, const ProgressOptions& options,
           int fd = 2);
  // Erases the bars unless Finish() was called (then the metrics file
  // says the run ended).
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Counts `bytes` more done on `drive`; an index out of range is ignored.
  // Lock-free; any thread.
  void Add(int drive, uint64_t bytes);
  // One more file of `drive` done (`failed`: its read failed); an index
  // out of range is ignored. Lock-free; any thread.
  void FileDone(int drive, bool failed);
  // Files given to `drive` in this run: once all are done the drive is
  // finished (never "stalled"). Same thread as Tick.
  void AddPlannedFiles(int drive, uint64_t files);
  // Bytes counted so far on `drive` (0 if out of range). Any thread.
  uint64_t done(int drive) const;
  // Whether bars are drawn (enabled and fd is a terminal).
  bool active() const;

  // Redraws if at least 200 ms passed since the last frame, writes a
  // stats line or the metrics file when their interval has passed; one
  // thread.
  void Tick();
  // Writes `line` (a message, without newline) above the bars, which are
  // redrawn below it, so messages and bars do not mangle each other. When
  // inactive, just writes the line and a newline to fd. Same thread as Tick.
  void Log(std::string_view line);
  // Draws the final state once (average rates) and leaves it on the
  // screen, writes the last stats line and the metrics file (running 0);
  // later calls to Tick/Finish do nothing.
  void Finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The word for a run's exit status in status, watch and custody lines:
// 0 "ok", 1 "problems", 130 "interrupted", anything else "trouble".
const char* ExitResultWord(int exit_code);

}  // namespace valise
