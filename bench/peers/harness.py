"""The measuring half of scripts/bench-peers: running a tool, timing it,
the statistics, and the record of a run (results/*.json).

Every tool is timed the same way: wall time from just before the command
starts to just after it, and everything it wrote, durable (`sync -f DEST`,
inside the timed region, for every tool that writes, valise included);
CPU time and peak RSS from the kernel's accounting of the command and all
its children (wait4: user, system, max RSS). A tool that reports its own
rate (fio's bandwidth, valise bench's rate) has that rate recorded beside
its wall time, never instead of it.

Standard library only (Debian 12's python3, 3.11).
"""

import datetime
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SCHEMA = "valise-bench-peers/1"
TARGETS = os.path.join(REPO, "bench", "targets.json")


def log(msg):
    print("bench-peers: %s" % msg, file=sys.stderr, flush=True)


class Failure(Exception):
    """Trouble that stops the part (exit 2)."""


# ---------------------------------------------------------------- facts


def load_average():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def machine():
    """CPU model, cores, memory, kernel: what the figures were taken on."""
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "memory_bytes": mem,
        "kernel": platform.release(),
    }


def memory_available():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def tree(valise):
    """The git commit of the repository, whether it has local changes, and
    the valise binary measured (its version line)."""
    def git(*args):
        r = subprocess.run(["git", "-C", REPO] + list(args),
                           capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else None
    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    version = subprocess.run([valise, "--version"], capture_output=True,
                             text=True).stdout.splitlines()
    return {
        "commit": commit,
        "dirty": bool(status) if status is not None else None,
        "valise": valise,
        "valise_version": version[0] if version else None,
        # A binary given by VALISE= may come from another tree: say so.
        "built_from": os.environ.get("VALISE_BENCH_TREE") or (
            commit if os.environ.get("VALISE_BUILT_HERE") == "1" else None),
    }


# ---------------------------------------------------------------- running


def drop_caches():
    """Dirty pages written back, then the page cache, dentries and inodes
    dropped: the next read of a drive comes from the device."""
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


class Timing:
    """One timed run of one tool."""

    def __init__(self):
        self.wall_s = 0.0
        self.user_s = 0.0
        self.sys_s = 0.0
        self.maxrss_kib = 0
        self.exit_code = None
        self.error = None   # why the run does not count, or None
        self.extra = {}     # the tool's own figures (rates, device time)

    @property
    def ok(self):
        return self.error is None

    @property
    def cpu_s(self):
        return self.user_s + self.sys_s

    def to_json(self):
        return {
            "wall_s": round(self.wall_s, 6),
            "cpu_s": round(self.cpu_s, 6),
            "user_s": round(self.user_s, 6),
            "sys_s": round(self.sys_s, 6),
            "maxrss_kib": self.maxrss_kib,
            "exit_code": self.exit_code,
            "ok": self.ok,
            "error": self.error,
            "extra": self.extra,
        }


def _spawn_wait(argv, log_file, cwd, env, timeout):
    """Runs argv to its end; returns (status, rusage). wait4 gives the
    kernel's accounting of the child and of every descendant it waited
    for: a shell running several commands is charged for all of them."""
    p = subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, cwd=cwd, env=env,
                         start_new_session=True)
    killed = []

    def kill():
        killed.append(True)
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    timer = threading.Timer(timeout, kill) if timeout else None
    if timer:
        timer.start()
    try:
        _, status, ru = os.wait4(p.pid, 0)
    except BaseException:
        # Interrupted: the tool goes too (it is in its own session).
        kill()
        os.waitpid(p.pid, 0)
        p.returncode = -9
        raise
    finally:
        if timer:
            timer.cancel()
    p.returncode = os.waitstatus_to_exitcode(status)
    if killed:
        p.returncode = -9
    return p.returncode, ru


