#!/usr/bin/env bash
# Goal: symlinks planted in DEST never make ingest write outside it. A
# directory symlink DEST/dir -> /tmp/outside-XXXXXX where the manifest has
# dir/file.bin (and dir/sub/deep.bin): nothing is written to the outside
# directory, those files are reported as problems (exit 1), the symlink is
# left alone, and every other file is staged intact. A symlink under a
# final file name (DEST/top-link.bin -> outside) is not followed nor
# replaced: that file is a problem too. A symlink in place of DEST/.valise
# (the journal, lock and staging) stops the run (exit 2) with nothing
# written outside.
source "$(dirname "$0")/ingest_lib.sh"
need_root

make_drive S 64 ext4
make_drive D 128 ext4
S=${MNT[S]}
gen_file "$S/dir/file.bin" $((1048576 + 3)) dir-file
gen_file "$S/dir/sub/deep.bin" 70000 dir-deep
gen_file "$S/top.bin" $((2 * 1048576)) top
gen_file "$S/top-link.bin" 5000 top-link
gen_file "$S/other/x.bin" 4096 other-x
gen_file "$S/dirx/y.bin" 333 dirx-y  # "dir" is a prefix of its name
find "$S" -path '*/lost+found' -prune -o -exec touch -h -d "@$E2E_MTIME" {} +
M="$VALISE_WORK/dataset.valise"
expect_exit 0 "$VALISE" manifest "$S" -o "$M"

OUTSIDE=$(mktemp -d "${TMPDIR:-/tmp}/outside-XXXXXX")
valise_on_cleanup "rm -rf --one-file-system '$OUTSIDE'"
mkdir "$OUTSIDE/sub"
echo "the operator's" >"$OUTSIDE/target.bin"
# outside_state: every entry below OUTSIDE with its size and mtime.
outside_state() {
  (cd "$OUTSIDE" && find . -printf '%y %p %s %T@\n' | LC_ALL=C sort)
}
BEFORE=$(outside_state)

DEST=${MNT[D]}/stage
mkdir -p "$DEST"
ln -s "$OUTSIDE" "$DEST/dir"
ln -s "$OUTSIDE/target.bin" "$DEST/top-link.bin"

log "symlinks at DEST/dir and DEST/top-link.bin"
J="$VALISE_WORK/report.json"
expect_exit 1 "$VALISE" ingest -m "$M" -d "$DEST" --no-progress --json "$S"
cp "$LAST_OUT" "$J"
assert_eq "$BEFORE" "$(outside_state)" "the outside directory after ingest"
[[ -L "$DEST/dir" && "$(readlink "$DEST/dir")" == "$OUTSIDE" ]] ||
  fail "DEST/dir is no longer the operator's symlink"
[[ -L "$DEST/top-link.bin" ]] || fail "DEST/top-link.bin was replaced"
problems=$(json "$J" rows files status path | awk -F'\t' '$1 != "ok" {print $2}' |
  LC_ALL=C sort)
assert_eq "$(printf '%s\n' dir/file.bin dir/sub/deep.bin top-link.bin)" \
  "$problems" "files reported as problems"
json "$J" rows files status path detail | awk -F'\t' '$1 != "ok"' |
  while IFS=$'\t' read -r status path detail; do
    log "reported: $path: $status: $detail"
  done
# Every other file is staged, intact.
assert_eq "$(printf '%s\n' dirx/y.bin other/x.bin top.bin)" \
  "$(cd "$DEST" && find . -path ./.valise -prune -o -type f -printf '%P\n' |
    LC_ALL=C sort)" "files staged in DEST"
check_dest "$DEST" "$S"
assert_eq 0 "$(staging_left "$DEST")" "entries left in staging"
assert_eq 3 "$(json "$J" get totals.files_ok)" "totals.files_ok"

log "a symlink in place of DEST/.valise"
DEST2=${MNT[D]}/stage2
mkdir -p "$DEST2"
ln -s "$OUTSIDE" "$DEST2/.valise"
expect_exit 2 "$VALISE" ingest -m "$M" -d "$DEST2" --no-progress "$S"
assert_contains "$LAST_ERR" ".valise"
assert_eq "$BEFORE" "$(outside_state)" "the outside directory after ingest"
[[ -L "$DEST2/.valise" ]] || fail "DEST2/.valise is no longer a symlink"
assert_eq "" "$(cd "$DEST2" && find . -mindepth 1 ! -name .valise)" \
  "files written in DEST2"

log "PASS"
