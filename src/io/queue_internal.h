// Helpers shared by the IoQueue implementations in src/io (private).
//
// PerformRequest runs one IoRequest synchronously through the File
// interface (ReadAt/WriteAt/Sync) and returns what a kernel completion
// would: bytes transferred, or -errno. The synchronous queue serves every
// request with it; the io_uring queue serves Files that have no descriptor
// (native_handle() == -1) with it.
//
// Thread safety: as the File it calls (positional reads and writes may run
// concurrently; Sync from one thread at a time).
#pragma once

#include <cstdint>

#include "valise/io_queue.h"

namespace valise::io_internal {

// One request, done now. A failed Status becomes -Status::err(), or -EIO
// when the Status carries no errno.
int32_t PerformRequest(const IoRequest& req);

}  // namespace valise::io_internal
