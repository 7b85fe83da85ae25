#!/usr/bin/env bash
# Goal (issue 12, item 1): DEST/.valise, valise's journal, lock and
# staging, never shares a namespace with the dataset:
#  - the probe's reproduction: a tree holding .valise/staging/keep is
#    manifested (the state directory is skipped, said so), ingested and
#    verified: exit 0 each time, nothing staged and then deleted (before the
#    fix: ingest exit 0 "all 2 files verified and staged", verify exit 1,
#    .valise/staging/keep missing);
#  - a DEST re-manifested after a killed ingest gives a manifest of the
#    dataset alone, which verifies against DEST and ingests elsewhere;
#  - a manifest naming a path under .valise is refused by ingest before
#    DEST is created (exit 2, naming the manifest, the line and the path;
#    a sha256sum file likewise); with --bag
#    the path lands under DEST/data/ and is an ordinary file;
#  - verify -m M DEST reports no extra for DEST's own state files;
#  - a file someone left in DEST/.valise/staging survives a run.
# Plain directories in a temp dir; about 2 s.
source "$(dirname "$0")/../e2e/lib.sh"

E2E_CMD_TIMEOUT=${E2E_CMD_TIMEOUT:-60}
W=$VALISE_WORK
NP=--no-progress
cd "$W"

log "the reproduction of issue 12, item 1"
mkdir -p S/.valise/staging
echo x >S/.valise/staging/keep
echo y >S/n
expect_exit 0 "$VALISE" manifest S -o M
assert_contains "$LAST_ERR" "skipped .valise on S (valise's state directory"
assert_not_contains M ".valise"
expect_exit 0 "$VALISE" ingest $NP -m M -d D S
expect_exit 0 "$VALISE" verify $NP --json -m M D
[[ $(json "$LAST_OUT" rows | grep -c $'\textra' || true) == 0 ]] ||
  fail "verify of DEST reported its state as extra"
[[ -f S/.valise/staging/keep ]] || fail "the source's file was removed"

log "a manifest with a path under .valise: refused before DEST exists"
mkdir -p T/.valise/notes
echo x >T/.valise/notes/k # no journal, lock or staging: ordinary data
echo z >T/z
expect_exit 0 "$VALISE" manifest T -o MT
assert_contains MT ".valise/notes/k"
expect_exit 2 "$VALISE" ingest $NP -m MT -d DT T
# The manifest's line: the header, the comments, then .valise/notes/k
# first (manifest order is byte order).
line=$(grep -n $'\t.valise/notes/k$' MT | cut -d: -f1)
assert_contains "$LAST_ERR" "MT:$line: path '.valise/notes/k' would land in"
assert_contains "$LAST_ERR" "--bag"
[[ ! -e DT ]] || fail "ingest created DEST for a refused manifest"
expect_exit 0 "$VALISE" manifest --format sha256sum T -o MT.sha256
line=$(grep -n '  .valise/notes/k$' MT.sha256 | cut -d: -f1)
expect_exit 2 "$VALISE" ingest $NP -m MT.sha256 -d DT T
assert_contains "$LAST_ERR" "MT.sha256:$line: path '.valise/notes/k'"
[[ ! -e DT ]] || fail "ingest created DEST for a refused sum file"
expect_exit 0 "$VALISE" ingest $NP --bag -m MT -d DB T
[[ -f DB/data/.valise/notes/k ]] || fail "--bag did not stage .valise/notes/k"
expect_exit 0 "$VALISE" verify $NP DB

log "a DEST re-manifested after a killed ingest"
# The state an interrupted run leaves: journal, lock, a staging leftover.
mkdir -p D/.valise/staging
echo partial >D/.valise/staging/e0-p0
expect_exit 0 "$VALISE" manifest D -o MD
assert_not_contains MD ".valise"
expect_exit 0 "$VALISE" verify $NP -m MD D
expect_exit 0 "$VALISE" ingest $NP -m MD -d D2 D
[[ ! -e D2/.valise/staging/e0-p0 ]] || fail "a staging file was copied"

log "a file left in DEST/.valise/staging that valise did not create"
echo mine >D/.valise/staging/notes.txt
echo mine >D/.valise/mine
expect_exit 0 "$VALISE" ingest $NP -m M -d D S
[[ -f D/.valise/staging/notes.txt && -f D/.valise/mine ]] ||
  fail "the clean-up removed a file valise did not create"
[[ ! -e D/.valise/staging/e0-p0 ]] || fail "a staging leftover was kept"
log "PASS"
