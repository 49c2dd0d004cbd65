"""CQADupStack: MAP@100 (and NDCG@10) per forum and over forums, worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch

from sgpt_eval.data import useb as data
from sgpt_eval.evaluation import useb_metrics as evaluators

from ..useb_samples import useb_evaluator, write_cqadupstack

# android: q1's pool ranks d2, q2, d3, d1, d4 with d1 and d3 duplicates: AP (1/3 + 2/4) / 2;
#   NDCG@10 = (1/log2(4) + 1/log2(5)) / (1 + 1/log2(3)).
# gis: g1's duplicate is 105th, beyond the top 100 (AP 0, NDCG 0); g2's is first (AP 1, NDCG 1).
ANDROID_MAP = (1 / 3 + 2 / 4) / 2
ANDROID_NDCG = (1 / math.log2(4) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
EXPECTED = {
    "map@100_cqadupstack_android": ANDROID_MAP,
    "ndcg@10_cqadupstack_android": ANDROID_NDCG,
    "map@100_cqadupstack_gis": 0.5,
    "ndcg@10_cqadupstack_gis": 0.5,
    "map@100_cqadupstack_avg": (ANDROID_MAP + 0.5) / 2,
    "ndcg@10_cqadupstack_avg": (ANDROID_NDCG + 0.5) / 2,
}


def test_cqadupstack_scores_by_hand(tmp_path):
    embed = write_cqadupstack(tmp_path)
    scores = evaluators.evaluate(data.load("cqadupstack", tmp_path), embed)
    assert scores.metrics == pytest.approx(EXPECTED, abs=1e-6)
    # The main metric's parts: each forum's per-query AP, whose mean is the forum's MAP@100.
    assert scores.per_query == {"map@100_cqadupstack_android": pytest.approx({"q1": ANDROID_MAP}),
                                "map@100_cqadupstack_gis": pytest.approx({"g1": 0.0, "g2": 1.0})}


def test_cqadupstack_agrees_with_the_useb_package(tmp_path):
    cqadupstack = useb_evaluator("cqadupstack")
    embed = write_cqadupstack(tmp_path)
    theirs = cqadupstack.CQADupStackEvaluator(lambda texts: torch.from_numpy(embed(texts)), str(tmp_path / "cqadupstack"),
                                              show=False)._run("test")
    assert theirs == pytest.approx(EXPECTED, abs=1e-6)
