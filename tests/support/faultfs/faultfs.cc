// valise_faultfs: a read-only FUSE pass-through file system that breaks on
// purpose, so the end-to-end tests can show what valise does when the
// kernel, not a simulation, hands it a fault (tests/e2e/faults_fuse.sh).
//
//   valise_faultfs [-f] [-s] [-d] BACKING MOUNTPOINT
//       [-o ctl=FILE,log=FILE,unplug=enodev|eio|abort,direct_io,...]
//
// Every file and directory of BACKING appears under MOUNTPOINT, read-only.
// The faults are rules in the control file (ctl=FILE), one per line,
// re-read whenever the file changes (its inode, size or mtime: replace it
// with `mv` to be sure the change is seen):
//
//   eio OFFSET LENGTH PATH   a read request that touches bytes
//                            [OFFSET, OFFSET+LENGTH) of PATH fails with EIO
//                            (the whole request, as a bad sector fails the
//                            whole bio)
//   flip OFFSET MASK PATH    the byte at OFFSET of PATH is XORed with MASK
//                            (0x01: one bit) in the data a read returns;
//                            the backing file is not changed
//   hang PATH                reads of PATH block until released by
//                            SIGUSR2 (a new control file arms the hangs
//                            again for later reads); unplugging ends them
//                            too (with the unplug error)
//   hang OFFSET LENGTH PATH  the same for the read requests that touch
//                            bytes [OFFSET, OFFSET+LENGTH) of PATH; the
//                            others go through (a drive that stops
//                            answering part-way through a file)
//   unplug-after N [MODE]    after N read requests (on any file, counted
//                            from when this file was read), unplug
//   unplug [MODE]            unplug now
//   # comment
//
// PATH is relative to BACKING ("dir/file.bin"), the rest of the line, so it
// may hold spaces. Numbers are decimal or 0x hex.
//
// Unplugging is for good (until the next mount), like a drive pulled from
// its bay: it happens on a rule, or on SIGUSR1. MODE (default: the unplug=
// option, else enodev):
//   enodev, eio  every later operation (getattr, open, read, readdir...)
//                fails with ENODEV or EIO; the mount stays
//   abort        writes 1 to /sys/fs/fuse/connections/N/abort (needs
//                fusectl mounted there): the kernel fails every pending
//                and later request (ECONNABORTED, ENOTCONN), this
//                process's loop ends and it exits, and the mount point
//                stays dead (ENOTCONN) until unmounted, as a USB drive
//                yanked mid-read leaves it
//
// log=FILE gets one line per event, flushed at once, for the tests to
// count: "init conn=ABORT_FILE", "open PATH flags=0x.. direct=0|1",
// "read PATH OFFSET SIZE direct=0|1", "eio PATH OFFSET SIZE",
// "flip PATH OFFSET", "hang PATH OFFSET", "released", "unplug MODE",
// "reload N rules". direct= tells whether the caller opened the file with
// O_DIRECT (the kernel passes the open flags with every read).
//
// O_DIRECT. FUSE accepts O_DIRECT at open (since Linux 3.x its
// address_space has a direct_IO method), and a read on such a file goes
// straight to this process, bypassing the page cache, in requests of at
// most max_pages (256 pages, 1 MiB, as libfuse 3 negotiates it). So valise's
// default O_DIRECT reads reach the rules one chunk per request, each
// retry included. Buffered reads (valise --no-direct) go through the page
// cache and readahead: a flipped byte may then be cached and seen again by
// later readers, and a failed readahead is retried by the kernel page by
// page. The direct_io mount option (FOPEN_DIRECT_IO) makes every open
// bypass the cache whatever its flags.
//
// Thread safety: libfuse calls the operations from several threads (unless
// -s); the rules and the log are behind one mutex, the signal flags are
// lock-free atomics (async-signal-safe). A hung read holds no lock.
#include <dirent.h>
#include <fcntl.h>
#include <fuse.h>
#include <signal.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

enum class RuleKind { kEio, kFlip, kHang, kUnplugAfter, kUnplug };

