#!/usr/bin/env bash
# Rebuilds the hand-made test bags of this directory (each breaks one rule
# of RFC 8493, or keeps them all). The bags are committed; this script only
# documents how they were made and regenerates them after a change:
#   bash tests/bags/make_bags.sh
# Tests that use them: tests/format/bagit_test.cc, tests/pipeline/bag_test.cc,
# tests/e2e/bagit_verify.sh. The verdict of every bag (exit status, and a
# text the report must hold) is in verdicts.txt, which BagConformance.* and
# tests/e2e/bagit_verify.sh run them all against; README.md says why.
set -euo pipefail
cd "$(dirname "$0")"
export LC_ALL=C

# payload DIR: a small payload under DIR/data.
payload() {
  mkdir -p "$1/data/sub"
  printf 'hello, bag\n' >"$1/data/hello.txt"
  printf 'second file\nwith two lines\n' >"$1/data/sub/two.txt"
  : >"$1/data/empty"
}
# manifest DIR ALG [TOOL]: manifest-ALG.txt over every file under data/.
manifest() {
  (cd "$1" && find data -type f | sort | xargs -d '\n' "${2}sum" \
    >"manifest-$2.txt")
}
# tagmanifest DIR ALG: over the tag files at the top.
tagmanifest() {
  (cd "$1" && ls -1 | grep -v -e '^data$' -e '^tagmanifest-' |
    xargs -d '\n' "${2}sum" >"tagmanifest-$2.txt")
}
oxum() {
  local bytes files
  bytes=$(find "$1/data" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
  files=$(find "$1/data" -type f | wc -l)
  echo "$bytes.$files"
}
decl() { printf 'BagIt-Version: %s\nTag-File-Character-Encoding: UTF-8\n' "$2" >"$1/bagit.txt"; }
info() {
  printf 'Source-Organization: valise tests\nPayload-Oxum: %s\nBagging-Date: 2026-11-28\nExternal-Description: a small bag whose\n  description runs over\n\ttwo continuation lines\n' "$(oxum "$1")" >"$1/bag-info.txt"
}
# A complete valid 1.0 bag.
good() {
  rm -rf "$1"
  payload "$1"
  decl "$1" 1.0
  info "$1"
  manifest "$1" sha256
  manifest "$1" md5
  tagmanifest "$1" sha256
}

good valid-1.0

# 0.97: md5 only, no bag-info.txt.
rm -rf valid-0.97
payload valid-0.97
decl valid-0.97 0.97
manifest valid-0.97 md5

# Every tag file with CRLF line endings, bag-info.txt with CR alone.
good valid-crlf
for f in bagit.txt manifest-sha256.txt manifest-md5.txt; do
  sed -i 's/$/\r/' "valid-crlf/$f"
done
tr '\n' '\r' <valid-crlf/bag-info.txt >valid-crlf/bag-info.tmp
mv valid-crlf/bag-info.tmp valid-crlf/bag-info.txt
tagmanifest valid-crlf sha256

# Percent-encoded names: "100%.txt" is listed as "100%25.txt", and
# "a%41b" (a literal %41 in the name) as "a%2541b".
rm -rf valid-percent
mkdir -p valid-percent/data
printf 'per cent\n' >'valid-percent/data/100%.txt'
printf 'not an A\n' >'valid-percent/data/a%41b'
decl valid-percent 1.0
printf '%s  data/100%%25.txt\n' "$(sha256sum <'valid-percent/data/100%.txt' | cut -d' ' -f1)" \
  >valid-percent/manifest-sha256.txt
printf '%s\tdata/a%%2541b\n' "$(sha256sum <'valid-percent/data/a%41b' | cut -d' ' -f1)" \
  >>valid-percent/manifest-sha256.txt

# bagit.txt broken in several ways.
good bad-version
decl bad-version 2.0
good bad-version-line
printf 'BagIt-Version 1.0\nTag-File-Character-Encoding: UTF-8\n' >bad-version-line/bagit.txt
good bad-bom-1.0
printf '\xEF\xBB\xBFBagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n' \
  >bad-bom-1.0/bagit.txt
good bad-encoding
printf 'BagIt-Version: 1.0\nTag-File-Character-Encoding: X-NO-SUCH-CHARSET\n' >bad-encoding/bagit.txt
good no-bagit-txt
rm no-bagit-txt/bagit.txt

# Payload problems.
good no-payload-manifest
rm no-payload-manifest/manifest-*.txt
tagmanifest no-payload-manifest sha256
good missing-file
rm missing-file/data/sub/two.txt
sed -i 's/^Payload-Oxum: .*/Payload-Oxum: '"$(oxum missing-file)"'/' missing-file/bag-info.txt
tagmanifest missing-file sha256
good extra-file
printf 'not listed\n' >extra-file/data/stray.txt
sed -i 's/^Payload-Oxum: .*/Payload-Oxum: '"$(oxum extra-file)"'/' extra-file/bag-info.txt
tagmanifest extra-file sha256
good wrong-digest
printf 'hello, bat\n' >wrong-digest/data/hello.txt  # same size, one byte off
good not-in-every-manifest
grep -v 'sub/two.txt' not-in-every-manifest/manifest-md5.txt >x && mv x not-in-every-manifest/manifest-md5.txt
tagmanifest not-in-every-manifest sha256
good payload-manifest-lists-tag
sha256sum <payload-manifest-lists-tag/bag-info.txt | sed 's/ -$/ bag-info.txt/' \
  >>payload-manifest-lists-tag/manifest-sha256.txt
tagmanifest payload-manifest-lists-tag sha256

# Tag manifest mismatch: bag-info.txt changed after the tag manifest.
good tag-mismatch
sed -i 's/valise tests/valise testz/' tag-mismatch/bag-info.txt

# Payload-Oxum wrong; a digest is wrong too, so a validator that hashed
# would also report it: the Oxum must be reported alone, before hashing.
good oxum-wrong
sed -i 's/^Payload-Oxum: .*/Payload-Oxum: 999.3/' oxum-wrong/bag-info.txt
tagmanifest oxum-wrong sha256
printf 'hello, bat\n' >oxum-wrong/data/hello.txt

# fetch.txt lists a file that is not there (never fetched).
good fetch
printf 'remote payload\n' >fetch/data/remote.bin
manifest fetch sha256
manifest fetch md5
rm fetch/data/remote.bin
printf 'https://example.org/remote.bin 15 data/remote.bin\n' >fetch/fetch.txt
sed -i '/^Payload-Oxum/d' fetch/bag-info.txt
tagmanifest fetch sha256

# Paths that escape the bag.
good escape-dotdot
printf '%s  data/../../outside.txt\n' "$(printf x | sha256sum | cut -d' ' -f1)" \
  >>escape-dotdot/manifest-sha256.txt
good escape-absolute
printf '%s  /etc/hostname\n' "$(printf x | sha256sum | cut -d' ' -f1)" \
  >>escape-absolute/manifest-sha256.txt
tagmanifest escape-dotdot sha256
tagmanifest escape-absolute sha256

# ---------------------------------------------------------------------------
# Conformance: what bags made by other tools (BagIt 0.97 and 1.0) hold, one
# rule each. A "warn-" bag is valid with a warning; "bad-" is invalid.

# plain DIR VERSION ALG: a one-file payload, bagit.txt, manifest-ALG.txt.
plain() {
  rm -rf "$1"
  mkdir -p "$1/data"
  printf 'hello, bag\n' >"$1/data/hello.txt"
  decl "$1" "$2"
  manifest "$1" "$3"
}
# hex ALG FILE
hex() { "${1}sum" <"$2" | cut -d' ' -f1; }

# bagit.txt: a BOM is invalid in 0.97 too; whitespace before the colon, or
# no encoding line, is invalid.
plain bad-bom-0.97 0.97 sha256
printf '\xEF\xBB\xBFBagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\n' \
  >bad-bom-0.97/bagit.txt
plain bad-declaration-whitespace 1.0 sha256
printf 'BagIt-Version : 1.0\nTag-File-Character-Encoding : UTF-8\n' \
  >bad-declaration-whitespace/bagit.txt
plain bad-no-encoding-line 0.97 sha256
printf 'BagIt-Version: 0.97\n' >bad-no-encoding-line/bagit.txt

# Tag files in the encoding bagit.txt names. ISO-8859-1: bag-info.txt with
# "Jos\xe9", a manifest naming data/caf\xe9.txt (on disk in UTF-8, as
# every Linux tool names it).
rm -rf valid-iso-8859-1
mkdir -p valid-iso-8859-1/data
printf 'latin\n' >"valid-iso-8859-1/data/caf$(printf '\xc3\xa9').txt"
printf 'BagIt-Version: 0.97\nTag-File-Character-Encoding: ISO-8859-1\n' \
  >valid-iso-8859-1/bagit.txt
printf '%s  data/caf\xe9.txt\n' \
  "$(hex md5 "valid-iso-8859-1/data/caf$(printf '\xc3\xa9').txt")" \
  >valid-iso-8859-1/manifest-md5.txt
printf 'Contact-Name: Jos\xe9 N\xfa\xf1ez\nPayload-Oxum: 6.1\n' \
  >valid-iso-8859-1/bag-info.txt
tagmanifest valid-iso-8859-1 md5
# UTF-16 with its byte-order mark (glibc writes little-endian), and
# UTF-16LE named outright, with no byte-order mark.
for enc in UTF-16 UTF-16LE; do
  b=valid-$(echo "$enc" | tr 'A-Z' 'a-z')
  plain "$b" 0.97 md5
  printf 'BagIt-Version: 0.97\nTag-File-Character-Encoding: %s\n' "$enc" \
    >"$b/bagit.txt"
  iconv -f UTF-8 -t "$enc" <"$b/manifest-md5.txt" >"$b/m" && mv "$b/m" "$b/manifest-md5.txt"
  printf 'Contact-Name: Jos\xc3\xa9\nPayload-Oxum: 11.1\n' |
    iconv -f UTF-8 -t "$enc" >"$b/bag-info.txt"
  tagmanifest "$b" md5
  iconv -f UTF-8 -t "$enc" <"$b/tagmanifest-md5.txt" >"$b/m" && mv "$b/m" "$b/tagmanifest-md5.txt"
done
# A UTF-16 manifest cut in the middle of a character.
plain bad-utf-16-truncated 0.97 md5
printf 'BagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-16\n' \
  >bad-utf-16-truncated/bagit.txt
iconv -f UTF-8 -t UTF-16 <bad-utf-16-truncated/manifest-md5.txt | head -c -1 \
  >bad-utf-16-truncated/m && mv bad-utf-16-truncated/m bad-utf-16-truncated/manifest-md5.txt
# A UTF-8 bag whose manifest starts with a byte-order mark: a warning.
plain warn-bom-in-manifest 1.0 sha256
{ printf '\xEF\xBB\xBF'; cat warn-bom-in-manifest/manifest-sha256.txt; } \
  >warn-bom-in-manifest/m && mv warn-bom-in-manifest/m warn-bom-in-manifest/manifest-sha256.txt

# bag-info.txt separators (RFC 8493 2.2.2): before 1.0 whitespace around
# the colon; a tab as the one blank; folding with spaces and tabs.
plain valid-separators-0.97 0.97 sha256
printf 'Test-Tag: 1\nTest-Tag:   2\nTest-Tag : 3\nTest-Tag\t:\t4\nTest-Tag    :   5\nExternal-Description:\ta value\n  folded with spaces\n\tand a tab\nPayload-Oxum : 11.1\n' \
  >valid-separators-0.97/bag-info.txt
plain bad-separators-1.0 1.0 sha256
printf 'Test-Tag : 3\nPayload-Oxum: 11.1\n' >bad-separators-1.0/bag-info.txt

# Manifests from md5sum-style tools: the binary-mode marker, and md5sum's
# escaping of a name with a backslash; a leading "./".
plain warn-md5sum-markers 0.97 md5
sed -i 's/  data/ *data/' warn-md5sum-markers/manifest-md5.txt
rm -rf warn-md5sum-escaped
mkdir -p warn-md5sum-escaped/data
printf 'back\n' >'warn-md5sum-escaped/data/back\slash.txt'
decl warn-md5sum-escaped 0.97
printf '\\%s  data/back\\\\slash.txt\n' \
  "$(hex md5 'warn-md5sum-escaped/data/back\slash.txt')" \
  >warn-md5sum-escaped/manifest-md5.txt
plain warn-dot-slash 0.97 sha256
sed -i 's|  data/|  ./data/|' warn-dot-slash/manifest-sha256.txt

# A path listed twice: the same digest is a warning before 1.0 and an
# error in 1.0; another digest is an error.
# twice FILE: FILE's lines, then the same lines again.
twice() { cat "$1" "$1" >"$1.tmp" && mv "$1.tmp" "$1"; }
plain warn-listed-twice-0.97 0.97 sha256
twice warn-listed-twice-0.97/manifest-sha256.txt
plain bad-listed-twice-1.0 1.0 sha256
twice bad-listed-twice-1.0/manifest-sha256.txt
plain bad-listed-twice-other-digest 0.97 sha256
printf '%s  data/hello.txt\n' "$(printf x | sha256sum | cut -d' ' -f1)" \
  >>bad-listed-twice-other-digest/manifest-sha256.txt

# Names that differ only in case: listed twice with the same digest, one on
# disk (a bag made on a case-insensitive file system): a warning; both on
# disk with their own contents: a warning; the absent one with another
# digest: missing.
plain warn-case-one-on-disk 0.97 sha256
sed 's|data/hello.txt|data/HELLO.txt|' warn-case-one-on-disk/manifest-sha256.txt \
  >>warn-case-one-on-disk/manifest-sha256.txt
plain warn-case-both-on-disk 1.0 sha256
printf 'HELLO, BAG\n' >warn-case-both-on-disk/data/HELLO.txt
manifest warn-case-both-on-disk sha256
plain bad-case-other-digest 0.97 sha256
printf '%s  data/HELLO.txt\n' "$(printf x | sha256sum | cut -d' ' -f1)" \
  >>bad-case-other-digest/manifest-sha256.txt

# Unicode normalization: "N\u00fa\u00f1ez" (NFC) on disk. Listed in NFD
# only: checked as the file on disk; listed in both forms: a warning.
NFC=$(printf 'N\xc3\xba\xc3\xb1ez')
NFD=$(printf 'Nu\xcc\x81n\xcc\x83ez')
rm -rf warn-normalization-on-disk
mkdir -p warn-normalization-on-disk/data
printf 'nunez\n' >"warn-normalization-on-disk/data/$NFC"
decl warn-normalization-on-disk 1.0
printf '%s  data/%s\n' "$(hex sha256 "warn-normalization-on-disk/data/$NFC")" \
  "$NFD" >warn-normalization-on-disk/manifest-sha256.txt
rm -rf warn-normalization-twice
cp -a warn-normalization-on-disk warn-normalization-twice
decl warn-normalization-twice 0.97
printf '%s  data/%s\n' "$(hex sha256 "warn-normalization-twice/data/$NFC")" \
  "$NFC" >>warn-normalization-twice/manifest-sha256.txt

# OS metadata files: listed and present (a warning); present and in no
# manifest (ignored with a warning; Payload-Oxum counts without them).
plain warn-os-files-listed 0.97 sha512
: >warn-os-files-listed/data/.DS_Store
: >warn-os-files-listed/data/Thumbs.db
manifest warn-os-files-listed sha512
printf 'Payload-Oxum: 11.3\n' >warn-os-files-listed/bag-info.txt
plain warn-os-files-unlisted 1.0 sha256
printf 'Payload-Oxum: 11.1\n' >warn-os-files-unlisted/bag-info.txt
printf 'finder\n' >warn-os-files-unlisted/data/.DS_Store
mkdir -p warn-os-files-unlisted/data/sub
printf 'apple double\n' >warn-os-files-unlisted/data/sub/._hello.txt

# fetch.txt: an item in no manifest and not in the bag (incomplete: there
# is nothing to check it against); every item present (complete).
plain fetch-in-no-manifest 1.0 sha256
printf 'https://example.org/x.bin 5 data/x.bin\n' >fetch-in-no-manifest/fetch.txt
plain fetch-all-present 1.0 sha256
printf 'https://example.org/hello.txt 11 data/hello.txt\n' >fetch-all-present/fetch.txt

