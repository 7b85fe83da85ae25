// Bound sidecars: loading a file beside a manifest only once it matches the
// manifest's "# bind" line (see valise/sidecar.h for the two ways). Here,
// not in src/format, because it reads through FileSystem.
//
// The large form (OpenBoundSidecar) cannot keep the file in memory, and a
// file checked once and read later could have been rewritten in between
// (the manifest itself is copied into private memory for that reason). So
// the check pass also takes the SHA-256 of every segment of the file, and
// every later read fetches the whole segments it touches and checks them
// against those digests before handing out a byte. A few recently checked
// segments are kept, so the many small files whose digests sit side by
// side in one segment cost one segment read and hash between them.
#include <algorithm>
#include <array>
#include <cstring>
#include <mutex>
#include <vector>

#include "valise/digest.h"
#include "valise/sidecar.h"

namespace valise {

namespace {

// Segments are at least this long, and doubled until there are at most
// kMaxSegments (32 B of digest each: at most 32 MiB for any file).
constexpr uint64_t kMinSegment = 64 << 10;
constexpr uint64_t kMaxSegments = uint64_t{1} << 20;
// Checked segments kept for reuse.
constexpr size_t kCachedSegments = 8;
// Bytes per read of the check pass.
constexpr size_t kCheckPiece = 1 << 20;

using Sha = std::array<uint8_t, 32>;

Sha Sha256Of(Hasher* h) {
  Digest d = h->Finish();
  Sha out;
  memcpy(out.data(), d.bytes.data(), out.size());
  return out;
}

// Reads exactly n bytes at offset (a short read is continued; end of file
// before n is Corruption).
Status ReadFully(const File& file, uint64_t offset, size_t n, char* out) {
  size_t done = 0;
  while (done < n) {
    size_t got = 0;
    VALISE_RETURN_IF_ERROR(
        file.ReadAt(offset + done, n - done, out + done, &got));
    if (got == 0) {
      return Status::Corruption(
          file.path(), "ends at " + std::to_string(offset + done) +
                           ", before the " + std::to_string(offset + n) +
                           " bytes being read (it shrank)");
    }
    done += got;
  }
  return Status::OK();
}

// The mismatch message: names the sidecar and the manifest.
Status Mismatch(const std::string& path, const std::string& manifest_path,
                const SidecarBinding& got, const SidecarBinding& want) {
  return Status::Corruption(
      path, "does not match its binding in " + manifest_path +
                " (the file: " + DescribeBinding(got) + "; " + manifest_path +
                " binds: " + DescribeBinding(want) +
                "): it was altered, or belongs to another manifest");
}

class CheckedFile final : public PositionalSource {
 public:
  CheckedFile(std::unique_ptr<File> file, uint64_t size, uint64_t segment,
              std::vector<Sha> digests)
      : file_(std::move(file)),
        size_(size),
        segment_(segment),
        digests_(std::move(digests)) {}

  const std::string& name() const override { return file_->path(); }
  uint64_t size() const override { return size_; }

  Status ReadAt(uint64_t offset, size_t n, char* out) const override {
    if (offset > size_ || n > size_ - offset) {
      return Status::InvalidArgument(
          name(), "read of " + std::to_string(n) + " bytes at " +
                      std::to_string(offset) + " is past its end (" +
                      std::to_string(size_) + " bytes)");
    }
    while (n > 0) {
      const uint64_t seg = offset / segment_;
      const uint64_t within = offset - seg * segment_;
      std::shared_ptr<const std::string> bytes;
      VALISE_RETURN_IF_ERROR(Segment(seg, &bytes));
      const size_t take =
          static_cast<size_t>(std::min<uint64_t>(n, bytes->size() - within));
      memcpy(out, bytes->data() + within, take);
      out += take;
      offset += take;
      n -= take;
    }
    return Status::OK();
  }

 private:
  struct Cached {
    uint64_t seg = 0;
    uint64_t used = 0;
    std::shared_ptr<const std::string> bytes;
  };

  // Segment `seg`, checked against its digest (from the cache if there).
  Status Segment(uint64_t seg,
                 std::shared_ptr<const std::string>* bytes) const {
    {
      std::lock_guard<std::mutex> l(mu_);
      for (Cached& c : cache_) {
        if (c.bytes && c.seg == seg) {
          c.used = ++clock_;
          *bytes = c.bytes;
          return Status::OK();
        }
      }
    }
    // Read and hash outside the lock: other threads' hits go on.
    const uint64_t start = seg * segment_;
    auto data = std::make_shared<std::string>(
        static_cast<size_t>(std::min(segment_, size_ - start)), '\0');
    VALISE_RETURN_IF_ERROR(
        ReadFully(*file_, start, data->size(), data->data()));
    Sha got;
    {
      auto h = Hasher::New(DigestType::kSha256);
      h->Update(data->data(), data->size());
      got = Sha256Of(h.get());
    }
    if (got != digests_[seg]) {
      return Status::Corruption(
          name(), "bytes " + std::to_string(start) + " to " +
                      std::to_string(start + data->size()) +
                      " changed since the file was checked against its "
                      "binding (it is being rewritten?)");
    }
    std::lock_guard<std::mutex> l(mu_);
    Cached* slot = &cache_[0];
    for (Cached& c : cache_) {
      if (!c.bytes) {
        slot = &c;
        break;
      }
      if (c.used < slot->used) slot = &c;
    }
    slot->seg = seg;
    slot->used = ++clock_;
    slot->bytes = data;
    *bytes = std::move(data);
    return Status::OK();
  }

