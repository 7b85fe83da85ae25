// The directory destination: how a verified file lands in a local
// directory so that a crash at any moment leaves either a temporary (removed
// by the next run) or a durable, verified file under its final name. The
// core decides when each step happens (src/pipeline/ingest.cc); this file
// says how.
//
// Layout of DEST:
//   DEST/<name>             the files, under their final names
//   DEST/.valise/staging/   temporaries, one per file being staged
//   DEST/.valise/journal    the journal (include/valise/journal.h)
//   DEST/.valise/lock       flock'ed by the run that holds DEST
// Every path is resolved beneath DEST's directory handle, never through a
// symlink (Directory: openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS).
//
// Stage creates .valise/staging/<key> (O_EXCL, mode 0600, O_DIRECT for
// large files); the read loop writes it (posix_stage_writer.cc); Finish
// cuts the O_DIRECT tail and sets mode and mtime, on the thread that
// finished the read.
//
// Resume by chunk (issue 15): a file staged resumable is
// .valise/staging/r<entry>, opened without O_EXCL (and without O_TRUNC
// when the core resumes it or repairs it by chunk: its checked chunks
// stay). Keep closes it and
// leaves it there when the run stops; CleanUp never removes an r<entry>:
// the next run lists them (ListPartials), reads them back (PartialPath),
// and drops those it does not go on from.
//
// Durability, two ways, chosen at Open:
//  - syncfs (seal_covers_names), where DEST's file system is trusted with
//    it (Directory::SyncFs: ext4, xfs, btrfs on Linux >= 5.8). Seal is one
//    syncfs: it makes durable the data of the files it seals and every
//    name, directory and journal record made before it started. Record
//    only writes the journal (JournalWriter::Write, no fdatasync). The core
//    names one group while the next is sealed, so one syncfs per group
//    does everything (small files were one device flush each before:
//    3.7 ms, ~270 files/s).
//  - fdatasync elsewhere: Seal fdatasyncs each file, kSealThreads at once
//    so the file system groups the flushes; Name renames; Sync fsyncs every
//    directory a name went into (and its parents up to one known durable),
//    then appends the records and fdatasyncs the journal. If the
//    directories fail to sync, the records are dropped: the journal never
//    holds a name that may not be durable.
//
// Name is renameat2(RENAME_NOREPLACE) from the temporary: a name already
// taken fails with EEXIST, nothing is replaced. Its parent directories are
// created first; which are known durable is remembered so each is synced
// once (durable_dirs_), and with syncfs which wait for the next seal
// (unsealed_dirs_, sealing_dirs_).
//
// Duplicates: a reflink clone (FICLONE) staged under .valise/staging/<key>
// with the entry's mode and mtime, then sealed and named like a read file;
// or a hard link made under the final name at once.
//
// Dedup by chunk (the core decides which, src/pipeline/chunk_dedup.h): a
// chunk is cloned into a staged file from another staged file's chunk with
// FICLONERANGE (CloneChunk; where the probe at Open found reflinks), or
// left unwritten, a hole (LeaveHole, any file system): Finish then sets
// the file's size. A staged file resumed from a kept partial is cut to
// its verified prefix at Stage, so what follows reads as zeros, never as
// an earlier run's bytes.
//
// A lock file (flock) keeps a second ingest out of the same DEST.
//
// Several hosts at once (issue 17), into a DEST on a file system each
// host mounts (CephFS through ceph-fuse; posix_hosts.h has the layout):
// with --host, or once DEST has DEST/.valise/hosts/, each host keeps its
// journal, lock and staging under DEST/.valise/hosts/HOST/, so a second
// run of the same host is refused (its lock) while other hosts run.
//  - Resume returns the commits of every journal: this host's, every
//    other host's (what each had committed so far), and the one-host
//    layout's DEST/.valise/journal if an earlier run left one (read, never
//    written again). Under that one-host lock, Open moves the one-host
//    layout's kept partials into this host's staging and removes its
//    temporaries; a one-host run that holds the lock keeps a shared run
//    out (Busy), and a one-host run started after a host's first run
//    becomes a shared run (it finds DEST/.valise/hosts/).
//  - When a file's turn comes, Stage reads what the other hosts appended
//    to their journals (every journal_poll_ms, or at once if the file's
//    final name exists now) and refuses a file one of them committed since
//    with the same size and digests (CommittedElsewhere): it is not read.
//  - Name never replaces across mounts: renameat2(RENAME_NOREPLACE) where
//    the file system honours it; where it fails with EINVAL (ceph-fuse has
//    no rename with flags), link(2) of the staged file to the final name,
//    which refuses a name that exists whichever mount made it, then
//    unlink(2) of the staged name (a crash between leaves the staged name
//    as a second link, removed by the next clean-up). A name taken
//    (EEXIST) whose file holds the bytes this host verified is the file
//    committed by another host that read its other copy first: counted
//    named here (the staged file is dropped), as the object store does
//    (s3_destination.cc); other bytes there stay a name taken.
//  - A host that died leaves its staged files; Open on any host removes
//    another host's staged files untouched (ctime) for stale_age_s
//    (--stale-upload-age, 24 h), its own at once (its lock is held).
#include "dest/posix_destination.h"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <mutex>
#include <set>
#include <string_view>
#include <thread>
#include <unordered_set>

