"""USEB report files: one JSON per dataset and model, shaped like the BEIR reports, read back by the table."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from ..errors import SgptEvalError
from ..model_store import slug
from ..report import REPORT_VERSION, provenance
from ..storage import write_json
from .data import UsebData


def report_dir(output_dir: Path, dataset: str, split: str) -> Path:
    """results/useb/<dataset>/ for the test split (the paper's), results/useb/<dataset>/<split>/ otherwise."""
    base = output_dir / "useb" / dataset
    return base if split == "test" else base / split


def report_path(output_dir: Path, dataset: str, model: str, split: str) -> Path:
    return report_dir(output_dir, dataset, split) / f"{slug(model)}.json"


def write_report(
    output_dir: Path,
    *,
    data: UsebData,
    model: str,
    main_metric: str,
    metrics: dict[str, float],
    config: dict,
    timings: dict[str, float],
) -> Path:
    """Write atomically: a report on disk always means a finished evaluation."""
    path = report_path(output_dir, data.name, model, data.split)
    write_json(path, {
        "report_version": REPORT_VERSION,
        "benchmark": "useb",
        "dataset": data.name,
        "split": data.split,
        "model": model,
        "method": "dense",
        "main_metric": main_metric,
        "metrics": metrics,
        "config": config,
        "data_files_sha256": data.file_hashes(),
        **provenance(timings),
    })
    return path


def read_reports(output_dir: Path, dataset: str, split: str) -> Iterator[dict]:
    """Every USEB report of one dataset and split, checked to name its main metric's value."""
    for path in sorted(report_dir(output_dir, dataset, split).glob("*.json")):
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SgptEvalError(f"{path}: not a readable JSON report ({exc}); delete it or run `sgpt-eval useb` again") from None
        metrics = report.get("metrics") if isinstance(report, dict) else None
        if not isinstance(metrics, dict) or not isinstance(metrics.get(report.get("main_metric")), float):
            raise SgptEvalError(f"{path}: not a USEB report (no main_metric value); delete it or run `sgpt-eval useb` again")
        yield report
