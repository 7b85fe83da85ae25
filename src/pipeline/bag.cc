// bag: validate BagIt bags (RFC 8493) and write the tag files of one.
//
// Validation of one bag is a list of checks, cheapest first, so that a bag
// that is obviously wrong is told so before any payload byte is read:
//
//   declaration   bagit.txt: version 0.93-1.0, UTF-8, no BOM in 1.0
//   tag files     list the bag root: data/ must be a directory; find the
//                 payload manifests (at least one of md5, sha1, sha256,
//                 sha512), tag manifests, bag-info.txt, fetch.txt
//   manifests     parse them; every entry under data/, safe (no "..", not
//                 absolute), each payload path in every payload manifest
//   oxum          walk data/ (metadata only) and compare Payload-Oxum's
//                 octets.files with it: a mismatch ends the bag here, its
//                 payload unread (a short copy is found in seconds, not
//                 after hours of hashing)
//   tag manifest  every entry present and matching (tag files are small;
//                 read through a Directory handle, never through a symlink)
//   names         what RFC 8493 calls warnings, told and tolerated: names
//                 listed twice that differ only in case or Unicode
//                 normalization (one is taken for the other when it is
//                 absent with the same digests), a listed name on disk in
//                 another normalization form (checked as that file), OS
//                 metadata files (.DS_Store, Thumbs.db: listed, noted;
//                 unlisted, ignored); fetch.txt items in no manifest and
//                 not in the bag make it incomplete
//   payload       VerifyDrives with the payload manifests as one Manifest
//                 (paths "data/...", no sizes): every digest of every
//                 manifest in one read, at drive speed; then its report is
//                 read as a bag's: an extra file under data/ makes the bag
//                 invalid, one outside is a tag file and dropped; a missing
//                 file that fetch.txt lists is "not fetched"
//
// Bag-level findings become errors of the bag's first drive row, so the
// run's exit status is 1 (docs/bagit.md has the full table). Warnings
// become notes ("BAG: warning: ...") and never change the verdict: a bag
// with warnings and no error is valid. Bags on
// different devices are checked at the same time (one thread per device,
// each running its bags one after another, so one disk never serves two
// sequential streams at once).
#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "pipeline/scan.h"
#include "pipeline/verify_internal.h"
#include "valise/bagit.h"

namespace valise {

namespace {

// Tag files are read whole; a manifest of tens of millions of payload
// files runs to gigabytes.
constexpr size_t kMaxTagFileBytes = size_t{16} << 30;
// How many examples a bag-level error names before "and N more".
constexpr size_t kExamples = 5;

std::string Join(const std::string& dir, const std::string& rel) {
  if (dir.empty() || dir.back() == '/') return dir + rel;
  return dir + "/" + rel;
}

// Reads a whole file beneath `dir` (RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS:
// a tag file that is a symlink, or a path through one, is refused).
Status ReadBeneath(Directory* dir, const std::string& rel, size_t max,
                   std::string* data) {
  std::unique_ptr<File> f;
  VALISE_RETURN_IF_ERROR(dir->OpenFile(rel, &f));
  uint64_t size = 0;
  VALISE_RETURN_IF_ERROR(f->Size(&size));
  if (size > max) {
    return Status::InvalidArgument(f->path(), "too large for a tag file");
  }
  data->resize(size);
  uint64_t off = 0;
  while (off < size) {
    size_t n = 0;
    VALISE_RETURN_IF_ERROR(f->ReadAt(off, size - off, data->data() + off, &n));
    if (n == 0) break;  // shrank while read
    off += n;
  }
  data->resize(off);
  return Status::OK();
}

// Streams a file beneath `dir` through one hasher.
Status HashBeneath(Directory* dir, const std::string& rel, DigestType type,
                   Digest* out) {
  std::unique_ptr<File> f;
  VALISE_RETURN_IF_ERROR(dir->OpenFile(rel, &f));
  auto h = Hasher::New(type);
  std::string buf(size_t{1} << 20, '\0');
  uint64_t off = 0;
  while (true) {
    size_t n = 0;
    VALISE_RETURN_IF_ERROR(f->ReadAt(off, buf.size(), buf.data(), &n));
    if (n == 0) break;
    h->Update(buf.data(), n);
    off += n;
  }
  *out = h->Finish();
  return Status::OK();
}

// The regular files under data/ of one or more roots, by path (the first
// root that has a path gives its size), from metadata alone.
struct PayloadListing {
  std::map<std::string, uint64_t> files;  // "data/..." -> size
  uint64_t octets = 0;
  std::vector<std::string> errors;  // unreadable directories
  bool has_data_dir = false;
  // OS metadata files in no manifest, taken out of `files` (BagCheck::
  // ReconcileNames): ignored, with a warning.
  std::map<std::string, uint64_t> ignored;
  uint64_t ignored_octets = 0;
};

void WalkPayload(Directory* root, const std::string& rel, PayloadListing* out) {
  std::vector<DirEntry> entries;
  Status s = root->List(rel, &entries);
  if (!s.ok()) {
    out->errors.push_back(s.message());
    return;
  }
  for (const DirEntry& e : entries) {
    const std::string child = rel + "/" + e.name;
    FileInfo info;
    s = root->Stat(child, &info);
    if (!s.ok()) {
      out->errors.push_back(s.message());
      continue;
    }
    if (info.type == FileType::kDirectory) {
      WalkPayload(root, child, out);
    } else if (info.type == FileType::kRegular) {
      if (out->files.emplace(child, info.size).second) {
        out->octets += info.size;
      }
    }
  }
}

void ListPayload(FileSystem* fs, const std::vector<std::string>& roots,
                 PayloadListing* out) {
  for (const std::string& r : roots) {
    std::unique_ptr<Directory> dir;
    Status s = fs->OpenDirectory(r, false, &dir);
    if (!s.ok()) {
      out->errors.push_back(s.message());
      continue;
    }
    FileInfo info;
    if (!dir->Stat("data", &info).ok() || info.type != FileType::kDirectory) {
      continue;
    }
    out->has_data_dir = true;
    WalkPayload(dir.get(), "data", out);
  }
}

// "a, b, c and 4 more".
std::string Examples(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size() && i < kExamples; ++i) {
    if (i > 0) out += ", ";
    out += EscapePath(items[i]);
  }
  if (items.size() > kExamples) {
    out += " and " + std::to_string(items.size() - kExamples) + " more";
  }
  return out;
}

// One parsed manifest file.
struct ParsedManifest {
  std::string file;  // "manifest-sha256.txt"
  DigestType type = DigestType::kSha256;
  std::vector<BagManifestEntry> entries;
};

// Everything found about one bag, before it is merged into the run's
// report.
class BagCheck {
 public:
  // `given` names the bag and its payload sources as the user did; `io`
  // holds the same, symlinks given on the command line resolved (once, by
  // ValidateBags): every read goes through `io`, every message and row
  // names `given`.
  BagCheck(FileSystem* fs, const BagSpec& given, const BagSpec& io,
           const PipelineOptions& opt)
      : fs_(fs), given_(given), spec_(io), opt_(opt) {
    if (spec_.payload_sources.empty()) spec_.payload_sources = {spec_.dir};
    if (given_.payload_sources.empty()) given_.payload_sources = {given_.dir};
  }

