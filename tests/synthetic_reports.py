"""Run reports written the way `report.write_report` lays them out, with made-up scores."""

from __future__ import annotations

from pathlib import Path

from sgpt_eval.beir_data import default_split
from sgpt_eval.report import report_paths
from sgpt_eval.storage import write_json


def write_report(results_dir: Path, dataset: str, method: str, model: str, ndcg: float,
                 per_query: dict[str, float] | None = None, split: str | None = None,
                 versions: dict[str, str] | None = None, max_queries: int | None = None) -> Path:
    path, _ = report_paths(results_dir, dataset, model, method)
    write_json(path, {
        "report_version": 1, "dataset": dataset, "split": split or default_split(dataset),
        "model": model, "method": method, "metrics": {"NDCG@10": ndcg, "MAP@10": ndcg / 2},
        "per_query": {"NDCG@10": per_query or {"q1": ndcg}},
        "config": {"max_queries": max_queries}, "data_files_sha256": {}, "timings_s": {},
        "versions": versions or {"python": "3.11.0", "torch": "2.13.0"}, "hardware": {},
        "command": f"sgpt-eval eval --dataset {dataset} --model {model}", "created": "2025-01-01T00:00:00+00:00",
    })
    return path
