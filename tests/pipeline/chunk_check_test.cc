// Signed chunk digests on the simulated disk (issue 15, item 1): bound
// sidecars checked before use and on every later read; valise manifest's
// chunk index v2 written as the files are read; verify and ingest
// locating a corrupt copy to the exact chunks that differ.
#include "pipeline/chunk_check.h"

#include <algorithm>

#include "support/pipeline_util.h"
#include "support/test_util.h"
#include "valise/chunk_index_v2.h"
#include "valise/manifest.h"
#include "valise/pipeline.h"
#include "valise/sidecar.h"
#include "valise/sim_disk.h"

namespace valise {
namespace {

constexpr size_t kChunk = 64 << 10;

PipelineOptions SmallOptions() { return test::SmallPipelineOptions(kChunk, 2); }

using test::ShaXxh;

Manifest OneBinding(std::string_view name, std::string_view data) {
  Manifest m(ShaXxh());
  EXPECT_VALISE_OK(m.Finish());
  m.Bind(name, BindingOf(data));
  return m;
}

// Goal: a small sidecar is handed out only when its size and SHA-256 are
// the binding's; otherwise the error names the sidecar and the manifest.
TEST(BoundSidecar, LoadChecksSizeAndDigest) {
  SimDisk disk{SimDiskOptions()};
  Manifest m = OneBinding("drives", "abc");
  std::string data;
  Status s = LoadBoundSidecar(&disk, "m/M", m, "drives", 1 << 20, &data);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();  // not there yet
  disk.AddFile("m/M.drives", "abc");
  ASSERT_VALISE_OK(LoadBoundSidecar(&disk, "m/M", m, "drives", 1 << 20, &data));
  EXPECT_EQ(data, "abc");
  for (const char* other : {"abd", "abcd", ""}) {
    disk.AddFile("m/M.drives", other);
    s = LoadBoundSidecar(&disk, "m/M", m, "drives", 1 << 20, &data);
    EXPECT_TRUE(s.IsCorruption()) << other << ": " << s.ToString();
    EXPECT_NE(s.ToString().find("m/M.drives"), std::string::npos);
    EXPECT_NE(s.ToString().find("binding in m/M "), std::string::npos)
        << s.ToString();
  }
  s = LoadBoundSidecar(&disk, "m/M", m, "layout", 1 << 20, &data);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_NE(s.ToString().find("binds no 'layout'"), std::string::npos);
  disk.AddFile("m/M.drives", "abc");
  s = LoadBoundSidecar(&disk, "m/M", m, "drives", 2, &data);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
}

// Goal: a large sidecar is checked whole when opened, and every later read
// is checked again against the digests of the segments it touches, so a
// file rewritten after the check is caught, not used.
TEST(BoundSidecar, OpenChecksEveryLaterRead) {
  SimDisk disk{SimDiskOptions()};
  // 7 segments of 64 KiB, the last one short.
  const std::string data = test::RandomBytes(400 << 10, 7);
  disk.AddFile("m/M.chunks", data);
  Manifest m = OneBinding("chunks", data);
  std::unique_ptr<PositionalSource> src;
  ASSERT_VALISE_OK(OpenBoundSidecar(&disk, "m/M", m, "chunks", &src));
  EXPECT_EQ(src->size(), data.size());
  // Reads across segment boundaries give the bytes.
  for (uint64_t at : {uint64_t{0}, uint64_t{65530}, uint64_t{131000}}) {
    std::string got(70000, '\0');
    ASSERT_VALISE_OK(src->ReadAt(at, got.size(), got.data()));
    EXPECT_TRUE(got == data.substr(at, got.size())) << at;
  }
  std::string past(10, '\0');
  EXPECT_TRUE(
      src->ReadAt(data.size() - 5, 10, past.data()).IsInvalidArgument());
  // Rewritten under the open file: a segment not read yet ([320 KiB,
  // 384 KiB)) is refused; the bytes already checked and kept are still
  // handed out (they are the ones checked).
  disk.FlipStoredBit("m/M.chunks", (320 << 10) + 100, 3);
  disk.FlipStoredBit("m/M.chunks", 10, 3);
  Status s = src->ReadAt((320 << 10) + 50, 100, past.data());
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("changed since"), std::string::npos);
  ASSERT_VALISE_OK(src->ReadAt(5, 10, past.data()));
  EXPECT_TRUE(past == data.substr(5, 10));
  // Tampered before the open: refused at once, naming both files.
  s = OpenBoundSidecar(&disk, "m/M", m, "chunks", &src);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.ToString().find("m/M.chunks"), std::string::npos);
  EXPECT_NE(s.ToString().find("binding in m/M "), std::string::npos);
  disk.AddFile("m/M.chunks", data.substr(1));
  s = OpenBoundSidecar(&disk, "m/M", m, "chunks", &src);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
}

