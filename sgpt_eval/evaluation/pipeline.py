"""The one evaluation pipeline: dataset -> retriever -> ranking -> metrics -> report.

`evaluate` runs one spec. Before any weights load it resolves the spec's stages and identity
(data file hashes, the model resolved from its config, the run's settings), so `run_all` can skip
a spec whose report already exists with that identity, and an interrupted batch resumes where
it stopped. `run_all` resolves every spec, probes the output and cache folders and reads each
dataset it needs before the first run, so that bad input anywhere stops the batch at its start.
Each model loads once per distinct options; one model is in memory at a time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import folders
from ..data import beir
from ..errors import SgptEvalError, Unavailable
from ..executors import executor_for
from ..executors.local import LocalExecutor
from ..models.options import ModelOptions
from ..models.resolution import ResolvedModel, resolve_model
from ..progress import progress_bar
from ..reports.schema import Identity, Report, existing, new_report, read_report, write_report
from ..retrieval import Retriever
from ..retrieval.bm25 import BM25Retriever
from ..retrieval.dense import DenseRetriever
from ..retrieval.embedding_cache import EmbeddingCache
from ..retrieval.fusion import FusionRetriever
from ..retrieval.ranking import Ranking, top_k
from ..retrieval.rerank import Reranker
from . import metrics
from .rankings import first_stage_file, fusion_input
from .specs import FUSION, RunSpec

log = logging.getLogger(__name__)

MAIN_METRIC = "NDCG@10"


class Models:
    """Models resolved by their options, each once per batch: the settings every run of it records
    and the executors load."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self._resolved: dict[tuple[str, ModelOptions], ResolvedModel] = {}
        self.local = LocalExecutor()  # keeps the last model it loaded for the next run of it

    def resolve(self, kind: str, options: ModelOptions) -> ResolvedModel:
        if (kind, options) not in self._resolved:
            self._resolved[(kind, options)] = resolve_model(options, kind, self.cache_dir)
        return self._resolved[(kind, options)]


@dataclass(frozen=True)
class Stages:
    """What a run does to a dataset: a retriever, and a re-ranker of its top-k where the method
    re-ranks; the pipeline runs them in turn and scores each."""

    first: Retriever
    rerank: Reranker | None = None

    @property
    def method(self) -> str:
        return (self.rerank or self.first).method

    def model_settings(self) -> dict | None:
        return (self.rerank or self.first).model_settings()

    def settings(self) -> dict:
        """What changes the ranking: a re-ranker's settings with its first stage's, or the retriever's."""
        if self.rerank is None:
            return self.first.settings()
        return {**self.rerank.settings(), "first_stage": {"kind": self.first.method, **self.first.settings()}}


def stages_for(spec: RunSpec, models: Models, files: beir.DatasetFiles) -> Stages:
    """The stages a spec describes, with every model resolved and every ranking file opened now;
    models load when a stage first runs. `files` (the dataset and split located) is what the
    rankings read must be rankings of."""
    run = spec.run
    depth = run.depth(spec.method)
    cache_dir = models.cache_dir if run.use_cache else None
    if spec.method == FUSION:
        inputs = [fusion_input(given, files.name, files.split) for given in run.inputs]
        return Stages(FusionRetriever(inputs, run.fusion, run.rrf_k, run.fusion_weights(),
                                      run.normalization, depth))
    if spec.method == "bm25":
        return Stages(BM25Retriever(run.bm25(), depth, cache_dir))
    executor = executor_for(run.executor, run.ray_address, models.local)
    if spec.method == "dense":
        model = models.resolve("bi", spec.model).for_dataset(files.name)
        return Stages(DenseRetriever(model, executor, EmbeddingCache(cache_dir, run.shard_size), depth,
                                     run.score_function, run.faiss_gpu, run.store_dtype))
    first = (BM25Retriever(run.bm25(), depth, cache_dir) if run.first_stage == "bm25"
             else first_stage_file(run.first_stage, files.name, files.split))
    return Stages(first, Reranker(models.resolve("cross", spec.model), executor, cache_dir, depth))


