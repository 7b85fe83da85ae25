# shellcheck shell=bash
# Sample drives for tests, the demo and benchmarks: file systems on loop
# devices whose backing images live in /dev/shm (memory speed, so the CPU
# shows, and nothing is left on disk), each mounted on a temporary
# directory. Everything made here is recorded and torn down by
# valise_drives_cleanup, which valise_drives_init installs as the EXIT trap
# (INT and TERM exit through it too). Only what this shell created is
# touched: its own mounts, its own loop devices, its own files.
#
#   valise_drives_init PREFIX     makes the scratch directories, sets traps
#   valise_make_drive NAME SIZE_MB FSTYPE   ext4 | xfs | btrfs | dir
#       sets MNT[NAME] (mount point), DEV[NAME] (/dev/loopN), IMG[NAME]
#       (backing image). FSTYPE "dir" makes a plain directory (no root).
#   valise_attach_image NAME FILE  attaches an existing image read-only
#       as a loop device (no file system): sets DEV[NAME], IMG[NAME]
#   valise_blank_device NAME SIZE_MB  a blank (zero) image attached
#       read-write as a loop device, with no file system: DEV[NAME],
#       IMG[NAME] (for valise pack --mkfs)
#   valise_mount NAME             mounts DEV[NAME] on MNT[NAME] (made),
#       unmounted by the cleanup
#   valise_is_our_loop DEV        true if this shell attached DEV
#   valise_drop_caches            sync and drop the page cache (root)
#   VALISE_WORK                   scratch directory on /tmp (removed at exit)
#
# Call valise_make_drive directly, never inside $(...): a subshell's
# records would be lost and its drives never cleaned up.

# shellcheck disable=SC2034  # read by the scripts that source this file
declare -gA MNT=() DEV=() IMG=()
VALISE_WORK=""
VALISE_SHM=""
_valise_mounts=()
_valise_loops=()
_valise_images=()
_valise_main_pid=""
_valise_cleanup_hooks=()

