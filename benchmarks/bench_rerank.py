"""SGPT-CE re-ranking on SciFact: our scorer against the per-pair SGPT loop, in one process.

Both score the same token ids (`ce_prompts.PromptTokenizer`), in fp32 on the same device,
on two fixed sets of BM25 (bm25s, k1=1.5, b=0.75) pairs from the SciFact test split:

* subset: the first N judged queries (qrels order) x their BM25 top-k (default 3 x 10); the
  same queries are then re-ranked end to end (`rerank_eval.run_rerank`, reading the scores the
  timed run cached) for NDCG@10 of BM25 and of BM25 + SGPT-CE on them;
* shared: the paper's protocol (every query x BM25 top-100) cut down to the pairs whose
  document is one of the first D documents (corpus order) that run retrieves, so that each
  document is re-ranked for as many queries as in a full run.

Prints and writes benchmarks/results/rerank_smollm2_cpu.json (or --output): pairs/s of each scorer,
their ratio, the largest score difference, NDCG@10, wall times.
Run: .venv/bin/python benchmarks/bench_rerank.py [--queries 3] [--top-k 10] [--docs 4] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import logging
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
from sgpt_eval.evaluation.specs import RunSettings, RunSpec  # noqa: E402
from sgpt_eval.models import store  # noqa: E402
from sgpt_eval.models.cross_encoder import SGPTCrossEncoder  # noqa: E402
from sgpt_eval.models.options import ModelOptions  # noqa: E402
from sgpt_eval.models.score_cache import ScoreCache  # noqa: E402
from sgpt_eval.reports.schema import hardware, package_versions  # noqa: E402
from sgpt_eval.retrieval import bm25  # noqa: E402
from sgpt_eval.storage import write_json  # noqa: E402
from tests.reference_sgpt_ce import reference_scores  # noqa: E402

PROTOCOL_TOP_K = 100


def measure(scorer: SGPTCrossEncoder, pairs: list[tuple[str, str]], cache: ScoreCache) -> dict:
    """Time our scorer (filling the empty score cache `cache`) and the reference loop on `pairs`."""
    scorer.score_cache = cache
    clock = time.perf_counter()
    fast = scorer.predict(pairs, show_progress_bar=False)
    fast_s = time.perf_counter() - clock
    assert scorer.pairs_from_cache == 0, "the timed run must score every pair"
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="SmolLM2-135M")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--queries", type=int, default=3, help="subset: first N judged queries")
    parser.add_argument("--top-k", type=int, default=10, help="subset: BM25 documents per query")
    parser.add_argument("--docs", type=int, default=4, help="shared: documents of the top-100 run to keep")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "rerank_smollm2_cpu.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    data_dir = folders.beir_dir(args.data_dir)
    cache_dir = folders.cache_dir()

    dataset = beir_data.load("scifact", data_dir)
    index, _ = bm25.load_or_build(dataset.corpus, dataset.hashes["corpus"], bm25.BM25Settings(), cache_dir)
    run = index.search(dataset.queries, PROTOCOL_TOP_K)
    text = dict(zip(dataset.corpus.docs, dataset.corpus.texts()))
    subset = beir_data.limit_queries(dataset, args.queries)
    subset_pairs = [(dataset.queries[qid], text[did]) for qid in subset.queries for did in list(run[qid])[: args.top_k]]
    retrieved = {did for hits in run.values() for did in hits}
    kept = set([did for did in dataset.corpus.docs if did in retrieved][: args.docs])
    shared_pairs = [(dataset.queries[qid], text[did]) for qid, hits in run.items() for did in hits if did in kept]

    source = store.resolve(args.model, cache_dir)
    scorer = SGPTCrossEncoder(source, dtype="float32", device=args.device, batch_size=args.batch_size)
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
                       RunSettings(top_k=args.top_k, max_queries=args.queries))
        # The end-to-end run reads the scores of the timed one: their cache folder, with the models beside it.
        (scratch / "subset" / "models").symlink_to((cache_dir / "models").absolute(), target_is_directory=True)
        report = evaluate(spec, data_dir, scratch / "results", Models(scratch / "subset")).report
    figures = {
        "benchmark": "SGPT-CE on SciFact test: sgpt-eval's scorer vs the per-pair SGPT loop, same process, same token ids",
        "model": args.model,
        "model_revision": source.revision,
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
    write_json(args.output, figures)
    print(json.dumps({"workloads": workloads, "end_to_end_subset": figures["end_to_end_subset"],
                      "total_wall_s": figures["total_wall_s"]}, indent=2))


if __name__ == "__main__":
    main()