def run_stages(stages: Stages, dataset: beir.BeirDataset, timings: dict[str, float]) -> tuple[Ranking, dict]:
    """The ranking of the last stage, and how each stage ran; a re-ranked first stage is scored too.
    Judged queries the first stage ranks nothing for (and so no later stage either) score 0."""
    ranking, details = stages.first.retrieve(dataset, timings)  # an unusable first stage fails before loading
    _warn_unranked(dataset, ranking, stages.first.method, details)
    if stages.rerank is None:
        return ranking, details
    candidates = top_k(ranking, stages.rerank.top_k)
    details[MAIN_METRIC] = metrics.evaluate(dataset.qrels, candidates)[MAIN_METRIC]
    log.info("%s: first stage %s = %.4f", dataset.name, MAIN_METRIC, details[MAIN_METRIC])
    ranking, reranked = stages.rerank.rerank(dataset, candidates, timings)
    return ranking, {"first_stage": details, **reranked}


def _warn_unranked(dataset: beir.BeirDataset, ranking: Ranking, method: str, details: dict) -> None:
    """One warning with the count of judged queries a ranking lacks, which every metric counts as 0."""
    missing = metrics.unranked(dataset.qrels, ranking)
    if missing:
        source = details.get("path") or f"the {method} ranking"
        log.warning("%s: %d of the %d judged queries have no document in %s; each scores 0, and every metric "
                    "averages over all %d", dataset.name, missing, len(dataset.qrels), source, len(dataset.qrels))


@dataclass(frozen=True)
class Prepared:
    """One spec resolved without reading its data or loading weights: its files (hashed), its
    stages and the identity its report will have."""

    spec: RunSpec
    files: beir.DatasetFiles
    hashes: dict[str, str]
    stages: Stages
    identity: Identity
    data_dir: Path


def prepare(spec: RunSpec, data_dir: Path, models: Models,
            hashed: dict[beir.DatasetFiles, dict[str, str]] | None = None) -> Prepared:
    """`hashed`: the file hashes of datasets a batch has resolved already, so each is hashed once."""
    files = beir.locate(spec.dataset, data_dir, spec.run.split)
    hashed = {} if hashed is None else hashed
    if files not in hashed:
        hashed[files] = files.hashes()
    hashes = hashed[files]
    stages = stages_for(spec, models, files)
    identity = Identity("beir", files.name, files.split, hashes, stages.method, stages.model_settings(),
                        {**stages.settings(), "max_queries": query_subset(files, spec.run.max_queries)})
    return Prepared(spec, files, hashes, stages, identity, data_dir)


def query_subset(files: beir.DatasetFiles, max_queries: int | None) -> int | None:
    """`max_queries` as the identity holds it: None where it selects every judged query (a first 1000
    of 300 is all 300), so that a configuration has one identity however its subset was written."""
    if max_queries is None or max_queries < len(beir.read_qrels(files.qrels)):
        return max_queries
    return None


class Datasets:
    """Datasets read (and so checked) when asked for; the last one read is kept, so that the
    dataset `run_all` checks last, the first run's, is not read twice. One in memory at a time."""

    def __init__(self) -> None:
        self._last: tuple[tuple, beir.BeirDataset, float] | None = None

    def read(self, files: beir.DatasetFiles, hashes: dict[str, str]) -> tuple[beir.BeirDataset, float]:
        """The dataset, and the seconds its read took (then, when it was kept from an earlier read)."""
        key = (files, sorted(hashes.items()))
        if self._last is None or self._last[0] != key:
            self._last = None
            started = time.perf_counter()
            dataset = beir.read(files, hashes)
            self._last = (key, dataset, time.perf_counter() - started)
        return self._last[1], self._last[2]


@dataclass(frozen=True)
class Outcome:
    spec: RunSpec
    path: Path
    report: Report
    skipped: bool  # an identical run's report was already there


def evaluate(spec: RunSpec, data_dir: Path, results_dir: Path, models: Models, force: bool = True) -> Outcome:
    """Run one spec end to end and write its report; with `force` False, an existing report of
    the same identity is returned instead."""
    prepared = prepare(spec, data_dir, models)
    return _execute(prepared, results_dir, Datasets(), None if force else existing(results_dir, prepared.identity))


