// The flag table: every flag of every command, in one place. --help, the
// man page and the shell completions are all generated from it, so they
// cannot drift apart (packaging/ reads it through `valise help-table`).
//
// Thread safety: the table is constant.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace valise::cli {

// Commands, as bits, so a flag can belong to several.
enum Command : uint32_t {
  kManifest = 1u << 0,
  kVerify = 1u << 1,
  kIngest = 1u << 2,
  kBench = 1u << 3,
  kKeygen = 1u << 4,
  kSign = 1u << 5,
  kPack = 1u << 6,
  kStatus = 1u << 7,
  kWatch = 1u << 8,
};

// Everything the command line can say; each flag fills one field.
struct Args {
  std::vector<std::string> sources;  // positional SRC...
  std::string manifest;              // -m
  std::string output;                // -o
  std::string dest;                  // -d
  std::string key;                   // -k
  std::string pubkey;                // --pubkey
  std::string hash;                  // --hash; empty: the command's default
  std::string hash_only;
  std::string format = "auto";
  std::string report;
  std::string dedup = "auto";
  bool json = false;
  bool quiet = false;
  bool verbose = false;  // -v: the summary's notes on how the run went
  std::string html;      // --html FILE: the HTML report
  bool no_progress = false;
  std::string stats;    // --stats DURATION; "": the default (see flags.cc)
  std::string metrics;  // --metrics FILE
  bool no_space_check = false;  // ingest --no-space-check
  bool no_chunks = false;
  std::string labels;  // manifest --label: one per SRC, comma-separated
  bool no_uring = false;
  bool no_direct = false;
  unsigned retries = 2;
  double io_timeout = 30;
  unsigned depth = 0;
  unsigned threads = 0;
  unsigned chunk_kib = 1024;
  bool bag = false;      // ingest --bag: DEST becomes a BagIt bag
  bool recheck = false;  // ingest --recheck: read back every staged file
  // pack: the drives to fill (the last `parity` hold parity), and --dry-run.
  std::vector<std::string> drives;
  unsigned parity = 0;
  bool dry_run = false;
  bool force = false;     // --force: an output may replace a regular file
  std::string endpoint;   // --endpoint: the S3 endpoint
  std::string ca_bundle;  // --ca-bundle: CA certificates for the S3 endpoint
  // --stale-upload-age DURATION: uploads of other hosts older than this are
  // aborted; "": the default (24h).
  std::string stale_upload_age;
  // --host NAME: the host this run ingests as ("": the machine's name).
  std::string host;
  unsigned checkpoint_mib = 4096;  // pack --checkpoint
  // pack --mkfs [TYPE]: the drives are block devices to format ("": not
  // given); --mkfs-force: ones holding a signature may be overwritten.
  std::string mkfs;
  bool mkfs_force = false;
  // bench --seconds: longest time of each measurement.
  double seconds = 5;
  // watch: where drives are mounted ("": /run/valise/watch), the custody
  // log ("": DEST/.valise/custody.jsonl), where devices are learnt of.
  std::string mount_root;
  std::string custody_log;
  std::string device_events = "auto";
  // Not a flag: a run's stop flag when the caller is not the signals
  // (watch stops its ingest to let new drives join); null: SIGINT/SIGTERM.
  const std::atomic<bool>* cancel = nullptr;
};

using Field = std::variant<std::string Args::*, bool Args::*, unsigned Args::*,
                           double Args::*, std::vector<std::string> Args::*>;

struct FlagDef {
  uint32_t commands;     // Command bits
  const char* names;     // "-m,--manifest"
  const char* value;     // "M" for a flag taking a value; nullptr: a switch
  const char* category;  // "input", "output", "performance", "reliability"
  const char* help;      // one line, for -h (fits 79 columns with names)
  const char* doc;       // longer text, for the man page
  Field field;
  bool required = false;
  // The value of a flag given without one ("--mkfs" alone means ext4);
  // nullptr: a flag with a value must be given one.
  const char* implicit = nullptr;
};

const std::vector<FlagDef>& FlagTable();

struct CommandDef {
  Command command;
  const char* name;
  const char* synopsis;     // "verify -m M [options] SRC..."
  const char* summary;      // one line
  const char* examples;     // lines of examples, '\n'-separated
  const char* sources_doc;  // help for the positional arguments, or nullptr
};

const std::vector<CommandDef>& CommandTable();

}  // namespace valise::cli
