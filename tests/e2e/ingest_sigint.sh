#!/usr/bin/env bash
# Goal: SIGINT, then SIGTERM, then SIGHUP (a closed terminal; issue 12,
# item 5: it killed the run, exit 129, no report), ~0.5 s into `valise
# ingest` (two ext4 drives of ~210 MiB, DEST on ext4) stop it cleanly:
# exit 130, a message saying it was interrupted and a rerun resumes, a
# --report with interrupted = true;
# every file under a final name is complete and correct (some finished
# files are committed before the exit), the report's
# files_ok are exactly the files in place, and no temporary file is left
# but the kept partials of files cut short (resume by chunk: the manifest
# binds a chunk index). The rerun exits 0, skips exactly those files
# (files_skipped_resume), goes on from the kept partials, reads only the
# rest from the drives, leaves staging empty, and DEST verifies. A second SIGINT
# (the operator insists) exits 130 at once, and is just as safe.
source "$(dirname "$0")/ingest_lib.sh"
need_root

make_drive A 300 ext4
make_drive B 300 ext4
make_drive D 1000 ext4
A=${MNT[A]}
B=${MNT[B]}
# Middling and small files, no large ones: some finish within 0.5 s, so
# the interrupted run has files to commit and the rerun files to skip.
fill_mixed "$A" a 0 60 300
fill_mixed "$B" b 0 60 300
find "$A" "$B" -path '*/lost+found' -prune -o -exec touch -h -d "@$E2E_MTIME" {} +
M="$VALISE_WORK/dataset.valise"
expect_exit 0 "$VALISE" manifest "$A" "$B" -o "$M"
N_FILES=$(union_files "$A" "$B" | wc -l)
N_BYTES=$(awk -F'\t' '!/^#/ && NR > 1 {s += $1} END {print s}' "$M")
log "dataset: $N_FILES files, $N_BYTES bytes on 2 drives"

# in_place DEST: "FILES BYTES" under final names.
in_place() {
  (cd "$1" && find . \( -path ./.valise -o -path ./lost+found \) -prune -o \
    -type f -printf '%s\n') | awk '{n++; s += $1} END {print n + 0, s + 0}'
}

# interrupt NAME SIGNAL... : each SIGNAL 0.5 s into a run (then 20 ms apart).
interrupt() {
  local name=$1 sig pid files bytes skipped resumed read
  shift
  local dest=${MNT[D]}/$name r="$VALISE_WORK/$name.json"
  log "$name: $* after 0.5 s"
  drop_caches
  # Drive B is read at 16 MiB/s during the interrupted run, so the signal
  # always lands mid-run however fast this machine reads (unthrottled, the
  # whole ingest could finish within the 0.5 s); A's files still finish.
  throttle_reads "${DEV[B]}" $((16 * 1048576))
  start_bg pid "$VALISE" ingest -m "$M" -d "$dest" --no-progress \
    --report "$r" "$A" "$B"
  sleep 0.5
  kill -0 "$pid" 2>/dev/null ||
    fail "$name: ingest ended within 0.5 s: too little data to interrupt"
  for sig in "$@"; do
    kill -s "$sig" "$pid"
    sleep 0.02
  done
  wait_bg "$pid"
  throttle_reads "${DEV[B]}" 0
  if ((BG_RC != 130)); then
    ingest_dump "$pid" >&2
    fail "$name: exit status $BG_RC after $*, expected 130"
  fi
  cat "$(bg_out "$pid")" "$(bg_err "$pid")" >"$VALISE_WORK/$name.all"
  if (($# == 2)); then
    # The second signal's immediate exit says so, and how to go on.
    assert_matches "$VALISE_WORK/$name.all" 'interrupted again'
    assert_matches "$VALISE_WORK/$name.all" 'rerun'
  fi
  check_dest "$dest" "$A" "$B"
  read -r files bytes < <(in_place "$dest")
  log "$name: $files of $N_FILES files in place after the interruption"
  ((files < N_FILES)) || fail "$name: every file in place: not interrupted"
  if (($# == 1)); then
    # A clean stop: a message, the report, no temporary file left. (The
    # second signal's immediate exit writes nothing.)
    assert_matches "$VALISE_WORK/$name.all" 'interrupted'
    assert_matches "$VALISE_WORK/$name.all" 'rerun'
    json "$r" check || fail "$name: --report $r is not JSON"
    assert_eq true "$(json "$r" get interrupted)" "$name: interrupted"
    assert_eq 130 "$(json "$r" get exit_code)" "$name: exit_code"
    assert_eq "$files" "$(json "$r" get totals.files_ok)" \
      "$name: files_ok in the report vs files in place"
    assert_eq 0 "$(staging_strays "$dest")" \
      "$name: entries left in staging (not kept partials)"
  fi

  log "$name: the rerun finishes"
  drop_caches
  r="$VALISE_WORK/$name-rerun.json"
  expect_exit 0 "$VALISE" ingest -m "$M" -d "$dest" --no-progress \
    --report "$r" "$A" "$B"
  skipped=$(json "$r" get totals.files_skipped_resume)
  resumed=$(json "$r" get totals.bytes_resumed_by_chunk)
  log "$name: the rerun went on from $(json "$r" get totals.files_resumed_by_chunk) kept partials ($resumed bytes)"
  read=$(json "$r" rows drives bytes_read | awk '{s += $1} END {print s + 0}')
  if (($# == 1)); then
    # Everything in place was journaled by the clean stop.
    assert_eq "$files" "$skipped" "$name: files_skipped_resume of the rerun"
  fi
  ((skipped <= files)) || fail "$name: skipped $skipped of $files in place"
  assert_eq $((N_BYTES - bytes - resumed)) "$read" \
    "$name: bytes the rerun read from the drives ($bytes in place, $resumed resumed)"
  check_complete "$dest" "$A" "$B"
  assert_eq 0 "$(staging_left "$dest")" "$name: entries left in staging"
  drop_caches
  expect_exit 0 "$VALISE" verify -m "$M" --no-progress "$dest"
  rm -rf "$dest"  # room for the next case
}

interrupt sigint INT
interrupt sigterm TERM
interrupt sighup HUP
interrupt double-sigint INT INT

log "PASS"
