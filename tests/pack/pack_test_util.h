// A packed shipment on the simulated disk, for the pack tests: a dataset of
// random files, laid out over k data drives ("d1".."dk") with m parity
// drives ("p1".."pm") computed from it in memory, and every chunk's
// SHA-256 kept as the signed digests would be.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "support/test_util.h"
#include "valise/pack.h"
#include "valise/parity.h"
#include "valise/rebuild.h"
#include "valise/sim_disk.h"

namespace valise::test {

// Digests held in memory, as a verified chunk index and M.parity give
// them.
class MemoryDigests final : public ChunkDigests {
 public:
  Status Data(uint32_t d, const ChunkRef& ref, Sha256Bytes* out) override {
    auto it = data.find({d, ref.file, ref.chunk});
    if (it == data.end()) return Status::NotFound("no digest");
    *out = it->second;
    return Status::OK();
  }
  Status Parity(uint32_t j, uint64_t stripe, Sha256Bytes* out) override {
    auto it = parity.find({j, stripe});
    if (it == parity.end()) return Status::NotFound("no digest");
    *out = it->second;
    return Status::OK();
  }
  std::map<std::tuple<uint32_t, uint32_t, uint64_t>, Sha256Bytes> data;
  std::map<std::pair<uint32_t, uint64_t>, Sha256Bytes> parity;
};

struct PackedShipment {
  // Files of the sizes given, random contents; PlanLayout over k + m.
  PackedShipment(const std::vector<uint64_t>& sizes, uint32_t k, uint32_t m,
                 uint64_t chunk_size, uint64_t seed,
                 uint64_t segment_bytes = kDefaultParitySegmentBytes)
      : disk(SimDiskOptions{}) {
    std::vector<PackFile> files;
    for (size_t i = 0; i < sizes.size(); ++i) {
      const std::string path =
          "dir" + std::to_string(i % 3) + "/f" + std::to_string(i) + ".bin";
      files.push_back({path, sizes[i]});
      contents[path] = RandomBytes(sizes[i], seed * 7919 + i);
    }
    LayoutPlanOptions opt;
    opt.data_drives = k;
    opt.parity_drives = m;
    opt.chunk_size = chunk_size;
    opt.segment_bytes = segment_bytes;
    Status s = PlanLayout(files, opt, &layout);
    EXPECT_TRUE(s.ok()) << s.ToString();
    map = std::make_unique<StripeMap>(&layout);
    s = ParityCode::Create(static_cast<int>(k), static_cast<int>(m), &code);
    EXPECT_TRUE(s.ok()) << s.ToString();
    WriteDrives();
  }

  static std::string DataRoot(uint32_t d) {
    return "d" + std::to_string(d + 1);
  }
  static std::string ParityRoot(uint32_t j) {
    return "p" + std::to_string(j + 1);
  }

  // Member i of stripe s, zero-padded to the chunk size.
  std::string Member(uint32_t i, uint64_t s) const {
    std::string out(layout.chunk_size, '\0');
    if (i < layout.k()) {
      ChunkRef ref;
      if (map->Locate(i, s, &ref)) {
        const std::string& c = contents.at(layout.data[i].files[ref.file].path);
        out.replace(0, ref.length, c, ref.offset, ref.length);
      }
      return out;
    }
    return parity_bytes[i - layout.k()].substr(s * layout.chunk_size,
                                               layout.chunk_size);
  }

  // Roots with the drives in `lost` (member numbers) not given.
  std::vector<std::string> DataRoots(const std::vector<bool>& lost) const {
    std::vector<std::string> r;
    for (uint32_t d = 0; d < layout.k(); ++d) {
      r.push_back(!lost.empty() && lost[d] ? "" : DataRoot(d));
    }
    return r;
  }
  std::vector<std::string> ParityRoots(const std::vector<bool>& lost) const {
    std::vector<std::string> r;
    for (uint32_t j = 0; j < layout.m(); ++j) {
      r.push_back(!lost.empty() && lost[layout.k() + j] ? "" : ParityRoot(j));
    }
    return r;
  }

  SimDisk disk;
  std::map<std::string, std::string> contents;  // path -> bytes
  PackLayout layout;
  std::unique_ptr<StripeMap> map;
  std::unique_ptr<ParityCode> code;
  std::vector<std::string> parity_bytes;  // per parity drive, all stripes
  MemoryDigests digests;

 private:
  void WriteDrives() {
    const uint32_t k = layout.k(), m = layout.m();
    for (uint32_t d = 0; d < k; ++d) {
      disk.AddDir(DataRoot(d));
      const DataDriveLayout& drive = layout.data[d];
      for (uint32_t f = 0; f < drive.files.size(); ++f) {
        const std::string& c = contents[drive.files[f].path];
        disk.AddFile(DataRoot(d) + "/" + drive.files[f].path, c);
        for (uint64_t off = 0, i = 0; off < c.size();
             off += layout.chunk_size, ++i) {
          const size_t n =
              std::min<uint64_t>(layout.chunk_size, c.size() - off);
          digests.data[{d, f, i}] =
              Sha256Of(reinterpret_cast<const uint8_t*>(c.data()) + off, n);
        }
      }
    }
    parity_bytes.assign(m, std::string(layout.stripes * layout.chunk_size, 0));
    for (uint64_t s = 0; s < layout.stripes; ++s) {
      std::vector<std::string> data;
      for (uint32_t d = 0; d < k; ++d) data.push_back(Member(d, s));
      std::vector<const uint8_t*> in;
      for (auto& c : data) in.push_back(reinterpret_cast<uint8_t*>(c.data()));
      std::vector<uint8_t*> out;
      for (uint32_t j = 0; j < m; ++j) {
        out.push_back(reinterpret_cast<uint8_t*>(parity_bytes[j].data()) +
                      s * layout.chunk_size);
      }
      code->Encode(layout.chunk_size, in.data(), out.data());
      for (uint32_t j = 0; j < m; ++j) {
        digests.parity[{j, s}] = Sha256Of(out[j], layout.chunk_size);
      }
    }
    for (uint32_t j = 0; j < m; ++j) {
      disk.AddDir(ParityRoot(j));
      for (ParitySegment& seg : layout.parity[j].segments) {
        std::string bytes =
            parity_bytes[j].substr(seg.first_stripe * layout.chunk_size,
                                   seg.stripes * layout.chunk_size);
        seg.sha256 = Sha256Of(reinterpret_cast<const uint8_t*>(bytes.data()),
                              bytes.size());
        disk.AddFile(ParityRoot(j) + "/" + seg.path, bytes);
      }
    }
  }
};

}  // namespace valise::test
