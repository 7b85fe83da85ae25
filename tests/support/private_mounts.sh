#!/usr/bin/env bash
# private_mounts.sh CMD [ARG...]: runs CMD in a mount namespace of its own
# (unshare -m, propagation private), exec'd all the way, so its PID is this
# script's. Before CMD, every mount under a test's scratch directory
# (${TMPDIR:-/tmp}/valise-*) is detached in the new namespace, the
# caller's own included: none of the callers needs one there, and a
# namespace starts with a copy of every mount. A copy kept a loop file
# system alive after its test unmounted it (e2fsck found the device in
# use; mounted again after a power cut, the old, shut-down file system
# came back without its log replayed, and a committed file looked lost),
# and a copy of the caller's own drive would do the same to the caller.
set -eu
# shellcheck disable=SC2016  # expanded by the inner bash, not here
exec unshare -m --propagation private bash -c '
  findmnt -rn -o TARGET |
    awk -v pre="${TMPDIR:-/tmp}/valise-" "index(\$0, pre) == 1" |
    sort -r |
    while read -r target; do umount -l "$target" 2>/dev/null || true; done
  exec "$@"' private_mounts "$@"
