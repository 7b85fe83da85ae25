#include "valise/rebuild.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "pack/pack_test_util.h"
#include "support/test_util.h"

namespace valise {
namespace {

using test::PackedShipment;

constexpr uint64_t kChunk = 4096;

// Uneven on purpose: empty files, files of a byte, just under, at and just
// over a chunk, and several chunks long with a ragged tail.
std::vector<uint64_t> RaggedSizes() {
  return {0,           1,
          kChunk - 1,  kChunk,
          kChunk + 1,  3 * kChunk + 5,
          10 * kChunk, 7 * kChunk - 1,
          123,         0,
          20000,       50000,
          2 * kChunk,  5 * kChunk + 4095,
          17,          9 * kChunk + 1};
}

// Every file of the shipment as recovered with drives `lost` not given
// and `avoid` (usually the same) not read.
struct Recovery {
  std::set<std::string> lost_files;     // some chunk could not come back
  std::set<std::string> rebuilt_files;  // some chunk came from parity
  int wrong_bytes = 0;                  // chunks handed out that differ
};

Recovery RecoverAll(PackedShipment& p, const std::vector<bool>& lost) {
  FsStripeReader reader(&p.disk, &p.layout, p.DataRoots(lost),
                        p.ParityRoots(lost));
  StripeRebuilder rb(p.map.get(), p.code.get(), &reader, &p.digests);
  Recovery r;
  std::vector<uint8_t> buf(p.layout.chunk_size);
  for (uint32_t d = 0; d < p.layout.k(); ++d) {
    const DataDriveLayout& drive = p.layout.data[d];
    for (uint32_t f = 0; f < drive.files.size(); ++f) {
      const std::string& path = drive.files[f].path;
      const std::string& want = p.contents.at(path);
      const uint64_t chunks = PackChunksOf(want.size(), p.layout.chunk_size);
      for (uint64_t c = 0; c < chunks; ++c) {
        ChunkSource src;
        Status why;
        Status s = RecoverDataChunk(&rb, d, f, c, lost, buf.data(), &src, &why);
        EXPECT_TRUE(s.ok()) << s.ToString();
        if (src == ChunkSource::kLost) {
          r.lost_files.insert(path);
          EXPECT_FALSE(why.ok());
          continue;
        }
        if (src == ChunkSource::kRebuilt) r.rebuilt_files.insert(path);
        const uint64_t off = c * p.layout.chunk_size;
        const uint64_t n =
            std::min<uint64_t>(p.layout.chunk_size, want.size() - off);
        if (std::string(reinterpret_cast<char*>(buf.data()), n) !=
            want.substr(off, n)) {
          ++r.wrong_bytes;
        }
      }
    }
  }
  return r;
}

// What must be lost, by brute force over every stripe: a stripe with more
// than m members lost (counting only members that hold a chunk there)
// loses its data chunks on lost members.
std::set<std::string> ExpectedLost(
    const PackedShipment& p, const std::vector<bool>& lost,
    const std::set<std::pair<uint32_t, uint64_t>>& bad = {}) {
  std::set<std::string> out;
  const PackLayout& l = p.layout;
  for (uint64_t s = 0; s < l.stripes; ++s) {
    std::vector<uint32_t> gone;
    for (uint32_t i = 0; i < l.k() + l.m(); ++i) {
      ChunkRef ref;
      const bool holds = i >= l.k() || p.map->Locate(i, s, &ref);
      if (holds && (lost[i] || bad.count({i, s}))) gone.push_back(i);
    }
    if (gone.size() <= l.m()) continue;
    for (uint32_t i : gone) {
      ChunkRef ref;
      if (i < l.k() && p.map->Locate(i, s, &ref)) {
        out.insert(l.data[i].files[ref.file].path);
      }
    }
  }
  return out;
}

std::set<std::string> AssessedLost(const PackedShipment& p,
                                   const LossAssessment& a) {
  std::set<std::string> out;
  for (uint32_t d = 0; d < a.unrecoverable.size(); ++d) {
    for (uint32_t f : a.unrecoverable[d]) {
      out.insert(p.layout.data[d].files[f].path);
    }
  }
  return out;
}

// Calls f(lost) for every set of exactly `count` of n members.
template <typename F>
void ForEachLoss(uint32_t n, uint32_t count, F f) {
  std::vector<int> mask(n, 0);
  std::fill(mask.end() - count, mask.end(), 1);  // lexicographically first
  do {
    f(std::vector<bool>(mask.begin(), mask.end()));
  } while (std::next_permutation(mask.begin(), mask.end()));
}

std::string Describe(const std::vector<bool>& lost) {
  std::string s;
  for (size_t i = 0; i < lost.size(); ++i) {
    if (lost[i]) s += std::to_string(i) + " ";
  }
  return "lost members { " + s + "}";
}

// Goal (issue 18): every pattern of up to m lost drives of small k+m sets
// rebuilds every file byte-exact, from drives of unequal fill, with files
// not a multiple of the chunk size and empty files; parity files cut into
// several segments.
TEST(PackRebuild, EveryPatternOfUpToMLostDrivesRebuildsByteExact) {
  const std::tuple<uint32_t, uint32_t, uint64_t> codes[] = {
      {4, 2, kDefaultParitySegmentBytes},
      {6, 2, 3 * kChunk},
      {3, 3, 2 * kChunk}};
  for (auto [k, m, segment] : codes) {
    PackedShipment p(RaggedSizes(), k, m, kChunk, k * 10 + m, segment);
    int patterns = 0;
    for (uint32_t count = 0; count <= m; ++count) {
      ForEachLoss(k + m, count, [&](const std::vector<bool>& lost) {
        Recovery r = RecoverAll(p, lost);
        EXPECT_EQ(r.wrong_bytes, 0) << Describe(lost);
        EXPECT_TRUE(r.lost_files.empty()) << Describe(lost);
        LossAssessment a = AssessLoss(*p.map, lost, {});
        EXPECT_EQ(a.unrecoverable_files, 0u) << Describe(lost);
        EXPECT_EQ(a.stripes_lost, 0u);
        ++patterns;
      });
    }
    // 4+2: 1 + 6 + 15; 6+2: 1 + 8 + 28; 3+3: 1 + 6 + 15 + 20.
    EXPECT_EQ(patterns, k == 4 ? 22 : k == 6 ? 37 : 42);
  }
}

// Goal (issue 18): m+1 lost drives are reported as what they are: exactly
// the files with a chunk in a stripe that lost more than m members, and
// never a wrong byte for the rest.
TEST(PackRebuild, MPlusOneLostDrivesNameExactlyTheUnrecoverableFiles) {
  for (auto [k, m] : {std::pair<uint32_t, uint32_t>{4, 2}, {6, 2}, {5, 1}}) {
    PackedShipment p(RaggedSizes(), k, m, kChunk, 100 + k);
    ForEachLoss(k + m, m + 1, [&](const std::vector<bool>& lost) {
      Recovery r = RecoverAll(p, lost);
      EXPECT_EQ(r.wrong_bytes, 0) << Describe(lost);
      const std::set<std::string> expected = ExpectedLost(p, lost);
      EXPECT_EQ(r.lost_files, expected) << Describe(lost);
      LossAssessment a = AssessLoss(*p.map, lost, {});
      EXPECT_EQ(AssessedLost(p, a), expected) << Describe(lost);
      EXPECT_EQ(a.spare, 0u);
    });
  }
}

// Goal: an unreadable range and a chunk that fails its digest on drives
// that arrived are erasures like a lost drive: with one drive lost of 4+2
// and one bad chunk in each of two other stripes, everything comes back;
// a third problem in one of those stripes loses exactly that stripe's
// chunks on the lost members.
TEST(PackRebuild, BadRangesAndCorruptChunksAreErasures) {
  PackedShipment p(RaggedSizes(), 4, 2, kChunk, 5);
  const PackLayout& l = p.layout;
  // Drive 2's first file chunk 0 unreadable, drive 3's first file chunk 0
  // flipped; they lie in stripes 0 of those drives.
  const std::string d2 =
      PackedShipment::DataRoot(2) + "/" + l.data[2].files[0].path;
  const std::string d3 =
      PackedShipment::DataRoot(3) + "/" + l.data[3].files[0].path;
  ASSERT_GT(l.data[2].files[0].size, 2 * kChunk);
  ASSERT_GT(l.data[3].files[0].size, 2 * kChunk);
  p.disk.AddBadRange(d2, 10, 1);            // stripe 0 of drive 2
  p.disk.FlipStoredBit(d3, kChunk + 7, 3);  // stripe 1 of drive 3
  std::vector<bool> lost = {true, false, false, false, false, false};
  Recovery r = RecoverAll(p, lost);
  EXPECT_EQ(r.wrong_bytes, 0);
  EXPECT_TRUE(r.lost_files.empty());
  EXPECT_TRUE(r.rebuilt_files.count(l.data[2].files[0].path));
  EXPECT_TRUE(r.rebuilt_files.count(l.data[3].files[0].path));
  LossAssessment a = AssessLoss(*p.map, lost, {{2, 0}, {3, 1}});
  EXPECT_EQ(a.unrecoverable_files, 0u);
  EXPECT_EQ(a.spare, 0u);  // stripes 0 and 1 lost two members each

  // A parity chunk of stripe 0 corrupt too: three erasures there.
  p.disk.FlipStoredBit(
      PackedShipment::ParityRoot(0) + "/" + l.parity[0].segments[0].path, 100,
      0);
  r = RecoverAll(p, lost);
  EXPECT_EQ(r.wrong_bytes, 0);
  const std::set<std::string> expected =
      ExpectedLost(p, lost, {{2, 0}, {3, 1}, {4, 0}});
  EXPECT_EQ(r.lost_files, expected);
  ASSERT_FALSE(expected.empty());
  EXPECT_TRUE(expected.count(l.data[2].files[0].path));
  LossAssessment b = AssessLoss(*p.map, lost, {{2, 0}, {3, 1}, {4, 0}});
  EXPECT_EQ(AssessedLost(p, b), expected);
  EXPECT_EQ(b.stripes_lost, 1u);
}

// Goal: a rebuild reads the fewest members: one lost data drive of 6+2
// costs k reads less the members that hold no chunk, and never reads the
// parity when data members suffice.
TEST(PackRebuild, ReadsOnlyWhatItNeeds) {
  PackedShipment p(RaggedSizes(), 6, 2, kChunk, 9);
  std::vector<bool> lost(8, false);
  lost[0] = true;
  FsStripeReader reader(&p.disk, &p.layout, p.DataRoots(lost),
                        p.ParityRoots(lost));
  StripeRebuilder rb(p.map.get(), p.code.get(), &reader, &p.digests);
  std::vector<uint8_t> out(kChunk);
  uint8_t* outs[] = {out.data()};
  for (uint64_t s = 0; s < p.layout.data[0].chunks; ++s) {
    uint64_t zeros = 0;
    for (uint32_t d = 1; d < 6; ++d) zeros += s >= p.layout.data[d].chunks;
    StripeOutcome o;
    ASSERT_VALISE_OK(rb.Rebuild(s, {0}, lost, outs, &o));
    ASSERT_EQ(o.rebuilt, std::vector<uint32_t>{0});
    EXPECT_EQ(o.members_read, 6 - zeros) << "stripe " << s;
    EXPECT_EQ(std::string(reinterpret_cast<char*>(out.data()), kChunk),
              p.Member(0, s));
  }
}

// A StripeReader that holds each read until `want` reads are in flight at
// once (or 5 s have passed), and records the most it saw.
class GatheringReader final : public StripeReader {
 public:
  GatheringReader(StripeReader* inner, int want) : inner_(inner), want_(want) {}
  Status ReadData(uint32_t d, const ChunkRef& ref, uint8_t* buf) override {
    Gather();
    return inner_->ReadData(d, ref, buf);
  }
  Status ReadParity(uint32_t j, uint64_t stripe, uint8_t* buf) override {
    Gather();
    return inner_->ReadParity(j, stripe, buf);
  }
  int most() const { return most_; }

