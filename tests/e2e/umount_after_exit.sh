#!/usr/bin/env bash
# Goal (issue 12, item 7): a drive valise has read can be unmounted the
# moment valise exits: `valise verify ... && umount /mnt/d1` works. With
# io_uring, files registered with the ring were let go of only when the
# kernel freed the closed ring, from a worker polling every 50 ms: umount
# right after exit failed with EBUSY about one time in three. The queue
# now unregisters its files before it closes the ring.
# One ext4 loop drive; 20 runs of verify and of manifest, each followed at
# once by umount (no retry) and a mount again. About 10 s.
source "$(dirname "$0")/lib.sh"
need_root

MiB=1048576
make_drive A 64 ext4
A=${MNT[A]}
# Files of several chunks: a file is registered at its second read.
for i in 1 2 3 4; do gen_file "$A/f$i.bin" $((3 * MiB + i)) "f$i"; done
M=$VALISE_WORK/a.vm
expect_exit 0 "$VALISE" manifest --no-progress "$A" -o "$M"

busy=0
for ((i = 0; i < 20; i++)); do
  if ((i % 2 == 0)); then
    expect_exit 0 "$VALISE" verify --no-progress -q -m "$M" "$A"
  else
    expect_exit 0 "$VALISE" manifest --no-progress -q "$A" \
      -o "$VALISE_WORK/again-$i.vm"
  fi
  if ! umount "$A" 2>"$VALISE_WORK/umount.err"; then
    busy=$((busy + 1))
    log "run $i: umount right after exit: $(cat "$VALISE_WORK/umount.err")"
    unmount "$A"
  fi
  mount "${DEV[A]}" "$A"
done
((busy == 0)) || fail "umount failed right after valise exited in $busy of 20 runs"
log "PASS: 20 runs, each drive unmounted at once after exit"
