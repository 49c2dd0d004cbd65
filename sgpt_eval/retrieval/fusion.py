"""Fusion of finished rankings into a new one (e.g. a BM25 + dense hybrid), scored like any run.

Inputs are reports (their TREC ranking beside them) or ranking files, all of one dataset and
split. Two methods: reciprocal rank fusion (Cormack, Clarke and Buettcher, 2009: score = sum over
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

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..data.beir import BeirDataset
from ..errors import SgptEvalError
from ..reports.schema import read_json, read_report
from ..storage import sha256_file
from ..timing import timed
from .ranking import Ranking, read_ranking, restrict_to

FUSIONS = ("rrf", "weighted")
NORMALIZATIONS = ("minmax", "zscore")
DEFAULT_RRF_K = 60  # Cormack et al. 2009
DEFAULT_NORMALIZATION = "minmax"
_REMEDY = "fuse rankings of the dataset and split being evaluated (--dataset, --split)"


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


@dataclass(frozen=True)
class FusionInput:
    """One input: the path given, the ranking file it stands for, and what identifies it."""

    path: Path
    ranking: Path
    sha256: str
    report: dict | None  # the report's digest, system, dataset and split; None for a ranking file

    @classmethod
    def open(cls, path: str | Path) -> FusionInput:
        """A report (a JSON file with an identity) or a ranking file (TREC or SGPT JSON)."""
        path = Path(path)
        if not path.is_file():
            raise SgptEvalError(f"{path}: no such file; give reports (.json) or ranking files (TREC or SGPT JSON) to fuse")
        if path.suffix.lower() != ".json" or "identity" not in read_json(path):
            return cls(path, path, sha256_file(path), None)
        report = read_report(path)
        identity = report.identity
        if identity.benchmark != "beir":
            raise SgptEvalError(f"{path}: a {identity.benchmark} report; only BEIR rankings can be fused")
        ranking = path.parent / (report.ranking_file or "")
        if not report.ranking_file or not ranking.is_file():
            raise SgptEvalError(f"{path}: its ranking file {report.ranking_file or ''} is not beside it; "
                                "run that evaluation again to write it")
        summary = {"digest": identity.digest(), "method": identity.method, "model": identity.model_name,
                   "dataset": identity.dataset, "split": identity.split}
        return cls(path, ranking, sha256_file(ranking), summary)

    def settings(self) -> dict:
        """What identifies it in the fused run's identity: its ranking's hash, and its report's."""
        if self.report is None:
            return {"sha256": self.sha256}
        return {"sha256": self.sha256, "report": self.report["digest"],
                "system": f"{self.report['method']}:{self.report['model']}"}


class FusionRetriever:
    """The fusion of finished rankings of the dataset being evaluated; no model, no cache."""

    method = "fusion"

    def __init__(self, inputs: Sequence[str | Path], dataset: str, split: str, fusion: str = "rrf",
                 rrf_k: int | None = None, weights: Sequence[float] | None = None,
                 normalization: str | None = None, top_k: int = 1000) -> None:
        """Opens every input now (small reads and hashes), refusing any of another dataset or split."""
        if len(inputs) < 2:
            raise SgptEvalError(f"fusion: {len(inputs)} input(s); give two or more reports or ranking files")
        self.inputs = [FusionInput.open(path) for path in inputs]
        for given in self.inputs:
            found = given.report
            if found and (found["dataset"], found["split"]) != (dataset, split):
                raise SgptEvalError(f"{given.path}: a ranking of {found['dataset']} ({found['split']} split), "
                                    f"not of {dataset} ({split} split); {_REMEDY}")
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
        with timed(timings, "read_inputs"):
            rankings = [restrict_to(read_ranking(given.ranking), dataset.queries, dataset.corpus.docs, given.ranking,
                                    _REMEDY) for given in self.inputs]
        with timed(timings, "fuse"):
            fused = (rrf(rankings, self.rrf_k, self.top_k) if self.fusion == "rrf"
                     else weighted(rankings, self.weights, self.normalization, self.top_k))
        return fused, {"inputs": [str(given.path) for given in self.inputs]}