// d1: a (5 chunks and 17 bytes), empty, shared/s (5 chunks); d2: b (one
// chunk), shared/s (the same content again).
std::unique_ptr<SimDisk> TwoDrives() {
  auto disk = std::make_unique<SimDisk>(SimDiskOptions());
  disk->AddFile("d1/a", test::RandomBytes(5 * kChunk + 17, 1), 1000);
  disk->AddFile("d1/empty", "", 1001);
  disk->AddFile("d1/shared/s", test::RandomBytes(5 * kChunk, 2), 1002);
  disk->AddFile("d2/b", test::RandomBytes(kChunk, 3), 1003);
  disk->AddFile("d2/shared/s", test::RandomBytes(5 * kChunk, 2), 1002);
  disk->AddDir("m");
  return disk;
}

// The chunk SHA-256s of `data`, computed here.
std::vector<ChunkSha256> ChunkShas(const std::string& data, size_t cs) {
  std::vector<ChunkSha256> out;
  for (size_t at = 0; at < data.size(); at += cs) {
    auto h = Hasher::New(DigestType::kSha256);
    h->Update(data.data() + at, std::min(cs, data.size() - at));
    Digest d = h->Finish();
    ChunkSha256 c;
    memcpy(c.data(), d.bytes.data(), 32);
    out.push_back(c);
  }
  return out;
}

// Makes the manifest of d1 and d2 with its index m/M.chunks, bound to it,
// as valise manifest does.
Manifest MakeWithIndex(SimDisk* disk, size_t chunk = kChunk) {
  std::unique_ptr<Directory> dir;
  EXPECT_VALISE_OK(disk->OpenDirectory("m", false, &dir));
  std::unique_ptr<File> file;
  EXPECT_VALISE_OK(dir->CreateFile("M.chunks", WriteOptions(), &file));
  Manifest m;
  ManifestSummary summary;
  PipelineOptions opt = SmallOptions();
  opt.chunk_size = chunk;
  Status s = MakeManifest(disk, {"d1", "d2"}, ShaXxh(), opt, &m, nullptr,
                          &summary, file.get());
  EXPECT_TRUE(s.ok()) << s.ToString();
  file.reset();
  SidecarBinding b;
  EXPECT_VALISE_OK(BindFile(disk, "m/M.chunks", &b));
  m.Bind(kChunkIndexSidecar, b);
  return m;
}

std::unique_ptr<ChunkIndexV2> OpenIndex(SimDisk* disk, const Manifest& m) {
  std::unique_ptr<PositionalSource> src;
  EXPECT_VALISE_OK(OpenBoundSidecar(disk, "m/M", m, "chunks", &src));
  std::unique_ptr<ChunkIndexV2> index;
  EXPECT_VALISE_OK(ChunkIndexV2::Open(std::move(src), m, &index));
  return index;
}

const FileResult* Find(const RunReport& r, std::string_view path,
                       FileStatus status) {
  for (const FileResult& f : r.files) {
    if (f.path == path && f.status == status) return &f;
  }
  return nullptr;
}

