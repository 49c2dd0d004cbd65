"""`sgpt-eval paper` (`make paper`): the SGPT paper's grid from one config, then its three tables.

The config's [[runs]] run as `sgpt-eval run --config FILE --skip-unavailable` runs them and its
[useb] models as `sgpt-eval useb` does: what cannot be had here (a dataset neither on disk nor
downloadable, a model neither local nor on a reachable hub) is one `skipped:` line and the rest
goes ahead. Then the BEIR bi-encoder and cross-encoder tables and the USEB table are written
under the results folder's tables/ and printed.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from .. import folders
from ..data.useb import DATASETS
from ..errors import SgptEvalError, Unavailable
from ..evaluation.specs import RunOptions, read_config, read_useb_models
from ..models.options import ModelOptions
from .evaluate import run_options
from .options import add_common, add_fields, print_outcome
from .reports import write_beir_table, write_useb_table
from .useb import print_useb_outcome

log = logging.getLogger(__name__)


def add_commands(commands: argparse._SubParsersAction) -> None:
    paper = commands.add_parser("paper", help="the SGPT paper's grid and USEB runs from one config, then its three "
                                              "tables; what cannot be had here is skipped with one line")
    paper.add_argument("--config", type=Path, required=True,
                       help="TOML: `datasets` and [[runs]] as for `run --config`, and [useb] models")
    paper.add_argument("--data-dir", help=f"folder of BEIR datasets (default: ${folders.BEIR_DIR_ENV} or ./datasets)")
    paper.add_argument("--useb-data-dir", help=f"USEB data-eval folder (default: ${folders.USEB_DIR_ENV} or ./data-eval)")
    paper.add_argument("--output-dir", help="where reports go, and the tables under its tables/ (default: ./results)")
    add_fields(paper, RunOptions, ("use_cache", "executor", "ray_address"), given_only=True)
    add_common(paper, threads=True)
    paper.set_defaults(handler=_paper, skip_unavailable=True)


def _paper(args: argparse.Namespace, cache_dir: Path) -> None:
    from ..evaluation.pipeline import run_all

    specs = [spec.overriding(run_options(args)) for spec in read_config(args.config)]
    useb_models = read_useb_models(args.config)  # read before anything runs: a typo there stops the grid too
    results_dir = folders.results_dir(args.output_dir)
    for outcome in run_all(specs, folders.beir_dir(args.data_dir), results_dir, cache_dir):
        print_outcome(outcome)
    unreadable = _run_useb(useb_models, folders.useb_dir(args.useb_data_dir), results_dir, cache_dir,
                           RunOptions(**run_options(args)))
    tables = results_dir / "tables"
    print("\n".join([*(write_beir_table(results_dir, tables, name) for name in ("be", "ce")),
                     write_useb_table(results_dir, tables)]), end="")
    if unreadable:
        raise SgptEvalError(f"useb: {', '.join(sorted(set(unreadable)))} could not be read (see the lines above); "
                            "fix or re-download the data")


def _run_useb(models: list[ModelOptions], data_dir: Path, results_dir: Path, cache_dir: Path,
              run: RunOptions) -> list[str]:
    """Each model on every USEB dataset, skipping those measured already. A model or dataset that cannot
    be had is one `skipped:` line however many models it concerns; returns the datasets that are there
    but could not be read."""
    from ..evaluation.pipeline import Models
    from ..evaluation.useb import run_useb

    skipped: dict[str, None] = {}  # each problem once, in the order met
    unreadable = []
    resolver = Models(cache_dir)
    for options in models:
        try:
            outcomes = run_useb(options, DATASETS, data_dir, results_dir, resolver, run)
        except Unavailable as exc:
            skipped[str(exc)] = None
            continue
        for outcome in outcomes:
            if outcome.absent:
                skipped[outcome.problem] = None
            else:
                print_useb_outcome(outcome, options.model)
                unreadable += [outcome.dataset] if outcome.problem else []
    for problem in skipped:
        log.warning("skipped: %s (USEB)", problem)
    return unreadable
