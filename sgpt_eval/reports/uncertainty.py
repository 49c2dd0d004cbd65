"""How uncertain a mean over queries is: seeded percentile bootstrap intervals, and Holm's correction.

A BEIR score is a mean over a few hundred queries; the interval says how far it could move with
another draw of queries. Resampling draws whole queries with replacement (`rng.integers(0, n,
(rows, n))` in chunks of rows, the scheme `scipy.stats.bootstrap` uses), so with the same seed
the bootstrap distribution is scipy's, at bounded memory on large query sets. A paired interval
resamples the per-query differences (the same queries for both systems); an interval of an
average over datasets resamples queries within each dataset independently and averages the
dataset means, as the average itself is made. Average precision over a set of items (USEB's
TwitterPara) is no mean of per-item values: its interval resamples items and recomputes it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import SgptEvalError

RESAMPLES = 10_000
CONFIDENCE = 0.95
SEED = 0
CHUNK_ELEMENTS = 1 << 22  # resampled indices drawn at once (32 MiB of int64), whatever the query count


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def text(self, digits: int = 3) -> str:
        return f"[{self.low:.{digits}f}, {self.high:.{digits}f}]"


def bootstrap_interval(values: Sequence[float] | np.ndarray, resamples: int = RESAMPLES, confidence: float = CONFIDENCE,
                       seed: int = SEED) -> Interval:
    """Percentile bootstrap interval of the mean of `values` (one per query)."""
    return average_interval([values], resamples=resamples, confidence=confidence, seed=seed)


def paired_interval(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, resamples: int = RESAMPLES,
                    confidence: float = CONFIDENCE, seed: int = SEED) -> Interval:
    """Interval of the mean difference A - B over the same queries: each resample draws queries, not
    systems, so what A and B share (a hard query) cancels out."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise SgptEvalError(f"paired interval: {a.size} scores of A and {b.size} of B; pair the same queries")
    return bootstrap_interval(a - b, resamples, confidence, seed)


def average_interval(samples: Sequence[Sequence[float] | np.ndarray], weights: Sequence[float] | None = None,
                     resamples: int = RESAMPLES, confidence: float = CONFIDENCE, seed: int = SEED) -> Interval:
    """Interval of a weighted sum of means, sum(w_d * mean(samples[d])) (equal weights 1/D by
    default: the average over D datasets), each sample resampled on its own."""
    arrays = [np.asarray(sample, dtype=float) for sample in samples]
    if any(array.ndim != 1 for array in arrays):
        raise SgptEvalError("bootstrap: each dataset's per-query scores must be one list of numbers")
    weights = np.full(len(arrays), 1 / len(arrays)) if weights is None else np.asarray(weights, dtype=float)
    if weights.shape != (len(arrays),):
        raise SgptEvalError(f"bootstrap: {weights.size} weights for {len(arrays)} datasets")
    return _percentile_interval([array.size for array in arrays],
                                lambda d, rows: weights[d] * arrays[d][rows].mean(axis=1), resamples, confidence, seed)


def average_precision_interval(samples: Sequence[tuple[Sequence[int] | np.ndarray, Sequence[float] | np.ndarray]],
                               resamples: int = RESAMPLES, confidence: float = CONFIDENCE,
                               seed: int = SEED) -> Interval:
    """Interval of the mean over D sets of items of each set's average precision (scikit-learn's:
    equal scores are one threshold), each set's (labels, scores) resampled on its own. AP ranks a
    set's items all at once, so a resample recomputes it rather than averaging per-item values."""
    sets = [(np.asarray(labels, dtype=float), np.asarray(scores, dtype=float)) for labels, scores in samples]
    if any(labels.shape != scores.shape for labels, scores in sets):
        raise SgptEvalError("bootstrap: every item needs one label and one score")
    return _percentile_interval([labels.size for labels, _ in sets],
                                lambda d, rows: _resampled_average_precision(*sets[d], rows) / len(sets),
                                resamples, confidence, seed)


def _percentile_interval(sizes: Sequence[int], statistic: Callable[[int, np.ndarray], np.ndarray], resamples: int,
                         confidence: float, seed: int) -> Interval:
    """The percentile interval of sum over samples d of statistic(d, rows): `rows` holds, per resample,
    the indices drawn (with replacement) from sample d's `sizes[d]` items."""
    if not sizes or 0 in sizes:
        raise SgptEvalError("bootstrap: every dataset needs at least one per-query score")
    if not 0 < confidence < 1 or resamples < 1:
        raise SgptEvalError(f"bootstrap: confidence {confidence} must be in (0, 1) and resamples {resamples} at least 1")
    rng = np.random.default_rng(seed)
    rows = max(1, CHUNK_ELEMENTS // max(sizes))
    values = np.empty(resamples)
    for start in range(0, resamples, rows):
        count = min(rows, resamples - start)
        values[start:start + count] = sum(statistic(d, rng.integers(0, size, (count, size)))
                                          for d, size in enumerate(sizes))
    alpha = (1 - confidence) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return Interval(float(low), float(high))


def _resampled_average_precision(labels: np.ndarray, scores: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Average precision of each resample (a row of drawn indices), as scikit-learn computes it on the
    items drawn: each item weighs as often as it was drawn, and 0 where no positive was drawn."""
    order = np.argsort(-scores, kind="stable")
    ranked = scores[order]
    ends = np.flatnonzero(np.append(ranked[1:] != ranked[:-1], True))  # the last item of each run of equal scores
    count, size = rows.shape
    drawn = np.bincount((rows + size * np.arange(count)[:, None]).ravel(), minlength=count * size)
    drawn = drawn.reshape(count, size)[:, order]
    found = np.cumsum(drawn * labels[order], axis=1)[:, ends]
    seen = np.cumsum(drawn, axis=1)[:, ends]
    precision = np.divide(found, seen, out=np.zeros(found.shape), where=seen > 0)
    positives = found[:, -1:]
    recall = np.divide(found, positives, out=np.zeros(found.shape), where=positives > 0)
    return (np.diff(recall, axis=1, prepend=0) * precision).sum(axis=1)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of p-values tested together (same order back): the i-th smallest
    is multiplied by (m - i + 1), kept monotone and capped at 1. It holds the chance of any false
    "different" among the m at the level chosen, whatever their dependence."""
    p = np.asarray(pvalues, dtype=float)
    if np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise SgptEvalError(f"holm: p-values must be numbers in [0, 1], got {list(pvalues)}")
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, np.maximum.accumulate(p[order] * (p.size - np.arange(p.size))))
    adjusted = np.empty_like(p)
    adjusted[order] = scaled
    return adjusted.tolist()
