#!/usr/bin/env bash
# Goal: what valise does when the kernel itself hands it a fault, on a
# FUSE drive (valise_faultfs) beside a healthy ext4 loop drive, against a
# manifest made from the clean data:
#  (a) EIO on a byte of one file: verify reports that file unreadable, with
#      a bad range covering the byte and errno 5, everything else ok, exit
#      1; --retries N is honoured: faultfs sees the failing chunk read and
#      the failing sector read N+1 times each (O_DIRECT: valise's reads
#      reach FUSE unchanged, one request per read); buffered (--no-direct)
#      the same report;
#  (b) a flipped bit: the file is corrupt, first_bad_offset = its chunk;
#  (c) the drive unplugged mid-read (every request fails with ENODEV, or
#      the connection is aborted as a yanked drive's would be): the other
#      drive verifies fully, the unplugged one's unread files are
#      unreadable or stalled, exit 1, in bounded time;
#  (d) a read that never returns: with --io-timeout 3 the drive is
#      stalled within bounded time and the other drive verifies; released,
#      the FUSE drive unmounts cleanly;
#  (e) ingest with the bad copies on the FUSE drive and good copies on the
#      loop drive: each is staged from the good copy (repaired_from) and
#      verify of DEST passes.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/faults_lib.sh"
need_root
need_faultfs

MiB=1048576
BACK="$VALISE_SHM/fuse-backing"
fill_dataset "$BACK"
make_drive B 64 ext4
B=${MNT[B]}
# B: copies of the two files the faults hit, and a large file of its own
# so that ingest's balancing reads big1 and big2 from the FUSE drive.
cp -a "$BACK/big1.bin" "$BACK/big2.bin" "$B/"
gen_file "$B/b-only/large.bin" $((10 * MiB)) b-large
gen_file "$B/b-only/two.bin" 65536 b-two
touch -d "@$E2E_MTIME" "$B/b-only/large.bin" "$B/b-only/two.bin"

M="$VALISE_WORK/dataset.valise"
expect_exit 0 "$VALISE" manifest "$BACK" "$B" -o "$M"
[[ -s "$M.chunks" ]] || fail "no chunk index $M.chunks"

start_faultfs F "$BACK"
F=${FMNT[F]}
R="$VALISE_WORK/report.json"

# The problem rows of report $1 as "status<TAB>path<TAB>drive", sorted.
problems() {
  json "$1" rows files status path drive | while IFS=$'\t' read -r \
    status path drive; do
    [[ "$status" == ok ]] && continue
    printf '%s\t%s\t%s\n' "$status" "$path" "$(drive_of_row "$drive" "$1")"
  done | LC_ALL=C sort
}

# Fails unless every file of B's is ok in report $1 (B is never at fault).
b_all_ok() {
  local bad
  bad=$(problems "$1" | awk -F'\t' -v b="$B" '$3 == b')
  assert_eq "" "$bad" "problems reported on the healthy drive $B"
}

# ---------------------------------------------------------------- (a) EIO
off_a=$((2 * MiB + 4242))  # in chunk 2, sector [2 MiB + 4096, +4096)
for retries in 0 3; do
  log "(a) EIO at byte $off_a of big1.bin, --retries $retries"
  set_faults F "eio $off_a 1 big1.bin"
  expect_exit 1 "$VALISE" verify -m "$M" --no-progress --json \
    --retries "$retries" "$F" "$B"
  cp "$LAST_OUT" "$R"
  assert_eq "unreadable"$'\t'"big1.bin"$'\t'"$F" "$(problems "$R")" \
    "problems with EIO on big1.bin"
  assert_eq 1 "$(json "$R" get totals.by_status.unreadable)" "unreadable"
  i=$(file_row "$R" big1.bin "$F") || fail "no row for big1.bin on $F"
  assert_eq 1 "$(json "$R" len "files.$i.bad_ranges")" "bad ranges"
  off=$(json "$R" get "files.$i.bad_ranges.0.offset")
  len=$(json "$R" get "files.$i.bad_ranges.0.length")
  assert_eq 5 "$(json "$R" get "files.$i.bad_ranges.0.errno")" "errno"
  ((off <= off_a && off_a < off + len)) ||
    fail "bad range [$off, +$len) does not cover byte $off_a"
  ((len <= MiB)) || fail "bad range of $len bytes is wider than a chunk"
  # What really happened under valise: the open reached FUSE with O_DIRECT
  # (FUSE accepts it: no buffered fallback), and every attempt at the bad
  # chunk is one FUSE request.
  assert_matches "${FLOG[F]}" '^open big1\.bin flags=0x[0-9a-f]+ direct=1$'
  chunk_reads=$(grep -c "^read big1.bin $((2 * MiB)) $MiB " "${FLOG[F]}" ||
    true)
  assert_eq $((retries + 1)) "$chunk_reads" \
    "reads of the failing chunk with --retries $retries"
  # Then valise narrows the range down sector by sector, with the same
  # retries for the bad sector.
  sector=$((off_a / 4096 * 4096))
  assert_eq $((retries + 1)) "$(grep -c "^eio big1.bin $sector 4096$" \
    "${FLOG[F]}" || true)" "reads of the bad sector with --retries $retries"
  b_all_ok "$R"
