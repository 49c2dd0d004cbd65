"""Fusion of finished rankings into a new one (e.g. a BM25 + dense hybrid), scored like any run.

Inputs are ranking files (a report's TREC ranking, or any TREC or SGPT JSON file), all of one
dataset and split; reports given as inputs are resolved into their rankings before the run.
Two methods: reciprocal rank fusion (Cormack, Clarke and Buettcher, 2009: score = sum over
inputs of 1 / (k + rank), k = 60) and a weighted sum of scores normalised per query (min-max, or
z-score). Conventions, so that a fused score can be computed by hand:
- the query's own id is dropped from every input before anything else (BEIR's convention);
- an input's ranks follow its scores, ties broken by document id (the order of its TREC file);
- a document an input does not rank gets 0 from it: no RRF term, 0 on the normalised scale;
- min-max maps a query's scores onto [0, 1], all of them to 1 when they are equal; z-score is
  (score - mean) / standard deviation (population), all 0 when they are equal;
- the fused ranking keeps the `depth` best documents, ties broken by document id.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

from ..data.beir import BeirDataset
from ..errors import SgptEvalError
from ..timing import timed
from .ranking import Ranking, RankingFile

log = logging.getLogger(__name__)

FUSIONS = ("rrf", "weighted")
NORMALIZATIONS = ("minmax", "zscore")
DEFAULT_RRF_K = 60  # Cormack et al. 2009
DEFAULT_NORMALIZATION = "minmax"
REMEDY = "fuse rankings of the dataset and split being evaluated (--dataset, --split)"


def parse_weights(value: str | Sequence[float] | None, count: int | None) -> tuple[float, ...] | None:
    """`--weights 0.3,0.7` (or a TOML list): one finite weight >= 0 per input, not all 0."""
    if value is None:
        return None
    text = value if isinstance(value, str) else ",".join(str(weight) for weight in value)
    try:
        weights = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise SgptEvalError(f"--weights {text}: expected numbers separated by commas, e.g. 0.3,0.7") from None
    if not all(math.isfinite(weight) and weight >= 0 for weight in weights) or not any(weights):
        raise SgptEvalError(f"--weights {text}: each weight must be a finite number >= 0, and one at least above 0")
    if count is not None and len(weights) != count:
        raise SgptEvalError(f"--weights {text}: {len(weights)} weights for {count} inputs; give one per input")
    return weights


def ranks(hits: dict[str, float]) -> dict[str, int]:
    """1 for the best document; equal scores ranked by document id."""
    ordered = sorted(hits.items(), key=lambda item: (-item[1], item[0]))
    return {doc_id: rank for rank, (doc_id, _) in enumerate(ordered, start=1)}


def normalize(hits: dict[str, float], how: str) -> dict[str, float]:
    """One query's scores of one input on a common scale (see the module's conventions)."""
    if not hits:
        return {}
    values = list(hits.values())
    if how == "minmax":
        low, high = min(values), max(values)
        return {doc_id: (score - low) / (high - low) if high > low else 1.0 for doc_id, score in hits.items()}
    mean = sum(values) / len(values)
    deviation = math.sqrt(sum((score - mean) ** 2 for score in values) / len(values))
    return {doc_id: (score - mean) / deviation if deviation > 0 else 0.0 for doc_id, score in hits.items()}


def rrf(rankings: Sequence[Ranking], k: int, depth: int) -> Ranking:
    """Reciprocal rank fusion: sum over inputs of 1 / (k + rank)."""
    return _fuse(rankings, lambda _, hits: {doc_id: 1.0 / (k + rank) for doc_id, rank in ranks(hits).items()}, depth)


def weighted(rankings: Sequence[Ranking], weights: Sequence[float], normalization: str, depth: int) -> Ranking:
    """Sum over inputs of weight x the score normalised per query."""
    return _fuse(rankings, lambda i, hits: {doc_id: weights[i] * score
                                            for doc_id, score in normalize(hits, normalization).items()}, depth)


def _fuse(rankings: Sequence[Ranking], contribution, depth: int) -> Ranking:
    """Add up `contribution(input index, one query's hits without its self-hit)` over inputs."""
    fused: Ranking = {}
    for i, ranking in enumerate(rankings):
        for query_id, hits in ranking.items():
            totals = fused.setdefault(query_id, {})
            own = {doc_id: score for doc_id, score in hits.items() if doc_id != query_id}
            for doc_id, score in contribution(i, own).items():
                totals[doc_id] = totals.get(doc_id, 0.0) + score
    return {query_id: dict(sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:depth])
            for query_id, totals in fused.items()}


class FusionRetriever:
    """The fusion of finished rankings of the dataset being evaluated; no model, no cache."""

    method = "fusion"

    def __init__(self, inputs: Sequence[RankingFile], fusion: str = "rrf", rrf_k: int | None = None,
                 weights: Sequence[float] | None = None, normalization: str | None = None, top_k: int = 1000) -> None:
        if len(inputs) < 2:
            raise SgptEvalError(f"fusion: {len(inputs)} input(s); give two or more reports or ranking files")
        self.inputs = list(inputs)
        self.fusion, self.top_k = fusion, top_k
        self.rrf_k = rrf_k if rrf_k is not None else DEFAULT_RRF_K
        self.weights = tuple(weights) if weights is not None else (1.0 / len(inputs),) * len(inputs)
        self.normalization = normalization or DEFAULT_NORMALIZATION

    def model_settings(self) -> None:
        return None

    def settings(self) -> dict:
        how = ({"rrf_k": self.rrf_k} if self.fusion == "rrf"
               else {"weights": list(self.weights), "normalization": self.normalization})
        return {"fusion": self.fusion, **how, "top_k": self.top_k, "inputs": [given.settings() for given in self.inputs]}

    def retrieve(self, dataset: BeirDataset, timings: dict[str, float]) -> tuple[Ranking, dict]:
        rankings = [given.retrieve(dataset, timings, REMEDY)[0] for given in self.inputs]
        for given, ranking in zip(self.inputs, rankings):
            absent = sum(1 for query_id in dataset.queries if not ranking.get(query_id))
            if absent:
                log.warning("%s: %d of the %d judged queries are not in this fusion input; it adds nothing to "
                            "their fused ranking", given.path, absent, len(dataset.queries))
        with timed(timings, "fuse"):
            fused = (rrf(rankings, self.rrf_k, self.top_k) if self.fusion == "rrf"
                     else weighted(rankings, self.weights, self.normalization, self.top_k))
        return fused, {"inputs": [str(given.path) for given in self.inputs]}
