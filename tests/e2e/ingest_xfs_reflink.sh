#!/usr/bin/env bash
# Goal: one content under three paths is read once and deduplicated as the
# policy and DEST allow. DEST on xfs (reflink=1, mkfs.xfs's default on
# Debian 12), --dedup auto: the three files share their extents (FIEMAP:
# the same physical blocks, each flagged shared), are three inodes, and
# totals.dedup_bytes_saved is the two copies not written. DEST on ext4,
# --dedup auto: three independent copies (nothing shared, 0 saved);
# --dedup reflink: the same, with a note that DEST cannot reflink;
# --dedup hardlink: one inode with three links, two copies saved. Each
# DEST then verifies clean.
source "$(dirname "$0")/ingest_lib.sh"
need_root

MiB=1048576
DUP_SIZE=$((3 * MiB + 1000))  # not a whole number of blocks: a tail too
make_drive S1 64 ext4
make_drive S2 64 ext4
make_drive X 300 xfs
make_drive E 128 ext4
S1=${MNT[S1]}
S2=${MNT[S2]}
DUPS=(dup/one.bin dup/sub/two.bin three.bin)

fill_dataset "$S1"
gen_file "$S1/${DUPS[0]}" "$DUP_SIZE" the-dup
gen_file "$S1/${DUPS[1]}" "$DUP_SIZE" the-dup
gen_file "$S2/${DUPS[2]}" "$DUP_SIZE" the-dup
gen_file "$S2/other.bin" $((MiB + 5)) other
find "$S1" "$S2" -path '*/lost+found' -prune -o -exec touch -h -d "@$E2E_MTIME" {} +
M="$VALISE_WORK/dataset.valise"
expect_exit 0 "$VALISE" manifest "$S1" "$S2" -o "$M"
SAVED=$((2 * DUP_SIZE))

if ! xfs_info "${MNT[X]}" | grep -q 'reflink=1'; then
  echo "[$TEST_NAME] SKIP: mkfs.xfs made a file system without reflink" \
    "(xfs_info: $(xfs_info "${MNT[X]}" | grep -o 'reflink=[0-9]'))"
  exit 77
fi

# extents FILE: one line per extent, "logical-range physical-range flags"
# (FIEMAP through xfs_io, in 512-byte units); data flushed first so the
# extents are allocated.
extents() {
  xfs_io -c fsync -c "fiemap -v" "$1" |
    awk '$1 ~ /^[0-9]+:$/ && $2 ~ /^\[/ {print $2, $3, $5}'
}
# FIEMAP_EXTENT_SHARED.
SHARED=0x2000

# ingest_into NAME DEST POLICY: ingests into DEST; the report in $J.
ingest_into() {
  J="$VALISE_WORK/$1.json"
  drop_caches
  expect_exit 0 "$VALISE" ingest -m "$M" -d "$2" --dedup "$3" --no-progress \
    --report "$J" "$S1" "$S2"
  check_complete "$2" "$S1" "$S2"
  assert_eq 0 "$(staging_left "$2")" "$1: entries left in staging"
  expect_exit 0 "$VALISE" verify -m "$M" --no-progress "$2"
}

log "xfs DEST, --dedup auto: reflinks"
DEST=${MNT[X]}/auto
ingest_into xfs-auto "$DEST" auto
assert_contains "$J" '"dedup: reflink"'
assert_eq "$SAVED" "$(json "$J" get totals.dedup_bytes_saved)" \
  "xfs auto: totals.dedup_bytes_saved"
first=$(extents "$DEST/${DUPS[0]}")
[[ -n "$first" ]] || fail "no extent found for $DEST/${DUPS[0]}"
log "extents of ${DUPS[0]}: $(tr '\n' ';' <<<"$first")"
for f in "${DUPS[@]}"; do
  assert_eq "$first" "$(extents "$DEST/$f")" "xfs auto: extents of $f"
  while read -r _ _ flags; do
    (((flags & SHARED) != 0)) || fail "xfs auto: an extent of $f is not" \
      "flagged shared (flags $flags)"
  done < <(extents "$DEST/$f")
  assert_eq 1 "$(stat -c %h "$DEST/$f")" "xfs auto: link count of $f"
done
inodes=$(for f in "${DUPS[@]}"; do stat -c %i "$DEST/$f"; done | sort -u | wc -l)
assert_eq 3 "$inodes" "xfs auto: distinct inodes of the duplicates"
# The files that are not duplicates share nothing.
while read -r _ _ flags; do
  (((flags & SHARED) == 0)) || fail "xfs auto: big1.bin has a shared extent"
done < <(extents "$DEST/big1.bin")

log "ext4 DEST, --dedup auto: copies"
DEST=${MNT[E]}/auto
ingest_into ext4-auto "$DEST" auto
assert_contains "$J" '"dedup: copy"'
assert_eq 0 "$(json "$J" get totals.dedup_bytes_saved)" \
  "ext4 auto: totals.dedup_bytes_saved"
physical=$(for f in "${DUPS[@]}"; do
  while read -r _ prange flags; do
    (((flags & SHARED) == 0)) || fail "ext4 auto: $f has a shared extent"
    echo "$prange"
  done < <(extents "$DEST/$f")
done)
assert_eq "$(sort <<<"$physical" | wc -l)" "$(sort -u <<<"$physical" | wc -l)" \
  "ext4 auto: extents used by two duplicates"
inodes=$(for f in "${DUPS[@]}"; do stat -c %i "$DEST/$f"; done | sort -u | wc -l)
assert_eq 3 "$inodes" "ext4 auto: distinct inodes of the duplicates"

log "ext4 DEST, --dedup reflink: cannot, copies"
DEST=${MNT[E]}/reflink
ingest_into ext4-reflink "$DEST" reflink
assert_contains "$J" "DEST cannot reflink"
assert_eq 0 "$(json "$J" get totals.dedup_bytes_saved)" \
  "ext4 reflink: totals.dedup_bytes_saved"

log "ext4 DEST, --dedup hardlink: one inode"
DEST=${MNT[E]}/hardlink
ingest_into ext4-hardlink "$DEST" hardlink
assert_contains "$J" '"dedup: hardlink"'
assert_eq "$SAVED" "$(json "$J" get totals.dedup_bytes_saved)" \
  "ext4 hardlink: totals.dedup_bytes_saved"
inodes=$(for f in "${DUPS[@]}"; do stat -c %i "$DEST/$f"; done | sort -u)
assert_eq 1 "$(wc -l <<<"$inodes")" "ext4 hardlink: inodes of the duplicates"
for f in "${DUPS[@]}"; do
  assert_eq 3 "$(stat -c %h "$DEST/$f")" "ext4 hardlink: link count of $f"
done
assert_eq 1 "$(stat -c %h "$DEST/big1.bin")" "ext4 hardlink: links of big1.bin"

log "PASS"
