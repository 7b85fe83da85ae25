#!/usr/bin/env bash
# Goal: `valise verify` checks every copy on real drives (an ext4 and an
# xfs file system on loop devices, holding overlapping parts of a dataset)
# against a manifest made from both: all ok exits 0; then a byte flipped
# on the device under a file only on A, a byte flipped in A's copy of a
# file B also holds, a truncated file, a deleted file and an added one
# exit 1, and the --json report names each with its status, drive and,
# for corruption, the offset of the first bad 1 MiB chunk.
source "$(dirname "$0")/lib.sh"
need_root

MiB=1048576
make_drive A 64 ext4
make_drive B 300 xfs
A=${MNT[A]}
B=${MNT[B]}

# A holds the whole varied dataset; B holds copies of some of A's files
# (same bytes and mtimes) and two files of its own.
fill_dataset "$A"
mkdir -p "$B/dir"
cp -a "$A/big2.bin" "$A/exact-1MiB.bin" "$B/"
cp -a "$A/dir/nested" "$B/dir/"
gen_file "$B/b-only/one.bin" $((2 * MiB + 3)) b-one
gen_file "$B/b-only/two.bin" 65536 b-two
touch -d "@$E2E_MTIME" "$B/b-only/one.bin" "$B/b-only/two.bin"

M="$VALISE_WORK/dataset.valise"
expect_exit 0 "$VALISE" manifest "$A" "$B" -o "$M"
[[ -s "$M.chunks" ]] || fail "manifest wrote no chunk index $M.chunks"
assert_eq "valise-manifest 1" "$(head -n1 "$M")" "manifest first line"
# The manifest holds the union of both drives, once each.
n_union=$(cat <(list_files "$A") <(list_files "$B") | LC_ALL=C sort -u | wc -l)
bytes_union=$( (cd "$A" && find . -type f -printf '%P\t%s\n'
  cd "$B" && find . -type f -printf '%P\t%s\n') | LC_ALL=C sort -u |
  awk -F'\t' '{s += $2} END {print s}')
assert_eq "# end files=$n_union bytes=$bytes_union" "$(tail -n1 "$M")" \
  "manifest trailer"
assert_eq "$(sha256sum <"$A/big1.bin" | cut -c1-64)" \
  "$(manifest_field "$M" big1.bin sha256)" "sha256 of big1.bin"
assert_eq "$((5 * MiB + 12345))" "$(manifest_field "$M" big1.bin size)" \
  "size of big1.bin"

log "intact drives verify clean"
drop_caches
expect_exit 0 "$VALISE" verify -m "$M" --no-progress "$A" "$B"
expect_exit 0 "$VALISE" verify -m "$M" --no-progress --json "$A" "$B"
json "$LAST_OUT" check || fail "--json output is not JSON"
json "$LAST_OUT" get totals >/dev/null || fail "no totals in the report"
assert_eq 2 "$(json "$LAST_OUT" len drives)" "drives in the report"
bad=$(json "$LAST_OUT" rows files status path | awk -F'\t' '$1 != "ok"')
assert_eq "" "$bad" "problem files on intact drives"

log "damaging the drives"
flip_byte "$A/big1.bin" $((3 * MiB + 77))   # only on A
flip_byte "$A/big2.bin" $((2 * MiB + 5))    # B's copy stays good
truncate -s -100 "$A/with space/file name.dat"
rm "$B/b-only/two.bin"                      # only on B: now missing
gen_file "$A/extra/new.bin" 1234 extra      # in no manifest
drop_caches

R="$VALISE_WORK/report.json"
expect_exit 1 "$VALISE" verify -m "$M" --no-progress --json --report "$R" \
  "$A" "$B"
J="$VALISE_WORK/stdout.json"
cp "$LAST_OUT" "$J"
json "$J" check || fail "--json output is not JSON"
json "$R" check || fail "--report $R is not JSON"
assert_eq "$(json "$J" rows files path status)" \
  "$(json "$R" rows files path status)" "--report file vs --json output"

# Every problem, each on its drive (the missing file is on none), and
# nothing else: any other non-ok row is a false alarm.
actual=$(json "$J" rows files status path drive | while IFS=$'\t' read -r \
  status path drive; do
  [[ "$status" == ok ]] && continue
  if [[ "$status" == missing ]]; then
    drive="*"
  else
    drive=$(drive_of_row "$drive" "$J")
  fi
  printf '%s\t%s\t%s\n' "$status" "$path" "$drive"
done | LC_ALL=C sort)
expected=$(printf '%s\t%s\t%s\n' \
  corrupt big1.bin "$A" \
  corrupt big2.bin "$A" \
  size-mismatch "with space/file name.dat" "$A" \
  missing b-only/two.bin "*" \
  extra extra/new.bin "$A" | LC_ALL=C sort)
if [[ "$actual" != "$expected" ]]; then
  fail "problems reported:"$'\n'"$actual"$'\n'"expected:"$'\n'"$expected"
fi

# First bad offset: the start of the 1 MiB chunk holding the flipped byte.
offsets=$(json "$J" rows files status path first_bad_offset |
  awk -F'\t' '$1 == "corrupt" {print $2 "=" $3}' | LC_ALL=C sort)
assert_eq "big1.bin=$((3 * MiB))"$'\n'"big2.bin=$((2 * MiB))" "$offsets" \
  "first_bad_offset of the corrupt copies"

# The human summary names the problem files too.
drop_caches
expect_exit 1 "$VALISE" verify -m "$M" --no-progress "$A" "$B"
assert_contains "$LAST_ALL" "big1.bin"
assert_contains "$LAST_ALL" "b-only/two.bin"

log "PASS"
