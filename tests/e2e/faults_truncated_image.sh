#!/usr/bin/env bash
# Goal: a drive image cut short is reported clearly, never hangs and never
# crashes valise:
#  - a truncated copy of an ext4 image, and the loop device over the image
#    once its backing file is truncated and `losetup -c` shrank it, verified
#    raw against a manifest of the full image: size-mismatch (the size
#    found and the size expected), exit 1;
#  - the ext4 file system still mounted on that shrunken device: the block
#    layer fails reads past the new end with EIO, so verify of the mounted
#    tree reports exactly the files with data past the cut unreadable (the
#    first bad range starting at the first byte past the cut, errno 5) and
#    the others ok, exit 1, in bounded time.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/faults_lib.sh"
need_root

MiB=1048576
make_drive T 64 ext4
T=${MNT[T]}
gen_file "$T/first.bin" $((3 * MiB + 100)) trunc-first
gen_file "$T/dir/second.bin" $((2 * MiB)) trunc-second
gen_file "$T/dir/small.txt" 3000 trunc-small
gen_file "$T/third.bin" $((5 * MiB)) trunc-third
gen_file "$T/last.bin" $((4 * MiB + 7)) trunc-last
find "$T" -path "$T/lost+found" -prune -o -exec touch -h -d "@$E2E_MTIME" {} +
# Read-only from here on: the journal is clean and nothing more is written,
# so the image's bytes are fixed.
sync
mount -o remount,ro "$T"

M_FILES="$VALISE_WORK/files.valise"
M_IMG="$VALISE_WORK/image.valise"
expect_exit 0 "$VALISE" manifest "$T" -o "$M_FILES"
expect_exit 0 "$VALISE" manifest "${IMG[T]}" -o "$M_IMG"
full=$(stat -c %s "${IMG[T]}")

