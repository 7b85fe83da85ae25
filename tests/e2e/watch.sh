#!/usr/bin/env bash
# Goal (issue 14): `valise watch` ingests a shipment's drives as they are
# plugged in. Three labelled ext4 drives (loop devices) are made and a
# manifest taken of them, then detached. watch runs in a private mount
# namespace (unshare -m), polling /sys (no udevd here); ship-01 is attached
# before it starts (found by the rescan) and read slowly (a blkio
# throttle); ship-02, plugged during ship-01's run, joins it (the run
# stops and starts again with both); then a foreign ext4 drive and
# ship-03. Each drive of the shipment is
# identified, mounted read-only under --mount-root (its image unchanged
# after, though attached writable), ingested, unmounted and logged in the
# custody log; the foreign one is named, logged and never
# mounted; watch says which drives are still needed, then that the
# shipment is complete; SIGINT while idle stops it with exit 0, and
# `valise status` agrees. Every loop device the test attached is detached
# by the device it got, even on failure. WATCH_EVENTS=udev: the same
# through the libudev monitor (watch_udev.sh). ~10 s.
source "$(dirname "$0")/ingest_lib.sh"
need_root

W=$VALISE_WORK
for d in A B C F; do make_drive "$d" 32 ext4; done
gen_file "${MNT[A]}/a/one.bin" 3000000 a1
gen_file "${MNT[A]}/a/two.bin" 1000 a2
gen_file "${MNT[B]}/b/one.bin" 200000 b1
gen_file "${MNT[C]}/c/one.bin" 900000 c1
gen_file "${MNT[F]}/a/one.bin" 3000000 a1 # foreign: the same file
M="$W/ship.vm"
expect_exit 0 "$VALISE" manifest --label ship-01,ship-02,ship-03 \
  --no-progress "${MNT[A]}" "${MNT[B]}" "${MNT[C]}" -o "$M"

# The drives leave the source: unmounted and detached. Detached devices
# leave the cleanup's list (their numbers may be someone else's by then).
forget_loop() {
  local keep=() l
  for l in "${_valise_loops[@]}"; do [[ "$l" == "$1" ]] || keep+=("$l"); done
  _valise_loops=("${keep[@]}")
}
detach_drive() {
  losetup -d "${DEV[$1]}"
  forget_loop "${DEV[$1]}"
  DEV[$1]=""
}
# Attached writable, as a drive arriving at the datacenter is: the watch
# must mount it read-only (the images are compared at the end). The
# cleanup detaches it by the device it got.
attach_drive() {
  local dev
  dev=$(losetup --find --show "${IMG[$1]}")
  _valise_loops+=("$dev")
  DEV[$1]=$dev
  log "drive $1 plugged in: $dev"
}
for d in A B C F; do
  unmount "${MNT[$d]}"
  detach_drive "$d"
done

declare -A SUM=()
for d in A B C F; do SUM[$d]=$(sha256sum <"${IMG[$d]}"); done

DEST="$W/dest"
ROOT="$W/mnt"
LOGF="$DEST/.valise/custody.jsonl"
attach_drive A
# ship-01 reads slowly (its ingest lasts while ship-02 is plugged in).
throttle_reads "${DEV[A]}" 500000
start_bg WATCH "$PRIVATE_MOUNTS" "$VALISE" watch -m "$M" \
  -d "$DEST" --mount-root "$ROOT" --device-events "${WATCH_EVENTS:-poll}" \
  --no-progress
ERR=$(bg_err "$WATCH")

# wait_for FILE TEXT: up to 60 s for TEXT in FILE while watch runs.
wait_for() {
  local i
  for ((i = 0; i < 300; i++)); do
    [[ -f "$1" ]] && LC_ALL=C grep -qF -- "$2" "$1" && return 0
    kill -0 "$WATCH" 2>/dev/null || break
    sleep 0.2
  done
  ingest_dump "$WATCH" >&2
  [[ -f "$LOGF" ]] && _show_file custody "$LOGF" >&2
  fail "watch never said '$2' in $1"
}
# Nothing of ours is mounted in watch's namespace.
assert_unmounted() {
  if grep -F " $ROOT/" "/proc/$WATCH/mountinfo"; then
    fail "a drive is still mounted under $ROOT in watch's namespace"
  fi
}
# custody DRIVE_OR_DEVICE FIELD: FIELD of the last custody line naming it.
custody() {
  local line
  line=$(grep -F "\"$1\"" "$LOGF" | tail -1)
  printf '%s\n' "$line" >"$W/line.json"
  json "$W/line.json" get "$2"
}

log "ship-01, attached before watch started, is found by the rescan"
wait_for "$ERR" "ingesting ship-01"
log "ship-02, plugged while ship-01's run goes on, joins that run"
attach_drive B
wait_for "$ERR" "ship-02 joins the run of ship-01: that run stops at a clean point"
throttle_reads "${DEV[A]}" 0
wait_for "$ERR" "ingesting ship-01, ship-02"
wait_for "$ERR" "drive ship-01 (${DEV[A]}): ok; unmounted"
wait_for "$ERR" "drive ship-02 (${DEV[B]}): ok; unmounted"
assert_contains "$ERR" "${DEV[A]}: drive ship-01 (uuid "
assert_contains "$ERR" "mounting it at $ROOT/ship-01 (read-only)"
assert_contains "$ERR" "still needed: "
assert_eq ingested "$(custody ship-01 event)" "ship-01's custody event"
assert_eq ok "$(custody ship-01 result)" "ship-01's custody result"
assert_eq "${DEV[A]}" "$(custody ship-01 device)" "ship-01's device"
assert_eq "$(blkid -p -s UUID -o value "${IMG[A]}")" \
  "$(custody ship-01 fs_uuid)" "ship-01's UUID in the custody log"
assert_unmounted
[[ ! -e "$ROOT/ship-01" ]] || fail "$ROOT/ship-01 was not removed"
detach_drive A

log "a foreign drive is named, logged and left alone"
attach_drive F
FUUID=$(blkid -p -s UUID -o value "${IMG[F]}")
wait_for "$ERR" "${DEV[F]}: left alone: ext4 file system UUID $FUUID (label 'F') is not one of the shipment's 3 drives"
assert_eq "left alone" "$(custody "$FUUID" event)" "foreign drive's event"
assert_eq "${DEV[F]}" "$(custody "$FUUID" device)" "foreign drive's device"
assert_unmounted
assert_not_contains "$ERR" "$ROOT/F"

log "ship-03 completes the shipment"
attach_drive C
wait_for "$ERR" "drive ship-03 (${DEV[C]}): ok"
wait_for "$ERR" "shipment complete: every file arrived and verified"
assert_unmounted
grep -F "$FUUID" "$LOGF" | grep -qv '"left alone"' &&
  fail "the foreign drive was ingested"

log "SIGINT while idle: watch stops, exit 0"
kill -INT "$WATCH"
wait_bg "$WATCH"
assert_eq 0 "$BG_RC" "watch's exit status after SIGINT while idle"
assert_contains "$ERR" "watch stopped: 3 drives ingested"
for d in B C F; do detach_drive "$d"; done
expect_exit 0 "$VALISE" status -m "$M" "$DEST"
assert_contains "$LAST_OUT" "complete: every file arrived and verified"
assert_eq 3 "$(grep -c '"event":"ingested"' "$LOGF")" "custody lines ingested"
# Mounted read-only without a journal replay: not one byte of a drive
# changed (a read-write mount would have written its superblock).
for d in A B C F; do
  assert_eq "${SUM[$d]}" "$(sha256sum <"${IMG[$d]}")" "drive $d's image"
done
log "ok"
