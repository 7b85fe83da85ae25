#!/usr/bin/env bash
# Goal: kill -9 at any moment never leaves a wrong file under a final name,
# and every rerun resumes without re-reading what is already in place.
# Two ext4 drives of ~140 MiB each (large, middling and 300 small files,
# three files on both drives) on /dev/shm loops, DEST on ext4. Loop until
# at least 20 runs were killed: start `valise ingest`, sleep a random
# 0.05 s to 90% of a whole ingest's time (measured first, on this
# machine: a fixed window made most runs finish before their kill on a
# quiet machine), kill -9 it (by PID), then check that every file under
# its final name in DEST equals its source (cmp, mode, mtime), and that the
# run read from the drives (device sectors) no more than the files not yet
# in place. A resumed run is shorter than a whole one, so it may finish
# before its kill: its --report must then show exactly the bytes not yet
# in place read (drives[].bytes_read), less what it resumed from kept
# partials (totals.bytes_resumed_by_chunk), and files_skipped_resume within one
# group commit of the files in place; then a new round starts in a fresh
# DEST directory. After the loop, an uninterrupted run resumes the last
# round: exit 0, DEST complete and intact, staging empty, verify passes,
# and a rerun skips every file (files_skipped_resume grows to all) and
# reads nothing. INGEST_KILLS, INGEST_KILL_MAX_MS and INGEST_KILL_SEED
# override the count, the window and the random seed (printed, to replay a
# failure).
# Last, the bound on work lost to a kill, deterministically: files read
# from a fast drive while a slow one (reads throttled to 16 MiB/s) is still
# being read must be in place within a couple of seconds, not held back
# until a commit batch fills up: a kill -9 2.5 s into the run must find
# them all under their final names.
source "$(dirname "$0")/ingest_lib.sh"
need_root

MiB=1048576
KILLS_WANTED=${INGEST_KILLS:-20}
SEED=${INGEST_KILL_SEED:-$((($$ + $(date +%s)) % 32768))}
RANDOM=$SEED
# The journal may lag the renames by one group commit (IngestOptions's
# commit_batch, 1024 files): a kill between them leaves files in place that
# the next run re-checks from DEST instead of skipping.
COMMIT_BATCH=1024
log "seed $SEED (INGEST_KILL_SEED=$SEED replays the sleeps)"

make_drive A 250 ext4
make_drive B 250 ext4
make_drive D 700 ext4
A=${MNT[A]}
B=${MNT[B]}

fill_mixed "$A" a 3 20 300
fill_mixed "$B" b 3 20 300
# Redundant copies on both drives, and one content under two paths.
for i in 1 2 3; do
  gen_file "$A/both/shared$i.bin" $((8 * MiB + i)) "shared$i"
done
cp -a "$A/both" "$B/"
cp -a "$B/b/mid/m1/m1.bin" "$B/b/mid/m1/m1-again.bin"
chmod 0600 "$A/a/large/l2.bin"
find "$A" "$B" -path '*/lost+found' -prune -o -exec touch -h -d "@$E2E_MTIME" {} +
touch -d '@1700000000.5' "$A/a/small/s0007"

M="$VALISE_WORK/dataset.valise"
expect_exit 0 "$VALISE" manifest "$A" "$B" -o "$M"
N_FILES=$(union_files "$A" "$B" | wc -l)
N_BYTES=$(awk -F'\t' '!/^#/ && NR > 1 {s += $1} END {print s}' "$M")
log "dataset: $N_FILES files, $N_BYTES bytes on 2 drives"

# Drive sectors read, both drives: what a run really read from them.
sectors() { echo $(($(sectors_read "${DEV[A]}") + $(sectors_read "${DEV[B]}"))); }

# in_place DEST: "FILES BYTES" under final names in DEST.
in_place() {
  [[ -d "$1" ]] || { echo 0 0; return 0; }
  (cd "$1" && find . \( -path ./.valise -o -path ./lost+found \) -prune -o \
    -type f -printf '%s\n') | awk '{n++; s += $1} END {print n + 0, s + 0}'
}

