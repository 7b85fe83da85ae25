#!/usr/bin/env bash
# Goal: resume by chunk into s3:// against RGW (issue 15). A signed
# manifest with 8 MiB chunks (each part one chunk, sent signed with the
# chunk's signed SHA-256): an ingest is killed with SIGKILL once 18 of a
# 160 MiB file's 20 parts are in its multipart upload (the drive's reads
# slowed by the cgroup throttle so the kill lands inside the file). The
# rerun keeps the upload (its marker names it), lists its parts, reads at
# most 10% of the file from the drive (drives[].bytes_read: bytes, not
# time), sends the rest into the same upload, exits 0; the object is the
# file, and no upload nor marker is left. (~12 s on the fixture's cluster)
source "$(dirname "$0")/ingest_lib.sh"
source "$(dirname "$0")/s3_lib.sh"
need_ceph

MiB=1048576
make_drive A 256 ext4
A=${MNT[A]}
F=big.bin
SIZE=$((160 * MiB)) # 20 chunks: at most 19 kept, the last always read
gen_file "$A/$F" "$SIZE" big
W=$VALISE_WORK
M="$W/dataset.valise"
expect_exit 0 "$VALISE" manifest --chunk-size 8192 "$A" -o "$M"
expect_exit 0 "$VALISE" keygen -o "$W/key"
expect_exit 0 "$VALISE" sign -k "$W/key" "$M"
new_bucket resume
B=${BUCKET[resume]}
DEST="s3://$B/ship"

# The parts of the upload to ship/$F now (the bucket's only one): how many
# from part 1 on, with no gap (what a rerun can keep). (curl's SigV4 does
# not sign a query value holding "/" as RGW does: no prefix= here.)
parts_in_a_row() {
  local id n=0 p
  id=$(s3_curl GET "$B?uploads=" 2>/dev/null |
    LC_ALL=C grep -ao '<UploadId>[^<]*</UploadId>' | head -n1 |
    sed 's/<[^>]*>//g')
  [[ -n "$id" ]] || {
    echo 0
    return
  }
  for p in $(s3_curl GET "$B/ship/$F?uploadId=$id" 2>/dev/null |
    LC_ALL=C grep -ao '<PartNumber>[0-9]*</PartNumber>' |
    sed 's/<[^>]*>//g'); do
    ((p == n + 1)) || break
    n=$p
  done
  echo "$n"
}

drop_caches
log "first run: killed once 18 of the 20 parts of $F are stored"
throttle_reads "${DEV[A]}" $((24 * MiB))
start_bg PID "$VALISE" ingest -m "$M" --pubkey "$W/key.pub" -d "$DEST" \
  --no-progress "$A"
got=0
for ((i = 0; i < 600; i++)); do
  got=$(parts_in_a_row)
  ((got >= 18)) && break
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.05
done
kill -9 "$PID" 2>/dev/null || true
wait_bg "$PID"
((BG_RC == 137)) || {
  ingest_dump "$PID"
  fail "the first run was not killed inside $F (exit $BG_RC; slow the drive more?)"
}
expect_s3 0 s3_curl HEAD "$B/ship/$F"
assert_contains "$LAST_OUT" "HTTP 404"
log "killed with $got parts in a row stored"

log "rerun: the stored parts kept, the drive read from there"
throttle_reads "${DEV[A]}" 0
drop_caches
J="$W/rerun.json"
expect_exit 0 "$VALISE" ingest -m "$M" --pubkey "$W/key.pub" -d "$DEST" \
  --no-progress --report "$J" "$A"
assert_contains "$LAST_OUT" "resume: 1 file went on from what an earlier run staged"
assert_contains "$LAST_ALL" "kept to resume by chunk"
read=$(json "$J" get drives.0.bytes_read)
resumed=$(json "$J" get totals.bytes_resumed_by_chunk)
assert_eq 1 "$(json "$J" get totals.files_resumed_by_chunk)" \
  "totals.files_resumed_by_chunk"
assert_eq "$SIZE" $((read + resumed)) "bytes read + bytes resumed"
((read <= SIZE / 10)) ||
  fail "the rerun read $read bytes of $SIZE from the drive (more than 10%)"
log "the rerun read $read bytes of $SIZE ($((read * 100 / SIZE))%) from the drive"
s3_get "$B/ship/$F" "$W/got"
cmp -s "$A/$F" "$W/got" || fail "the object is not $F"
rm -f "$W/got"
expect_s3 0 s3_curl GET "$B?uploads="
assert_not_contains "$LAST_OUT" "<UploadId>"
expect_s3 0 s3_curl GET "$B?list-type=2"
assert_contains "$LAST_OUT" "<Key>ship/$F</Key>"
assert_not_contains "$LAST_OUT" "<Key>ship/.valise/uploads/"
log "PASS"
