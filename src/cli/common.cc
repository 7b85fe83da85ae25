// What the commands share: loading an authenticated manifest, pipeline
// options from flags, and emitting the report.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "cli/commands.h"
#include "cli/output.h"
#include "valise/drives.h"
#include "valise/s3_file_system.h"
#include "valise/sidecar.h"
#include "valise/signature.h"

namespace valise::cli {

namespace {
// Manifests of tens of millions of lines run to gigabytes.
constexpr size_t kMaxManifestBytes = size_t{16} << 30;
constexpr size_t kMaxKeyBytes = 64 << 10;
// Bounds of the numeric flags (PipelineFromArgs). --depth: past 1024
// reads in flight a drive gains nothing and the buffers alone are a GiB
// per drive; --threads: the hashers (the reader uses at most 16);
// --retries: each retry of a bad sector may take the drive seconds.
constexpr unsigned kMaxDepth = 1024;
constexpr unsigned kMaxThreads = 1024;
constexpr unsigned kMaxRetries = 100;
}  // namespace

namespace {

// The chunk index M binds (v2): checked against the binding, then opened.
// A missing one is a warning (corrupt files are still found); one that
// does not match is an error.
Status LoadSignedChunks(FileSystem* fs, const Args& args,
                        const Manifest& manifest,
                        std::unique_ptr<ChunkIndexV2>* out) {
  std::unique_ptr<PositionalSource> source;
  Status s = OpenBoundSidecar(fs, args.manifest, manifest, kChunkIndexSidecar,
                              &source);
  if (s.IsNotFound()) {
    PrintWarning(s.message() + " (" + args.manifest +
                 " binds a chunk index: corrupt files will be found, not "
                 "located)");
    return Status::OK();
  }
  VALISE_RETURN_IF_ERROR(s);
  return ChunkIndexV2::Open(std::move(source), manifest, out);
}

// A v1 text chunk index beside M, if there is one (not bound: a bad one
// is a warning).
void LoadTextChunks(FileSystem* fs, const Args& args, ChunkIndex* chunks,
                    bool* have_chunks) {
  std::string cdata;
  const std::string cpath = SidecarPath(args.manifest, kChunkIndexSidecar);
  Status s = fs->ReadSmallFile(cpath, &cdata, kMaxManifestBytes);
  if (s.ok() && std::string_view(cdata).substr(0, kChunkIndexV2Magic.size()) ==
                    kChunkIndexV2Magic) {
    PrintWarning(cpath + ": a chunk index v2, but " + args.manifest +
                 " does not bind it (ignored: corrupt files will be found, "
                 "not located)");
    return;
  }
  if (s.ok()) s = ParseChunkIndex(cdata, cpath, chunks);
  if (s.ok()) {
    *have_chunks = true;
  } else if (!s.IsNotFound()) {
    PrintWarning(s.message() +
                 " (ignored: corrupt files will be found, not localised)");
  }
}

}  // namespace

SidecarOutput::~SidecarOutput() {
  file_.reset();
  if (dir_ && !committed_) dir_->Remove(temp_).PermitUncheckedError();
}

Status SidecarOutput::Open(FileSystem* fs, const std::string& output,
                           std::string_view name, bool replace) {
  replace_ = replace;
  const size_t slash = output.rfind('/');
  const std::string parent = slash == std::string::npos ? "."
                             : slash == 0               ? "/"
                                          : output.substr(0, slash);
  name_ = std::string(name);
  base_ =
      output.substr(slash == std::string::npos ? 0 : slash + 1) + "." + name_;
  temp_ = "." + base_ + ".tmp-" + std::to_string(getpid());
  VALISE_RETURN_IF_ERROR(fs->OpenDirectory(parent, false, &dir_));
  WriteOptions wo;
  wo.mode = 0644;
  return dir_->CreateFile(temp_, wo, &file_);
}

Status SidecarOutput::Commit(FileSystem* fs, const std::string& output,
                             Manifest* m) {
  file_.reset();
  VALISE_RETURN_IF_ERROR(dir_->Rename(temp_, base_, !replace_));
  committed_ = true;
  VALISE_RETURN_IF_ERROR(dir_->SyncDir(""));
  SidecarBinding b;
  VALISE_RETURN_IF_ERROR(BindFile(fs, SidecarPath(output, name_), &b));
  m->Bind(name_, b);
  return Status::OK();
}

void SidecarOutput::Withdraw() {
  if (dir_ && committed_) dir_->Remove(base_).PermitUncheckedError();
}

Status LoadManifest(FileSystem* fs, const Args& args, Manifest* manifest,
                    ChunkIndex* chunks, bool* have_chunks,
                    std::unique_ptr<ChunkIndexV2>* signed_chunks,
                    const std::function<Status(std::string_view)>& check_path) {
  *have_chunks = false;
  ManifestReadOptions format;
  format.check_path = check_path;
  if (!ParseManifestFormat(args.format, &format)) {
    return Status::InvalidArgument("--format",
                                   "unknown format '" + args.format + "'");
  }
  // Read whole, into memory the parser gives back as it goes: the text
  // (140 B a line) and the parsed manifest (~90 B an entry) are never held
  // whole together, so a 10-million-line manifest stays within the memory
  // budget (docs/reliability.md, bug 7). The bytes are a private copy:
  // the file changing after this read cannot change what was checked.
  std::unique_ptr<FileContents> text;
  VALISE_RETURN_IF_ERROR(
      fs->ReadLargeFile(args.manifest, kMaxManifestBytes, &text));
  const std::string_view data = text->data();

  // The signature is checked over the exact bytes before any of them is
  // parsed: a tampered manifest never reaches the parser.
  if (!args.pubkey.empty()) {
    std::string pub, sig;
    VALISE_RETURN_IF_ERROR(fs->ReadSmallFile(args.pubkey, &pub, kMaxKeyBytes));
    const std::string sig_path = args.manifest + ".sig";
    Status s = fs->ReadSmallFile(sig_path, &sig, kMaxKeyBytes);
    if (s.IsNotFound()) {
      return Status::InvalidArgument(sig_path,
                                     "no signature, and --pubkey requires one");
    }
    VALISE_RETURN_IF_ERROR(s);
    s = VerifySignature(pub, data, sig);
    if (!s.ok()) {
      return s.WithContext(args.manifest + ": signature check failed");
    }
  }

  format.release = [&text](size_t offset) { text->Release(offset); };
  VALISE_RETURN_IF_ERROR(ParseManifest(data, args.manifest, format, manifest));
  text.reset();

  if (manifest->format() != ManifestFormat::kValise) return Status::OK();
  // A bound chunk index is trusted as far as M is: with --pubkey, M's
  // signature was checked above, and the binding is in the bytes it
  // covers.
  if (manifest->binding(kChunkIndexSidecar) != nullptr) {
    if (signed_chunks == nullptr) return Status::OK();
    return LoadSignedChunks(fs, args, *manifest, signed_chunks);
  }
  LoadTextChunks(fs, args, chunks, have_chunks);
  return Status::OK();
}

Status ParseDigestList(const std::string& list, DigestSet* set) {
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    if (comma == std::string::npos) comma = list.size();
    std::string name = list.substr(pos, comma - pos);
    DigestType t;
    if (!ParseDigestName(name, &t)) {
      return Status::InvalidArgument("--hash", "unknown digest '" + name +
                                                   "' (sha256, xxh128, "
                                                   "sha512, sha1, md5)");
    }
    set->Add(t);
    pos = comma + 1;
  }
  return Status::OK();
}

