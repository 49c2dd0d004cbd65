"""Where encoding and re-ranking run: here, in this process ("local", `executors.local`), or on a
pool of Ray actors ("ray", `executors.ray_pool`), one model replica per GPU or per CPU worker.

Both are an `Executor`: given a resolved model, each hands back a `ShardEncoder` (a bi-encoder
that encodes cache shards) or a `PairScorer` (a cross-encoder that scores pairs), and the stages
above write what comes back into their caches themselves. Both executors therefore give the same
numbers and the same cache files, and a cache filled by one is resumed or reused by the other.
Ray is imported only when the Ray executor starts, never by the command line at startup.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..errors import SgptEvalError

if TYPE_CHECKING:
    import numpy as np

    from ..models.bi_encoder import SGPTBiEncoder
    from ..models.cross_encoder import SGPTCrossEncoder
    from ..models.resolution import ResolvedModel
    from ..models.score_cache import PairScorer
    from ..models.settings import EncoderSettings

EXECUTORS = ("local", "ray")
DEFAULT_SHARD_SIZE = 2048  # texts per embedding cache shard: the unit of work an executor is given


@dataclass(frozen=True)
class ShardJob:
    """Shard `number` of an embedding cache entry: the `kind` texts [start, stop), stored as `dtype`
    in `path` (None: kept in memory)."""

    number: int
    kind: str
    start: int
    stop: int
    dtype: str = "float32"
    path: Path | None = None

    @property
    def rows(self) -> int:
        return self.stop - self.start


class ShardEncoder(Protocol):
    """A bi-encoder that encodes shards, here or elsewhere; the cache writes what it hands back."""

    settings: EncoderSettings
    device: str
    batch_size: int | None
    load_seconds: float

    def encode_shards(self, jobs: Sequence[ShardJob], texts: Sequence[str], kind: str
                      ) -> Iterator[tuple[ShardJob, np.ndarray]]:
        """Each job with its vectors, in the order they finish."""


class Executor(Protocol):
    def bi_encoder(self, model: ResolvedModel, shards: int) -> ShardEncoder:
        """The bi-encoder `model` (its weights loaded here, or replicas started: at most `shards`)."""

    def cross_encoder(self, model: ResolvedModel, pairs: int) -> PairScorer:
        """The cross-encoder `model` (its weights loaded here, or replicas started: at most `pairs`)."""


def load(model: ResolvedModel) -> SGPTBiEncoder | SGPTCrossEncoder:
    """The encoder of a resolved model, its weights loaded: in this process, or on a Ray worker."""
    from ..models.bi_encoder import SGPTBiEncoder
    from ..models.cross_encoder import SGPTCrossEncoder

    return SGPTBiEncoder(model) if model.kind == "bi" else SGPTCrossEncoder(model)


def check_executor(executor: str, ray_address: str | None) -> None:
    """Refuse an executor that cannot start here, before any work: an unknown name, Ray not
    installed, or a Ray address without the Ray executor."""
    if executor not in EXECUTORS:
        raise SgptEvalError(f"--executor {executor}: choose from {', '.join(EXECUTORS)}")
    if executor == "ray" and importlib.util.find_spec("ray") is None:
        raise SgptEvalError("--executor ray: needs the ray package; pip install 'sgpt-eval[ray]'")
    if ray_address is not None and executor != "ray":
        raise SgptEvalError(f"--ray-address {ray_address}: only used with --executor ray; add --executor ray")


def executor_for(executor: str, ray_address: str | None, local: Executor) -> Executor:
    """`local` (this process's executor, which keeps its loaded model between runs), or the Ray
    executor with its cluster joined now, before any work."""
    check_executor(executor, ray_address)
    if executor == "local":
        return local
    from .ray_pool import RayExecutor

    return RayExecutor(ray_address)
