// Chunk digests in the read path: the reader's ChunkObservers that
// make the chunk index v2 at the source and check files against it at the
// datacenter (valise/chunk_index_v2.h; issue 15).
//
//   ChunkDigestRecorder  valise manifest: the SHA-256 of each chunk of a
//                        file, as the hashing thread has the chunk's buffer
//                        (beside the whole-file digests, in the same pass
//                        over the buffer), written into the index at the
//                        file's place, 1,024 digests (32 KiB) at a time.
//   ChunkCheck           verify and ingest: one per run; its Factory gives
//                        each file a checker that hashes each chunk with
//                        SHA-256 and compares it with its digest in the index,
//                        fetched from the index 2,048 at a time (64 KiB per
//                        file in flight), so a corrupt copy is located to
//                        the exact chunks that differ (Describe).
//   DecidesByChunks,     verify and ingest with a chunk index, the
//   ChunkVerdict         manifest signed or not: the chunk digests decide
//                        alone whether a copy is intact. A copy is intact only
//                        if it was read whole without error, exactly the
//                        manifest's size, and its checker compared every
//                        one of the entry's chunks, each of its expected
//                        length, with none differing. SHA-256 being
//                        collision resistant, such a copy is the file the
//                        source hashed: the whole-file digests need not be
//                        computed again, so each byte is hashed once.
//
// Memory: a file in flight holds at most one batch of digests; nothing is
// kept per file once it is done but the ranges of its bad chunks (at most
// kMaxCorruptRanges).
//
// Thread safety: an observer is used by one hashing thread at a time (the
// reader's contract); ChunkCheck's methods may be called from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "pipeline/reader.h"
#include "valise/chunk_index_v2.h"
#include "valise/digest.h"
#include "valise/report.h"
#include "valise/status.h"

namespace valise {

// Ranges of bad chunks kept per copy; more are counted, not listed.
inline constexpr size_t kMaxCorruptRanges = 1024;

// Whether a verify or ingest run with these options checks the signed chunk
// digests: it has them (opt.chunk_index), and --hash-only, if given,
// includes sha256 (a run that asked for xxh128 alone, to go at drive speed,
// computes no SHA-256). When it has them and does not, the report says so
// with kChunkCheckSkipped.
bool UsesChunkIndex(const PipelineOptions& opt);
inline constexpr char kChunkCheckSkipped[] =
    "--hash-only without sha256: the signed chunk digests (M.chunks) are not "
    "checked; corrupt files are found, not located";

// Whether a verify or ingest run with these options decides by the chunk
// digests alone: it checks them (UsesChunkIndex) and --hash-only was not
// given (asked for, whole-file digests are computed and decide as
// before). Then the run computes no whole-file digest and the report says
// CheckedByChunks(opt).
//
// Signed or not: the chunk index is exactly as trustworthy as the
// manifest that binds it (M's bind line holds the index's SHA-256, checked
// as it is opened), so its digests prove a copy as well as M's own
// whole-file digests would, and hashing each byte once instead of twice
// costs nothing in what is proved. Whether M's signature was checked
// (opt.chunk_index_signed) is what the report tells.
bool DecidesByChunks(const PipelineOptions& opt);
// kSignedChunks when the manifest's signature was checked, else kChunks.
CheckedBy CheckedByChunks(const PipelineOptions& opt);

// Deciding by chunks, what copy `o` of manifest entry `entry` is:
//   kIntact     read whole without error, exactly the manifest's size, and
//               its checker compared every one of the entry's chunks, each
//               of its expected length, none differing;
//   kDiffers    read whole, but chunks differ (or a length does): corrupt;
//   kUnchecked  its chunks could not all be compared (the index could not
//               be read: the run's trouble() says why); neither.
// `why` (not kIntact) is for the report's detail: "3 of 6 chunks differ
// from their signed digests", "not checked against its signed chunk
// digests (2 of 6 chunks compared)".
// REQUIRES: o.status.ok(); o.observer, if any, made by a ChunkCheck over
// `index`.
enum class ChunkFinding { kIntact, kDiffers, kUnchecked };
ChunkFinding ChunkVerdict(const ReadOutcome& o, const ChunkIndexV2& index,
                          size_t entry, std::string* why);
// The report's status of a copy found so: kOk, kCorrupt, kUnreadable.
FileStatus StatusOf(ChunkFinding f);

// Records one file's chunk digests into the index being written.
class ChunkDigestRecorder final : public ChunkObserver {
 public:
  // `writer` must outlive the recorder; `entry` is the file's place in the
  // manifest.
  ChunkDigestRecorder(ChunkIndexV2Writer* writer, size_t entry);
  void Chunk(uint64_t index, const char* data, size_t len) override;
  void WholeFileChunk(uint64_t index, const char* data, size_t len,
                      const Digest& sha256) override;
  // OK once every chunk of the file was written into the index.
  Status Done() const;

 private:
  void Record(uint64_t index, const ChunkSha256& sha);
  void Flush();

