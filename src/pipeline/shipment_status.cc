// The shipment's status from DEST's state (valise/shipment.h): the
// journal says what arrived, the run records what went wrong and when,
// M.drives which drives hold what is still missing, and for a packed
// shipment M.layout which of them parity covers (shipment_parity.h).
//
// Everything is read through FileSystem, without DEST's lock: a running
// ingest may be appending to the journal, whose torn tail is then left
// out as a resume would; a run record is written whole under its name
// (atomically), so one is either there or not. An s3:// DEST is read
// through the S3 view: its journal is one object per commit group.
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "pipeline/scan.h"
#include "pipeline/shipment_parity.h"
#include "valise/journal.h"
#include "valise/s3.h"
#include "valise/shipment.h"

namespace valise {

namespace {

using Json = nlohmann::ordered_json;

constexpr size_t kMaxJournalBytes = size_t{1} << 40;
constexpr size_t kMaxRunRecordBytes = size_t{64} << 20;

std::string Str(const std::string& s) { return EscapePath(s); }

std::string Unescaped(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return "";
  std::string out;
  if (!UnescapePath(it->get<std::string>(), &out).ok()) return "";
  return out;
}

template <typename T>
T Number(const Json& j, const char* key, T fallback) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return fallback;
  return it->get<T>();
}

// Whether journal record `r` is entry e of m: same size, and every digest
// both hold equal (at least one).
bool RecordMatches(const JournalRecord& r, const Manifest& m, size_t e) {
  if (r.size != m.file_size(e)) return false;
  size_t compared = 0;
  for (const Digest& d : r.digests) {
    if (!m.digests().Has(d.type)) continue;
    if (m.digest(e, d.type) != d) return false;
    ++compared;
  }
  return compared > 0;
}

// Who committed a path: the host (empty for a directory DEST's one
// journal) and when its run began (ISO 8601, to the second; the object's
// RUN), and the order read (later: committed later, for one host).
struct Committer {
  std::string host, run;
  uint64_t order = 0;
};

// What DEST's journal says.
struct JournalState {
  std::unordered_map<std::string, JournalRecord> commits;  // by path
  std::unordered_map<std::string, Committer> by;           // by path
  std::vector<ShipmentStatus::Host> hosts;
  uint64_t read = 0;
};

// RUN of a journal object RUN-SEQ (nanoseconds since the epoch, 20
// digits) as ISO 8601 UTC to the second; "" if it is not one.
std::string RunTime(const std::string& group) {
  const size_t dash = group.find('-');
  if (dash == std::string::npos || dash < 10) return "";
  const std::string digits = group.substr(0, dash);
  if (digits.find_first_not_of("0123456789") != std::string::npos) return "";
  const time_t t = static_cast<time_t>(
      std::strtoull(digits.c_str(), nullptr, 10) / 1000000000ull);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// When a run began, from its begin record's note in a host's journal of a
// directory DEST ("N files; started 2026-12-06T18:00:00Z"); "" if absent.
std::string StartedOf(const std::string& note) {
  const std::string mark = "; started ";
  const size_t at = note.rfind(mark);
  return at == std::string::npos ? "" : note.substr(at + mark.size());
}

// One journal file (or object) at `path`: its commit records by path
// (the last one wins), and who made them (`host`'s `run`, the host's
// entry in j->hosts if `host` is not empty).
Status ReadJournalFile(FileSystem* fs, const std::string& path,
                       const std::string& host, const std::string& run,
                       JournalState* j, std::vector<std::string>* notes) {
  std::unordered_map<std::string, JournalRecord>* commits = &j->commits;
  std::unique_ptr<FileContents> data;
  Status s = fs->ReadLargeFile(path, kMaxJournalBytes, &data);
  if (s.IsNotFound()) return Status::OK();
  VALISE_RETURN_IF_ERROR(s);
  std::vector<JournalRecord> records;
  uint64_t valid = 0;
  s = DecodeJournal(data->data(), &records, &valid);
  if (!s.ok()) return Status::Corruption(path, s.message());
  if (valid < data->data().size()) {
    notes->push_back(path + ": " + std::to_string(data->data().size() - valid) +
                     " bytes after the last whole record left out (a torn "
                     "tail, or a commit being written now)");
  }
  ShipmentStatus::Host* h = host.empty() ? nullptr : &j->hosts.back();
  for (JournalRecord& r : records) {
    if (h != nullptr && r.type == JournalRecord::Type::kBegin) {
      h->last_run = run.empty() ? StartedOf(r.note) : run;
      h->ended = false;
    }
    if (h != nullptr && r.type == JournalRecord::Type::kEnd) h->ended = true;
    if (r.type == JournalRecord::Type::kCommit) {
      j->by[r.path] = Committer{host, run, ++j->read};
      std::string key = r.path;
      (*commits)[std::move(key)] = std::move(r);
    }
  }
  return Status::OK();
}

// Regular files (kRegular) or directories of `dir`, by name.
Status ListSorted(FileSystem* fs, const std::string& dir, FileType type,
                  std::vector<std::string>* names) {
  std::vector<DirEntry> entries;
  VALISE_RETURN_IF_ERROR(fs->ListDir(dir, &entries));
  names->clear();
  for (const DirEntry& e : entries) {
    if (e.type == type) names->push_back(e.name);
  }
  std::sort(names->begin(), names->end());
  return Status::OK();
}

// DEST's journal: a directory DEST's one-host file .valise/journal and
// the journals of the hosts sharing it, .valise/hosts/HOST/journal
// (src/dest/posix_hosts.h), host by host; or an object store's objects
// .valise/journal/HOST/RUN-SEQ (s3_destination.cc), read host by host in
// key order: each host's runs and commit groups in the order they were
// written.
Status ReadJournal(FileSystem* fs, const std::string& dest, JournalState* j,
                   std::vector<std::string>* notes) {
  const std::string path = dest + "/" + kStateDirName + "/journal";
  FileInfo info;
  Status s = fs->Stat(path, &info);
  if (!s.ok() && !s.IsNotFound()) return s;
  if (s.IsNotFound() || info.type != FileType::kDirectory) {
    if (s.ok())
      VALISE_RETURN_IF_ERROR(ReadJournalFile(fs, path, "", "", j, notes));
    const std::string shared = dest + "/" + kStateDirName + "/hosts";
    std::vector<std::string> hosts;
    s = ListSorted(fs, shared, FileType::kDirectory, &hosts);
    if (s.IsNotFound()) return Status::OK();
    VALISE_RETURN_IF_ERROR(s);
    for (const std::string& host : hosts) {
      // A host whose run never began (refused at open) has no journal.
      const std::string journal = shared + "/" + host + "/journal";
      FileInfo ji;
      s = fs->Stat(journal, &ji);
      if (s.IsNotFound()) continue;
      VALISE_RETURN_IF_ERROR(s);
      ShipmentStatus::Host h;
      h.name = host;
      j->hosts.push_back(std::move(h));
      VALISE_RETURN_IF_ERROR(ReadJournalFile(fs, journal, host, "", j, notes));
    }
    return Status::OK();
  }
  std::vector<std::string> hosts, groups;
  VALISE_RETURN_IF_ERROR(ListSorted(fs, path, FileType::kDirectory, &hosts));
  for (const std::string& host : hosts) {
    const std::string dir = path + "/" + host;
    VALISE_RETURN_IF_ERROR(ListSorted(fs, dir, FileType::kRegular, &groups));
    ShipmentStatus::Host h;
    h.name = host;
    j->hosts.push_back(std::move(h));
    for (const std::string& g : groups) {
      VALISE_RETURN_IF_ERROR(
          ReadJournalFile(fs, dir + "/" + g, host, RunTime(g), j, notes));
    }
  }
  return Status::OK();
}

Status ReadRunRecords(FileSystem* fs, const std::string& dest,
                      std::vector<RunRecord>* runs,
                      std::vector<std::string>* notes) {
  const std::string dir = dest + "/" + kRunRecordDir;
  std::vector<DirEntry> entries;
  Status s = fs->ListDir(dir, &entries);
  if (s.IsNotFound()) return Status::OK();
  VALISE_RETURN_IF_ERROR(s);
  std::vector<std::string> names;
  for (const DirEntry& e : entries) {
    const std::string& n = e.name;
    if (e.type == FileType::kRegular && n.size() > 5 &&
        n.compare(n.size() - 5, 5, ".json") == 0) {
      names.push_back(n);
    }
  }
  std::sort(names.begin(), names.end());  // they begin with the start time
  for (const std::string& n : names) {
    const std::string path = dir + "/" + n;
    std::string data;
    RunRecord r;
    s = fs->ReadSmallFile(path, &data, kMaxRunRecordBytes);
    if (s.ok()) s = ParseRunRecord(data, path, &r);
    if (!s.ok()) {
      notes->push_back("run record left out: " + s.message());
      continue;
    }
    runs->push_back(std::move(r));
  }
  return Status::OK();
}

// The drives still needed: greedily the one holding the most missing bytes
// not yet covered (ties: the earlier drive).
std::vector<uint32_t> NeededDrives(
    const ShipmentStatus& st, const Manifest& m,
    const std::vector<std::vector<uint32_t>>& holders) {
  std::vector<bool> covered(st.missing.size(), false);
  std::vector<uint32_t> chosen;
  for (;;) {
    std::vector<uint64_t> gain(st.drives.size(), 0);
    std::vector<bool> any(st.drives.size(), false);
    for (size_t i = 0; i < st.missing.size(); ++i) {
      if (covered[i]) continue;
      for (uint32_t d : holders[st.missing[i]]) {
        gain[d] += m.file_size(st.missing[i]);
        any[d] = true;
      }
    }
    int best = -1;
    for (size_t d = 0; d < st.drives.size(); ++d) {
      if (any[d] && (best < 0 || gain[d] > gain[best])) best = int(d);
    }
    if (best < 0) break;
    chosen.push_back(uint32_t(best));
    for (size_t i = 0; i < st.missing.size(); ++i) {
      const auto& h = holders[st.missing[i]];
      if (std::find(h.begin(), h.end(), uint32_t(best)) != h.end()) {
        covered[i] = true;
      }
    }
  }
  return chosen;
}

// Arrived entry `path` (of `size` bytes, on the drives `holders`, if
// known) counts for the host that committed it, and a drive only it is on
// was seen there (the latest such commit wins: runs by time, then order).
void CountCommit(const JournalState& j, const std::string& path, uint64_t size,
                 ShipmentStatus* out, const std::vector<uint32_t>* holders,
                 std::vector<Committer>* seen) {
  auto by = j.by.find(path);
  if (by == j.by.end() || by->second.host.empty()) return;
  const Committer& c = by->second;
  for (ShipmentStatus::Host& h : out->hosts) {
    if (h.name == c.host) {
      ++h.files;
      h.bytes += size;
    }
  }
  if (holders == nullptr || holders->size() != 1) return;
  Committer& s = (*seen)[(*holders)[0]];
  if (s.host.empty() || c.run > s.run ||
      (c.run == s.run && c.order > s.order)) {
    s = c;
  }
}

}  // namespace

RunRecord RunRecordOf(const RunReport& report, const std::string& host,
                      const std::string& finished,
                      const std::vector<std::string>& labels) {
  RunRecord r;
  r.host = host;
  r.started = report.started;
  r.finished = finished;
  r.exit_code = report.ExitCode();
  r.manifest = report.manifest;
  for (size_t i = 0; i < report.drives.size(); ++i) {
    const DriveReport& d = report.drives[i];
    RunRecord::Drive rd;
    rd.source = d.source;
    rd.label = i < labels.size() ? labels[i] : "";
    rd.files_ok = d.files_ok;
    rd.files_bad = d.files_bad;
    rd.stalled = d.stalled;
    r.drives.push_back(std::move(rd));
  }
  report.ForEachFile([&](const FileResult& f) {
    if (!IsProblem(f.status) || f.status == FileStatus::kMissing) return;
    ++r.problems_total;
    if (r.problems.size() >= kMaxRunRecordProblems) return;
    RunRecord::Problem p;
    p.path = f.path;
    p.status = FileStatusName(f.status);
    p.drive = f.drive;
    p.first_bad_offset = f.first_bad_offset;
    p.detail = f.detail;
    r.problems.push_back(std::move(p));
  });
  return r;
}

std::string WriteRunRecord(const RunRecord& r) {
  Json j;
  j["format"] = "valise-run";
  j["version"] = 1;
  j["host"] = Str(r.host);
  j["started"] = r.started;
  j["finished"] = r.finished;
  j["exit_code"] = r.exit_code;
  j["result"] = ExitResultWord(r.exit_code);
  j["manifest"] = Str(r.manifest);
  Json drives = Json::array();
  for (const RunRecord::Drive& d : r.drives) {
    drives.push_back({{"source", Str(d.source)},
                      {"label", Str(d.label)},
                      {"files_ok", d.files_ok},
                      {"files_bad", d.files_bad},
                      {"stalled", d.stalled}});
  }
  j["drives"] = std::move(drives);
  Json problems = Json::array();
  for (const RunRecord::Problem& p : r.problems) {
    problems.push_back({{"path", Str(p.path)},
                        {"status", p.status},
                        {"drive", p.drive},
                        {"first_bad_offset", p.first_bad_offset},
                        {"detail", Str(p.detail)}});
  }
  j["problems"] = std::move(problems);
  j["problems_total"] = r.problems_total;
  return j.dump(1) + "\n";
}

Status ParseRunRecord(std::string_view data, std::string_view name,
                      RunRecord* out) {
  Json j = Json::parse(data.begin(), data.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object() ||
      j.value("format", "") != "valise-run") {
    return Status::InvalidArgument(std::string(name),
                                   "is not a valise run record");
  }
  if (Number<int>(j, "version", 0) != 1) {
    return Status::NotSupported(std::string(name),
                                "run record version is not 1");
  }
  *out = RunRecord();
  out->host = Unescaped(j, "host");
  out->started = j.value("started", "");
  out->finished = j.value("finished", "");
  out->exit_code = Number<int>(j, "exit_code", 2);
  out->manifest = Unescaped(j, "manifest");
  if (j.contains("drives") && j["drives"].is_array()) {
    for (const Json& d : j["drives"]) {
      if (!d.is_object()) continue;
      RunRecord::Drive rd;
      rd.source = Unescaped(d, "source");
      rd.label = Unescaped(d, "label");
      rd.files_ok = Number<uint64_t>(d, "files_ok", 0);
      rd.files_bad = Number<uint64_t>(d, "files_bad", 0);
      rd.stalled = d.value("stalled", false);
      out->drives.push_back(std::move(rd));
    }
  }
  if (j.contains("problems") && j["problems"].is_array()) {
    for (const Json& p : j["problems"]) {
      if (!p.is_object()) continue;
      RunRecord::Problem rp;
      rp.path = Unescaped(p, "path");
      rp.status = p.value("status", "");
      rp.drive = Number<int>(p, "drive", -1);
      if (rp.drive >= int(out->drives.size())) rp.drive = -1;
      rp.first_bad_offset = Number<int64_t>(p, "first_bad_offset", -1);
      rp.detail = Unescaped(p, "detail");
      out->problems.push_back(std::move(rp));
    }
  }
  out->problems_total = Number<uint64_t>(j, "problems_total", 0);
  return Status::OK();
}

Status SaveStateRecord(FileSystem* fs, const std::string& dest,
                       const std::string& dir, const std::string& time,
                       const std::string& host, const std::string& data) {
  // An s3:// DEST: an object under PREFIX/.valise/DIR/, written by one
  // PUT that never replaces one (EEXIST: the next name).
  const bool object_store = IsS3Url(dest);
  std::unique_ptr<Directory> state;
  if (!object_store) {
    VALISE_RETURN_IF_ERROR(fs->OpenDirectory(dest + "/" + kStateDirName,
                                             /*create=*/false, &state));
    VALISE_RETURN_IF_ERROR(state->CreateDirs(dir));
  }
  // Names sort by time; host and a counter keep two records apart.
  std::string stamp = time;
  stamp.erase(std::remove(stamp.begin(), stamp.end(), ':'), stamp.end());
  std::string safe_host;
  for (char c : host) {
    safe_host.push_back(std::isalnum(static_cast<unsigned char>(c)) ||
                                c == '-' || c == '.'
                            ? c
                            : '_');
  }
  for (int n = 0;; ++n) {
    const std::string rel = dir + "/" + stamp + "-" + safe_host +
                            (n ? "-" + std::to_string(n) : "") + ".json";
    const std::string path = dest + "/" + kStateDirName + "/" + rel;
    if (object_store) {
      Status s = fs->WriteSmallFile(path, data, 0644);
      if (s.err() == EEXIST) continue;
      return s;
    }
    FileInfo info;
    Status s = state->Stat(rel, &info);
    if (s.ok()) continue;
    if (!s.IsNotFound()) return s;
    return fs->WriteSmallFile(path, data, 0644);
  }
}

Status SaveRunRecord(FileSystem* fs, const std::string& dest,
                     const RunRecord& r) {
  return SaveStateRecord(fs, dest, "runs", r.started, r.host,
                         WriteRunRecord(r));
}

Status ComputeShipmentStatus(FileSystem* fs, const Manifest& m,
                             const ShipmentDrives* drives,
                             const std::string& dest, ShipmentStatus* out,
                             const PackLayout* layout) {
  *out = ShipmentStatus();
  JournalState journal;
  VALISE_RETURN_IF_ERROR(ReadJournal(fs, dest, &journal, &out->notes));
  const auto& commits = journal.commits;
  out->hosts = journal.hosts;
  VALISE_RETURN_IF_ERROR(ReadRunRecords(fs, dest, &out->runs, &out->notes));

  std::vector<std::vector<uint32_t>> holders;
  if (drives != nullptr) {
    out->have_drives = true;
    holders = HoldersByEntry(*drives);
    for (const ShipmentDrive& d : drives->drives) {
      ShipmentStatus::Drive sd;
      sd.label = d.label;
      sd.source = d.source;
      sd.fs_uuid = d.id.fs_uuid;
      sd.serial = d.id.serial;
      sd.files = d.files;
      sd.bytes = d.bytes;
      out->drives.push_back(std::move(sd));
    }
  }

  // Arrived, missing, and journal records of another manifest.
  std::vector<bool> arrived(m.size(), false);
  std::vector<Committer> seen(out->drives.size());  // by drive
  out->files_total = m.size();
  out->bytes_total = m.total_bytes();
  for (size_t e = 0; e < m.size(); ++e) {
    auto it = commits.find(std::string(m.path(e)));
    if (it != commits.end() && RecordMatches(it->second, m, e)) {
      arrived[e] = true;
      ++out->files_arrived;
      out->bytes_arrived += m.file_size(e);
      CountCommit(journal, std::string(m.path(e)), m.file_size(e), out,
                  drives != nullptr ? &holders[e] : nullptr, &seen);
    } else {
      if (it != commits.end()) {
        ShipmentStatus::Problem p;
        p.path = std::string(m.path(e));
        p.status = "mismatch";
        p.detail = "the journal records " + std::to_string(it->second.size) +
                   " bytes with other digests than the manifest's (DEST was "
                   "ingested from another manifest)";
        out->problems.push_back(std::move(p));
      }
      out->missing.push_back(e);
      out->bytes_missing += m.file_size(e);
    }
    if (drives == nullptr) continue;
    for (uint32_t d : holders[e]) {
      ShipmentStatus::Drive& sd = out->drives[d];
      if (arrived[e]) {
        ++sd.files_arrived;
        sd.bytes_arrived += m.file_size(e);
      } else {
        ++sd.files_missing;
        if (holders[e].size() == 1) ++sd.files_missing_only_here;
      }
    }
    if (!arrived[e] && holders[e].empty()) ++out->files_on_no_drive;
  }
  if (drives != nullptr) out->needed = NeededDrives(*out, m, holders);

  // Runs: by drive label; their problems while the file has not arrived
  // (one per path and drive: a later run's replaces an earlier one's).
  std::unordered_map<std::string, size_t> problem_at;
  for (const RunRecord& r : out->runs) {
    const std::string when = r.started + " on " + r.host;
    for (const RunRecord::Drive& d : r.drives) {
      for (ShipmentStatus::Drive& sd : out->drives) {
        if (!d.label.empty() && d.label == sd.label) {
          // The drive's own result: a run missing files of other drives
          // is no problem of this one.
          const int code = d.files_bad || d.stalled ? 1
                           : r.exit_code == 1       ? 0
                                                    : r.exit_code;
          sd.runs.push_back(when + ": " + ExitResultWord(code));
        }
      }
    }
    for (const RunRecord::Problem& p : r.problems) {
      const int64_t e = m.Find(p.path);
      if (e >= 0 && arrived[e]) continue;  // repaired since (or then)
      ShipmentStatus::Problem sp;
      sp.path = p.path;
      sp.status = p.status;
      sp.detail = p.detail;
      sp.first_bad_offset = p.first_bad_offset;
      if (p.drive >= 0) {
        const RunRecord::Drive& d = r.drives[p.drive];
        sp.drive = d.label.empty() ? d.source : d.label;
      }
      sp.run = when;
      const std::string key = sp.path + '\n' + sp.drive;
      auto [it, fresh] = problem_at.emplace(key, out->problems.size());
      if (fresh) {
        out->problems.push_back(std::move(sp));
      } else {
        out->problems[it->second] = std::move(sp);
      }
    }
  }
  // Where each drive was last seen: the journal's last commit of a file
  // only it holds, or a later run record naming it.
  for (size_t d = 0; d < out->drives.size(); ++d) {
    ShipmentStatus::Drive& sd = out->drives[d];
    sd.seen_at = seen[d].host;
    std::string when = seen[d].run;
    for (const RunRecord& r : out->runs) {
      for (const RunRecord::Drive& rd : r.drives) {
        if (!rd.label.empty() && rd.label == sd.label && r.started >= when) {
          sd.seen_at = r.host;
          when = r.started;
        }
      }
    }
  }
  // A packed shipment: parity may stand in for drives not yet arrived.
  if (drives != nullptr && layout != nullptr) {
    PlanParityCover(*layout, *drives, m, out);
  }
  return Status::OK();
}

}  // namespace valise
