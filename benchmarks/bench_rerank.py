"""SGPT-CE re-ranking on SciFact: our scorer against the per-pair SGPT loop, in one process.

Both score the same token ids (`models.prompts.PromptTokenizer`), in fp32 on the same device,
on two fixed sets of BM25 (bm25s, k1=1.5, b=0.75) pairs from the SciFact test split:

* subset: the first N judged queries (qrels order) x their BM25 top-k (default 3 x 10); the
  same queries are then re-ranked end to end (`evaluation.pipeline.evaluate`, reading the scores the
  timed run cached) for NDCG@10 of BM25 and of BM25 + SGPT-CE on them;
* shared: the paper's protocol (every query x BM25 top-100) cut down to the pairs whose
  document is one of the first D documents (corpus order) that run retrieves, so that each
  document is re-ranked for as many queries as in a full run.

Prints and writes benchmarks/results/rerank_smollm2_<cpu|gpu>.json (or --output): pairs/s of each scorer,
their ratio, the largest score difference, NDCG@10, wall times.
Run: .venv/bin/python benchmarks/bench_rerank.py [--queries 3] [--top-k 10] [--docs 4] [--threads 1]

`--workload full` times the real workload instead: every BM25 top-100 pair of the first N judged
queries, all scored by ours (fp32, then bf16), a seeded random sample of M of them by the
per-pair loop; pairs/s compared per pair, scores compared on the sample, bf16 against fp32 on
all pairs. Writes benchmarks/results/rerank_full_<cpu|gpu>.json.
Run: .venv/bin/python benchmarks/bench_rerank.py --workload full [--full-queries 20] [--sample 100] --threads 2

`--workload documents` estimates the whole paper workload (all 300 test queries x BM25 top-100,
30,000 pairs, many hours on a CPU) from a uniform sample of its documents, each with every pair
it is in, so that prompts are shared across queries as much as in the whole run. Writes
benchmarks/results/rerank_documents_<cpu|gpu>.json.
Run: .venv/bin/python benchmarks/bench_rerank.py --workload documents [--documents 80] [--sample 100] --threads 2
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the reference loop lives with the tests

from sgpt_eval import folders  # noqa: E402
from sgpt_eval.data import beir as beir_data  # noqa: E402
from sgpt_eval.evaluation.pipeline import Models, evaluate  # noqa: E402
from sgpt_eval.evaluation.specs import RunOptions, RunSpec  # noqa: E402
from sgpt_eval.models.cross_encoder import SGPTCrossEncoder  # noqa: E402
from sgpt_eval.models.options import ModelOptions  # noqa: E402
from sgpt_eval.models.resolution import ResolvedModel, resolve_model  # noqa: E402
from sgpt_eval.models.score_cache import CachedScorer, ScoreCache  # noqa: E402
from sgpt_eval.reports.schema import device_kind, hardware, package_versions  # noqa: E402
from sgpt_eval.retrieval import bm25  # noqa: E402
from sgpt_eval.storage import write_json  # noqa: E402
from tests.reference_sgpt_ce import reference_scores  # noqa: E402

PROTOCOL_TOP_K = 100
RESULTS = REPO / "benchmarks" / "results"


def measure(scorer: SGPTCrossEncoder, pairs: list[tuple[str, str]], cache: ScoreCache) -> dict:
    """Time our scorer (filling the empty score cache `cache`, as a run does) and the reference loop on `pairs`."""
    cached = CachedScorer(scorer, cache)
    clock = time.perf_counter()
    fast = cached.predict(pairs, show_progress_bar=False)
    fast_s = time.perf_counter() - clock
    assert cached.pairs_from_cache == 0, "the timed run must score every pair"
    clock = time.perf_counter()
    slow = reference_scores(scorer.model, scorer.prompt, pairs, scorer.device)
    slow_s = time.perf_counter() - clock
    tokenized = scorer.prompt.pairs(pairs)
    return {
        "pairs": len(pairs),
        "distinct_documents": len({doc for _, doc in pairs}),
        "mean_prompt_tokens": round(sum(len(p.prefix) for p in tokenized) / len(pairs), 1),
        "mean_query_tokens": round(sum(len(p.query) for p in tokenized) / len(pairs), 1),
        "sgpt_eval": {"seconds": round(fast_s, 2), "pairs_per_s": round(len(pairs) / fast_s, 3)},
        "reference_loop": {"seconds": round(slow_s, 2), "pairs_per_s": round(len(pairs) / slow_s, 3)},
        "speedup": round(slow_s / fast_s, 2),
        "max_abs_score_difference": max(abs(a - b) for a, b in zip(fast, slow)),
    }


def timed(work, count: int) -> tuple[list[float], dict]:
    """Scores from `work()` with its wall and CPU seconds: on a shared machine the CPU time (all
    threads of this process) moves less with the other jobs' load than the wall time does."""
    wall, cpu = time.perf_counter(), time.process_time()
    scores = work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    timing = {"pairs": count, "seconds": round(wall, 2), "pairs_per_s": round(count / wall, 3),
              "cpu_seconds": round(cpu, 2), "pairs_per_cpu_s": round(count / cpu, 3)}
    print(json.dumps(timing), os.getloadavg(), file=sys.stderr, flush=True)
    return scores, timing


