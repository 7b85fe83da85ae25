#!/usr/bin/env bash
# Goal: scripts/bench-peers (bash that makes the drives, the Python harness
# in bench/peers/ that runs, times and renders) keeps working end to end,
# at tiny sizes: verify (drives in memory), ingest (both
# DEST rigs, xfs over /dev/shm and over the disk; large files, small
# files, a real source tree (300 files of /usr/include), duplicates; the
# metadata limit), memory (20,000 entries) and render. Each part exits 0
# and writes its results JSON (schema valise-bench-peers/1) into
# --results, never into bench/results: the machine (CPU, cores, memory,
# kernel), the tree (commit, dirty flag), the load before and after, every
# run of every tool with its wall and CPU time, the medians, every ratio
# the part measures with its figure's target from bench/targets.json and
# whether it was met (the CPU figure with its three terms, small files
# against rsync and the metadata limit on each DEST, memory against its
# budget; valise bench's prediction from its runs, each beside the
# ingest it predicts). The ingests really placed and verified the files (valise's
# kept reports: exit 0, every file ok with its sha256, the duplicate a
# reflink on xfs, `valise verify -m M DEST` passed). render writes
# --doc (a section per part and every figure of bench/targets.json) and
# --design's figures table, never docs/; check-figures accepts the table
# it wrote. Nothing of the script's stays mounted or attached. About 80 s
# alone on the 2-core machine (up to 5 minutes beside the other tests with
# the machine busy). `verify --drives-on disk` differs from verify only by
# where the rig puts the images, which the ingest's disk DEST exercises.
source "$(dirname "$0")/lib.sh"
need_root
command -v python3 >/dev/null || fail "python3 missing (scripts/lib/deps.sh)"

BENCH=$E2E_REPO/scripts/bench-peers
W=$VALISE_WORK
RESULTS=$W/results
OUTDOC=$W/benchmarks.md
DESIGN=$W/design.md
REPORTS=$W/reports
mkdir -p "$REPORTS"
cp "$E2E_REPO/docs/design.md" "$DESIGN"

watched() { sha256sum "$E2E_REPO/docs/benchmarks.md" "$E2E_REPO/docs/design.md" \
  2>/dev/null; ls "$E2E_REPO/bench/results" 2>/dev/null || true; }
# Mounts and loop devices of any bench-peers rig (scratch directories named
# valise-bench*), to tell ours from others'.
bench_mounts() { (grep -o '[^ ]*valise-bench[^ ]*' /proc/mounts || true) | sort; }
bench_loops() { (losetup -a | grep 'valise-bench' || true) | sort; }
before=$(watched)
mounts_before=$(bench_mounts)
loops_before=$(bench_loops)

# part NAME ARGS...: one part in the background (if this test is stopped,
# the harness is told by its PID and tears its rig down), exit 0 expected.
part() {
  log "scripts/bench-peers $*"
  "$BENCH" "$@" --runs 1 --results "$RESULTS" --doc "$OUTDOC" \
    >"$LAST_OUT" 2>"$LAST_ERR" </dev/null &
  local pid=$! rc=0
  valise_on_cleanup "kill -TERM $pid; wait $pid"
  wait "$pid" || rc=$?
  if ((rc != 0)); then
    _show_file stderr "$LAST_ERR" >&2
    fail "bench-peers $1 exited $rc"
  fi
}
part verify --size-gb 0.01 --drives 2 --bench-seconds 1
part ingest --size-gb 0.004 --drives 2 --small-files 200 \
  --tree-source /usr/include --tree-files 300 --dup-gb 0.002 \
  --bench-seconds 0.2 --reports "$REPORTS"
part memory --entries 20000 --present 200
log "render, check-figures"
"$BENCH" render --results "$RESULTS" --doc "$OUTDOC" --design "$DESIGN" \
  >"$LAST_OUT" 2>"$LAST_ERR" || fail "bench-peers render exited $?"
"$BENCH" check-figures --design "$DESIGN" >"$LAST_OUT" 2>"$LAST_ERR" ||
  fail "check-figures refused the table render wrote"

