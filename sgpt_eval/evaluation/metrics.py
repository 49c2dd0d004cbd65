"""pytrec_eval metrics the way BEIR computes them, plus per-query NDCG@10 for paired tests."""

from __future__ import annotations

import copy

import pytrec_eval
from beir.retrieval.evaluation import EvaluateRetrieval

K_VALUES = (1, 3, 5, 10, 100, 1000)


def evaluate(
    qrels: dict[str, dict[str, int]], results: dict[str, dict[str, float]], k_values: tuple[int, ...] = K_VALUES
) -> dict[str, float]:
    """NDCG, MAP, Recall, P at each k and MRR@10; identical query/document ids ignored (BEIR)."""
    results = copy.deepcopy(results)  # BEIR's evaluate pops self-hits in place
    ndcg, _map, recall, precision = EvaluateRetrieval.evaluate(qrels, results, list(k_values), ignore_identical_ids=True)
    mrr = EvaluateRetrieval.evaluate_custom(qrels, results, [10], metric="mrr")
    return {**ndcg, **_map, **recall, **precision, **mrr}


def per_query_ndcg(qrels: dict[str, dict[str, int]], results: dict[str, dict[str, float]], k: int = 10) -> dict[str, float]:
    """NDCG@k of every query in the run, for per-query comparisons between two systems."""
    ranking = {qid: {did: s for did, s in hits.items() if did != qid} for qid, hits in results.items()}
    scores = pytrec_eval.RelevanceEvaluator(qrels, {f"ndcg_cut.{k}"}).evaluate(ranking)
    return {qid: round(values[f"ndcg_cut_{k}"], 6) for qid, values in scores.items()}
