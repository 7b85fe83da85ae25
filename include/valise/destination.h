// Destination: where ingest lands a dataset. A directory today
// (src/dest/posix_destination.cc), an object store next; the core does not
// know which.
//
// The split, after fio's ioengine_ops: the core (src/pipeline/) holds the
// policy, a destination only the how. The core decides what is read and
// from which copy, when a file's bytes are right (its digests match the
// manifest), when to seal, when to name, when to record, and what is
// reported ok. A destination knows how to stage bytes under a temporary
// name, how to make them durable, how to give them a final name without
// replacing anything, how to record that durably, and how to clean up.
//
// A file's way through a destination:
//
//   Stage ──► bytes written (StageWriter) ──► Finish ──► Seal ──► Name ──►
//   Record ──► durable (Sync, or the next Seal) ──► reported ok by the core
//
// and Discard instead, at any point before Name, for a file that failed.
// A duplicate (a content already committed under another name) enters as
// Duplicate and goes on from Seal; a file already under its final name and
// checked by the core enters as Adopt and goes on from Name.
//
// The guarantees the core builds on:
//  - Nothing is under a final name that is not whole and right: Name is
//    called only for sealed files whose digests matched, and never replaces
//    what is there (a name taken is an error with err() == EEXIST).
//  - A record is durable only after the name it describes is (the core
//    records only named files; a destination makes records durable no
//    earlier than the names: Sync, or the next Seal with
//    seal_covers_names).
//  - After a crash, Resume returns only records whose bytes and names
//    became durable first, and CleanUp leaves no temporary behind
//    (temporary files, or for an object store, multipart uploads).
//
// Several hosts may ingest into one destination at once (issue 17; an
// object store does): the interface never assumes one journal (Resume
// returns every host's records) or one writer of the final names (a name
// taken is EEXIST, never an overwrite, whoever took it), and Stage may
// find a file committed by another host since the plan
// (CommittedElsewhere).
//
// Thread safety (each method says which thread calls it):
//  - the ingest thread: Open, Resume, Stat, Adopt, CleanUp, Close, and
//    between passes Duplicate, Seal, Name, Record, Sync and Discard;
//  - the read loop's I/O thread: Stage, CloneSource, CloneChunk, LeaveHole,
//    and the StageWriter;
//  - the thread that finishes a read (a hashing thread or the I/O thread):
//    Finish, for one file at a time;
//  - during a pass, the commit thread: Seal, Name, Record, Sync, Duplicate
//    and Discard, one at a time, except that with seal_covers_names Seal
//    runs on a helper thread while Name and Record run on the commit
//    thread (never two Seals at once).
// Calls on different files from those threads may run concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "valise/digest.h"
#include "valise/file_system.h"
#include "valise/journal.h"
#include "valise/status.h"

