// metadata_limit: lands the files of some source directories on DEST with
// the fewest system calls valise's commit protocol allows, as the limit
// that valise's small-file ingest is measured against (scripts/bench-peers
// ingest, figure small_vs_metadata_limit in bench/targets.json).
//
//   metadata_limit [--group N] DEST SRC...
//
// The problem. With files of a few KiB the bytes cost little; what costs
// is system calls and file-system metadata. valise must make every file's
// data durable before the file gets its final name (a crash leaves either
// a temporary file or a whole, verified file), and it must not replace a
// name already there. How fast could any program keeping those two rules
// land a tree? That is what this program measures, on the same DEST and
// the same files, so "valise reaches 0.8 of it" says how much valise's own
// work (hashing, checking, the journal, its bookkeeping) costs.
//
// The approach: the protocol and nothing else.
//   - One thread per SRC walks it (readdir, fstatat without following
//     links: the size, mode and mtime valise takes from its scan), then for
//     each regular file: open, read it whole, close; create its staging
//     file in DEST/.limit-staging with O_CREAT|O_EXCL and the file's mode,
//     write, set the mtime (futimens), close. No hashing, no checks.
//   - One committer takes the staged files in groups (--group, default
//     1024, as valise's commit groups) and seals each group with one
//     syncfs(2) of DEST, in a thread of its own, while the group before
//     (sealed by the previous syncfs) is named: each file renamed into its
//     final path with renameat2(RENAME_NOREPLACE), its directories made
//     once. The names become durable at the next syncfs; a last syncfs
//     seals the last names. That is valise's pipeline (CommitBySyncFs in
//     src/pipeline/ingest.cc) without the journal.
// So per file: open/read/close the source, create/write/futimens/close the
// staging file, one rename; per group: one syncfs. Fewer calls would break
// a rule: naming without a flush before it (data not durable under its
// name), or creating under the final name (a crash leaves a partial file
// with a final name).
//
// Output: DEST holds SRC's regular files merged, under their relative
// paths, with their mode and mtime (the staging directory is removed at
// the end); one summary line on stderr. Exit status: 0 done, 2 an error
// (named, with the path and the operation).
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

namespace {

constexpr char kStaging[] = ".limit-staging";

[[noreturn]] void Die(const std::string& what, int err) {
  std::fprintf(stderr, "metadata_limit: error: %s: %s\n", what.c_str(),
               std::strerror(err));
  std::exit(2);
}

struct Source {
  std::string rel;  // path below SRC, and below DEST
  uint64_t size = 0;
  mode_t mode = 0;
  timespec mtime{};
};

// Every regular file below `dir` (relative path `rel`), in readdir order.
void Walk(int dirfd, const std::string& path, const std::string& rel,
          std::vector<Source>* out) {
  DIR* d = fdopendir(dirfd);
  if (d == nullptr) Die(path + ": fdopendir", errno);
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      Die(path + "/" + name + ": fstatat", errno);
    }
    const std::string r = rel.empty() ? name : rel + "/" + name;
    if (S_ISDIR(st.st_mode)) {
      int sub = openat(dirfd, e->d_name,
                       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0) Die(path + "/" + name + ": open", errno);
      Walk(sub, path + "/" + name, r, out);
    } else if (S_ISREG(st.st_mode)) {
      out->push_back(Source{r, static_cast<uint64_t>(st.st_size),
                            st.st_mode & 07777, st.st_mtim});
    }
  }
  closedir(d);  // closes dirfd
}

// A file staged under `staging`, to be named `rel`.
struct Staged {
  std::string staging;
  std::string rel;
};

class Lander {
 public:
  Lander(int dest, int staging, size_t group)
      : dest_(dest), staging_(staging), group_(group) {}

