// The object-store destination: how a verified file becomes an object
// under s3://BUCKET/PREFIX so that a crash at any moment leaves either
// nothing under its final key, or the whole verified file. The core decides
// when each step happens (include/valise/destination.h); this file says how.
//
// Layout of the bucket:
//   PREFIX/<name>                         the files, one object each
//   PREFIX/.valise/journal/HOST/RUN-SEQ   the journal: one object per group
//                                         of records, HOST's own
//   PREFIX/.valise/uploads/HOST/<hash>    HOST's marker of its uploads to
//                                         one key (hash: of the key)
//
// A file becomes an object in one of two ways, and only in Name, which the
// core calls once every byte matched the manifest:
//  - small (<= put_max, while put_memory allows): the read loop's chunks
//    are copied into memory as they are read (Write); Name sends them in
//    one PUT with If-None-Match: *, which the store refuses (412) when the
//    key exists. Nothing is on the store before Name.
//  - large: a multipart upload on the final key, started by the first part
//    to be sent. The writer holds a part's chunks (in the read loop's
//    buffers) until the part is whole, then a digest thread computes its
//    payload SHA-256 from those buffers (the bytes the hashing threads
//    verify) and a send thread sends it, signed (s3_send_queue.cc); the
//    store refuses a part whose bytes differ from it. (A small file's PUT
//    carries a Content-MD5 as well: see PayloadOf.) With the signed chunk
//    digests deciding and a chunk the store takes as a part (>=
//    min_part_size), each part is one chunk, signed with the chunk's
//    signed SHA-256 from the index instead of hashed again (PartPayload):
//    the core hashes that chunk once to check it, the store refuses other
//    bytes. An upload in
//    flight is invisible under its key. Name checks that the key is free (HEAD)
//    and completes it; a key taken aborts it.
// Every object carries metadata: valise-mtime (ns), valise-mode (octal)
// and the manifest's digests (valise-sha256, valise-xxh128, ...).
//
// Never replacing: PUT If-None-Match is atomic on the store. Complete and
// CopyObject ignore If-None-Match on RGW 16, so for them a HEAD comes
// first: a key made by another writer between that HEAD and the Complete
// would be replaced.
//
// Several hosts at once (issue 17), racing for one key because a file's
// copies are on drives at two hosts: a key found taken (412, or the HEAD)
// by an object whose size and valise digests are the file's (SameContent)
// is the file committed by the other host, and counts as named by this
// one (AlreadyThere): no conflict, no replacing. Two hosts whose HEADs both
// found the key free both complete, and the second replaces the first:
// the store offers no primitive to prevent it (RGW 16 ignores
// If-None-Match on Complete), and the outcome is defined: both uploaded
// the bytes of the same manifest entry, each verified against its digests
// before completing, so the object is the file either way. The first
// host's journal record then names an object whose ETag (and valise-mtime,
// if the two copies' mtimes differ) may not be the one it recorded: a
// rerun reads it back and checks it rather than trusting the record.
// To make the race rare, each host reads the others' journal objects
// while it runs (every journal_poll_ms) and Stage refuses a file one of
// them committed since the plan (CommittedElsewhere): it is not read.
//
// Duplicates: a server-side CopyObject from the committed object (keeping
// its metadata, so the copy's valise-mtime is the first file's), or for
// objects over 5 GiB a multipart upload of UploadPartCopy ranges; made in
// Name, after the HEAD, like any file. Dedup by chunk (issue 15, item 5):
// a part of a file being uploaded whose chunks' signed digests are those
// of a run of chunks of an object committed before (by this run, or
// trusted from the journal) is an UploadPartCopy of that range, pinned to
// the source's ETag, instead of being sent (FindCopySource); its bytes are
// still read and checked by the core, and a copy that fails sends them.
//
// Durability: an object is durable once its PUT or Complete answered, so
// Seal and Sync do nothing. Record writes one journal object per group
// after Name returned for the files it names: the journal never names an
// object that is not complete. Resume reads every host's journal objects
// (a torn object cannot exist: PUT is all or nothing).
//
// Leftovers, with several hosts ingesting into one prefix at once: an
// upload in progress may be another host's, live. So Open and CleanUp
// abort only (AbortLeftovers) this host's own uploads that this run does
// not hold open (nor keeps for resume by chunk, below), known by the markers
// this host writes under .valise/uploads/HOST/ before each Create (an earlier
// run of this host, killed; a Create whose answer was lost), and any host's
// uploads initiated longer ago than stale_upload_age_s (--stale-upload-age,
// default 24 h: a host that died leaves its uploads to the next run on any
// host once they are that old). Discard aborts a file's upload; CleanUp
// first aborts the uploads this run still has open.
//
// Resume by chunk (issue 15): a file staged resumable whose parts are each
// one chunk (KeepsPartials: the read chunk size is a valid part, the file
// is not sent in one PUT nor in parts of several chunks) has its upload
// named in its marker once made: "KEY\nresume r<entry> UPLOAD-ID
// IDENTITY\n", IDENTITY the SHA-256 of what the upload is for (its key,
// size, part size, metadata and every signed chunk digest of the entry:
// UploadIdentity). Every part of such an upload is sent signed with its
// chunk's signed SHA-256 (never hashed here: a part whose digest cannot
// be read is not sent), so the store took each part only if its bytes were
// that signed chunk's; or copied server-side (dedup by chunk) from an
// object's chunks of the same signed digests, pinned to the ETag of the
// version that was verified, as good. A run that stops keeps it open (Keep);
// one killed leaves it. The next run of this host keeps it at Open (KeepFound)
// rather than aborting it, unless stale; the core then asks CheckedPrefix for
// the request it would make: only if the identity is the request's (another
// manifest's "r<entry>" has other digests, another drive's copy another
// mtime) are the leading parts 1..n listed (ListParts) that are whole
// chunks, n at most the chunks but the last; a missing part ends them. The
// core reads the drive from chunk n on and Stage goes on in the same
// upload, with those parts' ETags for the Complete. An upload the core does
// not go on from is aborted (DropPartial). Another host's kept upload is
// its own (left alone until stale); multi-chunk parts (a chunk size under
// the store's smallest part, a file of over 10,000 chunks) are never kept:
// the store checked their bytes only against a digest computed here, from
// bytes the core may have found bad after they were sent.
//
// Repair by chunk (issue 15), for the same files: a part whose chunk is
// not the signed one is refused by the store, a chunk that could not be
// read is not sent (Skip), and the file's other parts are still sent (its
// read keeps going); when the core finds the copy bad but some chunks good
// and another copy left, Keep keeps the upload with its parts' ETags, and
// the next pass's Stage (StageRequest::repair) goes on in it, given only
// the chunks still missing, at their part numbers. The parts kept are
// those the store took, so each is a chunk that matched its signed digest.
//
// Not done: a lock (two runs of one host on one prefix are not kept
// apart: the second aborts the first's uploads, or goes on in one it
// kept).
#include "dest/s3_destination.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "dest/commit_record.h"
#include "dest/s3_send_queue.h"
#include "valise/buffer_pool.h"
#include "valise/chunk_index_v2.h"
#include "valise/journal.h"
#include "valise/report.h"

namespace valise {
namespace {

constexpr uint64_t kMaxCopy = uint64_t{5} << 30;  // CopyObject's limit
constexpr uint64_t kMaxParts = 10000;
// CreateMultipartUpload, see EnsureUpload: as many as the client's
// default for the requests it repeats itself (5 left a run with several
// multipart files under the randomized test's fault rates, up to half of
// all requests failing, stopped as DEST trouble about once in 10 runs of
// 200 seeds).
constexpr int kCreateAttempts = 10;

enum class Kind : uint8_t { kPut, kMultipart, kCopy, kAdopted };

class S3Staged final : public StagedFile {
 public:
  S3Staged(Kind kind, const StageRequest& req, std::string key,
           std::atomic<uint64_t>* reserved_total)
      : kind(kind), req(req), key(std::move(key)), reserved_(reserved_total) {}
  ~S3Staged() override {
    if (reserved > 0) reserved_->fetch_sub(reserved);
  }
  const std::string& name() const override { return req.name; }

  const Kind kind;
  const StageRequest req;
  const std::string key;
  std::string from_key;  // kCopy: the committed object's key
  // kPut: the bytes, filled by Write; `reserved` of put_memory held.
  std::string bytes;
  uint64_t reserved = 0;
  // kMultipart, I/O thread only: the part size and the chunks held per
  // part until it is whole.
  uint64_t part_size = 0;
  std::map<uint64_t, std::vector<StageChunk>> held;
  std::map<uint64_t, uint64_t> held_bytes;
  Status io_error;  // a chunk skipped: the file cannot be whole (I/O thread)
  // kMultipart, shared with the send threads: the upload and its parts' ETags.
  std::mutex mu;
  std::string upload_id;
  bool create_retried = false;     // an earlier Create may have made one
  std::vector<std::string> etags;  // by part index
  Status error;                    // the first part or upload failure
  // req.signed_chunks: a window of the file's signed chunk digests,
  // [signed_first, +signed_window.size()), read as parts need them
  // (digest threads, under mu).
  uint64_t signed_first = 0;
  std::vector<ChunkSha256> signed_window;
  // A part signed with its chunk's digest that the store refused: these
  // bytes are not the signed chunk's (see S3Writer::Upload).
  Status refused;
  // Bytes of its parts copied server-side from chunks of committed objects
  // (under mu).
  uint64_t copied_bytes = 0;
  // Resume by chunk: staged resumable with parts of one chunk each, signed
  // by the chunk's digest (set by Stage); and, under mu, whether its marker
  // names its upload for a later run to go on from (EnsureUpload, or an
  // upload Stage resumed). A part of a marked upload is only ever sent
  // signed with its chunk's signed SHA-256 (S3Writer::Upload).
  bool resumable = false;
  bool resume_marked = false;

