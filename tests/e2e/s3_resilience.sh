#!/usr/bin/env bash
# Goal: `valise ingest -d s3://BUCKET/PREFIX` keeps its promises against
# the test cluster's RGW when things go wrong (issue 13, "How it is
# checked"; s3_ingest.sh has the plain cases):
#  1. duplicates are server-side copies: the report counts them
#     (dedup_bytes_saved, "... of PATH") and the bytes uploaded are those
#     of the distinct contents only, not one byte of a duplicate again;
#  2. a corrupt copy repaired from another drive: two files (one by
#     multipart, one by PUT) on two SRCs, corrupt on the SRC read first;
#     the report lists each corrupt copy with repaired_from the other
#     SRC, the objects hold the good bytes, verify from S3 passes;
#  3. the RGW daemon killed (as in a crash) and started again mid-ingest:
#     the ingest rides it out with its retries (exit 0), or stops with an
#     error naming the store (exit 2); a rerun completes; verify from S3
#     passes and no multipart upload is left. Then once more with
#     AWS_MAX_ATTEMPTS=1, where it must stop (exit 2) naming the store.
#     RGW killed during a CompleteMultipartUpload keeps that upload's
#     completion locked after its restart (500 "This multipart completion
#     is already in progress", for rgw_mp_lock_max_time, 600 s): the
#     retries cannot get through, the run stops naming the object, and
#     the rerun aborts the upload and sends the file again;
#  4. kill -9 at random moments (from 50 ms to the time a whole run of
#     the dataset takes) until S3_KILLS runs (20 unless set) were killed
#     mid-run, each followed by verify from S3
#     finding no object that is not whole and right (only ok or missing);
#     a run that finished before its kill starts a fresh prefix. Then a
#     rerun completes, verify passes, no multipart upload is left;
#  5. `valise status` of an s3:// DEST (its journal and run record
#     objects): nothing arrived before a run, complete after with the
#     run named; a missing bucket, exit 2.
# S3_KILL_SEED replays the sleeps (the seed is printed).
# Time: 87-135 s on the fixture's cluster at load 10-13 (2 cores, beside a
# build); S3_KILLS=5 saves about half of the kill loop.
source "$(dirname "$0")/ingest_lib.sh"
source "$(dirname "$0")/s3_lib.sh"
need_ceph

MiB=1048576
KILLS_WANTED=${S3_KILLS:-20}
SEED=${S3_KILL_SEED:-$((($$ + $(date +%s)) % 32768))}
RANDOM=$SEED
log "seed $SEED (S3_KILL_SEED=$SEED replays the sleeps)"

new_bucket res
B=${BUCKET[res]}
log "bucket $B at $AWS_ENDPOINT_URL"

# The multipart uploads in progress in $B: none may be left.
no_upload_left() {
  expect_s3 0 s3_curl GET "$B?uploads="
  assert_contains "$LAST_OUT" "HTTP 200"
  assert_not_contains "$LAST_OUT" "<UploadId>"
}