def ratio(fast: dict, slow: dict, key: str) -> float:
    return round(fast[key] / slow[key], 2)


def order_agreement(pairs: list[tuple[str, str]], first: list[float], second: list[float]) -> float:
    """The fraction of a query's document pairs that two lists of scores put in the same order."""
    by_query: dict[str, list[tuple[float, float]]] = {}
    for (query, _), a, b in zip(pairs, first, second):
        by_query.setdefault(query, []).append((a, b))
    same = [(a1 - a2) * (b1 - b2) > 0 for scores in by_query.values() for (a1, b1), (a2, b2) in itertools.combinations(scores, 2)]
    return sum(same) / len(same)


def full_workload(args, dataset, run: dict, text: dict, source) -> dict:
    """Every top-100 pair of the first N judged queries: ours on all, the loop on a seeded sample."""
    queries = beir_data.limit_queries(dataset, args.full_queries).queries
    pairs = [(query, text[did]) for qid, query in queries.items() for did in list(run[qid])[:PROTOCOL_TOP_K]]
    return {"definition": f"first {len(queries)} judged SciFact test queries (qrels order) x BM25 top-{PROTOCOL_TOP_K}, "
                          f"all pairs; the reference loop on {min(args.sample, len(pairs))} of them drawn at random "
                          f"(seed {args.seed})",
            **timed_workload(args, pairs, source)}


def documents_workload(args, dataset, run: dict, text: dict, source) -> dict:
    """The whole workload (every test query x BM25 top-100) sampled by document: D documents drawn
    at random from those it re-ranks, each with every pair it is in. A document's prompt runs once
    for all its queries, so the cost of the whole run is the sum of its documents' costs, and a
    uniform sample of documents estimates the whole run's pairs/s, reuse included."""
    retrieved = sorted({did for hits in run.values() for did in list(hits)[:PROTOCOL_TOP_K]})
    kept = set(random.Random(args.seed).sample(retrieved, min(args.documents, len(retrieved))))
    pairs = [(dataset.queries[qid], text[did]) for qid, hits in run.items() for did in list(hits)[:PROTOCOL_TOP_K]
             if did in kept]
    whole_pairs = sum(min(len(hits), PROTOCOL_TOP_K) for hits in run.values())
    figures = timed_workload(args, pairs, source)
    return {
        "definition": f"all {len(run)} SciFact test queries x BM25 top-{PROTOCOL_TOP_K} (the paper's protocol), "
                      f"the pairs of {len(kept)} of its documents drawn at random (seed {args.seed}); "
                      f"the reference loop on {min(args.sample, len(pairs))} of those pairs, drawn at random",
        "whole_workload": {"pairs": whole_pairs, "distinct_documents": len(retrieved),
                           "pairs_per_document": round(whole_pairs / len(retrieved), 2),
                           "estimated_hours_sgpt_eval_float32":
                               round(whole_pairs / figures["sgpt_eval_float32"]["pairs_per_s"] / 3600, 2),
                           "estimated_hours_reference_loop":
                               round(whole_pairs / figures["reference_loop_float32"]["pairs_per_s"] / 3600, 2)},
        "sample_pairs_per_document": round(len(pairs) / len(kept), 2),
        **figures,
    }


