"""pytrec_eval metrics the way BEIR computes them, plus per-query NDCG@10 for paired tests.

Every judged query counts: pytrec_eval leaves a query out of its average where the run has no
entry for it, which would average a ranking that lacks some queries over the others only. A
judged query the ranking lacks is given an empty ranking here, so it scores 0 in every metric."""

from __future__ import annotations

import copy

import pytrec_eval
from beir.retrieval.evaluation import EvaluateRetrieval

K_VALUES = (1, 3, 5, 10, 100, 1000)

Qrels = dict[str, dict[str, int]]
Ranking = dict[str, dict[str, float]]


def evaluate(qrels: Qrels, results: Ranking, k_values: tuple[int, ...] = K_VALUES) -> dict[str, float]:
    """NDCG, MAP, Recall, P at each k and MRR@10 over every judged query; identical query/document
    ids ignored (BEIR)."""
    results = copy.deepcopy(every_judged(qrels, results))  # BEIR's evaluate pops self-hits in place
    ndcg, _map, recall, precision = EvaluateRetrieval.evaluate(qrels, results, list(k_values), ignore_identical_ids=True)
    mrr = EvaluateRetrieval.evaluate_custom(qrels, results, [10], metric="mrr")
    return {**ndcg, **_map, **recall, **precision, **mrr}


def per_query_ndcg(qrels: Qrels, results: Ranking, k: int = 10) -> dict[str, float]:
    """NDCG@k of every judged query, for per-query comparisons between two systems."""
    ranking = {qid: {did: s for did, s in hits.items() if did != qid} for qid, hits in every_judged(qrels, results).items()}
    scores = pytrec_eval.RelevanceEvaluator(qrels, {f"ndcg_cut.{k}"}).evaluate(ranking)
    return {qid: round(values[f"ndcg_cut_{k}"], 6) for qid, values in scores.items()}


def every_judged(qrels: Qrels, results: Ranking) -> Ranking:
    """`results` with an empty ranking added for each judged query it lacks (its own order kept)."""
    missing = [qid for qid in qrels if qid not in results]
    return {**results, **{qid: {} for qid in missing}} if missing else results


def unranked(qrels: Qrels, results: Ranking) -> int:
    """How many judged queries have no document ranked for them (each scores 0)."""
    return sum(1 for qid in qrels if not results.get(qid))
