// ParitySource: see parity_source.h.
//
// Which drive is which. The layout labels its drives by the mount point's
// name at the source, which says nothing at the datacenter (a drive is
// mounted wherever it is mounted). What does identify a data drive is what
// it holds: its files, under their dataset paths, with their sizes; each
// data drive given is the member whose files it holds most of. A parity
// drive holds its parity files, named for its place ("parity-2-of-3").
// A member no drive given is identified with is lost: it is never read,
// and its chunks are rebuilt wherever a file needs them.
#include "pipeline/parity_source.h"

#include <algorithm>
#include <cstring>

#include "valise/chunk_index_v2.h"
#include "valise/sidecar.h"

namespace valise {

// The layout is text, a line per file: as large as the manifest may be.
constexpr size_t kMaxLayoutBytes = size_t{8} << 30;

Status LoadPackParity(FileSystem* fs, const std::string& manifest_path,
                      const Manifest& m, std::unique_ptr<PackParity>* out) {
  out->reset();
  if (m.binding(kLayoutSidecar) == nullptr) return Status::OK();
  auto p = std::make_unique<PackParity>();
  std::string text;
  VALISE_RETURN_IF_ERROR(LoadBoundSidecar(fs, manifest_path, m, kLayoutSidecar,
                                          kMaxLayoutBytes, &text));
  VALISE_RETURN_IF_ERROR(ParseLayout(
      text, SidecarPath(manifest_path, kLayoutSidecar), &p->layout));
  VALISE_RETURN_IF_ERROR(
      OpenBoundSidecar(fs, manifest_path, m, kParitySidecar, &p->digests));
  *out = std::move(p);
  return Status::OK();
}

ParitySource::~ParitySource() = default;

Status ParitySource::Open(FileSystem* fs, const Manifest& manifest,
                          PackParity* pack, const ChunkIndexV2* index,
                          const std::vector<DriveScan>& scans,
                          std::unique_ptr<ParitySource>* out) {
  if (index == nullptr) {
    return Status::InvalidArgument(
        "parity",
        "the manifest binds no chunk index: a pack's files cannot "
        "be checked chunk by chunk, nor rebuilt");
  }
  if (pack->digests == nullptr) {
    return Status::InvalidArgument("parity",
                                   "M.parity was taken by an earlier run");
  }
  std::unique_ptr<ParitySource> p(new ParitySource());
  p->manifest_ = &manifest;
  p->layout_ = pack->layout;
  const PackLayout& l = p->layout_;
  const uint32_t k = l.k(), m = l.m();
  std::vector<std::vector<size_t>> entries;
  VALISE_RETURN_IF_ERROR(
      CheckLayoutMatchesManifest(l, manifest, "layout", &entries));
  for (uint32_t d = 0; d < k; ++d) {
    for (uint32_t f = 0; f < entries[d].size(); ++f) {
      p->where_[entries[d][f]] = {d, f};
    }
  }
  VALISE_RETURN_IF_ERROR(SidecarChunkDigests::Open(
      &p->layout_, entries, index, std::move(pack->digests), &p->digests_));
  p->map_ = std::make_unique<StripeMap>(&p->layout_);
  VALISE_RETURN_IF_ERROR(
      ParityCode::Create(static_cast<int>(k), static_cast<int>(m), &p->code_));

  // Which scan is which member.
  p->member_scan_.assign(k + m, -1);
  std::unordered_map<std::string_view, std::pair<uint32_t, uint64_t>> files;
  for (uint32_t d = 0; d < k; ++d) {
    for (const PackFile& f : l.data[d].files) files[f.path] = {d, f.size};
  }
  std::vector<std::vector<uint64_t>> votes(k,
                                           std::vector<uint64_t>(scans.size()));
  for (size_t s = 0; s < scans.size(); ++s) {
    if (scans[s].drive.kind != Drive::Kind::kDirectory) continue;
    for (const ScannedFile& f : scans[s].files) {
      auto it = files.find(f.rel);
      if (it != files.end() && it->second.second == f.info.size) {
        ++votes[it->second.first][s];
      }
      for (uint32_t j = 0; j < m; ++j) {
        if (!l.parity[j].segments.empty() &&
            f.rel == l.parity[j].segments[0].path) {
          p->member_scan_[k + j] = static_cast<int>(s);
        }
      }
    }
  }
  for (uint32_t d = 0; d < k; ++d) {
    auto best = std::max_element(votes[d].begin(), votes[d].end());
    if (best != votes[d].end() && *best > 0) {
      p->member_scan_[d] = static_cast<int>(best - votes[d].begin());
    }
  }
  p->lost_.assign(k + m, false);
  std::vector<std::string> data_roots(k), parity_roots(m);
  for (uint32_t i = 0; i < k + m; ++i) {
    const int s = p->member_scan_[i];
    // A data drive that held no file (none, or all empty) is no loss.
    p->lost_[i] = s < 0 && (i >= k || l.data[i].chunks > 0);
    if (s < 0) continue;
    (i < k ? data_roots[i] : parity_roots[i - k]) = scans[s].drive.path;
  }
  p->reader_ = std::make_unique<FsStripeReader>(
      fs, &p->layout_, std::move(data_roots), std::move(parity_roots));
  p->rebuilder_ = std::make_unique<StripeRebuilder>(
      p->map_.get(), p->code_.get(), p->reader_.get(), p->digests_.get());
  p->chunk_.resize(l.chunk_size);
  *out = std::move(p);
  return Status::OK();
}

bool ParitySource::Covers(size_t entry) const {
  return where_.count(entry) > 0;
}

bool ParitySource::IsParityDrive(int scan) const {
  for (uint32_t j = 0; j < layout_.m(); ++j) {
    if (member_scan_[layout_.k() + j] == scan) return true;
  }
  return false;
}

bool ParitySource::IsParityFile(int scan, std::string_view rel) const {
  for (uint32_t j = 0; j < layout_.m(); ++j) {
    if (member_scan_[layout_.k() + j] != scan) continue;
    for (const ParitySegment& s : layout_.parity[j].segments) {
      if (s.path == rel) return true;
    }
  }
  return false;
}

// One chunk into buf (chunk_size bytes): read and checked, else rebuilt.
Status ParitySource::RecoverChunk(uint32_t d, uint32_t f, uint64_t chunk,
                                  uint8_t* buf, bool* rebuilt) {
  const uint64_t stripe = map_->StripeOf(d, f, chunk);
  *rebuilt = false;
  Status why;
  if (!lost_[d]) {
    if (rebuilder_->ReadChecked(stripe, d, buf, &why)) return Status::OK();
    bad_.insert({d, stripe});
  }
  StripeOutcome outcome;
  VALISE_RETURN_IF_ERROR(
      rebuilder_->Rebuild(stripe, {d}, lost_, &buf, &outcome));
  for (const MemberProblem& p : outcome.bad_sources) {
    if (p.member != d) bad_.insert({p.member, stripe});
  }
  if (!outcome.rebuilt.empty()) {
    *rebuilt = true;
    ++chunks_rebuilt_;
    return Status::OK();
  }
  std::string detail =
      std::to_string(outcome.bad_sources.size()) + " more members unusable";
  for (const MemberProblem& p : outcome.bad_sources) {
    detail += "; " + p.why.message();
  }
  std::string lost;
  for (uint32_t i = 0; i < lost_.size(); ++i) {
    if (!lost_[i]) continue;
    lost += lost.empty() ? "" : ", ";
    lost += i < layout_.k() ? layout_.data[i].label
                            : layout_.parity[i - layout_.k()].label;
  }
  if (!lost.empty()) detail += "; drives not given: " + lost;
  if (!why.ok()) detail = why.message() + "; " + detail;
  return Status::IOError(
             "parity", "chunk " + std::to_string(chunk) +
                           " cannot be rebuilt: more than " +
                           std::to_string(layout_.m()) + " members of stripe " +
                           std::to_string(stripe) + " lost (" + detail + ")")
      .WithDataLoss(true);
}

Status ParitySource::Read(size_t entry, uint64_t offset, size_t n, char* buf,
                          uint64_t* rebuilt) {
  auto it = where_.find(entry);
  if (it == where_.end()) {
    return Status::InvalidArgument("parity", "not a packed file");
  }
  const auto [d, f] = it->second;
  const uint64_t size = layout_.data[d].files[f].size;
  const uint64_t cs = layout_.chunk_size;
  if (offset > size || n > size - offset) {
    return Status::InvalidArgument("parity", "read past the end");
  }
  std::lock_guard<std::mutex> lock(mu_);
  while (n > 0) {
    const uint64_t chunk = offset / cs;
    const uint64_t in = offset % cs;
    const size_t take = static_cast<size_t>(std::min<uint64_t>(n, cs - in));
    bool from_parity = false;
    Status s = RecoverChunk(d, f, chunk, chunk_.data(), &from_parity);
    if (!s.ok()) {
      why_lost_[entry] = s.message();
      return s;
    }
    if (from_parity && rebuilt != nullptr) ++*rebuilt;
    std::memcpy(buf, chunk_.data() + in, take);
    buf += take;
    offset += take;
    n -= take;
  }
  return Status::OK();
}

Status ParitySource::ReadWhole(size_t entry, DigestSet digests,
                               std::vector<Digest>* got, uint64_t* rebuilt) {
  *rebuilt = 0;
  const uint64_t size = manifest_->file_size(entry);
  const uint64_t cs = layout_.chunk_size;
  std::vector<char> buf(cs);
  MultiHasher h(digests);
  for (uint64_t off = 0; off < size; off += cs) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(cs, size - off));
    VALISE_RETURN_IF_ERROR(Read(entry, off, n, buf.data(), rebuilt));
    h.Update(buf.data(), n);
  }
  *got = h.Finish();
  return Status::OK();
}

