"""Rankings a run reads from disk, resolved before it runs: a re-ranker's first stage given as a
file, and fusion's inputs given as reports or ranking files. A report stands for the ranking
beside it, and must be a ranking of the dataset and split being evaluated."""

from __future__ import annotations

from pathlib import Path

from ..errors import SgptEvalError
from ..reports.schema import read_json, read_report
from ..retrieval.fusion import REMEDY
from ..retrieval.ranking import RankingFile


def first_stage_file(given: str) -> RankingFile:
    """`--first-stage FILE`: a TREC run or SGPT JSON ranking to re-rank."""
    path = Path(given)
    if not path.is_file():
        raise SgptEvalError(f"--first-stage {given}: no such ranking file; give bm25 or a TREC / SGPT JSON file")
    return RankingFile.of(path)


def fusion_input(given: str, dataset: str, split: str) -> RankingFile:
    """A report (a JSON file with an identity: its ranking beside it) or a ranking file (TREC or
    SGPT JSON) to fuse; a report of another dataset or split is refused."""
    path = Path(given)
    if not path.is_file():
        raise SgptEvalError(f"{path}: no such file; give reports (.json) or ranking files (TREC or SGPT JSON) to fuse")
    if path.suffix.lower() != ".json" or "identity" not in read_json(path):
        return RankingFile.of(path)
    report = read_report(path)
    identity = report.identity
    if identity.benchmark != "beir":
        raise SgptEvalError(f"{path}: a {identity.benchmark} report; only BEIR rankings can be fused")
    if (identity.dataset, identity.split) != (dataset, split):
        raise SgptEvalError(f"{path}: a ranking of {identity.dataset} ({identity.split} split), "
                            f"not of {dataset} ({split} split); {REMEDY}")
    ranking = path.parent / (report.ranking_file or "")
    if not report.ranking_file or not ranking.is_file():
        raise SgptEvalError(f"{path}: its ranking file {report.ranking_file or ''} is not beside it; "
                            "run that evaluation again to write it")
    return RankingFile.of(ranking, {"digest": identity.digest(), "method": identity.method,
                                    "model": identity.system, "dataset": dataset, "split": split})
