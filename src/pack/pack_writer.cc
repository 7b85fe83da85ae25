// Writing a pack, stripe by stripe.
//
// The problem. `valise pack` must fill k data drives and m parity drives
// at the drives' line rate, hashing every byte as it goes (whole-file
// digests, chunk SHA-256s) and computing parity "as the data is written":
// one read of the dataset, no second pass over the drives.
//
// The approach. The unit of work is the stripe (pack.h): chunk s of every
// data drive, and its m parity chunks. A window of W stripes is in flight,
// each in a slot owning k+m chunk buffers of one BufferPool registered with
// the ring. For stripe s, the I/O thread:
//   1. reads each data drive's chunk of s from the dataset (a drive that
//      holds none is zeros), through the IoEngine, on engine drive d;
//   2. as each read lands: zeroes the buffer past the chunk's length,
//      writes it to its data drive (engine drive k+d) and hands it to the
//      drive's hashing lane (stripe_work.h);
//   3. when the k reads are in, has the parity encoded on a worker
//      (ISA-L, whole stripe at once: each data byte read once), then writes
//      the m parity chunks (engine drives 2k+j) and hashes them (M.parity,
//      the parity file's SHA-256);
//   4. retires the slot when every read, write and hash of s is done, and
//      admits stripe s+W.
// The drives thus advance together, the slowest setting the pace: parity
// needs stripe s whole, and holding more than W stripes for a faster drive
// would cost memory without speeding the slowest one up. Memory is W *
// (k+m) * chunk bytes whatever the dataset (W picked within 256 MiB).
//
// Files. Each data file is created on its drive when its first chunk is
// admitted (mkdir -p of its directory first) and finished when its last
// write lands: an O_DIRECT file written in whole blocks is cut back to its
// size, then given the dataset's mode and mtime. A source file is closed
// when its last read lands, after checking it still has the size and
// mtime the plan saw (a file changed while packed would make the manifest
// lie). Parity files are created with their first stripe. Empty files have
// no chunk: they are created up front. At the end each drive is made
// durable with one syncfs (or, where syncfs is not trusted, each file was
// fdatasync'd as it finished), then the chunk index and M.parity.
//
// Checkpoints and resuming. Every PackOptions::checkpoint_bytes of data,
// once stripes [0, S) have all retired, every drive is made durable (a
// syncfs each), then the chunk index and M.parity, and the caller is told
// S and the files and parity files finished since the last checkpoint
// (pack_state.cc journals them). A resumed pack starts at the journaled S:
// the files finished before S are trusted (their digests journaled, their
// bytes durable); on each data drive the file that straddles S is kept,
// its chunks before S read from the dataset and compared with the copy on
// the drive (a dataset changed since is refused: the parity written would
// not match it), so that its whole-file digests can be computed; each
// parity file that straddles S is opened without truncation and its
// stripes before S read back from the parity drive, checked against
// M.parity, to finish its SHA-256. A
// resume thus costs at most a file per data drive and a parity file per
// parity drive of reading, whatever the size of what was packed.
//
// Failure. Any error (a read, a write, a file changed, a drive full or
// stalled) stops admitting stripes; what is in flight finishes; the error
// is returned, naming the file or drive. The drives keep what was written,
// and the last checkpoint says what of it counts. A signal (opt.cancel)
// stops admitting stripes too, lets the ones in flight finish, takes a
// checkpoint and returns Aborted.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <thread>

#include "pack/stripe_work.h"
#include "valise/buffer_pool.h"
#include "valise/chunk_index_v2.h"
#include "valise/io_engine.h"
#include "valise/pack_job.h"
#include "valise/parity.h"
#include "valise/rebuild.h"

namespace valise {

namespace {

// Files smaller than this are written through the page cache even with
// O_DIRECT asked for (their padded tail would need an ftruncate).
constexpr uint64_t kDirectMinBytes = uint64_t{1} << 20;
// Buffers for the window at most, and the window's bounds.
constexpr uint64_t kWindowBytes = uint64_t{256} << 20;
constexpr unsigned kMinWindow = 2;
constexpr unsigned kMaxWindow = 16;

unsigned PickWindow(const PackOptions& opt, uint32_t members) {
  if (opt.window > 0) return opt.window;
  const uint64_t w = kWindowBytes / (uint64_t{members} * opt.chunk_size);
  return static_cast<unsigned>(std::clamp<uint64_t>(w, kMinWindow, kMaxWindow));
}

unsigned PickThreads(const PackOptions& opt) {
  if (opt.threads > 0) return opt.threads;
  const unsigned n = std::thread::hardware_concurrency();
  return std::clamp(n, 1u, 16u);
}

std::string Parent(const std::string& rel) {
  const size_t slash = rel.rfind('/');
  return slash == std::string::npos ? std::string() : rel.substr(0, slash);
}

// A file being read (dataset) and written (drive).
struct OpenFile {
  std::unique_ptr<File> src;
  std::unique_ptr<File> dst;
  uint64_t reads_left = 0;
  uint64_t writes_left = 0;
  uint64_t size = 0;
};

// What a transfer is for.
struct IoTag {
  uint32_t slot = 0;
  uint32_t member = 0;  // data 0..k-1, parity k..
  bool write = false;
};

struct Slot {
  bool active = false;
  uint64_t stripe = 0;
  uint32_t reads_left = 0;
  uint32_t writes_left = 0;
  uint32_t hashes_left = 0;
  bool encoded = false;
  std::vector<Transfer> reads;   // k
  std::vector<Transfer> writes;  // k + m
  std::vector<IoTag> read_tags, write_tags;
};

// The pack's side of the engine loop (DriveEngine): each round admits
// stripes and submits what waits; each completion goes to its slot; the
// hashing lanes' and encoder's events are handled after every round, and a
// checkpoint taken once enough stripes have retired.
class PackWriter final : public EngineClient {
 public:
  PackWriter(FileSystem* fs, PackPlan* plan, const PackOptions& opt,
             const PackResume* resume, File* index_file, File* parity_file)
      : fs_(fs),
        plan_(plan),
        opt_(opt),
        resume_(resume),
        layout_(plan->layout),
        map_(&plan->layout),
        k_(plan->layout.k()),
        m_(plan->layout.m()),
        index_file_(index_file),
        parity_file_(parity_file) {}