  uint64_t parts() const {
    return std::max<uint64_t>(1, (req.size + part_size - 1) / part_size);
  }
  uint64_t PartLen(uint64_t part) const {
    return std::min(part_size, req.size - part * part_size);
  }

 private:
  std::atomic<uint64_t>* reserved_;
};

S3Staged* Of(StagedFile* f) { return static_cast<S3Staged*>(f); }

// The store failing, as the core must see it: DEST trouble (an IOError)
// stops the run, where another error would fail only the file and have
// it read again from the next copy. A client that can send nothing more
// (Aborted) is the store failing.
Status AsTrouble(const Status& s) {
  if (s.IsAborted()) return Status::IOError(s.message());
  return s;
}

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') {
    return "localhost";
  }
  std::string h(buf);
  for (char& c : h) {
    if (c == '/') c = '_';
  }
  return h;
}

// The 64-bit FNV-1a of `s`: an object's "inode" is its ETag's, so a key
// whose object was replaced (another ETag) is not trusted on a rerun.
uint64_t Fnv(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h | 1;
}

// A key's FileInfo as Stat gives it, from its size, metadata and ETag.
FileInfo InfoOf(uint64_t size, const S3Metadata& meta,
                const std::string& etag) {
  FileInfo info;
  info.type = FileType::kRegular;
  info.size = size;
  auto m = meta.find("valise-mtime");
  if (m != meta.end()) info.mtime_ns = strtoll(m->second.c_str(), nullptr, 10);
  auto mode = meta.find("valise-mode");
  info.mode =
      mode != meta.end()
          ? static_cast<uint32_t>(strtoul(mode->second.c_str(), nullptr, 8))
          : 0644;
  info.inode = Fnv(etag);
  info.nlink = 1;
  return info;
}

S3Metadata MetadataFor(const StageRequest& req) {
  S3Metadata m;
  m["valise-mtime"] = std::to_string(req.mtime_ns);
  char mode[16];
  snprintf(mode, sizeof(mode), "%o", req.mode & 07777);
  m["valise-mode"] = mode;
  for (const Digest& d : req.digests) {
    m["valise-" + std::string(DigestName(d.type))] = d.Hex();
  }
  return m;
}

// Threads computing parts' digests: as asked, else one per core (what
// hashing can use), at most one per request slot.
unsigned DigestThreads(const S3DestinationOptions& opt) {
  unsigned n = opt.digest_threads;
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  return std::min(n, std::max(1u, opt.threads));
}

// The digests a request carries for the store to check: the signed
// payload SHA-256 always; Content-MD5 too for a single PUT, whose ETag
// (its MD5) is how PutObject knows its own object after a lost answer.
// A part carries the SHA-256 only: the MD5 pass cost as much CPU as the
// SHA-256 and the manifest's digests together (731 against 1,535 MB/s a
// core here), on the cores the store shares on a small host.
enum class WithMd5 { kNo, kYes };
S3Payload PayloadOf(std::vector<S3Buffer> pieces, WithMd5 with_md5) {
  std::unique_ptr<Hasher> md5;
  if (with_md5 == WithMd5::kYes) md5 = Hasher::New(DigestType::kMd5);
  auto sha = Hasher::New(DigestType::kSha256);
  for (const S3Buffer& b : pieces) {
    if (md5) md5->Update(b.data, b.size);
    sha->Update(b.data, b.size);
  }
  S3Payload p;
  p.pieces = std::move(pieces);
  if (md5) p.md5 = md5->Finish();
  p.sha256 = sha->Finish();
  return p;
}

// A part's payload signed with a digest known already: the signed SHA-256
// of the one chunk it carries. The store recomputes the SHA-256 of the
// body and refuses other bytes (XAmzContentSHA256Mismatch).
S3Payload PayloadSignedBy(std::vector<S3Buffer> pieces, const ChunkSha256& d) {
  S3Payload p;
  p.pieces = std::move(pieces);
  p.sha256.type = DigestType::kSha256;
  p.sha256.size = static_cast<uint8_t>(d.size());
  memcpy(p.sha256.bytes.data(), d.data(), d.size());
  return p;
}

// Where a part is copied from (S3Destination::FindCopySource): bytes at
// `offset` of the committed object `key`, as long as its ETag is `etag`.
struct CopyFrom {
  size_t source = 0;  // S3Destination::sources_
  std::string key;
  std::string etag;
  uint64_t offset = 0;
};

// The store's answer to a body whose bytes are not its signed SHA-256.
bool DigestRefused(const Status& s) {
  return s.service_code() == "XAmzContentSHA256Mismatch";
}

class S3Destination;

// The writer: chunks into memory (small files) or into parts sent by the
// send queue (large files); answers handed back to the read loop in Poll.
class S3Writer final : public StageWriter {
 public:
  S3Writer(S3Destination* dest, S3SendQueue* queue, unsigned threads,
           unsigned digest_threads)
      : dest_(dest),
        queue_(queue),
        threads_(threads),
        digest_threads_(digest_threads) {}

  void Attach(const StageIo& io) override { io_ = io; }
  size_t buffers(size_t num_drives, size_t chunk_size) const override;
  bool HasRoom() const override { return true; }
  void Write(const StageChunk& c) override;
  void Skip(StagedFile* file, uint64_t offset) override;
  bool Issue() override { return false; }
  void OnComplete(Transfer*) override {}
  void Poll() override;
  bool Busy() const override { return held_ > 0 || outstanding_ > 0; }

 private:
  struct Done {
    std::vector<StageChunk> chunks;
    Status status;
  };
  void Answer(const StageChunk& c, const Status& s) {
    io_.written(c, s);
    io_.release(c.buf);
  }
  void SendPart(S3Staged* f, uint64_t part, std::vector<StageChunk> chunks);
  void Upload(S3Staged* f, uint64_t part, const std::vector<StageChunk>& chunks,
              S3Payload payload, bool by_chunk);
  void CopyOrUpload(S3Staged* f, uint64_t part,
                    const std::vector<StageChunk>& chunks, BufferPool* pool,
                    const CopyFrom& from);
  bool CopyPart(S3Staged* f, uint64_t part, const CopyFrom& from);
  void Answered(const std::vector<StageChunk>& chunks, const Status& s);

  S3Destination* dest_;
  S3SendQueue* queue_;
  const unsigned threads_;
  const unsigned digest_threads_;
  StageIo io_;
  size_t held_ = 0;         // chunks held in parts not yet whole
  size_t outstanding_ = 0;  // parts sent whose answers Poll has not seen
  std::mutex mu_;
  std::vector<Done> done_;
};

class S3Destination final : public Destination {
 public:
  S3Destination(S3Client* client, const S3Url& url,
                const S3DestinationOptions& opt)
      : client_(client),
        url_(url),
        opt_(opt),
        where_(url.ToString()),
        host_(opt.host.empty() ? HostName() : opt.host),
        writer_(this, &queue_, std::max(1u, opt.threads), DigestThreads(opt)),
        queue_(DigestThreads(opt), std::max(1u, opt.threads)) {}

  const std::string& where() const override { return where_; }
  S3Client* client() const { return client_; }
  const std::string& bucket() const { return url_.bucket; }
  uint64_t part_size() const { return opt_.part_size; }

  Status Open(DestInfo* info) override {
    Status s = client_->HeadBucket(url_.bucket);
    if (s.IsNotFound()) {
      return Status::NotFound(where_, "no such bucket (make it first)");
    }
    VALISE_RETURN_IF_ERROR(s);
    Leftovers left;
    VALISE_RETURN_IF_ERROR(AbortLeftovers(&left));
    info->clone = true;
    info->clone_word = "server-side copy";
    info->hardlink = false;
    info->seal_covers_names = false;
    info->verbose_notes.push_back(
        "s3: files of up to " + std::to_string(opt_.put_max) +
        " bytes in one PUT (If-None-Match), larger ones in multipart uploads "
        "of " +
        std::to_string(opt_.part_size) +
        "-byte parts completed once verified; duplicates as server-side "
        "copies; " +
        std::to_string(opt_.threads) + " requests in flight");
    NoteLeftovers(left, &info->notes);
    return Status::OK();
  }