def timed(argv, log_path, durable=None, cwd=None, env=None, timeout=3600,
          ok_codes=(0,)):
    """Times argv (a list, or a string run by bash). With `durable` (a
    directory), `sync -f DURABLE` runs after it inside the timed region,
    so a tool that leaves its writes in the page cache pays for them as
    valise does. Returns a Timing; an exit status not in ok_codes is an
    error."""
    if isinstance(argv, str):
        argv = ["bash", "-c", "set -o pipefail; " + argv]
    t = Timing()
    with open(log_path, "ab") as lf:
        lf.write(("$ %s\n" % " ".join(argv)).encode())
        lf.flush()
        start = time.monotonic()
        rc, ru = _spawn_wait(argv, lf, cwd, env, timeout)
        t.user_s, t.sys_s = ru.ru_utime, ru.ru_stime
        t.maxrss_kib = ru.ru_maxrss
        if durable is not None:
            rc2, ru2 = _spawn_wait(["sync", "-f", durable], lf, None, None,
                                   timeout)
            t.user_s += ru2.ru_utime
            t.sys_s += ru2.ru_stime
            if rc2 != 0:
                t.error = "sync -f %s: exit %d" % (durable, rc2)
        t.wall_s = time.monotonic() - start
    t.exit_code = rc
    if rc not in ok_codes:
        t.error = "killed after %d s" % timeout if rc == -9 else "exit %d" % rc
    return t


def tail(path, n=20):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode(errors="replace").splitlines()
        return "\n".join(lines[-n:])
    except OSError:
        return ""


# ---------------------------------------------------------------- stats


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def load_targets(path=TARGETS):
    with open(path) as f:
        data = json.load(f)
    return {t["id"]: t for t in data["figures"]}


def meets(op, threshold, value):
    if value is None:
        return None
    if op == ">=":
        return value >= threshold
    if op == "<=":
        return value <= threshold
    if op == "within":
        return abs(value - 1) <= threshold
    raise ValueError("unknown op %r" % op)


# ---------------------------------------------------------------- the record


class Tool:
    """A tool measured in a part: how to run it and what it does, its runs,
    and what counts (`unit`: "bytes" or "files" of its set; None: the
    tool does not move the set in its time, only its own rate counts)."""

    def __init__(self, tid, label, set_id, unit="bytes", dest=None,
                 own_rate=None):
        self.id = tid
        self.label = label
        self.set = set_id
        self.unit = unit
        self.dest = dest
        # Name of the rate the tool reports itself (an extra), if any.
        self.own_rate = own_rate
        self.runs = []

    def ok_runs(self):
        return [r for r in self.runs if r.ok]

    def failed(self):
        return any(not r.ok for r in self.runs) or not self.runs

    def median(self, field):
        vals = []
        for r in self.ok_runs():
            v = getattr(r, field) if hasattr(r, field) else r.extra.get(field)
            vals.append(v)
        return median(vals)


