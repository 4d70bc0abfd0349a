"""The two scores of the TCPD benchmark, written from their definitions in
G. J. J. van den Burg and C. K. I. Williams, "An Evaluation of Change Point
Detection Algorithms", arXiv:2003.06222 (2020), section 4 ("Evaluation"):

F1 with a margin (default 5 points), several annotators:
  * every annotator's set T_k and the prediction set X also contain index 0
    (the start of the series counts as a change point on both sides);
  * a true change point tau is matched by the closest prediction within the
    margin that no earlier tau took (one prediction matches at most one tau);
  * precision P = |matched points of the union of all T_k| / |X|;
  * recall R = mean over annotators of |matched points of T_k| / |T_k|;
  * F1 = 2 P R / (P + R).

Segmentation cover (Arbelaez et al. 2011, eq. 8), several annotators:
  * change points split [0, n_obs) into segments, a change point at i being
    the first index of a new segment;
  * C(S', S) = (1 / n_obs) * sum over segments A of S of
    |A| * max over segments A' of S' of |A and A'| / |A or A'|;
  * the score is the mean over annotators of C(predicted, annotator's).

Predictions are cleaned as TCPDBench's summariser does before scoring:
duplicates dropped and only 1 <= x <= n_obs - 2 kept.  Matching walks the
true change points in ascending order.
"""


def clean_predictions(locations, n_obs):
    return sorted({int(x) for x in locations if 1 <= int(x) <= n_obs - 2})


def _matched(truth, predictions, margin):
    """How many points of `truth` find an unused prediction within margin."""
    free = sorted(predictions)
    hits = 0
    for tau in sorted(truth):
        best = None
        for x in free:
            d = abs(tau - x)
            if d <= margin and (best is None or d < abs(tau - best)):
                best = x
        if best is not None:
            hits += 1
            free.remove(best)
    return hits


def f1_score(annotations, predictions, margin=5):
    """annotations: dict annotator -> list of change points."""
    per_annotator = [set(cps) | {0} for cps in annotations.values()]
    x = set(predictions) | {0}
    union = set().union(*per_annotator)
    precision = _matched(union, x, margin) / len(x)
    recall = sum(_matched(t, x, margin) / len(t) for t in per_annotator) \
        / len(per_annotator)
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def segments(cps, n_obs):
    """[start, end) intervals of the segmentation of [0, n_obs)."""
    bounds = sorted({c for c in cps if 0 < c < n_obs})
    starts = [0] + bounds
    ends = bounds + [n_obs]
    return list(zip(starts, ends))


def _jaccard(a, b):
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (a[1] - a[0]) + (b[1] - b[0]) - inter
    return inter / union


def _cover_one(predicted, truth, n_obs):
    total = 0.0
    for seg in truth:
        total += (seg[1] - seg[0]) * max(_jaccard(seg, p) for p in predicted)
    return total / n_obs


def cover_score(annotations, predictions, n_obs):
    predicted = segments(predictions, n_obs)
    scores = [_cover_one(predicted, segments(cps, n_obs), n_obs)
              for cps in annotations.values()]
    return sum(scores) / len(scores)
