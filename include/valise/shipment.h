// The shipment, not the run (issue 14): what has arrived in DEST of a
// manifest's files, what is still out there and on which drives, what went
// wrong and where. `valise status -m M DEST` prints it.
//
// What it is built from, read only (no lock taken: an ingest running into
// DEST does not notice, and status may read a journal a group commit is
// appending to, whose torn tail is then ignored as on resume):
//   - the manifest M and its bound M.drives (valise/drives.h): which drive
//     holds which file;
//   - DEST/.valise/journal (valise/journal.h): a file journaled is
//     committed, i.e. it was verified against the manifest's digests and
//     made durable under its final name. A record whose size or digests
//     differ from M's entry (a DEST ingested from another manifest) counts
//     as a problem, not as arrived. Status reads no file contents of DEST:
//     a file altered in DEST after its commit is found by the next ingest
//     (which trusts a record only while the file's identity is unchanged)
//     or by verify, not here;
//   - DEST/.valise/runs/*.json, one run record per ingest (RunRecord
//     below, written at the end of each ingest): when, on which host, which
//     drives, with which result, and the problems it met (corrupt,
//     unreadable, stalled copies) with the drive that carried each. A
//     problem still counts while its file has not arrived since.
//
// The drives still needed are a small set of drives that together hold
// every missing file: chosen greedily (each time the drive holding the
// most missing bytes still uncovered, ties by label), which is within a
// factor ln(n) of the smallest such set and exact in the common case of
// drives holding disjoint parts. Files on no drive of M.drives are named
// apart ("on no drive"). A packed shipment (M.layout, and M.drives written
// by `valise pack`) may instead be completed without a drive that has not
// arrived, from parity: the drives to plug in together are named, since
// a rebuild reads its stripes from the drives given in one run, never
// from files already staged in DEST (src/pipeline/shipment_parity.h).
//
// Thread safety: the functions are thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "valise/drives.h"
#include "valise/file_system.h"
#include "valise/manifest.h"
#include "valise/pack.h"
#include "valise/report.h"
#include "valise/status.h"