// Goal: valise manifest's index holds the SHA-256 of every chunk of every
// file in manifest order, whatever order the drives were read in, a path
// found on two drives once, an empty file with no chunk.
TEST(ChunkCheckPipeline, ManifestWritesIndexV2) {
  auto disk = TwoDrives();
  Manifest m = MakeWithIndex(disk.get());
  ASSERT_EQ(m.size(), 4u);  // a b empty shared/s
  std::vector<uint64_t> sizes;
  std::vector<std::vector<ChunkSha256>> want;
  for (const char* p : {"d1/a", "d2/b", "d1/empty", "d1/shared/s"}) {
    std::string data;
    ASSERT_TRUE(disk->GetFile(p, &data));
    sizes.push_back(data.size());
    want.push_back(ChunkShas(data, kChunk));
  }
  std::string got;
  ASSERT_TRUE(disk->GetFile("m/M.chunks", &got));
  EXPECT_TRUE(got == EncodeChunkIndexV2(kChunk, sizes, want));
  EXPECT_EQ(m.binding("chunks")->bytes, got.size());
  auto index = OpenIndex(disk.get(), m);
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->header().chunks, 6u + 1u + 0u + 5u);
}

// Goal: verify with the signed index names exactly the chunks that differ
// (adjacent ones as one range, a short last chunk by its own length), in
// the index's chunk size whatever the run asked for; intact files pass.
TEST(ChunkCheckPipeline, VerifyLocatesEveryBadChunk) {
  auto disk = TwoDrives();
  Manifest m = MakeWithIndex(disk.get());
  auto index = OpenIndex(disk.get(), m);
  ASSERT_NE(index, nullptr);
  PipelineOptions opt = SmallOptions();
  opt.chunk_size = 4 * kChunk;  // the index's 64 KiB wins
  opt.chunk_index = index.get();
  {
    RunReport r;
    ASSERT_VALISE_OK(
        VerifyDrives(disk.get(), m, nullptr, {"d1", "d2"}, opt, &r));
    EXPECT_EQ(r.ExitCode(), 0) << FormatSummary(r);
    EXPECT_EQ(r.files_ok, 4u);
  }
  disk->FlipStoredBit("d1/a", 1 * kChunk + 9, 0);
  disk->FlipStoredBit("d1/a", 3 * kChunk, 7);
  disk->FlipStoredBit("d1/a", 4 * kChunk + 100, 1);
  disk->FlipStoredBit("d1/a", 5 * kChunk + 16, 1);  // the 17-byte tail
  disk->FlipStoredBit("d1/shared/s", 2 * kChunk + 1, 4);
  RunReport r;
  ASSERT_VALISE_OK(VerifyDrives(disk.get(), m, nullptr, {"d1", "d2"}, opt, &r));
  EXPECT_EQ(r.chunk_size, kChunk);
  EXPECT_EQ(r.ExitCode(), 1);
  EXPECT_TRUE(r.fatal_error.empty()) << r.fatal_error;
  const FileResult* a = Find(r, "a", FileStatus::kCorrupt);
  ASSERT_NE(a, nullptr) << FormatSummary(r);
  EXPECT_EQ(a->first_bad_offset, int64_t(kChunk));
  ASSERT_EQ(a->corrupt_ranges.size(), 2u);
  EXPECT_EQ(a->corrupt_ranges[0].offset, kChunk);
  EXPECT_EQ(a->corrupt_ranges[0].length, kChunk);
  EXPECT_EQ(a->corrupt_ranges[1].offset, 3 * kChunk);
  EXPECT_EQ(a->corrupt_ranges[1].length, 2 * kChunk + 17);
  EXPECT_NE(a->detail.find("4 of 6 chunks differ"), std::string::npos)
      << a->detail;
  const FileResult* s = Find(r, "shared/s", FileStatus::kCorrupt);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->drive, 0);
  ASSERT_EQ(s->corrupt_ranges.size(), 1u);
  EXPECT_EQ(s->corrupt_ranges[0].offset, 2 * kChunk);
  EXPECT_EQ(r.files_ok, 3u);  // shared/s is whole on d2
  const std::string json = FormatJson(r);
  EXPECT_NE(
      json.find("\"corrupt_ranges\":[{\"offset\":65536,\"length\":65536}"),
      std::string::npos)
      << json;
}

