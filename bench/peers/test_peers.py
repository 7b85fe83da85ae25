"""Unit tests of the harness's pure parts: targets, timing, the record,
rendering. No root, no drives (ctest: bench_peers_unit). The whole
harness, at tiny sizes, is the e2e test bench_peers_smoke."""

import json
import os
import tempfile
import unittest

import harness
import render


class Targets(unittest.TestCase):
    # Goal: every figure has what the harness and docs/design.md need, and
    # the ops mean what they say.
    def test_figures_complete(self):
        figs = harness.load_targets()
        self.assertIn("small_vs_metadata_limit", figs)
        for fid, t in figs.items():
            for k in ("what", "against", "op", "threshold", "reason",
                      "part"):
                self.assertIn(k, t, fid)
            self.assertIn(t["op"], (">=", "<=", "within"), fid)
            self.assertIn(t["part"], ("verify", "ingest", "memory", "s3", "pack",
                                     "chunkdedup", None),
                          fid)

    def test_meets(self):
        self.assertTrue(harness.meets(">=", 0.95, 0.95))
        self.assertFalse(harness.meets(">=", 0.95, 0.949))
        self.assertTrue(harness.meets("<=", 1.10, 1.10))
        self.assertFalse(harness.meets("<=", 1.10, 1.2))
        self.assertTrue(harness.meets("within", 0.15, 0.86))
        self.assertTrue(harness.meets("within", 0.15, 1.14))
        self.assertFalse(harness.meets("within", 0.15, 1.2))
        self.assertIsNone(harness.meets(">=", 1, None))


class Timed(unittest.TestCase):
    # Goal: wall time covers the command and the sync of a writer; CPU
    # counts the children of a shell; an exit status outside ok_codes is
    # an error, one inside is not.
    def test_timing(self):
        with tempfile.TemporaryDirectory() as d:
            log = os.path.join(d, "log")
            t = harness.timed("sleep 0.2; (i=0; while [ $i -lt 20000 ]; do "
                              "i=$((i+1)); done)", log, durable=d)
            self.assertTrue(t.ok, t.error)
            self.assertGreaterEqual(t.wall_s, 0.2)
            self.assertGreater(t.cpu_s, 0)
            self.assertGreater(t.maxrss_kib, 0)
            with open(log) as f:
                self.assertIn("sleep 0.2", f.read())
            self.assertEqual(harness.timed(["false"], log).error, "exit 1")
            self.assertTrue(harness.timed(["false"], log, ok_codes=(1,)).ok)


def fake_doc(part="verify", started="2026-12-01T00:00:00Z", wall=2.0):
    rec = harness.Record(part, "scripts/bench-peers %s" % part, 2,
                         harness.load_targets())
    rec.add_set("big", "four drives", 8, 4 * 10 ** 9)
    fio = rec.add_tool(harness.Tool("fio_read", "fio read", "big",
                                    own_rate="own_rate"))
    val = rec.add_tool(harness.Tool("valise_xxh128", "valise xxh128", "big"))
    bad = rec.add_tool(harness.Tool("sha256sum", "sha256sum -c", "big"))
    for w in (wall, wall * 1.5):
        t = harness.Timing()
        t.wall_s, t.user_s, t.exit_code = w, 0.5, 0
        t.extra["own_rate"] = 2.5e9
        fio.runs.append(t)
        v = harness.Timing()
        v.wall_s, v.user_s, v.exit_code = w / 2, 1.0, 0
        val.runs.append(v)
    b = harness.Timing()
    b.exit_code, b.error = 1, "exit 1"
    bad.runs.append(b)
    rec.rate_ratio("verify_xxh128", "valise / fio", "valise_xxh128",
                   "fio_read", "verify_xxh128")
    rec.rate_ratio("verify_vs_sha256sum", "valise / sha256sum",
                   "valise_xxh128", "sha256sum", "verify_vs_sha256sum")
    rec.tree = {"commit": "0123456789abcdef0123456789abcdef01234567",
                "dirty": False, "valise": "/bin/valise",
                "valise_version": "valise 0.1.0", "built_from": None}
    rec.started = __import__("datetime").datetime.strptime(
        started, "%Y-%m-%dT%H:%M:%SZ")
    return rec