  Status Run(Manifest* manifest, PackSummary* summary);

  // EngineClient.
  void Fill() override;
  bool HasWork() override;
  void Idle() override;
  void Complete(Transfer* t, uint64_t now_us) override;
  void Reaped() override;

 private:
  void HandleEvents();
  Status Setup();
  Status OpenDrives();
  Status CreateEmptyFiles();
  // Resuming at resume_->stripes_done.
  Status Resume();
  Status RestoreIndex();
  Status ReplayDataFile(uint32_t d, const ChunkRef& at);
  Status ReopenParityFile(uint32_t j, size_t segment, uint64_t first,
                          uint64_t until);
  Status ReadWhole(File* file, uint64_t offset, uint64_t n, char* buf);
  // Checkpoints.
  void NoteRetired(uint64_t stripe);
  Status Checkpoint();
  // A new pack creates every file exclusively; a resumed one replaces what
  // an interrupted run left (or, with !truncate, keeps it).
  Status CreateOnDrive(Directory* dir, const std::string& rel, bool direct,
                       std::unique_ptr<File>* file, bool truncate = true);
  // The loop.
  void Admit();
  Status StartStripe(Slot* slot, uint32_t slot_index, uint64_t s);
  // !truncate: a resumed pack keeps what the file holds.
  Status OpenDataFile(uint32_t d, uint32_t f, bool truncate = true);
  Status OpenParityFile(uint32_t j, size_t segment);
  void Submit(Transfer* t);
  void SubmitPending();
  void OnTransfer(Transfer* t);
  void OnRead(Slot* slot, uint32_t d, Transfer* t);
  void OnWrite(Slot* slot, uint32_t member, Transfer* t);
  void OnEvent(const StripeWork::Event& e);
  void QueueParity(Slot* slot);
  void MaybeRetire(Slot* slot);
  Status FinishDataFile(uint32_t d, uint32_t f);
  Status FinishSource(uint32_t d, uint32_t f);
  Status FinishParityFile(uint32_t j, size_t segment);
  void Fail(const Status& s);
  bool Busy();
  // After the loop.
  Status Describe(Manifest* manifest);

  uint8_t* Buffer(uint32_t slot, uint32_t member) {
    return reinterpret_cast<uint8_t*>(
        pool_->data(static_cast<int>(slot * (k_ + m_) + member)));
  }
  int BufferIndex(uint32_t slot, uint32_t member) const {
    return fixed_ ? static_cast<int>(slot * (k_ + m_) + member) : -1;
  }

  FileSystem* fs_;
  PackPlan* plan_;
  const PackOptions opt_;
  const PackResume* resume_;  // null for a new pack
  const PackLayout& layout_;
  StripeMap map_;
  const uint32_t k_, m_;
  File* index_file_;
  File* parity_file_;

  std::unique_ptr<ParityCode> code_;
  std::unique_ptr<ChunkIndexV2Writer> index_;
  std::vector<std::vector<Digest>> file_digests_;  // by manifest entry
  // Destroyed in reverse: the work (its threads) first, then the engine
  // (the ring, with any abandoned request), then the buffers.
  std::unique_ptr<BufferPool> pool_;
  std::unique_ptr<IoEngine> engine_;
  std::unique_ptr<StripeWork> work_;
  bool fixed_ = false;

  std::vector<std::unique_ptr<Directory>> dirs_;  // data, then parity
  std::vector<bool> syncfs_;                      // per drive
  std::vector<std::set<std::string>> made_dirs_;  // per data drive
  std::map<std::pair<uint32_t, uint32_t>, OpenFile> data_files_;
  std::map<std::pair<uint32_t, size_t>, OpenFile> parity_files_;

