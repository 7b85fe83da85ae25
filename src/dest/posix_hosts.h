// A directory DEST shared by several hosts at once (issue 17): a shared
// file system (CephFS through ceph-fuse) mounted on each ingest host. The
// parts of the directory destination (posix_destination.cc) that concern
// the other hosts: where each host's state lives, reading the other
// hosts' journals as they grow, and comparing two files' bytes (a name
// another host took first).
//
// Layout, beside the one-host layout (DEST/.valise/{journal,lock,staging}),
// which a shared DEST still reads (its journal) and migrates (its kept
// partials, under its lock):
//   DEST/.valise/hosts/HOST/journal    HOST's journal (valise/journal.h)
//   DEST/.valise/hosts/HOST/lock       flock'ed by HOST's run
//   DEST/.valise/hosts/HOST/staging/   HOST's temporaries
//
// Thread safety: OtherHostJournals from any thread (one mutex); the free
// functions from any thread that may use `dir`.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "valise/destination.h"
#include "valise/file_system.h"
#include "valise/journal.h"
#include "valise/status.h"

namespace valise {

// DEST/.valise/hosts, relative to DEST.
inline constexpr char kHostsDir[] = ".valise/hosts";
// The one-host layout's journal, relative to DEST.
inline constexpr char kOneHostJournal[] = ".valise/journal";

// The machine's host name ("localhost" if it has none), '/' made '_'.
std::string MachineHostName();

// Whether `host` can name a directory under kHostsDir: not empty, not "."
// or "..", no '/' or NUL, at most 255 bytes.
bool IsHostName(const std::string& host);

// Whether commit record `r` is of the file `req` stages: its name, its
// size, and every digest of req's that r holds equal (at least one).
bool RecordIsOf(const JournalRecord& r, const StageRequest& req);

// The journals of every host but `self` under DEST (the Directory `dir`),
// and the one-host journal, read from the start once (ReadAll) and then as
// they grow (Poll): each read takes only the whole records appended since
// (a record being written is read at the next poll).
class OtherHostJournals {
 public:
  // `dir` must remain live while this is.
  OtherHostJournals(Directory* dir, std::string self)
      : dir_(dir), self_(std::move(self)) {}

  // Appends to *records the commit records of the one-host journal and of
  // every other host's journal (by host name), in the order each was
  // written; a torn or growing tail is noted in *notes and read later.
  Status ReadAll(std::vector<JournalRecord>* records,
                 std::vector<std::string>* notes);

  // Reads what each other host appended since the last read (a host new
  // since: from the start) and remembers its commits for CommittedBy.
  Status Poll();

  // The host whose commit of req.name, of req's size and digests, a Poll
  // read (not ReadAll: the core planned with those); false if none.
  bool CommittedBy(const StageRequest& req, std::string* host) const;

 private:
  // Reads journal `path` from where the last read ended; its commits go
  // to *out (if not null) and, with `remember`, to since_ under `host`.
  Status ReadOne(const std::string& host, const std::string& path,
                 bool remember, std::vector<JournalRecord>* out,
                 std::vector<std::string>* notes);
  Status ListHosts(std::vector<std::string>* hosts) const;

  Directory* const dir_;
  const std::string self_;
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> read_;  // journal path -> bytes read
  // Commits read by Poll, by path: (host, record).
  std::unordered_map<std::string, std::pair<std::string, JournalRecord>> since_;
};

// Whether files `a` and `b` under `dir` hold the same bytes (*same);
// errors name the file and the operation.
Status SameBytes(Directory* dir, const std::string& a, const std::string& b,
                 bool* same);

}  // namespace valise
