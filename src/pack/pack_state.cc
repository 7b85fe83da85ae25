// The state of a pack in progress: see include/valise/pack_state.h.
//
// Durability: the journal's head and the drives' markers are durable
// before the first byte of data is written; each checkpoint's lines are
// appended after the writer made every drive, the chunk index and M.parity
// durable up to that checkpoint, and fdatasync'd before the writer goes on
// (a crash between the two leaves the previous checkpoint, which is still
// true). Finish moves the sidecars into place before it writes M, and
// removes the state only after M is durable, so a crash at any point
// leaves either a resumable state or a finished shipment.
#include "valise/pack_state.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cstdio>

#include "format/parse_util.h"
#include "valise/chunk_index_v2.h"
#include "valise/sidecar.h"

namespace valise {

namespace {

constexpr std::string_view kJournalHead = "valise-pack-state 1";

std::string Basename(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string ParentOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "."
         : slash == 0               ? "/"
                                    : path.substr(0, slash);
}

std::string DigestNames(const DigestSet& set) {
  std::string out;
  for (DigestType t : set.Types()) {
    if (!out.empty()) out += ",";
    out += DigestName(t);
  }
  return out;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (true) {
    const size_t e = s.find(sep, pos);
    out.push_back(s.substr(pos, e == std::string_view::npos ? e : e - pos));
    if (e == std::string_view::npos) return out;
    pos = e + 1;
  }
}

// "valise-pack <id> data|parity <index>\n"
std::string MarkerText(const std::string& id, bool parity, size_t index) {
  return "valise-pack " + id + (parity ? " parity " : " data ") +
         std::to_string(index) + "\n";
}

// Whether `drive` holds nothing but (perhaps) the marker and an empty
// lost+found.
bool OnlyMarker(FileSystem* fs, const std::string& drive) {
  std::vector<DirEntry> entries;
  if (!fs->ListDir(drive, &entries).ok()) return false;
  for (const DirEntry& e : entries) {
    if (e.name == kPackMarker) continue;
    std::vector<DirEntry> inside;
    if (e.name == "lost+found" && e.type == FileType::kDirectory &&
        fs->ListDir(drive + "/lost+found", &inside).ok() && inside.empty()) {
      continue;
    }
    return false;
  }
  return true;
}

std::vector<std::string> Drives(const PackPlan& plan) {
  std::vector<std::string> d = plan.data_roots;
  d.insert(d.end(), plan.parity_roots.begin(), plan.parity_roots.end());
  return d;
}

}  // namespace

PackState::~PackState() = default;

std::string PackState::DirFor(const std::string& manifest) {
  return manifest + ".pack";
}

// The chunk index, M.parity and the journal of the state, opened for
// writing on (the journal cut back to journal_size_, its last whole
// checkpoint: what a crash left after it is not true). A complete pack's
// sidecars may have been moved into place by Finish already: not opened.
Status PackState::OpenFiles() {
  const std::string base = Basename(dir_);
  if (!complete_) {
    WriteOptions wo;
    wo.mode = 0644;
    wo.exclusive = false;
    wo.truncate = false;
    VALISE_RETURN_IF_ERROR(parent_->CreateFile(base + "/chunks", wo, &chunks_));
    VALISE_RETURN_IF_ERROR(parent_->CreateFile(base + "/parity", wo, &parity_));
  }
  VALISE_RETURN_IF_ERROR(parent_->OpenAppend(base + "/journal", &journal_));
  uint64_t size = 0;
  VALISE_RETURN_IF_ERROR(journal_->Size(&size));
  if (size != journal_size_) {
    VALISE_RETURN_IF_ERROR(journal_->Truncate(journal_size_));
    VALISE_RETURN_IF_ERROR(journal_->Sync());
  }
  return Status::OK();
}

// Removes what a Create cut short left in `rel` (files, then the
// directory). NotFound is not an error.
Status PackState::RemoveUnfinished(const std::string& rel) {
  std::vector<DirEntry> entries;
  Status s = parent_->List(rel, &entries);
  if (s.IsNotFound()) return Status::OK();
  VALISE_RETURN_IF_ERROR(s);
  for (const DirEntry& e : entries) {
    VALISE_RETURN_IF_ERROR(parent_->Remove(rel + "/" + e.name));
  }
  return parent_->Remove(rel);
}

Status PackState::WriteMarker(FileSystem* fs, const std::string& drive,
                              size_t place) const {
  const bool parity = place >= layout_.k();
  const std::string text =
      MarkerText(id_, parity, parity ? place - layout_.k() : place);
  std::unique_ptr<Directory> root;
  VALISE_RETURN_IF_ERROR(fs->OpenDirectory(drive, false, &root));
  std::unique_ptr<File> marker;
  WriteOptions wo;
  wo.mode = 0644;
  wo.exclusive = false;  // one a Create cut short left is replaced
  VALISE_RETURN_IF_ERROR(
      root->CreateFile(std::string(kPackMarker), wo, &marker));
  VALISE_RETURN_IF_ERROR(marker->WriteAt(0, text.data(), text.size()));
  VALISE_RETURN_IF_ERROR(marker->Sync());
  return root->SyncDir("");
}

Status PackState::Create(FileSystem* fs, const std::string& manifest,
                         const PackPlan& plan, const PackOptions& opt,
                         std::unique_ptr<PackState>* out) {
  std::unique_ptr<PackState> st(new PackState());
  st->fs_ = fs;
  st->manifest_ = manifest;
  st->dir_ = DirFor(manifest);
  st->layout_ = plan.layout;
  st->digests_ = opt.digests;
  uint8_t raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) {
    return Status::IOError("pack state", "no random bytes for its id");
  }
  Digest id;
  id.type = DigestType::kMd5;  // 16 bytes: only its hex is used
  id.size = 16;
  std::copy(raw, raw + 16, id.bytes.begin());
  st->id_ = id.Hex();
  VALISE_RETURN_IF_ERROR(
      fs->OpenDirectory(ParentOf(manifest), false, &st->parent_));
  FileInfo info;
  if (fs->Stat(st->dir_, &info).ok()) {
    return Status::InvalidArgument(st->dir_, "exists already");
  }
  // Made whole under a temporary name, then renamed: M.pack exists only
  // with its layout and the journal's head durable.
  const std::string base = Basename(st->dir_);
  const std::string tmp = base + ".new";
  const std::string tmp_path = st->dir_ + ".new";
  VALISE_RETURN_IF_ERROR(st->RemoveUnfinished(tmp));
  VALISE_RETURN_IF_ERROR(st->parent_->CreateDirs(tmp));
  VALISE_RETURN_IF_ERROR(
      fs->WriteSmallFile(tmp_path + "/layout", WriteLayout(plan.layout), 0644));
  const std::string head = std::string(kJournalHead) + "\nid " + st->id_ +
                           "\ndigests " + DigestNames(opt.digests) + "\n";
  VALISE_RETURN_IF_ERROR(fs->WriteSmallFile(tmp_path + "/journal", head, 0644));
  for (std::string_view name : {kChunkIndexSidecar, kParitySidecar}) {
    std::unique_ptr<File> f;
    WriteOptions wo;
    wo.mode = 0644;
    VALISE_RETURN_IF_ERROR(
        st->parent_->CreateFile(tmp + "/" + std::string(name), wo, &f));
  }
  VALISE_RETURN_IF_ERROR(st->parent_->SyncDir(tmp));
  VALISE_RETURN_IF_ERROR(st->parent_->Rename(tmp, base, /*noreplace=*/true));
  VALISE_RETURN_IF_ERROR(st->parent_->SyncDir(""));
  st->journal_size_ = head.size();
  VALISE_RETURN_IF_ERROR(st->OpenFiles());
  // The markers, last: a drive bears one only once the state exists.
  const std::vector<std::string> drives = Drives(plan);
  for (size_t i = 0; i < drives.size(); ++i) {
    VALISE_RETURN_IF_ERROR(st->WriteMarker(fs, drives[i], i));
  }
  *out = std::move(st);
  return Status::OK();
}

