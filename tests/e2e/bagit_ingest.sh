#!/usr/bin/env bash
# Goal: `valise ingest --bag` makes DEST a valid BagIt 1.0 bag on real
# drives: payload under DEST/data/ equal to the sources, bagit.txt,
# bag-info.txt with the right Payload-Oxum, manifest-sha256.txt that
# `sha256sum -c` accepts and that equals `valise manifest --format bagit`
# of the sources, a tag manifest that checks; `valise verify DEST` passes,
# a rerun keeps it a bag, and damage (a flipped byte, a stray payload
# file) is found. A manifest without sha256 still gives manifest-sha256.
source "$(dirname "$0")/lib.sh"
need_root

make_drive D1 64 ext4
make_drive D2 64 ext4
make_drive OUT 128 ext4
D1=${MNT[D1]}
D2=${MNT[D2]}
W=$VALISE_WORK
fill_dataset "$D1" one
gen_file "$D2/only-on-d2/x.bin" 300000 two:x
gen_file "$D2/percent%name.bin" 5000 two:pct
cp -a "$D1/big2.bin" "$D2/big2.bin"  # a redundant copy

expect_exit 0 "$VALISE" manifest "$D1" "$D2" -o "$W/m.vm"
DEST=${MNT[OUT]}/bag
expect_exit 0 "$VALISE" ingest -m "$W/m.vm" -d "$DEST" --bag --no-progress \
  "$D1" "$D2"
assert_contains "$LAST_ALL" "BagIt 1.0 bag, Payload-Oxum"
for f in bagit.txt bag-info.txt manifest-sha256.txt tagmanifest-sha256.txt; do
  [[ -f "$DEST/$f" ]] || fail "no $f in DEST"
done
assert_eq "BagIt-Version: 1.0" "$(head -1 "$DEST/bagit.txt")" "bagit.txt"

log "payload equals the sources"
for d in "$D1" "$D2"; do
  while IFS= read -r f; do
    cmp "$d/$f" "$DEST/data/$f" || fail "data/$f differs from $d/$f"
  done < <(list_files "$d")
done
n=$( (list_files "$D1"; list_files "$D2") | sort -u | wc -l)
bytes=$( (cd "$DEST/data" && find . -type f -printf '%s\n') |
  awk '{s+=$1} END {print s}')
assert_contains "$DEST/bag-info.txt" "Payload-Oxum: $bytes.$n"
assert_eq "$n" "$(wc -l <"$DEST/manifest-sha256.txt")" "manifest lines"

log "the tools agree"
# sha256sum does not decode RFC 8493's %25: check that line with valise.
grep -av '%25' "$DEST/manifest-sha256.txt" >"$W/plain.sha256"
assert_eq 1 "$(grep -ac 'data/percent%25name.bin$' "$DEST/manifest-sha256.txt")" \
  "the '%' name encoded"
(cd "$DEST" && expect_exit 0 sha256sum -c --quiet "$W/plain.sha256")
(cd "$DEST" && expect_exit 0 sha256sum -c --quiet tagmanifest-sha256.txt)
expect_exit 0 "$VALISE" manifest --format bagit "$D1" "$D2" -o "$W/bagit.txt"
cmp "$W/bagit.txt" "$DEST/manifest-sha256.txt" ||
  fail "manifest --format bagit differs from the bag's manifest"

log "valise verify validates the bag"
expect_exit 0 "$VALISE" verify --no-progress "$DEST"
assert_contains "$LAST_ALL" "valid bag (BagIt 1.0, $n payload files"

log "a rerun keeps it a bag"
expect_exit 0 "$VALISE" ingest -m "$W/m.vm" -d "$DEST" --bag --no-progress \
  "$D1" "$D2"
expect_exit 0 "$VALISE" verify --no-progress "$DEST"

log "damage is found"
flip_byte "$DEST/data/big1.bin" 4242
drop_caches
expect_exit 1 "$VALISE" verify --json "$DEST"
assert_eq "corrupt"$'\t'"data/big1.bin" \
  "$(json "$LAST_OUT" rows files status path)" "flipped byte"
printf 'stray' >"$DEST/data/stray.txt"
expect_exit 1 "$VALISE" verify --no-progress "$DEST"
assert_contains "$LAST_ALL" "Payload-Oxum"

log "a manifest without sha256"
expect_exit 0 "$VALISE" manifest --hash xxh128 "$D2" -o "$W/x.vm"
DEST2=${MNT[OUT]}/bag2
expect_exit 0 "$VALISE" ingest -m "$W/x.vm" -d "$DEST2" --bag --no-progress \
  "$D2"
grep -av '%25' "$DEST2/manifest-sha256.txt" >"$W/plain2.sha256"
(cd "$DEST2" && expect_exit 0 sha256sum -c --quiet "$W/plain2.sha256")
expect_exit 0 "$VALISE" verify --no-progress "$DEST2"

log "an unfinished ingest is not a bag"
DEST3=${MNT[OUT]}/bag3
expect_exit 1 "$VALISE" ingest -m "$W/m.vm" -d "$DEST3" --bag --no-progress \
  "$D2"
assert_contains "$LAST_ALL" "not a bag yet"
[[ ! -e "$DEST3/bagit.txt" ]] || fail "an unfinished ingest wrote bagit.txt"
log "PASS"
