// Duplicate placement: a content that several manifest paths share is read
// once (ingest_plan.cc chose which path); once any path of its group is
// committed, by this run or an earlier one, every other path of the group
// gets the same bytes from DEST, by policy:
//
//   reflink   Destination::Duplicate(kClone): a separate file sharing the
//             committed one's bytes (FICLONE; on a store, a server-side
//             copy), with its own mode and mtime, staged and then sealed
//             and named like a file read;
//   hardlink  Duplicate(kHardlink): one file, another name, at once.
//
// With a destination whose seal also makes names durable (pipelined), the
// clones and links join the committer's next group: a clone is sealed by
// the next seal, then named; a link is a name at once, pending until a
// seal after it (the committer reports them ok once durable). Otherwise
// each clone is sealed and named here, then the names and records made
// durable (Sync), and the paths reported ok.
//
// A path that cannot be placed (too many links, links not allowed, a name
// that appeared meanwhile) is noted ("dedup of X failed"), and if it still
// waits for its content it is read like any other file in the next pass.
// DEST's own trouble (full, failing) stops the run.
//
// A path whose own copies all failed is still placed once another path
// brings its bytes: its failed copies are reported "repaired from" that
// path's drive.
#include "pipeline/duplicates.h"

#include <algorithm>
#include <cerrno>
#include <string>

#include "pipeline/ingest_plan.h"

namespace valise {

namespace {

DuplicateKind KindOf(DedupPolicy policy) {
  return policy == DedupPolicy::kHardlink ? DuplicateKind::kHardlink
                                          : DuplicateKind::kClone;
}

}  // namespace

DuplicatePlacer::DuplicatePlacer(Destination* dest, bool pipelined,
                                 IngestLedger* ledger)
    : dest_(dest), pipelined_(pipelined), l_(ledger) {}

Status DuplicatePlacer::PlaceFrom(size_t p, std::vector<Finished>* staged) {
  if (l_->group[p] < 0) return Status::OK();
  Status fatal;
  std::vector<size_t> placed;
  for (size_t e : l_->groups[l_->group[p]]) {
    if (!WaitsForContent(e)) continue;
    Status s = pipelined_ ? StageOne(e, p, staged) : PlaceOne(e, p);
    if (!s.ok()) {
      // Too many links, or links not allowed there (EMLINK, EPERM): a
      // copy avoids them. Anything else that is DEST's trouble would fail
      // a copy too.
      if (IsDestTrouble(s) && s.err() != EMLINK && s.err() != EPERM) {
        fatal = s;
        break;
      }
      l_->no_place[e] = 1;
      std::string note = "dedup of " + EscapePath(l_->DestRel(e)) +
                         " failed (" + s.message() + ")";
      if (l_->state[e] == EntryState::kDuplicate) {
        // The next pass reads it like any other file.
        note += "; copied";
        std::vector<uint64_t> none(l_->scans.size(), 0);
        ChooseCopies(e, &none, l_);
      }
      l_->report->notes.push_back(std::move(note));
      continue;
    }
    if (pipelined_) continue;  // committed by the pipeline
    placed.push_back(e);
  }
  if (placed.empty()) return fatal;
  std::vector<JournalRecord> records;
  for (size_t e : placed) {
    FileInfo named;
    const bool identified = dest_->Stat(l_->DestRel(e), &named).ok() &&
                            named.type == FileType::kRegular;
    records.push_back(l_->CommitRecord(e, -1, l_->ManifestDigests(e),
                                       identified ? &named : nullptr));
  }
  VALISE_RETURN_IF_ERROR(dest_->Record(records));
  // The names are not durable: journal nothing.
  VALISE_RETURN_IF_ERROR(dest_->Sync());
  for (size_t e : placed) l_->DuplicateCommitted(e, p);
  return fatal;
}

Status DuplicatePlacer::Settle(std::vector<Finished>* staged) {
  readers_.clear();
  for (const std::vector<size_t>& g : l_->groups) {
    auto source = std::find_if(g.begin(), g.end(), [&](size_t e) {
      return l_->state[e] == EntryState::kCommitted;
    });
    if (source != g.end()) {
      VALISE_RETURN_IF_ERROR(PlaceFrom(*source, staged));
    } else {
      NextReaders(*l_, g, &readers_);
    }
  }
  return Status::OK();
}

void DuplicatePlacer::ChooseNextReaders() {
  std::vector<uint64_t> none(l_->scans.size(), 0);
  for (size_t e : readers_) ChooseCopies(e, &none, l_);
  readers_.clear();
}

// Pipelined: a duplicate of committed entry p for entry e, for the
// committer's next group. A clone is staged (its mode and mtime set) and
// sealed by the next seal, then named like a read file; a hard link is a
// name at once, pending until a seal after it.
Status DuplicatePlacer::StageOne(size_t e, size_t p,
                                 std::vector<Finished>* staged) {
  Finished f;
  f.entry = e;
  f.drive = -1;
  f.dup_of = static_cast<int64_t>(p);
  f.outcome.digests = l_->ManifestDigests(e);
  VALISE_RETURN_IF_ERROR(dest_->Duplicate(
      l_->DestRel(p), Request(e), KindOf(l_->dedup), &f.outcome.staged));
  f.in_place = l_->dedup == DedupPolicy::kHardlink;
  staged->push_back(std::move(f));
  l_->state[e] = EntryState::kPlacing;
  return Status::OK();
}

// Not pipelined: a sealed clone (or a hard link) of committed entry p,
// under entry e's name. On error nothing is left of it.
Status DuplicatePlacer::PlaceOne(size_t e, size_t p) {
  std::unique_ptr<StagedFile> f;
  VALISE_RETURN_IF_ERROR(
      dest_->Duplicate(l_->DestRel(p), Request(e), KindOf(l_->dedup), &f));
  std::vector<Status> each;
  if (l_->dedup != DedupPolicy::kHardlink) {
    Status s = dest_->Seal({f.get()}, &each);
    if (s.ok()) s = each[0];
    if (!s.ok()) {
      dest_->Discard(std::move(f));
      return s;
    }
  }
  dest_->Name({f.get()}, &each);
  return each[0];
}

// What the destination is asked to stage for duplicate e: its name, and
// the mode and mtime of its first copy (the manifest's mtime first).
StageRequest DuplicatePlacer::Request(size_t e) const {
  const Manifest& m = l_->m;
  StageRequest r;
  r.name = l_->DestRel(e);
  r.key = "d" + std::to_string(e);
  r.size = m.file_size(e);
  r.mtime_ns = m.has_mtimes() ? m.mtime_ns(e) : 0;
  r.mode = 0644;
  if (l_->match.num_copies(e) > 0) {
    const CopyRef& ref = l_->match.copy(e, 0);
    const ScannedFile& f = l_->scans[ref.drive].files[ref.file];
    r.mode = f.info.mode & 07777;
    if (!m.has_mtimes()) r.mtime_ns = f.info.mtime_ns;
  }
  r.digests = l_->ManifestDigests(e);
  return r;
}

// True if entry e is to be placed once a path with its content is
// committed: it waits for one, or it failed to be read (or is on no
// drive), and placing it has not failed already.
bool DuplicatePlacer::WaitsForContent(size_t e) const {
  if (l_->no_place[e]) return false;
  return l_->state[e] == EntryState::kDuplicate ||
         l_->state[e] == EntryState::kFailed ||
         l_->state[e] == EntryState::kMissing;
}

}  // namespace valise
