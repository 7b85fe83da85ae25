#include "cli/output.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "valise/chunk_index_v2.h"
#include "valise/drives.h"
#include "valise/pack.h"
#include "valise/sidecar.h"

namespace valise::cli {

namespace {

// `path` made absolute (against the working directory) with "." and ".."
// and empty components folded, lexically.
std::string Absolute(const std::string& path) {
  std::string in = path;
  if (in.empty() || in[0] != '/') {
    char* cwd = getcwd(nullptr, 0);
    if (cwd != nullptr) {
      in = std::string(cwd) + "/" + in;
      std::free(cwd);
    }
  }
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos <= in.size()) {
    size_t slash = in.find('/', pos);
    if (slash == std::string::npos) slash = in.size();
    const std::string part = in.substr(pos, slash - pos);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    pos = slash + 1;
  }
  std::string out;
  for (const std::string& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

// `path` absolute and free of symlinks: the longest prefix that exists,
// resolved by realpath(3), then the rest as written.
std::string Resolve(const std::string& path) {
  const std::string abs = Absolute(path);
  std::string head = abs;
  std::string tail;
  while (true) {
    char* real = realpath(head.c_str(), nullptr);
    if (real != nullptr) {
      std::string out = real;
      std::free(real);
      if (tail.empty()) return out;
      return (out == "/" ? "" : out) + "/" + tail;
    }
    const size_t slash = head.find_last_of('/');
    if (head == "/" || slash == std::string::npos) return abs;
    tail = head.substr(slash + 1) + (tail.empty() ? "" : "/" + tail);
    head = slash == 0 ? "/" : head.substr(0, slash);
  }
}

bool Within(const std::string& path, const std::string& dir) {
  if (dir == "/") return true;
  return path == dir ||
         (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
          path[dir.size()] == '/');
}

bool SameFile(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// True if a directory on the way from `real` (resolved) up to "/" is the
// directory `tree` (by device and inode: a bind mount of it counts).
bool UnderByInode(const std::string& real, const struct stat& tree) {
  std::string dir = real;
  while (true) {
    struct stat st;
    if (stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) &&
        SameFile(st, tree)) {
      return true;
    }
    if (dir == "/") return false;
    const size_t slash = dir.find_last_of('/');
    dir = slash == 0 ? "/" : dir.substr(0, slash);
  }
}

// True if the regular file `path` starts like a PEM key ("-----BEGIN
// PRIVATE KEY-----", "-----BEGIN PUBLIC KEY-----", ...).
bool HoldsKey(const std::string& path) {
  const int fd = open(
      path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return false;
  char buf[64];
  const ssize_t n = read(fd, buf, sizeof(buf));
  close(fd);
  if (n <= 0) return false;
  const std::string_view head(buf, static_cast<size_t>(n));
  const size_t eol = head.find('\n');
  const std::string_view first = head.substr(0, eol);
  return first.starts_with("-----BEGIN ") &&
         first.find("KEY-----") != std::string_view::npos;
}

const char* TypeOfMode(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// The rules of output.h, before anything is created.
Status CheckRules(const std::string& named, const std::string& path,
                  bool allow_stdout, const OutputGuard& guard) {
  struct stat st;
  const bool exists = lstat(path.c_str(), &st) == 0;
  if (exists && S_ISLNK(st.st_mode)) {
    return Status::InvalidArgument(
        named, std::string("is a symbolic link: valise never writes through "
                           "or replaces one") +
                   (allow_stdout ? " (for standard output, give -o -)"
                                 : " (give the file it names)"));
  }
  if (exists && !S_ISREG(st.st_mode)) {
    return Status::InvalidArgument(
        named, std::string("is ") + TypeOfMode(st.st_mode) +
                   ", not a regular file: never written to or replaced");
  }
  if (exists && !guard.force) {
    return Status::InvalidArgument(
        named, "exists; not replaced (--force replaces a regular file)");
  }
  const std::string real = Resolve(path);
  for (const std::string& in : guard.inputs) {
    struct stat ist;
    const bool same_inode =
        exists && stat(in.c_str(), &ist) == 0 && SameFile(st, ist);
    if (same_inode || Resolve(in) == real) {
      return Status::InvalidArgument(
          named, "is " + in +
                     ", which this run reads: never replaced, even with "
                     "--force");
    }
  }
  if (exists && HoldsKey(path)) {
    return Status::InvalidArgument(
        named, "holds a key: never replaced, even with --force");
  }
  for (const std::string& tree : guard.trees) {
    struct stat tst;
    const bool is_dir = stat(tree.c_str(), &tst) == 0 && S_ISDIR(tst.st_mode);
    if (Within(real, Resolve(tree)) || (is_dir && UnderByInode(real, tst))) {
      return Status::InvalidArgument(
          named, "is inside " + tree +
                     " (a SRC or DEST of this run): valise writes nothing "
                     "there but the dataset; write it elsewhere");
    }
  }
  return Status::OK();
}

// Standard output's first failure: its errno (0 if unknown).
bool g_stdout_failed = false;
int g_stdout_errno = 0;

void StdoutFailed(int err) {
  if (g_stdout_failed) return;
  g_stdout_failed = true;
  g_stdout_errno = err;
}

}  // namespace

OutputGuard GuardFromArgs(const Args& args) {
  OutputGuard g;
  g.force = args.force;
  if (!args.manifest.empty()) {
    g.inputs.push_back(args.manifest);
    g.inputs.push_back(args.manifest + ".sig");
    // Its sidecars (valise/sidecar.h): the chunk index, a pack's layout
    // and parity digests, the shipment's drives.
    for (std::string_view name :
         {kChunkIndexSidecar, kLayoutSidecar, kParitySidecar, kDrivesSidecar}) {
      g.inputs.push_back(SidecarPath(args.manifest, name));
    }
    // -m BAG (verify): the bag's directory is read like a drive.
    g.trees.push_back(args.manifest);
  }
  if (!args.key.empty()) g.inputs.push_back(args.key);
  if (!args.pubkey.empty()) g.inputs.push_back(args.pubkey);
  for (const std::string& src : args.sources) {
    g.inputs.push_back(src);  // an image file or a device
    g.trees.push_back(src);   // a directory
  }
  if (!args.dest.empty()) g.trees.push_back(args.dest);
  // pack --drives: the drives being filled.
  for (const std::string& d : args.drives) g.trees.push_back(d);
  return g;
}

Status Output::Create(const std::string& flag, const std::string& path,
                      uint32_t mode, bool allow_stdout,
                      const OutputGuard& guard, std::unique_ptr<Output>* out) {
  const std::string named = flag + " " + path;
  if (path.empty()) return Status::InvalidArgument(flag, "an empty path");
  auto o = std::unique_ptr<Output>(new Output());
  o->flag_ = flag;
  o->path_ = path;
  if (path == "-") {
    if (!allow_stdout) {
      return Status::InvalidArgument(
          named, "standard output is not an output of this flag" +
                     std::string(flag == "--report"
                                     ? " (--json prints the report there)"
                                     : ""));
    }
    *out = std::move(o);
    return Status::OK();
  }
  VALISE_RETURN_IF_ERROR(CheckRules(named, path, allow_stdout, guard));
  OutputOptions opt;
  opt.replace = guard.force;
  Status s = FileSystem::Default()->CreateOutput(path, mode, opt, &o->file_);
  if (!s.ok()) return s.WithContext(flag);
  *out = std::move(o);
  return Status::OK();
}

Status Output::Check(const std::string& flag, const std::string& path,
                     const OutputGuard& guard) {
  return CheckRules(flag + " " + path, path, false, guard);
}

Status Output::Append(std::string_view data) {
  if (is_stdout()) {
    PrintOut(data);
    return Status::OK();  // FinishStdout reports a failure, once
  }
  Status s = file_->Append(data);
  return s.ok() ? s : s.WithContext(flag_);
}

Status Output::Close() {
  if (is_stdout()) {
    FlushOut();
    return Status::OK();
  }
  Status s = file_->Close();
  return s.ok() ? s : s.WithContext(flag_);
}

void PrintOut(std::string_view text) {
  if (g_stdout_failed || text.empty()) return;
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size()) {
    StdoutFailed(errno);
  }
}

void FlushOut() {
  if (std::fflush(stdout) != 0) StdoutFailed(errno);
}

Status FinishStdout() {
  FlushOut();
  // A write by another path (CLI11's help, fmt::print) that failed.
  if (std::ferror(stdout)) StdoutFailed(0);
  errno = 0;
  if (std::fclose(stdout) != 0) StdoutFailed(errno);
  if (!g_stdout_failed) return Status::OK();
  if (g_stdout_errno == 0) {
    return Status::IOError("standard output", "a write failed");
  }
  return Status::PosixError("standard output: write", g_stdout_errno);
}

}  // namespace valise::cli
