#!/usr/bin/env bash
# Goal (issue 18): valise pack on real drives (ext4 on loop devices in
# /dev/shm):
#  - --dry-run with too few drives says how many it needs (exit 1), and
#    with enough prints the plan (exit 0), writing nothing;
#  - a drive that is not empty, or two paths on one file system, are
#    refused before anything is written (exit 2);
#  - 1 GiB packed onto 6 data + 2 parity drives: exit 0, every data drive
#    a plain file system holding whole files, the manifest with its
#    chunk index, layout, parity digests and drives (M.drives: each
#    drive's file system UUID and place in the layout) bound, each parity file's
#    SHA-256 as the layout says (sha256sum agrees), and verify of the data
#    drives exit 0;
#  - the manifest's files carry XXH3-128 alone (every byte's SHA-256 is
#    its chunk's, in M.chunks): signed, verify checks by those, and a byte
#    changed on a data drive is found and located to its chunk; --hash
#    sha256,xxh128 adds the files' own SHA-256 (sha256sum agrees);
#  - an existing manifest is never overwritten;
#  - -k signs the manifest (M.sig) once it is written, and a key others
#    may read is refused before any drive is written;
#  - two data drives lost (unmounted, loop devices detached) and a chunk
#    corrupt on a third, in a stripe the two left whole: ingest stages
#    every file, byte for byte, the report naming exactly those drives'
#    files and the corrupt one rebuilt from parity; parity drive 2 lost
#    too: exactly the files with a chunk in a stripe that lost three
#    members are named unrecoverable, every other file staged whole.
# About 3 GiB of images in /dev/shm; 30-90 s.
source "$(dirname "$0")/lib.sh"
need_root

W=$VALISE_WORK
NP=--no-progress
DS=$W/dataset

log "a dataset of 1 GiB: large files, ragged sizes, small files, an empty one"
fill_dataset "$DS"
for i in $(seq 1 9); do
  gen_file "$DS/large/l$i.bin" $((i * 19 * 1048576 + i * 4097)) "large$i"
done
for i in $(seq 1 40); do
  gen_file "$DS/medium/m$i.bin" $((i * 211 * 1024 + 13)) "medium$i"
done
find "$DS" -exec touch -h -d "@$E2E_MTIME" {} +
total=$(du -sb "$DS" | cut -f1)
log "dataset: $total bytes"
((total > 1000 * 1048576)) || fail "the dataset is smaller than 1 GiB"

# 8 drives of 256 MB: 6 hold ~180 MB of data each, 2 the parity.
drives=()
for i in 1 2 3 4 5 6 7 8; do
  make_drive "s$i" 256 ext4
  drives+=("${MNT[s$i]}")
done

log "--dry-run with 5 drives: it does not fit, and says what would"
expect_exit 1 "$VALISE" pack "$DS" --drives "${drives[@]:0:5}" --parity 2 \
  --dry-run
assert_contains "$LAST_ERR" "fits on none of the 3 data drives"
assert_matches "$LAST_OUT" "needs [0-9]+ data \+ 2 parity drives of"
log "--dry-run with 8 drives: the plan"
expect_exit 0 "$VALISE" pack "$DS" --drives "${drives[@]}" --parity 2 \
  --dry-run
assert_matches "$LAST_OUT" "on 6 data \+ 2 parity drives"
assert_contains "$LAST_OUT" "any 2 of the 8 drives may be lost"
[[ -z $(ls -A "${MNT[s1]}" | grep -v lost+found) ]] ||
  fail "--dry-run wrote onto a drive"

log "refusals: a drive that is not empty, one file system given twice"
echo old >"${MNT[s3]}/old.txt"
expect_exit 2 "$VALISE" pack $NP "$DS" --drives "${drives[@]}" --parity 2 \
  -o "$W/M"
assert_contains "$LAST_ERR" "not empty (holds old.txt)"
rm "${MNT[s3]}/old.txt"
mkdir "${MNT[s8]}/a" "${MNT[s8]}/b"
expect_exit 2 "$VALISE" pack $NP "$DS" --drives "${MNT[s8]}/a" "${MNT[s8]}/b" \
  -o "$W/M"
assert_contains "$LAST_ERR" "same file system"
rmdir "${MNT[s8]}/a" "${MNT[s8]}/b"
[[ ! -e "$W/M" ]] || fail "a refused pack wrote a manifest"

log "-k: a key others may read is refused before anything is written"
expect_exit 0 "$VALISE" keygen -o "$W/key"
cp "$W/key" "$W/open.key"
chmod 644 "$W/open.key"
expect_exit 2 "$VALISE" pack $NP "$DS" --drives "${drives[@]}" --parity 2 \
  -o "$W/M" -k "$W/open.key"
assert_contains "$LAST_ERR" "too open"
[[ ! -e "$W/M" && ! -e "$W/M.pack" ]] || fail "a refused key left M or M.pack"
for d in "${drives[@]}"; do
  [[ -z $(ls -A "$d" | grep -v '^lost+found$') ]] || fail "$d written to"
done