Status PackState::Open(FileSystem* fs, const std::string& manifest,
                       std::unique_ptr<PackState>* out) {
  std::unique_ptr<PackState> st(new PackState());
  st->fs_ = fs;
  st->manifest_ = manifest;
  st->dir_ = DirFor(manifest);
  FileInfo info;
  VALISE_RETURN_IF_ERROR(fs->Stat(st->dir_, &info));
  if (info.type != FileType::kDirectory) {
    return Status::InvalidArgument(st->dir_, "is not a pack's state directory");
  }
  std::string text;
  VALISE_RETURN_IF_ERROR(fs->ReadSmallFile(st->dir_ + "/layout", &text));
  VALISE_RETURN_IF_ERROR(ParseLayout(text, st->dir_ + "/layout", &st->layout_));
  VALISE_RETURN_IF_ERROR(fs->ReadSmallFile(st->dir_ + "/journal", &text));
  VALISE_RETURN_IF_ERROR(st->ParseJournal(text));
  VALISE_RETURN_IF_ERROR(
      fs->OpenDirectory(ParentOf(manifest), false, &st->parent_));
  VALISE_RETURN_IF_ERROR(st->OpenFiles());
  *out = std::move(st);
  return Status::OK();
}

Status PackState::ParseJournal(std::string_view text) {
  const std::string name = dir_ + "/journal";
  auto bad = [&](size_t line, std::string_view why) {
    return Status::Corruption(name + ":" + std::to_string(line), why);
  };
  std::vector<PackCheckpoint::File> files;
  std::vector<PackCheckpoint::Segment> segments;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) break;  // a line cut short: ignored
    const std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    const std::vector<std::string_view> f = Split(line, ' ');
    if (line_no == 1) {
      if (line != kJournalHead) return bad(line_no, "not a pack journal");
      journal_size_ = pos;
      continue;
    }
    uint64_t a = 0, b = 0;
    using format_internal::ParseDecimalU64;
    if (f[0] == "id" && f.size() == 2) {
      id_ = std::string(f[1]);
      journal_size_ = pos;
    } else if (f[0] == "digests" && f.size() == 2) {
      for (std::string_view n : Split(f[1], ',')) {
        DigestType t;
        if (!ParseDigestName(n, &t)) return bad(line_no, "unknown digest");
        digests_.Add(t);
      }
      journal_size_ = pos;
    } else if (f[0] == "file" && f.size() >= 4 && ParseDecimalU64(f[1], &a)) {
      PackCheckpoint::File file;
      file.entry = static_cast<size_t>(a);
      uint64_t mode = 0;
      int64_t mtime = 0;
      for (char c : f[2]) {
        if (c < '0' || c > '7') return bad(line_no, "bad mode");
        mode = mode * 8 + static_cast<uint64_t>(c - '0');
      }
      if (!format_internal::ParseDecimalI64(f[3], &mtime)) {
        return bad(line_no, "bad mtime");
      }
      file.mode = static_cast<uint32_t>(mode & 07777);
      file.mtime_ns = mtime;
      const std::vector<DigestType> types = digests_.Types();
      if (f.size() != 4 + types.size()) return bad(line_no, "digest count");
      for (size_t i = 0; i < types.size(); ++i) {
        Digest d;
        if (!Digest::FromHex(types[i], f[4 + i], &d)) {
          return bad(line_no, "bad digest");
        }
        file.digests.push_back(d);
      }
      files.push_back(std::move(file));
    } else if (f[0] == "segment" && f.size() == 4 &&
               ParseDecimalU64(f[1], &a) && ParseDecimalU64(f[2], &b)) {
      PackCheckpoint::Segment seg;
      seg.drive = static_cast<uint32_t>(a);
      seg.segment = static_cast<size_t>(b);
      if (!Sha256BytesFromHex(f[3], &seg.sha256)) {
        return bad(line_no, "bad digest");
      }
      segments.push_back(seg);
    } else if (f[0] == "checkpoint" && f.size() == 2 &&
               ParseDecimalU64(f[1], &a)) {
      stripes_done_ = a;
      files_.insert(files_.end(), files.begin(), files.end());
      segments_.insert(segments_.end(), segments.begin(), segments.end());
      files.clear();
      segments.clear();
      checkpoints_ = true;
      journal_size_ = pos;
    } else if (line == "complete") {
      complete_ = stripes_done_ == layout_.stripes;
      journal_size_ = pos;
    } else {
      return bad(line_no, "unknown line");
    }
  }
  if (id_.empty() || digests_.empty()) {
    return Status::Corruption(name, "no id or digests line");
  }
  return Status::OK();
}

