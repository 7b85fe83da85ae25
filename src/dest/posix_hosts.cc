// The other hosts of a shared directory DEST (see posix_hosts.h): their
// journals read as they grow, and the byte comparison that settles a name
// two hosts raced for.
#include "dest/posix_hosts.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "dest/commit_record.h"

namespace valise {

std::string MachineHostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') {
    return "localhost";
  }
  std::string h(buf);
  std::replace(h.begin(), h.end(), '/', '_');
  return h;
}

bool IsHostName(const std::string& host) {
  return !host.empty() && host != "." && host != ".." && host.size() <= 255 &&
         host.find('/') == std::string::npos &&
         host.find('\0') == std::string::npos;
}

bool RecordIsOf(const JournalRecord& r, const StageRequest& req) {
  return r.type == JournalRecord::Type::kCommit && r.path == req.name &&
         SameFileAs(r, req);
}

Status OtherHostJournals::ListHosts(std::vector<std::string>* hosts) const {
  hosts->clear();
  std::vector<DirEntry> entries;
  Status s = dir_->List(kHostsDir, &entries);
  if (s.IsNotFound()) return Status::OK();
  VALISE_RETURN_IF_ERROR(s);
  for (const DirEntry& e : entries) {
    if (e.name != self_ && IsHostName(e.name) &&
        (e.type == FileType::kDirectory || e.type == FileType::kUnknown)) {
      hosts->push_back(e.name);
    }
  }
  std::sort(hosts->begin(), hosts->end());
  return Status::OK();
}

Status OtherHostJournals::ReadOne(const std::string& host,
                                  const std::string& path, bool remember,
                                  std::vector<JournalRecord>* out,
                                  std::vector<std::string>* notes) {
  std::unique_ptr<File> f;
  Status s = dir_->OpenFile(path, &f);
  if (s.IsNotFound()) return Status::OK();  // a host that committed nothing
  VALISE_RETURN_IF_ERROR(s);
  uint64_t size = 0;
  VALISE_RETURN_IF_ERROR(f->Size(&size));
  uint64_t& from = read_[path];
  // Shorter than what was read: its host cut a torn tail we never took
  // (we read whole records only), so nothing is lost by waiting.
  if (size <= from) return Status::OK();
  std::string data(size - from, '\0');
  size_t got = 0;
  while (got < data.size()) {
    size_t n = 0;
    VALISE_RETURN_IF_ERROR(
        f->ReadAt(from + got, data.size() - got, data.data() + got, &n));
    if (n == 0) break;
    got += n;
  }
  data.resize(got);
  std::vector<JournalRecord> records;
  uint64_t valid = 0;
  s = DecodeJournal(data, &records, &valid);
  if (!s.ok()) return s.WithContext(dir_->path() + "/" + path);
  if (valid < data.size() && notes != nullptr) {
    notes->push_back(dir_->path() + "/" + path + ": " +
                     std::to_string(data.size() - valid) +
                     " bytes after the last whole record left for later (a "
                     "commit being written, or a torn tail)");
  }
  from += valid;
  for (JournalRecord& r : records) {
    if (r.type != JournalRecord::Type::kCommit) continue;
    if (remember) since_[r.path] = {host, r};
    if (out != nullptr) out->push_back(std::move(r));
  }
  return Status::OK();
}

Status OtherHostJournals::ReadAll(std::vector<JournalRecord>* records,
                                  std::vector<std::string>* notes) {
  std::lock_guard<std::mutex> l(mu_);
  VALISE_RETURN_IF_ERROR(ReadOne("", kOneHostJournal, false, records, notes));
  std::vector<std::string> hosts;
  VALISE_RETURN_IF_ERROR(ListHosts(&hosts));
  for (const std::string& h : hosts) {
    VALISE_RETURN_IF_ERROR(
        ReadOne(h, std::string(kHostsDir) + "/" + h + "/journal", false,
                records, notes));
  }
  return Status::OK();
}

Status OtherHostJournals::Poll() {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> hosts;
  VALISE_RETURN_IF_ERROR(ListHosts(&hosts));
  for (const std::string& h : hosts) {
    VALISE_RETURN_IF_ERROR(
        ReadOne(h, std::string(kHostsDir) + "/" + h + "/journal", true, nullptr,
                nullptr));
  }
  return Status::OK();
}

bool OtherHostJournals::CommittedBy(const StageRequest& req,
                                    std::string* host) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = since_.find(req.name);
  if (it == since_.end() || !RecordIsOf(it->second.second, req)) return false;
  *host = it->second.first;
  return true;
}

Status SameBytes(Directory* dir, const std::string& a, const std::string& b,
                 bool* same) {
  *same = false;
  std::unique_ptr<File> fa, fb;
  VALISE_RETURN_IF_ERROR(dir->OpenFile(a, &fa));
  VALISE_RETURN_IF_ERROR(dir->OpenFile(b, &fb));
  uint64_t size_a = 0, size_b = 0;
  VALISE_RETURN_IF_ERROR(fa->Size(&size_a));
  VALISE_RETURN_IF_ERROR(fb->Size(&size_b));
  if (size_a != size_b) return Status::OK();
  constexpr size_t kBlock = size_t{1} << 20;
  std::string ba(kBlock, '\0'), bb(kBlock, '\0');
  for (uint64_t off = 0; off < size_a;) {
    const size_t want =
        static_cast<size_t>(std::min<uint64_t>(kBlock, size_a - off));
    size_t na = 0, nb = 0;
    VALISE_RETURN_IF_ERROR(fa->ReadAt(off, want, ba.data(), &na));
    VALISE_RETURN_IF_ERROR(fb->ReadAt(off, want, bb.data(), &nb));
    const size_t n = std::min(na, nb);
    if (n == 0 || memcmp(ba.data(), bb.data(), n) != 0) return Status::OK();
    off += n;
  }
  *same = true;
  return Status::OK();
}

}  // namespace valise
