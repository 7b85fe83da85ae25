// Chunk index v2: a 64-byte header, then the SHA-256 of every chunk of every
// manifest entry, in manifest order, 32 bytes each (docs/formats.md gives
// the bytes; valise/chunk_index_v2.h the shape). Integers are
// little-endian, written and read byte by byte.
#include "valise/chunk_index_v2.h"

#include <cstring>

#include "format/parse_util.h"

namespace valise {

namespace {

constexpr size_t kDigestSize = sizeof(ChunkSha256);
constexpr std::string_view kMagicPrefix = "valise-chunks ";

void PutU32(uint32_t v, char* p) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
void PutU64(uint64_t v, char* p) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = v << 8 | static_cast<uint8_t>(p[i]);
  return v;
}
uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | static_cast<uint8_t>(p[i]);
  return v;
}

// Offsets of the header's fields.
enum : size_t {
  kAlgorithmAt = 16,
  kDigestSizeAt = 20,
  kChunkSizeAt = 24,
  kFilesAt = 32,
  kBytesAt = 40,
  kChunksAt = 48,
  kReservedAt = 56,
};

// The largest chunk count whose digests fit a 64-bit file length.
constexpr uint64_t kMaxChunks =
    (~uint64_t{0} - kChunkIndexV2HeaderSize) / kDigestSize;

}  // namespace

bool ValidChunkSize(uint64_t chunk_size) {
  return chunk_size >= kMinChunkSize && chunk_size <= kMaxChunkSize &&
         chunk_size % 4096 == 0;
}

std::string EncodeChunkIndexV2Header(const ChunkIndexV2Header& h) {
  std::string out(kChunkIndexV2HeaderSize, '\0');
  memcpy(out.data(), kChunkIndexV2Magic.data(), kChunkIndexV2Magic.size());
  PutU32(kChunkDigestSha256, &out[kAlgorithmAt]);
  PutU32(kDigestSize, &out[kDigestSizeAt]);
  PutU64(h.chunk_size, &out[kChunkSizeAt]);
  PutU64(h.files, &out[kFilesAt]);
  PutU64(h.bytes, &out[kBytesAt]);
  PutU64(h.chunks, &out[kChunksAt]);
  return out;
}

Status DecodeChunkIndexV2Header(std::string_view bytes, std::string_view name,
                                ChunkIndexV2Header* h) {
  if (bytes.size() < kChunkIndexV2HeaderSize) {
    return Status::Corruption(
        name, "truncated: " + std::to_string(bytes.size()) +
                  " bytes, shorter than the 64-byte chunk index header");
  }
  if (bytes.substr(0, kChunkIndexV2Magic.size()) != kChunkIndexV2Magic) {
    const std::string_view first = bytes.substr(0, bytes.find('\n'));
    if (first.substr(0, kMagicPrefix.size()) == kMagicPrefix &&
        first.size() <= kMagicPrefix.size() + 8) {
      return Status::NotSupported(
          name, "chunk index version '" +
                    format_internal::Quote(first.substr(kMagicPrefix.size())) +
                    "' not supported here (this reader reads 2)");
    }
    return Status::InvalidArgument(
        name, "not a chunk index v2 (it must start with 'valise-chunks 2')");
  }
  const uint32_t algorithm = GetU32(&bytes[kAlgorithmAt]);
  const uint32_t digest_size = GetU32(&bytes[kDigestSizeAt]);
  if (algorithm != kChunkDigestSha256 || digest_size != kDigestSize) {
    return Status::NotSupported(
        name, "chunk digest algorithm " + std::to_string(algorithm) + " of " +
                  std::to_string(digest_size) +
                  " bytes (this valise reads 1, SHA-256, 32 bytes)");
  }
  h->chunk_size = GetU64(&bytes[kChunkSizeAt]);
  h->files = GetU64(&bytes[kFilesAt]);
  h->bytes = GetU64(&bytes[kBytesAt]);
  h->chunks = GetU64(&bytes[kChunksAt]);
  if (!ValidChunkSize(h->chunk_size)) {
    return Status::InvalidArgument(
        name, "chunk size " + std::to_string(h->chunk_size) +
                  " is not a multiple of 4096 from 4096 to 67108864");
  }
  if (GetU64(&bytes[kReservedAt]) != 0) {
    return Status::InvalidArgument(name,
                                   "reserved header bytes 56-63 are not zero");
  }
  if (h->chunks > kMaxChunks) {
    return Status::InvalidArgument(
        name, std::to_string(h->chunks) + " chunks cannot fit in a file");
  }
  return Status::OK();
}

std::string EncodeChunkIndexV2(
    uint64_t chunk_size, const std::vector<uint64_t>& sizes,
    const std::vector<std::vector<ChunkSha256>>& digests) {
  ChunkIndexV2Header h;
  h.chunk_size = chunk_size;
  h.files = sizes.size();
  for (size_t e = 0; e < sizes.size(); ++e) {
    h.bytes += sizes[e];
    h.chunks += digests[e].size();
  }
  std::string out = EncodeChunkIndexV2Header(h);
  for (const auto& file : digests) {
    for (const ChunkSha256& d : file) {
      out.append(reinterpret_cast<const char*>(d.data()), d.size());
    }
  }
  return out;
}

// ---------------------------------------------------------------------
// Reader.