// How an unplugged file system answers.
enum class UnplugMode { kEnodev, kEio, kAbort };

struct Rule {
  RuleKind kind;
  uint64_t offset = 0;
  uint64_t length = 0;  // eio: bytes; unplug-after: read count
  unsigned mask = 0;    // flip
  UnplugMode mode = UnplugMode::kEnodev;
  std::string path;  // relative to BACKING, no leading '/'
};

// Command-line configuration (fuse_opt_parse fills the char* fields).
struct Options {
  char* ctl = nullptr;
  char* log = nullptr;
  char* unplug = nullptr;
};

Options g_opt;
std::string g_backing;     // absolute, no trailing '/'
std::string g_mountpoint;  // absolute, resolved before mounting
UnplugMode g_default_mode = UnplugMode::kEnodev;

std::mutex g_mu;
std::vector<Rule> g_rules;  // guarded by g_mu
struct stat g_ctl_stat;     // guarded by g_mu: the control file last read
bool g_ctl_seen = false;    // guarded by g_mu
FILE* g_log = nullptr;      // guarded by g_mu
uint64_t g_reads = 0;       // guarded by g_mu: reads since the last reload
std::string g_abort_path;   // set once by init, then read-only

// Set by signal handlers and by rules; read everywhere.
std::atomic<bool> g_released{false};        // SIGUSR2: end the hangs
std::atomic<bool> g_unplug_request{false};  // SIGUSR1
std::atomic<bool> g_unplugged{false};
std::atomic<int> g_unplug_errno{ENODEV};
std::atomic<bool> g_aborted{false};

const char* ModeName(UnplugMode m) {
  switch (m) {
    case UnplugMode::kEnodev:
      return "enodev";
    case UnplugMode::kEio:
      return "eio";
    case UnplugMode::kAbort:
      return "abort";
  }
  return "?";
}

bool ParseMode(const std::string& s, UnplugMode* m) {
  if (s == "enodev") {
    *m = UnplugMode::kEnodev;
  } else if (s == "eio") {
    *m = UnplugMode::kEio;
  } else if (s == "abort") {
    *m = UnplugMode::kAbort;
  } else {
    return false;
  }
  return true;
}

// Appends one line to the log. REQUIRES: g_mu held.
void LogLocked(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void LogLocked(const char* fmt, ...) {
  if (g_log == nullptr) return;
  va_list ap;
  va_start(ap, fmt);
  vfprintf(g_log, fmt, ap);
  va_end(ap);
  fputc('\n', g_log);
  fflush(g_log);
}

#define LOG(...)                          \
  do {                                    \
    std::lock_guard<std::mutex> l_(g_mu); \
    LogLocked(__VA_ARGS__);               \
  } while (0)

bool ParseNumber(const std::string& s, uint64_t* v) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long x = strtoull(s.c_str(), &end, 0);
  if (errno != 0 || *end != '\0') return false;
  *v = x;
  return true;
}

// "word word rest of line": the first `n` words, then the rest (the path).
bool SplitWords(const std::string& line, size_t n,
                std::vector<std::string>* words, std::string* rest) {
  size_t pos = 0;
  words->clear();
  for (size_t i = 0; i < n; ++i) {
    while (pos < line.size() && line[pos] == ' ') ++pos;
    size_t end = line.find(' ', pos);
    if (end == std::string::npos) end = line.size();
    if (end == pos) return false;
    words->push_back(line.substr(pos, end - pos));
    pos = end;
  }
  while (pos < line.size() && line[pos] == ' ') ++pos;
  *rest = line.substr(pos);
  return true;
}

