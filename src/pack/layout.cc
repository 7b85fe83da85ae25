// Layout: which data drive holds which files, in which order, and the
// stripes that order defines.
//
// The problem. `valise pack` spreads a dataset over k data drives so that
// every drive stays a plain file system holding whole files (anyone can
// mount one and read it), the drives fill evenly (the shipment needs as few
// drives as possible, and the parity drives, which hold as many chunks as
// the fullest data drive, stay small), and parity can be computed over
// stripes of chunks as the files are written.
//
// The approach. Balancing whole files over k drives is multiway number
// partitioning, NP-hard in general; the classic greedy answer (Graham's
// LPT, "longest processing time first") sorts the files by size, largest
// first, and puts each on the least loaded drive. Its fullest drive is
// within 4/3 of the optimum, and much closer when files are many and small
// against a drive (the usual shipment): the last files placed are small
// and land on whichever drive is behind. The load that counts is the
// drive's chunks, not its bytes: each file is padded to whole chunks in
// the stripe sequence, so the fullest drive's chunk count is the number of
// stripes, which sets the parity drives' size. With drive capacities, a
// file goes to the least loaded drive among those it fits on; a file that
// fits nowhere stops the plan with NoSpace naming it (the operator needs
// another drive, and --dry-run says how many: DataDrivesNeeded tries k
// upwards from the bytes' lower bound).
//
// Ties are broken by path and by drive index, so the same dataset and
// drives always give the same layout (a resumed pack plans again and must
// find the layout it recorded).
//
// Cost: sorting n files, then n * k comparisons (10^7 files over 60
// drives: well under a second); the StripeMap keeps one 8-byte prefix sum
// per file and locates a stripe by binary search.
#include <algorithm>
#include <numeric>
#include <string>
#include <unordered_set>

#include "valise/pack.h"

namespace valise {

namespace {

std::string Bytes(uint64_t n) { return std::to_string(n) + " bytes"; }

Status CheckPlanOptions(const LayoutPlanOptions& opt) {
  if (opt.data_drives < 1) {
    return Status::InvalidArgument("pack plan", "need at least 1 data drive");
  }
  if (opt.data_drives + opt.parity_drives > 255) {
    return Status::InvalidArgument(
        "pack plan", "at most 255 drives (data + parity) in a shipment");
  }
  if (!ValidPackChunkSize(opt.chunk_size)) {
    return Status::InvalidArgument(
        "pack plan", "chunk size " + std::to_string(opt.chunk_size) +
                         ": must be a multiple of 4096 from 4 KiB to 64 MiB");
  }
  auto check_size = [&](size_t n, uint32_t want, const char* what) {
    if (n != 0 && n != want) {
      return Status::InvalidArgument(
          "pack plan", std::string(what) + ": " + std::to_string(n) +
                           " given for " + std::to_string(want) + " drives");
    }
    return Status::OK();
  };
  VALISE_RETURN_IF_ERROR(check_size(opt.data_capacity.size(), opt.data_drives,
                                    "data drive capacities"));
  VALISE_RETURN_IF_ERROR(check_size(opt.parity_capacity.size(),
                                    opt.parity_drives,
                                    "parity drive capacities"));
  VALISE_RETURN_IF_ERROR(
      check_size(opt.data_labels.size(), opt.data_drives, "data drive labels"));
  VALISE_RETURN_IF_ERROR(check_size(opt.parity_labels.size(), opt.parity_drives,
                                    "parity drive labels"));
  for (const auto* labels : {&opt.data_labels, &opt.parity_labels}) {
    for (const std::string& l : *labels) {
      if (l.empty()) {
        return Status::InvalidArgument("pack plan", "empty drive label");
      }
    }
  }
  return Status::OK();
}

Status CheckPaths(const std::vector<PackFile>& files) {
  std::vector<std::string_view> paths;
  paths.reserve(files.size());
  for (const PackFile& f : files) {
    Status s = ValidatePath(f.path);
    if (!s.ok()) return s.WithContext("pack plan");
    paths.push_back(f.path);
  }
  std::sort(paths.begin(), paths.end());
  auto dup = std::adjacent_find(paths.begin(), paths.end());
  if (dup != paths.end()) {
    return Status::InvalidArgument(
        "pack plan", "path given twice: " + EscapeTerminalPath(*dup));
  }
  return Status::OK();
}

// Largest first, then by path: the order files are placed in.
std::vector<size_t> PlacementOrder(const std::vector<PackFile>& files) {
  std::vector<size_t> order(files.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (files[a].size != files[b].size) return files[a].size > files[b].size;
    return files[a].path < files[b].path;
  });
  return order;
}

void SetUpParity(const LayoutPlanOptions& opt, PackLayout* out) {
  const uint32_t m = opt.parity_drives;
  out->segment_stripes =
      std::max<uint64_t>(1, opt.segment_bytes / opt.chunk_size);
  const uint64_t segments =
      (out->stripes + out->segment_stripes - 1) / out->segment_stripes;
  out->parity.assign(m, ParityDriveLayout());
  for (uint32_t j = 0; j < m; ++j) {
    ParityDriveLayout& p = out->parity[j];
    p.label = opt.parity_labels.empty() ? "parity-" + std::to_string(j + 1)
                                        : opt.parity_labels[j];
    for (uint64_t g = 0; g < segments; ++g) {
      ParitySegment seg;
      seg.path = ParitySegmentPath(j, m, g);
      seg.first_stripe = g * out->segment_stripes;
      seg.stripes =
          std::min(out->segment_stripes, out->stripes - seg.first_stripe);
      p.segments.push_back(std::move(seg));
    }
  }
}

}  // namespace

