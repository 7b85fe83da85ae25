#!/usr/bin/env bash
# Goal (issue 12, items 2, 4, 5 and 9): every file valise writes, and its
# standard output, obey one set of rules:
#  - item 2: an output never replaces an existing file without --force,
#    and never, even with --force, a symlink (-o /dev/stdout: "give -o -",
#    run in a private mount namespace with a private /dev, so a regression
#    cannot replace the machine's /dev/stdout), a FIFO, a device, the
#    manifest, M.sig, M.chunks, a key, a SRC or a path inside a SRC or
#    DEST; manifest -o - writes the manifest to standard output;
#  - item 9: outputs are checked before any drive is read: --report
#    nodir/r.json and -o nodir/m fail at once, exit 2, naming the path the
#    operator gave (never X.tmp-PID-N), and read no drive;
#  - item 4: a failed write or close of standard output (/dev/full) or of
#    an output file (a full file system) is exit 2 with a message (before:
#    exit 0, nothing written);
#  - item 5: SIGPIPE is ignored: `valise ... --report r.json | head -c1`
#    leaves a complete r.json and exits 2, saying standard output failed
#    (before: killed by SIGPIPE, exit 141, no r.json).
# Plain directories in a temp dir; the namespace and tmpfs parts need root
# (skipped with a message otherwise). About 10 s on an idle machine.
source "$(dirname "$0")/../e2e/lib.sh"

E2E_CMD_TIMEOUT=${E2E_CMD_TIMEOUT:-60}
W=$VALISE_WORK
NP=--no-progress
cd "$W"

# S: a small drive. B: 2,000 small files, whose JSON report (~700 KB) is
# larger than a pipe holds, so a reader that leaves early always makes a
# write fail.
mkdir -p S/sub B
gen_file S/big 300000 big
gen_file S/sub/a 1000 a
for i in $(seq 1 2000); do printf '%s\n' "$i" >"B/f$i"; done
expect_exit 0 "$VALISE" manifest $NP S -o M
expect_exit 0 "$VALISE" manifest $NP B -o MB
expect_exit 0 "$VALISE" keygen -o k
expect_exit 0 "$VALISE" sign -k k M

# unchanged FILE...: the files' bytes and kinds are what they were.
snapshot() { for f in "$@"; do stat -c '%F %s %Y' "$f"; md5sum <"$f"; done; }

log "item 2: an existing output is replaced only with --force"
cp M M.before
expect_exit 2 "$VALISE" manifest $NP S -o M
assert_contains "$LAST_ERR" "-o M: exists; not replaced (--force"
cmp -s M M.before || fail "manifest -o replaced M without --force"
expect_exit 0 "$VALISE" manifest $NP S -o M --force
expect_exit 0 "$VALISE" sign -k k M --force # M changed: a new signature
expect_exit 0 "$VALISE" verify $NP -q -m M --pubkey k.pub --report r1.json S
expect_exit 2 "$VALISE" verify $NP -q -m M --report r1.json S
assert_contains "$LAST_ERR" "--report r1.json: exists"
expect_exit 0 "$VALISE" verify $NP -q -m M --report r1.json --force S
json r1.json check || fail "--force did not write a report"
expect_exit 2 "$VALISE" sign -k k M
assert_contains "$LAST_ERR" "M.sig: exists"

log "item 2: never, even with --force: inputs, keys, SRC and DEST"
expect_exit 0 "$VALISE" ingest $NP -q -m M -d D S
before=$(snapshot M M.sig M.chunks k k.pub S/big D/big)
for target in M M.sig M.chunks k k.pub S/big S/new.json; do
  expect_exit 2 "$VALISE" verify $NP -q -m M --report "$target" --force S
  assert_contains "$LAST_ERR" "--report $target"
done
for target in M M.sig k S/big D/big D/new.json D/.valise/journal; do
  expect_exit 2 "$VALISE" ingest $NP -q -m M -d D --report "$target" \
    --force S
  assert_contains "$LAST_ERR" "--report $target"