class Record:
    """One run of one part, written as results/<time>-<part>.json."""

    def __init__(self, part, command, runs, targets):
        self.part = part
        self.command = command
        self.runs = runs
        self.targets = targets
        self.started = datetime.datetime.now(datetime.timezone.utc)
        self.t0 = time.monotonic()
        self.load_before = load_average()
        self.loads = []  # the 1-minute load before each command
        self.sets = {}
        self.tools = {}
        self.ratios = []
        self.rig = {}
        self.notes = []
        self.extra = {}
        self.machine = machine()
        self.tree = None

    def add_set(self, sid, desc, files, nbytes, **more):
        self.sets[sid] = dict(desc=desc, files=files, bytes=nbytes, **more)

    def add_tool(self, tool):
        self.tools[tool.id] = tool
        return tool

    def rate(self, tid):
        """Median units per wall second of tool `tid`, or None."""
        tool = self.tools.get(tid)
        if tool is None or tool.failed() or tool.unit is None:
            return None
        wall = tool.median("wall_s")
        units = self.sets[tool.set]["files" if tool.unit == "files" else
                                    "bytes"]
        return units / wall if wall else None

    def own_rate(self, tid):
        tool = self.tools.get(tid)
        if tool is None or tool.failed() or not tool.own_rate:
            return None
        return tool.median(tool.own_rate)

    def ratio(self, rid, label, value, figure=None, terms=None, ceiling=None,
              note=None):
        """Records a ratio; with `figure` (an id in bench/targets.json) the
        target is applied and whether it is met recorded."""
        r = {"id": rid, "label": label,
             "value": None if value is None else round(value, 4),
             "figure": figure}
        if figure is not None:
            t = self.targets[figure]
            r["op"] = t["op"]
            r["threshold"] = t["threshold"]
            r["met"] = meets(t["op"], t["threshold"], value)
        if terms is not None:
            r["terms"] = terms
        if ceiling is not None:
            r["ceiling"] = round(ceiling, 4)
        if note:
            r["note"] = note
        self.ratios.append(r)
        return r

    def rate_ratio(self, rid, label, num, den, figure=None, ceiling=None):
        a, b = self.rate(num), self.rate(den)
        value = a / b if a is not None and b else None
        return self.ratio(rid, label, value, figure, ceiling=ceiling,
                          terms={"numerator": num, "denominator": den})

    def to_json(self, exit_code):
        tools = []
        for t in self.tools.values():
            tools.append({
                "id": t.id, "label": t.label, "set": t.set, "unit": t.unit,
                "dest": t.dest, "own_rate": t.own_rate,
                "runs": [r.to_json() for r in t.runs],
                "median": {
                    "wall_s": t.median("wall_s"),
                    "cpu_s": t.median("cpu_s"),
                    "maxrss_kib": t.median("maxrss_kib"),
                    "rate": self.rate(t.id),
                    "own_rate": self.own_rate(t.id),
                },
                "failed": t.failed(),
            })
        return {
            "schema": SCHEMA,
            "part": self.part,
            "command": self.command,
            "started": self.started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "seconds": round(time.monotonic() - self.t0, 3),
            "exit_code": exit_code,
            "machine": self.machine,
            "tree": self.tree,
            "load": {
                "before": self.load_before,
                "after": load_average(),
                "max_before_command": max(self.loads) if self.loads else None,
            },
            "runs": self.runs,
            "rig": self.rig,
            "sets": self.sets,
            "tools": tools,
            "ratios": self.ratios,
            "notes": self.notes,
            "extra": self.extra,
        }

    def write(self, results_dir, exit_code):
        os.makedirs(results_dir, exist_ok=True)
        name = "%s-%s.json" % (self.started.strftime("%Y%m%dT%H%M%SZ"),
                               self.part)
        path = os.path.join(results_dir, name)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.to_json(exit_code), f, indent=1)
            f.write("\n")
        os.replace(tmp, path)
        return path


def run_tool(record, tool, argv, log_path, prepare=None, durable=None,
             check=None, timeout=3600, ok_codes=(0,), env=None):
    """One timed run of `tool`: prepare (untimed: empty DEST, drop the
    caches), the command (in `env`, default this process's environment),
    then check its result (untimed). Appends the Timing to the tool and
    returns it."""
    if prepare:
        prepare()
    drop_caches()
    record.loads.append(load_average()[0])
    t = timed(argv, log_path, durable=durable, timeout=timeout,
              ok_codes=ok_codes, env=env)
    if t.ok and check is not None:
        why = check(t)
        if why:
            t.error = "wrong result: %s" % why
    tool.runs.append(t)
    if t.ok:
        log("run %d/%d: %s %.3f s (cpu %.2f s)" % (
            len(tool.runs), record.runs, tool.id, t.wall_s, t.cpu_s))
    else:
        log("run %d/%d: %s FAILED (%s):\n%s" % (
            len(tool.runs), record.runs, tool.id, t.error, tail(log_path)))
    return t