#include "dest/posix_hosts.h"
#include "dest/posix_staged_file.h"

namespace valise {

namespace {

// The one-host layout; a host's own is under kHostsDir (posix_hosts.h).
constexpr char kStateDir[] = ".valise";
constexpr char kOneHostLock[] = ".valise/lock";
constexpr char kOneHostStaging[] = ".valise/staging";
// Staged files sealed (fdatasync) at once by a commit.
constexpr size_t kSealThreads = 16;

// Skips a run of decimal digits at the front of *s; false if none.
bool SkipDigits(std::string_view* s) {
  size_t n = 0;
  while (n < s->size() && (*s)[n] >= '0' && (*s)[n] <= '9') ++n;
  s->remove_prefix(n);
  return n > 0;
}

// The names valise gives files in a staging directory, and no other: the keys
// the core stages under (StageRequest::key), "e<entry>-p<pass>" (a read) and
// "d<entry>" (a clone of a duplicate), and "probe-a" and "probe-b"
// (ProbeReflink). Only these are removed by the clean-up: valise never
// deletes a file it did not create.
// A kept partial: "r<entry>" (StageRequest::resumable).
bool IsPartialName(std::string_view name) {
  if (name.substr(0, 1) != "r") return false;
  name.remove_prefix(1);
  return SkipDigits(&name) && name.empty();
}

bool IsStagingName(std::string_view name) {
  if (name == "probe-a" || name == "probe-b") return true;
  if (name.substr(0, 1) == "d") {
    name.remove_prefix(1);
    return SkipDigits(&name) && name.empty();
  }
  if (name.substr(0, 1) != "e") return false;
  name.remove_prefix(1);
  if (!SkipDigits(&name) || name.substr(0, 2) != "-p") return false;
  name.remove_prefix(2);
  return SkipDigits(&name) && name.empty();
}

// The mode a staged file is created with. Its final mode where that is
// plain permission bits the owner can read and write (0644, 0755, 0600):
// then Finish, with the process's usual umask, needs no fchmod (one call
// less for each small file). Else, and for a kept partial (reopened by a
// later run to write on), 0600, and Finish sets the mode. A staged file's
// bytes are the source's, so its final permissions show nothing more
// than the named file will.
uint32_t StagingMode(const StageRequest& req) {
  const uint32_t mode = req.mode & 07777;
  if (req.resumable || (mode & 07000) != 0 || (mode & 0600) != 0600) {
    return 0600;
  }
  return mode;
}

std::string ParentOf(const std::string& rel) {
  size_t slash = rel.rfind('/');
  return slash == std::string::npos ? std::string() : rel.substr(0, slash);
}

class PosixDestination final : public Destination {
 public:
  PosixDestination(FileSystem* fs, const std::string& path,
                   const PosixDestinationOptions& opt)
      : fs_(fs),
        opt_(opt),
        where_(path),
        writer_(NewPosixStageWriter(opt.depth)) {}

  const std::string& where() const override { return where_; }

  Status Open(DestInfo* info) override {
    VALISE_RETURN_IF_ERROR(fs_->OpenDirectory(where_, true, &dir_));
    VALISE_RETURN_IF_ERROR(fs_->OpenDirectory(where_, false, &lock_dir_));
    VALISE_RETURN_IF_ERROR(OpenLayout(info));
    CleanUp();
    info->clone = ProbeReflink();
    info->clone_range = info->clone;
    info->holes = true;
    info->hardlink = true;
    // One syncfs per commit group where DEST's file system is trusted
    // with it (see Directory::SyncFs); else one fdatasync per file.
    Status s = dir_->SyncFs();
    if (!s.ok() && !s.IsNotSupported()) return s;
    syncfs_ = s.ok();
    info->seal_covers_names = syncfs_;
    // Staging makes a file (openat2 + O_CREAT: an xfs transaction), worth
    // taking off the I/O thread. Not into a DEST shared by hosts: Stage
    // asks whether another host committed the file meanwhile, and asked
    // files ahead, this host would read files committed in between.
    info->stage_ahead = others_ == nullptr;
    info->verbose_notes.push_back(
        syncfs_ ? "durability: one syncfs of DEST per commit batch"
                : "durability: fdatasync per file (syncfs not trusted on "
                  "DEST's file system)");
    return Status::OK();
  }