// Parses the control file into *rules; false (and a message on stderr) on
// a bad line, in which case the old rules stay.
bool ParseControl(const std::string& text, std::vector<Rule>* rules) {
  std::istringstream in(text);
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
      line.pop_back();
    }
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> w;
    std::string rest;
    SplitWords(line, 1, &w, &rest);
    const std::string verb = w.empty() ? "" : w[0];
    Rule r{};
    bool ok = true;
    if (verb == "eio" || verb == "flip") {
      ok = SplitWords(line, 3, &w, &rest) && !rest.empty() &&
           ParseNumber(w[1], &r.offset) && ParseNumber(w[2], &r.length);
      r.kind = verb == "eio" ? RuleKind::kEio : RuleKind::kFlip;
      if (r.kind == RuleKind::kFlip) {
        ok = ok && r.length > 0 && r.length < 256;
        r.mask = static_cast<unsigned>(r.length);
        r.length = 1;
      }
      r.path = rest;
    } else if (verb == "hang") {
      // "hang PATH", or "hang OFFSET LENGTH PATH" when the two words after
      // the verb are numbers (a path that begins with two numbers must
      // use the long form: "hang 0 0xffffffffffffffff PATH").
      r.kind = RuleKind::kHang;
      r.length = UINT64_MAX;
      std::vector<std::string> w3;
      std::string rest3;
      if (SplitWords(line, 3, &w3, &rest3) && !rest3.empty() &&
          ParseNumber(w3[1], &r.offset) && ParseNumber(w3[2], &r.length)) {
        rest = rest3;
      } else {
        r.offset = 0;
        r.length = UINT64_MAX;
      }
      r.path = rest;
      ok = !rest.empty();
    } else if (verb == "unplug-after") {
      r.kind = RuleKind::kUnplugAfter;
      r.mode = g_default_mode;
      ok = SplitWords(line, 2, &w, &rest) && ParseNumber(w[1], &r.length) &&
           (rest.empty() || ParseMode(rest, &r.mode));
    } else if (verb == "unplug") {
      r.kind = RuleKind::kUnplug;
      r.mode = g_default_mode;
      ok = rest.empty() || ParseMode(rest, &r.mode);
    } else {
      ok = false;
    }
    while (ok && !r.path.empty() && r.path[0] == '/') r.path.erase(0, 1);
    if (!ok) {
      fprintf(stderr, "faultfs: %s:%d: bad rule: %s\n", g_opt.ctl, lineno,
              line.c_str());
      return false;
    }
    rules->push_back(r);
  }
  return true;
}

// Connection number N of this mount (/sys/fs/fuse/connections/N): the
// minor device number of the mount's superblock, read from
// /proc/self/mountinfo so that no request goes to this file system.
void FindAbortPath() {
  std::ifstream in("/proc/self/mountinfo");
  std::string line, found;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, dev, root, mnt;
    f >> id >> parent >> dev >> root >> mnt;
    if (mnt != g_mountpoint) continue;
    size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::string fstype = line.substr(dash + 3);
    fstype = fstype.substr(0, fstype.find(' '));
    if (fstype == "fuse" || fstype.rfind("fuse.", 0) == 0) found = dev;
  }
  size_t colon = found.find(':');
  if (colon == std::string::npos) return;
  g_abort_path =
      "/sys/fs/fuse/connections/" + found.substr(colon + 1) + "/abort";
}

// Pulls the plug (once). The abort write makes the kernel end every FUSE
// request of this mount with ENOTCONN, including one this thread is
// serving: its reply is then simply dropped.
void Unplug(UnplugMode mode) {
  if (g_unplugged.exchange(true)) return;
  g_unplug_errno = mode == UnplugMode::kEio ? EIO : ENODEV;
  LOG("unplug %s", ModeName(mode));
  if (mode != UnplugMode::kAbort || g_abort_path.empty()) return;
  int fd = open(g_abort_path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, "1", 1) != 1) {
    fprintf(stderr, "faultfs: %s: %s (is fusectl mounted?)\n",
            g_abort_path.c_str(), strerror(errno));
  } else {
    g_aborted = true;
  }
  if (fd >= 0) close(fd);
}

