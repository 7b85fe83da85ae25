// Repair by chunk: the good chunks of each copy of a file, staged into one
// file.
//
// Without it, a copy that fails (a chunk differs from its signed digest,
// sectors cannot be read, its drive stalls) is thrown away whole and the
// next pass reads the file's next copy, on another drive, from the first
// byte. With the chunk digests deciding (ledger.by_chunks) every
// chunk is judged on its own, so a copy's good chunks are as good as any:
//
//   1. A file staged resumable (chunk_resume.h: more than one chunk,
//      kept where DEST can) into a DEST that repairs by chunk
//      (Destination::RepairsByChunk: posix; an object store, in one-chunk
//      parts) is read with ReadJob::keep_going: a chunk that cannot be
//      read is a hole, and the chunks after it are still checked against
//      their signed digests and staged at their offsets. Its checker
//      tracks which chunks matched (ChunkChecker::good).
//   2. When the copy fails, the committer asks KeepGoodChunks: if some
//      chunk matched and the file has another copy, its staged file
//      ("r<entry>") is kept (Destination::Keep) and the ledger remembers
//      the good chunks (IngestLedger::repair).
//   3. The next pass reads from the next copy only the chunks not good
//      yet (ReadJob::only, PlanRepairRead), writing them at their offsets
//      into the same staged file, reopened as it is
//      (StageRequest::repair). Its checker counts the kept chunks as
//      checked, so the file is intact by the same rule as any other
//      (ChunkVerdict: every chunk matched its signed digest, here or in an
//      earlier pass), and is committed; else the next copy fills in what
//      is still missing, and so on.
//   4. A file whose chunks are bad on every copy fails; its last row names
//      the chunks no copy had good (RepairFailed), and its kept file is
//      dropped.
//
// Safety: a kept chunk was read into a buffer, matched its signed SHA-256
// there, and was written from that same buffer (the write succeeded, or
// the copy is not the copy's fault and nothing is kept); the staged file
// is written only by this run, under its lock. A chunk a later copy
// rewrites is one that was not good. A run stopped during a repair keeps
// the file (as any resumable file); the next run trusts none of it but
// its verified prefix (chunk_resume.cc).
//
// The report: the rows of the copies that failed say which chunks came
// from which drive and the bytes read for the repair; the totals count
// files repaired by chunk and those bytes.
#include "pipeline/chunk_repair.h"

#include <algorithm>

#include "pipeline/chunk_resume.h"

namespace valise {

namespace {

const ChunkChecker* TrackingChecker(const ReadOutcome& o) {
  const auto* c = dynamic_cast<const ChunkChecker*>(o.observer.get());
  return c != nullptr && c->tracking() ? c : nullptr;
}

// Runs of the chunks where want(i) holds, inclusive.
template <typename Want>
ChunkRuns RunsOf(size_t total, Want want) {
  ChunkRuns runs;
  for (size_t i = 0; i < total; ++i) {
    if (!want(i)) continue;
    if (!runs.empty() && runs.back().second + 1 == i) {
      runs.back().second = i;
    } else {
      runs.emplace_back(i, i);
    }
  }
  return runs;
}

// Adds the chunks `now` has good and `state` had not to the copy from
// `drive`, and makes them good in `state`.
void AddGood(ChunkRepairState* state, int drive, const std::vector<bool>& now) {
  if (state->good.size() < now.size()) state->good.resize(now.size(), false);
  ChunkRuns gained =
      RunsOf(now.size(), [&](size_t i) { return now[i] && !state->good[i]; });
  for (size_t i = 0; i < now.size(); ++i) {
    if (now[i]) state->good[i] = true;
  }
  if (!gained.empty()) state->from.push_back(ChunkOrigin{drive, gained});
}

}  // namespace

void PlanRepairRead(const IngestLedger& l, const Destination& dest, size_t e,
                    ReadJob* job) {
  if (!StagedResumable(l, dest, e) || !dest.RepairsByChunk() ||
      l.chunk_check == nullptr) {
    return;
  }
  job->keep_going = true;
  auto it = l.repair.find(e);
  if (it == l.repair.end() || !it->second.kept) return;
  const std::vector<bool>& good = it->second.good;
  job->start = 0;
  job->only.clear();
  for (const auto& [first, last] :
       RunsOf(good.size(), [&](size_t i) { return !good[i]; })) {
    job->only.push_back(ChunkRun{first, last + 1});
  }
}

bool KeepGoodChunks(IngestLedger* l, const Destination& dest,
                    const Finished& f) {
  const size_t e = f.entry;
  const ReadOutcome& o = f.outcome;
  const ChunkChecker* c = TrackingChecker(o);
  if (c == nullptr || !StagedResumable(*l, dest, e) || !dest.RepairsByChunk()) {
    return false;
  }
  ChunkRepairState& state = l->repair[e];
  // The chunks this copy was asked for are the repair's.
  if (!state.from.empty() || state.kept) state.bytes_read += o.bytes_read;
  AddGood(&state, f.drive, c->good());
  const bool any =
      std::find(state.good.begin(), state.good.end(), true) != state.good.end();
  state.kept = any && l->attempt[e] < l->candidates[e].size();
  return state.kept;
}

void RepairCommitted(IngestLedger* l, size_t e, int drive,
                     const ReadOutcome& o) {
  auto it = l->repair.find(e);
  if (it == l->repair.end() || !it->second.kept) return;
  ChunkRepairState& state = it->second;
  const ChunkChecker* c = TrackingChecker(o);
  if (c == nullptr) return;
  state.bytes_read += o.bytes_read;
  AddGood(&state, drive, c->good());
  ++l->report->files_repaired_by_chunk;
  l->report->bytes_read_for_chunk_repair += state.bytes_read;
  auto rows = l->failures_of.find(e);
  if (rows == l->failures_of.end()) return;
  for (size_t i : rows->second) {
    l->report->files[i].chunks_from = state.from;
    l->report->files[i].repair_bytes_read = state.bytes_read;
  }
  l->repair.erase(it);
}

void RepairFailed(Destination* dest, IngestLedger* l, size_t e) {
  auto it = l->repair.find(e);
  if (it == l->repair.end()) return;
  const std::vector<bool>& good = it->second.good;
  auto rows = l->failures_of.find(e);
  if (rows != l->failures_of.end() && rows->second.size() > 1) {
    l->report->files[rows->second.back()].chunks_lost =
        RunsOf(good.size(), [&](size_t i) { return !good[i]; });
  }
  if (it->second.kept) dest->DropPartial(ResumableKey(e));
  l->repair.erase(it);
}

}  // namespace valise
