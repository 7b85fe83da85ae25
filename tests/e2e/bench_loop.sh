#!/usr/bin/env bash
# Goal: `valise bench` on two real drives (ext4 on loop devices over
# /dev/shm images) with DEST on a third: --json exits 0 with schema
# valise-bench/1 and every rate > 0 (each drive alone and together, every
# digest on one core and on all, DEST's write, the whole pipeline), the
# bottleneck named; the table ends with the "bottleneck:" line; a loop
# device as SRC is read raw; -m predicts an ingest time; DEST holds
# nothing more afterwards and the sources are byte-identical with the same
# mtimes. Also: `valise verify --report FILE.html` writes the HTML report
# with its chart.
source "$(dirname "$0")/lib.sh"
need_root

MiB=1048576
make_drive A 64 ext4
make_drive B 64 ext4
make_drive D 64 ext4
A=${MNT[A]}
B=${MNT[B]}
DEST=${MNT[D]}/stage
mkdir -p "$DEST"
echo "kept" >"$DEST/already-here.txt"

gen_file "$A/big.bin" $((12 * MiB)) bench-a-big
gen_file "$A/sub/mid.bin" $((3 * MiB + 17)) bench-a-mid
gen_file "$A/small.txt" 3000 bench-a-small
gen_file "$B/big-b.bin" $((10 * MiB)) bench-b-big
gen_file "$B/deep/er/x.bin" $((2 * MiB)) bench-b-x
find "$A" "$B" -exec touch -h -d "@$E2E_MTIME" {} +

# What must not change: every file's bytes, mtime and mode, per drive;
# and the exact listing of DEST (names, sizes).
state_of() {
  (cd "$1" && find . -printf '%P %y %s %T@ %m\n' | LC_ALL=C sort &&
    find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
}
dest_state() { (cd "$DEST" && find . -printf '%P %y %s\n' | LC_ALL=C sort); }
before_a=$(state_of "$A")
before_b=$(state_of "$B")
before_dest=$(dest_state)
drop_caches

log "bench two drives with DEST, --json"
expect_exit 0 "$VALISE" bench "$A" "$B" -d "$DEST" --seconds 1 --json
R="$VALISE_WORK/bench.json"
cp "$LAST_OUT" "$R"
json "$R" check || fail "--json output is not JSON"
assert_eq "valise-bench/1" "$(json "$R" get schema)" "schema"
assert_eq 2 "$(json "$R" len drives)" "drives"

positive() {  # positive VALUE WHAT
  [[ "$1" =~ ^[0-9]+$ && "$1" -gt 0 ]] || fail "$2: expected a rate > 0, got '$1'"
}
while IFS=$'\t' read -r src kind alone together errors; do
  positive "$alone" "$src alone"
  positive "$together" "$src together"
  assert_eq directory "$kind" "kind of $src"
  assert_eq "[]" "$errors" "errors of $src"
done < <(json "$R" rows drives source kind alone.rate_bytes_per_s \
  together.rate_bytes_per_s errors)
positive "$(json "$R" get read_together.rate_bytes_per_s)" "all drives at once"
assert_eq 5 "$(json "$R" len hashes)" "digests measured"
while IFS=$'\t' read -r digest one all; do
  positive "$one" "$digest on one core"
  positive "$all" "$digest on all cores"
done < <(json "$R" rows hashes digest rate_one_core rate_all_cores)
positive "$(json "$R" get dest.rate_bytes_per_s)" "DEST write"
assert_eq "[]" "$(json "$R" get dest.errors)" "DEST errors"
positive "$(json "$R" get pipeline.rate_bytes_per_s)" "whole pipeline"
assert_eq "[]" "$(json "$R" get pipeline.errors)" "pipeline errors"
positive "$(json "$R" get limits.drives)" "drives limit"
positive "$(json "$R" get limits.hash)" "hash limit"
positive "$(json "$R" get limits.dest)" "dest limit"
positive "$(json "$R" get predicted_rate_bytes_per_s)" "predicted rate"
kind=$(json "$R" get bottleneck.kind)
[[ "$kind" =~ ^(drive|drives|hash|dest|pipeline)$ ]] ||
  fail "bottleneck kind '$kind'"
json "$R" get bottleneck.text >"$VALISE_WORK/bottleneck.txt"
assert_matches "$VALISE_WORK/bottleneck.txt" \
  '^bottleneck: .*(limits the ingest to|the whole pipeline measured) [0-9]+\.[0-9] MB/s'
json "$R" get bottleneck.remedy >"$VALISE_WORK/remedy.txt"
assert_matches "$VALISE_WORK/remedy.txt" '^next: '
assert_eq "$before_dest" "$(dest_state)" "DEST after bench --json"

log "the table ends with the bottleneck line and the step against it; a loop device is read raw"
expect_exit 0 "$VALISE" bench "${DEV[A]}" "$B" -d "$DEST" --seconds 1
assert_matches "$LAST_OUT" "^  ${DEV[A]} +block device "
tail -n2 "$LAST_OUT" | head -n1 >"$VALISE_WORK/last-line.txt"
assert_matches "$VALISE_WORK/last-line.txt" \
  '^bottleneck: .*(limits the ingest to|the whole pipeline measured) [0-9]+\.[0-9] MB/s'
tail -n1 "$LAST_OUT" >"$VALISE_WORK/last-line.txt"
assert_matches "$VALISE_WORK/last-line.txt" '^next: '
assert_eq "$before_dest" "$(dest_state)" "DEST after bench"

log "-m predicts the time to ingest the manifest's bytes"
M="$VALISE_WORK/set.valise"
expect_exit 0 "$VALISE" manifest "$A" "$B" -o "$M"
expect_exit 0 "$VALISE" bench "$A" "$B" -m "$M" --seconds 0.5 --json
bytes=$(json "$LAST_OUT" get manifest.bytes)
assert_eq $((12 * MiB + 3 * MiB + 17 + 3000 + 10 * MiB + 2 * MiB)) "$bytes" \
  "manifest bytes"
secs=$(json "$LAST_OUT" get manifest.predicted_seconds)
[[ "$secs" =~ ^[0-9.e+-]+$ ]] && awk -v s="$secs" 'BEGIN{exit !(s > 0)}' ||
  fail "predicted_seconds '$secs'"
assert_eq null "$(json "$LAST_OUT" get dest)" "dest without -d"

log "a missing DEST is trouble, and is not created"
expect_exit 2 "$VALISE" bench "$A" -d "$VALISE_WORK/no/such/dest" --seconds 0.5
assert_contains "$LAST_ERR" "no/such/dest"
[[ ! -e "$VALISE_WORK/no" ]] || fail "bench created the missing DEST"

log "sources untouched"
assert_eq "$before_a" "$(state_of "$A")" "drive A after bench"
assert_eq "$before_b" "$(state_of "$B")" "drive B after bench"

log "verify --report FILE.html writes the HTML report"
H="$VALISE_WORK/report.html"
expect_exit 0 "$VALISE" verify -m "$M" --no-progress --report "$H" "$A" "$B"
assert_contains "$H" "<!DOCTYPE html>"
assert_eq 1 "$(grep -o '<svg' "$H" | wc -l)" "<svg> elements"
assert_eq 3 "$(grep -o '<polyline' "$H" | wc -l)" "lines: 2 drives + total"
assert_contains "$H" "$A"
assert_contains "$H" "$B"
assert_not_contains "$H" "http"
assert_not_contains "$H" "src="
if command -v xmllint >/dev/null; then
  xmllint --noout "$H" || fail "the HTML report is not well-formed"
fi

log "PASS"
