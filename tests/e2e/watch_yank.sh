#!/usr/bin/env bash
# Goal (issue 14): a drive pulled out in the middle of its read under
# `valise watch`, then plugged in again, costs nothing but the time.
# ship-01's image is served through valise_faultfs and attached read-only
# to a loop device; faultfs holds the reads of the second half of its
# large file's middle extent (the rest goes through), and once watch's
# ingest is waiting there the drive is "pulled": faultfs fails everything
# from then on (ENODEV), as a drive gone from its bay, and the test
# detaches the loop device. watch must end that drive's ingest with its
# problems named (not hang, not stop), log it in the custody log as not
# ok, unmount it, and go on watching; ship-02 is ingested meanwhile.
# Plugged in again (a new faultfs mount of the same image, a new loop
# device), ship-01 is identified again and its missing file ingested: the
# shipment completes, `valise status` agrees, and verify of DEST passes.
# Before all that, a drive whose superblock read never returns is given
# up after --io-timeout (2 s) and left alone, not waited for. ~15 s.
source "$(dirname "$0")/ingest_lib.sh"
source "$(dirname "$0")/faults_lib.sh"
need_root
need_faultfs

MiB=1048576
W=$VALISE_WORK
make_drive A 64 ext4
make_drive B 32 ext4
make_drive H 32 ext4
gen_file "${MNT[A]}/a/big.bin" $((24 * MiB)) a-big
gen_file "${MNT[A]}/a/small.bin" 5000 a-small
gen_file "${MNT[B]}/b/one.bin" 200000 b1
M="$W/ship.vm"
expect_exit 0 "$VALISE" manifest --label ship-01,ship-02 --no-progress \
  "${MNT[A]}" "${MNT[B]}" -o "$M"

# Where the middle of big.bin lies in A's image (ext4: FIEMAP's physical
# blocks are the device's).
sync
mid=$((12 * MiB / 4096))
read -r HANG_AT HANG_LEN < <(filefrag -v -b4096 "${MNT[A]}/a/big.bin" |
  awk -v mid="$mid" '$1 ~ /^[0-9]+:$/ { gsub(/[.:]/, " "); split($0, f, " ")
    if (f[2] <= mid && mid <= f[3]) {
      print (f[4] + mid - f[2]) * 4096, (f[3] - mid + 1) * 4096; exit } }')
[[ -n "$HANG_AT" ]] || fail "filefrag gave no extent holding big.bin's middle"

# The drives leave the source. Detached devices leave the cleanup's list.
forget_loop() {
  local keep=() l
  for l in "${_valise_loops[@]}"; do [[ "$l" == "$1" ]] || keep+=("$l"); done
  _valise_loops=("${keep[@]}")
}
for d in A B H; do
  unmount "${MNT[$d]}"
  losetup -d "${DEV[$d]}"
  forget_loop "${DEV[$d]}"
done
BACK="$VALISE_SHM/back"
mkdir -p "$BACK"
mv "${IMG[A]}" "$BACK/A.img"
mv "${IMG[H]}" "$BACK/H.img"
_valise_images+=("$BACK/A.img" "$BACK/H.img")

# plug NAME FILE: attaches FILE read-only (faultfs serves it read-only);
# the cleanup detaches the device it got.
plug() {
  local dev
  dev=$(losetup --find --show --read-only "$2")
  _valise_loops+=("$dev")
  DEV[$1]=$dev
  log "drive $1 plugged in: $dev"
}

DEST="$W/dest"
ROOT="$W/mnt"
LOGF="$DEST/.valise/custody.jsonl"
# watch first: its private mount namespace then holds no copy of the
# faultfs mounts, which would keep faultfs running after the test
# unmounts them.
start_bg WATCH "$PRIVATE_MOUNTS" "$VALISE" watch -m "$M" \
  -d "$DEST" --mount-root "$ROOT" --device-events poll --no-progress \
  --io-timeout 2
ERR=$(bg_err "$WATCH")
start_faultfs A "$BACK" unplug=enodev

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
  _show_file faultfs "${FLOG[A]}" >&2
  fail "watch never said '$2' in $1"
}
# custody_lines LABEL FIELD: FIELD of every custody line naming LABEL.
custody_lines() {
  local line
  grep -F "\"$1\"" "$LOGF" | while IFS= read -r line; do
    printf '%s\n' "$line" >"$W/line.json"
    json "$W/line.json" get "$2"
  done
}

log "a drive that does not answer its superblock read is given up"
set_faults A "hang 0 1048576 H.img"
plug H "${FMNT[A]}/H.img"
wait_for "$ERR" "${DEV[H]}: left alone: cannot identify it: ${DEV[H]}: did not answer within 2 s"
kill -USR2 "${FPID[A]}" # the held read returns; the late probe is ignored
losetup -d "${DEV[H]}"
forget_loop "${DEV[H]}"

log "ship-01 is pulled out while watch reads the middle of big.bin"
set_faults A "hang $HANG_AT $HANG_LEN A.img"
plug A "${FMNT[A]}/A.img"
wait_for "${FLOG[A]}" "hang A.img"
kill -USR1 "${FPID[A]}" # unplugged: every request fails, the held one too
# Gone from the bay: the loop device goes as soon as watch lets go of it
# (autoclear: detaching a mounted loop device waits for the unmount).
losetup -d "${DEV[A]}"
wait_for "$ERR" "drive ship-01 (${DEV[A]}): "
if LC_ALL=C grep -qF "drive ship-01 (${DEV[A]}): ok" "$ERR"; then
  fail "ship-01's read was cut short, yet watch says ok"
fi
assert_contains "$ERR" "drive ship-01 (${DEV[A]}): problems; unmounted"
assert_eq "problems" "$(custody_lines ship-01 result | tail -1)" \
  "ship-01's custody result after the pull"
if grep -F " $ROOT/" "/proc/$WATCH/mountinfo"; then
  fail "the pulled drive is still mounted in watch's namespace"
fi
kill -0 "$WATCH" 2>/dev/null || fail "watch stopped after a drive was pulled"
forget_loop "${DEV[A]}"
stop_faultfs A

log "ship-02 meanwhile"
plug B "${IMG[B]}"
wait_for "$ERR" "drive ship-02 (${DEV[B]}): ok"

log "ship-01 plugged in again: its missing file arrives"
start_faultfs A2 "$BACK"
plug A "${FMNT[A2]}/A.img"
wait_for "$ERR" "drive ship-01 (${DEV[A]}): ok"
wait_for "$ERR" "shipment complete: every file arrived and verified"
kill -INT "$WATCH"
wait_bg "$WATCH"
# The worst of its ingests' results (docs/ingest.md): the pull is not
# forgotten because the shipment completed after it.
assert_eq 1 "$BG_RC" "watch's exit status after SIGINT while idle"
assert_eq "problems
ok" "$(custody_lines ship-01 result)" "ship-01's custody results"

expect_exit 0 "$VALISE" status -m "$M" "$DEST"
assert_contains "$LAST_OUT" "complete: every file arrived and verified"
expect_exit 0 "$VALISE" verify -m "$M" --no-progress "$DEST"
[[ "$(staging_left "$DEST")" == 0 ]] || fail "staging files left in DEST"
log "ok"