  Status Resume(const std::string& begin_note,
                std::vector<JournalRecord>* records,
                std::vector<std::string>* notes) override {
    records->clear();
    S3ListObjectsRequest req;
    req.prefix = url_.Key(".valise/journal/");
    S3ListObjectsResult page;
    do {
      VALISE_RETURN_IF_ERROR(client_->ListObjectsV2(url_.bucket, req, &page));
      for (const S3ObjectSummary& o : page.objects) {
        VALISE_RETURN_IF_ERROR(ReadJournal(o, records, notes));
        SeenJournal(o.key);
      }
      req.continuation_token = page.next_continuation_token;
    } while (page.truncated);
    if (opt_.journal_poll_ms > 0) {
      poller_ = std::thread([this] { PollOthers(); });
    }
    run_ =
        std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count());
    run_.insert(0, 20 - std::min<size_t>(20, run_.size()), '0');
    JournalRecord begin;
    begin.type = JournalRecord::Type::kBegin;
    begin.note = begin_note;
    return Record({begin});
  }

  Status Stat(const std::string& name, FileInfo* info) override {
    const std::string key = url_.Key(name);
    if (!MayExist(key)) return Status::PosixError(ObjectUrl(name), ENOENT);
    if (Named(key, info)) return Status::OK();
    S3ObjectInfo o;
    Status s = client_->HeadObject(url_.bucket, key, &o);
    if (s.IsNotFound()) return Status::PosixError(ObjectUrl(name), ENOENT);
    VALISE_RETURN_IF_ERROR(s);
    *info = InfoOf(o.size, o.metadata, o.etag);
    std::lock_guard<std::mutex> l(listing_mu_);
    etags_[key] = o.etag;  // ChunkSource's, if the core trusts it
    return Status::OK();
  }

  std::string ReadPath(const std::string& name) const override {
    return ObjectUrl(name);
  }

  // Whether `key` may exist, so Stat must ask the store: a key in the
  // listing of PREFIX/ made at the first call (one request per 1,000
  // keys), or one this run tried to name since; always when the listing
  // failed. Ingest's plan Stats every manifest path before anything is
  // sent: a HEAD each, one after the other, took 2,000 small files ~2,000
  // round trips (longer than uploading them). A key another writer makes
  // after the listing is not seen here, as a HEAD a moment earlier would
  // not have seen it; naming never replaces it (PUT If-None-Match, HEAD
  // before Complete).
  bool MayExist(const std::string& key) {
    std::lock_guard<std::mutex> l(listing_mu_);
    if (!listing_tried_) {
      listing_tried_ = true;
      S3ListObjectsRequest req;
      req.prefix = url_.Key("");
      S3ListObjectsResult page;
      Status s;
      do {
        s = client_->ListObjectsV2(url_.bucket, req, &page);
        if (!s.ok()) break;
        for (const S3ObjectSummary& o : page.objects) listed_.insert(o.key);
        req.continuation_token = page.next_continuation_token;
      } while (page.truncated);
      listing_ok_ = s.ok();
      if (!listing_ok_) std::set<std::string>().swap(listed_);
    }
    return !listing_ok_ || listed_.count(key) > 0;
  }

  // `key` may exist from now on (see MayExist).
  void MayExistNow(const std::string& key) {
    std::lock_guard<std::mutex> l(listing_mu_);
    if (listing_ok_) listed_.insert(key);
  }

  // What this run's Name made under f's key: the object's size, the
  // metadata it sent and the ETag the store answered, so the commit's Stat
  // (its identity for the journal) needs no HEAD per file: it would
  // return exactly these.
  void RememberNamed(const S3Staged* f, const std::string& etag) {
    if (etag.empty()) return;  // an answer without one: Stat HEADs
    std::lock_guard<std::mutex> l(listing_mu_);
    named_[f->key] = InfoOf(f->req.size, MetadataFor(f->req), etag);
  }
  bool Named(const std::string& key, FileInfo* info) {
    std::lock_guard<std::mutex> l(listing_mu_);
    auto it = named_.find(key);
    if (it == named_.end()) return false;
    *info = it->second;
    return true;
  }

  StageWriter* writer() override { return &writer_; }

  Status Stage(const StageRequest& req,
               std::unique_ptr<StagedFile>* out) override {
    const std::string key = url_.Key(req.name);
    {
      std::lock_guard<std::mutex> l(others_mu_);
      auto it = others_.find(key);
      if (it != others_.end() && SameFileAs(it->second.record, req)) {
        return CommittedElsewhere(ObjectUrl(req.name),
                                  "host " + it->second.host);
      }
    }
    uint64_t total = reserved_.load();
    if (req.size <= opt_.put_max) {
      while (total + req.size <= opt_.put_memory &&
             !reserved_.compare_exchange_weak(total, total + req.size)) {
      }
      if (total + req.size <= opt_.put_memory) {
        auto f = std::make_unique<S3Staged>(Kind::kPut, req, key, &reserved_);
        f->reserved = req.size;
        f->bytes.assign(req.size, '\0');
        *out = std::move(f);
        return Status::OK();
      }
    }
    auto f = std::make_unique<S3Staged>(Kind::kMultipart, req, key, &reserved_);
    f->part_size = PartSize(req.size);
    f->etags.resize(f->parts());
    f->resumable = req.resumable && req.signed_chunks != nullptr &&
                   f->part_size == req.signed_chunks->chunk_size();
    if (req.resumable) {
      Status s = TakeKept(f.get());
      if (!s.ok()) {
        out->reset();
        return s;
      }
    }
    *out = std::move(f);
    return Status::OK();
  }

  // Resume by chunk: f, staged resumable, goes on in the upload kept under
  // its key (CheckedPrefix listed its parts) when the core resumes it;
  // else a kept upload of its key is not needed and is aborted with this
  // run's open uploads (CleanUp). I/O thread: no request.
  Status TakeKept(S3Staged* f) {
    const StageRequest& req = f->req;
    std::lock_guard<std::mutex> l(uploads_mu_);
    auto it = kept_.find(req.key);
    if (req.repair) {
      // Repair by chunk: the upload this run kept (Keep) for the file once
      // its copy failed, with the parts of the chunks that matched; the
      // core gives only the others. A part the core counts good but that
      // is not there (cannot be: its upload succeeded, or the run
      // stopped) leaves Finish failing the file.
      if (it == kept_.end() || it->second.key != f->key || !f->resumable ||
          it->second.etags.size() != f->etags.size()) {
        return Status::InvalidArgument(ObjectUrl(req.name),
                                       "internal: no kept upload to repair");
      }
      f->etags = it->second.etags;
      GoOnIn(f, req.key);
      return Status::OK();
    }
    if (req.resume_from == 0) {
      if (it != kept_.end()) {
        open_uploads_.insert({it->second.key, it->second.upload_id});
        kept_.erase(it);
      }
      return Status::OK();
    }
    if (it == kept_.end() || it->second.key != f->key || !f->resumable ||
        req.resume_from > it->second.prefix ||
        req.resume_from % f->part_size != 0) {
      return Status::InvalidArgument(
          ObjectUrl(req.name),
          "internal: no kept upload to resume from offset " +
              std::to_string(req.resume_from));
    }
    const uint64_t parts = req.resume_from / f->part_size;
    for (uint64_t i = 0; i < parts; ++i) f->etags[i] = it->second.etags[i];
    GoOnIn(f, req.key);
    return Status::OK();
  }

  // f goes on in the upload kept under `partial` (its parts' ETags already
  // in f->etags): the upload is this run's open one from now on, and no
  // longer kept. REQUIRES: uploads_mu_ held; kept_ holds `partial`.
  void GoOnIn(S3Staged* f, const std::string& partial) {
    auto it = kept_.find(partial);
    {
      std::lock_guard<std::mutex> fl(f->mu);
      f->upload_id = it->second.upload_id;
      f->resume_marked = true;
    }
    open_uploads_.insert({f->key, it->second.upload_id});
    kept_.erase(it);
  }

  Status Finish(StagedFile* file) override {
    S3Staged* f = Of(file);
    if (!f->io_error.ok()) return f->io_error;
    if (f->kind != Kind::kMultipart) return Status::OK();
    std::lock_guard<std::mutex> l(f->mu);
    if (!f->error.ok()) return f->error;
    if (!f->refused.ok()) return f->refused;
    for (const std::string& e : f->etags) {
      if (e.empty()) {
        return Status::IOError(ObjectUrl(f->req.name), "a part was not sent");
      }
    }
    return Status::OK();
  }

  Status Seal(const std::vector<StagedFile*>& files,
              std::vector<Status>* each) override {
    each->assign(files.size(), Status::OK());
    return Status::OK();
  }

  void Name(const std::vector<StagedFile*>& files,
            std::vector<Status>* each) override {
    each->assign(files.size(), Status::OK());
    std::vector<std::function<void()>> tasks;
    for (size_t i = 0; i < files.size(); ++i) {
      tasks.push_back([this, f = Of(files[i]), s = &(*each)[i]] {
        MayExistNow(f->key);  // from now on, Stat asks the store
        *s = AsTrouble(NameOne(f));
      });
    }
    queue_.RunAll(std::move(tasks));
  }

  Status Record(const std::vector<JournalRecord>& records) override {
    if (records.empty()) return Status::OK();
    std::string bytes;
    for (const JournalRecord& r : records) bytes += EncodeJournalRecord(r);
    char seq[16];
    snprintf(seq, sizeof(seq), "%06llu",
             static_cast<unsigned long long>(++journal_seq_));
    const std::string key =
        url_.Key(".valise/journal/" + host_ + "/" + run_ + "-" + seq);
    S3WriteResult w;
    return AsTrouble(client_->PutObject(
        url_.bucket, key,
        PayloadOf({{bytes.data(), bytes.size()}}, WithMd5::kYes), {}, true,
        &w));
  }

  Status Sync() override { return Status::OK(); }

  Status Duplicate(const std::string& from, const StageRequest& req,
                   DuplicateKind kind,
                   std::unique_ptr<StagedFile>* out) override {
    if (kind != DuplicateKind::kClone) {
      return Status::NotSupported(ObjectUrl(req.name),
                                  "an object store has no hard links");
    }
    auto f = std::make_unique<S3Staged>(Kind::kCopy, req, url_.Key(req.name),
                                        &reserved_);
    f->from_key = url_.Key(from);
    *out = std::move(f);
    return Status::OK();
  }

  void Adopt(const std::string& name,
             std::unique_ptr<StagedFile>* out) override {
    StageRequest req;
    req.name = name;
    *out = std::make_unique<S3Staged>(Kind::kAdopted, req, url_.Key(name),
                                      &reserved_);
  }

  void Discard(std::unique_ptr<StagedFile> file) override {
    if (file) AbortUpload(Of(file.get()));
  }

  // Resume by chunk (see the top of this file).
  bool KeepsPartials(uint64_t size, uint64_t chunk_size) const override {
    return size > opt_.put_max && chunk_size >= opt_.min_part_size &&
           PartSizeFor(size, chunk_size) == chunk_size;
  }

  // Repair by chunk, for the files KeepsPartials keeps: a copy's chunks
  // that matched are parts of its upload, kept (Keep) for the next copy to
  // fill in the others (TakeKept).
  bool RepairsByChunk() const override { return true; }

  void ListPartials(std::vector<std::string>* keys) override {
    keys->clear();
    std::lock_guard<std::mutex> l(uploads_mu_);
    for (const auto& [partial, k] : kept_) keys->push_back(partial);
  }

  // The leading parts 1..n of kept upload `partial` that are whole chunks,
  // n at most the chunks but the last, if the upload was made for exactly
  // `req` (UploadIdentity): each was sent signed with its chunk's signed
  // SHA-256 and the store took it only because its bytes had that digest.
  // A part missing, or not a whole chunk, ends the prefix. Their ETags are
  // kept for the Complete. Ingest thread.
  uint64_t CheckedPrefix(const std::string& partial,
                         const StageRequest& req) override {
    KeptUpload k;
    {
      std::lock_guard<std::mutex> l(uploads_mu_);
      auto it = kept_.find(partial);
      if (it == kept_.end()) return 0;
      k = it->second;
    }
    const std::string key = url_.Key(req.name);
    if (k.key != key || req.signed_chunks == nullptr || k.identity.empty()) {
      return 0;
    }
    const uint64_t cs = req.signed_chunks->chunk_size();
    if (!KeepsPartials(req.size, cs) ||
        UploadIdentity(req, key, cs) != k.identity) {
      return 0;
    }
    const uint64_t total = req.signed_chunks->NumChunks(req.entry);
    std::vector<std::string> etags;
    S3ListPartsResult page;
    int marker = 0;
    bool ended = false;
    do {
      if (!client_->ListParts(url_.bucket, k.key, k.upload_id, marker, &page)
               .ok()) {
        return 0;
      }
      for (const S3PartSummary& p : page.parts) {
        if (static_cast<uint64_t>(p.part_number) != etags.size() + 1 ||
            p.size != cs || p.etag.empty() || etags.size() + 1 >= total) {
          ended = true;
          break;
        }
        etags.push_back(p.etag);
      }
      marker = page.next_part_number_marker;
    } while (page.truncated && !ended);
    std::lock_guard<std::mutex> l(uploads_mu_);
    auto it = kept_.find(partial);
    if (it == kept_.end()) return 0;
    it->second.prefix = etags.size() * cs;
    it->second.etags = std::move(etags);
    return it->second.prefix;
  }

  void DropPartial(const std::string& partial) override {
    KeptUpload k;
    {
      std::lock_guard<std::mutex> l(uploads_mu_);
      auto it = kept_.find(partial);
      if (it == kept_.end()) return;
      k = std::move(it->second);
      kept_.erase(it);
    }
    Status s = client_->AbortMultipartUpload(url_.bucket, k.key, k.upload_id);
    // Its marker stays while the upload may: the next Open aborts it.
    if (s.ok() || s.IsNotFound()) {
      (void)client_->DeleteObject(url_.bucket, MarkerKey(k.key));
    }
  }

  // A file staged resumable whose upload is marked for it is left open,
  // with its marker, for a later run; any other is discarded.
  void Keep(std::unique_ptr<StagedFile> file) override {
    if (!file) return;
    S3Staged* f = Of(file.get());
    KeptUpload k;
    {
      std::lock_guard<std::mutex> l(f->mu);
      if (f->kind == Kind::kMultipart && f->resume_marked) {
        k.key = f->key;
        k.upload_id = f->upload_id;
        k.etags = f->etags;  // for a repair by chunk in this run
      }
    }
    if (k.upload_id.empty()) return Discard(std::move(file));
    std::lock_guard<std::mutex> u(uploads_mu_);
    open_uploads_.erase({k.key, k.upload_id});
    auto [it, added] = kept_.emplace(f->req.key, k);
    if (!added) {  // cannot be: one upload per key in a run
      open_uploads_.insert({k.key, k.upload_id});
    }
  }

  ~S3Destination() override { StopPolling(); }

  void CleanUp() override {
    StopPolling();
    std::set<std::pair<std::string, std::string>> open;
    std::set<std::string> kept;  // keys whose markers name kept uploads
    {
      std::lock_guard<std::mutex> l(uploads_mu_);
      open.swap(open_uploads_);
      for (const auto& [partial, k] : kept_) kept.insert(k.key);
    }
    for (const auto& [key, id] : open) {
      (void)client_->AbortMultipartUpload(url_.bucket, key, id);
      if (kept.count(key) == 0) {
        (void)client_->DeleteObject(url_.bucket, MarkerKey(key));
      }
    }
    // And this host's others and the stale ones under PREFIX/ (best
    // effort; the next Open retries). A Create whose answer was lost made
    // an upload without a marker: it goes once it is stale.
    Leftovers left;
    (void)AbortLeftovers(&left);
  }

  Status Close(const std::string& end_note) override {
    StopPolling();
    JournalRecord end;
    end.type = JournalRecord::Type::kEnd;
    end.note = end_note;
    return Record({end});
  }

  // The writer's side.
  void SetChunkSize(size_t chunk) { chunk_size_ = chunk; }

  // The parts of a file of `size` bytes: whole read chunks, at least
  // part_size (or, for a chunk the store takes as a part, one chunk), and
  // more for a file that would need over 10,000 parts.
  uint64_t PartSize(uint64_t size) const {
    return PartSizeFor(size, chunk_size_);
  }
  uint64_t PartSizeFor(uint64_t size, uint64_t chunk_size) const {
    const uint64_t chunk = chunk_size ? chunk_size : 1;
    const uint64_t base = chunk >= opt_.min_part_size ? chunk : opt_.part_size;
    const uint64_t p = std::max(base, (size + kMaxParts - 1) / kMaxParts);
    return (p + chunk - 1) / chunk * chunk;
  }

  // Part `part` of f, its bytes `pieces`, as the store is to check it
  // (issue 15, item 6). A part that is exactly one chunk of the signed
  // chunk index (req.signed_chunks: the part size is the index's chunk
  // size) is signed with that chunk's SHA-256 from the index (*by_chunk):
  // the core checks the same chunk against the same digest as it hashes
  // it, and the store refuses any other bytes, so the part is not hashed a
  // second time. Any other part is hashed here. Digest threads.
  S3Payload PartPayload(S3Staged* f, uint64_t part,
                        std::vector<S3Buffer> pieces, bool* by_chunk) {
    ChunkSha256 d;
    *by_chunk = f->req.signed_chunks != nullptr &&
                f->part_size == f->req.signed_chunks->chunk_size() &&
                SignedDigest(f, part, &d);
    if (*by_chunk) {
      Count(&S3PartCounters::parts_signed_by_chunk, 1);
      return PayloadSignedBy(std::move(pieces), d);
    }
    S3Payload p = PayloadOf(std::move(pieces), WithMd5::kNo);
    Count(&S3PartCounters::parts_hashed, 1);
    Count(&S3PartCounters::bytes_hashed, p.size());
    return p;
  }

  void ChunkSource(const std::string& name, const ChunkIndexV2* index,
                   size_t entry) override {
    const std::string key = url_.Key(name);
    std::string etag;
    {
      std::lock_guard<std::mutex> l(listing_mu_);
      auto it = etags_.find(key);
      if (it != etags_.end()) etag = it->second;
    }
    S3ObjectInfo o;
    if (etag.empty() && client_->HeadObject(url_.bucket, key, &o).ok()) {
      etag = o.etag;
    }
    AddChunkSource(key, etag, index, entry);
  }

  // Dedup by chunk into the store (issue 15, item 5). Sources are objects
  // this destination knows hold signed chunks: those this run named
  // (their every chunk matched its signed digest before Name) and those
  // the core trusted from an earlier run's journal (ChunkSource). Their
  // chunks are found by the first 8 bytes of their signed digests (one
  // chunk per digest, the first registered; at most kMaxSourceChunks in
  // all, about 80 MiB of memory), and a part is copied from a source
  // only if every one of its chunks has the digest of the source's chunk
  // at the same distance from the first, compared whole (32 bytes) from
  // the index. The copy names the source's ETag (if-match): the bytes
  // copied are those of the object version that was verified, never of
  // one another writer put there since. A part is whole chunks at a fixed
  // place, so a copied part is as large as a sent one and the store's part
  // size rules hold.
  static constexpr size_t kMaxSourceChunks = size_t{1} << 21;

  void AddChunkSource(const std::string& key, const std::string& etag,
                      const ChunkIndexV2* index, size_t entry) {
    if (index == nullptr || etag.empty()) return;
    std::lock_guard<std::mutex> l(sources_mu_);
    const uint64_t total = index->NumChunks(entry);
    if (total == 0 || source_chunks_.size() >= kMaxSourceChunks) return;
    const auto source = static_cast<uint32_t>(sources_.size());
    sources_.push_back({key, etag, index, entry, false});
    std::vector<ChunkSha256> batch;
    for (uint64_t first = 0; first < total; first += batch.size()) {
      batch.resize(std::min<uint64_t>(1024, total - first));
      if (!index->Read(entry, first, batch.size(), batch.data()).ok()) return;
      for (size_t i = 0; i < batch.size(); ++i) {
        if (source_chunks_.size() >= kMaxSourceChunks) return;
        source_chunks_.emplace(
            Prefix(batch[i]),
            SourceChunk{source, static_cast<uint32_t>(first + i)});
      }
    }
  }

  // Where part `part` of f can be copied from (above); false if nowhere.
  // Digest threads.
  bool FindCopySource(S3Staged* f, uint64_t part, CopyFrom* out) {
    const ChunkIndexV2* index = f->req.signed_chunks;
    if (index == nullptr) return false;
    {
      std::lock_guard<std::mutex> l(sources_mu_);
      if (source_chunks_.empty()) return false;
    }
    const uint64_t cs = index->chunk_size();
    const uint64_t first = part * f->part_size / cs;
    const uint64_t n = (f->PartLen(part) + cs - 1) / cs;
    std::vector<ChunkSha256> want(n);
    for (uint64_t i = 0; i < n; ++i) {
      if (!SignedDigest(f, first + i, &want[i])) return false;
    }
    std::lock_guard<std::mutex> l(sources_mu_);
    auto it = source_chunks_.find(Prefix(want[0]));
    if (it == source_chunks_.end()) return false;
    const Source& src = sources_[it->second.source];
    const uint64_t at = it->second.chunk;
    if (src.failed || src.index->chunk_size() != cs ||
        at + n > src.index->NumChunks(src.entry)) {
      return false;
    }
    std::vector<ChunkSha256> have(n);
    if (!src.index->Read(src.entry, at, n, have.data()).ok() || have != want) {
      return false;
    }
    *out = CopyFrom{it->second.source, src.key, src.etag, at * cs};
    return true;
  }

  // A copy from source `source` failed: it is not used again.
  void SourceFailed(size_t source) {
    Count(&S3PartCounters::copies_failed, 1);
    std::lock_guard<std::mutex> l(sources_mu_);
    sources_[source].failed = true;
  }

  void Tally(RunReport* report) const override {
    report->chunk_bytes_copied_server_side += copied_bytes_.load();
    const uint64_t by_chunk = counters_.parts_signed_by_chunk.load();
    const uint64_t hashed = counters_.parts_hashed.load();
    if (by_chunk + hashed == 0) return;
    report->verbose_notes.push_back(
        "s3: " + std::to_string(by_chunk) +
        " part(s) of one chunk signed with the chunk's signed SHA-256 (not "
        "hashed again), " +
        std::to_string(hashed) + " part(s) hashed (" +
        std::to_string(counters_.bytes_hashed.load()) + " bytes)");
  }
  // Starts f's upload if no part did yet. Send threads.
  Status EnsureUpload(S3Staged* f) {
    std::lock_guard<std::mutex> l(f->mu);
    if (!f->error.ok()) return f->error;
    if (!f->upload_id.empty()) return Status::OK();
    // The marker first: an upload of this host is never unmarked.
    const std::string& key = f->key;
    S3WriteResult w;
    Status s = client_->PutObject(
        url_.bucket, MarkerKey(key),
        PayloadOf({{key.data(), key.size()}}, WithMd5::kYes), {}, false, &w);
    if (!s.ok()) {
      f->error = s;
      return s;
    }
    // Not idempotent, so the client does not retry it when it may have
    // been applied; a second upload is harmless (an attempt that may have
    // been applied keeps the key's marker: CleanUp or the next Open
    // aborts the upload it made), so it is asked again here.
    for (int attempt = 0; attempt < kCreateAttempts; ++attempt) {
      if (attempt > 0) f->create_retried = true;
      s = client_->CreateMultipartUpload(url_.bucket, f->key,
                                         MetadataFor(f->req), &f->upload_id);
      if (s.ok() || !s.retryable()) break;
    }
    if (!s.ok()) {
      f->error = s;
      return s;
    }
    {
      std::lock_guard<std::mutex> u(uploads_mu_);
      open_uploads_.insert({f->key, f->upload_id});
    }
    // Resume by chunk: the marker now names the upload, and what it is
    // for, so that a later run may go on in it (CheckedPrefix). Killed
    // before this, the marker names none and the upload is aborted.
    if (f->resumable) {
      const std::string identity = UploadIdentity(f->req, key, f->part_size);
      if (!identity.empty()) {
        const std::string text = key + "\nresume " + f->req.key + " " +
                                 f->upload_id + " " + identity + "\n";
        s = client_->PutObject(
            url_.bucket, MarkerKey(key),
            PayloadOf({{text.data(), text.size()}}, WithMd5::kYes), {}, false,
            &w);
        if (!s.ok()) {
          f->error = s;
          return s;
        }
        f->resume_marked = true;
      }
    }
    return Status::OK();
  }

  // What an upload kept for resume by chunk was made for, to be resumed by
  // a request: the SHA-256 of its key, size, part size, the metadata its
  // Create gave it (mtime, mode, the manifest's digests) and every signed
  // chunk digest of the entry, in order. Each of its parts was sent signed
  // with its chunk's digest from that list, so an upload whose identity is
  // req's holds req's chunks, as checked by the store; the entry number in
  // its partial key is only a locator (another manifest's entry of that
  // number has other digests). Empty if the index cannot be read, or the
  // parts are not one chunk each.
  static std::string UploadIdentity(const StageRequest& req,
                                    const std::string& key,
                                    uint64_t part_size) {
    const ChunkIndexV2* index = req.signed_chunks;
    if (index == nullptr || part_size != index->chunk_size()) return "";
    std::string head = "valise resumable upload 1\n" + key + "\n" +
                       std::to_string(req.size) + "\n" +
                       std::to_string(part_size) + "\n";
    for (const auto& [k, v] : MetadataFor(req)) head += k + "=" + v + "\n";
    auto h = Hasher::New(DigestType::kSha256);
    h->Update(head.data(), head.size());
    const uint64_t total = index->NumChunks(req.entry);
    std::vector<ChunkSha256> batch;
    for (uint64_t first = 0; first < total; first += batch.size()) {
      batch.resize(std::min<uint64_t>(1024, total - first));
      if (!index->Read(req.entry, first, batch.size(), batch.data()).ok()) {
        return "";
      }
      for (const ChunkSha256& d : batch) h->Update(d.data(), d.size());
    }
    return h->Finish().Hex();
  }
  std::string ObjectUrl(const std::string& name) const {
    return "s3://" + url_.bucket + "/" + url_.Key(name);
  }

 private:
  // PREFIX/.valise/journal/: every host's journal objects.
  std::string JournalDir() const { return url_.Key(".valise/journal/"); }

  // Journal object `key` (JournalDir()HOST/RUN-SEQ) was read: the poll
  // reads only HOST's objects after it (keys sort by run, then sequence).
  void SeenJournal(const std::string& key) {
    const std::string dir = JournalDir();
    if (key.compare(0, dir.size(), dir) != 0) return;
    const size_t slash = key.find('/', dir.size());
    if (slash == std::string::npos) return;
    const std::string host = key.substr(dir.size(), slash - dir.size());
    std::lock_guard<std::mutex> l(others_mu_);
    std::string& last = last_journal_[host];
    if (key > last) last = key;
  }

  // The poller: every journal_poll_ms, the other hosts' journal objects
  // written since, their commits remembered for Stage (others_). Best
  // effort: a request that fails is tried at the next poll.
  void PollOthers() {
    std::unique_lock<std::mutex> l(poll_mu_);
    while (!stop_poll_) {
      poll_cv_.wait_for(l, std::chrono::milliseconds(opt_.journal_poll_ms));
      if (stop_poll_) break;
      l.unlock();
      ReadOthers().PermitUncheckedError();
      l.lock();
    }
  }

  Status ReadOthers() {
    std::vector<std::string> hosts;
    S3ListObjectsRequest req;
    req.prefix = JournalDir();
    req.delimiter = "/";
    S3ListObjectsResult page;
    do {
      VALISE_RETURN_IF_ERROR(client_->ListObjectsV2(url_.bucket, req, &page));
      for (const std::string& p : page.common_prefixes) hosts.push_back(p);
      req.continuation_token = page.next_continuation_token;
    } while (page.truncated);
    for (const std::string& dir : hosts) {  // JournalDir()HOST/
      const std::string host =
          dir.substr(JournalDir().size(), dir.size() - JournalDir().size() - 1);
      if (host == host_) continue;
      S3ListObjectsRequest r;
      r.prefix = dir;
      {
        std::lock_guard<std::mutex> l(others_mu_);
        r.start_after = last_journal_[host];
      }
      do {
        VALISE_RETURN_IF_ERROR(client_->ListObjectsV2(url_.bucket, r, &page));
        for (const S3ObjectSummary& o : page.objects) {
          std::vector<JournalRecord> records;
          std::vector<std::string> notes;
          VALISE_RETURN_IF_ERROR(ReadJournal(o, &records, &notes));
          std::lock_guard<std::mutex> l(others_mu_);
          for (const JournalRecord& rec : records) {
            if (rec.type == JournalRecord::Type::kCommit) {
              others_[url_.Key(rec.path)] = Other{host, rec};
            }
          }
          std::string& last = last_journal_[host];
          if (o.key > last) last = o.key;
        }
        r.continuation_token = page.next_continuation_token;
      } while (page.truncated);
    }
    return Status::OK();
  }

  void StopPolling() {
    {
      std::lock_guard<std::mutex> l(poll_mu_);
      stop_poll_ = true;
    }
    poll_cv_.notify_all();
    if (poller_.joinable()) poller_.join();
  }

  Status ReadJournal(const S3ObjectSummary& o,
                     std::vector<JournalRecord>* records,
                     std::vector<std::string>* notes) {
    std::string data(o.size, '\0');
    if (o.size > 0) {
      S3GetResult r;
      VALISE_RETURN_IF_ERROR(client_->GetObject(url_.bucket, o.key, 0, o.size,
                                                data.data(), o.etag, &r));
      data.resize(r.bytes);
    }
    std::vector<JournalRecord> got;
    uint64_t valid = 0;
    Status s = DecodeJournal(data, &got, &valid);
    if (!s.ok()) return s.WithContext("s3://" + url_.bucket + "/" + o.key);
    if (valid != data.size()) {
      notes->push_back("s3://" + url_.bucket + "/" + o.key + ": " +
                       std::to_string(data.size() - valid) +
                       " bytes after the last whole record ignored");
    }
    records->insert(records->end(), got.begin(), got.end());
    return Status::OK();
  }

  // PREFIX/.valise/uploads/HOST/: where HOST marks its uploads.
  std::string MarkerDir(const std::string& host) const {
    return url_.Key(".valise/uploads/" + host + "/");
  }
  // The marker of this host's uploads to `key`: written before the first
  // CreateMultipartUpload for it (so that a run killed at any moment
  // leaves no upload of its own unmarked), deleted once the file's upload
  // is completed or aborted. Named after the key's SHA-256 (a key may be
  // as long as a key can be); its bytes are the key, for people.
  std::string MarkerKey(const std::string& key) const {
    auto h = Hasher::New(DigestType::kSha256);
    h->Update(key.data(), key.size());
    return MarkerDir(host_) + h->Finish().Hex().substr(0, 32);
  }

  int64_t NowSeconds() const {
    if (opt_.now) return opt_.now();
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  // What AbortLeftovers did.
  struct Leftovers {
    size_t own = 0;    // this host's, from an earlier run (its markers)
    size_t stale = 0;  // older than the grace period, any host's
    size_t young = 0;  // left alone: another host's, maybe live
    size_t kept = 0;   // this host's, kept for resume by chunk (KeepFound)
  };

  void NoteLeftovers(const Leftovers& left,
                     std::vector<std::string>* notes) const {
    const std::string age = std::to_string(opt_.stale_upload_age_s) + " s";
    if (left.own + left.stale > 0) {
      notes->push_back("s3: aborted " + std::to_string(left.own + left.stale) +
                       " multipart upload(s) that runs which died left "
                       "under " +
                       where_ + " (" + std::to_string(left.own) +
                       " of this host, " + host_ + "; " +
                       std::to_string(left.stale) + " older than " + age +
                       ", --stale-upload-age)");
    }
    if (left.kept > 0) {
      notes->push_back("s3: " + std::to_string(left.kept) +
                       " multipart upload(s) of this host kept to resume by "
                       "chunk (parts the store checked against the signed "
                       "chunk digests)");
    }
    if (left.young > 0) {
      notes->push_back(
          "s3: " + std::to_string(left.young) +
          " multipart upload(s) of other hosts under " + where_ +
          " left alone: live, or aborted by a later run once older than " +
          age + " (--stale-upload-age)");
    }
  }

  // Aborts the multipart uploads under PREFIX/ that no live run can be
  // sending: this host's own that this run does not hold open (their keys
  // marked under .valise/uploads/HOST/: an earlier run's, killed, or a
  // Create of this run whose answer was lost), and any host's initiated
  // more than stale_upload_age_s ago. Another host's younger uploads may
  // be live and are left alone. But an upload of this host kept for
  // resume by chunk (its marker names it, KeepFound; or kept_) is left
  // open unless stale, like any upload. This host's markers are then
  // deleted but those of uploads still open or kept; other hosts' markers
  // are theirs (a stale upload's stays until its host runs again: a few
  // bytes).
  Status AbortLeftovers(Leftovers* left) {
    std::map<std::string, S3ObjectSummary> own;  // this host's markers
    {
      S3ListObjectsRequest req;
      req.prefix = MarkerDir(host_);
      S3ListObjectsResult page;
      do {
        VALISE_RETURN_IF_ERROR(client_->ListObjectsV2(url_.bucket, req, &page));
        for (const S3ObjectSummary& o : page.objects) own[o.key] = o;
        req.continuation_token = page.next_continuation_token;
      } while (page.truncated);
    }
    std::string key_marker, id_marker;
    S3ListUploadsResult page;
    std::vector<S3UploadSummary> all;
    do {
      VALISE_RETURN_IF_ERROR(client_->ListMultipartUploads(
          url_.bucket, url_.prefix.empty() ? "" : url_.prefix + "/", key_marker,
          id_marker, &page));
      all.insert(all.end(), page.uploads.begin(), page.uploads.end());
      key_marker = page.next_key_marker;
      id_marker = page.next_upload_id_marker;
    } while (page.truncated);
    const int64_t now = NowSeconds();
    std::set<std::string> keep;  // markers of uploads open in this run
    for (const S3UploadSummary& u : all) {
      if (OpenOrKept(u)) {
        keep.insert(MarkerKey(u.key));
        continue;
      }
      const int64_t initiated = ParseS3Time(u.initiated) / 1000000000;
      auto marker = own.find(MarkerKey(u.key));
      const bool mine = marker != own.end();
      const bool stale =
          initiated > 0 &&
          now - initiated >= static_cast<int64_t>(opt_.stale_upload_age_s);
      if (!mine && !stale) {
        ++left->young;
        continue;
      }
      if (mine && !stale && KeepFound(u, marker->second)) {
        keep.insert(marker->first);
        ++left->kept;
        continue;
      }
      Status s = client_->AbortMultipartUpload(url_.bucket, u.key, u.upload_id);
      if (!s.ok() && !s.IsNotFound()) return s;
      ++(mine ? left->own : left->stale);
    }
    for (const auto& [m, o] : own) {
      if (keep.count(m) == 0) {
        VALISE_RETURN_IF_ERROR(client_->DeleteObject(url_.bucket, m));
      }
    }
    return Status::OK();
  }

  // Whether upload u is open in this run, or kept for a later one.
  bool OpenOrKept(const S3UploadSummary& u) {
    std::lock_guard<std::mutex> l(uploads_mu_);
    if (open_uploads_.count({u.key, u.upload_id}) > 0) return true;
    for (const auto& [partial, k] : kept_) {
      if (k.key == u.key && k.upload_id == u.upload_id) return true;
    }
    return false;
  }

  // Whether this host's upload u is the one its marker (object `marker`)
  // names for resume by chunk (EnsureUpload wrote "KEY\nresume PARTIAL
  // UPLOAD-ID IDENTITY\n" once the upload was made): then it is kept
  // (kept_), for the core to ask what it holds (ListPartials,
  // CheckedPrefix) or drop it. Any other upload of this host's is aborted,
  // as is one whose marker cannot be read.
  bool KeepFound(const S3UploadSummary& u, const S3ObjectSummary& marker) {
    if (marker.size == 0 || marker.size > 4096) return false;
    std::string text(marker.size, '\0');
    S3GetResult r;
    if (!client_
             ->GetObject(url_.bucket, marker.key, 0, marker.size, text.data(),
                         marker.etag, &r)
             .ok()) {
      return false;
    }
    text.resize(r.bytes);
    const std::string head = u.key + "\nresume ";
    if (text.compare(0, head.size(), head) != 0 || text.back() != '\n') {
      return false;
    }
    std::vector<std::string> words;
    for (size_t a = head.size(), b; a < text.size(); a = b + 1) {
      b = text.find_first_of(" \n", a);
      words.push_back(text.substr(a, b - a));
    }
    if (words.size() != 3 || words[1] != u.upload_id || words[0].empty() ||
        words[2].empty()) {
      return false;
    }
    std::lock_guard<std::mutex> l(uploads_mu_);
    KeptUpload k;
    k.key = u.key;
    k.upload_id = u.upload_id;
    k.identity = words[2];
    return kept_.emplace(words[0], std::move(k)).second;
  }

  // A name taken: EEXIST, which the core reports as a conflict.
  Status Taken(const S3Staged* f, const S3ObjectInfo& o) const {
    return Status::PosixError(ObjectUrl(f->req.name) + " (an object of " +
                                  std::to_string(o.size) + " bytes, ETag " +
                                  o.etag + ", is there)",
                              EEXIST);
  }

  // Whether object `o` is f's file already: its size, and every digest of
  // the manifest in its metadata (at least one). valise writes that
  // metadata with the object, which it completes only once every byte
  // matched those digests: another host ingesting the same manifest put
  // it there.
  static bool SameContent(const S3Staged* f, const S3ObjectInfo& o) {
    if (o.size != f->req.size || f->req.digests.empty()) return false;
    for (const Digest& d : f->req.digests) {
      auto it = o.metadata.find("valise-" + std::string(DigestName(d.type)));
      if (it == o.metadata.end() || it->second != d.Hex()) return false;
    }
    return true;
  }

  // f's key holds its file already, put there by another writer: named,
  // as if by this run (the object's own identity is what Stat gives).
  Status AlreadyThere(const S3Staged* f, const S3ObjectInfo& o) {
    std::lock_guard<std::mutex> l(listing_mu_);
    named_[f->key] = InfoOf(o.size, o.metadata, o.etag);
    return Status::OK();
  }

  // Whether f's key is free: OK if so, Taken if not, else the error;
  // *there (and OK) when the object there is f's file (SameContent).
  Status CheckFree(const S3Staged* f, bool* there) {
    *there = false;
    S3ObjectInfo o;
    Status s = client_->HeadObject(url_.bucket, f->key, &o);
    if (s.IsNotFound()) return Status::OK();
    if (!s.ok()) return s;
    if (SameContent(f, o)) {
      *there = true;
      return AlreadyThere(f, o);
    }
    return Taken(f, o);
  }

  Status NameOne(S3Staged* f) {
    switch (f->kind) {
      case Kind::kAdopted: {
        S3ObjectInfo o;
        return client_->HeadObject(url_.bucket, f->key, &o);
      }
      case Kind::kPut: {
        S3WriteResult w;
        Status s = client_->PutObject(
            url_.bucket, f->key,
            PayloadOf({{f->bytes.data(), f->bytes.size()}}, WithMd5::kYes),
            MetadataFor(f->req), true, &w);
        if (s.http_status() == 412) {
          std::string().swap(f->bytes);
          S3ObjectInfo o;
          if (client_->HeadObject(url_.bucket, f->key, &o).ok()) {
            return SameContent(f, o) ? AlreadyThere(f, o) : Taken(f, o);
          }
          return Status::PosixError(ObjectUrl(f->req.name), EEXIST);
        }
        std::string().swap(f->bytes);
        if (s.ok()) {
          RememberNamed(f, w.etag);
          AddChunkSource(f->key, w.etag, f->req.signed_chunks, f->req.entry);
        }
        return s;
      }
      case Kind::kMultipart: {
        bool there = false;
        Status s = CheckFree(f, &there);
        if (s.ok() && !there) {
          std::vector<S3CompletedPart> parts;
          for (size_t i = 0; i < f->etags.size(); ++i) {
            parts.push_back({static_cast<int>(i + 1), f->etags[i]});
          }
          S3WriteResult w;
          s = client_->CompleteMultipartUpload(url_.bucket, f->key,
                                               f->upload_id, parts, &w);
          if (s.ok()) {
            Forget(f);
            RememberNamed(f, w.etag);
            {
              std::lock_guard<std::mutex> l(f->mu);
              copied_bytes_ += f->copied_bytes;
            }
            AddChunkSource(f->key, w.etag, f->req.signed_chunks, f->req.entry);
            return s;
          }
        }
        AbortUpload(f);
        return s;
      }
      case Kind::kCopy: {
        bool there = false;
        VALISE_RETURN_IF_ERROR(CheckFree(f, &there));
        return there ? Status::OK() : Copy(f);
      }
    }
    return Status::OK();
  }

  Status Copy(S3Staged* f) {
    S3WriteResult w;
    if (f->req.size <= kMaxCopy) {
      return client_->CopyObject(url_.bucket, f->from_key, url_.bucket, f->key,
                                 &w);
    }
    std::string id;
    VALISE_RETURN_IF_ERROR(client_->CreateMultipartUpload(
        url_.bucket, f->key, MetadataFor(f->req), &id));
    std::vector<S3CompletedPart> parts;
    Status s;
    for (uint64_t off = 0; s.ok() && off < f->req.size; off += kMaxCopy) {
      const int n = static_cast<int>(parts.size() + 1);
      s = client_->UploadPartCopy(
          url_.bucket, f->key, id, n, url_.bucket, f->from_key, off,
          std::min(kMaxCopy, f->req.size - off), "", &w);
      parts.push_back({n, w.etag});
    }
    if (s.ok()) {
      s = client_->CompleteMultipartUpload(url_.bucket, f->key, id, parts, &w);
    }
    if (!s.ok()) (void)client_->AbortMultipartUpload(url_.bucket, f->key, id);
    return s;
  }

  // f's upload is completed: its marker goes, unless an earlier Create
  // may have made another upload to its key (CleanUp aborts that one).
  void Forget(S3Staged* f) {
    if (!f->create_retried) {
      (void)client_->DeleteObject(url_.bucket, MarkerKey(f->key));
    }
    std::lock_guard<std::mutex> l(uploads_mu_);
    open_uploads_.erase({f->key, f->upload_id});
  }

  void AbortUpload(S3Staged* f) {
    std::string id;
    {
      std::lock_guard<std::mutex> l(f->mu);
      id.swap(f->upload_id);
    }
    if (id.empty()) return;
    (void)client_->AbortMultipartUpload(url_.bucket, f->key, id);
    if (!f->create_retried) {
      (void)client_->DeleteObject(url_.bucket, MarkerKey(f->key));
    }
    std::lock_guard<std::mutex> l(uploads_mu_);
    open_uploads_.erase({f->key, id});
  }

  // Chunk `chunk`'s signed SHA-256 into *out, from f's window of them
  // (read from the index 256 at a time); false if the index cannot be
  // read (the core's check reports why; the part is hashed instead).
  static bool SignedDigest(S3Staged* f, uint64_t chunk, ChunkSha256* out) {
    constexpr uint64_t kBatch = 256;
    const ChunkIndexV2* index = f->req.signed_chunks;
    std::lock_guard<std::mutex> l(f->mu);
    if (chunk < f->signed_first ||
        chunk >= f->signed_first + f->signed_window.size()) {
      const uint64_t total = index->NumChunks(f->req.entry);
      if (chunk >= total) return false;
      f->signed_window.resize(std::min(kBatch, total - chunk));
      f->signed_first = chunk;
      Status s = index->Read(f->req.entry, chunk, f->signed_window.size(),
                             f->signed_window.data());
      if (!s.ok()) {
        f->signed_window.clear();
        return false;
      }
    }
    *out = f->signed_window[chunk - f->signed_first];
    return true;
  }

  static uint64_t Prefix(const ChunkSha256& d) {
    uint64_t p;
    memcpy(&p, d.data(), sizeof(p));
    return p;
  }

  void Count(std::atomic<uint64_t> S3PartCounters::*field, uint64_t n) {
    (counters_.*field) += n;
    if (opt_.counters != nullptr) (opt_.counters->*field) += n;
  }

  S3Client* const client_;
  const S3Url url_;
  const S3DestinationOptions opt_;
  S3PartCounters counters_;
  std::atomic<uint64_t> copied_bytes_{0};  // of the files named
  // Dedup by chunk: the sources (AddChunkSource) and their chunks.
  struct Source {
    std::string key;
    std::string etag;
    const ChunkIndexV2* index;
    size_t entry;
    bool failed;  // a copy from it failed
  };
  struct SourceChunk {
    uint32_t source;
    uint32_t chunk;
  };
  std::mutex sources_mu_;
  std::vector<Source> sources_;
  std::unordered_map<uint64_t, SourceChunk> source_chunks_;
  const std::string where_;
  const std::string host_;
  std::string run_ = "0";
  uint64_t journal_seq_ = 0;  // the ingest or commit thread, one at a time
  std::atomic<uint64_t> reserved_{0};
  size_t chunk_size_ = 0;
  std::mutex uploads_mu_;
  std::set<std::pair<std::string, std::string>> open_uploads_;  // key, id
  // Uploads kept for resume by chunk, by partial key ("r<entry>"): this
  // host's, found at Open (their markers name them), or kept by Keep.
  struct KeptUpload {
    std::string key;        // the object key it is an upload to
    std::string upload_id;  // its id
    std::string identity;   // UploadIdentity of what it was made for
    uint64_t prefix = 0;    // CheckedPrefix's answer, and its parts' ETags
    std::vector<std::string> etags;
  };
  std::map<std::string, KeptUpload> kept_;  // under uploads_mu_
  std::mutex listing_mu_;                   // MayExist's listing
  bool listing_tried_ = false;
  bool listing_ok_ = false;
  std::set<std::string> listed_;
  std::map<std::string, FileInfo> named_;     // key -> what Name made there
  std::map<std::string, std::string> etags_;  // key -> ETag Stat saw
  // Other hosts' commits since Resume (PollOthers), by key; each host's
  // last journal object read.
  struct Other {
    std::string host;
    JournalRecord record;
  };
  std::mutex others_mu_;
  std::map<std::string, Other> others_;
  std::map<std::string, std::string> last_journal_;
  std::mutex poll_mu_;
  std::condition_variable poll_cv_;
  bool stop_poll_ = false;
  std::thread poller_;
  S3Writer writer_;    // before queue_: its threads stop first
  S3SendQueue queue_;  // parts' digests, then every request
};

