// valise bench SRC... [-d DEST] [-m M]: measure each drive, the hashes,
// DEST and the whole pipeline, and name what limits an ingest. DEST may be
// s3://BUCKET/PREFIX (the store's rates: parts and small objects); with a
// DEST, SRC may be left out.
//
// Exit status: 0 measured; 1 measured, but a drive, DEST or the pipeline
// reported errors (listed); 2 trouble (usage, DEST missing, no drive
// readable, bad manifest); 130 interrupted.

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
  // --report, before any drive is read.
  std::unique_ptr<Output> report_file;
  if (s.ok()) s = CreateReportOutput(args, &report_file);
  if (!s.ok()) {
    PrintError(s.message());
    return kExitTrouble;
  }
  // An s3:// DEST: the store's client, sending as many requests at once
  // as ingest would.
  S3Session s3;
  if (IsS3Url(args.dest)) {
    s = OpenS3Session(args, bo.s3_options.threads, &s3);
    if (!s.ok()) {
      PrintError(s.message());
      return kExitTrouble;
    }
    bo.s3 = s3.client.get();
  } else if (args.sources.empty() && args.dest.empty()) {
    PrintError("bench: no drive to measure and no DEST (give SRC or -d DEST)");
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
    // Bound to a chunk index, ingest decides by each chunk's SHA-256 and
    // computes no whole-file digest.
    bo.chunk_sha256 = manifest.binding(kChunkIndexSidecar) != nullptr;
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
    PrintOut(FormatBenchJson(report) + "\n");
  } else if (args.quiet) {
    PrintOut(report.bottleneck_text + "\n");  // the one line that matters
  } else {
    PrintOut(FormatBenchTable(report));
  }
  FlushOut();
  if (report_file != nullptr) {
    s = report_file->Append(FormatBenchJson(report) + "\n");
    if (s.ok()) s = report_file->Close();
    if (!s.ok()) {
      PrintError(s.message());
      return kExitTrouble;
    }
  }
  return code;
}

}  // namespace valise::cli
