// Resume by chunk: going on from what an interrupted run staged.
//
// A file staged resumable (StagedResumable) lives in DEST's staging under
// a key that is the same in every run, "r<entry>", and a run that stops
// while reading it (SIGINT, DEST full, a fatal error) keeps it as far as
// it got (Destination::Keep); a run killed outright leaves it anyway. The
// next run does not trust a byte of it: before the first pass it reads
// the partial back from DEST chunk by chunk and compares each chunk with
// its SHA-256 in the signed chunk index. The first chunk that differs, is
// short, or cannot be read ends the prefix; the file is then read from
// its drive from that chunk on (ReadJob::start), each chunk checked
// against its signed digest as usual, and written after the prefix into
// the same staged file. So the file committed is intact by the same rule
// as any other (ChunkVerdict: every chunk matched, the prefix's here and
// the rest's as read), and the drive is read only from the last verified
// chunk.
//
// An object store cannot give a multipart upload's parts back to be read,
// and need not: where each part is one chunk sent signed with its chunk's
// signed SHA-256, the store took a part only if its bytes were that
// chunk's. There the destination answers instead (CheckedPrefix): the
// leading parts of the kept upload that are whole chunks, if the upload
// was made for exactly the request this run would make (s3_destination.cc).
// Either way the prefix is whole chunks, each checked against its signed
// digest (read back here, or by the store as it took it), before the last.
//
// Only with the chunk digests deciding (whole-file digests would
// need every byte again) and where DEST keeps the file part way
// (Destination::KeepsPartials: posix, any file; an object store, a file in
// one-chunk parts). A partial whose entry is done, gone from the
// manifest, or not resumable in this run is dropped.
//
// The entry a key names is a locator only: a partial left by a run with
// another manifest is checked against this manifest's digests of that
// entry, so it is used only where its bytes are those.
#include "pipeline/chunk_resume.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "pipeline/stage_passes.h"
#include "valise/chunk_index_v2.h"
#include "valise/digest.h"

namespace valise {

namespace {

// Digests fetched from the index at once (64 KiB).
constexpr size_t kDigestBatch = 2048;

// The entry key "r<e>" names, or SIZE_MAX.
size_t EntryOfKey(const std::string& key, size_t entries) {
  if (key.size() < 2 || key[0] != 'r' || key.size() > 21) return SIZE_MAX;
  uint64_t e = 0;
  for (size_t i = 1; i < key.size(); ++i) {
    if (key[i] < '0' || key[i] > '9') return SIZE_MAX;
    e = e * 10 + static_cast<uint64_t>(key[i] - '0');
  }
  return e < entries ? static_cast<size_t>(e) : SIZE_MAX;
}

// Reads exactly n bytes at offset; false at end of file or on error.
bool ReadWhole(const File& f, uint64_t offset, size_t n, char* out) {
  size_t done = 0;
  while (done < n) {
    size_t got = 0;
    if (!f.ReadAt(offset + done, n - done, out + done, &got).ok() || got == 0) {
      return false;
    }
    done += got;
  }
  return true;
}

// The verified prefix of entry e's partial at `path`, in bytes: whole
// chunks from the start that match their signed digests, at most up to
// the start of the entry's last chunk.
uint64_t VerifiedPrefix(IngestLedger* l, const std::string& path, size_t e) {
  const ChunkIndexV2& index = *l->opt.chunk_index;
  const uint64_t cs = index.chunk_size();
  const uint64_t total = index.NumChunks(e);
  if (total < 2) return 0;
  ReadOptions ro;
  ro.direct = false;
  std::unique_ptr<File> file;
  if (!l->fs->OpenForRead(path, ro, &file).ok()) return 0;
  std::string buf(static_cast<size_t>(cs), '\0');
  std::vector<ChunkSha256> want;
  auto sha = Hasher::New(DigestType::kSha256);
  uint64_t good = 0;
  while (good + 1 < total) {
    if (good % kDigestBatch == 0) {
      want.resize(static_cast<size_t>(
          std::min<uint64_t>(kDigestBatch, total - 1 - good)));
      Status s = index.Read(e, good, want.size(), want.data());
      if (!s.ok()) {
        l->chunk_check->AddTrouble(s);
        return 0;
      }
    }
    // Every chunk before the last is whole.
    if (!ReadWhole(*file, good * cs, buf.size(), buf.data())) break;
    sha->Update(buf.data(), buf.size());
    Digest d = sha->Finish();
    if (memcmp(d.bytes.data(), want[good % kDigestBatch].data(), 32) != 0) {
      break;
    }
    ++good;
  }
  return good * cs;
}

// The prefix of kept partial `key` (entry e's) that DEST checked against
// the signed chunk digests as it took it (Destination::CheckedPrefix), for
// the request the first pass will make: whole chunks, before the last.
uint64_t CheckedByDest(Destination* dest, const IngestLedger& l,
                       const std::string& key, size_t e) {
  ReadJob job;
  job.id = e;
  job.drive = l.candidates[e][l.attempt[e]].drive;
  job.size = l.m.file_size(e);
  const uint64_t cs = l.opt.chunk_index->chunk_size();
  const uint64_t total = l.opt.chunk_index->NumChunks(e);
  if (total < 2) return 0;
  const uint64_t from =
      dest->CheckedPrefix(key, StageRequestFor(l, *dest, job, 0));
  return std::min(from / cs, total - 1) * cs;
}

}  // namespace

bool StagedResumable(const IngestLedger& l, const Destination& dest, size_t e) {
  return l.by_chunks && l.m.file_size(e) > l.opt.chunk_size &&
         dest.KeepsPartials(l.m.file_size(e), l.opt.chunk_size);
}

std::string ResumableKey(size_t e) { return "r" + std::to_string(e); }

void PlanChunkResume(Destination* dest, IngestLedger* l) {
  std::vector<std::string> keys;
  dest->ListPartials(&keys);
  for (const std::string& key : keys) {
    const size_t e = EntryOfKey(key, l->m.size());
    uint64_t from = 0;
    if (e != SIZE_MAX && l->state[e] == EntryState::kTodo &&
        StagedResumable(*l, *dest, e) && ResumableKey(e) == key) {
      from = CheckedByDest(dest, *l, key, e);
      const std::string path = from == 0 ? dest->PartialPath(key) : "";
      if (!path.empty()) from = VerifiedPrefix(l, path, e);
    }
    if (from == 0) {
      dest->DropPartial(key);
      continue;
    }
    l->resume_from[e] = from;
    ++l->report->files_resumed_by_chunk;
    l->report->bytes_resumed_by_chunk += from;
  }
}

}  // namespace valise