 private:
  void Gather() {
    std::unique_lock<std::mutex> l(mu_);
    ++in_flight_;
    most_ = std::max(most_, in_flight_);
    cv_.notify_all();
    cv_.wait_for(l, std::chrono::seconds(5),
                 [&] { return in_flight_ >= want_ || released_; });
    released_ = true;  // the batch met: the rest of it goes at once
    if (--in_flight_ == 0) released_ = false;
  }
  StripeReader* inner_;
  const int want_;
  std::mutex mu_;
  std::condition_variable cv_;
  int in_flight_ = 0, most_ = 0;
  bool released_ = false;
};

// Goal: the members a rebuild needs are read at once, not in turn (they
// lie on different drives): with data drive 0 of 6+2 lost, the 6 members
// of its first stripe are all being read at the same moment, and the
// chunk comes back right.
TEST(PackRebuild, ReadsTheMembersOfAStripeAtOnce) {
  PackedShipment p(RaggedSizes(), 6, 2, kChunk, 9);
  std::vector<bool> lost(8, false);
  lost[0] = true;
  FsStripeReader fs_reader(&p.disk, &p.layout, p.DataRoots(lost),
                           p.ParityRoots(lost));
  GatheringReader reader(&fs_reader, 6);
  StripeRebuilder rb(p.map.get(), p.code.get(), &reader, &p.digests);
  std::vector<uint8_t> out(kChunk);
  uint8_t* outs[] = {out.data()};
  StripeOutcome o;
  ASSERT_VALISE_OK(rb.Rebuild(0, {0}, lost, outs, &o));
  ASSERT_EQ(o.rebuilt, std::vector<uint32_t>{0});
  EXPECT_EQ(o.members_read, 6u);
  EXPECT_EQ(reader.most(), 6);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(out.data()), kChunk),
            p.Member(0, 0));
}

