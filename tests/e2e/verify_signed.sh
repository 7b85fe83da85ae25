#!/usr/bin/env bash
# Goal: signed manifests. keygen writes a 0600 private key and a public
# key; sign writes M.sig, a raw Ed25519 signature that OpenSSL accepts;
# verify --pubkey passes on the signed manifest. A manifest edited after
# signing, a signature by another key, or no signature at all exit 2 with
# an error about the signature, and the check comes before any drive is
# read (the loop device's read counter does not move).
source "$(dirname "$0")/lib.sh"
need_root

make_drive D 64 ext4
D=${MNT[D]}
fill_dataset "$D"
W=$VALISE_WORK
M="$W/signed.valise"
expect_exit 0 "$VALISE" manifest "$D" -o "$M"

expect_exit 0 "$VALISE" keygen -o "$W/key"
[[ -s "$W/key" && -s "$W/key.pub" ]] || fail "keygen wrote no key pair"
assert_eq 600 "$(stat -c '%a' "$W/key")" "mode of the private key"
assert_contains "$W/key.pub" "BEGIN PUBLIC KEY"
expect_exit 0 "$VALISE" sign -k "$W/key" "$M"
assert_eq 64 "$(stat -c '%s' "$M.sig")" "size of an Ed25519 signature"
# Interop: OpenSSL checks the same signature over the manifest's bytes.
expect_exit 0 openssl pkeyutl -verify -pubin -inkey "$W/key.pub" -rawin \
  -in "$M" -sigfile "$M.sig"

drop_caches
before=$(sectors_read "${DEV[D]}")
expect_exit 0 "$VALISE" verify -m "$M" --pubkey "$W/key.pub" --no-progress "$D"
# The read counter does see valise's reads (so "unchanged" below means it).
after=$(sectors_read "${DEV[D]}")
data_sectors=$(($(du -s --block-size=512 --apparent-size "$D" | cut -f1) / 2))
((after - before >= data_sectors)) ||
  fail "verify read $((after - before)) sectors, the data is over $data_sectors"

# verify_refused NAME MANIFEST: exit 2, a message about the signature, and
# not one sector read from the drive.
verify_refused() {
  local what=$1 manifest=$2 before after
  drop_caches
  before=$(sectors_read "${DEV[D]}")
  expect_exit 2 "$VALISE" verify -m "$manifest" --pubkey "$W/key.pub" \
    --no-progress "$D"
  after=$(sectors_read "${DEV[D]}")
  assert_matches "$LAST_ERR" 'signature|\.sig'
  assert_eq "$before" "$after" "sectors read from the drive ($what)"
}

log "a manifest edited after signing"
T="$W/tampered.valise"
cp "$M" "$T"
cp "$M.sig" "$T.sig"
# Change the first hex digit of big1.bin's sha256 (0 <-> 1 ... f <-> e).
old=$(manifest_field "$M" big1.bin sha256)
first=${old:0:1}
new_first=$(printf '%x' $((0x$first ^ 1)))
sed -i "s/$old/$new_first${old:1}/" "$T"
cmp -s "$M" "$T" && fail "the manifest was not altered"
verify_refused tampered "$T"
assert_matches "$LAST_ERR" 'signature'
# Without --pubkey the edited digest is a corrupt file: the edit matters.
drop_caches
expect_exit 1 "$VALISE" verify -m "$T" --no-progress "$D"

log "a signature by another key"
O="$W/other.valise"
cp "$M" "$O"
expect_exit 0 "$VALISE" keygen -o "$W/other-key"
expect_exit 0 "$VALISE" sign -k "$W/other-key" "$O"
verify_refused "another key" "$O"
assert_matches "$LAST_ERR" 'signature'

log "no signature"
U="$W/unsigned.valise"
cp "$M" "$U"
verify_refused unsigned "$U"

log "PASS"