  Status Resume(const std::string& begin_note,
                std::vector<JournalRecord>* records,
                std::vector<std::string>* notes) override {
    std::string data;
    std::unique_ptr<File> f;
    Status s = dir_->OpenFile(journal_path_, &f);
    if (s.ok()) {
      uint64_t size = 0;
      VALISE_RETURN_IF_ERROR(f->Size(&size));
      data.resize(size);
      size_t got = 0;
      while (got < size) {
        size_t n = 0;
        VALISE_RETURN_IF_ERROR(
            f->ReadAt(got, size - got, data.data() + got, &n));
        if (n == 0) break;
        got += n;
      }
      data.resize(got);
    } else if (!s.IsNotFound()) {
      return s;
    }
    std::vector<JournalRecord> all;
    uint64_t valid = 0;
    VALISE_RETURN_IF_ERROR(DecodeJournal(data, &all, &valid));
    records->clear();
    // The other hosts' commits (and the one-host journal's) first: this
    // host's own records, read last, win for a path both hold.
    if (others_) VALISE_RETURN_IF_ERROR(others_->ReadAll(records, notes));
    for (JournalRecord& r : all) {
      if (r.type == JournalRecord::Type::kCommit) {
        records->push_back(std::move(r));
      }
    }
    VALISE_RETURN_IF_ERROR(dir_->OpenAppend(journal_path_, &journal_file_));
    if (valid < data.size()) {
      // A torn tail from a crash: cut it so new records follow good ones.
      VALISE_RETURN_IF_ERROR(journal_file_->Truncate(valid));
      notes->push_back("journal: dropped a torn tail of " +
                       std::to_string(data.size() - valid) + " bytes");
    }
    journal_ = std::make_unique<JournalWriter>(journal_file_.get(), valid);
    JournalRecord begin;
    begin.type = JournalRecord::Type::kBegin;
    begin.note = begin_note;
    // `valise status` tells when each host's last run began.
    if (others_) begin.note += "; started " + NowIso8601Utc();
    journal_->Add(begin);
    VALISE_RETURN_IF_ERROR(journal_->Commit());
    last_poll_ = std::chrono::steady_clock::now();
    // The names of the journal and of the staging directory, durable once.
    if (others_) {
      VALISE_RETURN_IF_ERROR(dir_->SyncDir(state_dir_));
      VALISE_RETURN_IF_ERROR(dir_->SyncDir(kHostsDir));
    }
    VALISE_RETURN_IF_ERROR(dir_->SyncDir(kStateDir));
    return dir_->SyncDir("");
  }

  Status Stat(const std::string& name, FileInfo* info) override {
    return dir_->Stat(name, info);
  }
  void StatMany(const std::vector<std::string>& names,
                std::vector<Status>* status,
                std::vector<FileInfo>* info) override {
    dir_->StatMany(names, status, info);
  }

  std::string ReadPath(const std::string& name) const override {
    return where_ + "/" + name;
  }

  StageWriter* writer() override { return writer_.get(); }

  Status Stage(const StageRequest& req,
               std::unique_ptr<StagedFile>* out) override {
    if (others_) {
      std::string host;
      Status s = CommittedByOther(req, &host);
      if (!s.ok() || !host.empty()) {
        out->reset();
        return s.ok()
                   ? CommittedElsewhere(where_ + "/" + req.name, "host " + host)
                   : s;
      }
    }
    WriteOptions wo;
    wo.direct = req.direct;
    wo.mode = StagingMode(req);
    wo.exclusive = true;
    if (req.resumable) {
      if (!IsPartialName(req.key)) {
        out->reset();
        return Status::InvalidArgument(req.key,
                                       "internal: not a resumable key");
      }
      wo.exclusive = false;
      wo.truncate = req.resume_from == 0 && !req.repair;
    }
    std::unique_ptr<File> file;
    const std::string temp = TempName(req.key);
    Status s = dir_->CreateFile(temp, wo, &file);
    if (!s.ok()) {
      out->reset();
      return s;
    }
    if (req.resumable && req.resume_from > 0) {
      // Holes after the verified prefix must read as zeros, not as what
      // the earlier run left there.
      s = file->Truncate(req.resume_from);
      if (!s.ok()) {
        file.reset();
        out->reset();
        return s;
      }
    }
    auto f = std::make_unique<PosixStagedFile>(req.name, temp, std::move(file));
    f->size = req.size;
    f->mode = req.mode;
    f->mtime_ns = req.mtime_ns;
    f->resumable = req.resumable;
    *out = std::move(f);
    return Status::OK();
  }

