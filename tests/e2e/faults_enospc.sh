#!/usr/bin/env bash
# Goal: `valise ingest` onto a destination that fills up stops cleanly and
# resumes:
#  - DEST a tiny ext4 (8 MiB) and a dataset of ~20 MiB: exit 2, a message
#    that DEST is full and to rerun; every file under its final name in
#    DEST is whole (cmp with its source), nothing left in
#    DEST/.valise/staging but kept partials (resume by chunk: the files
#    are 2 MiB, the manifest binds a chunk index of 1 MiB chunks); e2fsck
#    finds the file system clean; then it is
#    grown in place (image extended, `losetup -c`, resize2fs) and the same
#    command
#    completes (exit 0), DEST verifies, and the files committed by the
#    first run are not read again (totals.files_skipped_resume = their
#    number, and the drive read only the rest);
#  - DEST a tmpfs out of inodes (nr_inodes=40) and many small files: the
#    same, with ENOSPC from file creation; raising nr_inodes by remount and
#    rerunning completes.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/faults_lib.sh"
need_root

MiB=1048576
# S: ~20 MiB in large files; S2: many small files.
make_drive S 64 ext4
make_drive S2 32 ext4
S=${MNT[S]}
S2=${MNT[S2]}
for i in $(seq 1 9); do
  gen_file "$S/data/part$i.bin" $((2 * MiB + i * 1000)) "enospc-part$i"
done
gen_file "$S/data/odd.bin" 777 enospc-odd
: >"$S/data/empty.txt"
for i in $(seq 1 60); do
  gen_file "$S2/small/d$((i % 4))/s$i.dat" $((4096 + i * 613)) "enospc-s$i"
done
for d in "$S" "$S2"; do
  find "$d" -path "$d/lost+found" -prune -o -exec touch -h -d "@$E2E_MTIME" {} +
done
M_BIG="$VALISE_WORK/big.valise"
M_SMALL="$VALISE_WORK/small.valise"
expect_exit 0 "$VALISE" manifest "$S" -o "$M_BIG"
expect_exit 0 "$VALISE" manifest "$S2" -o "$M_SMALL"
n_big=$(list_files "$S" | grep -vc '^lost+found/')
n_small=$(list_files "$S2" | grep -vc '^lost+found/')
bytes_big=$(tail -n1 "$M_BIG" | sed -n 's/.* bytes=\([0-9]*\)$/\1/p')

# Checks after a run that stopped on a full DEST ($1, read from $2), whose
# output is in $LAST_*: exit 2 (expect_exit did that); every name in DEST
# whole and staging empty but for kept partials (the data is safe: fatal
# at once); the message
# says DEST is full and to rerun, the report does not claim success and
# blames no source file for DEST's trouble (deferred: they do not make
# data unsafe). Sets COMMITTED to the files under their final name.
check_full_stop() {
  local dest=$1 src=$2 blamed
  COMMITTED=$(check_dest_files "$dest" "$src")
  assert_eq 0 "$(staging_strays "$dest")" \
    "entries left in staging (not kept partials)"
  if ! grep -qiE 'full|No space' "$LAST_ERR"; then
    defer_fail "$dest: no 'full'/'No space' in: $(tail -n1 "$LAST_ERR")"
  fi
  if ! grep -qi 'rerun' "$LAST_ERR"; then
    defer_fail "$dest: the message does not say to rerun: $(tail -n1 "$LAST_ERR")"
  fi
  json "$LAST_OUT" check || fail "no JSON report on a full DEST"
  if [[ "$(json "$LAST_OUT" get exit_code)" == 0 ]]; then
    defer_fail "$dest: the JSON report says exit_code 0 (valise exited 2)" \
      "with $(json "$LAST_OUT" get totals.files_ok) of" \
      "$(json "$LAST_OUT" get totals.files_expected) files staged"
  fi
  blamed=$(json "$LAST_OUT" rows files status path detail |
    awk -F'\t' '$1 != "ok"')
  if [[ -n "$blamed" ]]; then
    defer_fail "$dest: source files blamed for a full DEST: $blamed"
  fi
}

# ------------------------------------------------- bytes: 8 MiB ext4 DEST
make_drive D 8 ext4
D=${MNT[D]}
log "ingest of $n_big files ($bytes_big bytes) onto $(df -h --output=size "$D" |
  tail -n1 | tr -d ' ') of ext4"
# --no-space-check: ingest would refuse this DEST up front (e2e_dry_run_space);
# here DEST fills up mid-run, as when another writer takes its room.
expect_exit 2 "$VALISE" ingest -m "$M_BIG" -d "$D" --no-progress --json \
  --no-space-check "$S"
