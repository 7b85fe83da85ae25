// The commands of the valise executable, one file each (cmd_*.cc), and
// what they share: messages, loading a manifest, the pipeline options a
// command line asks for, signals, and emitting the report.
//
// Exit status, the same for every command: 0 everything checked out; 1 the
// run finished and found problems; 2 trouble (usage, unreadable or
// unsigned manifest where a signature is required, a fatal I/O error); 130
// interrupted by a signal.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "cli/flags.h"
#include "cli/output.h"
#include "valise/chunk_index_v2.h"
#include "valise/file_system.h"
#include "valise/manifest.h"
#include "valise/pipeline.h"
#include "valise/report.h"
#include "valise/s3.h"
#include "valise/status.h"

namespace CLI {
class FormatterBase;
}  // namespace CLI

namespace valise::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitProblems = 1;
inline constexpr int kExitTrouble = 2;
inline constexpr int kExitInterrupted = 130;

int Main(int argc, char** argv);

int RunManifest(const Args& args);
int RunVerify(const Args& args);
// `report_out` (watch): the run's report, for the caller to read.
int RunIngest(const Args& args, RunReport* report_out = nullptr);
int RunBench(const Args& args);
int RunKeygen(const Args& args);
int RunSign(const Args& args);
// The Ed25519 private key at `path` into *key: readable by its owner only
// and parsed (checked before any work that it would sign at the end).
Status ReadSigningKey(FileSystem* fs, const std::string& path,
                      std::string* key);
// Signs `manifest` with `key` into manifest.sig (*sig_path), an output
// under `guard` (never replaced without --force), after checking the
// sidecars it binds against their bindings.
Status SignManifest(FileSystem* fs, const OutputGuard& guard,
                    const std::string& manifest, const std::string& key,
                    std::string* sig_path);
int RunPack(const Args& args);
int RunStatus(const Args& args);
int RunWatch(const Args& args);
// Hidden generators (cmd_docs.cc): the roff man page and the bash or zsh
// completion script, printed on stdout from FlagTable() and CommandTable().
int RunHelpMan();
int RunCompletions(const std::string& shell);
// The --help formatter: CLI11's, with every line wrapped to 80 columns.
std::shared_ptr<CLI::FormatterBase> MakeHelpFormatter();

// "valise: error: <message>" on stderr, one line at a time across threads.
// The message is escaped for a terminal (EscapeTerminalText): control
// bytes, C1 controls and bidi characters of a name it quotes are %XX.
void PrintError(const std::string& message);
void PrintWarning(const std::string& message);
// Plain line on stderr (progress remarks), unless quiet.
void PrintNote(const Args& args, const std::string& message);

// Reads, authenticates (--pubkey) and parses the manifest named by -m, and
// its chunk index M.chunks if there is one. When M binds its chunk index
// (v2, signed through M) and `signed_chunks` is not null, the index is
// opened into *signed_chunks after it is checked against the binding: a
// mismatch is an error (a tampered index, or another manifest's), a
// missing index a warning. Otherwise a v1 text index is parsed into
// *chunks (a bad one is a warning: it only localises damage).
// `check_path` (may be empty): see ManifestReadOptions::check_path.
Status LoadManifest(
    FileSystem* fs, const Args& args, Manifest* manifest, ChunkIndex* chunks,
    bool* have_chunks, std::unique_ptr<ChunkIndexV2>* signed_chunks = nullptr,
    const std::function<Status(std::string_view)>& check_path = nullptr);

// A sidecar being written beside the manifest `output` (valise/sidecar.h):
// a temporary file in M's directory, written by the caller, renamed to
// M.<name> once complete and durable (Commit), then bound to the manifest.
// Removed if never committed (the run failed).
class SidecarOutput {
 public:
  SidecarOutput() = default;
  SidecarOutput(const SidecarOutput&) = delete;
  SidecarOutput& operator=(const SidecarOutput&) = delete;
  ~SidecarOutput();