  // A staged file's final size (the O_DIRECT tail cut), mode and mtime.
  Status Finish(StagedFile* staged) override {
    PosixStagedFile* f = AsPosix(staged);
    File* file = f->file();
    if (file->is_direct() || f->resumable || f->sparse) {
      VALISE_RETURN_IF_ERROR(file->Truncate(f->size));
    }
    return file->SetModeAndTime(f->mode, f->mtime_ns);
  }

  Status Seal(const std::vector<StagedFile*>& files,
              std::vector<Status>* each) override {
    each->assign(files.size(), Status::OK());
    if (syncfs_) return SealBySyncFs(files);
    SealEach(files, each);
    return Status::OK();
  }

  // The group's names in one batch (Directory::RenameMany: each parent
  // opened once, each name lstat'ed as it is made, for the journal).
  void Name(const std::vector<StagedFile*>& files,
            std::vector<Status>* each) override {
    each->assign(files.size(), Status::OK());
    std::vector<RenameOp> ops;
    std::vector<size_t> op_of;  // files[op_of[k]] is renamed by ops[k]
    for (size_t i = 0; i < files.size(); ++i) {
      PosixStagedFile* f = AsPosix(files[i]);
      if (f->named()) continue;
      Status s = EnsureParent(f->name());
      if (!s.ok()) {
        f->Close();
        dir_->Remove(f->temp()).PermitUncheckedError();
        (*each)[i] = s;
        continue;
      }
      RenameOp& op = ops.emplace_back();
      op.from = f->temp();
      op.to = f->name();
      op_of.push_back(i);
    }
    const bool by_link = link_names_.load();
    if (!by_link) dir_->RenameMany(&ops, true);
    for (size_t k = 0; k < ops.size(); ++k) {
      PosixStagedFile* f = AsPosix(files[op_of[k]]);
      Status s = by_link ? LinkName(f) : Renamed(f, ops[k].status);
      if (s.ok() && !by_link && ops[k].stat_ok) {
        f->set_named_info(ops[k].after);
      }
      f->Close();
      if (!s.ok()) {
        dir_->Remove(f->temp()).PermitUncheckedError();
        (*each)[op_of[k]] = s;
      }
    }
    bool any = false;
    for (size_t i = 0; i < files.size(); ++i) {
      if (!(*each)[i].ok()) continue;
      AddUnsealedDir(ParentOf(files[i]->name()));
      any = true;
    }
    if (any) AddUnsealedDir(staging_dir_);
  }

  Status Record(const std::vector<JournalRecord>& records) override {
    if (!syncfs_) {
      // Journaled once their directories are synced (Sync).
      held_.insert(held_.end(), records.begin(), records.end());
      return Status::OK();
    }
    for (const JournalRecord& r : records) journal_->Add(r);
    return journal_->Write();
  }

  Status Sync() override {
    if (syncfs_) {
      std::vector<Status> none;
      return Seal({}, &none);
    }
    std::vector<JournalRecord> records = std::move(held_);
    held_.clear();
    // The names are durable, or the journal records nothing.
    VALISE_RETURN_IF_ERROR(SyncDirs());
    for (const JournalRecord& r : records) journal_->Add(r);
    return journal_->Commit();
  }

  Status Duplicate(const std::string& from, const StageRequest& req,
                   DuplicateKind kind,
                   std::unique_ptr<StagedFile>* out) override {
    out->reset();
    VALISE_RETURN_IF_ERROR(EnsureParent(req.name));
    if (kind == DuplicateKind::kHardlink) {
      VALISE_RETURN_IF_ERROR(dir_->Link(from, req.name));
      *out =
          std::make_unique<PosixStagedFile>(req.name, std::string(), nullptr);
      return Status::OK();
    }
    const std::string temp = TempName(req.key);
    std::unique_ptr<File> src, to;
    WriteOptions wo;
    wo.mode = 0600;
    VALISE_RETURN_IF_ERROR(dir_->OpenFile(from, &src));
    VALISE_RETURN_IF_ERROR(dir_->CreateFile(temp, wo, &to));
    Status s = to->CloneFrom(*src, 0, 0, 0);
    if (s.ok()) s = to->SetModeAndTime(req.mode, req.mtime_ns);
    // With syncfs the clone is sealed with a group: its descriptor is not
    // kept (a group may hold many). Else it is fdatasync'ed by Seal next.
    if (syncfs_) to.reset();
    if (!s.ok()) {
      to.reset();
      dir_->Remove(temp).PermitUncheckedError();
      return s;
    }
    *out = std::make_unique<PosixStagedFile>(req.name, temp, std::move(to));
    return Status::OK();
  }