Status PackState::CheckDrives(FileSystem* fs,
                              const std::vector<std::string>& drives) {
  const size_t k = layout_.k();
  for (size_t i = 0; i < drives.size(); ++i) {
    const bool parity = i >= k;
    const std::string want = MarkerText(id_, parity, parity ? i - k : i);
    std::string got;
    Status s = fs->ReadSmallFile(drives[i] + "/" + std::string(kPackMarker),
                                 &got, 4096);
    if (s.ok() && got == want) continue;
    // A Create cut short while it wrote the markers: nothing was written
    // yet, so a drive with no marker (or an empty one) and nothing else on
    // it gets its marker now.
    if (!checkpoints_ && (s.IsNotFound() || (s.ok() && got.empty())) &&
        OnlyMarker(fs, drives[i])) {
      VALISE_RETURN_IF_ERROR(WriteMarker(fs, drives[i], i));
      continue;
    }
    // A Finish cut short after it removed the marker.
    if (complete_ && s.IsNotFound()) continue;
    return Status::InvalidArgument(
        drives[i], "is not " + std::string(parity ? "parity" : "data") +
                       " drive " + std::to_string((parity ? i - k : i) + 1) +
                       " of the interrupted pack (its " +
                       std::string(kPackMarker) +
                       (s.ok() ? " names another place or pack"
                               : " is missing: " + s.message()) +
                       "); give the same drives in the same order");
  }
  return Status::OK();
}

