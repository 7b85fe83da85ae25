#!/usr/bin/env bash
# Goal (issue 12, item 3): a rerun of ingest never calls a file verified
# that was altered in DEST after an earlier run staged it. The journal
# records each staged file's size, mtime, inode and ctime; a rerun trusts
# only files still matching, reads the others back from DEST, and
# --recheck reads them all back. The verdict and the JSON say how many
# files were verified now and how many trusted from the journal.
#   1. one byte of a staged file changed (its mtime changes): exit 1, no
#      "all ... verified", `valise verify` of DEST agrees (exit 1);
#   2. one byte changed and the mtime put back (touch -r): the ctime tells,
#      exit 1;
#   3. DEST put right (the altered files removed): the rerun stages them
#      again, trusts the rest, exit 0, verify exit 0; the next rerun
#      trusts everything and reads nothing;
#   4. --recheck: every file read back from DEST, none from the drive.
# Plain directories: no root needed.
source "$(dirname "$0")/../e2e/lib.sh"

W=$VALISE_WORK
S=$W/drive
D=$W/dest
M=$W/m.valise
mkdir -p "$S/sub"
gen_file "$S/a.bin" 300000 a
gen_file "$S/b.bin" 70000 b
gen_file "$S/sub/c.bin" 5000 c
gen_file "$S/sub/d.bin" 1048576 d
N=4
expect_exit 0 "$VALISE" manifest "$S" -o "$M" --no-progress
expect_exit 0 "$VALISE" ingest -m "$M" -d "$D" --no-progress "$S"
assert_contains "$LAST_OUT" "valise: all 4 files verified and staged"

# 1. One byte changed in place (the file's mtime moves).
printf 'X' | dd of="$D/a.bin" bs=1 seek=1000 conv=notrunc status=none
expect_exit 1 "$VALISE" ingest -m "$M" -d "$D" --no-progress --json "$S"
assert_eq 1 "$(json "$LAST_OUT" get totals.files_rechecked)" "files_rechecked"
assert_eq 3 "$(json "$LAST_OUT" get totals.files_skipped_resume)" \
  "files trusted from the journal"
assert_eq 0 "$(json "$LAST_OUT" get totals.files_ok)" "files_ok"
assert_eq 1 "$(json "$LAST_OUT" get totals.by_status.corrupt)" "corrupt"
assert_contains "$LAST_OUT" "changed in DEST since an earlier run staged it"
expect_exit 1 "$VALISE" ingest -m "$M" -d "$D" --no-progress "$S"
assert_not_contains "$LAST_OUT" "valise: all"
assert_contains "$LAST_OUT" "0 verified now, 3 trusted from the journal, 1 read back from DEST"
expect_exit 1 "$VALISE" verify -m "$M" --no-progress "$D"

# 2. One byte changed and the mtime put back: only the ctime tells.
touch -r "$D/sub/c.bin" "$W/stamp"
printf 'Y' | dd of="$D/sub/c.bin" bs=1 seek=10 conv=notrunc status=none
touch -r "$W/stamp" "$D/sub/c.bin"
expect_exit 1 "$VALISE" ingest -m "$M" -d "$D" --no-progress --json "$S"
assert_eq 2 "$(json "$LAST_OUT" get totals.files_rechecked)" "files_rechecked"
assert_eq 2 "$(json "$LAST_OUT" get totals.by_status.corrupt)" "corrupt"
assert_contains "$LAST_OUT" "ctime not as journaled"

# 3. DEST put right: the altered files are staged again from the drive.
rm "$D/a.bin" "$D/sub/c.bin"
expect_exit 0 "$VALISE" ingest -m "$M" -d "$D" --no-progress --json "$S"
assert_eq 2 "$(json "$LAST_OUT" get totals.files_ok)" "files_ok"
assert_eq 2 "$(json "$LAST_OUT" get totals.files_skipped_resume)" \
  "files trusted from the journal"
expect_exit 0 "$VALISE" verify -m "$M" --no-progress "$D"
cmp "$S/a.bin" "$D/a.bin" || fail "a.bin not restored"
cmp "$S/sub/c.bin" "$D/sub/c.bin" || fail "sub/c.bin not restored"
# An unchanged DEST: everything trusted, nothing read.
expect_exit 0 "$VALISE" ingest -m "$M" -d "$D" --no-progress "$S"
# (On the line above the verdict when the verdict's 80 columns cannot
# hold it: docs/report.md.)
assert_contains "$LAST_OUT" "0 verified now, 4 trusted from the journal"

# 4. --recheck reads every staged file back from DEST, none from the drive.
expect_exit 0 "$VALISE" ingest -m "$M" -d "$D" --no-progress --recheck \
  --json "$S"
assert_eq "$N" "$(json "$LAST_OUT" get totals.files_rechecked)" "files_rechecked"
assert_eq "$N" "$(json "$LAST_OUT" get totals.files_ok)" "files_ok"
assert_eq 0 "$(json "$LAST_OUT" get totals.files_skipped_resume)" "trusted"
assert_eq 0 "$(json "$LAST_OUT" get 'drives.0.bytes_read')" "bytes read from the drive"
expect_exit 0 "$VALISE" ingest -m "$M" -d "$D" --no-progress --recheck "$S"
assert_contains "$LAST_OUT" "4 verified now, 0 trusted from the journal, 4 read back from DEST"
log "PASS"