// A StripeReader that records, in order, each read and each read-ahead
// hint as (member, stripe).
class HintRecordingReader final : public StripeReader {
 public:
  HintRecordingReader(StripeReader* inner, const StripeMap* map)
      : inner_(inner), map_(map) {}
  Status ReadData(uint32_t d, const ChunkRef& ref, uint8_t* buf) override {
    Note(&reads, d, StripeOfData(d, ref));
    return inner_->ReadData(d, ref, buf);
  }
  Status ReadParity(uint32_t j, uint64_t stripe, uint8_t* buf) override {
    Note(&reads, map_->layout().k() + j, stripe);
    return inner_->ReadParity(j, stripe, buf);
  }
  void PrefetchData(uint32_t d, const ChunkRef& ref) override {
    Note(&hints, d, StripeOfData(d, ref));
    inner_->PrefetchData(d, ref);
  }
  void PrefetchParity(uint32_t j, uint64_t stripe) override {
    Note(&hints, map_->layout().k() + j, stripe);
    inner_->PrefetchParity(j, stripe);
  }
  using Seen = std::vector<std::pair<uint32_t, uint64_t>>;
  Seen reads, hints;  // guarded by mu_ while a rebuild reads

 private:
  uint64_t StripeOfData(uint32_t d, const ChunkRef& ref) const {
    return map_->StripeOf(d, ref.file, ref.offset / map_->layout().chunk_size);
  }
  void Note(Seen* seen, uint32_t i, uint64_t s) {
    std::lock_guard<std::mutex> l(mu_);
    seen->emplace_back(i, s);
  }
  StripeReader* inner_;
  const StripeMap* map_;
  std::mutex mu_;
};

