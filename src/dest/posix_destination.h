// The directory destination: a DEST that is a directory on a local file
// system (see posix_destination.cc for its protocol), and the parts of it
// other stages reuse: the staged file over a File, and the writer that
// streams chunks into such files through the read loop's engine
// (`valise bench` measures DEST with them).
//
// Thread safety: as include/valise/destination.h says.
#pragma once

#include <memory>
#include <string>

#include "valise/destination.h"
#include "valise/file_system.h"

namespace valise {

struct PosixDestinationOptions {
  // Writes in flight on DEST. Default: 16.
  unsigned depth = 16;
  // The host this run ingests as, into a DEST shared by several hosts at
  // once (a shared file system mounted on each; posix_hosts.h): its own
  // journal, lock and staging under DEST/.valise/hosts/HOST/ (--host).
  // Empty: the machine's host name if DEST is shared already (it has
  // DEST/.valise/hosts/), else the one-host layout. Default: empty.
  std::string host;
  // A DEST shared by hosts: another host's staged files untouched for this
  // many seconds (their ctime) are a dead host's, removed by Open
  // (--stale-upload-age). Default: 24 h.
  uint64_t stale_age_s = 24 * 3600;
  // A DEST shared by hosts: Stage reads the other hosts' journals again
  // when this many milliseconds have passed since the last read (0: at
  // every Stage). Default: 2000.
  unsigned journal_poll_ms = 2000;
};

// A Destination over the directory `path` of `fs` (created if absent).
// `fs` must remain live while the destination is.
std::unique_ptr<Destination> NewPosixDestination(
    FileSystem* fs, const std::string& path,
    const PosixDestinationOptions& opt);

// A staged file over an open File (written by a PosixStageWriter); `name`
// is for messages. The File is closed when the staged file is destroyed.
std::unique_ptr<StagedFile> NewStagedFile(std::unique_ptr<File> file,
                                          std::string name);

// A StageWriter that writes each chunk at its offset in the staged file's
// File (a file made by NewStagedFile or by a posix destination's Stage),
// through the read loop's engine, `depth` at a time.
std::unique_ptr<StageWriter> NewPosixStageWriter(unsigned depth);

}  // namespace valise