size_t S3Writer::buffers(size_t num_drives, size_t chunk_size) const {
  dest_->SetChunkSize(chunk_size);
  const size_t per_part = (dest_->part_size() + chunk_size - 1) / chunk_size;
  return num_drives * (2 * per_part + 2) +
         (threads_ + digest_threads_) * per_part;
}

void S3Writer::Write(const StageChunk& c) {
  S3Staged* f = Of(c.file);
  if (!f->io_error.ok()) return Answer(c, f->io_error);
  if (f->kind == Kind::kPut) {
    if (c.offset + c.len > f->bytes.size()) {
      return Answer(c, Status::InvalidArgument(f->req.name,
                                               "a chunk past the file's size"));
    }
    memcpy(f->bytes.data() + c.offset, io_.pool->data(c.buf), c.len);
    return Answer(c, Status::OK());
  }
  const uint64_t part = c.offset / f->part_size;
  f->held[part].push_back(c);
  f->held_bytes[part] += c.len;
  ++held_;
  if (f->held_bytes[part] < f->PartLen(part)) return;
  std::vector<StageChunk> chunks = std::move(f->held[part]);
  f->held.erase(part);
  f->held_bytes.erase(part);
  held_ -= chunks.size();
  SendPart(f, part, std::move(chunks));
}