// Goal: ingest locates a corrupt copy's bad chunk the same way, and the
// file still lands from the good copy; a file of one chunk (its chunk
// checked with its whole-file SHA-256, hashed once) too.
TEST(ChunkCheckPipeline, IngestLocatesBadChunk) {
  auto disk = TwoDrives();
  Manifest m = MakeWithIndex(disk.get());
  auto index = OpenIndex(disk.get(), m);
  ASSERT_NE(index, nullptr);
  disk->FlipStoredBit("d1/a", 2 * kChunk + 3, 5);
  disk->FlipStoredBit("d2/b", kChunk - 1, 0);
  PipelineOptions opt = SmallOptions();
  opt.chunk_index = index.get();
  IngestOptions io;
  io.depth = 4;
  RunReport r;
  ASSERT_VALISE_OK(
      IngestDrives(disk.get(), m, {"d1", "d2"}, "dest", opt, io, &r));
  EXPECT_EQ(r.ExitCode(), 1);
  const FileResult* a = Find(r, "a", FileStatus::kCorrupt);
  ASSERT_NE(a, nullptr) << FormatSummary(r);
  EXPECT_EQ(a->first_bad_offset, int64_t(2 * kChunk));
  ASSERT_EQ(a->corrupt_ranges.size(), 1u);
  EXPECT_EQ(a->corrupt_ranges[0].length, kChunk);
  const FileResult* b = Find(r, "b", FileStatus::kCorrupt);
  ASSERT_NE(b, nullptr) << FormatSummary(r);
  EXPECT_EQ(b->first_bad_offset, 0);
  ASSERT_EQ(b->corrupt_ranges.size(), 1u);
  EXPECT_EQ(b->corrupt_ranges[0].length, kChunk);
  std::string got;
  EXPECT_TRUE(disk->GetFile("dest/shared/s", &got));
  EXPECT_FALSE(disk->GetFile("dest/a", &got));
  EXPECT_FALSE(disk->GetFile("dest/b", &got));
}

// Goal: --hash-only without sha256 (drive speed) computes no chunk SHA-256:
// the corrupt file is found but not located, and the report says why;
// with sha256 among them the chunks are checked.
TEST(ChunkCheckPipeline, HashOnlyWithoutSha256SkipsTheCheck) {
  auto disk = TwoDrives();
  Manifest m = MakeWithIndex(disk.get());
  auto index = OpenIndex(disk.get(), m);
  ASSERT_NE(index, nullptr);
  disk->FlipStoredBit("d1/a", 2 * kChunk + 3, 5);
  for (DigestType only : {DigestType::kXxh128, DigestType::kSha256}) {
    PipelineOptions opt = SmallOptions();
    opt.chunk_index = index.get();
    opt.hash_only.Add(only);
    RunReport r;
    ASSERT_VALISE_OK(
        VerifyDrives(disk.get(), m, nullptr, {"d1", "d2"}, opt, &r));
    const FileResult* a = Find(r, "a", FileStatus::kCorrupt);
    ASSERT_NE(a, nullptr) << FormatSummary(r);
    const bool noted = std::find(r.notes.begin(), r.notes.end(),
                                 kChunkCheckSkipped) != r.notes.end();
    if (only == DigestType::kXxh128) {
      EXPECT_TRUE(a->corrupt_ranges.empty());
      EXPECT_EQ(a->first_bad_offset, -1);
      EXPECT_TRUE(noted);
    } else {
      EXPECT_EQ(a->corrupt_ranges.size(), 1u);
      EXPECT_FALSE(noted);
    }
    RunReport ri;
    IngestOptions io;
    io.depth = 4;
    ASSERT_VALISE_OK(IngestDrives(disk.get(), m, {"d1", "d2"},
                                  only == DigestType::kXxh128 ? "dx" : "ds",
                                  opt, io, &ri));
    a = Find(ri, "a", FileStatus::kCorrupt);
    ASSERT_NE(a, nullptr) << FormatSummary(ri);
    EXPECT_EQ(a->corrupt_ranges.empty(), only == DigestType::kXxh128);
    EXPECT_EQ(std::find(ri.notes.begin(), ri.notes.end(), kChunkCheckSkipped) !=
                  ri.notes.end(),
              only == DigestType::kXxh128);
  }
}