namespace valise {

class BufferPool;
class ChunkIndexV2;
class IoEngine;
struct RunReport;
struct Transfer;

// What a destination can do, known once it is open.
struct DestInfo {
  // Duplicate(kClone) works: a copy that shares the committed file's bytes
  // (reflink; for an object store, a server-side copy). Default: false.
  bool clone = false;
  // What the report calls a clone: "reflink of PATH" for a file system,
  // "server-side copy of PATH" for an object store. Default: "reflink".
  std::string clone_word = "reflink";
  // Duplicate(kHardlink) works. Default: false.
  bool hardlink = false;
  // Dedup by chunk (issue 15): CloneChunk works (FICLONERANGE), and a
  // chunk left unwritten (LeaveHole) reads as zeros in the file Finish
  // gives. Default: false, false.
  bool clone_range = false;
  bool holes = false;
  // A Seal also makes durable every name and record made before it
  // started (one syncfs does it all). The core then names and records one
  // group while the next is being sealed, and counts a name as durable
  // only once a Seal that started after it has returned. When false, the
  // names and records made so far are durable once Sync() returns.
  // Default: false.
  bool seal_covers_names = false;
  // Stage may run on a thread of its own, a few files ahead of the I/O
  // thread (pipeline/file_opener.h): it is safe on any thread and costs
  // system calls worth taking off the I/O thread (posix: it makes a file),
  // and holds nothing scarce (a store's memory for whole-object PUTs). A
  // file staged ahead and never read (the run stopped) goes to the core
  // like any file left unread. Default: false (Stage on the I/O thread).
  bool stage_ahead = false;
  // Lines for the report: what was found (notes), and how files are made
  // durable (verbose_notes: in the summary only with --verbose).
  std::vector<std::string> notes;
  std::vector<std::string> verbose_notes;
};

// What the core asks to stage: one file, on its way to one final name.
struct StageRequest {
  // Its final name, relative to DEST ("data/a/b" under a BagIt prefix).
  std::string name;
  // Unique among this run's staged files: "e<entry>-p<pass>" for a file
  // read, "d<entry>" for a duplicate. The destination names its temporary
  // after it, so no two staged files collide, and may rely on this form to
  // tell its temporaries from anything else (clean-up removes only those).
  std::string key;
  uint64_t size = 0;            // bytes the file has (the manifest's)
  uint32_t mode = 0644;         // permission bits the named file gets
  int64_t mtime_ns = 0;         // modification time the named file gets
  std::vector<Digest> digests;  // the manifest's, for a store's metadata
  // Hint: write bypassing the page cache (O_DIRECT) where the destination
  // can. Default: false.
  bool direct = false;
  // Resume by chunk (issue 15; only where KeepsPartials). `resumable`:
  // the key is "r<entry>", the same in every run, and a file cut short
  // (the run stopped) is kept by Keep for a later run. `resume_from` > 0:
  // the kept file's bytes before this offset were checked against the
  // signed chunk digests (by the core reading them back, or as DEST took
  // them: CheckedPrefix) and are kept; the writer is given only the chunks
  // from there. Default: false, 0.
  bool resumable = false;
  uint64_t resume_from = 0;
  // Repair by chunk (issue 15; with `resumable`, where RepairsByChunk):
  // the file this run staged under the key in an earlier pass, and kept,
  // is reopened as it is: the core checked some of its chunks and gives
  // the writer only the others, at their offsets. Default: false.
  bool repair = false;
  // Signed chunk digests (issue 15): when the core decides by them (the
  // manifest's signature checked, ChunkVerdict), the chunk index and the
  // file's entry in it. Every chunk the writer is given is compared with
  // its digest by the core as it is read, and the file is committed only
  // if all matched; a store may sign a request that carries exactly one
  // chunk with that chunk's digest (it then refuses any other bytes)
  // instead of hashing the bytes again. Default: none.
  const ChunkIndexV2* signed_chunks = nullptr;
  size_t entry = 0;
};

// One file on its way to a final name: made by Stage, Duplicate or Adopt,
// owned by the core, and handed back to the destination that made it in
// every later call. Each destination defines its own.
class StagedFile {
 public:
  StagedFile() = default;
  StagedFile(const StagedFile&) = delete;
  StagedFile& operator=(const StagedFile&) = delete;
  virtual ~StagedFile() = default;

