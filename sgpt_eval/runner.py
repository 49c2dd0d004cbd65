"""Many evaluations in one go: datasets x (method, model, options), from options or a TOML file.

A run whose report already exists is skipped (so an interrupted batch picks up where it
stopped, the embedding and score caches resuming the run that was cut off); each model is
loaded once for all the datasets it serves. One progress bar covers the whole batch.
"""

from __future__ import annotations

import dataclasses
import logging
import tomllib
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from . import beir_data
from .beir_download import ensure_dataset
from .bm25_eval import BM25Options, run_bm25
from .dense_eval import DenseOptions, load_encoder, run_dense
from .errors import SgptEvalError
from .report import report_paths
from .rerank_eval import RerankOptions, load_cross_encoder, run_rerank

log = logging.getLogger(__name__)

OPTIONS = {"dense": DenseOptions, "bm25": BM25Options, "rerank": RerankOptions}
_LOADERS = {"dense": load_encoder, "rerank": load_cross_encoder}


@dataclass(frozen=True)
class RunSpec:
    dataset: str
    method: str
    options: DenseOptions | BM25Options | RerankOptions

    def report(self, output_dir: Path) -> Path:
        return report_paths(output_dir, self.dataset, self.options.label(), self.method)[0]


def make_options(method: str, settings: dict, where: str) -> DenseOptions | BM25Options | RerankOptions:
    """Options of `method` from plain settings; unknown names are an error naming `where`."""
    if method not in OPTIONS:
        raise SgptEvalError(f"{where}: method '{method}' is not one of {', '.join(OPTIONS)}")
    fields = {field.name for field in dataclasses.fields(OPTIONS[method])}
    unknown = sorted(set(settings) - fields)
    if unknown:
        raise SgptEvalError(f"{where}: {', '.join(unknown)} not options of {method} (those are: {', '.join(sorted(fields))})")
    return OPTIONS[method](**settings)


def read_config(path: Path) -> list[RunSpec]:
    """`datasets = [...]` and `[[runs]]` tables, each a `method` plus that method's options
    (and optionally its own `datasets`)."""
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SgptEvalError(f"{path}: cannot read the run configuration ({exc})") from None
    specs = []
    for number, run in enumerate(config.get("runs", []), start=1):
        run = dict(run)
        datasets = run.pop("datasets", config.get("datasets"))
        if not datasets:
            raise SgptEvalError(f"{path}: runs #{number} has no datasets (set `datasets` at the top or in the run)")
        method = run.pop("method", "dense")
        options = make_options(method, run, f"{path}, runs #{number}")
        specs += [RunSpec(name, method, options) for requested in datasets for name in beir_data.expand(requested)]
    if not specs:
        raise SgptEvalError(f"{path}: no [[runs]] to do")
    return specs


def run_all(specs: list[RunSpec], data_dir: Path, output_dir: Path, cache_dir: Path, force: bool = False) -> list[Path]:
    """Run every spec not done yet; returns the report paths, in spec order."""
    for name in dict.fromkeys(spec.dataset for spec in specs):  # data first: no model loads for a missing dataset
        ensure_dataset(name, data_dir)
    models: dict[tuple, object] = {}
    reports = []
    progress = tqdm(specs, desc="runs", unit="run", position=0)
    for spec in progress:
        progress.set_postfix_str(f"{spec.dataset} {spec.method} {spec.options.label()}")
        report = spec.report(output_dir)
        if report.exists() and not force:
            log.info("%s exists; skipped (use --force to run again)", report)
            reports.append(report)
            continue
        reports.append(_run_one(spec, data_dir, output_dir, cache_dir, models))
    return reports


def _run_one(spec: RunSpec, data_dir: Path, output_dir: Path, cache_dir: Path, models: dict) -> Path:
    options = spec.options
    if spec.method == "bm25":
        return run_bm25(spec.dataset, data_dir, output_dir, cache_dir, options)
    key = (spec.method, dataclasses.astuple(options))
    if key not in models:
        models.clear()  # one model in memory at a time
        models[key] = _LOADERS[spec.method](options, cache_dir)
    run = run_dense if spec.method == "dense" else run_rerank
    return run(spec.dataset, data_dir, output_dir, cache_dir, options, models[key])
