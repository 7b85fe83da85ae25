#!/usr/bin/env bash
# The drives and DESTs of one scripts/bench-peers part: file systems on
# loop devices (drives.sh), made, described on stdout, kept while the
# harness measures, and torn down when it is done. The Python harness
# (bench/peers/) starts this script as a child and reads its description;
# the rig lives as long as the script's stdin is open: when the harness
# closes it (or dies, which closes it too), the script exits and its EXIT
# trap unmounts and detaches everything it made, and nothing else.
#
#   bench_rig.sh [--prefix NAME] [--drives N] [--drives-on shm|disk]
#                [--drive-mb MB] [--dest NAME:shm|disk:FS:MB]...
#
#   --drives N        ext4 drives d1..dN (default 4), each an image of
#                     --drive-mb MiB (sparse: only what is written costs)
#   --drives-on       shm: images in /dev/shm (memory speed, the CPU shows;
#                     default); disk: images under $TMPDIR, which must be on
#                     a disk, loop devices in direct I/O mode
#   --dest NAME:WHERE:FS:MB   a DEST file system (xfs, ext4, btrfs) of MB
#                     MiB on a loop device over an image in /dev/shm (WHERE
#                     shm: memory, the software's cost; all the image's
#                     memory allocated at once) or on the disk (disk: what
#                     an operator sees; loop direct I/O)
#
# Prints, one per line, then waits for EOF on stdin:
#   work DIR                      scratch directory (removed at exit)
#   disk DIR SOURCE FSTYPE        the on-disk image directory, its device
#   drive NAME MNT DEV WHERE DIO  a drive (DIO: loop direct I/O on|off)
#   dest NAME MNT DEV WHERE FS DIO
#   ready
# Errors go to stderr, exit 2. Needs root.
set -euo pipefail

VALISE_PROG="bench-rig"
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source=drives.sh
source "$VALISE_REPO/scripts/lib/drives.sh"

prefix=valise-bench
ndrives=4
drives_on=shm
drive_mb=1024
dests=()
while (($#)); do
  case $1 in
    --prefix) prefix=${2:?--prefix needs a name}; shift ;;
    --drives) ndrives=${2:?--drives needs a number}; shift ;;
    --drives-on) drives_on=${2:?--drives-on needs shm or disk}; shift ;;
    --drive-mb) drive_mb=${2:?--drive-mb needs a number}; shift ;;
    --dest) dests+=("${2:?--dest needs NAME:WHERE:FS:MB}"); shift ;;
    *) valise_die "unknown argument: $1" ;;
  esac
  shift
done
[[ "$ndrives" =~ ^[0-9]+$ ]] || valise_die "--drives: not a number"
[[ "$drive_mb" =~ ^[1-9][0-9]*$ ]] || valise_die "--drive-mb: not a number"
[[ "$drives_on" =~ ^(shm|disk)$ ]] || valise_die "--drives-on: shm or disk"
[[ $(id -u) -eq 0 ]] || valise_die "needs root (loop devices, mount)"

valise_drives_init "$prefix"
disk_dir=$VALISE_WORK/disk
mkdir -p "$disk_dir"
read -r disk_src disk_fstype < <(df --output=source,fstype "$disk_dir" | tail -n1)
needs_disk=false
[[ $drives_on == disk ]] && needs_disk=true
for spec in "${dests[@]}"; do
  [[ $spec == *:disk:* ]] && needs_disk=true
done
if $needs_disk && [[ "$disk_fstype" == tmpfs || "$disk_fstype" == ramfs ]]; then
  valise_die "$disk_dir is on $disk_fstype; set TMPDIR to a directory on disk"
fi

# make_one NAME MB FS WHERE: a drive whose image is in /dev/shm or on the disk;
# on the disk its loop device goes to direct I/O (no second page cache
# between the file system and the disk). Prints the direct I/O state.
dio=""
make_one() {
  local name=$1 mb=$2 fs=$3 where=$4 saved=$VALISE_SHM
  [[ $where == disk ]] && VALISE_SHM=$disk_dir
  valise_make_drive "$name" "$mb" "$fs"
  VALISE_SHM=$saved
  dio=off
  if losetup --direct-io=on "${DEV[$name]}" 2>/dev/null; then dio=on; fi
}

echo "work $VALISE_WORK"
echo "disk $disk_dir $disk_src $disk_fstype"
for ((d = 1; d <= ndrives; d++)); do
  make_one "d$d" "$drive_mb" ext4 "$drives_on"
  echo "drive d$d ${MNT[d$d]} ${DEV[d$d]} $drives_on $dio"
done
for spec in "${dests[@]}"; do
  IFS=: read -r name where fs mb <<<"$spec"
  [[ "$name" =~ ^[a-z][a-z0-9-]*$ ]] || valise_die "--dest $spec: bad name"
  [[ "$where" =~ ^(shm|disk)$ ]] || valise_die "--dest $spec: shm or disk"
  [[ "$fs" =~ ^(xfs|ext4|btrfs)$ ]] || valise_die "--dest $spec: xfs, ext4, btrfs"
  [[ "$mb" =~ ^[1-9][0-9]*$ ]] || valise_die "--dest $spec: size in MiB"
  make_one "$name" "$mb" "$fs" "$where"
  # A DEST in /dev/shm has all its image's memory from the start, and the
  # harness never trims it (bench/peers/rig.py, empty_dest): fallocate
  # allocates every page mkfs left unwritten and keeps what it wrote.
  # Memory newly allocated on this kind of machine (a virtual machine) is
  # slow to first touch and slows the whole machine for a minute after,
  # so a DEST given back its memory before every command measured that,
  # not the tools (docs/bench.md, "How every tool is timed").
  if [[ $where == shm ]]; then
    fallocate -l "$(stat -c %s "${IMG[$name]}")" "${IMG[$name]}" ||
      valise_die "cannot allocate the memory of ${IMG[$name]}"
  fi
  echo "dest $name ${MNT[$name]} ${DEV[$name]} $where $fs $dio"
done
echo ready
# The rig lives until the harness closes our stdin (or dies).
while read -r _; do :; done