# check_report R FILES_BEFORE BYTES_BEFORE: a run that finished read
# exactly the bytes not in place, and skipped (nearly) all files in place.
check_report() {
  local r=$1 files_before=$2 bytes_before=$3 read skipped resumed
  json "$r" check || fail "--report $r is not JSON"
  assert_eq 0 "$(json "$r" get exit_code)" "exit_code in $r"
  read=$(json "$r" rows drives bytes_read | awk '{s += $1} END {print s + 0}')
  # Large files cut short by a kill go on from their kept partials (resume
  # by chunk): those bytes, checked in DEST, are not read again.
  resumed=$(json "$r" get totals.bytes_resumed_by_chunk)
  assert_eq $((N_BYTES - bytes_before - resumed)) "$read" \
    "bytes read from the drives by a run that found $bytes_before bytes in place and resumed $resumed"
  skipped=$(json "$r" get totals.files_skipped_resume)
  # files_ok counts the files this run staged or re-checked, not those skipped.
  assert_eq "$N_FILES" $(($(json "$r" get totals.files_ok) + skipped)) \
    "files_ok + files_skipped_resume in $r"
  if ((skipped > files_before || skipped < files_before - COMMIT_BATCH)); then
    fail "files_skipped_resume $skipped with $files_before files in place"
  fi
  SKIPPED=$skipped
}

# The window of the kills: up to 90% of a whole ingest's wall time here.
log "timing one whole ingest (the kills land within its time)"
T0=$(date +%s%N)
expect_exit 0 "$VALISE" ingest -m "$M" -d "${MNT[D]}/timing" --no-progress \
  "$A" "$B"
FULL_MS=$((($(date +%s%N) - T0) / 1000000))
rm -rf "${MNT[D]}/timing"
KILL_MAX_MS=${INGEST_KILL_MAX_MS:-$((FULL_MS * 9 / 10 > 150 ? FULL_MS * 9 / 10 : 150))}
log "a whole ingest took $FULL_MS ms: kills at 50-$KILL_MAX_MS ms"

kills=0 runs=0 round=1 finished=0 read_total=0 pid=""
# Bytes the killed runs read from the drives, and bytes they put in place.
killed_read=0 killed_placed=0
DEST=${MNT[D]}/round-$round
R="$VALISE_WORK/run.json"
while ((kills < KILLS_WANTED)); do
  if ((runs >= 4 * KILLS_WANTED + 20)); then
    fail "$runs runs but only $kills killed: ingest ends too fast to kill"
  fi
  runs=$((runs + 1))
  read -r files_before bytes_before < <(in_place "$DEST")
  sectors_before=$(sectors)
  rm -f "$R"
  start_bg pid "$VALISE" ingest -m "$M" -d "$DEST" --no-progress \
    --report "$R" "$A" "$B"
  ms=$(rand_ms 50 "$KILL_MAX_MS")
  sleep "$(ms_to_s "$ms")"
  kill -9 "$pid" 2>/dev/null || true
  wait_bg "$pid"
  read_now=$((($(sectors) - sectors_before) * 512))
  read_total=$((read_total + read_now))
  # Never more than what is not yet in place (plus O_DIRECT's whole-block
  # tails and file system metadata).
  bound=$((N_BYTES - bytes_before + 4096 * (N_FILES - files_before) + 16 * MiB))
  ((read_now <= bound)) || fail "run $runs read $read_now bytes from the" \
    "drives with $bytes_before of $N_BYTES bytes in place (bound $bound)"
  check_dest "$DEST" "$A" "$B"
  read -r files_after bytes_after < <(in_place "$DEST")
  case $BG_RC in
    137)
      kills=$((kills + 1))
      killed_read=$((killed_read + read_now))
      killed_placed=$((killed_placed + bytes_after - bytes_before))
      log "kill $kills (run $runs, round $round) after ${ms} ms: in place" \
        "$files_before -> $files_after of $N_FILES files; read $read_now bytes"
      ;;
    0)
      finished=$((finished + 1))
      log "run $runs (round $round) finished before its kill at ${ms} ms"
      check_report "$R" "$files_before" "$bytes_before"
      # check_dest above compared every file in DEST with its source (~3 s
      # for the whole set: the drives are read through their loop
      # devices); as many files as the union makes DEST complete.
      assert_eq "$N_FILES" "$CHECKED_FILES" "files in DEST after a finished run"
      assert_eq 0 "$(staging_left "$DEST")" "entries left in staging"
      # A new round, from nothing, so that later kills land mid-ingest.
      rm -rf "$DEST"
      round=$((round + 1))
      DEST=${MNT[D]}/round-$round
      ;;
    *)
      ingest_dump "$pid" >&2
      fail "run $runs exited $BG_RC (neither finished nor killed)"
      ;;
  esac
