#!/usr/bin/env bash
# Goal: what an operator types is taken the way they meant it, or refused
# with a message that names it (issue 12, items 11-14;
# docs/reliability.md, "Defects found by an outside probe"):
#  - a SRC given as a symlink (the stable names under /dev/disk/by-id) is
#    followed, once: manifest, verify and ingest read the drive it names,
#    and the report shows "SRC -> TARGET" (JSON "resolved"); a symlink
#    inside a drive is still never followed; a SRC that cannot be a drive
#    (dangling link, FIFO, link to a FIFO, not there) gives the same
#    message and exit 2 alone or beside a good SRC (it exited 1 calling it
#    a "directory"). As root, the same through a link made under
#    /dev/disk/by-id, inside `unshare -m` on a private tmpfs over /dev;
#  - names holding a C1 control (U+009B, CSI) or a bidi override (U+202E)
#    reach the terminal escaped (%C2%9B, %E2%80%AE) in the summary and in
#    messages, never raw; the --json report keeps the exact characters;
#  - a private key that group or others may read is refused by `sign`,
#    as ssh refuses one ("permissions 0644 for 'k' are too open"), exit 2
#    and no signature; keygen writes it 0600 whatever the umask;
#  - an unknown command is named, with the nearest command and the list
#    (it said "A subcommand is required"), exit 2; no command at all too.
# Plain directories in a temp dir. Every command runs under `timeout`.
source "$(dirname "$0")/../e2e/lib.sh"

E2E_CMD_TIMEOUT=${E2E_CMD_TIMEOUT:-60}
W=$VALISE_WORK

# The summary wraps at 80 columns, a continuation indented four spaces:
# FILE's lines joined back, then assert_contains.
assert_joined_contains() {
  sed -e ':a' -e 'N' -e '$!ba' -e 's/\n    / /g' "$1" >"$W/joined.out"
  assert_contains "$W/joined.out" "$2"
}

# ------------------------------------------------ item 11: a symlinked SRC
D=$W/drive1
mkdir -p "$D/sub" "$W/elsewhere" "$W/by-id"
gen_file "$D/a.bin" 70000 a
gen_file "$D/sub/b.bin" 5000 b
gen_file "$W/elsewhere/secret" 100 secret
ln -s "$W/elsewhere/secret" "$D/escape"  # inside the drive: never followed
ln -s "$D" "$W/by-id/usb-VALISE_DISK-0:0"
ln -s "usb-VALISE_DISK-0:0" "$W/by-id/relative"
L=$W/by-id/usb-VALISE_DISK-0:0
expect_exit 0 "$VALISE" manifest "$D" -o "$W/direct.vm"
expect_exit 0 "$VALISE" manifest "$W/by-id/relative" -o "$W/linked.vm"
assert_eq "$(grep -v '^#' "$W/direct.vm" | sort)" \
  "$(grep -v '^#' "$W/linked.vm" | sort)" "entries through the link"
assert_not_contains "$W/linked.vm" "secret"
expect_exit 0 "$VALISE" verify --no-progress -m "$W/direct.vm" "$L"
assert_joined_contains "$LAST_OUT" "usb-VALISE_DISK-0:0 -> $D"
assert_not_contains "$LAST_OUT" "errors"
expect_exit 0 "$VALISE" verify --json -m "$W/direct.vm" "$L"
assert_eq "$L" "$(json "$LAST_OUT" get drives.0.source)" "JSON source"
assert_eq "$D" "$(json "$LAST_OUT" get drives.0.resolved)" "JSON resolved"
assert_eq "directory" "$(json "$LAST_OUT" get drives.0.kind)" "JSON kind"
expect_exit 0 "$VALISE" ingest --no-progress -m "$W/direct.vm" \
  -d "$W/dest" "$W/by-id/relative"
cmp "$D/sub/b.bin" "$W/dest/sub/b.bin" || fail "ingest through a link"
[[ ! -e "$W/dest/escape" ]] || fail "a link inside the drive was followed"
# An image file through a link is an image; its entry keeps the link's name.
gen_file "$W/disk.img" 40000 img
ln -s "$W/disk.img" "$W/by-id/img-link"
expect_exit 0 "$VALISE" manifest "$W/by-id/img-link" -o "$W/img.vm"
assert_contains "$W/img.vm" "img-link"
expect_exit 0 "$VALISE" verify --json -m "$W/img.vm" "$W/by-id/img-link"
assert_eq "image" "$(json "$LAST_OUT" get drives.0.kind)" "image kind"

