// Rebuild: giving back what a shipment lost, from the stripes' parity, and
// never a byte that was not checked.
//
// The problem. At the datacenter a data chunk can be missing (its drive
// was lost, or not given), unreadable (a bad range: EIO), or wrong (its
// bytes do not match the chunk's signed SHA-256). Any k good members of its
// stripe determine it (src/pack/parity.cc). But "good" has to be earned:
// the drives that came through are no more trusted than the one that did
// not, and decoding from a silently corrupt member would produce wrong
// bytes that look right to everyone downstream.
//
// The approach, per stripe:
//   1. Members that hold no chunk (a data drive filled less than the
//      fullest one) are zeros, known without reading and needing no check.
//   2. The other members not wanted and not known lost are read, data
//      members first (at the datacenter they are read anyway), then
//      parity; a read error makes that member one more erasure. Reading
//      stops at k members: a stripe with one lost member of 8+2 costs 8
//      reads, not 10. The members still needed are read at once, each on
//      its own thread (Workers): they lie on different drives, so a
//      rebuild reads at the pace of one drive, not of k drives in turn.
//      They are not hashed yet: a rebuilt chunk that matches its own
//      signed digest (4) is right whatever its sources held, and hashing
//      k sources for each chunk made is what bounded a rebuild (nine
//      SHA-256 a chunk for 8+2, on two cores: half a disk's pace). Only if
//      a rebuilt chunk fails its check are the sources hashed and judged
//      (data chunks against the chunk index, parity chunks against
//      M.parity), a bad one made one more erasure and replaced by the next
//      member, and the stripe decoded again from judged members only.
//      When stripes come one after another (a lost file's chunks), the
//      same members' chunks of the next few stripes are hinted to the
//      reader (ReadAhead), so each drive reads on while a stripe is
//      decoded, checked and taken away: without it the drives idled for
//      that time, and a rebuild ran at 0.7 of a drive's pace.
//   3. Fewer than k usable members: every wanted member is unrecoverable.
//      Its file is named in the report; nothing is guessed.
//   4. Otherwise the decoder rebuilds the wanted members from k of them,
//      and each rebuilt member is checked against its own digest before
//      it leaves this file. From judged sources the check cannot fail
//      unless the digests disagree with one another (a layout or index
//      made for other data): then the member is unrecoverable too.
//
// AssessLoss answers the planning question before anything is read: given
// the drives that are gone and the single chunks known bad, which files
// cannot come back, and how many more drives' loss the shipment could
// still take. A stripe loses member i only if member i holds a chunk
// there, so a lost data drive costs the stripes below its chunk count, and
// with lost data drives sorted by chunk count c_1 >= c_2 >= ..., stripe s
// loses more than m members (counting the lost parity drives p) exactly
// when s < c_(m-p+1): a prefix of stripes, hence a prefix of each lost
// drive's files. Bad chunks add to single stripes. The cost is O(k log k)
// plus the files counted, not a walk over every stripe.
#include "valise/rebuild.h"

#include <openssl/evp.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace valise {

namespace {

std::string MemberName(const PackLayout& l, uint32_t i) {
  return i < l.k() ? "data drive " + l.data[i].label
                   : "parity drive " + l.parity[i - l.k()].label;
}

}  // namespace

