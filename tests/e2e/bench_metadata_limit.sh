#!/usr/bin/env bash
# Goal: bench/metadata_limit, the limit small-file ingest is measured
# against (scripts/bench-peers ingest), lands exactly the sources' regular
# files (bytes, mode, mtime to the nanosecond; symlinks left out; drives
# merged), with the protocol's fewest system calls: one create and one
# renameat2(RENAME_NOREPLACE) per file, one syncfs per group and one more
# for the last names; leaves no staging directory; never replaces a name
# already there (a second run into the same DEST fails, exit 2, the file
# unchanged). Plain directories: no root needed. A few seconds.
source "$(dirname "$0")/lib.sh"

LIMIT=${VALISE_METADATA_LIMIT:-$(dirname "$VALISE")/bench/metadata_limit}
[[ -x "$LIMIT" ]] || fail "metadata_limit not found: $LIMIT"
command -v strace >/dev/null || fail "strace missing (Debian package strace)"
W=$VALISE_WORK
S1=$W/s1
S2=$W/s2
DEST=$W/dest
mkdir -p "$DEST"
n=0
for i in $(seq 1 12); do
  gen_file "$S1/a/b/f$i.bin" $((i * 1000)) "s1:$i"
  gen_file "$S2/a/c d/g$i.bin" $((i * 333)) "s2:$i"
  n=$((n + 2))
done
: >"$S1/empty"
n=$((n + 1))
chmod 0640 "$S1/a/b/f3.bin"
chmod 0755 "$S2/a/c d/g4.bin"
touch -d '2001-02-03 04:05:06.123456789' "$S2/a/c d/g7.bin"
ln -s f1.bin "$S1/a/b/link"

log "landing $n files in groups of 5"
strace -f -qq -o "$W/trace" -e trace=syncfs,renameat2,openat \
  "$LIMIT" --group 5 "$DEST" "$S1" "$S2" >"$LAST_OUT" 2>"$LAST_ERR" ||
  fail "metadata_limit exited $?: $(cat "$LAST_ERR")"
assert_contains "$LAST_ERR" "metadata_limit: $n files,"
out=$("$VALISE_TREE" check --complete "$DEST" "$S1" "$S2" 2>&1) ||
  fail "DEST differs from the sources: $out"
assert_eq "$n" "$out" "files compared"
[[ ! -e "$DEST/a/b/link" ]] || fail "the symlink was landed"
[[ ! -e "$DEST/.limit-staging" ]] || fail "the staging directory is left"

log "system calls: one create and one rename a file, one syncfs a group + 1"
groups=$(((n + 4) / 5))
assert_eq $((groups + 1)) "$(grep -c 'syncfs(' "$W/trace")" "syncfs calls"
# (A call another thread interrupts is split over two lines, "<unfinished
# ...>" and "resumed>": count the calls by their opening.)
assert_eq "$n" "$(grep -c 'renameat2(.*RENAME_NOREPLACE' "$W/trace")" \
  "renames"
assert_eq "$n" "$(grep 'openat(' "$W/trace" | grep -c 'O_CREAT|O_EXCL')" \
  "staging files created"

log "a name already there is never replaced"
before=$(sha256sum <"$DEST/a/b/f1.bin")
rc=0
"$LIMIT" "$DEST" "$S1" >"$LAST_OUT" 2>"$LAST_ERR" || rc=$?
assert_eq 2 "$rc" "exit status landing onto existing names"
assert_matches "$LAST_ERR" 'renameat2: File exists'
assert_eq "$before" "$(sha256sum <"$DEST/a/b/f1.bin")" "existing file"
log "PASS"
