// The plan of an ingest: decide, before anything is read, what each
// manifest entry needs.
//
// Done already: an entry the journal holds (with the manifest's size and
// digests) whose final name in DEST is still the file the record
// describes is skipped ("resumed", trusted from the journal): the same
// size, mtime and inode, and the same ctime (no user can set it back;
// compared only for a file with one name, as making a hard link changes
// it, and --dedup=hardlink makes links after the first name is
// journaled), as the destination's Stat saw them right after the file was
// named. Under its final name with its size but not trusted (unknown to
// the journal: a crash between naming and recording, or a copy made by
// hand; changed since it was recorded; recorded by an older valise,
// without the identity; or --recheck): it is read back from DEST and
// checked (kCheck). Something else under its name (another size, a
// directory, a symlink): left alone and reported, a name is never
// replaced.
//
// Duplicates: paths whose manifest size and digests are equal share a
// content. Unless --dedup=copy, they form a group, and only one of them is
// read (the first in manifest order with a copy of the right size); the
// others wait to be cloned or linked from it (duplicates.cc). A path
// already committed or checked is a source of its group too.
//
// Copies: largest files first, each to the drive with the fewest bytes so
// far, so the drives finish together; the other copies follow, for the
// next passes if the first fails.
#include "pipeline/ingest_plan.h"

#include <algorithm>
#include <cstring>

