// The chunk index (M.chunks): writer layout, round trip, hostility.
#include <string>
#include <vector>

#include "support/test_util.h"
#include "valise/manifest.h"

namespace valise {
namespace {

bool Contains(const std::string& s, const std::string& p) {
  return s.find(p) != std::string::npos;
}

ChunkIndex Sample() {
  ChunkIndex idx;
  idx.chunk_size = 4 << 20;
  idx.paths = {"dir/file.bin", "empty", "odd\tname\n%\xFF"};
  std::string a = test::RandomBytes(100, 1), b = test::RandomBytes(50, 2);
  idx.chunks = {{HashChunk(a.data(), a.size()), HashChunk(b.data(), b.size())},
                {},
                {HashChunk(b.data(), 10)}};
  return idx;
}

std::string Hex32(char c) { return std::string(32, c); }

// Goal: the writer's layout is exactly the documented one.
TEST(ChunkIndex, WriterLayoutIsExact) {
  ChunkIndex idx = Sample();
  std::string want = "valise-chunks 1\n# chunk-size 4194304\ndir/file.bin\t" +
                     idx.chunks[0][0].Hex() + idx.chunks[0][1].Hex() +
                     "\nempty\t\nodd%09name%0A%25%FF\t" +
                     idx.chunks[2][0].Hex() + "\n# end files=3\n";
  EXPECT_EQ(WriteChunkIndex(idx), want);
}

// Goal: write then parse gives back the same index (paths, order, chunk
// digests, chunk size), and a random large one too.
TEST(ChunkIndex, RoundTrip) {
  ChunkIndex idx = Sample();
  ChunkIndex back;
  ASSERT_VALISE_OK(ParseChunkIndex(WriteChunkIndex(idx), "M.chunks", &back));
  EXPECT_EQ(back.chunk_size, idx.chunk_size);
  EXPECT_EQ(back.paths, idx.paths);
  EXPECT_EQ(back.chunks, idx.chunks);

  ChunkIndex big;
  big.chunk_size = 1 << 20;
  for (int i = 0; i < 2000; ++i) {
    big.paths.push_back("d" + std::to_string(i % 13) + "/f" +
                        std::to_string(i));
    std::vector<ChunkDigest> c;
    for (int k = 0; k < i % 7; ++k) {
      std::string data = test::RandomBytes(64, i * 10 + k);
      c.push_back(HashChunk(data.data(), data.size()));
    }
    big.chunks.push_back(c);
  }
  ASSERT_VALISE_OK(ParseChunkIndex(WriteChunkIndex(big), "M.chunks", &back));
  EXPECT_EQ(back.paths, big.paths);
  EXPECT_EQ(back.chunks, big.chunks);
}

// Goal: a chunk index cut at any byte fails to parse (truncation is
// detected), as Corruption once past the first line.
TEST(ChunkIndex, TruncationDetectedAtEveryByte) {
  std::string text = WriteChunkIndex(Sample());
  for (size_t len = 0; len < text.size(); ++len) {
    ChunkIndex out;
    Status s =
        ParseChunkIndex(std::string_view(text).substr(0, len), "C", &out);
    EXPECT_FALSE(s.ok()) << len;
    if (len > text.find('\n')) {
      EXPECT_TRUE(s.IsCorruption()) << s.ToString();
    }
  }
}

// Goal: every malformed input is refused naming the line.
TEST(ChunkIndex, Rejections) {
  const std::string head = "valise-chunks 1\n# chunk-size 1024\n";
  struct Case {
    std::string text, want;
  } cases[] = {
      {"valise-chunks 2\n", "C:1: chunk index version '2' not supported"},
      {"valise-manifest 1\n", "C:1: not a chunk index"},
      {"valise-chunks 1\r\n", "C:1: CRLF line ending"},
      {head + "a\t" + Hex32('0') + "\n", "C: truncated: no '# end' trailer"},
      {head + "a\t" + Hex32('0') + "\n# end files=2\n",
       "C:4: trailer says files=2 but 1"},
      {head + "# end files=0\nx\t\n", "C:4: data after the '# end' trailer"},
      {head + "# end files=x\n", "C:3: malformed trailer"},
      {"valise-chunks 1\na\t\n# end files=1\n",
       "C:2: data line before the '# chunk-size' line"},
      {"valise-chunks 1\n# chunk-size 0\n# end files=0\n",
       "C:2: chunk size '0' is not a positive decimal number"},
      {"valise-chunks 1\n# chunk-size -4\n# end files=0\n",
       "C:2: chunk size '-4'"},
      {head + "# chunk-size 1024\n# end files=0\n",
       "C:3: second '# chunk-size' line"},
      {"valise-chunks 1\n# end files=0\n", "C:2: no '# chunk-size' line"},
      {head + "a\t" + Hex32('0').substr(1) + "\n# end files=1\n",
       "C:3: chunk digests: 31 hex digits is not a multiple of 32"},
      {head + "a\t" + Hex32('0') + std::string(31, '0') + "g\n# end files=1\n",
       "C:3: chunk 1: bad hex digit"},
      {head + "a\n# end files=1\n", "C:3: malformed line"},
      {head + "a\tb\tc\n# end files=1\n", "C:3: malformed line"},
      {head + "../a\t\n# end files=1\n", "C:3: unsafe path '../a'"},
      {head + "%2Fa\t\n# end files=1\n",
       "C:3: unsafe path '/a': absolute path"},
      {head + "a%zz\t\n# end files=1\n", "C:3: path 'a%25zz': bad escape"},
      {head + "b\t\na\t\nb\t\n# end files=3\n",
       "C:5: duplicate path 'b' (first at line 3)"},
      {head + "\n# end files=0\n", "C:3: empty line"},
      {head + "a\t\r\n# end files=1\n", "C:3: CRLF line ending"},
  };
  for (const auto& c : cases) {
    ChunkIndex out;
    Status s = ParseChunkIndex(c.text, "C", &out);
    EXPECT_FALSE(s.ok()) << c.want;
    EXPECT_TRUE(Contains(s.message(), c.want))
        << "want '" << c.want << "' in: " << s.message();
  }
  // Comments other than the keywords are ignored; an empty index is valid.
  ChunkIndex out;
  ASSERT_VALISE_OK(ParseChunkIndex(
      "valise-chunks 1\n# hi\n# chunk-size 7\n# chunk-sizes\n# end files=0\n",
      "C", &out));
  EXPECT_EQ(out.chunk_size, 7u);
  EXPECT_TRUE(out.paths.empty());
}

}  // namespace
}  // namespace valise
