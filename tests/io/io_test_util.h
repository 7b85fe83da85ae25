// Test doubles for the I/O tests (tests/io only).
//
//   MemFile  a File held in memory, without a descriptor (native_handle()
//            -1), with a switchable O_DIRECT flag and a DropDirect counter;
//   FdFile   a File around a raw descriptor the test opened (a pipe, a
//            write-only file), owned and closed by it;
//   DiskTempDir  a TempDir on /var/tmp (ext4 on the disk here: O_DIRECT
//            works, FIEMAP answers), removed with its contents.
//
// Thread safety: none; each test uses its own.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "support/test_util.h"
#include "valise/file_system.h"
#include "valise/status.h"

namespace valise::test {

class MemFile final : public File {
 public:
  MemFile(std::string path, std::string data, bool direct = false)
      : path_(std::move(path)), data_(std::move(data)), direct_(direct) {}

  const std::string& path() const override { return path_; }
  Status ReadAt(uint64_t offset, size_t n, char* scratch,
                size_t* bytes_read) const override {
    if (offset >= data_.size()) {
      *bytes_read = 0;
      return Status::OK();
    }
    size_t k = std::min(n, data_.size() - static_cast<size_t>(offset));
    memcpy(scratch, data_.data() + offset, k);
    *bytes_read = k;
    return Status::OK();
  }
  Status WriteAt(uint64_t offset, const char* data, size_t n) override {
    if (data_.size() < offset + n) data_.resize(offset + n);
    memcpy(data_.data() + offset, data, n);
    return Status::OK();
  }
  Status Size(uint64_t* size) const override {
    *size = data_.size();
    return Status::OK();
  }
  Status Sync() override {
    ++syncs;
    return sync_status;
  }
  Status Truncate(uint64_t size) override {
    data_.resize(size);
    return Status::OK();
  }
  Status SetModeAndTime(uint32_t, int64_t) override { return Status::OK(); }
  Status PhysicalOffset(uint64_t*) const override {
    return Status::NotSupported(path_, "memory");
  }
  Status CloneFrom(const File&, uint64_t, uint64_t, uint64_t) override {
    return Status::NotSupported(path_, "memory");
  }
  bool is_direct() const override { return direct_; }
  Status DropDirect() override {
    ++drop_direct_calls;
    direct_ = false;
    return Status::OK();
  }

  const std::string& data() const { return data_; }

  int drop_direct_calls = 0;
  int syncs = 0;
  Status sync_status;

 private:
  std::string path_;
  std::string data_;
  bool direct_;
};

class FdFile final : public File {
 public:
  FdFile(std::string path, int fd, uint64_t serial = 0)
      : path_(std::move(path)), fd_(fd), serial_(serial) {}
  ~FdFile() override {
    if (fd_ >= 0) close(fd_);
  }
  const std::string& path() const override { return path_; }
  Status ReadAt(uint64_t offset, size_t n, char* scratch,
                size_t* bytes_read) const override {
    ssize_t r = pread(fd_, scratch, n, static_cast<off_t>(offset));
    if (r < 0) {
      *bytes_read = 0;
      return Status::PosixError(path_ + ": read", errno);
    }
    *bytes_read = static_cast<size_t>(r);
    return Status::OK();
  }
  Status WriteAt(uint64_t offset, const char* data, size_t n) override {
    ssize_t r = pwrite(fd_, data, n, static_cast<off_t>(offset));
    if (r < 0) return Status::PosixError(path_ + ": write", errno);
    return Status::OK();
  }
  Status Size(uint64_t*) const override {
    return Status::NotSupported(path_, "size");
  }
  Status Sync() override {
    if (fdatasync(fd_) != 0) return Status::PosixError(path_ + ": sync", errno);
    return Status::OK();
  }
  Status Truncate(uint64_t) override { return Status::NotSupported(path_); }
  Status SetModeAndTime(uint32_t, int64_t) override {
    return Status::NotSupported(path_);
  }
  Status PhysicalOffset(uint64_t*) const override {
    return Status::NotSupported(path_);
  }
  Status CloneFrom(const File&, uint64_t, uint64_t, uint64_t) override {
    return Status::NotSupported(path_);
  }
  int native_handle() const override { return fd_; }
  uint64_t open_serial() const override { return serial_; }

 private:
  std::string path_;
  int fd_;
  uint64_t serial_;
};

namespace internal {
// Points $TMPDIR at `base` until Restore(), for TempDir's constructor.
class TmpdirOverride {
 public:
  explicit TmpdirOverride(const char* base) {
    const char* old = getenv("TMPDIR");
    had_ = old != nullptr;
    if (had_) saved_ = old;
    setenv("TMPDIR", base, 1);
  }
  void Restore() {
    if (had_) {
      setenv("TMPDIR", saved_.c_str(), 1);
    } else {
      unsetenv("TMPDIR");
    }
  }

 private:
  bool had_ = false;
  std::string saved_;
};
}  // namespace internal

class DiskTempDir : private internal::TmpdirOverride, public TempDir {
 public:
  DiskTempDir() : internal::TmpdirOverride("/var/tmp"), TempDir() { Restore(); }
};

}  // namespace valise::test
