"""`scripts/bench-peers s3`: ingest into an object store (Ceph RGW) against
the store's own limits and the S3 clients an operator would otherwise use.

Rig: a test cluster of its own (tests/support/ceph_cluster.sh: one
monitor, one BlueStore OSD on a sparse file, one RGW on 127.0.0.1), its
directory in /dev/shm (--cluster-on shm: the OSD's file in memory, so the
software's cost is measured, steady) or under $TMPDIR (--cluster-on disk:
what a disk under the OSD allows); stopped and removed at the end, on every
way out. Two sets, directories in /dev/shm (reading them costs no tool
anything):
  large  --large-files files of --large-mib MiB (default 4 x 256 MiB)
  small  --small-files files of 4-64 KiB (default 2,000)
Then, --runs times, set after set, each tool in turn into a bucket of its
own made for that run (a fresh prefix; the bucket and every object are
purged after the run, untimed), its result checked after it (the bucket's
object count and bytes as RGW counts them; valise's report too):
  valise ingest -m M -d s3://BUCKET/valise SET (a sha256 + xxh128 manifest)
  rclone copy --checksum, aws s3 cp --recursive, s3cmd sync (each at its
  defaults: what an operator gets)
  RGW's limit: bench/s3_put_limit (valise_s3_put_limit): as many bytes (the
  large set: 16 MiB PUTs; the small set: one PUT of the set's mean size
  per file), 16 in flight, the payload's digests computed once, no
  client-side hashing per request
  RADOS's limit (large set): rados bench write on RGW's data pool, 4 MiB
  objects, 16 in flight, as many bytes (--max-objects); its objects
  removed after (untimed)
Every rate is the set's bytes (or files) over the tool's wall time; the
tools that print their own rate have it recorded beside.

Ratios (figures of bench/targets.json): valise / RGW's limit, valise /
the best peer (large files), valise / the best peer in files/s (small
files); and, without a figure, valise / RADOS's limit and RGW's limit /
RADOS's.
"""

import json
import os
import shutil
import subprocess
import tempfile

import data
from harness import REPO, Failure, Record, Tool, log, run_tool
from part_ingest import valise_check

MiB = 1 << 20
CLUSTER = os.path.join(REPO, "tests", "support", "ceph_cluster.sh")
DATA_POOL = "default.rgw.buckets.data"
LIMIT_JOBS = 16
ADMIN_TIMEOUT = 120


def add_arguments(p):
    p.add_argument("--large-files", type=int, default=4)
    p.add_argument("--large-mib", type=int, default=256,
                   help="MiB per large file (default 256)")
    p.add_argument("--small-files", type=int, default=2000)
    p.add_argument("--cluster-on", choices=("shm", "disk"), default="shm")
    p.add_argument("--tools", default="valise,rclone,aws,s3cmd,rgw_limit,"
                   "rados_limit", help="comma-separated subset to run")


