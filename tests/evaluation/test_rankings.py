"""Rankings given as files are resolved before a run: a first stage, or fusion's reports and files."""

from __future__ import annotations

import pytest

from sgpt_eval.errors import SgptEvalError
from sgpt_eval.evaluation.rankings import first_stage_file, fusion_input
from sgpt_eval.reports.schema import Report, write_report
from sgpt_eval.retrieval.ranking import write_trec
from sgpt_eval.storage import sha256_file

from ..synthetic_reports import identity


def test_a_first_stage_file_is_identified_by_its_bytes(tmp_path):
    path = tmp_path / "run.trec"
    write_trec(path, {"q1": {"d1": 1.0}}, tag="x")
    stage = first_stage_file(str(path))
    assert stage.settings() == {"sha256": sha256_file(path)} and stage.method == "ranking_file"
    with pytest.raises(SgptEvalError, match=r"^--first-stage .*gone\.trec: no such ranking file; give bm25 or a TREC"):
        first_stage_file(str(tmp_path / "gone.trec"))


def test_a_report_stands_for_the_ranking_beside_it_and_must_be_of_the_dataset(tmp_path):
    report = write_report(Report(identity("scifact", "bm25", "bm25s"), "NDCG@10", {"NDCG@10": 0.6}, {}, {}, {}),
                          tmp_path / "results", {"q1": {"d1": 1.0}})
    ranking = report.with_suffix(".trec")
    given = fusion_input(str(report), "scifact", "test")
    assert given.path == ranking and given.report["dataset"] == "scifact"
    assert given.settings() == {"sha256": sha256_file(ranking), "report": given.report["digest"], "system": "bm25:bm25s"}
    with pytest.raises(SgptEvalError, match=r"a ranking of scifact \(test split\), not of nfcorpus \(test split\)"):
        fusion_input(str(report), "nfcorpus", "test")
    assert fusion_input(str(ranking), "nfcorpus", "test").report is None  # a bare file: nothing to check it by
