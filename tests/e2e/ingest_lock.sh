#!/usr/bin/env bash
# Goal: one DEST, one ingest at a time. While a first `valise ingest` runs
# (in the background, on large files), a second one into the same DEST
# exits 2 at once with a message naming the lock and DEST, and disturbs
# nothing: the first finishes normally (exit 0), DEST is complete and
# verifies. The lock is a flock, not the lock file's existence: once the
# first has finished, a third run takes it (exit 0, everything skipped).
source "$(dirname "$0")/ingest_lib.sh"
need_root

make_drive A 300 ext4
make_drive B 300 ext4
make_drive D 700 ext4
A=${MNT[A]}
B=${MNT[B]}
fill_mixed "$A" a 6 10 0
fill_mixed "$B" b 6 10 0
find "$A" "$B" -path '*/lost+found' -prune -o -exec touch -h -d "@$E2E_MTIME" {} +
M="$VALISE_WORK/dataset.valise"
expect_exit 0 "$VALISE" manifest "$A" "$B" -o "$M"
N_FILES=$(union_files "$A" "$B" | wc -l)
DEST=${MNT[D]}/stage

drop_caches
first=""
# Drive A read at 32 MiB/s: the first ingest lasts seconds, so the second
# (whose start-up reads the manifest and scans the drives before it asks
# for the lock) cannot find it finished however fast the machine is.
throttle_reads "${DEV[A]}" $((32 * 1048576))
start_bg first "$VALISE" ingest -m "$M" -d "$DEST" --no-progress "$A" "$B"
# The first holds the lock once its journal exists (the lock is taken
# before the journal is opened).
for _ in $(seq 1 500); do
  [[ -e "$DEST/.valise/journal" ]] && break
  kill -0 "$first" 2>/dev/null || break
  sleep 0.01
done
kill -0 "$first" 2>/dev/null ||
  fail "the first ingest ended before the second could start"
[[ -e "$DEST/.valise/journal" ]] || fail "the first ingest made no journal in 5 s"

log "a second ingest while the first runs"
E2E_CMD_TIMEOUT=20 expect_exit 2 "$VALISE" ingest -m "$M" -d "$DEST" \
  --no-progress "$A" "$B"
assert_matches "$LAST_ERR" 'lock'
assert_contains "$LAST_ERR" "$DEST"
# Named once: "DEST: DEST is locked", not "DEST: DEST: ...".
assert_not_contains "$LAST_ERR" "$DEST: $DEST"
# It must have lost the race for the lock, not found the first finished.
kill -0 "$first" 2>/dev/null ||
  fail "the first ingest had ended when the second was refused"

wait_bg "$first"
throttle_reads "${DEV[A]}" 0
if ((BG_RC != 0)); then
  ingest_dump "$first" >&2
  fail "the first ingest exited $BG_RC, expected 0"
fi
log "the first ingest finished normally"
check_complete "$DEST" "$A" "$B"
assert_eq "$N_FILES" "$CHECKED_FILES" "files in DEST"
assert_eq 0 "$(staging_left "$DEST")" "entries left in staging"
drop_caches
expect_exit 0 "$VALISE" verify -m "$M" --no-progress "$DEST"

log "the lock is free again once the first has ended"
expect_exit 0 "$VALISE" ingest -m "$M" -d "$DEST" --no-progress --json "$A" "$B"
assert_eq "$N_FILES" "$(json "$LAST_OUT" get totals.files_skipped_resume)" \
  "files_skipped_resume of the third run"

log "PASS"
