#!/usr/bin/env bash
# Goal: a file carried on two ext4 drives, one copy corrupted on the device
# (bit rot under the file system, page cache dropped), is staged from the
# good copy. Whichever copy valise reads first, the staged file equals the
# good one, and the report either shows no corrupt copy (the good one was
# read first, exit 0) or lists the corrupt copy on its drive with
# repaired_from = the other drive (exit 1). Both orders run (the corrupt
# copy on A, then on B), and at least one of them must exercise the
# repair. Finally, with both copies corrupt in the same chunk (corrupt in
# different chunks, ingest makes the file whole from the good chunks of
# both: e2e_ingest_chunk_repair), the file is never given its final name,
# both copies are reported, and every other file is staged.
source "$(dirname "$0")/ingest_lib.sh"
need_root

MiB=1048576
make_drive A 64 ext4
make_drive B 64 ext4
make_drive D 128 ext4
A=${MNT[A]}
B=${MNT[B]}
F=shared.bin
OFF=$((3 * MiB + 77))

# shared.bin, the largest file, on both drives; each drive has files of its
# own too, so the plan has something to balance.
gen_file "$A/$F" $((6 * MiB + 100)) shared
gen_file "$A/a-only/one.bin" $((2 * MiB)) a-one
gen_file "$A/a-only/two.bin" 5000 a-two
gen_file "$B/b-only/one.bin" $((MiB + 1)) b-one
find "$A" "$B" -path '*/lost+found' -prune -o -exec touch -h -d "@$E2E_MTIME" {} +
cp -a "$A/$F" "$B/$F"
M="$VALISE_WORK/dataset.valise"
expect_exit 0 "$VALISE" manifest "$A" "$B" -o "$M"
GOOD_SUM=$(sha256sum <"$A/$F" | cut -c1-64)

repairs=0
# ingest_with_bad_copy NAME BAD GOOD: BAD's copy of $F is corrupt.
ingest_with_bad_copy() {
  local name=$1 bad=$2 good=$3 dest="${MNT[D]}/$1" rows nbad status path drive from
  log "run $name: the copy on $bad is corrupt"
  flip_byte "$bad/$F" "$OFF"
  drop_caches
  run_rc "$VALISE" ingest -m "$M" -d "$dest" --no-progress --json "$A" "$B"
  local j="$VALISE_WORK/$name.json"
  cp "$LAST_OUT" "$j"
  json "$j" check || fail "run $name: --json output is not JSON"
  assert_eq "$RC" "$(json "$j" get exit_code)" "run $name: exit_code field"

  # The staged file is the good content, whatever happened.
  cmp -s "$good/$F" "$dest/$F" || fail "run $name: staged $F is not the good copy"
  assert_eq "$GOOD_SUM" "$(sha256sum <"$dest/$F" | cut -c1-64)" \
    "run $name: sha256 of the staged $F"
  check_complete "$dest" "$good" "$bad"
  assert_eq 0 "$(staging_left "$dest")" "run $name: entries left in staging"

  rows=$(json "$j" rows files status path drive repaired_from)
  nbad=$(awk -F'\t' '$1 != "ok"' <<<"$rows" | wc -l)
  if ((nbad == 0)); then
    # The good copy was read first: the corrupt one was never needed.
    assert_eq 0 "$RC" "run $name: exit status with no problem reported"
    log "run $name: the good copy on $good was read first; no repair"
  else
    assert_eq 1 "$nbad" "run $name: problem rows"
    IFS=$'\t' read -r status path drive from < <(awk -F'\t' '$1 != "ok"' <<<"$rows")
    assert_eq corrupt "$status" "run $name: status of the bad copy"
    assert_eq "$F" "$path" "run $name: path of the bad copy"
    assert_eq "$bad" "$(drive_of_row "$drive" "$j")" "run $name: bad copy's drive"
    [[ "$from" != "-" && "$from" != "null" ]] ||
      fail "run $name: the corrupt copy has no repaired_from"
    assert_eq "$good" "$(drive_of_row "$from" "$j")" "run $name: repaired_from"
    # A repair still counts: a drive carried bad data (docs/report.md).
    assert_eq 1 "$RC" "run $name: exit status after a repair"
    assert_eq 1 "$(json "$j" get totals.by_status.corrupt)" \
      "run $name: totals.by_status.corrupt"
    repairs=$((repairs + 1))
    log "run $name: read the corrupt copy on $bad, repaired from $good"
  fi
  # The ok row of F names the good drive: its copy is the one staged.
  drive=$(awk -F'\t' -v f="$F" '$1 == "ok" && $2 == f {print $3}' <<<"$rows")
  assert_eq "$good" "$(drive_of_row "$drive" "$j")" "run $name: drive of ok $F"
  assert_eq "$(union_files "$A" "$B" | wc -l)" \
    "$(json "$j" get totals.files_ok)" "run $name: totals.files_ok"
  drop_caches
  expect_exit 0 "$VALISE" verify -m "$M" --no-progress "$dest"
  flip_byte "$bad/$F" "$OFF"  # restored: the same flip undoes it
}

ingest_with_bad_copy a-bad "$A" "$B"
ingest_with_bad_copy b-bad "$B" "$A"
((repairs >= 1)) || fail "neither order read the corrupt copy first: the " \
  "repair path was not exercised"
log "$repairs of 2 runs repaired $F from the other drive"

log "both copies corrupt in the same chunk: the file is not staged"
flip_byte "$A/$F" "$OFF"
flip_byte "$B/$F" $((OFF + 1))
drop_caches
DEST=${MNT[D]}/both-bad
J="$VALISE_WORK/both-bad.json"
expect_exit 1 "$VALISE" ingest -m "$M" -d "$DEST" --no-progress --json "$A" "$B"
cp "$LAST_OUT" "$J"
[[ ! -e "$DEST/$F" ]] || fail "$F was given its final name with no good copy"
assert_eq 0 "$(staging_left "$DEST")" "entries left in staging"
actual=$(json "$J" rows files status path drive repaired_from |
  while IFS=$'\t' read -r status path drive from; do
    [[ "$status" == ok ]] && continue
    printf '%s\t%s\t%s\t%s\n' "$status" "$path" "$(drive_of_row "$drive" "$J")" \
      "$from"
  done | LC_ALL=C sort)
expected=$(printf '%s\t%s\t%s\t%s\n' corrupt "$F" "$A" null corrupt "$F" "$B" null |
  LC_ALL=C sort)
# A missing repaired_from may print as null or "-".
actual=${actual//$'\t-'/$'\tnull'}
assert_eq "$expected" "$actual" "problem rows with both copies corrupt"
# Every other file is staged and intact.
assert_eq "$(union_files "$A" "$B" | grep -vxF "$F")" "$(dest_files "$DEST")" \
  "files staged with both copies of $F corrupt"
check_dest "$DEST" "$A" "$B"

log "PASS"
