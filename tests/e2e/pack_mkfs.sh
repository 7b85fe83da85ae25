#!/usr/bin/env bash
# Goal: valise pack --mkfs on blank loop devices (images in /dev/shm):
#  - --dry-run says what it would format and formats nothing;
#  - a dataset that would not fit even on the devices' raw sizes formats
#    nothing;
#  - refusals, each before anything is formatted (the other devices stay
#    blank, exit 2): a device holding an ext4 file system (its files
#    intact), a mounted device (even with --mkfs-force), a directory;
#  - 3 + 1 devices formatted, packed and unmounted: plain ext4 file systems
#    labelled ship-01..04, M.drives naming each by its UUID and device;
#    mounted, they verify and ingest as any shipment;
#  - a pack killed (SIGKILL) mid-way resumes when run again: the same file
#    systems (UUIDs unchanged) mounted, not formatted again; its drives
#    verify;
#  - a pack stopped by SIGINT unmounts its drives before it exits;
#  - --mkfs xfs makes xfs drives; a device with a partition table is
#    refused, and formatted with --mkfs-force.
# About 10 s (6-9 s measured).
source "$(dirname "$0")/lib.sh"
need_root

W=$VALISE_WORK
NP=--no-progress
DS=$W/dataset

# The private mount directories valise makes in /run: one left behind
# (by the SIGKILL below) is removed by the cleanup.
runs_before=$(ls -d /run/valise-pack-mkfs.* 2>/dev/null | sort || true)
cleanup_run_dirs() {
  local d
  for d in $(ls -d /run/valise-pack-mkfs.* 2>/dev/null); do
    grep -qxF "$d" <<<"$runs_before" || rmdir "$d/"* "$d" 2>/dev/null
  done
}
valise_on_cleanup cleanup_run_dirs

blank() { ! blkid -p "$1" >/dev/null 2>&1; }
uuid_of() { blkid -p -s UUID -o value "$1"; }
# True when DEV is mounted in this namespace (by its device number).
mounted() {
  local n
  n=$(printf '%d:%d' "0x$(stat -Lc %t "$1")" "0x$(stat -Lc %T "$1")")
  awk -v n="$n" '$3 == n { found = 1 } END { exit !found }' /proc/self/mountinfo
}

log "a dataset of about 150 MB"
fill_dataset "$DS"
for i in 1 2 3 4 5 6; do
  gen_file "$DS/large/l$i.bin" $((i * 7 * 1048576 + i * 4097)) "large$i"
done
find "$DS" -exec touch -h -d "@$E2E_MTIME" {} +
files=$(find "$DS" -type f | wc -l)

for i in 1 2 3 4; do blank_device "b$i" 160; done
B=("${DEV[b1]}" "${DEV[b2]}" "${DEV[b3]}" "${DEV[b4]}")

log "--dry-run: what would be formatted; nothing is"
expect_exit 0 "$VALISE" pack "$DS" --drives "${B[@]}" --parity 1 --mkfs \
  -o "$W/ship.vm" --dry-run
assert_contains "$LAST_OUT" "format  ${DEV[b1]}"
assert_contains "$LAST_OUT" "ext4 'ship-04': blank"
for d in "${B[@]}"; do blank "$d" || fail "--dry-run formatted $d"; done
[[ ! -e $W/ship.vm.mkfs ]] || fail "--dry-run wrote ship.vm.mkfs"

log "a dataset that would not fit even on the raw devices: nothing is formatted"
for i in 1 2; do blank_device "t$i" 16; done
expect_exit 1 "$VALISE" pack "$DS" --drives "${DEV[t1]}" "${DEV[t2]}" \
  --parity 1 --mkfs -o "$W/t.vm" --dry-run
assert_contains "$LAST_ERR" "would not fit even on every byte of the devices"
expect_exit 2 "$VALISE" pack $NP "$DS" --drives "${DEV[t1]}" "${DEV[t2]}" \
  --parity 1 --mkfs -o "$W/t.vm"
assert_contains "$LAST_ERR" "would not fit even on every byte of the devices"
for i in 1 2; do blank "${DEV[t$i]}" || fail "t$i formatted for nothing"; done
[[ ! -e $W/t.vm.mkfs ]] || fail "t.vm.mkfs written for a pack that cannot fit"

log "refused: a device holding an ext4 file system; nothing is formatted"
make_drive old 64 ext4
echo "keep me" >"${MNT[old]}/precious.txt"
old_uuid=$(uuid_of "${DEV[old]}")
unmount "${MNT[old]}"
expect_exit 2 "$VALISE" pack $NP "$DS" --drives "${B[@]:0:3}" "${DEV[old]}" \
  --parity 1 --mkfs -o "$W/ship.vm"
assert_contains "$LAST_ERR" "${DEV[old]} holds an ext4 signature labelled 'old'"
assert_contains "$LAST_ERR" "nothing was formatted"
log "$(cat "$LAST_ERR")"
for d in "${B[@]}"; do blank "$d" || fail "a refused pack formatted $d"; done
assert_eq "$old_uuid" "$(uuid_of "${DEV[old]}")" "the refused device's UUID"
[[ ! -e $W/ship.vm.mkfs && ! -e $W/ship.vm ]] || fail "a refused pack wrote"
mount "${DEV[old]}" "${MNT[old]}"
assert_eq "keep me" "$(cat "${MNT[old]}/precious.txt")" "the refused drive's file"

