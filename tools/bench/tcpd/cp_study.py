#!/usr/bin/env python3
"""The parameter study of st_changepoints (offline change points).

Builds tools/bench/tcpd/cp_grid.c with cc into build/study/, runs every
parameter set of a grid over the 32 TCPD series once, scores each with the
TCPDBench metrics, and prints:

  * in-sample: the sets with the best objective over all 32 series, and
    their F1 and cover;
  * leave-one-out: for each series, the set best on the other 31, scored on
    the left-out series; F1 and cover averaged over the 32.  The gap between
    the two is what choosing the parameters on the same data bought.  Three
    selection rules (RULES below): the mean of F1 + cover (the one
    ST_CP_PARAMS_DEFAULT was first chosen by), the median over the series
    of F1 + cover, and the mean of cover alone.  The folds whose pick
    differs from the in-sample pick are listed;
  * a harsher check: the set picked on a random half of the series, scored
    on the other half, over 200 splits (half_splits).

  python3 tools/bench/tcpd/cp_study.py [GRID.json]

GRID.json: {"key": [values...], ...} with cp_grid.c's keys, or a list of
such objects (the union of their products); without it GRID below, every
variant of step 4 and step 5 considered for ST_CP_PARAMS_DEFAULT, each with
and without the seasonal profile removed before the merge (merge_season):
  * the level or line merge with a penalty in units of ln(n_obs) (256 sets);
  * the posterior odds merge (merge_bayes, no penalty of its own) with and
    without relocating the peaks (locate);
  * relocated peaks with the level or line merge.
run-tcpd-bench imports this module to print the leave-one-out figures.
"""
import itertools
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, HERE)
import tcpd_metrics as metrics  # noqa: E402

GRID = [
    {"hazard": [0.003, 0.01], "threshold": [0.8, 0.95],
     "merge_penalty": [0, 1, 2, 3, 4, 5, 6, 7], "merge_trend": [0, 1],
     "var_floor": [0.01, 0.1], "merge_season": [0, 1]},
    {"hazard": [0.003, 0.01], "threshold": [0.8, 0.95], "merge_bayes": [1],
     "merge_penalty": [1], "locate": [0, 1], "merge_season": [0, 1]},
    {"locate": [1], "merge_penalty": [2, 4, 6], "merge_trend": [0, 1],
     "merge_season": [0, 1]},
]
# cp_grid.c's starting values (ST_CP_PARAMS_DEFAULT with the merge off):
# keys a part of the grid does not name take these.
BASE = {"hazard": 0.003, "kappa": 0.03, "alpha": 1, "beta": 1, "min_lag": 3,
        "spread": 2, "threshold": 0.95, "min_gap": 10, "scale_mix": 0.75,
        "merge_penalty": 0, "var_floor": 0.01, "merge_trend": 0,
        "merge_bayes": 0, "locate": 0, "merge_season": 0}


def build():
    out = os.path.join(REPO, "build", "study", "cp_grid")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    src = [os.path.join(HERE, "cp_grid.c")] + [
        os.path.join(REPO, "control", "detect", f)
        for f in ("changepoints.c", "bocpd.c", "series.c")]
    subprocess.run(["cc", "-O2", "-I", REPO, "-o", out] + src +
                   ["-ljansson", "-lm"], check=True)
    return out


def expand(grid):
    """The parameter sets of a grid (a dict or a list of dicts), each a
    complete dict over BASE's keys."""
    sets = []
    for part in (grid if isinstance(grid, list) else [grid]):
        keys = sorted(part)
        for values in itertools.product(*(part[k] for k in keys)):
            one = dict(BASE)
            one.update(zip(keys, values))
            if one not in sets:
                sets.append(one)
    return sets


def run(grid=GRID):
    """Scores every set of the grid on every series: (sets, names, f1,
    cover), f1[c][s] and cover[c][s] of set c on series names[s]."""
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
    sets = expand(grid)
    # every line names every key, so no set inherits from the one before
    stdin = "".join(" ".join("%s=%r" % kv for kv in sorted(c.items())) + "\n"
                    for c in sets)
    out = subprocess.run([build()] + [os.path.join(data, n + ".json")
                                      for n in names],
                         input=stdin, capture_output=True, text=True,
                         check=True).stdout
    f1 = [[0.0] * len(names) for _ in sets]
    cover = [[0.0] * len(names) for _ in sets]
    for line in out.splitlines():
        w = [int(x) for x in line.split()]
        c, s, cps = w[0], w[1], w[2:]
        name = names[s]
        cps = metrics.clean_predictions(cps, n_obs[name])
        f1[c][s] = metrics.f1_score(annos[name], cps)
        cover[c][s] = metrics.cover_score(annos[name], cps, n_obs[name])
    return sets, names, f1, cover