// Rebuilds every chunk of data drive 0 of `p` (lost) stripe after stripe
// through `reader`, expecting each byte-exact; `after(s)` runs after
// stripe s.
void RebuildDriveZeroInOrder(PackedShipment& p, StripeReader* reader,
                             const std::function<void(uint64_t)>& after) {
  std::vector<bool> lost(p.layout.k() + p.layout.m(), false);
  lost[0] = true;
  StripeRebuilder rb(p.map.get(), p.code.get(), reader, &p.digests);
  std::vector<uint8_t> out(p.layout.chunk_size);
  uint8_t* outs[] = {out.data()};
  const uint64_t n = p.layout.data[0].chunks;
  ASSERT_GE(n, 8u);
  for (uint64_t s = 0; s < n; ++s) {
    StripeOutcome o;
    ASSERT_VALISE_OK(rb.Rebuild(s, {0}, lost, outs, &o));
    ASSERT_EQ(o.rebuilt, std::vector<uint32_t>{0}) << "stripe " << s;
    EXPECT_EQ(std::string(reinterpret_cast<char*>(out.data()), out.size()),
              p.Member(0, s))
        << "stripe " << s;
    after(s);
  }
}

// Goal: a lost drive's chunks, rebuilt one stripe after another, have
// their sources' next chunks asked for ahead (so the drives read on while
// a stripe is decoded): from the second stripe on, each stripe's members
// were hinted before they are read, at most kReadAheadStripes ahead, each
// once, never the lost drive's, never a member holding no chunk, never
// past the last stripe. A lone stripe (one bad chunk) hints nothing.
TEST(PackRebuild, ConsecutiveStripesReadTheirSourcesAhead) {
  PackedShipment p(RaggedSizes(), 6, 2, kChunk, 9);
  const PackLayout& l = p.layout;
  std::vector<bool> lost(8, false);
  lost[0] = true;
  FsStripeReader fs_reader(&p.disk, &l, p.DataRoots(lost), p.ParityRoots(lost));
  HintRecordingReader reader(&fs_reader, p.map.get());
  const uint64_t n = l.data[0].chunks;
  size_t hinted_before = 0;
  RebuildDriveZeroInOrder(p, &reader, [&](uint64_t s) {
    for (size_t h = hinted_before; h < reader.hints.size(); ++h) {
      const auto [i, t] = reader.hints[h];
      EXPECT_GT(t, s);
      EXPECT_LE(t, s + kReadAheadStripes);
    }
    hinted_before = reader.hints.size();
  });
  std::set<std::pair<uint32_t, uint64_t>> hinted;
  for (const auto& [i, t] : reader.hints) {
    EXPECT_NE(i, 0u) << "the lost drive was hinted at stripe " << t;
    EXPECT_LT(t, l.stripes);
    ChunkRef ref;
    EXPECT_TRUE(i >= l.k() || p.map->Locate(i, t, &ref))
        << "member " << i << " holds no chunk at stripe " << t;
    EXPECT_TRUE(hinted.insert({i, t}).second)
        << "member " << i << " stripe " << t << " hinted twice";
  }
  // Every read of stripes 2.. followed its hint.
  size_t checked = 0;
  for (const auto& [i, t] : reader.reads) {
    if (t < 2 || t >= n) continue;
    EXPECT_TRUE(hinted.count({i, t})) << "member " << i << " stripe " << t;
    ++checked;
  }
  EXPECT_GT(checked, 0u);

  // Lone stripes: nothing hinted.
  StripeRebuilder lone(p.map.get(), p.code.get(), &reader, &p.digests);
  std::vector<uint8_t> out(kChunk);
  uint8_t* outs[] = {out.data()};
  reader.hints.clear();
  for (uint64_t s : {5u, 2u, 7u}) {
    StripeOutcome o;
    ASSERT_VALISE_OK(lone.Rebuild(s, {0}, lost, outs, &o));
    ASSERT_EQ(o.rebuilt, std::vector<uint32_t>{0});
  }
  EXPECT_TRUE(reader.hints.empty());
}

