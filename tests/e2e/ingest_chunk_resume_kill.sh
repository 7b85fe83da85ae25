#!/usr/bin/env bash
# Goal: resume by chunk on loop drives (issue 15, item 4). An ingest with a
# signed manifest (--pubkey, chunk index bound) is killed with SIGKILL
# once ~92% of a 2 GiB file is staged (its drive's reads slowed by the
# cgroup throttle so the kill lands inside the file); the rerun checks the
# kept prefix in DEST against the signed chunk digests and reads at most
# 10% of the file, plus one chunk, from the drive (drives[].bytes_read:
# bytes, not time), exits 0, and the staged file is the original.
# CHUNK_RESUME_MB sets the file's size (default 2048). (~25 s)
source "$(dirname "$0")/ingest_lib.sh"
need_root

MiB=1048576
SIZE_MB=${CHUNK_RESUME_MB:-2048}
make_drive A $((SIZE_MB + SIZE_MB / 16 + 64)) ext4
# DEST room for the file twice: the space check counts a resumed file
# whole, not crediting the kept partial.
make_drive D $((SIZE_MB * 2 + SIZE_MB / 8 + 64)) ext4
A=${MNT[A]}
F=big.bin
SIZE=$((SIZE_MB * MiB + 100))
gen_file "$A/$F" "$SIZE" big
W=$VALISE_WORK
M="$W/dataset.valise"
expect_exit 0 "$VALISE" manifest "$A" -o "$M"
expect_exit 0 "$VALISE" keygen -o "$W/key"
expect_exit 0 "$VALISE" sign -k "$W/key" "$M"
DEST=${MNT[D]}/dest
PARTIAL="$DEST/.valise/staging/r0"
drop_caches

log "first run: killed at ~92% of $F"
# About 5 s to the kill, whatever the size.
throttle_reads "${DEV[A]}" $((SIZE_MB * MiB / 5))
# --depth 2: at most a few chunks in flight, so the staged file has no
# hole wider than that below its end at the kill.
start_bg PID "$VALISE" ingest -m "$M" --pubkey "$W/key.pub" -d "$DEST" \
  --no-progress --depth 2 "$A"
want=$((SIZE * 92 / 100))
for ((i = 0; i < 6000; i++)); do
  got=$(stat -c %s "$PARTIAL" 2>/dev/null || echo 0)
  ((got >= want)) && break
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.01
done
kill -9 "$PID" 2>/dev/null || true
wait_bg "$PID"
((BG_RC == 137)) || {
  ingest_dump "$PID"
  fail "the first run was not killed inside $F (exit $BG_RC; raise the throttle?)"
}
[[ ! -e "$DEST/$F" ]] || fail "$F was named though the run was killed"
kept=$(stat -c %s "$PARTIAL")
log "killed with $kept of $SIZE bytes staged"
((kept >= SIZE * 85 / 100)) || fail "only $kept bytes staged at the kill"

log "rerun: the prefix is checked in DEST, the drive read from there"
throttle_reads "${DEV[A]}" 0
drop_caches
J="$W/rerun.json"
expect_exit 0 "$VALISE" ingest -m "$M" --pubkey "$W/key.pub" -d "$DEST" \
  --no-progress --report "$J" "$A"
cmp -s "$A/$F" "$DEST/$F" || fail "the staged $F is not the original"
assert_eq 0 "$(staging_left "$DEST")" "entries left in staging"
read=$(json "$J" get drives.0.bytes_read)
resumed=$(json "$J" get totals.bytes_resumed_by_chunk)
assert_eq 1 "$(json "$J" get totals.files_resumed_by_chunk)" \
  "totals.files_resumed_by_chunk"
assert_eq "$SIZE" $((read + resumed)) "bytes read + bytes resumed"
((read <= SIZE / 10 + MiB)) ||
  fail "the rerun read $read bytes of $SIZE from the drive (more than 10% and a chunk)"
log "the rerun read $read bytes of $SIZE ($((read * 100 / SIZE))%) from the drive"
assert_contains "$LAST_OUT" "resume: 1 file went on from what an earlier run staged"
log "PASS"
