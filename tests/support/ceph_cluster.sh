#!/usr/bin/env bash
# Runs a real single-host Ceph cluster for the tests (and by hand): one
# monitor, one BlueStore OSD on a sparse file, one RGW with an S3 user,
# optionally CephFS through ceph-fuse. No mgr, no systemd, cephx on; every
# file in DIR, every daemon recorded by PID. Needs root and Debian's
# ceph-mon, ceph-osd, radosgw, ceph-common (and ceph-mds, ceph-fuse for
# --cephfs): see scripts/lib/deps.sh.
#
#   ceph_cluster.sh start DIR [--addr IP] [--cephfs MNT] [--osd-size SIZE]
#       DIR must not exist or be empty. Daemons bind to IP (default
#       127.0.0.1) on ports found free now; the OSD's sparse file is SIZE
#       (default 32G). --cephfs MNT adds an MDS, the file system "cephfs"
#       and a ceph-fuse mount on MNT. Prints where the S3 environment is.
#   ceph_cluster.sh stop DIR       unmounts, stops every daemon of DIR by
#                                  its PID, removes DIR (a missing DIR is
#                                  fine: stop is idempotent)
#   ceph_cluster.sh restart DIR [START OPTIONS]   stop, then start (the
#                                  ctest fixture: a cluster a killed run
#                                  left in DIR is cleared first)
#   ceph_cluster.sh env DIR        prints DIR/s3.env (source it:
#                                  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
#                                  AWS_ENDPOINT_URL, AWS_REGION, CEPH_CONF,
#                                  S3CMD_CONFIG, RCLONE_CONFIG ...)
#   ceph_cluster.sh cephfs DIR     adds CephFS (MDS, file system
#                                  "cephfs") to a running cluster
#   ceph_cluster.sh mount DIR MNT  a ceph-fuse mount on MNT (adds CephFS
#                                  first if need be); `nsenter --net=...`
#                                  it to mount through a network namespace
#   ceph_cluster.sh umount DIR MNT
#   ceph_cluster.sh status DIR     exit 0 if every daemon of DIR is alive
#
#   ceph_cluster.sh rgw-kill DIR   KILLs RGW (as a crash would)
#   ceph_cluster.sh rgw-start DIR  starts RGW again on its port
#
# Exit status: 0 done; 1 the cluster failed (logs printed); 2 usage error;
# 77 not root, or a Ceph package missing (nothing done; ctest counts it as
# skipped).
set -euo pipefail
# shellcheck source=ceph_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/ceph_lib.sh"

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

cmd=${1:-}
if (($# < 2)); then
  usage >&2
  exit 2
fi
shift
if [[ $(id -u) -ne 0 && "$cmd" != env ]]; then
  echo "ceph_cluster: SKIP: needs root (daemons, FUSE mounts); nothing" \
    "started" >&2
  exit 77
fi
if [[ "$cmd" == start || "$cmd" == restart ]]; then
  missing=$(ceph_cluster_missing_tools)
  if [[ -n "$missing" ]]; then
    echo "ceph_cluster: SKIP: not installed: $missing (VALISE_CEPH_DEPS in" \
      "scripts/lib/deps.sh); nothing started" >&2
    exit 77
  fi
fi
case $cmd in
  start) ceph_cluster_start "$@" ;;
  stop) ceph_cluster_stop "$1" ;;
  restart)
    ceph_cluster_stop "$1"
    ceph_cluster_start "$@"
    ;;
  env) cat "$(ceph_cluster_env "$1")" ;;
  cephfs) ceph_cluster_cephfs "$1" ;;
  mount) ceph_cluster_mount "$1" "${2:?mount needs DIR and MNT}" ;;
  umount) ceph_cluster_umount "$1" "${2:?umount needs DIR and MNT}" ;;
  status) ceph_cluster_running "$1" ;;
  rgw-kill) ceph_cluster_rgw_kill "$1" ;;
  rgw-start) ceph_cluster_rgw_start "$1" ;;
  -h | --help) usage ;;
  *)
    usage >&2
    exit 2
    ;;
esac