class Cluster:
    """with Cluster(parent) as c: c.env (the process environment plus the
    cluster's s3.env), c.conf (ceph.conf for ceph, rados, radosgw-admin).
    Stopped, its daemons and data gone, on every way out."""

    def __init__(self, parent):
        self.dir = os.path.join(parent, "ceph")
        self.env = None
        self.conf = os.path.join(self.dir, "ceph.conf")

    def __enter__(self):
        log("starting a Ceph cluster in %s" % self.dir)
        try:
            subprocess.run(["bash", CLUSTER, "start", self.dir], check=True,
                           stdout=subprocess.DEVNULL)
        except (subprocess.CalledProcessError, KeyboardInterrupt):
            self.stop()
            raise Failure("the Ceph cluster did not start (%s)" % self.dir)
        self.env = dict(os.environ)
        with open(os.path.join(self.dir, "s3.env")) as f:
            for line in f:
                words = line.split()
                if not words or words[0].startswith("#"):
                    continue
                if words[0] == "unset":
                    for w in words[1:]:
                        self.env.pop(w, None)
                elif words[0] == "export" and "=" in words[1]:
                    k, v = line.strip()[len("export "):].split("=", 1)
                    self.env[k] = v
        return self

    def stop(self):
        subprocess.run(["bash", CLUSTER, "stop", self.dir],
                       stdout=subprocess.DEVNULL)

    def __exit__(self, *exc):
        log("stopping the Ceph cluster")
        self.stop()
        return False

    def run(self, argv, **kw):
        """Runs an admin or client command against the cluster. It is
        given up after ADMIN_TIMEOUT s (radosgw-admin once hung for 17
        minutes on a machine at load 40): a check that cannot answer
        fails that run's result, it does not stop the whole part."""
        kw.setdefault("timeout", ADMIN_TIMEOUT)
        try:
            return subprocess.run(argv, env=self.env, **kw)
        except subprocess.TimeoutExpired:
            log("gave up after %d s: %s" % (ADMIN_TIMEOUT, " ".join(argv)))
            return subprocess.CompletedProcess(argv, 124, "", "timed out")

    def admin_json(self, *args):
        r = self.run(["radosgw-admin", "-c", self.conf] + list(args),
                     capture_output=True, text=True)
        if r.returncode != 0:
            return None
        try:
            return json.loads(r.stdout)
        except ValueError:
            return None

    def make_bucket(self, name):
        r = self.run(["s3cmd", "-c", self.env["S3CMD_CONFIG"], "mb",
                      "s3://" + name], capture_output=True, text=True)
        if r.returncode != 0:
            raise Failure("s3cmd mb s3://%s: %s" % (name, r.stderr.strip()))

    def purge_bucket(self, name):
        self.run(["radosgw-admin", "-c", self.conf, "bucket", "rm",
                  "--bucket", name, "--purge-objects"],
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def bucket_usage(self, name):
        """(objects, bytes) RGW counts in the bucket, or None."""
        st = self.admin_json("bucket", "stats", "--bucket", name)
        if st is None:
            return None
        main = (st.get("usage") or {}).get("rgw.main") or {}
        return main.get("num_objects", 0), main.get("size", 0)


def run(args, ctx):
    rec = Record("s3", ctx.command, args.runs, ctx.targets)
    tools = set(args.tools.split(","))
    shm = tempfile.mkdtemp(prefix="valise-bench-s3-", dir="/dev/shm")
    try:
        parent = shm if args.cluster_on == "shm" else tempfile.mkdtemp(
            prefix="valise-bench-s3-")
        try:
            with Cluster(parent) as c:
                rec.rig = {"cluster": "tests/support/ceph_cluster.sh: 1 mon, "
                           "1 BlueStore OSD on a sparse file, 1 RGW (beast, "
                           "127.0.0.1); Ceph %s" % ceph_version(),
                           "cluster_on": args.cluster_on,
                           "sets_on": "/dev/shm"}
                measure(rec, args, ctx, c, shm, tools)
        finally:
            if parent != shm:
                shutil.rmtree(parent, ignore_errors=True)
    finally:
        shutil.rmtree(shm, ignore_errors=True)
    ratios(rec)
    return rec


def ceph_version():
    r = subprocess.run(["ceph", "--version"], capture_output=True, text=True)
    words = r.stdout.split()
    return words[2] if len(words) > 2 else "?"


def make_sets(args, rec, ctx, W):
    """The two sets, with a valise manifest each; returns {set: (dir, M)}."""
    sets = {}
    large = os.path.join(W, "large")
    os.makedirs(large)
    log("writing %d files of %d MiB" % (args.large_files, args.large_mib))
    for i in range(args.large_files):
        data.gen_file(os.path.join(large, "big-%03d.bin" % i),
                      args.large_mib * MiB, "s3:big:%d" % i)
    files, nbytes = data.count(large)
    rec.add_set("large", "%d files of %d MiB in /dev/shm" % (
        args.large_files, args.large_mib), files, nbytes)
    sets["large"] = large
    if args.small_files > 0:
        small = os.path.join(W, "small")
        os.makedirs(small)
        log("writing %d files of 4-64 KiB" % args.small_files)
        data.gen_small(small, 1, args.small_files)
        files, nbytes = data.count(small)
        rec.add_set("small", "%d files of 4-64 KiB in /dev/shm, 1,000 a "
                    "directory" % files, files, nbytes)
        sets["small"] = small
    out = {}
    for sid, d in sets.items():
        M = os.path.join(W, "%s.valise" % sid)
        ctx.check_call([ctx.valise, "manifest", "--hash", "sha256,xxh128",
                        "--no-progress", "-q", "-o", M, d])
        out[sid] = (d, M)
    return out


def measure(rec, args, ctx, c, W, tools):
    sets = make_sets(args, rec, ctx, W)
    V = ctx.valise
    env = c.env
    endpoint = env["AWS_ENDPOINT_URL"]
    aws = "/usr/bin/aws" if os.access("/usr/bin/aws", os.X_OK) else "aws"
    put_limit = os.environ.get("VALISE_S3_PUT_LIMIT") or os.path.join(
        os.path.dirname(V), "bench", "valise_s3_put_limit")
    limit_bucket = "limits"
    c.make_bucket(limit_bucket)  # RGW's data pool exists from here on
    plan = []  # (Tool, argv or callable returning argv, bucket fn, check)

    for sid, (src, M) in sets.items():
        unit = "files" if sid == "small" else "bytes"
        nfiles = rec.sets[sid]["files"]
        nbytes = rec.sets[sid]["bytes"]

        def add(tid, label, argv_of, check=None, own_rate=None, bucket=True,
                sid=sid, unit=unit):
            if tid.split("_" + sid)[0] not in tools:
                return
            tool = rec.add_tool(Tool(tid, label, sid, unit=unit,
                                     own_rate=own_rate))
            plan.append((tool, argv_of, bucket, check))

        report = os.path.join(W, "report-%s.json" % sid)
        add("valise_" + sid, "valise ingest -d s3:// (sha256 + xxh128 "
            "manifest)",
            lambda b, M=M, src=src, report=report: [
                V, "ingest", "-m", M, "-d", "s3://%s/valise" % b,
                "--no-progress", "-q", "--force", "--report", report, src],
            lambda rec_, t, sid=sid, report=report: valise_check(
                rec_, sid, report, t))
        add("rclone_" + sid, "rclone copy --checksum",
            lambda b, src=src: ["rclone", "copy", "--checksum", "-q",
                                "--config", env["RCLONE_CONFIG"], src,
                                "ceph:%s/rclone" % b])
        add("aws_" + sid, "aws s3 cp --recursive",
            lambda b, src=src: [aws, "--endpoint-url", endpoint, "s3", "cp",
                                "--recursive", "--only-show-errors", src,
                                "s3://%s/aws/" % b])
        add("s3cmd_" + sid, "s3cmd sync",
            lambda b, src=src: ["s3cmd", "-c", env["S3CMD_CONFIG"], "sync",
                                "--no-progress", "-q", src + "/",
                                "s3://%s/s3cmd/" % b])
        if sid == "large":
            size = 16 * MiB
            count = max(1, nbytes // size)
        else:
            count = nfiles
            size = (nbytes // nfiles) // 4096 * 4096 or 4096
        limit_json = os.path.join(W, "limit-%s.json" % sid)
        add("rgw_limit_" + sid, "RGW's limit: %d PUTs of %s, %d in flight, "
            "no client hashing (bench/s3_put_limit)" % (
                count, "16 MiB" if sid == "large" else "%d KiB" % (
                    size // 1024), LIMIT_JOBS),
            lambda b, size=size, count=count, limit_json=limit_json:
            # --keep: its own clean-up (one DELETE at a time) would be
            # timed; the bucket is purged after the run, untimed.
            "%s --size %d --jobs %d --count %d --keep s3://%s/limit > %s" % (
                put_limit, size, LIMIT_JOBS, count, b, limit_json),
            lambda rec_, t, limit_json=limit_json, count=count:
            limit_check(t, limit_json, count),
            own_rate="own_rate" if sid == "large" else None)
        if sid == "large":
            objects = max(1, nbytes // (4 * MiB))
            add("rados_limit_large", "RADOS's limit: rados bench write on "
                "RGW's data pool, %d objects of 4 MiB, 16 in flight" % objects,
                lambda b, objects=objects: [
                    "rados", "-c", c.conf, "-p", DATA_POOL, "bench", "600",
                    "write", "-b", str(4 * MiB), "-t", "16", "--max-objects",
                    str(objects), "--no-cleanup", "--run-name", b],
                rados_check, own_rate="own_rate", bucket=False)

    for r in range(args.runs):
        for tool, argv_of, bucket, check in plan:
            name = ("r%d-%s" % (r + 1, tool.id)).replace("_", "-")
            if bucket:
                c.make_bucket(name)
            log_path = os.path.join(W, tool.id + ".log")

            def checked(t, tool=tool, name=name, bucket=bucket, check=check,
                        log_path=log_path):
                t.extra["log"] = log_path
                if check is not None:
                    why = check(rec, t)
                    if why:
                        return why
                if not bucket or tool.id.startswith("rgw_limit"):
                    return None
                got = c.bucket_usage(name)
                want = (rec.sets[tool.set]["files"],
                        rec.sets[tool.set]["bytes"])
                if got is None:
                    return "no stats for bucket %s" % name
                # valise adds its journal objects under .valise/.
                if tool.id.startswith("valise"):
                    ok = got[0] >= want[0] and got[1] >= want[1]
                else:
                    ok = tuple(got) == want
                if not ok:
                    return "bucket holds %d objects, %d bytes; expected " \
                        "%d, %d" % (got + want)
                return None
            argv = argv_of(name)
            # The tools read the cluster's settings from its environment.
            run_tool(rec, tool, argv, log_path, check=checked, env=env)
            if bucket:
                c.purge_bucket(name)
            else:
                c.run(["rados", "-c", c.conf, "-p", DATA_POOL, "cleanup",
                       "--run-name", name], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL)
    c.purge_bucket(limit_bucket)


def limit_check(t, path, count):
    try:
        with open(path) as f:
            doc = json.loads(f.read().strip().splitlines()[-1])
    except (OSError, ValueError, IndexError) as e:
        return "no result in %s: %s" % (path, e)
    t.extra["own_rate"] = doc["bytes"] / doc["seconds"] if doc.get(
        "seconds") else None
    t.extra["requests_per_s"] = doc["requests"] / doc["seconds"] if doc.get(
        "seconds") else None
    t.extra["retries"] = doc.get("retries")
    if doc.get("requests") != count:
        return "%s PUTs of %d" % (doc.get("requests"), count)
    return None


def rados_check(rec, t):
    path = t.extra["log"]
    bw = None
    with open(path) as f:
        for line in f:
            if line.startswith("Bandwidth (MB/sec):"):
                bw = float(line.split(":", 1)[1])
    if bw is None:
        return "no bandwidth in rados bench's output"
    t.extra["own_rate"] = bw * MiB  # rados bench's MB are MiB
    return None


def ratios(rec):
    def best(sid):
        rates = [(rec.rate(p + "_" + sid), p + "_" + sid)
                 for p in ("rclone", "aws", "s3cmd")]
        rates = [x for x in rates if x[0]]
        return max(rates) if rates else (None, None)

    if "valise_large" in rec.tools and "rgw_limit_large" in rec.tools:
        rec.rate_ratio("s3_large_limit", "valise ingest / RGW's limit, large "
                       "files (wall time)", "valise_large", "rgw_limit_large",
                       "s3_large_limit")
    if "valise_large" in rec.tools:
        rate, peer = best("large")
        if peer:
            rec.rate_ratio("s3_large_vs_peers", "valise ingest / the best "
                           "peer (%s), large files" % rec.tools[peer].label,
                           "valise_large", peer, "s3_large_vs_peers")
    if "valise_small" in rec.tools:
        rate, peer = best("small")
        if peer:
            rec.rate_ratio("s3_small_vs_peers", "valise ingest / the best "
                           "peer (%s), small files, files/s" %
                           rec.tools[peer].label, "valise_small", peer,
                           "s3_small_vs_peers")
        if "rgw_limit_small" in rec.tools:
            rec.rate_ratio("s3_small_limit", "valise ingest / RGW's limit, "
                           "small files, files/s", "valise_small",
                           "rgw_limit_small")
    if "rados_limit_large" in rec.tools:
        if "valise_large" in rec.tools:
            rec.rate_ratio("s3_large_rados", "valise ingest / RADOS's limit "
                           "(rados bench), large files", "valise_large",
                           "rados_limit_large")
        if "rgw_limit_large" in rec.tools:
            rec.rate_ratio("s3_rgw_rados", "RGW's limit / RADOS's limit",
                           "rgw_limit_large", "rados_limit_large")
