#!/usr/bin/env bash
# Goal (issue 14): a shipment of four labelled ext4 drives (loop devices)
# arriving in two batches. `valise manifest --label` records each drive's
# file system UUID in M.drives, bound to M; ingesting two drives names the
# two not given with the files only they hold; after that,
# `valise status` (exit 1) names the two still needed and what is missing;
# `ingest --dry-run` says what the other two would supply, writing nothing
# (no run record, no --report);
# ingest refuses, before reading, a drive of another shipment and the same
# drive given twice (its mount point and its block device), a drive's
# block device given for its file system, and an empty mount point; once the
# other two are ingested, status says complete (exit 0). ~15 s.
source "$(dirname "$0")/ingest_lib.sh"
need_root

for d in A B C D F; do make_drive "$d" 32 ext4; done
W=$VALISE_WORK
gen_file "${MNT[A]}/a/one.bin" 300000 a1
gen_file "${MNT[A]}/a/two.bin" 1000 a2
gen_file "${MNT[B]}/b/one.bin" 200000 b1
gen_file "${MNT[C]}/c/one.bin" 900000 c1
gen_file "${MNT[C]}/c/two.bin" 5000 c2
gen_file "${MNT[D]}/d/one.bin" 100000 d1
gen_file "${MNT[F]}/a/one.bin" 300000 a1  # a foreign drive, same file

M="$W/ship.vm"
expect_exit 0 "$VALISE" manifest --label ship-01,ship-02,ship-03,ship-04 \
  --no-progress "${MNT[A]}" "${MNT[B]}" "${MNT[C]}" "${MNT[D]}" -o "$M"
assert_contains "$M" "# bind drives bytes=$(stat -c %s "$M.drives") sha256=$(
  sha256sum <"$M.drives" | cut -c1-64)"
json "$M.drives" check || fail "M.drives is not JSON"
assert_eq 4 "$(json "$M.drives" len drives)" "drives in M.drives"
i=0
for d in A B C D; do
  uuid=$(blkid -p -s UUID -o value "${DEV[$d]}")
  assert_eq "$uuid" "$(json "$M.drives" get "drives.$i.fs_uuid")" \
    "drive $d's file system UUID"
  assert_eq "ship-0$((i + 1))" "$(json "$M.drives" get "drives.$i.label")" \
    "drive $d's label"
  i=$((i + 1))
done

log "the first batch: ship-01 and ship-02"
DEST="$W/dest"
expect_exit 1 "$VALISE" ingest -m "$M" -d "$DEST" --no-progress \
  "${MNT[A]}" "${MNT[B]}"
assert_contains "$LAST_ERR" "drive ship-03 (uuid $(blkid -p -s UUID -o value \
  "${DEV[C]}")) not given: 2 files only on it"
expect_exit 1 "$VALISE" status -m "$M" "$DEST"
assert_contains "$LAST_OUT" "arrived:  3 of 6 files"
assert_contains "$LAST_OUT" "bring: ship-03, ship-04"
assert_contains "$LAST_OUT" "c/one.bin"
awk 'length > 80 { bad = 1 } END { exit bad }' "$LAST_OUT" ||
  fail "status is wider than 80 columns"
expect_exit 1 "$VALISE" status -m "$M" --json -d "$DEST"
S="$W/status.json"
cp "$LAST_OUT" "$S"
assert_eq '["ship-03","ship-04"]' "$(json "$S" get needed)" "needed drives"
assert_eq 3 "$(json "$S" get files_missing)" "files_missing"
assert_eq "done" "$(json "$S" get drives.0.state)" "ship-01's state"

log "--dry-run: what the second batch would read; nothing written"
expect_exit 0 "$VALISE" ingest --dry-run -m "$M" -d "$DEST" \
  --report "$W/dry.json" "${MNT[C]}" "${MNT[D]}"
assert_contains "$LAST_OUT" "in place: 3 of 6 files"
assert_contains "$LAST_OUT" "would read: 3 files"
assert_matches "$LAST_OUT" "^  ship-03 +2 files +883.8 KiB  .*mnt-C$"
assert_contains "$LAST_OUT" "after it: every file in place"
[[ ! -e "$W/dry.json" ]] || fail "--dry-run wrote its --report"
expect_exit 1 "$VALISE" ingest --dry-run -m "$M" -d "$DEST" "${MNT[C]}"
assert_contains "$LAST_OUT" "still missing after it: 1 files"
assert_contains "$LAST_OUT" "  d/one.bin ("

log "a drive of another shipment, and one drive given twice, are refused"
expect_exit 2 "$VALISE" ingest -m "$M" -d "$DEST" --no-progress \
  "${MNT[C]}" "${MNT[F]}"
assert_contains "$LAST_ERR" "${MNT[F]}: ext4 file system UUID"
assert_contains "$LAST_ERR" "is not one of the shipment's 4 drives"
expect_exit 2 "$VALISE" ingest -m "$M" -d "$DEST" --no-progress \
  "${MNT[C]}" "${DEV[C]}"
assert_contains "$LAST_ERR" "${DEV[C]}: is the same drive as ${MNT[C]}"
log "a drive's block device, and an empty mount point, are refused"
expect_exit 2 "$VALISE" ingest -m "$M" -d "$DEST" --no-progress "${DEV[C]}"
assert_contains "$LAST_ERR" "${DEV[C]}: holds ext4 'C': mount it, or give its mount point"
mkdir "$W/not-mounted"
expect_exit 2 "$VALISE" ingest -m "$M" -d "$DEST" --no-progress \
  "${MNT[C]}" "$W/not-mounted"
assert_contains "$LAST_ERR" "$W/not-mounted: is empty: is its drive mounted?"
[[ $(ls "$DEST/.valise/runs" | wc -l) -eq 1 ]] ||
  fail "a refused ingest or a dry run left a run record"

log "the second batch completes the shipment"
expect_exit 0 "$VALISE" ingest -m "$M" -d "$DEST" --no-progress \
  "${MNT[D]}" "${MNT[C]}"
expect_exit 0 "$VALISE" status -m "$M" "$DEST"
assert_contains "$LAST_OUT" "complete: every file arrived and verified"
log "ok"