  // One SRC: walked, then every file read and staged.
  void Stage(const std::string& src, int id) {
    int root = open(src.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) Die(src + ": open", errno);
    int walk = dup(root);
    if (walk < 0) Die(src + ": dup", errno);
    std::vector<Source> files;
    Walk(walk, src, "", &files);
    std::vector<char> buf(1 << 20);
    uint64_t n = 0;
    for (const Source& f : files) {
      if (buf.size() < f.size) buf.resize(f.size);
      int in = openat(root, f.rel.c_str(), O_RDONLY | O_NOATIME | O_CLOEXEC);
      if (in < 0 && errno == EPERM) {
        in = openat(root, f.rel.c_str(), O_RDONLY | O_CLOEXEC);
      }
      if (in < 0) Die(src + "/" + f.rel + ": open", errno);
      uint64_t got = 0;
      while (got < f.size) {
        ssize_t r = read(in, buf.data() + got, f.size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) Die(src + "/" + f.rel + ": read", errno);
        if (r == 0) break;
        got += static_cast<uint64_t>(r);
      }
      close(in);
      const std::string name = std::to_string(id) + "-" + std::to_string(n++);
      int out = openat(staging_, name.c_str(),
                       O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, f.mode);
      if (out < 0) Die(std::string(kStaging) + "/" + name + ": create", errno);
      uint64_t put = 0;
      while (put < got) {
        ssize_t w = write(out, buf.data() + put, got - put);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) Die(std::string(kStaging) + "/" + name + ": write", errno);
        put += static_cast<uint64_t>(w);
      }
      const timespec times[2] = {{0, UTIME_OMIT}, f.mtime};
      if (futimens(out, times) != 0) Die(name + ": futimens", errno);
      if (close(out) != 0) Die(name + ": close", errno);
      bytes_ += got;
      std::lock_guard<std::mutex> l(mu_);
      queue_.push_back(Staged{name, f.rel});
      if (queue_.size() >= group_) cv_.notify_one();
    }
    close(root);
  }

  void StagingDone() {
    std::lock_guard<std::mutex> l(mu_);
    staging_done_ = true;
    cv_.notify_one();
  }

  // The committer: one syncfs per group, the group before named meanwhile;
  // a last syncfs makes the last group's names durable.
  void Commit() {
    std::vector<Staged> sealed;  // synced, not yet named
    for (;;) {
      std::vector<Staged> batch;
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return queue_.size() >= group_ || staging_done_; });
        while (!queue_.empty() && batch.size() < group_) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      if (batch.empty()) {  // everything staged is sealed
        Name(sealed);
        break;
      }
      int err = 0;
      std::thread syncer([&] {
        if (syncfs(dest_) != 0) err = errno;
      });
      Name(sealed);
      syncer.join();
      if (err != 0) Die("DEST: syncfs", err);
      ++groups_;
      sealed = std::move(batch);
    }
    if (syncfs(dest_) != 0) Die("DEST: syncfs", errno);
  }

  uint64_t files() const { return files_; }
  uint64_t bytes() const { return bytes_; }
  uint64_t groups() const { return groups_; }

 private:
  void Name(const std::vector<Staged>& files) {
    for (const Staged& f : files) {
      MakeParents(f.rel);
      if (renameat2(staging_, f.staging.c_str(), dest_, f.rel.c_str(),
                    RENAME_NOREPLACE) != 0) {
        Die(f.rel + ": renameat2", errno);
      }
      ++files_;
    }
  }

  // Creates the directories of `rel` that this run has not made yet.
  void MakeParents(const std::string& rel) {
    for (size_t slash = rel.find('/'); slash != std::string::npos;
         slash = rel.find('/', slash + 1)) {
      std::string dir = rel.substr(0, slash);
      if (made_.count(dir)) continue;
      if (mkdirat(dest_, dir.c_str(), 0755) != 0 && errno != EEXIST) {
        Die(dir + ": mkdir", errno);
      }
      made_.insert(std::move(dir));
    }
  }

  const int dest_;
  const int staging_;
  const size_t group_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Staged> queue_;
  bool staging_done_ = false;
  std::unordered_set<std::string> made_;  // committer only
  uint64_t files_ = 0;                    // committer only
  uint64_t groups_ = 0;                   // committer only
  std::atomic<uint64_t> bytes_{0};
};

int Usage() {
  std::fprintf(stderr, "usage: metadata_limit [--group N] DEST SRC...\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  size_t group = 1024;
  int i = 1;
  if (i + 1 < argc && std::strcmp(argv[i], "--group") == 0) {
    group = std::strtoul(argv[i + 1], nullptr, 10);
    i += 2;
  }
  if (group == 0 || argc - i < 2) return Usage();
  const std::string dest = argv[i++];
  std::vector<std::string> srcs(argv + i, argv + argc);
  umask(0);  // the staging files get the sources' modes as they are
  int dest_fd = open(dest.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dest_fd < 0) Die(dest + ": open", errno);
  if (mkdirat(dest_fd, kStaging, 0700) != 0) {
    Die(dest + "/" + kStaging + ": mkdir", errno);
  }
  int staging = openat(dest_fd, kStaging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (staging < 0) Die(dest + "/" + kStaging + ": open", errno);
  const auto start = std::chrono::steady_clock::now();
  Lander lander(dest_fd, staging, group);
  std::thread committer([&] { lander.Commit(); });
  std::vector<std::thread> stagers;
  for (size_t s = 0; s < srcs.size(); ++s) {
    stagers.emplace_back(
        [&, s] { lander.Stage(srcs[s], static_cast<int>(s)); });
  }
  for (std::thread& t : stagers) t.join();
  lander.StagingDone();
  committer.join();
  if (unlinkat(dest_fd, kStaging, AT_REMOVEDIR) != 0) {
    Die(dest + "/" + kStaging + ": rmdir", errno);
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::fprintf(stderr,
               "metadata_limit: %llu files, %llu bytes, %llu groups in "
               "%.3f s\n",
               static_cast<unsigned long long>(lander.files()),
               static_cast<unsigned long long>(lander.bytes()),
               static_cast<unsigned long long>(lander.groups()), secs);
  return 0;
}
