"""The Ray executor: a pool of model replicas (Ray actors), one per GPU, or one per CPU worker
where the cluster has no GPU (or the model is asked to run on the CPU).

Each replica builds its model once from the run's `ModelOptions` and the model folder (the
model object itself is never sent) and checks that it resolves the settings this process
described, so that its vectors land under the right cache key. Replicas return vectors and
scores to this process, the driver, which writes every cache file itself: on a cluster the
workers need not see the driver's cache folder, and the files are exactly those the local
executor writes. Replicas are kept for the next run of the same model, so that a batch over
many datasets loads each model once, as the local path does; they stop when another model's
replicas start, or with this process.

On CPUs each replica runs one thread per CPU Ray gives it (one): its vectors and scores are
bit-identical to a local run with as many threads. Float sums split over another number of
threads can differ in the last bits (about 1e-7); on GPUs there is no such difference.

Re-ranking splits its pairs by document: all pairs of one document go to one task, so that
the document's prompt is computed once, on one replica. Tasks of at most `TASK_PAIRS` pairs
go to whichever replica is free, which balances the pair counts, and the driver adds each
task's scores to the score cache as it returns, so an interrupted run resumes.
"""

from __future__ import annotations

import math
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import ray
from ray.util import ActorPool

from ..errors import SgptEvalError
from ..models.options import ModelOptions
from ..models.score_cache import ScoreCache
from ..progress import progress_bar
from ..retrieval.embedding_cache import DEFAULT_SHARD_SIZE, ShardJob

if TYPE_CHECKING:
    from ..models.bi_encoder import EncoderSettings
    from ..models.cross_encoder import CrossEncoderSettings

TASK_PAIRS = 512  # re-ranking pairs per task at most; the driver caches scores after each task
_PROBE_SECONDS = 5


def connect(address: str | None) -> None:
    """Join the cluster at `address` ("auto", HOST:PORT, ray://HOST:PORT), or start Ray here
    without one; once per process. An address where nothing answers is one error line, not a
    connection that retries for minutes."""
    if address is not None:
        _probe(address)
    if ray.is_initialized():
        return
    try:
        ray.init(address=address, **({} if address else {"include_dashboard": False}))
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        where = f"--ray-address {address}: cannot join the Ray cluster there" if address else \
            "--executor ray: Ray did not start here"
        raise SgptEvalError(f"{where} ({str(exc).splitlines()[0]})") from None


def _probe(address: str) -> None:
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and the like: Ray finds the cluster itself and says so when there is none
    try:
        socket.create_connection((host, int(port)), timeout=_PROBE_SECONDS).close()
    except OSError as exc:
        raise SgptEvalError(f"--ray-address {address}: nothing answers there ({exc.strerror or exc}); "
                            "start the cluster (ray start --head) or correct the address") from None


class _Replica:
    """One model on one Ray worker: a bi-encoder ("bi") or a cross-encoder ("cross")."""

    def __init__(self, kind: str, options: ModelOptions, model_dir: Path) -> None:
        import torch

        from ..models.bi_encoder import SGPTBiEncoder
        from ..models.cross_encoder import SGPTCrossEncoder

        if not ray.get_gpu_ids():  # the CPUs Ray gave this worker, not every core of its machine
            torch.set_num_threads(max(1, int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1))))
        self.model = (SGPTBiEncoder.from_options(options, model_dir) if kind == "bi"
                      else SGPTCrossEncoder.from_options(options, model_dir, None))  # the driver keeps the scores

    def describe(self, instruction: str | None) -> tuple[dict, str]:
        model = self.model.with_instruction(instruction) if instruction else self.model
        return model.settings.as_dict(), model.device

    def encode(self, number: int, texts: list[str], kind: str, batch_size: int | None, instruction: str | None
               ) -> tuple[int, np.ndarray]:
        return number, self.model.with_instruction(instruction).encode(texts, kind, batch_size, show_progress_bar=False)

    def predict(self, number: int, pairs: list[tuple[str, str]], batch_size: int) -> tuple[int, list[float]]:
        return number, self.model.predict(pairs, batch_size, show_progress_bar=False)


