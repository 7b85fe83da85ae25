// ingest: land a dataset from drives onto DEST, verified, resumably.
//
// IngestDrives() below is the whole data path, one stage per call:
//   open DEST -> journal -> scan -> match -> plan -> stage passes -> report
// Each stage is a file of src/pipeline/ (ingest_ledger.h says which), and
// takes what it works on as arguments.
//
// The core holds the policy; DEST is a Destination
// (include/valise/destination.h) that knows only how: for a directory,
// src/dest/posix_destination.cc (staging under DEST/.valise/staging,
// syncfs or fdatasync, renameat2(RENAME_NOREPLACE), the journal).
//
// The protocol that makes it impossible to lose data or to name a bad file:
//
//  1. Every file is staged under a temporary name, from the buffers its
//     reads filled, while it is hashed.
//  2. Only when its digests match the manifest is it committed, in groups
//     (commit_batch files): finished (final size, mode and mtime), sealed
//     (its data durable), and only then named (never replacing anything
//     already there), the names made durable, and one journal record per
//     file recorded. Where a seal also makes the names and records before
//     it durable (one syncfs), the groups are pipelined (CommitPipelined): a
//     group is sealed while the group before is named and recorded, and the
//     next seal makes those names and records durable. Elsewhere each
//     group is sealed, named, and its names and records made durable in
//     turn (CommitInTurn). A file is reported ok only once its name is
//     durable. A crash at any point leaves either a temporary (removed on
//     the next run) or a durable, verified file under its final name; the
//     journal is trusted only with the final name present (a crash may take
//     a name whose record survived: the file is read again).
//  3. A copy that fails (corrupt, unreadable, its drive stalled) is
//     discarded and the next copy on another drive is read in the next
//     pass: the file is "repaired from" that drive.
//  4. A content that several paths share (same size and digests in the
//     manifest) is read once, by policy: with --dedup=copy every path is
//     read like any file; else the paths form a group, one of them is read
//     (the first in manifest order with a copy of the right size), and
//     once any path of the group is committed (by this run, or by an
//     earlier one: journaled, or found under its final name and checked)
//     every other path is cloned (reflink) or hard-linked to it. If the
//     path being read runs out of copies, the next path of the group is
//     read in the next pass; a path that failed is still placed once
//     another path brings its bytes (its failed copies are reported
//     "repaired from" that path's drive). Only when no path of the group
//     can be read is each of them reported.
//  5. A rerun reads the journal (up to its first torn record) and skips a
//     file it holds only while the file under its final name is the one
//     the record describes: size, mtime, inode and (one link) ctime as the
//     destination's Stat saw them once it was named (IdentifyNamed,
//     ingest_plan.cc). It reads back from DEST, and checks, files found
//     under their final name that the journal does not hold (a crash
//     between naming and recording), that changed since, or that an older
//     valise journaled without their identity (all of them with
//     --recheck), and re-reads nothing else already done.
//  6. DEST full (ENOSPC, bytes or inodes) or failing: the run stops
//     cleanly, temporaries are removed, what was committed stays
//     committed; rerun when space is freed.
//  7. A pack (the manifest binds M.layout, opt.pack): its files as
//     rebuilt from their stripes' parity are one more drive, "(parity)"
//     (parity_drive.h), the last copy of each: read only for a file whose
//     copies failed or whose drive was not given, staged and committed
//     like any copy (ingest_report.cc marks its rows rebuilt).
//  8. With the chunk digests deciding, a large file staged part way
//     by a run that stopped is kept, and the next run goes on from its
//     last chunk verified in DEST (chunk_resume.cc).
//
// DEST's lock keeps a second ingest out of the same DEST.
//
// DEST/.valise (journal, lock, staging) is valise's alone: a manifest with
// a path there is refused before DEST is created or a drive read, and the
// clean-up removes only the names valise gives staging files.
#include "pipeline/chunk_resume.h"
#include "pipeline/committer.h"
#include "pipeline/dest_setup.h"
#include "pipeline/duplicates.h"
#include "pipeline/ingest_ledger.h"
#include "pipeline/ingest_plan.h"
#include "pipeline/ingest_report.h"
#include "pipeline/parity_drive.h"
#include "pipeline/plan.h"
#include "pipeline/scan.h"
#include "pipeline/stage_passes.h"
#include "pipeline/verify_internal.h"
#include "valise/destination.h"
#include "valise/pipeline.h"

