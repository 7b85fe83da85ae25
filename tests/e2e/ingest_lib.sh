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
#   start_bg VAR CMD...        runs CMD in the background (stdout and stderr
#                              to $VALISE_WORK/bg.<pid>.{out,err}), its PID
#                              in VAR; the cleanup kills it (by PID) if it is
#                              still running
#   wait_bg PID                waits for it; its exit status in BG_RC
#   ingest_dump PID            shows a background run's stdout and stderr
#   rand_ms LO HI              a random integer in [LO, HI] (milliseconds)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dest_files() {
  (cd "$1" && find . \( -path ./.valise -o -path ./lost+found \) -prune -o \
    -type f -printf '%P\n' | LC_ALL=C sort)
}

union_files() {
  local s
  for s in "$@"; do list_files "$s"; done | LC_ALL=C sort -u
}

# The first SRC that holds REL, or nothing.
_source_of() {
  local rel=$1 s
  shift
  for s in "$@"; do
    if [[ -f "$s/$rel" ]]; then
      printf '%s\n' "$s"
      return 0
    fi
  done
}

check_dest() {
  local dest=$1 rel src n=0 want got
  shift
  while IFS= read -r rel; do
    src=$(_source_of "$rel" "$@")
    [[ -n "$src" ]] || fail "DEST holds $rel, which no source holds"
    cmp -s -- "$src/$rel" "$dest/$rel" ||
      fail "DEST's $rel differs from $src/$rel"
    want=$(stat -c '%a %.9Y' -- "$src/$rel")
    got=$(stat -c '%a %.9Y' -- "$dest/$rel")
    assert_eq "$want" "$got" "mode and mtime of $rel"
    n=$((n + 1))
  done < <(dest_files "$dest")
  CHECKED_FILES=$n
}

check_complete() {
  local dest=$1
  shift
  check_dest "$dest" "$@"
  if [[ "$(dest_files "$dest")" != "$(union_files "$@")" ]]; then
    fail "DEST's files are not the sources' union:"$'\n'"$(diff \
      <(dest_files "$dest") <(union_files "$@") | head -20)"
  fi
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
_bg_kill_all() {
  local p
  for p in "${_bg_pids[@]}"; do
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  return 0
}
valise_on_cleanup _bg_kill_all

start_bg() {
  local var=$1 pid
  shift
  "$@" >"$VALISE_WORK/bg.out" 2>"$VALISE_WORK/bg.err" </dev/null &
  pid=$!
  _bg_pids+=("$pid")
  mv "$VALISE_WORK/bg.out" "$VALISE_WORK/bg.$pid.out"
  mv "$VALISE_WORK/bg.err" "$VALISE_WORK/bg.$pid.err"
  printf -v "$var" '%s' "$pid"
}

# Not in $(...): a subshell cannot wait for its parent's children.
wait_bg() {
  local p keep=()
  BG_RC=0
  wait "$1" || BG_RC=$?
  # Reaped: its PID may be reused, so the cleanup must not kill it.
  for p in "${_bg_pids[@]}"; do
    [[ "$p" == "$1" ]] || keep+=("$p")
  done
  _bg_pids=("${keep[@]}")
}

ingest_dump() {
  _show_file stdout "$VALISE_WORK/bg.$1.out"
  _show_file stderr "$VALISE_WORK/bg.$1.err"
}

rand_ms() {
  echo $(($1 + RANDOM % ($2 - $1 + 1)))
}

# Seconds as a decimal for sleep(1), from milliseconds.
ms_to_s() {
  printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000))
}