// Goal: where the drives take O_DIRECT, the hints are reads made ahead
// into the reader's own buffers and the rebuild takes its sources from
// them; a hinted chunk on a bad range is read again when asked for, its
// error making it an erasure as before; with O_DIRECT refused, the same
// rebuild reads through the cache. Every chunk comes back byte-exact.
TEST(PackRebuild, DirectReadAheadIsTakenAndFailsLikeARead) {
  for (bool direct : {true, false}) {
    SCOPED_TRACE(direct ? "O_DIRECT" : "page cache");
    PackedShipment p(RaggedSizes(), 6, 2, kChunk, 9);
    const PackLayout& l = p.layout;
    p.disk.SetAllowDirect(direct);
    std::vector<bool> lost(8, false);
    lost[0] = true;
    // Member 1's chunk at stripe 4 unreadable: hinted, then read again.
    ChunkRef bad;
    ASSERT_TRUE(p.map->Locate(1, 4, &bad));
    p.disk.AddBadRange(
        PackedShipment::DataRoot(1) + "/" + l.data[1].files[bad.file].path,
        bad.offset + 100, 1);
    FsStripeReader fs_reader(&p.disk, &l, p.DataRoots(lost),
                             p.ParityRoots(lost));
    HintRecordingReader reader(&fs_reader, p.map.get());
    RebuildDriveZeroInOrder(p, &reader, [](uint64_t) {});
    // Every read that had been hinted was taken from the read-ahead, but
    // the one on the bad range: it failed there, was made again, and
    // failed as a read (the stripe still came back, from parity).
    std::set<std::pair<uint32_t, uint64_t>> hinted(reader.hints.begin(),
                                                   reader.hints.end());
    uint64_t reads_hinted = 0;
    for (const auto& r : reader.reads) reads_hinted += hinted.count(r);
    ASSERT_TRUE(hinted.count({1u, 4u}));
    ASSERT_GT(reads_hinted, 20u);
    EXPECT_EQ(fs_reader.reads_taken_ahead(), direct ? reads_hinted - 1 : 0u);
  }
}

