// valise pack DATASET... --drives DRIVE... [--parity M] -o M: fill a
// shipment's drives with a dataset (whole files, balanced), M of them with
// Reed-Solomon parity, and write the manifest M with M.chunks, M.layout
// and M.parity bound to it (docs/pack.md).
//
//   plan    PlanPack: the drives checked, the layout (--dry-run stops here)
//   write   WritePack: stripes through the I/O engine, hashed, parity
//   bind    M.chunks and M.parity renamed into place, M.layout written,
//           all three bound to M; M written last (no M, no shipment)
#include <fmt/format.h>

#include <algorithm>

#include "cli/commands.h"
#include "pipeline/progress_render.h"
#include "pipeline/verify_internal.h"
#include "valise/pack_job.h"
#include "valise/sidecar.h"

namespace valise::cli {

namespace {

// fmt::print to stdout, through PrintOut: a failed write is kept for
// FinishStdout (fmt::print would throw).
template <typename... T>
void Print(fmt::format_string<T...> format, T&&... args) {
  PrintOut(fmt::format(format, std::forward<T>(args)...));
}

Status PackFromArgs(const Args& args, PackOptions* opt) {
  PipelineOptions p;
  VALISE_RETURN_IF_ERROR(PipelineFromArgs(args, &p));
  DigestSet digests;
  VALISE_RETURN_IF_ERROR(ParseDigestList(args.hash, &digests));
  opt->parity = args.parity;
  opt->chunk_size = p.chunk_size;
  opt->digests = digests;
  opt->threads = p.threads;
  opt->direct = p.direct;
  opt->engine = p.engine;
  opt->queue = p.queue;
  opt->progress = p.progress;
  opt->cancel = p.cancel;
  if (args.drives.empty()) {
    return Status::InvalidArgument("--drives", "no drive given");
  }
  if (args.output.empty() && !args.dry_run) {
    return Status::InvalidArgument("-o", "required (or --dry-run)");
  }
  return Status::OK();
}

std::string Percent(uint64_t part, uint64_t whole) {
  return whole == 0 ? "-" : fmt::format("{:.0f}%", 100.0 * part / whole);
}

// --dry-run: the plan, or why it does not fit and what would.
int PrintPlan(const Args& args, const PackOptions& opt, const PackPlan& plan,
              const Status& planned) {
  const PackLayout& l = plan.layout;
  if (!planned.ok()) {
    PrintError(planned.message());
    if (!planned.IsNoSpace() || plan.capacity.empty()) return kExitTrouble;
    const uint64_t smallest =
        *std::min_element(plan.capacity.begin(), plan.capacity.end());
    std::vector<PackFile> files;
    for (size_t i = 0; i < plan.entry_paths.size(); ++i) {
      files.push_back({plan.entry_paths[i], plan.entry_sizes[i]});
    }
    uint32_t k = 0;
    Status s =
        DataDrivesNeeded(files, opt.chunk_size, smallest, opt.parity, &k);
    if (s.ok()) {
      Print(
          "needs {} data + {} parity drives of {} (the smallest "
          "given); {} given\n",
          k, opt.parity, HumanBytes(smallest), args.drives.size());
    } else {
      PrintError(s.message());
    }
    return kExitProblems;
  }
  Print(
      "plan: {} files, {} on {} data + {} parity drives; chunk {}, "
      "{} stripes\n",
      l.files(), HumanBytes(l.bytes()), l.k(), l.m(), HumanBytes(l.chunk_size),
      l.stripes);
  for (uint32_t d = 0; d < l.k(); ++d) {
    const DataDriveLayout& drive = l.data[d];
    Print("  data   {:<16} {:>8} files {:>10} of {:>10} ({})  {}\n",
          drive.label, drive.files.size(), HumanBytes(drive.bytes),
          HumanBytes(plan.capacity[d]), Percent(drive.bytes, plan.capacity[d]),
          plan.data_roots[d]);
  }
  const uint64_t parity_bytes = l.stripes * l.chunk_size;
  for (uint32_t j = 0; j < l.m(); ++j) {
    const uint64_t cap = plan.capacity[l.k() + j];
    Print("  parity {:<16} {:>8} files {:>10} of {:>10} ({})  {}\n",
          l.parity[j].label, l.parity[j].segments.size(),
          HumanBytes(parity_bytes), HumanBytes(cap), Percent(parity_bytes, cap),
          plan.parity_roots[j]);
  }
  if (l.m() > 0) {
    Print(
        "parity: {} of the data ({}/{}); any {} of the {} drives may "
        "be lost\n",
        Percent(l.m() * parity_bytes, l.bytes()), l.m(), l.k(), l.m(),
        l.k() + l.m());
  } else {
    Print("no parity: a lost drive loses its files\n");
  }
  for (const FileResult& r : plan.skipped) {
    PrintWarning(
        fmt::format("would skip {} ({})", EscapePath(r.path), r.detail));
  }
  return kExitOk;
}

}  // namespace

int RunPack(const Args& args) {
  FileSystem* fs = FileSystem::Default();
  PackOptions opt;
  Status s = PackFromArgs(args, &opt);
  if (!s.ok()) {
    PrintError(s.message());
    return kExitTrouble;
  }
  FileInfo existing;
  if (!args.dry_run && fs->Stat(args.output, &existing).ok()) {
    PrintError(args.output +
               ": exists; valise pack does not overwrite a manifest");
    return kExitTrouble;
  }
  // M and M.layout created, M.chunks and M.parity checked, before any
  // drive is read or written (cli/output.h): never a link, an input, or a
  // path inside a dataset directory or a drive being filled.
  const OutputGuard guard = GuardFromArgs(args);
  std::unique_ptr<Output> out, layout_out;
  if (!args.dry_run) {
    s = Output::Create("-o", args.output, 0644, false, guard, &out);
    for (std::string_view name : {kChunkIndexSidecar, kParitySidecar}) {
      if (s.ok())
        s = Output::Check("-o", SidecarPath(args.output, name), guard);
    }
    if (s.ok()) {
      s = Output::Create("-o", SidecarPath(args.output, kLayoutSidecar), 0644,
                         false, guard, &layout_out);
    }
    if (!s.ok()) {
      PrintError(s.message());
      return kExitTrouble;
    }
  }
  // 1. Plan.
  PackPlan plan;
  s = PlanPack(fs, args.sources, args.drives, opt, true, &plan);
  if (args.dry_run) return PrintPlan(args, opt, plan, s);
  if (!s.ok()) {
    PrintError(s.message());
    return kExitTrouble;
  }
  for (const FileResult& r : plan.skipped) {
    PrintWarning(fmt::format("skipped {} ({}: never followed or read)",
                             EscapePath(r.path), r.detail));
  }
  // 2. Write.
  SidecarOutput chunks, parity;
  s = chunks.Open(fs, args.output, kChunkIndexSidecar);
  if (s.ok()) s = parity.Open(fs, args.output, kParitySidecar);
  Manifest manifest;
  PackSummary summary;
  if (s.ok()) {
    s = WritePack(fs, &plan, opt, chunks.file(), parity.file(), &manifest,
                  &summary);
  }
  // 3. Bind, and write M last.
  if (s.ok()) s = chunks.Commit(fs, args.output, &manifest);
  if (s.ok()) s = parity.Commit(fs, args.output, &manifest);
  if (s.ok()) {
    const std::string layout = WriteLayout(plan.layout);
    s = layout_out->Append(layout);
    if (s.ok()) s = layout_out->Close();
    if (s.ok()) manifest.Bind(kLayoutSidecar, BindingOf(layout));
  }
  if (s.ok()) {
    s = out->Append(WriteManifest(manifest, NowIso8601()));
    if (s.ok()) s = out->Close();
  }
  if (!s.ok()) {
    // No M, no shipment: its sidecars go too.
    chunks.Withdraw();
    parity.Withdraw();
  }
  if (!s.ok()) {
    PrintError(s.message());
    return s.IsAborted() ? kExitInterrupted : kExitTrouble;
  }
  const double secs = summary.seconds > 0 ? summary.seconds : 1e-9;
  PrintNote(args, fmt::format(
                      "{}: {} files, {} on {} data drives, {} of parity on "
                      "{}, in {:.1f} s ({}); {}",
                      args.output, summary.files, HumanBytes(summary.bytes),
                      plan.layout.k(), HumanBytes(summary.parity_bytes),
                      plan.layout.m(), summary.seconds,
                      HumanRate((summary.bytes + summary.parity_bytes) / secs),
                      summary.queue_note));
  return kExitOk;
}

}  // namespace valise::cli
