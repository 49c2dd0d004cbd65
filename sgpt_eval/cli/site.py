"""`sgpt-eval site`: the results as a static site that opens from disk (no server, no network)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from .. import folders
from ..errors import SgptEvalError
from .options import add_verbosity

log = logging.getLogger("sgpt_eval")


def add_commands(commands: argparse._SubParsersAction) -> None:
    site = commands.add_parser("site", help="a static results site (tables, runs, per-query views) that opens from disk")
    site.add_argument("--results-dir", type=Path, default=Path("results"), help="folder of run reports (default: ./results)")
    site.add_argument("--output", type=Path, help="the site's folder (default: RESULTS_DIR/site)")
    site.add_argument("--baselines-dir", type=Path, help="regression baselines (default: RESULTS_DIR/baselines)")
    site.add_argument("--data-dir", help=f"BEIR datasets, whose judgements mark each top-10 document "
                                         f"(default: ${folders.BEIR_DIR_ENV} or ./datasets; nothing is downloaded)")
    site.add_argument("--with-text", action="store_true",
                      help="include query and document texts from --data-dir (never publish such a site: the datasets' "
                           "licences forbid it; needs an --output outside RESULTS_DIR)")
    add_verbosity(site)
    site.set_defaults(handler=_site, cache_dir=None)


def _site(args: argparse.Namespace, cache_dir: Path) -> None:
    from ..site.data import build_site_data
    from ..site.render import write_site

    output = args.output or args.results_dir / "site"
    if args.with_text and output.resolve().is_relative_to(args.results_dir.resolve()):
        raise SgptEvalError(f"--with-text: {output} is inside {args.results_dir}, which is published; "
                            "give an --output elsewhere")
    data = build_site_data(args.results_dir, args.baselines_dir, folders.beir_dir(args.data_dir), args.with_text)
    for path in write_site(data, output):
        log.info("wrote %s", path)
    print(f"site: open {(output / 'index.html').resolve().as_uri()}")