// The index's bytes, whose reads after the header fail as a bound sidecar's
// do once the file changed under the run (BoundSidecar.OpenChecksEveryLater
// Read shows that they do).
class ChangedSource final : public PositionalSource {
 public:
  explicit ChangedSource(std::string data) : mem_("m/M.chunks", data) {}
  const std::string& name() const override { return mem_.name(); }
  uint64_t size() const override { return mem_.size(); }
  Status ReadAt(uint64_t offset, size_t n, char* out) const override {
    if (offset >= kChunkIndexV2HeaderSize) {
      return Status::Corruption(name(),
                                "bytes changed since the file was "
                                "checked against its binding");
    }
    return mem_.ReadAt(offset, n, out);
  }

 private:
  MemorySource mem_;
};

// Goal: an index that cannot be read during the run (changed after it was
// checked) is trouble, exit 2, not a silent pass or a wrong chunk. Where
// the whole-file digests decide (--hash-only sha256), the index is read only to
// locate the damage in a copy found corrupt: with every copy intact it is
// not read at all (no chunk SHA-256 computed: each byte is hashed with
// SHA-256 once), and the run is clean.
TEST(ChunkCheckPipeline, IndexChangedAfterItsCheckIsTrouble) {
  auto disk = TwoDrives();
  Manifest m = MakeWithIndex(disk.get());
  std::string bytes;
  ASSERT_TRUE(disk->GetFile("m/M.chunks", &bytes));
  std::unique_ptr<ChunkIndexV2> index;
  ASSERT_VALISE_OK(
      ChunkIndexV2::Open(std::make_unique<ChangedSource>(bytes), m, &index));
  PipelineOptions opt = SmallOptions();
  opt.chunk_index = index.get();
  opt.hash_only.Add(DigestType::kSha256);
  RunReport clean;
  ASSERT_VALISE_OK(
      VerifyDrives(disk.get(), m, nullptr, {"d1", "d2"}, opt, &clean));
  EXPECT_EQ(clean.ExitCode(), 0) << FormatSummary(clean);
  EXPECT_EQ(clean.files_ok, 4u);
  disk->FlipStoredBit("d1/a", 2 * kChunk + 9, 0);
  RunReport r;
  ASSERT_VALISE_OK(VerifyDrives(disk.get(), m, nullptr, {"d1", "d2"}, opt, &r));
  EXPECT_EQ(r.ExitCode(), 2) << FormatSummary(r);
  EXPECT_NE(r.fatal_error.find("changed since"), std::string::npos)
      << r.fatal_error;
}

// ---------------------------------------------------------------------
// Deciding by the signed chunk digests alone (issue 15, item 2).

// `m` with entry `path`'s whole-file digests altered (its bindings kept):
// a manifest whose whole-file and chunk digests disagree, to tell which
// of them a run compared.
Manifest WithWrongFileDigests(const Manifest& m, std::string_view path) {
  Manifest out(m.digests());
  for (size_t e = 0; e < m.size(); ++e) {
    std::vector<Digest> d;
    for (DigestType t : m.digests().Types()) {
      Digest x = m.digest(e, t);
      if (m.path(e) == path) x.bytes[0] ^= 1;
      d.push_back(x);
    }
    out.Add(m.path(e), m.file_size(e), m.mtime_ns(e), d);
  }
  EXPECT_VALISE_OK(out.Finish());
  for (const auto& [name, b] : m.bindings()) out.Bind(name, b);
  return out;
}

bool Contains(const std::string& text, std::string_view what) {
  return text.find(what) != std::string::npos;
}