  // The final name it is staged for.
  virtual const std::string& name() const = 0;
  // What the destination saw of the file as it named it (the lstat of its
  // final name right after the rename), if it looked: the caller need not
  // Stat it again. Default: false, nothing seen.
  virtual bool named_info(FileInfo* info) const {
    (void)info;
    return false;
  }
};

// One chunk of a staged file, as the read loop hands it to a StageWriter.
struct StageChunk {
  StagedFile* file = nullptr;
  uint64_t offset = 0;    // in the file; a multiple of the chunk size
  uint32_t len = 0;       // bytes of the file in it (the tail may be short)
  int buf = -1;           // the pool buffer that holds the bytes
  bool last = false;      // the file's last chunk
  void* owner = nullptr;  // the read loop's; handed back untouched
};

// What a read loop lends its StageWriter (Attach). Everything here is the
// loop's and must be used on its I/O thread only.
struct StageIo {
  IoEngine* engine = nullptr;  // the loop's engine, shared with its reads
  int drive = 0;               // the engine "drive" reserved for writes
  BufferPool* pool = nullptr;  // the buffers chunks arrive in
  bool fixed_buffers = false;  // the pool is registered with the queue
  // A chunk is staged (status OK) or will never be (why not). Exactly once
  // per chunk given to Write; the loop counts it and drops the chunk's
  // hold on its file. Call on the I/O thread, from Write, Issue, Poll or
  // OnComplete.
  std::function<void(const StageChunk&, const Status&)> written;
  // The destination no longer needs chunk buffer `buf` (its bytes sent).
  // Exactly once per chunk given to Write, before or after `written`: a
  // store may report a chunk staged once its request is accepted and keep
  // its buffer until the request finishes. Same threads as `written`.
  std::function<void(int buf)> release;
  // Any thread: makes the loop call Poll soon (an answer arrived
  // elsewhere). Wakes a loop that waits on its engine.
  std::function<void()> wake;
};

// The write side of staging, driven by a read loop: each chunk read for a
// staged file is handed over from the buffer the read filled, in the order
// the reads complete (not necessarily the file's order), while the hashing
// threads read the same buffer. The bytes a destination sends are the
// bytes the core verifies: nothing writes to a buffer until every user has
// released it. Like fio's ioengine_ops: queue (Write), commit (Issue),
// event (OnComplete), getevents (Poll).
//
// Thread safety: every method on the loop's I/O thread.
class StageWriter {
 public:
  StageWriter() = default;
  StageWriter(const StageWriter&) = delete;
  StageWriter& operator=(const StageWriter&) = delete;
  virtual ~StageWriter() = default;

  // Called once, before anything else. `io` must remain live until the
  // loop ends.
  virtual void Attach(const StageIo& io) = 0;
  // Buffers this writer may keep at once beyond the loop's reads (queued,
  // held until a request is whole, in flight), for `num_drives` drives
  // read at once in chunks of `chunk_size`: the loop's pool grows by this
  // many, so reads never wait for the writer's hold.
  virtual size_t buffers(size_t num_drives, size_t chunk_size) const = 0;
  // True if Write may be called now (room for one more chunk).
  virtual bool HasRoom() const = 0;
  // Takes one chunk of `c.file` (made by the destination's Stage). The
  // writer sends it now or later (holding several of a file's chunks to
  // send them as one request, if it must), then calls io.written and
  // io.release for it. REQUIRES: HasRoom().
  virtual void Write(const StageChunk& c) = 0;
  // The chunk of `file` at `offset` will never be given to Write (its read
  // failed, or the run stopped): a writer that holds chunks to make a whole
  // request must not wait for it.
  virtual void Skip(StagedFile* file, uint64_t offset) = 0;
  // Sends what is queued while there is room; true if it sent anything.
  virtual bool Issue() = 0;
  // A transfer this writer submitted on io.drive came back (done, failed,
  // timed out, or late after a timeout).
  virtual void OnComplete(Transfer* t) = 0;
  // Hands over answers that arrived on other threads (calls io.written and
  // io.release for them). Default: none.
  virtual void Poll() {}
  // True while the writer holds chunks it has not sent, or waits for
  // answers outside the loop's engine: the loop does not end before.
  virtual bool Busy() const = 0;
};

// What Destination::Stage returns for a file that another writer (another
// host ingesting into the same DEST at once) has committed under its final
// name since this run's plan, as that writer's journal says: the core does
// not read it, and counts it committed (issue 17). `who` names the writer
// ("host h2").
inline Status CommittedElsewhere(const std::string& where,
                                 const std::string& who) {
  return Status::NotFound(where,
                          "committed by " + who + " while this run went on")
      .WithHttp(0, "valise-committed-elsewhere", "");
}
inline bool IsCommittedElsewhere(const Status& s) {
  return !s.ok() && s.service_code() == "valise-committed-elsewhere";
}

// How a duplicate shares the committed file's bytes.
enum class DuplicateKind : uint8_t {
  kClone,     // a separate file sharing the bytes (reflink, server copy)
  kHardlink,  // one file, another name (mode and mtime shared)
};

class Destination {
 public:
  Destination() = default;
  Destination(const Destination&) = delete;
  Destination& operator=(const Destination&) = delete;
  virtual ~Destination() = default;

