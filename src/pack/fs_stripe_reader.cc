// FsStripeReader: stripe members read from the drives' mount points
// through FileSystem (so the simulated disk can lose, break and corrupt
// them), one synchronous positional read per member. Files are opened
// buffered: a chunk's tail is rarely aligned as O_DIRECT needs, and the
// rebuilder's read-ahead hints (File::WillNeed) work through the cache.
#include <cstring>

#include "valise/rebuild.h"

namespace valise {

FsStripeReader::FsStripeReader(FileSystem* fs, const PackLayout* layout,
                               std::vector<std::string> data_roots,
                               std::vector<std::string> parity_roots)
    : fs_(fs),
      layout_(layout),
      data_roots_(std::move(data_roots)),
      parity_roots_(std::move(parity_roots)),
      open_(layout->k() + layout->m()),
      ahead_(layout->k() + layout->m()) {
  data_roots_.resize(layout->k());
  parity_roots_.resize(layout->m());
}

FsStripeReader::~FsStripeReader() = default;

Status FsStripeReader::OpenIn(Open* slot, const std::string& root,
                              const std::string& rel,
                              const std::string& label) {
  if (root.empty()) {
    return Status::NotFound(label, "drive not given");
  }
  const std::string path = root + "/" + rel;
  if (slot->file != nullptr && slot->path == path) return Status::OK();
  slot->file.reset();
  ReadOptions opt;
  opt.direct = false;
  VALISE_RETURN_IF_ERROR(fs_->OpenForRead(path, opt, &slot->file));
  slot->path = path;
  return Status::OK();
}

Status FsStripeReader::ReadFrom(Open* slot, const std::string& root,
                                const std::string& rel,
                                const std::string& label, uint64_t offset,
                                uint64_t n, uint8_t* buf) {
  VALISE_RETURN_IF_ERROR(OpenIn(slot, root, rel, label));
  const std::string& path = slot->path;
  uint64_t done = 0;
  while (done < n) {
    size_t got = 0;
    Status s = slot->file->ReadAt(offset + done, n - done,
                                  reinterpret_cast<char*>(buf) + done, &got);
    if (!s.ok()) {
      slot->file.reset();  // a later read reopens (the drive may be back)
      return s;
    }
    if (got == 0) {
      return Status::Corruption(
          path, "ends at " + std::to_string(offset + done) +
                    ", the layout says it holds " + std::to_string(offset + n) +
                    " bytes or more: truncated");
    }
    done += got;
  }
  return Status::OK();
}

Status FsStripeReader::ReadData(uint32_t d, const ChunkRef& ref, uint8_t* buf) {
  const DataDriveLayout& drive = layout_->data[d];
  return ReadFrom(&open_[d], data_roots_[d], drive.files[ref.file].path,
                  "data drive " + drive.label, ref.offset, ref.length, buf);
}

Status FsStripeReader::ReadParity(uint32_t j, uint64_t stripe, uint8_t* buf) {
  size_t segment = 0;
  uint64_t offset = 0;
  LocateParity(*layout_, stripe, &segment, &offset);
  const ParityDriveLayout& drive = layout_->parity[j];
  return ReadFrom(&open_[layout_->k() + j], parity_roots_[j],
                  drive.segments[segment].path, "parity drive " + drive.label,
                  offset, layout_->chunk_size, buf);
}

void FsStripeReader::PrefetchData(uint32_t d, const ChunkRef& ref) {
  Open* slot = &ahead_[d];
  if (OpenIn(slot, data_roots_[d], layout_->data[d].files[ref.file].path,
             "data drive " + layout_->data[d].label)
          .ok()) {
    slot->file->WillNeed(ref.offset, ref.length);
  }
}

void FsStripeReader::PrefetchParity(uint32_t j, uint64_t stripe) {
  size_t segment = 0;
  uint64_t offset = 0;
  LocateParity(*layout_, stripe, &segment, &offset);
  Open* slot = &ahead_[layout_->k() + j];
  if (OpenIn(slot, parity_roots_[j], layout_->parity[j].segments[segment].path,
             "parity drive " + layout_->parity[j].label)
          .ok()) {
    slot->file->WillNeed(offset, layout_->chunk_size);
  }
}

}  // namespace valise
