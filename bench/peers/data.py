"""The data sets the parts measure, written onto the rig's drives.

Contents come from an AES-128-CTR keystream (`openssl enc` over zeros,
keyed by a name): the same bytes on every machine and every run, at GB/s,
incompressible, with no stored files. The real source tree comes from a
Debian source package (linux-source-6.1 by default: ~79,000 files),
installed with apt-get when missing.
"""

import hashlib
import os
import subprocess
import tarfile

from harness import Failure, log

MiB = 1 << 20


class Keystream:
    """Bytes of AES-128-CTR over zeros, keyed by `key` (a string)."""

    def __init__(self, key):
        hexkey = hashlib.md5(key.encode()).hexdigest()
        self.proc = subprocess.Popen(
            ["openssl", "enc", "-aes-128-ctr", "-K", hexkey, "-iv", "0" * 32,
             "-in", "/dev/zero"], stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL)

    def read(self, n):
        out = bytearray()
        while len(out) < n:
            b = self.proc.stdout.read(min(n - len(out), 4 * MiB))
            if not b:
                raise Failure("openssl keystream ended early")
            out += b
        return bytes(out)

    def write_to(self, path, n):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            left = n
            while left:
                b = self.read(min(left, 4 * MiB))
                f.write(b)
                left -= len(b)

    def close(self):
        self.proc.kill()
        self.proc.wait()


def gen_file(path, size, key):
    k = Keystream(key)
    try:
        k.write_to(path, size)
    finally:
        k.close()


def gen_large(directory, drive, total_mb, tag, file_mb=128):
    """Files of `file_mb` MiB (the last one smaller) adding up to total_mb
    MiB; names unique across drives (a path names one content)."""
    left, i = total_mb, 0
    while left > 0:
        mb = min(left, file_mb)
        gen_file(os.path.join(directory, "d%d-big-%03d.bin" % (drive, i)),
                 mb * MiB, "%s:%d:%d" % (tag, drive, i))
        left -= mb
        i += 1


def small_size(i, drive):
    """4096..65536 bytes, from a multiplicative hash of the file's index:
    deterministic, spread over the whole range."""
    return 4096 + ((i * 2654435761 + drive * 40503) % 61441)


def gen_small(directory, drive, n, per_dir=1000):
    """n files of 4-64 KiB in directories of per_dir files."""
    k = Keystream("small:%d" % drive)
    try:
        for i in range(n):
            sub = os.path.join(directory, "d%d-%03d" % (drive, i // per_dir))
            if i % per_dir == 0:
                os.makedirs(sub, exist_ok=True)
            with open(os.path.join(sub, "d%d-s%06d.bin" % (drive, i)),
                      "wb") as f:
                f.write(k.read(small_size(i, drive)))
    finally:
        k.close()


def gen_dup(dirs, total_mb, max_file_mb=32):
    """A multiple of 10 files of equal size (at most max_file_mb MiB, 4 KiB
    aligned), file i on drive i % N, every tenth a copy of the file nine
    before it under another name: 10% of the files and bytes duplicate.
    Returns (files, file_bytes)."""
    if total_mb <= 0:
        return 0, 0
    files = (total_mb + 10 * max_file_mb - 1) // (10 * max_file_mb) * 10
    size = total_mb * MiB // files // 4096 * 4096
    if size < 4096:
        raise Failure("--dup-gb too small")
    for i in range(files):
        key = "dup:%d" % (i - 9 if i % 10 == 9 else i)
        d = i % len(dirs)
        gen_file(os.path.join(dirs[d], "d%d-dup-%04d.bin" % (d + 1, i)),
                 size, key)
    return files, size


# ---------------------------------------------------------------- the tree

DEFAULT_TREE_PACKAGE = "linux-source-6.1"


def package_tarball(package):
    """The source tarball a Debian *-source package installs (installing
    the package with apt-get when it is missing)."""
    def listed():
        r = subprocess.run(["dpkg-query", "-L", package], capture_output=True,
                           text=True)
        if r.returncode != 0:
            return None
        for p in r.stdout.split():
            if ".tar." in os.path.basename(p) and os.path.isfile(p):
                return p
        return None
    path = listed()
    if path is None:
        log("installing %s (the real source tree of the small-file sets)"
            % package)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        r = subprocess.run(["apt-get", "install", "-y", "-q",
                            "--no-install-recommends", package], env=env)
        if r.returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env)
            subprocess.run(["apt-get", "install", "-y", "-q",
                            "--no-install-recommends", package], env=env)
        path = listed()
    if path is None:
        raise Failure("no source tarball in package %s" % package)
    return path


def _safe(rel):
    parts = rel.split("/")
    return rel and not rel.startswith("/") and all(
        p not in ("", ".", "..") for p in parts)


def gen_tree(source, dirs, max_files=0):
    """Copies the regular files of a real source tree (`source`: a tarball
    or a directory) onto the drives, file i (in the tree's order) to drive
    i % N under its own path, with its mode and mtime: every drive holds
    part of the tree, as drives of a shipment do. Symlinks, devices and
    the like are left out (valise skips them; rsync would copy links).
    Stops after max_files files (0: all). Returns the number of files."""
    n = 0

    def put(rel, data, mode, mtime):
        nonlocal n
        path = os.path.join(dirs[n % len(dirs)], rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, mode & 0o7777 | 0o400)
        os.utime(path, (mtime, mtime))
        n += 1

    if os.path.isdir(source):
        for root, subdirs, names in os.walk(source):
            subdirs.sort()
            for name in sorted(names):
                p = os.path.join(root, name)
                if not os.path.isfile(p) or os.path.islink(p):
                    continue
                st = os.stat(p)
                with open(p, "rb") as f:
                    put(os.path.relpath(p, source), f.read(), st.st_mode,
                        st.st_mtime)
                if max_files and n >= max_files:
                    return n
        return n
    with tarfile.open(source, "r|*") as tf:
        for m in tf:
            if not m.isreg() or not _safe(m.name):
                continue
            put(m.name, tf.extractfile(m).read(), m.mode, m.mtime)
            if max_files and n >= max_files:
                break
    return n


def count(directory):
    """(files, bytes) of the regular files under `directory`, valise's own
    DIR/.valise left out."""
    files = nbytes = 0
    for root, subdirs, names in os.walk(directory):
        if root == directory and ".valise" in subdirs:
            subdirs.remove(".valise")
        for name in names:
            st = os.lstat(os.path.join(root, name))
            if (st.st_mode & 0o170000) == 0o100000:
                files += 1
                nbytes += st.st_size
    return files, nbytes