Status PipelineFromArgs(const Args& args, PipelineOptions* opt) {
  const uint64_t chunk = uint64_t{args.chunk_kib} * 1024;
  if (args.chunk_kib % 4 != 0 || chunk < 4096 || chunk > (64u << 20)) {
    return Status::InvalidArgument(
        "--chunk-size", "must be a multiple of 4 KiB from 4 to 65536");
  }
  // Every numeric flag is bounded here, before anything is allocated
  // (--depth 16384 aborted the run when its buffers could not be had).
  if (!(args.io_timeout >= 0 && args.io_timeout <= 86400)) {
    return Status::InvalidArgument("--io-timeout",
                                   "must be from 0 to 86400 seconds");
  }
  if (args.depth > kMaxDepth) {
    return Status::InvalidArgument("--depth", "must be from 1 to " +
                                                  std::to_string(kMaxDepth) +
                                                  " reads in flight per drive");
  }
  if (args.threads > kMaxThreads) {
    return Status::InvalidArgument(
        "--threads", "must be from 1 to " + std::to_string(kMaxThreads));
  }
  if (args.retries > kMaxRetries) {
    return Status::InvalidArgument(
        "--retries", "must be from 0 to " + std::to_string(kMaxRetries));
  }
  opt->chunk_size = chunk;
  opt->depth = args.depth;
  opt->threads = args.threads;
  opt->direct = !args.no_direct;
  opt->engine.retries = args.retries;
  opt->engine.io_timeout_us = static_cast<uint64_t>(args.io_timeout * 1e6);
  opt->queue.use_uring = !args.no_uring;
  if (!args.hash_only.empty()) {
    std::string list = args.hash_only;
    size_t pos = 0;
    while (pos <= list.size()) {
      size_t comma = list.find(',', pos);
      if (comma == std::string::npos) comma = list.size();
      DigestType t;
      std::string name = list.substr(pos, comma - pos);
      if (!ParseDigestName(name, &t)) {
        return Status::InvalidArgument("--hash-only",
                                       "unknown digest '" + name + "'");
      }
      opt->hash_only.Add(t);
      pos = comma + 1;
    }
  }
  opt->progress =
      !args.no_progress && !args.quiet && !args.json && isatty(STDERR_FILENO);
  if (!args.stats.empty()) {
    VALISE_RETURN_IF_ERROR(
        ParseDuration("--stats", args.stats, &opt->stats_seconds));
    opt->stats_final = true;
  } else if (!args.quiet && isatty(STDERR_FILENO) != 1) {
    // Like rclone's: a log (nohup, systemd) shows the run going on.
    opt->stats_seconds = 60;
    opt->stats_final = false;
  }
  opt->metrics_file = args.metrics;
  opt->cancel = args.cancel != nullptr ? args.cancel : InstallSignalHandlers();
  return Status::OK();
}

