// StripeWork: the CPU side of `valise pack`, on a pool of threads, while
// the I/O thread (pack_writer.cc) reads and writes.
//
//   HashData    data drive d's chunk of stripe s: the file's whole-file
//               digests (in chunk order), the chunk's SHA-256 into the
//               chunk index.
//   Encode      stripe s's parity chunks from its k data chunks (ISA-L).
//   HashParity  parity drive j's chunk of stripe s: its SHA-256 into
//               M.parity, and the parity file's whole SHA-256.
//
// Hashing is sequential per drive (a file's digest takes its chunks in
// order) and parallel across drives: each drive is a "lane" whose chunks
// wait in a map until the one it expects next is there; a lane runs on at
// most one thread at a time, so its hashers need no lock. Chunks arrive in
// any order (reads complete out of order); nothing blocks a thread.
//
// Each finished piece of work is posted as an Event; `wake` (the engine's
// Wake) tells the I/O thread to collect them with Drain.
//
// Thread safety: every method may be called from the I/O thread while the
// workers run; the buffers handed in must remain unchanged until their
// event is drained.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "pipeline/chunk_check.h"
#include "valise/chunk_index_v2.h"
#include "valise/digest.h"
#include "valise/pack.h"
#include "valise/pack_job.h"
#include "valise/parity.h"

namespace valise {

class StripeWork {
 public:
  struct Event {
    enum Kind : uint8_t { kHashed, kEncoded } kind = kHashed;
    uint32_t member = 0;  // kHashed: the drive (data 0..k-1, parity k..)
    uint64_t stripe = 0;
    Status status;  // kHashed of a file's last chunk: its index write
  };

  // Everything is borrowed and must outlive the StripeWork. `plan`'s
  // layout receives the parity files' SHA-256; `index` the data chunks'
  // digests; `parity_digests` (M.parity, header written) the parity
  // chunks'. *file_digests (one slot per manifest entry) receives each
  // file's digests.
  StripeWork(PackPlan* plan, const StripeMap* map, const ParityCode* code,
             DigestSet digests, ChunkIndexV2Writer* index, File* parity_digests,
             std::vector<std::vector<Digest>>* file_digests, unsigned threads,
             std::function<void()> wake);
  ~StripeWork();  // finishes the queued work, joins the threads

  // `buf`: chunk_size bytes, zeros past the chunk's length.
  void HashData(uint32_t d, uint64_t s, const uint8_t* buf);
  // data[0..k), parity[0..m): chunk_size bytes each.
  void Encode(uint64_t s, std::vector<const uint8_t*> data,
              std::vector<uint8_t*> parity);
  void HashParity(uint32_t j, uint64_t s, const uint8_t* buf);

  // A resumed pack: every lane expects stripe `s` next. REQUIRES: before
  // any HashData, HashParity or Replay.
  void StartAt(uint64_t s);
  // A resumed pack re-hashes, on the calling thread, the chunks of stripes
  // before StartAt's of the files and parity files that were being written
  // (their whole-file hashes need them), in order. REQUIRES: before any
  // HashData or HashParity; `buf` as for them.
  Status ReplayData(uint32_t d, uint64_t s, const uint8_t* buf);
  Status ReplayParity(uint32_t j, uint64_t s, const uint8_t* buf);

  // Appends the events posted so far to *out.
  void Drain(std::vector<Event>* out);
  // Waits until an event is posted or `us` microseconds pass.
  void WaitForEvents(uint64_t us);
  // Work queued or running, not yet posted.
  size_t pending();

 private:
  struct Lane {
    std::mutex mu;
    uint64_t next = 0;                         // the stripe it hashes next
    std::map<uint64_t, const uint8_t*> ready;  // stripe -> chunk
    bool queued = false;                       // on a thread or in the queue
    // Owned by whichever thread runs the lane.
    std::unique_ptr<MultiHasher> hasher;
    std::unique_ptr<ChunkDigestRecorder> recorder;
    std::unique_ptr<Hasher> segment;  // parity lanes: the parity file's
  };

  void Push(uint32_t lane, uint64_t s, const uint8_t* buf);
  void RunLane(uint32_t lane);
  Event HashDataChunk(uint32_t d, uint64_t s, const uint8_t* buf);
  Event HashParityChunk(uint32_t j, uint64_t s, const uint8_t* buf);
  void Schedule(std::function<void()> task);
  void Post(Event e);
  void WorkerLoop();

  PackPlan* plan_;
  const StripeMap* map_;
  const ParityCode* code_;
  DigestSet digests_;
  ChunkIndexV2Writer* index_;
  File* parity_digests_;
  ParityDigestsHeader parity_header_;
  std::vector<std::vector<Digest>>* file_digests_;
  std::function<void()> wake_;
  std::vector<std::unique_ptr<Lane>> lanes_;

  std::mutex mu_;  // guards everything below
  std::condition_variable work_cv_;
  std::condition_variable event_cv_;
  std::deque<std::function<void()>> queue_;
  std::vector<Event> events_;
  size_t pending_ = 0;  // tasks queued or running
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace valise
