// Sector rescue (sector_rescue.cc): a chunk that failed with a media error
// is read again sector by sector, so the bad ranges recorded are the
// sectors that fail.
//
// Thread safety: the read loop's I/O thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "pipeline/hash_schedule.h"
#include "valise/io_engine.h"

namespace valise {

class SectorRescue {
 public:
  // What the read loop does for a rescue.
  class Host {
   public:
    virtual ~Host() = default;
    // The chunk read whole after all: hand it on like any chunk read.
    virtual void AcceptChunk(FileState* f, uint64_t offset, uint32_t len,
                             int buf) = 0;
    // The chunk is lost: a hole for chunk `index` of f. May finish f.
    virtual void DeliverHole(FileState* f, uint64_t index) = 0;
    // True if nothing more may be issued on drive d (the run stopped, or
    // the drive stalled).
    virtual bool DriveStopped(int d) const = 0;
    // A sector read of drive d timed out (`why`): the drive is given up on
    // as after any timed-out read.
    virtual void DriveStalled(int d, const Status& why) = 0;
    // Sector reads of f were not sent: drive d was abandoned (it stalled,
    // it is gone, or the run stopped). f fails as every file the drive
    // left unread does: stalled, cancelled, or with the drive's error.
    virtual void FailUnread(FileState* f, int d) = 0;
    // "drive NAME", for messages.
    virtual std::string DriveLabel(int d) const = 0;
    // Bytes read on drive d, for its statistics.
    virtual void CountRead(int d, uint64_t bytes, uint64_t now_us) = 0;
  };

  // `host`, `rs` and `engine` must remain live while the rescue is.
  SectorRescue(Host* host, RunState* rs, IoEngine* engine, bool fixed,
               int num_drives);

  // Starts rescuing chunk [offset, offset + want) of f on drive d, held in
  // buffer `buf` (its sector reads go into it).
  void Start(FileState* f, int buf, uint64_t offset, uint32_t want, int d);
  // Issues drive d's queued sector reads while it has room; on a drive
  // abandoned (a stopped run, a stalled or gone drive) they are not sent,
  // and their file fails as the drive's unread files do: sectors never
  // read are not reported as bad ones.
  void Issue(int d);
  // A sector read (a transfer Start queued) came back.
  void OnRead(Transfer* t, uint64_t now_us);
  // Sector reads queued, not yet issued.
  bool Queued(int d) const { return !queue_[d].empty(); }
  bool Queued() const;

 private:
  struct Rescue {
    FileState* f = nullptr;
    int d = -1;  // its drive
    int buf = -1;
    uint64_t offset = 0;
    uint32_t want = 0;
    unsigned pending = 0;       // sector reads not yet finished
    unsigned held = 0;          // sector reads the kernel still holds
    std::vector<BadRange> bad;  // failed sectors, in completion order
    Status first_error;
    bool stalled = false;
    bool unsent = false;  // some sectors never sent: the drive was abandoned
  };

  void Finish(Rescue* r);

  Host* const host_;
  RunState* const rs_;
  IoEngine* const engine_;
  const bool fixed_;
  std::deque<Rescue> rescues_;                // stable addresses
  std::deque<Transfer> transfers_;            // one per sector read
  std::vector<std::deque<Transfer*>> queue_;  // per drive, not yet issued
};

}  // namespace valise
