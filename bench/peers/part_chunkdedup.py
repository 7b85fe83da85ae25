"""`scripts/bench-peers chunkdedup`: dedup by chunk (issue 15): valise
ingest of a set whose 1 MiB chunks are 30% copies of others against the
same set without copies, side by side.

Rig: one ext4 loop drive in /dev/shm holding two sets, and an xfs DEST
(reflink=1) over an image in /dev/shm, so what is measured is the
software's cost:
  uniq    --size-mb MiB in files of --file-mb MiB, every chunk distinct
  dup30   the same files and sizes, but chunk i of the set (counting
          across files, in order) is, for i % 10 in (3, 6, 9), a copy of
          chunk i - 3: 30% of the chunks are copies of a chunk before
          them, at an aligned offset, often in another file
Each set has a signed manifest (the chunk digests decide, so a copied
chunk is cloned from the first, FICLONERANGE, and not read). --runs times,
each set in turn: DEST emptied, caches dropped, `valise
ingest --pubkey` timed (DEST synced inside the time); the bytes written
to DEST's device (sectors written, /proc/diskstats) are counted around
it. Ratios: bytes written / the set's bytes (dup30), and the median
time of dup30 / the median time of uniq.

Beside them, on the set uniq, what the signed chunk digests cost:
  - CPU of `valise ingest --pubkey` and of `valise verify --pubkey`
    (each byte hashed once, SHA-256 per chunk) against bare SHA-256 of
    the same bytes (openssl speed, one core) plus the read's own cost
    (CPU of `valise verify --hash-only xxh128`): figure chunk_cpu (the
    ingest's CPU also pays for its writes into DEST);
  - at the source, `valise manifest` with the chunk index against
    `valise manifest --no-chunks` (wall time and CPU; no target).
"""

import os

import data
from harness import Record, Tool, log, median, run_tool
from part_verify import sha256_per_core
from rig import Rig, diskstat, empty_dest

MiB = 1 << 20


def add_arguments(p):
    p.add_argument("--size-mb", type=int, default=512,
                   help="MiB in each set (default 512)")
    p.add_argument("--file-mb", type=int, default=32,
                   help="MiB per file (default 32)")


def sectors_written(dev):
    """Sectors written to `dev` (field 7 of /proc/diskstats), 0 if it is
    not listed."""
    return diskstat(dev, 9) or 0


