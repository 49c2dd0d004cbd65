"""`sgpt-eval bm25` and `sgpt-eval rerank`: the BM25 first stage and SGPT-CE re-ranking.

`add_commands` adds both to the CLI's subcommands; each carries its handler, called as
`handler(args, cache_dir)`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .bm25 import BM25Settings
from .bm25_eval import BM25Options, run_bm25
from .ce_prompts import TEMPLATES
from .cli_options import add_common, add_dataset_options, prepared_datasets, print_result
from .errors import SgptEvalError
from .rerank_eval import RerankOptions, load_cross_encoder, run_rerank


def add_commands(commands: argparse._SubParsersAction) -> None:
    bm25 = commands.add_parser("bm25", help="BM25 (bm25s, English stemming and stopwords) on BEIR datasets")
    _dataset_options(bm25, top_k=1000)
    bm25.set_defaults(handler=_bm25)

    rerank = commands.add_parser("rerank", help="re-rank a first stage (BM25 or a run file) with an SGPT cross-encoder")
    _dataset_options(rerank, top_k=100)
    rerank.add_argument("--first-stage-run", type=Path, metavar="FILE",
                        help="re-rank this TREC run or SGPT JSON results ({qid: {docid: score}}) instead of BM25")
    group = rerank.add_argument_group("cross-encoder")
    group.add_argument("--model", default="SmolLM2-135M", help="a causal LM: preset name, hub id or local folder")
    group.add_argument("--revision", help="hub revision (branch, tag or commit)")
    group.add_argument("--template", default="asymmetric",
                       help=f"prompt: {', '.join(TEMPLATES)} (the SGPT paper's), or your own text containing {{doc}}")
    group.add_argument("--max-length", type=int, help="model input tokens (default: the model's context length)")
    group.add_argument("--batch-size", type=int, default=16, help="pairs per forward pass (halves on CUDA out-of-memory)")
    group.add_argument("--dtype", default="auto", help="auto (fp32 on CPU, fp16 on GPU), float32, float16, bfloat16")
    group.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    group.add_argument("--allow-pickle-weights", action="store_true",
                       help="also load pytorch_model.bin checkpoints (torch weights-only loader)")
    group.add_argument("--trust-remote-code", action="store_true", help="run model code shipped with the checkpoint")
    rerank.set_defaults(handler=_rerank)


def _dataset_options(parser: argparse.ArgumentParser, top_k: int) -> None:
    add_dataset_options(parser, top_k)
    parser.add_argument("--k1", type=float, default=BM25Settings.k1, help="BM25 term-frequency saturation")
    parser.add_argument("--b", type=float, default=BM25Settings.b, help="BM25 length normalisation")
    parser.add_argument("--max-queries", type=int,
                        help="evaluate only the first N judged queries (qrels file order); recorded in the report")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the BM25 index and score caches")
    add_common(parser)


def _bm25(args: argparse.Namespace, cache_dir: Path) -> None:
    options = BM25Options(k1=args.k1, b=args.b, top_k=args.top_k, max_queries=args.max_queries, use_cache=not args.no_cache)
    data_dir, names = prepared_datasets(args)
    for name in names:
        print_result(name, run_bm25(name, data_dir, Path(args.output_dir), cache_dir, options, args.split))


def _rerank(args: argparse.Namespace, cache_dir: Path) -> None:
    data_dir, names = prepared_datasets(args)
    if args.first_stage_run and len(names) > 1:
        raise SgptEvalError(f"--first-stage-run {args.first_stage_run}: a run file is one dataset's; pass a single --dataset")
    options = RerankOptions(
        model=args.model, revision=args.revision, template=args.template, max_length=args.max_length, dtype=args.dtype,
        device=args.device, batch_size=args.batch_size, top_k=args.top_k, k1=args.k1, b=args.b,
        first_stage_run=args.first_stage_run, max_queries=args.max_queries, use_cache=not args.no_cache,
        allow_pickle=args.allow_pickle_weights, trust_remote_code=args.trust_remote_code,
    )
    reranker = load_cross_encoder(options, cache_dir)
    for name in names:
        print_result(name, run_rerank(name, data_dir, Path(args.output_dir), cache_dir, options, reranker, args.split))