  // `replace`: an M.<name> already there is replaced (--force; the caller
  // checked the path with Output::Check); else Commit refuses it.
  Status Open(FileSystem* fs, const std::string& output, std::string_view name,
              bool replace = false);
  File* file() const { return file_.get(); }
  // Renames the complete file to M.<name>, makes the name durable, and
  // binds it in `m`. REQUIRES: the caller wrote and synced file().
  Status Commit(FileSystem* fs, const std::string& output, Manifest* m);
  // The manifest could not be written after Commit: M.<name> is removed,
  // so a failed run leaves nothing (a sidecar binds nothing alone).
  void Withdraw();

 private:
  std::unique_ptr<Directory> dir_;
  std::unique_ptr<File> file_;
  std::string name_, base_, temp_;
  bool replace_ = false;
  bool committed_ = false;
};

// --hash: a comma-separated list of digest names into *set.
Status ParseDigestList(const std::string& list, DigestSet* set);

// The pipeline options the flags ask for. --stats: as given, else (no
// --stats) a line every 60 s when stderr is not a terminal and not
// --quiet, the last line only if one was printed.
Status PipelineFromArgs(const Args& args, PipelineOptions* opt);

// A duration: a number with an optional unit, ms, s, m or h ("60s",
// "1.5m", "500ms", "0"; no unit: seconds). InvalidArgument naming `flag`
// otherwise, or above a day.
Status ParseDuration(const std::string& flag, const std::string& text,
                     double* seconds);

// --metrics FILE: checked as every output is (output.h), but a regular
// file already there is replaced without --force (the file is rewritten
// every few seconds anyway), before any drive is read. Writes nothing.
Status CheckMetricsOutput(const Args& args);

// SIGINT, SIGTERM and SIGHUP set the returned flag (a second one exits at
// once): the run stops cleanly, its state saved, exit 130.
const std::atomic<bool>* InstallSignalHandlers();

// What a command needs to reach S3 paths: the store's client and a file
// system in which s3://BUCKET/PREFIX paths are objects
// (valise/s3_file_system.h) and the others the machine's.
struct S3Session {
  std::unique_ptr<S3Client> client;
  std::unique_ptr<FileSystem> fs;
};
// True if any of `paths` is an s3:// URL.
bool AnyS3Path(const std::vector<std::string>& paths);
// Resolves the S3 configuration (--endpoint, --ca-bundle, the environment
// and ~/.aws, as docs/s3.md says) and opens a session whose reads keep
// `gets` requests in flight. The message of a failure names where a
// setting came from, never a secret.
Status OpenS3Session(const Args& args, unsigned gets, S3Session* session);

// --report FILE checked and created (cli/output.h), before any drive is
// read; *out stays null without --report.
Status CreateReportOutput(const Args& args, std::unique_ptr<Output>* out);

// The report files of verify and ingest: --report FILE (JSON, or HTML
// when FILE ends in .html or .htm, in any case) and --html FILE.
struct ReportFiles {
  std::unique_ptr<Output> report;
  bool report_html = false;
  std::unique_ptr<Output> html;
};
// Both checked and created before any drive is read; the same path for
// both is refused.
Status CreateReportFiles(const Args& args, ReportFiles* out);
// Whether --report FILE means the HTML page: FILE ends in .html or .htm,
// in any case.
bool IsHtmlName(const std::string& path);

// Each SRC's label and serial in M.drives ("" where M binds none or the
// SRC is not one of its drives). `strict` (ingest): a SRC that is a whole
// drive of no drive entry, or one given twice, is refused, and the drives
// not given are named on stderr; otherwise (verify) the SRCs are only
// named where they match.
Status MatchSourceDrives(FileSystem* fs, const Args& args, const Manifest& m,
                         bool strict, std::vector<std::string>* labels,
                         std::vector<std::string>* serials);

// Where the run was, for the report: the host, the manifest, DEST and the
// drives made absolute, whether the signature was checked and the key's
// fingerprint, and each drive's label and serial (`labels`, `serials`:
// per SRC, may be empty).
void StampReport(const Args& args, const std::vector<std::string>& labels,
                 const std::vector<std::string>& serials, RunReport* report);

// Prints the summary (or --json), writes the report files (null: none),
// returns the exit code: the report's, or 2 if a report file could not be
// written.
int EmitReport(const Args& args, const RunReport& report,
               ReportFiles* report_files);

}  // namespace valise::cli