  std::shared_ptr<File> CloneSource(StagedFile* staged) override {
    return AsPosix(staged)->shared_file();
  }

  Status CloneChunk(StagedFile* staged, uint64_t offset, const File& from,
                    uint64_t from_offset, uint32_t len) override {
    PosixStagedFile* f = AsPosix(staged);
    if (f->file() == nullptr) {
      return Status::InvalidArgument(f->temp(), "internal: not open");
    }
    VALISE_RETURN_IF_ERROR(
        f->file()->CloneFrom(from, from_offset, offset, len));
    f->sparse = true;
    return Status::OK();
  }

  void LeaveHole(StagedFile* staged, uint64_t, uint32_t) override {
    AsPosix(staged)->sparse = true;
  }

  void Adopt(const std::string& name,
             std::unique_ptr<StagedFile>* out) override {
    *out = std::make_unique<PosixStagedFile>(name, std::string(), nullptr);
  }

  void Discard(std::unique_ptr<StagedFile> staged) override {
    if (!staged) return;
    PosixStagedFile* f = AsPosix(staged.get());
    if (f->named()) return;
    f->Close();
    dir_->Remove(f->temp()).PermitUncheckedError();
  }

  bool KeepsPartials(uint64_t, uint64_t) const override { return true; }
  bool RepairsByChunk() const override { return true; }

  void ListPartials(std::vector<std::string>* keys) override {
    keys->clear();
    std::vector<DirEntry> entries;
    if (!dir_ || !dir_->List(staging_dir_, &entries).ok()) return;
    for (const DirEntry& e : entries) {
      if (IsPartialName(e.name) &&
          (e.type == FileType::kRegular || e.type == FileType::kUnknown)) {
        keys->push_back(e.name);
      }
    }
  }

  std::string PartialPath(const std::string& key) const override {
    return where_ + "/" + TempName(key);
  }

  void DropPartial(const std::string& key) override {
    if (!dir_ || !IsPartialName(key)) return;
    dir_->Remove(TempName(key)).PermitUncheckedError();
  }

  void Keep(std::unique_ptr<StagedFile> staged) override {
    if (!staged) return;
    PosixStagedFile* f = AsPosix(staged.get());
    if (!f->resumable || f->named()) return Discard(std::move(staged));
    f->Close();  // left for the next run, which checks it
  }

  void CleanUp() override {
    std::vector<DirEntry> entries;
    if (!dir_ || !dir_->List(staging_dir_, &entries).ok()) return;
    for (const DirEntry& e : entries) {
      if (!IsStagingName(e.name)) continue;  // not valise's: left alone
      dir_->Remove(staging_dir_ + "/" + e.name)
          .PermitUncheckedError();  // a leftover is removed next run
    }
  }

  Status Close(const std::string& end_note) override {
    JournalRecord end;
    end.type = JournalRecord::Type::kEnd;
    end.note = end_note;
    journal_->Add(end);
    return journal_->Commit();
  }

 private:
  // Chooses the layout and takes its lock. One-host unless --host was
  // given or DEST is shared already (DEST/.valise/hosts/). The one-host
  // run looks for DEST/.valise/hosts/ again once it holds its lock, and a
  // shared run makes its directory there before it looks at the one-host
  // lock (LeaveOneHostLayout): whichever comes second sees the other.
  Status OpenLayout(DestInfo* info) {
    host_ = opt_.host;
    FileInfo fi;
    if (host_.empty()) {
      Status s = dir_->Stat(kHostsDir, &fi);
      if (s.IsNotFound()) {
        VALISE_RETURN_IF_ERROR(dir_->CreateDirs(kOneHostStaging));
        // The directory's Lock already names DEST (or the lock file's path).
        VALISE_RETURN_IF_ERROR(lock_dir_->Lock(kOneHostLock));
        s = dir_->Stat(kHostsDir, &fi);
        if (s.IsNotFound()) return Status::OK();
        // A host's run made it meanwhile: let the one-host lock go.
        VALISE_RETURN_IF_ERROR(fs_->OpenDirectory(where_, false, &lock_dir_));
      }
      VALISE_RETURN_IF_ERROR(s);
      host_ = MachineHostName();
    }
    if (!IsHostName(host_)) {
      return Status::InvalidArgument(
          "--host", "'" + host_ + "' cannot name a directory of " + where_ +
                        "/" + kHostsDir);
    }
    state_dir_ = std::string(kHostsDir) + "/" + host_;
    staging_dir_ = state_dir_ + "/staging";
    journal_path_ = state_dir_ + "/journal";
    VALISE_RETURN_IF_ERROR(dir_->CreateDirs(staging_dir_));
    VALISE_RETURN_IF_ERROR(lock_dir_->Lock(state_dir_ + "/lock"));
    VALISE_RETURN_IF_ERROR(LeaveOneHostLayout(info));
    RemoveStale(info);
    others_ = std::make_unique<OtherHostJournals>(dir_.get(), host_);
    info->verbose_notes.push_back("shared DEST: host " + host_ +
                                  "'s journal, lock and staging under " +
                                  where_ + "/" + state_dir_);
    return Status::OK();
  }

