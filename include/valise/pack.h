// Packing a dataset onto the drives of a shipment: the layout (which files
// go on which data drive, in which order), the stripes it defines, and the
// two files that record it beside the manifest M:
//
//   M.layout   text: the code (k data + m parity drives, the chunk size),
//              each data drive's files in layout order with their sizes,
//              each parity drive's parity files with their SHA-256;
//   M.parity   binary: the SHA-256 of every parity chunk, found by
//              position (stripe, parity drive).
// Both are bound to M (its signature covers them); docs/formats.md gives
// them byte by byte, docs/pack.md explains the arithmetic.
//
// Stripes. A data drive's files, concatenated in layout order with each
// file padded with zeros to a multiple of the chunk size, form the drive's
// chunk sequence; chunk c of a file is the drive's chunk first(file) + c.
// Stripe s is chunk s of every data drive (a drive holding fewer than s+1
// chunks contributes a chunk of zeros, known without reading) and chunk s
// of every parity drive. Parity drive j holds member k+j of every stripe
// in its parity files, one after another, each parity file holding
// `segment_stripes` stripes (the last one fewer). A file's chunks are the
// chunks of the chunk index (chunk c covers bytes [c * chunk_size, (c+1) *
// chunk_size) of the file, the last one shorter), so the signed SHA-256 of
// every data chunk is the chunk index's.
//
// Thread safety: the functions are thread-safe; a const PackLayout and a
// const StripeMap may be read from any thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "valise/manifest.h"
#include "valise/status.h"

namespace valise {

// The chunk size of a pack unless --chunk-size says otherwise: 1 MiB, the
// chunk index's default (chunk digests and stripes share their chunks).
inline constexpr uint64_t kDefaultPackChunkSize = uint64_t{1} << 20;
// A file's bytes on a drive are charged rounded up to this (the block size
// of ext4 and xfs) when checking that a drive has room.
inline constexpr uint64_t kPackBlockSize = 4096;
// Parity files hold at most this many bytes unless told otherwise: 1 TiB,
// well within every file system's file size limit (ext4: 16 TiB).
inline constexpr uint64_t kDefaultParitySegmentBytes = uint64_t{1} << 40;
// The names M binds the layout and the parity digests under: M.layout and
// M.parity (valise/sidecar.h).
inline constexpr std::string_view kLayoutSidecar = "layout";
inline constexpr std::string_view kParitySidecar = "parity";
// The directory of a parity drive holding its parity files.
inline constexpr std::string_view kParityDir = "valise-parity";

using Sha256Bytes = std::array<uint8_t, 32>;
// Lowercase hex of a SHA-256 (64 digits), and back: false unless `hex` is
// 64 hex digits.
std::string Sha256BytesHex(const Sha256Bytes& b);
bool Sha256BytesFromHex(std::string_view hex, Sha256Bytes* out);

// A file of the dataset as the layout knows it.
struct PackFile {
  std::string path;  // raw bytes, relative, as in the manifest
  uint64_t size = 0;
};

struct DataDriveLayout {
  std::string label;            // how reports name the drive
  std::vector<PackFile> files;  // in layout order
  uint64_t bytes = 0;           // sum of the files' sizes
  uint64_t chunks = 0;          // sum of ChunksOf(size, chunk_size)
};

struct ParitySegment {
  std::string path;  // relative to the parity drive's root
  uint64_t first_stripe = 0;
  uint64_t stripes = 0;  // the file holds stripes * chunk_size bytes
  Sha256Bytes sha256{};  // of the whole file
};

struct ParityDriveLayout {
  std::string label;
  std::vector<ParitySegment> segments;  // in stripe order
};

struct PackLayout {
  uint64_t chunk_size = kDefaultPackChunkSize;
  uint64_t stripes = 0;  // the most chunks any data drive holds
  uint64_t segment_stripes = 0;
  std::vector<DataDriveLayout> data;      // k drives
  std::vector<ParityDriveLayout> parity;  // m drives

