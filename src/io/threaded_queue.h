// The threaded queue: an IoQueue for Files whose calls block on a network
// (no descriptor: an S3 object read with ranged GETs). Their requests run
// on a pool of threads, `threads` at once, so a drive in an object store
// is read with that many requests in flight, as io_uring keeps a disk busy.
// Requests on Files with a descriptor go to `base` (io_uring, or the
// synchronous queue) unchanged; Wait hands out the completions of both.
//
// Why a pool and not the base queue's own fallback: io_uring serves a
// File without a descriptor synchronously at Prepare, on the loop's one
// I/O thread, one request at a time: a network round trip each.
//
// Thread safety: as IoQueue (one owner thread; Wake from any thread). The
// pool's threads call File::ReadAt/WriteAt, positional calls a File allows
// concurrently.
#pragma once

#include <memory>

#include "valise/io_queue.h"

namespace valise {

// REQUIRES: threads > 0.
std::unique_ptr<IoQueue> NewThreadedQueue(std::unique_ptr<IoQueue> base,
                                          unsigned threads);

}  // namespace valise
