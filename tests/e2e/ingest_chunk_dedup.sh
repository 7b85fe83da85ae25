#!/usr/bin/env bash
# Goal: dedup by chunk on xfs (issue 15, item 5). A signed manifest's
# chunk digests (1 MiB chunks) decide; the dataset shares aligned chunks
# across files and holds zeros:
#   img-a.bin     8 MiB, chunks A0..A7
#   img-b.bin     A0..A3, B0, 1 MiB of zeros, A4, and 100 bytes (a disk
#                 image sharing blocks with img-a)
#   appended.bin  img-a with 2 MiB appended
#   sparse.bin    1 MiB hole, Z0, 2 MiB hole, 100 zero bytes (sparse)
# Ingest into xfs (reflink=1): exit 0, every file right; img-b's and
# appended's chunks that img-a holds share img-a's physical blocks
# (FIEMAP, flagged shared); the zeros are holes (FIEMAP: unmapped), so
# the blocks DEST's files use, counted once, are the unique non-zero
# bytes (12 MiB and one 4 KiB block for img-b's tail); the report's
# totals say 13 MiB cloned, 4 MiB + 100 bytes of holes, 17 MiB not read
# (the cloned chunks and the whole zero chunks), and the drive was read
# for the rest only. ~5 s.
source "$(dirname "$0")/ingest_lib.sh"
need_root

MiB=1048576
make_drive S 64 ext4
make_drive X 300 xfs
S=${MNT[S]}
X=${MNT[X]}
if ! xfs_info "$X" | grep -q 'reflink=1'; then
  echo "[$TEST_NAME] SKIP: mkfs.xfs made a file system without reflink" >&2
  exit 77
fi

P="$VALISE_WORK/parts"
mkdir -p "$P"
gen_file "$P/a" $((8 * MiB)) chunk-a
gen_file "$P/b0" "$MiB" chunk-b0
gen_file "$P/tail" 100 chunk-tail
gen_file "$P/c" $((2 * MiB)) chunk-c
gen_file "$P/z0" "$MiB" chunk-z0
cp "$P/a" "$S/img-a.bin"
{
  head -c $((4 * MiB)) "$P/a"
  cat "$P/b0"
  head -c "$MiB" /dev/zero
  dd if="$P/a" bs="$MiB" skip=4 count=1 status=none
  cat "$P/tail"
} >"$S/img-b.bin"
cat "$P/a" "$P/c" >"$S/appended.bin"
truncate -s $((4 * MiB + 100)) "$S/sparse.bin"
dd if="$P/z0" of="$S/sparse.bin" bs="$MiB" seek=1 conv=notrunc status=none
find "$S" -path '*/lost+found' -prune -o -exec touch -h -d "@$E2E_MTIME" {} +

M="$VALISE_WORK/dataset.valise"
expect_exit 0 "$VALISE" manifest "$S" -o "$M"
expect_exit 0 "$VALISE" keygen -o "$VALISE_WORK/key"
expect_exit 0 "$VALISE" sign -k "$VALISE_WORK/key" "$M"

DEST=$X/dest
J="$VALISE_WORK/ingest.json"
drop_caches
read0=$(sectors_read "${DEV[S]}")
expect_exit 0 "$VALISE" ingest -m "$M" --pubkey "$VALISE_WORK/key.pub" \
  -d "$DEST" --no-progress --report "$J" "$S"
read1=$(sectors_read "${DEV[S]}")
check_complete "$DEST" "$S"
assert_eq 0 "$(staging_left "$DEST")" "entries left in staging"
assert_contains "$LAST_OUT" "dedup by chunk: 13.0 MiB cloned"

assert_eq $((13 * MiB)) "$(json "$J" get totals.chunk_bytes_cloned)" \
  "totals.chunk_bytes_cloned"
assert_eq $((4 * MiB + 100)) "$(json "$J" get totals.chunk_bytes_holes)" \
  "totals.chunk_bytes_holes"
assert_eq $((17 * MiB)) "$(json "$J" get totals.bytes_not_read)" \
  "totals.bytes_not_read"
# The drive gave the rest (its metadata too: a few hundred KiB at most).
total=$(cat "$S"/*.bin | wc -c)
read_bytes=$(((read1 - read0) * 512))
want=$((total - 17 * MiB))
((read_bytes >= want && read_bytes < want + 2 * MiB)) ||
  fail "the drive was read for $read_bytes bytes; want about $want"

# extents FILE: "logical-start logical-end physical-start flags" per mapped
# extent, in 512-byte units (FIEMAP through xfs_io, data flushed first);
# holes are not listed.
extents() {
  xfs_io -c fsync -c "fiemap -v" "$1" |
    awk '$1 ~ /^[0-9]+:$/ && $3 != "hole" {
      split($2, l, /[][.:]+/); split($3, p, /[.:]+/)
      print l[2], l[3], p[1], $5 }'
}
# phys FILE OFFSET: the physical sector under byte OFFSET of FILE, or
# "hole".
phys() {
  local s=$(($2 / 512))
  extents "$1" | awk -v s="$s" '
    s >= $1 && s <= $2 { print $3 + s - $1; found = 1; exit }
    END { if (!found) print "hole" }'
}
SHARED=0x2000
# shares FILE OFFSET FROM FROM_OFFSET: the same physical block.
shares() {
  local a b
  a=$(phys "$DEST/$1" "$2")
  b=$(phys "$DEST/$3" "$4")
  [[ "$a" != hole && "$a" == "$b" ]] ||
    fail "$1 at $2 does not share $3 at $4 ($a, $b)"
}
for k in 0 1 2 3 4 5 6 7; do
  shares appended.bin $((k * MiB)) img-a.bin $((k * MiB))
done
for k in 0 1 2 3; do
  shares img-b.bin $((k * MiB)) img-a.bin $((k * MiB))
done
shares img-b.bin $((6 * MiB)) img-a.bin $((4 * MiB))
while read -r _ _ _ flags; do
  (((flags & SHARED) != 0)) || fail "img-a.bin: an extent not shared ($flags)"
done < <(extents "$DEST/img-a.bin")
# Holes where the zeros were.
assert_eq hole "$(phys "$DEST/img-b.bin" $((5 * MiB)))" "img-b.bin's zero chunk"
for k in 0 2 3 4; do
  assert_eq hole "$(phys "$DEST/sparse.bin" $((k * MiB)))" \
    "sparse.bin at $k MiB"
done
[[ "$(phys "$DEST/sparse.bin" "$MiB")" != hole ]] || fail "sparse.bin's Z0 is a hole"
assert_eq $((4 * MiB + 100)) "$(stat -c %s "$DEST/sparse.bin")" "sparse.bin's size"
# Blocks used by DEST's files, each physical block counted once: the
# unique non-zero bytes (A0..A7, B0, C0 C1, Z0: 12 MiB; img-b's tail: one
# block).
used=$(for f in img-a.bin img-b.bin appended.bin sparse.bin; do
  extents "$DEST/$f" | awk '{ for (s = $3; s <= $3 + $2 - $1; s += 8) print s }'
done | sort -un | wc -l)
assert_eq $(((12 * MiB + 4096) / 4096)) "$used" "distinct 4 KiB blocks in DEST"

expect_exit 0 "$VALISE" verify -m "$M" --pubkey "$VALISE_WORK/key.pub" \
  --no-progress "$DEST"
log "PASS"
