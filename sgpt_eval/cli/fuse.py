"""`sgpt-eval fuse`: fuse finished rankings (reports or ranking files) of one dataset into a new
ranking, scored and reported like any evaluation, e.g. a BM25 + dense hybrid."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import folders
from ..evaluation.specs import FUSION, RunOptions, RunSpec, run_fields
from .options import add_fields, add_verbosity, print_outcome

_OPTIONS = tuple(name for name in run_fields(FUSION) if name != "inputs")


def add_commands(commands: argparse._SubParsersAction) -> None:
    fuse = commands.add_parser("fuse", help="fuse two or more rankings (RRF or weighted scores) and score the result")
    fuse.add_argument("inputs", nargs="+", metavar="INPUT",
                      help="reports (.json, their ranking beside them) or ranking files (TREC or SGPT JSON), two or more")
    fuse.add_argument("--dataset", required=True, help="the BEIR dataset all inputs rank")
    fuse.add_argument("--data-dir", help=f"folder of BEIR datasets (default: ${folders.BEIR_DIR_ENV} or ./datasets)")
    fuse.add_argument("--output-dir", help="where reports and rankings go (default: ./results)")
    add_fields(fuse.add_argument_group("fusion"), RunOptions, _OPTIONS)
    add_verbosity(fuse)
    fuse.set_defaults(handler=_fuse, cache_dir=None)  # no model, no cache


def _fuse(args: argparse.Namespace, cache_dir: Path) -> None:
    from ..evaluation.pipeline import run_all

    run = RunOptions(inputs=tuple(args.inputs), use_cache=False,
                     **{name: getattr(args, name) for name in _OPTIONS})
    spec = RunSpec(args.dataset, FUSION, None, run)
    for outcome in run_all([spec], folders.beir_dir(args.data_dir), folders.results_dir(args.output_dir),
                           cache_dir, force=True):
        print_outcome(outcome)