Status ParseDuration(const std::string& flag, const std::string& text,
                     double* seconds) {
  static constexpr std::pair<const char*, double> kUnits[] = {
      {"ms", 0.001}, {"s", 1}, {"m", 60}, {"h", 3600}, {"", 1}};
  auto bad = [&] {
    return Status::InvalidArgument(
        flag, "'" + text + "' is not a duration (60s, 5m, 1h, 500ms, 0)");
  };
  size_t end = 0;
  double v = 0;
  try {
    v = std::stod(text, &end);
  } catch (const std::exception&) {
    return bad();
  }
  const std::string unit = text.substr(end);
  for (const auto& [name, scale] : kUnits) {
    if (unit != name) continue;
    const double s = v * scale;
    if (!(s >= 0 && s <= 86400) || text[0] == ' ') {
      return Status::InvalidArgument(
          flag, "'" + text + "' must be from 0 to 24 hours");
    }
    *seconds = s;
    return Status::OK();
  }
  return bad();
}

Status CheckMetricsOutput(const Args& args) {
  if (args.metrics.empty()) return Status::OK();
  OutputGuard guard = GuardFromArgs(args);
  guard.force = true;
  // Created and dropped unnamed: the directory takes a file, and nothing
  // is left behind; the run writes the file itself.
  std::unique_ptr<Output> out;
  return Output::Create("--metrics", args.metrics, 0644, false, guard, &out);
}