# file_extents FILE: "logical_start physical_start length" in bytes per
# mapped extent (xfs_io prints 512-byte units: "N: [l0..l1]: p0..p1 ...").
file_extents() {
  local idx lrange prange
  while read -r idx lrange prange _; do
    [[ "$idx" =~ ^[0-9]+:$ && "$lrange" == \[* ]] || continue
    [[ "$prange" == hole* ]] && continue
    lrange=${lrange#[}
    lrange=${lrange%]:}
    echo "$((${lrange%..*} * 512)) $((${prange%..*} * 512))" \
      "$(((${lrange#*..} - ${lrange%..*} + 1) * 512))"
  done < <(xfs_io -r -c "fiemap -v" "$1")
}

# The cut: 1 MiB into the file whose data starts second to last on the
# device, so one file straddles it and one lies wholly past it.
cut_file=$(list_files "$T" | grep -v '^lost+found/' | while IFS= read -r rel; do
  p=$(file_extents "$T/$rel" | sort -k2,2n | awk 'NR == 1 {print $2}')
  if [[ -n "$p" ]]; then printf '%s\t%s\n' "$p" "$rel"; fi
done | sort -k1,1n | tail -n2 | head -n1 | cut -f2)
[[ -n "$cut_file" ]] || fail "no file with data extents"
while read -r l p n; do
  if ((MiB >= l && MiB < l + n)); then cut=$((p + MiB - l)); fi
done < <(file_extents "$T/$cut_file")
[[ -n "${cut:-}" ]] || fail "no extent of $cut_file holds its byte $MiB"
cut=$((cut / 4096 * 4096))
log "cutting the image at $cut of $full bytes (1 MiB into $cut_file)"

# What each file should be once reads past the cut fail: the logical offset
# of its first byte past the cut, or "ok".
declare -A expect_bad=()
while IFS= read -r rel; do
  first=""
  while read -r l p n; do
    ((p + n > cut)) || continue
    b=$((l + (cut > p ? cut - p : 0)))
    if [[ -z "$first" ]] || ((b < first)); then first=$b; fi
  done < <(file_extents "$T/$rel")
  expect_bad[$rel]=${first:-ok}
done < <(list_files "$T" | grep -v '^lost+found/')
n_bad=0
for rel in "${!expect_bad[@]}"; do
  [[ ${expect_bad[$rel]} == ok ]] || n_bad=$((n_bad + 1))
done
((n_bad >= 2 && n_bad < ${#expect_bad[@]})) ||
  fail "the cut should leave some files whole and some not ($n_bad bad)"

log "a truncated copy of the image, verified raw"
mkdir -p "$VALISE_SHM/cut"
CUT="$VALISE_SHM/cut/$(basename "${IMG[T]}")"
cp "${IMG[T]}" "$CUT"
truncate -s "$cut" "$CUT"
expect_exit 1 "$VALISE" verify -m "$M_IMG" --no-progress --json "$CUT"
rows=$(json "$LAST_OUT" rows files status expected_size actual_size |
  awk -F'\t' '$1 != "ok"')
assert_eq "size-mismatch"$'\t'"$full"$'\t'"$cut" "$rows" \
  "report of the truncated copy"
expect_exit 1 "$VALISE" verify -m "$M_IMG" --no-progress "$CUT"
assert_contains "$LAST_OUT" "$cut"

log "shrinking the mounted drive's device: truncate its image, losetup -c"
truncate -s "$cut" "${IMG[T]}"
losetup -c "${DEV[T]}"
assert_eq "$cut" "$(blockdev --getsize64 "${DEV[T]}")" "device size"
drop_caches

expect_exit 1 "$VALISE" verify -m "$M_IMG" --no-progress --json "${DEV[T]}"
rows=$(json "$LAST_OUT" rows files status expected_size actual_size |
  awk -F'\t' '$1 != "ok"')
assert_eq "size-mismatch"$'\t'"$full"$'\t'"$cut" "$rows" \
  "report of the shrunken device"

log "the file system on the shrunken device"
for mode in direct buffered; do
  flags=()
  [[ $mode == buffered ]] && flags=(--no-direct)
  drop_caches
  t0=$(date +%s%N)
  expect_exit 1 "$VALISE" verify -m "$M_FILES" --no-progress --json \
    "${flags[@]}" "$T"
  secs=$(elapsed_since "$t0")
  ((secs < 60)) || fail "verify took ${secs}s"
  J="$VALISE_WORK/files-$mode.json"
  cp "$LAST_OUT" "$J"
  for rel in "${!expect_bad[@]}"; do
    want=${expect_bad[$rel]}
    if [[ $want == ok ]]; then
      i=$(file_row "$J" "$rel" "$T") &&
        fail "$rel lies before the cut but is reported" \
          "$(json "$J" get "files.$i.status")"
      continue
    fi
    i=$(file_row "$J" "$rel" "$T") || fail "$rel (past the cut) not reported"
    assert_eq unreadable "$(json "$J" get "files.$i.status")" "$rel ($mode)"
    n=$(json "$J" len "files.$i.bad_ranges")
    ((n >= 1)) || fail "$rel: no bad range"
    min=""
    for ((k = 0; k < n; k++)); do
      off=$(json "$J" get "files.$i.bad_ranges.$k.offset")
      assert_eq 5 "$(json "$J" get "files.$i.bad_ranges.$k.errno")" \
        "$rel: errno of bad range $k"
      if [[ -z "$min" ]] || ((off < min)); then min=$off; fi
    done
    # valise narrows a failed chunk down to 4 KiB sectors: the first bad
    # one holds the first byte past the cut (a small ext4 has 1 KiB
    # blocks, so the cut may fall inside a sector).
    sector=$((want / 4096 * 4096))
    if [[ $mode == direct ]]; then
      assert_eq "$sector" "$min" "$rel: first bad offset ($mode)"
    else
      # Through the page cache a read fails by the kernel's folio, which
      # may be larger than a page (ext4 has large folios since Linux
      # 6.16): the first bad range then starts where the folio holding
      # that sector starts, at an offset aligned to the folio's size.
      span=$((sector - min + 4096))
      folio=4096
      while ((folio < span)); do folio=$((folio * 2)); done
      ((min <= sector && min % folio == 0)) ||
        fail "$rel: first bad offset ($mode): $min, not the start of a" \
          "folio holding $sector"
      ((min == sector)) ||
        log "$rel ($mode): bad from $min, the $folio-byte folio of $sector"
    fi
  done
  assert_eq "$n_bad" "$(json "$J" get totals.by_status.unreadable)" \
    "unreadable files ($mode)"
  assert_eq "$n_bad" "$(json "$J" get totals.files_problem)" \
    "problem files ($mode)"
  log "$mode: $n_bad files unreadable past the cut, the others ok, ${secs}s"
done
log "PASS"
