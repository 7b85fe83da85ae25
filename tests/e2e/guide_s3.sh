#!/usr/bin/env bash
# Goal: the operator guide's "into object storage" commands (section 5b,
# the ```sh s3 blocks of docs/operator-guide.md) work as written, against
# the test cluster's RGW: guide_commands.sh in its GUIDE_S3 mode (the
# setup and signing of sections 0-1, then those blocks) into a bucket of
# this run: ingest, status and verify from S3 exit 0, a missing bucket and
# a wrong secret exit 2. 10-23 s at load 10-13.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/s3_lib.sh"
need_ceph

new_bucket guide
export S3DEST="s3://${BUCKET[guide]}/shipment-0001" GUIDE_S3=1
log "guide section 5b into $S3DEST"
# Its own scratch directory and trap; its output is this test's.
bash "$E2E_DIR/guide_commands.sh" || fail "the guide's S3 commands failed"
log "PASS"
