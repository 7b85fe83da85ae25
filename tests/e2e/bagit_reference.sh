#!/usr/bin/env bash
# Goal: bags valise writes (ingest --bag) pass a reference BagIt validator,
# and the reference agrees with valise on the hand-made bags of
# tests/bags/ (valid ones valid, broken ones invalid). The reference is
# the Library of Congress's bagit-python (bagit.py, or `python3 -m bagit`)
# when installed. Debian 12 does not package it: this check is run by
# hand, not by scripts/test (exit 77 without it).
source "$(dirname "$0")/lib.sh"

ref=()
if command -v bagit.py >/dev/null 2>&1; then
  ref=(bagit.py)
elif python3 -c 'import bagit' >/dev/null 2>&1; then
  ref=(python3 -m bagit)
else
  echo "[$TEST_NAME] SKIP: no reference BagIt validator (bagit-python:" \
    "bagit.py or the python3 module 'bagit'; Debian 12 has no package)"
  exit 77
fi
log "reference validator: ${ref[*]}"

W=$VALISE_WORK
mkdir -p "$W/src"
fill_dataset "$W/src" ref
expect_exit 0 "$VALISE" manifest "$W/src" -o "$W/m.vm"
expect_exit 0 "$VALISE" ingest -m "$W/m.vm" -d "$W/bag" --bag --no-progress \
  --no-direct "$W/src"
# DEST/.valise (the resume state) stays: an unlisted tag directory,
# which RFC 8493 allows.
expect_exit 0 "${ref[@]}" --validate "$W/bag"

cp -a "$E2E_REPO/tests/bags" "$W/bags"
for bag in valid-1.0 valid-0.97 valid-crlf valid-percent; do
  expect_exit 0 "${ref[@]}" --validate "$W/bags/$bag"
done
for bag in missing-file extra-file wrong-digest tag-mismatch oxum-wrong \
  not-in-every-manifest; do
  expect_exit 1 "${ref[@]}" --validate "$W/bags/$bag"
done
log "PASS"