bool AnyS3Path(const std::vector<std::string>& paths) {
  for (const std::string& p : paths) {
    if (IsS3Url(p)) return true;
  }
  return false;
}

Status OpenS3Session(const Args& args, unsigned gets, S3Session* session) {
  S3Flags flags;
  flags.endpoint = args.endpoint;
  flags.ca_bundle = args.ca_bundle;
  S3Config config;
  VALISE_RETURN_IF_ERROR(
      ResolveS3Config(flags, S3Environment::FromProcess(), &config));
  VALISE_RETURN_IF_ERROR(NewS3Client(config, &session->client));
  session->fs =
      NewS3FileSystem(FileSystem::Default(), session->client.get(), gets);
  return Status::OK();
}

Status CreateReportOutput(const Args& args, std::unique_ptr<Output>* out) {
  out->reset();
  if (args.report.empty()) return Status::OK();
  return Output::Create("--report", args.report, 0644, false,
                        GuardFromArgs(args), out);
}

bool IsHtmlName(const std::string& path) {
  std::string tail = path.substr(path.size() > 5 ? path.size() - 5 : 0);
  std::transform(tail.begin(), tail.end(), tail.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return tail.ends_with(".html") || tail.ends_with(".htm");
}

Status CreateReportFiles(const Args& args, ReportFiles* out) {
  *out = ReportFiles();
  if (!args.report.empty() && args.report == args.html) {
    return Status::InvalidArgument(
        "--html", args.html + ": also given to --report (give one of them)");
  }
  VALISE_RETURN_IF_ERROR(CreateReportOutput(args, &out->report));
  out->report_html = !args.report.empty() && IsHtmlName(args.report);
  if (args.html.empty()) return Status::OK();
  return Output::Create("--html", args.html, 0644, false, GuardFromArgs(args),
                        &out->html);
}

namespace {

// The drives M.drives names `strict`ly not given: warned of with the files
// only they hold (those this run cannot stage), before the run starts.
void WarnNotGiven(const ShipmentDrives& drives,
                  const std::vector<std::string>& labels) {
  std::vector<bool> given(drives.drives.size(), false);
  for (size_t d = 0; d < drives.drives.size(); ++d) {
    for (const std::string& l : labels)
      given[d] = given[d] || l == drives.drives[d].label;
  }
  std::vector<uint64_t> only(drives.drives.size(), 0);
  for (const std::vector<uint32_t>& h : HoldersByEntry(drives)) {
    bool any_given = false;
    for (uint32_t d : h) any_given = any_given || given[d];
    if (!any_given && h.size() == 1) ++only[h[0]];
  }
  for (size_t d = 0; d < drives.drives.size(); ++d) {
    if (given[d]) continue;
    PrintWarning(fmt::format("drive {} not given: {} files only on it",
                             DescribeDrive(drives.drives[d]), only[d]));
  }
}

// An absolute, lexically normal form of `path` (an s3:// URL as it is).
std::string Absolute(const std::string& path) {
  if (path.empty() || IsS3Url(path)) return path;
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(path, ec);
  if (ec) return path;
  std::string s = p.lexically_normal().string();
  // "dir/" normalises to "dir/": a directory is named without the slash.
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

}  // namespace

Status MatchSourceDrives(FileSystem* fs, const Args& args, const Manifest& m,
                         bool strict, std::vector<std::string>* labels,
                         std::vector<std::string>* serials) {
  labels->assign(args.sources.size(), "");
  serials->assign(args.sources.size(), "");
  if (m.binding(kDrivesSidecar) == nullptr) return Status::OK();
  ShipmentDrives drives;
  Status s = LoadShipmentDrives(fs, args.manifest, m, &drives);
  if (s.IsNotFound() || (!strict && !s.ok())) {
    // As for the chunk index: the run can do without it.
    if (strict) {
      PrintWarning(s.message() + " (M binds it): drives are not matched");
    }
    return Status::OK();
  }
  VALISE_RETURN_IF_ERROR(s);
  std::unique_ptr<DriveProber> prober = NewSystemDriveProber(fs);
  std::vector<DriveIdentity> ids;
  std::vector<int> drive_of;
  s = IdentifySources(prober.get(), args.sources, &ids);
  if (s.ok()) s = MatchShipmentDrives(drives, args.sources, ids, &drive_of);
  if (!s.ok()) {
    // verify names the drives it can, and refuses none.
    return strict ? s : Status::OK();
  }
  auto tag = [&](size_t i, const ShipmentDrive& d) {
    (*labels)[i] = d.label;
    (*serials)[i] = d.id.serial.empty() ? d.id.wwn : d.id.serial;
  };
  for (size_t i = 0; i < drive_of.size(); ++i) {
    if (drive_of[i] >= 0) {
      tag(i, drives.drives[drive_of[i]]);
      continue;
    }
    // A directory inside a file system has no identity: named (for status,
    // never refused) by the SRC it was at the source, if the same.
    for (const ShipmentDrive& d : drives.drives) {
      if (!ids[i].whole && !d.id.whole && d.source == args.sources[i]) {
        tag(i, d);
      }
    }
  }
  if (strict) WarnNotGiven(drives, *labels);
  return Status::OK();
}

void StampReport(const Args& args, const std::vector<std::string>& labels,
                 const std::vector<std::string>& serials, RunReport* report) {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) == 0) report->host = host;
  report->manifest_absolute = Absolute(args.manifest);
  report->dest_absolute = Absolute(args.dest);
  // Reached only when the signature checked out (LoadManifest refuses a
  // manifest whose signature does not).
  report->signature_checked = !args.pubkey.empty();
  if (report->signature_checked) {
    std::string pem;
    if (FileSystem::Default()
            ->ReadSmallFile(args.pubkey, &pem, kMaxKeyBytes)
            .ok()) {
      PublicKeyFingerprint(pem, &report->key_fingerprint)
          .PermitUncheckedError();
    }
  }
  for (size_t i = 0; i < report->drives.size(); ++i) {
    DriveReport& d = report->drives[i];
    d.absolute = Absolute(d.source);
    if (i < labels.size()) d.label = labels[i];
    if (i < serials.size()) d.serial = serials[i];
  }
}