// The part's digests, then its request (s3_send_queue.cc): a request slot
// is taken only by a part whose digests are computed.
void S3Writer::SendPart(S3Staged* f, uint64_t part,
                        std::vector<StageChunk> chunks) {
  ++outstanding_;
  std::sort(chunks.begin(), chunks.end(),
            [](const StageChunk& a, const StageChunk& b) {
              return a.offset < b.offset;
            });
  BufferPool* pool = io_.pool;
  queue_->Submit([this, f, part, pool,
                  chunks = std::move(chunks)]() -> std::function<void()> {
    CopyFrom from;
    if (dest_->FindCopySource(f, part, &from)) {
      return [this, f, part, chunks, pool, from] {
        CopyOrUpload(f, part, chunks, pool, from);
      };
    }
    std::vector<S3Buffer> pieces;
    for (const StageChunk& c : chunks) {
      pieces.push_back({pool->data(c.buf), c.len});
    }
    bool by_chunk = false;
    auto payload = std::make_shared<S3Payload>(
        dest_->PartPayload(f, part, std::move(pieces), &by_chunk));
    return [this, f, part, chunks, payload, by_chunk] {
      Upload(f, part, chunks, std::move(*payload), by_chunk);
    };
  });
}

// Sends part `part` of f. A part signed with its chunk's signed digest
// (by_chunk) that the store refuses as not matching it carries bytes that
// are not the signed chunk's: the copy's fault, not the store's. The core,
// which hashes the same buffer, finds the chunk bad and reads the next
// copy; so its chunks are answered as staged (a write failure would stop
// the run as DEST trouble), the file's later parts are not sent, and
// Finish gives the refusal, which the core sees only if its own check
// found every chunk good (the bytes changed on the way to the store: DEST
// trouble, as any refused part).
void S3Writer::Upload(S3Staged* f, uint64_t part,
                      const std::vector<StageChunk>& chunks, S3Payload payload,
                      bool by_chunk) {
  // After a refusal the file's later parts are not sent, but for a file in
  // one-chunk parts (resumable): its good chunks' parts stay for a repair
  // by chunk.
  bool refused = false;
  {
    std::lock_guard<std::mutex> l(f->mu);
    refused = !f->refused.ok() && !f->resumable;
  }
  Status s = refused ? Status::OK() : dest_->EnsureUpload(f);
  if (s.ok() && !refused && !by_chunk) {
    // A marked upload (resume by chunk) holds only parts the store checked
    // against their chunks' signed digests: a part whose digest could not
    // be read from the index is not sent (the core, which reads the same
    // index to check the chunk, fails the file too).
    std::lock_guard<std::mutex> l(f->mu);
    if (f->resume_marked) {
      refused = true;
      if (f->refused.ok()) {
        f->refused = Status::IOError(
            dest_->ObjectUrl(f->req.name),
            "part " + std::to_string(part + 1) + " not sent: chunk " +
                std::to_string(part) + "'s signed SHA-256 could not be read");
      }
    }
  }
  if (s.ok() && !refused) {
    std::string id;
    {
      std::lock_guard<std::mutex> l(f->mu);
      id = f->upload_id;
    }
    S3WriteResult w;
    s = dest_->client()->UploadPart(dest_->bucket(), f->key, id,
                                    static_cast<int>(part + 1),
                                    std::move(payload), &w);
    std::lock_guard<std::mutex> l(f->mu);
    if (s.ok()) {
      f->etags[part] = w.etag;
    } else if (by_chunk && DigestRefused(s)) {
      if (f->refused.ok()) {
        f->refused = Status::IOError(
            dest_->ObjectUrl(f->req.name),
            "the store refused part " + std::to_string(part + 1) +
                ": its bytes are not those of chunk " + std::to_string(part) +
                "'s signed SHA-256 (" + s.message() + ")");
      }
      s = Status::OK();
    } else if (f->error.ok()) {
      f->error = s;
    }
  }
  Answered(chunks, AsTrouble(s));
}

