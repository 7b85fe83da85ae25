#!/usr/bin/env bash
# Goal: the signed chunk index (issue 15, item 1) through the binary, on
# plain directories (no root needed; a few seconds).
#  - valise manifest writes M.chunks (chunk index v2: 64-byte header, 32
#    bytes a chunk) and binds it in M ("# bind chunks bytes=N sha256=HEX",
#    the sha256sum of M.chunks) just before "# end"; --chunk-size is
#    recorded; --no-chunks writes neither.
#  - sign refuses a manifest whose bound index was altered (a missing one
#    is a warning); verify --pubkey of the signed manifest passes; a tampered M.chunks
#    with M's valid signature, a truncated one, and another manifest's
#    index are each exit 2 before any reading, naming M.chunks and M; a
#    missing one is a warning.
#  - a corrupt file is located to its exact chunks (JSON corrupt_ranges),
#    by verify and by ingest, in the index's chunk size.
#  - the chunk digests decide, verify and ingest: with --pubkey
#    checked_by signed-chunk-digests (summary "checked by: signed chunk
#    digests"), without it chunk-digests (the summary says the signature
#    was not checked); with --hash-only the whole-file digests do
#    (file-digests).
#  - a manifest with an unbound v1 text index is read as before.
source "$(dirname "$0")/../e2e/lib.sh"

W=$VALISE_WORK
NP=--no-progress
MiB=1048576
D=$W/drive
mkdir -p "$D/dir"
gen_file "$D/big.bin" $((5 * MiB + 12345)) big
gen_file "$D/dir/small.bin" 5000 small
gen_file "$D/exact.bin" $((2 * MiB)) exact
: >"$D/empty"
M=$W/set.vm

log "manifest writes and binds the chunk index"
expect_exit 0 "$VALISE" manifest "$D" -o "$M" $NP
[[ -f "$M.chunks" ]] || fail "no $M.chunks"
assert_eq "valise-chunks 2" "$(head -n1 "$M.chunks")" "magic"
# Chunks at 1 MiB: big 6, empty 0, exact 2, small 1 (manifest order).
assert_eq $((64 + 32 * 9)) "$(stat -c %s "$M.chunks")" "index length"
bind_line="# bind chunks bytes=$((64 + 32 * 9)) sha256=$(sha256sum <"$M.chunks" | cut -c1-64)"
assert_eq "$bind_line" "$(tail -n3 "$M" | head -n1)" "bind line before # end"
# The header: chunk size, files, bytes, chunks, reserved.
assert_eq "1048576 4 $((7 * MiB + 12345 + 5000)) 9 0" \
  "$(head -c 64 "$M.chunks" | od -A n -t u8 -j 24 | xargs)" "header fields"
# The first chunk's digest is the SHA-256 of big.bin's first MiB.
assert_eq "$(head -c $MiB "$D/big.bin" | sha256sum | cut -c1-64)" \
  "$(tail -c +65 "$M.chunks" | head -c 32 | od -A n -t x1 | tr -d ' \n')" \
  "digest of big.bin's chunk 0"

log "--chunk-size is recorded; --no-chunks writes no index and no binding"
M4=$W/set4k.vm
expect_exit 0 "$VALISE" manifest "$D" -o "$M4" --chunk-size 4 $NP
assert_eq 4096 "$(head -c 32 "$M4.chunks" | od -A n -t u8 -j 24 | xargs)" \
  "chunk size in the header"
MN=$W/nochunks.vm
expect_exit 0 "$VALISE" manifest "$D" -o "$MN" --no-chunks $NP
[[ ! -e "$MN.chunks" ]] || fail "--no-chunks wrote $MN.chunks"
assert_not_contains "$MN" "# bind chunks"

