#!/usr/bin/env bash
# Goal: power loss on DEST loses nothing valise said it committed, and never
# leaves a partial file under a final name. DEST is xfs on a loop device;
# `xfs_io -x -c shutdown` stops the file system at once without flushing
# its log (what a power cut leaves), then it is unmounted and mounted again
# (log recovery):
#  - after an ingest that finished: every file the report lists ok is
#    intact and `valise verify` of DEST passes;
#  - in the middle of an ingest (valise stopped with SIGSTOP as soon as a
#    first group of files is journaled, DEST shut down, valise continued):
#    valise exits non-zero in bounded time; after recovery every file under
#    a final name equals its source; the rerun completes, skips what the
#    journal holds, and DEST verifies.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/faults_lib.sh"
need_root
command -v xfs_io >/dev/null || {
  echo "[$TEST_NAME] SKIP: xfs_io not installed (xfsprogs)"
  exit 77
}

KiB=1024
MiB=1048576
make_drive S 256 ext4
S=${MNT[S]}
# Many files, so that commits come in several groups (each group is what
# finished while the one before was committed, up to 1,024 files):
# 640 files of 128 KiB cut from one generated stream, in 8 directories,
# plus a few large files.
gen_file "$VALISE_SHM/stream" $((80 * MiB)) power-stream
mkdir -p "$S/parts"
(cd "$S/parts" && split -b $((128 * KiB)) -d -a 4 "$VALISE_SHM/stream" p-)
rm -f "$VALISE_SHM/stream"
for d in 0 1 2 3 4 5 6 7; do
  mkdir -p "$S/parts/d$d"
  find "$S/parts" -maxdepth 1 -type f -name "p-*$d" -exec mv -t "$S/parts/d$d" {} +
done
for i in 1 2 3; do
  gen_file "$S/large/l$i.bin" $((6 * MiB + i * 999)) "power-large$i"
done
find "$S" -path "$S/lost+found" -prune -o -exec touch -h -d "@$E2E_MTIME" {} +
M="$VALISE_WORK/dataset.valise"
expect_exit 0 "$VALISE" manifest "$S" -o "$M"
n_files=$(list_files "$S" | grep -vc '^lost+found/')
log "dataset: $n_files files"

# power_cut DIR: shuts the xfs on DIR down without flushing its log, then
# unmounts and mounts it again (its log is replayed).
power_cut() {
  local mnt=$1 dev
  dev=$(findmnt -n -o SOURCE --target "$mnt")
  xfs_io -x -c shutdown "$mnt" || fail "xfs_io shutdown $mnt failed"
  for _ in $(seq 1 50); do
    umount "$mnt" 2>/dev/null && break
    sleep 0.1
  done
  mountpoint -q "$mnt" && fail "cannot unmount $mnt after the shutdown"
  mount -t xfs "$dev" "$mnt" || fail "xfs on $dev does not mount again"
  log "power cut on $mnt, mounted again"
}

# ------------------------------------------- after a finished ingest
make_drive D1 300 xfs
DEST="${MNT[D1]}/stage"
R="$VALISE_WORK/report.json"
expect_exit 0 "$VALISE" ingest -m "$M" -d "$DEST" --no-progress --json \
  --report "$R" "$S"
ok_files=$(json "$R" rows files status path | awk -F'\t' '$1 == "ok" {print $2}')
assert_eq "$n_files" "$(printf '%s\n' "$ok_files" | grep -c .)" \
  "files the report lists ok"
power_cut "${MNT[D1]}"
while IFS= read -r rel; do
  cmp -s "$DEST/$rel" "$S/$rel" ||
    fail "$rel, reported committed, is not intact after the power cut"
done <<<"$ok_files"
assert_eq "$n_files" "$(check_dest_files "$DEST" "$S")" "files in DEST"
drop_caches
expect_exit 0 "$VALISE" verify -m "$M" --no-progress "$DEST"

# ------------------------------------------- in the middle of an ingest
make_drive D2 300 xfs
DEST="${MNT[D2]}/stage"
# Started directly (not through `timeout`) so that its PID is valise's.
"$VALISE" ingest -m "$M" -d "$DEST" --no-progress --json "$S" \
  >"$VALISE_WORK/mid.out" 2>"$VALISE_WORK/mid.err" </dev/null &
vpid=$!
# Ended at exit only while it is ours and running (vpid is cleared once
# reaped: its number may then belong to another process).
# shellcheck disable=SC2016  # expanded when the hook runs, not now
valise_on_cleanup 'if [[ -n "$vpid" ]]; then kill -CONT "$vpid"; kill "$vpid"; fi'
# As soon as a first group of files is journaled (the journal holds more
# than its begin record and a few commits): freeze valise, pull the plug on
# DEST, let valise run into it. Later files are then being staged.
stopped=""
for _ in $(seq 1 3000); do
  if ! kill -0 "$vpid" 2>/dev/null; then break; fi
  if (($(stat -c %s "$DEST/.valise/journal" 2>/dev/null || echo 0) > 4096)); then
    kill -STOP "$vpid"
    stopped=yes
    break
  fi
  sleep 0.005
done
[[ -n "$stopped" ]] ||
  fail "ingest ended before it could be interrupted: $(cat "$VALISE_WORK/mid.err")"
before=$(check_dest_files "$DEST" "$S")
log "valise stopped with $before files under their final names; power cut"
xfs_io -x -c shutdown "${MNT[D2]}" || fail "xfs_io shutdown failed"
kill -CONT "$vpid"
rc=0
for _ in $(seq 1 600); do
  running "$vpid" || break
  sleep 0.1
done
running "$vpid" && fail "valise still runs 60 s after the power cut"
wait "$vpid" || rc=$?
vpid=""
((rc != 0)) || fail "valise exited 0 although DEST died under it"
((rc != 139 && rc != 134 && rc != 137)) ||
  fail "valise crashed (exit $rc): $(cat "$VALISE_WORK/mid.err")"
log "valise exited $rc: $(tail -n1 "$VALISE_WORK/mid.err")"
for _ in $(seq 1 50); do
  umount "${MNT[D2]}" 2>/dev/null && break
  sleep 0.1
done
mountpoint -q "${MNT[D2]}" && fail "cannot unmount DEST after the shutdown"
mount -t xfs "${DEV[D2]}" "${MNT[D2]}" || fail "DEST does not mount again"
# No partial file under a final name, whatever the journal says.
after=$(check_dest_files "$DEST" "$S")
log "after recovery: $after files under their final names, all whole"
((after < n_files)) || fail "every file survived a cut before the end?"

log "rerun"
drop_caches
expect_exit 0 "$VALISE" ingest -m "$M" -d "$DEST" --no-progress --json "$S"
skipped=$(json "$LAST_OUT" get totals.files_skipped_resume)
((skipped <= after)) ||
  fail "the rerun skipped $skipped files; only $after survived the cut"
log "the rerun skipped $skipped files the journal held"
# files_ok counts what this run staged; the rest was skipped as committed.
assert_eq "$((n_files - skipped))" "$(json "$LAST_OUT" get totals.files_ok)" \
  "files ok"
assert_eq "$n_files" "$(check_dest_files "$DEST" "$S")" "files in DEST"
assert_eq 0 "$(staging_leftovers "$DEST")" "files left in staging"
drop_caches
expect_exit 0 "$VALISE" verify -m "$M" --no-progress "$DEST"
log "PASS"
