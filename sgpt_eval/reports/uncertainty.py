"""How uncertain a mean over queries is: seeded percentile bootstrap intervals, and Holm's correction.

A BEIR score is a mean over a few hundred queries; the interval says how far it could move with
another draw of queries. Resampling draws whole queries with replacement (`rng.integers(0, n,
(rows, n))` in chunks of rows, the scheme `scipy.stats.bootstrap` uses), so with the same seed
the bootstrap distribution is scipy's, at bounded memory on large query sets. A paired interval
resamples the per-query differences (the same queries for both systems); an interval of an
average over datasets resamples queries within each dataset independently and averages the
dataset means, as the average itself is made.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    if not arrays or any(array.ndim != 1 or array.size == 0 for array in arrays):
        raise SgptEvalError("bootstrap: every dataset needs at least one per-query score")
    if not 0 < confidence < 1 or resamples < 1:
        raise SgptEvalError(f"bootstrap: confidence {confidence} must be in (0, 1) and resamples {resamples} at least 1")
    weights = np.full(len(arrays), 1 / len(arrays)) if weights is None else np.asarray(weights, dtype=float)
    rng = np.random.default_rng(seed)
    rows = max(1, CHUNK_ELEMENTS // max(array.size for array in arrays))
    statistic = np.empty(resamples)
    for start in range(0, resamples, rows):
        count = min(rows, resamples - start)
        statistic[start:start + count] = sum(
            weight * array[rng.integers(0, array.size, (count, array.size))].mean(axis=1)
            for weight, array in zip(weights, arrays, strict=True))
    alpha = (1 - confidence) / 2
    low, high = np.quantile(statistic, [alpha, 1 - alpha])
    return Interval(float(low), float(high))


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
