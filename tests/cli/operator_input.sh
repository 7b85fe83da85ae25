#!/usr/bin/env bash
# Goal: what an operator types is taken the way they meant it, or refused
# with a message that names it (issue 12, items 11-14;
# docs/reliability.md, "Defects found by an outside probe"):
#  - names holding a C1 control (U+009B, CSI) or a bidi override (U+202E)
#    reach the terminal escaped (%C2%9B, %E2%80%AE) in the summary and in
#    messages, never raw; the --json report keeps the exact characters;
#  - an unknown command is named, with the nearest command and the list
#    (it said "A subcommand is required"), exit 2; no command at all too.
# Plain directories in a temp dir. Every command runs under `timeout`.
source "$(dirname "$0")/../e2e/lib.sh"

E2E_CMD_TIMEOUT=${E2E_CMD_TIMEOUT:-60}
W=$VALISE_WORK

# ------------------------------------------------- item 14: unknown command
expect_exit 2 "$VALISE" verfy -m M S
assert_contains "$LAST_ERR" "valise: error: unknown command 'verfy'"
assert_contains "$LAST_ERR" "did you mean 'verify'?"
assert_contains "$LAST_ERR" "manifest, verify, ingest, bench, keygen, sign"
assert_not_contains "$LAST_ERR" "subcommand is required"
expect_exit 2 "$VALISE" frobnicate
assert_contains "$LAST_ERR" "unknown command 'frobnicate'"
assert_not_contains "$LAST_ERR" "did you mean"
expect_exit 2 "$VALISE"
assert_contains "$LAST_ERR" "no command given"
assert_contains "$LAST_ERR" "manifest, verify, ingest, bench, keygen, sign"
# The real commands, --help and --version are untouched.
expect_exit 0 "$VALISE" --version
expect_exit 0 "$VALISE" --help
expect_exit 0 "$VALISE" verify --help
expect_exit 0 "$VALISE" completions bash

# ------------------------------------ item 12: C1 and bidi in human output
S=$W/names
mkdir -p "$S"
CSI=$'\xc2\x9b'   # U+009B
RLO=$'\xe2\x80\xae' # U+202E
gen_file "$S/a${CSI}31m.bin" 100 c1
gen_file "$S/r${RLO}txt.exe" 200 rlo
gen_file "$S/keep" 300 keep
expect_exit 0 "$VALISE" manifest "$S" -o "$W/names.vm"
rm "$S/a${CSI}31m.bin" "$S/r${RLO}txt.exe"
ln -s nowhere "$S/l${RLO}nk"   # a symlink: skipped with a warning
expect_exit 1 "$VALISE" verify --no-progress -m "$W/names.vm" "$S"
assert_contains "$LAST_OUT" "a%C2%9B31m.bin"
assert_contains "$LAST_OUT" "r%E2%80%AEtxt.exe"
assert_not_contains "$LAST_ALL" "$CSI"
assert_not_contains "$LAST_ALL" "$RLO"
expect_exit 2 "$VALISE" manifest "$S" -o "$W/names2.vm" "$W/no${RLO}such"
assert_contains "$LAST_ERR" "no%E2%80%AEsuch"
assert_not_contains "$LAST_ALL" "$RLO"
# The JSON keeps the exact names (escaped as in the manifest: only control
# bytes, '%' and bytes that are not UTF-8 are %XX).
expect_exit 1 "$VALISE" verify --json -m "$W/names.vm" "$S"
json "$LAST_OUT" rows files path >"$W/paths"
assert_contains "$W/paths" "a${CSI}31m.bin"
assert_contains "$W/paths" "r${RLO}txt.exe"
rm "$S/l${RLO}nk"

log "PASS"