done
log "$kills kills performed in $runs runs ($finished finished before their" \
  "kill, $round rounds); read $read_total bytes from the drives"
log "killed runs read $killed_read bytes from the drives and put" \
  "$killed_placed bytes in place"

log "final run: resumes round $round and finishes"
read -r files_before bytes_before < <(in_place "$DEST")
R1="$VALISE_WORK/final.json"
expect_exit 0 "$VALISE" ingest -m "$M" -d "$DEST" --no-progress --report "$R1" \
  "$A" "$B"
check_report "$R1" "$files_before" "$bytes_before"
skipped_final=$SKIPPED
check_complete "$DEST" "$A" "$B"
assert_eq "$N_FILES" "$CHECKED_FILES" "files in DEST"
assert_eq 0 "$(staging_left "$DEST")" "entries left in DEST/.valise/staging"
drop_caches
expect_exit 0 "$VALISE" verify -m "$M" --no-progress "$DEST"

log "a rerun skips every file and reads nothing"
R2="$VALISE_WORK/rerun.json"
expect_exit 0 "$VALISE" ingest -m "$M" -d "$DEST" --no-progress --report "$R2" \
  "$A" "$B"
check_report "$R2" "$N_FILES" "$N_BYTES"
assert_eq "$N_FILES" "$SKIPPED" "files_skipped_resume of the rerun"
((SKIPPED >= skipped_final)) || fail "files_skipped_resume went down"
log "files_skipped_resume: $skipped_final (final run) -> $SKIPPED (rerun)"
log "kills performed: $kills"

log "commit lag: a slow drive must not hold back files read from a fast one"
make_drive F 64 ext4
make_drive S 128 ext4
for i in $(seq 1 20); do
  gen_file "${MNT[F]}/early/e$i.bin" $((256 * 1024 + i)) "early$i"
done
gen_file "${MNT[S]}/slow.bin" $((64 * MiB)) slow
find "${MNT[F]}" "${MNT[S]}" -path '*/lost+found' -prune -o \
  -exec touch -h -d "@$E2E_MTIME" {} +
ML="$VALISE_WORK/lag.valise"
expect_exit 0 "$VALISE" manifest "${MNT[F]}" "${MNT[S]}" -o "$ML"
DL=${MNT[D]}/lag
drop_caches
# 16 MiB/s: slow.bin takes 4 s; F's 5 MiB are read in a fraction of that.
throttle_reads "${DEV[S]}" $((16 * MiB))
start_bg pid "$VALISE" ingest -m "$ML" -d "$DL" --no-progress "${MNT[F]}" \
  "${MNT[S]}"
sleep 2.5
kill -0 "$pid" 2>/dev/null || fail "ingest ended within 2.5 s despite the throttle"
kill -9 "$pid"
throttle_reads "${DEV[S]}" 0
wait_bg "$pid"
assert_eq 137 "$BG_RC" "exit status of the killed run"
check_dest "$DL" "${MNT[F]}" "${MNT[S]}"
log "commit lag: $CHECKED_FILES of 20 files read early were in place at the kill"
((CHECKED_FILES == 20)) || fail "only $CHECKED_FILES of the 20 files read" \
  "from the fast drive in the first second were in place 2.5 s into the" \
  "run: finished files wait for a full commit batch, and a kill loses them"
expect_exit 0 "$VALISE" ingest -m "$ML" -d "$DL" --no-progress "${MNT[F]}" \
  "${MNT[S]}"
check_complete "$DL" "${MNT[F]}" "${MNT[S]}"

log "PASS"
