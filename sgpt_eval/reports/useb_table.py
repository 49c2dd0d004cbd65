"""The SGPT paper's USEB table: datasets as columns plus their average, published rows beside ours.

Scores are shown as USEB and the paper show them: main metric x 100, two decimals. The
average is only given when all four datasets were measured; a cell without a score says so.
A measured cell carries its 95% percentile bootstrap interval: over questions (AskUbuntu), over
queries within each forum or task (CQADupStack, SciDocs), over pairs within each subset
(TwitterPara). The average has none: TwitterPara's interval is made when it is measured, from
pairs too many to keep in its report, so it cannot be resampled together with the others.
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
from .schema import PAIR_INTERVAL, Report, find_reports, warn_version_differences
from .systems import labels
from .uncertainty import RESAMPLES, SEED, Interval, average_interval

# The published rows with their sources, shipped inside the package so that an installed copy has them.
PUBLISHED_CSV = resources.files(__package__) / "published" / "useb.csv"
TITLES = {"askubuntu": "AskUbuntu", "cqadupstack": "CQADupStack", "twitterpara": "TwitterPara", "scidocs": "SciDocs"}
MISSING = "missing"
# Why a measured cell has no interval: its report predates the per-query scores (or TwitterPara's
# interval over pairs).
NO_INTERVAL = "the report holds neither per-query scores nor an interval over pairs (`sgpt-eval useb --force` measures again)"


@dataclass(frozen=True)
class TableRow:
    model: str
    source: str
    scores: dict[str, float | None]  # dataset -> score x 100, None where there is none
    average: float | None
    runs: dict[str, str] = field(default_factory=dict)  # dataset -> identity digest of the measured report
    intervals: dict[str, Interval | None] = field(default_factory=dict)  # measured dataset -> interval x 100


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
    found: dict[str, dict[str, Report]] = {}
    for report, label in zip(reports, labels([report.identity for report in reports])):
        found.setdefault(label.replace(" (dense)", ""), {})[report.identity.dataset] = report
    return [_measured_row(model, by_dataset, split) for model, by_dataset in found.items()]


def _measured_row(model: str, by_dataset: dict[str, Report], split: str) -> TableRow:
    scores = {name: 100 * by_dataset[name].main_score if name in by_dataset else None for name in DATASETS}
    return TableRow(model, f"measured ({split})", scores, _average(scores),
                    {name: report.identity.digest() for name, report in by_dataset.items()},
                    {name: _scaled(main_interval(report)) for name, report in by_dataset.items()})


def main_interval(report: Report) -> Interval | None:
    """The 95% interval of a USEB report's main metric: from its per-query scores (the mean of
    their means), else the interval over pairs it was measured with; None where it has neither."""
    if report.per_query:
        return average_interval([list(scores.values()) for scores in report.per_query.values()])
    stored = report.details.get(PAIR_INTERVAL)
    return Interval(stored["low"], stored["high"]) if stored else None


def _average(scores: dict[str, float | None]) -> float | None:
    values = list(scores.values())
    return None if None in values else sum(values) / len(values)


def markdown(rows: Iterable[TableRow]) -> str:
    header = ["model", *(TITLES[name] for name in DATASETS), "avg", "source"]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(DATASETS) + 1) + "---|"]
    for row in rows:
        cells = [row.model, *(_cell(row.scores[name], row.intervals.get(name)) for name in DATASETS),
                 _cell(row.average), row.source]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value: float | None, interval: Interval | None = None) -> str:
    if value is None:
        return MISSING
    return f"{value:.2f}" + (f" {interval.text(2)}" if interval else "")


def interval_notes(rows: Iterable[TableRow]) -> list[str]:
    """How the measured cells' intervals are made, and which cells have none and why."""
    rows = list(rows)
    if not rows:
        return []
    notes = [f"- [low, high]: 95% percentile bootstrap interval of a measured cell (x 100; {RESAMPLES:,} resamples, "
             f"seed {SEED}) of its questions (AskUbuntu), its queries within each forum (CQADupStack) or task "
             "(SciDocs), its judged pairs within each subset (TwitterPara, made when the run was measured)."]
    notes += [f"- No interval for {row.model} on {TITLES[name]}: {NO_INTERVAL}."
              for row in rows for name in DATASETS if row.scores[name] is not None and not row.intervals.get(name)]
    if any(row.average is not None for row in rows):
        notes.append("- The average has no interval: TwitterPara's is made from pairs too many to keep in its "
                     "report, so it cannot be resampled with the other datasets'.")
    return notes


def _scaled(interval: Interval | None) -> Interval | None:
    return None if interval is None else Interval(100 * interval.low, 100 * interval.high)


def useb_table(output_dir: Path, split: str = "test", models: Sequence[str] | None = None,
               published: Path | Traversable = PUBLISHED_CSV) -> str:
    """The published rows, then ours, as a Markdown table, with notes on the measured cells' intervals."""
    measured = measured_rows(output_dir, split, models)
    if models and not measured:
        raise SgptEvalError(f"no USEB report for {', '.join(models)} under {output_dir / 'useb'}; run `sgpt-eval useb` first")
    notes = interval_notes(measured)
    return markdown([*published_rows(published), *measured]) + ("\n\n" + "\n".join(notes) if notes else "")