  // Runs every check; fills report_. Returns an error only for trouble
  // that stops the whole run (from VerifyDrives).
  Status Run();
  RunReport& report() { return report_; }

 private:
  void Error(const std::string& msg) { errors_.push_back(msg); }
  void Note(const std::string& msg) {
    report_.notes.push_back(given_.dir + ": " + msg);
  }
  void Warn(const std::string& msg) {
    if (std::find(warnings_.begin(), warnings_.end(), msg) == warnings_.end()) {
      warnings_.push_back(msg);
    }
  }
  // Reads a tag file beneath the bag and decodes it to UTF-8 (the
  // encoding bagit.txt names).
  Status ReadTagFile(const std::string& rel, size_t max, std::string* text);
  bool ReadDeclaration();
  void FindTagFiles();
  void ReadBagInfo();
  void ReadFetch();
  void ReadManifests();
  bool BuildManifest(PayloadListing* listing, Manifest* m);
  void ReconcileNames(PayloadListing* listing,
                      std::map<std::string, std::vector<Digest>>* paths);
  void FetchedNowhere(const Manifest& m, const PayloadListing& listing);
  bool CheckOxum(const PayloadListing& listing);
  void CheckTagManifests();
  Status VerifyPayload(const Manifest& m);
  void ReportFromListing(const Manifest& m, const PayloadListing& listing);
  void AddDriveRows();
  void NameDriveRows();
  void Finish();