  ChunkIndexV2Writer* writer_;
  size_t entry_;
  uint64_t total_;     // the file's chunks
  uint64_t next_ = 0;  // chunk index of buf_[0]
  std::vector<ChunkSha256> buf_;
  std::unique_ptr<Hasher> sha_;
  Status status_;
};

// The checks of one run against a chunk index v2.
class ChunkCheck {
 public:
  // `index` must outlive this and every checker it makes.
  explicit ChunkCheck(const ChunkIndexV2* index) : index_(index) {}

  // An observer factory for Reader::SetChunkObserver. `entry_of` gives a
  // job's manifest entry, or SIZE_MAX to leave the job unchecked.
  // A job with keep_going gets a tracking checker (its `only` chunks, or
  // those from `start`, are the ones it sees).
  Reader::ObserverFactory Factory(
      std::function<size_t(const ReadJob&)> entry_of);

  // For a copy found corrupt: sets r->first_bad_offset and
  // r->corrupt_ranges from its checker's findings (nothing if it had
  // none, or if its check could not finish).
  static void Describe(const ReadOutcome& o, FileResult* r);
  // For a copy found not intact by ChunkVerdict: r->detail is `verdict`,
  // and r->first_bad_offset and r->corrupt_ranges are its bad chunks.
  static void DescribeByChunks(const ReadOutcome& o, const std::string& verdict,
                               FileResult* r);

  // The first trouble any checker met (the index could not be read, or
  // changed under the run), or OK.
  Status trouble() const;
  void AddTrouble(const Status& s);

 private:
  const ChunkIndexV2* index_;
  mutable std::mutex mu_;
  Status trouble_;
};

// Compares one file's chunks with their signed digests.
class ChunkChecker final : public ChunkObserver {
 public:
  // `first` > 0: chunks [0, first) were checked already (resume by chunk:
  // the core compared them, staged in DEST, with their signed digests);
  // they count as checked and this one sees the rest.
  ChunkChecker(ChunkCheck* run, const ChunkIndexV2* index, size_t entry,
               uint64_t first = 0);
  // Tracking (repair by chunk, ReadJob::keep_going): known[i] says chunk
  // i was checked already (staged by an earlier pass); this one sees some
  // of the others, in order, with holes (Missing) between them, and
  // good() says which chunks are good after it. REQUIRES: known.size() is
  // the entry's chunks.
  ChunkChecker(ChunkCheck* run, const ChunkIndexV2* index, size_t entry,
               std::vector<bool> known);
  void Chunk(uint64_t index, const char* data, size_t len) override;
  void WholeFileChunk(uint64_t index, const char* data, size_t len,
                      const Digest& sha256) override;
  void Missing(uint64_t index) override;
  // Dedup by chunk: a chunk not read, DEST given a chunk with its signed
  // digest, counts as compared and matching (if `len` is its length).
  bool TakesKnownChunks() const override { return true; }
  void KnownChunk(uint64_t index, size_t len) override;

  // Whether every chunk of the file was compared (it was read whole and
  // the index could be read).
  bool complete() const { return !failed_ && checked_ == total_; }
  uint64_t checked() const { return checked_; }
  // Bytes of the chunks compared (each of its expected length, or counted
  // bad).
  uint64_t bytes_checked() const { return bytes_checked_; }
  uint64_t first() const { return first_; }
  // Bytes of the chunks not read: known before this read (the prefix, or
  // those given as known), and those given by KnownChunk (the reader's
  // ReadOutcome::bytes_known counts the same).
  uint64_t bytes_known() const { return bytes_known_; }
  // Tracking only: the chunks known good now (those known before, and
  // those that matched their signed digests); else empty.
  const std::vector<bool>& good() const { return good_; }
  bool tracking() const { return tracking_; }
  // Chunks counted by KnownChunk.
  uint64_t known() const { return known_; }
  uint64_t bad_chunks() const { return bad_chunks_; }
  // Runs of adjacent bad chunks, in file order (at most
  // kMaxCorruptRanges; BadRange::err is 0).
  const std::vector<BadRange>& bad_ranges() const { return ranges_; }

 private:
  bool Expected(uint64_t index);
  // Compares chunk `index` (`len` bytes, of SHA-256 `sha`) with its signed
  // digest. REQUIRES: Expected(index).
  void Compare(uint64_t index, size_t len, const ChunkSha256& sha);

  ChunkCheck* run_;
  const ChunkIndexV2* index_;
  size_t entry_;
  uint64_t total_;
  uint64_t size_;  // the entry's, in the manifest
  uint64_t first_;
  bool tracking_ = false;
  std::vector<bool> good_;
  uint64_t next_min_ = 0;  // tracking: the lowest index the next chunk may have
  uint64_t bytes_known_ = 0;
  uint64_t checked_ = 0;
  uint64_t bytes_checked_ = 0;
  uint64_t bad_chunks_ = 0;
  uint64_t known_ = 0;
  bool failed_ = false;
  std::vector<BadRange> ranges_;
  // The signed digests of chunks [want_first_, +want_.size()).
  uint64_t want_first_ = 0;
  std::vector<ChunkSha256> want_;
  std::unique_ptr<Hasher> sha_;
};

}  // namespace valise
