"""The metrics, on a run whose scores are worked out by hand: BEIR's names and rounding, a
document sharing the query's id never counts, and the run given is left as it was."""

from __future__ import annotations

import copy
import math

import pytest

from sgpt_eval.evaluation import metrics

QRELS = {"q1": {"d1": 1}, "q2": {"d2": 1, "d4": 0}}
# q1: its relevant document first. q2: a self-hit (ignored), then a non-relevant, then the relevant one.
RUN = {"q1": {"d1": 2.0, "d3": 1.0}, "q2": {"q2": 9.0, "d3": 2.0, "d2": 1.0}}
SECOND = 1 / math.log2(3)  # the gain of a relevant document at rank 2


def test_ndcg_map_recall_precision_and_mrr_as_beir_computes_them():
    run = copy.deepcopy(RUN)
    scores = metrics.evaluate(QRELS, run)

    assert scores["NDCG@1"] == 0.5 and scores["NDCG@10"] == round((1 + SECOND) / 2, 5)
    assert scores["MAP@10"] == 0.75 and scores["MRR@10"] == 0.75  # 1 and 1/2
    assert (scores["Recall@1"], scores["Recall@3"]) == (0.5, 1.0)
    assert (scores["P@1"], scores["P@3"]) == (0.5, round((1 / 3 + 1 / 3) / 2, 5))
    assert set(scores) == {f"{name}@{k}" for name in ("NDCG", "MAP", "Recall", "P") for k in metrics.K_VALUES} | {
        "MRR@10"}
    assert run == RUN  # BEIR drops self-hits in place; not from the caller's run


def test_other_cutoffs_on_request():
    assert set(metrics.evaluate(QRELS, RUN, k_values=(2,))) == {"NDCG@2", "MAP@2", "Recall@2", "P@2", "MRR@10"}


def test_per_query_ndcg_for_paired_comparisons():
    per_query = metrics.per_query_ndcg(QRELS, RUN)
    assert per_query == {"q1": 1.0, "q2": pytest.approx(SECOND, abs=1e-6)}
    assert per_query["q2"] == round(per_query["q2"], 6)
    assert metrics.per_query_ndcg(QRELS, RUN, k=1) == {"q1": 1.0, "q2": 0.0}


def test_a_judged_query_missing_from_the_run_scores_zero_in_every_metric():
    lacking = {"q1": RUN["q1"]}  # q2 is judged but not ranked: pytrec_eval alone would average over q1 only
    scores = metrics.evaluate(QRELS, lacking)
    assert scores["NDCG@10"] == 0.5 and scores["MAP@10"] == 0.5 and scores["MRR@10"] == 0.5
    assert scores["Recall@1"] == 0.5 and scores["P@1"] == 0.5
    assert metrics.per_query_ndcg(QRELS, lacking) == {"q1": 1.0, "q2": 0.0}
    assert metrics.evaluate(QRELS, {**lacking, "q2": {}}) == scores  # an empty entry is the same as none
    assert metrics.unranked(QRELS, lacking) == 1 and metrics.unranked(QRELS, RUN) == 0
    assert lacking == {"q1": RUN["q1"]}  # the caller's run is left as it was


# q3: graded, with a judged non-relevant document first and an unjudged one between it and the relevant one.
GRADED = {"q3": {"d5": 2, "d6": 0}}
GRADED_RUN = {"q3": {"d6": 3.0, "d7": 2.0, "d5": 1.0}}


def test_judged_at_10_is_the_judged_share_of_the_ten_slots_without_self_hits():
    assert metrics.judged_at_k(QRELS, RUN) == {"q1": 0.1, "q2": 0.1}  # d3 is unjudged; q2's self-hit does not count
    assert metrics.judged_at_k(GRADED, GRADED_RUN) == {"q3": 0.2}  # a judgement of 0 is a judgement
    assert metrics.judged_at_k(GRADED, GRADED_RUN, k=1) == {"q3": 1.0}
    assert metrics.judged_at_k({**QRELS, "q9": {"d1": 1}}, RUN)["q9"] == 0.0  # nothing ranked


def test_the_optimistic_bound_counts_unjudged_documents_relevant_and_recomputes_the_ideal():
    # By hand: gains 0, 1 (d7 counted relevant), 2 -> DCG 1/log2(3) + 2/2; ideal 2, 1, 0 -> 2 + 1/log2(3).
    assert metrics.optimistic_ndcg(GRADED, GRADED_RUN)["q3"] == pytest.approx((SECOND + 1) / (2 + SECOND), abs=1e-6)
    assert metrics.per_query_ndcg(GRADED, GRADED_RUN)["q3"] == 0.5  # the judged NDCG@10 it bounds
    # Fully judged top 10: the bound is NDCG@10 itself.
    judged = {"q3": {"d5": 2, "d6": 0, "d7": 0}}
    assert metrics.optimistic_ndcg(judged, GRADED_RUN) == metrics.per_query_ndcg(judged, GRADED_RUN)
    assert metrics.optimistic_ndcg({**QRELS, "q9": {"d1": 1}}, RUN)["q9"] == 0.0


def test_the_top_10_is_the_one_pytrec_eval_scores_ties_broken_by_document_id_descending():
    qrels = {"q": {"a": 1}}
    ranking = {"q": {"a": 1.0, **{f"b{i}": 1.0 for i in range(10)}}}  # 11 tied; "a" sorts last, so it is cut
    assert metrics.top_ranked(qrels, ranking, 10)["q"] == [f"b{i}" for i in range(9, -1, -1)]
    assert metrics.per_query_ndcg(qrels, ranking)["q"] == 0.0 and metrics.judged_at_k(qrels, ranking)["q"] == 0.0


def test_judgement_gives_run_means_over_every_judged_query_and_the_per_query_scores():
    means, per_query = metrics.judgement({**QRELS, **GRADED}, {**RUN, **GRADED_RUN})
    assert means == {"Judged@10": round(0.4 / 3, 5), "OptimisticNDCG@10": round((2 + (SECOND + 1) / (2 + SECOND)) / 3, 5)}
    assert per_query["Judged@10"] == {"q1": 0.1, "q2": 0.1, "q3": 0.2}
