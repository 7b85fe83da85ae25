// The CPU side of `valise pack`: see stripe_work.h.
#include "pack/stripe_work.h"

#include <utility>

#include "valise/rebuild.h"

namespace valise {

StripeWork::StripeWork(PackPlan* plan, const StripeMap* map,
                       const ParityCode* code, DigestSet digests,
                       ChunkIndexV2Writer* index, File* parity_digests,
                       std::vector<std::vector<Digest>>* file_digests,
                       unsigned threads, std::function<void()> wake)
    : plan_(plan),
      map_(map),
      code_(code),
      digests_(digests),
      index_(index),
      parity_digests_(parity_digests),
      file_digests_(file_digests),
      wake_(std::move(wake)) {
  const PackLayout& l = plan->layout;
  parity_header_ = ParityDigestsHeader{l.chunk_size, l.stripes, l.m()};
  for (uint32_t i = 0; i < l.k() + l.m(); ++i) {
    lanes_.push_back(std::make_unique<Lane>());
    if (i < l.k()) {
      lanes_.back()->hasher = std::make_unique<MultiHasher>(digests);
    } else {
      lanes_.back()->segment = Hasher::New(DigestType::kSha256);
    }
  }
  for (unsigned t = 0; t < std::max(1u, threads); ++t) {
    threads_.emplace_back([this] { WorkerLoop(); });
  }
}

StripeWork::~StripeWork() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    // Queued work still runs: its events are simply never drained.
    event_cv_.wait(lock, [&] { return pending_ == 0; });
    stop_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void StripeWork::WorkerLoop() {
  while (true) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
    {
      std::lock_guard<std::mutex> lock(mu_);
      --pending_;
    }
    event_cv_.notify_all();
  }
}

void StripeWork::Schedule(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(task));
    ++pending_;
  }
  work_cv_.notify_one();
}

void StripeWork::Post(Event e) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(e));
  }
  event_cv_.notify_all();
  wake_();
}

void StripeWork::Drain(std::vector<Event>* out) {
  std::lock_guard<std::mutex> lock(mu_);
  for (Event& e : events_) out->push_back(std::move(e));
  events_.clear();
}

void StripeWork::WaitForEvents(uint64_t us) {
  std::unique_lock<std::mutex> lock(mu_);
  event_cv_.wait_for(lock, std::chrono::microseconds(us),
                     [&] { return !events_.empty(); });
}

size_t StripeWork::pending() {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_;
}

void StripeWork::StartAt(uint64_t s) {
  for (auto& lane : lanes_) {
    std::lock_guard<std::mutex> lock(lane->mu);
    lane->next = s;
  }
}

Status StripeWork::ReplayData(uint32_t d, uint64_t s, const uint8_t* buf) {
  return HashDataChunk(d, s, buf).status;
}

Status StripeWork::ReplayParity(uint32_t j, uint64_t s, const uint8_t* buf) {
  return HashParityChunk(j, s, buf).status;
}

void StripeWork::HashData(uint32_t d, uint64_t s, const uint8_t* buf) {
  Push(d, s, buf);
}

void StripeWork::HashParity(uint32_t j, uint64_t s, const uint8_t* buf) {
  Push(plan_->layout.k() + j, s, buf);
}

void StripeWork::Encode(uint64_t s, std::vector<const uint8_t*> data,
                        std::vector<uint8_t*> parity) {
  Schedule([this, s, data = std::move(data), parity = std::move(parity)] {
    code_->Encode(plan_->layout.chunk_size, data.data(), parity.data());
    Event e;
    e.kind = Event::kEncoded;
    e.stripe = s;
    Post(std::move(e));
  });
}

void StripeWork::Push(uint32_t lane, uint64_t s, const uint8_t* buf) {
  Lane& l = *lanes_[lane];
  std::lock_guard<std::mutex> lock(l.mu);
  l.ready.emplace(s, buf);
  if (!l.queued && l.ready.begin()->first == l.next) {
    l.queued = true;
    Schedule([this, lane] { RunLane(lane); });
  }
}

// Hashes the lane's chunks in stripe order while the next one is there.
void StripeWork::RunLane(uint32_t lane) {
  Lane& l = *lanes_[lane];
  const uint32_t k = plan_->layout.k();
  while (true) {
    uint64_t s;
    const uint8_t* buf;
    {
      std::lock_guard<std::mutex> lock(l.mu);
      if (l.ready.empty() || l.ready.begin()->first != l.next) {
        l.queued = false;
        return;
      }
      s = l.ready.begin()->first;
      buf = l.ready.begin()->second;
      l.ready.erase(l.ready.begin());
      ++l.next;
    }
    Post(lane < k ? HashDataChunk(lane, s, buf)
                  : HashParityChunk(lane - k, s, buf));
  }
}

StripeWork::Event StripeWork::HashDataChunk(uint32_t d, uint64_t s,
                                            const uint8_t* buf) {
  Lane& l = *lanes_[d];
  ChunkRef ref;
  map_->Locate(d, s, &ref);  // REQUIRES (caller): d holds a chunk at s
  const PackSource& src = plan_->sources[d][ref.file];
  const uint64_t size = plan_->layout.data[d].files[ref.file].size;
  if (ref.chunk == 0) {
    l.hasher->Reset();
    l.recorder = std::make_unique<ChunkDigestRecorder>(index_, src.entry);
  }
  const char* data = reinterpret_cast<const char*>(buf);
  l.hasher->Update(data, ref.length);
  l.recorder->Chunk(ref.chunk, data, ref.length);
  Event e;
  e.member = d;
  e.stripe = s;
  if (ref.offset + ref.length == size) {  // the file's last chunk
    (*file_digests_)[src.entry] = l.hasher->Finish();
    e.status = l.recorder->Done();
    l.recorder.reset();
  }
  return e;
}

StripeWork::Event StripeWork::HashParityChunk(uint32_t j, uint64_t s,
                                              const uint8_t* buf) {
  Lane& l = *lanes_[plan_->layout.k() + j];
  const PackLayout& layout = plan_->layout;
  const Sha256Bytes digest = Sha256Of(buf, layout.chunk_size);
  Event e;
  e.member = layout.k() + j;
  e.stripe = s;
  e.status = parity_digests_->WriteAt(
      ParityDigestOffset(parity_header_, s, j),
      reinterpret_cast<const char*>(digest.data()), digest.size());
  size_t segment;
  uint64_t offset;
  LocateParity(layout, s, &segment, &offset);
  if (offset == 0) l.segment->Reset();
  l.segment->Update(buf, layout.chunk_size);
  ParitySegment& seg = plan_->layout.parity[j].segments[segment];
  if (s + 1 == seg.first_stripe + seg.stripes) {
    const Digest d = l.segment->Finish();
    std::copy_n(d.bytes.begin(), 32, seg.sha256.begin());
  }
  return e;
}

}  // namespace valise
