"""`scripts/bench-peers verify`: verify of large files, valise against fio
(the read limit) and the checkers an operator would otherwise use.

Rig: --drives ext4 loop drives (in /dev/shm, or on the disk with
--drives-on disk), each holding --size-gb GB of 128 MiB files. Made once:
a valise manifest (sha256 + xxh128, with its chunk index) and one without
a chunk index (the whole-file digests decide), a sha256sum file per drive and one
for all drives, a hashdeep file, fio's job. Then, --runs times, each tool
in turn with the page cache dropped before it (tools alternate within a
run, so a slow minute of the machine hits all of them):

  fio read         one job per drive reading the same files (io_uring,
                   O_DIRECT, bs=1M, iodepth=16, fixed buffers, registered
                   files): the read limit. Its own bandwidth is kept too.
  valise raw       valise bench --seconds 3 --json: its engine reading all
                   drives at once, no hashing (its own rate, from the JSON)
  valise xxh128    verify --hash-only xxh128
  valise default   verify with the manifest without chunk index: its
                   digests, sha256 + xxh128, both computed
  valise chunks    verify with the manifest binding its chunk index (the
                   default of valise manifest): each chunk's SHA-256 decides
  valise sha256    verify --hash-only sha256
  sha256sum -c, one sha256sum -c per drive in parallel, hashdeep -a,
  rclone checksum sha256 (one per drive, in parallel)
  bare SHA-256     openssl speed -elapsed -evp sha256 over 1 MiB blocks on
                   one core: the hash's own cost per byte

Ratios (figures of bench/targets.json): raw read / fio's bandwidth;
verify xxh128 / fio (wall); default digests / sha256 alone; CPU of
--hash-only sha256 over bare SHA-256 plus the read's own cost (CPU of
--hash-only xxh128), each term shown; verify against each peer.
"""

import json
import os

import data
from harness import Record, Tool, log, run_tool, timed
from rig import Rig

MiB = 1 << 20


def add_arguments(p):
    p.add_argument("--size-gb", type=float, default=1.0,
                   help="GB of data per drive (default 1)")
    p.add_argument("--drives", type=int, default=4)
    p.add_argument("--drives-on", choices=("shm", "disk"), default="shm")
    p.add_argument("--bench-seconds", type=int, default=3,
                   help="seconds of valise bench's raw read and of openssl "
                   "speed (default 3)")


def prefixed(line, prefix):
    """A sha256sum line with `prefix` put before its name ("HASH  name", or
    "\\HASH  name" when the name is escaped)."""
    at = 67 if line.startswith("\\") else 66
    return line[:at] + prefix + line[at:]


def fio_job(path, drives_files, rw="read", sizes=None):
    """A fio job file: one job per drive over its files, one after the
    other (as a verifier reads them), io_uring at its best."""
    lines = ["[global]", "ioengine=io_uring", "direct=1", "bs=1M",
             "iodepth=16", "fixedbufs=1", "registerfiles=1", "rw=" + rw,
             "group_reporting=0", "file_service_type=sequential"]
    if rw == "write":
        lines.append("end_fsync=1")
    for d, files in enumerate(drives_files):
        lines.append("[drive%d]" % d)
        if sizes is not None:
            lines.append("size=%d" % sizes[d])
        lines.append("filename=" + ":".join(f.replace(":", "\\:")
                                            for f in files))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def fio_totals(path, kind):
    """(bytes moved, the group's rate in bytes/s) from fio's JSON output.

    The rate is fio's aggregate for the group, as its "Run status group"
    line gives it: every job's bytes over the longest job's runtime (the
    jobs start together). Not the sum of the jobs' own rates: jobs that end
    at different times were not all running at those rates at once (4 jobs
    of 512 MiB ran 163 to 202 ms; their rates summed to 12.3 GB/s, the
    group's was 10.6), and valise bench's rate for all drives is their
    bytes over the time they took together."""
    with open(path) as f:
        text = f.read()
    # fio may print notes before the JSON object.
    doc = json.loads(text[text.index("{"):])
    jobs = doc["jobs"]
    nbytes = sum(j[kind]["io_bytes"] for j in jobs)
    longest_ms = max((j[kind]["runtime"] for j in jobs), default=0)
    if longest_ms <= 0:
        return nbytes, sum(j[kind]["bw_bytes"] for j in jobs)
    return nbytes, nbytes * 1000 / longest_ms