valise_drives_init() {
  local prefix=${1:-valise}
  _valise_main_pid=$BASHPID
  VALISE_WORK=$(mktemp -d "${TMPDIR:-/tmp}/$prefix.XXXXXX")
  # Images in /dev/shm: a tmpfs, so a loop drive reads at memory speed and
  # sparse images cost only the bytes written.
  if [[ -d /dev/shm && -w /dev/shm ]]; then
    VALISE_SHM=$(mktemp -d "/dev/shm/$prefix.XXXXXX")
  else
    VALISE_SHM=$(mktemp -d "$VALISE_WORK/images.XXXXXX")
  fi
  trap valise_drives_cleanup EXIT
  # Exit through the EXIT trap with the conventional 128+signal status.
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# Registers a command run first by the cleanup (e.g. kill a helper).
valise_on_cleanup() { _valise_cleanup_hooks+=("$*"); }

valise_drives_cleanup() {
  local rc=$? i m img dev
  set +e
  trap - EXIT INT TERM
  # Our own working directory inside a mount would keep it busy.
  cd / || true
  for ((i = ${#_valise_cleanup_hooks[@]} - 1; i >= 0; i--)); do
    eval "${_valise_cleanup_hooks[i]}" >/dev/null 2>&1
  done
  # Unmount in reverse order of mounting; a busy mount (a process still in
  # it) gets a few retries, then a lazy unmount so the loop device can go.
  for ((i = ${#_valise_mounts[@]} - 1; i >= 0; i--)); do
    m=${_valise_mounts[i]}
    mountpoint -q "$m" || continue
    for _ in 1 2 3 4 5; do
      umount "$m" 2>/dev/null && break
      sleep 0.2
    done
    if mountpoint -q "$m"; then
      echo "cleanup: $m busy; lazy unmount" >&2
      umount -l "$m"
    fi
  done
  for ((i = ${#_valise_loops[@]} - 1; i >= 0; i--)); do
    losetup -d "${_valise_loops[i]}" 2>/dev/null
  done
  # A loop device attached to one of our images but not yet recorded (the
  # script died right after losetup): find it through its backing file.
  for img in "${_valise_images[@]}"; do
    while read -r dev; do
      [[ -n "$dev" ]] && losetup -d "$dev" 2>/dev/null
    done < <(losetup -j "$img" -O NAME -n 2>/dev/null)
  done
  # --one-file-system: never descend into something still mounted.
  [[ -n "$VALISE_SHM" ]] && rm -rf --one-file-system "$VALISE_SHM"
  [[ -n "$VALISE_WORK" ]] && rm -rf --one-file-system "$VALISE_WORK"
  exit "$rc"
}

# Minimum sizes mkfs accepts (xfsprogs 5.19+ refuses file systems under
# 300 MiB; btrfs needs about 110 MiB). Images are sparse, so a larger
# image costs nothing but the metadata written.
_valise_min_mb() {
  case $1 in
    xfs) echo 300 ;;
    btrfs) echo 128 ;;
    *) echo 1 ;;
  esac
}

valise_make_drive() {
  local name=$1 size_mb=$2 fstype=$3
  if [[ -z "$_valise_main_pid" ]]; then
    echo "valise_make_drive: call valise_drives_init first" >&2
    return 2
  fi
  if [[ "$BASHPID" != "$_valise_main_pid" ]]; then
    echo "valise_make_drive: called in a subshell; its drive would leak" >&2
    return 2
  fi
  if [[ -n "${MNT[$name]:-}" ]]; then
    echo "valise_make_drive: drive $name exists" >&2
    return 2
  fi
  local mnt="$VALISE_WORK/mnt-$name"
  mkdir -p "$mnt"
  MNT[$name]=$mnt
  if [[ "$fstype" == dir ]]; then
    DEV[$name]=""
    IMG[$name]=""
    return 0
  fi
  local min
  min=$(_valise_min_mb "$fstype")
  if ((size_mb < min)); then
    size_mb=$min
  fi
  local img="$VALISE_SHM/$name.img" dev
  # Recorded before losetup: the cleanup finds a loop device by its image.
  _valise_images+=("$img")
  truncate -s "${size_mb}M" "$img"
  # --find --show: allocate a free loop device and attach in one step, so
  # two scripts running at once never pick the same device.
  dev=$(losetup --find --show "$img")
  _valise_loops+=("$dev")
  case $fstype in
    # Lazy init off: ext4 would otherwise zero inode tables from a kernel
    # thread after mount, adding device I/O the tests do not expect.
    ext4) mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 \
      -L "${name:0:16}" "$dev" ;;
    xfs) mkfs.xfs -q -f -L "${name:0:12}" "$dev" ;;
    btrfs) mkfs.btrfs -q -f -L "$name" "$dev" >/dev/null ;;
    *)
      echo "valise_make_drive: unknown file system type $fstype" >&2
      return 2
      ;;
  esac
  mount -t "$fstype" "$dev" "$mnt"
  _valise_mounts+=("$mnt")
  DEV[$name]=$dev
  IMG[$name]=$img
}

valise_attach_image() {
  local name=$1 file=$2 dev
  if [[ "$BASHPID" != "$_valise_main_pid" ]]; then
    echo "valise_attach_image: called in a subshell; its device would leak" >&2
    return 2
  fi
  _valise_images+=("$file")
  # --read-only: a verify must not need to write, and cannot by accident.
  dev=$(losetup --find --show --read-only "$file")
  _valise_loops+=("$dev")
  DEV[$name]=$dev
  IMG[$name]=$file
}

valise_blank_device() {
  local name=$1 size_mb=$2 dev
  if [[ "$BASHPID" != "$_valise_main_pid" ]]; then
    echo "valise_blank_device: called in a subshell; its device would leak" >&2
    return 2
  fi
  local img="$VALISE_SHM/$name.img"
  _valise_images+=("$img")
  truncate -s "${size_mb}M" "$img"
  dev=$(losetup --find --show "$img")
  _valise_loops+=("$dev")
  DEV[$name]=$dev
  IMG[$name]=$img
}

valise_mount() {
  local name=$1
  MNT[$name]="$VALISE_WORK/mnt-$name"
  mkdir -p "${MNT[$name]}"
  mount "${DEV[$name]}" "${MNT[$name]}"
  _valise_mounts+=("${MNT[$name]}")
}

valise_is_our_loop() {
  local d
  for d in "${_valise_loops[@]}"; do
    [[ "$d" == "$1" ]] && return 0
  done
  return 1
}

# Writes back dirty pages and empties the page cache, dentries and inodes,
# so the next read of a drive comes from the device. Needs root.
valise_drop_caches() {
  sync
  echo 3 >/proc/sys/vm/drop_caches
}
