#!/usr/bin/env bash
# Goal (issue 12, item 8): numbers an operator gives are bounded with a
# message that names the flag, and the read buffers are refused before
# they are allocated when they cannot fit: `--depth 16384` and a small
# `ulimit -v` aborted the run (exit 134, "terminate called after throwing
# an instance of 'std::bad_alloc'"). Now exit 2, nothing read, no core.
# Item 10: out of descriptors said once with the limit, and a low soft
# limit raised to the hard one. Plain directories in a temp dir; a few
# seconds.
source "$(dirname "$0")/../e2e/lib.sh"

E2E_CMD_TIMEOUT=${E2E_CMD_TIMEOUT:-60}
W=$VALISE_WORK
S=$W/src
mkdir -p "$S"
gen_file "$S/a.bin" 300000 a
gen_file "$S/b.bin" 5000 b
expect_exit 0 "$VALISE" manifest --no-progress "$S" -o "$W/m.vm"

# ------------------------------------------------------- the flags' bounds
for cmd in manifest verify; do
  if [[ $cmd == manifest ]]; then
    base=(manifest --no-progress "$S" -o "$W/never.vm")
  else
    base=(verify --no-progress -m "$W/m.vm" "$S")
  fi
  expect_exit 2 "$VALISE" "${base[@]}" --depth 16384
  assert_contains "$LAST_ERR" "--depth: must be from 1 to 1024"
  expect_exit 2 "$VALISE" "${base[@]}" --threads 100000
  assert_contains "$LAST_ERR" "--threads: must be from 1 to 1024"
  expect_exit 2 "$VALISE" "${base[@]}" --retries 1000000
  assert_contains "$LAST_ERR" "--retries: must be from 0 to 100"
  for t in 1e30 inf nan -1; do
    expect_exit 2 "$VALISE" "${base[@]}" --io-timeout "$t"
    assert_contains "$LAST_ERR" "--io-timeout: must be from 0 to 86400"
  done
  assert_not_contains "$LAST_ALL" "terminate called"
done
[[ ! -e "$W/never.vm" ]] || fail "a refused manifest left its output"
# The bounds themselves are taken (--depth 1024 would pin 1 GiB).
expect_exit 0 "$VALISE" verify --no-progress -m "$W/m.vm" "$S" \
  --depth 1 --threads 1024 --retries 100 --io-timeout 86400

# ------------------------- buffers that cannot fit: refused before reading
# Under ulimit -v 1 GiB: verify with 1000 reads in flight of 1 MiB (the
# chunk size of M's chunk index), manifest with 64 of 64 MiB.
limited=(bash -c 'ulimit -v 1048576 && exec "$0" "$@"' "$VALISE")
expect_exit 2 "${limited[@]}" verify --no-progress -m "$W/m.vm" "$S" \
  --depth 1000
assert_contains "$LAST_ERR" "buffer pool:"
assert_contains "$LAST_ERR" "do not fit in memory"
assert_contains "$LAST_ERR" "lower --depth or --chunk-size"
assert_not_contains "$LAST_ALL" "terminate called"
expect_exit 2 "${limited[@]}" manifest --no-progress "$S" -o "$W/never.vm" \
  --depth 64 --chunk-size 65536
assert_contains "$LAST_ERR" "do not fit in memory"
[[ ! -e "$W/never.vm" ]] || fail "a refused manifest left its output"
# The defaults fit under the same limit.
expect_exit 0 "${limited[@]}" verify --no-progress -m "$W/m.vm" "$S"

# ---------------------------------------- open files (issue 12, item 10)
# `ulimit -n 10` (soft and hard): manifest printed the same EMFILE line
# once per file (1,214 times); now the run stops once, naming the limit.
M=$W/many
mkdir -p "$M"
for i in $(seq 1 200); do printf '%s\n' "$i" >"$M/f$i"; done
expect_exit 0 "$VALISE" manifest --no-progress "$M" -o "$W/many.vm"
expect_exit 2 bash -c 'ulimit -n 10 && exec "$0" "$@"' "$VALISE" \
  manifest --no-progress "$M" -o "$W/few.vm"
assert_contains "$LAST_ERR" "ulimit -n is 10"
lines=$(grep -c 'Too many open files' <<<"$LAST_ERR" || true)
((lines <= 2)) || fail "EMFILE said $lines times, not once: $LAST_ERR"
assert_contains "$LAST_ERR" "file(s) could not be read; first: out of file descriptors"
[[ ! -e "$W/few.vm" ]] || fail "a failed manifest left its output"
# A low soft limit under a higher hard one is only a default: raised, so
# ingest of many small files (a source and a staging file each in
# flight) completes where it stopped under 40 descriptors.
hard=$(ulimit -Hn)
if [[ $hard == unlimited ]] || ((hard >= 256)); then
  expect_exit 0 bash -c 'ulimit -Sn 40 && exec "$0" "$@"' "$VALISE" \
    ingest --no-progress -m "$W/many.vm" -d "$W/D" "$M"
  expect_exit 0 "$VALISE" verify --no-progress -m "$W/many.vm" "$W/D"
else
  # Not skipped silently: this machine's hard limit is itself low.
  log "hard limit $hard < 256: the soft-limit case needs a higher one"
  fail "ulimit -Hn is $hard here"
fi
# ------------------------------------------------- the scheduling policy
# valise runs as a batch job (SCHED_BATCH): its threads do not preempt
# one another on each wake. A policy the operator chose is kept. Each run
# waits on its manifest (a pipe written 5 s later) while its policy is read.
policy_of_run() {  # policy_of_run [chrt args...]: prints valise's policy
  "$@" "$VALISE" verify --no-progress -m <(sleep 5; cat "$W/m.vm") "$S" \
    >/dev/null 2>&1 &
  local pid=$! exe got
  exe=$(readlink -f "$VALISE")
  # Until the shell (and chrt) have exec'd valise, then a moment for its
  # Main to start: it waits on the pipe for seconds more.
  for _ in $(seq 1 40); do
    [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == "$exe" ]] && break
    sleep 0.1
  done
  sleep 0.5
  got=$(chrt -p "$pid" | sed -n 's/.*scheduling policy: //p')
  wait "$pid" || fail "verify under '$*' exited $?"
  printf '%s\n' "$got"
}
got=$(policy_of_run)
[[ $got == SCHED_BATCH ]] || fail "valise ran as '$got', not SCHED_BATCH"
got=$(policy_of_run chrt --idle 0)
[[ $got == SCHED_IDLE ]] || fail "chrt --idle: valise ran as '$got'"
log "PASS"