def sha256_per_core(log_path, seconds=3):
    """openssl speed's SHA-256 rate on one core, 1 MiB blocks, bytes/s
    (-elapsed: wall time, so a busy machine shows)."""
    t = timed(["openssl", "speed", "-elapsed", "-evp", "sha256",
               "-seconds", str(max(1, seconds)), "-bytes", str(MiB)],
              log_path)
    if not t.ok:
        return None
    with open(log_path) as f:
        for line in f:
            p = line.split()
            if len(p) >= 2 and p[0] == "sha256" and p[1].endswith("k"):
                return float(p[1][:-1]) * 1000
    return None


def run(args, ctx):
    rec = Record("verify-disk" if args.drives_on == "disk" else "verify",
                 ctx.command, args.runs, ctx.targets)
    data_mb = max(1, int(args.size_gb * 1024 + 0.5))
    image_mb = data_mb + data_mb // 16 + 128
    with Rig("valise-bench", args.drives, args.drives_on, image_mb) as rig:
        rec.rig = rig.describe()
        W = rig.work
        dirs = [d.mnt for d in rig.drives]
        log("writing %d MiB of 128 MiB files on each of %d drives"
            % (data_mb, len(dirs)))
        for i, d in enumerate(dirs):
            data.gen_large(d, i + 1, data_mb, "bench")
        files = [sorted(os.path.join(d, n) for n in os.listdir(d)
                        if n.endswith(".bin")) for d in dirs]
        total = sum(os.path.getsize(f) for fs in files for f in fs)
        nfiles = sum(len(fs) for fs in files)
        where = ("backed by /dev/shm" if args.drives_on == "shm" else
                 "over image files on %s (%s; loop direct I/O %s)" % (
                     rig.disk_source, rig.disk_fstype, rig.drives[0].dio))
        rec.add_set("big", "%d ext4 loop drives %s, %d bytes each in 128 MiB "
                    "files" % (len(dirs), where, total // len(dirs)),
                    nfiles, total)

        V = ctx.valise
        M = os.path.join(W, "bench.valise")
        log("manifests: valise (sha256, xxh128), sha256sum, hashdeep")
        ctx.check_call([V, "manifest", "--hash", "sha256,xxh128",
                        "--no-progress", "-o", M] + dirs)
        M_files = os.path.join(W, "bench-nochunks.valise")
        ctx.check_call([V, "manifest", "--hash", "sha256,xxh128",
                        "--no-chunks", "--no-progress", "-o", M_files] + dirs)
        with open(os.path.join(W, "all.sha256"), "w") as allf:
            for i, d in enumerate(dirs):
                out = os.path.join(W, "drive%d.sha256" % i)
                ctx.check_call([V, "manifest", "--no-chunks", "--no-progress",
                                "--format", "sha256sum", "-o", out, d])
                with open(out) as f:
                    for line in f:
                        allf.write(prefixed(line, d + "/"))
        known = os.path.join(W, "known.hashdeep")
        with open(known, "w") as f:
            ctx.check_call(["hashdeep", "-c", "sha256", "-r"] + dirs, stdout=f)
        fio_job(os.path.join(W, "read.fio"), files)

        def fio_check(t):
            got, bw = fio_totals(os.path.join(W, "fio.json"), "read")
            t.extra["own_rate"] = bw
            return None if got == total else "fio read %d of %d bytes" % (
                got, total)

        def raw_check(t):
            with open(os.path.join(W, "raw.json")) as f:
                doc = json.load(f)
            rate = doc["read_together"]["rate_bytes_per_s"]
            t.extra["own_rate"] = rate
            return None if rate else "no read_together rate"

        q = " ".join
        sh = lambda p: "'" + p.replace("'", "'\\''") + "'"  # noqa: E731
        par_sha = " & ".join(
            "(cd %s && sha256sum -c --quiet %s)" % (
                sh(d), sh(os.path.join(W, "drive%d.sha256" % i)))
            for i, d in enumerate(dirs))
        par_rclone = " & ".join(
            "rclone checksum sha256 %s %s --config /dev/null -q" % (
                sh(os.path.join(W, "drive%d.sha256" % i)), sh(d))
            for i, d in enumerate(dirs))
        # wait for each job by PID: the shell's `wait` alone would hide a
        # failure.
        def par(s):
            return s + " & for p in $(jobs -p); do wait $p || exit 1; done"
        specs = [
            ("fio_read", "fio: the same files, one job per drive (io_uring, "
             "O_DIRECT, bs=1M, QD 16, fixed bufs, reg. files)",
             "fio --output-format=json --output=%s %s" % (
                 sh(os.path.join(W, "fio.json")),
                 sh(os.path.join(W, "read.fio"))), fio_check, "own_rate"),
            ("valise_raw", "valise bench: raw read, all drives at once (its "
             "engine, no hashing; %d s)" % args.bench_seconds,
             q([V, "bench", "--seconds", str(args.bench_seconds), "--json"] +
               dirs) + " >" +
             sh(os.path.join(W, "raw.json")), raw_check, "own_rate"),
            ("valise_xxh128", "valise verify --hash-only xxh128",
             [V, "verify", "-m", M, "--hash-only", "xxh128",
              "--no-progress"] + dirs, None, None),
            ("valise_default", "valise verify (a manifest without chunk "
             "index: its digests, sha256 + xxh128)",
             [V, "verify", "-m", M_files, "--no-progress"] + dirs, None,
             None),
            ("valise_chunks", "valise verify (the manifest binds its chunk "
             "index: each chunk's SHA-256 decides)",
             [V, "verify", "-m", M, "--no-progress"] + dirs, None, None),
            ("valise_sha256", "valise verify --hash-only sha256",
             [V, "verify", "-m", M, "--hash-only", "sha256",
              "--no-progress"] + dirs, None, None),
            ("sha256sum", "sha256sum -c (one process)",
             ["sha256sum", "-c", "--quiet", os.path.join(W, "all.sha256")],
             None, None),
            ("sha256sum_parallel", "sha256sum -c, one per drive in parallel",
             par(par_sha), None, None),
            ("hashdeep", "hashdeep -c sha256 -a -k",
             ["hashdeep", "-c", "sha256", "-a", "-k", known, "-r"] + dirs,
             None, None),
            ("rclone", "rclone checksum sha256, one per drive in parallel",
             par(par_rclone), None, None),
        ]
        tools = []
        for tid, label, argv, check, own in specs:
            tools.append((rec.add_tool(Tool(tid, label, "big",
                                            own_rate=own)), argv, check))
        bare = []
        for r in range(args.runs):
            for tool, argv, check in tools:
                run_tool(rec, tool, argv, os.path.join(W, tool.id + ".log"),
                         check=check)
            rate = sha256_per_core(os.path.join(W, "openssl-%d.log" % r),
                                   args.bench_seconds)
            bare.append(rate)
            log("run %d/%d: bare SHA-256 %.0f MB/s a core"
                % (r + 1, args.runs, (rate or 0) / 1e6))
        rec.extra["sha256_per_core_bytes_per_s"] = bare
        ratios(rec, bare, total)
        return rec


def ratios(rec, bare, total):
    from harness import median
    fio_own = rec.own_rate("fio_read")
    raw = rec.own_rate("valise_raw")
    rec.ratio("raw_read", "valise raw read / fio read (each by its own rate: "
              "start-up left out)", raw / fio_own if raw and fio_own else None,
              "raw_read", terms={"valise": raw, "fio": fio_own})
    rec.rate_ratio("verify_xxh128", "valise verify --hash-only xxh128 / fio "
                   "read (wall time)", "valise_xxh128", "fio_read",
                   "verify_xxh128")
    rec.rate_ratio("verify_default_digests", "valise verify, default digests "
                   "/ --hash-only sha256", "valise_default", "valise_sha256",
                   "verify_default_digests")
    # CPU per byte: valise's --hash-only sha256 against bare SHA-256 plus
    # what reading costs valise (its --hash-only xxh128 run, whose hash is
    # a few percent of the CPU).
    per_core = median(bare)
    sha = rec.tools["valise_sha256"]
    xxh = rec.tools["valise_xxh128"]
    value = terms = None
    if per_core and not sha.failed() and not xxh.failed():
        bare_cpu = total / per_core
        read_cpu = xxh.median("cpu_s")
        sha_cpu = sha.median("cpu_s")
        value = sha_cpu / (bare_cpu + read_cpu)
        terms = {
            "valise_sha256_cpu_s": sha_cpu,
            "bare_sha256_cpu_s": bare_cpu,
            "read_cpu_s": read_cpu,
            "bytes": total,
            "ns_per_byte": {
                "valise_sha256": sha_cpu / total * 1e9,
                "bare_sha256": bare_cpu / total * 1e9,
                "read": read_cpu / total * 1e9,
            },
        }
    rec.ratio("cpu_sha256", "CPU of valise --hash-only sha256 / (bare "
              "SHA-256 + the read's own cost)", value, "cpu_sha256",
              terms=terms)
    for peer, fig in (("sha256sum", "verify_vs_sha256sum"),
                      ("hashdeep", "verify_vs_hashdeep"),
                      ("rclone", "verify_vs_rclone"),
                      ("sha256sum_parallel", "verify_vs_sha256sum_parallel")):
        # valise as an operator runs it: the manifest binds its chunk index.
        rec.rate_ratio(fig, "valise verify / %s" % rec.tools[peer].label,
                       "valise_chunks", peer, fig)
