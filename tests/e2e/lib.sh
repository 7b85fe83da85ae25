# shellcheck shell=bash
# Helpers for the end-to-end tests: each tests/e2e/*.sh sources this file,
# makes drives (file systems on loop devices), runs the built `valise` on
# them and checks exit codes, messages and --json reports.
#
#   need_root                 exit 77 (ctest: skipped) with a reason unless root
#   attach_image NAME FILE    FILE as a read-only loop device: DEV[NAME]
#   blank_device NAME SIZE_MB a blank read-write loop device: DEV[NAME]
#   mount_drive NAME          DEV[NAME] mounted on MNT[NAME]
#   make_drive NAME SIZE_MB FSTYPE   ext4 | xfs | btrfs | dir; then MNT[NAME],
#                             DEV[NAME], IMG[NAME] (scripts/lib/drives.sh)
#   expect_exit CODE CMD...   runs CMD (stdout in $LAST_OUT, stderr in
#                             $LAST_ERR, both in $LAST_ALL); fails, printing
#                             them, unless it exits CODE
#   assert_contains FILE TEXT / assert_not_contains FILE TEXT
#   assert_matches FILE ERE   case-insensitive extended regex
#   assert_eq WANT GOT WHAT
#   fill_dataset DIR [SEED]   a small varied dataset, same bytes every run
#   gen_file PATH SIZE [KEY]  deterministic content
#   flip_byte FILE OFFSET     inverts one byte, on the device under the file
#                             system when it can (as bit rot would), keeping
#                             the file's mtime
#   json FILE get|rows|len... queries a --json report (valise_e2e_json)
#   staging_strays DEST       entries in DEST/.valise/staging other than the
#                             kept partials of resume by chunk (r<entry>: a
#                             file of more than one chunk, cut short, which
#                             the next run goes on from)
#   drive_of_row INDEX_OR_SOURCE REPORT   the drive's source string
#
# Everything a test creates (mounts, loop devices, images, temp files)
# lives under $VALISE_WORK / $VALISE_SHM and is removed by the EXIT trap,
# whether the test passes or fails. Each valise command runs under
# `timeout`, so a hang fails the test (and cleans up) before ctest's own
# timeout would kill the script without cleanup.

set -euo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_REPO=$(cd "$E2E_DIR/../.." && pwd)
TEST_NAME=$(basename "$0" .sh)
# Runs a command in a private mount namespace that holds no test's mounts
# (tests/support/private_mounts.sh): every test that needs one.
PRIVATE_MOUNTS=$E2E_REPO/tests/support/private_mounts.sh
# shellcheck source=../../scripts/lib/drives.sh
source "$E2E_REPO/scripts/lib/drives.sh"
# shellcheck source=../../scripts/lib/data.sh
source "$E2E_REPO/scripts/lib/data.sh"

# The binary under test: ctest sets VALISE to $<TARGET_FILE:valise>.
VALISE=${VALISE:-$E2E_REPO/build/valise}
VALISE_JSON=${VALISE_JSON:-$(dirname "$VALISE")/tests/valise_e2e_json}
VALISE_TREE=${VALISE_TREE:-$(dirname "$VALISE_JSON")/valise_e2e_tree}
E2E_CMD_TIMEOUT=${E2E_CMD_TIMEOUT:-120}

log() { printf '[%s] %s\n' "$TEST_NAME" "$*"; }
fail() {
  printf '[%s] FAIL: %s\n' "$TEST_NAME" "$*" >&2
  exit 1
}

# running PID: true if PID is a live process. kill -0 also finds a zombie
# (dead, not yet reaped by its parent, which may be this shell).
running() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ "${stat%% *}" != Z ]]
}

need_root() {
  if [[ $(id -u) -ne 0 ]]; then
    echo "[$TEST_NAME] SKIP: needs root (loop devices, mount, drop_caches)"
    exit 77
  fi
}

if [[ ! -x "$VALISE" ]]; then
  fail "valise binary not found: $VALISE (set VALISE, or build first)"
fi
if [[ ! -x "$VALISE_JSON" ]]; then
  fail "JSON helper not found: $VALISE_JSON (build target valise_e2e_json)"
fi
if [[ ! -x "$VALISE_TREE" ]]; then
  fail "tree helper not found: $VALISE_TREE (build target valise_e2e_tree)"
fi

valise_drives_init "valise-e2e-$TEST_NAME"
LAST_OUT="$VALISE_WORK/last.out"
LAST_ERR="$VALISE_WORK/last.err"
LAST_ALL="$VALISE_WORK/last.all"

make_drive() { valise_make_drive "$@"; }
attach_image() { valise_attach_image "$@"; }
blank_device() { valise_blank_device "$@"; }
mount_drive() { valise_mount "$@"; }
drop_caches() { valise_drop_caches; }
# unmount DIR: unmount one of our drives mid-test. A mount can stay busy
# for a moment after the last process left it (btrfs's workers, udev
# probing a new device): retry for up to 5 s, then fail naming who holds it.
unmount() {
  local i
  for ((i = 0; i < 25; i++)); do
    umount "$1" 2>/dev/null && return 0
    sync
    sleep 0.2
  done
  fail "cannot unmount $1: $(umount "$1" 2>&1; fuser -vm "$1" 2>&1 | head -5)"
}

