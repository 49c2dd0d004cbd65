"""`sgpt-eval`: the command line. Every user-fixable problem ends in one line and exit code 2."""

from __future__ import annotations

import argparse
import logging
import sys

from .. import folders
from ..errors import SgptEvalError
from . import cache, evaluate, models, reports, useb

log = logging.getLogger("sgpt_eval")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sgpt-eval", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for feature in (evaluate, models, useb, reports, cache):
        feature.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.DEBUG if args.verbose else logging.INFO)
    try:
        args.handler(args, folders.cache_dir(args.cache_dir))
    except SgptEvalError as exc:
        print(f"sgpt-eval: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sgpt-eval: interrupted; finished embedding shards and re-rank scores are kept, and the next run resumes from them", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
