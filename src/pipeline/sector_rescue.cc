// Sector rescue, after ddrescue: a chunk that failed with a media error
// (EIO after the engine's retries) is read again sector by sector
// (kDirectAlignment bytes), so that the range recorded is the sectors that
// really fail rather than the whole chunk; if every sector reads, the
// chunk was good after all and goes on like any chunk read. Sector reads
// go through the engine like any read, with its retries, into the chunk's
// own buffer, on the chunk's drive and within its depth.
//
// The bad sectors of one chunk are merged into ranges (adjacent sectors
// with the same errno) and recorded on the file, which has failed; the
// chunk is delivered as a hole. A sector read that times out gives the
// drive up as any timed-out read does; its buffer stays with the kernel
// until the late completion, and only then goes back to the pool. Sector
// reads still queued when their drive is abandoned (it stalled on another
// file, it is gone, the run stopped) are never sent, and the file fails
// as the drive's other unread files do (stalled, cancelled): a sector not
// read is not a bad one.
#include "pipeline/sector_rescue.h"

#include <algorithm>

namespace valise {

SectorRescue::SectorRescue(Host* host, RunState* rs, IoEngine* engine,
                           bool fixed, int num_drives)
    : host_(host),
      rs_(rs),
      engine_(engine),
      fixed_(fixed),
      queue_(num_drives) {}

bool SectorRescue::Queued() const {
  for (const auto& q : queue_) {
    if (!q.empty()) return true;
  }
  return false;
}

void SectorRescue::Start(FileState* f, int buf, uint64_t offset, uint32_t want,
                         int d) {
  Rescue& r = rescues_.emplace_back();
  r.f = f;
  r.d = d;
  r.buf = buf;
  r.offset = offset;
  r.want = want;
  for (uint32_t at = 0; at < want; at += kDirectAlignment) {
    Transfer& t = transfers_.emplace_back();
    t.op = IoOp::kRead;
    t.file = f->file.get();
    t.offset = offset + at;
    t.buf = rs_->pool->data(buf) + at;
    t.len = static_cast<uint32_t>(kDirectAlignment);
    if (!f->file->is_direct()) {
      t.len = std::min<uint32_t>(t.len, want - at);
    }
    t.buf_index = fixed_ ? buf : -1;  // an address inside a fixed buffer
    t.drive = d;
    t.tag = &r;
    ++r.pending;
    queue_[d].push_back(&t);
  }
}

void SectorRescue::Issue(int d) {
  while (!queue_[d].empty()) {
    Transfer* t = queue_[d].front();
    auto* r = static_cast<Rescue*>(t->tag);
    if (host_->DriveStopped(d)) {
      queue_[d].pop_front();
      r->unsent = true;
      if (--r->pending == 0) Finish(r);
      continue;
    }
    if (!engine_->HasRoom(d)) return;
    queue_[d].pop_front();
    Status s = engine_->Submit(t);
    if (!s.ok()) {
      if (r->first_error.ok()) r->first_error = s;
      r->bad.push_back(BadRange{t->offset, t->len, s.err()});
      if (--r->pending == 0) Finish(r);
    }
  }
}

void SectorRescue::OnRead(Transfer* t, uint64_t now_us) {
  auto* r = static_cast<Rescue*>(t->tag);
  const uint64_t end = r->offset + r->want;
  const uint64_t sector = std::min<uint64_t>(t->len, end - t->offset);
  if (t->late) {
    if (--r->held == 0 && r->pending == 0) rs_->pool->Put(r->buf);
    return;
  }
  host_->CountRead(t->drive, t->done, now_us);
  if (!t->status.ok() || t->done < sector) {
    Status s = t->status.ok()
                   ? Status::Corruption(t->file->path(), "short sector read")
                   : t->status;
    if (s.IsTimedOut()) s = s.WithContext(host_->DriveLabel(t->drive));
    if (r->first_error.ok()) r->first_error = s;
    if (s.IsTimedOut()) {
      ++r->held;
      r->stalled = true;
      // The drive is given up on as after any timed-out read: what it has
      // not read yet is reported stalled (without this, its current file
      // never finished and the run waited for it for ever).
      host_->DriveStalled(t->drive, t->status);
    }
    r->bad.push_back(BadRange{t->offset, sector, s.err()});
  }
  if (--r->pending == 0) Finish(r);
}

// Ends a rescue whose sector reads are all back.
void SectorRescue::Finish(Rescue* r) {
  FileState* f = r->f;
  const uint64_t index = r->offset / rs_->opt->chunk_size;
  if (r->bad.empty() && !r->stalled && !r->unsent) {
    host_->AcceptChunk(f, r->offset, r->want, r->buf);
    return;
  }
  std::sort(
      r->bad.begin(), r->bad.end(),
      [](const BadRange& a, const BadRange& b) { return a.offset < b.offset; });
  std::vector<BadRange> merged;
  for (const BadRange& b : r->bad) {
    if (!merged.empty() && merged.back().err == b.err &&
        merged.back().offset + merged.back().length == b.offset) {
      merged.back().length += b.length;
    } else {
      merged.push_back(b);
    }
  }
  {
    std::lock_guard<std::mutex> l(f->mu);
    for (const BadRange& b : merged) f->outcome.bad_ranges.push_back(b);
    f->outcome.stalled |= r->stalled;
  }
  // A sector read that timed out names itself. Sectors left unsent fail
  // the file as its drive's other unread files (stalled, cancelled, the
  // drive gone), never as unreadable ones: they were not read.
  if (r->stalled) Fail(f, r->first_error);
  if (r->unsent) host_->FailUnread(f, r->d);
  if (!r->first_error.ok()) Fail(f, r->first_error);
  if (r->held == 0) rs_->pool->Put(r->buf);  // else when the last comes back
  host_->DeliverHole(f, index);
}

}  // namespace valise