  // What DEST is, for messages and the report ("/mnt/dest").
  virtual const std::string& where() const = 0;

  // Opens DEST (creating it if absent) for this run: takes its lock (Busy,
  // naming the lock, if another run holds it), makes its working area,
  // removes temporaries an earlier run left (CleanUp), and finds what it
  // can do. On failure *info is unspecified and nothing else may be called
  // but the destructor. Ingest thread.
  virtual Status Open(DestInfo* info) = 0;

  // What earlier runs committed: every journal's commit records (torn tails
  // dropped; a note in *notes says so), in the order written. A record is
  // a claim, not proof: the core trusts one only while Stat finds the
  // file it names with the size, mtime, inode and ctime it records (the
  // core records what Stat says right after Name); else it reads it back. Then
  // writes this run's begin record (`begin_note`), durably. On failure *records
  // is unspecified. REQUIRES: Open succeeded. Ingest thread.
  virtual Status Resume(const std::string& begin_note,
                        std::vector<JournalRecord>* records,
                        std::vector<std::string>* notes) = 0;

  // What is under final name `name` now (never following a symlink):
  // NotFound if nothing. Its mtime, inode and ctime (FileInfo) identify
  // the file: the core records them once a file is named, and a rerun
  // trusts a record only while they are unchanged. Ingest thread, and the
  // commit thread (after Name).
  virtual Status Stat(const std::string& name, FileInfo* info) = 0;
  // Stat of each of `names`, as Stat would give them; a destination may
  // answer a batch at a lower cost (a directory opened once for all its
  // names). Default: Stat, name by name.
  virtual void StatMany(const std::vector<std::string>& names,
                        std::vector<Status>* status,
                        std::vector<FileInfo>* info) {
    status->assign(names.size(), Status::OK());
    info->assign(names.size(), FileInfo());
    for (size_t i = 0; i < names.size(); ++i) {
      (*status)[i] = Stat(names[i], &(*info)[i]);
    }
  }

  // A path the run's FileSystem opens to read the file under final name
  // `name` back (to check a file found there that no record holds).
  virtual std::string ReadPath(const std::string& name) const = 0;

  // The writer the read loop stages bytes through; owned by the
  // destination, live while it is.
  virtual StageWriter* writer() = 0;

  // Begins staging `req`: *out is the file the writer takes chunks for.
  // Must not block on a network (it runs on the I/O thread): a store
  // starts its request and goes on. On failure *out is reset and nothing
  // is left behind. I/O thread; with DestInfo::stage_ahead, the thread
  // that opens files ahead of it.
  virtual Status Stage(const StageRequest& req,
                       std::unique_ptr<StagedFile>* out) = 0;

  // Every chunk of `file` was staged: gives it its final size and its
  // mode and mtime (posix: cuts the O_DIRECT tail). Runs on the thread that
  // finished the read, off the commit thread. A failure is the file's: the
  // core discards it.
  virtual Status Finish(StagedFile* file) = 0;

