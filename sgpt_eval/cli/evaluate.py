"""`sgpt-eval eval` (alias `dense`), `bm25`, `rerank` and `run`: evaluations on BEIR datasets.

The first three run one method on the datasets given, every time; `run` runs datasets x methods
x models (or a TOML config) and skips each run whose report, with the same identity, exists.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from .. import folders
from ..data.catalogue import expand
from ..errors import SgptEvalError
from ..evaluation.specs import METHODS, MODEL_FIELDS, RunOptions, RunSpec, read_config, run_fields
from ..models.options import ModelOptions
from .options import add_common, add_fields, print_outcome, values_of

DEFAULT_MODEL = {"dense": "all-MiniLM-L6-v2", "rerank": "SmolLM2-135M"}
_HELP = {
    "dense": "dense retrieval with a bi-encoder on BEIR datasets",
    "bm25": "BM25 (bm25s, English stemming and stopwords) on BEIR datasets",
    "rerank": "re-rank a first stage (BM25 or a ranking file) with an SGPT cross-encoder",
}


def add_commands(commands: argparse._SubParsersAction) -> None:
    for method, name, aliases in (("dense", "eval", ["dense"]), ("bm25", "bm25", []), ("rerank", "rerank", [])):
        parser = commands.add_parser(name, aliases=aliases, help=_HELP[method])
        _add_location_options(parser)
        parser.add_argument("--dataset", action="append", required=True,
                            help="BEIR dataset name (repeatable); cqadupstack expands to its 12 forums")
        add_fields(parser.add_argument_group("run"), RunOptions, run_fields(method))
        if MODEL_FIELDS[method]:
            add_fields(parser.add_argument_group("model"), ModelOptions, MODEL_FIELDS[method],
                       {"model": DEFAULT_MODEL[method]})
        add_common(parser, threads=True)
        parser.set_defaults(handler=_single_method(method))

    run = commands.add_parser("run", help="run datasets x methods x models, skipping runs already measured")
    add_run_arguments(run)
    run.set_defaults(handler=_run)


# Run options `run` applies to every spec whose method takes them (a config's runs included) when
# they are given, whatever their value: every option of a method `run` runs.
_RUN_OPTIONS = tuple(spec.name for spec in dataclasses.fields(RunOptions)
                     if set(spec.metadata["methods"]) & set(METHODS))


def add_run_arguments(run: argparse.ArgumentParser) -> None:
    """The options of `run`, which `plan` takes too: the same line plans a batch and runs it."""
    run.add_argument("--config", type=Path, help="TOML: `datasets = [...]` and [[runs]] tables (method + its options)")
    run.add_argument("--dataset", action="append", default=[], help="BEIR dataset (repeatable; without --config)")
    run.add_argument("--method", action="append", choices=METHODS, default=[], help="dense, bm25, rerank (repeatable)")
    run.add_argument("--model", action="append", default=[], help="model for dense and rerank runs (repeatable)")
    add_fields(run, RunOptions, _RUN_OPTIONS, given_only=True)
    run.add_argument("--force", action="store_true", help="run again even where a report of the same run exists")
    _add_location_options(run)
    add_common(run, threads=True)


def _add_location_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help=f"folder of BEIR datasets (default: ${folders.BEIR_DIR_ENV} or ./datasets)")
    parser.add_argument("--output-dir", help="where reports and rankings go (default: ./results)")


def _single_method(method: str):
    def handler(args: argparse.Namespace, cache_dir: Path) -> None:
        _execute(single_method_specs(method, args), args, cache_dir, force=True)
    return handler


def single_method_specs(method: str, args: argparse.Namespace) -> list[RunSpec]:
    """The specs of `eval`, `bm25` or `rerank` (`method`): one per dataset given."""
    names = [name for requested in args.dataset for name in expand(requested)]
    run = RunOptions(**values_of(args, RunOptions, run_fields(method)))
    if run.first_stage != "bm25" and len(names) > 1:
        raise SgptEvalError(f"--first-stage {run.first_stage}: a ranking file is one dataset's; "
                            "pass a single --dataset")
    model = ModelOptions(**values_of(args, ModelOptions, MODEL_FIELDS[method])) if MODEL_FIELDS[method] else None
    return [RunSpec(name, method, model, run) for name in names]


def _run(args: argparse.Namespace, cache_dir: Path) -> None:
    _execute(run_specs(args), args, cache_dir, force=args.force)


def run_options(args: argparse.Namespace) -> dict:
    """The run options the command line gives (those added `given_only`), for every spec they apply to."""
    return {name: getattr(args, name) for name in _RUN_OPTIONS if hasattr(args, name)}


def run_specs(args: argparse.Namespace) -> list[RunSpec]:
    """The specs of `run` and `plan`: a config's, or datasets x methods x models, with the run options
    given on the command line applied to each (over a config's values)."""
    return [spec.overriding(run_options(args)) for spec in _specs(args)]


def _specs(args: argparse.Namespace) -> list[RunSpec]:
    if args.config:
        if args.dataset or args.method or args.model:
            raise SgptEvalError("--config: give datasets, methods and models in the file, not as options too")
        return read_config(args.config)
    if not args.dataset or not args.method:
        raise SgptEvalError("run: give --config FILE, or at least one --dataset and one --method")
    specs = []
    for method in args.method:
        models = [{}] if method == "bm25" else [{"model": model} for model in args.model or [DEFAULT_MODEL[method]]]
        specs += [RunSpec.create(name, method, model, "run")
                  for model in models for requested in args.dataset for name in expand(requested)]
    return specs


def _execute(specs: list[RunSpec], args: argparse.Namespace, cache_dir: Path, force: bool) -> None:
    from ..evaluation.pipeline import run_all

    for outcome in run_all(specs, folders.beir_dir(args.data_dir), folders.results_dir(args.output_dir), cache_dir, force):
        print_outcome(outcome)
