#!/usr/bin/env bash
# Goal (issue 17): three ingest hosts, one shipment, one s3:// prefix. The
# hosts are network namespaces on a bridge (each valise under its own host
# name, `unshare --uts`), the store this test's own cluster's RGW
# listening on the bridge's address (ceph_cluster.sh --addr). Six
# labelled ext4 drives (loop devices in /dev/shm); common/s1.bin is on a
# drive of hA and on one of hB. Every check after each step:
#   1. hB ingests ship-03 (read slowly: a throttled device) while hA
#      ingests ship-01 and ship-02 and commits common/s1.bin: hB does not
#      read its copy when its turn comes (it read hA's journal meanwhile).
#      Status: hA and hB ended,
#      ship-04..06 to bring, ship-03 seen at hB.
#   2. hB ingests ship-04 and is killed (kill -9) while its upload is open:
#      status says hB's run did not end and ship-04 is still needed.
#   3. ship-04 moves to hC, which ingests it with ship-05 and ship-06 and
#      finishes (exit 0); hB's upload (another host's, young) is left
#      alone by hC. Status: complete.
#   4. A run on hA with --stale-upload-age 1s aborts hB's stale upload:
#      none is left.
#   5. `valise verify -m M s3://...` passes, and the bucket (versioned)
#      holds one version of every file's key: each committed exactly once,
#      none replaced.
# 53-58 s here at load 8-9 with its own cluster (15-20 s of it the
# cluster's start, 8 s the throttled drive of step 1).
source "$(dirname "$0")/ingest_lib.sh"
source "$(dirname "$0")/s3_lib.sh"
need_root
need_ceph_tools

W=$VALISE_WORK
CLUSTER="$E2E_REPO/tests/support/ceph_cluster.sh"
tag=vm$$
make_bridge "${tag}br"

# The cluster starts (on the bridge's address) while the drives are made.
C="$W/cluster"
valise_on_cleanup "ceph_cluster_stop '$C'"
start_bg CEPH "$CLUSTER" start "$C" --addr "$net.1"

n=2
for h in hA hB hC; do
  add_host "$tag$h" "$tag${h}v" "$n"
  n=$((n + 1))
done
log "bridge $BR at $net.1; hosts hA, hB, hC at $net.2-4"

MiB=1048576
for d in 1 2 4 5 6; do make_drive "d$d" 32 ext4; done
make_drive d3 48 ext4
gen_file "${MNT[d1]}/a/one.bin" $((3 * MiB)) a1
gen_file "${MNT[d1]}/a/two.bin" 30000 a2
gen_file "${MNT[d1]}/common/s1.bin" 200000 s1
gen_file "${MNT[d2]}/a/three.bin" $((1 * MiB)) a3
gen_file "${MNT[d3]}/b/big.bin" $((30 * MiB)) b1
gen_file "${MNT[d3]}/common/s1.bin" 200000 s1
gen_file "${MNT[d4]}/b/four.bin" $((16 * MiB)) b4
gen_file "${MNT[d5]}/c/one.bin" $((2 * MiB)) c1
gen_file "${MNT[d6]}/c/two.bin" 500000 c2
sync
M="$W/ship.vm"
expect_exit 0 "$VALISE" manifest --label ship-01,ship-02,ship-03,ship-04,ship-05,ship-06 \
  --no-progress "${MNT[d1]}" "${MNT[d2]}" "${MNT[d3]}" "${MNT[d4]}" \
  "${MNT[d5]}" "${MNT[d6]}" -o "$M"

wait_bg "$CEPH"
[[ "$BG_RC" == 0 ]] || { ingest_dump "$CEPH"; fail "the cluster did not start"; }
# shellcheck disable=SC1091
source "$C/s3.env"
new_bucket mh
B=${BUCKET[mh]}
DEST="s3://$B/ship"
# Versioned: a key completed twice would keep two versions.
printf '%s' '<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>' \
  >"$W/versioning.xml"
expect_s3 0 s3_curl PUT "$B?versioning=" --data-binary "@$W/versioning.xml"
assert_contains "$LAST_OUT" "HTTP 200"
log "bucket $B (versioned) at $AWS_ENDPOINT_URL"

# "${ON_hA[@]}" CMD...: CMD in host hA's network namespace, under its
# name; one process (each step execs the next), so a PID is valise's.
# nsenter --net, not `ip netns exec`, which also makes a mount namespace
# (a copy of every mount, the loop-device file systems of the tests
# running beside this one included, kept mounted while CMD runs).
for h in hA hB hC; do
  declare -a "ON_$h=(nsenter --net=/run/netns/$tag$h unshare --uts sh -c 'hostname \"\$0\"; exec \"\$@\"' $h)"
done

# The keys under PREFIX, and the uploads in progress (one request each).
keys_under() {
  s3_curl GET "$B?list-type=2" 2>/dev/null |
    grep -o '<Key>[^<]*</Key>' | sed 's/<[^>]*>//g' | grep "^$1" || true
}
uploads() {
  s3_curl GET "$B?uploads=" 2>/dev/null |
    grep -o '<UploadId>[^<]*</UploadId>' | sed 's/<[^>]*>//g' || true
}
status_is() {
  expect_exit "$1" "$VALISE" status -m "$M" "$DEST"
  cp "$LAST_OUT" "$W/status.txt"
  awk 'length > 80 { bad = 1 } END { exit bad }' "$W/status.txt" ||
    fail "status is wider than 80 columns"
}

