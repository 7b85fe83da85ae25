#!/usr/bin/env bash
# Goal: trouble is exit 2 with a message that names the culprit: a SRC
# that does not exist (its path), a manifest that does not exist, a
# manifest cut short (its "# end" trailer gone, or cut mid-line:
# "truncated"), a manifest entry with an unsafe path ("../x", "/etc/x":
# the manifest's name and line number), a duplicate entry, an unknown
# option, no SRC, and two SRCs giving one path different contents (both
# named). Runs as any user: the drives are plain directories.
source "$(dirname "$0")/lib.sh"

W=$VALISE_WORK
make_drive D 0 dir
D=${MNT[D]}
gen_file "$D/a.txt" 1000 a
gen_file "$D/b.txt" 2000 b
gen_file "$D/sub/c.txt" 3000 c
M="$W/good.valise"
expect_exit 0 "$VALISE" manifest "$D" -o "$M"
expect_exit 0 "$VALISE" verify -m "$M" --no-progress "$D"

log "a SRC that does not exist"
expect_exit 2 "$VALISE" verify -m "$M" --no-progress "$D" "$W/no-such-drive"
assert_contains "$LAST_ERR" "$W/no-such-drive"

log "a manifest that does not exist"
expect_exit 2 "$VALISE" verify -m "$W/no-such.valise" --no-progress "$D"
assert_contains "$LAST_ERR" "$W/no-such.valise"

log "a manifest without its trailer"
grep -v '^# end' "$M" >"$W/cut.valise"
expect_exit 2 "$VALISE" verify -m "$W/cut.valise" --no-progress "$D"
assert_matches "$LAST_ERR" 'truncated'
log "a manifest cut in the middle of a line"
head -c $(($(wc -c <"$M") / 2)) "$M" >"$W/half.valise"
expect_exit 2 "$VALISE" verify -m "$W/half.valise" --no-progress "$D"

# Line numbers of the entries (not the header, comments or trailer).
first_entry=$(awk 'NR > 1 && !/^#/ {print NR; exit}' "$M")
[[ -n "$first_entry" ]] || fail "no entry line in $M"

# with_path NAME LINE NEWPATH: M with the path of line LINE replaced.
with_path() {
  awk -F'\t' -v OFS='\t' -v n="$2" -v p="$3" 'NR == n {$NF = p} {print}' \
    "$M" >"$W/$1"
}
for bad in "../x" "/etc/x" "a/../../x"; do
  log "an entry with the path $bad"
  with_path unsafe.valise "$first_entry" "$bad"
  expect_exit 2 "$VALISE" verify -m "$W/unsafe.valise" --no-progress "$D"
  # The message names the manifest and the line: "unsafe.valise:4".
  assert_matches "$LAST_ERR" "unsafe\\.valise:$first_entry([^0-9]|\$)"
done

log "a duplicate entry"
# The entry twice, and a trailer that counts it twice, so only the
# duplicate is wrong.
awk -F'\t' -v n="$first_entry" '
  NR == n { dup = $0; size = $1 }
  /^# end / {
    split($0, w, " "); split(w[3], f, "="); split(w[4], b, "=")
    $0 = "# end files=" f[2] + 1 " bytes=" b[2] + size
  }
  { print }
  NR == n { print dup }' "$M" >"$W/dup.valise"
head -n 4 "$M" | grep -q '^# columns size ' ||
  fail "the size is not the first column of $M"
expect_exit 2 "$VALISE" verify -m "$W/dup.valise" --no-progress "$D"
assert_matches "$LAST_ERR" duplicate
assert_contains "$LAST_ERR" "a.txt"

log "usage errors"
expect_exit 2 "$VALISE" verify -m "$M" --no-such-option "$D"
expect_exit 2 "$VALISE" verify -m "$M" --no-progress
expect_exit 2 "$VALISE" verify --no-progress "$D"
expect_exit 2 "$VALISE" no-such-command

log "one path, two contents"
make_drive E 0 dir
E=${MNT[E]}
gen_file "$E/a.txt" 1000 not-a
expect_exit 2 "$VALISE" manifest "$D" "$E" -o "$W/conflict.valise"
assert_contains "$LAST_ERR" "a.txt"
assert_contains "$LAST_ERR" "$D"
assert_contains "$LAST_ERR" "$E"

log "PASS"
