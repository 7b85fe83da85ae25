// valise pack DATASET... --drives DRIVE... [--parity M] -o M: fill a
// shipment's drives with a dataset (whole files, balanced), M of them with
// Reed-Solomon parity, and write the manifest M with M.chunks, M.layout
// and M.parity bound to it (docs/pack.md).
//
//   plan    PlanPack: the drives checked, the layout (--dry-run stops
//           here); the state directory M.pack and the drives' markers
//           (pack_state.h), so that a pack cut short resumes
//   write   WritePack: stripes through the I/O engine, hashed, parity;
//           each checkpoint journaled
//   seal    M.chunks and M.parity moved into place, M.layout written, all
//           three bound to M; M written last (no M, no shipment); the
//           state removed
// Run again after a crash, a signal or an error, the same command finds
// M.pack and resumes from the last checkpoint.
//
// --mkfs (valise/pack_mkfs.h): the drives are block devices, checked all
// before any is formatted, formatted (or recognised, from M.mkfs, as this
// pack's), mounted in a mount namespace of the process's own, packed onto
// as above, and unmounted on every way out.
#include <fmt/format.h>

#include <algorithm>

#include "cli/commands.h"
#include "pipeline/progress_render.h"
#include "pipeline/verify_internal.h"
#include "valise/pack_job.h"
#include "valise/pack_mkfs.h"
#include "valise/pack_state.h"
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
  // --hash, or PackOptions' default (xxh128).
  if (!args.hash.empty()) {
    DigestSet digests;
    VALISE_RETURN_IF_ERROR(ParseDigestList(args.hash, &digests));
    opt->digests = digests;
  }
  opt->parity = args.parity;
  opt->chunk_size = p.chunk_size;
  opt->threads = p.threads;
  opt->direct = p.direct;
  opt->engine = p.engine;
  opt->queue = p.queue;
  opt->progress = p.progress;
  opt->cancel = p.cancel;
  opt->checkpoint_bytes = uint64_t{args.checkpoint_mib} << 20;
  if (args.drives.empty()) {
    return Status::InvalidArgument("--drives", "no drive given");
  }
  if (args.output.empty() && !args.dry_run) {
    return Status::InvalidArgument("-o", "required (or --dry-run)");
  }
  if (!args.mkfs.empty() && !IsMkfsType(args.mkfs)) {
    return Status::InvalidArgument(
        "--mkfs", "'" + args.mkfs + "': makes ext4 or xfs file systems");
  }
  if (args.mkfs_force && args.mkfs.empty()) {
    return Status::InvalidArgument("--mkfs-force", "only with --mkfs");
  }
  return Status::OK();
}

// `opt`: the pack's, for the check that the dataset could fit on the
// devices before any is formatted.
MkfsOptions MkfsFromArgs(const Args& args, const PackOptions& opt) {
  MkfsOptions m;
  m.fs_type = args.mkfs;
  m.force = args.mkfs_force;
  m.dry_run = args.dry_run;
  m.manifest = args.output;
  m.check = [&args, opt](const std::vector<MkfsDeviceFacts>& facts) {
    std::vector<uint64_t> bytes;
    for (const MkfsDeviceFacts& f : facts) bytes.push_back(f.bytes);
    return CheckFitsRawDrives(FileSystem::Default(), args.sources, bytes, opt);
  };
  return m;
}

// "/dev/sdb (as 'ship-01', uuid 0b5c...)".
std::string Describe(const MkfsDrive& d) {
  return fmt::format("{} (as '{}', uuid {})", d.device, d.label, d.uuid);
}

