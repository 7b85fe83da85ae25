// SidecarChunkDigests: the signed digests a rebuild checks against, read
// from the manifest's bound sidecars (M.chunks for data chunks, M.parity
// for parity chunks), by position, one digest at a time: a rebuild reads a
// chunk of a drive per digest, so the digest's read costs nothing beside
// it.
#include "valise/chunk_index_v2.h"
#include "valise/rebuild.h"

namespace valise {

Status SidecarChunkDigests::Open(const PackLayout* layout,
                                 std::vector<std::vector<size_t>> entries,
                                 const ChunkIndexV2* index,
                                 std::unique_ptr<PositionalSource> parity,
                                 std::unique_ptr<SidecarChunkDigests>* out) {
  if (index->chunk_size() != layout->chunk_size) {
    return Status::Corruption(
        index->name(), "chunk size " + std::to_string(index->chunk_size()) +
                           ", the layout's is " +
                           std::to_string(layout->chunk_size));
  }
  if (entries.size() != layout->k()) {
    return Status::InvalidArgument("parity digests", "entries per data drive");
  }
  std::string head(kParityDigestsHeaderSize, '\0');
  if (parity->size() < head.size()) {
    return Status::Corruption(parity->name(), "shorter than its header");
  }
  VALISE_RETURN_IF_ERROR(parity->ReadAt(0, head.size(), head.data()));
  ParityDigestsHeader h;
  VALISE_RETURN_IF_ERROR(DecodeParityDigestsHeader(head, parity->name(), &h));
  if (h.chunk_size != layout->chunk_size || h.stripes != layout->stripes ||
      h.parity_drives != layout->m() ||
      parity->size() != ParityDigestsSize(h)) {
    return Status::Corruption(parity->name(),
                              "made for another layout (chunk size, stripes, "
                              "parity drives or length differ)");
  }
  std::unique_ptr<SidecarChunkDigests> d(new SidecarChunkDigests());
  d->layout_ = layout;
  d->entries_ = std::move(entries);
  d->index_ = index;
  d->parity_ = std::move(parity);
  d->header_ = h;
  *out = std::move(d);
  return Status::OK();
}

Status SidecarChunkDigests::Data(uint32_t d, const ChunkRef& ref,
                                 Sha256Bytes* out) {
  return index_->Read(entries_[d][ref.file], ref.chunk, 1, out);
}

Status SidecarChunkDigests::Parity(uint32_t j, uint64_t stripe,
                                   Sha256Bytes* out) {
  return parity_->ReadAt(ParityDigestOffset(header_, stripe, j), out->size(),
                         reinterpret_cast<char*>(out->data()));
}

}  // namespace valise
