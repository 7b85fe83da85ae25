#!/usr/bin/env bash
# Goal (issue 14, "before a run"): `ingest --dry-run` measures DEST's file
# system (statvfs) against what the run would write and refuses up front,
# exit 2, when it cannot fit, saying how much it needs and has; it reads no
# file's contents and writes nothing into DEST. --no-space-check shows the
# plan anyway (exit 0); the run itself is refused the same way before it
# reads a drive. A DEST that fits is accepted and the plan's
# prediction and space lines are printed; `verify --dry-run` says what
# each SRC holds. DEST: an 8 MiB ext4 loop device; the dataset: 12 MB on
# a plain directory. A few seconds.
source "$(dirname "$0")/lib.sh"
need_root

make_drive SRC 0 dir
make_drive SMALL 8 ext4
gen_file "${MNT[SRC]}/big.bin" 12000000 big
gen_file "${MNT[SRC]}/sub/small.bin" 30000 small
M="$VALISE_WORK/ship.vm"
expect_exit 0 "$VALISE" manifest --no-progress "${MNT[SRC]}" -o "$M"

DEST="${MNT[SMALL]}/dest"
log "a DEST too small is refused up front, exit 2, nothing written"
before=$(ls -A "${MNT[SMALL]}")
expect_exit 2 "$VALISE" ingest --dry-run -m "$M" -d "$DEST" "${MNT[SRC]}"
assert_contains "$LAST_ERR" "$DEST: no room for this run: it writes 11.5 MiB and 2 files, ${MNT[SMALL]} has"
assert_contains "$LAST_ERR" "--no-space-check"
assert_matches "$LAST_OUT" "^DEST space: DOES NOT FIT$"
assert_matches "$LAST_OUT" "^  the run writes 11.5 MiB and 2 files$"
assert_matches "$LAST_OUT" "^  free: [0-9.]+ MiB and [0-9]+ files in .*/mnt-SMALL$"
assert_contains "$LAST_OUT" "would read: 2 files, 11.5 MiB"
assert_contains "$LAST_OUT" "predicted time: 0:"
assert_eq "$before" "$(ls -A "${MNT[SMALL]}")" "DEST's file system after --dry-run"

log "the run itself is refused the same way, before reading a drive"
expect_exit 2 "$VALISE" ingest --no-progress -m "$M" -d "$DEST" "${MNT[SRC]}"
assert_contains "$LAST_ERR" "$DEST: no room for this run: it writes 11.5 MiB and 2 files"
assert_eq "$before" "$(ls -A "${MNT[SMALL]}")" "DEST's file system after the refusal"

log "--no-space-check: the plan, exit 0"
expect_exit 0 "$VALISE" ingest --dry-run --no-space-check -m "$M" -d "$DEST" \
  "${MNT[SRC]}"
assert_contains "$LAST_OUT" "DOES NOT FIT"
assert_contains "$LAST_OUT" "after it: every file in place"

log "a DEST with room: fits"
expect_exit 0 "$VALISE" ingest --dry-run -m "$M" -d "$VALISE_WORK/roomy" \
  --report "$VALISE_WORK/r.json" "${MNT[SRC]}"
assert_matches "$LAST_OUT" "^DEST space: fits$"
[[ ! -e "$VALISE_WORK/roomy" && ! -e "$VALISE_WORK/r.json" ]] ||
  fail "--dry-run made DEST or wrote its --report"
log "--dry-run checks --report: a missing directory is trouble"
expect_exit 2 "$VALISE" ingest --dry-run -m "$M" -d "$VALISE_WORK/roomy" \
  --report "$VALISE_WORK/nodir/r.json" "${MNT[SRC]}"
assert_contains "$LAST_ERR" "nodir/r.json"

log "verify --dry-run: what each SRC holds, nothing read"
expect_exit 0 "$VALISE" verify --dry-run -m "$M" "${MNT[SRC]}"
assert_contains "$LAST_OUT" "verify --dry-run: nothing read"
assert_contains "$LAST_OUT" "every one of the 2 files is on a SRC given"
log "ok"