_show_file() {
  local label=$1 file=$2
  echo "---- $label ($(wc -c <"$file") bytes) ----"
  head -c 20000 "$file"
  echo
}

expect_exit() {
  local want=$1 got=0
  shift
  timeout --kill-after=10 "$E2E_CMD_TIMEOUT" "$@" >"$LAST_OUT" \
    2>"$LAST_ERR" </dev/null || got=$?
  cat "$LAST_OUT" "$LAST_ERR" >"$LAST_ALL"
  if [[ "$got" != "$want" ]]; then
    {
      echo "[$TEST_NAME] FAIL: expected exit $want, got $got" \
        "$( ((got == 124)) && echo "(timed out after ${E2E_CMD_TIMEOUT}s)")"
      echo "command: $(printf '%q ' "$@")"
      _show_file stdout "$LAST_OUT"
      _show_file stderr "$LAST_ERR"
    } >&2
    exit 1
  fi
  log "exit $got as expected: $(printf '%q ' "${@##*/}" | head -c 300)"
}

# The summary wraps a long line at 80 columns, going on after a newline
# and 4 spaces: _joined FILE is FILE with each such break one space again,
# so a text is found whether or not the summary wrapped it.
_joined() { LC_ALL=C sed -z 's/\n    / /g' "$1"; }

assert_contains() {
  local file=$1 text=$2
  if ! LC_ALL=C grep -aqF -- "$text" "$file" &&
    ! _joined "$file" | LC_ALL=C grep -aqF -- "$text"; then
    echo "[$TEST_NAME] FAIL: '$text' not found in $file" >&2
    _show_file "$file" "$file" >&2
    exit 1
  fi
}

assert_not_contains() {
  local file=$1 text=$2
  if LC_ALL=C grep -aqF -- "$text" "$file" ||
    _joined "$file" | LC_ALL=C grep -aqF -- "$text"; then
    echo "[$TEST_NAME] FAIL: '$text' unexpectedly found in $file" >&2
    _show_file "$file" "$file" >&2
    exit 1
  fi
}

assert_matches() {
  local file=$1 re=$2
  if ! LC_ALL=C grep -aqEi -- "$re" "$file"; then
    echo "[$TEST_NAME] FAIL: /$re/ not matched in $file" >&2
    _show_file "$file" "$file" >&2
    exit 1
  fi
}

assert_eq() {
  if [[ "$1" != "$2" ]]; then
    fail "$3: expected '$1', got '$2'"
  fi
}

json() { "$VALISE_JSON" "$@"; }

# The source string of the drive a report row names: the JSON may give the
# drive as an index into "drives" or as the source itself.
drive_of_row() {
  local d=$1 report=$2
  if [[ "$d" =~ ^[0-9]+$ ]]; then
    json "$report" get "drives.$d.source"
  else
    printf '%s\n' "$d"
  fi
}

gen_file() { valise_gen_file "$@"; }

# A fixed mtime (2024-11-28T22:00:00Z) so manifests are the same every run.
E2E_MTIME=1732831200

# fill_dataset DIR [SEED]: files of several MiB (chunk multiples and not),
# an empty file, nested directories, names with spaces, a backslash, a
# non-UTF-8 byte and a 255-byte name, and a handful of small files.
fill_dataset() {
  local dir=$1 seed=${2:-valise} i long
  mkdir -p "$dir"
  gen_file "$dir/big1.bin" $((5 * 1048576 + 12345)) "$seed:big1"
  gen_file "$dir/big2.bin" $((3 * 1048576)) "$seed:big2"
  gen_file "$dir/exact-1MiB.bin" 1048576 "$seed:exact"
  gen_file "$dir/dir/nested/deeper/deep.bin" $((2 * 1048576 + 1)) "$seed:deep"
  gen_file "$dir/with space/file name.dat" $((1048576 - 1)) "$seed:space"
  gen_file "$dir/back\\slash.txt" 777 "$seed:backslash"
  # 0xE9 alone is not UTF-8 (Latin-1 e-acute): valise escapes it as %E9.
  gen_file "$dir/latin1-caf"$'\xe9'".bin" $((4096 + 7)) "$seed:latin1"
  long=$(printf 'n%.0s' $(seq 1 251)).bin  # 255 bytes, NAME_MAX
  gen_file "$dir/dir/$long" 1000 "$seed:long"
  : >"$dir/empty.txt"
  for i in $(seq 1 12); do
    gen_file "$dir/small/s$i.dat" $((i * 5000 + i)) "$seed:small$i"
  done
  find "$dir" -exec touch -h -d "@$E2E_MTIME" {} +
}

# Byte I of FILE as a decimal number.
_byte_at() {
  od -An -tu1 -j "$2" -N1 "$1" | tr -d ' \n'
}

# Byte at OFFSET of a block device (read past the device's page cache).
_dev_byte_at() {
  dd if="$1" bs=1 skip="$2" count=1 iflag=skip_bytes status=none |
    od -An -tu1 | tr -d ' \n'
}

# The byte offset on the device of FILE's byte OFFSET, from FIEMAP (xfs_io
# prints extents in 512-byte units: "N: [lstart..lend]: pstart..pend").
# Empty when it cannot tell (hole, inline or unwritten extent).
_physical_offset() {
  local file=$1 off=$2 idx lrange prange flags lstart lend pstart
  sync
  while read -r idx lrange prange _ flags; do
    [[ "$idx" =~ ^[0-9]+:$ && "$lrange" == \[* ]] || continue
    [[ "$prange" == hole* ]] && continue
    lrange=${lrange#[}
    lrange=${lrange%]:}
    lstart=${lrange%..*}
    lend=${lrange#*..}
    pstart=${prange%..*}
    # 0x8 encoded, 0x100 tail-packed, 0x200 inline, 0x800 unwritten: only
    # plainly mapped data can be patched on the device.
    if (((${flags:-0} & (0x8 | 0x100 | 0x200 | 0x800)) != 0)); then
      continue
    fi
    if ((off >= lstart * 512 && off < (lend + 1) * 512)); then
      echo $((pstart * 512 + off - lstart * 512))
      return 0
    fi
  done < <(xfs_io -r -c "fiemap -v" "$file")
}

flip_byte() {
  local file=$1 off=$2 old new mtime src fstype phys=""
  old=$(_byte_at "$file" "$off")
  [[ -n "$old" ]] || fail "flip_byte: $file has no byte at $off"
  new=$((old ^ 0xFF))
  read -r src fstype < <(findmnt -n -o SOURCE,FSTYPE --target "$file")
  # Only on a loop device this test made, and only where FIEMAP offsets
  # are device offsets (ext4, xfs; not btrfs, whose are logical).
  if valise_is_our_loop "$src" && [[ "$fstype" == ext4 || "$fstype" == xfs ]]; then
    phys=$(_physical_offset "$file" "$off")
  fi
  if [[ -n "$phys" && "$(_dev_byte_at "$src" "$phys")" == "$old" ]]; then
    # Under the file system, as bit rot would be: the file's mtime and
    # metadata stay as they were; only the data block changes.
    printf "\\$(printf '%03o' "$new")" |
      dd of="$src" bs=1 seek="$phys" count=1 oflag=seek_bytes \
        conv=notrunc,fsync status=none
    drop_caches
    log "flipped byte $off of $file on $src at $phys ($old -> $new)"
  else
    mtime=$(stat -c '%.9Y' "$file")
    printf "\\$(printf '%03o' "$new")" |
      dd of="$file" bs=1 seek="$off" count=1 oflag=seek_bytes \
        conv=notrunc,fsync status=none
    touch -d "@$mtime" "$file"
    if [[ $(id -u) -eq 0 ]]; then drop_caches; fi
    log "flipped byte $off of $file through the file ($old -> $new)"
  fi
  assert_eq "$new" "$(_byte_at "$file" "$off")" "byte $off of $file after flip"
}

# Sectors read from block device DEV since boot (/sys/block/X/stat field 3).
sectors_read() {
  awk '{print $3}' "/sys/block/$(basename "$1")/stat"
}

# manifest_field M PATH COLUMN: the COLUMN (named as in "# columns") of the
# manifest v1 entry whose escaped path is PATH; exit 1 if there is none.
manifest_field() {
  awk -F'\t' -v want="$2" -v col="$3" '
    NR == 1 { next }
    /^# columns / {
      n = split(substr($0, 11), names, " ")
      for (i = 1; i <= n; i++) idx[names[i]] = i
      next
    }
    /^#/ { next }
    $idx["path"] == want { print $idx[col]; found = 1; exit }
    END { if (!found) exit 1 }' "$1"
}

# Regular files below DIR, relative, one per line, sorted by raw bytes.
list_files() {
  (cd "$1" && find . -type f -printf '%P\n' | LC_ALL=C sort)
}

# The files of data drive D in a pack's layout file (M.layout), empty ones
# included, sorted; with BELOW, only those with a chunk in a stripe below
# BELOW (each drive's files in order, each taking ceil(size / chunk)
# stripes).
layout_files() {
  awk -v d="$2" -v below="${3:-}" '
    /^# chunk-size / { chunk = $3; next }
    /^drive data / { on = ($3 == d); s = 0; next }
    /^drive |^#/ { on = 0; next }
    on {
      split($0, f, "\t"); size = f[1]; path = f[2]
      c = int((size + chunk - 1) / chunk)
      if (below == "" || (c > 0 && s < below)) print path
      s += c
    }' "$1" | sort
}

staging_strays() {
  find "$1/.valise/staging" -mindepth 1 ! \( -type f -regex '.*/r[0-9]+' \) \
    2>/dev/null | wc -l
}