// Re-reads the control file if it changed. REQUIRES: g_mu held.
void ReloadLocked() {
  if (g_opt.ctl == nullptr) return;
  struct stat st;
  if (stat(g_opt.ctl, &st) != 0) {
    memset(&st, 0, sizeof(st));  // absent: no rules
  }
  if (g_ctl_seen && st.st_ino == g_ctl_stat.st_ino &&
      st.st_size == g_ctl_stat.st_size &&
      st.st_mtim.tv_sec == g_ctl_stat.st_mtim.tv_sec &&
      st.st_mtim.tv_nsec == g_ctl_stat.st_mtim.tv_nsec &&
      st.st_ctim.tv_nsec == g_ctl_stat.st_ctim.tv_nsec) {
    return;
  }
  g_ctl_seen = true;
  g_ctl_stat = st;
  std::ifstream in(g_opt.ctl, std::ios::binary);
  std::stringstream text;
  if (in) text << in.rdbuf();
  std::vector<Rule> rules;
  if (!ParseControl(text.str(), &rules)) return;
  g_rules = std::move(rules);
  g_released = false;
  g_reads = 0;  // unplug-after counts from the rules' loading
  LogLocked("reload %zu rules", g_rules.size());
}

// Called first by every operation: reloads the rules, applies unplug
// triggers, and returns the errno every operation must fail with once
// unplugged (0 while plugged in).
int Gate(bool is_read) {
  UnplugMode trigger = g_default_mode;
  bool fire = g_unplug_request.load();
  {
    std::lock_guard<std::mutex> l(g_mu);
    ReloadLocked();
    if (is_read) ++g_reads;
    for (const Rule& r : g_rules) {
      if ((r.kind == RuleKind::kUnplug) ||
          (r.kind == RuleKind::kUnplugAfter && g_reads > r.length)) {
        if (!fire) trigger = r.mode;
        fire = true;
      }
    }
  }
  if (fire) Unplug(trigger);
  if (g_unplugged) return g_aborted ? ENOTCONN : g_unplug_errno.load();
  return 0;
}

std::string Backing(const char* path) {
  return g_backing + path;  // FUSE paths start with '/'
}

int FfGetattr(const char* path, struct stat* st, struct fuse_file_info* fi) {
  if (int e = Gate(false)) return -e;
  int r = fi != nullptr ? fstat(static_cast<int>(fi->fh), st)
                        : lstat(Backing(path).c_str(), st);
  return r == 0 ? 0 : -errno;
}

int FfReadlink(const char* path, char* buf, size_t size) {
  if (int e = Gate(false)) return -e;
  if (size == 0) return -EINVAL;
  ssize_t n = readlink(Backing(path).c_str(), buf, size - 1);
  if (n < 0) return -errno;
  buf[n] = '\0';
  return 0;
}

int FfOpendir(const char* path, struct fuse_file_info* fi) {
  if (int e = Gate(false)) return -e;
  DIR* d = opendir(Backing(path).c_str());
  if (d == nullptr) return -errno;
  fi->fh = reinterpret_cast<uintptr_t>(d);
  return 0;
}

int FfReaddir(const char*, void* buf, fuse_fill_dir_t filler, off_t,
              struct fuse_file_info* fi, enum fuse_readdir_flags) {
  if (int e = Gate(false)) return -e;
  DIR* d = reinterpret_cast<DIR*>(fi->fh);
  rewinddir(d);
  errno = 0;
  while (struct dirent* de = readdir(d)) {
    struct stat st;
    memset(&st, 0, sizeof(st));
    st.st_ino = de->d_ino;
    st.st_mode = static_cast<mode_t>(DTTOIF(de->d_type));
    // Offset 0: the whole directory in one call (libfuse buffers it).
    if (filler(buf, de->d_name, &st, 0, static_cast<fuse_fill_dir_flags>(0))) {
      break;
    }
  }
  return errno == 0 ? 0 : -errno;
}

int FfReleasedir(const char*, struct fuse_file_info* fi) {
  closedir(reinterpret_cast<DIR*>(fi->fh));
  return 0;
}

