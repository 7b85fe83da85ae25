// An object store seen as a file system, read-only but for WriteSmallFile
// (one PUT that never replaces an object: EEXIST), so that a drive may be
// s3://BUCKET/PREFIX: `valise verify -m M s3://bucket/prefix` reads the
// objects back like files (scan, match, read, hash), with ranged GETs.
//
// Paths "s3://BUCKET/PREFIX/REL" name the object PREFIX/REL; a directory is
// a key prefix ending in '/'. Everything else is the base file system's.
// What is under a prefix is listed once (ListObjectsV2, flat, in pages),
// when a path under it is first used, and answered from memory after: the
// view does not see objects written later. Keys a path cannot name (an
// empty, "." or ".." segment, a trailing '/') are left out of the view.
//
// Reads: ReadAt is a ranged GET pinned to the ETag the listing saw
// (If-Match), so a file is read from one version even if it is replaced
// meanwhile. NewIoQueue gives the base queue plus a pool of `threads`
// threads that serve the objects' reads: that many GETs in flight. A read
// error keeps the store's message and gets the errno the reader acts on:
// the store out of reach after the client's retries is ENOTCONN (the
// drive is given up, its files reported unreadable, the other drives go
// on), a key gone ENOENT, an object replaced while read ESTALE, anything
// else EPROTO (never EIO: that would start a sector-by-sector rescue).
//
// Thread safety: as FileSystem (any thread); the listing cache is locked.
#pragma once

#include <memory>

#include "valise/file_system.h"
#include "valise/s3.h"

namespace valise {

// REQUIRES: base and client outlive the result; threads > 0.
std::unique_ptr<FileSystem> NewS3FileSystem(FileSystem* base, S3Client* client,
                                            unsigned threads);

}  // namespace valise
