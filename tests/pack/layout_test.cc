#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "support/test_util.h"
#include "valise/pack.h"

namespace valise {
namespace {

constexpr uint64_t kChunk = 4096;
constexpr uint64_t kMiB = uint64_t{1} << 20;

std::vector<PackFile> Files(const std::vector<uint64_t>& sizes) {
  std::vector<PackFile> f;
  for (size_t i = 0; i < sizes.size(); ++i) {
    f.push_back({"f" + std::to_string(i), sizes[i]});
  }
  return f;
}

LayoutPlanOptions Opts(uint32_t k, uint32_t m, uint64_t chunk = kChunk) {
  LayoutPlanOptions o;
  o.data_drives = k;
  o.parity_drives = m;
  o.chunk_size = chunk;
  return o;
}

std::vector<std::string> Paths(const DataDriveLayout& d) {
  std::vector<std::string> p;
  for (const PackFile& f : d.files) p.push_back(f.path);
  return p;
}

// Goal: largest files first, each onto the drive holding the fewest chunks
// (ties: the lowest drive), whole files; the stripes are the fullest
// drive's chunks.
TEST(PackLayout, LargestFirstOntoTheEmptiestDrive) {
  // Sizes in chunks: 5, 4, 3, 3, 2, 1, and an empty file.
  std::vector<PackFile> files =
      Files({3 * kChunk, 5 * kChunk, kChunk, 4 * kChunk - 9, 3 * kChunk,
             2 * kChunk, 0});
  PackLayout l;
  ASSERT_VALISE_OK(PlanLayout(files, Opts(3, 1), &l));
  ASSERT_EQ(l.k(), 3u);
  // f1(5) -> d0; f3(4) -> d1; f0(3), f4(3): f0 -> d2, f4 -> d2? d2 has 3,
  // d1 has 4: f4 -> d2 (3 < 4) gives d2 6; f5(2) -> d1 (4) -> 6; f2(1)
  // -> d0 (5) -> 6; f6(0) -> d0 (6, lowest of the ties).
  EXPECT_EQ(Paths(l.data[0]), (std::vector<std::string>{"f1", "f2", "f6"}));
  EXPECT_EQ(Paths(l.data[1]), (std::vector<std::string>{"f3", "f5"}));
  EXPECT_EQ(Paths(l.data[2]), (std::vector<std::string>{"f0", "f4"}));
  EXPECT_EQ(l.data[0].chunks, 6u);
  EXPECT_EQ(l.data[1].chunks, 6u);
  EXPECT_EQ(l.data[2].chunks, 6u);
  EXPECT_EQ(l.data[1].bytes, 6 * kChunk - 9);
  EXPECT_EQ(l.stripes, 6u);
  EXPECT_EQ(l.files(), 7u);
  EXPECT_EQ(l.data[0].label, "data-1");
  ASSERT_EQ(l.m(), 1u);
  EXPECT_EQ(l.parity[0].label, "parity-1");
  ASSERT_EQ(l.parity[0].segments.size(), 1u);
  EXPECT_EQ(l.parity[0].segments[0].path, "valise-parity/parity-1-of-1.0000");
  EXPECT_EQ(l.parity[0].segments[0].stripes, 6u);
}

// Goal: the plan depends on the files, not on the order they are listed
// in (a resumed pack plans again and must find the same layout).
TEST(PackLayout, SameFilesSameLayout) {
  std::vector<PackFile> files;
  for (int i = 0; i < 200; ++i) {
    files.push_back({"d/" + std::to_string(i), uint64_t(i % 17) * 5000});
  }
  PackLayout a, b;
  ASSERT_VALISE_OK(PlanLayout(files, Opts(5, 2), &a));
  std::reverse(files.begin(), files.end());
  std::rotate(files.begin(), files.begin() + 77, files.end());
  ASSERT_VALISE_OK(PlanLayout(files, Opts(5, 2), &b));
  EXPECT_EQ(WriteLayout(a), WriteLayout(b));
  // Balanced within one file's chunks.
  uint64_t lo = UINT64_MAX, hi = 0;
  for (const DataDriveLayout& d : a.data) {
    lo = std::min(lo, d.chunks);
    hi = std::max(hi, d.chunks);
  }
  EXPECT_LE(hi - lo, PackChunksOf(16 * 5000, kChunk));
}

// Goal: capacities are respected (a file goes to the emptiest drive it
// fits on), a file that fits nowhere is named, and parity drives too small
// for the stripes are refused.
TEST(PackLayout, Capacities) {
  LayoutPlanOptions o = Opts(2, 1);
  o.data_capacity = {10 * kChunk, 3 * kChunk};
  PackLayout l;
  ASSERT_VALISE_OK(PlanLayout(Files({4 * kChunk, 3 * kChunk, kChunk}), o, &l));
  EXPECT_EQ(Paths(l.data[0]), (std::vector<std::string>{"f0", "f2"}));
  EXPECT_EQ(Paths(l.data[1]), (std::vector<std::string>{"f1"}));
  Status s = PlanLayout(Files({4 * kChunk, 7 * kChunk, kChunk}), o, &l);
  EXPECT_TRUE(s.IsNoSpace()) << s.ToString();
  EXPECT_NE(s.message().find("f0"), std::string::npos) << s.ToString();
  o.parity_capacity = {4 * kChunk};
  s = PlanLayout(Files({5 * kChunk, kChunk}), o, &l);
  EXPECT_TRUE(s.IsNoSpace()) << s.ToString();
  EXPECT_NE(s.message().find("parity drive parity-1 needs"), std::string::npos)
      << s.ToString();
  // Files are charged whole blocks: 4 one-byte files need 4 blocks.
  o = Opts(1, 0);
  o.data_capacity = {3 * kPackBlockSize};
  EXPECT_TRUE(PlanLayout(Files({1, 1, 1, 1}), o, &l).IsNoSpace());
}

// Goal: --dry-run's count: the fewest drives of a size that hold the
// dataset, parity drives included.
TEST(PackLayout, DataDrivesNeeded) {
  uint32_t k = 0;
  // 10 files of 3 chunks on drives of 7 chunks: 2 files a drive -> 5.
  ASSERT_VALISE_OK(DataDrivesNeeded(
      Files(std::vector<uint64_t>(10, 3 * kChunk)), kChunk, 7 * kChunk, 2, &k));
  EXPECT_EQ(k, 5u);
  ASSERT_VALISE_OK(DataDrivesNeeded(Files({}), kChunk, 7 * kChunk, 0, &k));
  EXPECT_EQ(k, 1u);
  Status s = DataDrivesNeeded(Files({8 * kChunk}), kChunk, 7 * kChunk, 0, &k);
  EXPECT_TRUE(s.IsNoSpace());
  EXPECT_NE(s.message().find("larger than a drive"), std::string::npos);
}

// Goal: bad plans are refused: no drives, too many, a bad chunk size, an
// unsafe or duplicate path, label counts that do not match.
TEST(PackLayout, RefusesBadPlans) {
  PackLayout l;
  EXPECT_TRUE(PlanLayout(Files({1}), Opts(0, 1), &l).IsInvalidArgument());
  EXPECT_TRUE(PlanLayout(Files({1}), Opts(250, 6), &l).IsInvalidArgument());
  EXPECT_TRUE(PlanLayout(Files({1}), Opts(2, 1, 1000), &l).IsInvalidArgument());
  EXPECT_TRUE(PlanLayout({{"../x", 1}}, Opts(2, 1), &l).IsInvalidArgument());
  Status s = PlanLayout({{"a", 1}, {"b", 2}, {"a", 3}}, Opts(2, 1), &l);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("twice"), std::string::npos);
  LayoutPlanOptions o = Opts(2, 1);
  o.data_labels = {"only-one"};
  EXPECT_TRUE(PlanLayout(Files({1}), o, &l).IsInvalidArgument());
}

// Goal: StripeMap finds, for every stripe of every drive, the file chunk a
// walk over the padded files finds; empty files hold no chunk; drives less
// full than the stripes hold zeros.
TEST(PackLayout, StripeMapMatchesAWalk) {
  std::vector<uint64_t> sizes = {0,  kChunk, kChunk + 1, 0, 5 * kChunk - 1,
                                 17, 0,      3 * kChunk};
  for (uint32_t k = 1; k <= 4; ++k) {
    PackLayout l;
    ASSERT_VALISE_OK(PlanLayout(Files(sizes), Opts(k, 1), &l));
    StripeMap map(&l);
    for (uint32_t d = 0; d < k; ++d) {
      // The walk.
      std::vector<ChunkRef> walk;
      for (uint32_t f = 0; f < l.data[d].files.size(); ++f) {
        const uint64_t size = l.data[d].files[f].size;
        for (uint64_t c = 0; c * kChunk < size; ++c) {
          walk.push_back(
              {f, c, c * kChunk, std::min(kChunk, size - c * kChunk)});
        }
      }
      ASSERT_EQ(walk.size(), l.data[d].chunks);
      for (uint64_t s = 0; s < l.stripes + 2; ++s) {
        ChunkRef ref;
        const bool held = map.Locate(d, s, &ref);
        ASSERT_EQ(held, s < walk.size()) << "drive " << d << " stripe " << s;
        if (!held) continue;
        EXPECT_EQ(ref.file, walk[s].file);
        EXPECT_EQ(ref.chunk, walk[s].chunk);
        EXPECT_EQ(ref.offset, walk[s].offset);
        EXPECT_EQ(ref.length, walk[s].length);
        EXPECT_EQ(map.StripeOf(d, ref.file, ref.chunk), s);
      }
    }
  }
}

// Goal: parity files are cut every segment_stripes stripes, named in
// order, and located by stripe.
TEST(PackLayout, ParitySegments) {
  LayoutPlanOptions o = Opts(1, 2);
  o.segment_bytes = 3 * kChunk + 100;  // 3 stripes a parity file
  PackLayout l;
  ASSERT_VALISE_OK(PlanLayout(Files({7 * kChunk}), o, &l));
  EXPECT_EQ(l.segment_stripes, 3u);
  ASSERT_EQ(l.parity.size(), 2u);
  ASSERT_EQ(l.parity[1].segments.size(), 3u);
  EXPECT_EQ(l.parity[1].segments[2].path, "valise-parity/parity-2-of-2.0002");
  EXPECT_EQ(l.parity[1].segments[2].first_stripe, 6u);
  EXPECT_EQ(l.parity[1].segments[2].stripes, 1u);
  size_t seg;
  uint64_t off;
  LocateParity(l, 4, &seg, &off);
  EXPECT_EQ(seg, 1u);
  EXPECT_EQ(off, kChunk);
  EXPECT_EQ(ParitySegmentPath(0, 3, 12345),
            "valise-parity/parity-1-of-3.12345");
}

PackLayout Sample() {
  LayoutPlanOptions o = Opts(3, 2, kMiB);
  o.data_labels = {"ship 01", "ship-02", "ship%03"};
  o.parity_labels = {"par-a", "par-b"};
  o.segment_bytes = 2 * kMiB;
  PackLayout l;
  std::vector<PackFile> files = {{"big.bin", 5 * kMiB + 3},
                                 {"dir/with space", kMiB},
                                 {"caf\xc3\xa9\tname", 10},
                                 {"empty", 0},
                                 {"nl\nname", 2 * kMiB}};
  EXPECT_TRUE(PlanLayout(files, o, &l).ok());
  for (auto& p : l.parity) {
    for (auto& s : p.segments) s.sha256[0] = static_cast<uint8_t>(s.stripes);
  }
  return l;
}

// Goal: M.layout round-trips: every field, escaped paths and labels.
TEST(PackLayoutFormat, RoundTrip) {
  const PackLayout l = Sample();
  const std::string text = WriteLayout(l);
  EXPECT_EQ(text.substr(0, 16), "valise-layout 1\n");
  EXPECT_NE(text.find("label=ship 01\n"), std::string::npos) << text;
  EXPECT_NE(text.find("nl%0Aname"), std::string::npos) << text;
  PackLayout back;
  ASSERT_VALISE_OK(ParseLayout(text, "M.layout", &back));
  EXPECT_EQ(WriteLayout(back), text);
  ASSERT_EQ(back.k(), 3u);
  ASSERT_EQ(back.m(), 2u);
  EXPECT_EQ(back.chunk_size, kMiB);
  EXPECT_EQ(back.stripes, l.stripes);
  EXPECT_EQ(back.data[2].label, "ship%03");
  EXPECT_EQ(back.parity[1].segments.back().sha256,
            l.parity[1].segments.back().sha256);
  bool saw_nl = false;
  for (const auto& d : back.data) {
    for (const auto& f : d.files) saw_nl |= f.path == "nl\nname";
  }
  EXPECT_TRUE(saw_nl);
}

// Replaces the first occurrence of `from` in `s`.
std::string Edit(std::string s, const std::string& from,
                 const std::string& to) {
  size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

// Goal: the reader is strict: truncation is Corruption, another version
// NotSupported, and every count, path and range is checked, naming the
// line.
TEST(PackLayoutFormat, StrictReader) {
  const std::string text = WriteLayout(Sample());
  PackLayout l;
  // Truncated: no trailer, a cut last line.
  EXPECT_TRUE(
      ParseLayout(text.substr(0, text.find("# end")), "M", &l).IsCorruption());
  EXPECT_TRUE(
      ParseLayout(text.substr(0, text.size() - 1), "M", &l).IsCorruption());
  EXPECT_TRUE(ParseLayout("", "M", &l).IsCorruption());
  EXPECT_TRUE(
      ParseLayout(Edit(text, "valise-layout 1", "valise-layout 2"), "M", &l)
          .IsNotSupported());
  EXPECT_TRUE(ParseLayout(Edit(text, "isa-l-cauchy1", "isa-l-vand"), "M", &l)
                  .IsNotSupported());
  // Counts.
  Status s =
      ParseLayout(Edit(text, "# end drives=5", "# end drives=6"), "M", &l);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  s = ParseLayout(Edit(text, "# stripes ", "# stripes 1"), "M", &l);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  s = ParseLayout(Edit(text, "data=3", "data=4"), "M", &l);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  const size_t bytes_at = text.find(" bytes=") + 7;
  std::string wrong_bytes = text;
  wrong_bytes.insert(bytes_at, "1");
  s = ParseLayout(wrong_bytes, "M", &l);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("its files hold"), std::string::npos);
  // Paths: unsafe, duplicate.
  s = ParseLayout(Edit(text, "\tempty\n", "\t../empty\n"), "M", &l);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  s = ParseLayout(Edit(text, "\tempty\n", "\tbig.bin\n"), "M", &l);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("twice"), std::string::npos);
  // CRLF, garbage after the trailer, drives out of order.
  std::string crlf = text;
  crlf.insert(crlf.find('\n'), "\r");
  EXPECT_TRUE(ParseLayout(crlf, "M", &l).IsInvalidArgument());
  EXPECT_TRUE(ParseLayout(text + "x\n", "M", &l).IsInvalidArgument());
  s = ParseLayout(Edit(text, "drive data 2", "drive data 3"), "M", &l);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  // A parity file's range that does not follow the one before.
  s = ParseLayout(Edit(text, "\n2\t", "\n3\t"), "M", &l);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("M:"), std::string::npos) << s.ToString();
}

