#!/usr/bin/env bash
# Builds the .deb from the build tree (cpack -G DEB), unpacks it into a
# scratch root and checks what an operator gets: the installed binary runs,
# Depends names the package of every shared library the binary loads, the
# man page renders cleanly and mentions every long flag that some
# command's --help shows, and the bash completion parses and completes.
#
# Env: VALISE (the built binary), VALISE_BUILD_DIR (its build tree, where
# cpack runs; ctest sets both). The package is written to a scratch
# directory, not the build tree.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VALISE=${VALISE:-$HERE/../../build/valise}
BUILD=${VALISE_BUILD_DIR:-$(dirname "$VALISE")}
log() { echo "[packaging_deb] $*"; }
fail() {
  echo "[packaging_deb] FAIL: $*" >&2
  exit 1
}
[[ -x "$VALISE" ]] || fail "valise binary not found: $VALISE (set VALISE)"
[[ -f "$BUILD/CPackConfig.cmake" ]] ||
  fail "$BUILD has no CPackConfig.cmake (packaging/cpack.cmake not included?)"
for tool in cpack dpkg-deb dpkg-shlibdeps man col; do
  if ! command -v "$tool" >/dev/null; then
    echo "[packaging_deb] SKIP: $tool not installed (scripts/lib/deps.sh)"
    exit 77
  fi
done

SCRATCH=$(mktemp -d /var/tmp/valise-pkg.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT

log "cpack -G DEB in $BUILD"
(cd "$BUILD" && cpack -G DEB -B "$SCRATCH/out") >"$SCRATCH/cpack.log" 2>&1 ||
  { cat "$SCRATCH/cpack.log" >&2; fail "cpack failed"; }
debs=("$SCRATCH"/out/valise_*.deb)
[[ -f "${debs[0]}" ]] || { cat "$SCRATCH/cpack.log" >&2; fail "no .deb made"; }
DEB=${debs[0]}
log "built $(basename "$DEB") ($(stat -c %s "$DEB") bytes)"

# Depends: the package of each library the built binary links directly.
depends=$(dpkg-deb -f "$DEB" Depends)
log "Depends: $depends"
# The package names alone: "a (>= 1), b" -> " a b ".
dep_names=$(tr ',' '\n' <<<"$depends" | awk '{ print $1 }' | tr '\n' ' ')
while read -r lib; do
  # /lib is a symlink to /usr/lib on Debian 12: dpkg knows the library by
  # one of the two names, or only by the file its soname link points to.
  pkg=''
  for cand in "$lib" "/usr$lib" "${lib#/usr}" "$(readlink -f "$lib")" \
    "$(readlink -f "$lib" | sed 's,^/usr,,')"; do
    pkg=$(dpkg -S "$cand" 2>/dev/null | head -n 1 | cut -d: -f1) || true
    [[ -n "$pkg" ]] && break
  done
  [[ -n "$pkg" ]] || fail "no Debian package owns $lib"
  [[ " $dep_names " == *" $pkg "* ]] ||
    fail "Depends lacks $pkg (for $lib): $depends"
done < <(
  # The libraries the binary itself needs (its NEEDED entries), where ldd
  # finds them: a library's own dependencies (libcurl's libnghttp2) come
  # with its package, and dpkg-shlibdeps rightly does not list them.
  readelf -d "$VALISE" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' |
    while read -r soname; do
      ldd "$VALISE" | awk -v n="$soname" '$1 == n && $2 == "=>" { print $3 }'
    done
)
# (libxxhash0: XXH3's run-time dispatch, src/util/digest.cc.)
for pkg in liburing2 libssl3 libisal2 libfmt9 libxxhash0; do
  [[ "$depends" == *"$pkg"* ]] || fail "Depends lacks $pkg: $depends"
done

ROOT=$SCRATCH/root
dpkg -x "$DEB" "$ROOT"
for f in usr/bin/valise usr/share/man/man1/valise.1.gz \
  usr/share/bash-completion/completions/valise \
  usr/share/zsh/vendor-completions/_valise \
  usr/share/fish/vendor_completions.d/valise.fish; do
  [[ -s "$ROOT/$f" ]] || fail "package lacks /$f"
done

version=$("$ROOT/usr/bin/valise" --version)
log "installed valise --version: $(tr '\n' ' ' <<<"$version")"
[[ "$version" == *"valise $("$VALISE" --version | head -n 1 | cut -d' ' -f2)"* ]] ||
  fail "installed --version: $version"
[[ "$version" == *io_uring* ]] || fail "--version lists no io_uring: $version"

# The man page renders without groff warnings.
MANWIDTH=80 LC_ALL=C man --warnings -l "$ROOT/usr/share/man/man1/valise.1.gz" \
  2>"$SCRATCH/man.err" | col -b >"$SCRATCH/man.txt"
[[ ! -s "$SCRATCH/man.err" ]] || {
  cat "$SCRATCH/man.err" >&2
  fail "man -l warned"
}
grep -q 'EXIT STATUS' "$SCRATCH/man.txt" || fail "man page: no EXIT STATUS"
# Every long flag that a command's --help shows is in the rendered page.
mapfile -t cmds < <(sed -n 's/^\.SS "valise \(.*\)"$/\1/p' < <(gzip -dc \
  "$ROOT/usr/share/man/man1/valise.1.gz"))
((${#cmds[@]} >= 6)) || fail "man page lists ${#cmds[@]} commands"
nflags=0
for c in "${cmds[@]}"; do
  while read -r flag; do
    grep -qE -- "(^|[^-a-z])$flag([^-a-z]|$)" "$SCRATCH/man.txt" ||
      fail "man page lacks $flag (valise $c --help shows it)"
    nflags=$((nflags + 1))
  done < <("$VALISE" "$c" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u)
done
((nflags >= 40)) || fail "only $nflags long flags found in the --help texts"
log "man page renders and mentions all $nflags long flags of ${#cmds[@]} commands"

# The bash completion: parses, and completes a command, a flag, a choice.
BC=$ROOT/usr/share/bash-completion/completions/valise
bash -n "$BC" || fail "bash -n $BC"
complete_words() {
  # complete_words WORD...: the completions of the last WORD.
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
    _valise; printf "%s\n" "${COMPREPLY[@]}"' bash "$BC" "$@"
}
got=$(complete_words valise ver)
[[ "$got" == verify ]] || fail "valise ver<TAB> gave '$got', not verify"
got=$(complete_words valise verify --pub)
[[ "$got" == --pubkey ]] || fail "valise verify --pub<TAB> gave '$got'"
got=$(complete_words valise ingest --dedup re)
[[ "$got" == reflink ]] || fail "valise ingest --dedup re<TAB> gave '$got'"
got=$(complete_words valise ingest --ba)
[[ "$got" == --bag ]] || fail "valise ingest --ba<TAB> gave '$got'"
log "bash completion: ver -> verify, --pub -> --pubkey, --dedup re -> reflink"
if command -v zsh >/dev/null; then
  zsh -n "$ROOT/usr/share/zsh/vendor-completions/_valise" || fail "zsh -n _valise"
else
  log "zsh not installed: the zsh completion is checked for presence only"
fi
log "PASS"
