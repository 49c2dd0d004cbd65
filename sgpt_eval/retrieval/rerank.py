"""SGPT-CE re-ranking over any first stage: BM25, or a ranking file (TREC or SGPT's JSON; every
report writes one, so a dense run can be re-ranked too). The first stage's top-k go to the
cross-encoder, whose scores replace theirs, as the SGPT paper does with the BM25 top-100."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from beir.reranking import Rerank

from ..data.beir import BeirDataset
from ..errors import SgptEvalError
from ..evaluation import metrics
from ..models.cross_encoder import CrossEncoderSettings, SGPTCrossEncoder
from ..models.prompts import TEMPLATES
from ..storage import sha256_file
from ..timing import timed
from . import ranking as ranking_files
from .bm25 import BM25Retriever
from .ranking import Ranking

if TYPE_CHECKING:
    from ..executors.ray_pool import RayExecutor

log = logging.getLogger(__name__)


class RankingFile:
    """A first stage read from a file, restricted to the dataset (with a warning for what it
    names that is not there) and to the queries of this run."""

    method = "ranking_file"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise SgptEvalError(f"--first-stage {path}: no such ranking file; give bm25 or a TREC / SGPT JSON file")
        self.sha256 = sha256_file(self.path)

    def settings(self) -> dict:
        return {"kind": "ranking_file", "sha256": self.sha256}

    def retrieve(self, dataset: BeirDataset, timings: dict[str, float]) -> tuple[Ranking, dict]:
        with timed(timings, "read_first_stage"):
            ranking = ranking_files.restrict_to(
                ranking_files.read_ranking(self.path), dataset.queries, dataset.corpus.docs, self.path)
        return {qid: ranking[qid] for qid in dataset.queries if qid in ranking}, {"path": str(self.path)}


class RerankRetriever:
    """A first stage's top-k, re-scored by an SGPT cross-encoder (loaded on first use)."""

    method = "rerank"

    def __init__(
        self,
        model: CrossEncoderSettings,
        load: Callable[[], SGPTCrossEncoder],
        first_stage: BM25Retriever | RankingFile,
        top_k: int,
        executor: RayExecutor | None = None,
    ) -> None:
        self.model, self.load, self.first_stage, self.top_k = model, load, first_stage, top_k
        self.executor = executor  # None: the model loads and scores in this process

    def model_settings(self) -> dict:
        return self.model.as_dict()

    def settings(self) -> dict:
        stage = self.first_stage.settings()
        return {"top_k": self.top_k, "first_stage": stage if isinstance(self.first_stage, RankingFile)
                else {"kind": "bm25", **stage}}

    def retrieve(self, dataset: BeirDataset, timings: dict[str, float]) -> tuple[Ranking, dict]:
        first, stage = self.first_stage.retrieve(dataset, timings)  # an unusable first stage fails before loading
        candidates = ranking_files.top_k(first, self.top_k)
        reranker = (self.executor.cross_encoder(self.model, sum(len(hits) for hits in candidates.values()))
                    if self.executor else self.load())
        timings["load_model"] = reranker.load_seconds
        stage["NDCG@10"] = metrics.evaluate(dataset.qrels, candidates)["NDCG@10"]
        with timed(timings, "rerank"):
            documents = dataset.corpus.subset(doc_id for hits in candidates.values() for doc_id in hits)
            ranking = Rerank(reranker, batch_size=reranker.batch_size).rerank(
                documents, dataset.queries, candidates, self.top_k)
        log.info("%s: first stage NDCG@10 = %.4f", dataset.name, stage["NDCG@10"])
        template = self.model.template
        details = {
            "first_stage": stage,
            "pairs": sum(len(hits) for hits in candidates.values()),
            "pairs_from_score_cache": reranker.pairs_from_cache,
            "prompt": next((name for name, text in TEMPLATES.items() if text == template), "custom"),
            "device": reranker.device,
            "batch_size": reranker.batch_size,
        }
        return ranking, details
