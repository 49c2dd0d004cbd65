"""Command-line options shared by several `sgpt-eval` subcommands."""

from __future__ import annotations

import argparse

from . import model_store
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