// Goal: with a chunk index, signed or not, the chunk digests decide alone:
// a file whose every chunk matches is intact even though M's whole-file
// digest of it is wrong (so that digest was not what decided), and the
// report says how files were checked and whether M's signature was
// (summary and JSON); with --hash-only the whole-file digests decide as
// before and the file is corrupt. Ingest alike: the file is staged, and
// its journal record carries the manifest's digests.
TEST(ChunkVerifyBySigned, ChunkDigestsDecideAlone) {
  auto disk = TwoDrives();
  Manifest m = WithWrongFileDigests(MakeWithIndex(disk.get()), "b");
  auto index = OpenIndex(disk.get(), m);
  ASSERT_NE(index, nullptr);
  enum Mode { kUnsigned, kSigned, kSignedHashOnly };
  for (Mode mode : {kUnsigned, kSigned, kSignedHashOnly}) {
    SCOPED_TRACE(mode);
    PipelineOptions opt = SmallOptions();
    opt.chunk_index = index.get();
    opt.chunk_index_signed = mode != kUnsigned;
    if (mode == kSignedHashOnly) opt.hash_only.Add(DigestType::kSha256);
    const bool by_chunks = mode != kSignedHashOnly;
    const CheckedBy want_by = mode == kSigned     ? CheckedBy::kSignedChunks
                              : mode == kUnsigned ? CheckedBy::kChunks
                                                  : CheckedBy::kFileDigests;
    EXPECT_EQ(DecidesByChunks(opt), by_chunks);
    RunReport r;
    ASSERT_VALISE_OK(
        VerifyDrives(disk.get(), m, nullptr, {"d1", "d2"}, opt, &r));
    const std::string summary = FormatSummary(r);
    const std::string json = FormatJson(r);
    if (by_chunks) {
      EXPECT_EQ(r.ExitCode(), 0) << summary;
      EXPECT_EQ(r.files_ok, 4u);
      EXPECT_EQ(r.checked_by, want_by);
      if (mode == kSigned) {
        EXPECT_TRUE(Contains(summary, "checked by: signed chunk digests"))
            << summary;
        EXPECT_TRUE(Contains(json, "\"checked_by\": \"signed-chunk-digests\""))
            << json;
      } else {
        // (The summary wraps at 79 columns.)
        EXPECT_TRUE(Contains(summary,
                             "checked by: chunk digests (the SHA-256 of every "
                             "64.0 KiB chunk"))
            << summary;
        EXPECT_TRUE(Contains(summary, "whose signature was not checked"))
            << summary;
        EXPECT_TRUE(Contains(json, "\"checked_by\": \"chunk-digests\""))
            << json;
      }
    } else {
      EXPECT_EQ(r.ExitCode(), 1) << summary;
      const FileResult* b = Find(r, "b", FileStatus::kCorrupt);
      ASSERT_NE(b, nullptr) << summary;
      EXPECT_TRUE(Contains(b->detail, " mismatch")) << b->detail;
      EXPECT_TRUE(Contains(b->detail, "every chunk matches")) << b->detail;
      EXPECT_EQ(r.checked_by, CheckedBy::kFileDigests);
      EXPECT_FALSE(Contains(summary, "checked by:"));
      EXPECT_TRUE(Contains(json, "\"checked_by\": \"file-digests\""));
    }
    const std::string dest = "dest" + std::to_string(mode);
    IngestOptions io;
    io.depth = 4;
    RunReport ri;
    ASSERT_VALISE_OK(
        IngestDrives(disk.get(), m, {"d1", "d2"}, dest, opt, io, &ri));
    std::string got;
    EXPECT_EQ(disk->GetFile(dest + "/b", &got), by_chunks) << FormatSummary(ri);
    EXPECT_EQ(ri.ExitCode(), by_chunks ? 0 : 1) << FormatSummary(ri);
    EXPECT_EQ(ri.checked_by, want_by);
    if (!by_chunks) continue;
    // The journal (binary) records the manifest's digests of what it
    // staged.
    std::string journal;
    ASSERT_TRUE(disk->GetFile(dest + "/.valise/journal", &journal));
    const Digest want = m.digest(m.Find("b"), DigestType::kSha256);
    EXPECT_TRUE(Contains(
        journal, std::string(reinterpret_cast<const char*>(want.bytes.data()),
                             want.size)));
  }
}

