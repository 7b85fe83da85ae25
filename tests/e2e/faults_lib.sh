# shellcheck shell=bash
# Helpers shared by the kernel fault tests (tests/e2e/faults_*.sh), on top
# of lib.sh (which must be sourced first):
#
#   need_faultfs               exit 77 unless valise_faultfs is built and
#                              /dev/fuse is usable
#   need_fusectl               mounts fusectl on /sys/fs/fuse/connections
#                              if it is not (unmounted again at exit)
#   start_faultfs NAME BACKING [OPT,...]   mounts BACKING through
#                              valise_faultfs on $VALISE_WORK/fuse-NAME:
#                              sets FMNT[NAME], FPID[NAME], FCTL[NAME]
#                              (control file), FLOG[NAME] (event log); the
#                              EXIT trap releases, unmounts and stops it
#   set_faults NAME RULE...    replaces NAME's control file (one rule per
#                              argument) and waits until faultfs read it
#   stop_faultfs NAME          releases hangs, unmounts, waits for the
#                              process; fails if it does not exit cleanly
#   fault_count NAME KIND [PATH]   lines "KIND PATH ..." in NAME's log
#   file_row REPORT PATH SOURCE    index in "files" of PATH's row on SOURCE
#   row_field REPORT PATH SOURCE FIELD   a field of that row ("-" if none)
#   check_dest_files DEST SRC...   every regular file under DEST (outside
#                              .valise) equals the file of the same path on
#                              one of the SRCs; prints how many there are
#   staging_leftovers DEST     regular files left in DEST/.valise/staging
#   elapsed_since START_NS     whole seconds since START_NS (date +%s%N)
#   defer_fail MSG             records a failure and goes on (so one run
#                              shows every broken behaviour, and the later
#                              steps still run); finish_deferred fails the
#                              test with all of them, if any

declare -gA FMNT=() FPID=() FCTL=() FLOG=()
VALISE_FAULTFS=${VALISE_FAULTFS:-}

need_faultfs() {
  if [[ -z "$VALISE_FAULTFS" || ! -x "$VALISE_FAULTFS" ]]; then
    echo "[$TEST_NAME] SKIP: valise_faultfs not built (libfuse3-dev and" \
      "pkg-config are needed; VALISE_FAULTFS='$VALISE_FAULTFS')"
    exit 77
  fi
  if [[ ! -c /dev/fuse ]] || ! grep -qw fuse /proc/filesystems; then
    echo "[$TEST_NAME] SKIP: no FUSE in this kernel (/dev/fuse)"
    exit 77
  fi
}

need_fusectl() {
  local d=/sys/fs/fuse/connections
  if [[ ! -d $d ]]; then
    echo "[$TEST_NAME] SKIP: $d absent (no fusectl in this kernel)"
    exit 77
  fi
  if ! mountpoint -q "$d"; then
    mount -t fusectl fusectl "$d" || fail "cannot mount fusectl on $d"
    valise_on_cleanup "umount $d"
  fi
}

# Unmounts NAME's mount point (whatever state faultfs is in) and ends the
# process this script started, by its PID. Used by the EXIT trap.
_faultfs_teardown() {
  local name=$1 pid=${FPID[$1]:-} mnt=${FMNT[$1]:-}
  [[ -n "$pid" ]] && kill -USR2 "$pid" 2>/dev/null
  if [[ -n "$mnt" ]] && grep -qF " $mnt " /proc/self/mountinfo; then
    fusermount3 -u -z "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null
  fi
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 50); do
      running "$pid" || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
  fi
  return 0
}

start_faultfs() {
  local name=$1 backing=$2 opts=${3:-} mnt ctl flog pid
  mnt="$VALISE_WORK/fuse-$name"
  ctl="$VALISE_WORK/faultfs-$name.ctl"
  flog="$VALISE_WORK/faultfs-$name.log"
  mkdir -p "$mnt"
  : >"$ctl"
  : >"$flog"
  # -f: stays in the foreground, so this script holds its PID (for the
  # signals, and to end exactly this process at cleanup).
  "$VALISE_FAULTFS" -f "$backing" "$mnt" \
    -o "ctl=$ctl,log=$flog${opts:+,$opts}" \
    >"$VALISE_WORK/faultfs-$name.out" 2>&1 &
  pid=$!
  FMNT[$name]=$mnt
  FPID[$name]=$pid
  FCTL[$name]=$ctl
  FLOG[$name]=$flog
  valise_on_cleanup "_faultfs_teardown $name"
  # Mounted once the kernel's INIT request was answered (the "init" log
  # line); a stat then goes through.
  for _ in $(seq 1 100); do
    if grep -q '^init ' "$flog" && stat "$mnt/." >/dev/null 2>&1; then
      log "faultfs $name: $backing on $mnt (pid $pid)"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$VALISE_WORK/faultfs-$name.out" >&2
  fail "faultfs $name did not come up"
}

