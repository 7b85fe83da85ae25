// valise ingest -m M -d DEST SRC...: stage drives onto DEST, verified and
// resumable. When M binds M.drives, every SRC that is a whole drive is
// matched to its drive there (by file system UUID or serial) before
// anything is read: a drive of no shipment, or one given twice, is
// refused. Each run leaves its record in DEST/.valise/runs/ for `valise
// status` (valise/shipment.h).
#include <fmt/format.h>
#include <unistd.h>

#include "cli/commands.h"
#include "pipeline/progress_render.h"
#include "pipeline/verify_internal.h"
#include "valise/bagit.h"
#include "valise/drives.h"
#include "valise/ingest_dry_run.h"
#include "valise/rebuild.h"
#include "valise/shipment.h"

namespace valise::cli {

namespace {

// The run's record for `valise status`; a failure to write it is a
// warning (the journal still says what was committed).
void SaveRecord(FileSystem* fs, const Args& args, const RunReport& report,
                const std::vector<std::string>& labels) {
  char host[256] = {};
  if (!args.host.empty()) {
    snprintf(host, sizeof(host), "%s", args.host.c_str());
  } else if (gethostname(host, sizeof(host) - 1) != 0) {
    host[0] = '\0';
  }
  Status s = SaveRunRecord(fs, args.dest,
                           RunRecordOf(report, host, NowIso8601(), labels));
  if (!s.ok()) PrintWarning("run record not written: " + s.message());
}

// The plan of this run (--dry-run's): what each drive supplies, what is
// written, DEST's room. Nothing read but DEST's journal and the drives'
// trees, nothing written.
Status PlanRun(FileSystem* fs, const Args& args, const Manifest& manifest,
               const std::vector<std::string>& labels, IngestDryRun* plan) {
  ShipmentDrives drives;
  const bool have_drives =
      manifest.binding(kDrivesSidecar) != nullptr &&
      LoadShipmentDrives(fs, args.manifest, manifest, &drives).ok();
  return PlanIngestDryRun(fs, manifest, have_drives ? &drives : nullptr,
                          args.sources, labels, args.dest, plan);
}

// NoSpace when the run cannot fit in DEST's file system (a space not known
// is no refusal), unless --no-space-check.
Status RoomFor(const Args& args, const IngestDryRun::Space& sp) {
  if (sp.Fits() || args.no_space_check) return Status::OK();
  return Status::NoSpace(
      args.dest,
      fmt::format("no room for this run: it writes {} and {} files, {} has {} "
                  "and {} files free; free space, give fewer drives, or "
                  "--no-space-check",
                  HumanBytes(sp.need_bytes), sp.need_inodes, sp.at,
                  HumanBytes(sp.free_bytes), sp.free_inodes));
}

// --dry-run: the plan, and whether DEST has room for it.
int DryRun(FileSystem* fs, const Args& args, const Manifest& manifest,
           const std::vector<std::string>& labels) {
  if (IsS3Url(args.dest)) {
    PrintError("--dry-run: not with an s3:// DEST yet");
    return kExitTrouble;
  }
  IngestDryRun plan;
  Status s = PlanRun(fs, args, manifest, labels, &plan);
  if (!s.ok()) {
    PrintError(s.message());
    return kExitTrouble;
  }
  PrintOut(FormatIngestDryRun(plan, manifest, args.dest));
  s = RoomFor(args, plan.space);
  if (!s.ok()) {
    PrintError(s.message());
    return kExitTrouble;
  }
  return plan.ExitCode() == 0 ? kExitOk : kExitProblems;
}

}  // namespace

int RunIngest(const Args& args, RunReport* report_out) {
  FileSystem* fs = FileSystem::Default();
  PipelineOptions opt;
  IngestOptions iopt;
  Status s = PipelineFromArgs(args, &opt);
  if (s.ok() && !ParseDedupPolicy(args.dedup, &iopt.dedup)) {
    s = Status::InvalidArgument("--dedup", "unknown policy '" + args.dedup +
                                               "' (auto, reflink, hardlink, "
                                               "copy)");
  }
  if (s.ok() && args.dest.empty()) {
    s = Status::InvalidArgument("--dest", "required");
  }
  if (s.ok() && args.manifest.empty()) {
    s = Status::InvalidArgument("--manifest", "required");
  }
  // --bag: the payload lands under DEST/data/ (the journal keeps the
  // manifest's paths), the tag files are written once all of it is there.
  if (args.bag) iopt.dest_prefix = "data/";
  iopt.direct = !args.no_direct;
  iopt.recheck = args.recheck;
  iopt.host = args.host;
  if (s.ok() && !args.stale_upload_age.empty()) {
    double age = 0;
    s = ParseDuration("--stale-upload-age", args.stale_upload_age, &age);
    iopt.s3_options.stale_upload_age_s = static_cast<uint64_t>(age);
  }
  for (const std::string& src : args.sources) {
    if (s.ok()) s = CheckSource(fs, src);
  }
  // --report, --html and --metrics, before DEST is opened or any drive
  // read; --dry-run checks them too and drops them unwritten.
  ReportFiles report_files;
  if (s.ok()) s = CreateReportFiles(args, &report_files);
  if (s.ok()) s = CheckMetricsOutput(args);
  if (!s.ok()) {
    PrintError(s.message());
    return kExitTrouble;
  }
  Manifest manifest;
  ChunkIndex chunks;
  bool have_chunks = false;
  std::unique_ptr<ChunkIndexV2> signed_chunks;
  // A path that would land in DEST/.valise is refused as the manifest is
  // read, naming its line (IngestDrives would refuse it too, less
  // precisely). Under --bag's data/ no path can.
  std::function<Status(std::string_view)> check_path;
  if (iopt.dest_prefix.empty()) {
    check_path = [](std::string_view p) { return CheckIngestPath(p); };
  }
  s = LoadManifest(fs, args, &manifest, &chunks, &have_chunks, &signed_chunks,
                   check_path);
  opt.chunk_index = signed_chunks.get();
  // LoadManifest checked M's signature when --pubkey was given (it fails
  // otherwise): the chunk index M binds is then signed.
  opt.chunk_index_signed = s.ok() && signed_chunks && !args.pubkey.empty();
  // A pack's: its parity rebuilds what the drives do not deliver.
  std::unique_ptr<PackParity> pack;
  if (s.ok()) s = LoadPackParity(fs, args.manifest, manifest, &pack);
  opt.pack = pack.get();
  std::vector<std::string> labels, serials;
  if (s.ok()) {
    s = MatchSourceDrives(fs, args, manifest, /*strict=*/true, &labels,
                          &serials);
  }
  // An empty mount point, or a drive's block device given for its file
  // system: refused before anything is read.
  for (const std::string& src : args.sources) {
    if (s.ok()) s = CheckArrivedSource(fs, src, manifest, BlkidProbe);
  }
  if (!s.ok()) {
    PrintError(s.message());
    return kExitTrouble;
  }
  if (args.dry_run) return DryRun(fs, args, manifest, labels);
  // A DEST directory too small for what this run writes: refused up
  // front, as --dry-run says, rather than full half-way through.
  if (!IsS3Url(args.dest) && !args.no_space_check) {
    IngestDryRun plan;
    s = PlanRun(fs, args, manifest, labels, &plan);
    if (s.ok()) s = RoomFor(args, plan.space);
    if (!s.ok()) {
      PrintError(s.message());
      return kExitTrouble;
    }
    // The drives were scanned for the plan: the run takes that scan.
    iopt.scans = plan.scans;
  }
  opt.drive_labels = labels;
  // DEST s3://BUCKET/PREFIX: objects through the S3 client; the file
  // system sees s3:// paths as objects (to read back a key found there).
  S3Session s3;
  if (IsS3Url(args.dest)) {
    if (args.bag) {
      s = Status::NotSupported("--bag", "not with an s3:// DEST");
    }
    if (s.ok()) s = OpenS3Session(args, iopt.s3_options.threads, &s3);
    if (!s.ok()) {
      PrintError(s.message());
      return kExitTrouble;
    }
    iopt.s3 = s3.client.get();
    fs = s3.fs.get();
  }
  RunReport local_report;
  RunReport& report = report_out != nullptr ? *report_out : local_report;
  report.manifest = args.manifest;
  // Files on no drive as manifest entries (4 B each), not FileResults: a
  // large manifest against its first drive stays within the memory budget.
  report.compact_missing = true;
  s = IngestDrives(fs, manifest, args.sources, args.dest, opt, iopt, &report);
  StampReport(args, labels, serials, &report);
  if (s3.client) {
    const S3Stats st = s3.client->stats();
    report.notes.push_back(fmt::format(
        "s3: {} requests, {} retries ({} throttled), {} bytes uploaded",
        st.requests, st.retries, st.throttled, st.bytes_uploaded));
  }
  // The run record: DEST/.valise/runs/, or an object under
  // PREFIX/.valise/runs/ of an s3:// DEST (through its view, fs).
  if (!report.drives.empty()) SaveRecord(fs, args, report, labels);
  if (!s.ok()) {
    // Trouble after the run began (DEST full or failing): the report says
    // what was committed, and carries the same exit status.
    if (!report.drives.empty()) EmitReport(args, report, &report_files);
    PrintError(s.message());
    return report.interrupted ? kExitInterrupted : kExitTrouble;
  }
  if (args.bag && !report.interrupted) {
    BagWriteSummary bag;
    s = WriteBagTagFiles(fs, manifest, args.dest, opt, {}, &bag);
    if (s.ok()) {
      report.notes.push_back(fmt::format(
          "{}: BagIt 1.0 bag, Payload-Oxum {}.{}, tag files {}", args.dest,
          bag.payload_octets, bag.payload_files, fmt::join(bag.written, " ")));
    } else if (s.IsInvalidArgument() && report.ExitCode() != kExitOk) {
      // Not every file is staged (the report says why): rerun to finish.
      report.notes.push_back("not a bag yet: " + s.message());
    } else {
      EmitReport(args, report, &report_files);
      PrintError(s.message());
      return kExitTrouble;
    }
  }
  return EmitReport(args, report, &report_files);
}

}  // namespace valise::cli
