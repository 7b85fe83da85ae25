// valise manifest SRC... -o M: hash a dataset and write its manifest, and
// beside it its chunk index M.chunks (v2), bound to M by a "# bind chunks"
// line so that M's signature covers it, and M.drives (valise/drives.h):
// which drive each SRC is (file system UUID and label, serial, model) and
// which files it holds, bound by "# bind drives".
#include <fmt/format.h>

#include "cli/commands.h"
#include "pipeline/verify_internal.h"
#include "valise/bagit.h"
#include "valise/chunk_index_v2.h"
#include "valise/drives.h"
#include "valise/sidecar.h"

namespace valise::cli {

namespace {

// The digest a sum-file output format names ("sha256sum" -> sha256), or
// false for the valise format.
bool SumFileDigest(const std::string& format, DigestType* type) {
  static const std::pair<const char*, DigestType> kSums[] = {
      {"sha256sum", DigestType::kSha256}, {"sha512sum", DigestType::kSha512},
      {"sha1sum", DigestType::kSha1},     {"md5sum", DigestType::kMd5},
      {"xxhsum", DigestType::kXxh128},
  };
  for (const auto& [name, t] : kSums) {
    if (format == name) {
      *type = t;
      return true;
    }
  }
  return false;
}

// A comma-separated list, empty items kept.
std::vector<std::string> SplitList(const std::string& list) {
  std::vector<std::string> out(1);
  for (char c : list) {
    if (c == ',') {
      out.emplace_back();
    } else {
      out.back().push_back(c);
    }
  }
  return out;
}

// M.drives, written whole beside M (through `out`, opened before any
// drive's files were read), made durable, named and bound in it.
Status WriteDrives(FileSystem* fs, SidecarOutput* out, const Args& args,
                   const std::vector<DriveIdentity>& ids,
                   const std::vector<std::string>& labels,
                   const ManifestSummary& summary, Manifest* manifest) {
  ShipmentDrives drives;
  VALISE_RETURN_IF_ERROR(DescribeShipmentDrives(
      *manifest, args.sources, ids, summary.drive_runs, labels, &drives));
  const std::string text = WriteShipmentDrives(drives);
  Status s = out->file()->WriteAt(0, text.data(), text.size());
  if (s.ok()) s = out->file()->Sync();
  if (!s.ok()) {
    // Named as the operator will know it, not by its temporary name.
    const std::string path = SidecarPath(args.output, kDrivesSidecar);
    return s.err() != 0 ? Status::PosixError(path + ": write", s.err())
                        : Status::IOError(path, "write failed");
  }
  return out->Commit(fs, args.output, manifest);
}

}  // namespace

int RunManifest(const Args& args) {
  FileSystem* fs = FileSystem::Default();
  PipelineOptions opt;
  Status s = PipelineFromArgs(args, &opt);
  DigestSet digests;
  if (s.ok()) {
    s = ParseDigestList(args.hash.empty() ? "sha256,xxh128" : args.hash,
                        &digests);
  }
  DigestType sum_type = DigestType::kSha256;
  bool sum_file = SumFileDigest(args.format, &sum_type);
  // --format bagit: a BagIt payload manifest (manifest-<alg>.txt) of the
  // tree, paths prefixed "data/" as the payload lands in a bag; the
  // algorithm is the first of --hash that BagIt names (sha256 by default).
  const bool bagit = args.format == "bagit";
  if (s.ok() && bagit) {
    sum_file = true;
    bool found = false;
    for (DigestType t : {DigestType::kSha256, DigestType::kSha512,
                         DigestType::kSha1, DigestType::kMd5}) {
      if (!found && digests.Has(t)) {
        sum_type = t;
        found = true;
      }
    }
    if (!found) {
      s = Status::InvalidArgument("--hash",
                                  "--format bagit needs one of sha256, "
                                  "sha512, sha1, md5");
    }
    digests = DigestSet();
  }
  if (s.ok() && !sum_file && args.format != "auto" && args.format != "valise") {
    s = Status::InvalidArgument("--format", "cannot write '" + args.format +
                                                "' (valise, sha256sum, "
                                                "sha512sum, sha1sum, md5sum, "
                                                "xxhsum)");
  }
  // -o M and M.chunks, checked (M created) before any drive is read.
  const OutputGuard guard = GuardFromArgs(args);
  std::unique_ptr<Output> out;
  if (s.ok()) s = Output::Create("-o", args.output, 0644, true, guard, &out);
  if (!s.ok()) {
    PrintError(s.message());
    return kExitTrouble;
  }
  if (sum_file) digests.Add(sum_type);

  // Which drive each SRC is, before anything is read: a drive given twice
  // is refused now, not after hours of hashing.
  std::vector<DriveIdentity> ids;
  std::vector<std::string> labels;
  if (!sum_file) {
    for (const std::string& src : args.sources) {
      if (s.ok()) s = CheckSource(fs, src);
    }
    std::unique_ptr<DriveProber> prober = NewSystemDriveProber(fs);
    if (s.ok()) s = IdentifySources(prober.get(), args.sources, &ids);
    if (s.ok() && !args.labels.empty()) {
      labels = SplitList(args.labels);
      if (labels.size() != args.sources.size()) {
        s = Status::InvalidArgument(
            "--label", std::to_string(labels.size()) + " labels for " +
                           std::to_string(args.sources.size()) +
                           " SRCs: give one per SRC, in order");
      }
    }
    if (!s.ok()) {
      PrintError(s.message());
      return kExitTrouble;
    }
  }

  Manifest manifest;
  ManifestSummary summary;
  // -o -: the manifest on standard output; a chunk index needs a name.
  const bool want_chunks = !sum_file && !args.no_chunks && !out->is_stdout();
  // M.drives needs a name too.
  const bool want_drives = !sum_file && !out->is_stdout();
  SidecarOutput drives_out;
  if (want_drives) {
    s = Output::Check("-o", SidecarPath(args.output, kDrivesSidecar), guard);
    if (s.ok())
      s = drives_out.Open(fs, args.output, kDrivesSidecar, guard.force);
    if (!s.ok()) {
      PrintError(s.message());
      return kExitTrouble;
    }
  }
  SidecarOutput index;
  if (want_chunks) {
    s = Output::Check("-o", SidecarPath(args.output, kChunkIndexSidecar),
                      guard);
    if (s.ok())
      s = index.Open(fs, args.output, kChunkIndexSidecar, guard.force);
    if (!s.ok()) {
      PrintError(s.message());
      return kExitTrouble;
    }
  }
  s = MakeManifest(fs, args.sources, digests, opt, &manifest, nullptr, &summary,
                   want_chunks ? index.file() : nullptr);
  for (const FileResult& r : summary.skipped) {
    PrintWarning(fmt::format("skipped {} on {} ({}: never followed or read)",
                             EscapePath(r.path), args.sources[r.drive],
                             r.detail));
  }
  if (!s.ok()) {
    for (const std::string& e : summary.errors) PrintError(e);
    PrintError(s.message());
    return s.IsAborted() ? kExitInterrupted : kExitTrouble;
  }

  // The index first: M's binding is taken from the file as it lies.
  if (want_chunks) s = index.Commit(fs, args.output, &manifest);
  if (s.ok() && want_drives) {
    s = WriteDrives(fs, &drives_out, args, ids, labels, summary, &manifest);
  }
  if (s.ok()) {
    const std::string text = bagit
                                 ? WriteBagManifest(manifest, sum_type, "data/")
                             : sum_file ? WriteSumFile(manifest, sum_type)
                                        : WriteManifest(manifest, NowIso8601());
    s = out->Append(text);
    if (s.ok()) s = out->Close();
  }
  if (!s.ok()) {
    // Nothing named for a manifest that could not be written.
    index.Withdraw();
    drives_out.Withdraw();
  }
  if (!s.ok()) {
    PrintError(s.message());
    return kExitTrouble;
  }
  const double secs = summary.seconds > 0 ? summary.seconds : 1e-9;
  PrintNote(
      args,
      fmt::format("{}: {} files, {} bytes in {:.1f} s ({:.0f} "
                  "MB/s){}",
                  out->is_stdout() ? "standard output" : args.output,
                  summary.files, summary.bytes, summary.seconds,
                  summary.bytes / secs / 1e6,
                  summary.skipped.empty()
                      ? ""
                      : fmt::format("; {} skipped", summary.skipped.size())));
  return kExitOk;
}

}  // namespace valise::cli
