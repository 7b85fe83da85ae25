// valise verify -m M SRC...: check drives against a manifest.
// valise verify BAG... / -m BAG SRC...: validate BagIt bags (bag.cc).
#include <algorithm>

#include "cli/commands.h"
#include "valise/bagit.h"
#include "valise/ingest_dry_run.h"
#include "valise/rebuild.h"

namespace valise::cli {

namespace {

// Bag validation: without -m every SRC must be a bag (each checked on its
// own); with -m BAG (a directory), the bag's tag files are read from BAG
// and its payload checked on the SRCs, laid out like the bag.
int RunVerifyBags(const Args& args, FileSystem* fs, const PipelineOptions& opt,
                  ReportFiles* report_files) {
  std::vector<BagSpec> bags;
  if (args.manifest.empty()) {
    for (const std::string& src : args.sources) {
      if (!IsBagDirectory(fs, src)) {
        PrintError(src + ": not a bag (no bagit.txt), and no -m given");
        return kExitTrouble;
      }
      bags.push_back(BagSpec{src, {}});
    }
  } else {
    if (!IsBagDirectory(fs, args.manifest)) {
      PrintError(args.manifest + ": a directory but not a bag (no bagit.txt)");
      return kExitTrouble;
    }
    bags.push_back(BagSpec{args.manifest, args.sources});
  }
  if (!args.pubkey.empty()) {
    PrintError("--pubkey: a bag carries no valise signature");
    return kExitTrouble;
  }
  RunReport report;
  Status s = ValidateBags(fs, bags, opt, &report);
  if (!s.ok()) {
    PrintError(s.message());
    return kExitTrouble;
  }
  StampReport(args, {}, {}, &report);
  return EmitReport(args, report, report_files);
}

// --dry-run: what each SRC holds of M, the time to read it; nothing read
// but the drives' trees.
int DryRun(FileSystem* fs, const Args& args, const Manifest& manifest) {
  IngestDryRun plan;
  Status s = PlanVerifyDryRun(fs, manifest, args.sources, {}, &plan);
  if (!s.ok()) {
    PrintError(s.message());
    return kExitTrouble;
  }
  PrintOut(FormatVerifyDryRun(plan, manifest));
  return plan.ExitCode() == 0 ? kExitOk : kExitProblems;
}

}  // namespace

int RunVerify(const Args& args) {
  FileSystem* fs = FileSystem::Default();
  PipelineOptions opt;
  Status s = PipelineFromArgs(args, &opt);
  // --report, --html and --metrics, before any drive is read.
  ReportFiles report_files;
  if (s.ok()) s = CreateReportFiles(args, &report_files);
  if (s.ok()) s = CheckMetricsOutput(args);
  if (!s.ok()) {
    PrintError(s.message());
    return kExitTrouble;
  }
  // s3://BUCKET/PREFIX drives (and manifest): read through the S3 view,
  // 16 ranged GETs in flight per S3 drive (the reads in flight per drive
  // the reader keeps on an SSD).
  S3Session s3;
  std::vector<std::string> paths = args.sources;
  paths.push_back(args.manifest);
  if (AnyS3Path(paths)) {
    unsigned gets = 0;
    for (const std::string& src : args.sources) gets += IsS3Url(src) ? 16 : 0;
    s = OpenS3Session(args, std::max(gets, 16u), &s3);
    if (!s.ok()) {
      PrintError(s.message());
      return kExitTrouble;
    }
    fs = s3.fs.get();
  }
  // A bag: no -m (every SRC a bag), or -m naming a directory.
  FileInfo m_info;
  if (args.manifest.empty() || (fs->Stat(args.manifest, &m_info).ok() &&
                                m_info.type == FileType::kDirectory)) {
    for (const std::string& src : args.sources) {
      s = CheckSource(fs, src);
      if (!s.ok()) {
        PrintError(s.message());
        return kExitTrouble;
      }
    }
    if (args.dry_run) {
      PrintError("--dry-run: not for bags yet (give -m M)");
      return kExitTrouble;
    }
    return RunVerifyBags(args, fs, opt, &report_files);
  }
  // A source that is not there, or cannot be a drive, is a usage error,
  // found before any reading, whether it is alone or among others.
  for (const std::string& src : args.sources) {
    s = CheckSource(fs, src);
    if (!s.ok()) {
      PrintError(s.message());
      return kExitTrouble;
    }
  }
  Manifest manifest;
  ChunkIndex chunks;
  bool have_chunks = false;
  std::unique_ptr<ChunkIndexV2> signed_chunks;
  s = LoadManifest(fs, args, &manifest, &chunks, &have_chunks, &signed_chunks);
  opt.chunk_index = signed_chunks.get();
  // LoadManifest checked M's signature when --pubkey was given (it fails
  // otherwise): the chunk index M binds is then signed.
  opt.chunk_index_signed = s.ok() && signed_chunks && !args.pubkey.empty();
  // A pack's: its parity rebuilds what the drives do not deliver.
  std::unique_ptr<PackParity> pack;
  if (s.ok()) s = LoadPackParity(fs, args.manifest, manifest, &pack);
  opt.pack = pack.get();
  // The drives' labels and serials, where M binds M.drives; verify
  // refuses no drive for being of another shipment.
  std::vector<std::string> labels, serials;
  if (s.ok()) {
    s = MatchSourceDrives(fs, args, manifest, /*strict=*/false, &labels,
                          &serials);
  }
  if (!s.ok()) {
    PrintError(s.message());
    return kExitTrouble;
  }
  if (args.dry_run) return DryRun(fs, args, manifest);
  RunReport report;
  report.manifest = args.manifest;
  // Missing files as manifest entries: `manifest` outlives EmitReport.
  report.compact_missing = true;
  s = VerifyDrives(fs, manifest, have_chunks ? &chunks : nullptr, args.sources,
                   opt, &report);
  if (!s.ok()) {
    PrintError(s.message());
    return kExitTrouble;
  }
  StampReport(args, labels, serials, &report);
  return EmitReport(args, report, &report_files);
}

}  // namespace valise::cli
