"""Where encoding and re-ranking run: here, in this process ("local"), or on a pool of Ray actors
("ray", `executors.ray_pool`), one model replica per GPU or per CPU worker.

Both executors give the same numbers and the same cache files: the embedding cache asks an
executor for the shards it is missing (`embedding_cache.ShardJob`s) and writes what comes back
itself, so a cache filled by one executor is resumed or reused by the other. Ray is imported
only when the Ray executor starts, never by the command line at startup.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import SgptEvalError

if TYPE_CHECKING:
    from ..models.options import ModelOptions
    from .ray_pool import RayExecutor

EXECUTORS = ("local", "ray")


def check_executor(executor: str, ray_address: str | None) -> None:
    """Refuse an executor that cannot start here, before any work: an unknown name, Ray not
    installed, or a Ray address without the Ray executor."""
    if executor not in EXECUTORS:
        raise SgptEvalError(f"--executor {executor}: choose from {', '.join(EXECUTORS)}")
    if executor == "ray" and importlib.util.find_spec("ray") is None:
        raise SgptEvalError("--executor ray: needs the ray package; pip install 'sgpt-eval[ray]'")
    if ray_address is not None and executor != "ray":
        raise SgptEvalError(f"--ray-address {ray_address}: only used with --executor ray; add --executor ray")


def executor_for(executor: str, ray_address: str | None, options: ModelOptions, model_dir: Path,
                 score_cache_dir: Path | None) -> RayExecutor | None:
    """The Ray executor for this model (its cluster joined now, before any work), or None to run here."""
    check_executor(executor, ray_address)
    if executor == "local":
        return None
    from .ray_pool import RayExecutor

    return RayExecutor(options, model_dir, score_cache_dir, ray_address)
