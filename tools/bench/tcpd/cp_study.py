#!/usr/bin/env python3
"""The parameter study of st_changepoints (offline change points).

Builds tools/bench/tcpd/cp_grid.c with cc into build/study/, runs every
combination of a parameter grid over the 32 TCPD series once, scores each
with the TCPDBench metrics, and prints:

  * in-sample: the combination with the best mean of (F1 + cover) / 2 over
    all 32 series, and its F1 and cover;
  * leave-one-out: for each series, the combination best on the other 31,
    scored on the left-out series; F1 and cover averaged over the 32.  The
    gap between the two is what choosing the parameters on the same data
    bought.

  python3 tools/bench/tcpd/cp_study.py [GRID.json]

GRID.json: {"key": [values...], ...} with cp_grid.c's keys; without it the
grid below (the one behind ST_CP_PARAMS_DEFAULT's figures) is used.
"""
import itertools
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import tcpd_metrics as metrics  # noqa: E402

GRID = {
    "hazard": [0.003, 0.01],
    "threshold": [0.8, 0.95],
    "merge_penalty": [0, 1, 2, 3, 4, 5, 6, 7],
    "merge_trend": [0, 1],
    "var_floor": [0.01, 0.1],
}


def build():
    out = os.path.join(REPO, "build", "study", "cp_grid")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    src = [os.path.join(HERE, "cp_grid.c")] + [
        os.path.join(REPO, "control", "detect", f)
        for f in ("changepoints.c", "bocpd.c", "series.c")]
    subprocess.run(["cc", "-O2", "-I", REPO, "-o", out] + src +
                   ["-ljansson", "-lm"], check=True)
    return out


def main(argv):
    grid = GRID
    if argv:
        with open(argv[0]) as f:
            grid = json.load(f)
    data = os.path.join(os.environ.get(
        "SHADOWTAP_SHARED_DATA", os.path.join(REPO, "..", "shared", "data")),
        "tcpd")
    with open(os.path.join(data, "annotations.json")) as f:
        annos = json.load(f)
    names = sorted(n for n in annos
                   if os.path.exists(os.path.join(data, n + ".json")))
    n_obs = {}
    for name in names:
        with open(os.path.join(data, name + ".json")) as f:
            n_obs[name] = json.load(f)["n_obs"]
    keys = sorted(grid)
    combos = list(itertools.product(*(grid[k] for k in keys)))
    stdin = "".join(" ".join("%s=%r" % kv for kv in zip(keys, c)) + "\n"
                    for c in combos)
    out = subprocess.run([build()] + [os.path.join(data, n + ".json")
                                      for n in names],
                         input=stdin, capture_output=True, text=True,
                         check=True).stdout
    f1 = [[0.0] * len(names) for _ in combos]
    cover = [[0.0] * len(names) for _ in combos]
    for line in out.splitlines():
        w = [int(x) for x in line.split()]
        c, s, cps = w[0], w[1], w[2:]
        name = names[s]
        cps = metrics.clean_predictions(cps, n_obs[name])
        f1[c][s] = metrics.f1_score(annos[name], cps)
        cover[c][s] = metrics.cover_score(annos[name], cps, n_obs[name])

    def objective(c, skip=None):
        idx = [s for s in range(len(names)) if s != skip]
        return sum(f1[c][s] + cover[c][s] for s in idx) / (2 * len(idx))

    def mean(v):
        return sum(v) / len(v)

    ranked = sorted(range(len(combos)), key=lambda c: -objective(c))
    print("%d combinations; best in-sample:" % len(combos))
    for c in ranked[:10]:
        print("  F1 %.3f cover %.3f  %s" % (
            mean(f1[c]), mean(cover[c]),
            " ".join("%s=%r" % kv for kv in zip(keys, combos[c]))))
    loo_f1, loo_cover = [], []
    for s in range(len(names)):
        best = max(range(len(combos)), key=lambda c: objective(c, s))
        loo_f1.append(f1[best][s])
        loo_cover.append(cover[best][s])
    print("leave-one-out: F1 %.3f cover %.3f" % (mean(loo_f1), mean(loo_cover)))
    best_set = ranked[0]
    print("best in-sample per series (f1 cover):")
    for s, name in enumerate(names):
        print("  %-20s %.3f %.3f" % (name, f1[best_set][s], cover[best_set][s]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