Status PackState::Resume(const PackPlan& plan, PackResume* out) const {
  *out = PackResume();
  out->stripes_done = stripes_done_;
  out->files.assign(plan.entry_paths.size(), std::nullopt);
  for (const PackCheckpoint::File& f : files_) {
    if (f.entry >= out->files.size()) {
      return Status::Corruption(dir_ + "/journal",
                                "a file entry beyond the dataset's");
    }
    out->files[f.entry] = f;
  }
  out->segments.assign(layout_.m(), {});
  for (uint32_t j = 0; j < layout_.m(); ++j) {
    out->segments[j].assign(layout_.parity[j].segments.size(), std::nullopt);
  }
  for (const PackCheckpoint::Segment& s : segments_) {
    if (s.drive >= out->segments.size() ||
        s.segment >= out->segments[s.drive].size()) {
      return Status::Corruption(dir_ + "/journal",
                                "a parity file beyond the layout's");
    }
    out->segments[s.drive][s.segment] = s.sha256;
  }
  return Status::OK();
}

Status PackState::Append(const PackCheckpoint& c) {
  std::string text;
  char mode[16];
  for (const PackCheckpoint::File& f : c.files) {
    snprintf(mode, sizeof mode, "%o", f.mode);
    text += "file " + std::to_string(f.entry) + " " + mode + " " +
            std::to_string(f.mtime_ns);
    for (const Digest& d : f.digests) text += " " + d.Hex();
    text += "\n";
  }
  for (const PackCheckpoint::Segment& s : c.segments) {
    text += "segment " + std::to_string(s.drive) + " " +
            std::to_string(s.segment) + " " + Sha256BytesHex(s.sha256) + "\n";
  }
  text += "checkpoint " + std::to_string(c.stripes) + "\n";
  VALISE_RETURN_IF_ERROR(
      journal_->WriteAt(journal_size_, text.data(), text.size()));
  VALISE_RETURN_IF_ERROR(journal_->Sync());
  journal_size_ += text.size();
  files_.insert(files_.end(), c.files.begin(), c.files.end());
  segments_.insert(segments_.end(), c.segments.begin(), c.segments.end());
  stripes_done_ = c.stripes;
  return Status::OK();
}

