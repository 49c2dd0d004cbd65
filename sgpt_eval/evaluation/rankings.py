"""Rankings a run reads from disk, resolved before it runs: a re-ranker's first stage, and
fusion's inputs, each given as a ranking file or as a report. A report stands for the ranking
beside it, and must be a ranking of the dataset and split being evaluated."""

from __future__ import annotations

from pathlib import Path

from ..errors import SgptEvalError
from ..reports.schema import ranking_beside, read_json, read_report
from ..retrieval.fusion import REMEDY
from ..retrieval.ranking import FIRST_STAGE_REMEDY, RankingFile


def first_stage_file(given: str, dataset: str, split: str) -> RankingFile:
    """`--first-stage FILE`: a report, or a TREC run or SGPT JSON ranking, to re-rank."""
    path = Path(given)
    if not path.is_file():
        raise SgptEvalError(f"--first-stage {given}: no such ranking file; give bm25, a report (.json) "
                            "or a ranking file (TREC or SGPT JSON)")
    return ranking_of(path, dataset, split, FIRST_STAGE_REMEDY)


def fusion_input(given: str, dataset: str, split: str) -> RankingFile:
    """A report or a ranking file (TREC or SGPT JSON) to fuse."""
    path = Path(given)
    if not path.is_file():
        raise SgptEvalError(f"{path}: no such file; give reports (.json) or ranking files (TREC or SGPT JSON) to fuse")
    return ranking_of(path, dataset, split, REMEDY)


def ranking_of(path: Path, dataset: str, split: str, remedy: str) -> RankingFile:
    """A ranking file as it is, or the ranking beside a report (a JSON file with an identity); a
    report of another benchmark, dataset or split is refused with `remedy`."""
    if path.suffix.lower() != ".json" or "identity" not in read_json(path):
        return RankingFile.of(path)
    report = read_report(path)
    identity = report.identity
    if identity.benchmark != "beir":
        raise SgptEvalError(f"{path}: a {identity.benchmark} report, which has no BEIR ranking; {remedy}")
    if (identity.dataset, identity.split) != (dataset, split):
        raise SgptEvalError(f"{path}: a ranking of {identity.dataset} ({identity.split} split), "
                            f"not of {dataset} ({split} split); {remedy}")
    return RankingFile.of(ranking_beside(path, report), {"digest": identity.digest(), "method": identity.method,
                                                         "model": identity.system, "dataset": dataset, "split": split})
