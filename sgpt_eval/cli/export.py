"""`sgpt-eval export`: our reports in another benchmark's result format (MTEB's, for now)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..errors import SgptEvalError
from .reports import _add_results_dir, _defaults

log = logging.getLogger("sgpt_eval")

MTEB_MISSING = "export --format mteb needs the mteb package; install it with: pip install 'sgpt-eval[mteb]'"


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add the export subcommand to `sgpt-eval`'s subparsers."""
    export = commands.add_parser("export", help="write the BEIR reports as MTEB task results (MTEB's results layout)")
    export.add_argument("--format", choices=("mteb",), required=True, help="the result format to write")
    _add_results_dir(export)
    export.add_argument("--output-dir", type=Path,
                        help="where the results/<org>__<model>/<revision>/<Task>.json tree goes (default: RESULTS_DIR/mteb)")
    _defaults(export, _export)


def _export(args: argparse.Namespace, cache_dir: Path) -> None:
    try:
        import mteb  # noqa: F401
    except ImportError:
        raise SgptEvalError(MTEB_MISSING) from None
    from ..reports.mteb_export import export_mteb

    output_dir = args.output_dir or args.results_dir / "mteb"
    written = export_mteb(args.results_dir, output_dir)
    for path in written:
        print(f"exported {path}")
    print(f"export: {len(written)} MTEB task result(s) in {output_dir}; "
          f"read them with mteb.ResultCache({str(output_dir)!r}).load_results()")
