"""Finding and reading the per-run JSON reports that tables, comparisons and regression checks use."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

from .errors import SgptEvalError
from .presets import find_preset

log = logging.getLogger(__name__)

# Folders under results/ that hold reference material, not measured runs.
NOT_RUNS = ("published", "baselines", "tables")
REQUIRED_KEYS = ("dataset", "split", "model", "method", "metrics")


def benchmark(report: dict) -> str:
    """BEIR reports carry no benchmark key; USEB reports say "useb" (USEB and BEIR share dataset names)."""
    return report.get("benchmark", "beir")


def canonical_model(model: str) -> str:
    """A preset's name for its hub id too, so `--model Muennighoff/X` and `--model X` are one system."""
    preset = find_preset(model)
    return preset.name if preset else model


def system_label(method: str, model: str) -> str:
    """The column heading of one system, e.g. "BM25", "all-MiniLM-L6-v2 (dense)", "BM25+X (rerank)"."""
    if method == "bm25":
        return "BM25" if model.lower() in ("bm25", "bm25s") else f"BM25 ({model})"
    if method == "rerank":
        return f"BM25+{model} (rerank)"
    return f"{model} ({method})"


def iter_report_paths(results_dir: Path) -> Iterator[Path]:
    """Every JSON file under `results_dir` except those in its reference folders (NOT_RUNS)."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise SgptEvalError(f"{results_dir}: no such results folder; run `sgpt-eval eval` first or pass --results-dir")
    for path in sorted(results_dir.rglob("*.json")):
        if path.relative_to(results_dir).parts[0] not in NOT_RUNS:
            yield path


def read_json(path: Path) -> dict:
    """A JSON object from disk, or a one-line error naming the file."""
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SgptEvalError(f"{path}: no such file; check the path") from None
    except json.JSONDecodeError as exc:
        raise SgptEvalError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno}); fix or delete the file") from None
    if not isinstance(payload, dict):
        raise SgptEvalError(f"{path}: expected a JSON object; fix or delete the file")
    return payload


def is_report(payload: dict) -> bool:
    return all(key in payload for key in REQUIRED_KEYS) and isinstance(payload["metrics"], dict)


def read_report(path: Path) -> dict:
    """One run report, checked for the keys every consumer relies on."""
    payload = read_json(path)
    if not is_report(payload):
        raise SgptEvalError(
            f"{path}: not a run report (needs {', '.join(REQUIRED_KEYS)}); pass a file written by `sgpt-eval eval`"
        )
    return payload


def load_run_reports(results_dir: Path) -> list[tuple[Path, dict]]:
    """All run reports under `results_dir`; other JSON files there are skipped with a warning."""
    reports = []
    for path in iter_report_paths(results_dir):
        payload = read_json(path)
        if is_report(payload):
            reports.append((path, payload))
        else:
            log.warning("%s: not a run report, skipped", path)
    return reports


def per_query(report: dict, metric: str, path: Path) -> dict[str, float]:
    """The per-query scores of `metric`, which comparisons need and reports may lack."""
    scores = report.get("per_query", {}).get(metric)
    if not isinstance(scores, dict) or not scores:
        raise SgptEvalError(f"{path}: no per-query {metric} scores; re-run the evaluation to write them")
    return {str(qid): float(score) for qid, score in scores.items()}