log "docs/ and bench/results untouched"
assert_eq "$before" "$(watched)" "docs/benchmarks.md, docs/design.md, bench/results"

log "the results: every run, every ratio, every target"
python3 - "$RESULTS" "$E2E_REPO/bench/targets.json" <<'PY' || fail "results JSON"
import glob, json, re, sys
results, targets = sys.argv[1], json.load(open(sys.argv[2]))
targets = {t["id"]: t for t in targets["figures"]}
docs = {}
for p in glob.glob(results + "/*.json"):
    d = json.load(open(p))
    assert d["schema"] == "valise-bench-peers/1", p
    docs[d["part"]] = d
assert sorted(docs) == ["ingest", "memory", "verify"], sorted(docs)
want = {
    "verify": ["raw_read", "verify_xxh128", "verify_default_digests",
               "cpu_sha256", "verify_vs_sha256sum", "verify_vs_hashdeep",
               "verify_vs_rclone", "verify_vs_sha256sum_parallel"],
    "ingest": [r + "_" + k for k in ("shm", "disk") for r in (
        "ingest_large_limit", "ingest_vs_rsync", "ingest_vs_cp_sha256sum",
        "ingest_vs_rclone", "bench_prediction", "dup_vs_rsync")] +
        ["small_vs_rsync_%s_%s" % (k, s) for k in ("shm", "disk")
         for s in ("small", "tree")] +
        ["small_vs_metadata_limit_%s_%s" % (s, k) for k in ("shm", "disk")
         for s in ("small", "tree")] +
        ["small_verify_vs_%s_%s" % (p, s) for p in ("hashdeep", "sha256sum")
         for s in ("small", "tree")],
    "memory": ["memory_ingest", "memory_verify"],
}
for part, d in docs.items():
    m = d["machine"]
    assert m["cpu_model"] and m["cores"] >= 1 and m["memory_bytes"] > 0 \
        and m["kernel"], m
    assert re.fullmatch("[0-9a-f]{40}", d["tree"]["commit"] or ""), d["tree"]
    assert isinstance(d["tree"]["dirty"], bool), d["tree"]
    assert len(d["load"]["before"]) == 3 and len(d["load"]["after"]) == 3
    assert d["exit_code"] == 0 and d["runs"] == 1, (part, d["exit_code"])
    for t in d["tools"]:
        assert len(t["runs"]) == 1, (part, t["id"])
        for r in t["runs"]:
            assert r["ok"] and r["wall_s"] > 0 and r["cpu_s"] >= 0, \
                (part, t["id"], r)
        if t["unit"] is None:  # valise bench: its own rate only
            assert t["median"]["rate"] is None and t["own_rate"], t["id"]
        else:
            assert t["median"]["rate"] > 0, (part, t["id"])
        if t["own_rate"]:
            assert t["median"]["own_rate"] > 0, (part, t["id"])
    ids = [r["id"] for r in d["ratios"]]
    assert sorted(ids) == sorted(want[part]), (part, sorted(ids))
    for r in d["ratios"]:
        assert isinstance(r["value"], (int, float)) and r["value"] > 0, \
            (part, r)
        if r["figure"]:
            t = targets[r["figure"]]
            assert (r["op"], r["threshold"]) == (t["op"], t["threshold"]), r
            assert isinstance(r["met"], bool), r
cpu = [r for r in docs["verify"]["ratios"] if r["id"] == "cpu_sha256"][0]
for k in ("valise_sha256_cpu_s", "bare_sha256_cpu_s", "read_cpu_s"):
    assert cpu["terms"][k] > 0, cpu
ing = docs["ingest"]
assert ing["sets"]["small"]["files"] == 200, ing["sets"]["small"]
assert ing["sets"]["tree"]["files"] == 300, ing["sets"]["tree"]
assert sorted(ing["rig"]["dests"]) == ["dest-disk", "dest-shm"]
assert ing["rig"]["dests"]["dest-shm"]["where"] == "shm"
assert ing["rig"]["dests"]["dest-disk"]["where"] == "disk"
for tid, v in ing["extra"]["verify_dest"].items():
    assert v == "passed", (tid, v)
