// Chunk index v2 ("M.chunks", bound to M): the SHA-256 of every fixed-size
// chunk of every file of a manifest, in manifest order, in a binary file
// read by position (docs/formats.md, "Chunk index v2", gives it byte by
// byte).
//
// Chunk k of a file covers bytes [k * chunk_size, (k+1) * chunk_size) of
// it (the last one may be shorter; an empty file has none). The digests of
// entry e start at chunk FirstChunk(e) = the sum of ceil(size / chunk_size)
// over the entries before e, which follows from the manifest's sizes: the
// index holds no paths and no offsets, and a reader finds a file's digests
// when its turn comes with one positional read, never holding the index
// (80 M digests, 2.5 GB, for 80 TB at 1 MiB). The reader keeps the prefix
// sum every 64 entries (1/8 B an entry) and adds the sizes in between.
//
// The index is trusted through the manifest: M binds it ("# bind chunks
// bytes=N sha256=HEX", valise/sidecar.h), so M's signature covers it, and it
// is read through OpenBoundSidecar, which checks every byte used.
//
// Thread safety: a ChunkIndexV2's const methods may be called from any
// thread; ChunkIndexV2Writer::Write from several threads at once.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "valise/file_system.h"
#include "valise/manifest.h"
#include "valise/sidecar.h"
#include "valise/status.h"

namespace valise {

// One chunk's SHA-256.
using ChunkSha256 = std::array<uint8_t, 32>;

inline constexpr std::string_view kChunkIndexV2Magic = "valise-chunks 2\n";
inline constexpr size_t kChunkIndexV2HeaderSize = 64;
// Digest algorithm ids of the header; 1 is the only one.
inline constexpr uint32_t kChunkDigestSha256 = 1;
// The name it is bound under: M binds "chunks", the file is M.chunks.
inline constexpr std::string_view kChunkIndexSidecar = "chunks";
// Chunk sizes valise reads and writes: multiples of 4 KiB within these.
inline constexpr uint64_t kMinChunkSize = 4096;
inline constexpr uint64_t kMaxChunkSize = uint64_t{64} << 20;
bool ValidChunkSize(uint64_t chunk_size);

// ceil(size / chunk_size). REQUIRES: chunk_size > 0.
inline uint64_t ChunksOf(uint64_t size, uint64_t chunk_size) {
  return size / chunk_size + (size % chunk_size != 0);
}

struct ChunkIndexV2Header {
  uint64_t chunk_size = 0;
  uint64_t files = 0;   // manifest entries
  uint64_t bytes = 0;   // the sum of their sizes
  uint64_t chunks = 0;  // digests that follow the header
};

// The 64 header bytes.
std::string EncodeChunkIndexV2Header(const ChunkIndexV2Header& h);
// Parses the first 64 bytes of an index named `name`. NotSupported for
// another version or digest algorithm; InvalidArgument for a bad magic, an
// invalid chunk size or a non-zero reserved field; Corruption if fewer
// than 64 bytes.
Status DecodeChunkIndexV2Header(std::string_view bytes, std::string_view name,
                                ChunkIndexV2Header* h);

// A whole index in memory (tests and fuzzers; valise writes through
// ChunkIndexV2Writer). digests[e] holds entry e's chunk digests.
// REQUIRES: ValidChunkSize(chunk_size), digests.size() == sizes.size(),
// digests[e].size() == ChunksOf(sizes[e], chunk_size).
std::string EncodeChunkIndexV2(
    uint64_t chunk_size, const std::vector<uint64_t>& sizes,
    const std::vector<std::vector<ChunkSha256>>& digests);

// Reads the index of one manifest.
class ChunkIndexV2 {
 public:
  // Checks `source`'s header against `m` (its entries, their total size,
  // their chunk count at the index's chunk size, and the file's length):
  // Corruption naming the source when they disagree (an index made for
  // another manifest, or cut short); InvalidArgument if m has no sizes.
  // `m` is borrowed and must outlive the index.
  static Status Open(std::unique_ptr<PositionalSource> source,
                     const Manifest& m, std::unique_ptr<ChunkIndexV2>* out);

  const ChunkIndexV2Header& header() const { return header_; }
  uint64_t chunk_size() const { return header_.chunk_size; }
  const std::string& name() const { return source_->name(); }
  // Index (across the whole index) of entry e's first chunk digest.
  uint64_t FirstChunk(size_t entry) const;
  // Chunks of entry e: ceil(size / chunk_size).
  uint64_t NumChunks(size_t entry) const {
    return ChunksOf(m_->file_size(entry), header_.chunk_size);
  }
  // Bytes of entry e (the manifest's size, which made its chunk count).
  uint64_t FileSize(size_t entry) const { return m_->file_size(entry); }
  // Digests of chunks [first, first + n) of entry e into out[0..n).
  // InvalidArgument if they are not all chunks of e.
  Status Read(size_t entry, uint64_t first, size_t n, ChunkSha256* out) const;

 private:
  ChunkIndexV2() = default;
  static constexpr size_t kSample = 64;

  std::unique_ptr<PositionalSource> source_;
  const Manifest* m_ = nullptr;
  ChunkIndexV2Header header_;
  std::vector<uint64_t> sampled_;  // FirstChunk of entries 0, 64, 128, ...
};

// Writes an index into a file as a manifest's files are hashed, in any
// order: each file's digests go to their place, computed from the sizes.
class ChunkIndexV2Writer {
 public:
  // `file` (borrowed, opened for writing, empty) receives the index for
  // files of `sizes`, in manifest order. REQUIRES: ValidChunkSize.
  ChunkIndexV2Writer(File* file, uint64_t chunk_size,
                     const std::vector<uint64_t>& sizes);

  uint64_t chunk_size() const { return header_.chunk_size; }
  const ChunkIndexV2Header& header() const { return header_; }
  uint64_t NumChunks(size_t entry) const {
    return first_[entry + 1] - first_[entry];
  }
  // Writes the header.
  Status Begin();
  // Writes digests of chunks [first, first + n) of entry e. Each chunk is
  // written once. Thread-safe (positional writes).
  Status Write(size_t entry, uint64_t first, const ChunkSha256* digests,
               size_t n);
  // OK when as many digests were written as the index holds, and the file
  // is durable (fdatasync); else an error naming the file.
  Status Finish();

 private:
  File* file_;
  ChunkIndexV2Header header_;
  std::vector<uint64_t> first_;  // size()+1 prefix sums of chunk counts
  std::atomic<uint64_t> written_{0};
};

}  // namespace valise
