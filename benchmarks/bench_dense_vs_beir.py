"""all-MiniLM-L6-v2 on SciFact through BEIR's own pipeline and through ours, in one process.

BEIR: GenericDataLoader -> DenseRetrievalExactSearch(models.SentenceBERT) -> EvaluateRetrieval.
Ours: sgpt_eval.evaluation.pipeline.evaluate with a fresh embedding cache (so it really encodes).
Both on the same device, batch size 32, cosine similarity, top-1000. Prints and writes
benchmarks/results/dense_vs_beir_<device>.json: NDCG@10 of each, wall times and their ratio.
Run: make bench   (or: .venv/bin/python benchmarks/bench_dense_vs_beir.py [--device cuda])
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

import torch

from sgpt_eval import folders
from sgpt_eval.evaluation.pipeline import Models, evaluate
from sgpt_eval.evaluation.specs import RunSpec
from sgpt_eval.models import store
from sgpt_eval.models.options import ModelOptions
from sgpt_eval.models.presets import PRESETS
from sgpt_eval.reports.schema import hardware, package_versions
from sgpt_eval.storage import write_json

REPO = Path(__file__).resolve().parents[1]


def run_beir(data_dir: Path, model_path: Path, device: str, batch_size: int) -> tuple[float, float]:
    from beir.datasets.data_loader import GenericDataLoader
    from beir.retrieval import models
    from beir.retrieval.evaluation import EvaluateRetrieval
    from beir.retrieval.search.dense import DenseRetrievalExactSearch

    started = time.perf_counter()
    corpus, queries, qrels = GenericDataLoader(data_folder=str(data_dir / "scifact")).load(split="test")
    model = models.SentenceBERT(str(model_path), device=device)
    retriever = EvaluateRetrieval(
        DenseRetrievalExactSearch(model, batch_size=batch_size, show_progress_bar=False), score_function="cos_sim"
    )
    results = retriever.retrieve(corpus, queries)
    ndcg, *_ = retriever.evaluate(qrels, results, retriever.k_values)
    return ndcg["NDCG@10"], time.perf_counter() - started


def run_ours(data_dir: Path, device: str, batch_size: int) -> tuple[float, float]:
    started = time.perf_counter()
    spec = RunSpec("scifact", "dense", ModelOptions(model="all-MiniLM-L6-v2", device=device, batch_size=batch_size))
    with tempfile.TemporaryDirectory() as scratch:  # a fresh cache in scratch: encoding is timed, not skipped
        ndcg = evaluate(spec, data_dir, Path(scratch) / "results", Models(Path(scratch))).report.main_score
    return ndcg, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--repeats", type=int, default=1, help="interleaved repetitions; the fastest of each is kept")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    data_dir = folders.beir_dir(args.data_dir)
    model_path = store.prepare_offline(PRESETS["all-MiniLM-L6-v2"], folders.cache_dir())

    beir_runs, our_runs = [], []
    for _ in range(args.repeats):
        beir_runs.append(run_beir(data_dir, model_path, args.device, args.batch_size))
        our_runs.append(run_ours(data_dir, args.device, args.batch_size))
    (beir_ndcg, beir_seconds), (ours_ndcg, ours_seconds) = min(beir_runs, key=lambda r: r[1]), min(our_runs, key=lambda r: r[1])
    figures = {
        "benchmark": "all-MiniLM-L6-v2 on SciFact test, BEIR pipeline vs sgpt-eval, same process",
        "device": args.device,
        "batch_size": args.batch_size,
        "repeats": args.repeats,
        "all_wall_s": {"beir": [round(r[1], 2) for r in beir_runs], "sgpt_eval": [round(r[1], 2) for r in our_runs]},
        "beir": {"ndcg@10": beir_ndcg, "wall_s": round(beir_seconds, 2)},
        "sgpt_eval": {"ndcg@10": ours_ndcg, "wall_s": round(ours_seconds, 2)},
        "ndcg@10_equal_to_4_decimals": round(beir_ndcg, 4) == round(ours_ndcg, 4),
        "time_ratio_ours_over_beir": round(ours_seconds / beir_seconds, 3),
        "versions": package_versions(),
        "hardware": hardware(),
    }
    write_json(REPO / "benchmarks" / "results" / f"dense_vs_beir_{args.device.split(':')[0]}.json", figures)
    print(json.dumps({k: figures[k] for k in ("beir", "sgpt_eval", "ndcg@10_equal_to_4_decimals", "time_ratio_ours_over_beir")}))


if __name__ == "__main__":
    main()
