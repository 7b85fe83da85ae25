#!/usr/bin/env bash
# Goal: what an operator types is taken the way they meant it, or refused
# with a message that names it (issue 12, items 11-14;
# docs/reliability.md, "Defects found by an outside probe"):
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

log "PASS"
