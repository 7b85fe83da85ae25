#!/usr/bin/env bash
# private_mounts.sh CMD [ARG...]: runs CMD in a mount namespace of its own
# (unshare -m, propagation private), exec'd all the way, so its PID is this
# script's. Before CMD, every mount of another test's scratch directory
# (${TMPDIR:-/tmp}/valise-*, other than $VALISE_WORK) is detached in the
# new namespace. A namespace starts with a copy of every mount: one that
# kept another test's loop file system after that test unmounted it held
# the file system alive (e2fsck found the device in use; mounted again
# after a power cut, the old, shut-down file system came back without its
# log replayed, and a committed file looked lost).
set -eu
exec unshare -m --propagation private bash -c '
  own=$1
  shift
  findmnt -rn -o TARGET |
    awk -v pre="${TMPDIR:-/tmp}/valise-" -v own="$own/" \
      "index(\$0, pre) == 1 && index(\$0 \"/\", own) != 1" |
    sort -r |
    while read -r target; do umount -l "$target" 2>/dev/null || true; done
  exec "$@"' private_mounts "${VALISE_WORK:-/nonexistent}" "$@"