// The chunks of a part are staged (or not: `s`), for Poll to answer.
void S3Writer::Answered(const std::vector<StageChunk>& chunks,
                        const Status& s) {
  // Woken under mu_: the loop (which may end once Poll saw this answer)
  // cannot take the answer before wake() returned.
  std::lock_guard<std::mutex> l(mu_);
  done_.push_back(Done{chunks, s});
  io_.wake();
}

// Dedup by chunk (issue 15, item 5): part `part` of f is copied
// server-side from `from`, whose chunks have the part's signed digests;
// its bytes, read and held, are not sent. A copy that fails for any
// reason (the source gone or changed: 404, 412; the store failing) sends
// the bytes instead, and the source is not used again.
void S3Writer::CopyOrUpload(S3Staged* f, uint64_t part,
                            const std::vector<StageChunk>& chunks,
                            BufferPool* pool, const CopyFrom& from) {
  if (CopyPart(f, part, from)) return Answered(chunks, Status::OK());
  std::vector<S3Buffer> pieces;
  for (const StageChunk& c : chunks) {
    pieces.push_back({pool->data(c.buf), c.len});
  }
  bool by_chunk = false;
  S3Payload payload = dest_->PartPayload(f, part, std::move(pieces), &by_chunk);
  Upload(f, part, chunks, std::move(payload), by_chunk);
}

