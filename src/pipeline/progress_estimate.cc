// ProgressTracker (progress_estimate.h): rates, stalls and ETAs of a run's
// drives from counters sampled at explicit times.
#include "pipeline/progress_estimate.h"

#include <algorithm>
#include <cmath>

#include "valise/report.h"

namespace valise {

ProgressTracker::ProgressTracker(std::vector<std::string> names,
                                 std::vector<uint64_t> planned,
                                 double rate_window_seconds,
                                 double stall_seconds)
    : names_(std::move(names)),
      total_rate_(rate_window_seconds),
      stall_seconds_(stall_seconds) {
  names_.resize(std::min(names_.size(), planned.size()));
  for (size_t i = 0; i < names_.size(); ++i) {
    Drive d;
    d.name = names_[i];
    d.planned = planned[i];
    d.rate = RateWindow(rate_window_seconds);
    drives_.push_back(std::move(d));
  }
}

void ProgressTracker::AddPlannedFiles(size_t d, uint64_t files) {
  if (d >= drives_.size()) return;
  drives_[d].files_planned += files;
  drives_[d].files_known = true;
}

bool ProgressTracker::Finished(const Drive& d) const {
  if (d.files_known) return d.now.files >= d.files_planned;
  return d.planned != kUnknownSize && d.now.bytes >= d.planned;
}

void ProgressTracker::Sample(double t, const std::vector<DriveCounters>& c) {
  t_ = t;
  uint64_t total = 0;
  for (size_t i = 0; i < drives_.size() && i < c.size(); ++i) {
    Drive& d = drives_[i];
    if (c[i].bytes > d.now.bytes) d.last_moved = t;
    d.now = c[i];
    d.rate.Sample(t, d.now.bytes);
    total += d.now.bytes;
  }
  total_rate_.Sample(t, total);
}

ProgressFrame ProgressTracker::Frame(bool final) const {
  ProgressFrame f;
  ProgressLine& total = f.total;
  total.name = "total";
  total.has_eta = true;
  total.eta = 0;
  total.average = final;
  for (const Drive& d : drives_) {
    ProgressLine l;
    l.name = d.name;
    l.done = d.now.bytes;
    l.planned = d.planned;
    l.files = d.now.files;
    l.files_planned = d.files_planned;
    l.errors = d.now.errors;
    l.has_eta = true;
    l.average = final;
    const bool finished = Finished(d);
    if (final) {
      // Over the time until its last byte: a drive done early is not
      // charged for the others' time. Nothing read: 0.
      const double until = finished ? d.last_moved : t_;
      l.rate = until > 0 ? static_cast<double>(l.done) / until : 0;
    } else {
      l.rate = d.rate.Rate();
    }
    l.stalled = !final && !finished && t_ - d.last_moved >= stall_seconds_;
    if (finished || (d.planned != kUnknownSize && d.now.bytes >= d.planned)) {
      l.eta = 0;
    } else if (d.planned == kUnknownSize || l.stalled || final ||
               !(l.rate > 0) || !std::isfinite(l.rate)) {
      l.eta = -1;
    } else {
      l.eta = static_cast<double>(d.planned - d.now.bytes) / l.rate;
    }
    // The slowest drive's; unknown while any unfinished drive's is.
    if (total.eta >= 0) total.eta = l.eta < 0 ? -1 : std::max(total.eta, l.eta);
    total.done += l.done;
    total.planned = total.planned == kUnknownSize || d.planned == kUnknownSize
                        ? kUnknownSize
                        : total.planned + d.planned;
    total.files += l.files;
    total.files_planned += l.files_planned;
    total.errors += l.errors;
    f.drives.push_back(std::move(l));
  }
  total.rate = final ? (t_ > 0 ? static_cast<double>(total.done) / t_ : 0)
                     : total_rate_.Rate();
  return f;
}

}  // namespace valise
