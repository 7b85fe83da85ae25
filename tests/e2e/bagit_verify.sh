#!/usr/bin/env bash
# Goal: `valise verify` validates BagIt bags: every hand-made bag of
# tests/bags/ gives the exit status verdicts.txt there says (0 valid, with
# or without warnings, 1 invalid or incomplete, 2 not a bag) and names the
# broken rule or the warning; several bags in one run are
# judged each on its own; -m BAG takes the payload from other drives;
# verify never writes into a bag. Plain directories: no root needed.
source "$(dirname "$0")/lib.sh"

BAGS="$E2E_REPO/tests/bags"
W=$VALISE_WORK
cp -a "$BAGS" "$W/bags"
B=$W/bags
before=$(cd "$B" && find . -type f -print0 | sort -z | xargs -0 sha256sum)

# Every bag against its verdict (tests/bags/verdicts.txt): exit status,
# the text, "valid bag" for exit 0, a warning for a "warn-" bag.
n_cases=0
while IFS='|' read -r bag code text; do
  [[ -z "$bag" || "$bag" == \#* ]] && continue
  [[ -d "$B/$bag" ]] || fail "verdicts.txt names $bag, which is not a bag here"
  expect_exit "$code" "$VALISE" verify --no-progress "$B/$bag"
  assert_contains "$LAST_ALL" "$text"
  if [[ "$code" == 0 ]]; then assert_contains "$LAST_OUT" "valid bag"; fi
  if [[ "$bag" == warn-* ]]; then assert_contains "$LAST_OUT" ": warning: "; fi
  if [[ "$bag" != warn-* && "$code" == 0 ]]; then
    assert_not_contains "$LAST_OUT" ": warning: "
  fi
  n_cases=$((n_cases + 1))
done <"$BAGS/verdicts.txt"
n_dirs=$(find "$B" -mindepth 1 -maxdepth 1 -type d | wc -l)
assert_eq "$n_dirs" "$n_cases" "every bag of tests/bags has a verdict"

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
