# shellcheck shell=bash
# Helpers shared by the ingest end-to-end tests (tests/e2e/ingest_*.sh),
# on top of tests/e2e/lib.sh, which this file sources. Not a test itself.
#
#   dest_files DEST            regular files under DEST, relative, sorted by
#                              raw bytes, without DEST/.valise and lost+found
#   union_files SRC...         the regular files of every SRC, once each
#   check_dest DEST SRC...     every file under DEST (as dest_files) equals
#                              the first SRC holding it: same bytes (cmp),
#                              mode and mtime (ns); a file on no SRC fails
#   check_complete DEST SRC... check_dest, and DEST holds exactly the union
#   staging_left DEST          number of entries left in DEST/.valise/staging
#   run_rc CMD...              like lib.sh's expect_exit, but any exit
#                              status goes: it is left in RC
#   start_bg VAR CMD...        runs CMD in the background, its PID in VAR;
#                              the cleanup kills it (by PID) if it is still
#                              running
#   bg_out PID / bg_err PID    the files holding its stdout / stderr
#   wait_bg PID                waits for it; its exit status in BG_RC
#   ingest_dump PID            shows a background run's stdout and stderr
#   fill_mixed DIR KEY LARGE MID SMALL   under DIR/KEY: LARGE files of
#                              ~24 MiB, MID of 2-4 MiB in 5 directories,
#                              SMALL of 33000 bytes (cut from one stream)
#   throttle_reads DEV BPS     reads from block device DEV (one of ours) go
#                              at most BPS bytes/s, by anyone (cgroup v1
#                              blkio throttle on the root group: a rule for
#                              that device only); BPS 0 lifts it, and so
#                              does the cleanup
#   rand_ms LO HI              a random integer in [LO, HI] (milliseconds)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dest_files() {
  [[ -d "$1" ]] || return 0
  (cd "$1" && find . \( -path ./.valise -o -path ./lost+found \) -prune -o \
    -type f -printf '%P\n' | LC_ALL=C sort)
}

union_files() {
  local s
  for s in "$@"; do list_files "$s"; done | LC_ALL=C sort -u
}

# Both through valise_e2e_tree (tests/e2e/tree_compare.cc): one process
# for the whole tree instead of a cmp and two stats per file.
check_dest() {
  local dest=$1 out
  shift
  out=$("$VALISE_TREE" check "$dest" "$@" 2>"$VALISE_WORK/tree.err") ||
    fail "DEST $dest does not match its sources:"$'\n'"$(cat "$VALISE_WORK/tree.err")"
  # shellcheck disable=SC2034  # read by the scripts
  CHECKED_FILES=$out
}

check_complete() {
  local dest=$1 out
  shift
  out=$("$VALISE_TREE" check --complete "$dest" "$@" 2>"$VALISE_WORK/tree.err") ||
    fail "DEST $dest is not its sources' union:"$'\n'"$(cat "$VALISE_WORK/tree.err")"
  # shellcheck disable=SC2034  # read by the scripts
  CHECKED_FILES=$out
}

staging_left() {
  find "$1/.valise/staging" -mindepth 1 2>/dev/null | wc -l
}

run_rc() {
  RC=0
  timeout --kill-after=10 "$E2E_CMD_TIMEOUT" "$@" >"$LAST_OUT" \
    2>"$LAST_ERR" </dev/null || RC=$?
  cat "$LAST_OUT" "$LAST_ERR" >"$LAST_ALL"
  if ((RC == 124 || RC == 137)); then
    _show_file stderr "$LAST_ERR" >&2
    fail "timed out after ${E2E_CMD_TIMEOUT}s: $(printf '%q ' "$@")"
  fi
  log "exit $RC: $(printf '%q ' "${@##*/}" | head -c 300)"
}

_bg_pids=()
_bg_n=0
declare -gA _bg_log=()
_bg_kill_all() {
  local p
  for p in "${_bg_pids[@]}"; do
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  _bg_pids=()
  return 0
}
valise_on_cleanup _bg_kill_all

# (Locals prefixed: printf -v would set a local of the caller's VAR name.)
start_bg() {
  local _sb_var=$1 _sb_n _sb_pid
  shift
  _bg_n=$((_bg_n + 1))
  _sb_n=$_bg_n
  "$@" >"$VALISE_WORK/bg.$_sb_n.out" 2>"$VALISE_WORK/bg.$_sb_n.err" </dev/null &
  _sb_pid=$!
  _bg_pids+=("$_sb_pid")
  _bg_log[$_sb_pid]=$_sb_n
  printf -v "$_sb_var" '%s' "$_sb_pid"
}

# Not in $(...): a subshell cannot wait for its parent's children.
# shellcheck disable=SC2034  # BG_RC is read by the scripts
wait_bg() {
  local p keep=()
  BG_RC=0
  # (stderr: bash's "Killed" notice for a job killed on purpose.)
  wait "$1" 2>/dev/null || BG_RC=$?
  # Reaped: its PID may be reused, so the cleanup must not kill it.
  for p in "${_bg_pids[@]}"; do
    [[ "$p" == "$1" ]] || keep+=("$p")
  done
  _bg_pids=("${keep[@]}")
}

bg_out() { echo "$VALISE_WORK/bg.${_bg_log[$1]}.out"; }
bg_err() { echo "$VALISE_WORK/bg.${_bg_log[$1]}.err"; }

ingest_dump() {
  _show_file stdout "$(bg_out "$1")"
  _show_file stderr "$(bg_err "$1")"
}

fill_mixed() {
  local d=$1/$2 k=$2 nlarge=$3 nmid=$4 nsmall=$5 i
  for ((i = 1; i <= nlarge; i++)); do
    gen_file "$d/large/l$i.bin" $((24 * 1048576 + i * 777)) "$k:l$i"
  done
  for ((i = 1; i <= nmid; i++)); do
    gen_file "$d/mid/m$((i % 5))/m$i.bin" $((2 * 1048576 + i * 40961)) "$k:m$i"
  done
  if ((nsmall > 0)); then
    # One openssl run for all: split cuts the stream into the files.
    gen_file "$VALISE_WORK/pool-$k" $((nsmall * 33000)) "$k:pool"
    mkdir -p "$d/small"
    (cd "$d/small" && split -b 33000 -a 4 -d "$VALISE_WORK/pool-$k" s)
    rm "$VALISE_WORK/pool-$k"
  fi
}

_throttle_file=/sys/fs/cgroup/blkio/blkio.throttle.read_bps_device
throttle_reads() {
  local dev=$1 bps=$2 devno
  valise_is_our_loop "$dev" || fail "throttle_reads: $dev is not ours"
  [[ -w "$_throttle_file" ]] ||
    fail "cannot slow a drive down: no cgroup v1 blkio throttle ($_throttle_file)"
  devno=$(lsblk -dno MAJ:MIN "$dev" | tr -d ' ')
  if [[ -z "${_throttled[$devno]:-}" ]]; then
    _throttled[$devno]=1
    valise_on_cleanup "echo '$devno 0' >'$_throttle_file'"
  fi
  echo "$devno $bps" >"$_throttle_file"
}
declare -gA _throttled=()

rand_ms() {
  echo $(($1 + RANDOM % ($2 - $1 + 1)))
}

# Seconds as a decimal for sleep(1), from milliseconds.
ms_to_s() {
  printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000))
}
