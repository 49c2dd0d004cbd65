"""Score-regression check: measured reports against baselines the harness itself measured.

A baseline (results/baselines/*.json) pins one number of one report: benchmark, dataset, method,
model, metric, value and an absolute tolerance, plus the command, package versions and date that
produced it. `record_baseline` is the only writer, so every baseline is a measured number.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .errors import SgptEvalError
from .model_store import slug
from .report_files import benchmark, canonical_model, load_run_reports, read_json, read_report
from .storage import write_json

DEFAULT_BASELINES = Path("results/baselines")
BASELINE_KEYS = ("dataset", "method", "model", "metric", "value", "tolerance", "command", "versions", "measured", "report")


@dataclass(frozen=True)
class Failure:
    baseline: Path
    message: str

    def __str__(self) -> str:
        return f"{self.baseline}: {self.message}"


def run_key(report_or_baseline: dict) -> tuple[str, str, str, str]:
    """What a baseline and a report must share: benchmark, dataset, method and model."""
    return (benchmark(report_or_baseline), report_or_baseline["dataset"], report_or_baseline["method"],
            canonical_model(report_or_baseline["model"]))


def baseline_path(baselines_dir: Path, key: tuple[str, str, str, str], metric: str) -> Path:
    """One file per run and metric, e.g. beir.cqadupstack--android.dense.all-MiniLM-L6-v2.NDCG--10.json."""
    return Path(baselines_dir) / (".".join(slug(part) for part in (*key, metric)) + ".json")


def record_baseline(report_path: Path, tolerance: float, baselines_dir: Path = DEFAULT_BASELINES,
                    metric: str | None = None) -> Path:
    """Pin `metric` of a measured report as a baseline, replacing an older one for the same run.

    The metric defaults to the report's main one: NDCG@10 for BEIR, `main_metric` for USEB.
    """
    if not (tolerance >= 0 and math.isfinite(tolerance)):
        raise SgptEvalError(f"--tolerance {tolerance}: must be a finite number >= 0")
    report = read_report(report_path)
    metric = metric or report.get("main_metric", "NDCG@10")
    value = _metric(report, metric, report_path)
    path = baseline_path(baselines_dir, run_key(report), metric)
    write_json(path, {
        "benchmark": benchmark(report), "dataset": report["dataset"], "method": report["method"],
        "model": canonical_model(report["model"]), "metric": metric, "value": value, "tolerance": tolerance,
        "command": report.get("command", ""), "versions": report.get("versions", {}),
        "measured": report.get("created", ""), "report": str(report_path),
    })
    return path


def read_baseline(path: Path) -> dict:
    baseline = read_json(path)
    missing = [key for key in BASELINE_KEYS if key not in baseline]
    if missing:
        raise SgptEvalError(f"{path}: baseline lacks {', '.join(missing)}; re-record it with `sgpt-eval regress --record`")
    if not all(isinstance(baseline[key], (int, float)) for key in ("value", "tolerance")):
        raise SgptEvalError(f"{path}: value and tolerance must be numbers; re-record it with `sgpt-eval regress --record`")
    return baseline


def check(reports: Path | Iterable[Path], baselines_dir: Path = DEFAULT_BASELINES) -> list[Failure]:
    """Every baseline against its measured report; the list of failures is empty when all pass.

    `reports` is a results folder (every baseline must then find its report there) or a list
    of report files (only the baselines those reports have are checked).
    """
    baseline_files = sorted(Path(baselines_dir).glob("*.json"))
    if not baseline_files:
        raise SgptEvalError(f"{baselines_dir}: no baselines; record some with `sgpt-eval regress --record`")
    whole_folder = isinstance(reports, (str, Path))
    loaded = load_run_reports(Path(reports)) if whole_folder else [(Path(path), read_report(path)) for path in reports]
    measured = {run_key(report): (path, report) for path, report in loaded}

    failures = []
    for file in baseline_files:
        baseline = read_baseline(file)
        key = run_key(baseline)
        if key not in measured:
            if whole_folder:
                failures.append(Failure(file, f"no measured report for {' '.join(key)} under {reports}; "
                                              f"re-run: {baseline['command']}"))
            continue
        failure = _compare(file, baseline, *measured[key])
        if failure:
            failures.append(failure)
    return failures


def _compare(file: Path, baseline: dict, report_path: Path, report: dict) -> Failure | None:
    metric, expected, tolerance = baseline["metric"], baseline["value"], baseline["tolerance"]
    try:
        value = _metric(report, metric, report_path)
    except SgptEvalError as exc:
        return Failure(file, f"{exc}; expected {expected:.5f} ± {tolerance}")
    if abs(value - expected) <= tolerance:
        return None
    message = (f"{baseline['dataset']} {baseline['method']} {baseline['model']}: {metric} measured {value:.5f}, "
               f"expected {expected:.5f} ± {tolerance} (off by {value - expected:+.5f}; report {report_path})")
    changed = _changed_versions(baseline.get("versions", {}), report.get("versions", {}))
    return Failure(file, message + (f"; versions changed: {changed}" if changed else ""))


def _changed_versions(before: dict, after: dict) -> str:
    """Package versions that differ between baseline and report: the usual cause of a drift."""
    names = sorted(set(before) | set(after))
    return ", ".join(f"{name} {before.get(name, '-')} -> {after.get(name, '-')}"
                     for name in names if before.get(name) != after.get(name))


def _metric(report: dict, metric: str, path: Path) -> float:
    value = report["metrics"].get(metric)
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SgptEvalError(f"{path}: no finite {metric} in its metrics; choose a metric the report has")
    return float(value)
