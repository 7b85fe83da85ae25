// Main: the command line is parsed by CLI11 from the flag table, then one
// command runs. The only place exceptions (CLI11's parse errors) are caught.
#include "cli/commands.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>
// Inlined, as in src/util/digest.cc: valise does not link libxxhash.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <mutex>
#include <new>
#include <string_view>
#include <vector>

namespace valise::cli {

namespace {

std::mutex g_stderr_mu;
std::atomic<bool> g_cancel{false};

void OnSignal(int) {
  if (g_cancel.exchange(true)) {
    // A second signal: the operator insists. The journal and the temporary
    // names make an abrupt exit safe. write(2) and _exit(2) are
    // async-signal-safe; stdio and fmt are not.
    static constexpr char kMsg[] =
        "\nvalise: interrupted again: stopped at once; files already "
        "committed are kept, rerun the same command to resume\n";
    ssize_t ignored = write(STDERR_FILENO, kMsg, sizeof(kMsg) - 1);
    (void)ignored;
    _exit(kExitInterrupted);
  }
}

constexpr const char* kFeatures =
    "io_uring ed25519 sha256 sha512 sha1 md5 xxh128";
// What else is compiled in (pkg): manifest formats read, dedup methods and
// the journal's checksum, then the libraries as loaded at run time.
constexpr const char* kFormats = "valise sumfile hashdeep bagit";
constexpr const char* kDedup = "reflink hardlink copy";

std::string VersionText() {
  const unsigned xxh = XXH_versionNumber();
  return fmt::format(
      "valise {}\nfeatures: {}\nformats: {}\ndedup: {}\njournal: crc32c "
      "(ISA-L)\nlibraries: {}, xxHash {}.{}.{}, fmt {}.{}.{}\n",
      VALISE_VERSION, kFeatures, kFormats, kDedup,
      OpenSSL_version(OPENSSL_VERSION), xxh / 10000, xxh / 100 % 100, xxh % 100,
      FMT_VERSION / 10000, FMT_VERSION / 100 % 100, FMT_VERSION % 100);
}

void AddFlags(CLI::App* app, Command cmd, Args* args) {
  for (const FlagDef& f : FlagTable()) {
    if (!(f.commands & cmd)) continue;
    CLI::Option* opt = std::visit(
        [&](auto member) -> CLI::Option* {
          using T = std::remove_reference_t<decltype(args->*member)>;
          if constexpr (std::is_same_v<T, bool>) {
            return app->add_flag(f.names, args->*member, f.help);
          } else {
            return app->add_option(f.names, args->*member, f.help);
          }
        },
        f.field);
    if (f.value) opt->type_name(f.value);
    if (f.required) opt->required();
    if (f.implicit) opt->expected(0, 1)->default_str(f.implicit);
    opt->group(f.category);
  }
}

// Edit distance (insertions, deletions, substitutions) between two short
// words, for "did you mean".
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min(
          {row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// The command word of the command line: the first argument that is not an
// option (the options before a command, --help and --version, take no
// value), or nullptr when there is none.
const char* CommandWord(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (argv[i][0] != '-') return argv[i];
  }
  return nullptr;
}

// Before CLI11 parses: a command word that names no command is told
// plainly ("unknown command 'verfy'", the nearest command, the list), not
// as CLI11's "A subcommand is required". Returns the exit status, or -1
// when the command line names a command (or asks for --help/--version).
int CheckCommandWord(int argc, char** argv,
                     const std::vector<std::string>& hidden) {
  const char* word = CommandWord(argc, argv);
  std::string list;
  for (const CommandDef& c : CommandTable()) {
    if (word != nullptr && c.name == std::string_view(word)) return -1;
    list += list.empty() ? "" : ", ";
    list += c.name;
  }
  for (const std::string& h : hidden) {
    if (word != nullptr && h == word) return -1;
  }
  if (word == nullptr) {
    for (int i = 1; i < argc; ++i) {
      const std::string_view a = argv[i];
      if (a == "-h" || a == "--help" || a == "-V" || a == "--version") {
        return -1;
      }
    }
    PrintError("no command given; commands: " + list +
               " (valise --help tells more)");
    return kExitTrouble;
  }
  std::string nearest;
  size_t best = 3;  // suggest only within two edits
  for (const CommandDef& c : CommandTable()) {
    const size_t d = EditDistance(word, c.name);
    if (d < best) best = d, nearest = c.name;
  }
  std::string msg = "unknown command '" + std::string(word) + "'";
  if (!nearest.empty()) msg += " (did you mean '" + nearest + "'?)";
  PrintError(msg + "; commands: " + list + " (valise --help tells more)");
  return kExitTrouble;
}

}  // namespace

namespace {

// One line on stderr. A failure is ignored: there is nowhere left to say
// it (fmt::print would throw).
void PrintLine(std::string_view prefix, const std::string& message) {
  const std::string line =
      fmt::format("valise: {}{}\n", prefix, EscapeTerminalText(message));
  std::lock_guard<std::mutex> l(g_stderr_mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace

void PrintError(const std::string& message) { PrintLine("error: ", message); }

void PrintWarning(const std::string& message) {
  PrintLine("warning: ", message);
}

void PrintNote(const Args& args, const std::string& message) {
  if (!args.quiet) PrintLine("", message);
}

const std::atomic<bool>* InstallSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  // A closed terminal (SIGHUP) or a service manager (SIGTERM) stops a run
  // the way Ctrl-C does: state saved, exit 130.
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
  return &g_cancel;
}

namespace {

int RunCommandLine(int argc, char** argv);

}  // namespace

namespace {

// The soft limit on open files up to the hard one, as a shell's
// `ulimit -Sn` lets any process do: many small files in flight (a source
// and a staging file each, the committer's backlog) need more than the
// usual soft 1024, and a lower soft limit is a default, not the operator's
// choice. The hard limit (`ulimit -n N` sets both) is obeyed: a run that
// still runs out stops once, saying so (ReadLoop::NextFile).
void RaiseOpenFileLimit() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max) {
    return;
  }
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);  // best effort: the limit stays as it was
}

// Every thread of the run as a batch job (SCHED_BATCH, inherited by the
// threads made after): a thread woken by another no longer preempts it on
// its core. A small file passes from the I/O thread to a hashing thread
// and on to the commit thread, and each wake used to switch the waker out
// mid-batch (34,000 of the I/O thread's switches on the Linux tree, more
// than it made by waiting). Measured against the build before, on 4
// memory drives into xfs, medians of 3, interleaved: 50,000 files of 4-64
// KiB ingest in 4.3 s instead of 5.0; the Linux tree (78,579 files) in 7.5
// instead of 8.4 in one set, 8.3 instead of 8.7 in another; verify within
// the noise (0-5%). Only from the default policy: one the operator chose
// (chrt) is kept, and the nice value stays. Best effort: refused (a
// seccomp filter), the run goes on as before.
void RunAsBatchJob() {
  if (sched_getscheduler(0) != SCHED_OTHER) return;
  struct sched_param param {};
  sched_setscheduler(0, SCHED_BATCH, &param);
}

}  // namespace

int Main(int argc, char** argv) {
  // A reader of standard output that goes away (`| head`) must not kill
  // the run before its --report is written: the write fails with EPIPE
  // instead, an error of that stream alone (exit 2, said as valise exits).
  signal(SIGPIPE, SIG_IGN);
  RaiseOpenFileLimit();
  RunAsBatchJob();
  int code;
  try {
    code = RunCommandLine(argc, argv);
  } catch (const std::bad_alloc&) {
    // Memory refused (ulimit -v, a full machine) on the command's own
    // thread: trouble, said plainly, not an abort (exit 134).
    PrintError(std::string("out of memory while running 'valise ") +
               (argc > 1 ? argv[1] : "") +
               "' (ulimit -v, or the machine's memory; a lower --depth or "
               "--chunk-size needs less)");
    code = kExitTrouble;
  }
  Status s = FinishStdout();
  if (!s.ok()) {
    PrintError(s.message() +
               " (what went to standard output is incomplete; exit 2)");
    if (code != kExitInterrupted) code = kExitTrouble;
  }
  return code;
}

namespace {

int RunCommandLine(int argc, char** argv) {
  // Named "valise", so usage lines do not show argv[0]'s full path.
  CLI::App app{"valise: bulk disk ingest and verification", "valise"};
  app.formatter(MakeHelpFormatter());  // 80 columns (cmd_docs.cc)
  app.require_subcommand(1);
  app.set_version_flag("-V,--version", VersionText());
  app.footer(
      "Exit status: 0 all checked out; 1 problems found (missing, corrupt, "
      "unreadable);\n2 trouble (usage, bad or unsigned manifest, fatal I/O "
      "error); 130 interrupted.\nSee valise COMMAND --help.");
  Args args;
  std::vector<std::pair<CLI::App*, Command>> subs;
  for (const CommandDef& c : CommandTable()) {
    CLI::App* sub = app.add_subcommand(c.name, c.summary);
    sub->description(std::string(c.summary) + "\nUsage: valise " + c.synopsis);
    sub->footer(std::string("Examples:\n  ") + [&] {
      std::string ex = c.examples;
      std::string out;
      for (char ch : ex) {
        out += ch;
        if (ch == '\n') out += "  ";
      }
      return out;
    }());
    AddFlags(sub, c.command, &args);
    if (c.sources_doc) {
      const bool one = c.command == kSign;
      if (c.command == kStatus) {
        sub->add_option("DEST", args.dest, c.sources_doc);
      } else if (one) {
        sub->add_option("M", args.manifest, c.sources_doc)->required();
      } else if (c.command == kBench) {
        // bench -d DEST alone measures DEST (and the hashes); RunBench
        // refuses neither SRC nor DEST.
        sub->add_option("SRC", args.sources, c.sources_doc);
      } else {
        sub->add_option("SRC", args.sources, c.sources_doc)->required();
      }
    }
    subs.emplace_back(sub, c.command);
  }
  // Hidden generators (cmd_docs.cc) run by the build for packaging: an
  // empty group keeps them out of --help.
  CLI::App* help_man =
      app.add_subcommand("help-man", "print the man page (roff)");
  help_man->group("");
  std::string shell;
  CLI::App* completions =
      app.add_subcommand("completions", "print a shell completion script");
  completions->group("");
  completions->add_option("SHELL", shell, "bash, zsh or fish")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh", "fish"}));
  if (int code = CheckCommandWord(argc, argv, {"help-man", "completions"});
      code >= 0) {
    return code;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitTrouble;
  }
  if (help_man->parsed()) return RunHelpMan();
  if (completions->parsed()) return RunCompletions(shell);
  for (auto& [sub, cmd] : subs) {
    if (!sub->parsed()) continue;
    switch (cmd) {
      case kManifest:
        return RunManifest(args);
      case kVerify:
        return RunVerify(args);
      case kIngest:
        return RunIngest(args);
      case kBench:
        return RunBench(args);
      case kKeygen:
        return RunKeygen(args);
      case kSign:
        return RunSign(args);
      case kPack:
        return RunPack(args);
      case kStatus:
        return RunStatus(args);
      case kWatch:
        return RunWatch(args);
      default:
        PrintError("command not available yet");
        return kExitTrouble;
    }
  }
  return kExitTrouble;
}

}  // namespace

}  // namespace valise::cli
