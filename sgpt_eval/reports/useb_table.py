"""The SGPT paper's USEB table: datasets as columns plus their average, published rows beside ours.

Scores are shown as USEB and the paper show them: main metric x 100, two decimals. The
average is only given when all four datasets were measured; a cell without a score says so.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from ..data.useb import DATASETS
from ..errors import SgptEvalError
from .schema import find_reports, warn_version_differences
from .systems import labels

# The published rows with their sources, shipped inside the package so that an installed copy has them.
PUBLISHED_CSV = resources.files(__package__) / "published" / "useb.csv"
TITLES = {"askubuntu": "AskUbuntu", "cqadupstack": "CQADupStack", "twitterpara": "TwitterPara", "scidocs": "SciDocs"}
MISSING = "missing"
# Why a measured cell has no interval. TwitterPara's AP ranks all pairs at once, so no pair has a
# score of its own to resample; the others are means over queries, which USEB reports do not store yet.
NO_INTERVAL = {
    "twitterpara": "average precision over all pairs has no per-pair breakdown",
    "askubuntu": "a mean over questions, but the report holds no per-question scores",
    "cqadupstack": "a mean over forums of per-query MAP@100, but the report holds no per-query scores",
    "scidocs": "a mean over tasks of per-query MAP, but the report holds no per-query scores",
}


@dataclass(frozen=True)
class TableRow:
    model: str
    source: str
    scores: dict[str, float | None]  # dataset -> score x 100, None where there is none
    average: float | None
    runs: dict[str, str] = field(default_factory=dict)  # dataset -> identity digest of the measured report


def published_rows(path: Path | Traversable = PUBLISHED_CSV) -> list[TableRow]:
    """The published SGPT nli rows, with the source each number comes from."""
    if not path.is_file():
        raise SgptEvalError(f"{path}: the published USEB scores are missing; pass --published with the CSV")
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        wanted = {"model", *DATASETS, "avg", "source"}
        if not wanted <= set(reader.fieldnames or ()):
            raise SgptEvalError(f"{path}: needs the columns {', '.join(sorted(wanted))}")
        rows = []
        for record in reader:
            try:
                scores = {name: float(record[name]) for name in DATASETS}
                average = float(record["avg"])
            except ValueError:
                raise SgptEvalError(f"{path} line {reader.line_num}: scores must be numbers") from None
            rows.append(TableRow(record["model"], f"published: {record['source']}", scores, average))
    return rows


def measured_rows(output_dir: Path, split: str = "test", models: Sequence[str] | None = None) -> list[TableRow]:
    """One row per model configuration with a USEB report under `output_dir` (only `models`, when given)."""
    wanted = set(models) if models else None
    reports = [report for _, report in find_reports(output_dir, "useb") if report.identity.split == split
               and (wanted is None or report.identity.model_name in wanted or report.identity.model["model"] in wanted)]
    warn_version_differences([report.versions for report in reports], f"the USEB reports in this table ({output_dir})")
    found: dict[str, dict[str, float | None]] = {}
    runs: dict[str, dict[str, str]] = {}
    for report, label in zip(reports, labels([report.identity for report in reports])):
        name = label.replace(" (dense)", "")
        found.setdefault(name, dict.fromkeys(DATASETS))[report.identity.dataset] = 100 * report.main_score
        runs.setdefault(name, {})[report.identity.dataset] = report.identity.digest()
    return [TableRow(model, f"measured ({split})", scores, _average(scores), runs[model]) for model, scores in found.items()]


def _average(scores: dict[str, float | None]) -> float | None:
    values = list(scores.values())
    return None if None in values else sum(values) / len(values)


def markdown(rows: Iterable[TableRow]) -> str:
    header = ["model", *(TITLES[name] for name in DATASETS), "avg", "source"]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(DATASETS) + 1) + "---|"]
    for row in rows:
        cells = [row.model, *(_cell(row.scores[name]) for name in DATASETS), _cell(row.average), row.source]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value: float | None) -> str:
    return MISSING if value is None else f"{value:.2f}"


def interval_notes(rows: Iterable[TableRow]) -> list[str]:
    """One line per dataset measured in `rows`: why its cells have no interval."""
    measured = [name for name in DATASETS if any(row.scores[name] is not None for row in rows)]
    return [f"- No interval for {TITLES[name]}: {NO_INTERVAL[name]}." for name in measured]


def useb_table(output_dir: Path, split: str = "test", models: Sequence[str] | None = None,
               published: Path | Traversable = PUBLISHED_CSV) -> str:
    """The published rows, then ours, as a Markdown table, with a note per measured dataset on why it
    has no interval."""
    measured = measured_rows(output_dir, split, models)
    if models and not measured:
        raise SgptEvalError(f"no USEB report for {', '.join(models)} under {output_dir / 'useb'}; run `sgpt-eval useb` first")
    notes = interval_notes(measured)
    return markdown([*published_rows(published), *measured]) + ("\n\n" + "\n".join(notes) if notes else "")