done
expect_exit 2 "$VALISE" manifest $NP S -o S/m.vm --force
assert_contains "$LAST_ERR" "-o S/m.vm: is inside S"
expect_exit 2 "$VALISE" keygen -o k
assert_contains "$LAST_ERR" "exists; not overwriting a key"
assert_eq "$before" "$(snapshot M M.sig M.chunks k k.pub S/big D/big)" \
  "inputs, keys, SRC and DEST after refused outputs"
[[ ! -e S/new.json && ! -e D/new.json ]] || fail "an output landed in SRC/DEST"
# Through a symlink to a directory inside the drive: the same directory.
ln -s S/sub into-drive
expect_exit 2 "$VALISE" verify $NP -q -m M --report into-drive/r.json S
assert_contains "$LAST_ERR" "is inside S"

log "item 2: never a symlink, a FIFO or a device"
ln -s r1.json link.json
mkfifo fifo
ln -s /proc/self/fd/1 L
for target in link.json fifo L /dev/null; do
  expect_exit 2 "$VALISE" verify $NP -q -m M --report "$target" --force S
  expect_exit 2 "$VALISE" manifest $NP S -o "$target" --force
done
[[ -L link.json && -p fifo && -L L ]] || fail "an output replaced a link/FIFO"
# The probe's `ln -s /proc/self/fd/1 L; valise manifest S -o L > out`: L
# turned into a file holding the manifest, out stayed empty.
expect_exit 2 "$VALISE" manifest $NP S -o L
assert_contains "$LAST_ERR" "-o L: is a symbolic link"
assert_contains "$LAST_ERR" "give -o -"
[[ -L L ]] || fail "manifest -o L replaced the symlink"

log "item 2: manifest -o - writes the manifest to standard output"
expect_exit 0 "$VALISE" manifest $NP S -o -
cp "$LAST_OUT" Mstdout
[[ ! -e ./- && ! -e ./-.chunks ]] || fail "-o - wrote a file named -"
expect_exit 0 "$VALISE" verify $NP -q -m Mstdout S
expect_exit 2 "$VALISE" verify $NP -q -m M --report - S
assert_contains "$LAST_ERR" "--json"

log "item 9: outputs checked before any drive is read"
for cmd in "verify $NP -m M --report nodir/r.json S" \
  "ingest $NP -m M -d D2 --report nodir/r.json S" \
  "manifest $NP S -o nodir/m.vm" "bench --seconds 0.1 --report nodir/r.json S"; do
  # shellcheck disable=SC2086
  expect_exit 2 "$VALISE" $cmd
  assert_contains "$LAST_ERR" "nodir/"
  assert_contains "$LAST_ERR" "'nodir' does not exist"
  assert_not_contains "$LAST_ERR" ".tmp-"
done
[[ ! -e D2 ]] || fail "ingest created DEST although --report cannot be written"
if command -v strace >/dev/null; then
  # No drive opened, listed or read.
  expect_exit 2 strace -f -qq -e trace=openat,getdents64,io_uring_setup \
    -o trace "$VALISE" verify -m M $NP --report nodir/r.json S
  if grep -E 'S/(sub|big)|"S"' trace | grep -v ENOENT; then
    fail "the drive was opened although --report cannot be written"
  fi
fi

log "item 4: a failed write of standard output is exit 2"
expect_exit 2 bash -c "\"$VALISE\" verify --json $NP -m M S >/dev/full"
assert_contains "$LAST_ERR" "standard output: write: No space left on device"
expect_exit 2 bash -c "\"$VALISE\" verify $NP -m M S >/dev/full"
expect_exit 2 bash -c "\"$VALISE\" manifest $NP S -o - >/dev/full"
assert_contains "$LAST_ERR" "standard output"
expect_exit 2 bash -c "\"$VALISE\" --help >/dev/full"