  // Makes the staged bytes of `files` durable (posix: one syncfs, or an
  // fdatasync of each; a store: nothing, a finished upload is durable).
  // (*each)[i] is files[i]'s outcome; the returned Status is one that
  // concerns them all (with seal_covers_names: the files' data, and every
  // name and record made before this call, may not be durable; the core
  // then counts none of them). `files` may be empty (with
  // seal_covers_names: seals only earlier names and records).
  virtual Status Seal(const std::vector<StagedFile*>& files,
                      std::vector<Status>* each) = 0;

  // Gives each sealed file its final name, atomically and never replacing
  // anything (a name taken: err() == EEXIST; a name the destination
  // refuses: an error naming it). (*each)[i] is files[i]'s outcome; a file
  // not named is discarded by the destination (nothing left behind). A
  // file made by Adopt, or by Duplicate(kHardlink), is under its name
  // already: naming it only makes sure its name becomes durable with the
  // others. The names are durable after Sync, or with seal_covers_names
  // after the next Seal to start.
  virtual void Name(const std::vector<StagedFile*>& files,
                    std::vector<Status>* each) = 0;

  // Appends the commit records of named files to this run's journal (posix:
  // DEST/.valise/journal; a store: one journal object per group, named by
  // host). Durable, like the names, after Sync or the next Seal.
  // REQUIRES: Resume succeeded (so did every call below that records).
  virtual Status Record(const std::vector<JournalRecord>& records) = 0;

  // Makes every name and record made so far durable (posix without
  // syncfs: an fsync of the directories named into, then of the journal;
  // a store: nothing left to do). On failure none of them may be counted
  // durable; records not yet durable are dropped, never written later
  // without their names.
  virtual Status Sync() = 0;

  // A new staged file under req.name holding the bytes of the file
  // committed under `from`: kClone stages a copy that shares them (sealed
  // and named like any staged file), kHardlink gives req.name to the same
  // file at once (named already). On failure nothing is left behind.
  virtual Status Duplicate(const std::string& from, const StageRequest& req,
                           DuplicateKind kind,
                           std::unique_ptr<StagedFile>* out) = 0;

  // A file the core found under its final name and checked: *out goes on
  // to Name (which makes sure its name is durable) and Record.
  virtual void Adopt(const std::string& name,
                     std::unique_ptr<StagedFile>* out) = 0;

  // Drops a staged file that will not be named: its temporary is removed
  // (an upload aborted). A file made by Adopt or a hard link is left where
  // it is.
  virtual void Discard(std::unique_ptr<StagedFile> file) = 0;

  // Adds to the run's report what only the destination knows (an object
  // store: how its parts were signed, bytes copied server-side by chunk).
  // Ingest thread, once the passes are done. Default: nothing.
  virtual void Tally(RunReport* report) const { (void)report; }

  // Dedup by chunk into an object store (issue 15): the file under final
  // name `name`, committed by an earlier run and trusted from its journal
  // with the manifest's SHA-256, is entry `entry` of the signed chunk index
  // `index` (so its chunks are the signed ones): the destination may copy
  // its chunks into other files server-side. Files this run commits it
  // knows from their StageRequest. Ingest thread, before the passes.
  // Default: nothing.
  virtual void ChunkSource(const std::string& name, const ChunkIndexV2* index,
                           size_t entry) {
    (void)name, (void)index, (void)entry;
  }

  // Dedup by chunk (issue 15), where DestInfo says so; called on the read
  // loop's I/O thread, like Stage. The core decides (by the signed chunk
  // digests) which chunk goes where; these only say how.
  //
  // A handle to staged `file` that CloneChunk may take chunks from for as
  // long as it is held, whatever becomes of the staged file (named,
  // discarded: its bytes stay). Null if none.
  virtual std::shared_ptr<File> CloneSource(StagedFile* file) {
    (void)file;
    return nullptr;
  }
  // Bytes [offset, +len) of staged `file` become `from`'s bytes
  // [from_offset, +len), shared (FICLONERANGE), instead of being written.
  // Offsets and len are multiples of 4096. On failure nothing changed and
  // the core writes the chunk.
  virtual Status CloneChunk(StagedFile* file, uint64_t offset, const File& from,
                            uint64_t from_offset, uint32_t len) {
    (void)file, (void)offset, (void)from, (void)from_offset, (void)len;
    return Status::NotSupported("clone chunk", "not supported");
  }
  // Bytes [offset, +len) of staged `file` are zeros and are not written:
  // they read as zeros (a hole) once Finish gives the file its size.
  virtual void LeaveHole(StagedFile* file, uint64_t offset, uint32_t len) {
    (void)file, (void)offset, (void)len;
  }

