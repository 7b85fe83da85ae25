// Private to src/pipeline (progress.cc) and its tests: from a run's
// counters sampled over time to what the progress shows — each drive's
// recent rate, whether it has stalled, its ETA, the total's ETA, and at
// the end each drive's average rate. No clock and no terminal: the caller
// passes the time of every sample, so tests drive it with a fake clock.
//
// The rules (issue 14, "progress that holds up in production"):
//  - A drive's ETA is its bytes left over its rate of the last few seconds
//    (RateWindow); 0 when it is finished; unknown (negative) when its size
//    is unknown, it has no rate yet, or it has stalled.
//  - A drive has stalled when it is not finished and its byte count has not
//    grown for `stall_seconds`. A drive is finished when every file given
//    to it is done (SetFiles), or, where no file count is known, when its
//    bytes reach its planned bytes: a drive whose last files failed ends
//    below its planned bytes and must not then read "stalled".
//  - The total's ETA is the slowest drive's (the run ends when its last
//    drive does; the total bytes over the total rate would promise the
//    end of a run whose fast drives finish early far too soon); unknown
//    while any unfinished drive's is.
//  - The final frame's rates are averages: each drive's bytes over the time
//    until its last byte arrived (a drive that finished early is not
//    charged for the others' time), the total's over the whole run.
//
// Thread safety: a ProgressTracker is used by one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/progress_render.h"

namespace valise {

// One drive's counters at a sample.
struct DriveCounters {
  uint64_t bytes = 0;   // bytes read so far
  uint64_t files = 0;   // files done (read, failed or given up)
  uint64_t errors = 0;  // of those, files whose read failed
};

class ProgressTracker {
 public:
  // `planned[i]`: drive i's planned bytes, or kUnknownSize.
  // REQUIRES: names.size() == planned.size().
  ProgressTracker(std::vector<std::string> names, std::vector<uint64_t> planned,
                  double rate_window_seconds = 5.0,
                  double stall_seconds = 10.0);

  size_t size() const { return names_.size(); }
  // Files given to drive `d` (added up over calls). Ignored out of range.
  void AddPlannedFiles(size_t d, uint64_t files);

  // The counters at time `t` (seconds since the run began).
  // REQUIRES: t does not decrease between calls; counters.size() == size().
  void Sample(double t, const std::vector<DriveCounters>& counters);

  // The frame at the last sample: drives then total. `final`: rates are
  // averages and ETAs 0 for drives that finished.
  ProgressFrame Frame(bool final = false) const;

 private:
  struct Drive {
    std::string name;
    uint64_t planned = 0;
    uint64_t files_planned = 0;
    bool files_known = false;
    DriveCounters now;
    double last_moved = 0;  // when `now.bytes` last grew
    RateWindow rate;
  };
  bool Finished(const Drive& d) const;
  std::vector<Drive> drives_;
  std::vector<std::string> names_;
  RateWindow total_rate_;
  double stall_seconds_;
  double t_ = 0;
};

}  // namespace valise
