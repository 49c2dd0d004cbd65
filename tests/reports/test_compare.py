"""Per-query comparison: counts, means and p-values on scores whose answer is known, and `compare`
refusing reports run on different query sets."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

from sgpt_eval.reports.compare import compare_reports, compare_scores, randomization_pvalue
from sgpt_eval.errors import SgptEvalError

from ..command_line import error_line, run_command
from ..synthetic_reports import write_report


def _scores(values) -> dict[str, float]:
    return {f"q{i}": float(value) for i, value in enumerate(values)}


def test_wins_losses_ties_and_t_test_match_a_direct_computation():
    rng = np.random.default_rng(1)
    a = rng.uniform(size=200)
    b = np.clip(a - rng.normal(0.05, 0.1, size=200), 0, 1)
    b[:20] = a[:20]  # 20 exact ties

    result = compare_scores(_scores(a), _scores(b))

    assert (result.wins, result.losses, result.ties) == (int(np.sum(a > b)), int(np.sum(a < b)), 20)
    assert result.wins + result.losses + result.ties == 200
    assert result.mean_difference == pytest.approx(float(np.mean(a - b)))
    assert result.t_pvalue == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert result.t_pvalue < 1e-6


def test_randomization_test_matches_the_exact_sign_flip_distribution():
    a = np.array([0.9, 0.4, 0.7, 0.2, 0.8, 0.5, 0.6, 0.3, 0.75, 0.55])
    b = np.array([0.8, 0.5, 0.6, 0.1, 0.5, 0.45, 0.6, 0.35, 0.5, 0.5])
    exact = stats.permutation_test(
        (a, b), lambda x, y: np.mean(x - y), permutation_type="samples", n_resamples=np.inf,
    ).pvalue  # all 2^10 sign assignments

    assert randomization_pvalue(a, b, permutations=20_000, seed=3) == pytest.approx(exact, abs=0.01)


def test_all_queries_better_gives_the_smallest_two_sided_p():
    a, b = np.full(10, 0.8), np.full(10, 0.5)
    # Only the all-plus and all-minus sign patterns reach the observed mean: p = 2 / 2^10.
    assert randomization_pvalue(a, b, permutations=50_000, seed=0) == pytest.approx(2 / 1024, abs=0.001)


def test_identical_systems_are_all_ties_with_p_one():
    scores = _scores([0.1, 0.5, 1.0])
    result = compare_scores(scores, scores)
    assert (result.wins, result.losses, result.ties) == (0, 0, 3)
    assert result.t_pvalue == 1.0
    assert result.randomization_pvalue == 1.0


def test_a_single_query_has_no_t_test():
    result = compare_scores({"q1": 1.0}, {"q1": 0.0}, permutations=100)
    assert np.isnan(result.t_pvalue)
    assert "paired t-test p = n/a (one query)" in result.summary()


def test_a_constant_difference_is_significant_without_warnings():
    a, b = _scores([0.9, 0.8, 0.7, 0.6]), _scores([0.8, 0.7, 0.6, 0.5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert compare_scores(a, b, permutations=100).t_pvalue == 0.0


def test_different_query_sets_are_refused_unless_intersected():
    a = {"q1": 1.0, "q2": 0.5, "q3": 0.5}
    b = {"q1": 1.0, "q2": 0.5}
    with pytest.raises(SgptEvalError, match="A has 3 queries, B has 2, 2 shared; .* pass --intersect"):
        compare_scores(a, b, name_a="dense", name_b="bm25")
    result = compare_scores(a, b, name_a="dense", name_b="bm25", intersect=True)
    assert (result.queries, result.queries_a, result.queries_b) == (2, 3, 2)
    assert result.mean_b == pytest.approx(1.5 / 2)
    assert (result.wins, result.ties) == (0, 2)
    assert "queries: 3 in A, 2 in B, 2 shared; compared on the shared queries only (--intersect)" in result.summary()


def test_the_same_seed_gives_the_same_p_value():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(size=50), rng.uniform(size=50)
    assert randomization_pvalue(a, b, seed=7) == randomization_pvalue(a, b, seed=7)


def test_reports_compare_query_by_query_and_refuse_different_datasets(tmp_path):
    path_a = write_report(tmp_path, "scifact", "dense", "all-MiniLM-L6-v2", 0.75, {"1": 1.0, "2": 0.5})
    path_b = write_report(tmp_path, "scifact", "bm25", "bm25s", 0.5, {"1": 0.5, "2": 0.5})
    summary = compare_reports(path_a, path_b, permutations=100).summary()
    assert summary.startswith("scifact NDCG@10: A = all-MiniLM-L6-v2 (dense), B = BM25")
    assert "A better on 1, B better on 0, tied on 1" in summary
    assert "A - B +0.2500 over 2 queries" in summary

    other = write_report(tmp_path, "nfcorpus", "bm25", "bm25s", 0.5)
    with pytest.raises(SgptEvalError, match="different dataset"):
        compare_reports(path_a, other)


def test_compare_refuses_different_query_sets_unless_intersected(tmp_path, capsys):
    dense = write_report(tmp_path, "scifact", "dense", "all-MiniLM-L6-v2", 0.5, {"1": 1.0, "2": 0.5, "3": 0.0})
    bm25 = write_report(tmp_path, "scifact", "bm25", "bm25s", 0.5, {"1": 0.5, "2": 0.5})

    code, out, err = run_command(capsys, "compare", str(dense), str(bm25), "--permutations", "10")
    assert code == 2 and not out
    assert error_line(err) == (
        f"sgpt-eval: error: compare: {dense} has 3 queries, {bm25} has 2, 2 shared; the two were run on different "
        "query sets, pass --intersect to compare the 2 shared queries only")

    code, out, _ = run_command(capsys, "compare", str(dense), str(bm25), "--permutations", "10", "--intersect")
    assert code == 0
    assert "A - B +0.2500 over 2 queries" in out and "A better on 1, B better on 0, tied on 1" in out
    assert "queries: 3 in A, 2 in B, 2 shared; compared on the shared queries only (--intersect)" in out

    same = write_report(tmp_path, "scifact", "rerank", "SmolLM2-135M", 0.5, {"1": 0.0, "2": 1.0})
    code, out, _ = run_command(capsys, "compare", str(same), str(bm25), "--permutations", "10")
    assert code == 0 and out.rstrip().endswith("queries: 2 in A, 2 in B, 2 shared")


def test_compare_with_no_shared_query_is_refused_even_intersected(tmp_path, capsys):
    dense = write_report(tmp_path, "scifact", "dense", "all-MiniLM-L6-v2", 0.5, {"1": 1.0})
    bm25 = write_report(tmp_path, "scifact", "bm25", "bm25s", 0.5, {"2": 0.5})
    code, _, err = run_command(capsys, "compare", str(dense), str(bm25), "--intersect")
    assert code == 2 and error_line(err).endswith(
        "has 1, 0 shared; nothing to compare, compare reports over the same queries")


def _sorted_scores(values) -> dict[str, float]:
    """Per-query scores whose ids sort in the order of `values`, as `compare` pairs them."""
    return {f"q{i:03d}": float(value) for i, value in enumerate(values)}


def test_the_difference_gets_its_paired_bootstrap_interval():
    rng = np.random.default_rng(2)
    b = rng.random(200)
    a = np.clip(b + rng.normal(0.05, 0.05, b.size), 0, 1)
    comparison = compare_scores(_sorted_scores(a), _sorted_scores(b), resamples=2000, seed=4)
    theirs = stats.bootstrap((a - b,), np.mean, method="percentile", n_resamples=2000,
                             rng=np.random.default_rng(4)).confidence_interval
    assert (comparison.difference_interval.low, comparison.difference_interval.high) == pytest.approx(
        (theirs.low, theirs.high), abs=1e-12)
    assert comparison.difference_interval.low < comparison.mean_difference < comparison.difference_interval.high
    assert f"A - B 95% interval {comparison.difference_interval.text(4)} (paired bootstrap, 2000 resamples" in (
        comparison.summary())


def test_compare_over_several_datasets_holm_corrects_their_p_values(tmp_path, capsys):
    for dataset, gain in (("scifact", 0.3), ("nfcorpus", 0.0)):
        base = {f"q{i}": 0.4 + (0.1 if i % 2 else 0.0) for i in range(20)}
        write_report(tmp_path, dataset, "bm25", "bm25s", 0.45, base)
        write_report(tmp_path, dataset, "dense", "all-MiniLM-L6-v2", 0.45 + gain,
                     {qid: score + gain for qid, score in base.items()})
    code, out, _ = run_command(capsys, "compare", "--results-dir", str(tmp_path), "--dataset", "scifact", "--dataset",
                               "nfcorpus", "--a", "dense:all-MiniLM-L6-v2", "--b", "bm25:bm25s", "--permutations", "999",
                               "--resamples", "200")
    assert code == 0
    assert out.count("A - B 95% interval") == 2
    # scifact: every query better, p = 1/1000, times 2; nfcorpus: identical, p = 1.
    assert "Holm-corrected randomization p over 2 datasets:\n  scifact: p = 0.001, corrected 0.002\n" \
           "  nfcorpus: p = 1, corrected 1" in out