// Goal: deciding by chunks, a corrupt copy is located to exactly its bad
// chunks (the short last one by its own length), the file's other copy is
// what makes it whole, and ingest stages only good bytes.
TEST(ChunkVerifyBySigned, LocatesEveryBadChunk) {
  auto disk = TwoDrives();
  Manifest m = MakeWithIndex(disk.get());
  auto index = OpenIndex(disk.get(), m);
  ASSERT_NE(index, nullptr);
  disk->FlipStoredBit("d1/a", 1 * kChunk + 9, 0);
  disk->FlipStoredBit("d1/a", 3 * kChunk, 7);
  disk->FlipStoredBit("d1/a", 5 * kChunk + 16, 1);  // the 17-byte tail
  disk->FlipStoredBit("d1/shared/s", 4 * kChunk + 1, 4);
  PipelineOptions opt = SmallOptions();
  opt.chunk_index = index.get();
  opt.chunk_index_signed = true;
  RunReport r;
  ASSERT_VALISE_OK(VerifyDrives(disk.get(), m, nullptr, {"d1", "d2"}, opt, &r));
  EXPECT_EQ(r.ExitCode(), 1);
  EXPECT_TRUE(r.fatal_error.empty()) << r.fatal_error;
  const FileResult* a = Find(r, "a", FileStatus::kCorrupt);
  ASSERT_NE(a, nullptr) << FormatSummary(r);
  EXPECT_EQ(a->first_bad_offset, int64_t(kChunk));
  ASSERT_EQ(a->corrupt_ranges.size(), 3u);
  EXPECT_EQ(a->corrupt_ranges[0].offset, kChunk);
  EXPECT_EQ(a->corrupt_ranges[0].length, kChunk);
  EXPECT_EQ(a->corrupt_ranges[1].offset, 3 * kChunk);
  EXPECT_EQ(a->corrupt_ranges[1].length, kChunk);
  EXPECT_EQ(a->corrupt_ranges[2].offset, 5 * kChunk);
  EXPECT_EQ(a->corrupt_ranges[2].length, 17u);
  EXPECT_EQ(a->detail, "3 of 6 chunks differ from their chunk digests");
  const FileResult* s = Find(r, "shared/s", FileStatus::kCorrupt);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->drive, 0);
  EXPECT_EQ(s->first_bad_offset, int64_t(4 * kChunk));
  EXPECT_TRUE(Contains(s->detail, "a good copy is on d2")) << s->detail;
  EXPECT_EQ(r.files_ok, 3u);

  IngestOptions io;
  io.depth = 4;
  RunReport ri;
  ASSERT_VALISE_OK(
      IngestDrives(disk.get(), m, {"d1", "d2"}, "dest", opt, io, &ri));
  EXPECT_EQ(ri.ExitCode(), 1);
  a = Find(ri, "a", FileStatus::kCorrupt);
  ASSERT_NE(a, nullptr) << FormatSummary(ri);
  EXPECT_EQ(a->corrupt_ranges.size(), 3u);
  std::string got, want;
  EXPECT_FALSE(disk->GetFile("dest/a", &got));
  ASSERT_TRUE(disk->GetFile("dest/shared/s", &got));
  ASSERT_TRUE(disk->GetFile("d2/shared/s", &want));
  EXPECT_TRUE(got == want);
  // Its copy on d1, if it was read first, was repaired from d2.
  s = Find(ri, "shared/s", FileStatus::kCorrupt);
  if (s != nullptr) {
    EXPECT_EQ(s->repaired_from, 1);
  }
}

// A checker of entry `e` of `index` fed the chunks of `data` [first, last).
std::unique_ptr<ChunkChecker> Fed(ChunkCheck* run, const ChunkIndexV2* index,
                                  size_t e, const std::string& data,
                                  uint64_t first, uint64_t last) {
  auto c = std::make_unique<ChunkChecker>(run, index, e);
  for (uint64_t i = first; i < last; ++i) {
    const size_t at = i * kChunk;
    c->Chunk(i, data.data() + at, std::min<size_t>(kChunk, data.size() - at));
  }
  return c;
}

