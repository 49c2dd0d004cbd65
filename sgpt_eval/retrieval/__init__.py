"""Retrievers: each turns a dataset into a ranking (query id -> document id -> score).

`Retriever` is the one interface the evaluation pipeline knows: dense search over a
bi-encoder's vectors, BM25, and cross-encoder re-ranking over a first stage.
"""

from __future__ import annotations

from typing import Protocol

from ..data.beir import BeirDataset
from .ranking import Ranking


class Retriever(Protocol):
    method: str  # "dense", "bm25" or "rerank": the report's method

    def model_settings(self) -> dict | None:
        """The resolved settings of the model it runs (revision included), None without one."""

    def settings(self) -> dict:
        """Everything else that changes its ranking (depth, score function, first stage...)."""

    def retrieve(self, dataset: BeirDataset, timings: dict[str, float]) -> tuple[Ranking, dict]:
        """The ranking, and how it was made (devices, caches, counts) for the report."""
