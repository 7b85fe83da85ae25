#!/usr/bin/env bash
# Goal: `valise bench -d s3://BUCKET/PREFIX` against the test cluster's
# RGW measures the store (multipart parts in bytes/s, small PUTs in
# objects/s, the requests counted) and leaves the bucket as it found it:
# the one object already under the prefix, no other key, no multipart
# upload. With drives too, they are measured beside it. Wrong credentials:
# exit 2, no secret printed; a missing bucket: exit 2, named. About 35 s
# at load 10 (awscli's starts and four runs of bench's hash measurement).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/s3_lib.sh"
need_ceph

new_bucket bench
B=${BUCKET[bench]}
log "bucket $B at $AWS_ENDPOINT_URL"
printf 'already here\n' >"$VALISE_WORK/keep"
expect_s3 0 s3_curl PUT "$B/p/keep" --upload-file "$VALISE_WORK/keep"
assert_contains "$LAST_OUT" "HTTP 200"

expect_exit 0 "$VALISE" bench -d "s3://$B/p" --seconds 1 --depth 8 --json
OUT=$LAST_OUT
assert_eq "$(json "$OUT" get dest.path)" "s3://$B/p" "dest"
assert_eq "$(json "$OUT" get dest.s3.in_flight)" 8 "requests in flight"
parts=$(json "$OUT" get dest.s3.parts)
small=$(json "$OUT" get dest.s3.small.objects)
requests=$(json "$OUT" get dest.s3.requests)
log "parts $parts, small objects $small, requests $requests"
((parts > 0)) || fail "no part was sent"
((small > 0)) || fail "no small object was PUT"
((requests >= parts + 2 * small)) || fail "requests not counted"
assert_eq "$(json "$OUT" get dest.errors)" "[]" "dest errors"
[[ $(json "$OUT" get limits.dest) != null ]] || fail "no DEST limit"

# Nothing left: the one key of before, no upload.
expect_s3 0 s3 s3api list-objects-v2 --bucket "$B"
assert_contains "$LAST_OUT" '"p/keep"'
assert_not_contains "$LAST_OUT" '.valise-bench'
expect_s3 0 s3 s3api list-multipart-uploads --bucket "$B"
assert_not_contains "$LAST_OUT" '"UploadId"'

# With a drive: the drive and the store, the table for people.
gen_file "$VALISE_WORK/src/a.bin" 4194304 a
expect_exit 0 "$VALISE" bench "$VALISE_WORK/src" -d "s3://$B/p" --seconds 0.5
assert_contains "$LAST_OUT" "objects/s"
assert_contains "$LAST_OUT" "requests in flight"
assert_contains "$LAST_OUT" "bottleneck:"

# Wrong credentials: refused, and neither secret is printed.
GOOD_SECRET=$AWS_SECRET_ACCESS_KEY
AWS_SECRET_ACCESS_KEY=wrongSECRETwrongSECRET expect_exit 2 \
  "$VALISE" bench -d "s3://$B/p" --seconds 0.5
assert_contains "$LAST_ALL" "403"
assert_not_contains "$LAST_ALL" "wrongSECRETwrongSECRET"
assert_not_contains "$LAST_ALL" "$GOOD_SECRET"

# A bucket that does not exist.
expect_exit 2 "$VALISE" bench -d "s3://$B-none/p" --seconds 0.5
assert_contains "$LAST_ALL" "$B-none"
expect_s3 0 s3 s3api list-objects-v2 --bucket "$B"
assert_not_contains "$LAST_OUT" '.valise-bench'
log "ok"
