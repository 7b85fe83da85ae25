// Whether a commit record (another host's, or an earlier run's) is of the
// file a StageRequest stages: what both destinations ask before they take
// a name another host committed as this file's.
//
// Thread safety: a pure function.
#pragma once

#include <cstddef>

#include "valise/destination.h"
#include "valise/journal.h"

namespace valise {

// True if record `r` has req's size and every digest of req's that r
// holds is equal (at least one compared). A record of another manifest's
// file under the name is not.
inline bool SameFileAs(const JournalRecord& r, const StageRequest& req) {
  if (r.size != req.size) return false;
  size_t compared = 0;
  for (const Digest& d : req.digests) {
    for (const Digest& rd : r.digests) {
      if (rd.type != d.type) continue;
      if (rd != d) return false;
      ++compared;
    }
  }
  return compared > 0;
}

}  // namespace valise
