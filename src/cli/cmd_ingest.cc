// valise ingest -m M -d DEST SRC...: stage drives onto DEST, verified and
// resumable.
#include <fmt/format.h>

#include "cli/commands.h"
#include "valise/bagit.h"

namespace valise::cli {

int RunIngest(const Args& args) {
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
  for (const std::string& src : args.sources) {
    if (s.ok()) s = CheckSource(fs, src);
  }
  // --report, before DEST is opened or any drive read.
  std::unique_ptr<Output> report_file;
  if (s.ok()) s = CreateReportOutput(args, &report_file);
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
  if (!s.ok()) {
    PrintError(s.message());
    return kExitTrouble;
  }
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
  RunReport report;
  report.manifest = args.manifest;
  s = IngestDrives(fs, manifest, args.sources, args.dest, opt, iopt, &report);
  if (s3.client) {
    const S3Stats st = s3.client->stats();
    report.notes.push_back(fmt::format(
        "s3: {} requests, {} retries ({} throttled), {} bytes uploaded",
        st.requests, st.retries, st.throttled, st.bytes_uploaded));
  }
  if (!s.ok()) {
    // Trouble after the run began (DEST full or failing): the report says
    // what was committed, and carries the same exit status.
    if (!report.drives.empty()) EmitReport(args, report, report_file.get());
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
      EmitReport(args, report, report_file.get());
      PrintError(s.message());
      return kExitTrouble;
    }
  }
  return EmitReport(args, report, report_file.get());
}

}  // namespace valise::cli