def gen_set(directory, total_mb, file_mb, dup, key):
    """Files of file_mb MiB adding up to total_mb; with `dup`, chunk i of
    the set is a copy of chunk i - 3 for i % 10 in (3, 6, 9)."""
    os.makedirs(directory, exist_ok=True)
    k = data.Keystream(key)
    chunks = []  # every chunk of the set so far (dup: to copy from)
    try:
        i = 0
        for f in range((total_mb + file_mb - 1) // file_mb):
            mb = min(file_mb, total_mb - f * file_mb)
            with open(os.path.join(directory, "f%03d.bin" % f), "wb") as out:
                for _ in range(mb):
                    if dup and i % 10 in (3, 6, 9):
                        c = chunks[i - 3]
                    else:
                        c = k.read(MiB)
                    chunks.append(c)
                    out.write(c)
                    i += 1
    finally:
        k.close()


def run(args, ctx):
    rec = Record("chunkdedup", ctx.command, args.runs, ctx.targets)
    drive_mb = 2 * args.size_mb + args.size_mb // 4 + 128
    dest_mb = args.size_mb + args.size_mb // 4 + 512
    with Rig("valise-bench-chunkdedup", 1, "shm", drive_mb,
             [("dest-shm", "shm", "xfs", dest_mb)]) as rig:
        rec.rig = rig.describe()
        W = rig.work
        drive = rig.drives[0].mnt
        dest = rig.dests["dest-shm"]
        out = os.path.join(dest.mnt, "out")
        V = ctx.valise
        key = os.path.join(W, "key")
        ctx.check_call([V, "keygen", "-o", key])
        sets = {}
        for sid, dup in (("uniq", False), ("dup30", True)):
            d = os.path.join(drive, sid)
            log("writing set %s (%d MiB)" % (sid, args.size_mb))
            gen_set(d, args.size_mb, args.file_mb, dup, "chunkdedup")
            files, nbytes = data.count(d)
            rec.add_set(sid, "%d MiB in files of %d MiB on an ext4 loop "
                        "drive in /dev/shm, %s" % (
                            args.size_mb, args.file_mb,
                            "30% of the 1 MiB chunks copies of a chunk "
                            "before them" if dup else "every chunk distinct"),
                        files, nbytes)
            M = os.path.join(W, sid + ".valise")
            ctx.check_call([V, "manifest", "--no-progress", "-o", M, d])
            ctx.check_call([V, "sign", "-k", key, M])
            sets[sid] = (d, M)

        tools = {}
        for sid, (d, M) in sets.items():
            report = os.path.join(W, "report-%s.json" % sid)
            tool = rec.add_tool(Tool("valise_%s" % sid, "valise ingest "
                                     "--pubkey (signed chunk digests)", sid,
                                     dest="shm"))
            argv = [V, "ingest", "-m", M, "--pubkey", key + ".pub", "-d",
                    out, "--no-progress", "-q", "--force", "--report",
                    report, d]
            tools[sid] = (tool, argv, report)

        for r in range(args.runs):
            for sid, (tool, argv, report) in tools.items():
                before = [0]

                def prepare():
                    empty_dest(dest, out)
                    before[0] = sectors_written(dest.dev)

                def check(t, sid=sid, report=report):
                    t.extra["bytes_written"] = (sectors_written(dest.dev) -
                                                before[0]) * 512
                    import json
                    with open(report) as f:
                        doc = json.load(f)
                    tot = doc.get("totals", {})
                    t.extra["chunk_bytes_cloned"] = tot.get(
                        "chunk_bytes_cloned")
                    t.extra["bytes_not_read"] = tot.get("bytes_not_read")
                    if doc.get("exit_code") != 0:
                        return "exit_code %s" % doc.get("exit_code")
                    if tot.get("files_ok") != rec.sets[sid]["files"]:
                        return "files_ok %s" % tot.get("files_ok")
                    return None
                run_tool(rec, tool, argv, os.path.join(W, tool.id + ".log"),
                         prepare=prepare, durable=out, check=check)
        empty_dest(dest, out)

        # What the signed chunk digests cost, on the set without copies.
        d, M = sets["uniq"]
        cost = {}
        for tid, label, argv in (
                ("verify_signed", "valise verify --pubkey (signed chunk "
                 "digests)", [V, "verify", "-m", M, "--pubkey", key + ".pub",
                              "--no-progress", "-q", d]),
                ("verify_xxh128", "valise verify --hash-only xxh128 (the "
                 "read's own cost)", [V, "verify", "-m", M, "--hash-only",
                                      "xxh128", "--no-progress", "-q", d]),
                ("manifest_chunks", "valise manifest (with the chunk index)",
                 [V, "manifest", "--no-progress", "-q", "--force", "-o",
                  os.path.join(W, "m-chunks.valise"), d]),
                ("manifest_nochunks", "valise manifest --no-chunks",
                 [V, "manifest", "--no-progress", "-q", "--force",
                  "--no-chunks", "-o", os.path.join(W, "m-nochunks.valise"),
                  d])):
            cost[tid] = (rec.add_tool(Tool(tid, label, "uniq")), argv)
        bare = []
        for r in range(args.runs):
            for tid, (tool, argv) in cost.items():
                run_tool(rec, tool, argv, os.path.join(W, tid + ".log"))
            bare.append(sha256_per_core(os.path.join(W, "openssl-%d.log" % r)))
        rec.extra["sha256_per_core_bytes_per_s"] = bare
        per_core = median(bare)
        nbytes = rec.sets["uniq"]["bytes"]
        read_cpu = cost["verify_xxh128"][0].median("cpu_s")
        for rid, tool in (("chunk_cpu_ingest", tools["uniq"][0]),
                          ("chunk_cpu_verify", cost["verify_signed"][0])):
            cpu = tool.median("cpu_s")
            value = terms = None
            if per_core and cpu is not None and read_cpu is not None:
                bare_cpu = nbytes / per_core
                value = cpu / (bare_cpu + read_cpu)
                terms = {"cpu_s": cpu, "bare_sha256_cpu_s": bare_cpu,
                         "read_cpu_s": read_cpu, "bytes": nbytes}
            rec.ratio(rid, "CPU of %s / (bare SHA-256 + the read's own "
                      "cost)" % tool.label, value, "chunk_cpu", terms=terms)
        rec.rate_ratio("chunk_source_cost", "time of valise manifest with the "
                       "chunk index / without (--no-chunks)",
                       "manifest_nochunks", "manifest_chunks")
        a = cost["manifest_chunks"][0].median("cpu_s")
        b = cost["manifest_nochunks"][0].median("cpu_s")
        rec.ratio("chunk_source_cpu", "CPU of valise manifest with the chunk "
                  "index / without (--no-chunks)",
                  a / b if a is not None and b else None)

        dup_tool = tools["dup30"][0]
        written = dup_tool.median("bytes_written")
        total = rec.sets["dup30"]["bytes"]
        rec.ratio("chunk_dedup_written", "bytes written to DEST / the set's "
                  "bytes, ingest of a set with 30% duplicate chunks",
                  written / total if written is not None else None,
                  "chunk_dedup_written",
                  terms={"bytes_written": written, "set_bytes": total,
                         "chunk_bytes_cloned":
                             dup_tool.median("chunk_bytes_cloned")})
        rec.rate_ratio("chunk_dedup_time", "time of the ingest of the set "
                       "with 30% duplicate chunks / of the same set without",
                       "valise_uniq", "valise_dup30", "chunk_dedup_time")
        return rec
