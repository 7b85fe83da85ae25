// valise_e2e_tree: compares an ingest's DEST with the drives it came from,
// for the end-to-end shell tests, in one process (a loop of cmp and stat
// per file took minutes over a kill -9 loop). Not installed; built beside
// the tests.
//
//   valise_e2e_tree check [--complete] DEST SRC...
//
// Every regular file under DEST (without DEST/.valise and lost+found at
// the top) must equal the first SRC holding a regular file at the same
// relative path: same bytes, permission bits and mtime to the nanosecond.
// A file no SRC holds is a mismatch; entries that are neither regular
// files nor directories are not looked at. With --complete, DEST must also
// hold every regular file of every SRC. Names are compared as raw bytes.
// Prints the number of files checked; mismatches (up to 20) go to stderr.
// Exit status: 0 all equal, 1 mismatch, 2 usage or I/O error.
//
// Thread safety: single-threaded program.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <vector>

namespace {

int g_mismatches = 0;

void Mismatch(const std::string& what) {
  if (++g_mismatches <= 20) std::fprintf(stderr, "%s\n", what.c_str());
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "valise_e2e_tree: %s: %s\n", what.c_str(),
               std::strerror(errno));
  std::exit(2);
}

// Regular files under `root`/`rel` (relative paths), recursively.
void Walk(const std::string& root, const std::string& rel, bool top,
          std::set<std::string>* files, bool strict) {
  const std::string dir = rel.empty() ? root : root + "/" + rel;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) Die("opendir " + dir);
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (top && (name == ".valise" || name == "lost+found")) continue;
    const std::string r = rel.empty() ? name : rel + "/" + name;
    struct stat st;
    if (lstat((root + "/" + r).c_str(), &st) != 0) Die("lstat " + r);
    if (S_ISDIR(st.st_mode)) {
      Walk(root, r, false, files, strict);
    } else if (S_ISREG(st.st_mode)) {
      files->insert(r);
    } else if (strict) {
      Mismatch(r + ": neither a regular file nor a directory");
    }
  }
  closedir(d);
}

bool SameBytes(const std::string& a, const std::string& b) {
  const int fa = open(a.c_str(), O_RDONLY | O_CLOEXEC);
  if (fa < 0) Die("open " + a);
  const int fb = open(b.c_str(), O_RDONLY | O_CLOEXEC);
  if (fb < 0) Die("open " + b);
  std::vector<char> ba(1 << 20), bb(1 << 20);
  bool same = true;
  for (;;) {
    const ssize_t na = read(fa, ba.data(), ba.size());
    if (na < 0) Die("read " + a);
    ssize_t nb = 0;
    while (nb < na) {  // b in step with a, so a short read is no mismatch
      const ssize_t n = read(fb, bb.data() + nb, na - nb);
      if (n < 0) Die("read " + b);
      if (n == 0) break;
      nb += n;
    }
    if (nb != na || std::memcmp(ba.data(), bb.data(), na) != 0) {
      same = false;
      break;
    }
    if (na == 0) break;
  }
  close(fa);
  close(fb);
  return same;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] != "check") {
    std::fprintf(stderr,
                 "usage: valise_e2e_tree check [--complete] DEST SRC...\n");
    return 2;
  }
  args.erase(args.begin());
  bool complete = false;
  if (!args.empty() && args[0] == "--complete") {
    complete = true;
    args.erase(args.begin());
  }
  if (args.size() < 2) {
    std::fprintf(stderr, "valise_e2e_tree: DEST and at least one SRC\n");
    return 2;
  }
  const std::string dest = args[0];
  const std::vector<std::string> srcs(args.begin() + 1, args.end());

  std::set<std::string> files;
  struct stat st;
  // Symlinks and other non-regular entries under DEST are not checked
  // here (the hostile-DEST test plants some on purpose).
  if (stat(dest.c_str(), &st) == 0) Walk(dest, "", true, &files, false);
  for (const std::string& rel : files) {
    const std::string got = dest + "/" + rel;
    std::string src;
    struct stat s_st, d_st;
    for (const std::string& s : srcs) {
      if (lstat((s + "/" + rel).c_str(), &s_st) == 0 && S_ISREG(s_st.st_mode)) {
        src = s + "/" + rel;
        break;
      }
    }
    if (src.empty()) {
      Mismatch("DEST holds " + rel + ", which no source holds");
      continue;
    }
    if (lstat(got.c_str(), &d_st) != 0) Die("lstat " + got);
    if (!SameBytes(src, got)) {
      Mismatch("DEST's " + rel + " differs from " + src);
    }
    if ((s_st.st_mode & 07777) != (d_st.st_mode & 07777)) {
      char m[64];
      std::snprintf(m, sizeof(m), ": mode %o, source %o",
                    unsigned(d_st.st_mode & 07777),
                    unsigned(s_st.st_mode & 07777));
      Mismatch("DEST's " + rel + m);
    }
    if (s_st.st_mtim.tv_sec != d_st.st_mtim.tv_sec ||
        s_st.st_mtim.tv_nsec != d_st.st_mtim.tv_nsec) {
      char m[96];
      std::snprintf(m, sizeof(m), ": mtime %lld.%09ld, source %lld.%09ld",
                    (long long)d_st.st_mtim.tv_sec, d_st.st_mtim.tv_nsec,
                    (long long)s_st.st_mtim.tv_sec, s_st.st_mtim.tv_nsec);
      Mismatch("DEST's " + rel + m);
    }
  }
  if (complete) {
    std::set<std::string> want;
    for (const std::string& s : srcs) Walk(s, "", true, &want, false);
    for (const std::string& rel : want) {
      if (files.count(rel) == 0) Mismatch("DEST lacks " + rel);
    }
  }
  if (g_mismatches > 20) {
    std::fprintf(stderr, "... %d mismatches in all\n", g_mismatches);
  }
  std::printf("%zu\n", files.size());
  return g_mismatches == 0 ? 0 : 1;
}
