#!/usr/bin/env bash
# Goal: repair by chunk on loop drives (issue 15, item 3). A signed
# manifest binds its chunk index; a 12 MiB file is on two ext4 drives,
# each copy with a different chunk rotted on the device. Ingest with
# --pubkey stages ONE good file from the good chunks of both: the staged
# file equals the original, the run exits 1 (a drive carried bad data),
# the second copy read is read only for the chunk the first lacked
# (drives[].bytes_read: the file once plus one chunk), and the summary and
# the JSON report say which chunks came from which drive. Then both copies
# rotted in the same chunk: the file is not staged, exit 1, and the report
# names the chunk no copy had good. (~5 s)
source "$(dirname "$0")/ingest_lib.sh"
need_root

MiB=1048576
make_drive A 64 ext4
make_drive B 64 ext4
make_drive D 128 ext4
A=${MNT[A]}
B=${MNT[B]}
F=big.bin
SIZE=$((12 * MiB + 100))
gen_file "$A/$F" "$SIZE" big
gen_file "$A/small.bin" 5000 small
find "$A" -path '*/lost+found' -prune -o -exec touch -h -d "@$E2E_MTIME" {} +
cp -a "$A/$F" "$B/$F"
cp -a "$A/$F" "$VALISE_WORK/original"
W=$VALISE_WORK
M="$W/dataset.valise"
expect_exit 0 "$VALISE" manifest "$A" "$B" -o "$M"
expect_exit 0 "$VALISE" keygen -o "$W/key"
expect_exit 0 "$VALISE" sign -k "$W/key" "$M"

log "disjoint bad chunks: chunk 2 on A, chunk 7 on B"
flip_byte "$A/$F" $((2 * MiB + 77))
flip_byte "$B/$F" $((7 * MiB + 5))
drop_caches
DEST=${MNT[D]}/repaired
J="$W/repaired.json"
expect_exit 1 "$VALISE" ingest -m "$M" --pubkey "$W/key.pub" -d "$DEST" \
  --no-progress --report "$J" "$A" "$B"
cmp -s "$W/original" "$DEST/$F" || fail "the staged $F is not the original"
assert_eq 0 "$(staging_left "$DEST")" "entries left in staging"
assert_eq 1 "$(json "$J" get totals.files_repaired_by_chunk)" \
  "totals.files_repaired_by_chunk"
assert_eq "$MiB" "$(json "$J" get totals.bytes_read_for_chunk_repair)" \
  "totals.bytes_read_for_chunk_repair"
read_a=$(json "$J" get drives.0.bytes_read)
read_b=$(json "$J" get drives.1.bytes_read)
# The file once, one chunk more (the one the first copy lacked), small.bin.
assert_eq $((SIZE + MiB + 5000)) $((read_a + read_b)) "bytes read in all"
rows=$(json "$J" rows files status path drive chunks_from repair_bytes_read)
assert_eq 1 "$(awk -F'\t' '$1 != "ok"' <<<"$rows" | wc -l)" "problem rows"
IFS=$'\t' read -r status path drive from bytes < <(awk -F'\t' '$1 != "ok"' <<<"$rows")
assert_eq corrupt "$status" "status of the first copy read"
assert_eq "$F" "$path" "path of the bad row"
assert_eq "$MiB" "$bytes" "repair_bytes_read of the row"
first=$(drive_of_row "$drive" "$J")
if [[ "$first" == "$A" ]]; then
  want="[{\"chunks\":[[0,1],[3,12]],\"drive\":\"$A\"},{\"chunks\":[[2,2]],\"drive\":\"$B\"}]"
  second=B
else
  want="[{\"chunks\":[[0,6],[8,12]],\"drive\":\"$B\"},{\"chunks\":[[7,7]],\"drive\":\"$A\"}]"
  second=A
fi
assert_eq "$want" "$from" "chunks_from of the row"
log "read $(basename "$first") whole, then one chunk of $second"
expect_exit 1 "$VALISE" ingest -m "$M" --pubkey "$W/key.pub" \
  -d "${MNT[D]}/again" --no-progress "$A" "$B"
assert_contains "$LAST_OUT" "repaired by chunk: chunks"
assert_contains "$LAST_OUT" "repair: 1 file made whole from the good chunks of several copies (1.0 MiB read for it"
drop_caches
expect_exit 0 "$VALISE" verify -m "$M" --pubkey "$W/key.pub" --no-progress "$DEST"

log "the same chunk bad on both copies: the file fails, the chunk is named"
flip_byte "$B/$F" $((7 * MiB + 5))   # restored
flip_byte "$B/$F" $((2 * MiB + 900)) # chunk 2, as on A
drop_caches
DEST=${MNT[D]}/lost
J="$W/lost.json"
expect_exit 1 "$VALISE" ingest -m "$M" --pubkey "$W/key.pub" -d "$DEST" \
  --no-progress --report "$J" "$A" "$B"
[[ ! -e "$DEST/$F" ]] || fail "$F was given its final name with no good chunk 2"
assert_eq 0 "$(staging_left "$DEST")" "entries left in staging"
[[ -e "$DEST/small.bin" ]] || fail "small.bin not staged"
lost=$(json "$J" rows files status chunks_lost | awk -F'\t' '$2 != "-" {print $2}')
assert_eq "[[2,2]]" "$lost" "chunks_lost"
assert_contains "$LAST_OUT" "no copy had chunk 2 good"
log "PASS"