Sha256Bytes Sha256Of(const uint8_t* data, size_t n) {
  Sha256Bytes out{};
  unsigned int len = 0;
  EVP_Digest(data, n, out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

// Runs a batch of jobs at once: the calling thread runs the first, the
// pool's threads (started as batches need them) the rest.
class StripeRebuilder::Workers {
 public:
  ~Workers() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    work_cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }

  // Returns when every job has run.
  void Run(std::vector<std::function<void()>>* jobs) {
    if (jobs->empty()) return;
    {
      std::lock_guard<std::mutex> l(mu_);
      while (threads_.size() + 1 < jobs->size()) {
        threads_.emplace_back([this] { Loop(); });
      }
      for (size_t j = 1; j < jobs->size(); ++j) queue_.push_back(&(*jobs)[j]);
      pending_ += jobs->size() - 1;
    }
    work_cv_.notify_all();
    (*jobs)[0]();
    std::unique_lock<std::mutex> l(mu_);
    done_cv_.wait(l, [&] { return pending_ == 0; });
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> l(mu_);
    for (;;) {
      work_cv_.wait(l, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stop_, and nothing left
      std::function<void()>* job = queue_.front();
      queue_.pop_front();
      l.unlock();
      (*job)();
      l.lock();
      if (--pending_ == 0) done_cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::deque<std::function<void()>*> queue_;
  size_t pending_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

StripeRebuilder::StripeRebuilder(const StripeMap* map, const ParityCode* code,
                                 StripeReader* reader, ChunkDigests* digests)
    : map_(map),
      reader_(reader),
      digests_(digests),
      decoder_(code),
      workers_(new Workers) {
  const size_t n = static_cast<size_t>(code->members());
  const size_t chunk = map->layout().chunk_size;
  bufs_.resize(n);
  for (size_t i = 0; i < n; ++i) bufs_[i].reset(new uint8_t[chunk]);
  hinted_until_.assign(n, 0);
}

StripeRebuilder::~StripeRebuilder() = default;

bool StripeRebuilder::ReadChecked(uint64_t stripe, uint32_t i, uint8_t* buf,
                                  Status* why) {
  Sha256Bytes got{};
  bool zero = false;
  Status s = ReadMember(stripe, i, buf, &got, &zero);
  if (s.ok() && !zero) s = Judge(stripe, i, got);
  *why = s;
  return s.ok();
}

Status StripeRebuilder::ReadMember(uint64_t stripe, uint32_t i, uint8_t* buf,
                                   Sha256Bytes* got, bool* zero) {
  const PackLayout& l = map_->layout();
  Status s;
  size_t len = l.chunk_size;
  *zero = false;
  if (i < l.k()) {
    ChunkRef ref;
    if (!map_->Locate(i, stripe, &ref)) {
      std::memset(buf, 0, l.chunk_size);  // holds no chunk: zeros
      *zero = true;
      return Status::OK();
    }
    len = ref.length;
    s = reader_->ReadData(i, ref, buf);
    std::memset(buf + len, 0, l.chunk_size - len);
  } else {
    s = reader_->ReadParity(i - l.k(), stripe, buf);
  }
  if (s.ok() && got != nullptr) *got = Sha256Of(buf, len);
  return s;
}

Status StripeRebuilder::Judge(uint64_t stripe, uint32_t i,
                              const Sha256Bytes& got) {
  const PackLayout& l = map_->layout();
  Sha256Bytes want{};
  if (i < l.k()) {
    ChunkRef ref;
    map_->Locate(i, stripe, &ref);
    VALISE_RETURN_IF_ERROR(digests_->Data(i, ref, &want));
  } else {
    VALISE_RETURN_IF_ERROR(digests_->Parity(i - l.k(), stripe, &want));
  }
  if (got != want) {
    return Status::Corruption(MemberName(l, i),
                              "chunk of stripe " + std::to_string(stripe) +
                                  " does not match its signed SHA-256 " +
                                  Sha256BytesHex(want));
  }
  return Status::OK();
}

void StripeRebuilder::ReadAhead(uint64_t stripe,
                                const std::vector<uint32_t>& members) {
  const bool sequential =
      last_stripe_ != UINT64_MAX && stripe == last_stripe_ + 1;
  last_stripe_ = stripe;
  if (!sequential) return;
  const PackLayout& l = map_->layout();
  const uint64_t end =
      std::min<uint64_t>(l.stripes, stripe + 1 + kReadAheadStripes);
  for (uint32_t i : members) {
    for (uint64_t s = std::max(hinted_until_[i], stripe + 1); s < end; ++s) {
      ChunkRef ref;
      if (i >= l.k()) {
        reader_->PrefetchParity(i - l.k(), s);
      } else if (map_->Locate(i, s, &ref)) {
        reader_->PrefetchData(i, ref);
      }
    }
    hinted_until_[i] = std::max(hinted_until_[i], end);
  }
}

Status StripeRebuilder::CheckMember(uint64_t stripe, uint32_t i) {
  const PackLayout& l = map_->layout();
  const uint8_t* buf = bufs_[i].get();
  Sha256Bytes want{};
  size_t len = l.chunk_size;
  if (i < l.k()) {
    ChunkRef ref;
    map_->Locate(i, stripe, &ref);  // a wanted data member holds a chunk
    len = ref.length;
    VALISE_RETURN_IF_ERROR(digests_->Data(i, ref, &want));
    for (size_t b = len; b < l.chunk_size; ++b) {
      if (buf[b] != 0) {
        return Status::Corruption(MemberName(l, i),
                                  "rebuilt chunk of stripe " +
                                      std::to_string(stripe) +
                                      " has non-zero padding");
      }
    }
  } else {
    VALISE_RETURN_IF_ERROR(digests_->Parity(i - l.k(), stripe, &want));
  }
  if (Sha256Of(buf, len) != want) {
    return Status::Corruption(
        MemberName(l, i), "rebuilt chunk of stripe " + std::to_string(stripe) +
                              " does not match its signed SHA-256");
  }
  return Status::OK();
}

Status StripeRebuilder::Rebuild(uint64_t stripe,
                                const std::vector<uint32_t>& want,
                                const std::vector<bool>& avoid,
                                uint8_t* const* out, StripeOutcome* outcome) {
  const PackLayout& l = map_->layout();
  const uint32_t k = l.k();
  const uint32_t n = k + l.m();
  *outcome = StripeOutcome();
  if (stripe >= l.stripes || (!avoid.empty() && avoid.size() != n)) {
    return Status::InvalidArgument(
        "rebuild", "stripe " + std::to_string(stripe) + " of " +
                       std::to_string(l.stripes) + ", avoid of " +
                       std::to_string(avoid.size()) + " for " +
                       std::to_string(n) + " members");
  }
  std::vector<int> slot(n, -1);  // where a wanted member goes in out[]
  for (size_t w = 0; w < want.size(); ++w) {
    if (want[w] >= n || slot[want[w]] >= 0) {
      return Status::InvalidArgument(
          "rebuild", "bad wanted member " + std::to_string(want[w]));
    }
    slot[want[w]] = static_cast<int>(w);
  }
  // 1. Zero members are good sources, or rebuilt at once if wanted.
  std::vector<int> good;
  std::vector<uint32_t> to_read;
  std::vector<int> decode_want;
  for (uint32_t i = 0; i < n; ++i) {
    ChunkRef ref;
    const bool zero = i < k && !map_->Locate(i, stripe, &ref);
    if (zero && slot[i] >= 0) {
      std::memset(out[slot[i]], 0, l.chunk_size);
      outcome->rebuilt.push_back(i);
    } else if (zero) {
      std::memset(bufs_[i].get(), 0, l.chunk_size);
      good.push_back(static_cast<int>(i));
    } else if (slot[i] >= 0) {
      decode_want.push_back(static_cast<int>(i));
    } else if (avoid.empty() || !avoid[i]) {
      to_read.push_back(i);
    }
  }
  if (decode_want.empty()) return Status::OK();
  // 2. Read k members (data members come first in to_read), the ones
  // still needed at once. First unchecked: decoding and checking what it
  // makes proves the result (4), whatever the sources held. Only if that
  // check fails are the sources hashed and judged, the bad ones replaced
  // by more members, and the stripe decoded again from checked ones.
  size_t next = 0;
  std::vector<int> unchecked;     // read, bytes not judged
  bool judge = false;             // hash and judge each member as it is read
  std::vector<uint32_t> read_ok;  // members read without an error
  bool hinted = false;
  for (;;) {
    while (good.size() + unchecked.size() < k && next < to_read.size()) {
      const size_t batch = std::min<size_t>(k - good.size() - unchecked.size(),
                                            to_read.size() - next);
      std::vector<Status> read(batch);
      std::vector<Sha256Bytes> got(batch);
      std::vector<std::function<void()>> jobs;
      for (size_t b = 0; b < batch; ++b) {
        jobs.push_back(
            [this, stripe, judge, &read, &got, b, i = to_read[next + b]] {
              bool zero = false;  // never: zero members are not in to_read
              read[b] = ReadMember(stripe, i, bufs_[i].get(),
                                   judge ? &got[b] : nullptr, &zero);
            });
      }
      workers_->Run(&jobs);
      for (size_t b = 0; b < batch; ++b) {
        const uint32_t i = to_read[next + b];
        ++outcome->members_read;
        if (read[b].ok()) read_ok.push_back(i);
        Status why = read[b];
        if (why.ok() && !judge) {
          unchecked.push_back(static_cast<int>(i));
          continue;
        }
        if (why.ok()) why = Judge(stripe, i, got[b]);
        if (why.ok()) {
          good.push_back(static_cast<int>(i));
        } else {
          outcome->bad_sources.push_back({i, why});
        }
      }
      next += batch;
    }
    if (!hinted) {  // once, as soon as the first members are in hand
      ReadAhead(stripe, read_ok);
      hinted = true;
    }
    // 3. Not enough: nothing is guessed.
    if (good.size() + unchecked.size() < k) {
      for (int w : decode_want) {
        outcome->unrecoverable.push_back(static_cast<uint32_t>(w));
      }
      return Status::OK();
    }
    // 4. Decode from k members, then check every rebuilt one.
    std::vector<int> sources = good;
    sources.insert(sources.end(), unchecked.begin(), unchecked.end());
    std::sort(sources.begin(), sources.end());
    sources.resize(k);
    std::vector<uint8_t*> members(n);
    for (uint32_t i = 0; i < n; ++i) members[i] = bufs_[i].get();
    VALISE_RETURN_IF_ERROR(
        decoder_.Rebuild(l.chunk_size, sources, decode_want, members.data()));
    std::vector<Status> checks;
    bool all_ok = true;
    for (int w : decode_want) {
      checks.push_back(CheckMember(stripe, static_cast<uint32_t>(w)));
      all_ok = all_ok && checks.back().ok();
    }
    if (!all_ok && !unchecked.empty()) {
      // A source was bad: judge them (their bytes are still in bufs_),
      // keep the good, and read on with every member judged.
      std::vector<Sha256Bytes> got(unchecked.size());
      std::vector<std::function<void()>> jobs;
      for (size_t u = 0; u < unchecked.size(); ++u) {
        jobs.push_back([this, stripe, &got, &unchecked, u, &l] {
          const uint32_t i = static_cast<uint32_t>(unchecked[u]);
          size_t len = l.chunk_size;
          ChunkRef ref;
          if (i < l.k() && map_->Locate(i, stripe, &ref)) len = ref.length;
          got[u] = Sha256Of(bufs_[i].get(), len);
        });
      }
      workers_->Run(&jobs);
      for (size_t u = 0; u < unchecked.size(); ++u) {
        const uint32_t i = static_cast<uint32_t>(unchecked[u]);
        Status why = Judge(stripe, i, got[u]);
        if (why.ok()) {
          good.push_back(unchecked[u]);
        } else {
          outcome->bad_sources.push_back({i, why});
        }
      }
      unchecked.clear();
      judge = true;
      continue;
    }
    for (size_t w = 0; w < decode_want.size(); ++w) {
      const uint32_t i = static_cast<uint32_t>(decode_want[w]);
      if (!checks[w].ok()) {
        outcome->unrecoverable.push_back(i);
        outcome->bad_sources.push_back({i, checks[w]});
        continue;
      }
      std::memcpy(out[slot[i]], bufs_[i].get(), l.chunk_size);
      outcome->rebuilt.push_back(i);
    }
    return Status::OK();
  }
}

Status RecoverDataChunk(StripeRebuilder* rebuilder, uint32_t d, uint32_t file,
                        uint64_t chunk, const std::vector<bool>& avoid,
                        uint8_t* buf, ChunkSource* source, Status* why) {
  const PackLayout& l = rebuilder->map().layout();
  const uint32_t n = l.k() + l.m();
  if (d >= l.k() || file >= l.data[d].files.size() ||
      chunk >= PackChunksOf(l.data[d].files[file].size, l.chunk_size) ||
      (!avoid.empty() && avoid.size() != n)) {
    return Status::InvalidArgument(
        "recover chunk", "no chunk " + std::to_string(chunk) + " of file " +
                             std::to_string(file) + " on data drive " +
                             std::to_string(d));
  }
  const uint64_t stripe = rebuilder->map().StripeOf(d, file, chunk);
  std::vector<bool> skip = avoid;
  if (skip.empty()) skip.assign(n, false);
  *why = Status::OK();
  // Read directly, unless the drive is known lost.
  if (!skip[d]) {
    if (rebuilder->ReadChecked(stripe, d, buf, why)) {
      *source = ChunkSource::kRead;
      return Status::OK();
    }
  }
  // Then from the stripe.
  StripeOutcome outcome;
  VALISE_RETURN_IF_ERROR(rebuilder->Rebuild(stripe, {d}, skip, &buf, &outcome));
  if (!outcome.rebuilt.empty()) {
    *source = ChunkSource::kRebuilt;
    return Status::OK();
  }
  *source = ChunkSource::kLost;
  std::string detail = "stripe " + std::to_string(stripe) + ": " +
                       std::to_string(outcome.bad_sources.size()) +
                       " more members unusable";
  for (const MemberProblem& p : outcome.bad_sources) {
    detail += "; " + p.why.message();
  }
  Status lost =
      Status::IOError(MemberName(l, d),
                      "cannot rebuild chunk " + std::to_string(chunk) + " of " +
                          EscapeTerminalPath(l.data[d].files[file].path) +
                          " from parity (" + detail + ")")
          .WithDataLoss(true);
  *why = why->ok() ? lost : why->WithContext(lost.message());
  return Status::OK();
}

LossAssessment AssessLoss(
    const StripeMap& map, const std::vector<bool>& drive_lost,
    const std::vector<std::pair<uint32_t, uint64_t>>& bad) {
  const PackLayout& l = map.layout();
  const uint32_t k = l.k();
  const uint32_t m = l.m();
  LossAssessment a;
  a.unrecoverable.resize(k);
  auto lost = [&](uint32_t i) {
    return i < drive_lost.size() && drive_lost[i];
  };
  auto holds = [&](uint32_t i, uint64_t s) {
    return s < l.stripes && (i >= k || s < l.data[i].chunks);
  };
  // Whole drives: lost parity drives count in every stripe, lost data
  // drives below their chunk counts (sorted: c[0] >= c[1] >= ...).
  uint32_t lost_parity = 0;
  std::vector<uint64_t> c;
  for (uint32_t i = 0; i < k + m; ++i) {
    if (!lost(i)) continue;
    if (i >= k) {
      ++lost_parity;
    } else {
      c.push_back(l.data[i].chunks);
    }
  }
  std::sort(c.rbegin(), c.rend());
  // Members stripe s loses to whole drives.
  auto base = [&](uint64_t s) {
    uint32_t n = s < l.stripes ? lost_parity : 0;
    for (uint64_t ci : c) n += ci > s;
    return n;
  };
  // Stripes [0, t) lose more than m members to whole drives alone.
  uint64_t t = 0;
  if (lost_parity > m) {
    t = l.stripes;
  } else if (c.size() > m - lost_parity) {
    t = c[m - lost_parity];
  }
  // Single bad chunks, per stripe, on drives not lost.
  std::map<uint64_t, std::set<uint32_t>> extra;
  for (const auto& [i, s] : bad) {
    if (i < k + m && !lost(i) && holds(i, s)) extra[s].insert(i);
  }
  std::vector<std::set<uint32_t>> files(k);
  auto add_lost_stripe = [&](uint64_t s, const std::set<uint32_t>& more) {
    for (uint32_t i = 0; i < k; ++i) {
      ChunkRef ref;
      if ((lost(i) || more.count(i)) && map.Locate(i, s, &ref)) {
        files[i].insert(ref.file);
      }
    }
  };
  // The prefix: on each lost data drive, the files starting below t.
  for (uint32_t i = 0; i < k; ++i) {
    if (!lost(i)) continue;
    for (uint32_t f = 0; f < l.data[i].files.size(); ++f) {
      if (map.StripeOf(i, f, 0) >= t) break;
      if (l.data[i].files[f].size > 0) files[i].insert(f);
    }
  }
  uint32_t most = base(0);
  uint64_t lost_stripes = t;
  for (const auto& [s, members] : extra) {
    const uint32_t n = base(s) + static_cast<uint32_t>(members.size());
    most = std::max(most, n);
    if (n > m) {
      if (s >= t) ++lost_stripes;
      add_lost_stripe(s, members);
    }
  }
  // Degraded stripes: those below the fullest lost member's reach, plus
  // bad chunks beyond it.
  uint64_t reach = lost_parity ? l.stripes : (c.empty() ? 0 : c[0]);
  a.stripes_degraded = reach;
  for (const auto& [s, members] : extra) a.stripes_degraded += s >= reach;
  a.stripes_lost = lost_stripes;
  for (uint32_t i = 0; i < k; ++i) {
    a.unrecoverable[i].assign(files[i].begin(), files[i].end());
    a.unrecoverable_files += files[i].size();
  }
  a.spare = most >= m ? 0 : m - most;
  return a;
}

}  // namespace valise
