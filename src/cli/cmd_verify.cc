// valise verify -m M SRC...: check drives against a manifest.
#include "cli/commands.h"

namespace valise::cli {

int RunVerify(const Args& args) {
  FileSystem* fs = FileSystem::Default();
  PipelineOptions opt;
  Status s = PipelineFromArgs(args, &opt);
  if (!s.ok()) {
    PrintError(s.message());
    return kExitTrouble;
  }
  // A source that is not there is a usage error, found before any reading.
  for (const std::string& src : args.sources) {
    FileInfo info;
    s = fs->Stat(src, &info);
    if (!s.ok()) {
      PrintError(s.message());
      return kExitTrouble;
    }
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
  s = VerifyDrives(fs, manifest, have_chunks ? &chunks : nullptr, args.sources,
                   opt, &report);
  if (!s.ok()) {
    PrintError(s.message());
    return kExitTrouble;
  }
  return EmitReport(args, report);
}

}  // namespace valise::cli
