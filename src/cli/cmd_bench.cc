// valise bench SRC... [-d DEST] [-m M]: measure each drive, the hashes,
// DEST and the whole pipeline, and name what limits an ingest.
//
// Exit status: 0 measured; 1 measured, but a drive, DEST or the pipeline
// reported errors (listed); 2 trouble (usage, DEST missing, no drive
// readable, bad manifest); 130 interrupted.
#include <fmt/format.h>

#include <cmath>

#include "cli/commands.h"
#include "valise/bench.h"

namespace valise::cli {

int RunBench(const Args& args) {
  FileSystem* fs = FileSystem::Default();
  BenchOptions bo;
  Status s = PipelineFromArgs(args, &bo.pipeline);
  if (s.ok() && !(args.seconds > 0 && std::isfinite(args.seconds))) {
    s = Status::InvalidArgument("--seconds", "must be a positive number");
  }
  for (const std::string& src : args.sources) {
    if (s.ok()) s = CheckSource(fs, src);
  }
  if (!s.ok()) {
    PrintError(s.message());
    return kExitTrouble;
  }
  bo.pipeline.progress = false;
  bo.sources = args.sources;
  bo.dest = args.dest;
  bo.seconds = args.seconds;
  if (!args.manifest.empty()) {
    Manifest manifest;
    ChunkIndex chunks;
    bool have_chunks = false;
    s = LoadManifest(fs, args, &manifest, &chunks, &have_chunks);
    if (!s.ok()) {
      PrintError(s.message());
      return kExitTrouble;
    }
    bo.manifest = args.manifest;
    bo.manifest_bytes = manifest.total_bytes();
    bo.manifest_files = manifest.size();
  }
  bo.on_phase = [&args](const std::string& what) {
    PrintNote(args, "bench: " + what);
  };

  BenchReport report;
  s = valise::RunBench(fs, bo, &report);
  if (s.IsAborted()) {
    PrintError("interrupted; nothing was left in DEST");
    return kExitInterrupted;
  }
  if (!s.ok()) {
    PrintError(s.message());
    return kExitTrouble;
  }
  const int code = report.HasErrors() ? kExitProblems : kExitOk;
  if (args.json) {
    fmt::print("{}\n", FormatBenchJson(report));
  } else if (args.quiet) {
    fmt::print("{}\n", report.bottleneck_text);  // the one line that matters
  } else {
    fmt::print("{}", FormatBenchTable(report));
  }
  std::fflush(stdout);
  if (!args.report.empty()) {
    s = fs->WriteSmallFile(args.report, FormatBenchJson(report) + "\n", 0644);
    if (!s.ok()) {
      PrintError(s.message());
      return kExitTrouble;
    }
  }
  return code;
}

}  // namespace valise::cli
