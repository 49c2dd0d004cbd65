"""USEB's four evaluators, with USEB's metrics, metric names and conventions, for any embedding function.

Values are fractions (USEB's own printout multiplies them by 100 and rounds to 2 decimals).
Each distinct text is embedded once, after stripping it as USEB does before embedding;
similarities are computed as USEB computes them (torch, float32), so that near-ties fall the
same way, and average precision comes from the same implementations (scikit-learn, pytrec_eval).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pytrec_eval
import torch
from scipy.stats import spearmanr
from sklearn.metrics import average_precision_score
from torch.nn import functional as F

from ..data.useb import AskUbuntu, CQADupStack, SciDocs, TwitterPara, UsebData

Embed = Callable[[list[str]], np.ndarray]  # texts -> one float32 row each

MAIN_METRIC = {
    "askubuntu": "map_askubuntu_title",
    "cqadupstack": "map@100_cqadupstack_avg",
    "twitterpara": "ap_twitter_avg",
    "scidocs": "map_scidocs_cosine_avg",
}
MAP_DEPTH = 100  # CQADupStack: MAP over each query's top 100
NDCG_DEPTH = 10
_QUERY_CHUNK = 256  # CQADupStack queries scored at once against a whole forum


@dataclass(frozen=True)
class UsebScores:
    """One dataset's figures, and what the main one is made of, for its interval.

    `per_query`: the per-query scores of the figures whose plain mean, each a mean over its queries,
    is the main metric (AskUbuntu: MAP over questions; CQADupStack: MAP@100 per forum; SciDocs:
    cosine MAP per task). `pairs`: for TwitterPara, whose AP ranks each subset's pairs at once, each
    subset's judged pairs as (paraphrase labels, cosines)."""

    metrics: dict[str, float]
    per_query: dict[str, dict[str, float]] = field(default_factory=dict)
    pairs: dict[str, tuple[list[int], list[float]]] = field(default_factory=dict)


class Vectors:
    """Each distinct stripped text embedded once, in one call; rows looked up by text."""

    def __init__(self, embed: Embed, texts: Iterable[str]) -> None:
        unique = list(dict.fromkeys(text.strip() for text in texts))
        self._row = {text: row for row, text in enumerate(unique)}
        self._matrix = torch.from_numpy(np.asarray(embed(unique), dtype=np.float32))

    def of(self, texts: Sequence[str]) -> torch.Tensor:
        return self._matrix[[self._row[text.strip()] for text in texts]]


def evaluate(data: UsebData, embed: Embed) -> UsebScores:
    """All of USEB's figures for one dataset; `MAIN_METRIC[data.name]` is the one the paper reports."""
    evaluators = {AskUbuntu: askubuntu, CQADupStack: cqadupstack, TwitterPara: twitterpara, SciDocs: scidocs}
    return evaluators[type(data.content)](data.content, embed)


def askubuntu(data: AskUbuntu, embed: Embed) -> UsebScores:
    """Re-rank each question's 20 BM25 candidates by title similarity: MAP, P@1, P@5, MRR."""
    vectors = Vectors(embed, (data.titles[qid] for q in data.questions for qid in (q.qid, *q.candidates)))
    per_question: dict[str, dict[str, float]] = {}
    for question in data.questions:
        query = F.normalize(vectors.of([data.titles[question.qid]]), dim=-1)
        candidates = F.normalize(vectors.of([data.titles[c] for c in question.candidates]), dim=-1)
        scores = (query @ candidates.T)[0].tolist()
        # A stable sort: equal scores keep the BM25 order, as in USEB.
        ranked = sorted(zip(question.candidates, scores, strict=True), key=lambda pair: pair[1], reverse=True)
        ranking = [qid for qid, _ in ranked]
        per_question[question.qid] = _ranking_metrics(set(question.relevant), ranking)
    metrics = {f"{name}_askubuntu_title": float(np.mean([m[name] for m in per_question.values()]))
               for name in ("map", "p@1", "p@5", "mrr")}
    return UsebScores(metrics, {MAIN_METRIC["askubuntu"]: {qid: m["map"] for qid, m in per_question.items()}})


def _ranking_metrics(relevant: set[str], ranking: list[str]) -> dict[str, float]:
    """USEB's AP divides by the relevant questions found among the candidates, not by all of them."""
    hits = [qid in relevant for qid in ranking]
    precisions = [sum(hits[: rank + 1]) / (rank + 1) for rank, hit in enumerate(hits) if hit]
    return {
        "map": float(np.mean(precisions)),
        "p@1": sum(hits[:1]) / len(hits[:1]),
        "p@5": sum(hits[:5]) / len(hits[:5]),
        "mrr": 1 / (hits.index(True) + 1),
    }


