// FileOpener: see file_opener.h.
#include "pipeline/file_opener.h"

#include <algorithm>

namespace valise {

size_t OpenAheadPerDrive(size_t drives) {
  if (drives == 0) return 0;
  return std::clamp<size_t>(16 / drives, 1, 8);
}

FileOpener::FileOpener(const std::vector<std::vector<ReadJob>>& per_drive,
                       size_t ahead, OpenFn open)
    : per_drive_(per_drive),
      ahead_(ahead),
      open_(std::move(open)),
      drives_(per_drive.size()) {
  if (ahead_ > 0) thread_ = std::thread([this] { Loop(); });
}

FileOpener::~FileOpener() { Stop(); }

void FileOpener::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    quit_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

size_t FileOpener::opened_ahead() const {
  std::lock_guard<std::mutex> l(mu_);
  return opened_ahead_;
}

FileOpener::Opened FileOpener::Take(int d, size_t i) {
  std::unique_lock<std::mutex> l(mu_);
  DriveState& ds = drives_[d];
  ds.taken = i + 1;
  if (i >= ds.claimed) {
    // The thread has not come to it: open it here, and let the thread go
    // on from the next one.
    ds.claimed = i + 1;
    l.unlock();
    cv_.notify_all();
    Opened o;
    open_(per_drive_[d][i], &o);
    return o;
  }
  cv_.wait(l, [&] { return !ds.ready.empty(); });
  Opened o = std::move(ds.ready.front());
  ds.ready.pop_front();
  l.unlock();
  cv_.notify_all();  // room for one more ahead
  return o;
}

FileOpener::Dropped FileOpener::Drop(int d, LateFn late) {
  Dropped out;
  std::lock_guard<std::mutex> l(mu_);
  DriveState& ds = drives_[d];
  ds.dropped = true;
  ds.late = std::move(late);
  size_t i = ds.taken;
  for (Opened& o : ds.ready) out.opened.emplace_back(i++, std::move(o));
  ds.ready.clear();
  if (busy_drive_ == d) out.under_way = busy_job_;
  return out;
}

// A drive with a job to open ahead, round robin from the one after the
// last; false if none.
bool FileOpener::PickLocked(int* d) {
  const int n = static_cast<int>(drives_.size());
  for (int k = 0; k < n; ++k) {
    const int c = (next_drive_ + k) % n;
    const DriveState& ds = drives_[c];
    if (!ds.dropped && ds.claimed < per_drive_[c].size() &&
        ds.claimed < ds.taken + ahead_) {
      *d = c;
      next_drive_ = (c + 1) % n;
      return true;
    }
  }
  return false;
}

void FileOpener::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    int d = -1;
    cv_.wait(l, [&] { return quit_ || PickLocked(&d); });
    if (quit_) return;
    DriveState& ds = drives_[d];
    const size_t i = ds.claimed++;
    busy_drive_ = d;
    busy_job_ = i;
    l.unlock();
    Opened o;
    open_(per_drive_[d][i], &o);
    l.lock();
    busy_drive_ = -1;
    busy_job_ = kNone;
    ++opened_ahead_;
    if (ds.dropped) {
      LateFn late = ds.late;
      l.unlock();
      late(per_drive_[d][i], std::move(o));
      l.lock();
    } else {
      ds.ready.push_back(std::move(o));
      cv_.notify_all();
    }
  }
}

}  // namespace valise
