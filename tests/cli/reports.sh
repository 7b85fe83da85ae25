#!/usr/bin/env bash
# Goal: the reports an operator files (issue 14, "Reports an operator can
# file"), from the built binary on plain directories:
#  - the JSON report says where the run was and what was checked: the
#    host, the manifest, DEST and each drive as absolute paths, each
#    drive's label (M.drives), whether the signature was checked and the
#    key's fingerprint, the one `openssl pkey -pubin -outform DER |
#    sha256sum` gives; verify and ingest alike;
#  - --html FILE writes the page whatever FILE's name; --report FILE
#    writes the page when FILE ends in .html or .htm in any case
#    (R.HTML), else the JSON; both at once; one path for both is refused
#    (exit 2) before anything is read;
#  - the summary fits 80 columns, names drives by their labels, and says
#    how the run read and wrote (io_uring, durability, dedup) only with
#    --verbose.
# A few seconds. Plain directories in a temp dir.
source "$(dirname "$0")/../e2e/lib.sh"

E2E_CMD_TIMEOUT=${E2E_CMD_TIMEOUT:-60}
W=$VALISE_WORK
cd "$W"

mkdir -p d1 d2 keys
gen_file d1/a.bin 300000 a
gen_file d1/shared.bin 200000 s
gen_file d2/b.bin 100000 b
cp d1/shared.bin d2/shared.bin
expect_exit 0 "$VALISE" keygen -o keys/site.key
expect_exit 0 "$VALISE" manifest d1 d2 --label ship-01,ship-02 -o ship.vm
expect_exit 0 "$VALISE" sign -k keys/site.key ship.vm

# The key's fingerprint, as openssl computes it.
want_fp="sha256:$(openssl pkey -pubin -in keys/site.key.pub -outform DER |
  sha256sum | cut -d' ' -f1)"

expect_exit 0 "$VALISE" verify --json -m ship.vm --pubkey keys/site.key.pub \
  d1 d2
cp "$LAST_OUT" verify.json
assert_eq "true" "$(json verify.json get signature.checked)" "verify signature"
assert_eq "$want_fp" "$(json verify.json get signature.key_fingerprint)" \
  "verify key fingerprint"
assert_eq "$(hostname)" "$(json verify.json get host)" "verify host"
assert_eq "$W/ship.vm" "$(json verify.json get manifest_absolute)" "manifest"
assert_eq "ship.vm" "$(json verify.json get manifest)" "manifest as given"
assert_eq "$W/d1" "$(json verify.json get drives.0.absolute)" "drive path"
assert_eq "d1" "$(json verify.json get drives.0.source)" "drive as given"
assert_eq "ship-01" "$(json verify.json get drives.0.label)" "verify label"
assert_eq "ship-02" "$(json verify.json get drives.1.label)" "verify label 2"

# Without --pubkey: not checked, no fingerprint.
expect_exit 0 "$VALISE" verify --json -m ship.vm d1 d2
assert_eq "false" "$(json "$LAST_OUT" get signature.checked)" "unchecked"
assert_eq "null" "$(json "$LAST_OUT" get signature.key_fingerprint)" "no key"

# The summary: labels, 80 columns, notes on how the run went only with -v.
expect_exit 0 "$VALISE" verify --no-progress -m ship.vm d1 d2
assert_contains "$LAST_OUT" "  ship-01: d1"
assert_not_contains "$LAST_OUT" "io_uring"
assert_contains "$LAST_OUT" "binary units"
expect_exit 0 "$VALISE" verify --no-progress --verbose -m ship.vm d1 d2
assert_matches "$LAST_OUT" '^note: (io_uring|sync)'
awk 'length($0) > 80 { print "line " NR " is " length($0) " columns: " $0;
  bad = 1 } END { exit bad }' "$LAST_OUT" || fail "summary wider than 80"

# A corrupt copy: ingest, with every report file at once.
printf 'X' | dd of=d1/a.bin bs=1 seek=150000 conv=notrunc status=none
expect_exit 1 "$VALISE" ingest --no-progress -m ship.vm \
  --pubkey keys/site.key.pub -d dest --report r.json --html page.out d1 d2
assert_contains "$LAST_OUT" "a.bin (on ship-01): corrupt at offset"
assert_contains "$LAST_OUT" "  next: "
assert_not_contains "$LAST_OUT" "durability"
json r.json check || fail "r.json is no JSON"
assert_eq "$want_fp" "$(json r.json get signature.key_fingerprint)" \
  "ingest key fingerprint"
assert_eq "$W/dest" "$(json r.json get dest_absolute)" "dest"
assert_eq "$(hostname)" "$(json r.json get host)" "ingest host"
assert_eq "ship-01" "$(json r.json get drives.0.label)" "ingest label"
assert_matches r.json '"durability: '  # the JSON keeps every note
head -c 15 page.out | grep -q '<!DOCTYPE html>' || fail "--html: no page"
assert_contains page.out "$want_fp"
assert_contains page.out "<td>ship-01</td>"
# --report R.HTML (any case) is the page too; R.htm as well.
for name in R.HTML r.Htm; do
  expect_exit 1 "$VALISE" ingest --no-progress -m ship.vm -d dest \
    --report "$name" d1 d2
  head -c 15 "$name" | grep -q '<!DOCTYPE html>' ||
    fail "--report $name is not the page"
done
# One path for both: refused before anything is read.
expect_exit 2 "$VALISE" verify -m ship.vm --report same.html --html same.html \
  d1 d2
assert_contains "$LAST_ERR" "--html"
[[ ! -e same.html ]] || fail "same.html written"
log "PASS"