# A bad SRC: the same message and exit status alone or beside a good one.
mkfifo "$W/fifo"
ln -s "$W/nowhere" "$W/by-id/dangling"
ln -s "$W/fifo" "$W/by-id/to-fifo"
for bad in "$W/by-id/dangling" "$W/fifo" "$W/by-id/to-fifo" "$W/no-such"; do
  for cmd in verify ingest manifest; do
    case $cmd in
    verify) args=(verify --no-progress -m "$W/direct.vm") ;;
    ingest) args=(ingest --no-progress -m "$W/direct.vm" -d "$W/dest2") ;;
    manifest) args=(manifest -o "$W/bad.vm") ;;
    esac
    expect_exit 2 "$VALISE" "${args[@]}" "$bad"
    cp "$LAST_ERR" "$W/alone.err"
    assert_contains "$W/alone.err" "valise: error: $bad"
    expect_exit 2 "$VALISE" "${args[@]}" "$D" "$bad"
    cmp "$W/alone.err" "$LAST_ERR" || fail "$cmd $bad: other message beside a good SRC"
    expect_exit 2 "$VALISE" "${args[@]}" "$bad" "$L"
    cmp "$W/alone.err" "$LAST_ERR" || fail "$cmd $bad: other message before a good SRC"
    assert_not_contains "$LAST_ALL" "directory  "
  done
done
assert_contains "$W/alone.err" "no-such"
expect_exit 2 "$VALISE" verify -m "$W/direct.vm" "$W/by-id/to-fifo"
assert_contains "$LAST_ERR" "to-fifo (-> $W/fifo): not a directory, image file or block device (fifo)"
[[ ! -e "$W/dest2" ]] || fail "ingest created DEST for a bad SRC"

# /dev/disk/by-id itself, as an operator names drives: only as root, only
# in a private mount namespace with a tmpfs over /dev (this machine's /dev
# is never touched; only valise runs in there).
if [[ $(id -u) -eq 0 ]] && unshare -m true 2>/dev/null; then
  inner='mount -t tmpfs -o size=1m,mode=0755 valise-test /dev &&
    mkdir -p /dev/disk/by-id &&
    ln -s "$1" /dev/disk/by-id/usb-VALISE_TEST_0042-0:0 &&
    exec "$2" verify --no-progress -m "$3" /dev/disk/by-id/usb-VALISE_TEST_0042-0:0'
  expect_exit 0 "$PRIVATE_MOUNTS" bash -c "$inner" inner \
    "$D" "$VALISE" "$W/direct.vm"
  assert_joined_contains "$LAST_OUT" \
    "/dev/disk/by-id/usb-VALISE_TEST_0042-0:0 -> $D"
  [[ ! -e /dev/disk/by-id/usb-VALISE_TEST_0042-0:0 ]] ||
    fail "the link leaked out of the private namespace"
else
  log "not root or no unshare: /dev/disk/by-id case not run"
fi

# ------------------------------------------- item 13: a key open to others
K=$W/keys/site.key
mkdir -p "$W/keys"
(umask 000 && "$VALISE" keygen -o "$K" 2>/dev/null) || fail "keygen"
assert_eq 600 "$(stat -c %a "$K")" "private key mode under umask 000"
expect_exit 0 "$VALISE" sign -k "$K" "$W/direct.vm"
expect_exit 0 "$VALISE" verify --no-progress -m "$W/direct.vm" \
  --pubkey "$K.pub" "$D"
rm "$W/direct.vm.sig"
for mode in 644 640 604 660 620 601; do
  chmod "$mode" "$K"
  expect_exit 2 "$VALISE" sign -k "$K" "$W/direct.vm"
  assert_contains "$LAST_ERR" "permissions 0$mode for '$K' are too open"
  [[ ! -e "$W/direct.vm.sig" ]] || fail "signed with a key of mode $mode"
done
# Through a symlink: the mode of the file read counts, not the link's.
ln -s "$K" "$W/keys/link.key"
expect_exit 2 "$VALISE" sign -k "$W/keys/link.key" "$W/direct.vm"
assert_contains "$LAST_ERR" "too open"
# (--force: each signs again over the M.sig of the one before.)
for mode in 600 400 700; do
  chmod "$mode" "$K"
  expect_exit 0 "$VALISE" sign --force -k "$W/keys/link.key" "$W/direct.vm"
done

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