class Record(unittest.TestCase):
    # Goal: medians, rates and ratios come from the runs; a failed tool
    # has no rate and its ratios no value.
    def test_rates_and_ratios(self):
        rec = fake_doc()
        self.assertAlmostEqual(rec.rate("fio_read"), 4e9 / 2.5)
        self.assertAlmostEqual(rec.rate("valise_xxh128"), 4e9 / 1.25)
        self.assertIsNone(rec.rate("sha256sum"))
        r = {x["id"]: x for x in rec.ratios}
        self.assertAlmostEqual(r["verify_xxh128"]["value"], 2.0)
        self.assertTrue(r["verify_xxh128"]["met"])
        self.assertEqual(r["verify_xxh128"]["threshold"], 0.95)
        self.assertIsNone(r["verify_vs_sha256sum"]["value"])
        self.assertIsNone(r["verify_vs_sha256sum"]["met"])
        doc = rec.to_json(1)
        self.assertEqual(doc["schema"], harness.SCHEMA)
        fio = [t for t in doc["tools"] if t["id"] == "fio_read"][0]
        self.assertEqual([x["wall_s"] for x in fio["runs"]], [2.0, 3.0])
        self.assertEqual(fio["median"]["own_rate"], 2.5e9)

    def test_own_rate_only(self):
        # A tool that does not move the set in its time (valise bench's
        # prediction) has its own rate's median and no rate of its own.
        rec = fake_doc()
        pred = rec.add_tool(harness.Tool("bench_big", "valise bench", "big",
                                         unit=None, own_rate="predicted"))
        for p in (3e9, 1e9, 2e9):
            t = harness.Timing()
            t.wall_s, t.exit_code = 5.0, 0
            t.extra["predicted"] = p
            pred.runs.append(t)
        self.assertIsNone(rec.rate("bench_big"))
        self.assertEqual(rec.own_rate("bench_big"), 2e9)


class Render(unittest.TestCase):
    # Goal: the newest result of each part is rendered between the markers
    # (text around them kept), a failed tool says so, every figure of
    # bench/targets.json has a row, and design.md's table round-trips.
    def test_render(self):
        with tempfile.TemporaryDirectory() as d:
            res = os.path.join(d, "results")
            old = fake_doc(wall=4.0, started="2026-11-01T00:00:00Z")
            new = fake_doc(wall=2.0)
            old.write(res, 1)
            new.write(res, 1)
            doc = os.path.join(d, "benchmarks.md")
            with open(doc, "w") as f:
                f.write("# title\n\nhand-written notes\n\n%s\nold\n%s\n\n"
                        "more notes\n" % (render.RESULTS_BEGIN,
                                          render.RESULTS_END))
            render.render_benchmarks(res, doc, harness.load_targets())
            with open(doc) as f:
                text = f.read()
            self.assertIn("hand-written notes", text)
            self.assertIn("more notes", text)
            self.assertNotIn("\nold\n", text)
            self.assertEqual(text.count(render.RESULTS_BEGIN), 1)
            self.assertIn("| 2.00 | verify_xxh128 | >= 0.95 | yes |", text)
            self.assertIn("failed (run 1: exit 1)", text)
            self.assertIn("2.000 3.000", text)  # the newest run's walls
            self.assertNotIn("4.000", text)
            for fid in harness.load_targets():
                self.assertIn("| %s |" % fid, text)
            design = os.path.join(d, "design.md")
            with open(design, "w") as f:
                f.write("# d\n\n%s\n%s\n" % (render.FIGURES_BEGIN,
                                             render.FIGURES_END))
            self.assertFalse(render.design_is_current(
                design, harness.load_targets()))
            render.render_design(design, harness.load_targets())
            self.assertTrue(render.design_is_current(
                design, harness.load_targets()))
            with open(os.path.join(res, os.listdir(res)[0])) as f:
                json.load(f)


if __name__ == "__main__":
    unittest.main()