log "1. hB reads ship-03 slowly while hA ingests ship-01 and ship-02"
throttle_reads "${DEV[d3]}" $((4 * MiB))
start_bg HB "${ON_hB[@]}" "$VALISE" ingest -m "$M" -d "$DEST" --no-progress --depth 1 \
  --report "$W/hb1.json" "${MNT[d3]}"
for ((i = 0; i < 200; i++)); do
  [[ -n "$(keys_under ship/.valise/journal/hB/)" ]] && break
  sleep 0.1
done
expect_exit 1 "${ON_hA[@]}" "$VALISE" ingest -m "$M" -d "$DEST" --no-progress \
  --report "$W/ha1.json" "${MNT[d1]}" "${MNT[d2]}"
assert_contains "$LAST_ERR" "ship-03"
wait_bg "$HB"
[[ "$BG_RC" == 1 ]] || { ingest_dump "$HB"; fail "hB: exit $BG_RC, not 1"; }
throttle_reads "${DEV[d3]}" 0
assert_contains "$(bg_out "$HB")" \
  "1 file(s) committed by another host while this run went on"
assert_eq 1 "$(json "$W/hb1.json" get totals.files_ok)" "files hB read"
assert_eq 4 "$(json "$W/ha1.json" get totals.files_ok)" "files hA read"
status_is 1
assert_contains "$W/status.txt" "arrived:  5 of 8 files"
assert_contains "$W/status.txt" "bring: ship-04, ship-05, ship-06"
assert_matches "$W/status.txt" "^hA +4 .* ended$"
assert_matches "$W/status.txt" "^hB +1 .* ended$"

log "2. hB ingests ship-04 and is killed mid-upload"
throttle_reads "${DEV[d4]}" $((4 * MiB))
start_bg HB2 "${ON_hB[@]}" "$VALISE" ingest -m "$M" -d "$DEST" --no-progress \
  "${MNT[d4]}"
for ((i = 0; i < 200; i++)); do
  [[ -n "$(uploads)" ]] && break
  sleep 0.1
done
[[ -n "$(uploads)" ]] || { ingest_dump "$HB2"; fail "hB opened no upload"; }
kill -9 "$HB2"
wait_bg "$HB2"
throttle_reads "${DEV[d4]}" 0
left=$(uploads)
status_is 1
assert_contains "$W/status.txt" "bring: ship-04, ship-05, ship-06"
assert_matches "$W/status.txt" "^hB +1 .* running or died$"

log "3. ship-04 moves to hC, which finishes"
expect_exit 0 "${ON_hC[@]}" "$VALISE" ingest -m "$M" -d "$DEST" --no-progress \
  "${MNT[d4]}" "${MNT[d5]}" "${MNT[d6]}"
assert_contains "$LAST_ALL" "1 multipart upload(s) of other hosts"
assert_eq "$left" "$(uploads)" "hB's upload, left alone by hC"
status_is 0
assert_contains "$W/status.txt" "arrived:  8 of 8 files"
assert_matches "$W/status.txt" "^hC +3 .* ended$"
assert_matches "$W/status.txt" "^ship-04 +done .* on hC: ok$"

log "4. hB's upload, once stale, is aborted by a run on hA"
sleep 1.1
expect_exit 0 "${ON_hA[@]}" "$VALISE" ingest -m "$M" -d "$DEST" --no-progress \
  --stale-upload-age 1s "${MNT[d1]}" "${MNT[d2]}" "${MNT[d3]}" "${MNT[d4]}" \
  "${MNT[d5]}" "${MNT[d6]}"
assert_contains "$LAST_ALL" "aborted 1 multipart upload(s)"
[[ -z "$(uploads)" ]] || fail "uploads left: $(uploads)"
[[ -z "$(keys_under ship/.valise/uploads/hA/)$(keys_under ship/.valise/uploads/hC/)" ]] ||
  fail "markers of live hosts left"

log "5. verify, and one version of every key"
expect_exit 0 "$VALISE" verify -m "$M" "$DEST" --no-progress
expect_s3 0 s3_curl GET "$B?versions="
assert_contains "$LAST_OUT" "HTTP 200"
# The keys of every <Version> (not the <DeleteMarker>s the deleted upload
# markers left), the files' only.
tr -d '\n' <"$LAST_OUT" | grep -o '<Version>.*</Version>' |
  sed 's|</Version>|&\n|g' | grep -o '<Key>[^<]*</Key>' |
  sed 's/<[^>]*>//g' | grep -v '^ship/\.valise/' | sort | uniq -c >"$W/versions"
assert_eq 8 "$(wc -l <"$W/versions")" "keys of files"
if awk '$1 != 1 { bad = 1 } END { exit !bad }' "$W/versions"; then
  fail "a key with more than one version: $(cat "$W/versions")"
fi
log "PASS"