  // A shared run never goes beside a one-host run: if DEST has the
  // one-host lock, it is taken for a moment (tried for half a second: another
  // host may hold it for the same moment), and under it the one-host
  // layout's kept partials move to this host's staging (one already there
  // is newer and wins) and its temporaries go.
  Status LeaveOneHostLayout(DestInfo* info) {
    FileInfo fi;
    Status s = dir_->Stat(kOneHostLock, &fi);
    if (s.IsNotFound()) return Status::OK();
    VALISE_RETURN_IF_ERROR(s);
    std::unique_ptr<Directory> d;
    VALISE_RETURN_IF_ERROR(fs_->OpenDirectory(where_, false, &d));
    for (int i = 0; i < 10; ++i) {
      s = d->Lock(kOneHostLock);
      if (!s.IsBusy()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (s.IsBusy()) {
      return Status::Busy(where_ + "/" + kOneHostLock,
                          "held by a one-host run: hosts cannot ingest "
                          "beside it (run again once it ended)");
    }
    VALISE_RETURN_IF_ERROR(s);
    std::vector<DirEntry> entries;
    if (!dir_->List(kOneHostStaging, &entries).ok()) return Status::OK();
    size_t moved = 0;
    for (const DirEntry& e : entries) {
      const std::string from = std::string(kOneHostStaging) + "/" + e.name;
      if (IsPartialName(e.name)) {
        Status r = dir_->Rename(from, TempName(e.name), true);
        if (r.err() == EINVAL && dir_->Link(from, TempName(e.name)).ok()) {
          r = Status::OK();
        }
        if (r.ok()) ++moved;
        if (r.ok() || r.err() == EEXIST) {
          dir_->Remove(from).PermitUncheckedError();
        }
      } else if (IsStagingName(e.name)) {
        dir_->Remove(from).PermitUncheckedError();
      }
    }
    if (moved > 0) {
      info->verbose_notes.push_back(
          "shared DEST: " + std::to_string(moved) +
          " kept partial(s) of the one-host layout moved to " + staging_dir_);
    }
    return Status::OK();
  }

  // Another host's staged files untouched (ctime) for stale_age_s or more
  // are a dead host's: a live run writes, finishes and names each file it
  // stages well within that. Best effort: one that cannot be removed now
  // is tried by the next run.
  void RemoveStale(DestInfo* info) {
    std::vector<DirEntry> hosts;
    if (!dir_->List(kHostsDir, &hosts).ok()) return;
    const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    size_t removed = 0, young = 0;
    for (const DirEntry& h : hosts) {
      if (h.name == host_ || !IsHostName(h.name)) continue;
      const std::string dir =
          std::string(kHostsDir) + "/" + h.name + "/staging";
      std::vector<DirEntry> files;
      if (!dir_->List(dir, &files).ok()) continue;
      for (const DirEntry& f : files) {
        if (!IsStagingName(f.name) && !IsPartialName(f.name)) continue;
        FileInfo fi;
        if (!dir_->Stat(dir + "/" + f.name, &fi).ok()) continue;
        const int64_t age_s = (now - fi.ctime_ns) / 1'000'000'000;
        if (age_s >= 0 && static_cast<uint64_t>(age_s) >= opt_.stale_age_s) {
          if (dir_->Remove(dir + "/" + f.name).ok()) ++removed;
        } else {
          ++young;
        }
      }
    }
    const std::string age = std::to_string(opt_.stale_age_s) + " s";
    if (removed > 0) {
      info->notes.push_back("shared DEST: removed " + std::to_string(removed) +
                            " staged file(s) of other hosts untouched for " +
                            age +
                            " or more (a host that died; "
                            "--stale-upload-age)");
    }
    if (young > 0) {
      info->notes.push_back(
          "shared DEST: left " + std::to_string(young) +
          " staged file(s) of other hosts alone (touched within " + age +
          ", --stale-upload-age: maybe a live run)");
    }
  }

  // Whether another host committed req's file since the plan (*host: who;
  // "" if none): what the other journals say, read again once
  // journal_poll_ms passed, or at once when the final name exists now.
  // A failed read of them is not this file's failure: it is read.
  Status CommittedByOther(const StageRequest& req, std::string* host) {
    host->clear();
    bool poll = false;
    {
      std::lock_guard<std::mutex> l(poll_mu_);
      const auto now = std::chrono::steady_clock::now();
      if (now - last_poll_ >= std::chrono::milliseconds(opt_.journal_poll_ms)) {
        poll = true;
        last_poll_ = now;
      }
    }
    if (!poll) {
      if (others_->CommittedBy(req, host)) return Status::OK();
      FileInfo fi;
      if (dir_->Stat(req.name, &fi).IsNotFound()) return Status::OK();
    }
    others_->Poll().PermitUncheckedError();
    others_->CommittedBy(req, host);
    return Status::OK();
  }

  // Staged file `f` gets its final name, never replacing anything:
  // renameat2(RENAME_NOREPLACE) (Name, in a batch), or where that fails
  // with EINVAL, from then on link then unlink of the staged name
  // (LinkName). Renamed takes what the rename of `f` gave.
  Status Renamed(PosixStagedFile* f, const Status& s) {
    if (s.err() != EINVAL) return Settle(f, s);
    link_names_.store(true);
    return LinkName(f);
  }

  Status LinkName(PosixStagedFile* f) {
    Status s = dir_->Link(f->temp(), f->name());
    if (s.ok()) {
      // A staged name left (the unlink failed) goes with the clean-up.
      dir_->Remove(f->temp()).PermitUncheckedError();
    }
    return Settle(f, s);
  }

  // Shared by hosts: a name taken (EEXIST) by a file of the very bytes
  // this host verified is that file committed by another host (it read
  // the other copy first): named, the staged file dropped. Else `s`.
  Status Settle(PosixStagedFile* f, const Status& s) {
    if (s.ok() || !others_ || s.err() != EEXIST) return s;
    bool same = false;
    if (!SameBytes(dir_.get(), f->name(), f->temp(), &same).ok() || !same) {
      return s;
    }
    dir_->Remove(f->temp()).PermitUncheckedError();
    return Status::OK();
  }

  static std::string NowIso8601Utc() {
    const time_t t = time(nullptr);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[32];
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
  }

  std::string TempName(const std::string& key) const {
    return staging_dir_ + "/" + key;
  }

  bool ProbeReflink() {
    const std::string a = staging_dir_ + "/probe-a";
    const std::string b = staging_dir_ + "/probe-b";
    WriteOptions wo;
    wo.exclusive = false;
    std::unique_ptr<File> fa, fb;
    bool ok = dir_->CreateFile(a, wo, &fa).ok() &&
              fa->WriteAt(0, std::string(4096, 'v').data(), 4096).ok() &&
              dir_->CreateFile(b, wo, &fb).ok() &&
              fb->CloneFrom(*fa, 0, 0, 0).ok();
    fa.reset();
    fb.reset();
    dir_->Remove(a).PermitUncheckedError();
    dir_->Remove(b).PermitUncheckedError();
    return ok;
  }

  // With syncfs: one syncfs seals the files' data and every name, directory
  // and record made before it started. The files' descriptors are closed
  // first: they are renamed by name later, and a group may hold many.
  Status SealBySyncFs(const std::vector<StagedFile*>& files) {
    for (StagedFile* f : files) AsPosix(f)->Close();
    {
      std::lock_guard<std::mutex> l(dirs_mu_);
      sealing_dirs_ = std::move(unsealed_dirs_);
      unsealed_dirs_.clear();
    }
    Status s = dir_->SyncFs();
    std::lock_guard<std::mutex> l(dirs_mu_);
    // A failed syncfs proves nothing about them: names made in them wait
    // for another seal (the core counts none of this seal's).
    if (s.ok())
      durable_dirs_.insert(sealing_dirs_.begin(), sealing_dirs_.end());
    sealing_dirs_.clear();
    return s;
  }

  // Without syncfs: each staged file's data and attributes made durable by
  // fdatasync, several at once, so the file system groups the concurrent
  // flushes. Files under their final name already are not synced.
  void SealEach(const std::vector<StagedFile*>& files,
                std::vector<Status>* each) {
    std::vector<size_t> to_sync;
    for (size_t i = 0; i < files.size(); ++i) {
      if (AsPosix(files[i])->file() != nullptr) to_sync.push_back(i);
    }
    std::atomic<size_t> next{0};
    auto work = [&] {
      for (size_t k; (k = next.fetch_add(1)) < to_sync.size();) {
        const size_t i = to_sync[k];
        (*each)[i] = AsPosix(files[i])->file()->Sync();
      }
    };
    // This thread works too: at most kSealThreads - 1 more.
    std::vector<std::thread> threads;
    for (size_t t = 1; t < std::min(kSealThreads, to_sync.size()); ++t) {
      threads.emplace_back(work);
    }
    work();
    for (std::thread& t : threads) t.join();
  }

  // Creates the directories of `rel` and marks every directory to sync
  // before a name in it counts: each one up to the first whose own name is
  // known durable, and its parent. A directory made by a group whose syncs
  // failed is not known durable, so the next group syncs it again.
  Status EnsureParent(const std::string& rel) {
    std::string parent = ParentOf(rel);
    if (parent.empty()) return Status::OK();
    {
      std::lock_guard<std::mutex> l(dirs_mu_);
      if (durable_dirs_.count(parent)) return Status::OK();
      // Made, and durable with a syncfs to come.
      if (syncfs_ &&
          (unsealed_dirs_.count(parent) || sealing_dirs_.count(parent))) {
        return Status::OK();
      }
    }
    VALISE_RETURN_IF_ERROR(dir_->CreateDirs(parent));
    std::lock_guard<std::mutex> l(dirs_mu_);
    for (std::string p = parent; !p.empty(); p = ParentOf(p)) {
      if (durable_dirs_.count(p)) break;
      unsealed_dirs_.insert(p);
      unsealed_dirs_.insert(ParentOf(p));
    }
    return Status::OK();
  }

  void AddUnsealedDir(const std::string& d) {
    std::lock_guard<std::mutex> l(dirs_mu_);
    unsealed_dirs_.insert(d);
  }

  // Without syncfs: fsyncs every directory a name went into since the last
  // Sync; from then on their own names are known durable (EnsureParent
  // marked each one's parent too).
  Status SyncDirs() {
    std::set<std::string> dirs;
    {
      std::lock_guard<std::mutex> l(dirs_mu_);
      dirs.swap(unsealed_dirs_);
    }
    Status s;
    for (const std::string& d : dirs) {
      s = dir_->SyncDir(d);
      if (!s.ok()) break;
    }
    std::lock_guard<std::mutex> l(dirs_mu_);
    if (!s.ok()) {
      // Not known durable: a later Sync syncs them again.
      unsealed_dirs_.insert(dirs.begin(), dirs.end());
      return s;
    }
    durable_dirs_.insert(dirs.begin(), dirs.end());
    return Status::OK();
  }

  FileSystem* fs_;
  const PosixDestinationOptions opt_;
  const std::string where_;
  std::unique_ptr<StageWriter> writer_;
  std::unique_ptr<Directory> dir_;
  // Holds this run's lock (a handle of its own, so that a lock taken and
  // let go while choosing the layout is released with it).
  std::unique_ptr<Directory> lock_dir_;
  // Shared by hosts: this host's name; "" in the one-host layout. Its
  // state directory, staging directory and journal, relative to DEST.
  std::string host_;
  std::string state_dir_ = kStateDir;
  std::string staging_dir_ = kOneHostStaging;
  std::string journal_path_ = kOneHostJournal;
  // Shared by hosts: the other hosts' journals, read as they grow, and
  // when they were last read (Stage, on the I/O threads).
  std::unique_ptr<OtherHostJournals> others_;
  std::mutex poll_mu_;
  std::chrono::steady_clock::time_point last_poll_;
  // renameat2(RENAME_NOREPLACE) failed with EINVAL once: names are given
  // by link then unlink from then on.
  std::atomic<bool> link_names_{false};
  std::unique_ptr<File> journal_file_;
  std::unique_ptr<JournalWriter> journal_;
  bool syncfs_ = false;
  // Without syncfs: records waiting for their directories to be synced.
  std::vector<JournalRecord> held_;
  // Directories: known durable; named into since the last seal started
  // (or, without syncfs, since the last Sync); being sealed now. Seal runs
  // on a helper thread while Name runs on the commit thread.
  std::mutex dirs_mu_;
  std::unordered_set<std::string> durable_dirs_;
  std::set<std::string> unsealed_dirs_;
  std::set<std::string> sealing_dirs_;
};

}  // namespace

std::unique_ptr<Destination> NewPosixDestination(
    FileSystem* fs, const std::string& path,
    const PosixDestinationOptions& opt) {
  return std::make_unique<PosixDestination>(fs, path, opt);
}

}  // namespace valise
