#!/usr/bin/env bash
# Goal: valise speaks the checksum tools' formats both ways. Its
# --format sha256sum/md5sum/sha1sum/sha512sum/xxhsum output passes the
# real tool's -c; files made by the real tools (sha256sum with "./" names
# and backslash escapes, the BSD --tag form, md5sum, sha1sum, sha512sum,
# xxhsum -H2, hashdeep -l -r) verify with valise, exit 0 on the intact
# drive and 1 once a byte of one file is flipped.
source "$(dirname "$0")/lib.sh"
need_root

make_drive D 64 ext4
D=${MNT[D]}
fill_dataset "$D"
W=$VALISE_WORK

log "valise writes, the tools check"
for tool in sha256sum md5sum sha1sum sha512sum xxhsum; do
  S="$W/valise.$tool"
  expect_exit 0 "$VALISE" manifest "$D" --no-chunks --format "$tool" -o "$S"
  [[ ! -e "$S.chunks" ]] || fail "--no-chunks wrote $S.chunks"
  assert_eq "$(list_files "$D" | wc -l)" "$(wc -l <"$S")" "lines in $S"
  if [[ "$tool" == xxhsum ]]; then
    # xxhsum 0.8.1 neither writes nor reads GNU's backslash-escaped lines
    # (it prints such names raw): check the other lines with it.
    LC_ALL=C grep -av '^\\' "$S" >"$S.unescaped"
    S="$S.unescaped"
  fi
  (cd "$D" && expect_exit 0 "$tool" -c --quiet "$S")
done

log "the tools write, valise checks"
# Paths as `find .` gives them ("./x") and escaped names (GNU prefixes a
# line with '\' when its name holds a backslash).
(cd "$D" && find . -type f -exec sha256sum {} + >"$W/find.sha256")
LC_ALL=C grep -aq '^\\' "$W/find.sha256" || fail "no escaped line in $W/find.sha256"
# Paths relative to the drive root (find -printf %P) in the other files.
sums_of() {
  (cd "$D" && find . -type f -printf '%P\0' | LC_ALL=C sort -z |
    xargs -0 "$@")
}
sums_of sha256sum --tag >"$W/bsd.sha256"
sums_of md5sum >"$W/plain.md5"
sums_of sha1sum >"$W/plain.sha1"
sums_of sha512sum >"$W/plain.sha512"
sums_of xxhsum -H2 >"$W/plain.xxh128"
(cd "$D" && hashdeep -l -r . >"$W/tree.hashdeep")
imports=(find.sha256 bsd.sha256 plain.md5 plain.sha1 plain.sha512
  plain.xxh128 tree.hashdeep)
for f in "${imports[@]}"; do
  [[ -s "$W/$f" ]] || fail "the tool wrote nothing to $f"
  expect_exit 0 "$VALISE" verify -m "$W/$f" --no-progress "$D"
done
# --format forces the reader.
expect_exit 0 "$VALISE" verify -m "$W/plain.md5" --format md5sum \
  --no-progress "$D"
expect_exit 0 "$VALISE" verify -m "$W/plain.xxh128" --format xxhsum \
  --no-progress "$D"

log "one flipped byte fails every format"
flip_byte "$D/dir/nested/deeper/deep.bin" 1234567
for f in "${imports[@]}"; do
  drop_caches
  expect_exit 1 "$VALISE" verify -m "$W/$f" --no-progress --json "$D"
  rows=$(json "$LAST_OUT" rows files status path | awk -F'\t' '$1 != "ok"')
  assert_eq "corrupt"$'\t'"dir/nested/deeper/deep.bin" "$rows" \
    "problems found with $f"
done

log "PASS"
