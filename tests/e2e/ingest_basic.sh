#!/usr/bin/env bash
# Goal: `valise ingest` stages a dataset carried on three ext4 drives
# (loop devices), with redundant copies, one content under two paths,
# nested directories, a non-UTF-8 name and an empty file, onto an ext4
# DEST: exit 0; every file in DEST equals its source byte for byte, with
# its mode and mtime (ns); nothing is left in DEST/.valise/staging; `valise
# verify` of DEST passes; a rerun skips every file (files_skipped_resume)
# and reads no byte from any drive.
source "$(dirname "$0")/ingest_lib.sh"
need_root

MiB=1048576
make_drive A 64 ext4
make_drive B 64 ext4
make_drive C 64 ext4
make_drive D 128 ext4
A=${MNT[A]}
B=${MNT[B]}
C=${MNT[C]}
DEST=${MNT[D]}/stage

# A: the varied dataset (a non-UTF-8 name, an empty file, nested dirs...),
# with a few modes and nanosecond mtimes that must survive.
fill_dataset "$A"
chmod 0640 "$A/big2.bin"
chmod 0755 "$A/dir/nested/deeper/deep.bin"
chmod 0600 "$A/small/s3.dat"
touch -d '@1700000000.123456789' "$A/small/s4.dat"
touch -d '@1600000000.987654321' "$A/exact-1MiB.bin"
# B: redundant copies of A's files (same bytes, mode, mtime), the same
# content as A's big1.bin under another path, and files of its own.
mkdir -p "$B/dir"
cp -a "$A/big2.bin" "$A/exact-1MiB.bin" "$B/"
cp -a "$A/dir/nested" "$B/dir/"
cp -a "$A/big1.bin" "$B/also-big1.bin"
gen_file "$B/b-only/one.bin" $((2 * MiB + 3)) b-one
touch -d "@$E2E_MTIME" "$B/b-only/one.bin"
# C: more copies (a third copy of big2.bin) and a deeper tree of its own.
cp -a "$A/big2.bin" "$A/small" "$C/"
gen_file "$C/c-only/x/y/z/leaf.bin" $((MiB + 4097)) c-leaf
gen_file "$C/c-only/x/mid.bin" 12345 c-mid
chmod 0444 "$C/c-only/x/mid.bin"
find "$C/c-only" -exec touch -h -d "@$E2E_MTIME" {} +

M="$VALISE_WORK/dataset.valise"
expect_exit 0 "$VALISE" manifest "$A" "$B" "$C" -o "$M"
n_files=$(union_files "$A" "$B" "$C" | wc -l)
assert_eq "$n_files" "$(awk '!/^#/ && NR > 1' "$M" | wc -l)" \
  "manifest entries"
log "dataset: $n_files files on 3 drives"

drop_caches
R1="$VALISE_WORK/first.json"
expect_exit 0 "$VALISE" ingest -m "$M" -d "$DEST" --no-progress \
  --report "$R1" "$A" "$B" "$C"
json "$R1" check || fail "--report $R1 is not JSON"
assert_eq 0 "$(json "$R1" get exit_code)" "exit_code in the report"
assert_eq "$n_files" "$(json "$R1" get totals.files_ok)" "totals.files_ok"
assert_eq 0 "$(json "$R1" get totals.files_skipped_resume)" \
  "totals.files_skipped_resume of the first run"
bad=$(json "$R1" rows files status path | awk -F'\t' '$1 != "ok"')
assert_eq "" "$bad" "problem files in the first run"
# Every byte staged was read from some drive.
read_total=$(json "$R1" rows drives bytes_read | awk '{s += $1} END {print s}')
((read_total > 0)) || fail "the first run read nothing"

check_complete "$DEST" "$A" "$B" "$C"
assert_eq "$n_files" "$CHECKED_FILES" "files checked in DEST"
assert_eq 0 "$(staging_left "$DEST")" "entries left in DEST/.valise/staging"
[[ -s "$DEST/.valise/journal" ]] || fail "no journal in DEST/.valise"
# The non-UTF-8 name and the empty file are there under their raw names.
[[ -f "$DEST/latin1-caf"$'\xe9'".bin" ]] || fail "non-UTF-8 name not staged"
[[ -f "$DEST/empty.txt" && ! -s "$DEST/empty.txt" ]] ||
  fail "empty.txt not staged as an empty file"
log "DEST matches the sources: $CHECKED_FILES files"

drop_caches
expect_exit 0 "$VALISE" verify -m "$M" --no-progress "$DEST"

log "a rerun skips everything and reads nothing"
drop_caches
R2="$VALISE_WORK/rerun.json"
expect_exit 0 "$VALISE" ingest -m "$M" -d "$DEST" --no-progress --json \
  "$A" "$B" "$C"
cp "$LAST_OUT" "$R2"
json "$R2" check || fail "--json output of the rerun is not JSON"
assert_eq "$n_files" "$(json "$R2" get totals.files_skipped_resume)" \
  "totals.files_skipped_resume of the rerun"
assert_eq 3 "$(json "$R2" len drives)" "drives in the rerun's report"
reads=$(json "$R2" rows drives source bytes_read)
while IFS=$'\t' read -r src bytes; do
  assert_eq 0 "$bytes" "bytes_read from $src by the rerun"
done <<<"$reads"
check_complete "$DEST" "$A" "$B" "$C"
assert_eq 0 "$(staging_left "$DEST")" "entries left in staging after rerun"

log "PASS"