// A ChunkDigests that counts its lookups: one per chunk judged.
class CountingDigests final : public ChunkDigests {
 public:
  explicit CountingDigests(ChunkDigests* inner) : inner_(inner) {}
  Status Data(uint32_t d, const ChunkRef& ref, Sha256Bytes* out) override {
    ++lookups;
    return inner_->Data(d, ref, out);
  }
  Status Parity(uint32_t j, uint64_t stripe, Sha256Bytes* out) override {
    ++lookups;
    return inner_->Parity(j, stripe, out);
  }
  int lookups = 0;

 private:
  ChunkDigests* inner_;
};

// Goal: a stripe whose sources are good is rebuilt checking only what it
// makes (one digest looked up: the rebuilt chunk's, not one per source
// too); with a corrupt source, that check fails, every source read is
// judged, the bad one is named and replaced by a parity member, and the
// chunk still comes back right.
TEST(PackRebuild, JudgesTheSourcesOnlyWhenWhatItMakesFailsItsCheck) {
  PackedShipment p(RaggedSizes(), 6, 2, kChunk, 9);
  const PackLayout& l = p.layout;
  std::vector<bool> lost(8, false);
  lost[0] = true;
  FsStripeReader reader(&p.disk, &p.layout, p.DataRoots(lost),
                        p.ParityRoots(lost));
  CountingDigests digests(&p.digests);
  StripeRebuilder rb(p.map.get(), p.code.get(), &reader, &digests);
  std::vector<uint8_t> out(kChunk);
  uint8_t* outs[] = {out.data()};
  StripeOutcome o;
  ASSERT_VALISE_OK(rb.Rebuild(0, {0}, lost, outs, &o));
  ASSERT_EQ(o.rebuilt, std::vector<uint32_t>{0});
  EXPECT_EQ(o.members_read, 6u);
  EXPECT_EQ(digests.lookups, 1);
  EXPECT_TRUE(o.bad_sources.empty());

  // Data drive 2's chunk of stripe 0 flipped.
  ChunkRef ref;
  ASSERT_TRUE(p.map->Locate(2, 0, &ref));
  p.disk.FlipStoredBit(
      PackedShipment::DataRoot(2) + "/" + l.data[2].files[ref.file].path,
      ref.offset + 5, 1);
  digests.lookups = 0;
  o = StripeOutcome();
  ASSERT_VALISE_OK(rb.Rebuild(0, {0}, lost, outs, &o));
  ASSERT_EQ(o.rebuilt, std::vector<uint32_t>{0});
  EXPECT_EQ(std::string(reinterpret_cast<char*>(out.data()), kChunk),
            p.Member(0, 0));
  ASSERT_EQ(o.bad_sources.size(), 1u);
  EXPECT_EQ(o.bad_sources[0].member, 2u);
  EXPECT_EQ(o.members_read, 7u);  // the six, then a parity member
  // The rebuilt chunk twice, the five good sources, the bad one, the parity.
  EXPECT_EQ(digests.lookups, 1 + 6 + 1 + 1);
}

// Goal: a rebuilt chunk that does not match its signed digest is never
// handed out (here the digest of a lost chunk is wrong, as if the index
// belonged to other data): the chunk is reported lost.
TEST(PackRebuild, RebuiltChunkFailingItsDigestIsLost) {
  PackedShipment p(RaggedSizes(), 4, 2, kChunk, 11);
  p.digests.data[{1, 0, 0}][5] ^= 1;
  std::vector<bool> lost = {false, true, false, false, false, false};
  FsStripeReader reader(&p.disk, &p.layout, p.DataRoots(lost),
                        p.ParityRoots(lost));
  StripeRebuilder rb(p.map.get(), p.code.get(), &reader, &p.digests);
  std::vector<uint8_t> buf(kChunk);
  ChunkSource src;
  Status why;
  ASSERT_VALISE_OK(
      RecoverDataChunk(&rb, 1, 0, 0, lost, buf.data(), &src, &why));
  EXPECT_EQ(src, ChunkSource::kLost);
  EXPECT_TRUE(why.data_loss()) << why.ToString();
  EXPECT_NE(why.message().find("does not match its signed SHA-256"),
            std::string::npos)
      << why.ToString();
  // Chunk 1 of the same file still comes back.
  ASSERT_VALISE_OK(
      RecoverDataChunk(&rb, 1, 0, 1, lost, buf.data(), &src, &why));
  EXPECT_EQ(src, ChunkSource::kRebuilt);
}

