#!/usr/bin/env bash
# `cmake --install` of the build tree into a scratch DESTDIR, as an
# operator installs from source: the binary, the man page where `man`
# finds it under the prefix (`man valise`, not only `valise help-man`),
# and the bash, zsh and fish completions. The fish completion is loaded
# by fish and completes a command, a flag and a flag's choice (when fish
# is installed: scripts/lib/deps.sh; else it is checked for presence).
# About 2 s.
#
# Env: VALISE (the built binary), VALISE_BUILD_DIR (its build tree; ctest
# sets both). Installs nothing outside the scratch directory.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VALISE=${VALISE:-$HERE/../../build/valise}
BUILD=${VALISE_BUILD_DIR:-$(dirname "$VALISE")}
log() { echo "[packaging_install] $*"; }
fail() {
  echo "[packaging_install] FAIL: $*" >&2
  exit 1
}
[[ -x "$VALISE" ]] || fail "valise binary not found: $VALISE (set VALISE)"
for tool in man col; do
  if ! command -v "$tool" >/dev/null; then
    echo "[packaging_install] SKIP: $tool not installed (scripts/lib/deps.sh)"
    exit 77
  fi
done

SCRATCH=$(mktemp -d /var/tmp/valise-install.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT
ROOT=$SCRATCH/root

# The generated documents are part of `all`; a tree built for some targets
# only makes them now (from the binary already built).
cmake --build "$BUILD" --target valise_docs >"$SCRATCH/build.log" 2>&1 ||
  { cat "$SCRATCH/build.log" >&2; fail "cmake --build --target valise_docs"; }
DESTDIR=$ROOT cmake --install "$BUILD" --prefix /usr >"$SCRATCH/install.log" \
  2>&1 || { cat "$SCRATCH/install.log" >&2; fail "cmake --install"; }

for f in usr/bin/valise usr/share/man/man1/valise.1.gz \
  usr/share/bash-completion/completions/valise \
  usr/share/zsh/vendor-completions/_valise \
  usr/share/fish/vendor_completions.d/valise.fish; do
  [[ -s "$ROOT/$f" ]] || fail "cmake --install did not install /$f"
done
"$ROOT/usr/bin/valise" --version >/dev/null || fail "installed valise does not run"

# `man valise` with the prefix's man directory on the search path, as it
# is for /usr once installed there.
MANWIDTH=80 LC_ALL=C man --warnings -M "$ROOT/usr/share/man" valise \
  2>"$SCRATCH/man.err" | col -b >"$SCRATCH/man.txt"
[[ ! -s "$SCRATCH/man.err" ]] || {
  cat "$SCRATCH/man.err" >&2
  fail "man valise warned"
}
grep -q '^NAME' "$SCRATCH/man.txt" || fail "man valise: no NAME section"
grep -q 'EXIT STATUS' "$SCRATCH/man.txt" || fail "man valise: no EXIT STATUS"
grep -q -- '--html' "$SCRATCH/man.txt" || fail "man valise lacks --html"
MANWIDTH=80 LC_ALL=C man -l "$ROOT/usr/share/man/man1/valise.1.gz" |
  col -b | cmp -s - "$SCRATCH/man.txt" || fail "man -l differs from man valise"
log "man valise renders from the installed page ($(wc -l <"$SCRATCH/man.txt") lines)"

FISH=$ROOT/usr/share/fish/vendor_completions.d/valise.fish
if command -v fish >/dev/null; then
  fish -n "$FISH" || fail "fish -n $FISH"
  # complete -C: what fish offers for a command line, "WORD<TAB>desc".
  complete_fish() {
    fish --no-config -c "source '$FISH'; complete -C '$1'" | cut -f1
  }
  got=$(complete_fish 'valise ver')
  [[ "$got" == verify ]] || fail "fish: valise ver<TAB> gave '$got'"
  got=$(complete_fish 'valise verify --pub')
  [[ "$got" == --pubkey ]] || fail "fish: valise verify --pub<TAB> gave '$got'"
  got=$(complete_fish 'valise ingest --dedup re')
  [[ "$got" == reflink ]] || fail "fish: valise ingest --dedup re<TAB> gave '$got'"
  got=$(complete_fish 'valise status --ht')
  [[ -z "$got" ]] || fail "fish: valise status --ht<TAB> gave '$got' (no --html there)"
  got=$(complete_fish 'valise verify --ht')
  [[ "$got" == --html ]] || fail "fish: valise verify --ht<TAB> gave '$got'"
  log "fish completion: ver -> verify, --pub -> --pubkey, --dedup re -> reflink"
else
  log "fish not installed: the fish completion is checked for presence only"
fi
log "PASS"