namespace valise {

namespace {

// The journal's record of entry e if it holds one with e's manifest size
// and digests, else null.
const JournalRecord* Journaled(const IngestLedger& l,
                               const JournaledFiles& journaled, size_t e) {
  auto it = journaled.find(std::string(l.m.path(e)));
  if (it == journaled.end()) return nullptr;
  const JournalRecord& r = it->second;
  if (l.m.has_sizes() && r.size != l.m.file_size(e)) return nullptr;
  for (DigestType t : l.m.digests().Types()) {
    bool found = false;
    for (const Digest& d : r.digests) {
      if (d.type == t) {
        if (d != l.m.digest(e, t)) return nullptr;
        found = true;
      }
    }
    if (!found && l.digests.Has(t)) return nullptr;
  }
  return &r;
}

// Why the file `info` under a journaled name is not trusted as the one
// record r describes: "" if it is unchanged since it was named (see the
// essay above), else the fields that differ. REQUIRES: r.has_identity.
std::string Changed(const JournalRecord& r, const FileInfo& info) {
  std::string out;
  auto add = [&](const char* field) {
    if (!out.empty()) out += ", ";
    out += field;
  };
  if (info.size != r.size) add("size");
  if (info.mtime_ns != r.mtime_ns) add("mtime");
  if (info.inode != r.inode) add("inode");
  if (info.nlink <= 1 && info.ctime_ns != r.ctime_ns) add("ctime");
  return out;
}

// Journaled entries read back from DEST, by why.
struct Rechecks {
  size_t changed = 0, old = 0, asked = 0;
};

// Says in the report's notes why journaled files are read back.
void NoteRechecks(const Rechecks& n, RunReport* report) {
  auto files = [](size_t k) {
    return std::to_string(k) + (k == 1 ? " file" : " files");
  };
  if (n.changed > 0) {
    report->notes.push_back(
        "resume: " + files(n.changed) +
        " changed in DEST since an earlier run staged them (size, mtime, "
        "inode or ctime not as journaled): read back and checked");
  }
  if (n.old > 0) {
    report->notes.push_back(
        "resume: " + files(n.old) +
        " journaled by an older valise, without the file's identity: read "
        "back and checked once");
  }
  if (n.asked > 0) {
    report->notes.push_back("--recheck: " + files(n.asked) +
                            " staged by an earlier run read back and checked");
  }
}

// What identifies a content: its size and every manifest digest. Orders
// entries by it (-1, 0, 1), in place in the manifest.
int CompareContent(const Manifest& m, const std::vector<DigestType>& types,
                   size_t a, size_t b) {
  if (m.file_size(a) != m.file_size(b)) {
    return m.file_size(a) < m.file_size(b) ? -1 : 1;
  }
  for (DigestType t : types) {
    const int c =
        memcmp(m.digest_data(a, t), m.digest_data(b, t), DigestSize(t));
    if (c != 0) return c;
  }
  return 0;
}

// Makes the groups of paths sharing a content among `shared` (entries in
// manifest order, each kDuplicate if it was to be read): a content held
// by two paths or more is a group, numbered in the manifest order of its
// first path, its paths in manifest order; a path alone with its content
// is no group (it is read as any other: kTodo again). Sorts indices (4
// bytes a path), compares in place: no copy of a key per path.
void GroupByContent(const std::vector<uint32_t>& shared, IngestLedger* ledger) {
  IngestLedger& l = *ledger;
  const std::vector<DigestType> types = l.m.digests().Types();
  std::vector<uint32_t> by_content = shared;
  std::sort(by_content.begin(), by_content.end(), [&](uint32_t a, uint32_t b) {
    const int c = CompareContent(l.m, types, a, b);
    return c != 0 ? c < 0 : a < b;
  });
  // Runs of one content, as [first, last) in by_content, ordered by their
  // first path.
  std::vector<std::pair<uint32_t, uint32_t>> runs;
  for (size_t i = 0; i < by_content.size();) {
    size_t j = i + 1;
    while (j < by_content.size() &&
           CompareContent(l.m, types, by_content[i], by_content[j]) == 0) {
      ++j;
    }
    if (j - i >= 2) runs.emplace_back(i, j);
    i = j;
  }
  std::sort(runs.begin(), runs.end(), [&](const auto& a, const auto& b) {
    return by_content[a.first] < by_content[b.first];
  });
  for (const auto& [first, last] : runs) {
    l.groups.emplace_back(by_content.begin() + first,
                          by_content.begin() + last);
    for (size_t e : l.groups.back()) {
      l.group[e] = static_cast<int64_t>(l.groups.size() - 1);
    }
  }
  for (uint32_t e : shared) {
    if (l.group[e] < 0 && l.state[e] == EntryState::kDuplicate) {
      l.state[e] = EntryState::kTodo;
    }
  }
}

// True if a drive holds entry e with its manifest size.
bool HasCopy(const IngestLedger& l, size_t e) {
  for (size_t k = 0; k < l.match.num_copies(e); ++k) {
    const CopyRef& ref = l.match.copy(e, k);
    if (!l.m.has_sizes() ||
        l.scans[ref.drive].files[ref.file].info.size == l.m.file_size(e)) {
      return true;
    }
  }
  return false;
}

}  // namespace

void PlanIngest(Destination* dest, const JournaledFiles& journaled,
                IngestLedger* ledger) {
  IngestLedger& l = *ledger;
  const Manifest& m = l.m;
  const size_t n = m.size();
  const int num_drives = static_cast<int>(l.scans.size());
  l.dest_drive = num_drives;
  l.candidates.resize(n);
  std::vector<uint32_t> shared;  // candidates for a group, manifest order
  std::vector<size_t> order;
  Rechecks rechecks;
  // What DEST has under each final name, asked a batch at a time (a
  // directory DEST opens each parent once per batch; into a fresh DEST
  // that is one failed open per directory, not per file).
  constexpr size_t kStatBatch = 4096;
  std::vector<std::string> names;
  std::vector<Status> found;
  std::vector<FileInfo> infos;
  for (size_t e = 0; e < n; ++e) {
    if (e % kStatBatch == 0) {
      names.clear();
      for (size_t k = e; k < std::min(n, e + kStatBatch); ++k) {
        names.push_back(l.DestRel(k));
      }
      dest->StatMany(names, &found, &infos);
    }
    const FileInfo& info = infos[e % kStatBatch];
    const bool exists = found[e % kStatBatch].ok();
    const bool sized = exists && info.type == FileType::kRegular &&
                       (!m.has_sizes() || info.size == m.file_size(e));
    const JournalRecord* rec = sized ? Journaled(l, journaled, e) : nullptr;
    const bool old_record = rec && !rec->has_identity;
    const std::string changed = rec && !old_record ? Changed(*rec, info) : "";
    if (rec && !old_record && changed.empty() && !l.iopt.recheck) {
      l.state[e] = EntryState::kCommitted;
      l.resumed[e] = 1;
      ++l.report->files_skipped_resume;
    } else if (sized) {
      // Under its final name, not trusted: read back and checked.
      l.state[e] = EntryState::kCheck;
      l.in_place.push_back(e);
      l.in_place_info[e] = info;
      if (!rec) {
        // Unknown to the journal.
      } else if (old_record) {
        ++rechecks.old;
        l.recheck_why[e] = "journaled by an older valise";
      } else if (!changed.empty()) {
        ++rechecks.changed;
        l.recheck_why[e] = changed + " not as journaled";
      } else {
        ++rechecks.asked;
        l.recheck_why[e] =
            "--recheck; size, mtime, inode and ctime as journaled";
      }
    } else if (exists) {
      const bool ours = journaled.count(std::string(m.path(e))) > 0;
      l.Conflict(e, info.type == FileType::kRegular
                        ? std::string(ours ? "changed since an earlier run "
                                             "staged it: "
                                           : "") +
                              "a different file (size " +
                              std::to_string(info.size) +
                              ") is already in DEST under this name; "
                              "not overwritten"
                        : std::string("DEST has a ") + FileTypeName(info.type) +
                              " under this name; not replaced");
      continue;
    }
    // Paths with the same bytes form a group (a committed or checked path
    // too: it is a source of its content). Its members wait for the one
    // chosen below to be read.
    if (l.dedup != DedupPolicy::kCopy && m.file_size(e) > 0) {
      shared.push_back(static_cast<uint32_t>(e));
      if (l.state[e] == EntryState::kTodo) l.state[e] = EntryState::kDuplicate;
      continue;
    }
    if (l.state[e] == EntryState::kTodo) order.push_back(e);
  }
  NoteRechecks(rechecks, l.report);
  GroupByContent(shared, ledger);
  // In the manifest order of each group's first path, as the paths alone.
  for (uint32_t e : shared) {
    if (l.group[e] < 0) {
      if (l.state[e] == EntryState::kTodo) order.push_back(e);
    } else if (l.groups[l.group[e]][0] == e) {
      NextReaders(l, l.groups[l.group[e]], &order);
    }
  }
  std::vector<uint32_t>().swap(shared);
  // Largest first, each to the drive with the fewest bytes so far: the
  // drives finish together.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return m.file_size(a) > m.file_size(b);
  });
  std::vector<uint64_t> assigned(num_drives, 0);
  for (size_t e : order) ChooseCopies(e, &assigned, ledger);
}

