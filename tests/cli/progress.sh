#!/usr/bin/env bash
# Goal (issue 14, "during a run"): progress that holds up in production,
# seen from the command line with stderr not a terminal:
#  - --stats DURATION prints one line per interval on stderr and a last
#    one of average rates ("valise: done in ... avg ..."); without --stats
#    a run shorter than the default 60 s prints none; --stats 0 none; a
#    bad DURATION is exit 2;
#  - --metrics FILE leaves a Prometheus text-format file that a parser of
#    the format accepts (HELP and TYPE for every metric, names, label
#    escaping), with the drive as a label and its bytes and files, and
#    valise_run_running 0 once the run ended; nothing else left beside it;
#    a FILE in a missing directory is refused before any drive is read;
#    --metrics never replaces an input (the manifest).
# Plain directories; about 2 s.
source "$(dirname "$0")/../e2e/lib.sh"

W=$VALISE_WORK
cd "$W"
mkdir -p S1 S2 out
gen_file S1/a 300000 a
gen_file S1/sub/b 5000 b
gen_file S2/c 200000 c
expect_exit 0 "$VALISE" manifest --no-progress S1 S2 -o M

log "--stats 1h: no interval passes, the last line has the averages"
expect_exit 0 "$VALISE" ingest -q -m M -d D1 --stats 1h --metrics out/v.prom \
  S1 S2
assert_matches "$LAST_ERR" "^valise: done in [0-9:]+ total 493.2 KiB avg [0-9.]+ MB/s \| S1 297.9 KiB avg [0-9.]+ MB/s \| S2 195.3 KiB avg [0-9.]+ MB/s"
assert_not_contains "$LAST_ERR" $'\x1b'

log "the metrics file: the text format, every drive, the run ended"
[[ "$(ls -A out)" == v.prom ]] || fail "beside the metrics file: $(ls -A out)"
python3 - out/v.prom <<'PY' || fail "metrics file: $(cat out/v.prom)"
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
assert text.endswith("\n"), "no final newline"
name = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
value = r'(?:[^"\\\n]|\\[\\"n])*'
sample = re.compile(rf'({name})(?:\{{({name})="({value})"\}})? (\S+)$')
typed, helped, samples, current = {}, set(), {}, None
for line in text.splitlines():
    if line.startswith("# HELP "):
        n = line.split(" ")[2]
        assert re.fullmatch(name, n) and n not in typed, line
        helped.add(n)
    elif line.startswith("# TYPE "):
        _, _, n, t = line.split(" ")
        assert n in helped and n not in typed, line
        assert t in ("counter", "gauge"), line
        assert t != "counter" or n.endswith("_total"), line
        typed[n] = t
        current = n
    else:
        m = sample.match(line)
        assert m and m.group(1) == current, "stray line: " + line
        assert m.group(2) in (None, "drive"), line
        float(m.group(4))
        samples[(m.group(1), m.group(3))] = float(m.group(4))
want = {
    ("valise_drive_read_bytes_total", "S1"): 305000,
    ("valise_drive_read_bytes_total", "S2"): 200000,
    ("valise_drive_planned_bytes", "S1"): 305000,
    ("valise_drive_files_done_total", "S1"): 2,
    ("valise_drive_planned_files", "S2"): 1,
    ("valise_drive_read_errors_total", "S1"): 0,
    ("valise_drive_stalled", "S2"): 0,
    ("valise_run_running", None): 0,
}
for k, v in want.items():
    assert samples.get(k) == v, f"{k}: {samples.get(k)} != {v}"
assert ("valise_drive_read_rate_bytes_per_second", "S1") in samples
assert ("valise_run_elapsed_seconds", None) in samples
PY

log "without --stats: a short run prints no stats line; --stats 0 none"
expect_exit 0 "$VALISE" ingest -m M -d D2 S1 S2
assert_not_contains "$LAST_ERR" "valise: done in"
expect_exit 0 "$VALISE" verify -m M --stats 0 S1 S2
assert_not_contains "$LAST_ERR" "valise: done in"
expect_exit 0 "$VALISE" verify -q -m M --stats 500ms S1 S2
assert_contains "$LAST_ERR" "valise: done in "

log "bad --stats, and --metrics where it cannot be: exit 2, nothing read"
expect_exit 2 "$VALISE" verify -m M --stats 5x S1 S2
assert_contains "$LAST_ERR" "--stats: '5x' is not a duration"
expect_exit 2 "$VALISE" verify -m M --stats 2d S1 S2
expect_exit 2 "$VALISE" ingest -m M -d D3 --metrics nodir/v.prom S1 S2
assert_contains "$LAST_ERR" "nodir/v.prom"
[[ ! -e D3 ]] || fail "a refused --metrics made DEST"
cp M M.before
expect_exit 2 "$VALISE" verify -m M --metrics M S1 S2
cmp -s M M.before || fail "--metrics replaced the manifest"
log "ok"
