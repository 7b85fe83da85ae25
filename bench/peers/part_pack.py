"""`scripts/bench-peers pack`: valise pack against fio writing the same
bytes to the same drives, the rebuild of a lost data drive against the
surviving drives' read rate, and par2 create of the same data.

Rig: 1 + D + P ext4 loop drives in /dev/shm (memory-backed: the software's
cost shows, not a disk's): d1 holds the dataset (--size-gb GB of 64 MiB
files), the other D + P are the shipment's drives (default 8 + 2: the
figure pack_parity_8_2), and an xfs DEST in /dev/shm for the rebuild.
Then, --runs times, each tool in turn, the drives emptied (and trimmed,
so their memory goes back) and the page cache dropped before each:

  pack, no parity  valise pack DATASET --drives (all D + P) --parity 0
  fio, no parity   fio writing, on each of the same drives, as many bytes
                   as that pack wrote there (one file per drive, io_uring,
                   O_DIRECT, bs=1M, QD 16, end_fsync: durable like pack's)
  pack, D+P        valise pack --parity P onto the same drives
  fio, D+P         fio writing what that pack wrote to each drive (data
                   and parity)
  par2 create      par2 create -r(100 P / D), 4 MiB blocks, of the
                   dataset's files, its recovery files onto one of the
                   drives (sync -f in its time): the same redundancy, as
                   an operator would make it without valise
  rebuild          with the D+P pack in place and every file of the
                   surviving drives already in DEST (one ingest before the
                   runs), the lost data drive's files removed from DEST,
                   then valise ingest of the surviving drives: it rebuilds
                   exactly the lost drive's files from their stripes
  fio, survivors   fio reading every file of the surviving drives, one
                   job per drive: the surviving drives' read rate

Ratios: pack / fio for each (both write the same bytes: wall time against
wall time; figures pack_no_parity and pack_parity_8_2); the rebuild's rate
(the lost drive's bytes per second) against one surviving drive's read
rate (fio's rate over the survivors, per drive: each stripe's members are
read from the drives in parallel, one chunk from each, so a rebuild at the
drives' pace produces one drive's rate); pack D+P against par2 create.

With --drive-mbps R, each shipment drive writes (pack, fio write, par2)
and reads (rebuild, fio read) at most R MB/s: drives at a disk's pace,
what an operator sees. Unthrottled, the drives are memory and pack is
bound by its own CPU (a SHA-256 of each file and one of each chunk, on
two cores), which fio, writing without hashing, does not pay: that rig
shows what the software costs; the throttled one whether pack keeps up
with its drives.
"""

import os
import shutil
import subprocess

import data
from harness import Record, Tool, log, median, run_tool
from part_verify import fio_job, fio_totals, sha256_per_core
from rig import Rig, Throttle, empty_dest

MiB = 1 << 20
# par2's block: its work is (recovery blocks) x (data), so its default of
# 2,000 blocks takes minutes a GB; 4 MiB blocks keep it to seconds.
PAR2_BLOCK = 4 * MiB


def add_arguments(p):
    p.add_argument("--size-gb", type=float, default=1.0,
                   help="GB of data in the dataset (default 1)")
    p.add_argument("--data-drives", type=int, default=8,
                   help="data drives of the parity pack (default 8)")
    p.add_argument("--parity", type=int, default=2,
                   help="parity drives (default 2)")
    p.add_argument("--no-par2", action="store_true",
                   help="leave par2 create out")
    p.add_argument("--drive-mbps", type=float, default=0,
                   help="each shipment drive writes (pack, fio write) and "
                   "reads (the rebuild, the survivors' fio read) at most "
                   "this many MB/s (cgroup blkio throttle): drives at a "
                   "disk's pace instead of memory's, where a pack that "
                   "keeps up with its drives shows it (default 0: "
                   "unthrottled, the software's cost)")


def drive_bytes(mnt):
    """Bytes of the regular files under a drive (lost+found left out)."""
    total = 0
    for root, dirs, files in os.walk(mnt):
        dirs[:] = [d for d in dirs if d != "lost+found"]
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