def timed_workload(args, pairs: list[tuple[str, str]], source) -> dict:
    """Ours on all `pairs` (fp32, then bf16), the per-pair loop on a seeded sample of them."""
    sample = sorted(random.Random(args.seed).sample(range(len(pairs)), min(args.sample, len(pairs))))
    load = {"start": os.getloadavg()}
    scorers = {}
    for dtype in ("float32", "bfloat16"):
        scorers[dtype] = SGPTCrossEncoder(source(dtype))
        scorers[dtype].predict([("warm-up", "warm-up")], show_progress_bar=False)
    fp32, bf16 = scorers["float32"], scorers["bfloat16"]
    ours, ours_timing = timed(lambda: fp32.predict(pairs, show_progress_bar=False), len(pairs))
    load["after_ours_float32"] = os.getloadavg()
    slow, slow_timing = timed(lambda: reference_scores(fp32.model, fp32.prompt, [pairs[i] for i in sample], fp32.device),
                              len(sample))
    load["after_reference_loop"] = os.getloadavg()
    half, half_timing = timed(lambda: bf16.predict(pairs, show_progress_bar=False), len(pairs))
    load["end"] = os.getloadavg()
    tokenized = fp32.prompt.pairs(pairs)
    half_differences = [abs(a - b) for a, b in zip(half, ours)]
    return {
        "prompt": fp32.prompt.template,
        "pairs": len(pairs),
        "distinct_documents": len({doc for _, doc in pairs}),
        "mean_prompt_tokens": round(sum(len(p.prefix) for p in tokenized) / len(pairs), 1),
        "mean_query_tokens": round(sum(len(p.query) for p in tokenized) / len(pairs), 1),
        "sgpt_eval_float32": ours_timing,
        "reference_loop_float32": slow_timing,
        "speedup_per_pair": ratio(ours_timing, slow_timing, "pairs_per_s"),
        "speedup_per_pair_cpu_time": ratio(ours_timing, slow_timing, "pairs_per_cpu_s"),
        "max_abs_score_difference_on_sample": max(abs(ours[i] - s) for i, s in zip(sample, slow)),
        "sgpt_eval_bfloat16": {**half_timing,
                               "speedup_per_pair_vs_loop": ratio(half_timing, slow_timing, "pairs_per_s"),
                               "speedup_per_pair_vs_loop_cpu_time": ratio(half_timing, slow_timing, "pairs_per_cpu_s"),
                               "max_abs_difference_vs_float32": max(half_differences),
                               "mean_abs_difference_vs_float32": sum(half_differences) / len(pairs),
                               "same_order_as_float32": round(order_agreement(pairs, ours, half), 4)},
        "loadavg": load,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", choices=("slices", "full", "documents"), default="slices",
                        help="slices: the subset and shared workloads below; full: every top-100 pair of N queries; "
                             "documents: every pair of D random documents of the whole top-100 run")
    parser.add_argument("--model", default="SmolLM2-135M")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--queries", type=int, default=3, help="subset: first N judged queries")
    parser.add_argument("--top-k", type=int, default=10, help="subset: BM25 documents per query")
    parser.add_argument("--docs", type=int, default=4, help="shared: documents of the top-100 run to keep")
    parser.add_argument("--full-queries", type=int, default=20, help="full: first N judged queries")
    parser.add_argument("--documents", type=int, default=80, help="documents: documents drawn from the whole run")
    parser.add_argument("--sample", type=int, default=100, help="full, documents: pairs the reference loop scores")
    parser.add_argument("--seed", type=int, default=0, help="full, documents: the samples' seed")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--output", type=Path, help="default: benchmarks/results/rerank_smollm2_<cpu|gpu>.json, "
                                                         "rerank_<workload>_<cpu|gpu>.json with --workload full or documents")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    device_type = device_kind(args.device)
    data_dir = folders.beir_dir(args.data_dir)
    cache_dir = folders.cache_dir()

    dataset = beir_data.load("scifact", data_dir)
    index, _ = bm25.load_or_build(dataset.corpus, dataset.hashes["corpus"], bm25.BM25Settings(), cache_dir)
    run = index.search(dataset.queries, PROTOCOL_TOP_K)
    text = dict(zip(dataset.corpus.docs, dataset.corpus.texts()))
    def source(dtype: str) -> ResolvedModel:
        """The model resolved as a run with these options resolves it."""
        options = ModelOptions(args.model, dtype=dtype, device=args.device, batch_size=args.batch_size)
        return resolve_model(options, "cross", cache_dir)

    revision = source("float32").source.revision
    if args.workload in ("full", "documents"):
        measure_workload = full_workload if args.workload == "full" else documents_workload
        workload = measure_workload(args, dataset, run, text, source)
        figures = {
            "benchmark": "SGPT-CE on the SciFact top-100 workload: sgpt-eval's scorer vs the per-pair SGPT loop, "
                         "same process, same token ids",
            "model": args.model, "model_revision": revision, "device": args.device,
            "torch_threads": torch.get_num_threads(), "batch_size": args.batch_size,
            args.workload: workload, "total_wall_s": round(time.perf_counter() - started, 1),
            "versions": package_versions(), "hardware": hardware(),
        }
        write_json(args.output or RESULTS / f"rerank_{args.workload}_{device_type}.json", figures)
        print(json.dumps(workload, indent=2))
        return
    subset = beir_data.limit_queries(dataset, args.queries)
    subset_pairs = [(dataset.queries[qid], text[did]) for qid in subset.queries for did in list(run[qid])[: args.top_k]]
    retrieved = {did for hits in run.values() for did in hits}
    kept = set([did for did in dataset.corpus.docs if did in retrieved][: args.docs])
    shared_pairs = [(dataset.queries[qid], text[did]) for qid, hits in run.items() for did in hits if did in kept]

    scorer = SGPTCrossEncoder(source("float32"))
    scorer.predict([("warm-up", "warm-up")], show_progress_bar=False)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        subset_cache, shared_cache = (ScoreCache.for_settings(scratch / name, scorer.settings.as_dict())
                                      for name in ("subset", "shared"))
        workloads = {
            "subset": {
                "definition": f"first {args.queries} judged SciFact test queries (qrels order) x BM25 top-{args.top_k}",
                **measure(scorer, subset_pairs, subset_cache),
            },
            "shared": {
                "definition": f"all {len(run)} SciFact test queries x BM25 top-{PROTOCOL_TOP_K} (the paper's protocol), "
                              f"only the pairs of the first {args.docs} retrieved documents in corpus order",
                "full_run_pairs_per_document": round(sum(map(len, run.values())) / len(retrieved), 2),
                **measure(scorer, shared_pairs, shared_cache),
            },
        }
        spec = RunSpec("scifact", "rerank",
                       ModelOptions(model=args.model, dtype="float32", device=args.device, batch_size=args.batch_size),
                       RunOptions(top_k=args.top_k, max_queries=args.queries))
        # The end-to-end run reads the scores of the timed one: their cache folder, with the models beside it.
        (scratch / "subset" / "models").symlink_to((cache_dir / "models").absolute(), target_is_directory=True)
        report = evaluate(spec, data_dir, scratch / "results", Models(scratch / "subset")).report
    figures = {
        "benchmark": "SGPT-CE on SciFact test: sgpt-eval's scorer vs the per-pair SGPT loop, same process, same token ids",
        "model": args.model,
        "model_revision": revision,
        "device": args.device,
        "dtype": "float32",
        "torch_threads": torch.get_num_threads(),
        "batch_size": args.batch_size,
        "prompt": scorer.prompt.template,
        "workloads": workloads,
        "end_to_end_subset": {
            "definition": workloads["subset"]["definition"] + ", re-ranked by the pipeline (scores from the timed run's cache)",
            "bm25_ndcg@10": report.details["first_stage"]["NDCG@10"],
            "rerank_ndcg@10": report.main_score,
            "pairs": report.details["pairs"],
            "pairs_from_score_cache": report.details["pairs_from_score_cache"],
            "timings_s": report.timings_s,
        },
        "total_wall_s": round(time.perf_counter() - started, 1),
        "versions": package_versions(),
        "hardware": hardware(),
    }
    write_json(args.output or RESULTS / f"rerank_smollm2_{device_type}.json", figures)
    print(json.dumps({"workloads": workloads, "end_to_end_subset": figures["end_to_end_subset"],
                      "total_wall_s": figures["total_wall_s"]}, indent=2))


if __name__ == "__main__":
    main()
