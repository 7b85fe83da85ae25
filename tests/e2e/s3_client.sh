#!/usr/bin/env bash
# Goal: valise's S3 client (src/net/) against the real RGW of the test
# cluster: every S3Client call, a wrong Content-MD5 and a wrong payload
# SHA-256 refused with nothing stored, wrong credentials an error that
# holds no secret (RgwS3Client.* of tests/net/rgw_client_test.cc, in the
# valise_rgw_tests binary, on a bucket of its own); then awscli, a peer,
# sees what the client left: the objects it completed, no multipart upload.
# About 10 s on the fixture's cluster.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/s3_lib.sh"
need_ceph

RGW_TESTS=${VALISE_RGW_TESTS:-$(dirname "$VALISE_JSON")/valise_rgw_tests}
new_bucket client
B=${BUCKET[client]}
log "bucket $B at $AWS_ENDPOINT_URL"

VALISE_RGW_BUCKET=$B expect_exit 0 "$RGW_TESTS" --gtest_brief=1
assert_contains "$LAST_OUT" "PASSED"
assert_not_contains "$LAST_ALL" "SKIPPED"
assert_not_contains "$LAST_ALL" "$AWS_SECRET_ACCESS_KEY"

# The peer's view: the multipart object whole, no upload left behind.
expect_s3 0 s3 s3api head-object --bucket "$B" --key "mp/big file"
assert_matches "$LAST_OUT" '"ContentLength": 10485780'
assert_matches "$LAST_OUT" '"ETag": "\\"[0-9a-f]{32}-3\\""'
expect_s3 0 s3 s3api list-multipart-uploads --bucket "$B"
assert_not_contains "$LAST_OUT" '"UploadId"'
expect_s3 0 s3 s3api list-objects-v2 --bucket "$B" --prefix bad/
assert_not_contains "$LAST_OUT" '"Key"'
log "ok"
