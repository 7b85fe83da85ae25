#!/usr/bin/env bash
# Goal (issue 18): at the datacenter, verify and ingest rebuild what a
# packed shipment lost from its parity (ext4 on loop devices in /dev/shm):
#  - a dataset packed onto 4 data + 2 parity drives: one 24 MiB file fills
#    data drive 1 to stripe 24, twelve 3 MiB files fill drives 2-4 to
#    stripe 12;
#  - data drives 3 and 4 not given, and a chunk of the large file on
#    drive 1 corrupted past stripe 12 (where the lost drives hold nothing,
#    so its stripe lost one member): verify and ingest find every file
#    whole, the report naming exactly the lost drives' files and the large
#    one rebuilt from parity, the parity files not "extra", and 0 more
#    drives to spare; DEST holds every file byte for byte;
#  - parity drive 1 not given either (3 drives lost): exactly the lost
#    data drives' files are named unrecoverable (their stripes lost 3
#    members), the others staged (the large file still rebuilt: its
#    stripe lost 2);
#  - valise status, once drives 1 and 2 and then the parity drives were
#    ingested (each matched by its file system UUID: the run records name
#    it): drives 3 and 4 "not needed: parity covers it", and drives 1, 2,
#    5 and 6 named to plug in together; the parity drives alone rebuilt
#    nothing of drives 3 and 4 (the files of 1 and 2 already in DEST are
#    no stripe members); the four together complete the shipment.
# About 110 MB of images in /dev/shm; 10-20 s.
source "$(dirname "$0")/lib.sh"
need_root

W=$VALISE_WORK
NP=--no-progress
DS=$W/dataset
mkdir -p "$DS/small"
gen_file "$DS/big.bin" $((24 * 1048576)) big
for i in $(seq 1 12); do
  gen_file "$DS/small/s$i.bin" $((3 * 1048576)) "small$i"
done
find "$DS" -exec touch -h -d "@$E2E_MTIME" {} +

drives=()
for i in 1 2 3 4 5 6; do
  make_drive "r$i" 40 ext4
  drives+=("${MNT[r$i]}")
done

log "pack 4 + 2"
expect_exit 0 "$VALISE" pack $NP "$DS" --drives "${drives[@]}" --parity 2 \
  -o "$W/M"
assert_contains "$W/M.layout" "drive data 1 files=1 bytes=25165824 chunks=24"
lost_files=$( (layout_files "$W/M.layout" 3; layout_files "$W/M.layout" 4) |
  sort)
[[ $(wc -l <<<"$lost_files") == 8 ]] || fail "drives 3, 4: $lost_files"

log "corrupt chunk 20 of big.bin on drive 1"
printf 'XXXXXXXX' | dd of="${MNT[r1]}/big.bin" bs=1 seek=$((20 * 1048576 + 4096)) \
  conv=notrunc status=none
sync
given=("${MNT[r1]}" "${MNT[r2]}" "${MNT[r5]}" "${MNT[r6]}")

log "verify with drives 3 and 4 not given"
expect_exit 1 "$VALISE" verify $NP -m "$W/M" --json "${given[@]}"
j=$W/verify.json
cp "$LAST_OUT" "$j"
rebuilt=$(json "$j" rows files path parity | awk -F'\t' '$2 == "rebuilt" { print $1 }' | sort -u)
assert_eq "$(printf '%s\nbig.bin' "$lost_files" | sort)" "$rebuilt" \
  "verify: files rebuilt from parity"
assert_eq "13" "$(json "$j" get totals.files_ok)" "verify: files ok"
assert_eq "0" "$(json "$j" get totals.by_status.extra)" "verify: extra files"
assert_eq "0" "$(json "$j" get parity.spare_drives)" "verify: spare drives"
assert_eq "2" "$(json "$j" len parity.drives_lost)" "verify: drives lost"
expect_exit 1 "$VALISE" verify $NP -m "$W/M" "${given[@]}"
# A packed drive is named by its label (M.drives), its path beneath.
assert_contains "$LAST_OUT" "big.bin (on r1): corrupt"
assert_contains "$LAST_OUT" "r1: ${MNT[r1]}"
assert_contains "$LAST_OUT" "rebuilt from parity"
assert_contains "$LAST_OUT" "9 files rebuilt from parity"
assert_contains "$LAST_OUT" "the shipment could still lose 0 more drives"

log "ingest with drives 3 and 4 not given"
expect_exit 1 "$VALISE" ingest $NP -m "$W/M" -d "$W/dest" --json "${given[@]}"
j=$W/ingest.json
cp "$LAST_OUT" "$j"
rebuilt=$(json "$j" rows files path parity | awk -F'\t' '$2 == "rebuilt" { print $1 }' | sort -u)
assert_eq "$(printf '%s\nbig.bin' "$lost_files" | sort)" "$rebuilt" \
  "ingest: files rebuilt from parity"
assert_eq "13" "$(json "$j" get totals.files_ok)" "ingest: files staged"
diff -r "$DS" "$W/dest" -x .valise >/dev/null ||
  fail "ingest: DEST differs from the dataset"

log "ingest with parity drive 1 lost too: 3 drives"
expect_exit 1 "$VALISE" ingest $NP -m "$W/M" -d "$W/dest3" --json \
  "${MNT[r1]}" "${MNT[r2]}" "${MNT[r6]}"
j=$W/ingest3.json
cp "$LAST_OUT" "$j"
gone=$(json "$j" rows files path parity | awk -F'\t' '$2 == "unrecoverable" { print $1 }' | sort -u)
assert_eq "$lost_files" "$gone" "ingest: the unrecoverable files"
assert_eq "5" "$(json "$j" get totals.files_ok)" "ingest of 3 lost: staged"
for f in big.bin $(layout_files "$W/M.layout" 2); do
  cmp -s "$DS/$f" "$W/dest3/$f" || fail "ingest of 3 lost: $f not staged whole"
done
for f in $lost_files; do
  [[ ! -e "$W/dest3/$f" ]] || fail "ingest of 3 lost: $f staged"
done

log "status: drives matched by identity, parity counted"
D=$W/dest-status
expect_exit 1 "$VALISE" ingest $NP -m "$W/M" -d "$D" "${MNT[r2]}" "${MNT[r1]}"
expect_exit 1 "$VALISE" status -m "$W/M" "$D"
# r1 too: its copy of big.bin is corrupt, and no parity was given.
assert_contains "$LAST_OUT" "bring: r1, r3, r4"
assert_not_contains "$LAST_OUT" "parity covers"
log "the parity drives alone rebuild nothing of 3 and 4 (r1, r2 are in DEST)"
expect_exit 1 "$VALISE" ingest $NP -m "$W/M" -d "$D" "${MNT[r6]}" "${MNT[r5]}"
for f in $lost_files; do
  [[ ! -e "$D/$f" ]] || fail "parity alone: $f staged"
done
expect_exit 1 "$VALISE" status -m "$W/M" "$D"
assert_contains "$LAST_OUT" "r3 is not needed: parity covers it"
assert_contains "$LAST_OUT" "r4 is not needed: parity covers it"
assert_contains "$LAST_OUT" "bring together, in one ingest run: r1, r2, r5, r6"
expect_exit 1 "$VALISE" ingest $NP -m "$W/M" -d "$D" "${MNT[r1]}" "${MNT[r2]}" \
  "${MNT[r5]}" "${MNT[r6]}"
expect_exit 0 "$VALISE" status -m "$W/M" "$D"
assert_contains "$LAST_OUT" "complete: every file arrived"
log "ok"