assert len(ing["extra"]["verify_dest"]) == 8, ing["extra"]["verify_dest"]
tools = {t["id"] for t in ing["tools"]}
for k in ("shm", "disk"):
    for s in ("small", "tree"):
        assert "limit_%s_%s" % (s, k) in tools, (s, k)
    # valise bench, each run just before the ingest it predicts
    assert "bench_big_" + k in tools, k
    p = [r for r in ing["ratios"] if r["id"] == "bench_prediction_" + k][0]
    b = [t for t in ing["tools"] if t["id"] == "bench_big_" + k][0]
    assert p["terms"]["predicted"] == b["median"]["own_rate"], (p, b)
    assert ing["extra"]["bench"][k]["predicted_rate_bytes_per_s"] > 0
mem = docs["memory"]
for r in mem["ratios"]:
    assert r["terms"]["peak_rss_bytes"] > 0 and r["terms"]["entries"] == 20000
PY

log "the ingests placed and verified every file"
for k in shm disk; do
  for s in big small tree dup; do
    R=$REPORTS/ingest-valise_${s}_$k.json
    json "$R" check || fail "$R is not JSON"
    assert_eq 0 "$(json "$R" get exit_code)" "$s $k: ingest exit_code"
    assert_eq 0 "$(json "$R" get totals.files_problem)" "$s $k: files_problem"
    bad=$(json "$R" rows files status digests.sha256 |
      awk -F'\t' '$1 != "ok" || length($2) != 64 || $2 ~ /[^0-9a-f]/' | wc -l)
    assert_eq 0 "$bad" "$s $k: files not ok or without a sha256"
    assert_eq 0 "$(json "$REPORTS/verify-dest-valise_${s}_$k.json" get exit_code)" \
      "$s $k: verify of DEST"
  done
  R=$REPORTS/ingest-valise_dup_$k.json
  reflinks=$(json "$R" rows files detail | grep -c '^reflink of ' || true)
  assert_eq 1 "$reflinks" "dup $k: files placed as a reflink"
done

log "the rendered documents"
assert_contains "$OUTDOC" "<!-- bench-peers results: begin"
assert_contains "$OUTDOC" "<!-- bench-peers results: end -->"
for title in "### verify, large files, drives in memory" \
  "### ingest, and verify of small files" \
  "### memory: peak RSS with a large manifest" \
  "### Every figure, from the newest results above" \
  "CPU per byte, the three terms of \`cpu_sha256\`"; do
  assert_contains "$OUTDOC" "$title"
done
assert_matches "$OUTDOC" 'DEST `shm`: xfs on a loop device over an image in /dev/shm'
assert_matches "$OUTDOC" 'DEST `disk`: xfs on a loop device over an image on [^ ]+ \('
# Every figure has a row in the summary: measured for the parts run here,
# "not in the results" or "not measured yet" for the others (s3 needs a
# Ceph cluster; pack is not run here: `scripts/bench-peers pack`).
python3 - "$OUTDOC" "$E2E_REPO/bench/targets.json" <<'PY' || fail "summary"
import json, sys
text = open(sys.argv[1]).read()
summary = text[text.index("### Every figure"):]
run_here = {"verify", "ingest", "memory"}
for t in json.load(open(sys.argv[2]))["figures"]:
    rows = [l for l in summary.splitlines() if l.startswith("| %s |" % t["id"])]
    assert rows, t["id"]
    for r in rows:
        if t["part"] in run_here:
            assert r.split(" | ")[4].replace(".", "").isdigit(), r
        else:
            assert r.split(" | ")[4].startswith("not "), r
PY
assert_contains "$DESIGN" "<!-- figures: begin"

log "nothing of the script's left mounted or attached"
assert_eq "$mounts_before" "$(bench_mounts)" "bench-peers mounts"
assert_eq "$loops_before" "$(bench_loops)" "bench-peers loop devices"
log "PASS"
