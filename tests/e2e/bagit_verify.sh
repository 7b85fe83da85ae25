#!/usr/bin/env bash
# Goal: `valise verify` validates BagIt bags: every hand-made bag of
# tests/bags/ gives its exit status (0 valid, 1 invalid or incomplete,
# 2 not a bag) and names the broken rule; several bags in one run are
# judged each on its own; -m BAG takes the payload from other drives;
# verify never writes into a bag. Plain directories: no root needed.
source "$(dirname "$0")/lib.sh"

BAGS="$E2E_REPO/tests/bags"
W=$VALISE_WORK
cp -a "$BAGS" "$W/bags"
B=$W/bags
before=$(cd "$B" && find . -type f -print0 | sort -z | xargs -0 sha256sum)

# bag  exit  text expected in the output
cases=(
  "valid-1.0|0|valid bag (BagIt 1.0, 3 payload files, md5,sha256)"
  "valid-0.97|0|byte-order mark (tolerated before 1.0)"
  "valid-crlf|0|valid bag"
  "valid-percent|0|valid bag (BagIt 1.0, 2 payload files"
  "bad-version|1|BagIt-Version '2.0' not supported"
  "bad-version-line|1|expected 'BagIt-Version: ...'"
  "bad-bom-1.0|1|byte-order mark: BagIt 1.0 forbids one"
  "bad-encoding|1|ISO-8859-1"
  "no-bagit-txt|2|not a bag (no bagit.txt)"
  "no-payload-manifest|1|no payload manifest"
  "missing-file|1|data/sub/two.txt"
  "extra-file|1|payload file(s) in no payload manifest: data/stray.txt"
  "wrong-digest|1|data/hello.txt"
  "not-in-every-manifest|1|not listed in every payload manifest"
  "payload-manifest-lists-tag|1|outside the payload directory data/"
  "tag-mismatch|1|bag-info.txt"
  "oxum-wrong|1|Payload-Oxum 999.3 but data/ holds 38 bytes in 3 files"
  "fetch|1|incomplete: 1 file(s) listed in fetch.txt"
  "escape-dotdot|1|path escapes the bag"
  "escape-absolute|1|path escapes the bag"
)
for c in "${cases[@]}"; do
  IFS='|' read -r bag code text <<<"$c"
  expect_exit "$code" "$VALISE" verify --no-progress "$B/$bag"
  assert_contains "$LAST_ALL" "$text"
done
n_dirs=$(find "$B" -mindepth 1 -maxdepth 1 -type d | wc -l)
assert_eq "$n_dirs" "${#cases[@]}" "every bag of tests/bags has a case"

log "the JSON report of an invalid bag"
expect_exit 1 "$VALISE" verify --json "$B/wrong-digest"
assert_eq "corrupt"$'\t'"data/hello.txt" \
  "$(json "$LAST_OUT" rows files status path)" "wrong-digest findings"
expect_exit 1 "$VALISE" verify --json "$B/oxum-wrong"
assert_eq "0" "$(json "$LAST_OUT" len files)" "oxum-wrong: nothing hashed"

log "several bags in one run"
expect_exit 1 "$VALISE" verify --json "$B/valid-1.0" "$B/wrong-digest" \
  "$B/valid-crlf"
assert_eq 3 "$(json "$LAST_OUT" len drives)" "one row per bag"
expect_exit 0 "$VALISE" verify --no-progress "$B/valid-1.0" "$B/valid-crlf" \
  "$B/valid-0.97"
expect_exit 2 "$VALISE" verify --no-progress "$B/valid-1.0" "$W"
assert_contains "$LAST_ERR" "not a bag (no bagit.txt), and no -m given"

log "-m BAG: payload on another drive laid out like the bag"
mkdir -p "$W/payload"
cp -a "$B/valid-1.0/data" "$W/payload/"
expect_exit 0 "$VALISE" verify --no-progress -m "$B/valid-1.0" "$W/payload"
printf 'x' >>"$W/payload/data/hello.txt"
expect_exit 1 "$VALISE" verify --no-progress -m "$B/valid-1.0" "$W/payload"
assert_contains "$LAST_ALL" "Payload-Oxum 38.3 but data/ holds 39 bytes"
expect_exit 2 "$VALISE" verify --no-progress -m "$W/payload" "$W/payload"
assert_contains "$LAST_ERR" "not a bag"

after=$(cd "$B" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
assert_eq "$before" "$after" "verify wrote nothing into the bags"
log "PASS"
