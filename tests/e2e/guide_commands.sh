#!/usr/bin/env bash
# Runs every command of docs/operator-guide.md, in order, on practice
# drives (plain directories) this script makes, and checks that each exits
# with the status the guide says: 0, or N where the line ends with
# "# exits N". The guide's ```sh blocks share one shell, so its setup block
# defines the names ($SRC1 $SRC2 $DEST $KEYS $WORK) the later blocks use;
# this script presets them to scratch paths.
#
# Env: VALISE (the binary under test; ctest sets it). Nothing needs root.
# GUIDE_S3=1 (tests/e2e/guide_s3.sh, with an S3 store in the AWS_*
# variables and S3DEST=s3://BUCKET/PREFIX): the blocks marked ```sh s3
# instead, after the plain blocks of sections 0 and 1 (the names, the keys
# and the signed manifest they use); without it those blocks are left out.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
GUIDE=${GUIDE:-$REPO/docs/operator-guide.md}
VALISE=${VALISE:-$REPO/build/valise}
# shellcheck source=../../scripts/lib/data.sh
source "$REPO/scripts/lib/data.sh"

fail() {
  echo "[guide_commands] FAIL: $*" >&2
  exit 1
}
[[ -x "$VALISE" ]] || fail "valise binary not found: $VALISE (set VALISE)"
[[ -r "$GUIDE" ]] || fail "guide not found: $GUIDE"

SCRATCH=$(mktemp -d /var/tmp/valise-guide.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT

# The guide says `valise`: the binary under test comes first on PATH.
mkdir -p "$SCRATCH/bin"
ln -s "$(readlink -f "$VALISE")" "$SCRATCH/bin/valise"
export PATH="$SCRATCH/bin:$PATH"

# Practice drives: drive 1 and drive 2 hold different parts of a dataset,
# and one file travels on both (a redundant copy).
SRC1=$SCRATCH/drives/d1
SRC2=$SCRATCH/drives/d2
valise_gen_file "$SRC1/raw/run1.bin" $((3 * 1048576 + 77)) run1
valise_gen_file "$SRC1/raw/run2.bin" $((1048576 + 5)) run2
valise_gen_file "$SRC1/meta/index.csv" 4000 index
valise_gen_file "$SRC2/raw/run3.bin" $((2 * 1048576)) run3
valise_gen_file "$SRC2/meta/index.csv" 4000 index
valise_gen_file "$SRC2/notes/read me.txt" 123 notes
DEST=$SCRATCH/dest
KEYS=$SCRATCH/keys
WORK=$SCRATCH/work

# The commands: the lines of the ```sh blocks, a trailing backslash joining
# a line to the next, with the expected status of each.
S3=${GUIDE_S3:-0}
mapfile -t COMMANDS < <(awk -v s3="$S3" '
  /^## 2\./ { past_setup = 1 }
  /^```sh[[:space:]]*$/ { inblock = !(s3 && past_setup); next }
  /^```sh s3[[:space:]]*$/ { inblock = s3; next }
  /^```/ { inblock = 0; next }
  inblock {
    if (sub(/\\$/, "")) { pending = pending $0; next }
    line = pending $0; pending = ""
    if (line ~ /^[[:space:]]*(#|$)/) next
    print line
  }' "$GUIDE")
((${#COMMANDS[@]} >= (S3 ? 5 : 10))) ||
  fail "only ${#COMMANDS[@]} commands found in $GUIDE (sh blocks missing?)"

ran=0 nonzero=0
for cmd in "${COMMANDS[@]}"; do
  want=0
  if [[ "$cmd" =~ \#[[:space:]]*exits[[:space:]]+([0-9]+)[[:space:]]*$ ]]; then
    want=${BASH_REMATCH[1]}
  fi
  echo "[guide_commands] \$ $cmd"
  got=0
  # Run in this shell (the guide's variables carry over), output kept for
  # a failure message.
  eval "$cmd" >"$SCRATCH/out" 2>&1 </dev/null || got=$?
  if [[ "$got" != "$want" ]]; then
    cat "$SCRATCH/out" >&2
    fail "'$cmd' exited $got, the guide says $want"
  fi
  ran=$((ran + 1))
  ((want != 0)) && nonzero=$((nonzero + 1))
done

if ((S3)); then
  ((nonzero >= 2)) || fail "only $nonzero S3 commands expected to fail"
  echo "[guide_commands] PASS: $ran commands into $S3DEST, $nonzero with the" \
    "failure the guide expects"
  exit 0
fi
# The guide's bad days really were exercised (corrupt, missing, forged).
((nonzero >= 4)) || fail "only $nonzero commands expected to fail; expected 4+"
# And its names pointed at the practice paths: the dataset is on DEST.
cmp "$SRC1/raw/run1.bin" "$DEST/raw/run1.bin" || fail "DEST lacks raw/run1.bin"
cmp "$SRC2/notes/read me.txt" "$DEST/notes/read me.txt" ||
  fail "DEST lacks notes/read me.txt"
echo "[guide_commands] PASS: $ran commands, $nonzero with the failure the guide expects"
