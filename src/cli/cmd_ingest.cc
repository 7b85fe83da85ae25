// valise ingest -m M -d DEST SRC...: stage drives onto DEST, verified and
// resumable.
#include "cli/commands.h"

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
  iopt.direct = !args.no_direct;
  for (const std::string& src : args.sources) {
    FileInfo info;
    if (s.ok()) s = fs->Stat(src, &info);
  }
  if (!s.ok()) {
    PrintError(s.message());
    return kExitTrouble;
  }
  Manifest manifest;
  ChunkIndex chunks;
  bool have_chunks = false;
  s = LoadManifest(fs, args, &manifest, &chunks, &have_chunks);
  if (!s.ok()) {
    PrintError(s.message());
    return kExitTrouble;
  }
  RunReport report;
  report.manifest = args.manifest;
  s = IngestDrives(fs, manifest, args.sources, args.dest, opt, iopt, &report);
  if (!s.ok()) {
    if (!report.drives.empty()) EmitReport(args, report);
    PrintError(s.message());
    return report.interrupted ? kExitInterrupted : kExitTrouble;
  }
  return EmitReport(args, report);
}

}  // namespace valise::cli