def empty_drives(drives):
    """Everything but lost+found removed from each drive, the freed
    blocks given back to its image (fstrim: the memory of /dev/shm)."""
    for d in drives:
        for n in os.listdir(d.mnt):
            if n == "lost+found":
                continue
            p = os.path.join(d.mnt, n)
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p)
            else:
                os.unlink(p)
        subprocess.run(["fstrim", d.mnt], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


def remove_outputs(path):
    for suffix in ("", ".chunks", ".layout", ".parity", ".drives"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)


def run(args, ctx):
    rec = Record("pack", ctx.command, args.runs, ctx.targets)
    k, m = args.data_drives, args.parity
    n = k + m
    data_mb = max(1, int(args.size_gb * 1024 + 0.5))
    drive_mb = max(data_mb + data_mb // 8 + 128,
                   data_mb // k + data_mb // 16 + 256)
    # DEST holds the whole dataset: the rebuild's starting point is every
    # surviving drive's files ingested (--size-gb 1 did not fit before).
    dest_mb = data_mb + data_mb // 4 + 512
    with Rig("valise-bench-pack", 1 + n, "shm", drive_mb,
             dests=[("dest-shm", "shm", "xfs", dest_mb)]) as rig:
        rec.rig = rig.describe()
        W = rig.work
        V = ctx.valise
        src = rig.drives[0].mnt
        drives = rig.drives[1:]
        mnts = [d.mnt for d in drives]
        # Files of 64 MiB, smaller for a small dataset: at least 4 a drive.
        file_mb = max(1, min(64, data_mb // (4 * n)))
        log("writing %d MiB of %d MiB files onto the dataset drive"
            % (data_mb, file_mb))
        data.gen_large(src, 1, data_mb, "pack", file_mb=file_mb)
        files = sorted(os.path.join(src, f) for f in os.listdir(src)
                       if f.endswith(".bin"))
        total = sum(os.path.getsize(f) for f in files)
        rec.add_set("data", "a dataset of %d MiB in %d MiB files on an ext4 "
                    "loop drive, packed onto %d ext4 loop drives, all backed "
                    "by /dev/shm" % (data_mb, file_mb, n), len(files), total)

        def prepare():
            empty_drives(drives)
            for name in ("p0.vm", "pp.vm"):
                remove_outputs(os.path.join(W, name))

        def pack_argv(parity, out):
            return [V, "pack", "--no-progress", src, "--drives"] + mnts + \
                ["--parity", str(parity), "-o", os.path.join(W, out)]

        def pack_check(t):
            return None if t.exit_code == 0 else "exit %d" % t.exit_code

        written = {}

        def fio_for(key):
            """A fio job writing, on each drive, what pack `key` wrote."""
            path = os.path.join(W, "write-%s.fio" % key)
            sizes = [max(MiB, b // MiB * MiB) for b in written[key]]
            fio_job(path, [[os.path.join(mt, "fio.bin")] for mt in mnts],
                    rw="write", sizes=sizes)
            return sum(sizes), path

        def fio_write_check(key):
            def f(t):
                got, bw = fio_totals(os.path.join(W, "fio-%s.json" % key),
                                     "write")
                want = sum(max(MiB, b // MiB * MiB) for b in written[key])
                t.extra["fio_bytes"] = got
                return None if got == want else "fio wrote %d of %d bytes" % (
                    got, want)
            return f

        pack0 = rec.add_tool(Tool("pack_p0", "valise pack, no parity (%d "
                                  "data drives)" % n, "data"))
        fio0 = rec.add_tool(Tool("fio_p0", "fio write, the same bytes per "
                                 "drive (io_uring, O_DIRECT, bs=1M, QD 16, "
                                 "end_fsync)", "data"))
        packp = rec.add_tool(Tool("pack_pp", "valise pack, %d+%d parity" %
                                  (k, m), "data"))
        fiop = rec.add_tool(Tool("fio_pp", "fio write, the same bytes per "
                                 "drive as the %d+%d pack" % (k, m), "data"))
        par2 = None
        redundancy = max(1, int(round(100.0 * m / k)))
        if not args.no_par2:
            par2 = rec.add_tool(Tool("par2", "par2 create -r%d -s%d (the "
                                     "same redundancy, 4 MiB blocks), "
                                     "recovery files onto a drive, synced"
                                     % (redundancy, PAR2_BLOCK), "data"))
        bps = int(args.drive_mbps * 1e6)
        if bps:
            rec.notes.append("pack, fio write and par2: each shipment drive "
                             "throttled to %.0f MB/s of writes (--drive-mbps)"
                             % args.drive_mbps)
        bare = []  # openssl's SHA-256 rate on one core, once a run
        with Throttle([d.dev for d in drives], bps, "write"):
            for r in range(args.runs):
                for tool, parity, out, key in ((pack0, 0, "p0.vm", "p0"),
                                               (packp, m, "pp.vm", "pp")):
                    t = run_tool(rec, tool, pack_argv(parity, out),
                                 os.path.join(W, tool.id + ".log"),
                                 prepare=prepare, check=pack_check)
                    if t.ok and key not in written:
                        written[key] = [drive_bytes(mt) for mt in mnts]
                        rec.extra["sha256_passes_%s" % key] = sha256_passes(
                            os.path.join(W, out))
                    fio = fio0 if key == "p0" else fiop
                    if key not in written:
                        continue
                    _, job = fio_for(key)
                    run_tool(rec, fio, ["fio", "--output-format=json",
                                        "--output=" + os.path.join(
                                            W, "fio-%s.json" % key), job],
                             os.path.join(W, fio.id + ".log"),
                             prepare=prepare, check=fio_write_check(key))
                if par2 is not None:
                    out = os.path.join(mnts[0], "par2")

                    def par2_prepare():
                        prepare()
                        os.mkdir(out)
                    run_tool(rec, par2, ["par2", "create", "-q", "-q",
                                         "-r%d" % redundancy,
                                         "-s%d" % PAR2_BLOCK, "-B", src,
                                         os.path.join(out, "data.par2")]
                             + files, os.path.join(W, "par2.log"),
                             prepare=par2_prepare, durable=mnts[0])
                bare.append(sha256_per_core(
                    os.path.join(W, "openssl-%d.log" % r)))
        rec.extra["sha256_per_core_bytes_per_s"] = bare
        for key, what in (("p0", "no parity"), ("pp", "%d+%d" % (k, m))):
            if key in written:
                rec.extra["bytes_written_%s" % key] = written[key]
                log("pack %s wrote %d bytes onto %d drives" % (
                    what, sum(written[key]), n))
        rebuild(rec, args, ctx, rig, drives, pack_argv, prepare)
        ratios(rec, k, m, n, par2 is not None)
        cpu_terms(rec, k, m, median([b for b in bare if b]))
        return rec


def rebuild(rec, args, ctx, rig, drives, pack_argv, prepare):
    """The rebuild of data drive 1 from the others, by ingest."""
    k, m = args.data_drives, args.parity
    W, V = rig.work, ctx.valise
    mnts = [d.mnt for d in drives]
    M = os.path.join(W, "pp.vm")
    log("the %d+%d pack again, for the rebuild" % (k, m))
    prepare()
    ctx.check_call(pack_argv(m, "pp.vm"), stdout=open(os.devnull, "w"))
    lost = mnts[0]
    survivors = mnts[1:]
    lost_files = []
    for root, dirs, files in os.walk(lost):
        dirs[:] = [d for d in dirs if d != "lost+found"]
        for f in files:
            lost_files.append(os.path.relpath(os.path.join(root, f), lost))
    lost_bytes = sum(os.path.getsize(os.path.join(lost, f))
                     for f in lost_files)
    surv_files = []
    for mt in survivors:
        fl = []
        for root, dirs, files in os.walk(mt):
            dirs[:] = [d for d in dirs if d != "lost+found"]
            fl += sorted(os.path.join(root, f) for f in files)
        surv_files.append(fl)
    surv_bytes = sum(os.path.getsize(f) for fl in surv_files for f in fl)
    rec.add_set("lost", "the files of the lost data drive (%d of %d+%d), "
                "rebuilt" % (1, k, m), len(lost_files), lost_bytes)
    rec.add_set("survivors", "every file of the %d surviving drives (data "
                "and parity)" % len(survivors),
                sum(len(fl) for fl in surv_files), surv_bytes)
    dest = rig.dests["dest-shm"]
    out = os.path.join(dest.mnt, "out")
    empty_dest(dest, out)
    log("ingest of the %d surviving drives (the rebuild's starting point)"
        % len(survivors))
    rc = ctx.call([V, "ingest", "--no-progress", "-m", M, "-d", out] +
                  survivors, stdout=open(os.devnull, "w"))
    if rc not in (0, 1):
        rec.notes.append("the first ingest of the survivors exited %d" % rc)
    tool = rec.add_tool(Tool("rebuild", "valise ingest of the %d surviving "
                             "drives, rebuilding the lost drive's files" %
                             len(survivors), "lost"))
    fio = rec.add_tool(Tool("fio_survivors", "fio read of the surviving "
                            "drives' files, one job per drive (io_uring, "
                            "O_DIRECT, bs=1M, QD 16)", "survivors",
                            own_rate="own_rate"))
    job = os.path.join(W, "survivors.fio")
    fio_job(job, [fl for fl in surv_files if fl])

    def remove_lost():
        for f in lost_files:
            p = os.path.join(out, f)
            if os.path.exists(p):
                os.unlink(p)

    def rebuild_check(t):
        missing = [f for f in lost_files if not os.path.exists(
            os.path.join(out, f))]
        if missing:
            return "%d of the lost drive's files not rebuilt" % len(missing)
        return None

    def fio_check(t):
        got, bw = fio_totals(os.path.join(W, "fio-survivors.json"), "read")
        t.extra["own_rate"] = bw
        return None if got >= surv_bytes else "fio read %d of %d bytes" % (
            got, surv_bytes)

    bps = int(args.drive_mbps * 1e6)
    if bps:
        rec.notes.append("rebuild and fio_survivors: each shipment drive "
                         "throttled to %.0f MB/s of reads (--drive-mbps)" %
                         args.drive_mbps)
    with Throttle([d.dev for d in drives], bps, "read"):
        for r in range(args.runs):
            run_tool(rec, tool, [V, "ingest", "--no-progress", "-m", M,
                                 "-d", out] + survivors,
                     os.path.join(W, "rebuild.log"), prepare=remove_lost,
                     durable=dest.mnt, check=rebuild_check, ok_codes=(0, 1))
            run_tool(rec, fio, ["fio", "--output-format=json", "--output=" +
                                os.path.join(W, "fio-survivors.json"), job],
                     os.path.join(W, "fio_survivors.log"), check=fio_check)


def sha256_passes(manifest):
    """How many times pack hashed each byte with SHA-256: once for its
    chunk's signed digest, and once more when the manifest's files carry
    their own SHA-256 (`--hash sha256,...`). None without the manifest."""
    try:
        with open(manifest) as f:
            for line in f:
                if line.startswith("# columns "):
                    return 2 if "sha256" in line.split()[2:] else 1
    except OSError:
        pass
    return None


def cpu_terms(rec, k, m, per_core):
    """What pack's CPU goes to, beside its wall-time ratios: its CPU
    against the hashing it cannot skip (each chunk's SHA-256, data and
    parity, and each file's when its manifest holds one), and the cores
    it would take to write at fio's pace (its CPU over fio's wall time)."""
    written = rec.extra.get
    for key, tid, fio in (("p0", "pack_p0", "fio_p0"),
                          ("pp", "pack_pp", "fio_pp")):
        tool, ftool = rec.tools.get(tid), rec.tools.get(fio)
        nbytes = sum(written("bytes_written_%s" % key) or [])
        if tool is None or tool.failed() or not nbytes or not per_core:
            continue
        passes = written("sha256_passes_%s" % key)
        if not passes:
            continue
        cpu = tool.median("cpu_s")
        floor = passes * nbytes / per_core
        what = "no parity" if key == "p0" else "%d+%d" % (k, m)
        rec.ratio("pack_cpu_vs_hashing_%s" % key, "CPU of valise pack %s / "
                  "%s SHA-256 of every byte it wrote (openssl, one core)"
                  % (what, "one" if passes == 1 else "two"),
                  cpu / floor if floor else None,
                  terms={"cpu_s": cpu, "sha256_floor_cpu_s": floor,
                         "sha256_passes": passes, "bytes_written": nbytes,
                         "sha256_per_core_bytes_per_s": per_core})
        if ftool is not None and not ftool.failed():
            fwall = ftool.median("wall_s")
            rec.ratio("pack_cores_for_fio_pace_%s" % key, "cores valise pack "
                      "%s needs to write at fio's pace (its CPU seconds / "
                      "fio's wall seconds)" % what,
                      cpu / fwall if fwall else None,
                      terms={"cpu_s": cpu, "fio_wall_s": fwall})


def ratios(rec, k, m, n, with_par2):
    rec.rate_ratio("pack_no_parity", "valise pack --parity 0 / fio write of "
                   "the same bytes to the same %d drives (wall)" % n,
                   "pack_p0", "fio_p0", "pack_no_parity")
    rec.rate_ratio("pack_parity", "valise pack %d+%d / fio write of the same "
                   "bytes to the same drives (wall)" % (k, m), "pack_pp",
                   "fio_pp", "pack_parity_8_2" if (k, m) == (8, 2) else None)
    rebuild = rec.rate("rebuild")
    fio_bw = rec.own_rate("fio_survivors")
    per_drive = fio_bw / (n - 1) if fio_bw else None
    rec.ratio("rebuild_vs_drive_read", "rebuild of a lost data drive (its "
              "bytes per second) / one surviving drive's read rate (fio over "
              "the %d survivors, per drive)" % (n - 1),
              rebuild / per_drive if rebuild and per_drive else None,
              "pack_rebuild" if (k, m) == (8, 2) else None,
              terms={"rebuild_bytes_per_s": rebuild,
                     "drive_read_bytes_per_s": per_drive})
    if with_par2:
        rec.rate_ratio("pack_vs_par2", "valise pack %d+%d / par2 create of "
                       "the same data and redundancy (wall)" % (k, m),
                       "pack_pp", "par2")