done

log "(a') the same, read through the page cache (--no-direct)"
set_faults F "eio $off_a 1 big1.bin"
expect_exit 1 "$VALISE" verify -m "$M" --no-progress --json --no-direct \
  "$F" "$B"
cp "$LAST_OUT" "$R"
assert_eq "unreadable"$'\t'"big1.bin"$'\t'"$F" "$(problems "$R")" \
  "problems with EIO, buffered"
off=$(row_field "$R" big1.bin "$F" bad_ranges.0.offset)
len=$(row_field "$R" big1.bin "$F" bad_ranges.0.length)
assert_eq 5 "$(row_field "$R" big1.bin "$F" bad_ranges.0.errno)" "errno"
((off <= off_a && off_a < off + len)) ||
  fail "buffered: bad range [$off, +$len) does not cover byte $off_a"
assert_matches "${FLOG[F]}" '^open big1\.bin flags=0x[0-9a-f]+ direct=0$'
# The summary names the range too.
expect_exit 1 "$VALISE" verify -m "$M" --no-progress "$F" "$B"
assert_contains "$LAST_OUT" "big1.bin (on $F): unreadable at $off"

# ----------------------------------------------------------- (b) bit flip
off_b=$((MiB + 777))
log "(b) bit 0 of byte $off_b of big2.bin flipped in what FUSE returns"
set_faults F "flip $off_b 0x01 big2.bin"
expect_exit 1 "$VALISE" verify -m "$M" --no-progress --json "$F" "$B"
cp "$LAST_OUT" "$R"
assert_eq "corrupt"$'\t'"big2.bin"$'\t'"$F" "$(problems "$R")" \
  "problems with a flipped bit in big2.bin"
assert_eq "$MiB" "$(row_field "$R" big2.bin "$F" first_bad_offset)" \
  "first_bad_offset of big2.bin (the flipped byte's 1 MiB chunk)"
(($(fault_count F flip big2.bin) >= 1)) || fail "faultfs flipped nothing"
b_all_ok "$R"

# ------------------------------------------------------------- (c) unplug
# F's files, as the manifest names them.
n_f=$(list_files "$BACK" | wc -l)
for mode in enodev abort; do
  if [[ $mode == abort ]]; then need_fusectl; fi
  log "(c) unplugged ($mode) after 6 reads"
  set_faults F "unplug-after 6 $mode"
  t0=$(date +%s%N)
  expect_exit 1 "$VALISE" verify -m "$M" --no-progress --json "$F" "$B"
  secs=$(elapsed_since "$t0")
  ((secs < 60)) || fail "verify of an unplugged drive took ${secs}s"
  cp "$LAST_OUT" "$R"
  assert_matches "${FLOG[F]}" "^unplug $mode$"
  b_all_ok "$R"
  # Every file B holds checked out (verify's report lists problem files
  # only; the drive's row counts the good ones).
  assert_eq "$(list_files "$B" | grep -vc '^lost+found/' || true)" \
    "$(json "$R" get drives.1.files_ok)" "files verified on $B"
  # F: what was read before the plug came out may be ok; every other file
  # is unreadable or stalled, and at least one is.
  other=$(problems "$R" | awk -F'\t' -v f="$F" \
    '$3 == f && $1 != "unreadable" && $1 != "stalled"')
  assert_eq "" "$other" "statuses of the unplugged drive's files"
  n_bad=$(problems "$R" | awk -F'\t' -v f="$F" '$3 == f' | wc -l)
  ((n_bad >= 1)) || fail "no file of the unplugged drive was reported"
  ((n_bad <= n_f)) || fail "$n_bad problems for $n_f files"
  assert_eq "$n_bad" "$(json "$R" get totals.files_problem)" "files_problem"
  log "$n_bad of $n_f files of the unplugged drive reported, in ${secs}s:" \
    "$(problems "$R" | cut -f1 | LC_ALL=C sort | uniq -c | tr -s ' \n' ' ')"
  if [[ $mode == abort ]]; then
    # The kernel ended the connection: the daemon's loop ends and it exits
    # by itself, leaving a dead mount point, as a yanked drive does.
    assert_matches "$LAST_OUT" '"errno":(103|107)'
    for _ in $(seq 1 50); do
      running "${FPID[F]}" || break
      sleep 0.1
    done
    running "${FPID[F]}" && fail "faultfs still runs after abort"
    wait "${FPID[F]}" || true
    FPID[F]=""
    umount "$F" || fail "cannot unmount the aborted FUSE drive"
  else
    assert_matches "$LAST_OUT" '"errno":19'
    stop_faultfs F || fail "faultfs exited with an error"
  fi
  start_faultfs F "$BACK"
