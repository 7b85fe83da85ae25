#!/usr/bin/env bash
# Goal: ingest of many small files holds a bounded number of descriptors.
# 3,000 files of 4,000 bytes, ingested under `ulimit -n 200`: exit 0, every
# file in place and right, DEST verifies. (A finished file keeps its
# staging file open until committed; reading outran the commits and an
# unbounded backlog failed with EMFILE after ~1,000 files under the usual
# limit of 1024, ~20,000 under 20,000.) Plain directories: no root needed.
source "$(dirname "$0")/../e2e/lib.sh"

E2E_CMD_TIMEOUT=${E2E_CMD_TIMEOUT:-240}
W=$VALISE_WORK
S=$W/drive
mkdir -p "$S/small"
gen_file "$W/pool" $((3000 * 4000)) pool
(cd "$S/small" && split -b 4000 -a 4 -d "$W/pool" s)
rm "$W/pool"
n=$(find "$S" -type f | wc -l)
assert_eq 3000 "$n" "files made"
M=$W/many.valise
expect_exit 0 "$VALISE" manifest "$S" -o "$M" --no-progress
# A subshell: the limit applies to valise alone. 200 is below what the
# backlog reached unbounded, above what the reader and a bounded backlog
# need.
expect_exit 0 bash -c 'ulimit -n 200 && exec "$@"' _ "$VALISE" ingest \
  -m "$M" -d "$W/dest" --no-progress --json "$S"
assert_eq 3000 "$(json "$LAST_OUT" get totals.files_ok)" "files_ok"
got=$(cd "$W/dest" && find . -path ./.valise -prune -o -type f -print | wc -l)
assert_eq 3000 "$got" "files in DEST"
cmp <(cd "$S" && cat small/*) <(cd "$W/dest" && cat small/*) ||
  fail "DEST's files differ from the drive's"
expect_exit 0 "$VALISE" verify -m "$M" --no-progress "$W/dest"
log "PASS"
