// Every file a command writes (--report, -o, keygen's KEY and KEY.pub,
// sign's M.sig, manifest's M.chunks) and standard output go through here,
// so the rules hold everywhere (issue 12):
//
//  - Checked and created before any drive is read: a run of hours never
//    ends unable to write what it was asked for. Messages name the path the
//    operator gave, never a temporary name.
//  - "-" is standard output, where a command allows it (manifest -o -).
//  - A file already at the path is replaced only with --force, and only a
//    regular file. Never, even with --force: a symlink (/dev/stdout is
//    one: -o - says standard output), a directory, a device, a FIFO or a
//    socket; a file the run reads (the manifest, M.sig, M.chunks, a key, a
//    SRC given as an image); a file holding a PEM key; anything inside a
//    SRC or DEST (verify promises to write nothing on a drive; DEST is the
//    dataset's).
//  - Every write to standard output is checked (PrintOut), and so is its
//    flush and close at exit (FinishStdout): a full disk or a reader gone
//    (EPIPE; SIGPIPE is ignored) is trouble, exit 2, not a silent success.
//
// The paths are compared once symlinks are resolved, and a directory
// inside a SRC or DEST is also recognised by its device and inode (a bind
// mount of a drive is the drive).
//
// Thread safety: an Output is used by one thread; PrintOut and
// FinishStdout by the main thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cli/flags.h"
#include "valise/file_system.h"
#include "valise/status.h"

namespace valise::cli {

// What a command's outputs must leave alone.
struct OutputGuard {
  bool force = false;               // --force: replace a regular file
  std::vector<std::string> inputs;  // files the run reads
  std::vector<std::string> trees;   // SRCs and DEST: nothing inside
};

// The guard for a command line: -m M with M.sig and its sidecars
// (M.chunks, M.layout, M.parity), -k KEY, --pubkey KEY.pub and the SRCs as
// inputs; the SRCs, -d DEST and pack's --drives as trees; --force.
OutputGuard GuardFromArgs(const Args& args);

class Output {
 public:
  // Checks `path`, given with `flag` ("--report", "-o"; named in
  // messages), against the rules above, and creates it (an unnamed file in
  // its directory, named at Close). `allow_stdout`: "-" means standard
  // output. InvalidArgument for a refused path, NotFound for a missing
  // directory, IOError for one that cannot be written.
  static Status Create(const std::string& flag, const std::string& path,
                       uint32_t mode, bool allow_stdout,
                       const OutputGuard& guard, std::unique_ptr<Output>* out);

  // The rules alone, for an output another writer creates (manifest's
  // chunk index, written by the pipeline through a File).
  static Status Check(const std::string& flag, const std::string& path,
                      const OutputGuard& guard);

  Status Append(std::string_view data);
  // Gives the file its name, whole and durable (standard output: flushed).
  Status Close();
  bool is_stdout() const { return file_ == nullptr; }
  const std::string& path() const { return path_; }

 private:
  std::string flag_, path_;
  std::unique_ptr<OutputFile> file_;  // null: standard output
};

// Writes to standard output. The first failure is kept (with its errno)
// for FinishStdout; later writes are dropped.
void PrintOut(std::string_view text);
// Flushes standard output, keeping a failure for FinishStdout.
void FlushOut();
// Flushes and closes standard output: OK, or IOError naming "standard
// output" and the error of the first write, flush or close that failed.
// Called once, as valise exits.
Status FinishStdout();

}  // namespace valise::cli
