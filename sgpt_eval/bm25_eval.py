"""BM25 on one BEIR dataset, end to end: load, index (cached), search, score, report.

Also the pieces a re-ranking run shares with it: the BM25 first stage and the fixed query
subset (`max_queries`) that makes CPU runs feasible.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from . import beir_data, bm25, metrics
from .beir_data import BeirDataset
from .errors import SgptEvalError
from .report import write_report
from .run_files import Run

log = logging.getLogger(__name__)


@dataclass
class BM25Options:
    k1: float = bm25.BM25Settings.k1
    b: float = bm25.BM25Settings.b
    top_k: int = 1000
    max_queries: int | None = None
    use_cache: bool = True

    def settings(self) -> bm25.BM25Settings:
        return bm25.BM25Settings(k1=self.k1, b=self.b)

    def label(self) -> str:
        """The name the report goes under (its "model")."""
        return run_label(f"bm25s-k{self.k1:g}-b{self.b:g}".replace(".", "_"), self.max_queries)


def limit_queries(dataset: BeirDataset, max_queries: int | None) -> BeirDataset:
    """The first `max_queries` judged queries, in the order of the qrels file (None: all of them)."""
    if max_queries is None:
        return dataset
    if max_queries < 1:
        raise SgptEvalError(f"--max-queries {max_queries}: must be at least 1")
    keep = list(dataset.queries)[:max_queries]
    return dataclasses.replace(
        dataset, queries={qid: dataset.queries[qid] for qid in keep}, qrels={qid: dataset.qrels[qid] for qid in keep}
    )


def run_label(name: str, max_queries: int | None) -> str:
    """The report's name: a subset run must not overwrite (or be compared as) a full one."""
    return name if max_queries is None else f"{name}-first{max_queries}q"


def bm25_first_stage(
    dataset: BeirDataset, corpus_sha256: str, settings: bm25.BM25Settings, top_k: int,
    cache_dir: Path | None, timings: dict[str, float],
) -> tuple[Run, dict]:
    """Top-k BM25 results for the dataset's queries, and how they were made (for the report)."""
    clock = time.perf_counter()
    index, reused = bm25.load_or_build(dataset.corpus, corpus_sha256, settings, cache_dir)
    timings["bm25_index"] = time.perf_counter() - clock
    clock = time.perf_counter()
    results = index.search(dataset.queries, top_k)
    timings["bm25_search"] = time.perf_counter() - clock
    log.info("BM25 index %s and search: %.2f s", "loaded" if reused else "built", timings["bm25_index"] + timings["bm25_search"])
    return results, {"kind": "bm25", "library": "bm25s", "settings": settings.as_dict(), "index_from_cache": reused}


def load_judged(
    dataset_name: str, data_dir: Path, split: str | None, max_queries: int | None, timings: dict[str, float]
) -> tuple[BeirDataset, BeirDataset, dict[str, str]]:
    """The whole dataset, its first `max_queries` judged queries, and its file hashes (timed as load_data)."""
    clock = time.perf_counter()
    full = beir_data.load(dataset_name, data_dir, split)
    hashes = full.file_hashes()
    dataset = limit_queries(full, max_queries)
    timings["load_data"] = time.perf_counter() - clock
    return full, dataset, hashes


def run_bm25(
    dataset_name: str, data_dir: Path, output_dir: Path, cache_dir: Path, options: BM25Options, split: str | None = None
) -> Path:
    """Evaluate BM25 on one dataset; returns the path of the JSON report."""
    timings: dict[str, float] = {}
    _, dataset, hashes = load_judged(dataset_name, data_dir, split, options.max_queries, timings)
    settings = options.settings()
    results, stage = bm25_first_stage(
        dataset, hashes["corpus"], settings, options.top_k, cache_dir if options.use_cache else None, timings
    )
    scores = metrics.evaluate(dataset.qrels, results)
    label = options.label()
    log.info("%s %s: NDCG@10 = %.4f", dataset_name, label, scores["NDCG@10"])
    return write_report(
        output_dir,
        dataset=dataset_name,
        split=dataset.split,
        model=label,
        method="bm25",
        metrics=scores,
        per_query=metrics.per_query_ndcg(dataset.qrels, results),
        results=results,
        config={**stage, "top_k": options.top_k, "max_queries": options.max_queries, "queries": len(dataset.queries)},
        data_files=hashes,
        timings=timings,
    )