bool S3Writer::CopyPart(S3Staged* f, uint64_t part, const CopyFrom& from) {
  if (!dest_->EnsureUpload(f).ok()) return false;  // Upload reports it
  std::string id;
  {
    std::lock_guard<std::mutex> l(f->mu);
    id = f->upload_id;
  }
  const uint64_t len = f->PartLen(part);
  S3WriteResult w;
  Status s = dest_->client()->UploadPartCopy(
      dest_->bucket(), f->key, id, static_cast<int>(part + 1), dest_->bucket(),
      from.key, from.offset, len, from.etag, &w);
  if (!s.ok()) {
    dest_->SourceFailed(from.source);
    return false;
  }
  std::lock_guard<std::mutex> l(f->mu);
  f->etags[part] = w.etag;
  f->copied_bytes += len;
  return true;
}

void S3Writer::Skip(StagedFile* file, uint64_t offset) {
  S3Staged* f = Of(file);
  // One-chunk parts (resumable): the chunk's part is not sent, the others
  // are (a read that keeps going, for a repair by chunk); Finish finds the
  // part missing.
  if (f->resumable) return;
  if (f->io_error.ok()) {
    f->io_error = Status::IOError(
        dest_->ObjectUrl(f->req.name),
        "the chunk at offset " + std::to_string(offset) + " was not read");
  }
  for (auto& [part, chunks] : f->held) {
    for (const StageChunk& c : chunks) Answer(c, f->io_error);
    held_ -= chunks.size();
  }
  f->held.clear();
  f->held_bytes.clear();
}

void S3Writer::Poll() {
  std::vector<Done> done;
  {
    std::lock_guard<std::mutex> l(mu_);
    done.swap(done_);
  }
  for (const Done& d : done) {
    for (const StageChunk& c : d.chunks) Answer(c, d.status);
    --outstanding_;
  }
}

}  // namespace

std::unique_ptr<Destination> NewS3Destination(S3Client* client,
                                              const S3Url& url,
                                              const S3DestinationOptions& opt) {
  return std::make_unique<S3Destination>(client, url, opt);
}

}  // namespace valise
