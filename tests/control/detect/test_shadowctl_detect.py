#!/usr/bin/env python3
"""shadowctl detect end to end: good, malformed and truncated CSV and TCPD
JSON files written here (the oracle: the change point the test built into
the series, the line the test broke), plus one real TCPD series whose single
annotated change (nile, index 28, all annotators who marked one) the output
must contain.  Exit status 1 on any failure."""
import json
import os
import random
import subprocess
import sys
import tempfile

SHADOWCTL = os.environ["SHADOWCTL"]
DATA = os.environ["SHADOWTAP_SHARED_DATA"]
failures = 0


def check(what, ok):
    global failures
    print(("ok   " if ok else "FAIL ") + what)
    failures += 0 if ok else 1


def run(*args):
    return subprocess.run([SHADOWCTL, "detect", *args], capture_output=True,
                          text=True)


def write(d, name, text):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    return path


with tempfile.TemporaryDirectory() as d:
    rng = random.Random(7)
    rows = ["%d,%.6f" % (i, rng.gauss(0, 1) + (6 if i >= 120 else 0))
            for i in range(240)]
    good_csv = write(d, "good.csv", "timestamp,value\n" + "\n".join(rows) + "\n")
    p = run("--json", good_csv)
    doc = json.loads(p.stdout) if p.returncode == 0 else {}
    check("csv: exit 0, one JSON object", p.returncode == 0 and
          list(doc) == ["change_points"])
    cps = doc.get("change_points", [])
    check("csv: the built change at 120 found (+-3), nothing else: %s" % cps,
          len(cps) == 1 and abs(cps[0] - 120) <= 3)
    p = run(good_csv)
    check("csv: readable output lists it", p.returncode == 0 and
          "240 observations" in p.stdout and "1 change point" in p.stdout)

    series = [None if i in (5, 6) else rng.gauss(0, 1) + (6 if i >= 80 else 0)
              for i in range(160)]
    tcpd = {"name": "t", "n_obs": 160, "n_dim": 1,
            "time": {"index": list(range(160))},
            "series": [{"label": "V1", "raw": series}]}
    good_json = write(d, "good.json", json.dumps(tcpd))
    p = run("--json", good_json)
    cps = json.loads(p.stdout)["change_points"] if p.returncode == 0 else []
    check("json with nulls: change at 80 found: %s" % cps,
          len(cps) == 1 and abs(cps[0] - 80) <= 3)
    p = run(good_json)
    check("json: 2 missing values reported", "2 missing values" in p.stdout)

    bad = write(d, "bad.csv", "t,v\n1,2\n2,x\n")
    p = run(bad)
    check("malformed csv: exit 1, names line 3", p.returncode == 1 and
          "line 3" in p.stderr and p.stdout == "")
    text = open(good_csv).read()
    trunc = write(d, "trunc.csv", text[:text.index("\n100,") + 3])
    p = run("--json", trunc)
    check("truncated csv (cut inside a timestamp): exit 1 with a line number",
          p.returncode == 1 and "line 102" in p.stderr)
    jtext = json.dumps(tcpd)
    p = run(write(d, "trunc.json", jtext[: len(jtext) // 2]))
    check("truncated json: exit 1, JSON error", p.returncode == 1 and
          "JSON line" in p.stderr)
    tcpd["n_obs"] = 161
    p = run(write(d, "count.json", json.dumps(tcpd)))
    check("json n_obs mismatch: exit 1, says so", p.returncode == 1 and
          "time.index has 160 entries" in p.stderr)
    p = run(os.path.join(d, "missing.csv"))
    check("missing file: exit 1", p.returncode == 1)
    p = run()
    check("no file: usage, exit 2", p.returncode == 2)
    p = run("--help")
    check("--help: exit 0, describes formats", p.returncode == 0 and
          "TCPD JSON" in p.stdout and "--json" in p.stdout)

p = run("--json", os.path.join(DATA, "tcpd", "nile.json"))
cps = json.loads(p.stdout)["change_points"] if p.returncode == 0 else []
check("nile: the annotated change at 28 is reported: %s" % cps,
      any(abs(c - 28) <= 5 for c in cps))
print("%d failure(s)" % failures)
sys.exit(1 if failures else 0)