log "item 5: SIGPIPE: the report is still written, exit 2"
# piped NAME WANT ARGS...: `valise ARGS --json --report p-NAME.json |
# head -c1` exits 2, says standard output broke, and leaves a whole report
# whose exit code is WANT.
piped() {
  local name=$1 want=$2 rc
  shift 2
  set +e
  timeout 60 "$VALISE" "$@" --json $NP --report "p-$name.json" \
    2>"p-$name.err" | head -c1 >/dev/null
  rc=${PIPESTATUS[0]}
  set -e
  [[ $rc == 2 ]] || fail "$name --json | head -c1: exit $rc, expected 2"
  assert_contains "p-$name.err" "standard output: write: Broken pipe"
  json "p-$name.json" check || fail "$name | head -c1: --report incomplete"
  assert_eq "$want" "$(json "p-$name.json" get exit_code)" \
    "$name: the report's exit code"
}
# ingest lists every file it stages; verify lists the problems: here 2,000
# files missing from an empty drive.
mkdir empty
piped ingest 0 ingest -m MB -d D-ingest B
piped verify 1 verify -m MB empty
# The summary alone (small: it fits in the pipe) is no failure.
set +e
"$VALISE" verify $NP -m M --report p-summary.json S 2>/dev/null | head -c1 \
  >/dev/null
rc=${PIPESTATUS[0]}
set -e
json p-summary.json check || fail "verify | head -c1: --report incomplete"

if [[ $(id -u) -ne 0 ]]; then
  log "SKIP the /dev/stdout and full file system cases: they need root"
  log "PASS"
  exit 0
fi

log "item 2: -o /dev/stdout, in a private mount namespace and /dev"
# A tmpfs over /dev in a namespace of its own: /dev/stdout there is a
# symlink of ours, so even a regression cannot replace the machine's.
cat >ns.sh <<EOF
set -eu
mount -t tmpfs -o size=1m valise-test-dev /dev
ln -s /proc/self/fd/1 /dev/stdout
rc=0
"$VALISE" manifest $NP "$W/S" -o /dev/stdout >"$W/ns.out" 2>"$W/ns.err" || rc=\$?
echo "manifest \$rc" >"$W/ns.rc"
rc=0
"$VALISE" verify $NP -q -m "$W/M" --report /dev/stdout --force "$W/S" \
  >>"$W/ns.out" 2>>"$W/ns.err" || rc=\$?
echo "verify \$rc" >>"$W/ns.rc"
stat -c '%F' /dev/stdout >"$W/ns.kind"
EOF
expect_exit 0 "$PRIVATE_MOUNTS" bash ns.sh
assert_eq $'manifest 2\nverify 2' "$(cat ns.rc)" "exit statuses in the namespace"
assert_eq "symbolic link" "$(cat ns.kind)" "/dev/stdout in the namespace"
assert_contains ns.err "-o /dev/stdout: is a symbolic link"
assert_contains ns.err "give -o -"
[[ ! -s ns.out ]] || fail "something was written through /dev/stdout"
[[ -L /dev/stdout ]] || fail "the machine's /dev/stdout is no symlink"

log "item 4: a full file system under --report and -o: exit 2"
mkdir full
cat >full.sh <<EOF
set -eu
mount -t tmpfs -o size=64k valise-test-full "$W/full"
rc=0
# 2,000 files missing: a report of ~700 KB.
"$VALISE" verify $NP -q -m "$W/MB" --report "$W/full/r.json" "$W/empty" \
  2>"$W/full.err" || rc=\$?
echo "verify \$rc" >"$W/full.rc"
rc=0
"$VALISE" manifest $NP "$W/B" -o "$W/full/m.vm" 2>>"$W/full.err" || rc=\$?
echo "manifest \$rc" >>"$W/full.rc"
ls -A "$W/full" >"$W/full.ls"
EOF
expect_exit 0 "$PRIVATE_MOUNTS" bash full.sh
assert_eq $'verify 2\nmanifest 2' "$(cat full.rc)" "exit statuses, full file system"
assert_contains full.err "--report: $W/full/r.json: write: No space left"
assert_contains full.err "$W/full/m.vm"
assert_not_contains full.err ".tmp-"
assert_eq "" "$(cat full.ls)" "files left on the full file system"
log "PASS"
