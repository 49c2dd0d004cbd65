"""Judged@10 and the optimistic NDCG@10 bound added to BEIR reports written before runs stored them,
from each report's ranking file and its dataset's qrels, without measuring anything again.

Only those fields are added, into `per_query` and `metrics`; the rest of the file (NDCG@10, every
other metric, the identity and its digest) is written back as it was read. A report that has
them already is left alone, so running it twice changes nothing. The qrels must be the ones the
run was scored on (their hash is in the identity).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ..data import beir
from ..errors import SgptEvalError
from ..reports.schema import JUDGEMENT_METRICS, find_reports, read_json
from ..retrieval.ranking import read_ranking
from ..storage import sha256_file, write_json
from . import metrics
from .pipeline import MAIN_METRIC

log = logging.getLogger(__name__)

TIE = 1e-6  # per-query NDCG@10 is stored with 6 decimals


@dataclass(frozen=True)
class Annotated:
    path: Path
    status: str  # "added", "present" (it had them already) or "not annotated"
    problem: str = ""  # why not

    def line(self) -> str:
        return f"{self.status}: {self.path}" + (f" ({self.problem})" if self.problem else "")


def annotate_all(results_dir: Path, data_dir: Path) -> list[Annotated]:
    """Annotate every BEIR report under `results_dir`; one that cannot be (no ranking file, qrels
    not on disk or changed) is reported with its reason and the rest go on."""
    outcomes = []
    for path, report in find_reports(results_dir, "beir"):
        if all(name in report.per_query for name in JUDGEMENT_METRICS):
            outcomes.append(Annotated(path, "present"))
            continue
        try:
            annotate(path, data_dir)
        except SgptEvalError as exc:
            outcomes.append(Annotated(path, "not annotated", str(exc)))
            continue
        outcomes.append(Annotated(path, "added"))
    return outcomes


def annotate(path: Path, data_dir: Path) -> None:
    """Add the judgement fields to the report at `path` (atomically), computed over the queries its
    NDCG@10 was."""
    payload = read_json(path)
    identity = payload["identity"]
    ndcg = payload["per_query"].get(MAIN_METRIC)
    if not ndcg:
        raise SgptEvalError(f"{path}: no per-query {MAIN_METRIC}, so no queries to annotate; run the evaluation again")
    if not payload.get("ranking_file"):
        raise SgptEvalError(f"{path}: no ranking file beside it; run the evaluation again to write one")
    files = beir.locate(identity["dataset"], data_dir, identity["split"])
    if sha256_file(files.qrels) != identity["data_files_sha256"]["qrels"]:
        raise SgptEvalError(f"{path}: {files.qrels} is not the qrels file the run was scored on (its hash differs); "
                            "point --data-dir at that dataset")
    judged_qrels = beir.read_qrels(files.qrels)
    qrels = {qid: judged_qrels[qid] for qid in ndcg if qid in judged_qrels}
    if len(qrels) < len(ndcg):
        raise SgptEvalError(f"{path}: {len(ndcg) - len(qrels)} of its queries are not in {files.qrels}; "
                            "point --data-dir at the dataset the run was scored on")
    ranking = read_ranking(path.parent / payload["ranking_file"])
    _warn_ties(path, ndcg, metrics.per_query_ndcg(qrels, ranking))
    means, per_query = metrics.judgement(qrels, ranking)
    payload["per_query"].update(per_query)
    payload["metrics"].update(means)
    write_json(path, payload)


def _warn_ties(path: Path, stored: dict[str, float], recomputed: dict[str, float]) -> None:
    """The ranking file holds scores to 6 decimals; where two documents at the cut of the top 10
    differ only beyond them, the file's top 10 is not the one the run scored. Say how often."""
    moved = [qid for qid, score in stored.items() if abs(recomputed[qid] - score) > TIE]
    if moved:
        log.warning("%s: for %d of %d queries (%s) the ranking file's rounded scores tie at the top-10 cut where the "
                    "run's did not; their judged@10 and bound are of the file's top 10", path, len(moved),
                    len(stored), ", ".join(moved[:5]))