echo stale >"$W/M.sig"
expect_exit 2 "$VALISE" pack $NP "$DS" --drives "${drives[@]}" --parity 2 \
  -o "$W/M" -k "$W/key"
assert_contains "$LAST_ERR" "exists without $W/M"
rm "$W/M.sig"

log "pack 6 + 2, signed (-k)"
expect_exit 0 "$VALISE" pack $NP "$DS" --drives "${drives[@]}" --parity 2 \
  -o "$W/M" -k "$W/key"
assert_contains "$LAST_ERR" "on 6 data drives"
assert_contains "$LAST_ERR" "wrote $W/M.sig"
log "$(cat "$LAST_ERR")"
for s in chunks layout parity drives; do
  [[ -f "$W/M.$s" ]] || fail "M.$s missing"
  assert_contains "$W/M" "# bind $s bytes=$(stat -c %s "$W/M.$s") sha256=$(
    sha256sum "$W/M.$s" | cut -c1-64)"
done
assert_contains "$W/M.layout" "# code isa-l-cauchy1 data=6 parity=2"
files=$(find "$DS" -type f | wc -l)
assert_contains "$W/M" "# end files=$files "

log "M.drives: every drive by its file system's UUID and label, its place"
for i in 1 2 3 4 5 6 7 8; do
  uuid=$(blkid -s UUID -o value "${DEV[s$i]}")
  [[ -n $uuid ]] || fail "s$i: no UUID"
  grep -F "\"label\":\"s$i\"" "$W/M.drives" | grep -qF "\"fs_uuid\":\"$uuid\"" ||
    fail "M.drives: s$i is not there with UUID $uuid"
  if ((i <= 6)); then
    want="\"pack\":{\"role\":\"data\",\"index\":$i}"
  else
    want="\"pack\":{\"role\":\"parity\",\"index\":$((i - 6))}"
  fi
  grep -F "\"label\":\"s$i\"" "$W/M.drives" | grep -qF "$want" ||
    fail "M.drives: s$i is not marked $want"
done

