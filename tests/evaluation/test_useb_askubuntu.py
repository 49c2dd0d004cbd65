"""AskUbuntu: MAP, P@1, P@5 and MRR over each question's BM25 candidates, worked out by hand."""

from __future__ import annotations

import pytest
import torch

from sgpt_eval.data import useb as data
from sgpt_eval.evaluation import useb_metrics as evaluators

from ..useb_samples import useb_evaluator, write_askubuntu

# Question 1 ranks 4, 2, 3, 6, 5 with 3 and 5 similar: AP (1/3 + 2/5) / 2, P@1 0, P@5 2/5, RR 1/3.
# Question 8 ranks 10, 9, 11, 12, 13 (9 and 10 tie; BM25 puts 10 first) with 9 similar: AP 1/2, P@5 1/5, RR 1/2.
EXPECTED = {
    "map_askubuntu_title": ((1 / 3 + 2 / 5) / 2 + 1 / 2) / 2,
    "p@1_askubuntu_title": 0.0,
    "p@5_askubuntu_title": (2 / 5 + 1 / 5) / 2,
    "mrr_askubuntu_title": (1 / 3 + 1 / 2) / 2,
}


def test_askubuntu_scores_by_hand(tmp_path):
    embed = write_askubuntu(tmp_path)
    scores = evaluators.evaluate(data.load("askubuntu", tmp_path), embed)
    assert scores.metrics == pytest.approx(EXPECTED, abs=1e-9)
    # Each question's AP, whose mean is the main metric (its interval resamples them).
    assert scores.per_query == {"map_askubuntu_title": pytest.approx({"1": (1 / 3 + 2 / 5) / 2, "8": 1 / 2})}
    assert not scores.pairs
    assert len(embed.texts) == len(set(embed.texts)), "each distinct title is embedded once"


def test_askubuntu_valid_split(tmp_path):
    embed = write_askubuntu(tmp_path)
    # dev.txt: question 8 with similar 11 among 9 (.9), 11 (.3), 12 (.1): 11 is second.
    scores = evaluators.evaluate(data.load("askubuntu", tmp_path, "valid"), embed)
    assert scores.metrics["map_askubuntu_title"] == pytest.approx(1 / 2)


def test_askubuntu_agrees_with_the_useb_package(tmp_path):
    askubuntu = useb_evaluator("askubuntu")
    embed = write_askubuntu(tmp_path)
    theirs = askubuntu.AskubuntuEvaluator(lambda texts: torch.from_numpy(embed(texts)), str(tmp_path / "askubuntu"),
                                          show=False)._run("test")
    assert theirs == pytest.approx(EXPECTED, abs=1e-9)