uint64_t PackLayout::files() const {
  uint64_t n = 0;
  for (const DataDriveLayout& d : data) n += d.files.size();
  return n;
}

uint64_t PackLayout::bytes() const {
  uint64_t n = 0;
  for (const DataDriveLayout& d : data) n += d.bytes;
  return n;
}

bool ValidPackChunkSize(uint64_t chunk_size) {
  return chunk_size >= 4096 && chunk_size <= (uint64_t{64} << 20) &&
         chunk_size % 4096 == 0;
}

std::string ParitySegmentPath(uint32_t j, uint32_t m, uint64_t segment) {
  std::string seg = std::to_string(segment);
  if (seg.size() < 4) seg.insert(0, 4 - seg.size(), '0');
  return std::string(kParityDir) + "/parity-" + std::to_string(j + 1) + "-of-" +
         std::to_string(m) + "." + seg;
}

Status PlanLayout(const std::vector<PackFile>& files,
                  const LayoutPlanOptions& opt, PackLayout* out) {
  VALISE_RETURN_IF_ERROR(CheckPlanOptions(opt));
  VALISE_RETURN_IF_ERROR(CheckPaths(files));
  PackLayout layout;
  layout.chunk_size = opt.chunk_size;
  layout.data.assign(opt.data_drives, DataDriveLayout());
  std::vector<uint64_t> used(opt.data_drives, 0);  // PackDiskBytes charged
  for (uint32_t d = 0; d < opt.data_drives; ++d) {
    layout.data[d].label = opt.data_labels.empty()
                               ? "data-" + std::to_string(d + 1)
                               : opt.data_labels[d];
  }
  for (size_t i : PlacementOrder(files)) {
    const PackFile& f = files[i];
    const uint64_t disk = PackDiskBytes(f.size);
    int best = -1;
    for (uint32_t d = 0; d < opt.data_drives; ++d) {
      if (!opt.data_capacity.empty() &&
          (disk > opt.data_capacity[d] ||
           used[d] > opt.data_capacity[d] - disk)) {
        continue;
      }
      if (best < 0 || layout.data[d].chunks < layout.data[best].chunks) {
        best = static_cast<int>(d);
      }
    }
    if (best < 0) {
      return Status::NoSpace(
          "pack plan", EscapeTerminalPath(f.path) + " (" + Bytes(f.size) +
                           ") fits on none of the " +
                           std::to_string(opt.data_drives) + " data drives");
    }
    DataDriveLayout& drive = layout.data[best];
    drive.files.push_back(f);
    drive.bytes += f.size;
    drive.chunks += PackChunksOf(f.size, opt.chunk_size);
    used[best] += disk;
  }
  for (const DataDriveLayout& d : layout.data) {
    layout.stripes = std::max(layout.stripes, d.chunks);
  }
  SetUpParity(opt, &layout);
  for (uint32_t j = 0; j < opt.parity_capacity.size(); ++j) {
    uint64_t need = 0;
    for (const ParitySegment& s : layout.parity[j].segments) {
      need += PackDiskBytes(s.stripes * layout.chunk_size);
    }
    if (need > opt.parity_capacity[j]) {
      return Status::NoSpace(
          "pack plan", "parity drive " + layout.parity[j].label + " needs " +
                           Bytes(need) + " (" + std::to_string(layout.stripes) +
                           " chunks of " + Bytes(layout.chunk_size) +
                           "), has " + Bytes(opt.parity_capacity[j]));
    }
  }
  *out = std::move(layout);
  return Status::OK();
}

