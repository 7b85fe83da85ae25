// DriveEngine: the one submit/reap loop (see io_engine.h). Before it, the
// reader, `valise bench` (its reads and its DEST write) and the micro
// benches each had their own copy of this loop, and their own count of
// transfers abandoned by a timeout (now the engine's: timed_out(), right
// across several drives of one engine, where a late completion may come
// back to a later drive than the one that gave up on it).
//
// A round: the client fills the queue; if nothing is in flight (but what a
// timeout abandoned), the drive ends unless the client has work, in which
// case it idles until it can submit again; else one Reap waits for at
// least one completion (Reap itself flushes the submissions first, in the
// same system call with io_uring), and each completion goes to the client.
//
// Thread safety: the engine's owner thread.
#include <vector>

#include "valise/file_system.h"
#include "valise/io_engine.h"

namespace valise {

Status DriveEngine(IoEngine* engine, EngineClient* client, FileSystem* clock) {
  std::vector<Transfer*> done;
  for (;;) {
    client->Fill();
    // Transfers that timed out, their late completion still to come, are
    // in flight for the engine but waited for by no one.
    if (engine->in_flight() == engine->timed_out()) {
      if (!client->HasWork()) return Status::OK();
      client->Idle();
      continue;
    }
    done.clear();
    VALISE_RETURN_IF_ERROR(engine->Reap(&done, true, client->WaitMicros()));
    const uint64_t now_us = clock->NowMicros();
    for (Transfer* t : done) client->Complete(t, now_us);
    client->Reaped();
  }
}

}  // namespace valise
