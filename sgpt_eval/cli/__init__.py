"""`sgpt-eval`: the command line. Every user-fixable problem ends in one line and exit code 2."""

from __future__ import annotations

import argparse
import errno
import logging
import signal
import sys
import threading
import traceback

from .. import __version__, folders
from ..errors import SgptEvalError
# The commands import torch, transformers, faiss, bm25s and pandas inside their handlers, so that
# building the parser (--help, --version, a mistyped option) takes a fraction of a second.
from . import cache, evaluate, export, fuse, models, paper, plan, reports, site, useb
from .options import set_threads

log = logging.getLogger("sgpt_eval")

_WRITABLE_ELSEWHERE = "choose a folder you can write to (--output-dir, --cache-dir, --data-dir)"
# What to do about the operating-system errors a user can fix.
_REMEDIES = {
    errno.ENOSPC: "free disk space, or point --output-dir / --cache-dir at a disk with room",
    errno.EDQUOT: "free space within your quota, or point --output-dir / --cache-dir elsewhere",
    errno.EACCES: _WRITABLE_ELSEWHERE,
    errno.EPERM: _WRITABLE_ELSEWHERE,
    errno.EROFS: _WRITABLE_ELSEWHERE,
    errno.ENOTDIR: "a part of the path is a file, not a folder; choose another path",
    errno.EEXIST: "a file is in the way of a folder; move it or choose another path",
    errno.ENOENT: "check the path, or create what is missing",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sgpt-eval", description=__doc__)
    parser.add_argument("--version", action="version", version=f"sgpt-eval {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     help="what to do (`sgpt-eval COMMAND --help` for its options)")
    for feature in (evaluate, plan, fuse, models, useb, reports, site, paper, export, cache):
        feature.add_commands(commands)
    _own_usage(parser)
    return parser


def _own_usage(parser: argparse.ArgumentParser) -> None:
    """Each command keeps its parser in `command_parser`, so that an option it does not know is
    reported with its usage (argparse leaves unknown arguments to the top-level parser)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                command.set_defaults(command_parser=command)
                _own_usage(command)


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler stopping the job), raised wherever the program is, as Ctrl-C is."""


def _terminate(signum: int, frame) -> None:
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    args, unknown = build_parser().parse_known_args(argv)
    if unknown:
        args.command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    log.setLevel(logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO)
    _log_to_stderr()
    on_main_thread = threading.current_thread() is threading.main_thread()  # where signals can be caught
    previous = signal.signal(signal.SIGTERM, _terminate) if on_main_thread else None
    try:
        if getattr(args, "threads", None) is not None:
            set_threads(args.threads)
        args.handler(args, folders.cache_dir(args.cache_dir))
    except SgptEvalError as exc:
        return _fail(str(exc), args.verbose)
    except OSError as exc:
        return _fail(os_error_line(exc), args.verbose)
    except KeyboardInterrupt as exc:
        stopped = isinstance(exc, Terminated)
        print(f"sgpt-eval: {'stopped (SIGTERM)' if stopped else 'interrupted'}; finished embedding shards and "
              "re-rank scores are kept, and the next run resumes from them", file=sys.stderr)
        return 128 + (signal.SIGTERM if stopped else signal.SIGINT)
    finally:
        if on_main_thread:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
    return 0


def _log_to_stderr() -> None:
    """Log lines on stderr from the level -v / -q set on `sgpt_eval` up, whatever logger they come
    from (bm25s sets its own logger to DEBUG). Where logging is already set up, it is left alone."""
    handler = logging.StreamHandler()
    handler.addFilter(lambda record: record.levelno >= log.getEffectiveLevel())
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", handlers=[handler])


def os_error_line(exc: OSError) -> str:
    """`<path>: <reason>; <what to do>` for a disk or permission problem no other layer caught."""
    where = " -> ".join(str(name) for name in (exc.filename, exc.filename2) if name is not None)
    reason = exc.strerror or str(exc)
    remedy = _REMEDIES.get(exc.errno, "check the path and the disk, then run again")
    return f"{where + ': ' if where else ''}{reason}; {remedy}"


def _fail(message: str, verbose: bool) -> int:
    """One line on stderr (after the traceback under -v) and exit code 2."""
    if verbose:
        traceback.print_exc()
    print(f"sgpt-eval: error: {message}", file=sys.stderr)
    return 2
