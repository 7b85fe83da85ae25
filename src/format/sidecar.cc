// Bound sidecars: the parts that need no file system (see
// valise/sidecar.h); loading them is src/pipeline/sidecar_load.cc.
#include "valise/sidecar.h"

#include <array>
#include <cstring>

#include "valise/digest.h"

namespace valise {

Status MemorySource::ReadAt(uint64_t offset, size_t n, char* out) const {
  if (offset > data_.size() || n > data_.size() - offset) {
    return Status::InvalidArgument(
        name_, "read of " + std::to_string(n) + " bytes at " +
                   std::to_string(offset) + " is past its end (" +
                   std::to_string(data_.size()) + " bytes)");
  }
  memcpy(out, data_.data() + offset, n);
  return Status::OK();
}

std::string SidecarPath(std::string_view manifest_path, std::string_view name) {
  std::string out(manifest_path);
  out.push_back('.');
  out.append(name);
  return out;
}

SidecarBinding BindingOf(std::string_view data) {
  auto h = Hasher::New(DigestType::kSha256);
  h->Update(data.data(), data.size());
  SidecarBinding b;
  b.bytes = data.size();
  Digest d = h->Finish();
  memcpy(b.sha256.data(), d.bytes.data(), b.sha256.size());
  return b;
}

std::string DescribeBinding(const SidecarBinding& b) {
  Digest d;
  d.type = DigestType::kSha256;
  d.size = 32;
  memcpy(d.bytes.data(), b.sha256.data(), 32);
  return "bytes=" + std::to_string(b.bytes) + " sha256=" + d.Hex();
}

}  // namespace valise
