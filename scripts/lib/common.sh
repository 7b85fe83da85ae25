# shellcheck shell=bash
# Small helpers shared by scripts/test, scripts/demo and scripts/bench-peers:
# messages, wall-clock timing, and building the valise binary.
#
# The sourcing script sets VALISE_PROG (its name, for message prefixes)
# before sourcing.

VALISE_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${VALISE_PROG:=valise-script}"

valise_log() { printf '%s: %s\n' "$VALISE_PROG" "$*" >&2; }
valise_die() {
  printf '%s: error: %s\n' "$VALISE_PROG" "$*" >&2
  exit 2
}

# Seconds since the epoch with nanoseconds, for timing phases.
valise_now() { date +%s.%N; }
# Seconds elapsed since START (a valise_now value), with 2 decimals.
valise_since() { awk -v s="$1" -v e="$(valise_now)" 'BEGIN{printf "%.2f", e - s}'; }

# Parallel build jobs: one per core (the machine's cores are the limit).
valise_jobs() { nproc 2>/dev/null || echo 2; }

# valise_build_binary DIR BUILD_TYPE
# Configures DIR (only the library and the executable: no tests, benches or
# fuzzers) and builds the valise target; sets VALISE to the binary. When
# VALISE already names an executable, uses it and builds nothing (handy
# when iterating on a script against a binary built elsewhere).
valise_build_binary() {
  local dir=$1 type=$2
  if [[ -n "${VALISE:-}" && -x "${VALISE}" ]]; then
    valise_log "using VALISE=$VALISE (no build)"
    return 0
  fi
  valise_log "building valise ($type) in $dir"
  # Each step checked explicitly: callers run this under `|| exit 2`,
  # where set -e does not apply.
  cmake -S "$VALISE_REPO" -B "$dir" -DCMAKE_BUILD_TYPE="$type" \
    -DVALISE_BUILD_TESTS=OFF -DVALISE_BUILD_BENCHMARKS=OFF \
    -DVALISE_BUILD_FUZZERS=OFF >/dev/null || return 2
  cmake --build "$dir" --target valise -j "$(valise_jobs)" || return 2
  [[ -x "$dir/valise" ]] || return 2
  VALISE="$dir/valise"
  export VALISE
}