// Goal: a layout and a manifest that disagree (a file missing from one,
// a size that differs) are refused, naming the path.
TEST(PackLayoutFormat, MatchesManifest) {
  PackLayout l;
  ASSERT_VALISE_OK(PlanLayout({{"a", 10}, {"b", 20}}, Opts(2, 1), &l));
  DigestSet set;
  set.Add(DigestType::kXxh128);
  auto manifest = [&](std::vector<std::pair<std::string, uint64_t>> e) {
    Manifest m(set);
    Digest d;
    d.type = DigestType::kXxh128;
    d.size = 16;
    for (auto& [p, size] : e) m.Add(p, size, 0, {d});
    Status s = m.Finish();
    EXPECT_TRUE(s.ok()) << s.ToString();
    return m;
  };
  EXPECT_VALISE_OK(
      CheckLayoutMatchesManifest(l, manifest({{"a", 10}, {"b", 20}}), "L"));
  Status s =
      CheckLayoutMatchesManifest(l, manifest({{"a", 10}, {"b", 21}}), "L");
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_NE(s.message().find("b: 20 bytes in the layout, 21"),
            std::string::npos)
      << s.ToString();
  s = CheckLayoutMatchesManifest(l, manifest({{"a", 10}}), "L");
  EXPECT_NE(s.message().find("b is on data drive data-"), std::string::npos)
      << s.ToString();
  s = CheckLayoutMatchesManifest(l, manifest({{"a", 10}, {"b", 20}, {"c", 1}}),
                                 "L");
  EXPECT_NE(s.message().find("c is in the manifest but on no data drive"),
            std::string::npos)
      << s.ToString();
}