std::string ParitySource::LostWhy(size_t entry) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = why_lost_.find(entry);
  return it == why_lost_.end() ? std::string() : it->second;
}

void ParitySource::CountFile(bool rebuilt) {
  std::lock_guard<std::mutex> lock(mu_);
  ++(rebuilt ? files_rebuilt_ : files_lost_);
}

ParityReport ParitySource::Report() const {
  std::lock_guard<std::mutex> lock(mu_);
  ParityReport r;
  r.present = true;
  r.data_drives = layout_.k();
  r.parity_drives = layout_.m();
  for (uint32_t i = 0; i < lost_.size(); ++i) {
    if (!lost_[i]) continue;
    r.drives_lost.push_back(i < layout_.k()
                                ? layout_.data[i].label
                                : layout_.parity[i - layout_.k()].label);
  }
  r.files_rebuilt = files_rebuilt_;
  r.files_unrecoverable = files_lost_;
  r.chunks_rebuilt = chunks_rebuilt_;
  std::vector<std::pair<uint32_t, uint64_t>> bad(bad_.begin(), bad_.end());
  const LossAssessment a = AssessLoss(*map_, lost_, bad);
  r.stripes_degraded = a.stripes_degraded;
  r.stripes_lost = a.stripes_lost;
  r.spare = a.spare;
  return r;
}

}  // namespace valise
