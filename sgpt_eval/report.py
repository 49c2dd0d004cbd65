"""The per-run JSON report: metrics with everything needed to reproduce and audit them."""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

from .model_store import slug
from .run_files import write_trec
from .storage import write_json

REPORT_VERSION = 1
_PACKAGES = ("sgpt-eval", "torch", "transformers", "sentence-transformers", "beir", "faiss-cpu", "faiss-gpu",
             "pytrec-eval-terrier", "numpy", "bm25s", "pandas", "scikit-learn", "scipy")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def hardware() -> dict:
    import torch

    info = {"platform": platform.platform(), "machine": platform.machine(), "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads()}
    if torch.cuda.is_available():
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return info


def report_paths(output_dir: Path, dataset: str, model: str, method: str) -> tuple[Path, Path]:
    """results/<dataset>/<method>/<model>.json and the TREC run beside it."""
    folder, name = output_dir / dataset / method, slug(model)  # names such as SGPT-1.3B hold dots
    return folder / f"{name}.json", folder / f"{name}.trec"


def write_report(
    output_dir: Path,
    *,
    dataset: str,
    split: str,
    model: str,
    method: str,
    metrics: dict[str, float],
    per_query: dict[str, float],
    results: dict[str, dict[str, float]],
    config: dict,
    data_files: dict[str, str],
    timings: dict[str, float],
) -> Path:
    """Write the run file first and the report last, each atomically: a report means a finished run."""
    report_path, run_path = report_paths(output_dir, dataset, model, method)
    write_trec(run_path, results, tag=f"{method}-{slug(model)}")
    write_json(report_path, {
        "report_version": REPORT_VERSION,
        "dataset": dataset,
        "split": split,
        "model": model,
        "method": method,
        "metrics": metrics,
        "per_query": {"NDCG@10": per_query},
        "config": config,
        "data_files_sha256": data_files,
        **provenance(timings),
        "run_file": run_path.name,
    })
    return report_path


def provenance(timings: dict[str, float]) -> dict:
    """The audit fields every report carries (BEIR and USEB alike): timings, versions, hardware, command, time."""
    return {
        "timings_s": {name: round(value, 3) for name, value in timings.items()},
        "versions": package_versions(),
        "hardware": hardware(),
        "command": " ".join(sys.argv),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