// --mkfs --dry-run: what each device holds and what would be done with it.
// Exit 0 when every device would be formatted or resumed, 1 when the
// dataset would not fit even on the devices' raw sizes, 2 otherwise.
int MkfsDryRun(const Args& args, const PackOptions& opt) {
  std::unique_ptr<MkfsSystem> sys = NewSystemMkfs();
  std::vector<MkfsDrive> drives;
  std::unique_ptr<MkfsDrives> none;
  Status s = MkfsDrives::Prepare(FileSystem::Default(), sys.get(), args.drives,
                                 MkfsFromArgs(args, opt), &drives, &none);
  for (const MkfsDrive& d : drives) {
    const char* what = d.decision.action == MkfsAction::kFormat   ? "format"
                       : d.decision.action == MkfsAction::kResume ? "resume"
                                                                  : "refuse";
    Print("  {:<7} {:<20} {} '{}': {}\n", what, d.device, args.mkfs, d.label,
          d.decision.why);
  }
  if (!s.ok()) {
    PrintError(s.message());
    return s.IsNoSpace() ? kExitProblems : kExitTrouble;
  }
  Print(
      "would format {} and mount {} device(s) as {}, then pack onto them "
      "(the plan needs the file systems: run without --dry-run)\n",
      std::count_if(drives.begin(), drives.end(),
                    [](const MkfsDrive& d) {
                      return d.decision.action == MkfsAction::kFormat;
                    }),
      drives.size(), args.mkfs);
  return kExitOk;
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

int Trouble(const Status& s, bool resumable) {
  PrintError(s.message());
  if (s.IsAborted()) return kExitInterrupted;
  if (resumable) {
    PrintNote(Args(),
              "what was written up to the last checkpoint is kept: "
              "run the same command again to resume");
  }
  return kExitTrouble;
}

// --dry-run of an interrupted pack: where it stands; else the plan.
int DryRun(const Args& args, PackOptions opt) {
  FileSystem* fs = FileSystem::Default();
  std::unique_ptr<PackState> state;
  Status s = args.output.empty() ? Status::NotFound("no -o")
                                 : PackState::Open(fs, args.output, &state);
  if (!s.ok() && !s.IsNotFound()) return Trouble(s, false);
  PackPlan plan;
  if (state == nullptr) {
    s = PlanPack(fs, args.sources, args.drives, opt, true, &plan);
    return PrintPlan(args, opt, plan, s);
  }
  opt.digests = state->digests();
  opt.chunk_size = state->layout().chunk_size;
  PackResume resume;
  s = PlanResume(fs, args.sources, args.drives, state->layout(), opt, &plan);
  if (s.ok()) s = state->Resume(plan, &resume);
  if (!s.ok()) return Trouble(s, false);
  Print("would resume the pack begun in {}: {} of {} stripes written\n",
        PackState::DirFor(args.output), resume.stripes_done,
        plan.layout.stripes);
  return kExitOk;
}

// The pack itself onto `drives` (mount points), past the checks of -o;
// M signed with `key` (-k, read by RunPack) unless it is empty.
int PackOnto(const Args& args, PackOptions opt,
             const std::vector<std::string>& drives, const std::string& key);

// --mkfs: the devices checked, formatted (or, after an interruption,
// recognised) and mounted in a mount namespace of this process's own (the
// mounts die with it, however it ends); the pack onto the mount points;
// the drives unmounted on every way out, M.mkfs removed once sealed.
int PackMkfs(const Args& args, const PackOptions& opt, const std::string& key) {
  // A finished shipment's manifest: its drives are not formatted again
  // (RunPackJob would refuse it only after the formatting).
  FileSystem* fs = FileSystem::Default();
  FileInfo info;
  if (fs->Stat(args.output, &info).ok() &&
      !fs->Stat(PackState::DirFor(args.output), &info).ok()) {
    PrintError(args.output +
               ": exists; valise pack does not overwrite a manifest (nor "
               "format its drives)");
    return kExitTrouble;
  }
  Status s = PrivateMountNamespace();
  if (!s.ok()) {
    PrintError(s.message());
    return kExitTrouble;
  }
  std::unique_ptr<MkfsSystem> sys = NewSystemMkfs();
  std::vector<MkfsDrive> drives;
  std::unique_ptr<MkfsDrives> mounted;
  s = MkfsDrives::Prepare(fs, sys.get(), args.drives, MkfsFromArgs(args, opt),
                          &drives, &mounted);
  for (const MkfsDrive& d : drives) {
    if (d.decision.action == MkfsAction::kRefuse) continue;
    if (!s.ok()) break;
    PrintNote(args, fmt::format("{} {}",
                                d.decision.action == MkfsAction::kFormat
                                    ? "formatted"
                                    : "resuming on",
                                Describe(d)));
  }
  if (!s.ok()) {
    PrintError(s.message());
    return kExitTrouble;
  }
  PackOptions o = opt;
  o.drive_sources = args.drives;
  int code = PackOnto(args, o, mounted->mount_points(), key);
  s = mounted->Finish(code == kExitOk);
  if (!s.ok()) {
    PrintError("unmounting the drives: " + s.message());
    if (code == kExitOk) code = kExitTrouble;
  }
  return code;
}

}  // namespace

