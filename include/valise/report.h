// What a run found, and how it is told: a summary for people, JSON for
// machines, and progress bars on a terminal while it runs.
//
// The pipeline fills a RunReport; report.cc renders it. Problem files are
// listed one by one; files that checked out are only counted, unless
// keep_all_files is set (ingest's JSON lists every staged file's digests).
//
// Thread safety: RunReport is a plain value; Progress may be updated from
// any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "valise/digest.h"

namespace valise {

enum class FileStatus : uint8_t {
  kOk,
  kCorrupt,        // read whole, a digest differs
  kSizeMismatch,   // size on the drive differs from the manifest
  kMissing,        // in the manifest, on no drive
  kUnreadable,     // read errors remained after retries
  kExtra,          // on a drive, not in the manifest (reported only)
  kSkipped,        // not a regular file (symlink, device, FIFO, socket)
  kStalled,        // its drive stopped answering
};
// "ok", "corrupt", "size-mismatch", "missing", "unreadable", "extra",
// "skipped", "stalled": also the JSON values.
const char* FileStatusName(FileStatus s);

struct BadRange {
  uint64_t offset = 0;
  uint64_t length = 0;
  int err = 0;  // errno
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
  std::string detail;  // "sha256 mismatch", "symlink", an error message...
  // Ingest: the drive whose copy was staged after this one failed, or -1.
  int repaired_from = -1;
  std::vector<Digest> digests;  // as computed (ok files, with keep_all_files)
};

struct DriveReport {
  std::string source;  // as given on the command line
  std::string kind;    // "directory", "image", "block device"
  uint64_t bytes_planned = 0;
  uint64_t bytes_read = 0;
  uint64_t files_ok = 0;
  uint64_t files_bad = 0;
  double seconds = 0;
  bool stalled = false;
  std::vector<std::string> errors;  // drive-level (open, scan, stall)
  // Throughput timeline: bytes read in each whole second since the start.
  std::vector<uint64_t> bytes_per_second;
};

struct RunReport {
  std::string command;   // "verify", "ingest"
  std::string manifest;  // path of the manifest
  std::string dest;      // ingest
  std::string started;   // ISO 8601 UTC
  double seconds = 0;
  std::vector<DriveReport> drives;
  std::vector<FileResult> files;  // problems (and ok ones if kept)
  uint64_t files_expected = 0;
  uint64_t files_ok = 0;
  uint64_t bytes_expected = 0;
  uint64_t bytes_verified = 0;
  uint64_t dedup_bytes_saved = 0;
  uint64_t files_skipped_resume = 0;  // ingest: already committed
  bool interrupted = false;
  std::vector<std::string> notes;  // run-level remarks ("io_uring: ...")

  // 0 if nothing is wrong, 1 if problems were found, 130 if interrupted.
  // (2, trouble, is decided before a report exists.)
  int ExitCode() const;
};

// The human summary, for stdout. Escapes unprintable path bytes.
std::string FormatSummary(const RunReport& r);
// The machine report: a JSON document, schema "valise-report/1"
// (docs/formats.md). Paths are given escaped as in manifest v1.
std::string FormatJson(const RunReport& r);

// Progress bars on a terminal: one line per drive (bytes done / planned,
// rate, ETA) and a total, redrawn in place at most 5 times a second on
// stderr. Does nothing when stderr is not a terminal or when disabled.
class Progress {
 public:
  Progress(std::vector<std::string> drive_names,
           std::vector<uint64_t> planned_bytes, bool enabled);
  ~Progress();  // erases the bars
  void Add(int drive, uint64_t bytes);  // any thread
  void Tick();                          // redraw if due; one thread
  void Finish();                        // final redraw and newline

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace valise
