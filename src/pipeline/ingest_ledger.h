// IngestLedger: what one ingest run knows about every manifest entry, and
// the report it fills. The stages of ingest (src/pipeline/ingest.cc lists
// them) each take it explicitly: plan (ingest_plan.cc) fills it, the stage
// passes (stage_passes.cc) read it to make their jobs, the committer
// (committer.cc) and duplicate placement (duplicates.cc) record outcomes in
// it, and the report (ingest_report.cc) sums it up.
//
// Thread safety: none of its own. During a pass the commit thread changes
// entries' states and the report while the reader's I/O thread reads only
// what no stage changes during a pass (the manifest, the scans, the match);
// between passes, one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "pipeline/chunk_check.h"
#include "pipeline/chunk_dedup.h"
#include "pipeline/parity_source.h"
#include "pipeline/plan.h"
#include "pipeline/reader.h"
#include "pipeline/scan.h"
#include "valise/destination.h"
#include "valise/digest.h"
#include "valise/journal.h"
#include "valise/manifest.h"
#include "valise/pipeline.h"
#include "valise/report.h"

namespace valise {

enum class EntryState : uint8_t {
  kTodo,       // to be read and staged
  kCheck,      // under its final name, unknown to the journal: checked
  kDuplicate,  // waits for a path with its content to be committed
  kCommitted,  // durable under its final name (this run or a previous one)
  kFailed,     // no copy left to try (placed if its content is committed)
  kMissing,    // on no drive (likewise)
  kRefused,    // left as is: DEST holds something else under its name
  kPlacing,    // a clone or link of a committed path, on its way to commit
};

// One finished read (or a duplicate placed, or a file checked in place),
// on its way to commit.
struct Finished {
  size_t entry = 0;
  int drive = 0;
  bool in_place = false;  // a check of a file already under its final name
                          // (or a hard link to a committed duplicate)
  ReadOutcome outcome;    // outcome.staged: on its way to its final name
  Status prepared;        // of Destination::Finish: size, mode, mtime set as it
                          // finished
  int64_t dup_of = -1;    // a clone or link of this committed entry's file
  // What the destination's Stat said of the file under its final name once
  // named, for its journal record (IdentifyNamed); `identified` false if
  // unknown.
  FileInfo named;
  bool identified = false;
};

// Repair by chunk (chunk_repair.h): what the copies of one entry read so
// far gave.
struct ChunkRepairState {
  // Chunks staged in its kept file ("r<entry>") and checked against their
  // signed digests, by the copies read so far.
  std::vector<bool> good;
  // Which copy gave which of them (in the order read).
  std::vector<ChunkOrigin> from;
  // Bytes read for the repair: the chunks read from the copies after the
  // first.
  uint64_t bytes_read = 0;
  // Its staged file is kept, and the next copy reads only the chunks not
  // good yet.
  bool kept = false;
};

struct IngestLedger {
  // The run's inputs. `fs`, `m` and `report` must remain live while the
  // ledger is.
  IngestLedger(FileSystem* fs, const Manifest& m, const PipelineOptions& opt,
               const IngestOptions& iopt, RunReport* report);

  FileSystem* const fs;
  const Manifest& m;
  const PipelineOptions opt;
  const IngestOptions iopt;
  RunReport* const report;
  uint64_t start_us = 0;
  DigestSet digests;  // compared for every file (ChooseDigests)
  // The chunk digests decide alone (DecidesByChunks): `digests` are
  // not computed; a file accepted is recorded and reported with the
  // manifest's.
  const bool by_chunks;
  // What the reader computes for each file: `digests`, or none by chunks.
  DigestSet ReadDigests() const { return by_chunks ? DigestSet() : digests; }
  // How duplicates are placed, decided when DEST is open (never kAuto).
  DedupPolicy dedup = DedupPolicy::kCopy;
  // How the report names a duplicate placed by `dedup` ("reflink",
  // "server-side copy", "hardlink", "copy"), decided with it.
  std::string dedup_word = "copy";

  // What the drives hold (scan, match). The "drive" after the last one,
  // dest_drive, is DEST itself, read to check files found in place.
  std::vector<DriveScan> scans;
  Match match;
  int dest_drive = 0;
  // A pack's parity (opt.pack): its source, and the scan that is its
  // drive (parity_drive.h), read last; -1: none.
  ParitySource* parity = nullptr;
  int parity_drive = -1;

