#!/usr/bin/env bash
# Goal: the test cluster (tests/support/ceph_cluster.sh) serves S3 to the
# usual clients, and the store behaviours valise relies on, or must not
# rely on, are what docs/s3.md says ("What the store checks"), as proved
# against Ceph RGW 16 here:
#   - `aws s3 cp`, `s3cmd put/get` and `rclone copy` round-trip files (aws's
#     9 MiB one goes as a multipart upload); a PUT addressed as
#     BUCKET.localhost:PORT (virtual-hosted) reads back path-style;
#   - a PUT (and an UploadPart) whose Content-MD5 is not the body's is
#     refused (BadDigest) and stores nothing;
#   - a PUT whose signed x-amz-content-sha256 is not the body's is refused
#     (XAmzContentSHA256Mismatch) and stores nothing;
#   - a PUT with a wrong x-amz-checksum-sha256 is ACCEPTED: RGW 16 ignores
#     the header (if this ever fails, the store checks it now: update
#     docs/s3.md);
#   - a multipart upload whose non-last part is 1 MiB fails at Complete
#     (EntityTooSmall) and stays listed; one with a 5 MiB first part
#     completes, and its object's ETag is "MD5-of-part-MD5s-2" on HEAD
#     while Complete's reply carries an empty ETag;
#   - ListMultipartUploads lists an upload until it is completed or aborted;
#   - PUT If-None-Match: * stores a new key and refuses an existing one
#     (PreconditionFailed, content kept); but CompleteMultipartUpload and
#     CopyObject with If-None-Match: * REPLACE an existing key (ignored);
#   - `rados bench` writes to and reads from the RGW's data pool.
# Runs against the ctest fixture's cluster (tests_ceph.cmake), or by hand
# starts its own (about 10 s).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/s3_lib.sh"
need_ceph

MiB=1048576
W=$VALISE_WORK
new_bucket main
B=${BUCKET[main]}
log "bucket $B at $AWS_ENDPOINT_URL"

# ---- the clients ----------------------------------------------------------
gen_file "$W/aws.bin" $((9 * MiB + 17)) aws
gen_file "$W/s3cmd.bin" $((3 * MiB + 5)) s3cmd
gen_file "$W/rclone/rclone.bin" $((2 * MiB + 3)) rclone

expect_s3 0 s3 s3 cp --no-progress "$W/aws.bin" "s3://$B/clients/aws.bin"
expect_s3 0 s3 s3 cp --no-progress "s3://$B/clients/aws.bin" "$W/aws.back"
cmp "$W/aws.bin" "$W/aws.back" || fail "aws s3 cp: bytes differ"
# More than awscli's 8 MiB threshold: it went as a multipart upload.
s3_head "$B/clients/aws.bin"
assert_matches "$LAST_OUT" '^etag: "[0-9a-f]{32}-2"'

expect_exit 0 s3cmd -c "$S3CMD_CONFIG" --no-progress put "$W/s3cmd.bin" \
  "s3://$B/clients/s3cmd.bin"
expect_exit 0 s3cmd -c "$S3CMD_CONFIG" --no-progress get \
  "s3://$B/clients/s3cmd.bin" "$W/s3cmd.back"
cmp "$W/s3cmd.bin" "$W/s3cmd.back" || fail "s3cmd: bytes differ"

expect_exit 0 rclone copy "$W/rclone" "ceph:$B/clients/rclone"
expect_exit 0 rclone copy "ceph:$B/clients/rclone" "$W/rclone.back"
cmp "$W/rclone/rclone.bin" "$W/rclone.back/rclone.bin" ||
  fail "rclone copy: bytes differ"
# rclone --checksum compares MD5s with the store's: the same 3 objects.
expect_exit 0 rclone check --one-way "$W/rclone" "ceph:$B/clients/rclone"

# Virtual-hosted addressing: RGW's `rgw dns name` is localhost, so
# BUCKET.localhost:PORT names the bucket (curl resolves *.localhost to the
# loopback itself; glibc's resolver does not).
gen_file "$W/vhost.bin" 3000 vhost
vhost_url="http://$B.localhost:${AWS_ENDPOINT_URL##*:}/clients/vhost.bin"
expect_exit 0 curl -sS --max-time 60 --aws-sigv4 "aws:amz:$AWS_REGION:s3" \
  --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
  -H "x-amz-content-sha256: $(sha256_hex "$W/vhost.bin")" \
  --upload-file "$W/vhost.bin" -w 'HTTP %{http_code}\n' "$vhost_url"