Status PackState::MarkComplete() {
  const std::string text = "complete\n";
  VALISE_RETURN_IF_ERROR(
      journal_->WriteAt(journal_size_, text.data(), text.size()));
  VALISE_RETURN_IF_ERROR(journal_->Sync());
  journal_size_ += text.size();
  complete_ = true;
  return Status::OK();
}

Status PackState::Finish(FileSystem* fs, const std::string& manifest_path,
                         const PackPlan& plan, const ShipmentDrives& drives,
                         std::string_view created, Manifest* manifest) {
  const std::string base = Basename(dir_);
  const std::string m = Basename(manifest_path);
  chunks_.reset();
  parity_.reset();
  journal_.reset();
  // 1. The sidecars into place (a rerun finds them moved already). Their
  // names in the state directory are made durable first: a crash between
  // a rename and the sync after it puts the sidecar back where it was,
  // and that entry must have been durable for the rerun to find it there.
  VALISE_RETURN_IF_ERROR(parent_->SyncDir(base));
  for (std::string_view name : {kChunkIndexSidecar, kParitySidecar}) {
    FileInfo info;
    const std::string from = base + "/" + std::string(name);
    if (parent_->Stat(from, &info).ok()) {
      VALISE_RETURN_IF_ERROR(
          parent_->Rename(from, m + "." + std::string(name), false));
    }
  }
  VALISE_RETURN_IF_ERROR(parent_->SyncDir(base));
  VALISE_RETURN_IF_ERROR(parent_->SyncDir(""));
  // 2. Bound to M, with the layout and the drives; M last.
  for (std::string_view name : {kChunkIndexSidecar, kParitySidecar}) {
    SidecarBinding b;
    VALISE_RETURN_IF_ERROR(BindFile(fs, SidecarPath(manifest_path, name), &b));
    manifest->Bind(name, b);
  }
  const std::string layout = WriteLayout(plan.layout);
  VALISE_RETURN_IF_ERROR(fs->WriteSmallFile(
      SidecarPath(manifest_path, kLayoutSidecar), layout, 0644));
  manifest->Bind(kLayoutSidecar, BindingOf(layout));
  const std::string drives_text = WriteShipmentDrives(drives);
  VALISE_RETURN_IF_ERROR(fs->WriteSmallFile(
      SidecarPath(manifest_path, kDrivesSidecar), drives_text, 0644));
  manifest->Bind(kDrivesSidecar, BindingOf(drives_text));
  VALISE_RETURN_IF_ERROR(fs->WriteSmallFile(
      manifest_path, WriteManifest(*manifest, created), 0644));
  // 3. The markers and the state.
  for (const std::string& drive : Drives(plan)) {
    std::unique_ptr<Directory> root;
    VALISE_RETURN_IF_ERROR(fs->OpenDirectory(drive, false, &root));
    Status s = root->Remove(std::string(kPackMarker));
    if (!s.ok() && !s.IsNotFound()) return s;
    VALISE_RETURN_IF_ERROR(root->SyncDir(""));
  }
  for (const char* f : {"/journal", "/layout"}) {
    Status s = parent_->Remove(base + f);
    if (!s.ok() && !s.IsNotFound()) return s;
  }
  VALISE_RETURN_IF_ERROR(parent_->Remove(base));
  return parent_->SyncDir("");
}

Status ManifestFromResume(const PackPlan& plan, const PackResume& resume,
                          const DigestSet& digests, Manifest* out) {
  *out = Manifest(digests);
  for (size_t e = 0; e < plan.entry_paths.size(); ++e) {
    if (e >= resume.files.size() || !resume.files[e]) {
      return Status::Corruption("pack journal",
                                "no digests for " + plan.entry_paths[e]);
    }
    out->Add(plan.entry_paths[e], plan.entry_sizes[e],
             resume.files[e]->mtime_ns, resume.files[e]->digests);
  }
  return out->Finish();
}

}  // namespace valise