def cqadupstack(data: CQADupStack, embed: Embed) -> UsebScores:
    """Retrieve duplicates from each forum: MAP@100 and NDCG@10 per forum, then their mean over forums."""
    results: dict[str, float] = {}
    per_query: dict[str, dict[str, float]] = {}
    for name, forum in data.forums.items():
        vectors = Vectors(embed, [*forum.queries.values(), *forum.pool.values()])
        doc_ids = list(forum.pool)
        docs = F.normalize(vectors.of(list(forum.pool.values())), dim=-1)
        query_ids = list(forum.queries)
        aps: dict[str, float] = {}
        ndcgs = []
        for start in range(0, len(query_ids), _QUERY_CHUNK):
            chunk = query_ids[start : start + _QUERY_CHUNK]
            scores = F.normalize(vectors.of([forum.queries[qid] for qid in chunk]), dim=-1) @ docs.T
            top_scores, top_rows = scores.topk(min(MAP_DEPTH, len(doc_ids)), dim=-1)
            for qid, row_scores, rows in zip(chunk, top_scores, top_rows, strict=True):
                relevant = set(forum.relevant[qid])
                hits = [int(doc_ids[row] in relevant) for row in rows.tolist()]
                # USEB: scikit-learn's AP over the top 100 (ties grouped), 0 when none of them is relevant.
                aps[qid] = float(average_precision_score(hits, row_scores.tolist())) if 1 in hits else 0.0
                if forum.relevant[qid]:
                    ideal = [1] * len(forum.relevant[qid])
                    ndcgs.append(_dcg(hits[:NDCG_DEPTH]) / _dcg(ideal[:NDCG_DEPTH]))
        results[f"map@100_cqadupstack_{name}"] = float(np.mean(list(aps.values())))
        per_query[f"map@100_cqadupstack_{name}"] = aps
        results[f"ndcg@10_cqadupstack_{name}"] = float(np.mean(ndcgs))
    for metric in ("map@100", "ndcg@10"):
        results[f"{metric}_cqadupstack_avg"] = float(np.mean([results[f"{metric}_cqadupstack_{f}"] for f in data.forums]))
    return UsebScores(results, per_query)


def _dcg(relevances: Sequence[int]) -> float:
    return sum(rel / np.log2(rank + 2) for rank, rel in enumerate(relevances))


def twitterpara(data: TwitterPara, embed: Embed) -> UsebScores:
    """Cosine of each pair: AP against paraphrase / not (3 votes left out) and Spearman against the votes."""
    vectors = Vectors(embed, (text for pairs in data.subsets.values() for pair in pairs for text in (pair.s1, pair.s2)))
    results: dict[str, float] = {}
    judged_pairs: dict[str, tuple[list[int], list[float]]] = {}
    for name, pairs in data.subsets.items():
        predicted = F.cosine_similarity(vectors.of([p.s1 for p in pairs]), vectors.of([p.s2 for p in pairs]), dim=-1).numpy()
        judged = [i for i, pair in enumerate(pairs) if pair.votes != 3]
        labels = [int(pairs[i].votes > 3) for i in judged]
        results[f"ap_twitter_{name}"] = float(average_precision_score(labels, predicted[judged]))
        judged_pairs[name] = (labels, predicted[judged].tolist())
        # Over every pair, 3 votes included; USEB scales votes by 20, which leaves the ranks unchanged.
        results[f"spearman_twitter_{name}"] = float(spearmanr([pair.votes for pair in pairs], predicted).correlation)
    for metric in ("ap", "spearman"):
        results[f"{metric}_twitter_avg"] = float(np.mean([results[f"{metric}_twitter_{name}"] for name in data.subsets]))
    return UsebScores(results, pairs=judged_pairs)


def scidocs(data: SciDocs, embed: Embed) -> UsebScores:
    """Rank each paper's judged candidates by title similarity: MAP and NDCG (pytrec_eval) per task, then means."""

    def title(pid: str) -> str:
        return data.titles.get(pid, "")

    texts = (title(pid) for qrels in data.tasks.values() for qid, judged in qrels.items() for pid in (qid, *judged))
    vectors = Vectors(embed, (text for text in texts if text))
    results: dict[str, float] = {}
    per_query: dict[str, dict[str, float]] = {}
    distances = ("cosine", "euclidean")
    for task, qrels in data.tasks.items():
        runs: dict[str, dict[str, dict[str, float]]] = {distance: {} for distance in distances}
        for qid, judged in qrels.items():
            if not title(qid):
                continue  # papers without a title are left out, as queries and as candidates
            doc_ids = [did for did in judged if title(did)]
            query, docs = vectors.of([title(qid)]), vectors.of([title(did) for did in doc_ids])
            runs["cosine"][qid] = dict(zip(doc_ids, F.cosine_similarity(query, docs, dim=-1).tolist(), strict=True))
            runs["euclidean"][qid] = dict(zip(doc_ids, (-torch.norm(query - docs, dim=-1)).tolist(), strict=True))
        evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"map", "ndcg"})
        for distance, run in runs.items():
            evaluated = evaluator.evaluate(run)
            for metric in ("map", "ndcg"):
                results[f"{metric}_scidocs_{task}_{distance}"] = float(np.mean([scores[metric] for scores in evaluated.values()]))
            if distance == "cosine":  # the main metric's part
                per_query[f"map_scidocs_{task}_cosine"] = {qid: scores["map"] for qid, scores in evaluated.items()}
    for metric in ("map", "ndcg"):
        for distance in distances:
            results[f"{metric}_scidocs_{distance}_avg"] = float(
                np.mean([results[f"{metric}_scidocs_{task}_{distance}"] for task in data.tasks])
            )
    return UsebScores(results, per_query)