assert_contains "$LAST_OUT" "HTTP 200"
s3_get "$B/clients/vhost.bin" "$W/vhost.back"
cmp "$W/vhost.bin" "$W/vhost.back" || fail "virtual-hosted PUT: bytes differ"

# ---- digests the store checks ----------------------------------------------
gen_file "$W/small.bin" 4099 small
gen_file "$W/other.bin" 4099 other

# Content-MD5: checked.
s3_expect_error BadDigest s3 s3api put-object --bucket "$B" --key md5/bad \
  --body "$W/small.bin" --content-md5 "$(md5_b64 "$W/other.bin")"
s3_absent "$B/md5/bad"
expect_s3 0 s3 s3api put-object --bucket "$B" --key md5/good \
  --body "$W/small.bin" --content-md5 "$(md5_b64 "$W/small.bin")"

# The signed payload hash: checked.
expect_s3 0 s3_curl PUT "$B/sha/bad" --upload-file "$W/small.bin" \
  -H "x-amz-content-sha256: $(sha256_hex "$W/other.bin")"
assert_contains "$LAST_OUT" "HTTP 400"
assert_contains "$LAST_OUT" "<Code>XAmzContentSHA256Mismatch</Code>"
s3_absent "$B/sha/bad"
expect_s3 0 s3_curl PUT "$B/sha/good" --upload-file "$W/small.bin"
assert_contains "$LAST_OUT" "HTTP 200"

# x-amz-checksum-sha256: NOT checked by RGW 16. The request did carry the
# header (awscli's debug log shows what it sent).
rc=0
s3 s3api put-object --bucket "$B" --key checksum/wrong --body "$W/small.bin" \
  --checksum-sha256 "$(sha256_b64 "$W/other.bin")" --debug >"$LAST_OUT" \
  2>"$LAST_ERR" || rc=$?
if ((rc != 0)); then
  fail "RGW REFUSED a wrong x-amz-checksum-sha256 (exit $rc," \
    "$(_s3_error_code "$LAST_ERR")): the store checks it now; docs/s3.md" \
    "says it does not"
fi
assert_contains "$LAST_ERR" \
  "'x-amz-checksum-sha256': b'$(sha256_b64 "$W/other.bin")'"
s3_get "$B/checksum/wrong" "$W/checksum.back"
cmp "$W/small.bin" "$W/checksum.back" || fail "checksum/wrong: bytes differ"
log "RGW accepted a wrong x-amz-checksum-sha256 (it ignores the header)"

# ---- multipart uploads -----------------------------------------------------
gen_file "$W/part-1MiB.bin" "$MiB" part1m
gen_file "$W/part-5MiB.bin" $((5 * MiB)) part5m

# upload_id KEY: starts a multipart upload, prints its id.
upload_id() {
  s3 s3api create-multipart-upload --bucket "$B" --key "$1" \
    --query UploadId --output text
}
# put_part KEY ID N FILE: prints the part's ETag (with its quotes).
put_part() {
  s3 s3api upload-part --bucket "$B" --key "$1" --upload-id "$2" \
    --part-number "$3" --body "$4" --query ETag --output text
}
parts_json() {
  printf '{"Parts":[{"PartNumber":1,"ETag":%s},{"PartNumber":2,"ETag":%s}]}' \
    "$1" "$2"
}
# The bytes a hex string spells.
hex_bytes() { printf '%b' "$(sed 's/../\\x&/g' <<<"$1")"; }
# ListMultipartUploads (curl: the XML reply is enough to look in).
listed_uploads() {
  s3_curl GET "$B?uploads=" >"$W/uploads.xml"
  grep -q '<ListMultipartUploadsResult' "$W/uploads.xml" ||
    fail "ListMultipartUploads failed: $(cat "$W/uploads.xml")"
  grep -o '<UploadId>[^<]*</UploadId>' "$W/uploads.xml" || true
}

small_id=$(upload_id mp/small-part)
# A part with a wrong Content-MD5 is refused like a PUT.
s3_expect_error BadDigest s3 s3api upload-part --bucket "$B" \
  --key mp/small-part --upload-id "$small_id" --part-number 1 \
  --body "$W/part-1MiB.bin" --content-md5 "$(md5_b64 "$W/other.bin")"
e1=$(put_part mp/small-part "$small_id" 1 "$W/part-1MiB.bin")
e2=$(put_part mp/small-part "$small_id" 2 "$W/small.bin")
s3_expect_error EntityTooSmall s3 s3api complete-multipart-upload \
  --bucket "$B" --key mp/small-part --upload-id "$small_id" \
  --multipart-upload "$(parts_json "$e1" "$e2")"
s3_absent "$B/mp/small-part"
listed_uploads >"$W/uploads"
assert_contains "$W/uploads" "$small_id"
log "a 1 MiB non-last part: Complete refused (EntityTooSmall), upload kept"

