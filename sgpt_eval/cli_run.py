"""`sgpt-eval run`: datasets x methods x models in one batch, from options or a TOML file."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from . import beir_data
from .cli_options import add_common, print_result
from .errors import SgptEvalError
from .runner import OPTIONS, RunSpec, make_options, read_config, run_all


def add_commands(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser("run", help="run datasets x methods x models, skipping runs whose report exists")
    run.add_argument("--config", type=Path, help="TOML: `datasets = [...]` and [[runs]] tables (method + its options)")
    run.add_argument("--dataset", action="append", default=[], help="BEIR dataset (repeatable; without --config)")
    run.add_argument("--method", action="append", choices=OPTIONS, default=[], help="dense, bm25, rerank (repeatable)")
    run.add_argument("--model", action="append", default=[], help="model for dense and rerank runs (repeatable)")
    run.add_argument("--max-queries", type=int, help="bm25 and rerank runs: only the first N judged queries")
    run.add_argument("--data-dir", help=f"folder of BEIR datasets (default: ${beir_data.DATA_DIR_ENV} or ./datasets)")
    run.add_argument("--output-dir", default="results", type=Path)
    run.add_argument("--no-cache", action="store_true", help="encode, index and score everything afresh")
    run.add_argument("--force", action="store_true", help="run again even where a report exists")
    add_common(run)
    run.set_defaults(handler=_run)


def _specs(args: argparse.Namespace) -> list[RunSpec]:
    if args.config:
        if args.dataset or args.method or args.model:
            raise SgptEvalError("--config: give datasets, methods and models in the file, not as options too")
        return read_config(args.config)
    if not args.dataset or not args.method:
        raise SgptEvalError("run: give --config FILE, or at least one --dataset and one --method")
    specs = []
    for method in args.method:
        settings = [{}] if method == "bm25" else [{"model": model} for model in args.model or [None]]
        for setting in settings:
            setting = {key: value for key, value in setting.items() if value}
            if method != "dense" and args.max_queries:
                setting["max_queries"] = args.max_queries
            options = make_options(method, setting, "run")
            specs += [RunSpec(name, method, options) for requested in args.dataset for name in beir_data.expand(requested)]
    return specs


def _run(args: argparse.Namespace, cache_dir: Path) -> None:
    specs = _specs(args)
    if args.no_cache:
        specs = [dataclasses.replace(spec, options=dataclasses.replace(spec.options, use_cache=False)) for spec in specs]
    data_dir = beir_data.resolve_data_dir(args.data_dir)
    for spec, report in zip(specs, run_all(specs, data_dir, args.output_dir, cache_dir, args.force)):
        print_result(spec.dataset, report)