namespace valise {

namespace {

// Deciding by the chunk digests, the files an earlier run committed
// and this one trusts from the journal with the manifest's SHA-256 hold
// the signed chunks: the destination may copy chunks from them
// (Destination::ChunkSource). A record without the SHA-256 (an earlier
// run with --hash-only xxh128) proves nothing about the chunks.
void OfferChunkSources(Destination* dest, const JournaledFiles& journaled,
                       const IngestLedger& l) {
  if (!l.by_chunks || !l.m.digests().Has(DigestType::kSha256)) return;
  for (size_t e = 0; e < l.m.size(); ++e) {
    if (!l.resumed[e]) continue;
    auto it = journaled.find(std::string(l.m.path(e)));
    if (it == journaled.end()) continue;
    for (const Digest& d : it->second.digests) {
      if (d.type == DigestType::kSha256 &&
          d == l.m.digest(e, DigestType::kSha256)) {
        dest->ChunkSource(l.DestRel(e), l.opt.chunk_index, e);
      }
    }
  }
}

}  // namespace

bool ParseDedupPolicy(std::string_view name, DedupPolicy* policy) {
  static const std::pair<const char*, DedupPolicy> kNames[] = {
      {"auto", DedupPolicy::kAuto},
      {"reflink", DedupPolicy::kReflink},
      {"hardlink", DedupPolicy::kHardlink},
      {"copy", DedupPolicy::kCopy},
  };
  for (const auto& [n, p] : kNames) {
    if (name == n) {
      *policy = p;
      return true;
    }
  }
  return false;
}

const char* DedupPolicyName(DedupPolicy policy) {
  switch (policy) {
    case DedupPolicy::kAuto:
      return "auto";
    case DedupPolicy::kReflink:
      return "reflink";
    case DedupPolicy::kHardlink:
      return "hardlink";
    case DedupPolicy::kCopy:
      return "copy";
  }
  return "?";
}

Status IngestDrives(FileSystem* fs, const Manifest& manifest,
                    const std::vector<std::string>& sources,
                    const std::string& dest_path, const PipelineOptions& opt,
                    const IngestOptions& iopt, RunReport* report) {
  // Signed chunk digests locate a corrupt copy's bad chunks; the run reads
  // in their chunk size.
  PipelineOptions o = opt;
  const bool skipped = o.chunk_index != nullptr && !UsesChunkIndex(o);
  if (skipped) o.chunk_index = nullptr;
  if (o.chunk_index != nullptr) o.chunk_size = o.chunk_index->chunk_size();
  // A pack: reads of its parity drive go through this file system.
  std::unique_ptr<ParityFileSystem> parity_fs;
  if (o.pack != nullptr) {
    parity_fs = NewParityFileSystem(fs, manifest);
    fs = parity_fs.get();
  }
  IngestLedger ledger(fs, manifest, o, iopt, report);
  StartIngestReport(dest_path, &ledger);
  VALISE_RETURN_IF_ERROR(ChooseDigests(manifest, o, &ledger.digests));
  // Before DEST is created or any drive read: no path in its state
  // directory.
  VALISE_RETURN_IF_ERROR(RefuseStatePaths(ledger));
  // Open DEST: its lock, leftover temporaries removed, the dedup policy.
  std::unique_ptr<Destination> dest;
  DestInfo info;
  VALISE_RETURN_IF_ERROR(OpenDest(dest_path, &ledger, &dest, &info));
  // Read the journal: what it holds is done.
  JournaledFiles journaled;
  VALISE_RETURN_IF_ERROR(ResumeDest(dest.get(), &ledger, &journaled));
  // Scan the drives (unless the caller just did).
  if (iopt.scans != nullptr && iopt.scans->size() == sources.size()) {
    ledger.scans = *iopt.scans;
  } else {
    ledger.scans = ScanDrives(fs, sources);
  }
  // A pack: which drive is which member, and its parity drive.
  std::unique_ptr<ParitySource> parity;
  if (o.pack != nullptr) {
    Status s = ParitySource::Open(fs, manifest, o.pack, opt.chunk_index,
                                  ledger.scans, &parity);
    if (!s.ok()) return CloseDest(dest.get(), ledger, s);
    parity_fs->Attach(parity.get());
    ledger.parity = parity.get();
    ledger.parity_drive = static_cast<int>(ledger.scans.size());
    ledger.scans.push_back(ParityDriveScan(*parity, manifest));
  }
  // Match them against the manifest.
  MatchDrives(manifest, ledger.scans, &ledger.match);
  // Plan: skip what is done, check what is in place, group duplicates,
  // choose copies.
  PlanIngest(dest.get(), journaled, &ledger);
  // Files an earlier run staged part way: their prefix checked in DEST
  // against the signed chunk digests, read from there on.
  PlanChunkResume(dest.get(), &ledger);
  // Objects an earlier run committed: sources of chunk copies.
  OfferChunkSources(dest.get(), journaled, ledger);
  // Read, hash, stage and commit, pass after pass, until every file is
  // committed or has no copy left to try; duplicates placed from DEST.
  DuplicatePlacer placer(dest.get(), info.seal_covers_names, &ledger);
  Committer committer(dest.get(), info, &placer, &ledger);
  Status s = StagePasses(dest.get(), info, &committer, &placer, &ledger);
  if (ledger.committed_elsewhere > 0) {
    report->notes.push_back(
        std::to_string(ledger.committed_elsewhere) +
        " file(s) committed by another host while this run went on: not "
        "read (counted as resumed)");
  }
  // Report.
  dest->Tally(report);
  FinishIngestReport(s, &ledger);
  if (skipped) report->notes.push_back(kChunkCheckSkipped);
  // Close DEST: temporaries removed, the end record if all went well.
  return CloseDest(dest.get(), ledger, s);
}

}  // namespace valise
