"""Bootstrap intervals against scipy's on the same data, their chunking, pairing and averaging,
and Holm's correction against a hand-worked example."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import average_precision_score

from sgpt_eval.errors import SgptEvalError
from sgpt_eval.reports import uncertainty
from sgpt_eval.reports.uncertainty import (
    average_interval,
    average_precision_interval,
    bootstrap_interval,
    holm,
    paired_interval,
)

SCORES = np.random.default_rng(7).beta(2, 1.5, size=300)  # a SciFact-sized set of per-query NDCG@10


def test_the_interval_agrees_with_scipys_percentile_bootstrap_with_10000_resamples():
    ours = bootstrap_interval(SCORES, resamples=10_000, seed=3)
    theirs = stats.bootstrap((SCORES,), np.mean, method="percentile", n_resamples=10_000,
                             rng=np.random.default_rng(3)).confidence_interval
    assert ours.low == pytest.approx(theirs.low, abs=1e-3) and ours.high == pytest.approx(theirs.high, abs=1e-3)
    assert ours.low < SCORES.mean() < ours.high


def test_chunked_resampling_draws_the_same_resamples(monkeypatch):
    whole = bootstrap_interval(SCORES, resamples=500)
    monkeypatch.setattr(uncertainty, "CHUNK_ELEMENTS", SCORES.size * 7)  # 7 resamples a chunk
    assert bootstrap_interval(SCORES, resamples=500) == whole


def test_the_paired_interval_is_the_interval_of_the_differences_as_scipy_pairs_them():
    other = np.clip(SCORES + np.random.default_rng(1).normal(0.02, 0.05, SCORES.size), 0, 1)
    ours = paired_interval(other, SCORES, resamples=2000, seed=5)
    theirs = stats.bootstrap((other, SCORES), lambda a, b, axis: np.mean(a - b, axis=axis), paired=True,
                             method="percentile", n_resamples=2000, rng=np.random.default_rng(5)).confidence_interval
    assert (ours.low, ours.high) == pytest.approx((theirs.low, theirs.high), abs=1e-12)
    with pytest.raises(SgptEvalError, match="pair the same queries"):
        paired_interval(other, SCORES[:10])


def test_an_average_over_datasets_resamples_each_dataset_on_its_own():
    small = np.array([0.0, 1.0])
    # One dataset that cannot vary and one that can: the average moves by half of the second's spread.
    interval = average_interval([np.full(50, 0.4), small], resamples=4000)
    assert interval.low == pytest.approx(0.2) and interval.high == pytest.approx(0.7)  # 0.4/2 + {0, 1}/2
    weighted = average_interval([np.full(50, 0.4), small], weights=[1.0, 0.0], resamples=100)
    assert (weighted.low, weighted.high) == pytest.approx((0.4, 0.4))
    assert average_interval([SCORES], resamples=300) == bootstrap_interval(SCORES, resamples=300)


def test_the_average_precision_interval_agrees_with_scipys_bootstrap_of_scikit_learns_ap():
    rng = np.random.default_rng(11)
    labels = (rng.random(400) < 0.3).astype(int)
    scores = np.round(labels * 0.2 + rng.random(400), 2)  # two decimals: many equal scores, one threshold each
    ours = average_precision_interval([(labels, scores)], resamples=1000, seed=4)
    theirs = stats.bootstrap((labels, scores), average_precision_score, paired=True, vectorized=False,
                             method="percentile", n_resamples=1000, rng=np.random.default_rng(4)).confidence_interval
    assert (ours.low, ours.high) == pytest.approx((theirs.low, theirs.high), abs=1e-12)
    assert ours.low < average_precision_score(labels, scores) < ours.high


def test_a_resample_without_positives_has_the_ap_scikit_learn_gives_it():
    rows = np.array([[1, 1, 2], [0, 2, 0], [2, 2, 2]])  # items 1, 2 negative; item 0 positive
    labels, scores = np.array([1, 0, 0]), np.array([0.2, 0.9, 0.5])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns that a resample has no positive
        expected = [average_precision_score(labels[row], scores[row]) for row in rows]
    assert uncertainty._resampled_average_precision(labels, scores, rows).tolist() == pytest.approx(expected)
    assert expected == pytest.approx([0.0, 2 / 3, 0.0])  # row 2: the negative, then the positive twice (one threshold)


def test_an_average_of_aps_resamples_each_set_on_its_own():
    constant = ([1, 1, 1], [0.3, 0.2, 0.1])  # AP 1 whichever items are drawn
    varying = ([1, 0], [0.9, 0.1])  # AP 0 when only the negative is drawn (1 in 4), else 1
    interval = average_precision_interval([constant, varying], resamples=2000)
    assert (interval.low, interval.high) == pytest.approx((0.5, 1.0))  # (1 + {0, 1}) / 2
    with pytest.raises(SgptEvalError, match="one label and one score"):
        average_precision_interval([([1, 0], [0.5])])


def test_empty_data_and_bad_settings_are_refused():
    with pytest.raises(SgptEvalError, match="at least one per-query score"):
        bootstrap_interval([])
    with pytest.raises(SgptEvalError, match="confidence"):
        bootstrap_interval(SCORES, confidence=1.5)
    with pytest.raises(SgptEvalError, match="2 weights for 1 datasets"):
        average_interval([SCORES], weights=[0.5, 0.5])


def test_holm_against_a_hand_worked_example():
    # Sorted 0.01, 0.02, 0.03, 0.04 times 4, 3, 2, 1: 0.04, 0.06, 0.06, 0.04 -> monotone 0.04, 0.06, 0.06, 0.06.
    assert holm([0.03, 0.01, 0.04, 0.02]) == pytest.approx([0.06, 0.04, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([0.2]) == [0.2]
    with pytest.raises(SgptEvalError, match="p-values"):
        holm([0.1, float("nan")])