def _execute(prepared: Prepared, results_dir: Path, datasets: Datasets, found: Path | None) -> Outcome:
    """Run a prepared spec, or return the report `found` with its identity."""
    spec, identity = prepared.spec, prepared.identity
    if found:
        log.info("%s has this run's identity; skipped (use --force to run again)", found)
        return Outcome(spec, found, read_report(found), skipped=True)

    dataset, read_seconds = datasets.read(prepared.files, prepared.hashes)
    timings = {"load_data": read_seconds}
    dataset = beir.limit_queries(dataset, spec.run.max_queries)
    ranking, details = run_stages(prepared.stages, dataset, timings)
    if not ranking:
        raise SgptEvalError(f"{spec.dataset} {spec.method}: the ranking is empty; nothing to score")
    scores = metrics.evaluate(dataset.qrels, ranking)
    judged_means, judged = metrics.judgement(dataset.qrels, ranking)
    scores.update(judged_means)
    per_query = {MAIN_METRIC: metrics.per_query_ndcg(dataset.qrels, ranking), **judged}
    report = new_report(identity, MAIN_METRIC, scores, per_query, {**details, "queries": len(dataset.queries)}, timings,
                        prepared.data_dir)
    path = write_report(report, results_dir, ranking)
    log.info("%s %s %s: %s = %.4f", spec.dataset, spec.method, identity.label(), MAIN_METRIC, report.main_score)
    return Outcome(spec, path, report, skipped=False)


def _prepare_all(specs: Sequence[RunSpec], data_dir: Path, models: Models) -> tuple[list[RunSpec], list[Prepared]]:
    """The specs that resolve, each prepared. One that does not stops the batch, unless its settings
    say `skip_unavailable`: then it is left out, and each distinct problem (a dataset that is not on
    disk and cannot be downloaded, a model not found) is one warning line with the count of runs it cost."""
    hashed: dict[beir.DatasetFiles, dict[str, str]] = {}
    kept, runs, problems = [], [], {}
    for spec in specs:
        try:
            runs.append(prepare(spec, data_dir, models, hashed))
        except Unavailable as exc:
            if not spec.run.skip_unavailable:
                raise
            problems[str(exc)] = problems.get(str(exc), 0) + 1
            continue
        kept.append(spec)
    for problem, count in problems.items():
        log.warning("skipped: %s (%d run%s)", problem, count, "" if count == 1 else "s")
    if problems and not kept:
        raise SgptEvalError("no run could go ahead: every run's dataset or model is unavailable; "
                            "the skipped: lines above say which and how to provide them")
    return kept, runs


def run_all(specs: Sequence[RunSpec], data_dir: Path, results_dir: Path, cache_dir: Path,
            force: bool = False) -> list[Outcome]:
    """Run every spec (skipping finished ones unless `force`); outcomes come back in spec order
    (less the specs left out as unavailable).

    Bad input anywhere in the batch stops it before any model loads: the output and cache folders
    are probed, every spec is resolved (its dataset found or downloaded, its model's settings read),
    and every dataset a run needs is read once. Specs run grouped by model so that each loads once.
    A spec with `skip_unavailable` that cannot be resolved is left out instead (see `_prepare_all`).
    """
    folders.check_writable(results_dir, "choose another with --output-dir")
    if any(spec.run.use_cache for spec in specs):
        folders.check_writable(cache_dir, f"choose another with --cache-dir (or ${folders.CACHE_ENV})")
    specs, runs = _prepare_all(specs, data_dir, Models(cache_dir))
    order = sorted(range(len(specs)), key=lambda i: (specs[i].method, repr(specs[i].model)))
    found = {i: None if force else existing(results_dir, runs[i].identity) for i in order}
    needed: dict[beir.DatasetFiles, Prepared] = {}
    for i in order:
        if not found[i]:
            needed.setdefault(runs[i].files, runs[i])
    datasets = Datasets()
    for prepared in reversed(needed.values()):  # the first run's dataset last, so that it is kept for that run
        datasets.read(prepared.files, prepared.hashes)
    outcomes: dict[int, Outcome] = {}
    progress = progress_bar(order, desc="runs", unit="run", hide=len(specs) < 2)
    for i in progress:
        spec = specs[i]
        progress.set_postfix_str(f"{spec.dataset} {spec.method} {spec.model.model if spec.model else ''}")
        outcomes[i] = _execute(runs[i], results_dir, datasets, found[i])
    return [outcomes[i] for i in range(len(specs))]