set_faults() {
  local name=$1 tmp
  shift
  tmp="${FCTL[$name]}.new"
  if (($#)); then printf '%s\n' "$@" >"$tmp"; else : >"$tmp"; fi
  # faultfs re-reads it on its next request: make one, and wait for the
  # "reload" line. Counted before the move: a request of someone else's
  # (a late read of a released hang) may reload it at once.
  local before
  before=$(grep -c '^reload ' "${FLOG[$name]}" || true)
  # A new inode: faultfs sees the change whatever the timestamps' grain.
  mv -f "$tmp" "${FCTL[$name]}"
  for _ in $(seq 1 50); do
    stat "${FMNT[$name]}/." >/dev/null 2>&1 || true
    if (($(grep -c '^reload ' "${FLOG[$name]}" || true) > before)); then
      # The log restarts with the new rules: counts are per phase.
      : >"${FLOG[$name]}"
      return 0
    fi
    sleep 0.1
  done
  fail "faultfs $name did not load its new rules: $*"
}

stop_faultfs() {
  local name=$1 pid=${FPID[$1]} mnt=${FMNT[$1]} rc=0
  kill -USR2 "$pid" 2>/dev/null || true
  # EBUSY for a moment is expected after a hung read: valise has exited,
  # but the kernel tears its io_uring down asynchronously, and the ring
  # holds its files on the mount until the held request has completed.
  local tries=0
  while grep -qF " $mnt " /proc/self/mountinfo; do
    fusermount3 -u "$mnt" 2>"$VALISE_WORK/fusermount.err" && break
    tries=$((tries + 1))
    ((tries < 100)) ||
      fail "fusermount3 -u $mnt: $(cat "$VALISE_WORK/fusermount.err")"
    sleep 0.1
  done
  if ((tries > 0)); then log "$mnt was busy for $((tries * 100)) ms"; fi
  for _ in $(seq 1 100); do
    running "$pid" || break
    sleep 0.1
  done
  if running "$pid"; then
    fail "faultfs $name (pid $pid) still running after unmount"
  fi
  wait "$pid" || rc=$?
  FPID[$name]=""
  return "$rc"
}

fault_count() {
  local name=$1 kind=$2 path=${3:-}
  if [[ -n "$path" ]]; then
    LC_ALL=C grep -c "^$kind $(printf '%s' "$path" | sed 's/[][\.*^$]/\\&/g') " \
      "${FLOG[$name]}" || true
  else
    LC_ALL=C grep -c "^$kind " "${FLOG[$name]}" || true
  fi
}

file_row() {
  local report=$1 path=$2 src=$3 i=0 p d
  while IFS=$'\t' read -r p d; do
    if [[ "$p" == "$path" && "$(drive_of_row "$d" "$report")" == "$src" ]]; then
      echo "$i"
      return 0
    fi
    i=$((i + 1))
  done < <(json "$report" rows files path drive)
  return 1
}

row_field() {
  local i
  i=$(file_row "$1" "$2" "$3") || {
    echo "-"
    return 0
  }
  json "$1" get "files.$i.$4" 2>/dev/null || echo "-"
}

check_dest_files() {
  local dest=$1 rel src found n=0
  shift
  while IFS= read -r -d '' rel; do
    found=""
    for src in "$@"; do
      if [[ -f "$src/$rel" ]]; then
        found=$src
        break
      fi
    done
    [[ -n "$found" ]] || fail "DEST holds $rel, which no source has"
    cmp -s "$dest/$rel" "$found/$rel" ||
      fail "DEST/$rel differs from $found/$rel: a partial or wrong file" \
        "under its final name"
    n=$((n + 1))
  done < <(cd "$dest" && find . -path ./.valise -prune -o -type f -printf '%P\0')
  echo "$n"
}

staging_leftovers() {
  local st="$1/.valise/staging"
  [[ -d "$st" ]] || {
    echo 0
    return 0
  }
  find "$st" -type f | wc -l
}

elapsed_since() {
  echo $((($(date +%s%N) - $1) / 1000000000))
}

_deferred=()
defer_fail() {
  printf '[%s] FAIL (deferred): %s\n' "$TEST_NAME" "$*" >&2
  _deferred+=("$*")
}

finish_deferred() {
  if ((${#_deferred[@]})); then
    local m
    for m in "${_deferred[@]}"; do printf '  - %s\n' "$m" >&2; done
    fail "${#_deferred[@]} check(s) failed (listed above)"
  fi
}
