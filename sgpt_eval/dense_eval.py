"""Dense retrieval on one BEIR dataset, end to end: load, encode (cached), search, score, report."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from . import beir_data, dense_search, metrics, model_store
from .embedding_cache import DEFAULT_SHARD_SIZE, EmbeddingCache
from .encoder import SGPTBiEncoder
from .report import write_report
from .storage import sha256_text

log = logging.getLogger(__name__)


@dataclass
class DenseOptions:
    model: str = "all-MiniLM-L6-v2"
    pooling: str | None = None
    specb: bool | None = None
    max_length: int | None = None
    dtype: str = "auto"
    device: str | None = None
    batch_size: int = 32
    top_k: int = 1000
    score_function: str = "cos_sim"
    use_cache: bool = True
    shard_size: int = DEFAULT_SHARD_SIZE
    faiss_gpu: bool | None = None
    allow_pickle: bool = False
    trust_remote_code: bool = False
    revision: str | None = None

    def label(self) -> str:
        """The name the report goes under."""
        return self.model


def load_encoder(options: DenseOptions, cache_dir: Path) -> SGPTBiEncoder:
    source = model_store.resolve(options.model, cache_dir, options.revision, options.allow_pickle)
    return SGPTBiEncoder(
        source,
        pooling=options.pooling,
        specb=options.specb,
        max_length=options.max_length,
        dtype=options.dtype,
        device=options.device,
        batch_size=options.batch_size,
        allow_pickle=options.allow_pickle,
        trust_remote_code=options.trust_remote_code,
    )


def run_dense(
    dataset_name: str,
    data_dir: Path,
    output_dir: Path,
    cache_dir: Path,
    options: DenseOptions,
    encoder: SGPTBiEncoder,
    split: str | None = None,
) -> Path:
    """Evaluate one model on one dataset; returns the path of the JSON report."""
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    dataset = beir_data.load(dataset_name, data_dir, split)
    hashes = dataset.file_hashes()
    timings["load_data"] = time.perf_counter() - clock

    timings["load_model"] = encoder.load_seconds

    doc_ids = list(dataset.corpus.docs)
    query_ids = list(dataset.queries)
    query_texts = [dataset.queries[qid] for qid in query_ids]
    cache = EmbeddingCache(cache_dir, options.shard_size) if options.use_cache else None

    clock = time.perf_counter()
    if cache:
        doc_vectors, reused = cache.encode(encoder, dataset.corpus.texts(doc_ids), "doc", hashes["corpus"])
    else:
        doc_vectors, reused = encoder.encode(dataset.corpus.texts(doc_ids), "doc"), 0
    timings["encode_corpus"] = time.perf_counter() - clock

    clock = time.perf_counter()
    if cache:
        query_vectors, _ = cache.encode(encoder, query_texts, "query", sha256_text("\n".join(query_texts)))
    else:
        query_vectors = encoder.encode(query_texts, "query")
    timings["encode_queries"] = time.perf_counter() - clock

    clock = time.perf_counter()
    results = dense_search.search(
        query_vectors, doc_vectors, query_ids, doc_ids, options.top_k, options.score_function, use_gpu=options.faiss_gpu
    )
    timings["search"] = time.perf_counter() - clock

    scores = metrics.evaluate(dataset.qrels, results)
    log.info("%s %s: NDCG@10 = %.4f", dataset_name, options.model, scores["NDCG@10"])
    config = {
        "encoder": encoder.settings.as_dict(),
        "device": encoder.device,
        "batch_size": options.batch_size,
        "top_k": options.top_k,
        "score_function": options.score_function,
        "embedding_cache": {"used": bool(cache), "corpus_shards_reused": reused},
    }
    return write_report(
        output_dir,
        dataset=dataset_name,
        split=dataset.split,
        model=options.model,
        method="dense",
        metrics=scores,
        per_query=metrics.per_query_ndcg(dataset.qrels, results),
        results=results,
        config=config,
        data_files=hashes,
        timings=timings,
    )
