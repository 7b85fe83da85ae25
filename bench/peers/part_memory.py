"""`scripts/bench-peers memory`: peak RSS of ingest and verify with a large
manifest, against the budget: buffer pool + 200 B per entry + 64 MiB.

The manifest lists --entries files (default 2,000,000) of a few bytes
each, all different (dedup must not place them from one copy), sorted,
in directories of 10,000; the drive (one ext4 loop drive in /dev/shm)
holds the first --present of them (default 20,000), so the run stages
and checks real files and reports the rest missing, as an ingest of the
first drive of a large shipment does. Pool: one drive at --depth 16
plus 4 buffers for each of --threads 2 hashing threads, 1 MiB each (set
explicitly, so the budget is exact). Peak RSS is the kernel's (wait4's
ru_maxrss). Each command runs --runs times (default 1: memory does not
depend on the machine's load).
"""

import hashlib
import os
import subprocess

from harness import Record, Tool, log, run_tool
from rig import Rig, empty_dest

MiB = 1 << 20
THREADS = 2
DEPTH = 16


def add_arguments(p):
    p.add_argument("--entries", type=int, default=2000000)
    p.add_argument("--present", type=int, default=20000)


def rel(i):
    return "d%04d/f%08d.bin" % (i // 10000, i)


def write_manifest(ctx, work, drive, path, n, present):
    """The first `present` entries are real files on the drive (contents
    "x<i>", so no two share their bytes and dedup places nothing), with the
    lines `valise manifest` writes for them; the others are missing, with
    made-up distinct digests (never read). Sorted by path, as a manifest
    must be. Returns the manifest's total bytes."""
    mtime = 1732831200000000000
    for i in range(present):
        p = os.path.join(drive, rel(i))
        if i % 10000 == 0:
            os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(b"x%d" % i)
        os.utime(p, ns=(mtime, mtime))
    real = os.path.join(work, "present.valise")
    ctx.check_call([ctx.valise, "manifest", "--hash", "sha256,xxh128",
                    "--no-chunks", "--no-progress", "--force", "-o", real,
                    drive],
                   stderr=subprocess.DEVNULL)
    cols, lines = None, {}
    with open(real) as f:
        for line in f:
            if line.startswith("# columns "):
                cols = line.split()[2:]
            elif not line.startswith(("#", "valise-manifest")):
                lines[line.rstrip("\n").rsplit("\t", 1)[1]] = line
    total = 0
    with open(path, "w") as f:
        f.write("valise-manifest 1\n# created by scripts/bench-peers memory\n")
        f.write("# columns %s\n" % " ".join(cols))
        for i in range(n):
            r = rel(i)
            line = lines.get(r)
            if line is None:
                h = hashlib.sha256(b"missing %d" % i).hexdigest()
                fake = {"size": "1", "mtime": str(mtime), "sha256": h,
                        "xxh128": h[:32], "path": r}
                line = "\t".join(fake[c] for c in cols) + "\n"
            total += int(line.split("\t", 1)[0]) if cols[0] == "size" else 0
            f.write(line)
        f.write("# end files=%d bytes=%d\n" % (n, total))
    return total


def run(args, ctx):
    rec = Record("memory", ctx.command, args.runs, ctx.targets)
    present = min(args.present, args.entries)
    drive_mb = 64 + present * 4096 // MiB * 2
    dest_mb = 300 + present * 4096 // MiB * 2
    with Rig("valise-bench-memory", 1, "shm", drive_mb,
             [("dest-shm", "shm", "xfs", dest_mb)]) as rig:
        rec.rig = rig.describe()
        W = rig.work
        drive = rig.drives[0].mnt
        M = os.path.join(W, "big.valise")
        log("writing a manifest of %d entries; %d of the files on the drive"
            % (args.entries, present))
        total = write_manifest(ctx, W, drive, M, args.entries, present)
        rec.add_set("manifest", "a manifest of %d entries of a few bytes "
                    "each, all distinct; %d of them on one ext4 loop drive in "
                    "/dev/shm, the others missing" % (args.entries, present),
                    args.entries, total, present=present,
                    manifest_bytes=os.path.getsize(M))
        pool = (DEPTH + 4 * THREADS) * MiB
        budget = pool + 200 * args.entries + 64 * MiB
        rec.extra.update(pool_bytes=pool, budget_bytes=budget,
                         threads=THREADS, depth=DEPTH)
        dest = rig.dests["dest-shm"]
        out = os.path.join(dest.mnt, "out")
        common = ["--threads", str(THREADS), "--depth", str(DEPTH),
                  "--no-progress", "-q"]
        tools = [
            (rec.add_tool(Tool("ingest", "valise ingest -m M -d DEST DRIVE",
                               "manifest", unit="files", dest="shm")),
             [ctx.valise, "ingest", "-m", M, "-d", out] + common + [drive],
             lambda: empty_dest(dest, out), out),
            (rec.add_tool(Tool("verify", "valise verify -m M DRIVE",
                               "manifest", unit="files")),
             [ctx.valise, "verify", "-m", M] + common + [drive], None, None),
        ]
        for r in range(args.runs):
            for tool, argv, prepare, durable in tools:
                t = run_tool(rec, tool, argv, os.path.join(W, tool.id +
                                                           ".log"),
                             prepare=prepare, durable=durable,
                             ok_codes=(1,))  # 1: the files missing
                log("run %d: %s peak RSS %d MiB (budget %d MiB)" % (
                    r + 1, tool.id, t.maxrss_kib // 1024, budget // MiB))
        empty_dest(dest, out)
        for tool, *_ in tools:
            peak = tool.median("maxrss_kib")
            value = peak * 1024 / budget if peak else None
            rec.ratio("memory_" + tool.id, "peak RSS of %s / (buffer pool + "
                      "200 B per entry + 64 MiB)" % tool.id, value,
                      "memory_" + tool.id, terms={
                          "peak_rss_bytes": peak * 1024 if peak else None,
                          "budget_bytes": budget, "pool_bytes": pool,
                          "entries": args.entries,
                          "bytes_per_entry": ((peak * 1024 - pool - 64 * MiB)
                                              / args.entries) if peak else
                          None})
        return rec
