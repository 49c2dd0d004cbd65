"""Score-regression check: measured reports against baselines the harness itself measured.

A baseline (results/baselines/*.json) pins one number of one report: the report's identity,
the metric, its value and an absolute tolerance, plus the command, package versions and date
that produced it. `record_baseline` is the only writer, so every baseline is a measured number.
A baseline and a report are paired by identity less the model revision and data file hashes:
a baseline still applies when those change, and a failure then names what changed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import SgptEvalError
from ..models.store import slug
from ..storage import digest, write_json
from .schema import Identity, Report, find_reports, read_json, read_report, warn_version_differences

DEFAULT_BASELINES = Path("results/baselines")
BASELINE_KEYS = ("identity", "metric", "value", "tolerance", "command", "versions", "measured", "report")


@dataclass(frozen=True)
class Failure:
    baseline: Path
    message: str

    def __str__(self) -> str:
        return f"{self.baseline}: {self.message}"


def pairing_key(identity: Identity) -> str:
    return digest(identity.comparable())


def baseline_path(baselines_dir: Path, identity: Identity, metric: str) -> Path:
    """One file per configuration and metric, e.g. beir.scifact.dense.all-MiniLM-L6-v2.<key>.NDCG--10.json."""
    parts = (identity.benchmark, identity.dataset, identity.method, identity.label(), pairing_key(identity)[:10], metric)
    return Path(baselines_dir) / (".".join(slug(part) for part in parts) + ".json")


def record_baseline(report_path: Path, tolerance: float, baselines_dir: Path = DEFAULT_BASELINES,
                    metric: str | None = None) -> Path:
    """Pin `metric` of a measured report (default: its main metric) as a baseline, replacing an
    older one for the same configuration."""
    if not (tolerance >= 0 and math.isfinite(tolerance)):
        raise SgptEvalError(f"--tolerance {tolerance}: must be a finite number >= 0")
    report = read_report(report_path)
    metric = metric or report.main_metric
    path = baseline_path(baselines_dir, report.identity, metric)
    write_json(path, {
        "identity": report.identity.as_dict(), "metric": metric, "value": _metric(report, metric, report_path),
        "tolerance": tolerance, "command": report.command, "versions": report.versions,
        "measured": report.created, "report": str(report_path),
    })
    return path


def read_baseline(path: Path) -> dict:
    baseline = read_json(path)
    missing = [key for key in BASELINE_KEYS if key not in baseline]
    if missing:
        raise SgptEvalError(f"{path}: baseline lacks {', '.join(missing)}; re-record it with `sgpt-eval regress --record`")
    if not all(isinstance(baseline[key], (int, float)) for key in ("value", "tolerance")):
        raise SgptEvalError(f"{path}: value and tolerance must be numbers; re-record it with `sgpt-eval regress --record`")
    try:
        baseline["identity"] = Identity(**baseline["identity"])
    except TypeError:
        raise SgptEvalError(f"{path}: its identity is not a report identity; re-record it with `sgpt-eval regress --record`") from None
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
    loaded = find_reports(Path(reports)) if whole_folder else [(Path(path), read_report(path)) for path in reports]
    measured = {pairing_key(report.identity): (path, report) for path, report in loaded}

    failures, versions = [], []
    for file in baseline_files:
        baseline = read_baseline(file)
        identity = baseline["identity"]
        key = pairing_key(identity)
        if key not in measured:
            if whole_folder:
                failures.append(Failure(file, f"no measured report for {identity.benchmark} {identity.dataset} "
                                              f"{identity.method} {identity.label()} under {reports}; "
                                              f"re-run: {baseline['command']}"))
            continue
        versions += [baseline["versions"], measured[key][1].versions]
        failure = _compare(file, baseline, *measured[key])
        if failure:
            failures.append(failure)
    warn_version_differences(versions, f"the baselines in {baselines_dir} and the reports checked against them")
    return failures


def _compare(file: Path, baseline: dict, report_path: Path, report: Report) -> Failure | None:
    metric, expected, tolerance = baseline["metric"], baseline["value"], baseline["tolerance"]
    try:
        value = _metric(report, metric, report_path)
    except SgptEvalError as exc:
        return Failure(file, f"{exc}; expected {expected:.5f} ± {tolerance}")
    if abs(value - expected) <= tolerance:
        return None
    identity = baseline["identity"]
    message = (f"{identity.dataset} {identity.method} {identity.label()}: {metric} measured {value:.5f}, "
               f"expected {expected:.5f} ± {tolerance} (off by {value - expected:+.5f}; report {report_path})")
    inputs = _changed_inputs(identity, report.identity)
    versions = _changed_versions(baseline["versions"], report.versions)
    message += f"; inputs changed: {', '.join(inputs)}" if inputs else ""
    return Failure(file, message + (f"; versions changed: {', '.join(versions)}" if versions else ""))


def _changed_inputs(before: Identity, after: Identity) -> list[str]:
    """Model revision and data files: the inputs a baseline tolerates changing, named when they did."""
    changed = []
    if (before.model or {}).get("revision") != (after.model or {}).get("revision"):
        changed.append(f"model revision {(before.model or {}).get('revision')} -> {(after.model or {}).get('revision')}")
    changed += [f"{role} file sha256 {before.data_files_sha256.get(role, '-')[:12]} -> {sha[:12]}"
                for role, sha in after.data_files_sha256.items() if before.data_files_sha256.get(role) != sha]
    return changed


def _changed_versions(before: dict, after: dict) -> list[str]:
    """Package versions that differ between baseline and report: the usual cause of a drift."""
    names = sorted(set(before) | set(after))
    return [f"{name} {before.get(name, '-')} -> {after.get(name, '-')}" for name in names if before.get(name) != after.get(name)]


def _metric(report: Report, metric: str, path: Path) -> float:
    value = report.metrics.get(metric)
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SgptEvalError(f"{path}: no finite {metric} in its metrics; choose a metric the report has")
    return float(value)