  std::unique_ptr<File> file_;
  uint64_t size_;
  uint64_t segment_;
  std::vector<Sha> digests_;
  mutable std::mutex mu_;
  mutable std::array<Cached, kCachedSegments> cache_;
  mutable uint64_t clock_ = 0;
};

// The binding the manifest holds for `name`, or NotFound.
Status FindBinding(const Manifest& m, const std::string& manifest_path,
                   std::string_view name, const SidecarBinding** b) {
  *b = m.binding(name);
  if (*b == nullptr) {
    return Status::NotFound(manifest_path,
                            "binds no '" + std::string(name) + "' sidecar");
  }
  return Status::OK();
}

// Reads `file` (of `size` bytes) once: its whole SHA-256 and, with
// `segment` > 0, the SHA-256 of each segment.
Status HashFile(const File& file, uint64_t size, uint64_t segment,
                SidecarBinding* whole, std::vector<Sha>* segments) {
  auto h = Hasher::New(DigestType::kSha256);
  auto seg_hash = Hasher::New(DigestType::kSha256);
  std::string buf(kCheckPiece, '\0');
  uint64_t offset = 0;
  while (offset < size) {
    size_t n =
        static_cast<size_t>(std::min<uint64_t>(buf.size(), size - offset));
    if (segment > 0) {
      n = static_cast<size_t>(
          std::min<uint64_t>(n, segment - offset % segment));
    }
    VALISE_RETURN_IF_ERROR(ReadFully(file, offset, n, buf.data()));
    h->Update(buf.data(), n);
    offset += n;
    if (segment > 0) {
      seg_hash->Update(buf.data(), n);
      if (offset % segment == 0 || offset == size) {
        segments->push_back(Sha256Of(seg_hash.get()));
      }
    }
  }
  // One byte more would mean the file grew since its size was taken.
  char extra;
  size_t got = 0;
  VALISE_RETURN_IF_ERROR(file.ReadAt(size, 1, &extra, &got));
  if (got != 0) {
    return Status::Corruption(file.path(), "grew while being checked");
  }
  whole->bytes = size;
  whole->sha256 = Sha256Of(h.get());
  return Status::OK();
}

Status OpenSidecarFile(FileSystem* fs, const std::string& path,
                       std::unique_ptr<File>* file, uint64_t* size) {
  ReadOptions ro;
  ro.direct = false;
  VALISE_RETURN_IF_ERROR(fs->OpenForRead(path, ro, file));
  return (*file)->Size(size);
}

}  // namespace

Status BindFile(FileSystem* fs, const std::string& path, SidecarBinding* out) {
  std::unique_ptr<File> file;
  uint64_t size = 0;
  VALISE_RETURN_IF_ERROR(OpenSidecarFile(fs, path, &file, &size));
  return HashFile(*file, size, 0, out, nullptr);
}

Status CheckBoundSidecar(FileSystem* fs, const std::string& manifest_path,
                         std::string_view name, const SidecarBinding& b) {
  const std::string path = SidecarPath(manifest_path, name);
  SidecarBinding got;
  VALISE_RETURN_IF_ERROR(BindFile(fs, path, &got));
  if (got != b) return Mismatch(path, manifest_path, got, b);
  return Status::OK();
}

Status LoadBoundSidecar(FileSystem* fs, const std::string& manifest_path,
                        const Manifest& m, std::string_view name,
                        size_t max_bytes, std::string* data) {
  const SidecarBinding* want;
  VALISE_RETURN_IF_ERROR(FindBinding(m, manifest_path, name, &want));
  const std::string path = SidecarPath(manifest_path, name);
  VALISE_RETURN_IF_ERROR(fs->ReadSmallFile(path, data, max_bytes));
  const SidecarBinding got = BindingOf(*data);
  if (got != *want) return Mismatch(path, manifest_path, got, *want);
  return Status::OK();
}

Status OpenBoundSidecar(FileSystem* fs, const std::string& manifest_path,
                        const Manifest& m, std::string_view name,
                        std::unique_ptr<PositionalSource>* out) {
  const SidecarBinding* want;
  VALISE_RETURN_IF_ERROR(FindBinding(m, manifest_path, name, &want));
  const std::string path = SidecarPath(manifest_path, name);
  std::unique_ptr<File> file;
  uint64_t size = 0;
  VALISE_RETURN_IF_ERROR(OpenSidecarFile(fs, path, &file, &size));
  if (size != want->bytes) {
    // No need to read it: the size alone tells.
    return Status::Corruption(
        path, "is " + std::to_string(size) + " bytes, but " + manifest_path +
                  " binds " + std::to_string(want->bytes) +
                  ": it was altered, or belongs to another manifest");
  }
  uint64_t segment = kMinSegment;
  while (size / segment >= kMaxSegments) segment *= 2;
  SidecarBinding got;
  std::vector<Sha> digests;
  digests.reserve(static_cast<size_t>(size / segment + 1));
  VALISE_RETURN_IF_ERROR(HashFile(*file, size, segment, &got, &digests));
  if (got != *want) return Mismatch(path, manifest_path, got, *want);
  *out = std::make_unique<CheckedFile>(std::move(file), size, segment,
                                       std::move(digests));
  return Status::OK();
}

}  // namespace valise
