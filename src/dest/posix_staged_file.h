// The staged file of the directory destination, shared by its parts
// (posix_destination.cc, posix_stage_writer.cc): a File being written
// under a temporary name, or a name that is already final (a file checked
// in place, a hard link).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "valise/destination.h"
#include "valise/file_system.h"

namespace valise {

class PosixStagedFile final : public StagedFile {
 public:
  PosixStagedFile(std::string name, std::string temp,
                  std::unique_ptr<File> file)
      : name_(std::move(name)),
        temp_(std::move(temp)),
        file_(std::move(file)) {}

  const std::string& name() const override { return name_; }
  bool named_info(FileInfo* info) const override {
    if (!seen_) return false;
    *info = seen_info_;
    return true;
  }
  void set_named_info(const FileInfo& info) {
    seen_info_ = info;
    seen_ = true;
  }

  // Its temporary name relative to DEST; empty when the file is under its
  // final name already.
  const std::string& temp() const { return temp_; }
  bool named() const { return temp_.empty(); }
  // Open while it is written and until it is sealed (or named); null after.
  File* file() const { return file_.get(); }
  void Close() { file_.reset(); }
  // The same handle, shared: a source of chunk clones may keep it open
  // after Close (Destination::CloneSource).
  const std::shared_ptr<File>& shared_file() const { return file_; }

  // What Finish gives it.
  uint64_t size = 0;
  uint32_t mode = 0644;
  int64_t mtime_ns = 0;
  // Staged under a key kept across runs (StageRequest::resumable): kept by
  // Keep, and cut to its size by Finish (a kept file may be longer).
  bool resumable = false;
  // Chunks were left unwritten (holes, LeaveHole) or cloned past the
  // written end: Finish gives it its size.
  bool sparse = false;

 private:
  std::string name_;
  std::string temp_;
  std::shared_ptr<File> file_;
  bool seen_ = false;
  FileInfo seen_info_;
};

inline PosixStagedFile* AsPosix(StagedFile* f) {
  return static_cast<PosixStagedFile*>(f);
}

}  // namespace valise
