#!/usr/bin/env bash
# Rebuilds the hand-made test bags of this directory (each breaks one rule
# of RFC 8493, or keeps them all). The bags are committed; this script only
# documents how they were made and regenerates them after a change:
#   bash tests/bags/make_bags.sh
# Tests that use them: tests/format/bagit_test.cc, tests/pipeline/bag_test.cc,
# tests/e2e/bagit_verify.sh (the table of expected outcomes is in README).
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

# 0.97: md5 only, no bag-info.txt, a BOM in bagit.txt (not forbidden then).
rm -rf valid-0.97
payload valid-0.97
printf '\xEF\xBB\xBFBagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\n' \
  >valid-0.97/bagit.txt
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
printf 'BagIt-Version: 1.0\nTag-File-Character-Encoding: ISO-8859-1\n' >bad-encoding/bagit.txt
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