int EmitReport(const Args& args, const RunReport& report,
               ReportFiles* report_files) {
  const int code = report.ExitCode();
  if (args.json) {
    // Streamed: a report of millions of rows is never held whole.
    WriteJson(report, [](std::string_view piece) { PrintOut(piece); });
    PrintOut("\n");
  } else if (!args.quiet || code != kExitOk) {
    SummaryOptions opt;
    opt.verbose = args.verbose;
    PrintOut(FormatSummary(report, opt));
  }
  // Flushed now, so the summary is out before a slow report file; a
  // failure of standard output (a closed pipe, a full disk) is reported
  // as valise exits (FinishStdout) and the report files are written anyway.
  FlushOut();
  if (report_files == nullptr) return code;
  // The page for people (inline chart); the JSON streamed into the file:
  // never held whole.
  auto write = [&](Output* file, bool html) {
    Status s;
    if (html) {
      s = file->Append(FormatHtml(report));
    } else {
      WriteJson(report, [&](std::string_view piece) {
        if (s.ok()) s = file->Append(piece);
      });
      if (s.ok()) s = file->Append("\n");
    }
    if (s.ok()) s = file->Close();
    return s;
  };
  int result = code;
  for (auto [file, html] :
       {std::pair{report_files->report.get(), report_files->report_html},
        std::pair{report_files->html.get(), true}}) {
    if (file == nullptr) continue;
    Status s = write(file, html);
    if (!s.ok()) {
      PrintError(s.message());
      result = code == kExitInterrupted ? code : kExitTrouble;
    }
  }
  return result;
}

}  // namespace valise::cli
