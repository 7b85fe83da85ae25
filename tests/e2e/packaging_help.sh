#!/usr/bin/env bash
# `valise --help` and every command's --help fit 80 columns and show the
# command's examples; the commands are those of the man page (both come from
# CommandTable(), so a command missing from either is caught).
#
# Env: VALISE (the binary under test; ctest sets it).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VALISE=${VALISE:-$HERE/../../build/valise}
fail() {
  echo "[packaging_help] FAIL: $*" >&2
  exit 1
}
[[ -x "$VALISE" ]] || fail "valise binary not found: $VALISE (set VALISE)"

# Every line of "$1" (named "$2") is at most 80 columns.
check_width() {
  local text=$1 what=$2 n=0 line
  while IFS= read -r line; do
    n=$((n + 1))
    if ((${#line} > 80)); then
      fail "$what: line $n is ${#line} columns: $line"
    fi
  done <<<"$text"
  ((n > 3)) || fail "$what: only $n lines"
}

top=$("$VALISE" --help)
check_width "$top" "valise --help"

mapfile -t commands < <("$VALISE" help-man | sed -n 's/^\.SS "valise \(.*\)"$/\1/p')
((${#commands[@]} >= 6)) || fail "help-man lists ${#commands[@]} commands"

for c in "${commands[@]}"; do
  grep -qE "^ +$c( |$)" <<<"$top" || fail "valise --help does not list $c"
  h=$("$VALISE" "$c" --help)
  check_width "$h" "valise $c --help"
  grep -q '^Examples:' <<<"$h" || fail "valise $c --help: no Examples:"
  # The examples printed are the man page's (the same CommandTable entry).
  mapfile -t examples < <("$VALISE" help-man |
    awk -v c="$c" '$0 == ".SS \"valise " c "\"" { s = 1; next }
      s && /^\.SS/ { s = 0 } s && /^\.nf/ { e = 1; next }
      s && /^\.fi/ { e = 0 } e { gsub(/\\-/, "-"); print }')
  ((${#examples[@]} >= 1)) || fail "help-man: no examples for $c"
  for ex in "${examples[@]}"; do
    grep -qF -- "  $ex" <<<"$h" || fail "valise $c --help lacks example: $ex"
    [[ "$ex" == "valise $c "* ]] || fail "example of $c is not a $c: $ex"
  done
  echo "[packaging_help] valise $c --help: fits 80 columns, ${#examples[@]} examples"
done
echo "[packaging_help] PASS"
