"""Command-line options shared by several `sgpt-eval` subcommands."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from . import beir_data, model_store
from .beir_download import ensure_dataset
from .dense_eval import DenseOptions
from .presets import POOLINGS


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cache-dir", help=f"models and embeddings (default: ${model_store.CACHE_ENV} or ~/.cache/sgpt_eval)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def add_encoder_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("bi-encoder")
    group.add_argument("--model", default="all-MiniLM-L6-v2", help="preset name, hub id or local folder (see `sgpt-eval models`)")
    group.add_argument("--revision", help="hub revision (branch, tag or commit)")
    group.add_argument("--pooling", choices=POOLINGS, help="override the preset's / checkpoint's pooling")
    group.add_argument("--specb", action=argparse.BooleanOptionalAction, default=None,
                       help="wrap queries in [ ] and documents in { } token ids (SGPT asymmetric search)")
    group.add_argument("--max-length", type=int, help="maximum tokens per text, brackets included")
    group.add_argument("--dtype", default="auto", help="auto (fp32 on CPU, fp16 on GPU), float32, float16, bfloat16")
    group.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    group.add_argument("--batch-size", type=int, default=32)
    group.add_argument("--allow-pickle-weights", action="store_true",
                       help="also load pytorch_model.bin checkpoints (torch weights-only loader)")
    group.add_argument("--trust-remote-code", action="store_true", help="run model code shipped with the checkpoint")


def encoder_options(args: argparse.Namespace, **extra) -> DenseOptions:
    """The bi-encoder settings given by `add_encoder_options`, plus any run settings in `extra`."""
    return DenseOptions(
        model=args.model, pooling=args.pooling, specb=args.specb, max_length=args.max_length, dtype=args.dtype,
        device=args.device, batch_size=args.batch_size, allow_pickle=args.allow_pickle_weights,
        trust_remote_code=args.trust_remote_code, revision=args.revision, **extra,
    )


def add_dataset_options(parser: argparse.ArgumentParser, top_k: int) -> None:
    parser.add_argument("--dataset", action="append", required=True,
                        help="BEIR dataset name (repeatable); cqadupstack expands to its 12 forums")
    parser.add_argument("--data-dir", help=f"folder of BEIR datasets (default: ${beir_data.DATA_DIR_ENV} or ./datasets)")
    parser.add_argument("--split", help="qrels split (default: test; dev for msmarco)")
    parser.add_argument("--output-dir", default="results", help="where reports and TREC runs go")
    parser.add_argument("--top-k", type=int, default=top_k, help=f"documents per query (default {top_k})")


def prepared_datasets(args: argparse.Namespace) -> tuple[Path, list[str]]:
    """The data folder and every requested dataset, each present (or downloaded) before any model loads."""
    data_dir = beir_data.resolve_data_dir(args.data_dir)
    names = [name for requested in args.dataset for name in beir_data.expand(requested)]
    for name in names:
        ensure_dataset(name, data_dir)
    return data_dir, names


def print_result(name: str, report_path: Path) -> None:
    report = json.loads(report_path.read_text())
    print(f"{name}\t{report['model']}\tNDCG@10={report['metrics']['NDCG@10']:.4f}\t{report_path}")
