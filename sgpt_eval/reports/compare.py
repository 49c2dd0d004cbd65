"""Per-query comparison of two runs on one dataset, with paired significance tests.

A mean NDCG@10 gap says little on a few hundred queries; the paired tests say whether it
is larger than the query-to-query noise, and the paired bootstrap interval how large it could
be. Compared on several datasets at once, the randomization p-values are Holm-corrected. Two reports over different query sets are refused:
their means are over different queries, and a query one lacks has no score to pair. Asked to
(`intersect`), only the queries both have are compared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from ..errors import SgptEvalError
from .schema import Report, find_reports, read_report, warn_version_differences
from .systems import base_label
from .uncertainty import RESAMPLES, Interval, holm, paired_interval

TIE = 1e-9  # per-query scores are stored with 6 decimals; closer than this is the same score
PERMUTATION_CHUNK = 1000  # sign-flip rows drawn at once: bounded memory on large query sets


@dataclass(frozen=True)
class Comparison:
    dataset: str
    metric: str
    name_a: str
    name_b: str
    mean_a: float
    mean_b: float
    queries: int  # the queries compared
    queries_a: int  # the queries each report scores
    queries_b: int
    intersected: bool  # the query sets differed and only the shared queries were compared
    wins: int  # queries where A scores higher than B
    losses: int
    ties: int
    mean_difference: float  # mean of A - B over all queries
    t_pvalue: float
    randomization_pvalue: float
    permutations: int
    seed: int
    difference_interval: Interval  # 95% paired bootstrap interval of mean(A - B)
    resamples: int

    def summary(self) -> str:
        """A few lines a person reads: who wins, by how much, and whether it is likely noise."""
        lines = [
            f"{self.dataset} {self.metric}: A = {self.name_a}, B = {self.name_b}",
            f"  mean A {self.mean_a:.4f}  mean B {self.mean_b:.4f}  A - B {self.mean_difference:+.4f} over {self.queries} queries",
            f"  A - B 95% interval {self.difference_interval.text(4)} (paired bootstrap, {self.resamples} resamples of "
            f"the queries, seed {self.seed})",
            f"  A better on {self.wins}, B better on {self.losses}, tied on {self.ties}",
            f"  paired t-test p = {_p(self.t_pvalue)}; paired randomization test p = {_p(self.randomization_pvalue)} "
            f"({self.permutations} sign flips, seed {self.seed})",
            f"  queries: {self.queries_a} in A, {self.queries_b} in B, {self.queries} shared"
            + ("; compared on the shared queries only (--intersect)" if self.intersected else ""),
        ]
        return "\n".join(lines)


def _p(value: float) -> str:
    return "n/a (one query)" if math.isnan(value) else f"{value:.4g}"


def shared_queries(a: dict[str, float], b: dict[str, float], intersect: bool, where: tuple[str, str]) -> list[str]:
    """The queries to compare: both sets when equal, their intersection when asked; otherwise one
    error naming both sources (`where`) and their counts."""
    shared = sorted(set(a) & set(b))
    if len(shared) == len(a) == len(b):
        return shared
    counts = f"{where[0]} has {len(a)} queries, {where[1]} has {len(b)}, {len(shared)} shared"
    if not shared:
        raise SgptEvalError(f"compare: {counts}; nothing to compare, compare reports over the same queries")
    if not intersect:
        raise SgptEvalError(f"compare: {counts}; the two were run on different query sets, "
                            f"pass --intersect to compare the {len(shared)} shared queries only")
    return shared


def t_test_pvalue(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided paired t-test, with its degenerate cases decided here rather than left to NaN and warnings.

    Identical systems give 1.0; a single query NaN (no variance to test); the same non-zero
    difference on every query 0.0 (t is infinite).
    """
    differences = a - b
    if np.all(np.abs(differences) <= TIE):
        return 1.0
    if a.size < 2:
        return math.nan
    if np.ptp(differences) <= TIE:
        return 0.0
    return float(stats.ttest_rel(a, b).pvalue)


def randomization_pvalue(a: np.ndarray, b: np.ndarray, permutations: int = 10_000, seed: int = 0) -> float:
    """Two-sided paired randomization test: flip the sign of each query's difference at random.

    p = (1 + #{|mean flipped| >= |mean observed|}) / (1 + permutations), never 0.
    """
    differences = a - b
    observed = abs(differences.mean())
    rng = np.random.default_rng(seed)
    extreme = 0
    for start in range(0, permutations, PERMUTATION_CHUNK):
        rows = min(PERMUTATION_CHUNK, permutations - start)
        signs = rng.choice((-1.0, 1.0), size=(rows, differences.size))
        extreme += int(np.sum(np.abs(signs @ differences) / differences.size >= observed - TIE))
    return (1 + extreme) / (1 + permutations)


