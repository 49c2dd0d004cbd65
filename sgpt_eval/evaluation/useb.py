"""USEB runs on the pipeline's terms: each dataset is read (and so checked), the model resolved
once, and the run's identity made before any weights load, so that a dataset whose report exists
with that identity is skipped; vectors go through the embedding cache and the executor as a
dense BEIR run's do. A dataset that cannot be had or read is reported with its reason and the
others still run.

USEB is symmetric search: every text is encoded as a query (without specb brackets this is the
same as encoding it as a document).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import folders
from ..data import useb as useb_data
from ..data.download import download_useb
from ..errors import SgptEvalError
from ..executors import Executor, executor_for
from ..models.options import ModelOptions
from ..models.resolution import ResolvedModel
from ..reports.schema import PAIR_INTERVAL, Identity, existing, new_report, read_report, write_report
from ..reports.uncertainty import RESAMPLES, SEED, average_precision_interval
from ..retrieval.embedding_cache import EmbeddingCache
from ..storage import sha256_text
from ..timing import timed
from .pipeline import Models
from .specs import RunOptions
from .useb_metrics import MAIN_METRIC, evaluate

log = logging.getLogger(__name__)

ENCODED_AS = "query"


@dataclass(frozen=True)
class UsebOutcome:
    """One dataset's result: its metrics and report, or the one-line reason it was not evaluated."""

    dataset: str
    metrics: dict[str, float] = field(default_factory=dict)
    report: Path | None = None
    problem: str | None = None
    absent: bool = False  # the problem is that the data is not there (rather than malformed)
    skipped: bool = False  # a report of the same run was there already


def run_useb(options: ModelOptions, names: Sequence[str], data_dir: Path, output_dir: Path, models: Models,
             run: RunOptions = RunOptions(), split: str = "test", force: bool = False) -> list[UsebOutcome]:
    """Evaluate the model `options` name on each named dataset, with the run options of `run` that a
    dense run takes (cache, shard size, executor); its weights load only if some dataset needs a run."""
    folders.check_writable(output_dir, "choose another with --output-dir")
    if run.use_cache:
        folders.check_writable(models.cache_dir, f"choose another with --cache-dir (or ${folders.CACHE_ENV})")
    executor = executor_for(run.executor, run.ray_address, models.local)
    cache = EmbeddingCache(models.cache_dir if run.use_cache else None, run.shard_size)
    return evaluate_model(lambda: models.resolve("bi", options), names, data_dir, output_dir, executor, cache, split,
                          force)


def evaluate_model(resolve: Callable[[], ResolvedModel], names: Sequence[str], data_dir: Path, output_dir: Path,
                   executor: Executor, cache: EmbeddingCache, split: str = "test",
                   force: bool = False) -> list[UsebOutcome]:
    """`run_useb` with the executor and cache chosen; the model is resolved (`resolve`) only once some
    dataset is there, so that absent data is said as such, whether or not the model could be had."""
    outcomes = _fetch_absent(names, data_dir)
    present = [name for name in names if name not in outcomes]
    model = resolve() if present else None
    for name in present:
        try:
            outcomes[name] = _evaluate_one(name, data_dir, output_dir, model.for_dataset(name), executor, cache,
                                           split, force)
        except SgptEvalError as exc:
            absent = bool(useb_data.missing_files(data_dir, name))
            outcomes[name] = UsebOutcome(name, problem=str(exc), absent=absent)
    return [outcomes[name] for name in names]


def _fetch_absent(names: Sequence[str], data_dir: Path) -> dict[str, UsebOutcome]:
    """Download data-eval.zip once for the datasets without a folder; those still without one, and why."""
    absent = [name for name in names if not (data_dir / name).exists()]
    if not absent:
        return {}
    try:
        download_useb(absent, data_dir)
    except SgptEvalError as exc:
        return {name: UsebOutcome(name, problem=f"{name}: not in {data_dir}, and {exc}", absent=True) for name in absent}
    return {}


def useb_identity(data: useb_data.UsebData, hashes: dict[str, str], model: ResolvedModel) -> Identity:
    """What makes two USEB runs the same run: the dataset's files, the model's settings, how texts are encoded."""
    return Identity("useb", data.name, data.split, hashes, "dense", model.settings.as_dict(), {"encoded_as": ENCODED_AS})


def _evaluate_one(name: str, data_dir: Path, output_dir: Path, model: ResolvedModel, executor: Executor,
                  cache: EmbeddingCache, split: str, force: bool) -> UsebOutcome:
    timings: dict[str, float] = {}
    with timed(timings, "load_data"):
        data = useb_data.load(name, data_dir, split)
        hashes = data.file_hashes()
    identity = useb_identity(data, hashes, model)
    main = MAIN_METRIC[name]
    found = None if force else existing(output_dir, identity)
    if found:
        log.info("%s has this run's identity; skipped (use --force to run again)", found)
        return UsebOutcome(name, metrics=read_report(found).metrics, report=found, skipped=True)

    encoder = executor.bi_encoder(model, 1)
    timings["load_model"] = encoder.load_seconds

    def embed(texts: list[str]) -> np.ndarray:
        with timed(timings, "encode"):
            return cache.encode(encoder, texts, ENCODED_AS, sha256_text("\n".join(texts)))[0].concatenated()

    with timed(timings, "score"):
        scores = evaluate(data, embed)
    timings["score"] -= timings["encode"]
    metrics = scores.metrics
    log.info("%s %s (%s): %s = %.4f", name, identity.model_name, data.split, main, metrics[main])
    details = {"device": encoder.device, "batch_size": encoder.batch_size,
               "embedding_cache": {"used": cache.root is not None}}
    if scores.pairs:
        details[PAIR_INTERVAL] = pair_interval(scores.pairs)
    path = write_report(new_report(identity, main, metrics, scores.per_query, details, timings, data_dir), output_dir)
    return UsebOutcome(name, metrics=metrics, report=path)


def pair_interval(pairs: dict[str, tuple[list[int], list[float]]]) -> dict:
    """The 95% interval of the mean AP over subsets, resampling each subset's pairs, as a report's
    details keep it: the pairs' cosines are too many to keep in the report (TwitterPara: 10,000)."""
    interval = average_precision_interval(list(pairs.values()))
    return {"low": interval.low, "high": interval.high, "resamples": RESAMPLES, "seed": SEED,
            "pairs": {name: len(labels) for name, (labels, _) in pairs.items()}}
