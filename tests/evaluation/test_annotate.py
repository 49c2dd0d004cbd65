"""Reports written before judged@10 gain it from their ranking file and the qrels: only the new
fields are added, NDCG@10 and the digest stay, a second run changes nothing, and qrels other than
those the run was scored on are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sgpt_eval.cli import main
from sgpt_eval.evaluation import metrics
from sgpt_eval.evaluation.annotate import annotate_all
from sgpt_eval.reports.schema import JUDGED, OPTIMISTIC_NDCG, Identity, new_report, read_report, write_report
from sgpt_eval.storage import sha256_file

from ..beir_fixtures import write_beir

RANKING = {"q1": {"d1": 3.0, "d3": 2.0}, "q2": {"q2": 5.0, "d1": 2.0, "d2": 1.0}, "q3": {"d3": 1.0}}
QRELS = {"q1": {"d1": 1}, "q2": {"d2": 1}, "q3": {"d3": 1}}


def _old_report(tmp_path: Path) -> tuple[Path, Path]:
    """A report as runs wrote them before judged@10 (no judgement fields), its ranking beside it."""
    data_dir = tmp_path / "data"
    write_beir(data_dir / "mini")
    hashes = {"qrels": sha256_file(data_dir / "mini" / "qrels" / "test.tsv")}
    identity = Identity("beir", "mini", "test", hashes, "bm25", None, {"top_k": 10})
    scores = metrics.evaluate(QRELS, RANKING)
    report = new_report(identity, "NDCG@10", scores, {"NDCG@10": metrics.per_query_ndcg(QRELS, RANKING)}, {}, {})
    return write_report(report, tmp_path / "results", RANKING), data_dir


def test_annotate_adds_only_the_judgement_fields_and_is_idempotent(tmp_path):
    path, data_dir = _old_report(tmp_path)
    before = json.loads(path.read_text())

    [outcome] = annotate_all(tmp_path / "results", data_dir)
    assert outcome.status == "added"
    after = json.loads(path.read_text())
    assert after["per_query"][JUDGED] == {"q1": 0.1, "q2": 0.1, "q3": 0.1}  # q2's self-hit is not counted
    assert after["per_query"][OPTIMISTIC_NDCG] == metrics.optimistic_ndcg(QRELS, RANKING)
    assert after["metrics"][JUDGED] == 0.1
    for name in (JUDGED, OPTIMISTIC_NDCG):
        del after["per_query"][name], after["metrics"][name]
    assert after == before  # NDCG@10, every metric, the identity and its digest as they were
    assert read_report(path).identity.digest() == before["digest"]

    text = path.read_text()
    assert [outcome.status for outcome in annotate_all(tmp_path / "results", data_dir)] == ["present"]
    assert path.read_text() == text


def test_qrels_other_than_the_runs_are_refused_and_the_command_says_so(tmp_path, capsys):
    path, data_dir = _old_report(tmp_path)
    qrels = data_dir / "mini" / "qrels" / "test.tsv"
    qrels.write_text(qrels.read_text() + "q1\td2\t1\n")
    before = path.read_text()

    assert main(["annotate", "--results-dir", str(tmp_path / "results"), "--data-dir", str(data_dir)]) == 2
    out, err = capsys.readouterr()
    assert f"not annotated: {path}" in out and "not the qrels file the run was scored on" in out
    assert "1 report(s) could not be annotated" in err
    assert path.read_text() == before


def test_new_runs_store_what_annotate_would_add(tmp_path):
    """The pipeline and annotate share `metrics.judgement`: a fresh report needs no annotating."""
    means, per_query = metrics.judgement(QRELS, RANKING)
    assert set(means) == set(per_query) == {JUDGED, OPTIMISTIC_NDCG}
    assert per_query[OPTIMISTIC_NDCG]["q1"] == pytest.approx(1.0)  # d3 unjudged: counted relevant, ideal recomputed
