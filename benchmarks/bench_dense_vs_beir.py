"""all-MiniLM-L6-v2 end to end: BEIR's own pipeline at its defaults, ours in float32, ours in bfloat16.

BEIR: GenericDataLoader -> DenseRetrievalExactSearch(models.SentenceBERT) at its defaults (128
texts per batch, corpus chunks of 50,000) -> EvaluateRetrieval (cosine, top-1000).
Ours: sgpt_eval.evaluation.pipeline.evaluate at our defaults (batches of at most 4,096 padded
tokens on a CPU, 16,384 on a GPU) with a fresh embedding cache, so it really encodes; once in
float32 (bit-exact with the reference code) and once with --dtype bfloat16. All in one process,
on the same device, with the same torch and faiss threads; the sides take turns within each
repetition, and the load average is recorded before and after each run (the machine may be shared).

Writes benchmarks/results/dense_vs_beir_<cpu|gpu>.json (with BEIR: SciFact) or
dense_dtypes_<cpu|gpu>.json (--no-beir: float32 against bfloat16 only).
Run: make bench   (or: .venv/bin/python benchmarks/bench_dense_vs_beir.py [--device cuda])
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from sgpt_eval import folders
from sgpt_eval.cli.options import set_threads
from sgpt_eval.evaluation.pipeline import Models, evaluate
from sgpt_eval.evaluation.specs import RunSpec
from sgpt_eval.models import store
from sgpt_eval.models.bi_encoder import native_bfloat16
from sgpt_eval.models.options import ModelOptions
from sgpt_eval.models.presets import PRESETS
from sgpt_eval.reports.schema import device_kind, hardware, package_versions
from sgpt_eval.storage import write_json

REPO = Path(__file__).resolve().parents[1]
MODEL = "all-MiniLM-L6-v2"


def run_beir(data_dir: Path, dataset: str, device: str) -> float:
    """BEIR's pipeline with every setting at its default; its NDCG@10."""
    from beir.datasets.data_loader import GenericDataLoader
    from beir.retrieval import models
    from beir.retrieval.evaluation import EvaluateRetrieval
    from beir.retrieval.search.dense import DenseRetrievalExactSearch

    corpus, queries, qrels = GenericDataLoader(data_folder=str(data_dir / dataset)).load(split="test")
    model = models.SentenceBERT(str(store.prepare_offline(PRESETS[MODEL], folders.cache_dir())), device=device)
    retriever = EvaluateRetrieval(DenseRetrievalExactSearch(model, show_progress_bar=False))
    results = retriever.retrieve(corpus, queries)
    ndcg, *_ = retriever.evaluate(qrels, results, retriever.k_values)
    return ndcg["NDCG@10"]


def run_ours(data_dir: Path, dataset: str, device: str, dtype: str) -> float:
    """Our pipeline at its defaults but the dtype, with a fresh cache; its NDCG@10."""
    spec = RunSpec(dataset, "dense", ModelOptions(model=MODEL, device=device, dtype=dtype))
    with tempfile.TemporaryDirectory() as scratch:  # a fresh cache in scratch: encoding is timed, not skipped
        return evaluate(spec, data_dir, Path(scratch) / "results", Models(Path(scratch))).report.main_score


def subset(source: Path, target: Path, queries: int) -> None:
    """A smaller copy of a BEIR dataset: its first `queries` judged test queries (qrels order) and
    8 documents per query, those judged for them first, then the corpus' first others."""
    header, *rows = (source / "qrels" / "test.tsv").read_text().splitlines()
    wanted = set(list(dict.fromkeys(row.split("\t")[0] for row in rows))[:queries])
    kept = [row for row in rows if row.split("\t")[0] in wanted]
    judged = {row.split("\t")[1] for row in kept}
    (target / "qrels").mkdir(parents=True)
    (target / "qrels" / "test.tsv").write_text("\n".join([header, *kept]) + "\n")
    with open(source / "queries.jsonl") as read, open(target / "queries.jsonl", "w") as write:
        write.writelines(row for row in read if json.loads(row)["_id"] in wanted)
    corpus = (source / "corpus.jsonl").read_text().splitlines(keepends=True)
    first = [row for row in corpus if json.loads(row)["_id"] in judged][: 8 * queries]
    others = [row for row in corpus if json.loads(row)["_id"] not in judged][: 8 * queries - len(first)]
    (target / "corpus.jsonl").write_text("".join(first + others))


