"""`scripts/bench-peers ingest`: ingest against the limits and the tools an
operator would otherwise use to land drives on storage, on two rigs, and
the verify of small files.

Rig: --drives ext4 loop drives in /dev/shm (or on the disk with
--drives-on disk) and one DEST per --dests entry, each xfs (--dest-fs) on
a loop device:
  shm    over an image in /dev/shm: memory, so what is measured is the
         software's cost, steady from run to run;
  disk   over an image on the disk (under $TMPDIR), loop direct I/O: what
         an operator sees, and as noisy as the disk.
Four data sets, a directory each on every drive:
  big    --size-gb GB a drive of 128 MiB files
  small  --small-files files of 4-64 KiB in all (0: none)
  tree   a real source tree (--tree-source: a tarball or a directory;
         default the tarball of the Debian package linux-source-6.1,
         installed when missing), its files dealt to the drives in turn
         (--tree-files: at most that many; 0: all)
  dup    --dup-gb GB a drive of files of up to 32 MiB, every tenth a copy
         of another under another name (0: none)
Then, --runs times, set after set, each tool in turn, DEST emptied (a
disk DEST trimmed too) and the page cache dropped before each, and each
one's result checked after it (files and bytes on DEST; valise's report):
  big:   fio read of the drives, and per DEST: fio write (as many bytes,
         one job per drive, end_fsync), valise ingest, rsync -a, cp -a then
         sha256sum -c, rclone copy --checksum
  small, tree: per DEST valise ingest, rsync -a, bench/metadata_limit (the
         same files landed with the protocol's fewest system calls); and
         verify of the drives: valise verify, hashdeep -a, sha256sum -c
  dup:   per DEST valise ingest, rsync -a
Every tool that writes ends with `sync -f DEST` inside its time. The last
run's valise copies are checked again with `valise verify -m M DEST`.
In every run, per DEST, `valise bench` of the big set just before its
ingest (--bench-seconds; 0: skip): the median of its predicted rates
against the ingest's median rate, measured side by side.
"""

import json
import os

import data
from harness import (Record, Tool, drop_caches, log, memory_available,
                     run_tool)
from part_verify import fio_job, fio_totals, prefixed
from rig import Rig, busy_ms, empty_dest

MiB = 1 << 20


def add_arguments(p):
    p.add_argument("--size-gb", type=float, default=0.5,
                   help="GB of large files per drive (default 0.5)")
    p.add_argument("--drives", type=int, default=4)
    p.add_argument("--drives-on", choices=("shm", "disk"), default="shm")
    p.add_argument("--small-files", type=int, default=100000)
    p.add_argument("--tree-source", default=None,
                   help="a tarball or directory (default: the tarball of "
                   "the Debian package linux-source-6.1; 'none': no tree)")
    p.add_argument("--tree-files", type=int, default=0,
                   help="at most this many files of the tree (0: all)")
    p.add_argument("--dup-gb", type=float, default=0.25)
    p.add_argument("--dests", default="shm,disk",
                   help="DEST rigs, comma-separated: shm, disk")
    p.add_argument("--dest-fs", choices=("xfs", "ext4", "btrfs"),
                   default="xfs")
    p.add_argument("--bench-seconds", type=float, default=2)
    p.add_argument("--reports", default=None,
                   help="keep valise's JSON reports of the last run here")


class Sets:
    """What each set holds, where."""

    def __init__(self):
        self.srcs = {}  # set -> [directory per drive]
        self.manifest = {}


