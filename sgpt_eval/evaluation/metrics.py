"""pytrec_eval metrics the way BEIR computes them, plus per-query NDCG@10 for paired tests and
what the judgements can see of a ranking: judged@k and an optimistic NDCG@k bound.

Every judged query counts: pytrec_eval leaves a query out of its average where the run has no
entry for it, which would average a ranking that lacks some queries over the others only. A
judged query the ranking lacks is given an empty ranking here, so it scores 0 in every metric."""

from __future__ import annotations

import copy

import pytrec_eval
from beir.retrieval.evaluation import EvaluateRetrieval

from ..reports.schema import JUDGED, OPTIMISTIC_NDCG

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


def judgement(qrels: Qrels, results: Ranking) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Judged@10 and the optimistic NDCG@10 bound as a report stores them: run means over every judged
    query (5 decimals, as BEIR rounds its metrics), and per query."""
    per_query = {JUDGED: judged_at_k(qrels, results, 10), OPTIMISTIC_NDCG: optimistic_ndcg(qrels, results, 10)}
    return {name: round(sum(scores.values()) / len(scores), 5) for name, scores in per_query.items()}, per_query


def judged_at_k(qrels: Qrels, results: Ranking, k: int = 10) -> dict[str, float]:
    """Per judged query, the share of the k slots of its top k (self-hits dropped, as BEIR drops
    them) that hold a document with any judgement for it, relevant or not (PyTerrier's and
    ir_measures' Judged@k: a ranking shorter than k counts its empty slots as unjudged)."""
    top = top_ranked(qrels, results, k)
    return {qid: round(sum(did in qrels[qid] for did in top[qid]) / k, 6) for qid in qrels}


def optimistic_ndcg(qrels: Qrels, results: Ranking, k: int = 10) -> dict[str, float]:
    """Per judged query, NDCG@k were every unjudged document of its top k relevant with grade 1,
    the ideal DCG recomputed with them: the most an incomplete pool could be hiding. It equals
    NDCG@k where the top k is fully judged."""
    top = top_ranked(qrels, results, k)
    augmented = {qid: {**judged, **{did: 1 for did in top[qid] if did not in judged}} for qid, judged in qrels.items()}
    ranking = {qid: {did: float(k - rank) for rank, did in enumerate(top[qid])} for qid in qrels}
    scores = pytrec_eval.RelevanceEvaluator(augmented, {f"ndcg_cut.{k}"}).evaluate(ranking)
    return {qid: round(scores[qid][f"ndcg_cut_{k}"], 6) if qid in scores else 0.0 for qid in qrels}


def top_ranked(qrels: Qrels, results: Ranking, k: int) -> dict[str, list[str]]:
    """Each judged query's first k documents in trec_eval's order (score descending, ties by
    document id descending), its own id left out; [] where nothing is ranked for it."""
    return {qid: [did for did, _ in sorted(((did, score) for did, score in results.get(qid, {}).items() if did != qid),
                                           key=lambda item: (item[1], item[0]), reverse=True)[:k]]
            for qid in qrels}


def every_judged(qrels: Qrels, results: Ranking) -> Ranking:
    """`results` with an empty ranking added for each judged query it lacks (its own order kept)."""
    missing = [qid for qid in qrels if qid not in results]
    return {**results, **{qid: {} for qid in missing}} if missing else results


def unranked(qrels: Qrels, results: Ranking) -> int:
    """How many judged queries have no document ranked for them (each scores 0)."""
    return sum(1 for qid in qrels if not results.get(qid))