# verify_partial M PREFIX WHAT: verify from S3 finds every object under
# PREFIX whole and right: each file is ok or missing, none corrupt, of a
# wrong size or unreadable (PREFIX/.valise, the journal, is skipped).
verify_partial() {
  local m=$1 prefix=$2 what=$3 bad
  run_rc "$VALISE" verify -m "$m" --json --no-progress "s3://$B/$prefix"
  [[ "$RC" == 0 || "$RC" == 1 ]] ||
    fail "$what: verify from s3://$B/$prefix exited $RC: $(cat "$LAST_ALL")"
  json "$LAST_OUT" check || fail "$what: verify --json is not JSON"
  bad=$(json "$LAST_OUT" rows files status path |
    awk -F'\t' '$1 != "ok" && $1 != "missing" &&
      !($1 == "skipped" && $2 == ".valise")')
  [[ -z "$bad" ]] || fail "$what: not whole under its final key:"$'\n'"$bad"
  VERIFIED_OK=$(json "$LAST_OUT" get totals.files_ok)
}

# The "s3: N requests, N retries (N throttled), N bytes uploaded" note of a
# report: its field NAME ("retries", "bytes uploaded").
s3_note() {
  LC_ALL=C grep -ao "[0-9]* $2" "$1" | head -n1 | cut -d' ' -f1
}

# ---- 1. duplicates as server-side copies -------------------------------------
D="$VALISE_WORK/dup"
gen_file "$D/x.bin" $((10 * MiB + 5)) dup-x
gen_file "$D/y.dat" 70000 dup-y
gen_file "$D/z.dat" 1234 dup-z
cp "$D/x.bin" "$D/x-again.bin"
cp "$D/y.dat" "$D/y-again.dat"
mkdir -p "$D/sub"
cp "$D/x.bin" "$D/sub/x-third.bin"
find "$D" -exec touch -h -d "@$E2E_MTIME" {} +
MD="$VALISE_WORK/dup.valise"
expect_exit 0 "$VALISE" manifest "$D" -o "$MD"
J="$VALISE_WORK/dup.json"
expect_exit 0 "$VALISE" ingest -m "$MD" -d "s3://$B/dup" "$D" --no-progress \
  --json
cp "$LAST_OUT" "$J"
unique=$((10 * MiB + 5 + 70000 + 1234))
dups=$((2 * (10 * MiB + 5) + 70000))
assert_eq "$dups" "$(json "$J" get totals.dedup_bytes_saved)" \
  "dedup_bytes_saved"
rows=$(json "$J" rows files status path detail)
# dup_group PATH...: one of them uploaded, every other ok "... of" one of
# them (the report's detail of a placed duplicate).
dup_group() {
  local p row copies=0
  for p in "$@"; do
    row=$(awk -F'\t' -v p="$p" '$2 == p' <<<"$rows")
    [[ "$row" == ok$'\t'* ]] || fail "duplicate $p: '$row'"
    [[ "$row" == *" of "* ]] || continue
    printf '%s\n' "$@" | grep -qxF -- "${row##* of }" ||
      fail "duplicate $p placed from outside its group: '$row'"
    copies=$((copies + 1))
  done
  assert_eq $(($# - 1)) "$copies" "duplicates placed of $*"
}
dup_group x.bin x-again.bin sub/x-third.bin
dup_group y.dat y-again.dat
uploaded=$(s3_note "$J" "bytes uploaded")
retries=$(s3_note "$J" "retries")
[[ -n "$uploaded" && -n "$retries" ]] || fail "no s3 note in the report"
# The journal objects are a few KiB; a retried part or PUT sends its
# bytes again (8 MiB parts). One byte of a duplicate's content uploaded
# would be at least 70000 more.
limit=$((unique + 64 * 1024 + retries * 8 * MiB))
((uploaded >= unique && uploaded < limit)) ||
  fail "bytes uploaded: $uploaded, expected the distinct contents' $unique" \
    "(+ journal, $retries retries; under $limit): a duplicate was uploaded"
expect_exit 0 "$VALISE" verify -m "$MD" --no-progress "s3://$B/dup"
log "duplicates: $dups bytes as server-side copies, $uploaded bytes uploaded"

# ---- 2. a corrupt copy repaired from another drive ---------------------------
# SRC A holds only the two shared files; B holds them and a larger file of
# its own, which sorts first and goes to B: the plan then reads the shared
# files from A, the drive with fewer bytes, where they are corrupt.
A="$VALISE_WORK/srcA"
S="$VALISE_WORK/srcB"
gen_file "$S/b-own/big.bin" $((20 * MiB + 11)) rep-own
gen_file "$A/shared/large.bin" $((12 * MiB + 3)) rep-large
gen_file "$A/shared/small.dat" 300000 rep-small
find "$A" "$S" -exec touch -h -d "@$E2E_MTIME" {} +
cp -a "$A/shared" "$S/"
MR="$VALISE_WORK/rep.valise"
expect_exit 0 "$VALISE" manifest "$A" "$S" -o "$MR"
flip_byte "$A/shared/large.bin" $((9 * MiB + 100))
flip_byte "$A/shared/small.dat" 1000
J="$VALISE_WORK/rep.json"
expect_exit 1 "$VALISE" ingest -m "$MR" -d "s3://$B/rep" "$A" "$S" \
  --no-progress --json
cp "$LAST_OUT" "$J"
for p in shared/large.bin shared/small.dat; do
  IFS=$'\t' read -r status drive from < <(json "$J" rows files status path \
    drive repaired_from | awk -F'\t' -v p="$p" -v OFS='\t' \
    '$2 == p && $1 != "ok" {print $1, $3, $4}')
  assert_eq corrupt "$status" "status of the copy of $p on $A"
  assert_eq "$A" "$(drive_of_row "$drive" "$J")" "drive of corrupt $p"
  assert_eq "$S" "$(drive_of_row "$from" "$J")" "repaired_from of $p"
  s3_get "$B/rep/$p" "$VALISE_WORK/got"
  cmp -s "$VALISE_WORK/got" "$S/$p" || fail "s3://$B/rep/$p is not the good copy"
done
assert_eq 2 "$(json "$J" get totals.by_status.corrupt)" "corrupt copies"
assert_eq 3 "$(json "$J" get totals.files_ok)" "files staged"
expect_exit 0 "$VALISE" verify -m "$MR" --no-progress "s3://$B/rep"
no_upload_left
log "repair: both corrupt copies on $A reported, staged from $S"

# ---- the dataset of the runs that are interrupted ----------------------------
R="$VALISE_WORK/src"
fill_dataset "$R"
rm "$R"/latin1-caf*  # not a valid key (s3_ingest.sh)
for i in 1 2; do
  gen_file "$R/large/l$i.bin" $((9 * MiB + i * 4099)) "res-l$i"
done
cp "$R/large/l1.bin" "$R/large/l1-again.bin"
find "$R" -exec touch -h -d "@$E2E_MTIME" {} +
M="$VALISE_WORK/m.valise"
expect_exit 0 "$VALISE" manifest "$R" -o "$M"

# ---- 3. RGW killed and started again mid-ingest ------------------------------
# rgw_outage PREFIX WANT [ENV...]: an ingest into PREFIX (with ENV),
# RGW killed once an upload is in flight and started again a second later.
# WANT "0or2": it rides the outage out (0) or stops naming the store (2);
# "2": it must stop, naming the store. Then a rerun completes, verify
# from S3 passes, no multipart upload is left.
rgw_outage() {
  local prefix=$1 want=$2 pid i
  shift 2
  start_bg pid env "$@" "$VALISE" ingest -m "$M" -d "s3://$B/$prefix" "$R" \
    --no-progress
  for ((i = 0; i < 400; i++)); do
    s3_curl GET "$B?uploads=" 2>/dev/null |
      grep -q '<UploadId>' && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -0 "$pid" 2>/dev/null ||
    { ingest_dump "$pid"; fail "the ingest ended before RGW was killed"; }
  ceph_cluster_rgw_kill "$VALISE_CEPH_DIR"
  log "RGW killed mid-ingest into $prefix"
  sleep 1
  ceph_cluster_rgw_start "$VALISE_CEPH_DIR" || fail "RGW did not start again"
  log "RGW started again"
  wait_bg "$pid"
  if [[ "$BG_RC" == 0 && "$want" == 0or2 ]]; then
    # It met the outage: some request failed and was sent again.
    retries=$(s3_note "$(bg_out "$pid")" retries)
    ((retries > 0)) || { ingest_dump "$pid"; fail "no retry across the outage"; }
    log "the ingest rode out the outage ($retries retries)"
  elif [[ "$BG_RC" == 2 ]]; then
    # The error names the object (s3://BUCKET/KEY) or the bucket, and
    # what failed; the report before it says what was committed.
    assert_contains "$(bg_err "$pid")" "s3://$B/$prefix"
    log "the ingest stopped: $(tail -n1 "$(bg_err "$pid")")"
  else
    ingest_dump "$pid"
    fail "ingest across the outage exited $BG_RC (expected $want)"
  fi
  verify_partial "$M" "$prefix" "after the outage"
  expect_exit 0 "$VALISE" ingest -m "$M" -d "s3://$B/$prefix" "$R" \
    --no-progress
  expect_exit 0 "$VALISE" verify -m "$M" --no-progress "s3://$B/$prefix"
  no_upload_left
}

# With the client's retries (10 attempts over ~11 s): RGW is back in time.
rgw_outage rgw 0or2
# With none: the run must stop, say where, and leave a rerun its work.
rgw_outage rgw-once 2 AWS_MAX_ATTEMPTS=1

# ---- 4. kill -9, again and again ---------------------------------------------
# A smaller dataset, whole in about a second here: the kills land in every
# phase (listing, PUTs, parts, completions, journal objects), and some
# runs finish first. A file just over the 8 MiB PUT limit goes by
# multipart (a part of 8 MiB and one of a few KiB), its duplicate by a
# server-side copy.
K="$VALISE_WORK/kill"
mkdir -p "$K"
cp -a "$R/small" "$R/empty.txt" "$R/back\\slash.txt" "$K/"
gen_file "$K/mp/one.bin" $((8 * MiB + 77777)) kill-one
cp "$K/mp/one.bin" "$K/one-again.bin"
find "$K" -exec touch -h -d "@$E2E_MTIME" {} +
MK="$VALISE_WORK/kill.valise"
expect_exit 0 "$VALISE" manifest "$K" -o "$MK"
# Kills land from 50 ms to as long as a whole run of this dataset takes
# here (measured now, into a prefix of its own; S3_KILL_MAX_MS sets it):
# a resumed run sends its first multipart completion only near its end
# (process start, the uploads left behind listed and aborted, a HEAD per
# file, 8 MiB parts at ~20 MB/s into RGW on a busy machine), so shorter
# kills would never meet one.
# `valise status` of an s3:// DEST reads its journal objects: nothing
# there before the run, everything after; a bucket that is not there is
# trouble, named.
expect_exit 1 "$VALISE" status -m "$MK" "s3://$B/kill-timed"
assert_contains "$LAST_OUT" "arrived:  0 of $(find "$K" -type f | wc -l) files"
t0=$(date +%s%3N)
expect_exit 0 "$VALISE" ingest -m "$MK" -d "s3://$B/kill-timed" "$K" --no-progress
whole_ms=$(($(date +%s%3N) - t0))
KILL_MAX_MS=${S3_KILL_MAX_MS:-$((whole_ms + 100))}
log "a whole run: $whole_ms ms; kills from 50 to $KILL_MAX_MS ms in"
expect_exit 0 "$VALISE" status -m "$MK" --json "s3://$B/kill-timed"
assert_eq true "$(json "$LAST_OUT" get complete)" "status complete"
assert_eq 0 "$(json "$LAST_OUT" get files_missing)" "status files_missing"
# The run's record, an object under .valise/runs/: the drive's last run.
assert_eq 1 "$(json "$LAST_OUT" len drives.0.runs)" "runs of the drive"
expect_exit 2 "$VALISE" status -m "$MK" "s3://$B-none/kill-timed"
assert_contains "$LAST_ALL" "no such bucket"
kills=0
rounds=0
round_prefix=killed-0
while ((kills < KILLS_WANTED)); do
  rounds=$((rounds + 1))
  start_bg pid "$VALISE" ingest -m "$MK" -d "s3://$B/$round_prefix" "$K" \
    --no-progress
  ms=$(rand_ms 50 "$KILL_MAX_MS")
  sleep "$(ms_to_s "$ms")"
  if kill -9 "$pid" 2>/dev/null; then
    wait_bg "$pid"
    if ((BG_RC == 137)); then
      kills=$((kills + 1))
      verify_partial "$MK" "$round_prefix" "kill $kills ($ms ms in)"
      log "kill $kills at $ms ms: $VERIFIED_OK files whole in $round_prefix"
      continue
    fi
  else
    wait_bg "$pid"
  fi
  # It finished before the kill.
  ((BG_RC == 0)) || { ingest_dump "$pid"; fail "round $rounds exited $BG_RC"; }
  round_prefix=killed-$rounds
  log "round $rounds finished before its kill at $ms ms; next in $round_prefix"
done
expect_exit 0 "$VALISE" ingest -m "$MK" -d "s3://$B/$round_prefix" "$K" \
  --no-progress
expect_exit 0 "$VALISE" verify -m "$MK" --no-progress "s3://$B/$round_prefix"
no_upload_left
log "$kills runs killed in $rounds rounds; the last prefix resumed and verified"
log "PASS"
