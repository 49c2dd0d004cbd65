"""SGPT-CE re-ranking: a first stage's top-k candidates (a ranking: BM25's, a ranking file's, a
dense run's) re-scored by a cross-encoder, whose scores replace theirs, as the SGPT paper does
with the BM25 top-100. The pipeline runs the first stage and hands its candidates over."""

from __future__ import annotations

import logging
from pathlib import Path

from beir.reranking import Rerank

from ..data.beir import BeirDataset
from ..executors import Executor
from ..models.prompts import TEMPLATES
from ..models.resolution import ResolvedModel
from ..models.score_cache import CachedScorer, ScoreCache
from ..timing import timed
from .ranking import Ranking

log = logging.getLogger(__name__)


class Reranker:
    """A resolved cross-encoder, loaded by its executor when it first re-ranks, its scores kept in
    the score cache under `score_cache_dir` (None: no cache)."""

    method = "rerank"

    def __init__(self, model: ResolvedModel, executor: Executor, score_cache_dir: Path | None, top_k: int) -> None:
        self.model, self.executor, self.score_cache_dir, self.top_k = model, executor, score_cache_dir, top_k

    def model_settings(self) -> dict:
        return self.model.settings.as_dict()

    def settings(self) -> dict:
        return {"top_k": self.top_k}

    def rerank(self, dataset: BeirDataset, candidates: Ranking, timings: dict[str, float]) -> tuple[Ranking, dict]:
        """The candidates re-scored, each query's best `top_k` kept; and how it ran, for the report."""
        pairs = sum(len(hits) for hits in candidates.values())
        settings = self.model.settings
        scorer = CachedScorer(self.executor.cross_encoder(self.model, pairs),
                              ScoreCache.for_settings(self.score_cache_dir, settings.as_dict()))
        timings["load_model"] = scorer.load_seconds
        with timed(timings, "rerank"):
            documents = dataset.corpus.subset(doc_id for hits in candidates.values() for doc_id in hits)
            ranking = Rerank(scorer, batch_size=scorer.batch_size).rerank(documents, dataset.queries, candidates,
                                                                          self.top_k)
        details = {
            "pairs": pairs,
            "pairs_from_score_cache": scorer.pairs_from_cache,
            "prompt": next((name for name, text in TEMPLATES.items() if text == settings.template), "custom"),
            "device": scorer.device,
            "batch_size": scorer.batch_size,
        }
        return ranking, details
