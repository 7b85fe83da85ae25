// DEST's setup for an ingest. DEST is a Destination
// (include/valise/destination.h): today a directory (src/dest/); the rest
// of ingest does not know which.
//
// Before anything is created, a manifest is refused if a path would land
// in DEST/.valise, valise's own state (journal, lock, staging): it would
// share a namespace with the journal and the staging files, and a rerun's
// clean-up could delete it.
//
// Opening DEST takes its lock (a second ingest into the same DEST is
// refused), removes temporaries an earlier run left, and finds what it can
// do. The dedup policy follows: --dedup=auto clones where DEST can (else
// copies), --dedup=reflink on a DEST that cannot clone copies, with a
// note. Then the journals of earlier runs are read (a torn tail from a
// crash dropped) and this run's begin record written.
#include "pipeline/dest_setup.h"

#include <string_view>

#include "dest/posix_destination.h"
#include "dest/s3_destination.h"
#include "pipeline/scan.h"

namespace valise {

namespace {

// DEST's state directory (journal, lock, staging): no manifest path may
// reach it (RefuseStatePaths), so a name in it is valise's own.
constexpr const char* kStateDir = kStateDirName;  // ".valise" (scan.h)

// True if `rel` (relative to DEST) is the state directory or under it.
bool InStateDir(std::string_view rel) {
  const std::string_view dir = kStateDirName;
  return rel.substr(0, dir.size()) == dir &&
         (rel.size() == dir.size() || rel[dir.size()] == '/');
}

}  // namespace

Status CheckIngestPath(std::string_view dest_rel) {
  if (!InStateDir(dest_rel)) return Status::OK();
  return Status::InvalidArgument(
      "path '" + EscapePath(dest_rel) + "' would land in DEST/" + kStateDir +
      ", valise's own state directory (journal, lock, staging): ingest "
      "refuses it. Remove such lines from the manifest (an earlier "
      "ingest's state is no part of a dataset; valise manifest skips it), "
      "or ingest with --bag (the payload then lands under DEST/data/)");
}

Status RefuseStatePaths(const IngestLedger& l) {
  // Under a prefix ("data/" for --bag) no path reaches the state.
  if (!l.iopt.dest_prefix.empty() && !InStateDir(l.iopt.dest_prefix)) {
    return Status::OK();
  }
  size_t count = 0;
  Status first;
  for (size_t e = 0; e < l.m.size(); ++e) {
    Status s = CheckIngestPath(l.DestRel(e));
    if (!s.ok() && count++ == 0) first = s;
  }
  if (count == 0) return Status::OK();
  const std::string more =
      count > 1 ? " (" + std::to_string(count - 1) + " more such paths)" : "";
  return Status::InvalidArgument(
      l.report->manifest.empty() ? "manifest" : l.report->manifest,
      first.message() + more);
}

namespace {

// Dedup by chunk (chunk_dedup.h), unless --dedup=copy: holes for zeros
// where DEST has them (found by content: the bytes read, and checked, are
// zeros); and where the chunk digests decide alone (by_chunks),
// range clones of chunks verified where DEST clones ranges, and chunks
// not read at all. A clone is keyed by a chunk digest, so only a digest
// that decides whether the file is accepted may key one: with whole-file
// digests deciding, a chunk could differ from its index digest and the
// file still be accepted.
void SetUpChunkDedup(Destination* dest, const DestInfo& info, IngestLedger* l) {
  if (l->iopt.dedup == DedupPolicy::kCopy) return;
  const ChunkIndexV2* index = l->by_chunks ? l->opt.chunk_index : nullptr;
  const bool clone = info.clone_range && index != nullptr;
  if (!clone && !info.holes) return;
  l->chunk_dedup = std::make_unique<ChunkDedup>(dest, index, l->opt.chunk_size,
                                                clone, info.holes);
  std::string how = clone ? "chunks verified in this run cloned "
                            "(FICLONERANGE) by chunk digest"
                          : std::string();
  if (info.holes)
    how += std::string(how.empty() ? "" : ", ") + "zeros as holes";
  if (index != nullptr) how += "; such chunks not read";
  l->report->verbose_notes.push_back("dedup by chunk: " + how);
}

}  // namespace

Status OpenDest(const std::string& dest, IngestLedger* l,
                std::unique_ptr<Destination>* out, DestInfo* info) {
  if (l->iopt.dest_factory) {
    VALISE_RETURN_IF_ERROR(l->iopt.dest_factory(dest, out));
  } else if (IsS3Url(dest)) {
    S3Url url;
    VALISE_RETURN_IF_ERROR(ParseS3Url(dest, &url));
    if (l->iopt.s3 == nullptr) {
      return Status::InvalidArgument(dest, "no S3 client for an s3:// DEST");
    }
    S3DestinationOptions so = l->iopt.s3_options;
    if (!l->iopt.host.empty()) so.host = l->iopt.host;
    *out = NewS3Destination(l->iopt.s3, url, so);
  } else {
    PosixDestinationOptions po;
    po.depth = l->iopt.depth;
    po.host = l->iopt.host;
    po.stale_age_s = l->iopt.s3_options.stale_upload_age_s;
    *out = NewPosixDestination(l->fs, dest, po);
  }
  VALISE_RETURN_IF_ERROR((*out)->Open(info));
  // Whether DEST can clone decides kAuto, and warns for kReflink.
  DedupPolicy dedup = l->iopt.dedup;
  if (dedup == DedupPolicy::kAuto) {
    dedup = info->clone ? DedupPolicy::kReflink : DedupPolicy::kCopy;
  } else if (dedup == DedupPolicy::kReflink && !info->clone) {
    l->report->notes.push_back(
        "DEST cannot reflink: duplicates are copied (--dedup=copy)");
    dedup = DedupPolicy::kCopy;
  } else if (dedup == DedupPolicy::kHardlink && !info->hardlink) {
    l->report->notes.push_back(
        "DEST has no hard links: duplicates are " +
        std::string(info->clone ? "server-side copies" : "copied"));
    dedup = info->clone ? DedupPolicy::kReflink : DedupPolicy::kCopy;
  }
  l->dedup = dedup;
  l->dedup_word = dedup == DedupPolicy::kReflink ? info->clone_word
                                                 : DedupPolicyName(dedup);
  l->report->verbose_notes.push_back("dedup: " + l->dedup_word);
  SetUpChunkDedup(out->get(), *info, l);
  l->report->notes.insert(l->report->notes.end(), info->notes.begin(),
                          info->notes.end());
  l->report->verbose_notes.insert(l->report->verbose_notes.end(),
                                  info->verbose_notes.begin(),
                                  info->verbose_notes.end());
  return Status::OK();
}

Status ResumeDest(Destination* dest, IngestLedger* l,
                  JournaledFiles* journaled) {
  std::vector<JournalRecord> records;
  VALISE_RETURN_IF_ERROR(dest->Resume(std::to_string(l->m.size()) + " files",
                                      &records, &l->report->notes));
  for (JournalRecord& r : records) (*journaled)[r.path] = std::move(r);
  return Status::OK();
}

Status CloseDest(Destination* dest, const IngestLedger& l, Status s) {
  dest->CleanUp();
  if (!s.ok()) return s;
  return dest->Close(std::to_string(l.report->files_ok) + " files committed");
}

}  // namespace valise
