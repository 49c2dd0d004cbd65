"""`sgpt-eval useb` and `sgpt-eval useb-table`: the SGPT paper's USEB evaluation and table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .. import folders
from ..data.useb import DATASETS, SPLITS
from ..errors import SgptEvalError
from ..evaluation.specs import MODEL_FIELDS, RunOptions
from ..models.options import ModelOptions
from ..reports.useb_table import PUBLISHED_CSV, useb_table
from .options import add_common, add_fields, values_of

if TYPE_CHECKING:
    from ..evaluation.useb import UsebOutcome

# The run options of a dense run that a USEB run takes too.
USEB_RUN_OPTIONS = ("use_cache", "shard_size", "executor", "ray_address")
# The figures printed per dataset after a run (every figure is in the report).
SUMMARY = {
    "askubuntu": ("map_askubuntu_title", "mrr_askubuntu_title"),
    "cqadupstack": ("map@100_cqadupstack_avg", "ndcg@10_cqadupstack_avg"),
    "twitterpara": ("ap_twitter_twitterurl", "ap_twitter_pit", "ap_twitter_avg", "spearman_twitter_avg"),
    "scidocs": ("map_scidocs_cosine_avg", "ndcg_scidocs_cosine_avg"),
}


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add `useb` and `useb-table` to the `sgpt-eval` subcommands."""
    useb = commands.add_parser("useb", help="symmetric search on USEB: AskUbuntu, CQADupStack, TwitterPara, SciDocs")
    useb.add_argument("--data-dir", help=f"USEB data-eval folder (default: ${folders.USEB_DIR_ENV} or ./data-eval); "
                                         "datasets missing there are downloaded into it")
    useb.add_argument("--datasets", nargs="+", type=str.lower, choices=DATASETS, default=list(DATASETS), metavar="NAME",
                      help=f"which datasets (default: all of {', '.join(DATASETS)})")
    useb.add_argument("--split", choices=SPLITS, default="test", help="USEB split (TwitterPara has test only)")
    useb.add_argument("--output-dir", help="reports go to <output-dir>/useb/<dataset>/dense/ (default: ./results)")
    add_fields(useb.add_argument_group("model"), ModelOptions, MODEL_FIELDS["dense"], {"model": "all-MiniLM-L6-v2"})
    add_fields(useb.add_argument_group("run"), RunOptions, USEB_RUN_OPTIONS)
    useb.add_argument("--force", action="store_true", help="run again even where a report of the same run exists")
    add_common(useb, threads=True)
    useb.set_defaults(handler=_useb)

    table = commands.add_parser("useb-table", help="print the USEB table (Markdown): published SGPT nli rows and ours")
    table.add_argument("--output-dir", help="where `sgpt-eval useb` wrote its reports (default: ./results)")
    table.add_argument("--split", choices=SPLITS, default="test", help="which split's reports to show")
    table.add_argument("--model", action="append", help="only this measured model (repeatable; default: every report)")
    table.add_argument("--published", type=Path, default=PUBLISHED_CSV, help="CSV of published scores with sources")
    add_common(table)
    table.set_defaults(handler=_table)


def _useb(args: argparse.Namespace, cache_dir: Path) -> None:
    from ..evaluation.pipeline import Models
    from ..evaluation.useb import run_useb

    options = ModelOptions(**values_of(args, ModelOptions, MODEL_FIELDS["dense"]))
    run = RunOptions(**values_of(args, RunOptions, USEB_RUN_OPTIONS))
    output_dir = folders.results_dir(args.output_dir)
    outcomes = run_useb(options, args.datasets, folders.useb_dir(args.data_dir), output_dir, Models(cache_dir), run,
                        args.split, args.force)
    for outcome in outcomes:
        print_useb_outcome(outcome, args.model)
    evaluated = [outcome for outcome in outcomes if outcome.report]
    if evaluated:
        print()
        print(useb_table(output_dir, args.split, [args.model]))
    broken = [outcome.dataset for outcome in outcomes if outcome.problem and not outcome.absent]
    if broken:
        raise SgptEvalError(f"useb: {', '.join(broken)} could not be read (see the lines above); fix or re-download the data")
    if not evaluated:
        raise SgptEvalError("useb: no dataset could be evaluated (see the lines above); pass --data-dir with USEB's data-eval")


def print_useb_outcome(outcome: UsebOutcome, model: str) -> None:
    if outcome.problem:
        status = "missing" if outcome.absent else "error"
        print(f"{outcome.dataset}\t{status}\t{outcome.problem}", file=sys.stderr)
        return
    figures = "\t".join(f"{name}={outcome.metrics[name]:.4f}" for name in SUMMARY[outcome.dataset])
    note = "\t(already measured)" if outcome.skipped else ""
    print(f"{outcome.dataset}\t{model}\t{figures}\t{outcome.report}{note}")


def _table(args: argparse.Namespace, cache_dir: Path) -> None:
    print(useb_table(folders.results_dir(args.output_dir), args.split, args.model, args.published))