void NextReaders(const IngestLedger& l, const std::vector<size_t>& g,
                 std::vector<size_t>* out) {
  std::vector<size_t> waiting;
  for (size_t e : g) {
    switch (l.state[e]) {
      case EntryState::kCommitted:
      case EntryState::kPlacing:
      case EntryState::kTodo:
      case EntryState::kCheck:
        return;
      case EntryState::kDuplicate:
        waiting.push_back(e);
        break;
      default:
        break;
    }
  }
  for (size_t e : waiting) {
    if (HasCopy(l, e)) {
      out->push_back(e);
      return;
    }
  }
  out->insert(out->end(), waiting.begin(), waiting.end());
}

void ChooseCopies(size_t e, std::vector<uint64_t>* assigned,
                  IngestLedger* ledger) {
  IngestLedger& l = *ledger;
  l.state[e] = EntryState::kTodo;
  std::vector<CopyRef>& c = l.candidates[e];
  for (size_t k = 0; k < l.match.num_copies(e); ++k) {
    const CopyRef& ref = l.match.copy(e, k);
    const ScannedFile& f = l.scans[ref.drive].files[ref.file];
    if (l.m.has_sizes() && f.info.size != l.m.file_size(e)) {
      FileResult r = l.Result(e, ref.drive, FileStatus::kSizeMismatch);
      r.actual_size = f.info.size;
      l.AddFailure(e, std::move(r));
      continue;
    }
    c.push_back(ref);
  }
  if (c.empty()) {
    if (l.match.num_copies(e) == 0) {
      l.state[e] = EntryState::kMissing;
      l.AddMissing(e);
    } else {
      l.state[e] = EntryState::kFailed;
    }
    return;
  }
  // A pack's parity drive is the last copy tried: it rebuilds what the
  // drives could not give.
  auto real = std::stable_partition(c.begin(), c.end(), [&](const CopyRef& r) {
    return r.drive != l.parity_drive;
  });
  auto best = std::min_element(
      c.begin(), real == c.begin() ? c.end() : real, [&](auto& a, auto& b) {
        return (*assigned)[a.drive] < (*assigned)[b.drive];
      });
  std::rotate(c.begin(), best, best + 1);
  (*assigned)[c[0].drive] += l.m.file_size(e);
}

}  // namespace valise