// Goal: a file cut short on its drive (a truncated copy) is an erasure
// named as truncation, and its chunks are rebuilt.
TEST(PackRebuild, TruncatedFileIsRebuilt) {
  PackedShipment p(RaggedSizes(), 4, 2, kChunk, 13);
  const PackFile& f = p.layout.data[2].files[0];
  const std::string& c = p.contents.at(f.path);
  p.disk.AddFile(PackedShipment::DataRoot(2) + "/" + f.path,
                 c.substr(0, c.size() / 2));
  FsStripeReader reader(&p.disk, &p.layout, p.DataRoots({}), p.ParityRoots({}));
  StripeRebuilder rb(p.map.get(), p.code.get(), &reader, &p.digests);
  std::vector<uint8_t> buf(kChunk);
  const uint64_t last = PackChunksOf(f.size, kChunk) - 1;
  ChunkSource src;
  Status why;
  ASSERT_VALISE_OK(
      RecoverDataChunk(&rb, 2, 0, last, {}, buf.data(), &src, &why));
  EXPECT_EQ(src, ChunkSource::kRebuilt);
  EXPECT_TRUE(why.IsCorruption()) << why.ToString();
  EXPECT_NE(why.message().find("truncated"), std::string::npos);
  const uint64_t off = last * kChunk;
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf.data()), f.size - off),
            c.substr(off));
}

// Goal: losing every parity drive costs no data, and the assessment says
// the shipment can lose nothing more; no loss leaves m to spare.
TEST(PackRebuild, AssessLossCountsWhatIsLeft) {
  PackedShipment p(RaggedSizes(), 4, 2, kChunk, 17);
  EXPECT_EQ(AssessLoss(*p.map, std::vector<bool>(6, false), {}).spare, 2u);
  EXPECT_EQ(
      AssessLoss(*p.map, std::vector<bool>(6, false), {}).stripes_degraded, 0u);
  std::vector<bool> parity_gone = {false, false, false, false, true, true};
  Recovery r = RecoverAll(p, parity_gone);
  EXPECT_TRUE(r.lost_files.empty());
  EXPECT_TRUE(r.rebuilt_files.empty());
  LossAssessment a = AssessLoss(*p.map, parity_gone, {});
  EXPECT_EQ(a.spare, 0u);
  EXPECT_EQ(a.unrecoverable_files, 0u);
  EXPECT_EQ(a.stripes_degraded, p.layout.stripes);
  // The least filled data drive lost: only its stripes are degraded.
  uint32_t least = 0;
  for (uint32_t d = 0; d < 4; ++d) {
    if (p.layout.data[d].chunks < p.layout.data[least].chunks) least = d;
  }
  std::vector<bool> one(6, false);
  one[least] = true;
  LossAssessment b = AssessLoss(*p.map, one, {});
  EXPECT_EQ(b.stripes_degraded, p.layout.data[least].chunks);
  EXPECT_EQ(b.spare, 1u);
}

// Goal: arguments that name no stripe or member are refused.
TEST(PackRebuild, RefusesBadArguments) {
  PackedShipment p({kChunk * 3, 10}, 2, 1, kChunk, 19);
  FsStripeReader reader(&p.disk, &p.layout, p.DataRoots({}), p.ParityRoots({}));
  StripeRebuilder rb(p.map.get(), p.code.get(), &reader, &p.digests);
  std::vector<uint8_t> buf(kChunk);
  uint8_t* outs[] = {buf.data(), buf.data()};
  StripeOutcome o;
  EXPECT_TRUE(
      rb.Rebuild(p.layout.stripes, {0}, {}, outs, &o).IsInvalidArgument());
  EXPECT_TRUE(rb.Rebuild(0, {3}, {}, outs, &o).IsInvalidArgument());
  EXPECT_TRUE(rb.Rebuild(0, {0, 0}, {}, outs, &o).IsInvalidArgument());
  EXPECT_TRUE(rb.Rebuild(0, {0}, {true}, outs, &o).IsInvalidArgument());
  ChunkSource src;
  Status why;
  EXPECT_TRUE(RecoverDataChunk(&rb, 0, 0, 99, {}, buf.data(), &src, &why)
                  .IsInvalidArgument());
}

}  // namespace
}  // namespace valise
