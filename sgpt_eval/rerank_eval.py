"""SGPT-CE re-ranking on one BEIR dataset, end to end: first stage (BM25 or an imported run
file) -> top-k -> cross-encoder scores (cached) -> metrics -> report, as the SGPT paper does
with the BM25 top-100."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from beir.reranking import Rerank

from . import metrics, model_store, run_files
from .beir_data import BeirDataset
from .bm25 import BM25Settings
from .bm25_eval import bm25_first_stage, load_judged, run_label
from .ce_prompts import TEMPLATES
from .cross_encoder import SGPTCrossEncoder
from .report import write_report
from .run_files import Run
from .storage import sha256_file

log = logging.getLogger(__name__)


@dataclass
class RerankOptions:
    model: str = "SmolLM2-135M"
    revision: str | None = None
    template: str = "asymmetric"
    max_length: int | None = None
    dtype: str = "auto"
    device: str | None = None
    batch_size: int = 16
    top_k: int = 100
    k1: float = BM25Settings.k1
    b: float = BM25Settings.b
    first_stage_run: Path | None = None
    max_queries: int | None = None
    use_cache: bool = True
    allow_pickle: bool = False
    trust_remote_code: bool = False

    def label(self) -> str:
        """The name the report goes under (its "model")."""
        return run_label(self.model, self.max_queries)


def load_cross_encoder(options: RerankOptions, cache_dir: Path) -> SGPTCrossEncoder:
    source = model_store.resolve(options.model, cache_dir, options.revision, options.allow_pickle)
    return SGPTCrossEncoder(
        source,
        template=options.template,
        max_length=options.max_length,
        dtype=options.dtype,
        device=options.device,
        batch_size=options.batch_size,
        allow_pickle=options.allow_pickle,
        trust_remote_code=options.trust_remote_code,
        score_cache_dir=cache_dir if options.use_cache else None,
    )


def imported_first_stage(path: Path, full: BeirDataset, dataset: BeirDataset) -> tuple[Run, dict]:
    """A run file, restricted to the dataset (with a warning for what it names that is not there)
    and then, silently, to the queries of this (possibly limited) run."""
    run = run_files.restrict_to(run_files.read_run(path), full.queries, full.corpus.docs, path)
    results = {qid: run[qid] for qid in dataset.queries if qid in run}
    return results, {"kind": "run_file", "path": str(path), "sha256": sha256_file(path)}


def top_candidates(results: Run, top_k: int) -> Run:
    """The k best documents of each query, its own id excluded (it never counts, as in BEIR)."""
    return {
        qid: dict(sorted(((did, s) for did, s in hits.items() if did != qid), key=lambda item: -item[1])[:top_k])
        for qid, hits in results.items()
    }


def run_rerank(
    dataset_name: str,
    data_dir: Path,
    output_dir: Path,
    cache_dir: Path,
    options: RerankOptions,
    reranker: SGPTCrossEncoder,
    split: str | None = None,
) -> Path:
    """Re-rank one dataset's first stage; returns the path of the JSON report."""
    timings: dict[str, float] = {}
    full, dataset, hashes = load_judged(dataset_name, data_dir, split, options.max_queries, timings)
    timings["load_model"] = reranker.load_seconds

    if options.first_stage_run:
        clock = time.perf_counter()
        first, stage = imported_first_stage(options.first_stage_run, full, dataset)
        timings["read_first_stage"] = time.perf_counter() - clock
    else:
        settings = BM25Settings(k1=options.k1, b=options.b)
        first, stage = bm25_first_stage(
            dataset, hashes["corpus"], settings, options.top_k, cache_dir if options.use_cache else None, timings
        )
    candidates = top_candidates(first, options.top_k)
    stage["NDCG@10"] = metrics.evaluate(dataset.qrels, candidates)["NDCG@10"]

    clock = time.perf_counter()
    results = Rerank(reranker, batch_size=reranker.batch_size).rerank(
        dataset.corpus.docs, dataset.queries, candidates, options.top_k
    )
    timings["rerank"] = time.perf_counter() - clock
    pairs = sum(len(hits) for hits in candidates.values())

    scores = metrics.evaluate(dataset.qrels, results)
    label = options.label()
    log.info("%s %s: NDCG@10 = %.4f (first stage %.4f)", dataset_name, label, scores["NDCG@10"], stage["NDCG@10"])
    config = {
        "first_stage": stage,
        "top_k": options.top_k,
        "max_queries": options.max_queries,
        "queries": len(dataset.queries),
        "pairs": pairs,
        "pairs_from_score_cache": reranker.pairs_from_cache,
        "prompt": {"name": options.template if options.template in TEMPLATES else "custom", "text": reranker.prompt.template},
        "cross_encoder": reranker.settings.as_dict(),
        "device": reranker.device,
        "batch_size": reranker.batch_size,
    }
    return write_report(
        output_dir,
        dataset=dataset_name,
        split=dataset.split,
        model=label,
        method="rerank",
        metrics=scores,
        per_query=metrics.per_query_ndcg(dataset.qrels, results),
        results=results,
        config=config,
        data_files=hashes,
        timings=timings,
    )
