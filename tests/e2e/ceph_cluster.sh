#!/usr/bin/env bash
# Goal: the test cluster's harness (tests/support/ceph_lib.sh) does what
# the tests after it count on, and CephFS through ceph-fuse behaves as
# docs/s3.md says:
#   - CephFS added to a running cluster, mounted twice with ceph-fuse: a
#     file written through one mount reads the same through the other;
#   - link(2) onto a name the other mount made fails with EEXIST and keeps
#     that file; onto a new name it succeeds;
#   - renameat2 RENAME_NOREPLACE onto a name the other mount made fails
#     with EEXIST; onto an absent name it fails with EINVAL: ceph-fuse
#     (libfuse 2) has no rename with flags, so it cannot commit a file
#     without replacing (if this ever succeeds, update docs/s3.md);
#   - umount of one mount ends its ceph-fuse and leaves the other working;
#   - RGW killed (as in a crash) stops answering; started again, it answers
#     on the same endpoint with the objects it had;
#   - stop kills only the processes it recorded whose arguments name its
#     own ceph.conf (not a PID reused by another process, nor another
#     cluster's whose path ends the same), removes the directory, and is
#     idempotent; stop and start refuse a directory that is not theirs.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/s3_lib.sh"
need_ceph

MiB=1048576
W=$VALISE_WORK

# ---- CephFS through two ceph-fuse mounts -----------------------------------
cephfs_mount one
cephfs_mount two
A=${CEPHFS[one]}/$TEST_NAME-$$
B=${CEPHFS[two]}/$TEST_NAME-$$
mkdir "$A"
gen_file "$A/big.bin" $((3 * MiB + 7)) big
gen_file "$W/big.bin" $((3 * MiB + 7)) big
cmp "$W/big.bin" "$B/big.bin" || fail "the other mount reads other bytes"

# renameat2(AT_FDCWD, SRC, AT_FDCWD, DST, RENAME_NOREPLACE): prints
# "ok" or the errno's name.
rename_noreplace() {
  python3 - "$1" "$2" <<'EOF'
import ctypes, errno, sys
libc = ctypes.CDLL(None, use_errno=True)
r = libc.renameat2(-100, sys.argv[1].encode(), -100, sys.argv[2].encode(), 1)
print("ok" if r == 0 else errno.errorcode[ctypes.get_errno()])
EOF
}

echo "made on two" >"$B/theirs"
gen_file "$A/mine" 100 mine
expect_exit 1 ln "$A/mine" "$A/theirs"
assert_contains "$LAST_ERR" "File exists"
assert_eq "made on two" "$(cat "$A/theirs")" "the other mount's file"
expect_exit 0 ln "$A/mine" "$A/linked"
cmp "$A/mine" "$B/linked" || fail "link: other bytes through the other mount"
log "link(2): EEXIST onto the other mount's name, a new name works"

assert_eq EEXIST "$(rename_noreplace "$A/mine" "$A/theirs")" \
  "RENAME_NOREPLACE onto the other mount's name"
got=$(rename_noreplace "$A/mine" "$A/absent")
if [[ "$got" == ok ]]; then
  fail "ceph-fuse now honours RENAME_NOREPLACE onto an absent name:" \
    "docs/s3.md says it refuses it (EINVAL)"
fi
assert_eq EINVAL "$got" "RENAME_NOREPLACE onto an absent name"
[[ -e "$A/mine" && ! -e "$A/absent" ]] || fail "the refused rename moved it"
log "renameat2 RENAME_NOREPLACE: EEXIST onto a name, EINVAL otherwise"

fuse_two=$(awk -v m="${CEPHFS[two]}" '$1 == m {print $2}' \
  "$VALISE_CEPH_DIR/mounts")
[[ -n "$fuse_two" ]] || fail "no ceph-fuse recorded for ${CEPHFS[two]}"
ceph_cluster_umount "$VALISE_CEPH_DIR" "${CEPHFS[two]}"
if findmnt -n --mountpoint "${CEPHFS[two]}" >/dev/null; then
  fail "${CEPHFS[two]} still mounted"
fi
if running "$fuse_two"; then fail "ceph-fuse $fuse_two alive"; fi
cmp "$W/big.bin" "$A/big.bin" || fail "mount one broken by the umount"
rm -r "$A"
log "umount: mount and ceph-fuse gone, the other mount unharmed"

# ---- RGW killed and started again ------------------------------------------
new_bucket rgw
gen_file "$W/obj.bin" 5000 obj
expect_s3 0 s3_curl PUT "${BUCKET[rgw]}/obj" --upload-file "$W/obj.bin"
assert_contains "$LAST_OUT" "HTTP 200"
ceph_cluster_rgw_kill "$VALISE_CEPH_DIR"
if curl -s -o /dev/null --max-time 5 "$AWS_ENDPOINT_URL/"; then
  fail "RGW still answers after rgw-kill"
fi
ceph_cluster_rgw_start "$VALISE_CEPH_DIR" || fail "RGW did not start again"
s3_get "${BUCKET[rgw]}/obj" "$W/obj.back"
cmp "$W/obj.bin" "$W/obj.back" || fail "the object changed across the restart"
ceph_cluster_running "$VALISE_CEPH_DIR" || fail "a daemon is missing"
log "RGW killed, then up again on $AWS_ENDPOINT_URL with its objects"

# ---- stop's safety, on a cluster directory with stand-in daemons -----------
F="$W/fake"
mkdir -p "$F/log"
touch "$F/.valise-ceph" "$F/pids" "$F/mounts" "$F/state" "$F/ceph.conf"
# Another cluster whose directory ends like this one's.
mkdir -p "$W/other$F"
touch "$W/other$F/ceph.conf"
_ceph_spawn "$F" daemon tail -f "$F/ceph.conf"
ours=$(_ceph_pid_of "$F" daemon)
tail -f "$W/other$F/ceph.conf" </dev/null >/dev/null 2>&1 &
theirs=$!
sleep 1000 >/dev/null 2>&1 &
reused=$!
valise_on_cleanup "kill $theirs $reused"
printf 'other %s\nreused %s\n' "$theirs" "$reused" >>"$F/pids"
ceph_cluster_stop "$F" || fail "stop of $F failed"
[[ ! -e "$F" ]] || fail "$F left behind"
if running "$ours"; then fail "stop left pid $ours alive"; fi
kill -0 "$theirs" || fail "stop killed another cluster's process"
kill -0 "$reused" || fail "stop killed a process that was not its own"
ceph_cluster_stop "$F" || fail "a second stop failed"
log "stop: its own process killed, the others alive; idempotent"

mkdir -p "$W/notours"
echo keep >"$W/notours/file"
expect_exit 2 "$E2E_REPO/tests/support/ceph_cluster.sh" stop "$W/notours"
assert_contains "$LAST_ERR" "not a cluster directory"
expect_exit 2 "$E2E_REPO/tests/support/ceph_cluster.sh" start "$W/notours"
assert_contains "$LAST_ERR" "is not empty"
assert_eq keep "$(cat "$W/notours/file")" "a directory not the cluster's"
log "PASS"
