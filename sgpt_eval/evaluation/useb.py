"""A USEB run, end to end: find (or download) each dataset, embed, score, write one report per dataset.

A dataset that cannot be had or read is reported with its reason and the others still run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data import useb as useb_data
from ..data.download import download_useb
from ..errors import SgptEvalError
from ..models.bi_encoder import SGPTBiEncoder
from ..reports.schema import Identity, new_report, write_report
from ..timing import timed
from .useb_metrics import MAIN_METRIC, evaluate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UsebOutcome:
    """One dataset's result: its metrics and report, or the one-line reason it was not evaluated."""

    dataset: str
    metrics: dict[str, float] = field(default_factory=dict)
    report: Path | None = None
    problem: str | None = None
    absent: bool = False  # the problem is that the data is not there (rather than malformed)


class _TimedEmbed:
    """The bi-encoder as an embedding function, timing encoding apart from scoring.

    USEB is symmetric search: every text is encoded as a query (without specb brackets this
    is the same as encoding it as a document).
    """

    def __init__(self, encoder: SGPTBiEncoder) -> None:
        self.encoder = encoder
        self.seconds = 0.0

    def __call__(self, texts: list[str]) -> np.ndarray:
        clock = time.perf_counter()
        vectors = self.encoder.encode(texts, "query")
        self.seconds += time.perf_counter() - clock
        return vectors


def run_useb(
    names: Sequence[str],
    data_dir: Path,
    output_dir: Path,
    load_encoder: Callable[[], SGPTBiEncoder],
    split: str = "test",
) -> list[UsebOutcome]:
    """Evaluate the encoder on each named dataset; it is loaded only if some data is there."""
    outcomes = _fetch_absent(names, data_dir)
    present = [name for name in names if name not in outcomes]
    encoder = load_encoder() if present else None
    for name in present:
        try:
            outcomes[name] = _evaluate_one(name, data_dir, output_dir, encoder, split)
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


def _evaluate_one(name: str, data_dir: Path, output_dir: Path, encoder: SGPTBiEncoder, split: str) -> UsebOutcome:
    timings = {"load_model": encoder.load_seconds}
    with timed(timings, "load_data"):
        data = useb_data.load(name, data_dir, split)
        hashes = data.file_hashes()

    embed = _TimedEmbed(encoder)
    with timed(timings, "score"):
        metrics = evaluate(data, embed)
    timings["encode"] = embed.seconds
    timings["score"] -= embed.seconds

    main = MAIN_METRIC[name]
    identity = Identity("useb", data.name, data.split, hashes, "dense", encoder.settings.as_dict(), {"encoded_as": "query"})
    log.info("%s %s (%s): %s = %.4f", name, identity.model_name, data.split, main, metrics[main])
    details = {"device": encoder.device, "batch_size": encoder.batch_size}
    path = write_report(new_report(identity, main, metrics, {}, details, timings, data_dir), output_dir)
    return UsebOutcome(name, metrics=metrics, report=path)