int RunPack(const Args& args) {
  PackOptions opt;
  Status s = PackFromArgs(args, &opt);
  if (!s.ok()) {
    PrintError(s.message());
    return kExitTrouble;
  }
  FileSystem* fs = FileSystem::Default();
  // -k: the key read and checked before anything is planned or written (a
  // pack refused its signature at the end would have cost the whole
  // write), and kept to sign M once it is sealed.
  std::string key;
  if (!args.key.empty()) {
    s = ReadSigningKey(fs, args.key, &key);
    if (!s.ok()) {
      PrintError(s.message());
      return kExitTrouble;
    }
  }
  if (args.dry_run) {
    return args.mkfs.empty() ? DryRun(args, opt) : MkfsDryRun(args, opt);
  }
  // M and its sidecars checked before any drive is read or written
  // (cli/output.h): never a link, an input, or a path inside a dataset
  // directory or a drive being filled. (One there already is RunPackJob's
  // to refuse, or to seal over after a crash while sealing.)
  const OutputGuard guard = GuardFromArgs(args);
  for (std::string_view name :
       {std::string_view(), kChunkIndexSidecar, kParitySidecar, kLayoutSidecar,
        kDrivesSidecar, kMkfsSidecar}) {
    const std::string path =
        name.empty() ? args.output : SidecarPath(args.output, name);
    FileInfo info;
    if (fs->Stat(path, &info).ok()) continue;
    s = Output::Check("-o", path, guard);
    if (!s.ok()) {
      PrintError(s.message());
      return kExitTrouble;
    }
  }
  // M.sig, the -k output: checked as M is, and one already there without
  // M is another pack's.
  if (!args.key.empty()) {
    FileInfo info;
    const std::string sig = args.output + ".sig";
    if (!fs->Stat(sig, &info).ok()) {
      s = Output::Check("-k", sig, guard);
    } else if (!fs->Stat(args.output, &info).ok()) {
      s = Status::InvalidArgument(sig, "exists without " + args.output +
                                           " (another pack's signature?): move "
                                           "it away");
    }
    if (!s.ok()) {
      PrintError(s.message());
      return kExitTrouble;
    }
  }
  if (!args.mkfs.empty()) return PackMkfs(args, opt, key);
  return PackOnto(args, opt, args.drives, key);
}

namespace {

int PackOnto(const Args& args, PackOptions opt,
             const std::vector<std::string>& drives, const std::string& key) {
  FileSystem* fs = FileSystem::Default();
  // Plan (or take up the interrupted pack of the same -o), write, seal;
  // M.drives records each drive's identity, read before anything is written.
  std::unique_ptr<DriveProber> prober = NewSystemDriveProber(fs);
  opt.prober = prober.get();
  PackJobResult r;
  Status s =
      RunPackJob(fs, args.sources, drives, args.output, opt, NowIso8601(), &r);
  for (const FileResult& f : r.plan.skipped) {
    PrintWarning(fmt::format("skipped {} ({}: never followed or read)",
                             EscapePath(f.path), f.detail));
  }
  if (r.resumed) {
    PrintNote(args, fmt::format("resumed the interrupted pack ({} of {} "
                                "stripes were written)",
                                r.resumed_at, r.plan.layout.stripes));
  }
  if (!s.ok()) {
    // Once the state exists, what was written is kept for a rerun.
    FileInfo info;
    return Trouble(s, fs->Stat(PackState::DirFor(args.output), &info).ok());
  }
  if (!key.empty()) {
    std::string sig_path;
    s = SignManifest(fs, GuardFromArgs(args), args.output, key, &sig_path);
    if (!s.ok()) {
      PrintError(s.message() + " (the pack is written: sign " + args.output +
                 " with valise sign -k KEY)");
      return kExitTrouble;
    }
    PrintNote(args, "wrote " + sig_path);
  }
  const PackSummary& summary = r.summary;
  if (summary.seconds == 0) {  // a resumed pack that had only to be sealed
    PrintNote(args, fmt::format("{}: {} files, {} on {} data drives, sealed",
                                args.output, r.manifest.size(),
                                HumanBytes(r.manifest.total_bytes()),
                                r.plan.layout.k()));
    return kExitOk;
  }
  const double secs = summary.seconds > 0 ? summary.seconds : 1e-9;
  PrintNote(args, fmt::format(
                      "{}: {} files, {} on {} data drives, {} of parity on "
                      "{}, in {:.1f} s ({}); {}",
                      args.output, r.manifest.size(),
                      HumanBytes(r.manifest.total_bytes()), r.plan.layout.k(),
                      HumanBytes(summary.parity_bytes), r.plan.layout.m(),
                      summary.seconds,
                      HumanRate((summary.bytes + summary.parity_bytes) / secs),
                      summary.queue_note));
  return kExitOk;
}

}  // namespace

}  // namespace valise::cli