log "sign checks the bound index first"
expect_exit 0 "$VALISE" keygen -o "$W/key"
cp "$M.chunks" "$W/keep.chunks"
printf '\x01' | dd of="$M.chunks" bs=1 seek=70 conv=notrunc status=none
expect_exit 2 "$VALISE" sign -k "$W/key" "$M"
assert_contains "$LAST_ERR" "not signing $M"
assert_contains "$LAST_ERR" "$M.chunks"
[[ ! -e "$M.sig" ]] || fail "sign wrote $M.sig over a tampered index"
rm "$M.chunks"
expect_exit 0 "$VALISE" sign -k "$W/key" "$M"
assert_contains "$LAST_ERR" "ship it beside"
mv "$W/keep.chunks" "$M.chunks"

log "signed again (--force replaces the signature made without the index): verify --pubkey passes"
expect_exit 0 "$VALISE" sign --force -k "$W/key" "$M"
expect_exit 0 "$VALISE" verify -m "$M" --pubkey "$W/key.pub" $NP "$D"

# refused WHAT: verify --pubkey and ingest exit 2 naming M.chunks and M,
# and ingest makes no DEST.
refused() {
  expect_exit 2 "$VALISE" verify -m "$M" --pubkey "$W/key.pub" $NP "$D"
  assert_contains "$LAST_ERR" "$M.chunks"
  assert_contains "$LAST_ERR" "binds"
  expect_exit 2 "$VALISE" verify -m "$M" $NP "$D"
  expect_exit 2 "$VALISE" ingest -m "$M" --pubkey "$W/key.pub" $NP \
    -d "$W/dest-refused" "$D"
  [[ ! -e "$W/dest-refused" ]] || fail "ingest made DEST with $1"
}
cp "$M.chunks" "$W/good.chunks"

log "a tampered index beside a validly signed manifest"
printf '\x00' | dd of="$M.chunks" bs=1 seek=200 conv=notrunc status=none
cmp -s "$M.chunks" "$W/good.chunks" && fail "the index was not altered"
refused tampered
assert_contains "$LAST_ERR" "altered, or belongs to another manifest"

log "a truncated index"
head -c 200 "$W/good.chunks" >"$M.chunks"
refused truncated

log "another manifest's index"
gen_file "$W/other/x.bin" $((9 * 32 * 1024)) other
expect_exit 0 "$VALISE" manifest "$W/other" -o "$W/other.vm" $NP
cp "$W/other.vm.chunks" "$M.chunks"
refused "another manifest's index"

log "a missing index: found, not located (a warning)"
rm "$M.chunks"
expect_exit 0 "$VALISE" verify -m "$M" --pubkey "$W/key.pub" $NP "$D"
assert_contains "$LAST_ERR" "not located"
cp "$W/good.chunks" "$M.chunks"

log "corrupt chunks located exactly, in the index's chunk size"
cp -a "$D" "$W/bad"
flip_byte "$W/bad/big.bin" $((2 * MiB + 7))
flip_byte "$W/bad/big.bin" $((3 * MiB + 9))
flip_byte "$W/bad/big.bin" $((5 * MiB + 100))
expect_exit 1 "$VALISE" verify -m "$M" --pubkey "$W/key.pub" $NP --json \
  --chunk-size 4096 "$W/bad"
R=$W/verify.json
cp "$LAST_OUT" "$R"
assert_eq "$MiB" "$(json "$R" get chunk_size)" "chunk size of the run"
assert_eq signed-chunk-digests "$(json "$R" get checked_by)" \
  "--pubkey: the signed chunk digests decide"
assert_eq "big.bin"$'\t'"corrupt" "$(json "$R" rows files path status)" \
  "problem rows"
assert_eq $((2 * MiB)) "$(json "$R" get files.0.first_bad_offset)" "first bad"
assert_eq 2 "$(json "$R" len files.0.corrupt_ranges)" "corrupt ranges"
assert_eq "$((2 * MiB)) $((2 * MiB))" \
  "$(json "$R" get files.0.corrupt_ranges.0.offset) $(json "$R" get files.0.corrupt_ranges.0.length)" \
  "range 0 (chunks 2 and 3)"
