"""The command line run in-process, read as a user reads it: exit code, output and error line."""

from __future__ import annotations

import argparse
from types import ModuleType

from sgpt_eval.cli import main


def run_command(capsys, *argv: str) -> tuple[int, str, str]:
    """`sgpt-eval argv`: its exit code, standard output and standard error."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def error_line(err: str) -> str:
    """The one `sgpt-eval: error:` line a failed command prints, asserting there is exactly one."""
    lines = [line for line in err.splitlines() if line.startswith("sgpt-eval: error:")]
    assert len(lines) == 1, err
    return lines[0]


def parse(feature: ModuleType, *argv: str) -> argparse.Namespace:
    """`argv` parsed by the commands that one module of `sgpt_eval.cli` adds, without the others."""
    parser = argparse.ArgumentParser(prog="sgpt-eval")
    feature.add_commands(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(list(argv))