Status ChunkIndexV2::Open(std::unique_ptr<PositionalSource> source,
                          const Manifest& m,
                          std::unique_ptr<ChunkIndexV2>* out) {
  const std::string& name = source->name();
  std::string head(kChunkIndexV2HeaderSize, '\0');
  if (source->size() < head.size()) {
    return Status::Corruption(
        name, "truncated: " + std::to_string(source->size()) +
                  " bytes, shorter than the 64-byte chunk index header");
  }
  VALISE_RETURN_IF_ERROR(source->ReadAt(0, head.size(), head.data()));
  std::unique_ptr<ChunkIndexV2> index(new ChunkIndexV2());
  VALISE_RETURN_IF_ERROR(DecodeChunkIndexV2Header(head, name, &index->header_));
  const ChunkIndexV2Header& h = index->header_;
  const uint64_t want_size = kChunkIndexV2HeaderSize + h.chunks * kDigestSize;
  if (source->size() != want_size) {
    return Status::Corruption(
        name, "is " + std::to_string(source->size()) + " bytes, but its " +
                  std::to_string(h.chunks) + " chunk digests make " +
                  std::to_string(want_size) + " (cut short or extended)");
  }
  if (!m.has_sizes()) {
    return Status::InvalidArgument(
        name, "the manifest has no sizes, which a chunk index v2 needs");
  }
  // The prefix sum of chunk counts, sampled.
  const uint64_t cs = h.chunk_size;
  index->sampled_.reserve(m.size() / kSample + 1);
  uint64_t chunks = 0;
  for (size_t e = 0; e < m.size(); ++e) {
    if (e % kSample == 0) index->sampled_.push_back(chunks);
    chunks += ChunksOf(m.file_size(e), cs);  // no overflow: sizes < 2^64
  }
  if (h.files != m.size() || h.bytes != m.total_bytes() || h.chunks != chunks) {
    return Status::Corruption(
        name, "describes " + std::to_string(h.files) + " files, " +
                  std::to_string(h.bytes) + " bytes, " +
                  std::to_string(h.chunks) + " chunks of " +
                  std::to_string(cs) + " bytes; the manifest has " +
                  std::to_string(m.size()) + " files, " +
                  std::to_string(m.total_bytes()) + " bytes, " +
                  std::to_string(chunks) +
                  " chunks: it was made for another manifest");
  }
  index->source_ = std::move(source);
  index->m_ = &m;
  *out = std::move(index);
  return Status::OK();
}

uint64_t ChunkIndexV2::FirstChunk(size_t entry) const {
  const size_t base = entry / kSample * kSample;
  uint64_t first = sampled_[entry / kSample];
  for (size_t e = base; e < entry; ++e) {
    first += ChunksOf(m_->file_size(e), header_.chunk_size);
  }
  return first;
}

Status ChunkIndexV2::Read(size_t entry, uint64_t first, size_t n,
                          ChunkSha256* out) const {
  if (entry >= m_->size() || first > NumChunks(entry) ||
      n > NumChunks(entry) - first) {
    return Status::InvalidArgument(
        name(), "chunks " + std::to_string(first) + " to " +
                    std::to_string(first + n) + " of entry " +
                    std::to_string(entry) + " are not in the index");
  }
  if (n == 0) return Status::OK();
  const uint64_t at =
      kChunkIndexV2HeaderSize + (FirstChunk(entry) + first) * kDigestSize;
  return source_->ReadAt(at, n * kDigestSize, reinterpret_cast<char*>(out));
}

// ---------------------------------------------------------------------
// Writer.

ChunkIndexV2Writer::ChunkIndexV2Writer(File* file, uint64_t chunk_size,
                                       const std::vector<uint64_t>& sizes)
    : file_(file) {
  header_.chunk_size = chunk_size;
  header_.files = sizes.size();
  first_.reserve(sizes.size() + 1);
  first_.push_back(0);
  for (uint64_t size : sizes) {
    header_.bytes += size;
    first_.push_back(first_.back() + ChunksOf(size, chunk_size));
  }
  header_.chunks = first_.back();
}

Status ChunkIndexV2Writer::Begin() {
  const std::string head = EncodeChunkIndexV2Header(header_);
  return file_->WriteAt(0, head.data(), head.size());
}

Status ChunkIndexV2Writer::Write(size_t entry, uint64_t first,
                                 const ChunkSha256* digests, size_t n) {
  if (entry + 1 >= first_.size() || first > NumChunks(entry) ||
      n > NumChunks(entry) - first) {
    return Status::InvalidArgument(
        file_->path(), "chunks " + std::to_string(first) + " to " +
                           std::to_string(first + n) + " of entry " +
                           std::to_string(entry) + " are not in the index");
  }
  const uint64_t at =
      kChunkIndexV2HeaderSize + (first_[entry] + first) * kDigestSize;
  VALISE_RETURN_IF_ERROR(file_->WriteAt(
      at, reinterpret_cast<const char*>(digests), n * kDigestSize));
  written_.fetch_add(n, std::memory_order_relaxed);
  return Status::OK();
}

Status ChunkIndexV2Writer::Finish() {
  const uint64_t written = written_.load();
  if (written != header_.chunks) {
    return Status::Corruption(
        file_->path(), std::to_string(written) + " chunk digests written of " +
                           std::to_string(header_.chunks));
  }
  return file_->Sync();
}

}  // namespace valise