namespace valise {

// DEST/.valise/runs: where ingest leaves its run records.
inline constexpr char kRunRecordDir[] = ".valise/runs";

// One ingest run as DEST/.valise/runs/<started>-<host>-<pid>.json records it
// (docs/formats.md, "Run records").
struct RunRecord {
  std::string host;
  std::string started;   // ISO 8601 UTC
  std::string finished;  // ISO 8601 UTC
  int exit_code = 0;     // the run's exit status
  std::string manifest;  // as given
  struct Drive {
    std::string source;  // as given
    std::string label;   // M.drives' label, or empty (not matched)
    uint64_t files_ok = 0;
    uint64_t files_bad = 0;
    bool stalled = false;
  };
  std::vector<Drive> drives;
  struct Problem {
    std::string path;    // raw manifest path
    std::string status;  // FileStatusName: "corrupt", "unreadable", ...
    int drive = -1;      // index into drives, -1: none
    int64_t first_bad_offset = -1;
    std::string detail;
  };
  std::vector<Problem> problems;  // at most kMaxRunRecordProblems
  uint64_t problems_total = 0;    // all of them
};
inline constexpr size_t kMaxRunRecordProblems = 10000;

// The record of an ingest run from its report; `labels[i]` is the
// M.drives label of report drive i ("" if none). Missing files are not
// problems of a run (status computes them).
RunRecord RunRecordOf(const RunReport& report, const std::string& host,
                      const std::string& finished,
                      const std::vector<std::string>& labels);
std::string WriteRunRecord(const RunRecord& r);
Status ParseRunRecord(std::string_view data, std::string_view name,
                      RunRecord* out);
// Writes `data` as DEST/.valise/DIR/TIME-HOST.json (DIR created if absent;
// TIME without its colons, HOST's characters other than [A-Za-z0-9.-] as
// '_'), never replacing a record: a name taken gets "-1", "-2"... before
// ".json". Atomic on both kinds of DEST (a directory through the file
// system's atomic write, an s3:// DEST as one PUT that never replaces).
Status SaveStateRecord(FileSystem* fs, const std::string& dest,
                       const std::string& dir, const std::string& time,
                       const std::string& host, const std::string& data);
// Writes `r` under DEST/.valise/runs/ (SaveStateRecord).
Status SaveRunRecord(FileSystem* fs, const std::string& dest,
                     const RunRecord& r);

struct ShipmentStatus {
  uint64_t files_total = 0, bytes_total = 0;
  uint64_t files_arrived = 0, bytes_arrived = 0;
  std::vector<uint64_t> missing;  // manifest entries not arrived
  uint64_t bytes_missing = 0;
  bool have_drives = false;  // M binds M.drives
  struct Drive {
    std::string label, source, fs_uuid, serial;
    uint64_t files = 0, bytes = 0;
    uint64_t files_arrived = 0, bytes_arrived = 0;
    // Missing files this drive holds, and how many only it holds.
    uint64_t files_missing = 0, files_missing_only_here = 0;
    // Runs that read it (by label): "STARTED on HOST: RESULT".
    std::vector<std::string> runs;
    bool parity = false;  // a parity drive of a pack (holds no files)
    // Where it was last seen: the host whose journal committed last a file
    // only this drive holds, or else that of the last run record naming it
    // (empty: neither). Several hosts ingest one shipment (issue 17).
    std::string seen_at;
  };
  std::vector<Drive> drives;
  std::vector<uint32_t> needed;  // indices into drives, in the order chosen
  // A packed shipment (M binds M.layout): the drives not yet arrived that
  // parity stands in for ("not needed: parity covers it"), and then
  // `needed` are the drives to plug in together, in one ingest run, which
  // rebuilds them (src/pipeline/shipment_parity.h).
  std::vector<uint32_t> covered;
  bool together = false;
  uint64_t files_on_no_drive = 0;  // missing and held by no drive
  struct Problem {
    std::string path, status, detail;
    std::string drive;  // label (or source) of the drive that carried it
    std::string run;    // "STARTED on HOST"
    int64_t first_bad_offset = -1;
  };
  // Problems of runs whose file has not arrived since, and journal
  // records that do not match M (status "mismatch").
  std::vector<Problem> problems;
  // The hosts whose journals DEST holds (an object store's
  // .valise/journal/HOST/; none for a directory DEST's one journal file),
  // by name: files and bytes of M each committed (a file committed by two
  // counts for both), when its last run began, and whether that run
  // wrote its end record (if not, it is running now, or it died).
  struct Host {
    std::string name;
    uint64_t files = 0, bytes = 0;
    std::string last_run;  // ISO 8601 UTC, to the second
    bool ended = false;
  };
  std::vector<Host> hosts;
  std::vector<RunRecord> runs;     // oldest first
  std::vector<std::string> notes;  // torn journal tail, unreadable records

  bool complete() const { return missing.empty() && problems.empty(); }
  // 0 complete, 1 incomplete or problems.
  int ExitCode() const { return complete() ? 0 : 1; }
};

// Reads DEST's journal and run records and computes the status of the
// shipment `m` (`drives` may be null: M binds no M.drives; `layout` is
// M.layout of a packed shipment, else null: with both, parity counts as a
// way to complete the shipment). A DEST with no
// journal is a shipment nothing of which has arrived. Errors: trouble
// reading DEST's state (a journal with a forged record, an unreadable
// state directory), naming the file.
Status ComputeShipmentStatus(FileSystem* fs, const Manifest& m,
                             const ShipmentDrives* drives,
                             const std::string& dest, ShipmentStatus* out,
                             const PackLayout* layout = nullptr);

// The status as text in 80 columns (`list_limit` missing files and
// problems listed at most), and as JSON (schema valise-status/1, every
// missing file and problem).
std::string FormatShipmentStatus(const ShipmentStatus& s, const Manifest& m,
                                 const std::string& manifest_path,
                                 const std::string& dest,
                                 size_t list_limit = 20);
std::string FormatShipmentStatusJson(const ShipmentStatus& s, const Manifest& m,
                                     const std::string& manifest_path,
                                     const std::string& dest);

}  // namespace valise