Status DataDrivesNeeded(const std::vector<PackFile>& files, uint64_t chunk_size,
                        uint64_t capacity, uint32_t parity_drives,
                        uint32_t* k) {
  uint64_t total = 0;
  for (const PackFile& f : files) {
    if (PackDiskBytes(f.size) > capacity) {
      return Status::NoSpace("pack plan", EscapeTerminalPath(f.path) + " (" +
                                              Bytes(f.size) +
                                              ") is larger than a drive (" +
                                              Bytes(capacity) + ")");
    }
    total += PackDiskBytes(f.size);
  }
  const uint64_t lower =
      capacity ? std::max<uint64_t>(1, (total + capacity - 1) / capacity) : 1;
  const uint64_t upper = std::min<uint64_t>(std::max<uint64_t>(files.size(), 1),
                                            255 - uint64_t{parity_drives});
  for (uint64_t n = lower; n <= upper; ++n) {
    LayoutPlanOptions opt;
    opt.data_drives = static_cast<uint32_t>(n);
    opt.parity_drives = parity_drives;
    opt.chunk_size = chunk_size;
    opt.data_capacity.assign(n, capacity);
    opt.parity_capacity.assign(parity_drives, capacity);
    PackLayout layout;
    Status s = PlanLayout(files, opt, &layout);
    if (s.ok()) {
      *k = static_cast<uint32_t>(n);
      return Status::OK();
    }
    if (!s.IsNoSpace()) return s;
  }
  return Status::NoSpace("pack plan",
                         "the dataset fits on no shipment of at most " +
                             std::to_string(upper) + " data drives of " +
                             Bytes(capacity));
}

StripeMap::StripeMap(const PackLayout* layout) : layout_(layout) {
  first_.resize(layout->data.size());
  for (size_t d = 0; d < layout->data.size(); ++d) {
    const std::vector<PackFile>& files = layout->data[d].files;
    std::vector<uint64_t>& first = first_[d];
    first.resize(files.size() + 1);
    uint64_t c = 0;
    for (size_t i = 0; i < files.size(); ++i) {
      first[i] = c;
      c += PackChunksOf(files[i].size, layout->chunk_size);
    }
    first[files.size()] = c;
  }
}

bool StripeMap::Locate(uint32_t d, uint64_t stripe, ChunkRef* ref) const {
  const std::vector<uint64_t>& first = first_[d];
  if (stripe >= first.back()) return false;
  // The last file starting at or before `stripe`: empty files share their
  // start with the file after them, which upper_bound passes.
  auto it = std::upper_bound(first.begin(), first.end() - 1, stripe);
  const uint32_t file = static_cast<uint32_t>(it - first.begin() - 1);
  const uint64_t size = layout_->data[d].files[file].size;
  ref->file = file;
  ref->chunk = stripe - first[file];
  ref->offset = ref->chunk * layout_->chunk_size;
  ref->length = std::min(layout_->chunk_size, size - ref->offset);
  return true;
}

}  // namespace valise
