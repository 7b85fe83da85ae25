#!/usr/bin/env bash
# Goal (issue 17): three ingest hosts, one shipment, one directory DEST on
# a shared file system: CephFS through ceph-fuse, one mount per host, each
# ceph-fuse in its host's network namespace (nsenter --net), the cluster
# (no RGW: ceph_cluster.sh --no-rgw) on a bridge's address. Each valise
# runs in its host's namespace with --host. Six labelled ext4 drives
# (loop devices); common/s1.bin is on ship-01 (at hA) and ship-02 (at hB).
# Every check after each step:
#   1. hB ingests ship-02 (read slowly: a throttled device) while hA
#      ingests ship-01 and commits common/s1.bin: hB does not read its
#      copy when its turn comes (it read hA's journal). A second run on hB
#      meanwhile is refused (exit 2, hB's lock). Status: hA and hB ended,
#      ship-03..06 to bring.
#   2. hB ingests ship-03 and is killed (kill -9) with a file staged:
#      status says hB's run did not end and ship-03 is still needed.
#   3. ship-03 moves to hC, which ingests it with ship-04..06 and finishes
#      (exit 0), leaving hB's young staged file alone. Status: complete,
#      ship-03 done on hC.
#   4. A run on hA with --stale-upload-age 1s removes hB's stale staged
#      file: nothing is left in any host's staging.
#   5. `valise verify -m M DEST` passes; DEST holds each file once, equal
#      to its sources; hB's journal never names common/s1.bin.
# Its own cluster, without RGW: 20 s here at load 4-5 (8 s of it the
# cluster, CephFS and the mounts; 4 s the throttled drive; 2 s the stop).
source "$(dirname "$0")/ingest_lib.sh"
source "$(dirname "$0")/s3_lib.sh"
need_root
need_ceph_tools

W=$VALISE_WORK
CLUSTER="$E2E_REPO/tests/support/ceph_cluster.sh"
tag=vf$$
make_bridge "${tag}br"

# The cluster and CephFS start (on the bridge's address) while the drives
# are made. Its stop unmounts every ceph-fuse mount it recorded.
C="$W/cluster"
valise_on_cleanup "ceph_cluster_stop '$C'"
start_bg CEPH sh -c "'$CLUSTER' start '$C' --addr '$net.1' --no-rgw &&
  '$CLUSTER' cephfs '$C'"

n=2
for h in hA hB hC; do
  add_host "$tag$h" "$tag${h}v" "$n"
  n=$((n + 1))
done
log "bridge $BR at $net.1; hosts hA, hB, hC at $net.2-4"

MiB=1048576
make_drive d1 32 ext4
make_drive d2 32 ext4
make_drive d3 32 ext4
make_drive d4 32 ext4
make_drive d5 32 ext4
make_drive d6 32 ext4
gen_file "${MNT[d1]}/a/one.bin" $((3 * MiB)) a1
gen_file "${MNT[d1]}/a/two.bin" 30000 a2
gen_file "${MNT[d1]}/common/s1.bin" 200000 s1
gen_file "${MNT[d2]}/b/big.bin" $((12 * MiB)) b1
gen_file "${MNT[d2]}/common/s1.bin" 200000 s1
gen_file "${MNT[d3]}/c/three.bin" $((12 * MiB)) c3
for d in d4 d5 d6; do gen_file "${MNT[$d]}/$d/x.bin" 70000 "$d"; done
ALL=("${MNT[d1]}" "${MNT[d2]}" "${MNT[d3]}" "${MNT[d4]}" "${MNT[d5]}"
  "${MNT[d6]}")
find "${ALL[@]}" -path '*/lost+found' -prune -o \
  -exec touch -h -d "@$E2E_MTIME" {} +
sync
M="$W/ship.vm"
expect_exit 0 "$VALISE" manifest \
  --label ship-01,ship-02,ship-03,ship-04,ship-05,ship-06 --no-progress \
  "${ALL[@]}" -o "$M"

wait_bg "$CEPH"
[[ "$BG_RC" == 0 ]] || { ingest_dump "$CEPH"; fail "the cluster did not start"; }
# A ceph-fuse mount per host, through the host's network; visible here.
# Unmounted before the namespaces go (the cleanup runs last first): a
# ceph-fuse cut from its network would hang its unmount.
for h in hA hB hC; do
  valise_on_cleanup "ceph_cluster_umount '$C' '$W/mnt-$h'"
  expect_exit 0 nsenter --net="/run/netns/$tag$h" "$CLUSTER" mount "$C" \
    "$W/mnt-$h"
done
DEST_hA="$W/mnt-hA/ship"
DEST_hB="$W/mnt-hB/ship"
DEST_hC="$W/mnt-hC/ship"
DEST=$DEST_hA # where this script looks
log "CephFS mounted for hA, hB and hC ($(awk '{print $2}' "$C/mounts" | xargs));" \
  "statfs: $(stat -f -c '%a blocks of %S free' "$W/mnt-hA")"

# The test cluster has no mgr, so ceph-fuse's statfs says 0 bytes free
# (no pool statistics): every ingest runs with --no-space-check.
# "${ON_hA[@]}" CMD...: CMD in host hA's network namespace; nsenter execs
# it, so a PID is valise's. nsenter --net, not `ip netns exec`: that one
# also makes a mount namespace, a copy of every mount there is, which
# keeps the loop-device file systems of the tests running beside this one
# mounted while CMD runs (their e2fsck found the device in use, their
# power cut's remount found the old, shut down, file system).
for h in hA hB hC; do
  declare -a "ON_$h=(nsenter --net=/run/netns/$tag$h)"