assert_eq "$((5 * MiB)) 12345" \
  "$(json "$R" get files.0.corrupt_ranges.1.offset) $(json "$R" get files.0.corrupt_ranges.1.length)" \
  "range 1 (the short last chunk)"
expect_exit 1 "$VALISE" ingest -m "$M" --pubkey "$W/key.pub" $NP --json \
  -d "$W/dest" "$W/bad"
R=$W/ingest.json
cp "$LAST_OUT" "$R"
i=$(json "$R" rows files path status | grep -n $'^big.bin\tcorrupt$' |
  cut -d: -f1)
[[ -n "$i" ]] || fail "ingest reported no corrupt big.bin"
i=$((i - 1))
assert_eq 2 "$(json "$R" len "files.$i.corrupt_ranges")" "ingest: ranges"
assert_eq $((2 * MiB)) "$(json "$R" get "files.$i.first_bad_offset")" \
  "ingest: first bad"
[[ ! -e "$W/dest/big.bin" ]] || fail "a corrupt big.bin was staged"
cmp "$D/exact.bin" "$W/dest/exact.bin" || fail "exact.bin not staged right"

log "the chunk digests decide; the report says whether they were signed"
expect_exit 0 "$VALISE" verify -m "$M" --pubkey "$W/key.pub" $NP --json "$D"
assert_eq signed-chunk-digests "$(json "$LAST_OUT" get checked_by)" "signed"
expect_exit 0 "$VALISE" verify -m "$M" --pubkey "$W/key.pub" $NP "$D"
assert_contains "$LAST_OUT" "checked by: signed chunk digests"
expect_exit 0 "$VALISE" verify -m "$M" $NP --json "$D"
assert_eq chunk-digests "$(json "$LAST_OUT" get checked_by)" "unsigned"
expect_exit 0 "$VALISE" verify -m "$M" $NP "$D"
assert_contains "$LAST_OUT" "whose signature was not checked"
expect_exit 0 "$VALISE" verify -m "$M" --pubkey "$W/key.pub" $NP --json \
  --hash-only sha256 "$D"
assert_eq file-digests "$(json "$LAST_OUT" get checked_by)" "--hash-only"
expect_exit 0 "$VALISE" ingest -m "$M" --pubkey "$W/key.pub" $NP --json \
  -d "$W/dest-signed" "$D"
assert_eq signed-chunk-digests "$(json "$LAST_OUT" get checked_by)" "ingest"
cmp "$D/big.bin" "$W/dest-signed/big.bin" || fail "big.bin not staged right"
expect_exit 0 "$VALISE" ingest -m "$M" $NP --json -d "$W/dest-unsigned" "$D"
assert_eq chunk-digests "$(json "$LAST_OUT" get checked_by)" "unsigned ingest"
cmp "$D/big.bin" "$W/dest-unsigned/big.bin" || fail "big.bin not staged right"
log "unsigned, a corrupt copy is located and not staged"
expect_exit 1 "$VALISE" ingest -m "$M" $NP --json -d "$W/dest-unsigned-bad" \
  "$W/bad"
[[ ! -e "$W/dest-unsigned-bad/big.bin" ]] || fail "a corrupt big.bin was staged"
assert_contains "$LAST_OUT" "differ from their chunk digests"

log "an unbound v1 text index is read as before"
MV1=$W/v1.vm
grep -v '^# bind ' "$M" >"$MV1"
cp "$M.chunks" "$MV1.chunks"
expect_exit 0 "$VALISE" verify -m "$MV1" $NP "$D"
assert_contains "$LAST_ERR" "does not bind it"
printf 'valise-chunks 1\n# chunk-size 1048576\n# end files=0\n' >"$MV1.chunks"
expect_exit 1 "$VALISE" verify -m "$MV1" $NP "$W/bad"
assert_not_contains "$LAST_ERR" "does not bind"
log "PASS"