  FileSystem* fs_;
  BagSpec given_;
  BagSpec spec_;
  PipelineOptions opt_;
  RunReport report_;
  std::vector<std::string> errors_;  // bag-level, become drive errors
  bool incomplete_ = false;          // fetch.txt items not fetched
  std::unique_ptr<Directory> dir_;
  BagDeclaration decl_;
  std::vector<std::string> payload_manifest_files_;
  std::vector<std::string> tag_manifest_files_;
  std::string info_file_;  // "bag-info.txt", "package-info.txt" or ""
  bool has_fetch_ = false;
  std::optional<std::pair<uint64_t, uint64_t>> oxum_;
  std::map<std::string, uint64_t> fetch_paths_;  // path -> fetch.txt line
  std::vector<ParsedManifest> manifests_;
  std::vector<FileResult> tag_results_;
  std::vector<FileResult> fetch_results_;  // fetch.txt items in no manifest
  std::vector<std::string> warnings_;
};

Status BagCheck::ReadTagFile(const std::string& rel, size_t max,
                             std::string* text) {
  VALISE_RETURN_IF_ERROR(ReadBeneath(dir_.get(), rel, max, text));
  std::vector<std::string> w;
  Status s = DecodeBagTagFile(decl_, Join(spec_.dir, rel), text, &w);
  for (const std::string& m : w) Warn(m);
  return s;
}

bool BagCheck::ReadDeclaration() {
  Status s = fs_->OpenDirectory(spec_.dir, false, &dir_);
  std::string data;
  if (s.ok()) s = ReadBeneath(dir_.get(), "bagit.txt", 1 << 20, &data);
  if (s.ok())
    s = ParseBagDeclaration(data, Join(spec_.dir, "bagit.txt"), &decl_);
  if (!s.ok()) {
    Error("invalid bag declaration: " + s.message());
    return false;
  }
  return true;
}

void BagCheck::FindTagFiles() {
  std::vector<DirEntry> entries;
  Status s = dir_->List("", &entries);
  if (!s.ok()) {
    Error(s.message());
    return;
  }
  std::sort(
      entries.begin(), entries.end(),
      [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
  for (const DirEntry& e : entries) {
    FileInfo info;
    if (!dir_->Stat(e.name, &info).ok()) continue;
    if (info.type != FileType::kRegular) continue;
    bool tag = false;
    std::string alg;
    if (ParseBagManifestName(e.name, &tag, &alg)) {
      (tag ? tag_manifest_files_ : payload_manifest_files_).push_back(e.name);
    } else if (e.name == "bag-info.txt") {
      info_file_ = e.name;
    } else if (e.name == "package-info.txt" && decl_.major == 0 &&
               decl_.minor < 96 && info_file_.empty()) {
      info_file_ = e.name;  // its name before 0.96
    } else if (e.name == "fetch.txt") {
      has_fetch_ = true;
    }
  }
}

void BagCheck::ReadBagInfo() {
  if (info_file_.empty()) return;
  std::string data;
  std::vector<BagInfoField> info;
  Status s = ReadTagFile(info_file_, 64 << 20, &data);
  if (s.ok()) {
    s = ParseBagInfo(data, Join(spec_.dir, info_file_), &info, decl_.legacy());
  }
  if (!s.ok()) {
    Error("invalid " + info_file_ + ": " + s.message());
    return;
  }
  std::optional<std::string> oxum;
  for (const BagInfoField& f : info) {
    std::string label = f.label;
    for (char& c : label) c = static_cast<char>(tolower(c));
    if (label != "payload-oxum") continue;
    if (oxum && *oxum != f.value) {
      Error(info_file_ + ": Payload-Oxum given twice, differently ('" + *oxum +
            "', '" + f.value + "')");
      return;
    }
    oxum = f.value;
  }
  if (!oxum) return;
  uint64_t octets = 0, streams = 0;
  if (!ParsePayloadOxum(*oxum, &octets, &streams)) {
    Error(info_file_ + ": malformed Payload-Oxum '" + *oxum +
          "' (want <octets>.<files>)");
    return;
  }
  oxum_ = std::make_pair(octets, streams);
}

void BagCheck::ReadFetch() {
  if (!has_fetch_) return;
  std::string data;
  std::vector<BagFetchItem> items;
  Status s = ReadTagFile("fetch.txt", kMaxTagFileBytes, &data);
  if (s.ok()) {
    s = ParseBagFetch(data, Join(spec_.dir, "fetch.txt"), ReadRulesFor(decl_),
                      &items);
  }
  if (!s.ok()) {
    Error("invalid fetch.txt: " + s.message());
    return;
  }
  for (const BagFetchItem& it : items) fetch_paths_.emplace(it.path, it.line);
}

void BagCheck::ReadManifests() {
  for (const std::string& file : payload_manifest_files_) {
    bool tag = false;
    std::string alg;
    ParseBagManifestName(file, &tag, &alg);
    DigestType type;
    if (!ParseDigestName(alg, &type) || type == DigestType::kXxh128) {
      Note(file + ": algorithm '" + alg +
           "' not supported (md5, sha1, sha256, sha512): not checked");
      continue;
    }
    ParsedManifest pm;
    pm.file = file;
    pm.type = type;
    std::string data;
    std::vector<std::string> w;
    Status s = ReadTagFile(file, kMaxTagFileBytes, &data);
    if (s.ok()) {
      s = ParseBagManifest(data, Join(spec_.dir, file), type,
                           ReadRulesFor(decl_), &pm.entries, &w);
    }
    for (const std::string& m : w) Warn(m);
    if (!s.ok()) {
      Error("invalid payload manifest: " + s.message());
      continue;
    }
    // A payload manifest lists payload files only (RFC 8493 2.1.3).
    std::vector<std::string> outside;
    std::vector<BagManifestEntry> kept;
    for (BagManifestEntry& e : pm.entries) {
      if (e.path.compare(0, 5, "data/") == 0) {
        kept.push_back(std::move(e));
      } else {
        outside.push_back(e.path);
      }
    }
    if (!outside.empty()) {
      Error(
          file + ": lists " + std::to_string(outside.size()) +
          " path(s) outside the payload directory data/: " + Examples(outside));
    }
    pm.entries = std::move(kept);
    manifests_.push_back(std::move(pm));
  }
  if (payload_manifest_files_.empty()) {
    Error("no payload manifest (manifest-<algorithm>.txt)");
  } else if (manifests_.empty() && errors_.empty()) {
    Error("no payload manifest valise can check (md5, sha1, sha256, sha512)");
  }
}

// The payload manifests as one Manifest: a path in every manifest gets
// every digest; a path missing from one of them is a bag-level error
// (RFC 8493 3: every payload file is listed in every payload manifest)
// and is left out. The names are then reconciled with the listing
// (ReconcileNames).
bool BagCheck::BuildManifest(PayloadListing* listing, Manifest* m) {
  DigestSet set;
  for (const ParsedManifest& pm : manifests_) set.Add(pm.type);
  *m = Manifest(set);
  m->set_format(ManifestFormat::kBagit);
  m->set_has_sizes(false);
  m->set_has_mtimes(false);
  std::map<std::string, std::vector<Digest>> by_path;
  for (const ParsedManifest& pm : manifests_) {
    for (const BagManifestEntry& e : pm.entries) {
      by_path[e.path].push_back(e.digest);
    }
  }
  std::vector<std::string> partial;
  for (auto it = by_path.begin(); it != by_path.end();) {
    if (it->second.size() != manifests_.size()) {
      partial.push_back(it->first);
      it = by_path.erase(it);
    } else {
      ++it;
    }
  }
  if (!partial.empty()) {
    Error(std::to_string(partial.size()) +
          " payload file(s) not listed in every payload manifest: " +
          Examples(partial));
  }
  ReconcileNames(listing, &by_path);
  for (const auto& [path, digests] : by_path) m->Add(path, 0, 0, digests);
  Status s = m->Finish();
  if (!s.ok()) {
    Error("payload manifests: " + s.message());
    return false;
  }
  return true;
}

// Names as RFC 8493's "Filename normalization" and "Legacy checksum tools"
// ask: warnings, never errors, and a bag made on a case-insensitive or
// normalizing file system still validates here.
//   - OS metadata files: listed ones are noted; unlisted ones in data/ are
//     taken out of the listing (not extra; Payload-Oxum may count them or
//     not).
//   - Listed names on disk in another normalization form: checked as the
//     file on disk (the manifest's path is replaced by the disk's).
//   - Listed names that differ only in case or normalization: noted; one
//     that is not on disk while another of its group is, with the same
//     digests, is that file (dropped from what is checked).
void BagCheck::ReconcileNames(
    PayloadListing* listing,
    std::map<std::string, std::vector<Digest>>* paths) {
  std::vector<std::string> os_listed, os_ignored;
  for (const auto& [path, digests] : *paths) {
    if (IsOsMetadataPath(path)) os_listed.push_back(path);
  }
  for (auto it = listing->files.begin(); it != listing->files.end();) {
    if (IsOsMetadataPath(it->first) && !paths->count(it->first)) {
      os_ignored.push_back(it->first);
      listing->ignored.insert(*it);
      listing->ignored_octets += it->second;
      listing->octets -= it->second;
      it = listing->files.erase(it);
    } else {
      ++it;
    }
  }
  if (!os_listed.empty()) {
    Warn(std::to_string(os_listed.size()) +
         " OS metadata file(s) in the payload, made by macOS or Windows and "
         "seldom meant to be shipped: " +
         Examples(os_listed));
  }
  if (!os_ignored.empty()) {
    Warn(std::to_string(os_ignored.size()) +
         " OS metadata file(s) in data/ but in no manifest, ignored: " +
         Examples(os_ignored));
  }

  // A listed name missing on disk, where the disk has it in another
  // normalization form (and that name is not listed itself).
  std::map<std::string, std::string> disk_by_nfc;
  for (const auto& [path, size] : listing->files) {
    if (!paths->count(path)) disk_by_nfc.emplace(NfcName(path), path);
  }
  std::vector<std::pair<std::string, std::string>> renames;
  for (const auto& [path, digests] : *paths) {
    if (listing->files.count(path)) continue;
    auto it = disk_by_nfc.find(NfcName(path));
    if (it == disk_by_nfc.end() || paths->count(it->second)) continue;
    renames.emplace_back(path, it->second);
  }
  for (const auto& [listed, on_disk] : renames) {
    Warn(EscapePath(listed) + " is on disk as " + EscapePath(on_disk) +
         ", the same name in another Unicode normalization form: checked as "
         "that file");
    auto node = paths->extract(listed);
    node.key() = on_disk;
    paths->insert(std::move(node));
  }

  // Listed names equal once case and normalization are folded.
  std::map<std::string, std::vector<std::string>> groups;
  for (const auto& [path, digests] : *paths) {
    groups[FoldedName(path)].push_back(path);
  }
  std::vector<std::string> same_file;
  for (const auto& [key, names] : groups) {
    if (names.size() < 2) continue;
    const bool only_nfc = NfcName(names[0]) == NfcName(names[1]);
    std::vector<std::string> shown(names.begin(), names.end());
    Warn("names that differ only in " +
         std::string(only_nfc ? "Unicode normalization" : "case") +
         ", one file on a case-insensitive or normalizing file system: " +
         Examples(shown));
    const std::string* present = nullptr;
    for (const std::string& n : names) {
      if (listing->files.count(n)) present = &n;
    }
    if (present == nullptr) continue;
    for (const std::string& n : names) {
      if (listing->files.count(n) || (*paths)[n] != (*paths)[*present]) {
        continue;
      }
      Warn(EscapePath(n) +
           " is not on this file system; listed with the "
           "same digests as " +
           EscapePath(*present) + ", which differs from it only in " +
           (only_nfc ? "normalization" : "case") + ": taken as that file");
      same_file.push_back(n);
    }
  }
  for (const std::string& n : same_file) paths->erase(n);
}

// fetch.txt items in no payload manifest (RFC 8493 2.2.3 says every one is
// in every manifest) and not in the bag: the bag is incomplete, and
// nothing could ever check what would be fetched. An item that is in the
// bag but in no manifest is an extra payload file (invalid).
void BagCheck::FetchedNowhere(const Manifest& m,
                              const PayloadListing& listing) {
  for (const auto& [path, line] : fetch_paths_) {
    if (m.Find(path) >= 0 || listing.files.count(path)) continue;
    FileResult r;
    r.path = path;
    r.status = FileStatus::kMissing;
    r.detail = "listed in fetch.txt line " + std::to_string(line) +
               " and in no payload manifest: not fetched (valise never "
               "fetches), and nothing to check it against";
    fetch_results_.push_back(std::move(r));
  }
}

bool BagCheck::CheckOxum(const PayloadListing& listing) {
  if (!oxum_) return true;
  const uint64_t files = listing.files.size();
  if (oxum_->first == listing.octets && oxum_->second == files) return true;
  // Payload-Oxum made while the ignored OS metadata files were there.
  if (!listing.ignored.empty() &&
      oxum_->first == listing.octets + listing.ignored_octets &&
      oxum_->second == files + listing.ignored.size()) {
    return true;
  }
  Error("Payload-Oxum " + std::to_string(oxum_->first) + "." +
        std::to_string(oxum_->second) + " but data/ holds " +
        std::to_string(listing.octets) + " bytes in " + std::to_string(files) +
        " files: the payload was not read");
  return false;
}

void BagCheck::CheckTagManifests() {
  for (const std::string& file : tag_manifest_files_) {
    bool tag = false;
    std::string alg;
    ParseBagManifestName(file, &tag, &alg);
    DigestType type;
    if (!ParseDigestName(alg, &type) || type == DigestType::kXxh128) {
      Note(file + ": algorithm '" + alg + "' not supported: not checked");
      continue;
    }
    std::string data;
    std::vector<BagManifestEntry> entries;
    std::vector<std::string> w;
    Status s = ReadTagFile(file, kMaxTagFileBytes, &data);
    if (s.ok()) {
      s = ParseBagManifest(data, Join(spec_.dir, file), type,
                           ReadRulesFor(decl_), &entries, &w);
    }
    for (const std::string& m : w) Warn(m);
    if (!s.ok()) {
      Error("invalid tag manifest: " + s.message());
      continue;
    }
    for (const BagManifestEntry& e : entries) {
      FileResult r;
      r.path = e.path;
      r.drive = 0;
      if (e.path.compare(0, 5, "data/") == 0) {
        Error(file + ":" + std::to_string(e.line) +
              ": a tag manifest may not list a payload file (" +
              EscapePath(e.path) + ")");
        continue;
      }
      if (e.path == file) {
        Error(file + " lists itself");
        continue;
      }
      Digest got;
      s = HashBeneath(dir_.get(), e.path, type, &got);
      if (s.IsNotFound()) {
        r.status = FileStatus::kMissing;
        r.detail = "tag file listed in " + file;
      } else if (!s.ok()) {
        r.status = FileStatus::kUnreadable;
        r.detail = s.message();
      } else if (got != e.digest) {
        r.status = FileStatus::kCorrupt;
        r.detail = std::string(DigestName(type)) + " mismatch (" + file + ")";
      } else {
        continue;
      }
      tag_results_.push_back(std::move(r));
    }
  }
}

void BagCheck::AddDriveRows() {
  report_.drives.clear();
  for (size_t i = 0; i < spec_.payload_sources.size(); ++i) {
    DriveReport d;
    Drive drive;
    if (OpenDrive(fs_, spec_.payload_sources[i], &drive).ok()) {
      d.kind = DriveKindName(drive.kind);
    } else {
      d.kind = "directory";
    }
    report_.drives.push_back(std::move(d));
  }
  NameDriveRows();
}

// Missing and extra payload files from the listing alone (the bag's
// payload is not read).
void BagCheck::ReportFromListing(const Manifest& m,
                                 const PayloadListing& listing) {
  AddDriveRows();
  report_.command = "verify";
  report_.started = NowIso8601();
  report_.files_expected = m.size();
  for (size_t i = 0; i < m.size(); ++i) {
    if (listing.files.count(std::string(m.path(i)))) continue;
    FileResult r;
    r.path = std::string(m.path(i));
    r.status = FileStatus::kMissing;
    report_.files.push_back(std::move(r));
  }
  for (const auto& [path, size] : listing.files) {
    if (m.Find(path) >= 0) continue;
    FileResult r;
    r.path = path;
    r.drive = 0;
    r.status = FileStatus::kExtra;
    r.actual_size = size;
    report_.files.push_back(std::move(r));
  }
}

// The drive rows named as the user gave them, with what a symlink
// resolved to.
void BagCheck::NameDriveRows() {
  for (size_t i = 0; i < report_.drives.size(); ++i) {
    DriveReport& d = report_.drives[i];
    d.source = given_.payload_sources[i];
    d.resolved.clear();
    if (spec_.payload_sources[i] != d.source) {
      d.resolved = spec_.payload_sources[i];
    }
  }
}

Status BagCheck::VerifyPayload(const Manifest& m) {
  VALISE_RETURN_IF_ERROR(
      VerifyDrives(fs_, m, nullptr, spec_.payload_sources, opt_, &report_));
  NameDriveRows();
  // Extras outside data/ are the tag files (listed or not in a tag
  // manifest, they may be there); skipped entries there too.
  std::vector<FileResult> files;
  for (FileResult& r : report_.files) {
    const bool payload = r.path.compare(0, 5, "data/") == 0;
    if ((r.status == FileStatus::kExtra || r.status == FileStatus::kSkipped) &&
        !payload) {
      continue;
    }
    // Unlisted OS metadata files: ignored, with a warning (ReconcileNames).
    if (r.status == FileStatus::kExtra && IsOsMetadataPath(r.path)) continue;
    files.push_back(std::move(r));
  }
  report_.files = std::move(files);
  return Status::OK();
}

void BagCheck::Finish() {
  if (report_.drives.empty()) AddDriveRows();
  // Extra payload files, missing ones listed in fetch.txt.
  for (FileResult& r : fetch_results_) report_.files.push_back(std::move(r));
  fetch_results_.clear();
  std::vector<std::string> extra, unfetched;
  for (FileResult& r : report_.files) {
    if (r.status == FileStatus::kExtra) {
      extra.push_back(r.path);
      r.detail = "payload file in no payload manifest";
    } else if (r.status == FileStatus::kMissing) {
      auto it = fetch_paths_.find(r.path);
      if (it != fetch_paths_.end()) {
        unfetched.push_back(r.path);
        if (r.detail.empty()) {
          r.detail = "listed in fetch.txt line " + std::to_string(it->second) +
                     ": not fetched (valise never fetches)";
        }
      }
    }
  }
  if (!extra.empty()) {
    Error(std::to_string(extra.size()) +
          " payload file(s) in no payload manifest: " + Examples(extra));
  }
  if (has_fetch_ && unfetched.empty() && !fetch_paths_.empty()) {
    Note("fetch.txt lists " + std::to_string(fetch_paths_.size()) +
         " item(s), all present in the bag");
  }
  if (!unfetched.empty()) {
    incomplete_ = true;
    Error("incomplete: " + std::to_string(unfetched.size()) +
          " file(s) listed in fetch.txt are not in the bag: " +
          Examples(unfetched));
  }
  for (FileResult& r : tag_results_) {
    ++report_.drives[0].files_bad;
    report_.files.push_back(std::move(r));
  }
  size_t problems = 0;
  for (const FileResult& r : report_.files) problems += IsProblem(r.status);
  for (const std::string& e : errors_) {
    report_.drives[0].errors.push_back(given_.dir + ": " + e);
  }
  for (const std::string& w : warnings_) Note("warning: " + w);
  if (report_.interrupted) return;
  if (errors_.empty() && problems == 0) {
    std::string algs;
    for (const ParsedManifest& pm : manifests_) {
      algs += algs.empty() ? "" : ",";
      algs += DigestName(pm.type);
    }
    Note("valid bag (BagIt " + decl_.version + ", " +
         std::to_string(report_.files_expected) + " payload files, " + algs +
         (warnings_.empty()
              ? std::string()
              : ", " + std::to_string(warnings_.size()) + " warning(s)") +
         ")");
  } else {
    Note(std::string(incomplete_ ? "incomplete" : "invalid") +
         " bag: " + std::to_string(errors_.size()) + " bag-level error(s), " +
         std::to_string(problems) + " problem file(s)");
  }
}

Status BagCheck::Run() {
  report_.command = "verify";
  report_.manifest = given_.dir;
  if (!ReadDeclaration()) {
    Finish();
    return Status::OK();
  }
  FindTagFiles();
  ReadBagInfo();
  ReadFetch();
  ReadManifests();
  // A listing of data/ (metadata only) for Payload-Oxum, before anything
  // is read.
  PayloadListing listing;
  ListPayload(fs_, spec_.payload_sources, &listing);
  for (const std::string& e : listing.errors) Error(e);
  if (!listing.has_data_dir) Error("no payload directory data/");
  Manifest m;
  if (manifests_.empty() || !BuildManifest(&listing, &m)) {
    Finish();
    return Status::OK();
  }
  FetchedNowhere(m, listing);
  if (!CheckOxum(listing)) {
    ReportFromListing(m, listing);
    report_.bytes_expected = oxum_->first;
    Finish();
    return Status::OK();
  }
  CheckTagManifests();
  VALISE_RETURN_IF_ERROR(VerifyPayload(m));
  report_.manifest = given_.dir;
  // A bag manifest has no sizes: count bytes from the listing, a file with
  // a problem result as not verified (conservative when a copy on another
  // payload drive was good).
  std::set<std::string_view> bad;
  for (const FileResult& r : report_.files) {
    if (IsProblem(r.status)) bad.insert(r.path);
  }
  report_.bytes_expected = 0;
  report_.bytes_verified = 0;
  for (size_t i = 0; i < m.size(); ++i) {
    auto it = listing.files.find(std::string(m.path(i)));
    if (it == listing.files.end()) continue;
    report_.bytes_expected += it->second;
    if (!bad.count(m.path(i))) report_.bytes_verified += it->second;
  }
  Finish();
  return Status::OK();
}

// Appends one bag's report to the run's, shifting its drive indices.
void Merge(RunReport&& bag, RunReport* run) {
  const int base = static_cast<int>(run->drives.size());
  for (DriveReport& d : bag.drives) run->drives.push_back(std::move(d));
  for (FileResult& f : bag.files) {
    if (f.drive >= 0) f.drive += base;
    if (f.repaired_from >= 0) f.repaired_from += base;
    run->files.push_back(std::move(f));
  }
  run->files_expected += bag.files_expected;
  run->files_ok += bag.files_ok;
  run->bytes_expected += bag.bytes_expected;
  run->bytes_verified += bag.bytes_verified;
  run->interrupted |= bag.interrupted;
  if (run->chunk_size == 0) run->chunk_size = bag.chunk_size;
  for (std::string& n : bag.notes) {
    if (std::find(run->notes.begin(), run->notes.end(), n) ==
        run->notes.end()) {
      run->notes.push_back(std::move(n));
    }
  }
}

}  // namespace

bool IsBagDirectory(FileSystem* fs, const std::string& dir_given) {
  std::string dir;
  FileInfo info;
  if (!ResolveSource(fs, dir_given, &dir).ok() || !fs->Stat(dir, &info).ok() ||
      info.type != FileType::kDirectory) {
    return false;
  }
  return fs->Stat(Join(dir, "bagit.txt"), &info).ok() &&
         info.type == FileType::kRegular;
}

Status ValidateBags(FileSystem* fs, const std::vector<BagSpec>& bags,
                    const PipelineOptions& opt, RunReport* report) {
  const uint64_t start_us = fs->NowMicros();
  report->command = "verify";
  report->started = NowIso8601();
  // Each bag and payload source given as a symlink is resolved once, here;
  // then the bags are grouped by the device holding them: one thread per
  // device.
  std::vector<BagSpec> io(bags.size());
  std::map<uint64_t, std::vector<size_t>> by_device;
  for (size_t i = 0; i < bags.size(); ++i) {
    VALISE_RETURN_IF_ERROR(ResolveSource(fs, bags[i].dir, &io[i].dir));
    for (const std::string& src : bags[i].payload_sources) {
      io[i].payload_sources.emplace_back();
      VALISE_RETURN_IF_ERROR(
          ResolveSource(fs, src, &io[i].payload_sources.back()));
    }
    FileInfo info;
    VALISE_RETURN_IF_ERROR(fs->Stat(io[i].dir, &info));
    if (!IsBagDirectory(fs, io[i].dir)) {
      return Status::NotFound(bags[i].dir, "not a bag (no bagit.txt)");
    }
    by_device[info.device].push_back(i);
  }
  PipelineOptions o = opt;
  // Progress bars of concurrent jobs would draw over each other.
  if (by_device.size() > 1) o.progress = false;
  std::vector<RunReport> reports(bags.size());
  std::vector<Status> failures(bags.size());
  std::vector<std::thread> threads;
  for (const auto& [dev, indices] : by_device) {
    threads.emplace_back([&, list = indices] {
      for (size_t i : list) {
        if (o.cancel != nullptr && o.cancel->load(std::memory_order_relaxed)) {
          reports[i].interrupted = true;
          continue;
        }
        BagCheck check(fs, bags[i], io[i], o);
        failures[i] = check.Run();
        reports[i] = std::move(check.report());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (const Status& s : failures) {
    if (!s.ok()) return s;
  }
  std::string names;
  for (size_t i = 0; i < bags.size(); ++i) {
    names += names.empty() ? "" : ", ";
    names += bags[i].dir;
    Merge(std::move(reports[i]), report);
  }
  report->manifest = names;
  report->seconds = double(fs->NowMicros() - start_us) / 1e6;
  return Status::OK();
}

// ---------------------------------------------------------------------------
// Writing a bag's tag files.

Status WriteBagTagFiles(FileSystem* fs, const Manifest& manifest,
                        const std::string& dest, const PipelineOptions& opt,
                        const std::vector<BagInfoField>& extra_info,
                        BagWriteSummary* summary) {
  *summary = BagWriteSummary();
  // The staged payload must be exactly the manifest's.
  PayloadListing listing;
  ListPayload(fs, {dest}, &listing);
  if (!listing.errors.empty()) {
    return Status::IOError(Join(dest, "data"), listing.errors.front());
  }
  for (size_t i = 0; i < manifest.size(); ++i) {
    const std::string rel = "data/" + std::string(manifest.path(i));
    auto it = listing.files.find(rel);
    if (it == listing.files.end()) {
      return Status::InvalidArgument(
          Join(dest, EscapePath(rel)),
          "not staged: the ingest is unfinished (rerun it), no bag written");
    }
    if (manifest.has_sizes() && it->second != manifest.file_size(i)) {
      return Status::InvalidArgument(Join(dest, EscapePath(rel)),
                                     "size differs from the manifest");
    }
  }
  if (listing.files.size() != manifest.size()) {
    std::vector<std::string> extra;
    for (const auto& [path, size] : listing.files) {
      if (manifest.Find(std::string_view(path).substr(5)) < 0) {
        extra.push_back(path);
      }
    }
    return Status::InvalidArgument(
        Join(dest, "data"), "holds files not in the manifest (" +
                                Examples(extra) +
                                "): the bag would be invalid, none written");
  }
  summary->payload_octets = listing.octets;
  summary->payload_files = listing.files.size();

  // Payload manifests: every bag algorithm the manifest holds, and sha256
  // always (computed from the staged files if the manifest lacks it).
  std::vector<std::pair<std::string, std::string>> files;  // name, text
  Manifest computed;
  const Manifest* sha_source = &manifest;
  if (!manifest.digests().Has(DigestType::kSha256)) {
    DigestSet sha;
    sha.Add(DigestType::kSha256);
    ManifestSummary ms;
    VALISE_RETURN_IF_ERROR(MakeManifest(fs, {Join(dest, "data")}, sha, opt,
                                        &computed, nullptr, &ms));
    sha_source = &computed;
  }
  for (DigestType t : {DigestType::kSha256, DigestType::kSha512,
                       DigestType::kSha1, DigestType::kMd5}) {
    const Manifest* src = t == DigestType::kSha256 ? sha_source : &manifest;
    if (!src->digests().Has(t)) continue;
    files.emplace_back("manifest-" + std::string(DigestName(t)) + ".txt",
                       WriteBagManifest(*src, t, "data/"));
  }
  files.emplace_back("bagit.txt", WriteBagDeclaration());
  std::vector<BagInfoField> info = {
      {"Payload-Oxum", std::to_string(listing.octets) + "." +
                           std::to_string(listing.files.size())},
      {"Bagging-Date", NowIso8601().substr(0, 10)},
      {"Bag-Software-Agent", std::string("valise ") + VALISE_VERSION},
  };
  for (const BagInfoField& f : extra_info) info.push_back(f);
  files.emplace_back("bag-info.txt", WriteBagInfo(info));

  // The tag manifest covers every tag file written before it.
  std::vector<BagManifestEntry> tags;
  for (const auto& [name, text] : files) {
    auto h = Hasher::New(DigestType::kSha256);
    h->Update(text.data(), text.size());
    tags.push_back(BagManifestEntry{name, h->Finish(), 0});
  }
  files.emplace_back("tagmanifest-sha256.txt", WriteBagManifest(tags));
  for (const auto& [name, text] : files) {
    VALISE_RETURN_IF_ERROR(fs->WriteSmallFile(Join(dest, name), text, 0644));
    summary->written.push_back(name);
  }
  return Status::OK();
}

}  // namespace valise
