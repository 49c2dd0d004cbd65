"""Rankings given as files are resolved before a run: a first stage, or fusion's reports and files."""

from __future__ import annotations

import pytest

from sgpt_eval.errors import SgptEvalError
from sgpt_eval.evaluation.rankings import first_stage_file, fusion_input
from sgpt_eval.reports.schema import Report, write_report
from sgpt_eval.retrieval.ranking import write_trec
from sgpt_eval.storage import sha256_contents, sha256_file

from ..synthetic_reports import identity


def test_a_first_stage_file_is_identified_by_its_contents_compressed_or_not(tmp_path):
    path = tmp_path / "run.trec"
    write_trec(path, {"q1": {"d1": 1.0}}, tag="x")
    stage = first_stage_file(str(path), "scifact", "test")
    assert stage.settings() == {"sha256": sha256_file(path)} and stage.method == "ranking_file"
    write_trec(tmp_path / "run.trec.gz", {"q1": {"d1": 1.0}}, tag="x")
    assert first_stage_file(str(tmp_path / "run.trec.gz"), "scifact", "test").settings() == stage.settings()
    write_trec(tmp_path / "other.trec.gz", {"q1": {"d1": 2.0}}, tag="x")
    assert first_stage_file(str(tmp_path / "other.trec.gz"), "scifact", "test").settings() != stage.settings()
    with pytest.raises(SgptEvalError) as raised:
        first_stage_file(str(tmp_path / "gone.trec"), "scifact", "test")
    assert str(raised.value) == (f"--first-stage {tmp_path / 'gone.trec'}: no such ranking file; give bm25, a report "
                                 "(.json) or a ranking file (TREC or SGPT JSON)")


def test_a_report_stands_for_the_ranking_beside_it_and_must_be_of_the_dataset(tmp_path):
    report = write_report(Report(identity("scifact", "bm25", "bm25s"), "NDCG@10", {"NDCG@10": 0.6}, {}, {}, {}),
                          tmp_path / "results", {"q1": {"d1": 1.0}})
    ranking = report.with_suffix(".trec.gz")
    given = fusion_input(str(report), "scifact", "test")
    assert given.path == ranking and given.report["dataset"] == "scifact"
    assert given.settings() == {"sha256": sha256_contents(ranking), "report": given.report["digest"],
                                "system": "bm25:bm25s"}
    with pytest.raises(SgptEvalError, match=r"a ranking of scifact \(test split\), not of nfcorpus \(test split\)"):
        fusion_input(str(report), "nfcorpus", "test")
    assert fusion_input(str(ranking), "nfcorpus", "test").report is None  # a bare file: nothing to check it by


def test_a_first_stage_given_as_a_report_is_its_ranking_and_must_be_of_the_dataset(tmp_path):
    report = write_report(Report(identity("scifact", "bm25", "bm25s"), "NDCG@10", {"NDCG@10": 0.6}, {}, {}, {}),
                          tmp_path / "results", {"q1": {"d1": 1.0}})
    stage = first_stage_file(str(report), "scifact", "test")
    assert stage.path == report.with_suffix(".trec.gz") and stage.settings()["system"] == "bm25:bm25s"
    assert stage.settings() == fusion_input(str(report), "scifact", "test").settings()  # one reading for both
    with pytest.raises(SgptEvalError) as raised:
        first_stage_file(str(report), "scifact", "dev")
    assert str(raised.value) == (f"{report}: a ranking of scifact (test split), not of scifact (dev split); "
                                 "give --first-stage a ranking of this dataset and split")
    report.with_suffix(".trec.gz").unlink()
    with pytest.raises(SgptEvalError, match=r"its ranking file .*\.trec\.gz is not beside it; run that evaluation again"):
        first_stage_file(str(report), "scifact", "test")
