"""Run reports written through `reports.schema`, with made-up scores."""

from __future__ import annotations

import json
from pathlib import Path

from sgpt_eval.data.catalogue import default_split
from sgpt_eval.reports.schema import Identity, Report, write_report as write


def identity(dataset: str, method: str, model: str, split: str | None = None, max_queries: int | None = None,
             **model_settings) -> Identity:
    """bm25 reports have no model; dense and rerank ones a model with the given settings."""
    settings = {"top_k": 1000, "max_queries": max_queries}
    if method == "rerank":
        settings["first_stage"] = {"kind": "bm25"}
    return Identity("beir", dataset, split or default_split(dataset), {"corpus": "c", "queries": "q"},
                    method, None if method == "bm25" else {"model": model, "revision": "r1", **model_settings}, settings)


def write_report(results_dir: Path, dataset: str, method: str, model: str, ndcg: float,
                 per_query: dict[str, float] | None = None, split: str | None = None,
                 versions: dict[str, str] | None = None, max_queries: int | None = None, **model_settings) -> Path:
    report = Report(
        identity(dataset, method, model, split, max_queries, **model_settings), "NDCG@10",
        {"NDCG@10": ndcg, "MAP@10": ndcg / 2}, {"NDCG@10": per_query or {"q1": ndcg}}, {}, {},
        versions=versions or {"python": "3.11.0", "torch": "2.13.0"}, hardware={},
        command=f"sgpt-eval eval --dataset {dataset} --model {model}", created="2025-01-01T00:00:00+00:00",
    )
    return write(report, results_dir)


def only_report(folder: Path) -> dict:
    """The one report JSON under `folder` (any method), as stored."""
    [path] = Path(folder).rglob("*.json")
    return json.loads(path.read_text())