  std::vector<Slot> slots_;
  std::vector<std::vector<Transfer*>> pending_;  // per engine drive
  uint64_t start_ = 0;        // the first stripe this run writes
  uint64_t next_stripe_ = 0;  // the next to admit
  uint64_t retired_ = 0;      // stripes retired, those before start_ too
  // Every stripe below done_prefix_ has retired; the ones above it that
  // have are in retired_ahead_.
  uint64_t done_prefix_ = 0;
  std::set<uint64_t> retired_ahead_;
  uint64_t checkpointed_ = 0;      // stripes durable at the last checkpoint
  uint64_t checkpoint_every_ = 0;  // stripes between checkpoints; 0: none
  std::vector<size_t> journaled_files_;  // per data drive: files reported
  size_t journaled_segments_ = 0;        // parity files reported (each drive)
  bool stopping_ = false;                // opt_.cancel: admit nothing more
  Status fatal_;
  std::unique_ptr<Progress> progress_;
  PackSummary* summary_ = nullptr;
};

Status PackWriter::CreateOnDrive(Directory* dir, const std::string& rel,
                                 bool direct, std::unique_ptr<File>* file,
                                 bool truncate) {
  WriteOptions wo;
  wo.direct = direct;
  wo.mode = 0600;
  wo.exclusive = resume_ == nullptr;
  wo.truncate = truncate;
  return dir->CreateFile(rel, wo, file);
}

Status PackWriter::OpenDrives() {
  const std::vector<std::string>* roots[] = {&plan_->data_roots,
                                             &plan_->parity_roots};
  for (const auto* list : roots) {
    for (const std::string& root : *list) {
      std::unique_ptr<Directory> dir;
      VALISE_RETURN_IF_ERROR(fs_->OpenDirectory(root, false, &dir));
      // syncfs(2) where it is trusted (one flush for the whole drive);
      // elsewhere every file gets its own fdatasync as it finishes.
      Status s = dir->SyncFs();
      if (!s.ok() && !s.IsNotSupported()) return s;
      syncfs_.push_back(s.ok());
      dirs_.push_back(std::move(dir));
    }
  }
  made_dirs_.resize(k_);
  if (m_ > 0) {
    VALISE_RETURN_IF_ERROR(dirs_[k_]->CreateDirs(std::string(kParityDir)));
    for (uint32_t j = 1; j < m_; ++j) {
      VALISE_RETURN_IF_ERROR(
          dirs_[k_ + j]->CreateDirs(std::string(kParityDir)));
    }
  }
  return Status::OK();
}

// Empty files hold no chunk, so no stripe creates them: they are made here,
// with their mode, mtime and digests.
Status PackWriter::CreateEmptyFiles() {
  MultiHasher empty(opt_.digests);
  const std::vector<Digest> none = empty.Finish();
  for (uint32_t d = 0; d < k_; ++d) {
    for (uint32_t f = 0; f < layout_.data[d].files.size(); ++f) {
      if (layout_.data[d].files[f].size != 0) continue;
      const PackFile& pf = layout_.data[d].files[f];
      const PackSource& src = plan_->sources[d][f];
      const std::string parent = Parent(pf.path);
      if (!parent.empty() && made_dirs_[d].insert(parent).second) {
        VALISE_RETURN_IF_ERROR(dirs_[d]->CreateDirs(parent));
      }
      std::unique_ptr<File> file;
      VALISE_RETURN_IF_ERROR(
          CreateOnDrive(dirs_[d].get(), pf.path, false, &file));
      VALISE_RETURN_IF_ERROR(file->SetModeAndTime(src.mode, src.mtime_ns));
      if (!syncfs_[d]) VALISE_RETURN_IF_ERROR(file->Sync());
      file_digests_[src.entry] = none;
    }
  }
  return Status::OK();
}

Status PackWriter::Setup() {
  VALISE_RETURN_IF_ERROR(
      ParityCode::Create(static_cast<int>(k_), static_cast<int>(m_), &code_));
  file_digests_.assign(plan_->entry_paths.size(), {});
  // The headers (a resumed pack writes the same bytes again).
  index_ = std::make_unique<ChunkIndexV2Writer>(index_file_, layout_.chunk_size,
                                                plan_->entry_sizes);
  VALISE_RETURN_IF_ERROR(index_->Begin());
  const std::string header = EncodeParityDigestsHeader(
      ParityDigestsHeader{layout_.chunk_size, layout_.stripes, m_});
  VALISE_RETURN_IF_ERROR(
      parity_file_->WriteAt(0, header.data(), header.size()));
  VALISE_RETURN_IF_ERROR(OpenDrives());

  // Buffers, the engine, the slots, the workers.
  const unsigned window = PickWindow(opt_, k_ + m_);
  pool_ = std::make_unique<BufferPool>(window * (k_ + m_), layout_.chunk_size);
  std::string note;
  std::unique_ptr<IoQueue> queue = fs_->NewIoQueue(opt_.queue, &note);
  summary_->queue_note = note;
  fixed_ = queue->RegisterBuffers(pool_->iovecs()).ok();
  const int engine_drives = static_cast<int>(2 * k_ + m_);
  engine_ = std::make_unique<IoEngine>(std::move(queue), engine_drives,
                                       opt_.engine, fs_);
  for (int e = 0; e < engine_drives; ++e) engine_->SetDepth(e, window);
  pending_.assign(engine_drives, {});
  slots_.resize(window);
  for (uint32_t i = 0; i < window; ++i) {
    Slot& s = slots_[i];
    s.reads.resize(k_);
    s.writes.resize(k_ + m_);
    s.read_tags.resize(k_);
    s.write_tags.resize(k_ + m_);
    for (uint32_t j = 0; j < k_ + m_; ++j) {
      s.write_tags[j] = IoTag{i, j, true};
      if (j < k_) s.read_tags[j] = IoTag{i, j, false};
    }
  }
  work_ = std::make_unique<StripeWork>(
      plan_, &map_, code_.get(), opt_.digests, index_.get(), parity_file_,
      &file_digests_, PickThreads(opt_), [this] { engine_->Wake(); });

  journaled_files_.assign(k_, 0);
  if (resume_ != nullptr) VALISE_RETURN_IF_ERROR(Resume());
  VALISE_RETURN_IF_ERROR(CreateEmptyFiles());
  if (opt_.checkpoint_bytes > 0) {
    checkpoint_every_ = std::max<uint64_t>(
        1, opt_.checkpoint_bytes / (uint64_t{k_} * layout_.chunk_size));
  }

  std::vector<std::string> names;
  std::vector<uint64_t> planned;
  for (const DataDriveLayout& d : layout_.data) {
    names.push_back(d.label);
    planned.push_back(d.bytes);
  }
  for (const ParityDriveLayout& p : layout_.parity) {
    names.push_back(p.label);
    planned.push_back(layout_.stripes * layout_.chunk_size);
  }
  progress_ = std::make_unique<Progress>(names, planned, opt_.progress);
  summary_->drive_bytes.assign(k_ + m_, 0);
  return Status::OK();
}

Status PackWriter::ReadWhole(File* file, uint64_t offset, uint64_t n,
                             char* buf) {
  uint64_t done = 0;
  while (done < n) {
    size_t got = 0;
    VALISE_RETURN_IF_ERROR(
        file->ReadAt(offset + done, n - done, buf + done, &got));
    if (got == 0) {
      return Status::Corruption(file->path(),
                                "ends at " + std::to_string(offset + done) +
                                    ", expected " + std::to_string(offset + n) +
                                    " bytes or more");
    }
    done += got;
  }
  return Status::OK();
}

// Where the interrupted pack's journal left it: the finished files' and
// parity files' digests, the chunk index of the finished files, then the
// files and parity files that straddle the resume point.
Status PackWriter::Resume() {
  const PackResume& r = *resume_;
  start_ = next_stripe_ = retired_ = done_prefix_ = checkpointed_ =
      std::min(r.stripes_done, layout_.stripes);
  work_->StartAt(start_);
  for (uint32_t d = 0; d < k_; ++d) {
    size_t& cursor = journaled_files_[d];
    for (uint32_t f = 0; f < layout_.data[d].files.size(); ++f) {
      PackSource& src = plan_->sources[d][f];
      if (src.entry >= r.files.size() || !r.files[src.entry]) continue;
      const PackCheckpoint::File& done = *r.files[src.entry];
      file_digests_[src.entry] = done.digests;
      src.mode = done.mode;
      src.mtime_ns = done.mtime_ns;
      if (cursor == f) ++cursor;
    }
  }
  for (uint32_t j = 0; j < m_ && j < r.segments.size(); ++j) {
    std::vector<ParitySegment>& segs = plan_->layout.parity[j].segments;
    for (size_t g = 0; g < segs.size() && g < r.segments[j].size(); ++g) {
      if (r.segments[j][g]) segs[g].sha256 = *r.segments[j][g];
    }
  }
  journaled_segments_ = static_cast<size_t>(start_ / layout_.segment_stripes);
  VALISE_RETURN_IF_ERROR(RestoreIndex());
  if (start_ >= layout_.stripes) return Status::OK();
  for (uint32_t d = 0; d < k_; ++d) {
    ChunkRef at;
    if (map_.Locate(d, start_, &at) && at.chunk > 0) {
      VALISE_RETURN_IF_ERROR(ReplayDataFile(d, at));
    }
  }
  size_t segment;
  uint64_t offset;
  LocateParity(layout_, start_, &segment, &offset);
  for (uint32_t j = 0; j < m_ && offset > 0; ++j) {
    const uint64_t first = layout_.parity[j].segments[segment].first_stripe;
    VALISE_RETURN_IF_ERROR(ReopenParityFile(j, segment, first, start_));
  }
  return Status::OK();
}

// The chunk index writer counts what it is given: the digests of the files
// finished before the resume point are read back from the index file and
// given to it again (the same bytes at the same places).
Status PackWriter::RestoreIndex() {
  std::vector<uint64_t> first(plan_->entry_sizes.size() + 1, 0);
  for (size_t e = 0; e < plan_->entry_sizes.size(); ++e) {
    first[e + 1] =
        first[e] + PackChunksOf(plan_->entry_sizes[e], layout_.chunk_size);
  }
  constexpr uint64_t kBatch = 4096;
  std::vector<ChunkSha256> batch(kBatch);
  for (size_t e = 0; e < file_digests_.size(); ++e) {
    if (file_digests_[e].empty()) continue;  // not finished before
    const uint64_t n = first[e + 1] - first[e];
    for (uint64_t c = 0; c < n; c += kBatch) {
      const uint64_t count = std::min(kBatch, n - c);
      VALISE_RETURN_IF_ERROR(
          ReadWhole(index_file_, kChunkIndexV2HeaderSize + (first[e] + c) * 32,
                    count * 32, reinterpret_cast<char*>(batch.data())));
      VALISE_RETURN_IF_ERROR(index_->Write(e, c, batch.data(), count));
    }
  }
  return Status::OK();
}

// Data drive d's file straddling the resume point, at chunk `at.chunk`:
// kept, its chunks before it read from the dataset and from the drive
// (durable since the checkpoint), compared (a dataset changed since would
// not match the parity already written) and hashed; the rest goes through
// the stripes. (Its chunks' digests are not in the chunk index yet: they
// are recorded a batch at a time.)
Status PackWriter::ReplayDataFile(uint32_t d, const ChunkRef& at) {
  VALISE_RETURN_IF_ERROR(OpenDataFile(d, at.file, /*truncate=*/false));
  OpenFile& of = data_files_.at({d, at.file});
  const PackSource& src = plan_->sources[d][at.file];
  char* buf = pool_->data(0);
  char* copy = pool_->data(1);
  for (uint64_t c = 0; c < at.chunk; ++c) {
    const uint64_t off = c * layout_.chunk_size;
    const uint64_t len = std::min(layout_.chunk_size, of.size - off);
    VALISE_RETURN_IF_ERROR(ReadWhole(of.src.get(), off, len, buf));
    VALISE_RETURN_IF_ERROR(ReadWhole(of.dst.get(), off, len, copy));
    if (std::memcmp(buf, copy, len) != 0) {
      return Status::Corruption(
          src.path, "changed since the interrupted pack (chunk " +
                        std::to_string(c) + " differs from its copy on " +
                        plan_->data_roots[d] +
                        "): empty the drives and start again");
    }
    std::fill(buf + len, buf + layout_.chunk_size, 0);
    VALISE_RETURN_IF_ERROR(work_->ReplayData(d, map_.StripeOf(d, at.file, c),
                                             reinterpret_cast<uint8_t*>(buf)));
  }
  of.reads_left -= at.chunk;
  of.writes_left -= at.chunk;
  return Status::OK();
}

// Parity drive j's file straddling the resume point: kept, its stripes
// [first, until) read back and checked against M.parity to finish its
// SHA-256.
Status PackWriter::ReopenParityFile(uint32_t j, size_t segment, uint64_t first,
                                    uint64_t until) {
  const ParitySegment& seg = layout_.parity[j].segments[segment];
  OpenFile of;
  of.size = seg.stripes * layout_.chunk_size;
  of.writes_left = seg.stripes - (until - first);
  VALISE_RETURN_IF_ERROR(CreateOnDrive(dirs_[k_ + j].get(), seg.path,
                                       opt_.direct, &of.dst,
                                       /*truncate=*/false));
  const ParityDigestsHeader h{layout_.chunk_size, layout_.stripes, m_};
  char* buf = pool_->data(0);
  for (uint64_t s = first; s < until; ++s) {
    VALISE_RETURN_IF_ERROR(ReadWhole(of.dst.get(),
                                     (s - first) * layout_.chunk_size,
                                     layout_.chunk_size, buf));
    Sha256Bytes want;
    VALISE_RETURN_IF_ERROR(ReadWhole(parity_file_, ParityDigestOffset(h, s, j),
                                     32, reinterpret_cast<char*>(want.data())));
    if (Sha256Of(reinterpret_cast<uint8_t*>(buf), layout_.chunk_size) != want) {
      return Status::Corruption(
          seg.path, "on parity drive " + layout_.parity[j].label + ": stripe " +
                        std::to_string(s) +
                        " does not match its digest; empty the drives and "
                        "start again");
    }
    VALISE_RETURN_IF_ERROR(
        work_->ReplayParity(j, s, reinterpret_cast<uint8_t*>(buf)));
  }
  parity_files_[{j, segment}] = std::move(of);
  return Status::OK();
}

Status PackWriter::OpenDataFile(uint32_t d, uint32_t f, bool truncate) {
  const PackFile& pf = layout_.data[d].files[f];
  const PackSource& src = plan_->sources[d][f];
  OpenFile of;
  of.size = pf.size;
  of.reads_left = of.writes_left = PackChunksOf(pf.size, layout_.chunk_size);
  ReadOptions ro;
  ro.direct = opt_.direct;
  VALISE_RETURN_IF_ERROR(fs_->OpenForRead(src.path, ro, &of.src));
  const std::string parent = Parent(pf.path);
  if (!parent.empty() && made_dirs_[d].insert(parent).second) {
    VALISE_RETURN_IF_ERROR(dirs_[d]->CreateDirs(parent));
  }
  VALISE_RETURN_IF_ERROR(CreateOnDrive(
      dirs_[d].get(), pf.path, opt_.direct && pf.size >= kDirectMinBytes,
      &of.dst, truncate));
  data_files_[{d, f}] = std::move(of);
  return Status::OK();
}

Status PackWriter::OpenParityFile(uint32_t j, size_t segment) {
  const ParitySegment& seg = layout_.parity[j].segments[segment];
  OpenFile of;
  of.size = seg.stripes * layout_.chunk_size;
  of.writes_left = seg.stripes;
  VALISE_RETURN_IF_ERROR(
      CreateOnDrive(dirs_[k_ + j].get(), seg.path, opt_.direct, &of.dst));
  parity_files_[{j, segment}] = std::move(of);
  return Status::OK();
}

Status PackWriter::StartStripe(Slot* slot, uint32_t si, uint64_t s) {
  *slot = Slot{true,
               s,
               0,
               0,
               0,
               false,
               std::move(slot->reads),
               std::move(slot->writes),
               std::move(slot->read_tags),
               std::move(slot->write_tags)};
  // Parity files begin with their first stripe.
  size_t segment;
  uint64_t offset;
  LocateParity(layout_, s, &segment, &offset);
  for (uint32_t j = 0; j < m_ && offset == 0; ++j) {
    VALISE_RETURN_IF_ERROR(OpenParityFile(j, segment));
  }
  for (uint32_t d = 0; d < k_; ++d) {
    ChunkRef ref;
    if (!map_.Locate(d, s, &ref)) {
      std::fill_n(Buffer(si, d), layout_.chunk_size, 0);  // zeros
      continue;
    }
    if (ref.chunk == 0) VALISE_RETURN_IF_ERROR(OpenDataFile(d, ref.file));
    Transfer& t = slot->reads[d];
    t = Transfer{};
    t.op = IoOp::kRead;
    t.file = data_files_[{d, ref.file}].src.get();
    t.offset = ref.offset;
    t.buf = reinterpret_cast<char*>(Buffer(si, d));
    t.len = static_cast<uint32_t>(layout_.chunk_size);
    t.buf_index = BufferIndex(si, d);
    t.drive = static_cast<int>(d);
    t.tag = &slot->read_tags[d];
    ++slot->reads_left;
    ++slot->writes_left;
    ++slot->hashes_left;
    Submit(&t);
  }
  slot->writes_left += m_;
  slot->hashes_left += m_;
  if (slot->reads_left == 0) QueueParity(slot);  // cannot happen: s < stripes
  return Status::OK();
}

void PackWriter::Admit() {
  for (uint32_t i = 0; i < slots_.size(); ++i) {
    if (!fatal_.ok() || stopping_ || next_stripe_ >= layout_.stripes) return;
    if (slots_[i].active) continue;
    Status s = StartStripe(&slots_[i], i, next_stripe_++);
    if (!s.ok()) {
      Fail(s);
      // Reads already submitted finish; the slot retires once they land.
      if (slots_[i].reads_left == 0) slots_[i].active = false;
      return;
    }
  }
}

void PackWriter::Submit(Transfer* t) {
  if (!engine_->HasRoom(t->drive)) {
    pending_[t->drive].push_back(t);
    return;
  }
  Status s = engine_->Submit(t);
  if (!s.ok()) {
    t->status = s;
    OnTransfer(t);
  }
}

void PackWriter::SubmitPending() {
  for (size_t e = 0; e < pending_.size(); ++e) {
    std::vector<Transfer*> waiting;
    waiting.swap(pending_[e]);
    for (Transfer* t : waiting) Submit(t);
  }
}

void PackWriter::OnTransfer(Transfer* t) {
  if (t->late) return;  // already failed by its timeout
  const IoTag* tag = static_cast<const IoTag*>(t->tag);
  Slot* slot = &slots_[tag->slot];
  if (tag->write) {
    OnWrite(slot, tag->member, t);
  } else {
    OnRead(slot, tag->member, t);
  }
}

void PackWriter::OnRead(Slot* slot, uint32_t d, Transfer* t) {
  --slot->reads_left;
  ChunkRef ref;
  map_.Locate(d, slot->stripe, &ref);
  OpenFile& of = data_files_[{d, ref.file}];
  Status s = t->status;
  if (s.ok() && t->done != ref.length) {
    s = Status::Corruption(plan_->sources[d][ref.file].path,
                           "read " + std::to_string(t->done) + " bytes at " +
                               std::to_string(ref.offset) + ", expected " +
                               std::to_string(ref.length) +
                               ": the file changed while packed");
  }
  if (s.ok() && --of.reads_left == 0) s = FinishSource(d, ref.file);
  if (!s.ok() || !fatal_.ok()) {
    Fail(s);
    slot->writes_left -= 1;
    slot->hashes_left -= 1;
    MaybeRetire(slot);
    return;
  }
  uint8_t* buf = reinterpret_cast<uint8_t*>(t->buf);
  std::fill(buf + ref.length, buf + layout_.chunk_size, 0);
  // The data drive's write, from the same buffer.
  const uint32_t si = static_cast<uint32_t>(slot - slots_.data());
  Transfer& w = slot->writes[d];
  w = Transfer{};
  w.op = IoOp::kWrite;
  w.file = of.dst.get();
  w.offset = ref.offset;
  w.buf = t->buf;
  w.len = static_cast<uint32_t>(of.dst->is_direct()
                                    ? (ref.length + kDirectAlignment - 1) /
                                          kDirectAlignment * kDirectAlignment
                                    : ref.length);
  w.buf_index = BufferIndex(si, d);
  w.drive = static_cast<int>(k_ + d);
  w.tag = &slot->write_tags[d];
  Submit(&w);
  work_->HashData(d, slot->stripe, buf);
  if (slot->reads_left == 0) QueueParity(slot);
}

void PackWriter::QueueParity(Slot* slot) {
  if (m_ == 0) {
    slot->encoded = true;
    MaybeRetire(slot);
    return;
  }
  const uint32_t si = static_cast<uint32_t>(slot - slots_.data());
  std::vector<const uint8_t*> data;
  std::vector<uint8_t*> parity;
  for (uint32_t d = 0; d < k_; ++d) data.push_back(Buffer(si, d));
  for (uint32_t j = 0; j < m_; ++j) parity.push_back(Buffer(si, k_ + j));
  work_->Encode(slot->stripe, std::move(data), std::move(parity));
}

void PackWriter::OnEvent(const StripeWork::Event& e) {
  // Stripes are in slots; find the one holding e.stripe.
  Slot* slot = nullptr;
  for (Slot& s : slots_) {
    if (s.active && s.stripe == e.stripe) slot = &s;
  }
  if (slot == nullptr) return;  // cannot happen: a slot waits for its work
  if (e.kind == StripeWork::Event::kEncoded) {
    slot->encoded = true;
    const uint32_t si = static_cast<uint32_t>(slot - slots_.data());
    size_t segment;
    uint64_t offset;
    LocateParity(layout_, slot->stripe, &segment, &offset);
    for (uint32_t j = 0; j < m_; ++j) {
      Transfer& w = slot->writes[k_ + j];
      w = Transfer{};
      w.op = IoOp::kWrite;
      w.file = parity_files_[{j, segment}].dst.get();
      w.offset = offset;
      w.buf = reinterpret_cast<char*>(Buffer(si, k_ + j));
      w.len = static_cast<uint32_t>(layout_.chunk_size);
      w.buf_index = BufferIndex(si, k_ + j);
      w.drive = static_cast<int>(2 * k_ + j);
      w.tag = &slot->write_tags[k_ + j];
      if (fatal_.ok()) {
        Submit(&w);
        work_->HashParity(j, slot->stripe, Buffer(si, k_ + j));
      } else {
        slot->writes_left -= 1;
        slot->hashes_left -= 1;
      }
    }
  } else {
    --slot->hashes_left;
    if (!e.status.ok()) Fail(e.status);
  }
  MaybeRetire(slot);
}

void PackWriter::OnWrite(Slot* slot, uint32_t member, Transfer* t) {
  --slot->writes_left;
  Status s = t->status;
  if (s.ok() && t->done != t->len) {
    s = Status::IOError(t->file->path(), "short write");
  }
  if (s.ok()) {
    if (member < k_) {
      ChunkRef ref;
      map_.Locate(member, slot->stripe, &ref);
      summary_->drive_bytes[member] += ref.length;
      progress_->Add(static_cast<int>(member), ref.length);
      if (--data_files_[{member, ref.file}].writes_left == 0) {
        s = FinishDataFile(member, ref.file);
      }
    } else {
      const uint32_t j = member - k_;
      size_t segment;
      uint64_t offset;
      LocateParity(layout_, slot->stripe, &segment, &offset);
      summary_->drive_bytes[member] += layout_.chunk_size;
      progress_->Add(static_cast<int>(member), layout_.chunk_size);
      if (--parity_files_[{j, segment}].writes_left == 0) {
        s = FinishParityFile(j, segment);
      }
    }
  }
  if (!s.ok()) Fail(s);
  MaybeRetire(slot);
}

Status PackWriter::FinishSource(uint32_t d, uint32_t f) {
  OpenFile& of = data_files_.at({d, f});
  const PackSource& src = plan_->sources[d][f];
  FileInfo info;
  VALISE_RETURN_IF_ERROR(fs_->Stat(src.path, &info));
  if (info.size != of.size || info.mtime_ns != src.mtime_ns) {
    return Status::Corruption(src.path,
                              "changed while packed (size or mtime): pack "
                              "a dataset nothing writes to");
  }
  of.src.reset();
  return Status::OK();
}

Status PackWriter::FinishDataFile(uint32_t d, uint32_t f) {
  auto it = data_files_.find({d, f});
  OpenFile& of = it->second;
  const PackSource& src = plan_->sources[d][f];
  if (of.dst->is_direct() && of.size % kDirectAlignment != 0) {
    VALISE_RETURN_IF_ERROR(of.dst->Truncate(of.size));  // the padded tail
  }
  VALISE_RETURN_IF_ERROR(of.dst->SetModeAndTime(src.mode, src.mtime_ns));
  if (!syncfs_[d]) VALISE_RETURN_IF_ERROR(of.dst->Sync());
  // Its last read landed before its last write was issued: the source is
  // closed already.
  data_files_.erase(it);
  return Status::OK();
}

Status PackWriter::FinishParityFile(uint32_t j, size_t segment) {
  auto it = parity_files_.find({j, segment});
  // Read-only: nothing should ever write a parity file again.
  const int64_t now_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count();
  VALISE_RETURN_IF_ERROR(it->second.dst->SetModeAndTime(0444, now_ns));
  if (!syncfs_[k_ + j]) VALISE_RETURN_IF_ERROR(it->second.dst->Sync());
  parity_files_.erase(it);
  return Status::OK();
}

void PackWriter::MaybeRetire(Slot* slot) {
  if (!slot->active || slot->reads_left > 0 || slot->writes_left > 0 ||
      slot->hashes_left > 0) {
    return;
  }
  if (!slot->encoded && fatal_.ok()) return;
  slot->active = false;
  ++retired_;
  if (slot->encoded) NoteRetired(slot->stripe);
}

void PackWriter::NoteRetired(uint64_t stripe) {
  retired_ahead_.insert(stripe);
  while (!retired_ahead_.empty() && *retired_ahead_.begin() == done_prefix_) {
    retired_ahead_.erase(retired_ahead_.begin());
    ++done_prefix_;
  }
}

// Stripes [0, done_prefix_) have retired: makes them durable, then tells
// the caller what finished since the last checkpoint.
Status PackWriter::Checkpoint() {
  const uint64_t upto = done_prefix_;
  for (size_t i = 0; i < dirs_.size(); ++i) {
    if (syncfs_[i]) {
      VALISE_RETURN_IF_ERROR(dirs_[i]->SyncFs());
      continue;
    }
    // Files finished were synced one by one; the open ones now.
    for (auto& [key, of] : data_files_) {
      if (key.first == i && of.dst) VALISE_RETURN_IF_ERROR(of.dst->Sync());
    }
    for (auto& [key, of] : parity_files_) {
      if (k_ + key.first == i && of.dst) {
        VALISE_RETURN_IF_ERROR(of.dst->Sync());
      }
    }
    // Their names need their directories'.
    if (i < k_) {
      for (const std::string& d : made_dirs_[i]) {
        for (size_t at = d.find('/'); at != std::string::npos;
             at = d.find('/', at + 1)) {
          VALISE_RETURN_IF_ERROR(dirs_[i]->SyncDir(d.substr(0, at)));
        }
        VALISE_RETURN_IF_ERROR(dirs_[i]->SyncDir(d));
      }
    } else {
      VALISE_RETURN_IF_ERROR(dirs_[i]->SyncDir(std::string(kParityDir)));
    }
    VALISE_RETURN_IF_ERROR(dirs_[i]->SyncDir(""));
  }
  VALISE_RETURN_IF_ERROR(index_file_->Sync());
  VALISE_RETURN_IF_ERROR(parity_file_->Sync());
  PackCheckpoint c;
  c.stripes = upto;
  // Files in layout order: finished once their last chunk is below `upto`
  // (an empty file was made at the start).
  for (uint32_t d = 0; d < k_; ++d) {
    const std::vector<PackFile>& files = layout_.data[d].files;
    size_t& f = journaled_files_[d];
    for (; f < files.size(); ++f) {
      const uint64_t chunks = PackChunksOf(files[f].size, layout_.chunk_size);
      if (chunks > 0 &&
          map_.StripeOf(d, static_cast<uint32_t>(f), chunks - 1) >= upto) {
        break;
      }
      const PackSource& src = plan_->sources[d][f];
      c.files.push_back(PackCheckpoint::File{src.entry, src.mode, src.mtime_ns,
                                             file_digests_[src.entry]});
    }
  }
  for (uint32_t j = 0; j < m_; ++j) {
    const std::vector<ParitySegment>& segs = layout_.parity[j].segments;
    for (size_t g = journaled_segments_; g < segs.size(); ++g) {
      if (segs[g].first_stripe + segs[g].stripes > upto) break;
      c.segments.push_back(PackCheckpoint::Segment{j, g, segs[g].sha256});
    }
  }
  while (journaled_segments_ < (m_ ? layout_.parity[0].segments.size() : 0) &&
         layout_.parity[0].segments[journaled_segments_].first_stripe +
                 layout_.parity[0].segments[journaled_segments_].stripes <=
             upto) {
    ++journaled_segments_;
  }
  checkpointed_ = upto;
  return opt_.checkpoint ? opt_.checkpoint(c) : Status::OK();
}

void PackWriter::Fail(const Status& s) {
  if (!s.ok() && fatal_.ok()) fatal_ = s;
}

// Whether anything is still running: I/O (apart from requests a timeout
// abandoned) or work on the threads whose event has not been handled.
bool PackWriter::Busy() {
  if (engine_->in_flight() > engine_->timed_out()) return true;
  for (const auto& p : pending_) {
    if (!p.empty()) return true;
  }
  return work_->pending() > 0;
}

Status PackWriter::Describe(Manifest* manifest) {
  *manifest = Manifest(opt_.digests);
  std::vector<int64_t> mtimes(plan_->entry_paths.size(), 0);
  for (uint32_t d = 0; d < k_; ++d) {
    for (const PackSource& src : plan_->sources[d]) {
      mtimes[src.entry] = src.mtime_ns;
    }
  }
  for (size_t e = 0; e < plan_->entry_paths.size(); ++e) {
    manifest->Add(plan_->entry_paths[e], plan_->entry_sizes[e], mtimes[e],
                  file_digests_[e]);
    summary_->bytes += plan_->entry_sizes[e];
  }
  summary_->files = plan_->entry_paths.size();
  for (uint32_t j = 0; j < m_; ++j) {
    summary_->parity_bytes += summary_->drive_bytes[k_ + j];
  }
  return manifest->Finish();
}

void PackWriter::Fill() {
  if (opt_.cancel != nullptr && opt_.cancel->load()) stopping_ = true;
  Admit();
  SubmitPending();
}

// Called with nothing in flight: the run ends once every stripe retired,
// or, failed or interrupted, once the stripes admitted have settled.
bool PackWriter::HasWork() {
  if (retired_ == layout_.stripes) return false;
  if ((!fatal_.ok() || stopping_) && retired_ == next_stripe_ && !Busy()) {
    return false;
  }
  return fatal_.ok() || Busy();
}

// Nothing in flight: the threads are hashing or encoding.
void PackWriter::Idle() {
  work_->WaitForEvents(100'000);
  HandleEvents();
}

void PackWriter::Complete(Transfer* t, uint64_t) { OnTransfer(t); }

void PackWriter::Reaped() { HandleEvents(); }

void PackWriter::HandleEvents() {
  std::vector<StripeWork::Event> events;
  work_->Drain(&events);
  for (const StripeWork::Event& e : events) OnEvent(e);
  if (fatal_.ok() && checkpoint_every_ > 0 &&
      done_prefix_ >= checkpointed_ + checkpoint_every_ &&
      done_prefix_ < layout_.stripes) {
    Fail(Checkpoint());
  }
  progress_->Tick();
}

Status PackWriter::Run(Manifest* manifest, PackSummary* summary) {
  summary_ = summary;
  const uint64_t start_us = fs_->NowMicros();
  VALISE_RETURN_IF_ERROR(Setup());
  // A failure of the queue itself: nothing more will complete.
  Fail(DriveEngine(engine_.get(), this, fs_));
  work_.reset();  // joins the threads
  progress_->Finish();
  VALISE_RETURN_IF_ERROR(fatal_);
  // The last checkpoint: everything written so far (all of it, unless
  // interrupted).
  VALISE_RETURN_IF_ERROR(Checkpoint());
  if (done_prefix_ < layout_.stripes) {
    return Status::Aborted("pack",
                           "interrupted; run the same command again to "
                           "resume (" +
                               std::to_string(done_prefix_) + " of " +
                               std::to_string(layout_.stripes) +
                               " stripes written)");
  }
  VALISE_RETURN_IF_ERROR(index_->Finish());
  summary->seconds = double(fs_->NowMicros() - start_us) / 1e6;
  return Describe(manifest);
}

}  // namespace

Status WritePack(FileSystem* fs, PackPlan* plan, const PackOptions& opt,
                 const PackResume* resume, File* chunk_index,
                 File* parity_digests, Manifest* manifest,
                 PackSummary* summary) {
  *summary = PackSummary();
  PackWriter writer(fs, plan, opt, resume, chunk_index, parity_digests);
  return writer.Run(manifest, summary);
}

}  // namespace valise
