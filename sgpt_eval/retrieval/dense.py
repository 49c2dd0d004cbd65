"""Dense retrieval: a bi-encoder's vectors (cached) searched exactly over FAISS, by inner
product on normalized (cosine) or raw (dot) vectors."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import faiss
import numpy as np

from ..data.beir import BeirDataset
from ..errors import SgptEvalError
from ..models.bi_encoder import EncoderSettings, SGPTBiEncoder
from ..progress import progress_bar
from ..storage import sha256_text
from ..timing import timed
from .embedding_cache import EmbeddingCache
from .ranking import Ranking

if TYPE_CHECKING:
    from ..executors.ray_pool import RayExecutor

log = logging.getLogger(__name__)

SCORE_FUNCTIONS = ("cos_sim", "dot")


def build_index(doc_vectors: np.ndarray, score_function: str = "cos_sim", use_gpu: bool | None = None) -> faiss.Index:
    """A flat inner-product index; on every GPU faiss sees unless `use_gpu` is False."""
    if score_function not in SCORE_FUNCTIONS:
        raise SgptEvalError(f"--score-function {score_function}: choose from {', '.join(SCORE_FUNCTIONS)}")
    vectors = _prepare(doc_vectors, score_function)
    index = faiss.IndexFlatIP(vectors.shape[1])
    gpus = faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0
    if gpus and use_gpu is not False:
        log.info("dense search on %d GPU(s)", gpus)
        index = faiss.index_cpu_to_all_gpus(index)
    elif use_gpu:
        raise SgptEvalError("--faiss-gpu was given but this faiss build sees no GPU; install faiss-gpu (pip install 'sgpt-eval[gpu]')")
    index.add(vectors)
    return index


def _prepare(vectors: np.ndarray, score_function: str) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if score_function == "cos_sim":
        vectors = vectors.copy()
        faiss.normalize_L2(vectors)
    return vectors


def search(
    query_vectors: np.ndarray,
    doc_vectors: np.ndarray,
    query_ids: list[str],
    doc_ids: list[str],
    top_k: int,
    score_function: str = "cos_sim",
    chunk_size: int = 4096,
    use_gpu: bool | None = None,
) -> dict[str, dict[str, float]]:
    """Top-k documents per query, with a document whose id equals the query's never returned.

    BEIR's convention: ask for one more hit, drop the self-hit, keep k. Queries go through in
    chunks so that the score matrix stays small however many there are.
    """
    index = build_index(doc_vectors, score_function, use_gpu)
    queries = _prepare(query_vectors, score_function)
    depth = min(top_k + 1, len(doc_ids))
    results: dict[str, dict[str, float]] = {}
    for start in progress_bar(range(0, len(query_ids), chunk_size), desc="search", unit="chunk", hide=len(query_ids) <= chunk_size):
        scores, indices = index.search(queries[start : start + chunk_size], depth)
        for row, query_id in enumerate(query_ids[start : start + chunk_size]):
            hits: dict[str, float] = {}
            for score, index_of in zip(scores[row], indices[row]):
                if index_of < 0 or len(hits) == top_k:
                    break
                doc_id = doc_ids[index_of]
                if doc_id != query_id:
                    hits[doc_id] = float(score)
            results[query_id] = hits
    return results


class DenseRetriever:
    """A bi-encoder (loaded on first use) + exact search."""

    method = "dense"

    def __init__(
        self,
        model: EncoderSettings,
        load: Callable[[], SGPTBiEncoder],
        cache: EmbeddingCache,
        top_k: int,
        score_function: str = "cos_sim",
        faiss_gpu: bool | None = None,
        executor: RayExecutor | None = None,
    ) -> None:
        if score_function not in SCORE_FUNCTIONS:
            raise SgptEvalError(f"--score-function {score_function}: choose from {', '.join(SCORE_FUNCTIONS)}")
        self.model, self.load, self.cache = model, load, cache  # `model`: settings for this run's dataset
        self.top_k, self.score_function, self.faiss_gpu = top_k, score_function, faiss_gpu
        self.executor = executor  # None: the model loads and encodes in this process

    def model_settings(self) -> dict:
        return self.model.as_dict()

    def settings(self) -> dict:
        return {"top_k": self.top_k, "score_function": self.score_function}

    def retrieve(self, dataset: BeirDataset, timings: dict[str, float]) -> tuple[Ranking, dict]:
        doc_ids, query_ids = list(dataset.corpus.docs), list(dataset.queries)
        if self.executor:
            encoder = remote = self.executor.bi_encoder(self.model, -(-len(doc_ids) // self.cache.shard_size))
        else:
            encoder, remote = self.load().with_instruction(self.model.instruction), None  # this dataset's instruction
        timings["load_model"] = encoder.load_seconds
        query_texts = [dataset.queries[qid] for qid in query_ids]
        with timed(timings, "encode_corpus"):
            doc_vectors, reused = self.cache.encode(encoder, dataset.corpus.texts(doc_ids), "doc",
                                                    dataset.hashes["corpus"], executor=remote)
        with timed(timings, "encode_queries"):
            query_vectors, _ = self.cache.encode(encoder, query_texts, "query", sha256_text("\n".join(query_texts)),
                                                 executor=remote)
        with timed(timings, "search"):
            ranking = search(query_vectors, doc_vectors, query_ids, doc_ids, self.top_k, self.score_function,
                             use_gpu=self.faiss_gpu)
        details = {"device": encoder.device, "batch_size": encoder.batch_size,
                   "embedding_cache": {"used": self.cache.root is not None, "corpus_shards_reused": reused}}
        return ranking, details