  // Removes every temporary this destination made, or an earlier run left
  // (best effort: what remains is removed by the next Open), except the
  // kept partials (below).
  virtual void CleanUp() = 0;

  // Resume by chunk (issue 15). Whether a file of `size` bytes, read in
  // chunks of `chunk_size` and staged resumable (StageRequest::resumable),
  // can be kept part way for a later run; where not, the rest of this group
  // does nothing for it. Posix: every file. An object store: a multipart
  // upload whose parts are each exactly one chunk (chunk_size at least the
  // store's smallest part), each sent signed with its chunk's signed
  // SHA-256, so the store itself refused any part whose bytes were not the
  // signed chunk's; not a file sent in one PUT, nor one whose parts hold
  // several chunks (their bytes were never checked against a signed digest
  // by the store). Any thread. Default: none.
  virtual bool KeepsPartials(uint64_t size, uint64_t chunk_size) const {
    (void)size, (void)chunk_size;
    return false;
  }
  // Repair by chunk (issue 15, chunk_repair.cc): a file kept (Keep) after
  // a copy failed is staged again (StageRequest::repair) with only the
  // chunks still missing, at their offsets (only files KeepsPartials
  // keeps). Posix: yes; an object store: yes, its one-chunk parts (a
  // copy's good chunks are the parts the store took). Default: no.
  virtual bool RepairsByChunk() const { return false; }
  // The keys of the partials kept by earlier runs ("r<entry>"). Ingest
  // thread.
  virtual void ListPartials(std::vector<std::string>* keys) { keys->clear(); }
  // What the core may go on from in kept partial `key`, for a file it
  // would stage as `req` (resume_from 0), one of two ways:
  //  - CheckedPrefix: the bytes from its start that the destination holds
  //    as whole chunks of req.signed_chunks' entry req.entry, each checked
  //    against its signed SHA-256 as DEST took it (an object store's parts
  //    signed with their chunk's digest, in an upload made for exactly this
  //    request: same key, size, metadata and chunk digests), at most up to
  //    the start of the last chunk. The core keeps them unread and stages
  //    `req` with resume_from up to them. 0: none (the core then tries the
  //    other way). Ingest thread. Default: 0.
  //  - PartialPath: a path the run's FileSystem opens to read the partial
  //    back; the core checks its chunks against the signed digests itself
  //    (posix). Empty: it cannot be read back. Default: empty.
  virtual uint64_t CheckedPrefix(const std::string& key,
                                 const StageRequest& req) {
    (void)key, (void)req;
    return 0;
  }
  virtual std::string PartialPath(const std::string& key) const {
    (void)key;
    return std::string();
  }
  // Removes kept partial `key` (the core found nothing in it to go on
  // from, or no longer needs it). Ingest thread.
  virtual void DropPartial(const std::string& key) { (void)key; }
  // Like Discard, but a file staged resumable is kept, as far as it got,
  // for a later run (the run stopped while it was being read). Any thread
  // that may call Discard.
  virtual void Keep(std::unique_ptr<StagedFile> file) {
    Discard(std::move(file));
  }

  // Ends a run that went well: writes its end record (`end_note`) and
  // makes it durable. Ingest thread.
  virtual Status Close(const std::string& end_note) = 0;
};

}  // namespace valise
