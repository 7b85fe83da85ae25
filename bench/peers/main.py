"""scripts/bench-peers: valise side by side with its peers and its limits,
in one run, as ratios against the figures of bench/targets.json.

Started by scripts/bench-peers (which checks the Debian packages and
builds valise and bench/metadata_limit first); see `scripts/bench-peers
--help` for the subcommands and docs/bench.md for what each measures.

Each part writes results/<UTC time>-<part>.json (--results DIR; default
bench/results/) with the machine, the tree, the load, every timing of
every run of every tool, the medians, every ratio, and each figure's
target and whether it was met; then renders docs/benchmarks.md (--doc
FILE; --no-docs: none) from the newest result of every part. Exit status:
0 every tool ran and its result checked out; 1 a tool failed (its row
says how); 2 the part could not run.
"""

import argparse
import os
import shlex
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import part_chunkdedup  # noqa: E402
import part_ingest  # noqa: E402
import part_memory  # noqa: E402
import part_pack  # noqa: E402
import part_s3  # noqa: E402
import part_verify  # noqa: E402
import render  # noqa: E402
from harness import (REPO, TARGETS, Failure, load_targets, log,  # noqa: E402
                     memory_available, tree)

PARTS = {"verify": part_verify, "ingest": part_ingest, "memory": part_memory,
         "s3": part_s3, "pack": part_pack, "chunkdedup": part_chunkdedup}


class Context:
    def __init__(self, args, command):
        self.command = command
        self.targets = load_targets(args.targets)
        # Absolute: the parts run tools from other directories.
        self.valise = os.path.abspath(os.environ.get("VALISE") or os.path.join(
            REPO, "build-release", "valise"))
        self.metadata_limit = os.path.abspath(
            os.environ.get("VALISE_METADATA_LIMIT") or
            os.path.join(os.path.dirname(self.valise), "bench",
                         "metadata_limit"))

    def check_call(self, argv, **kw):
        r = subprocess.run(argv, **kw)
        if r.returncode != 0:
            raise Failure("%s: exit %d" % (" ".join(argv), r.returncode))

    def call(self, argv, **kw):
        return subprocess.run(argv, **kw).returncode

    def die(self, msg):
        raise Failure(msg)


def common(p, runs=3):
    p.add_argument("--runs", type=int, default=runs,
                   help="runs of every tool (default %d)" % runs)
    p.add_argument("--results", default=os.path.join(REPO, "bench",
                                                     "results"))
    p.add_argument("--doc", default=os.path.join(REPO, "docs",
                                                 "benchmarks.md"))
    p.add_argument("--no-docs", action="store_true")
    p.add_argument("--targets", default=TARGETS)


def parser():
    p = argparse.ArgumentParser(prog="scripts/bench-peers")
    sub = p.add_subparsers(dest="sub", required=True)
    for name, mod in PARTS.items():
        sp = sub.add_parser(name, help=mod.__doc__.splitlines()[0])
        common(sp, runs=1 if name == "memory" else 3)
        mod.add_arguments(sp)
    a = sub.add_parser("all", help="verify (drives in memory), verify "
                       "--drives-on disk --size-gb 0.25, ingest, memory, "
                       "then render")
    common(a)
    a.add_argument("--design", default=os.path.join(REPO, "docs",
                                                    "design.md"))
    for name in ("render", "summary"):
        r = sub.add_parser(name, help="render docs/benchmarks.md from the "
                           "results and docs/design.md's figures from "
                           "bench/targets.json")
        r.add_argument("--results", default=os.path.join(REPO, "bench",
                                                         "results"))
        r.add_argument("--doc", default=os.path.join(REPO, "docs",
                                                     "benchmarks.md"))
        r.add_argument("--design", default=os.path.join(REPO, "docs",
                                                        "design.md"))
        r.add_argument("--targets", default=TARGETS)
    c = sub.add_parser("check-figures", help="exit 1 unless docs/design.md's "
                       "figures table is bench/targets.json's")
    c.add_argument("--design", default=os.path.join(REPO, "docs",
                                                    "design.md"))
    c.add_argument("--targets", default=TARGETS)
    return p


def run_part(name, args, command):
    ctx = Context(args, command)
    for path in (ctx.valise,) + ((ctx.metadata_limit,) if name == "ingest"
                                 else ()):
        if not os.access(path, os.X_OK):
            raise Failure("%s is not an executable (set VALISE, or run "
                          "through scripts/bench-peers, which builds it)"
                          % path)
    if os.getuid() != 0:
        raise Failure("needs root (loop devices, mount, drop_caches)")
    load = os.getloadavg()[0]
    if load > (os.cpu_count() or 1) / 2:
        log("warning: load average %.2f on %d cores: other work will skew "
            "the figures" % (load, os.cpu_count()))
    log("%s: %.1f GiB of memory available" % (name, memory_available() /
                                              (1 << 30)))
    rec = PARTS[name].run(args, ctx)
    rec.tree = tree(ctx.valise)
    failed = [t.id for t in rec.tools.values() if t.failed()]
    rc = 1 if failed else 0
    path = rec.write(args.results, rc)
    log("%s: wrote %s%s" % (name, path, "; failed: " + ", ".join(failed)
                            if failed else ""))
    if not args.no_docs:
        render.render_benchmarks(args.results, args.doc, ctx.targets)
        log("rendered %s" % args.doc)
    return rc


def _interrupted(signum, frame):
    raise KeyboardInterrupt()


def main(argv):
    # SIGTERM (and SIGINT, also where a background start ignored it) stops
    # a part the way Ctrl-C does: its rig or cluster is taken down.
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGINT, _interrupted)
    args = parser().parse_args(argv)
    command = "scripts/bench-peers " + " ".join(shlex.quote(a) for a in argv)
    try:
        if args.sub in PARTS:
            return run_part(args.sub, args, command)
        if args.sub in ("render", "summary"):
            render.main_render(args)
            log("rendered %s and the figures of %s" % (args.doc, args.design))
            return 0
        if args.sub == "check-figures":
            ok = render.design_is_current(args.design,
                                          load_targets(args.targets))
            if not ok:
                log("%s: its figures table is not bench/targets.json's; run "
                    "`scripts/bench-peers render`" % args.design)
            return 0 if ok else 1
        # all: each part at its defaults (--runs, --results, --doc passed
        # on), then render; the worst exit status.
        start = time.monotonic()
        rc = 0
        passed = ["--results", args.results, "--doc", args.doc,
                  "--targets", args.targets]
        if args.no_docs:
            passed.append("--no-docs")
        for part_argv in (["verify"], ["verify", "--drives-on", "disk",
                                       "--size-gb", "0.25"], ["ingest"],
                          ["memory"]):
            # --runs for the timed parts; memory runs once (peak RSS does
            # not depend on the machine's load).
            pa = part_argv + passed + (["--runs", str(args.runs)]
                                       if part_argv[0] != "memory" else [])
            sub_args = parser().parse_args(pa)
            try:
                r = run_part(pa[0], sub_args, "scripts/bench-peers " +
                             " ".join(pa))
            except Failure as e:
                log("error: %s" % e)
                r = 2
            rc = max(rc, r)
            log("all: %s done at %.0f s (exit %d)" % (
                " ".join(part_argv), time.monotonic() - start, r))
        if not args.no_docs:
            render.render_benchmarks(args.results, args.doc,
                                     load_targets(args.targets))
            render.render_design(args.design, load_targets(args.targets))
        log("all: %.0f s, exit %d" % (time.monotonic() - start, rc))
        return rc
    except Failure as e:
        log("error: %s" % e)
        return 2
    except KeyboardInterrupt:
        log("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