def compare_scores(
    a: dict[str, float], b: dict[str, float], *, dataset: str = "", metric: str = "NDCG@10",
    name_a: str = "A", name_b: str = "B", permutations: int = 10_000, seed: int = 0, intersect: bool = False,
    where: tuple[str, str] = ("A", "B"), resamples: int = RESAMPLES,
) -> Comparison:
    """Compare two per-query score dictionaries (query id -> score) over the same queries, or
    over the queries both have with `intersect`; `where` names the two in an error."""
    if not a and not b:
        raise SgptEvalError("compare: neither report has per-query scores")
    queries = shared_queries(a, b, intersect, where)
    scores_a, scores_b = np.array([a[q] for q in queries]), np.array([b[q] for q in queries])
    differences = scores_a - scores_b
    return Comparison(
        dataset=dataset, metric=metric, name_a=name_a, name_b=name_b,
        mean_a=float(scores_a.mean()), mean_b=float(scores_b.mean()), queries=differences.size,
        queries_a=len(a), queries_b=len(b), intersected=len(queries) < max(len(a), len(b)),
        wins=int(np.sum(differences > TIE)), losses=int(np.sum(differences < -TIE)),
        ties=int(np.sum(np.abs(differences) <= TIE)), mean_difference=float(differences.mean()),
        t_pvalue=t_test_pvalue(scores_a, scores_b),
        randomization_pvalue=randomization_pvalue(scores_a, scores_b, permutations, seed),
        permutations=permutations, seed=seed,
        difference_interval=paired_interval(scores_a, scores_b, resamples, seed=seed), resamples=resamples,
    )


def compare_reports(path_a: Path, path_b: Path, metric: str = "NDCG@10", permutations: int = 10_000,
                    seed: int = 0, intersect: bool = False, resamples: int = RESAMPLES) -> Comparison:
    """Compare two run reports of the same dataset and split query by query (over the queries
    both have, with `intersect`)."""
    report_a, report_b = read_report(path_a), read_report(path_b)
    for key in ("benchmark", "dataset", "split"):
        a, b = getattr(report_a.identity, key), getattr(report_b.identity, key)
        if a != b:
            raise SgptEvalError(f"{path_a} ({a}) and {path_b} ({b}): different {key}; compare runs of the same one")
    warn_version_differences([report_a.versions, report_b.versions], f"{path_a} and {path_b}")
    return compare_scores(
        per_query(report_a, metric, path_a), per_query(report_b, metric, path_b),
        dataset=report_a.identity.dataset, metric=metric, name_a=base_label(report_a.identity),
        name_b=base_label(report_b.identity), permutations=permutations, seed=seed, intersect=intersect,
        where=(str(path_a), str(path_b)), resamples=resamples,
    )


def holm_summary(comparisons: list[Comparison]) -> str:
    """The randomization p-values of comparisons on several datasets, Holm-corrected together: the
    chance that any "A differs from B" among them is noise stays at the level read."""
    adjusted = holm([comparison.randomization_pvalue for comparison in comparisons])
    lines = [f"Holm-corrected randomization p over {len(comparisons)} datasets:"]
    lines += [f"  {comparison.dataset}: p = {_p(comparison.randomization_pvalue)}, corrected {_p(corrected)}"
              for comparison, corrected in zip(comparisons, adjusted)]
    return "\n".join(lines)


def per_query(report: Report, metric: str, path: Path) -> dict[str, float]:
    """The per-query scores of `metric`, which comparisons need and reports may lack."""
    scores = report.per_query.get(metric)
    if not isinstance(scores, dict) or not scores:
        raise SgptEvalError(f"{path}: no per-query {metric} scores; re-run the evaluation to write them")
    return {str(qid): float(score) for qid, score in scores.items()}


def find_system(results_dir: Path, dataset: str, method: str, model: str) -> Path:
    """The one report of `method` with `model` on `dataset`; several configurations are an error listing them."""
    matches = [path for path, report in find_reports(results_dir, "beir")
               if report.identity.dataset == dataset and report.identity.method == method
               and model.lower() in (report.identity.model_name.lower(), (report.identity.model or {}).get("model", "").lower())]
    if not matches:
        raise SgptEvalError(f"{method}:{model}: no report at {results_dir} for {dataset}; "
                            "run that evaluation first or pass report files")
    if len(matches) > 1:
        raise SgptEvalError(f"{method}:{model}: {len(matches)} configurations on {dataset} "
                            f"({', '.join(str(path) for path in matches)}); pass the two report files instead")
    return matches[0]