def make_sets(args, rig, rec, ctx):
    dirs = [d.mnt for d in rig.drives]
    n = len(dirs)
    s = Sets()
    big_mb = int(args.size_gb * 1024 + 0.5)
    if big_mb > 0:
        s.srcs["big"] = [os.path.join(d, "big") for d in dirs]
        for i, d in enumerate(s.srcs["big"]):
            data.gen_large(d, i + 1, big_mb, "ingest")
    if args.small_files > 0:
        s.srcs["small"] = [os.path.join(d, "small") for d in dirs]
        for i, d in enumerate(s.srcs["small"]):
            data.gen_small(d, i + 1, args.small_files // n +
                           (1 if i < args.small_files % n else 0))
    tree_source = args.tree_source
    if tree_source != "none":
        if tree_source is None:
            tree_source = data.package_tarball(data.DEFAULT_TREE_PACKAGE)
        s.srcs["tree"] = [os.path.join(d, "tree") for d in dirs]
        log("copying the source tree %s onto the drives" % tree_source)
        got = data.gen_tree(tree_source, s.srcs["tree"], args.tree_files)
        rec.extra["tree_source"] = tree_source
        log("source tree: %d files" % got)
    dup_files = dup_size = 0
    if args.dup_gb > 0:
        s.srcs["dup"] = [os.path.join(d, "dup") for d in dirs]
        for d in s.srcs["dup"]:
            os.makedirs(d, exist_ok=True)
        dup_files, dup_size = data.gen_dup(
            s.srcs["dup"], int(args.dup_gb * 1024 * n + 0.5))
    where = ("/dev/shm" if args.drives_on == "shm" else
             "image files on %s" % rig.disk_source)
    desc = {
        "big": "large files (128 MiB)",
        "small": "small files of 4-64 KiB",
        "tree": "a real source tree (%s)" % os.path.basename(
            tree_source or ""),
        "dup": "files of %d bytes, every tenth a copy of another under "
               "another name (10%% duplicate content)" % dup_size,
    }
    for sid, srcs in s.srcs.items():
        files = nbytes = 0
        for d in srcs:
            f, b = data.count(d)
            files += f
            nbytes += b
        more = {}
        if sid == "dup":
            more["duplicate_bytes"] = dup_files // 10 * dup_size
        rec.add_set(sid, "%s on %d ext4 loop drives over %s" % (
            desc[sid], n, where), files, nbytes, **more)
        log("set %s: %d files, %d bytes" % (sid, files, nbytes))
        M = os.path.join(rig.work, sid + ".valise")
        ctx.check_call([ctx.valise, "manifest", "--hash", "sha256,xxh128",
                        "--no-progress", "-o", M] + srcs)
        s.manifest[sid] = M
    return s


def sums(ctx, srcs, out, absolute):
    """A sha256sum file of the drives' files: names relative to each
    drive's set directory (as they land in DEST), or absolute."""
    with open(out, "w") as allf:
        for i, d in enumerate(srcs):
            part = out + ".%d" % i
            ctx.check_call([ctx.valise, "manifest", "--no-chunks",
                            "--no-progress", "--format", "sha256sum", "-o",
                            part, d])
            with open(part) as f:
                for line in f:
                    allf.write(prefixed(line, d + "/" if absolute else ""))


def q(p):
    return "'" + p.replace("'", "'\\''") + "'"


