"""The drives and DESTs of a part, made by scripts/lib/bench_rig.sh (the
bash that makes loop-device drives) and kept while the part runs.

The rig script is a child whose stdin we hold: closing it (or our death,
which closes it too) makes the script exit, and its EXIT trap unmounts and
detaches what it made. So a rig never outlives the harness.
"""

import os
import shutil
import subprocess

from harness import REPO, Failure, log

RIG_SCRIPT = os.path.join(REPO, "scripts", "lib", "bench_rig.sh")


class Drive:
    def __init__(self, name, mnt, dev, where, dio, fs="ext4"):
        self.name = name
        self.mnt = mnt
        self.dev = dev
        self.where = where
        self.dio = dio
        self.fs = fs

    def describe(self):
        return {"name": self.name, "mount": self.mnt, "device": self.dev,
                "where": self.where, "fs": self.fs, "loop_direct_io": self.dio}


class Rig:
    """with Rig(drives=4, drives_on="shm", drive_mb=..., dests=[...]) as r:
    r.drives (Drive, in order), r.dests (name -> Drive), r.work (scratch
    directory, removed with the rig), r.disk_source (the disk's device)."""

    def __init__(self, prefix, drives, drives_on, drive_mb, dests=()):
        self.args = [RIG_SCRIPT, "--prefix", prefix, "--drives", str(drives),
                     "--drives-on", drives_on, "--drive-mb", str(drive_mb)]
        for name, where, fs, mb in dests:
            self.args += ["--dest", "%s:%s:%s:%d" % (name, where, fs, mb)]
        self.proc = None
        self.drives = []
        self.dests = {}
        self.work = None
        self.disk_dir = None
        self.disk_source = None
        self.disk_fstype = None

    def __enter__(self):
        log("making the rig: %s" % " ".join(self.args[1:]))
        self.proc = subprocess.Popen(self.args, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        for line in self.proc.stdout:
            f = line.split()
            if not f:
                continue
            if f[0] == "ready":
                return self
            if f[0] == "work":
                self.work = f[1]
            elif f[0] == "disk":
                self.disk_dir, self.disk_source, self.disk_fstype = f[1:4]
            elif f[0] == "drive":
                self.drives.append(Drive(f[1], f[2], f[3], f[4], f[5]))
            elif f[0] == "dest":
                self.dests[f[1]] = Drive(f[1], f[2], f[3], f[4], f[6], f[5])
        self.close()
        raise Failure("the rig could not be made (scripts/lib/bench_rig.sh "
                      "exited %s)" % self.proc.returncode)

    def close(self):
        if self.proc is None:
            return
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        self.proc.wait()
        self.proc = None

    def __exit__(self, *exc):
        os.chdir("/")
        self.close()
        return False

    def describe(self):
        return {
            "drives": [d.describe() for d in self.drives],
            "dests": {k: v.describe() for k, v in self.dests.items()},
            "disk": {"source": self.disk_source, "fstype": self.disk_fstype},
        }


def diskstat(dev, column):
    """Column `column` (0-based, after the device's major, minor and name:
    3 + the kernel's field number - 1) of /proc/diskstats for the block
    device `dev` (/dev/loopN), or None if it is not listed."""
    name = os.path.basename(dev)
    with open("/proc/diskstats") as f:
        for line in f:
            p = line.split()
            if len(p) > column and p[2] == name:
                return int(p[column])
    return None


THROTTLE_DIR = "/sys/fs/cgroup/blkio"


class Throttle:
    """With `bps` > 0, each of `devs` (our loop devices) reads (or, with
    what="write", writes) at most bps bytes per second while in the block
    (cgroup v1 blkio throttle of the root group, as the e2e tests slow a
    drive; writes written back from the page cache are throttled too, the
    flusher being in that group): a memory-backed drive made to move data
    at a disk's pace. The limits are lifted on leaving, whatever
    happened."""

    def __init__(self, devs, bps, what="read"):
        self.devs = list(devs) if bps > 0 else []
        self.bps = bps
        self.path = os.path.join(THROTTLE_DIR,
                                 "blkio.throttle.%s_bps_device" % what)

    def _set(self, bps):
        for dev in self.devs:
            st = os.stat(dev)
            with open(self.path, "w") as f:
                f.write("%d:%d %d\n" % (os.major(st.st_rdev),
                                        os.minor(st.st_rdev), bps))

    def __enter__(self):
        if self.devs and not os.access(self.path, os.W_OK):
            raise RuntimeError("cannot throttle: no cgroup v1 blkio "
                               "throttle (%s)" % self.path)
        self._set(self.bps)
        return self

    def __exit__(self, *exc):
        self._set(0)


def busy_ms(dev):
    """Milliseconds the block device `dev` (/dev/loopN) has been busy
    (io_ticks, field 13 of /proc/diskstats)."""
    return diskstat(dev, 12)


def empty_dest(dest, out):
    """Removes `out` under the DEST mount, then makes it again, empty. A
    DEST on the disk gives the freed blocks back to its image (fstrim
    punches holes in it), so that every command writes where the disk
    must allocate. A DEST in /dev/shm keeps them: its image's memory was
    all allocated when the rig was made (scripts/lib/bench_rig.sh), and a
    trim would give it back, so that the next command paid for the
    machine allocating memory again (docs/bench.md)."""
    if os.path.lexists(out):
        shutil.rmtree(out)
    if dest.where != "shm":
        subprocess.run(["fstrim", dest.mnt], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    os.mkdir(out)
