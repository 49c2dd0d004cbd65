"""BM25 on SciFact: time to build the index and search all test queries, and NDCG@10.

Writes benchmarks/results/bm25_scifact_cpu.json. Run: .venv/bin/python benchmarks/bench_bm25.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from sgpt_eval import folders
from sgpt_eval.data import beir as beir_data
from sgpt_eval.evaluation import metrics
from sgpt_eval.reports.schema import hardware, package_versions
from sgpt_eval.retrieval import bm25
from sgpt_eval.storage import write_json

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    dataset = beir_data.load("scifact", folders.beir_dir())
    settings = bm25.BM25Settings()
    clock = time.perf_counter()
    index = bm25.BM25Index.build(dataset.corpus, settings)
    built = time.perf_counter() - clock
    results = index.search(dataset.queries, top_k=1000)
    searched = time.perf_counter() - clock - built
    figures = {
        "benchmark": "bm25s on SciFact test: index the corpus, search every test query (top-1000)",
        "settings": settings.as_dict(),
        "documents": len(dataset.corpus.docs),
        "queries": len(dataset.queries),
        "index_s": round(built, 3),
        "search_s": round(searched, 3),
        "ndcg@10": metrics.evaluate(dataset.qrels, results)["NDCG@10"],
        "versions": package_versions(),
        "hardware": hardware(),
    }
    write_json(REPO / "benchmarks" / "results" / "bm25_scifact_cpu.json", figures)
    print(json.dumps({k: figures[k] for k in ("index_s", "search_s", "ndcg@10")}))


if __name__ == "__main__":
    main()
