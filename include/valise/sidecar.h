// Bound sidecars: files that travel beside a manifest M as "M.<name>" and
// are covered by M's signature through their size and SHA-256, which M
// records in a "# bind" line (SidecarBinding, valise/manifest.h;
// docs/formats.md, "Bound sidecars"). A sidecar is used only once it
// matches its binding: a tampered sidecar beside a validly signed
// manifest, or one that belongs to another manifest, is refused
// (Corruption naming both files: exit status 2).
//
// Two ways to load one, after the manifest is parsed (and, with --pubkey,
// its signature checked, so its bindings are trusted):
//   LoadBoundSidecar   small sidecars, read whole into memory, checked,
//                      then parsed by the caller (from a private copy: the
//                      file changing afterwards changes nothing);
//   OpenBoundSidecar   large ones (the chunk index of an 80 TB shipment is
//                      2.5 GB), never held whole: the file is read once to
//                      check it, the SHA-256 of each of its segments (64 KiB
//                      or more, at most 2^20 of them) is kept, and every
//                      later positional read is checked against its
//                      segments' digests, so the bytes used are the bytes
//                      checked even if the file is rewritten during the run.
//
// Every read goes through FileSystem, so the simulated disk can break it.
//
// Thread safety: the functions are thread-safe; a PositionalSource's
// ReadAt may be called from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "valise/file_system.h"
#include "valise/manifest.h"
#include "valise/status.h"

namespace valise {

// Bytes read by position, each read whole or an error.
class PositionalSource {
 public:
  virtual ~PositionalSource() = default;
  // Name for messages (the file's path).
  virtual const std::string& name() const = 0;
  virtual uint64_t size() const = 0;
  // Reads exactly `n` bytes at `offset` into `out`; reading past size()
  // is InvalidArgument. Thread-safe.
  virtual Status ReadAt(uint64_t offset, size_t n, char* out) const = 0;
};

// A PositionalSource over bytes in memory (tests, fuzzers).
class MemorySource final : public PositionalSource {
 public:
  MemorySource(std::string name, std::string data)
      : name_(std::move(name)), data_(std::move(data)) {}
  const std::string& name() const override { return name_; }
  uint64_t size() const override { return data_.size(); }
  Status ReadAt(uint64_t offset, size_t n, char* out) const override;

 private:
  std::string name_;
  std::string data_;
};

// "M.<name>": where sidecar `name` of the manifest at `manifest_path` is.
std::string SidecarPath(std::string_view manifest_path, std::string_view name);

// The size and SHA-256 of `data`, as a writer binds it.
SidecarBinding BindingOf(std::string_view data);
// The size and SHA-256 of the file at `path`, read in pieces (a writer
// binding a large sidecar it wrote).
Status BindFile(FileSystem* fs, const std::string& path, SidecarBinding* out);

// "bytes=N sha256=HEX", for messages.
std::string DescribeBinding(const SidecarBinding& b);

// Checks the file of sidecar `name` of the manifest at `manifest_path`
// against binding `b`, reading it whole (valise sign, before it signs):
// OK, NotFound if it is absent, Corruption naming both files if its size
// or SHA-256 differs.
Status CheckBoundSidecar(FileSystem* fs, const std::string& manifest_path,
                         std::string_view name, const SidecarBinding& b);

// Reads sidecar `name` of the manifest at `manifest_path` (parsed into
// `m`) whole into *data and checks it against m's binding of `name`.
// NotFound if m binds no sidecar of that name, or if the file is absent
// (the message says which); Corruption naming both files if its size or
// SHA-256 differs from the binding; InvalidArgument if it is larger than
// `max_bytes`. On error *data is unspecified.
Status LoadBoundSidecar(FileSystem* fs, const std::string& manifest_path,
                        const Manifest& m, std::string_view name,
                        size_t max_bytes, std::string* data);

// Opens sidecar `name` for positional reads after checking it whole
// against m's binding (errors as LoadBoundSidecar). A later ReadAt whose
// bytes no longer match the digests taken at the check is Corruption
// ("changed since it was checked").
Status OpenBoundSidecar(FileSystem* fs, const std::string& manifest_path,
                        const Manifest& m, std::string_view name,
                        std::unique_ptr<PositionalSource>* out);

}  // namespace valise
