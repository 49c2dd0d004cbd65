"""`sgpt-eval fuse`: RRF and weighted fusion against sums done by hand, and fused runs scored,
reported and refused like any other evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sgpt_eval.cli import main
from sgpt_eval.errors import SgptEvalError
from sgpt_eval.evaluation import metrics
from sgpt_eval.evaluation.pipeline import Models, stages_for
from sgpt_eval.evaluation.specs import RunOptions, RunSpec, read_config
from sgpt_eval.reports.schema import JUDGEMENT_METRICS, Identity, read_report
from sgpt_eval.reports.systems import base_label
from sgpt_eval.retrieval.fusion import rrf, weighted
from sgpt_eval.retrieval.ranking import read_trec
from sgpt_eval.storage import sha256_file

from ..beir_fixtures import QRELS, write_beir

REPO = Path(__file__).resolve().parents[2]


def test_rrf_sums_reciprocal_ranks_and_skips_missing_documents():
    a = {"q1": {"d1": 3.0, "d2": 2.0, "d3": 1.0}}
    b = {"q1": {"d3": 0.9, "d1": 0.5}}  # d2 missing: no term from b
    assert rrf([a, b], k=60, depth=10) == {"q1": {"d1": 1 / 61 + 1 / 62, "d3": 1 / 63 + 1 / 61, "d2": 1 / 62}}
    assert list(rrf([a, b], k=60, depth=2)["q1"]) == ["d1", "d3"]


def test_ties_rank_by_document_id_in_inputs_and_in_the_fused_ranking():
    tied = {"q1": {"b": 1.0, "a": 1.0, "c": 0.5}}
    assert rrf([tied], k=0, depth=10) == {"q1": {"a": 1.0, "b": 1 / 2, "c": 1 / 3}}
    both = {"q1": {"y": 2.0, "x": 1.0}}, {"q1": {"x": 2.0, "y": 1.0}}
    assert rrf(list(both), k=60, depth=1) == {"q1": {"x": 1 / 61 + 1 / 62}}


def test_weighted_minmax_and_zscore_by_hand():
    a = {"q1": {"d1": 4.0, "d2": 2.0, "d3": 0.0}}  # min-max: 1, 0.5, 0
    b = {"q1": {"d2": 10.0, "d4": 6.0}}  # min-max: 1, 0; d1 and d3 missing: 0
    assert weighted([a, b], [0.25, 0.75], "minmax", 10) == {
        "q1": {"d2": 0.25 * 0.5 + 0.75 * 1.0, "d1": 0.25 * 1.0, "d3": 0.0, "d4": 0.0}}
    a = {"q1": {"d1": 3.0, "d2": 1.0}}  # z-score: mean 2, deviation 1: 1, -1
    b = {"q1": {"d2": 10.0, "d4": 6.0}}  # mean 8, deviation 2: 1, -1
    assert weighted([a, b], [0.5, 0.5], "zscore", 10) == {"q1": {"d1": 0.5, "d2": 0.0, "d4": -0.5}}


def test_equal_scores_normalise_to_one_minmax_and_zero_zscore():
    flat = {"q1": {"d1": 7.0, "d2": 7.0}}
    assert weighted([flat], [1.0], "minmax", 10) == {"q1": {"d1": 1.0, "d2": 1.0}}
    assert weighted([flat], [1.0], "zscore", 10) == {"q1": {"d1": 0.0, "d2": 0.0}}


def test_the_query_itself_is_never_returned_nor_ranked():
    a = {"q1": {"q1": 9.0, "d1": 1.0, "d2": 0.5}}
    assert rrf([a], k=60, depth=10) == {"q1": {"d1": 1 / 61, "d2": 1 / 62}}
    assert weighted([a], [1.0], "minmax", 10) == {"q1": {"d1": 1.0, "d2": 0.0}}


def _bm25(tmp_path: Path, *extra: str, dataset: str = "toy") -> Path:
    """A BM25 run's report on a toy dataset (seconds, no model)."""
    assert main(["bm25", "--dataset", dataset, "--data-dir", str(tmp_path / "data"), "--output-dir",
                 str(tmp_path / "runs"), "--cache-dir", str(tmp_path / "cache"), *extra]) == 0
    found = sorted((tmp_path / "runs" / "beir" / dataset / "bm25").glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
    return found[-1]


def _fuse(tmp_path: Path, *argv: str) -> int:
    return main(["fuse", "--dataset", "toy", "--data-dir", str(tmp_path / "data"), "--output-dir",
                 str(tmp_path / "out"), *argv])


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    write_beir(tmp_path / "data" / "toy")
    return tmp_path


def test_fuse_two_bm25_configurations_end_to_end(toy, capsys):
    first, second = _bm25(toy), _bm25(toy, "--k1", "1.2", "--b", "0.5")
    capsys.readouterr()
    assert _fuse(toy, str(first), str(second)) == 0
    line = capsys.readouterr().out.strip().split("\t")
    path = Path(line[-1])
    assert line[:2] == ["toy", "rrf"] and path.is_file() and path.parent == toy / "out" / "beir" / "toy" / "fusion"
    report = read_report(path)
    identity = report.identity
    assert identity.method == "fusion" and identity.model is None
    inputs = identity.settings["inputs"]
    assert [given["report"] for given in inputs] == [read_report(first).identity.digest(),
                                                     read_report(second).identity.digest()]
    assert [given["system"] for given in inputs] == ["bm25:bm25s", "bm25:bm25s"]
    assert {key: identity.settings[key] for key in ("fusion", "rrf_k", "top_k")} == {"fusion": "rrf", "rrf_k": 60,
                                                                                     "top_k": 1000}
    assert base_label(identity) == "RRF(BM25, BM25)"
    ranking = read_trec(path.parent / report.ranking_file)
    by_hand = rrf([read_trec(first.with_suffix(".trec.gz")), read_trec(second.with_suffix(".trec.gz"))], 60, 1000)
    assert ranking.keys() == by_hand.keys()
    assert all(ranking[q] == pytest.approx(by_hand[q], abs=1e-6) for q in by_hand)
    assert "q2" not in ranking["q2"]
    qrels: dict[str, dict[str, int]] = {}
    for qid, did, score in QRELS:
        qrels.setdefault(qid, {})[did] = score
    measured = metrics.evaluate(qrels, ranking)
    assert set(report.metrics) == set(measured) | set(JUDGEMENT_METRICS)
    assert {name: report.metrics[name] for name in measured} == pytest.approx(measured)


def test_weighted_fusion_of_a_report_and_a_ranking_file(toy, capsys):
    report = _bm25(toy)
    sgpt_json = toy / "first.json"
    sgpt_json.write_text(json.dumps({"q1": {"d1": 2.0, "d3": 1.0}, "q3": {"d3": 5.0}}))
    assert _fuse(toy, str(report), str(sgpt_json), "--method", "weighted", "--weights", "0.3,0.7",
                 "--normalization", "zscore") == 0
    identity = read_report(Path(capsys.readouterr().out.strip().split("\t")[-1])).identity
    assert identity.settings["weights"] == [0.3, 0.7] and identity.settings["normalization"] == "zscore"
    assert "rrf_k" not in identity.settings and identity.settings["inputs"][1] == {"sha256": sha256_file(sgpt_json)}
    assert base_label(identity).startswith("Weighted(BM25, ranking ")


def _error(capsys) -> str:
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_reports_of_another_split_or_dataset_are_refused(toy, capsys):
    write_beir(toy / "data" / "toy", split="dev")
    write_beir(toy / "data" / "other")
    test_run, dev_run, other_run = _bm25(toy), _bm25(toy, "--split", "dev"), _bm25(toy, dataset="other")
    capsys.readouterr()
    assert _fuse(toy, str(test_run), str(dev_run)) == 2
    assert _error(capsys) == (f"sgpt-eval: error: {dev_run}: a ranking of toy (dev split), not of toy (test split); "
                              "fuse rankings of the dataset and split being evaluated (--dataset, --split)")
    assert _fuse(toy, str(test_run), str(other_run)) == 2
    assert _error(capsys).startswith(f"sgpt-eval: error: {other_run}: a ranking of other (test split), not of toy")
    assert not (toy / "out").exists()


@pytest.mark.parametrize(("extra", "message"), [
    (("--weights", "1"), "--weights 1: not a setting of --method rrf; leave it out"),
    (("--method", "weighted", "--weights", "1"), "--weights 1: 1 weights for 2 inputs; give one per input"),
    (("--method", "weighted", "--weights", "0,0"),
     "--weights 0,0: each weight must be a finite number >= 0, and one at least above 0"),
    (("--method", "weighted", "--rrf-k", "10"), "--rrf-k 10: not a setting of --method weighted; leave it out"),
    (("--rrf-k", "0"), "--rrf-k 0: must be at least 1"),
])
def test_bad_fusion_options_are_one_line(toy, capsys, extra, message):
    report = _bm25(toy)
    capsys.readouterr()
    assert _fuse(toy, str(report), str(report), *extra) == 2
    assert _error(capsys) == f"sgpt-eval: error: {message}"
    assert not (toy / "out").exists()


def test_missing_inputs_are_refused(toy, capsys):
    report = _bm25(toy)
    capsys.readouterr()
    assert _fuse(toy, str(report)) == 2
    assert _error(capsys) == "sgpt-eval: error: fusion: 1 input(s); give two or more reports or ranking files"
    assert _fuse(toy, str(report), str(toy / "nope.trec")) == 2
    assert _error(capsys) == (f"sgpt-eval: error: {toy / 'nope.trec'}: no such file; give reports (.json) "
                              "or ranking files (TREC or SGPT JSON) to fuse")
    elsewhere = toy / "elsewhere.trec"
    elsewhere.write_text("x1 Q0 y1 1 1.0 run\n")
    assert _fuse(toy, str(report), str(elsewhere)) == 2
    assert _error(capsys) == (f"sgpt-eval: error: {elsewhere}: nothing in it matches the dataset (no entry pairs one "
                              "of the 3 judged queries evaluated with a corpus document); fuse rankings of the "
                              "dataset and split being evaluated (--dataset, --split)")
    report.with_suffix(".trec.gz").unlink()
    assert _fuse(toy, str(report), str(report)) == 2
    assert _error(capsys) == (f"sgpt-eval: error: {report}: its ranking file {report.stem}.trec.gz is not beside it; "
                              "run that evaluation again to write it")
    assert not (toy / "out").exists()


def test_a_config_can_fuse(tmp_path):
    config = tmp_path / "runs.toml"
    config.write_text('datasets = ["toy"]\n[[runs]]\nmethod = "fusion"\ninputs = ["a.json", "b.trec"]\n'
                      'fusion = "weighted"\nweights = [1, 3]\n')
    (spec,) = read_config(config)
    assert spec.method == "fusion" and spec.run.inputs == ("a.json", "b.trec")
    assert spec.run.fusion_weights() == (1.0, 3.0)
    config.write_text('datasets = ["toy"]\n[[runs]]\nmethod = "fusion"\ninputs = ["a", "b"]\nrrf_k = 10\nfusion = "weighted"\n')
    with pytest.raises(SgptEvalError, match=r"runs #1: --rrf-k 10: not a setting of --method weighted"):
        read_config(config)
    config.write_text('datasets = ["toy"]\n[[runs]]\nmethod = "bm25"\nrrf_k = 10\n')
    with pytest.raises(SgptEvalError, match=r"runs #1: rrf_k not options of bm25"):
        read_config(config)


def test_existing_bm25_identity_is_unchanged(tmp_path):
    """The fusion fields of RunOptions never reach another method's identity: the pinned BM25
    report's digest is reproduced from today's settings."""
    path = REPO / "results" / "beir" / "scifact" / "bm25" / "bm25s.a2de6f4fc342.json"
    stored = read_report(path).identity
    spec = RunSpec.create("scifact", "bm25", {}, "test")
    assert spec.run == RunOptions()
    stages = stages_for(spec, Models(tmp_path), files=None)
    identity = Identity(**{**stored.as_dict(), "settings": {**stages.settings(), "max_queries": None}})
    assert identity.digest() == stored.digest() == "a2de6f4fc342"
