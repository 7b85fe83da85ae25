// valise watch -m M -d DEST [--mount-root DIR]: the shipment's drives
// ingested as they are plugged in (valise/watch.h). This file wires the
// loop to the machine: the device events (udev when udevd runs, else
// polling /sys), the system prober and mounter, the custody log (JSON
// lines appended to DEST/.valise/custody.jsonl or --custody-log; for an
// s3:// DEST one object per record under PREFIX/.valise/custody/), and
// the ingest itself, which is `valise ingest -m M -d DEST MOUNT...` run
// in-process with the same flags (so resumable, journaled, its run record
// written, its report printed, as ingest's).
//
// Exit status: 2 trouble before watching (bad manifest, no M.drives, mount
// root unusable) or an event source that failed; once stopped by
// SIGINT/SIGTERM: 130 if an ingest was under way (it stopped as an
// interrupted ingest does), else the worst of the ingests' results (0 all
// ok or none ran, 1 problems, 2 trouble).
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "cli/commands.h"
#include "pipeline/verify_internal.h"
#include "valise/drives.h"
#include "valise/s3.h"
#include "valise/s3_file_system.h"
#include "valise/shipment.h"
#include "valise/watch.h"

namespace valise::cli {

namespace {

constexpr char kDefaultMountRoot[] = "/run/valise/watch";
constexpr int kPollIntervalMs = 500;

std::string HostName() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return host;
}

// Appends `line` to `path` (created 0644 with its directory if missing)
// and makes it durable: a custody record is evidence.
Status AppendLine(const std::string& path, const std::string& line) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(),
                                      ec);
  const int fd =
      open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::PosixError(path + ": open", errno);
  Status s;
  if (write(fd, line.data(), line.size()) !=
      static_cast<ssize_t>(line.size())) {
    s = Status::PosixError(path + ": write", errno);
  } else if (fdatasync(fd) != 0) {
    s = Status::PosixError(path + ": fdatasync", errno);
  }
  close(fd);
  return s;
}

Status OpenEvents(const Args& args, std::unique_ptr<DeviceEvents>* out) {
  const std::string& how = args.device_events;
  if (how == "poll" || (how == "auto" && !UdevdRuns())) {
    *out =
        NewPollingDeviceEvents(FileSystem::Default(), "/sys", kPollIntervalMs);
    return Status::OK();
  }
  if (how == "udev" || how == "auto") return NewUdevDeviceEvents(out);
  return Status::InvalidArgument("--device-events",
                                 "'" + how + "' is none of auto, udev, poll");
}

// "still needed: ship-03, ship-04 (3 files, 1.2 MB missing)", or
// complete, from DEST's journal as `valise status` computes it.
void SayNeeded(FileSystem* fs, const Args& args, const Manifest& m,
               const ShipmentDrives& drives,
               const std::function<void(const std::string&)>& say) {
  ShipmentStatus st;
  Status s = ComputeShipmentStatus(fs, m, &drives, args.dest, &st);
  if (!s.ok()) {
    say("status of the shipment unknown: " + s.message());
    return;
  }
  if (st.missing.empty()) {
    say(st.problems.empty()
            ? "shipment complete: every file arrived and verified"
            : "every file arrived; problems of earlier runs remain "
              "(valise status tells)");
    return;
  }
  std::string needed;
  for (uint32_t d : st.needed) {
    needed += (needed.empty() ? "" : ", ") + st.drives[d].label;
  }
  std::string line =
      fmt::format("still needed: {} ({} of {} files missing)",
                  needed.empty() ? "no drive holds them" : needed,
                  st.missing.size(), st.files_total);
  if (st.files_on_no_drive > 0) {
    line += fmt::format("; {} on no drive of M.drives", st.files_on_no_drive);
  }
  say(line);
}

// Each drive's result from its run: the run's when it was interrupted or
// failed as a whole; else 1 for a drive with a corrupt, unreadable or
// stalled file, 0 for the others. Files missing because their drives are
// not here yet are no drive's problem (ingest exits 1 for them).
std::vector<int> DriveResults(int code, const RunReport& report, size_t n) {
  std::vector<int> out(n, code);
  if (code == kExitInterrupted || code == kExitTrouble ||
      report.drives.size() != n) {
    return out;
  }
  for (size_t i = 0; i < n; ++i) {
    const DriveReport& d = report.drives[i];
    out[i] = d.files_bad > 0 || d.stalled ? kExitProblems : kExitOk;
  }
  return out;
}

}  // namespace

