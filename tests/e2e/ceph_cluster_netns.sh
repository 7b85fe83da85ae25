#!/usr/bin/env bash
# Goal: a test cluster started with --addr on a bridge's address serves
# hosts that are network namespaces, as the multi-host tests need:
#   - from inside a namespace (a veth on the bridge), S3 reaches RGW at
#     the AWS_ENDPOINT_URL of s3.env;
#   - `ceph_cluster.sh mount` run under `nsenter --net` mounts CephFS
#     through the namespace's network (its ceph-fuse has no socket in the
#     host's namespace), and the mount is visible outside it;
#   - a mount asked from the namespace before CephFS exists is refused
#     (exit 2; the MDS must bind in the cluster's namespace);
#   - stop leaves no daemon, no mount and no directory.
# Its own cluster (not the fixture's, which is on 127.0.0.1): ~20 s, plus
# ~7 s for CephFS.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/s3_lib.sh"
need_ceph_tools

CLUSTER="$E2E_REPO/tests/support/ceph_cluster.sh"
tag=vc$$
NS=${tag}ns
make_bridge "${tag}br"
add_host "$NS" "${tag}h" 2
log "bridge $BR at $net.1, namespace $NS at $net.2"

C="$VALISE_WORK/cluster"
valise_on_cleanup "ceph_cluster_stop '$C'"
expect_exit 0 "$CLUSTER" start "$C" --addr "$net.1"
# shellcheck disable=SC1091
source "$C/s3.env"
assert_eq "http://$net.1:" "${AWS_ENDPOINT_URL%:*}:" "the endpoint's host"

new_bucket ns
gen_file "$VALISE_WORK/obj.bin" 70000 obj
expect_exit 0 nsenter --net="/run/netns/$NS" curl -sS --max-time 30 \
  --aws-sigv4 "aws:amz:$AWS_REGION:s3" \
  --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
  -H "x-amz-content-sha256: $(sha256_hex "$VALISE_WORK/obj.bin")" \
  --upload-file "$VALISE_WORK/obj.bin" -w 'HTTP %{http_code}\n' \
  "$AWS_ENDPOINT_URL/${BUCKET[ns]}/obj"
assert_contains "$LAST_OUT" "HTTP 200"
s3_get "${BUCKET[ns]}/obj" "$VALISE_WORK/obj.back"
cmp "$VALISE_WORK/obj.bin" "$VALISE_WORK/obj.back" || fail "object differs"
log "S3 from the namespace reached RGW on $AWS_ENDPOINT_URL"

M="$VALISE_WORK/mnt"
expect_exit 2 nsenter --net="/run/netns/$NS" "$CLUSTER" mount "$C" "$M"
assert_contains "$LAST_ERR" "from the cluster's network namespace"
expect_exit 0 "$CLUSTER" cephfs "$C"
expect_exit 0 nsenter --net="/run/netns/$NS" "$CLUSTER" mount "$C" "$M"
findmnt -n --mountpoint "$M" >/dev/null || fail "$M not mounted here"
fuse=$(awk -v m="$M" '$1 == m {print $2}' "$C/mounts")
[[ "$(readlink "/proc/$fuse/ns/net")" == \
  "$(nsenter --net="/run/netns/$NS" readlink /proc/self/ns/net)" ]] ||
  fail "ceph-fuse $fuse is not in the namespace's network"
gen_file "$M/file" 12345 file
gen_file "$VALISE_WORK/file" 12345 file
cmp "$VALISE_WORK/file" "$M/file" || fail "CephFS file differs"
log "CephFS mounted through the namespace (ceph-fuse $fuse), visible here"

expect_exit 0 "$CLUSTER" stop "$C"
[[ ! -e "$C" ]] || fail "$C left behind"
if findmnt -n --mountpoint "$M" >/dev/null; then fail "$M still mounted"; fi
# Gone or a zombie: ceph-fuse daemonizes, and where PID 1 does not reap
# (a CI container's shell) its exit leaves a zombie, which holds nothing.
state=$(ps -o stat= -p "$fuse" 2>/dev/null || true)
if [[ -n "$state" && "$state" != Z* ]]; then
  fail "ceph-fuse $fuse alive (state $state)"
fi
log "PASS"