check_full_stop "$D" "$S"
committed=$COMMITTED
((committed >= 1 && committed < n_big)) ||
  fail "$committed of $n_big files committed on a full DEST"
committed_bytes=$( (cd "$D" && find . -path ./.valise -prune -o -type f \
  -printf '%s\n') | awk '{s += $1} END {print s + 0}')
log "first run: $committed files committed ($committed_bytes bytes), exit 2"
# The report, printed even so, agrees.
assert_eq "$committed" "$(json "$LAST_OUT" get totals.files_ok)" \
  "files_ok of the stopped run"

# Grown offline (unmount, e2fsck, resize2fs, mount): online growth needs
# CAP_SYS_RESOURCE, which a container's root may lack.
log "growing DEST to 64 MiB (image, losetup -c, resize2fs) and rerunning"
unmount "$D"
truncate -s 64M "${IMG[D]}"
losetup -c "${DEV[D]}"
e2fsck -fy "${DEV[D]}" >"$VALISE_WORK/e2fsck.out" 2>&1 ||
  fail "e2fsck of the full DEST found trouble: $(cat "$VALISE_WORK/e2fsck.out")"
resize2fs "${DEV[D]}" >"$VALISE_WORK/resize.out" 2>&1 ||
  fail "resize2fs ${DEV[D]} failed: $(cat "$VALISE_WORK/resize.out")"
mount -t ext4 "${DEV[D]}" "$D"
drop_caches
before=$(sectors_read "${DEV[S]}")
expect_exit 0 "$VALISE" ingest -m "$M_BIG" -d "$D" --no-progress --json "$S"
after=$(sectors_read "${DEV[S]}")
R2="$VALISE_WORK/rerun.json"
cp "$LAST_OUT" "$R2"
assert_eq "$committed" "$(json "$R2" get totals.files_skipped_resume)" \
  "files skipped by the rerun"
# files_ok counts what this run staged; the rest was skipped as committed.
assert_eq "$((n_big - committed))" "$(json "$R2" get totals.files_ok)" \
  "files ok, rerun"
# Only what was not committed was read: its bytes, give or take the file
# system's metadata and the last sector of each file (4 KiB), not the
# committed files again.
rest=$((bytes_big - committed_bytes))
read_bytes=$(json "$R2" get drives.0.bytes_read)
((read_bytes <= rest + n_big * 4096)) ||
  fail "rerun read $read_bytes bytes; only $rest were left to stage"
dev_read=$(((after - before) * 512))
((dev_read < rest + 2 * MiB)) ||
  fail "the source device delivered $dev_read bytes for $rest left to stage"
assert_eq "$n_big" "$(check_dest_files "$D" "$S")" "files in DEST"
assert_eq 0 "$(staging_leftovers "$D")" "files left in staging"
drop_caches
expect_exit 0 "$VALISE" verify -m "$M_BIG" --no-progress "$D"

# ------------------------------------------------ inodes: tmpfs, 40 inodes
TM="$VALISE_WORK/tmpfs-dest"
mkdir -p "$TM"
mount -t tmpfs -o size=64m,nr_inodes=40 valise-e2e-tmpfs "$TM"
valise_on_cleanup "umount -l $TM"
log "ingest of $n_small files onto a tmpfs of 40 inodes"
expect_exit 2 "$VALISE" ingest -m "$M_SMALL" -d "$TM/dest" --no-progress --json \
  --no-space-check "$S2"
check_full_stop "$TM/dest" "$S2"
committed=$COMMITTED
((committed < n_small)) || fail "every file fit in 40 inodes?"
log "first run: $committed files committed, exit 2"
assert_eq "$committed" "$(json "$LAST_OUT" get totals.files_ok)" \
  "files_ok of the stopped run"

log "more inodes (remount nr_inodes=1000), rerun"
mount -o remount,nr_inodes=1000 "$TM"
expect_exit 0 "$VALISE" ingest -m "$M_SMALL" -d "$TM/dest" --no-progress --json \
  "$S2"
assert_eq "$committed" "$(json "$LAST_OUT" get totals.files_skipped_resume)" \
  "files skipped by the rerun"
assert_eq "$n_small" "$(check_dest_files "$TM/dest" "$S2")" "files in DEST"
assert_eq 0 "$(staging_leftovers "$TM/dest")" "files left in staging"
expect_exit 0 "$VALISE" verify -m "$M_SMALL" --no-progress "$TM/dest"
finish_deferred
log "PASS"
