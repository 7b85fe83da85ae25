// The parity drive: see parity_drive.h.
#include "pipeline/parity_drive.h"

#include <algorithm>
#include <cerrno>
#include <string_view>

#include "io/threaded_queue.h"
#include "valise/io_queue.h"

namespace valise {

namespace {

// What the drive's path is: never a path of a real drive (a name with a
// colon, relative, that no scan produces).
constexpr std::string_view kRoot = "valise-parity:";

class ParityFile final : public File {
 public:
  ParityFile(std::string path, ParitySource* src, size_t entry, uint64_t size)
      : path_(std::move(path)), src_(src), entry_(entry), size_(size) {}
  const std::string& path() const override { return path_; }
  Status ReadAt(uint64_t offset, size_t n, char* scratch,
                size_t* bytes_read) const override {
    *bytes_read = 0;
    if (offset >= size_) return Status::OK();
    n = static_cast<size_t>(std::min<uint64_t>(n, size_ - offset));
    Status s = src_->Read(entry_, offset, n, scratch);
    if (!s.ok()) {
      // Not a media error: nothing to rescue sector by sector.
      return Status::PosixError(path_ + ": " + s.message(), ENOTRECOVERABLE);
    }
    *bytes_read = n;
    return Status::OK();
  }
  Status WriteAt(uint64_t, const char*, size_t) override { return ReadOnly(); }
  Status Size(uint64_t* size) const override {
    *size = size_;
    return Status::OK();
  }
  Status Sync() override { return ReadOnly(); }
  Status Truncate(uint64_t) override { return ReadOnly(); }
  Status SetModeAndTime(uint32_t, int64_t) override { return ReadOnly(); }
  Status PhysicalOffset(uint64_t* offset) const override {
    *offset = 0;
    return Status::OK();
  }
  Status CloneFrom(const File&, uint64_t, uint64_t, uint64_t) override {
    return ReadOnly();
  }

 private:
  Status ReadOnly() const {
    return Status::NotSupported(path_, "the parity drive is read-only");
  }
  std::string path_;
  ParitySource* src_;
  size_t entry_;
  uint64_t size_;
};

class ParityFs final : public ParityFileSystem {
 public:
  ParityFs(FileSystem* base, const Manifest& m) : base_(base), m_(m) {}

  void Attach(ParitySource* src) override { src_ = src; }

  Status Stat(const std::string& path, FileInfo* info) override {
    return base_->Stat(path, info);
  }
  Status ResolvePath(const std::string& path, std::string* resolved) override {
    return base_->ResolvePath(path, resolved);
  }
  Status ListDir(const std::string& path,
                 std::vector<DirEntry>* entries) override {
    return base_->ListDir(path, entries);
  }
  Status OpenForRead(const std::string& path, const ReadOptions& opt,
                     std::unique_ptr<File>* result) override {
    std::string_view p = path;
    if (src_ == nullptr || p.substr(0, kRoot.size()) != kRoot) {
      return base_->OpenForRead(path, opt, result);
    }
    p.remove_prefix(kRoot.size());
    if (!p.empty() && p[0] == '/') p.remove_prefix(1);
    const int64_t e = m_.Find(p);
    if (e < 0 || !src_->Covers(static_cast<size_t>(e))) {
      return Status::NotFound(path, "not a file of the pack");
    }
    *result = std::make_unique<ParityFile>(path, src_, static_cast<size_t>(e),
                                           m_.file_size(e));
    return Status::OK();
  }
  Status OpenDirectory(const std::string& path, bool create,
                       std::unique_ptr<Directory>* result) override {
    return base_->OpenDirectory(path, create, result);
  }
  Status ReadSmallFile(const std::string& path, std::string* data,
                       size_t max_size) override {
    return base_->ReadSmallFile(path, data, max_size);
  }
  Status ReadLargeFile(const std::string& path, size_t max_size,
                       std::unique_ptr<FileContents>* result) override {
    return base_->ReadLargeFile(path, max_size, result);
  }
  Status WriteSmallFile(const std::string& path, const std::string& data,
                        uint32_t mode) override {
    return base_->WriteSmallFile(path, data, mode);
  }
  Status CreateOutput(const std::string& path, uint32_t mode,
                      const OutputOptions& opt,
                      std::unique_ptr<OutputFile>* result) override {
    return base_->CreateOutput(path, mode, opt, result);
  }
  std::unique_ptr<IoQueue> NewIoQueue(const IoQueueOptions& opt,
                                      std::string* note) override {
    // The parity drive's files have no descriptor: a thread serves them
    // (reads are serialized by the source anyway); the rest go to base's.
    return NewThreadedQueue(base_->NewIoQueue(opt, note), 1);
  }
  uint64_t NowMicros() override { return base_->NowMicros(); }

 private:
  FileSystem* base_;
  const Manifest& m_;
  ParitySource* src_ = nullptr;
};

}  // namespace

DriveScan ParityDriveScan(const ParitySource& src, const Manifest& m) {
  DriveScan scan;
  scan.drive.source = kParityDriveName;
  scan.drive.path = std::string(kRoot);
  scan.drive.kind = Drive::Kind::kDirectory;
  scan.drive.info.type = FileType::kDirectory;
  for (size_t e = 0; e < m.size(); ++e) {  // the manifest is sorted by path
    if (!src.Covers(e)) continue;
    ScannedFile f;
    f.rel = std::string(m.path(e));
    f.info.type = FileType::kRegular;
    f.info.size = m.file_size(e);
    f.info.mtime_ns = m.has_mtimes() ? m.mtime_ns(e) : 0;
    f.info.mode = 0644;
    scan.files.push_back(std::move(f));
  }
  std::sort(
      scan.files.begin(), scan.files.end(),
      [](const ScannedFile& a, const ScannedFile& b) { return a.rel < b.rel; });
  return scan;
}

std::unique_ptr<ParityFileSystem> NewParityFileSystem(FileSystem* base,
                                                      const Manifest& m) {
  return std::make_unique<ParityFs>(base, m);
}

}  // namespace valise
