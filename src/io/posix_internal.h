// Pieces of the POSIX FileSystem (posix_file_system.cc) exposed to its
// tests (private to src/io and tests/io).
//
// Thread safety: pure functions of the file tree they read.
#pragma once

#include <string>

namespace valise::io_internal {

// Whether the block device MAJ:MIN spins, from
// <sys_root>/dev/block/MAJ:MIN/queue/rotational, or, for a partition (which
// has no queue/ of its own), from its parent disk's. False for anonymous
// devices (major 0) and when sysfs does not say. sys_root is "/sys" except
// in tests, which build a fake tree.
bool RotationalFromSysfs(const std::string& sys_root, unsigned dev_major,
                         unsigned dev_minor);

}  // namespace valise::io_internal
