"""The Ray executor: a pool of model replicas (Ray actors), one per GPU where the model was
resolved to run on a GPU (this machine has one, or --device cuda), else one per CPU worker.

Each replica loads its model once from the run's resolved model (the settings and model folder
this process resolved; the model object itself is never sent), so its vectors and scores are
those of the settings the report records: every node needs the model's files at the same path.
Replicas return vectors and
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

Replicas are spread over the nodes, and one that dies (killed, out of memory, its node lost) is
started again by Ray where the cluster has room, its unfinished tasks run again (`RESTARTS`).
"""

from __future__ import annotations

import dataclasses
import math
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
import ray
from ray.util import ActorPool

from ..errors import SgptEvalError
from . import DEFAULT_SHARD_SIZE, ShardJob, load

if TYPE_CHECKING:
    from ..models.resolution import ResolvedModel

TASK_PAIRS = 512  # re-ranking pairs per task at most; the driver caches scores after each task
# A replica that dies (killed, out of memory, its node lost) is started again by Ray, where the
# cluster has room, and the tasks it held run again on it: a task only computes (the driver writes
# every file), so running one twice changes nothing. Beyond this many deaths of one replica the
# run stops with the error; it then resumes from what the driver wrote.
RESTARTS = 3
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
    """One model on one Ray worker: a bi-encoder or a cross-encoder, loaded from its resolution."""

    def __init__(self, model: ResolvedModel) -> None:
        import torch

        if not ray.get_gpu_ids():  # the CPUs Ray gave this worker, not every core of its machine
            torch.set_num_threads(max(1, int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1))))
        if not model.source.path.is_dir():
            raise SgptEvalError(f"model {model.source.name}: {model.source.path} is not on this worker; "
                                "give every node the model's files at the same path")
        self.model = load(model)

    def device(self) -> str:
        return self.model.device

    def encode(self, number: int, texts: list[str], kind: str, instruction: str | None) -> tuple[int, np.ndarray]:
        encoder = self.model.with_instruction(instruction)
        return number, encoder.encode(texts, kind, show_progress_bar=False)

    def score(self, number: int, pairs: list[tuple[str, str]], batch_size: int | None) -> tuple[int, list[float]]:
        return number, self.model.predict(pairs, batch_size, show_progress_bar=False)


class RayExecutor:
    """Replicas of one model at a time on the Ray cluster it joined."""

    def __init__(self, address: str | None) -> None:
        connect(address)

    def bi_encoder(self, model: ResolvedModel, shards: int) -> RemoteBiEncoder:
        """Replicas of the bi-encoder `model`, at most `shards` of them."""
        replicas, seconds = self._replicas(model, shards)
        return RemoteBiEncoder(replicas, model, seconds)

    def cross_encoder(self, model: ResolvedModel, pairs: int) -> RemoteCrossEncoder:
        """Replicas of the cross-encoder `model`, at most `pairs` of them."""
        replicas, seconds = self._replicas(model, pairs)
        return RemoteCrossEncoder(replicas, model, seconds)

    def _replicas(self, model: ResolvedModel, most: int) -> tuple[Replicas, float]:
        """The replicas (those of the last run, if it ran this model), and the seconds their start took."""
        started = time.perf_counter()
        key = (ray.get_runtime_context().get_job_id(), model.weights_key())
        if key not in _kept:
            _kept.clear()  # one model's replicas at a time; they stop once nothing holds them
            _kept[key] = Replicas(model.weights_key())
        replicas = _kept[key]
        replicas.start(most)
        return replicas, time.perf_counter() - started


class Replicas:
    """The replicas of one model: one per GPU of the cluster where the model runs on a GPU (its
    resolved device), else one per CPU; tasks go to whichever is free."""

    def __init__(self, model: ResolvedModel) -> None:
        self.on_gpu = model.device.startswith("cuda")
        # On a GPU worker Ray makes its one GPU the only one visible: "cuda" whatever the driver's index.
        self.model = dataclasses.replace(model, device="cuda") if self.on_gpu else model
        self.capacity = int(ray.cluster_resources().get("GPU" if self.on_gpu else "CPU", 0))
        if self.capacity < 1:
            raise SgptEvalError(f"--executor ray: model {model.source.name} runs on {model.device}, and the Ray "
                                "cluster has no such device; pass --device cpu, or join a cluster with GPUs")
        self.actors: list = []
        self.device = ""

    def start(self, most: int) -> None:
        """Start replicas until there are `most` (as many as the cluster holds at most), models loaded."""
        wanted = max(1, min(most, self.capacity))
        if len(self.actors) >= wanted:
            return
        actor = ray.remote(_Replica).options(num_cpus=1, num_gpus=1 if self.on_gpu else 0, scheduling_strategy="SPREAD",
                                             max_restarts=RESTARTS, max_task_retries=RESTARTS)
        started = [actor.remote(self.model) for _ in range(wanted - len(self.actors))]
        devices = _get([replica.device.remote() for replica in started])
        self.actors += started
        self.device = f"ray: {len(self.actors)} x {devices[0]}"

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
    """A bi-encoder whose shards are encoded by replicas (a `ShardEncoder`)."""

    def __init__(self, replicas: Replicas, model: ResolvedModel, load_seconds: float) -> None:
        self.replicas, self.settings, self.device = replicas, model.settings, replicas.device
        self.batch_size, self.load_seconds = model.batch_size, load_seconds

    def encode_shards(self, jobs: Sequence[ShardJob], texts: Sequence[str], kind: str
                      ) -> Iterator[tuple[ShardJob, np.ndarray]]:
        by_number = {job.number: job for job in jobs}
        submit = (lambda replica, job: replica.encode.remote(job.number, list(texts[job.start:job.stop]), kind,
                                                             self.settings.instruction))
        for number, array in self.replicas.run(submit, jobs):
            yield by_number[number], array

    def encode(self, texts: Sequence[str], kind: str) -> np.ndarray:
        """All of `texts` (no cache), in pieces of a cache shard's size spread over the replicas."""
        jobs = [ShardJob(number, kind, start, min(start + DEFAULT_SHARD_SIZE, len(texts)))
                for number, start in enumerate(range(0, len(texts), DEFAULT_SHARD_SIZE))]
        arrays = dict(self.encode_shards(jobs, texts, kind))
        return np.concatenate([arrays[job] for job in jobs])


class RemoteCrossEncoder:
    """A cross-encoder (a `PairScorer`) whose pairs are scored by replicas, document by document."""

    def __init__(self, replicas: Replicas, model: ResolvedModel, load_seconds: float) -> None:
        from ..models.cross_encoder import DEFAULT_BATCH_SIZE

        self.replicas, self.settings = replicas, model.settings
        self.device, self.load_seconds = replicas.device, load_seconds
        self.batch_size = model.batch_size or DEFAULT_BATCH_SIZE

    def scores(self, texts: Sequence[tuple[str, str]], batch_size: int | None = None
               ) -> Iterator[tuple[list[int], list[float]]]:
        """(indices into `texts`, their scores), task by task: all pairs of a document in one task."""
        if not texts:
            return
        size = min(TASK_PAIRS, math.ceil(len(texts) / len(self.replicas.actors)))  # every replica gets work
        tasks = by_document([doc for _, doc in texts], max(1, size))
        submit = (lambda replica, numbered: replica.score.remote(
            numbered[0], [texts[i] for i in numbered[1]], batch_size or self.batch_size))
        for number, values in self.replicas.run(submit, enumerate(tasks)):
            yield tasks[number], values


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
