// IngestLedger: the bookkeeping of an ingest run's entries (see
// ingest_ledger.h). Nothing here decides anything: the stages do.
#include "pipeline/ingest_ledger.h"

#include <cerrno>

#include "pipeline/chunk_repair.h"
#include "pipeline/verify_internal.h"

namespace valise {

IngestLedger::IngestLedger(FileSystem* fs_in, const Manifest& m_in,
                           const PipelineOptions& opt_in,
                           const IngestOptions& iopt_in, RunReport* report_in)
    : fs(fs_in),
      m(m_in),
      opt(opt_in),
      iopt(iopt_in),
      report(report_in),
      by_chunks(DecidesByChunks(opt_in)),
      state(m_in.size(), EntryState::kTodo),
      group(m_in.size(), -1),
      read_from(m_in.size(), -1),
      no_place(m_in.size(), 0),
      attempt(m_in.size(), 0),
      resumed(m_in.size(), 0),
      resume_from(m_in.size(), 0),
      chunk_check(opt_in.chunk_index
                      ? std::make_unique<ChunkCheck>(opt_in.chunk_index)
                      : nullptr) {}

std::string IngestLedger::DestRel(size_t e) const {
  return iopt.dest_prefix + std::string(m.path(e));
}

std::vector<Digest> IngestLedger::ManifestDigests(size_t e) const {
  std::vector<Digest> out;
  for (DigestType t : m.digests().Types()) out.push_back(m.digest(e, t));
  return out;
}

const ScannedFile* IngestLedger::SourceFile(size_t e, int drive) const {
  for (size_t k = 0; k < match.num_copies(e); ++k) {
    const CopyRef& ref = match.copy(e, k);
    if (ref.drive == drive) return &scans[ref.drive].files[ref.file];
  }
  return nullptr;
}

uint32_t IngestLedger::ModeOf(size_t e, int drive) const {
  const ScannedFile* f = SourceFile(e, drive);
  return f ? (f->info.mode & 07777) : 0644;
}

int64_t IngestLedger::MtimeOf(size_t e, int drive) const {
  if (m.has_mtimes()) return m.mtime_ns(e);
  const ScannedFile* f = SourceFile(e, drive);
  return f ? f->info.mtime_ns : 0;
}

JournalRecord IngestLedger::CommitRecord(size_t e, int drive,
                                         std::vector<Digest> d,
                                         const FileInfo* named) const {
  JournalRecord r;
  r.type = JournalRecord::Type::kCommit;
  r.path = std::string(m.path(e));
  r.size = m.file_size(e);
  r.mtime_ns = MtimeOf(e, drive);
  r.digests = std::move(d);
  if (named != nullptr) {
    r.mtime_ns = named->mtime_ns;
    r.has_identity = true;
    r.inode = named->inode;
    r.ctime_ns = named->ctime_ns;
  }
  return r;
}

void IdentifyNamed(Destination* dest, const IngestLedger& l, Finished* f) {
  FileInfo info;
  // Seen by DEST as it named it, or looked up now.
  const bool seen =
      f->outcome.staged != nullptr && f->outcome.staged->named_info(&info);
  if (!seen && !dest->Stat(l.DestRel(f->entry), &info).ok()) return;
  if (info.type != FileType::kRegular) return;
  if (f->in_place && f->dup_of < 0) {
    auto it = l.in_place_info.find(f->entry);
    if (it == l.in_place_info.end()) return;
    const FileInfo& a = it->second;
    if (a.size != info.size || a.mtime_ns != info.mtime_ns ||
        a.inode != info.inode || a.ctime_ns != info.ctime_ns) {
      return;  // changed while it was read
    }
  }
  f->named = info;
  f->identified = true;
}

FileResult IngestLedger::Result(size_t e, int drive, FileStatus status) const {
  FileResult r;
  r.path = std::string(m.path(e));
  r.drive = drive;
  r.status = status;
  r.expected_size = m.file_size(e);
  return r;
}

void IngestLedger::AddFailure(size_t e, FileResult r) {
  failures_of[e].push_back(report->files.size());
  row_entry.push_back(RowKey(e));
  report->files.push_back(std::move(r));
}

void IngestLedger::AddMissing(size_t e) {
  if (!report->compact_missing) {
    AddFailure(e, Result(e, -1, FileStatus::kMissing));
    return;
  }
  report->AddMissing(&m, e);
}

void IngestLedger::Repaired(size_t e, int drive) {
  auto it = failures_of.find(e);
  if (it != failures_of.end()) {
    for (size_t i : it->second) report->files[i].repaired_from = drive;
  }
}

void IngestLedger::Conflict(size_t e, const std::string& why) {
  state[e] = EntryState::kRefused;
  FileResult r = Result(e, -1, FileStatus::kCorrupt);
  r.detail = why;
  row_entry.push_back(RowKey(e));
  report->files.push_back(std::move(r));
}

void IngestLedger::Committed(size_t e, int drive, const ReadOutcome& o) {
  state[e] = EntryState::kCommitted;
  read_from[e] = drive == dest_drive ? -1 : drive;
  FileResult r = Result(e, drive == dest_drive ? -1 : drive, FileStatus::kOk);
  r.actual_size = m.file_size(e);
  r.digests = o.digests;
  // Dedup by chunk, counted for the files that landed.
  report->chunk_bytes_cloned += o.bytes_cloned;
  report->chunk_bytes_holes += o.bytes_holes;
  report->bytes_not_read += o.bytes_not_read;
  ok_entry.push_back(e);
  ok_results.push_back(std::move(r));
  if (drive != dest_drive) {
    Repaired(e, drive);
    RepairCommitted(this, e, drive, o);
  }
  auto bad = corrupt_chunks.find(e);
  if (bad != corrupt_chunks.end() && !o.chunks.empty()) {
    for (const auto& [row, chunks] : bad->second) {
      const int64_t c = FirstDifferentChunk(chunks, o.chunks);
      if (c >= 0)
        report->files[row].first_bad_offset = c * int64_t(opt.chunk_size);
    }
    corrupt_chunks.erase(bad);
  }
}

void IngestLedger::DuplicateCommitted(size_t e, size_t p) {
  state[e] = EntryState::kCommitted;
  read_from[e] = read_from[p];
  report->dedup_bytes_saved += m.file_size(e);
  FileResult r = Result(e, -1, FileStatus::kOk);
  r.actual_size = m.file_size(e);
  r.detail = dedup_word + " of " + EscapePath(DestRel(p));
  for (DigestType t : digests.Types()) r.digests.push_back(m.digest(e, t));
  ok_entry.push_back(e);
  ok_results.push_back(std::move(r));
  // Its own copies failed: its bytes came from p's drive.
  if (read_from[p] >= 0) Repaired(e, read_from[p]);
}

void IngestLedger::CommittedElsewhere(size_t e) {
  state[e] = EntryState::kCommitted;
  read_from[e] = -1;
  resumed[e] = 1;
  ++report->files_skipped_resume;
  ++committed_elsewhere;
}

bool IngestLedger::Cancelled() const {
  return opt.cancel != nullptr && opt.cancel->load();
}

bool IsDestTrouble(const Status& s) {
  return s.IsNoSpace() || s.IsTimedOut() || s.data_loss() ||
         (s.IsIOError() && s.err() != EEXIST && s.err() != ENOTDIR &&
          s.err() != EISDIR && s.err() != ELOOP && s.err() != EXDEV);
}

Status WithRerunHint(const Status& s) {
  if (!s.IsNoSpace()) return s;
  return s.WithContext(
      "DEST is full; committed files are kept, free space and rerun the "
      "same command to resume");
}

}  // namespace valise