def timed(run: Callable[[], float]) -> dict:
    """NDCG@10, wall time, this process' CPU time (all its threads: what a shared machine's load
    disturbs least) and the 1-minute load average before and after."""
    load_before, started, cpu_started = os.getloadavg()[0], time.perf_counter(), time.process_time()
    ndcg = run()
    return {"ndcg@10": ndcg, "wall_s": round(time.perf_counter() - started, 2),
            "cpu_s": round(time.process_time() - cpu_started, 2),
            "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2)}


def measure(data_dir: Path, dataset: str, device: str, with_beir: bool, repeats: int) -> dict:
    sides: dict[str, Callable[[], float]] = {
        "sgpt_eval_float32": lambda: run_ours(data_dir, dataset, device, "float32"),
        "sgpt_eval_bfloat16": lambda: run_ours(data_dir, dataset, device, "bfloat16"),
    }
    if with_beir:
        sides = {"beir": lambda: run_beir(data_dir, dataset, device), **sides}
    runs: dict[str, list[dict]] = {name: [] for name in sides}
    names = list(sides)
    for repeat in range(repeats):
        for name in names[repeat % len(names):] + names[: repeat % len(names)]:  # each repetition starts elsewhere
            runs[name].append(timed(sides[name]))
            print(dataset, name, runs[name][-1], flush=True)
    best = {name: min(done, key=lambda run: run["wall_s"]) for name, done in runs.items()}
    base = "beir" if with_beir else "sgpt_eval_float32"
    figures = {"best": best, "runs": runs}
    for clock in ("wall_s", "cpu_s"):
        figures[f"speed_up_over_{base}_{clock}"] = {name: round(best[base][clock] / best[name][clock], 3)
                                                    for name in names if name != base}
    if with_beir:
        figures["float32_ndcg@10_equal_to_beir"] = round(best["sgpt_eval_float32"]["ndcg@10"], 5) == round(
            best["beir"]["ndcg@10"], 5)
    figures["bfloat16_ndcg@10_equal_to_float32_to_3_decimals"] = round(best["sgpt_eval_bfloat16"]["ndcg@10"], 3) == round(
        best["sgpt_eval_float32"]["ndcg@10"], 3)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--datasets", nargs="+", default=["scifact"])
    parser.add_argument("--no-beir", dest="beir", action="store_false", help="float32 against bfloat16 only")
    parser.add_argument("--threads", type=int, default=2, help="torch and faiss threads of every side")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--repeats", type=int, default=1, help="repetitions, the sides taking turns; the fastest is kept")
    parser.add_argument("--subset", type=int, default=None, metavar="N", help=subset.__doc__.split(":")[0]
                        + ": the first N judged queries and 8N documents")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    set_threads(args.threads)
    data_dir = folders.beir_dir(args.data_dir)
    scratch = tempfile.TemporaryDirectory()
    if args.subset:
        for name in args.datasets:
            subset(data_dir / name, Path(scratch.name) / name, args.subset)
        data_dir = Path(scratch.name)
    figures = {
        "benchmark": f"{MODEL} end to end" + (": BEIR's pipeline at its defaults, " if args.beir else ": ")
                     + "sgpt-eval float32 and bfloat16, same process",
        "device": args.device,
        "threads": args.threads,
        "repeats": args.repeats,
        "subset_queries": args.subset,
        "cpu_native_bfloat16": native_bfloat16(),
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
        "datasets": {name: measure(data_dir, name, args.device, args.beir, args.repeats) for name in args.datasets},
    }
    figures |= {"load_average_end": [round(x, 2) for x in os.getloadavg()],
                "versions": package_versions(), "hardware": hardware()}
    name = ("dense_vs_beir" if args.beir else "dense_dtypes") + (f"_subset{args.subset}" if args.subset else "")
    write_json(REPO / "benchmarks" / "results" / f"{name}_{device_kind(args.device)}.json", figures)
    print(json.dumps({dataset: {k: v for k, v in f.items() if k != "runs"} for dataset, f in figures["datasets"].items()}))


if __name__ == "__main__":
    main()
