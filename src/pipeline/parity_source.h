// The parity stage of verify and ingest: a pack's files read back through
// their stripes (valise/rebuild.h), for the files the drives given could
// not deliver whole and right.
//
// ParitySource::Open finds which drive given is which member of the pack
// (a data drive: the one holding most of its files under their paths; a
// parity drive: the one holding its parity files), and which members were
// not given (lost). Read then hands out any byte range of a packed file:
// each chunk read from its own drive and checked against its signed
// SHA-256, else rebuilt from the other members of its stripe (each of
// them checked too), reading only that stripe. A chunk that comes back
// neither way is an IOError marked DataLoss naming the stripe: never a
// guessed byte. Every member found unusable on the way is remembered, so
// that Report can tell how many more drive losses the shipment could still
// take (AssessLoss over the drives lost and the chunks found bad).
//
// Thread safety: every method may be called from any thread; Read and
// ReadWhole are serialized (one rebuilder).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "pipeline/scan.h"
#include "valise/digest.h"
#include "valise/manifest.h"
#include "valise/rebuild.h"
#include "valise/report.h"

namespace valise {

class ChunkIndexV2;

class ParitySource {
 public:
  // `manifest`, `index` and `fs` are borrowed and must outlive it; the
  // layout and M.parity are taken from *pack. Corruption when the layout
  // does not describe the manifest's files, or M.parity does not fit it;
  // InvalidArgument without a chunk index (its signed chunk digests are
  // what every chunk is checked against).
  static Status Open(FileSystem* fs, const Manifest& manifest, PackParity* pack,
                     const ChunkIndexV2* index,
                     const std::vector<DriveScan>& scans,
                     std::unique_ptr<ParitySource>* out);
  ~ParitySource();

  // Whether manifest entry e is one of the pack's files.
  bool Covers(size_t entry) const;
  // Whether `rel` on scanned drive `scan` is one of the parity files the
  // layout names for the parity drive that scan is.
  bool IsParityFile(int scan, std::string_view rel) const;
  // Whether scanned drive `scan` is one of the pack's parity drives.
  bool IsParityDrive(int scan) const;

  // Bytes [offset, offset + n) of manifest entry `entry` into buf (see
  // above). *rebuilt (if not null) grows by the chunks rebuilt.
  // REQUIRES: Covers(entry), offset + n <= its size.
  Status Read(size_t entry, uint64_t offset, size_t n, char* buf,
              uint64_t* rebuilt = nullptr);
  // Reads entry `entry` whole, hashing it: *got the digests of `digests`,
  // *rebuilt the chunks that came from parity. Errors as Read.
  Status ReadWhole(size_t entry, DigestSet digests, std::vector<Digest>* got,
                   uint64_t* rebuilt);

  // The drives lost, the files rebuilt and not (as counted by the caller
  // through CountFile), and how many more drives the shipment could lose.
  ParityReport Report() const;
  // The caller's verdict on one file that went through parity.
  void CountFile(bool rebuilt);
  // Why the last Read of `entry` that failed did (empty if none did).
  std::string LostWhy(size_t entry) const;

 private:
  ParitySource() = default;
  Status RecoverChunk(uint32_t d, uint32_t f, uint64_t chunk, uint8_t* buf,
                      bool* rebuilt);

  const Manifest* manifest_ = nullptr;
  PackLayout layout_;
  std::unique_ptr<StripeMap> map_;
  std::unique_ptr<ParityCode> code_;
  std::unique_ptr<SidecarChunkDigests> digests_;
  std::unique_ptr<FsStripeReader> reader_;
  std::unique_ptr<StripeRebuilder> rebuilder_;
  // Manifest entry -> (data drive, file in it).
  std::unordered_map<size_t, std::pair<uint32_t, uint32_t>> where_;
  std::vector<int> member_scan_;  // k+m: the scan each member is, or -1
  std::vector<bool> lost_;        // k+m: members not given
  mutable std::mutex mu_;
  std::set<std::pair<uint32_t, uint64_t>> bad_;  // (member, stripe) met
  uint64_t chunks_rebuilt_ = 0;
  uint64_t files_rebuilt_ = 0;
  uint64_t files_lost_ = 0;
  std::unordered_map<size_t, std::string> why_lost_;
  std::vector<uint8_t> chunk_;  // one chunk
};

}  // namespace valise