class S3Part(unittest.TestCase):
    # Goal: the s3 part reads the limits' own rates (s3_put_limit's JSON
    # line, rados bench's MiB/s), refuses a limit run that sent fewer
    # PUTs than asked, and compares valise with the best peer of each set.
    def test_limits_parsed(self):
        import part_s3
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "limit.json")
            with open(p, "w") as f:
                f.write('{"mode":"put","size":16,"jobs":16,"requests":64,'
                        '"bytes":1073741824,"seconds":4.0,"mib_per_s":256,'
                        '"retries":1}\n')
            t = harness.Timing()
            self.assertIsNone(part_s3.limit_check(t, p, 64))
            self.assertEqual(t.extra["own_rate"], 1073741824 / 4.0)
            self.assertEqual(t.extra["requests_per_s"], 16.0)
            self.assertIn("64 PUTs of 65", part_s3.limit_check(t, p, 65))
            log = os.path.join(d, "rados.log")
            with open(log, "w") as f:
                f.write("Total time run: 4.2\nBandwidth (MB/sec):     238.5\n")
            t = harness.Timing()
            t.extra["log"] = log
            self.assertIsNone(part_s3.rados_check(None, t))
            self.assertEqual(t.extra["own_rate"], 238.5 * (1 << 20))

    def test_ratios_against_the_best_peer(self):
        import part_s3
        rec = harness.Record("s3", "scripts/bench-peers s3", 1,
                             harness.load_targets())
        rec.add_set("large", "large", 4, 4 * 10 ** 9)
        rec.add_set("small", "small", 2000, 7 * 10 ** 7)
        walls = {"valise_large": 10, "rclone_large": 20, "aws_large": 25,
                 "s3cmd_large": 40, "rgw_limit_large": 8,
                 "rados_limit_large": 5, "valise_small": 4,
                 "rclone_small": 20, "aws_small": 16, "s3cmd_small": 30,
                 "rgw_limit_small": 2}
        for tid, wall in walls.items():
            sid = tid.rsplit("_", 1)[1]
            tool = rec.add_tool(harness.Tool(
                tid, tid, sid, unit="files" if sid == "small" else "bytes"))
            t = harness.Timing()
            t.wall_s, t.exit_code = wall, 0
            tool.runs.append(t)
        part_s3.ratios(rec)
        r = {x["id"]: x for x in rec.ratios}
        self.assertAlmostEqual(r["s3_large_limit"]["value"], 0.8)
        self.assertFalse(r["s3_large_limit"]["met"])
        self.assertAlmostEqual(r["s3_large_vs_peers"]["value"], 2.0)
        self.assertTrue(r["s3_large_vs_peers"]["met"])
        self.assertIn("rclone_large", r["s3_large_vs_peers"]["label"])
        self.assertAlmostEqual(r["s3_small_vs_peers"]["value"], 4.0)
        self.assertIn("aws_small", r["s3_small_vs_peers"]["label"])
        self.assertAlmostEqual(r["s3_rgw_rados"]["value"], 5 / 8)


class FioPart(unittest.TestCase):
    # Goal: fio's rate is its group's (every job's bytes over the longest
    # job's runtime), not the sum of the jobs' own rates, which counts
    # jobs that ended early as if they still ran.
    def test_group_rate(self):
        from part_verify import fio_totals
        doc = {"jobs": [
            {"read": {"io_bytes": 512 << 20, "runtime": 163,
                      "bw_bytes": (512 << 20) * 1000 // 163}},
            {"read": {"io_bytes": 512 << 20, "runtime": 202,
                      "bw_bytes": (512 << 20) * 1000 // 202}}]}
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "fio.json")
            with open(p, "w") as f:
                f.write("note: fio says something first\n" + json.dumps(doc))
            got, rate = fio_totals(p, "read")
            self.assertEqual(got, 1 << 30)
            self.assertAlmostEqual(rate, (1 << 30) * 1000 / 202)
            self.assertLess(rate, sum(j["read"]["bw_bytes"]
                                      for j in doc["jobs"]))