int FfOpen(const char* path, struct fuse_file_info* fi) {
  if (int e = Gate(false)) return -e;
  if ((fi->flags & O_ACCMODE) != O_RDONLY) return -EROFS;
  // The backing file is read buffered whatever the caller asked: only the
  // FUSE side of O_DIRECT is under test, and the backing directory may be
  // on a file system that refuses it (tmpfs).
  int fd = open(Backing(path).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -errno;
  fi->fh = static_cast<uint64_t>(fd);
  const bool direct = (fi->flags & O_DIRECT) != 0;
  LOG("open %s flags=0x%x direct=%d", path + 1,
      static_cast<unsigned>(fi->flags), direct ? 1 : 0);
  return 0;
}

// What the rules say about one read request of `rel` at [off, off+size).
struct ReadPlan {
  bool eio = false;
  bool hang = false;
  std::vector<std::pair<uint64_t, unsigned>> flips;  // offset, mask
};

ReadPlan PlanRead(const std::string& rel, uint64_t off, uint64_t size) {
  ReadPlan p;
  std::lock_guard<std::mutex> l(g_mu);
  for (const Rule& r : g_rules) {
    if (r.path != rel) continue;
    switch (r.kind) {
      case RuleKind::kEio:
        if (off < r.offset + r.length && r.offset < off + size) p.eio = true;
        break;
      case RuleKind::kFlip:
        if (r.offset >= off && r.offset < off + size) {
          p.flips.emplace_back(r.offset, r.mask);
        }
        break;
      case RuleKind::kHang: {
        const uint64_t end =
            r.length > UINT64_MAX - r.offset ? UINT64_MAX : r.offset + r.length;
        if (off < end && off + size > r.offset) p.hang = !g_released;
        break;
      }
      default:
        break;
    }
  }
  return p;
}

int FfRead(const char* path, char* buf, size_t size, off_t off,
           struct fuse_file_info* fi) {
  if (int e = Gate(true)) return -e;
  const std::string rel = path + 1;
  const bool direct = (fi->flags & O_DIRECT) != 0;
  LOG("read %s %lld %zu direct=%d", rel.c_str(), static_cast<long long>(off),
      size, direct ? 1 : 0);
  ReadPlan p = PlanRead(rel, static_cast<uint64_t>(off), size);
  if (p.hang) {
    LOG("hang %s %lld", rel.c_str(), static_cast<long long>(off));
    // Polled, not a condition variable: the release comes from a signal
    // handler, which may only set a flag.
    while (!g_released && !g_unplugged && !g_unplug_request) {
      struct timespec ts = {0, 20 * 1000 * 1000};
      nanosleep(&ts, nullptr);
    }
    if (int e = Gate(false)) return -e;
    p = PlanRead(rel, static_cast<uint64_t>(off), size);
  }
  if (p.eio) {
    LOG("eio %s %lld %zu", rel.c_str(), static_cast<long long>(off), size);
    return -EIO;
  }
  size_t done = 0;
  while (done < size) {
    ssize_t n = pread(static_cast<int>(fi->fh), buf + done, size - done,
                      off + static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return done > 0 ? static_cast<int>(done) : -errno;
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  for (const auto& [at, mask] : p.flips) {
    const uint64_t i = at - static_cast<uint64_t>(off);
    if (i < done) {
      buf[i] = static_cast<char>(static_cast<unsigned char>(buf[i]) ^ mask);
      LOG("flip %s %llu", rel.c_str(), static_cast<unsigned long long>(at));
    }
  }
  return static_cast<int>(done);
}

int FfRelease(const char*, struct fuse_file_info* fi) {
  close(static_cast<int>(fi->fh));
  return 0;
}

int FfStatfs(const char*, struct statvfs* st) {
  if (int e = Gate(false)) return -e;
  return statvfs(g_backing.c_str(), st) == 0 ? 0 : -errno;
}

int FfAccess(const char* path, int mask) {
  if (int e = Gate(false)) return -e;
  if (mask & W_OK) return -EROFS;
  return access(Backing(path).c_str(), mask) == 0 ? 0 : -errno;
}

// Watches for SIGUSR1 and SIGUSR2, whose handlers only set flags: unplugs
// (the abort write is not for a signal handler) and logs the release,
// without waiting for the next request.
void Watcher() {
  bool logged_release = false;
  for (;;) {
    if (g_unplug_request && !g_unplugged) Unplug(g_default_mode);
    if (g_released && !logged_release) {
      LOG("released");
      logged_release = true;
    }
    if (!g_released) logged_release = false;
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, nullptr);
  }
}

void* FfInit(struct fuse_conn_info*, struct fuse_config* cfg) {
  // Attributes and entries are not cached, so a rule that unplugs takes
  // effect on the very next stat or lookup too.
  cfg->attr_timeout = 0;
  cfg->entry_timeout = 0;
  cfg->negative_timeout = 0;
  FindAbortPath();
  {
    std::lock_guard<std::mutex> l(g_mu);
    ReloadLocked();
    std::string conn = g_abort_path;
    LogLocked("init conn=%s", conn.empty() ? "?" : conn.c_str());
  }
  std::thread(Watcher).detach();
  return nullptr;
}

void OnUsr1(int) { g_unplug_request = true; }
void OnUsr2(int) { g_released = true; }

enum { kKeyHelp };

const struct fuse_opt kOpts[] = {
    {"ctl=%s", offsetof(Options, ctl), 0},
    {"log=%s", offsetof(Options, log), 0},
    {"unplug=%s", offsetof(Options, unplug), 0},
    FUSE_OPT_END,
};

// The first non-option argument is BACKING (taken here); the second, the
// mount point, goes on to libfuse.
int OptProc(void*, const char* arg, int key, struct fuse_args*) {
  if (key == FUSE_OPT_KEY_NONOPT && g_backing.empty()) {
    char* real = realpath(arg, nullptr);
    if (real == nullptr) {
      fprintf(stderr, "faultfs: %s: %s\n", arg, strerror(errno));
      exit(2);
    }
    g_backing = real;
    free(real);
    return 0;
  }
  if (key == FUSE_OPT_KEY_NONOPT && g_mountpoint.empty()) {
    char* real = realpath(arg, nullptr);
    if (real != nullptr) {
      g_mountpoint = real;
      free(real);
    }
  }
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
  if (fuse_opt_parse(&args, &g_opt, kOpts, OptProc) != 0) return 2;
  if (g_backing.empty() || g_mountpoint.empty()) {
    fprintf(stderr,
            "usage: %s [-f] [-s] BACKING MOUNTPOINT "
            "[-o ctl=FILE,log=FILE,unplug=enodev|eio|abort]\n",
            argv[0]);
    return 2;
  }
  if (g_backing == "/") g_backing.clear();
  if (g_opt.unplug != nullptr && !ParseMode(g_opt.unplug, &g_default_mode)) {
    fprintf(stderr, "faultfs: unplug=%s: want enodev, eio or abort\n",
            g_opt.unplug);
    return 2;
  }
  if (g_opt.log != nullptr) {
    g_log = fopen(g_opt.log, "ae");
    if (g_log == nullptr) {
      fprintf(stderr, "faultfs: %s: %s\n", g_opt.log, strerror(errno));
      return 2;
    }
  }
  // SA_RESTART: libfuse's threads blocked reading /dev/fuse resume.
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_flags = SA_RESTART;
  sa.sa_handler = OnUsr1;
  sigaction(SIGUSR1, &sa, nullptr);
  sa.sa_handler = OnUsr2;
  sigaction(SIGUSR2, &sa, nullptr);

  struct fuse_operations ops;
  memset(&ops, 0, sizeof(ops));
  ops.getattr = FfGetattr;
  ops.readlink = FfReadlink;
  ops.open = FfOpen;
  ops.read = FfRead;
  ops.statfs = FfStatfs;
  ops.release = FfRelease;
  ops.opendir = FfOpendir;
  ops.readdir = FfReaddir;
  ops.releasedir = FfReleasedir;
  ops.init = FfInit;
  ops.access = FfAccess;
  // Read-only: every write operation is left unimplemented (ENOSYS), and
  // open refuses write access with EROFS.
  fuse_opt_add_arg(&args, "-oro");
  fuse_opt_add_arg(&args, "-osubtype=faultfs");
  int rc = fuse_main(args.argc, args.argv, &ops, nullptr);
  fuse_opt_free_args(&args);
  return rc;
}