int RunWatch(const Args& args) {
  FileSystem* fs = FileSystem::Default();
  Status s;
  if (args.manifest.empty()) {
    s = Status::InvalidArgument("--manifest", "required");
  } else if (args.dest.empty()) {
    s = Status::InvalidArgument("--dest", "required");
  }
  const std::string mount_root =
      args.mount_root.empty() ? kDefaultMountRoot : args.mount_root;
  if (s.ok()) {
    std::error_code ec;
    std::filesystem::create_directories(mount_root, ec);
    struct stat st;
    if (stat(mount_root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      s = Status::InvalidArgument("--mount-root",
                                  mount_root + " is not a directory" +
                                      (ec ? " (" + ec.message() + ")" : ""));
    }
  }
  Manifest manifest;
  ChunkIndex chunks;
  bool have_chunks = false;
  if (s.ok()) s = LoadManifest(fs, args, &manifest, &chunks, &have_chunks);
  ShipmentDrives drives;
  if (s.ok()) {
    s = LoadShipmentDrives(fs, args.manifest, manifest, &drives);
    if (s.IsNotFound()) {
      s = Status::InvalidArgument(
          args.manifest,
          "has no drive entries (M.drives): watch knows the shipment's "
          "drives by them (make M with valise manifest from the drives "
          "themselves)");
    }
  }
  // DEST s3://BUCKET/PREFIX: its state (journal, run records, custody
  // records) is read and written through the S3 view of the file system.
  S3Session s3;
  FileSystem* state_fs = fs;
  if (s.ok() && IsS3Url(args.dest)) {
    s = OpenS3Session(args, 16, &s3);
    if (s.ok()) state_fs = s3.fs.get();
  }
  std::unique_ptr<DeviceEvents> events;
  if (s.ok()) s = OpenEvents(args, &events);
  if (!s.ok()) {
    PrintError(s.message());
    return kExitTrouble;
  }
  // The custody log: --custody-log FILE, else DEST/.valise/custody.jsonl,
  // else (an s3:// DEST: no appending to an object) one object per record
  // under PREFIX/.valise/custody/.
  const bool custody_objects = args.custody_log.empty() && s3.fs;
  const std::string custody = args.custody_log.empty()
                                  ? args.dest + "/.valise/custody.jsonl"
                                  : args.custody_log;
  // A drive that hangs its superblock read is given up after --io-timeout
  // and left alone, not waited for by every drive plugged after it.
  std::unique_ptr<DriveProber> prober = NewTimedDriveProber(
      NewSystemDriveProber(fs), static_cast<int64_t>(args.io_timeout * 1000));
  std::unique_ptr<Mounter> mounter = NewSystemMounter();
  WatchOptions opt;
  opt.mount_root = mount_root;
  opt.host = HostName();
  WatchHooks hooks;
  hooks.events = events.get();
  hooks.prober = prober.get();
  hooks.mounter = mounter.get();
  hooks.cancel = InstallSignalHandlers();
  hooks.now = [] { return NowIso8601(); };
  hooks.say = [&](const std::string& line) {
    PrintNote(args, NowIso8601() + " " + line);
  };
  hooks.custody = [&](const std::string& line) {
    if (custody_objects) {
      return SaveStateRecord(state_fs, args.dest, "custody", NowIso8601(),
                             opt.host, line);
    }
    return AppendLine(custody, line);
  };
  hooks.report_needed = [&] {
    // A view of an s3:// DEST lists its prefix once: a new one each time,
    // so the journal objects of the run that just ended are seen.
    std::unique_ptr<FileSystem> fresh;
    if (s3.client) fresh = NewS3FileSystem(fs, s3.client.get(), 16);
    SayNeeded(fresh ? fresh.get() : fs, args, manifest, drives, hooks.say);
  };
  hooks.ingest = [&](const std::vector<WatchDrive>& batch,
                     const std::atomic<bool>* stop) {
    Args a = args;
    a.cancel = stop;  // the watch sets it on SIGINT/SIGTERM too
    a.sources.clear();
    for (const WatchDrive& w : batch) a.sources.push_back(w.mount);
    RunReport report;
    return DriveResults(RunIngest(a, &report), report, batch.size());
  };
  WatchSummary summary;
  s = valise::RunWatch(drives, opt, hooks, &summary);
  hooks.say(fmt::format(
      "watch stopped: {} drives ingested in {} runs, {} devices left alone; "
      "custody log {}",
      summary.drives_ingested, summary.ingests, summary.left_alone, custody));
  if (!s.ok()) {
    PrintError(s.message());
    return kExitTrouble;
  }
  if (summary.interrupted) return kExitInterrupted;
  return summary.worst_exit;
}

}  // namespace valise::cli
