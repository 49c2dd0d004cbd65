"""`sgpt-eval plan`: what a batch will cost before anything runs or any weights download.

It takes the same line as `run` (datasets x methods x models, or --config FILE), so a user
plans with the line they will run, and prints one row per run with totals (`--json FILE` too).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from .. import folders
from ..evaluation.workload import Planner, Workload, plan
from ..storage import write_json
from .evaluate import add_run_arguments, run_options, run_specs

_COLUMNS = ("dataset", "method", "model", "documents", "queries", "tokens", "params", "FLOPs", "embeddings",
            "pairs", "device-h")


def add_commands(commands: argparse._SubParsersAction) -> None:
    plan = commands.add_parser("plan", help="estimate documents, tokens, FLOPs, disk and device-hours of a `run` line, "
                                            "downloading no weights")
    add_run_arguments(plan)
    plan.add_argument("--throughput", type=float, metavar="TOKENS_PER_SECOND",
                      help="measured tokens per second of your device (default: an assumed FLOP rate, stated)")
    plan.add_argument("--json", type=Path, metavar="FILE", help="also write the plan as JSON")
    plan.set_defaults(handler=_plan)


def _plan(args: argparse.Namespace, cache_dir: Path) -> None:
    planner = Planner(folders.beir_dir(args.data_dir), cache_dir, args.throughput,
                      run_options(args).get("use_cache", True))
    rows = plan(run_specs(args), planner)
    totals = _totals(rows)
    print(_table([*map(_cells, rows), _cells(totals)]))
    print(planner.throughput_line())
    for row in rows:
        for note in row.notes:
            print(f"{row.dataset} {row.method}{' ' + row.model if row.model else ''}: {note}")
    if args.json:
        write_json(args.json, {"throughput": planner.throughput_line(), "runs": [row.as_dict() for row in rows],
                               "totals": {name: getattr(totals, name) for name in (*_SUMMED, "tokens")}})


_SUMMED = ("document_tokens", "query_tokens", "flops", "embedding_bytes", "pairs", "device_hours")


def _totals(rows: list[Workload]) -> Workload:
    """One row of sums over the runs whose value is known (the notes say which are not)."""
    sums = {name: sum(v for v in (getattr(row, name) for row in rows) if v is not None) or None for name in _SUMMED}
    return dataclasses.replace(Workload("total", "", None), **sums)


def _cells(row: Workload) -> list[str]:
    """What a run has but could not be estimated is "unknown"; what it does not have (BM25's tokens,
    a re-ranker's embeddings) is "-"."""
    def cell(text: str, applies: bool = bool(row.model)) -> str:
        return text or ("unknown" if applies else "-")
    model_run, total = row.model is not None, not row.method
    return [row.dataset, row.method, row.model or "-", cell(_count(row.documents), not total),
            cell(_count(row.queries), not total),
            cell(_short(row.tokens)), cell(_short(row.non_embedding_parameters)), cell(_sci(row.flops)),
            cell(_bytes(row.embedding_bytes), model_run and row.method == "dense"),
            cell(_count(row.pairs), model_run and row.method == "rerank"), cell(_hours(row.device_hours))]


def _table(lines: list[list[str]]) -> str:
    """Plain text, columns aligned: text left, numbers right; a rule above the totals."""
    widths = [max(len(cells[i]) for cells in [list(_COLUMNS), *lines]) for i in range(len(_COLUMNS))]
    def line(cells: list[str]) -> str:
        return "  ".join(cell.ljust(w) if i < 3 else cell.rjust(w) for i, (cell, w) in enumerate(zip(cells, widths)))
    rule = "-" * len(line(list(_COLUMNS)))
    return "\n".join([line(list(_COLUMNS)), rule, *map(line, lines[:-1]), rule, line(lines[-1])])


def _count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def _short(value: float | None) -> str:
    """1.23M, 45.6k: token and parameter counts at a glance."""
    if value is None:
        return ""
    for size, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.0f}"


def _sci(value: float | None) -> str:
    return "" if value is None else f"{value:.2e}"


def _bytes(value: int | None) -> str:
    if value is None:
        return ""
    for size, unit in ((1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value} B"


def _hours(value: float | None) -> str:
    if value is None:
        return ""
    return "<0.01" if value < 0.01 else f"{value:,.2f}"