  uint32_t k() const { return static_cast<uint32_t>(data.size()); }
  uint32_t m() const { return static_cast<uint32_t>(parity.size()); }
  uint64_t files() const;
  uint64_t bytes() const;
};

// ceil(size / chunk_size). REQUIRES: chunk_size > 0.
inline uint64_t PackChunksOf(uint64_t size, uint64_t chunk_size) {
  return size / chunk_size + (size % chunk_size != 0);
}
// Bytes a file of `size` takes on a drive for the capacity check.
inline uint64_t PackDiskBytes(uint64_t size) {
  return (size + kPackBlockSize - 1) / kPackBlockSize * kPackBlockSize;
}
// Chunk sizes a pack accepts: multiples of 4 KiB from 4 KiB to 64 MiB
// (the chunk index's).
bool ValidPackChunkSize(uint64_t chunk_size);
// "valise-parity/parity-2-of-3.0007": parity drive j (0-based) of m,
// segment `segment`.
std::string ParitySegmentPath(uint32_t j, uint32_t m, uint64_t segment);

struct LayoutPlanOptions {
  // k, at least 1.
  uint32_t data_drives = 0;
  // m. Default: 0 (no parity).
  uint32_t parity_drives = 0;
  // Default: kDefaultPackChunkSize. REQUIRES: ValidPackChunkSize.
  uint64_t chunk_size = kDefaultPackChunkSize;
  // Bytes each parity file may hold (rounded down to whole chunks, at
  // least one). Default: kDefaultParitySegmentBytes.
  uint64_t segment_bytes = kDefaultParitySegmentBytes;
  // Usable bytes of each data drive, in drive order; empty: no limit. A
  // file is charged PackDiskBytes(size).
  std::vector<uint64_t> data_capacity;
  // Usable bytes of each parity drive; empty: no limit.
  std::vector<uint64_t> parity_capacity;
  // Drive labels, in order; empty: "data-1".. and "parity-1"..
  std::vector<std::string> data_labels;
  std::vector<std::string> parity_labels;
};

// Spreads `files` over the data drives, balanced by chunks: largest files
// first (ties by path), each onto the drive holding the fewest chunks so
// far among those it fits on (ties: the lowest drive), whole files only.
// Each drive's files are in the order they were placed. Parity segments
// get their paths and stripe ranges (digests zero until written).
// InvalidArgument for bad options, an unsafe or duplicate path; NoSpace
// naming the first file that fits on no drive, or when the parity drives
// cannot hold `stripes` chunks.
Status PlanLayout(const std::vector<PackFile>& files,
                  const LayoutPlanOptions& opt, PackLayout* out);

// The fewest data drives of `capacity` usable bytes each that PlanLayout
// can fit `files` on (and the parity drives too, if their capacity is
// `capacity`: they hold as many chunks as the fullest data drive). NoSpace
// when a single file is larger than a drive.
Status DataDrivesNeeded(const std::vector<PackFile>& files, uint64_t chunk_size,
                        uint64_t capacity, uint32_t parity_drives, uint32_t* k);

// Which file chunk a data drive holds at a stripe.
struct ChunkRef {
  uint32_t file = 0;    // index in DataDriveLayout::files
  uint64_t chunk = 0;   // chunk of that file
  uint64_t offset = 0;  // chunk * chunk_size: where it starts in the file
  uint64_t length = 0;  // bytes of the file in it (<= chunk_size; the
                        // rest of the member is zeros)
};

// Stripes <-> file chunks of a layout.
class StripeMap {
 public:
  // `layout` is borrowed and must remain live while the map is used.
  explicit StripeMap(const PackLayout* layout);
  const PackLayout& layout() const { return *layout_; }
  // Sets *ref to the chunk data drive `d` holds at `stripe`; false if the
  // drive holds none there (the member is zeros). REQUIRES: d < k.
  bool Locate(uint32_t d, uint64_t stripe, ChunkRef* ref) const;
  // The stripe of chunk `chunk` of file `file` of data drive `d`.
  uint64_t StripeOf(uint32_t d, uint32_t file, uint64_t chunk) const {
    return first_[d][file] + chunk;
  }

 private:
  const PackLayout* layout_;
  // Per data drive, per file, the drive chunk its chunk 0 is (files+1
  // entries, the last the drive's chunk count).
  std::vector<std::vector<uint64_t>> first_;
};

// Where a parity drive holds its chunk of `stripe`: which of its parity
// files (every parity drive is cut alike) and the byte offset in it.
// REQUIRES: layout.segment_stripes > 0.
inline void LocateParity(const PackLayout& layout, uint64_t stripe,
                         size_t* segment, uint64_t* offset) {
  *segment = static_cast<size_t>(stripe / layout.segment_stripes);
  *offset = (stripe % layout.segment_stripes) * layout.chunk_size;
}

// M.layout. WriteLayout's output parses back to the same layout.
std::string WriteLayout(const PackLayout& layout);
// Errors name "name:line": InvalidArgument for a malformed line, an unsafe
// or duplicate path, counts that disagree with the drives' lines; Corruption
// for truncation (no "# end" trailer, or one whose counts disagree);
// NotSupported for another version.
Status ParseLayout(std::string_view data, std::string_view name,
                   PackLayout* out);
// Checks that `layout` and manifest `m` describe the same files: every
// file of the layout is in m with the same size, and every file of m is on
// exactly one data drive. Corruption naming the first path that is not.
// With `entries`, sets (*entries)[d][i] to the manifest entry of file i of
// data drive d.
Status CheckLayoutMatchesManifest(
    const PackLayout& layout, const Manifest& m, std::string_view layout_name,
    std::vector<std::vector<size_t>>* entries = nullptr);

// M.parity: a 64-byte header, then the SHA-256 of every parity chunk,
// stripe by stripe, parity drive by parity drive.
inline constexpr std::string_view kParityDigestsMagic = "valise-parity 1\n";
inline constexpr size_t kParityDigestsHeaderSize = 64;
struct ParityDigestsHeader {
  uint64_t chunk_size = 0;
  uint64_t stripes = 0;
  uint32_t parity_drives = 0;
};
std::string EncodeParityDigestsHeader(const ParityDigestsHeader& h);
// Parses the first 64 bytes. NotSupported for another version or digest
// algorithm; InvalidArgument for a bad magic or a non-zero reserved field;
// Corruption if fewer than 64 bytes.
Status DecodeParityDigestsHeader(std::string_view bytes, std::string_view name,
                                 ParityDigestsHeader* h);
// Where the digest of parity drive j's chunk of `stripe` is.
inline uint64_t ParityDigestOffset(const ParityDigestsHeader& h,
                                   uint64_t stripe, uint32_t j) {
  return kParityDigestsHeaderSize + (stripe * h.parity_drives + j) * 32;
}
// The whole file's length.
inline uint64_t ParityDigestsSize(const ParityDigestsHeader& h) {
  return ParityDigestOffset(h, h.stripes, 0);
}

}  // namespace valise
