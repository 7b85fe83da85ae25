#!/usr/bin/env bash
# Goal: a btrfs checksum error reaches valise as what it is: one byte of a
# file's data block is changed on the image under an unmounted btrfs (as
# bit rot would, behind the file system's back); remounted with a cold
# cache, btrfs refuses the block with EIO (csum failed), and `valise
# verify` reports that file unreadable with a bad range covering the byte
# and errno 5, the other files ok, exit 1 (O_DIRECT and buffered alike).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/faults_lib.sh"
need_root
command -v mkfs.btrfs >/dev/null || {
  echo "[$TEST_NAME] SKIP: mkfs.btrfs not installed (btrfs-progs)"
  exit 77
}
grep -qw btrfs /proc/filesystems || modprobe btrfs 2>/dev/null || true
grep -qw btrfs /proc/filesystems || {
  echo "[$TEST_NAME] SKIP: no btrfs in this kernel"
  exit 77
}

MiB=1048576
make_drive R 128 btrfs
R=${MNT[R]}
gen_file "$R/victim.bin" $((4 * MiB + 321)) btrfs-victim
gen_file "$R/good.bin" $((3 * MiB)) btrfs-good
gen_file "$R/dir/small.txt" 5000 btrfs-small
find "$R" -exec touch -h -d "@$E2E_MTIME" {} +
sync

M="$VALISE_WORK/btrfs.valise"
expect_exit 0 "$VALISE" manifest "$R" -o "$M"
drop_caches
expect_exit 0 "$VALISE" verify -m "$M" --no-progress "$R"

# Where byte $target of victim.bin lies in the image. FIEMAP (filefrag)
# gives btrfs *logical* addresses; btrfs-map-logical turns one into the
# device offset (for a single-device file system the data profile is
# "single": one copy). Checked by reading the image there.
target=$((2 * MiB + 1000))
sync
ext=$(filefrag -v -b4096 "$R/victim.bin" | awk '$1 ~ /^[0-9]+:$/ {
  gsub(/[.:]/, " "); print $2, $3, $4; exit }')
read -r lstart lend pstart <<<"$ext"
[[ -n "$pstart" ]] || fail "filefrag gave no extent for victim.bin"
((target / 4096 <= lend)) || fail "the first extent does not reach $target"
logical=$(((pstart + target / 4096 - lstart) * 4096 + target % 4096))
phys=$logical
if command -v btrfs-map-logical >/dev/null; then
  mapped=$(btrfs-map-logical -l "$((logical / 4096 * 4096))" -b 4096 \
    "${DEV[R]}" 2>/dev/null | awk '/^mirror 1 / {print $6; exit}')
  if [[ "$mapped" =~ ^[0-9]+$ ]]; then phys=$((mapped + logical % 4096)); fi
fi
want=$(dd if="$R/victim.bin" bs=1 skip="$target" count=64 status=none | od -An -tx1)
got=$(dd if="${IMG[R]}" bs=1 skip="$phys" count=64 status=none | od -An -tx1)
assert_eq "$want" "$got" "64 bytes of the image at $phys (byte $target)"
log "byte $target of victim.bin is at $phys in the image (logical $logical)"

log "corrupting one byte on the image, file system unmounted"
unmount "$R"
old=$(od -An -tu1 -j "$phys" -N1 "${IMG[R]}" | tr -d ' ')
# shellcheck disable=SC2059  # the format is the octal escape of one byte
printf "\\$(printf '%03o' $((old ^ 0x20)))" |
  dd of="${IMG[R]}" bs=1 seek="$phys" count=1 conv=notrunc status=none
drop_caches # the loop device's cache too: the next read is from the image
mount -t btrfs "${DEV[R]}" "$R"
drop_caches
if dd if="$R/victim.bin" of=/dev/null bs=1M status=none 2>/dev/null; then
  fail "btrfs read victim.bin without an error after the corruption"
fi

for mode in direct buffered; do
  flags=()
  [[ $mode == buffered ]] && flags=(--no-direct)
  drop_caches
  log "verify ($mode)"
  expect_exit 1 "$VALISE" verify -m "$M" --no-progress --json "${flags[@]}" \
    "$R"
  J="$VALISE_WORK/report-$mode.json"
  cp "$LAST_OUT" "$J"
  rows=$(json "$J" rows files status path | awk -F'\t' '$1 != "ok"')
  assert_eq "unreadable"$'\t'"victim.bin" "$rows" "problems ($mode)"
  i=$(file_row "$J" victim.bin "$R") || fail "no row for victim.bin"
  n=$(json "$J" len "files.$i.bad_ranges")
  ((n >= 1)) || fail "no bad range for victim.bin"
  covered=""
  for ((k = 0; k < n; k++)); do
    off=$(json "$J" get "files.$i.bad_ranges.$k.offset")
    len=$(json "$J" get "files.$i.bad_ranges.$k.length")
    assert_eq 5 "$(json "$J" get "files.$i.bad_ranges.$k.errno")" "errno"
    # btrfs checksums 4 KiB blocks: nothing outside the bad one's chunk.
    ((off / MiB == target / MiB)) ||
      fail "bad range at $off, outside the corrupted chunk"
    if ((off <= target && target < off + len)); then covered=yes; fi
  done
  [[ -n "$covered" ]] || fail "no bad range covers byte $target ($mode)"
  log "$mode: bad ranges $(json "$J" get "files.$i.bad_ranges")"
  assert_eq 2 "$(json "$J" get drives.0.files_ok)" "files ok ($mode)"
done
# btrfs said why, in the kernel log.
if dmesg 2>/dev/null | tail -n 200 | grep -q 'csum failed'; then
  log "kernel: $(dmesg | grep 'csum failed' | tail -n1)"
fi

expect_exit 1 "$VALISE" verify -m "$M" --no-progress "$R"
assert_matches "$LAST_OUT" 'victim\.bin \(on .*\): unreadable at [0-9]+'
log "PASS"
