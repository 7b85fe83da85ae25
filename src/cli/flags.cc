#include "cli/flags.h"

namespace valise::cli {

const std::vector<FlagDef>& FlagTable() {
  static const std::vector<FlagDef> table = {
      {kVerify | kIngest | kStatus | kWatch, "-m,--manifest", "M", "input",
       "the manifest to check against",
       "The manifest made at the source: valise manifest v1, a GNU or BSD "
       "sha256sum/md5sum/sha1sum/sha512sum/xxhsum file, or a hashdeep file. "
       "With --pubkey, its signature M.sig is checked before it is read. "
       "verify: M may be a BagIt bag directory, and without -m every SRC "
       "must be a bag (docs/bagit.md). Required by ingest, status and watch.",
       &Args::manifest},
      {kManifest | kKeygen, "-o,--output", "FILE", "output",
       "the manifest to write, - for stdout (keygen: the private key)",
       "The file to write. manifest also writes FILE.chunks, the chunk "
       "index (the SHA-256 of every chunk of every file), bound to FILE so "
       "that its signature covers both, which lets verify and ingest "
       "locate a corrupt file's bad chunks; with -o - the manifest goes to "
       "standard output and no chunk index is written. keygen also writes "
       "FILE.pub, and never replaces a file. Like every output, FILE is "
       "checked and created before any drive is read (its directory must "
       "exist), and is never a symlink (/dev/stdout is one: give -o -), a "
       "device, a FIFO, an input of the run or a path inside a SRC; an "
       "existing file is replaced only with --force.",
       &Args::output, true},
      {kIngest | kBench | kStatus | kWatch, "-d,--dest", "DIR", "output",
       "the destination directory, or s3://BUCKET/PREFIX",
       "Where ingest stages the dataset (status: whose state to read; it "
       "may also be given as the argument). bench: measures its write rate "
       "(an s3:// DEST: the store's rates for multipart parts and for small "
       "objects, --depth requests in flight, default 16).",
       &Args::dest},
      {kIngest | kWatch, "--dedup", "POLICY", "output",
       "repeated contents: auto, reflink, hardlink, copy (auto)",
       "A content that several manifest paths share is read once. The other "
       "paths are reflinked (FICLONE: shared extents, separate files) or "
       "hard-linked to the first; copy reads and writes each. auto: reflink "
       "where DEST supports it (XFS, btrfs), else copy.",
       &Args::dedup},
      {kIngest | kWatch, "--recheck", nullptr, "reliability",
       "read back every file an earlier run staged",
       "A rerun trusts a file the journal records as staged only while its "
       "size, mtime, inode and ctime are what the journal recorded; any "
       "other is read back from DEST and checked. --recheck reads them all "
       "back (damage at rest changes none of those).",
       &Args::recheck},
      {kSign, "-k,--key", "KEY", "input", "the private key to sign with",
       "A PEM Ed25519 private key made by valise keygen.", &Args::key, true},
      {kPack, "-k,--key", "KEY", "output",
       "sign the manifest with this private key (M.sig)",
       "A PEM Ed25519 private key made by valise keygen. It is read and "
       "checked before any drive is written; once the manifest is written, "
       "M.sig is written beside it, as valise sign would.",
       &Args::key},
      {kVerify | kIngest | kBench | kStatus | kWatch, "--pubkey", "KEY.pub",
       "input", "require a valid signature M.sig by this key",
       "The manifest's detached signature M.sig is checked against this "
       "Ed25519 public key before the manifest is parsed; a missing or bad "
       "signature is exit status 2, before any drive is read.",
       &Args::pubkey},
      {kManifest | kVerify | kIngest | kBench | kWatch, "--format", "FMT",
       "input", "manifest format (auto valise sumfile hashdeep; sha256sum...)",
       "Reading: forces the manifest's format instead of detecting it "
       "(auto, valise, sumfile, hashdeep; sha256sum, md5sum, sha1sum, "
       "sha512sum and xxhsum all mean a sum file). valise manifest: the "
       "format to write, valise (manifest v1, the default) or a GNU sum "
       "file of one digest (sha256sum, md5sum, sha1sum, sha512sum) that "
       "the matching tool's -c accepts, or bagit: a BagIt payload manifest "
       "(manifest-sha256.txt; paths data/...).",
       &Args::format},
      {kManifest, "--hash", "LIST", "input",
       "digests to compute (default sha256,xxh128)",
       "Comma-separated digests for the manifest: any of sha256, xxh128, "
       "sha512, sha1, md5.",
       &Args::hash},
      {kPack, "--hash", "LIST", "input",
       "whole-file digests to compute (default xxh128)",
       "Comma-separated digests for the manifest's files: any of sha256, "
       "xxh128, sha512, sha1, md5. Every chunk gets its SHA-256 in M.chunks "
       "whatever this says: signed, those are what ingest and verify check "
       "by. sha256 here hashes each byte with SHA-256 a second time (twice "
       "pack's CPU); ask for it where the files' own SHA-256 is wanted "
       "(sha256sum -c, a BagIt manifest).",
       &Args::hash},
      {kVerify | kIngest | kWatch, "--hash-only", "LIST", "performance",
       "check only these digests (e.g. xxh128)",
       "Computes and compares only these of the manifest's digests. "
       "xxh128 alone runs at drive speed; sha256 is the proof against "
       "tampering. Without sha256, the chunk index's SHA-256s are not "
       "checked either (corrupt files are found, not located).",
       &Args::hash_only},
      {kManifest, "--no-chunks", nullptr, "output",
       "do not write the chunk index FILE.chunks", "", &Args::no_chunks},
      {kManifest, "--label", "LIST", "output",
       "drive labels, comma-separated, one per SRC in order",
       "Names each drive (SRC) in M.drives, in SRC order: what status, "
       "ingest and their messages call it. A SRC without one is named by "
       "its file system's label, else by its last path component. Labels "
       "must differ.",
       &Args::labels},
      {kVerify | kIngest | kBench | kStatus, "--json", nullptr, "output",
       "print the JSON report on stdout instead of the summary",
       "The report, schema valise-report/1 (docs/report.md), on stdout.",
       &Args::json},
      {kVerify | kIngest | kBench, "--report", "FILE", "output",
       "also write the JSON report to FILE (FILE.html: a web page)",
       "JSON, or the HTML page when FILE ends in .html or .htm (in any "
       "case: R.HTML too). "
       "Written when the run ends, whatever its outcome, even if standard "
       "output failed (a closed pipe); checked and created before any drive "
       "is read, so a missing directory fails at once (exit 2). FILE must "
       "not exist (--force replaces a regular file) and is never a symlink, "
       "a device, a FIFO, the manifest, M.sig, M.chunks, a key, a SRC or a "
       "path inside a SRC or DEST. For the report on standard output use "
       "--json.",
       &Args::report},
      {kVerify | kIngest, "--html", "FILE", "output",
       "also write the report as a web page to FILE",
       "The HTML page (the verdict, a chart of each drive's read rate, the "
       "drives, the files not ok; self-contained), whatever FILE's name. "
       "The same rules as --report; both may be given.",
       &Args::html},
      {kManifest | kVerify | kIngest | kBench | kSign, "--force", nullptr,
       "output", "an output may replace an existing regular file",
       "Without it an output (-o, --report, sign's M.sig) that already "
       "exists is refused before anything is read. Even with it, valise "
       "never writes to or replaces a symlink, a device, a FIFO or socket, "
       "a file the run reads (the manifest, M.sig, M.chunks, a key, a SRC), "
       "a file holding a PEM key, or anything inside a SRC or DEST.",
       &Args::force},
      {kManifest | kPack | kVerify | kIngest | kBench | kWatch, "-q,--quiet",
       nullptr, "output", "print only problems", "", &Args::quiet},
      {kVerify | kIngest | kWatch, "-v,--verbose", nullptr, "output",
       "also say how the run went about it",
       "The summary adds the notes on how the run read and wrote: the I/O "
       "queue (io_uring or its fallback), how DEST makes files durable, "
       "the dedup policy. The JSON report always has them.",
       &Args::verbose},
      {kManifest | kPack | kVerify | kIngest | kWatch, "--no-progress", nullptr,
       "output", "no progress bars (they are drawn only on a terminal anyway)",
       "", &Args::no_progress},
      {kManifest | kVerify | kIngest, "--stats", "DURATION", "output",
       "a progress line on stderr every DURATION (60s when not a terminal)",
       "One line per interval on standard error: the elapsed time, the "
       "total (percent, bytes, rate, ETA of the slowest drive) and each "
       "drive's percent, rate and ETA or \"stalled\" (no byte for 10 s); "
       "at the end one line of average rates. DURATION is a number with "
       "ms, s, m or h (no unit: seconds), at most 24h; 0 turns the lines "
       "off. Default: 60s when standard error is not a terminal (a log, "
       "nohup, systemd) and not --quiet, the last line then only after a "
       "run longer than one interval; on a terminal, none (the bars show "
       "the same).",
       &Args::stats},
      {kVerify | kIngest, "--metrics", "FILE", "output",
       "keep a Prometheus metrics file of the run's progress (textfile)",
       "A Prometheus text-format file for node_exporter's textfile "
       "collector, rewritten atomically (a temporary file beside it, then "
       "rename) every 10 s and when the run ends: per drive (label "
       "drive=\"NAME\", its label in M.drives where known, else its SRC) "
       "bytes and files read and planned, failed reads, rate, stalled, "
       "ETA; for the run, the slowest drive's ETA, elapsed time and "
       "valise_run_running (0 once it ended). Checked before any drive is "
       "read as --report is, but an existing regular file is replaced. "
       "Metric names: docs/operator-guide.md.",
       &Args::metrics},
      {kManifest | kPack | kVerify | kIngest | kBench | kWatch, "--retries",
       "N", "reliability", "retries of a failed read before giving up (2)",
       "A read that fails with EIO is retried N times; then its range is "
       "recorded as unreadable and the rest of the drive is read. At most "
       "100.",
       &Args::retries},
      {kManifest | kPack | kVerify | kIngest | kBench | kWatch, "--io-timeout",
       "SECONDS", "reliability",
       "a drive that does not answer for this long is "
       "stalled (30)",
       "A read outstanding for longer marks its drive stalled: its files are "
       "reported stalled and the other drives finish. 0 disables; at most "
       "86400. Only time the process was running counts: a pause (Ctrl-Z, "
       "a VM paused) is not a stall.",
       &Args::io_timeout},
      {kManifest | kVerify | kIngest | kBench | kWatch, "--depth", "N",
       "performance", "reads in flight per drive (default: 16 SSD, 4 HDD)",
       "1 to 1024. The read buffers (--depth per drive, of --chunk-size "
       "each) must fit in half of memory and of ulimit -v, or the run is "
       "refused before any drive is read.",
       &Args::depth},
      {kManifest | kPack | kVerify | kIngest | kBench | kWatch, "--threads",
       "N", "performance", "hashing threads (default: one per core)",
       "At most 1024.", &Args::threads},
      {kManifest | kPack | kVerify | kIngest | kBench | kWatch, "--chunk-size",
       "KIB", "performance",
       "bytes per read and per chunk digest, in KiB (1024)",
       "A multiple of 4 from 4 to 65536. manifest: the chunk size of the "
       "chunk index FILE.chunks (recorded in it). verify and ingest read in "
       "the chunk size of the manifest's chunk index when it has one. For "
       "S3-bound shipments choose e.g. 8 MiB or 16 MiB (8192, 16384): a "
       "chunk of 5 MiB or more is one multipart part, signed with the "
       "chunk's signed SHA-256 instead of being hashed again (docs/s3.md).",
       &Args::chunk_kib},
      {kManifest | kPack | kVerify | kIngest | kBench | kWatch, "--no-uring",
       nullptr, "performance", "use plain pread instead of io_uring", "",
       &Args::no_uring},
      {kManifest | kPack | kVerify | kIngest | kBench | kWatch, "--no-direct",
       nullptr, "performance", "read through the page cache (no O_DIRECT)", "",
       &Args::no_direct},
      {kVerify | kIngest | kBench | kStatus, "--endpoint", "URL", "s3",
       "the S3 endpoint, for s3:// paths (AWS_ENDPOINT_URL)",
       "http://HOST:PORT or https://HOST[:PORT] of the S3 store that "
       "s3://BUCKET/PREFIX paths name. Without it: AWS_ENDPOINT_URL_S3, "
       "AWS_ENDPOINT_URL, the profile's endpoint_url in ~/.aws/config, else "
       "AWS's. Credentials and region come from the environment and "
       "~/.aws as for the AWS CLI (docs/s3.md).",
       &Args::endpoint},
      {kVerify | kIngest | kBench | kStatus, "--ca-bundle", "FILE", "s3",
       "trust these CA certificates for HTTPS to S3 (AWS_CA_BUNDLE)",
       "A PEM file of CA certificates, for a store whose certificate a "
       "private CA signed. Certificates and host names are always "
       "checked.",
       &Args::ca_bundle},
      {kIngest, "--stale-upload-age", "DURATION", "s3",
       "abort other hosts' uploads (or staged files) older than this (24h)",
       "Several hosts may ingest into one s3://BUCKET/PREFIX at once, so a "
       "run aborts only the multipart uploads no live run can be sending: "
       "this host's own left by an earlier run (killed), and any host's "
       "initiated longer ago than DURATION (a host that died). Younger "
       "uploads of other hosts are left alone. DURATION as for --stats (at "
       "most 24h); it must be longer than any one file's upload takes on "
       "any host (5 TiB at 100 MB/s is 15 h). A directory DEST shared by "
       "several hosts (--host) likewise: another host's staged files "
       "untouched for DURATION are removed.",
       &Args::stale_upload_age},
      {kIngest, "--host", "NAME", "output",
       "ingest as host NAME into a DEST several hosts share (host name)",
       "Several hosts may ingest one shipment into one DEST at once: an "
       "s3://BUCKET/PREFIX, or a directory on a file system each host mounts "
       "(CephFS). Each host keeps its own journal (and lock, and staged "
       "files) named by host, reads the others' as it goes, and does not "
       "read a file another host committed. For s3:// the host is always "
       "named (default: the machine's host name). A directory DEST is shared "
       "once a run gives --host (its state then under "
       "DEST/.valise/hosts/NAME/); later runs without --host go by the "
       "machine's host name. One run per host at a time.",
       &Args::host},
      // bench: -m is optional there, so it has its own entry.
      {kBench, "-m,--manifest", "M", "input",
       "predict the time to ingest this manifest's bytes",
       "With a manifest, bench predicts how long ingesting its bytes takes "
       "at the predicted rate. --pubkey and --format apply as for ingest.",
       &Args::manifest},
      {kBench, "--seconds", "N", "performance",
       "longest time of each measurement, in seconds (5)",
       "Each drive alone, all drives at once, DEST's write and the whole "
       "pipeline are measured for at most N seconds each (less when the "
       "data runs out); the hashes for at most 0.5 s each.",
       &Args::seconds},
      // pack: -o is not required with --dry-run, so it has its own entry.
      {kPack, "-o,--output", "FILE", "output",
       "where to write the manifest (required unless --dry-run)",
       "The manifest of the packed dataset, and beside it FILE.chunks (the "
       "SHA-256 of every chunk), FILE.layout (which file is on which drive, "
       "where the parity is) and FILE.parity (the SHA-256 of every parity "
       "chunk), all three bound to FILE so that its signature (valise sign) "
       "covers them. Not overwritten: an existing FILE is refused.",
       &Args::output},
      {kPack, "--drives", "DRIVE...", "output",
       "the drives to fill: mount points of empty file systems",
       "The data drives, then the --parity drives, each the mount point of "
       "an empty file system of its own (an empty lost+found is allowed); "
       "with --mkfs, block devices to format. "
       "Files are spread over the data drives whole, largest first, "
       "balanced; each data drive stays a plain file system. Give the "
       "datasets before --drives.",
       &Args::drives, true},
      {kPack, "--mkfs", "[TYPE]", "output",
       "format the drives (block devices): ext4 (default) or xfs",
       "Each DRIVE is then a block device (a whole disk or a partition), "
       "which pack formats (mkfs.ext4 -m 0, or mkfs.xfs), labels FILE's "
       "stem and its place (ship.vm: ship-01, ship-02...), mounts on a "
       "private directory, fills and unmounts. Every device is checked "
       "before any is formatted, and one refused formats none: a device "
       "mounted anywhere or in use is never formatted; one holding a "
       "partition table or a signature (file system, LVM, RAID, swap) only "
       "with --mkfs-force. FILE.mkfs records the file systems made, so that "
       "the same command run again after an interruption mounts them and "
       "resumes, never formatting them again. With --dry-run: says what "
       "would be formatted, formats nothing.",
       &Args::mkfs, false, "ext4"},
      {kPack, "--mkfs-force", nullptr, "output",
       "with --mkfs: overwrite a partition table or signature",
       "Formats a device even when it holds a partition table or a "
       "signature (its data is lost). Never a mounted or busy device, and "
       "never a file system this pack made (that one is resumed).",
       &Args::mkfs_force},
      {kPack, "--parity", "M", "output",
       "the last M drives hold Reed-Solomon parity (0)",
       "M parity drives let any M of the shipment's drives be lost or "
       "unreadable and every file still arrive (ingest and verify rebuild "
       "it); they cost M/K of the data's size. 0: no parity.",
       &Args::parity},
      {kPack, "--checkpoint", "MIB", "reliability",
       "data written between checkpoints, in MiB (4096)",
       "At each checkpoint every drive is made durable (one syncfs each) "
       "and the pack's journal (FILE.pack/journal) records what is done, "
       "so that a pack cut short by a crash, a signal or an error resumes "
       "from there when the same command is run again. Smaller: less to "
       "redo; each checkpoint costs a flush of every drive.",
       &Args::checkpoint_mib},
      {kPack, "--dry-run", nullptr, "output",
       "show the plan (and how many drives it needs); write nothing",
       "Scans the datasets and the drives, prints which files go where, "
       "each drive's fill and the parity size; when the dataset does not "
       "fit, how many drives of the smallest size given it needs (exit "
       "status 1). Reads no file contents.",
       &Args::dry_run},
      {kIngest, "--dry-run", nullptr, "output",
       "say what would be read from which drive; read and write nothing",
       "Reads DEST's journal and the drives' directory trees (names and "
       "sizes), never a file's contents, and prints what is already in "
       "place in DEST, what each SRC would supply (files, bytes, predicted "
       "time at an assumed rate: 180 MB/s a spinning drive, 450 MB/s "
       "another), the run's predicted time (the slowest drive's), DEST's "
       "free space against what the run would write (its bytes plus 4 KiB "
       "and an inode a file) and what would still be missing after the "
       "run. The drives are matched and --report and --metrics checked as "
       "for the run, but nothing is written (no DEST, no --report). Exit "
       "status 0 if every file would be in place after the run, 1 if not, "
       "2 trouble (the same refusals as the run, and a DEST too small "
       "unless --no-space-check).",
       &Args::dry_run},
      {kIngest, "--no-space-check", nullptr, "output",
       "do not refuse a DEST without room for the run",
       "Without it, ingest (and ingest --dry-run) exits 2 before reading "
       "any drive when DEST's file system has less free space (or fewer "
       "free inodes) than the run would write (its files' bytes, 4 KiB "
       "and an inode more per file; duplicates not counted as saved), "
       "saying how much is missing; with it, the run goes on (a DEST that "
       "will grow, or be emptied first) and --dry-run judges the plan on "
       "the files alone. Not checked for an s3:// DEST.",
       &Args::no_space_check},
      {kVerify, "--dry-run", nullptr, "output",
       "say what would be read from which drive; read nothing",
       "Reads the drives' directory trees (names and sizes), never a "
       "file's contents, and prints what each SRC holds of the manifest "
       "(the copies verify would read: files, bytes, predicted time at an "
       "assumed rate: 180 MB/s a spinning drive, 450 MB/s another), the "
       "predicted time (the slowest drive's) and the files on no SRC. "
       "--report and --metrics are checked, nothing is written. Exit status "
       "0 if every file is on some SRC, 1 if not, 2 trouble.",
       &Args::dry_run},
      {kIngest, "--bag", nullptr, "output",
       "make DEST a BagIt 1.0 bag: payload under DEST/data/, tag files",
       "DEST becomes a BagIt (RFC 8493) bag: the dataset is staged under "
       "DEST/data/, and once every file is in place bagit.txt, bag-info.txt "
       "(Payload-Oxum, Bagging-Date), manifest-sha256.txt (and a manifest "
       "for each other BagIt digest M holds) and tagmanifest-sha256.txt are "
       "written. valise verify DEST validates it (docs/bagit.md).",
       &Args::bag},
      {kWatch, "--mount-root", "DIR", "input",
       "mount each drive at DIR/LABEL (/run/valise/watch)",
       "Where watch mounts the drives it recognises, each on a directory of "
       "its own named by its label, read-only, noexec, nodev, nosuid and "
       "without a journal replay (norecovery); made if missing. The "
       "directory is removed when the drive is unmounted.",
       &Args::mount_root},
      {kWatch, "--custody-log", "FILE", "output",
       "append the custody log here (DEST/.valise/custody.jsonl; for an s3:// "
       "DEST one object per record under PREFIX/.valise/custody/)",
       "One JSON line per drive the watch met: the drive's label, device, "
       "file system UUID, serial, host, when it was plugged and done, and "
       "the result, or why it was left alone (docs/formats.md, \"Custody "
       "log\"). Appended to and synced, never replaced.",
       &Args::custody_log},
      {kWatch, "--device-events", "HOW", "input",
       "how devices are noticed: auto, udev, poll (auto)",
       "udev: a libudev monitor (udevd's events when it runs, else the "
       "kernel's uevents); poll: /sys/class/block read every 0.5 s. auto: "
       "udev when udevd runs, else poll (containers).",
       &Args::device_events},
  };
  return table;
}

const std::vector<CommandDef>& CommandTable() {
  static const std::vector<CommandDef> table = {
      {kManifest, "manifest", "manifest SRC... -o M [options]",
       "hash a dataset on drives and write its manifest",
       "valise manifest /mnt/d1 /mnt/d2 -o shipment.vm\n"
       "valise manifest /data --format sha256sum -o SHA256SUMS",
       "drives: directories, image files or block devices"},
      {kVerify, "verify", "verify -m M [options] SRC...",
       "check drives (or a staged tree) against a manifest; writes nothing",
       "valise verify -m shipment.vm /mnt/d1 /mnt/d2\n"
       "valise verify -m shipment.vm --pubkey site.pub --report r.json /mnt/d*",
       "drives: directories, image files or block devices"},
      {kIngest, "ingest", "ingest -m M -d DEST [options] SRC...",
       "stage drives onto DEST, verified, resumable",
       "valise ingest -m shipment.vm -d /srv/data /mnt/d1 /mnt/d2\n"
       "valise ingest -m shipment.vm --pubkey site.pub -d /srv/data /mnt/d*",
       "drives: directories, image files or block devices"},
      {kBench, "bench", "bench [-d DEST] [-m M] [options] [SRC...]",
       "measure drives, hashing and DEST, and name the bottleneck",
       "valise bench /mnt/d1 /mnt/d2 -d /srv/data\n"
       "valise bench /dev/sd[b-e] -d /srv/data -m shipment.vm --seconds 10\n"
       "valise bench -d s3://bucket/prefix   # the store's PUT rates",
       "drives: directories, image files or block devices"},
      {kKeygen, "keygen", "keygen -o KEY", "make an Ed25519 key pair",
       "valise keygen -o site.key   # writes site.key and site.key.pub",
       nullptr},
      {kSign, "sign", "sign -k KEY M", "sign a manifest (writes M.sig)",
       "valise sign -k site.key shipment.vm", "the manifest to sign"},
      {kPack, "pack", "pack DATASET... --drives DRIVE... [--parity M] -o M",
       "fill a shipment's drives with a dataset, with parity drives",
       "valise pack /data --drives /mnt/s1 /mnt/s2 /mnt/s3 --parity 1 -o "
       "ship.vm\n"
       "valise pack /data --drives /mnt/s* --parity 2 -o ship.vm --dry-run\n"
       "valise pack /data --drives /dev/sd[b-e] --parity 1 --mkfs -o ship.vm",
       "the datasets: directories (their files are packed)"},
      {kStatus, "status", "status -m M [options] DEST",
       "what of a shipment has arrived in DEST, what and which drives are "
       "missing",
       "valise status -m shipment.vm /srv/data\n"
       "valise status -m shipment.vm --pubkey site.pub --json /srv/data\n"
       "valise status -m shipment.vm s3://bucket/shipment",
       "DEST, the destination ingest stages into"},
      {kWatch, "watch", "watch -m M -d DEST [--mount-root DIR] [options]",
       "ingest the shipment's drives as they are plugged in, until stopped",
       "valise watch -m shipment.vm -d /srv/data\n"
       "valise watch -m shipment.vm -d /srv/data --mount-root /mnt/ship",
       nullptr},
  };
  return table;
}

}  // namespace valise::cli