def run(args, ctx):
    rec = Record("ingest", ctx.command, args.runs, ctx.targets)
    n = args.drives
    big_mb = int(args.size_gb * 1024 + 0.5)
    dup_mb = int(args.dup_gb * 1024 + 0.5)
    small_mb = args.small_files * 40 * 1024 // MiB // n + args.small_files // (
        64 * n)
    tree_mb = 0 if args.tree_source == "none" else (
        2048 if not args.tree_files else args.tree_files // 8 + 16) // n
    drive_mb = big_mb + dup_mb + small_mb + tree_mb
    drive_mb += drive_mb // 8 + 192
    largest = max(big_mb * n, small_mb * n * 5 // 4, tree_mb * n, dup_mb * n)
    dest_mb = largest + largest // 4 + 512
    dest_kinds = [d for d in args.dests.split(",") if d]
    for d in dest_kinds:
        if d not in ("shm", "disk"):
            ctx.die("--dests: shm or disk, not %r" % d)
    # /dev/shm holds the drives (with --drives-on shm) and the memory DEST,
    # all of its image (its memory is allocated when the rig is made, so
    # it is sized to the largest set with room to spare): refuse to start
    # what would run the machine out of memory half way. Small files take
    # ~38 KiB each with their blocks and inode, the Linux tree ~1.5 GB.
    sets_mb = [big_mb * n, args.small_files * 38 // 1024,
               0 if args.tree_source == "none" else
               1536 if not args.tree_files else args.tree_files // 40 + 16,
               dup_mb * n]
    shm_dest_mb = min(dest_mb, max(sets_mb) * 3 // 2 + 512)
    dests = [("dest-" + k, k, args.dest_fs,
              shm_dest_mb if k == "shm" else dest_mb) for k in dest_kinds]
    need = sum(sets_mb) if args.drives_on == "shm" else 0
    if "shm" in dest_kinds:
        need += shm_dest_mb
    avail = memory_available() // MiB
    if need > avail * 9 // 10:
        ctx.die("about %d MiB of /dev/shm needed (drives and the memory "
                "DEST); %d MiB of memory available" % (need, avail))
    with Rig("valise-bench-ingest", n, args.drives_on, drive_mb,
             dests) as rig:
        rec.rig = rig.describe()
        W = rig.work
        sets = make_sets(args, rig, rec, ctx)
        V = ctx.valise
        srcs = sets.srcs

        # Per-set tools. prepare: DEST emptied (rig.empty_dest); durable: the
        # DEST synced inside the timed region.
        plan = []  # (set, [(Tool, argv, prepare, durable, check)])

        def dest_tools(sid, kind):
            dest = rig.dests["dest-" + kind]
            out = os.path.join(dest.mnt, "out")
            unit = "files" if sid in ("small", "tree") else "bytes"
            M = sets.manifest[sid]
            report = os.path.join(W, "report-%s-%s.json" % (sid, kind))
            tools = []

            def prepare():
                empty_dest(dest, out)

            def add(tid, label, argv, check=None, own_rate=None,
                    lands=True):
                tool = rec.add_tool(Tool("%s_%s_%s" % (tid, sid, kind), label,
                                         sid, unit=unit if lands else None,
                                         dest=kind, own_rate=own_rate))
                tools.append((tool, argv, prepare, out,
                              checked(rec, tool, out, check, lands)))

            if sid == "big":
                job = os.path.join(W, "write-%s.fio" % kind)
                sizes = [data.count(d)[1] for d in srcs["big"]]
                names = []
                for i, d in enumerate(srcs["big"]):
                    k = len(os.listdir(d))
                    names.append([os.path.join(out, "fio-%d-%d.bin" % (i, j))
                                  for j in range(k)])
                fio_job(job, names, rw="write", sizes=sizes)
                fout = os.path.join(W, "fio-write-%s.json" % kind)

                def fio_write_check(t, fout=fout):
                    got, bw = fio_totals(fout, "write")
                    t.extra["own_rate"] = bw
                    if got < rec.sets["big"]["bytes"]:
                        return "fio wrote %d bytes" % got
                    return None
                add("fio_write", "fio write to DEST: as many bytes, one job "
                    "per drive (same options, end_fsync)",
                    "fio --output-format=json --output=%s %s" % (q(fout),
                                                                 q(job)),
                    fio_write_check, own_rate="own_rate")
            label = {"big": "valise ingest (sha256 + xxh128 manifest with its "
                            "chunk index: each chunk's SHA-256 decides)",
                     "dup": "valise ingest (--dedup auto)"}.get(
                         sid, "valise ingest")
            if sid == "big" and args.bench_seconds > 0:
                bjson = os.path.join(W, "bench-%s.json" % kind)

                def bench_check(t, bjson=bjson, kind=kind):
                    return bench_prediction(rec, bjson, kind, t)
                # Its prediction, measured side by side with the ingest
                # that follows it. It leaves nothing in DEST.
                add("bench", "valise bench: its predicted ingest rate (%g s)"
                    % args.bench_seconds,
                    "%s > %s" % (" ".join(q(a) for a in [V, "bench"] + srcs[
                        sid] + ["-d", out, "-m", M, "--seconds",
                                str(args.bench_seconds), "--json"]),
                                 q(bjson)),
                    bench_check, own_rate="predicted", lands=False)
            add("valise", label,
                # --force: each run replaces the report of the run before.
                [V, "ingest", "-m", M, "-d", out, "--no-progress", "-q",
                 "--force", "--report", report] + srcs[sid],
                lambda t: valise_check(rec, sid, report, t))
            add("rsync", "rsync -a, all drives in one command, then sync",
                ["rsync", "-a"] + [d + "/" for d in srcs[sid]] + [out + "/"])
            if sid == "big":
                add("cp_sha256sum", "cp -a, all drives in one command, then "
                    "sha256sum -c on DEST, then sync",
                    "cp -a %s %s/ && cd %s && sha256sum -c --quiet %s" % (
                        " ".join(q(d + "/.") for d in srcs[sid]), q(out),
                        q(out), q(os.path.join(W, "big.sha256"))))
                add("rclone", "rclone copy --checksum, one drive after the "
                    "other, then sync",
                    " && ".join("rclone copy --checksum --config /dev/null "
                                "-q %s %s" % (q(d), q(out))
                                for d in srcs[sid]))
            if sid in ("small", "tree"):
                add("limit", "bench/metadata_limit: create, write, name, one "
                    "syncfs per group of 1,024",
                    [ctx.metadata_limit, "--group", "1024", out] + srcs[sid])
            return tools

        def verify_tools(sid):
            M = sets.manifest[sid]
            tools = []
            allsum = os.path.join(W, "%s-abs.sha256" % sid)
            sums(ctx, srcs[sid], allsum, True)
            known = os.path.join(W, "%s.hashdeep" % sid)
            with open(known, "w") as f:
                ctx.check_call(["hashdeep", "-c", "sha256", "-r"] + srcs[sid],
                               stdout=f)
            for tid, label, argv in (
                    ("verify_valise", "valise verify (default: the chunk "
                     "digests decide)",
                     [V, "verify", "-m", M, "--no-progress"] + srcs[sid]),
                    ("verify_hashdeep", "hashdeep -c sha256 -a -k",
                     ["hashdeep", "-c", "sha256", "-a", "-k", known, "-r"] +
                     srcs[sid]),
                    ("verify_sha256sum", "sha256sum -c (one process)",
                     ["sha256sum", "-c", "--quiet", allsum])):
                tool = rec.add_tool(Tool("%s_%s" % (tid, sid), label, sid,
                                         unit="files"))
                tools.append((tool, argv, None, None, None))
            return tools

        if "big" in srcs:
            sums(ctx, srcs["big"], os.path.join(W, "big.sha256"), False)
            job = os.path.join(W, "read.fio")
            fio_job(job, [sorted(os.path.join(d, x) for x in os.listdir(d))
                          for d in srcs["big"]])
            fout = os.path.join(W, "fio-read.json")

            def fio_read_check(t):
                got, bw = fio_totals(fout, "read")
                t.extra["own_rate"] = bw
                want = rec.sets["big"]["bytes"]
                return None if got == want else "fio read %d of %d" % (got,
                                                                       want)
            tool = rec.add_tool(Tool("fio_read", "fio read: the same files, "
                                     "one job per drive (io_uring, O_DIRECT, "
                                     "bs=1M, QD 16, fixed bufs, reg. files)",
                                     "big", own_rate="own_rate"))
            big = [(tool, "fio --output-format=json --output=%s %s" % (
                q(fout), q(job)), None, None, fio_read_check)]
            for kind in dest_kinds:
                big += dest_tools("big", kind)
            plan.append(("big", big))
        for sid in ("small", "tree"):
            if sid in srcs:
                tools = []
                for kind in dest_kinds:
                    tools += dest_tools(sid, kind)
                tools += verify_tools(sid)
                plan.append((sid, tools))
        if "dup" in srcs:
            tools = []
            for kind in dest_kinds:
                tools += dest_tools("dup", kind)
            plan.append(("dup", tools))

        for r in range(args.runs):
            for sid, tools in plan:
                for tool, argv, prepare, durable, check in tools:
                    dev = rig.dests["dest-" + tool.dest].dev if tool.dest \
                        else None
                    before = busy_ms(dev) if dev else None

                    def with_busy(t, check=check, dev=dev, before=before):
                        if dev:
                            t.extra["dest_busy_s"] = (busy_ms(dev) -
                                                      before) / 1000
                        return check(t) if check else None
                    run_tool(rec, tool, argv,
                             os.path.join(W, tool.id + ".log"),
                             prepare=prepare, durable=durable,
                             check=with_busy)
                    last = r == args.runs - 1
                    if last and tool.id.startswith("valise_") and \
                            tool.runs[-1].ok:
                        verify_dest(rec, ctx, tool, sets, rig, args)
        for kind in dest_kinds:
            empty_dest(rig.dests["dest-" + kind],
                       os.path.join(rig.dests["dest-" + kind].mnt, "out"))
        ratios(rec, dest_kinds)
        return rec


def checked(rec, tool, out, check, lands=True):
    """The tool's own check, then, for a tool that `lands` the set, DEST's
    file and byte count against the set's (fio's write makes its own
    files: only its check)."""
    def f(t):
        if check is not None:
            why = check(t)
            if why:
                return why
        if not lands or tool.id.startswith("fio_"):
            return None
        got = data.count(out)
        want = (rec.sets[tool.set]["files"], rec.sets[tool.set]["bytes"])
        if got != want:
            return "DEST holds %d files, %d bytes; expected %d, %d" % (
                got + want)
        return None
    return f


def valise_check(rec, sid, report, t):
    try:
        with open(report) as f:
            r = json.load(f)
    except (OSError, ValueError) as e:
        return "no report %s: %s" % (report, e)
    tot = r.get("totals", {})
    t.extra["report_seconds"] = r.get("seconds")
    t.extra["dedup_bytes_saved"] = tot.get("dedup_bytes_saved")
    if r.get("exit_code") != 0:
        return "report: exit_code %s" % r.get("exit_code")
    if tot.get("files_ok") != rec.sets[sid]["files"]:
        return "report: files_ok %s of %d" % (tot.get("files_ok"),
                                             rec.sets[sid]["files"])
    if tot.get("bytes_verified") != rec.sets[sid]["bytes"]:
        return "report: bytes_verified %s of %d" % (
            tot.get("bytes_verified"), rec.sets[sid]["bytes"])
    return None


def verify_dest(rec, ctx, tool, sets, rig, args):
    """The last run's valise copy, checked again: valise verify -m M DEST."""
    out = os.path.join(rig.dests["dest-" + tool.dest].mnt, "out")
    report = os.path.join(rig.work, "verify-dest-%s.json" % tool.id)
    rc = ctx.call([ctx.valise, "verify", "-m", sets.manifest[tool.set],
                   "--no-progress", "-q", "--force", "--report", report, out])
    rec.extra.setdefault("verify_dest", {})[tool.id] = (
        "passed" if rc == 0 else "FAILED (exit %d)" % rc)
    if rc != 0:
        tool.runs[-1].error = "valise verify of DEST failed (exit %d)" % rc
    if args.reports:
        import shutil
        shutil.copy(report, os.path.join(args.reports,
                                         "verify-dest-%s.json" % tool.id))
        shutil.copy(os.path.join(rig.work, "report-%s-%s.json" % (
            tool.set, tool.dest)), os.path.join(
                args.reports, "ingest-%s.json" % tool.id))


def bench_prediction(rec, path, kind, t):
    """Check of one `valise bench --json` run: its predicted rate as the
    run's "predicted" extra; the last run's figures kept for the notes."""
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        return "no bench JSON %s: %s" % (path, e)
    pred = doc.get("predicted_rate_bytes_per_s")
    if not pred:
        return "bench predicted no rate"
    t.extra["predicted"] = pred
    rec.extra.setdefault("bench", {})[kind] = {
        "predicted_rate_bytes_per_s": pred,
        "bottleneck": doc.get("bottleneck", {}).get("text"),
        "limits": doc.get("limits"),
        "pipeline_rate_bytes_per_s": (doc.get("pipeline") or {}).get(
            "rate_bytes_per_s"),
        "pipeline_seconds": (doc.get("pipeline") or {}).get("seconds"),
        "model_rate_bytes_per_s": doc.get("model_rate_bytes_per_s"),
        "untrusted": doc.get("untrusted"),
    }
    return None


def ratios(rec, dest_kinds):
    for kind in dest_kinds:
        v = "valise_big_" + kind
        if v in rec.tools:
            # The limit: the slower of reading the drives (fio read) and
            # writing DEST (fio write), by wall time.
            rd, wr = rec.rate("fio_read"), rec.rate("fio_write_big_" + kind)
            limit = min(rd, wr) if rd and wr else None
            mine = rec.rate(v)
            rec.extra.setdefault("limit_bytes_per_s", {})[kind] = limit
            rec.ratio("ingest_large_limit_" + kind, "valise / min(fio read, "
                      "fio write), large files, DEST %s" % kind,
                      mine / limit if mine and limit else None,
                      "ingest_large_limit", terms={"fio_read": rd,
                                                   "fio_write": wr})
            for peer, name, fig in (
                    ("rsync", "rsync -a", "ingest_vs_rsync"),
                    ("cp_sha256sum", "cp -a + sha256sum -c",
                     "ingest_vs_cp_sha256sum"),
                    ("rclone", "rclone copy --checksum", "ingest_vs_rclone")):
                p = "%s_big_%s" % (peer, kind)
                prate = rec.rate(p)
                rec.rate_ratio(fig + "_" + kind, "valise / %s, large files, "
                               "DEST %s" % (name, kind), v, p,
                               fig, ceiling=limit / prate if limit and prate
                               else None)
            # Medians of both, each run's bench just before its ingest.
            pred = rec.own_rate("bench_big_" + kind)
            rec.ratio("bench_prediction_" + kind, "valise bench's predicted "
                      "ingest rate / the ingest's (medians), DEST %s" % kind,
                      pred / mine if pred and mine else None,
                      "bench_prediction",
                      terms={"predicted": pred, "measured": mine})
        fig_rsync = "small_vs_rsync_" + kind
        for sid in ("small", "tree"):
            v = "valise_%s_%s" % (sid, kind)
            if v not in rec.tools:
                continue
            rs = "rsync_%s_%s" % (sid, kind)
            # The most any tool could be ahead of rsync here: rsync's time
            # over the least time DEST's device was busy landing the set.
            busy = [rec.tools[t].median("dest_busy_s") for t in (v, rs)]
            busy = [b for b in busy if b]
            rwall = rec.tools[rs].median("wall_s")
            rec.rate_ratio("%s_%s" % (fig_rsync, sid), "valise / rsync -a, %s "
                           "(files/s), DEST %s" % (sid, kind), v, rs,
                           fig_rsync if kind in ("shm", "disk") else None,
                           ceiling=rwall / min(busy) if busy and rwall
                           else None)
            rec.rate_ratio("small_vs_metadata_limit_%s_%s" % (sid, kind),
                           "valise / metadata limit, %s (files/s), DEST %s"
                           % (sid, kind), v, "limit_%s_%s" % (sid, kind),
                           "small_vs_metadata_limit")
        v = "valise_dup_" + kind
        if v in rec.tools:
            rec.rate_ratio("dup_vs_rsync_" + kind, "valise / rsync -a, 10%% "
                           "duplicates, DEST %s" % kind, v,
                           "rsync_dup_" + kind)
    for sid in ("small", "tree"):
        v = "verify_valise_" + sid
        if v in rec.tools:
            rec.rate_ratio("small_verify_vs_hashdeep_" + sid, "valise verify "
                           "/ hashdeep -a, %s (files/s)" % sid, v,
                           "verify_hashdeep_" + sid,
                           "small_verify_vs_hashdeep")
            rec.rate_ratio("small_verify_vs_sha256sum_" + sid, "valise verify"
                           " / sha256sum -c, %s (files/s)" % sid, v,
                           "verify_sha256sum_" + sid,
                           "small_verify_vs_sha256sum")