done

# --------------------------------------------------------------- (d) hang
log "(d) reads of big1.bin never return; --io-timeout 3"
set_faults F "hang big1.bin"
t0=$(date +%s%N)
expect_exit 1 "$VALISE" verify -m "$M" --no-progress --json --io-timeout 3 \
  "$F" "$B"
secs=$(elapsed_since "$t0")
cp "$LAST_OUT" "$R"
((secs < 60)) || fail "verify with a hung drive took ${secs}s (limit 60)"
assert_matches "${FLOG[F]}" '^hang big1\.bin '
assert_eq true "$(json "$R" get drives.0.stalled)" "FUSE drive stalled"
assert_eq false "$(json "$R" get drives.1.stalled)" "loop drive stalled"
assert_eq stalled "$(row_field "$R" big1.bin "$F" status)" "big1.bin on F"
b_all_ok "$R"
other=$(problems "$R" | awk -F'\t' -v f="$F" '$3 == f && $1 != "stalled"')
assert_eq "" "$other" "statuses on the hung drive"
log "hung drive reported stalled in ${secs}s"
# The read is still held by faultfs; released, it completes, and the file
# system unmounts and exits cleanly.
grep -q '^released' "${FLOG[F]}" && fail "released before SIGUSR2"
kill -USR2 "${FPID[F]}"
for _ in $(seq 1 50); do
  grep -q '^released' "${FLOG[F]}" && break
  sleep 0.1
done
assert_matches "${FLOG[F]}" '^released$'
stop_faultfs F || fail "faultfs exited with an error after the hang"
start_faultfs F "$BACK"

# ------------------------------------------------------------- (e) ingest
log "(e) ingest: big1.bin unreadable and big2.bin corrupt on the FUSE drive"
set_faults F "eio $off_a 1 big1.bin" "flip $off_b 0x01 big2.bin"
make_drive D 64 ext4
DEST="${MNT[D]}/stage"
expect_exit 1 "$VALISE" ingest -m "$M" -d "$DEST" --no-progress --json \
  "$F" "$B"
cp "$LAST_OUT" "$R"
assert_eq "unreadable" "$(row_field "$R" big1.bin "$F" status)" \
  "big1.bin's FUSE copy"
assert_eq "$B" "$(row_field "$R" big1.bin "$F" repaired_from)" \
  "big1.bin repaired from"
assert_eq "corrupt" "$(row_field "$R" big2.bin "$F" status)" \
  "big2.bin's FUSE copy"
assert_eq "$B" "$(row_field "$R" big2.bin "$F" repaired_from)" \
  "big2.bin repaired from"
(($(fault_count F eio big1.bin) >= 1)) || fail "big1.bin was not read on F"
(($(fault_count F flip big2.bin) >= 1)) || fail "big2.bin was not read on F"
# Nothing is missing or left unrepaired.
unrepaired=$(json "$R" rows files status repaired_from path |
  awk -F'\t' '$1 != "ok" && $2 == "-" || $1 != "ok" && $2 == "null"')
assert_eq "" "$unrepaired" "problem rows without a repair"
n_dest=$(check_dest_files "$DEST" "$BACK" "$B")
assert_eq "$(cat <(list_files "$BACK") <(list_files "$B" | grep -v '^lost+found/') |
  LC_ALL=C sort -u | wc -l)" "$n_dest" "files staged"
assert_eq 0 "$(staging_leftovers "$DEST")" "files left in staging"
drop_caches
expect_exit 0 "$VALISE" verify -m "$M" --no-progress "$DEST"

stop_faultfs F || fail "faultfs exited with an error"
log "PASS"