// Goal: M.parity's header round-trips and its offsets put stripe s, parity
// drive j at 64 + (s*m + j)*32; bad headers are refused as documented.
TEST(PackLayoutFormat, ParityDigestsHeader) {
  ParityDigestsHeader h{kMiB, 1000, 3};
  const std::string bytes = EncodeParityDigestsHeader(h);
  ASSERT_EQ(bytes.size(), 64u);
  EXPECT_EQ(bytes.substr(0, 16), "valise-parity 1\n");
  ParityDigestsHeader back;
  ASSERT_VALISE_OK(DecodeParityDigestsHeader(bytes, "M.parity", &back));
  EXPECT_EQ(back.chunk_size, kMiB);
  EXPECT_EQ(back.stripes, 1000u);
  EXPECT_EQ(back.parity_drives, 3u);
  EXPECT_EQ(ParityDigestOffset(back, 2, 1), 64u + (2 * 3 + 1) * 32);
  EXPECT_EQ(ParityDigestsSize(back), 64u + 1000 * 3 * 32);
  EXPECT_TRUE(DecodeParityDigestsHeader(bytes.substr(0, 63), "P", &back)
                  .IsCorruption());
  std::string v2 = bytes;
  v2[14] = '2';
  EXPECT_TRUE(DecodeParityDigestsHeader(v2, "P", &back).IsNotSupported());
  std::string junk = bytes;
  junk[0] = 'X';
  EXPECT_TRUE(DecodeParityDigestsHeader(junk, "P", &back).IsInvalidArgument());
  std::string algo = bytes;
  algo[36] = 2;
  EXPECT_TRUE(DecodeParityDigestsHeader(algo, "P", &back).IsNotSupported());
  std::string reserved = bytes;
  reserved[50] = 1;
  EXPECT_TRUE(
      DecodeParityDigestsHeader(reserved, "P", &back).IsInvalidArgument());
}

}  // namespace
}  // namespace valise