// Goal: a copy is intact by chunks only if it was read whole and right,
// exactly the manifest's size, and every one of its chunks was compared
// and matched: a checker that saw fewer chunks, a short read, a failed
// read or no checker at all is never intact.
TEST(ChunkVerifyBySigned, IntactOnlyWhenEveryChunkAndTheSizeMatch) {
  auto disk = TwoDrives();
  Manifest m = MakeWithIndex(disk.get());
  auto index = OpenIndex(disk.get(), m);
  ASSERT_NE(index, nullptr);
  ChunkCheck run(index.get());
  const size_t a = static_cast<size_t>(m.Find("a"));
  const size_t empty = static_cast<size_t>(m.Find("empty"));
  std::string data;
  ASSERT_TRUE(disk->GetFile("d1/a", &data));
  auto outcome = [&](uint64_t last, uint64_t bytes) {
    ReadOutcome o;
    o.bytes_read = bytes;
    o.observer = Fed(&run, index.get(), a, data, 0, last);
    return o;
  };
  std::string why;
  EXPECT_EQ(ChunkVerdict(outcome(6, data.size()), *index, a, &why),
            ChunkFinding::kIntact);
  EXPECT_EQ(ChunkVerdict(outcome(5, data.size()), *index, a, &why),
            ChunkFinding::kUnchecked);
  EXPECT_EQ(why,
            "not checked against its chunk digests (5 of 6 "
            "chunks compared)");
  EXPECT_EQ(ChunkVerdict(outcome(6, data.size() - 1), *index, a, &why),
            ChunkFinding::kDiffers);
  ReadOutcome failed = outcome(6, data.size());
  failed.status = Status::IOError("d1/a", "read");
  EXPECT_EQ(ChunkVerdict(failed, *index, a, &why), ChunkFinding::kUnchecked);
  ReadOutcome none;
  none.bytes_read = data.size();
  EXPECT_EQ(ChunkVerdict(none, *index, a, &why), ChunkFinding::kUnchecked);
  // The last chunk one byte short: its length is not the manifest's.
  ReadOutcome shorter;
  shorter.bytes_read = data.size();
  auto c = Fed(&run, index.get(), a, data, 0, 5);
  c->Chunk(5, data.data() + 5 * kChunk, 16);
  shorter.observer = std::move(c);
  EXPECT_EQ(ChunkVerdict(shorter, *index, a, &why), ChunkFinding::kDiffers);
  // An empty file has no chunk and no checker.
  ReadOutcome zero;
  EXPECT_EQ(ChunkVerdict(zero, *index, empty, &why), ChunkFinding::kIntact);
  EXPECT_EQ(StatusOf(ChunkFinding::kUnchecked), FileStatus::kUnreadable);
  EXPECT_TRUE(run.trouble().ok()) << run.trouble().ToString();
}

// Goal: deciding by chunks, an index that cannot be read during the run
// (changed after its check against the signed manifest) is trouble, exit
// 2, and no file it could not check is called ok or staged.
TEST(ChunkVerifyBySigned, IndexChangedAfterItsCheckIsTroubleNotOk) {
  auto disk = TwoDrives();
  Manifest m = MakeWithIndex(disk.get());
  std::string bytes;
  ASSERT_TRUE(disk->GetFile("m/M.chunks", &bytes));
  std::unique_ptr<ChunkIndexV2> index;
  ASSERT_VALISE_OK(
      ChunkIndexV2::Open(std::make_unique<ChangedSource>(bytes), m, &index));
  PipelineOptions opt = SmallOptions();
  opt.chunk_index = index.get();
  opt.chunk_index_signed = true;
  RunReport r;
  ASSERT_VALISE_OK(VerifyDrives(disk.get(), m, nullptr, {"d1", "d2"}, opt, &r));
  EXPECT_EQ(r.ExitCode(), 2) << FormatSummary(r);
  EXPECT_TRUE(Contains(r.fatal_error, "changed since")) << r.fatal_error;
  EXPECT_EQ(r.files_ok, 1u);  // the empty file alone: it has no chunk
  const FileResult* a = Find(r, "a", FileStatus::kUnreadable);
  ASSERT_NE(a, nullptr) << FormatSummary(r);
  EXPECT_TRUE(Contains(a->detail, "not checked")) << a->detail;
  IngestOptions io;
  io.depth = 4;
  RunReport ri;
  ASSERT_VALISE_OK(
      IngestDrives(disk.get(), m, {"d1", "d2"}, "dest", opt, io, &ri));
  EXPECT_EQ(ri.ExitCode(), 2) << FormatSummary(ri);
  std::string got;
  for (const char* p : {"dest/a", "dest/b", "dest/shared/s"}) {
    EXPECT_FALSE(disk->GetFile(p, &got)) << p;
  }
}

}  // namespace
}  // namespace valise