class RayExecutor:
    """Replicas of one model (`options`) on the Ray cluster it joined."""

    def __init__(self, options: ModelOptions, model_dir: Path, score_cache_dir: Path | None,
                 address: str | None) -> None:
        connect(address)
        self.options, self.model_dir, self.score_cache_dir = options, model_dir, score_cache_dir

    def bi_encoder(self, settings: EncoderSettings, shards: int) -> RemoteBiEncoder:
        """Replicas of the bi-encoder with `settings`, at most `shards` of them."""
        replicas, seconds = self._replicas("bi", settings, shards)
        return RemoteBiEncoder(replicas, settings, self.options.batch_size, seconds)

    def cross_encoder(self, settings: CrossEncoderSettings, pairs: int) -> RemoteCrossEncoder:
        """Replicas of the cross-encoder with `settings`, at most `pairs` of them."""
        replicas, seconds = self._replicas("cross", settings, pairs)
        return RemoteCrossEncoder(replicas, settings, ScoreCache.for_settings(self.score_cache_dir, settings.as_dict()),
                                  self.options.batch_size, seconds)

    def _replicas(self, kind: str, settings: EncoderSettings | CrossEncoderSettings, most: int
                  ) -> tuple[Replicas, float]:
        """The replicas (those of the last run, if it ran this model), checked to resolve `settings`,
        and the seconds their start took."""
        started = time.perf_counter()
        key = (ray.get_runtime_context().get_job_id(), kind, self.options, self.model_dir)
        if key not in _kept:
            _kept.clear()  # one model's replicas at a time; they stop once nothing holds them
            _kept[key] = Replicas(kind, self.options, self.model_dir)
        replicas = _kept[key]
        replicas.start(most)
        expected = settings.as_dict()
        for found, _ in _get([replica.describe.remote(getattr(settings, "instruction", None))
                              for replica in replicas.actors]):
            if found != expected:
                differ = sorted(name for name in {*found, *expected} if found.get(name) != expected.get(name))
                raise SgptEvalError(f"--executor ray: a worker resolves model {settings.model} to other settings "
                                    f"({', '.join(differ)}) than this machine; give every node the same model "
                                    "files and sgpt-eval version, and --device and --dtype where this machine "
                                    "has no GPU")
        return replicas, time.perf_counter() - started


class Replicas:
    """The replicas of one model: one per GPU of the cluster, or one per CPU where it has no GPU
    or the model is to run on the CPU; tasks go to whichever is free."""

    def __init__(self, kind: str, options: ModelOptions, model_dir: Path) -> None:
        self.kind, self.options, self.model_dir = kind, options, model_dir
        gpus = int(ray.cluster_resources().get("GPU", 0))
        self.on_gpu = gpus > 0 and options.device != "cpu"
        self.capacity = gpus if self.on_gpu else int(ray.cluster_resources().get("CPU", 1))
        self.actors: list = []
        self.device = ""

    def start(self, most: int) -> None:
        """Start replicas until there are `most` (as many as the cluster holds at most), models loaded."""
        wanted = max(1, min(most, self.capacity))
        if len(self.actors) >= wanted:
            return
        actor = ray.remote(_Replica).options(num_cpus=1, num_gpus=1 if self.on_gpu else 0)
        started = [actor.remote(self.kind, self.options, self.model_dir) for _ in range(wanted - len(self.actors))]
        devices = _get([replica.describe.remote(None) for replica in started])
        self.actors += started
        self.device = f"ray: {len(self.actors)} x {devices[0][1]}"

    def run(self, submit: Callable, tasks: Iterable) -> Iterator:
        """`submit(actor, task)` for every task; results as they finish, a worker's error raised as is."""
        results = ActorPool(self.actors).map_unordered(submit, tasks)
        while True:
            try:
                yield next(results)
            except StopIteration:
                return
            except ray.exceptions.RayError as exc:
                raise _reason(exc) from None


_kept: dict[tuple, Replicas] = {}


def _get(refs: list) -> list:
    try:
        return ray.get(refs)
    except ray.exceptions.RayError as exc:
        raise _reason(exc) from None


def _reason(exc: ray.exceptions.RayError) -> Exception:
    """A worker's error as one line where it is one of ours, else as Ray raised it."""
    if isinstance(exc, ray.exceptions.RayTaskError) and isinstance(exc.cause, SgptEvalError):
        return exc.cause
    if isinstance(exc, ray.exceptions.ActorDiedError):  # its model did not load; Ray keeps only the text
        last = str(exc).strip().splitlines()[-1].removeprefix(f"{SgptEvalError.__module__}.SgptEvalError: ")
        return SgptEvalError(f"--executor ray: a worker could not load the model: {last}")
    return exc