  // Per entry.
  std::vector<EntryState> state;
  std::vector<int64_t> group;     // its group of shared content (-1: none)
  std::vector<int> read_from;     // drive a committed entry's bytes came from
                                  // (-1: DEST, an earlier run)
  std::vector<uint8_t> no_place;  // placing it from its group failed
  std::vector<size_t> attempt;    // candidates tried (the next is read)
  std::vector<uint8_t> resumed;   // committed by an earlier run
  // Resume by chunk (chunk_resume.h): the verified prefix of the file an
  // earlier run staged part way, read from there on in pass 0 (0: none).
  std::vector<uint64_t> resume_from;
  // Repair by chunk (chunk_repair.h): the entries a copy of which failed
  // with some good chunks.
  std::unordered_map<size_t, ChunkRepairState> repair;
  std::vector<std::vector<CopyRef>> candidates;  // copies, best first
  // Paths sharing a content (not with --dedup=copy): each group's paths in
  // manifest order.
  std::vector<std::vector<size_t>> groups;
  // Entries under their final name and not trusted (kCheck): unknown to
  // the journal, changed since it recorded them, journaled without their
  // identity, or --recheck. Their Stat when planned (see IdentifyNamed),
  // and for a journaled one why it is read back (see ingest_plan.cc).
  std::vector<size_t> in_place;
  std::unordered_map<size_t, FileInfo> in_place_info;
  std::unordered_map<size_t, std::string> recheck_why;
  // Each entry's failures: indexes in report->files.
  std::unordered_map<size_t, std::vector<size_t>> failures_of;
  std::vector<FileResult> ok_results;
  // Where each row of report->files added through AddFailure or Conflict
  // goes in the report, as verify lists them: the rows found before any
  // reading (a file on no drive) by manifest entry, then those found by
  // reading (RowKey), and each of ok_results' entry (FinishIngestReport
  // sorts them).
  std::vector<size_t> row_entry, ok_entry;
  bool reading = false;  // a pass has started reading
  size_t RowKey(size_t e) const { return reading ? e + (size_t{1} << 48) : e; }
  // A corrupt copy the signed chunk digests did not locate: its row and
  // its chunks' digests, until a good copy of the file is read; its first
  // bad chunk is then the first that differs from the good copy's, as
  // verify finds it.
  std::unordered_map<size_t,
                     std::vector<std::pair<size_t, std::vector<ChunkDigest>>>>
      corrupt_chunks;
  std::vector<DriveReadStats> drive_stats;  // summed over the passes
  // Checks against the signed chunk digests (opt.chunk_index), if any.
  std::unique_ptr<ChunkCheck> chunk_check;
  // Dedup by chunk (chunk_dedup.h), set when DEST is open; null: none.
  std::unique_ptr<ChunkDedup> chunk_dedup;

  // Where entry e lands, relative to DEST.
  std::string DestRel(size_t e) const;
  // The manifest's digests of entry e.
  std::vector<Digest> ManifestDigests(size_t e) const;
  // The mode and mtime entry e gets when read from `drive` (the
  // manifest's mtime first; -1 or a drive without it: none of a copy's).
  uint32_t ModeOf(size_t e, int drive) const;
  int64_t MtimeOf(size_t e, int drive) const;
  // The journal record of committed entry e, read from `drive` (-1:
  // placed from a duplicate), with the identity of its file (`named`, the
  // destination's Stat once named; null if unknown: the record then has
  // none, and a rerun reads the file back).
  JournalRecord CommitRecord(size_t e, int drive, std::vector<Digest> digests,
                             const FileInfo* named) const;

  // The report's row for entry e.
  FileResult Result(size_t e, int drive, FileStatus status) const;
  // A copy of entry e failed: reported (repaired_from is filled if
  // another copy is committed).
  void AddFailure(size_t e, FileResult r);
  // Entry e is on no drive: reported. With report->compact_missing, as a
  // compact row of the report (its entry, 4 bytes: RunReport::AddMissing),
  // not a FileResult with its failures_of and row_entry (about 300 bytes),
  // so a large manifest against the first drive of a shipment stays within
  // the memory budget. Such a row has no repaired_from: a path reported
  // missing is never placed afterwards (its group's paths are all reported
  // only when none has a copy to read, and a path whose placement failed
  // is not placed again).
  void AddMissing(size_t e);
  // Entry e is left as DEST has it: something else is under its name.
  void Conflict(size_t e, const std::string& why);
  // Entry e, read from `drive` (dest_drive: checked in place), is
  // committed: reported ok.
  void Committed(size_t e, int drive, const ReadOutcome& o);
  // Entry e, a duplicate of committed entry p, is committed: reported ok.
  void DuplicateCommitted(size_t e, size_t p);
  // Entry e was committed by another host while this run went on (the
  // destination's Stage found it: CommittedElsewhere): not read, counted
  // as resumed, like a file an earlier run committed.
  void CommittedElsewhere(size_t e);
  size_t committed_elsewhere = 0;  // entries so

  bool Cancelled() const;

 private:
  const ScannedFile* SourceFile(size_t e, int drive) const;
  // Entry e's failures came right after all from `drive`.
  void Repaired(size_t e, int drive);
};

// Sets f->named to what dest->Stat says of f's file under its final name,
// right after it was named (or what DEST saw of it as it named it,
// StagedFile::named_info, the same lstat without another lookup): what a rerun
// compares before trusting its journal record (ingest_plan.cc). Taken after
// naming, which changes a file's ctime. A file checked in place is identified
// only if it did not change while it was read (its Stat when planned); else, or
// if Stat fails, its record has no identity and a rerun reads it again.
void IdentifyNamed(Destination* dest, const IngestLedger& ledger, Finished* f);

// Errors that mean DEST itself is in trouble (full, failing, gone), as
// opposed to one path that cannot be placed: the run stops.
bool IsDestTrouble(const Status& s);

// A DEST-full error with what to do about it; any other as it is.
Status WithRerunHint(const Status& s);

}  // namespace valise
