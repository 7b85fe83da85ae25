#!/usr/bin/env bash
# Goal: a drive image file and a block device are SRCs too, each read raw
# as one file: a manifest of an image records the image's size and
# SHA-256; `valise verify` of the image, and of a loop device over it,
# exits 0; a manifest of the device matches the image's; after one byte of
# the image is flipped both exit 1, reporting the corrupt chunk's offset.
source "$(dirname "$0")/lib.sh"
need_root

MiB=1048576
IMGF="$VALISE_WORK/disk.img"
gen_file "$IMGF" $((12 * MiB)) disk-image  # a multiple of 512: whole sectors
M="$VALISE_WORK/image.valise"
expect_exit 0 "$VALISE" manifest "$IMGF" -o "$M"
assert_eq "$(sha256sum <"$IMGF" | cut -c1-64)" \
  "$(manifest_field "$M" disk.img sha256)" "sha256 of the image entry"
assert_eq $((12 * MiB)) "$(manifest_field "$M" disk.img size)" \
  "size of the image entry"

expect_exit 0 "$VALISE" verify -m "$M" --no-progress "$IMGF"
expect_exit 0 "$VALISE" verify -m "$M" --no-progress --json "$IMGF"
assert_eq image "$(json "$LAST_OUT" get drives.0.kind)" "kind of an image SRC"

attach_image L "$IMGF"
LOOP=${DEV[L]}
drop_caches
# One manifest entry and one image SRC: they match whatever the names.
expect_exit 0 "$VALISE" verify -m "$M" --no-progress "$LOOP"
expect_exit 0 "$VALISE" verify -m "$M" --no-progress --json "$LOOP"
assert_eq "block device" "$(json "$LAST_OUT" get drives.0.kind)" \
  "kind of a block device SRC"

M2="$VALISE_WORK/device.valise"
expect_exit 0 "$VALISE" manifest "$LOOP" -o "$M2"
dev_entry=$(basename "$LOOP")
assert_eq "$(manifest_field "$M" disk.img sha256)" \
  "$(manifest_field "$M2" "$dev_entry" sha256)" "device sha256 vs image"
assert_eq $((12 * MiB)) "$(manifest_field "$M2" "$dev_entry" size)" \
  "device size"

log "flipping one byte of the image"
flip_byte "$IMGF" $((7 * MiB + 3))
drop_caches
for src in "$IMGF" "$LOOP"; do
  expect_exit 1 "$VALISE" verify -m "$M" --no-progress --json "$src"
  rows=$(json "$LAST_OUT" rows files status first_bad_offset |
    awk -F'\t' '$1 != "ok"')
  assert_eq "corrupt"$'\t'"$((7 * MiB))" "$rows" "report for $src"
done

log "PASS"