log "every data drive holds whole files, as in the dataset"
n=0
for i in 1 2 3 4 5 6; do
  while IFS= read -r -d '' f; do
    rel=${f#"${MNT[s$i]}"/}
    cmp -s "$f" "$DS/$rel" || fail "s$i: $rel differs from the dataset"
    [[ $(stat -c %Y "$f") == "$E2E_MTIME" ]] || fail "s$i: $rel: mtime"
    n=$((n + 1))
  done < <(find "${MNT[s$i]}" -path '*/lost+found' -prune -o -type f -print0)
done
assert_eq "$files" "$n" "files on the data drives"

log "the parity files' SHA-256, as the layout records them (sha256sum)"
for i in 7 8; do
  while IFS=$'\t' read -r _ _ sha path; do
    got=$(sha256sum "${MNT[s$i]}/$path" | cut -c1-64)
    assert_eq "$sha" "$got" "sha256 of s$i/$path"
  done < <(awk -v d="$((i - 6))" '
    /^drive parity / { on = ($3 == d); next }
    /^drive |^#/ { on = 0; next }
    on' "$W/M.layout")
done

log "verify of the data drives"
expect_exit 0 "$VALISE" verify $NP -m "$W/M" "${drives[@]:0:6}"
assert_contains "$LAST_ALL" "all $files files verified"

log "the files' digests: XXH3-128 alone; signed, the chunks' SHA-256 decide"
assert_contains "$W/M" "# columns size mtime xxh128 path"
expect_exit 0 "$VALISE" verify $NP -m "$W/M" --pubkey "$W/key.pub" \
  "${drives[@]:0:6}"
assert_contains "$LAST_ALL" "all $files files verified"
assert_contains "$LAST_ALL" "checked by: signed chunk digests"
victim=$(cd "${MNT[s1]}" && find . -path ./lost+found -prune -o -type f \
  -size +3M -print | head -1)
victim=${victim#./}
[[ -n $victim ]] || fail "no file of more than 3 MiB on s1"
cp "${MNT[s1]}/$victim" "$W/victim.orig"
printf 'X' | dd of="${MNT[s1]}/$victim" bs=1 seek=$((2 * 1048576 + 5)) \
  conv=notrunc status=none
sync
echo 3 >/proc/sys/vm/drop_caches
J=$W/corrupt.json
expect_exit 1 "$VALISE" verify $NP -m "$W/M" --pubkey "$W/key.pub" \
  --report "$J" "${drives[@]:0:6}"
grep -Eq '"first_bad_offset": ?2097152' "$J" ||
  fail "$J: no copy of $victim with its first bad byte in chunk 2"
cp "$W/victim.orig" "${MNT[s1]}/$victim"

log "--hash sha256,xxh128: the files' own SHA-256 as well (two more drives)"
make_drive u1 128 ext4
make_drive u2 128 ext4
expect_exit 0 "$VALISE" pack $NP "$DS/medium" --drives "${MNT[u1]}" \
  "${MNT[u2]}" --hash sha256,xxh128 -o "$W/M2"
grep -E "^# columns .*sha256" "$W/M2" | grep -q xxh128 ||
  fail "M2: no sha256 and xxh128 columns"
want=$(sha256sum "$DS/medium/m7.bin" | cut -c1-64)
grep -F "m7.bin" "$W/M2" | grep -qF "$want" ||
  fail "M2: m7.bin without its sha256 $want"

log "an existing manifest is not overwritten"
expect_exit 2 "$VALISE" pack $NP "$DS" --drives "${drives[@]}" --parity 2 \
  -o "$W/M"
assert_contains "$LAST_ERR" "exists; valise pack does not overwrite"

chunks_of() {
  awk -v d="$1" '$1 == "drive" && $2 == "data" && $3 == d {
    for (i = 4; i <= NF; i++) if ($i ~ /^chunks=/) print substr($i, 8) }' \
    "$W/M.layout"
}
# The files of report $1 whose parity column is $2, sorted.
parity_files() {
  json "$1" rows files path parity |
    awk -F'\t' -v what="$2" '$2 == what { print $1 }' | sort -u
}
# Lost for good: unmounted, the loop device detached.
lose() {
  unmount "${MNT[$1]}"
  losetup -d "${DEV[$1]}"
}

# The two data drives with the fewest chunks are lost, and the one with
# the most gets a corrupt chunk in a stripe that lost at most one member
# to them: every file can come back (no stripe loses more than two).
order=$(for i in 1 2 3 4 5 6; do echo "$(chunks_of "$i") $i"; done | sort -n)
A=$(sed -n 1p <<<"$order" | cut -d' ' -f2)
B=$(sed -n 2p <<<"$order" | cut -d' ' -f2)
X=$(sed -n 6p <<<"$order" | cut -d' ' -f2)
cA=$(chunks_of "$A")
cB=$(chunks_of "$B")
cX=$(chunks_of "$X")
below=$((cA < cB ? cA : cB))
((cX - 1 >= below)) || fail "drive $X's last stripe $((cX - 1)) lost two members"
# A file of drive X with a chunk in a stripe from `below` on, and that
# chunk's first byte.
victim="" voff=""
IFS=$'\t' read -r victim voff < <(awk -v d="$X" -v below="$below" '
  /^# chunk-size / { chunk = $3; next }
  /^drive data / { on = ($3 == d); s = 0; next }
  /^drive |^#/ { on = 0; next }
  on {
    split($0, f, "\t"); c = int((f[1] + chunk - 1) / chunk)
    for (x = (s > below ? s : below); x < s + c; x++) {
      print f[2] "\t" (x - s) * chunk
      exit
    }
    s += c
  }' "$W/M.layout") || true
[[ -n $victim ]] || fail "drive $X holds no chunk from stripe $below on"

log "data drives $A and $B lost (detached); $victim corrupt on drive $X"
lose "s$A"
lose "s$B"
flip_byte "${MNT[s$X]}/$victim" "$voff"
given=()
for i in 1 2 3 4 5 6 7 8; do
  [[ $i == "$A" || $i == "$B" ]] || given+=("${MNT[s$i]}")
done
make_drive dest 1400 xfs
expect_exit 1 "$VALISE" ingest $NP -m "$W/M" --pubkey "$W/key.pub" \
  -d "${MNT[dest]}/a" --json "${given[@]}"
j=$W/lose2.json
cp "$LAST_OUT" "$j"
L=$W/M.layout
assert_eq "$( (layout_files "$L" "$A"; layout_files "$L" "$B"; echo "$victim") |
  sort -u)" \
  "$(parity_files "$j" rebuilt)" "files rebuilt from parity"
assert_eq "$files" "$(json "$j" get totals.files_ok)" "files staged"
diff -r "$DS" "${MNT[dest]}/a" -x .valise >/dev/null ||
  fail "DEST differs from the dataset"

log "parity drive 2 lost too: exactly the files of stripes that lost three"
cp "$DS/$victim" "${MNT[s$X]}/$victim"
rm -rf "${MNT[dest]:?}/a"
lose s8
want=$( (layout_files "$L" "$A" "$below"; layout_files "$L" "$B" "$below") |
  sort -u)
[[ -n $want ]] || fail "no file in the stripes below $below"
expect_exit 1 "$VALISE" ingest $NP -m "$W/M" --pubkey "$W/key.pub" \
  -d "${MNT[dest]}/b" --json "${given[@]:0:5}"
j=$W/lose3.json
cp "$LAST_OUT" "$j"
assert_eq "$want" "$(parity_files "$j" unrecoverable)" \
  "the unrecoverable files"
n_gone=$(wc -l <<<"$want")
assert_eq "$((files - n_gone))" "$(json "$j" get totals.files_ok)" \
  "files staged"
while IFS= read -r -d '' f; do
  rel=${f#"$DS"/}
  if grep -qxF "$rel" <<<"$want"; then
    [[ ! -e "${MNT[dest]}/b/$rel" ]] || fail "unrecoverable $rel staged"
  else
    cmp -s "$f" "${MNT[dest]}/b/$rel" || fail "$rel not staged whole"
  fi
done < <(find "$DS" -type f -print0)
log "ok"