log "refused: a mounted device, even with --mkfs-force; a directory"
for force in "" --mkfs-force; do
  expect_exit 2 "$VALISE" pack $NP "$DS" --drives "${B[@]:0:3}" \
    "${DEV[old]}" --parity 1 --mkfs $force -o "$W/ship.vm"
  assert_contains "$LAST_ERR" "${DEV[old]} is mounted on ${MNT[old]}"
done
mkdir "$W/notadev"
expect_exit 2 "$VALISE" pack $NP "$DS" --drives "${B[@]:0:3}" "$W/notadev" \
  --parity 1 --mkfs -o "$W/ship.vm"
assert_contains "$LAST_ERR" "$W/notadev is not a block device"
for d in "${B[@]}"; do blank "$d" || fail "a refused pack formatted $d"; done
assert_eq "keep me" "$(cat "${MNT[old]}/precious.txt")" "the mounted drive's file"

log "pack 3 + 1 with --mkfs"
expect_exit 0 "$VALISE" pack $NP "$DS" --drives "${B[@]}" --parity 1 --mkfs \
  -o "$W/ship.vm"
assert_contains "$LAST_ERR" "formatted ${DEV[b1]} (as 'ship-01'"
assert_contains "$LAST_ERR" "on 3 data drives"
[[ ! -e $W/ship.vm.mkfs && ! -e $W/ship.vm.pack ]] ||
  fail "ship.vm.mkfs or the pack's state left after a finished pack"
for i in 1 2 3 4; do
  d=${DEV[b$i]}
  mounted "$d" && fail "$d is still mounted"
  assert_eq "ext4" "$(blkid -p -s TYPE -o value "$d")" "b$i: type"
  assert_eq "ship-0$i" "$(blkid -p -s LABEL -o value "$d")" "b$i: label"
  grep -F "\"label\":\"ship-0$i\"" "$W/ship.vm.drives" |
    grep -F "\"source\":\"$d\"" | grep -qF "\"fs_uuid\":\"$(uuid_of "$d")\"" ||
    fail "ship.vm.drives: ship-0$i is not there as $d with its UUID"
done
[[ -z $(comm -13 <(echo "$runs_before") \
  <(ls -d /run/valise-pack-mkfs.* 2>/dev/null | sort)) ]] ||
  fail "the private mount directory was left in /run"

log "a finished shipment's drives are not formatted again, even forced"
u1=$(uuid_of "${DEV[b1]}")
expect_exit 2 "$VALISE" pack $NP "$DS" --drives "${B[@]}" --parity 1 --mkfs \
  --mkfs-force -o "$W/ship.vm"
assert_contains "$LAST_ERR" "exists; valise pack does not overwrite"
assert_eq "$u1" "$(uuid_of "${DEV[b1]}")" "b1's UUID after a refused rerun"

log "mounted, the drives verify and ingest as any shipment"
for i in 1 2 3 4; do mount_drive "b$i"; done
M=("${MNT[b1]}" "${MNT[b2]}" "${MNT[b3]}" "${MNT[b4]}")
expect_exit 0 "$VALISE" verify $NP -m "$W/ship.vm" "${M[@]:0:3}"
assert_contains "$LAST_ALL" "all $files files verified"
expect_exit 0 "$VALISE" ingest $NP -m "$W/ship.vm" -d "$W/dest" "${M[@]}"
diff -r "$DS" "$W/dest" -x .valise >/dev/null ||
  fail "ingest: DEST differs from the dataset"
for i in 1 2 3 4; do unmount "${MNT[b$i]}"; done

# pack_past_a_checkpoint M OUT DEVICE...: starts `pack --mkfs` of the
# dataset onto DEVICEs (3+1) in the background, its output in OUT, and
# returns once its journal records a checkpoint, with $pid running it.
pack_past_a_checkpoint() {
  local m=$1 out=$2 t
  shift 2
  "$VALISE" pack $NP "$DS" --drives "$@" --parity 1 --mkfs \
    --checkpoint 4 -o "$m" >"$out" 2>&1 &
  pid=$!
  valise_on_cleanup "kill -9 $pid"
  for ((t = 0; t < 600; t++)); do
    grep -qs '^checkpoint [1-9]' "$m.pack/journal" && break
    running "$pid" || break
    sleep 0.05
  done
  running "$pid" || fail "the pack ended before its checkpoint: $(cat "$out")"
}

log "a pack killed mid-way resumes on the same file systems"
for i in 1 2 3 4; do blank_device "k$i" 160; done
K=("${DEV[k1]}" "${DEV[k2]}" "${DEV[k3]}" "${DEV[k4]}")
pack_past_a_checkpoint "$W/k.vm" "$W/kill.out" "${K[@]}"
kill -9 "$pid"
wait "$pid" || true
[[ -f $W/k.vm.mkfs && ! -e $W/k.vm ]] || fail "no M.mkfs, or a manifest"
uuids=()
for d in "${K[@]}"; do
  mounted "$d" && fail "$d is still mounted after the kill"
  uuids+=("$(uuid_of "$d")")
