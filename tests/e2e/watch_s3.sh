#!/usr/bin/env bash
# Goal (issue 14): `valise watch` into an s3:// DEST, on the test
# cluster's RGW. A labelled ext4 drive (a loop device attached while the
# watch runs, in a private mount namespace) is identified, mounted
# read-only, ingested into s3://BUCKET/ship, unmounted; the custody record
# is an object under ship/.valise/custody/ (no appending to an object);
# watch says the shipment is complete, and `valise status` and `valise
# verify` of the prefix agree. ~10 s on the fixture's cluster.
source "$(dirname "$0")/ingest_lib.sh"
source "$(dirname "$0")/s3_lib.sh"
need_root
need_ceph

W=$VALISE_WORK
make_drive A 32 ext4
gen_file "${MNT[A]}/a/one.bin" 3000000 a1
gen_file "${MNT[A]}/a/two.bin" 1000 a2
M="$W/ship.vm"
expect_exit 0 "$VALISE" manifest --label ship-01 --no-progress "${MNT[A]}" \
  -o "$M"
unmount "${MNT[A]}"
losetup -d "${DEV[A]}"
keep=()
for l in "${_valise_loops[@]}"; do [[ "$l" == "${DEV[A]}" ]] || keep+=("$l"); done
_valise_loops=("${keep[@]}")

new_bucket watch
DEST="s3://${BUCKET[watch]}/ship"
start_bg WATCH "$PRIVATE_MOUNTS" "$VALISE" watch -m "$M" \
  -d "$DEST" --mount-root "$W/mnt" --device-events poll --no-progress
ERR=$(bg_err "$WATCH")
DEV[A]=$(losetup --find --show "${IMG[A]}")
_valise_loops+=("${DEV[A]}")
log "ship-01 plugged in: ${DEV[A]}"
for ((i = 0; i < 300; i++)); do
  grep -qF "shipment complete" "$ERR" && break
  kill -0 "$WATCH" 2>/dev/null || break
  sleep 0.2
done
grep -qF "shipment complete" "$ERR" || {
  ingest_dump "$WATCH" >&2
  fail "watch never said the shipment was complete"
}
assert_contains "$ERR" "drive ship-01 (${DEV[A]}): ok; unmounted"
kill -INT "$WATCH"
wait_bg "$WATCH"
assert_eq 0 "$BG_RC" "watch's exit status after SIGINT while idle"

# ship-01's custody record is an object of its own (the other devices
# the watch met, the machine's disk among them, have theirs: left alone).
s3 s3 cp --recursive "s3://${BUCKET[watch]}/ship/.valise/custody/" \
  "$W/custody" >/dev/null
mapfile -t rec < <(grep -lF '"drive":"ship-01"' "$W"/custody/*.json)
assert_eq 1 "${#rec[@]}" "custody objects of ship-01"
cp "${rec[0]}" "$W/custody.json"
assert_eq ingested "$(json "$W/custody.json" get event)" "custody event"
assert_eq ship-01 "$(json "$W/custody.json" get drive)" "custody drive"
assert_eq ok "$(json "$W/custody.json" get result)" "custody result"

expect_exit 0 "$VALISE" status -m "$M" "$DEST"
assert_contains "$LAST_OUT" "complete: every file arrived and verified"
expect_exit 0 "$VALISE" verify -m "$M" --no-progress "$DEST"
log "ok"