big_id=$(upload_id mp/ok)
e1=$(put_part mp/ok "$big_id" 1 "$W/part-5MiB.bin")
e2=$(put_part mp/ok "$big_id" 2 "$W/small.bin")
listed_uploads >"$W/uploads"
assert_contains "$W/uploads" "$big_id"
expect_s3 0 s3 s3api complete-multipart-upload --bucket "$B" \
  --key mp/ok --upload-id "$big_id" \
  --multipart-upload "$(parts_json "$e1" "$e2")"
# RGW 16's reply to Complete has an empty ETag; HEAD gives the real one.
assert_contains "$LAST_OUT" '"ETag": ""'
want_etag=$(hex_bytes "${e1//\"/}${e2//\"/}" | md5sum | cut -d' ' -f1)-2
s3_head "$B/mp/ok"
assert_matches "$LAST_OUT" "^etag: \"$want_etag\""
cat "$W/part-5MiB.bin" "$W/small.bin" >"$W/mp-ok.want"
s3_get "$B/mp/ok" "$W/mp-ok.back"
cmp "$W/mp-ok.want" "$W/mp-ok.back" || fail "mp/ok: bytes differ"
listed_uploads >"$W/uploads"
assert_not_contains "$W/uploads" "$big_id"
assert_contains "$W/uploads" "$small_id"
expect_s3 0 s3 s3api abort-multipart-upload --bucket "$B" \
  --key mp/small-part --upload-id "$small_id"
listed_uploads >"$W/uploads"
assert_not_contains "$W/uploads" "$small_id"

# ---- never replace: If-None-Match: * ---------------------------------------
expect_s3 0 s3_curl PUT "$B/inm/key" --upload-file "$W/small.bin" \
  -H 'If-None-Match: *'
assert_contains "$LAST_OUT" "HTTP 200"
expect_s3 0 s3_curl PUT "$B/inm/key" --upload-file "$W/other.bin" \
  -H 'If-None-Match: *'
assert_contains "$LAST_OUT" "HTTP 412"
assert_contains "$LAST_OUT" "<Code>PreconditionFailed</Code>"
s3_get "$B/inm/key" "$W/inm.back"
cmp "$W/small.bin" "$W/inm.back" || fail "If-None-Match: the key was replaced"
log "PUT If-None-Match: * is honoured (412 on an existing key)"

# CompleteMultipartUpload with If-None-Match: * onto an existing key.
expect_s3 0 s3_curl PUT "$B/inm/mp" --upload-file "$W/small.bin"
assert_contains "$LAST_OUT" "HTTP 200"
mp_id=$(upload_id inm/mp)
e1=$(put_part inm/mp "$mp_id" 1 "$W/part-5MiB.bin")
e2=$(put_part inm/mp "$mp_id" 2 "$W/other.bin")
printf '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part><Part><PartNumber>2</PartNumber><ETag>%s</ETag></Part></CompleteMultipartUpload>' \
  "$e1" "$e2" >"$W/complete.xml"
expect_s3 0 s3_curl POST "$B/inm/mp?uploadId=$mp_id" \
  --data-binary "@$W/complete.xml" -H 'If-None-Match: *'
assert_contains "$LAST_OUT" "HTTP 200"
s3_head "$B/inm/mp"
assert_matches "$LAST_OUT" "^content-length: $((5 * MiB + 4099))[[:space:]]*$"
log "CompleteMultipartUpload ignores If-None-Match: * (the key was replaced)"

# CopyObject with If-None-Match: * onto an existing key.
expect_s3 0 s3_curl PUT "$B/inm/mp" -H "x-amz-copy-source: /$B/md5/good" \
  -H 'If-None-Match: *'
assert_contains "$LAST_OUT" "HTTP 200"
s3_head "$B/inm/mp"
assert_matches "$LAST_OUT" '^content-length: 4099[[:space:]]*$'
log "CopyObject ignores If-None-Match: * (the key was replaced)"

# ---- RADOS under RGW -------------------------------------------------------
run=smoke-$$
expect_exit 0 rados bench -p default.rgw.buckets.data 1 write -b 4M -t 4 \
  --run-name "$run" --no-cleanup
assert_contains "$LAST_OUT" "Bandwidth (MB/sec)"
expect_exit 0 rados bench -p default.rgw.buckets.data 1 seq -t 4 \
  --run-name "$run"
expect_exit 0 rados -p default.rgw.buckets.data cleanup --run-name "$run"
log "rados bench wrote to and read from default.rgw.buckets.data"
log "PASS"