done
status_is() {
  expect_exit "$1" "$VALISE" status -m "$M" "$DEST"
  cp "$LAST_OUT" "$W/status.txt"
}
# Files in host $1's staging (any; with $2: those so named).
staged_of() {
  find "$DEST/.valise/hosts/$1/staging" -type f -name "${2:-*}" 2>/dev/null |
    wc -l
}

log "1. hB reads ship-02 slowly while hA ingests ship-01"
throttle_reads "${DEV[d2]}" $((4 * MiB))
start_bg HB "${ON_hB[@]}" "$VALISE" ingest -m "$M" -d "$DEST_hB" --host hB \
  --no-progress --no-space-check --depth 1 --report "$W/hb1.json" "${MNT[d2]}"
for ((i = 0; i < 200; i++)); do
  [[ -s "$DEST/.valise/hosts/hB/journal" ]] && break
  sleep 0.1
done
expect_exit 2 "${ON_hB[@]}" "$VALISE" ingest -m "$M" -d "$DEST_hB" --host hB \
  --no-progress --no-space-check "${MNT[d3]}"
assert_contains "$LAST_ERR" "DEST is locked by another valise"
expect_exit 1 "${ON_hA[@]}" "$VALISE" ingest -m "$M" -d "$DEST_hA" --host hA \
  --no-progress --no-space-check --report "$W/ha1.json" "${MNT[d1]}"
assert_contains "$LAST_ERR" "ship-02"
wait_bg "$HB"
[[ "$BG_RC" == 1 ]] || { ingest_dump "$HB"; fail "hB: exit $BG_RC, not 1"; }
throttle_reads "${DEV[d2]}" 0
assert_contains "$(bg_out "$HB")" \
  "1 file(s) committed by another host while this run went on"
assert_eq 1 "$(json "$W/hb1.json" get totals.files_ok)" "files hB read"
assert_eq 3 "$(json "$W/ha1.json" get totals.files_ok)" "files hA read"
status_is 1
assert_contains "$W/status.txt" "arrived:  4 of 8 files"
assert_contains "$W/status.txt" "bring: ship-03"
assert_matches "$W/status.txt" "^hA +3 .* ended$"
assert_matches "$W/status.txt" "^hB +1 .* ended$"

log "2. hB ingests ship-03 and is killed with a file staged"
throttle_reads "${DEV[d3]}" $((4 * MiB))
start_bg HB2 "${ON_hB[@]}" "$VALISE" ingest -m "$M" -d "$DEST_hB" --host hB \
  --no-progress --no-space-check --depth 1 "${MNT[d3]}"
for ((i = 0; i < 200; i++)); do
  (($(staged_of hB) > 0)) && break
  sleep 0.1
done
(($(staged_of hB) > 0)) || { ingest_dump "$HB2"; fail "hB staged nothing"; }
kill -9 "$HB2"
wait_bg "$HB2"
throttle_reads "${DEV[d3]}" 0
status_is 1
assert_contains "$W/status.txt" "bring: ship-03"
assert_matches "$W/status.txt" "^hB +1 .* running or died$"

log "3. ship-03 moves to hC, which ingests it with ship-04..06 and finishes"
expect_exit 0 "${ON_hC[@]}" "$VALISE" ingest -m "$M" -d "$DEST_hC" --host hC \
  --no-progress --no-space-check "${MNT[d3]}" "${MNT[d4]}" "${MNT[d5]}" \
  "${MNT[d6]}"
assert_contains "$LAST_ALL" "staged file(s) of other hosts alone"
(($(staged_of hB) > 0)) || fail "hB's young staged file was removed"
status_is 0
assert_contains "$W/status.txt" "arrived:  8 of 8 files"
assert_matches "$W/status.txt" "^hA +3 .* ended$"
assert_matches "$W/status.txt" "^hC +4 .* ended$"
assert_matches "$W/status.txt" "^ship-03 +done .* on hC: ok$"

log "4. hB's staged file, once stale, is removed by a run on hA"
sleep 1.1
expect_exit 0 "${ON_hA[@]}" "$VALISE" ingest -m "$M" -d "$DEST_hA" --host hA \
  --no-progress --no-space-check --stale-upload-age 1s "${ALL[@]}"
assert_matches "$LAST_ALL" "removed [0-9]+ staged file\(s\) of other hosts"
assert_eq 0 "$(staged_of hB)" "hB's staged files"
assert_eq 0 "$(staged_of hA)" "hA's staged files"
assert_eq 0 "$(staged_of hC)" "hC's staged files"

log "5. verify; each file once, equal to its sources"
expect_exit 0 "$VALISE" verify -m "$M" "$DEST" --no-progress
check_complete "$DEST" "${ALL[@]}"
assert_eq 8 "$(dest_files "$DEST" | wc -l)" "files in DEST"
if grep -q "common/s1.bin" "$DEST/.valise/hosts/hB/journal"; then
  fail "hB's journal names common/s1.bin: it committed it too"
fi
log "PASS"