def mean(v):
    return sum(v) / len(v)


# Selection rules: how the study picks one set from the grid on a group of
# series.  Each maps the per-series scores of one set to a sort key (larger
# is better).  "mean" (the mean of F1 + cover) is the rule the default was
# first chosen by; "median" (the median over the series of F1 + cover, ties
# broken by the mean) is moved by a series only when it crosses the middle
# of the distribution, so a few series that gain from a setting cannot
# outvote the rest; "cover" is the mean of cover alone.  With the grid
# below all three pick ST_CP_PARAMS_DEFAULT on the 32 series.  The median
# rule's leave-one-out is the best of the three only because it keeps
# `bank`'s fold; on random half splits it is the worst (half_splits).
RULES = {
    "mean": "mean of F1 + cover",
    "median": "median of F1 + cover over the series, ties by the mean",
    "cover": "mean of cover",
}


def _median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def objective(f1, cover, c, rule, skip=None):
    """Sort key of set c on every series but `skip` under `rule`."""
    idx = [s for s in range(len(f1[c])) if s != skip]
    if rule == "cover":
        return sum(cover[c][s] for s in idx) / len(idx)
    both = [f1[c][s] + cover[c][s] for s in idx]
    mean_both = sum(both) / len(both)
    if rule == "mean":
        return mean_both
    # rounded so that equal medians computed in another order still tie
    return (round(_median(both), 9), mean_both)


def best_set(f1, cover, rule, skip=None):
    """The set best under `rule` without series `skip` (first on ties)."""
    return max(range(len(f1)),
               key=lambda c: objective(f1, cover, c, rule, skip))


def leave_one_out(f1, cover, rule):
    """Per series s: the set best on the others under `rule`, and its F1
    and cover on s.  Returns (picks, f1 list, cover list)."""
    picks, lf1, lcov = [], [], []
    for s in range(len(f1[0])):
        best = best_set(f1, cover, rule, s)
        picks.append(best)
        lf1.append(f1[best][s])
        lcov.append(cover[best][s])
    return picks, lf1, lcov


def half_splits(f1, cover, rule, reps=200, seed=1):
    """A harsher check than leave-one-out: `reps` random splits of the
    series into two halves (fixed seed), the set picked under `rule` on one
    half scored on the other.  Returns the mean held-out (F1, cover)."""
    import random
    rnd = random.Random(seed)
    n = len(f1[0])
    sum_f1 = sum_cover = 0.0
    for _ in range(reps):
        train = set(rnd.sample(range(n), n // 2))
        test = [s for s in range(n) if s not in train]

        def key(c):
            sub_f1 = [[f1[c][s] for s in sorted(train)]]
            sub_cover = [[cover[c][s] for s in sorted(train)]]
            return objective(sub_f1, sub_cover, 0, rule)
        best = max(range(len(f1)), key=key)
        sum_f1 += mean([f1[best][s] for s in test])
        sum_cover += mean([cover[best][s] for s in test])
    return sum_f1 / reps, sum_cover / reps


def describe(one):
    return " ".join("%s=%r" % (k, v) for k, v in sorted(one.items())
                    if BASE[k] != v)


def report(sets, names, f1, cover, top=10, out=sys.stdout):
    for rule, label in RULES.items():
        ranked = sorted(range(len(sets)),
                        key=lambda c: objective(f1, cover, c, rule),
                        reverse=True)
        print("rule %s, %d sets; best in-sample:" % (label, len(sets)),
              file=out)
        for c in ranked[:top]:
            print("  F1 %.3f cover %.3f  %s" % (mean(f1[c]), mean(cover[c]),
                                                describe(sets[c])), file=out)
        picks, lf1, lcov = leave_one_out(f1, cover, rule)
        print("  leave-one-out: F1 %.3f cover %.3f" % (mean(lf1), mean(lcov)),
              file=out)
        print("  chosen on half the series, scored on the other half (200 "
              "random splits): F1 %.3f cover %.3f" %
              half_splits(f1, cover, rule), file=out)
        for s, c in enumerate(picks):
            if c != ranked[0]:
                print("    fold %-20s F1 %.3f cover %.3f (in-sample pick "
                      "%.3f %.3f) with %s" % (
                          names[s], f1[c][s], cover[c][s],
                          f1[ranked[0]][s], cover[ranked[0]][s],
                          describe(sets[c])), file=out)


def main(argv):
    grid = GRID
    if argv:
        with open(argv[0]) as f:
            grid = json.load(f)
    sets, names, f1, cover = run(grid)
    report(sets, names, f1, cover)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