done
# The kernel unmounts the killed pack's drives as its mount namespace goes,
# writing back what it left in the page cache: until then a device is in
# use, and refused. --dry-run probes as the run does (an exclusive open).
for ((t = 0; t < 100; t++)); do
  "$VALISE" pack "$DS" --drives "${K[@]}" --parity 1 --mkfs -o "$W/k.vm" \
    --dry-run >"$W/dry.out" 2>&1 && break
  sleep 0.2
done
log "the killed pack's devices were free after $t retries of 0.2 s"
for i in 1 2 3 4; do
  assert_contains "$W/dry.out" "resume  ${DEV[k$i]}"
done
expect_exit 0 "$VALISE" pack $NP "$DS" --drives "${K[@]}" --parity 1 --mkfs \
  --checkpoint 4 -o "$W/k.vm"
assert_contains "$LAST_ERR" "resuming on ${DEV[k1]} (as 'k-01'"
assert_not_contains "$LAST_ERR" "formatted"
assert_matches "$LAST_ERR" "resumed the interrupted pack \([1-9][0-9]* of"
log "$(cat "$LAST_ERR")"
for i in 0 1 2 3; do
  assert_eq "${uuids[i]}" "$(uuid_of "${K[i]}")" "UUID of ${K[i]} after the rerun"
done
for i in 1 2 3; do mount_drive "k$i"; done
expect_exit 0 "$VALISE" verify $NP -m "$W/k.vm" "${MNT[k1]}" "${MNT[k2]}" \
  "${MNT[k3]}"
assert_contains "$LAST_ALL" "all $files files verified"
for i in 1 2 3; do unmount "${MNT[k$i]}"; done

log "a pack stopped by SIGINT unmounts its drives itself; the rerun resumes"
for i in 1 2 3 4; do blank_device "i$i" 160; done
I=("${DEV[i1]}" "${DEV[i2]}" "${DEV[i3]}" "${DEV[i4]}")
runs_now=$(ls -d /run/valise-pack-mkfs.* 2>/dev/null | sort || true)
pack_past_a_checkpoint "$W/i.vm" "$W/int.out" "${I[@]}"
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
assert_eq 130 "$rc" "exit status after SIGINT"
assert_not_contains "$W/int.out" "unmounting the drives"
# Unmounted before it exited: its directory in /run is gone, and the
# devices are free at once.
[[ -z $(comm -13 <(echo "$runs_now") \
  <(ls -d /run/valise-pack-mkfs.* 2>/dev/null | sort)) ]] ||
  fail "SIGINT left the private mount directory in /run"
expect_exit 0 "$VALISE" pack "$DS" --drives "${I[@]}" --parity 1 --mkfs \
  -o "$W/i.vm" --dry-run
assert_contains "$LAST_OUT" "resume  ${DEV[i4]}"
expect_exit 0 "$VALISE" pack $NP "$DS" --drives "${I[@]}" --parity 1 --mkfs \
  --checkpoint 4 -o "$W/i.vm"
assert_matches "$LAST_ERR" "resumed the interrupted pack \([1-9][0-9]* of"

log "--mkfs xfs"
mkdir -p "$W/small"
cp -a "$DS/large/l1.bin" "$W/small/"
blank_device x1 320
blank_device x2 320
log "a device holding a partition table is refused; with --mkfs-force it is formatted"
# An MBR with one Linux partition (2048 sectors in, 32768 long).
printf '\x83\0\0\0\0\x08\0\0\0\x80\0\0' |
  dd of="${DEV[x1]}" bs=1 seek=450 conv=notrunc status=none
printf '\x55\xaa' | dd of="${DEV[x1]}" bs=1 seek=510 conv=notrunc status=none
sync
assert_eq dos "$(blkid -p -s PTTYPE -o value "${DEV[x1]}")" "x1's partition table"
expect_exit 2 "$VALISE" pack $NP "$W/small" --drives "${DEV[x1]}" \
  "${DEV[x2]}" --parity 1 --mkfs xfs -o "$W/x.vm"
assert_contains "$LAST_ERR" "${DEV[x1]} holds a dos partition table"
blank "${DEV[x2]}" || fail "a refused pack formatted x2"
expect_exit 0 "$VALISE" pack $NP "$W/small" --drives "${DEV[x1]}" \
  "${DEV[x2]}" --parity 1 --mkfs xfs --mkfs-force -o "$W/x.vm"
assert_contains "$LAST_ERR" "formatted ${DEV[x1]} (as 'x-01'"
assert_eq "xfs x-01" "$(blkid -p -s TYPE -o value "${DEV[x1]}") $(
  blkid -p -s LABEL -o value "${DEV[x1]}")" "x1: type and label"
mount_drive x1
expect_exit 0 "$VALISE" verify $NP -m "$W/x.vm" "${MNT[x1]}"
log "ok"