class RemoteBiEncoder:
    """A bi-encoder whose shards are encoded by replicas (an `embedding_cache.ShardEncoder`)."""

    def __init__(self, replicas: Replicas, settings: EncoderSettings, batch_size: int | None, load_seconds: float
                 ) -> None:
        self.replicas, self.settings, self.device, self.load_seconds = replicas, settings, replicas.device, load_seconds
        self.batch_size = batch_size  # None: the replicas batch by their token budget alone, as a local run does

    def encode_shards(self, jobs: Sequence[ShardJob], texts: Sequence[str], kind: str, batch_size: int | None = None
                      ) -> Iterator[tuple[ShardJob, np.ndarray]]:
        by_number = {job.number: job for job in jobs}
        submit = (lambda replica, job: replica.encode.remote(job.number, list(texts[job.start:job.stop]), kind,
                                                             batch_size or self.batch_size, self.settings.instruction))
        for number, array in self.replicas.run(submit, jobs):
            yield by_number[number], array

    def encode(self, texts: Sequence[str], kind: str, batch_size: int | None = None) -> np.ndarray:
        """All of `texts` (no cache), in pieces of a cache shard's size spread over the replicas."""
        jobs = [ShardJob(number, kind, start, min(start + DEFAULT_SHARD_SIZE, len(texts)))
                for number, start in enumerate(range(0, len(texts), DEFAULT_SHARD_SIZE))]
        arrays = dict(self.encode_shards(jobs, texts, kind, batch_size))
        return np.concatenate([arrays[job] for job in jobs])


class RemoteCrossEncoder:
    """A cross-encoder (BEIR's `predict` interface) whose pairs are scored by replicas, document by document."""

    def __init__(self, replicas: Replicas, settings: CrossEncoderSettings, score_cache: ScoreCache,
                 batch_size: int | None, load_seconds: float) -> None:
        from ..models.cross_encoder import DEFAULT_BATCH_SIZE

        self.replicas, self.settings, self.score_cache = replicas, settings, score_cache
        self.device, self.load_seconds = replicas.device, load_seconds
        self.batch_size = batch_size or DEFAULT_BATCH_SIZE
        self.pairs_from_cache = 0

    def predict(self, sentences: Sequence[Sequence[str]], batch_size: int | None = None,
                show_progress_bar: bool = True, **kwargs) -> list[float]:
        """Scores of [query, document] pairs, in order; pairs in the score cache are not sent."""
        texts = [(str(query), str(doc)) for query, doc in sentences]
        keys = [ScoreCache.key(query, doc) for query, doc in texts]
        scores = [self.score_cache.scores.get(key) for key in keys]
        todo = [i for i, score in enumerate(scores) if score is None]
        self.pairs_from_cache = len(texts) - len(todo)
        size = min(TASK_PAIRS, math.ceil(len(todo) / len(self.replicas.actors)))  # every replica gets work
        tasks = by_document([texts[i][1] for i in todo], max(1, size))
        submit = (lambda replica, numbered: replica.predict.remote(
            numbered[0], [texts[todo[j]] for j in numbered[1]], batch_size or self.batch_size))
        with progress_bar(total=len(texts), initial=self.pairs_from_cache, desc="re-rank", unit="pair",
                          hide=not show_progress_bar) as bar:
            for number, values in self.replicas.run(submit, enumerate(tasks)):
                done = [todo[j] for j in tasks[number]]
                for i, value in zip(done, values):
                    scores[i] = value
                self.score_cache.add((keys[i], value) for i, value in zip(done, values))
                bar.update(len(done))
        return scores


def by_document(docs: Sequence[str], most: int) -> list[list[int]]:
    """Positions of `docs` in tasks of about `most` at most: every position of one document in the
    same task (a document with more pairs than `most` is a task of its own), in order of appearance."""
    groups: dict[str, list[int]] = {}
    for position, doc in enumerate(docs):
        groups.setdefault(doc, []).append(position)
    tasks: list[list[int]] = []
    for group in groups.values():
        if tasks and len(tasks[-1]) + len(group) <= most:
            tasks[-1] += group
        else:
            tasks.append(list(group))
    return tasks
