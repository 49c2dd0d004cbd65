"""Drift diagnosis: rank-biased overlap and Kendall's tau on lists whose answer is worked out by
hand or known from the definitions, identity and version differences by path on synthetic
reports, and `sgpt-eval diff` as a user runs it."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from scipy import stats

from sgpt_eval.errors import SgptEvalError
from sgpt_eval.reports.drift import diff_reports, differences, rank_agreement, rbo_ext, top_k_tau
from sgpt_eval.reports.schema import Report, write_report

from ..command_line import error_line, run_command
from ..synthetic_reports import identity

P = 0.9


def test_rbo_of_a_hand_worked_pair():
    """A_1 = 0, A_2 = 1, A_3 = 2/3, A_4 = 1; RBO_EXT = X_4/4 p^4 + (1-p)/p sum_d X_d/d p^d."""
    by_hand = P ** 4 + (1 - P) / P * (0 * P + 1 * P ** 2 + 2 / 3 * P ** 3 + 1 * P ** 4)
    assert by_hand == pytest.approx(0.87299, abs=1e-5)
    assert rbo_ext(list("abcd"), list("badc"), P) == pytest.approx(by_hand, abs=1e-12)
    assert rbo_ext(list("badc"), list("abcd"), P) == pytest.approx(by_hand, abs=1e-12)  # symmetric


def test_rbo_of_lists_of_uneven_length():
    """L = abc, S = c: X_1 = X_2 = 0, X_3 = 1, so RBO_EXT = (1-p)/p (p^3/3) + ((1 - 0)/3 + 0) p^3 = p^2/3."""
    assert rbo_ext(list("abc"), ["c"], P) == pytest.approx(P ** 2 / 3, abs=1e-12)
    assert rbo_ext(["c"], list("abc"), P) == pytest.approx(P ** 2 / 3, abs=1e-12)
    # a list that is the other's prefix: its unseen ranks are extrapolated as agreeing
    assert rbo_ext(list("abcdef"), list("abc"), P) == pytest.approx(1.0, abs=1e-12)


def test_rbo_bounds_and_the_papers_weight_of_the_top_ten():
    assert rbo_ext(list("abcde"), list("abcde"), P) == pytest.approx(1.0, abs=1e-12)
    assert rbo_ext(list("abc"), list("xyz"), P) == 0.0 and rbo_ext([], list("xyz"), P) == 0.0
    # Agreement on the first 10 ranks and none below, to a depth where p^d vanishes: RBO is the
    # weight of the top 10, W(1:10) = 1 - p^9 + (1-p)/p 10 (ln(1/(1-p)) - sum_{i<10} p^i/i)
    # (Webber et al. 2010, eq. 21), 0.8556 at p = 0.9 (the paper's "86%").
    depth = 3000
    a = [f"d{i}" for i in range(depth)]
    b = a[:10] + [f"e{i}" for i in range(depth - 10)]
    weight = 1 - P ** 9 + (1 - P) / P * 10 * (math.log(1 / (1 - P)) - sum(P ** i / i for i in range(1, 10)))
    assert rbo_ext(a, b, P) == pytest.approx(weight, abs=1e-9)
    assert round(weight, 4) == 0.8556


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kendall_tau_on_fully_overlapping_lists_is_scipys(seed):
    import random

    a = [f"d{i}" for i in range(30)]
    b = random.Random(seed).sample(a, len(a))
    expected = stats.kendalltau(range(len(a)), [b.index(doc) for doc in a]).statistic
    assert top_k_tau(a, b) == pytest.approx(expected, abs=1e-12)
    assert top_k_tau(a, a) == 1.0 and top_k_tau(a, a[::-1]) == -1.0


def test_kendall_tau_places_a_missing_document_after_the_list_s_last_rank():
    # union x, y, z: A ranks (0, 1, 2), B ranks x after its last (2), y 0, z 1: two discordant
    # pairs of three, no ties
    assert top_k_tau(["x", "y"], ["y", "z"]) == pytest.approx(-1 / 3, abs=1e-12)
    # B lacks y and z, tied after its last rank: tau-b = (2 - 0) / sqrt(3 * 2)
    assert top_k_tau(["x", "y", "z"], ["x"]) == pytest.approx(2 / math.sqrt(6), abs=1e-12)
    assert top_k_tau(["x"], ["x", "y", "z"]) == pytest.approx(2 / math.sqrt(6), abs=1e-12)
    # union x, y, z, w: A ranks (0, 1, 2, 3), B (2, 2, 0, 1): 1 concordant pair, 4 discordant, 1 tied in B
    assert top_k_tau(["x", "y", "z"], ["z", "w"]) == pytest.approx(-3 / math.sqrt(6 * 5), abs=1e-12)
    assert top_k_tau(["z", "w"], ["x", "y", "z"]) == pytest.approx(-3 / math.sqrt(6 * 5), abs=1e-12)
    assert math.isnan(top_k_tau(["x"], ["x"]))  # one document: undefined


def test_rank_agreement_averages_over_the_queries_both_rank():
    a = {"q1": {"a": 3.0, "b": 2.0, "c": 1.0, "d": 0.5}, "q2": {"x": 1.0, "y": 1.0}, "q3": {"z": 1.0}}
    b = {"q1": {"b": 9.0, "a": 8.0, "d": 7.0, "c": 6.0}, "q2": {"x": 1.0, "y": 0.5}, "q4": {"z": 1.0}, "q5": {}}
    agreement = rank_agreement(a, b, depths=(2, 10))
    assert (agreement.queries, agreement.only_a, agreement.only_b) == (2, 1, 1)
    top2, top10 = agreement.depths
    # q1 at depth 2: ab vs ba (RBO_EXT = (1-p)/p p^2 + p^2 = 0.9; tau -1); q2: xy both (equal scores
    # keep the file's order): 1 and 1
    assert top2.rbo == pytest.approx((0.9 + 1.0) / 2) and top2.kendall_tau == pytest.approx(0.0)
    assert top10.rbo == pytest.approx((rbo_ext(list("abcd"), list("badc"), P) + 1.0) / 2)
    assert top10.kendall_tau == pytest.approx((top_k_tau(list("abcd"), list("badc")) + 1.0) / 2)
    assert top10.tau_queries == 2


def _report(results_dir, per_query, ranking, versions=None, hardware=None, **changes):
    """A dense report of synthetic scores, its identity changed field by field (`changes`)."""
    made = identity("scifact", "dense", "model", pooling="mean")
    made = dataclasses.replace(made, **{key: value for key, value in changes.items() if key != "model"})
    if "model" in changes:
        made = dataclasses.replace(made, model={**made.model, **changes["model"]})
    mean = sum(per_query.values()) / len(per_query)
    report = Report(made, "NDCG@10", {"NDCG@10": mean}, {"NDCG@10": per_query}, {"device": "cpu"}, {},
                    versions=versions or {"python": "3.11.0", "torch": "2.13.0"}, hardware=hardware or {"cpus": 2})
    return write_report(report, results_dir, ranking)


RANKING = {"q1": {"a": 3.0, "b": 2.0, "c": 1.0}, "q2": {"x": 2.0, "y": 1.0}, "q3": {"x": 1.0}}


def test_diff_lists_each_differing_identity_field_version_and_query(tmp_path):
    path_a = _report(tmp_path / "a", {"q1": 0.5, "q2": 1.0, "q3": 0.0}, RANKING)
    path_b = _report(tmp_path / "b", {"q1": 0.75, "q2": 1.0, "q4": 0.2}, {**RANKING, "q1": {"b": 3.0, "a": 2.0}},
                     versions={"python": "3.12.1", "torch": "2.14.0", "transformers": "5.0.0"},
                     hardware={"cpus": 8, "gpus": ["H100"]}, split="dev",
                     data_files_sha256={"corpus": "c2", "queries": "q"}, model={"revision": "r2", "pooling": "cls"},
                     settings={"top_k": 100, "max_queries": None})
    drift = diff_reports(path_a, path_b, movers=5)
    assert [change.path for change in drift.identity] == [
        "split", "data_files_sha256.corpus", "model.revision", "model.pooling", "settings.top_k"]
    assert [(change.a, change.b) for change in drift.identity] == [
        ("test", "dev"), ("c", "c2"), ("r1", "r2"), ("mean", "cls"), (1000, 100)]
    assert [change.text() for change in drift.numeric_versions] == [
        "versions.torch: 2.13.0 -> 2.14.0", "versions.transformers: (absent) -> 5.0.0"]
    assert [change.text() for change in drift.other] == [
        "versions.python: 3.11.0 -> 3.12.1", "hardware.cpus: 2 -> 8", 'hardware.gpus: (absent) -> ["H100"]']
    changes = drift.per_query
    assert (changes.queries, changes.only_a, changes.only_b, changes.up, changes.down, changes.same) == (2, 1, 1, 1, 0, 1)
    assert [(c.query, c.a, c.b) for c in changes.largest] == [("q1", 0.5, 0.75)]
    assert (changes.mean_a, changes.mean_b) == (0.75, 0.875)
    agreement = drift.rank_agreement
    assert (agreement.queries, agreement.only_a, agreement.only_b) == (3, 0, 0)
    top10 = agreement.depths[0]
    q1_rbo = rbo_ext(list("abc"), list("ba"), P)
    assert top10.depth == 10 and top10.rbo == pytest.approx((q1_rbo + 2) / 3)
    assert top10.kendall_tau == pytest.approx((top_k_tau(list("abc"), list("ba")) + 1) / 2)
    assert top10.tau_queries == 2  # q3 ranks one document in both: tau is undefined there

    text = drift.summary()
    assert "identity: 5 differences\n  split: test -> dev\n  data_files_sha256.corpus: c -> c2\n" in text
    assert "libraries that move numbers: 2 differences\n  versions.torch: 2.13.0 -> 2.14.0\n" in text
    assert ("per-query NDCG@10, B - A, over the 2 queries both score: 1 up, 0 down, 1 the same; "
            "mean 0.7500 -> 0.8750 (+0.1250)") in text
    assert "  queries scored by one only: 1 by A, 1 by B\n" in text and "    q1: 0.5000 -> 0.7500 (+0.2500)" in text
    assert f"  top 10: Kendall's tau-b {top10.kendall_tau:.4f} (on 2 queries), RBO_EXT (p = 0.9) {top10.rbo:.4f}" in text


def test_the_same_run_twice_differs_in_nothing(tmp_path):
    path = _report(tmp_path, {"q1": 0.5, "q2": 1.0}, RANKING)
    drift = diff_reports(path, path)
    assert drift.identity == drift.numeric_versions == drift.other == ()
    assert drift.numeric_same == {"torch": "2.13.0"}
    assert (drift.per_query.up, drift.per_query.down, drift.per_query.same, drift.per_query.largest) == (0, 0, 2, ())
    assert all(level.rbo == pytest.approx(1.0) and level.kendall_tau == 1.0 for level in drift.rank_agreement.depths)
    assert "identity: the same\nlibraries that move numbers: the same\n  the same in both: torch 2.13.0\n" in drift.summary()


def test_reports_of_different_datasets_are_refused(tmp_path):
    path_a = _report(tmp_path / "a", {"q1": 0.5}, RANKING)
    path_b = _report(tmp_path / "b", {"q1": 0.5}, RANKING, dataset="nfcorpus")
    with pytest.raises(SgptEvalError) as raised:
        diff_reports(path_a, path_b)
    assert str(raised.value) == (f"diff: {path_a} is of dataset scifact, {path_b} of nfcorpus; "
                                 "diff two runs of the same dataset")


def test_diff_on_the_command_line(tmp_path, capsys):
    path_a = _report(tmp_path / "a", {"q1": 0.5, "q2": 1.0}, RANKING)
    path_b = _report(tmp_path / "b", {"q1": 0.25, "q2": 1.0}, RANKING, model={"revision": "r2"})
    code, out, _ = run_command(capsys, "diff", str(path_a), str(path_b))
    assert code == 0 and out == diff_reports(path_a, path_b).summary() + "\n"
    assert "  model.revision: r1 -> r2\n" in out
    code, out, _ = run_command(capsys, "diff", str(path_a), str(path_b), "--json", "--movers", "0")
    payload = json.loads(out)
    assert code == 0 and payload == diff_reports(path_a, path_b, movers=0).as_dict()
    assert payload["identity"] == [{"path": "model.revision", "a": "r1", "b": "r2", "absent": None}]
    assert payload["per_query"]["down"] == 1 and payload["per_query"]["largest"] == []
    assert [level["depth"] for level in payload["rank_agreement"]["depths"]] == [10, 100]
    path_a.with_suffix(".trec.gz").unlink()
    code, _, err = run_command(capsys, "diff", str(path_a), str(path_b))
    assert code == 2 and error_line(err) == (f"sgpt-eval: error: {path_a}: its ranking file "
                                             f"{path_a.with_suffix('.trec.gz').name} is not beside it; "
                                             "run that evaluation again to write it")


def test_differences_recurse_into_mappings_only_against_a_mapping_or_nothing():
    found = differences({"settings": {"first_stage": "bm25", "k": [1, 2]}, "model": None},
                        {"settings": {"first_stage": {"kind": "bm25"}, "k": [1, 2]}, "model": {"revision": "r"}})
    assert [change.text() for change in found] == ['settings.first_stage: bm25 -> {"kind": "bm25"}',
                                                   "model.revision: (absent) -> r"]
