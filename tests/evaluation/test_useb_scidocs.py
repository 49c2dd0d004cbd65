"""SciDocs: MAP over cite, co-cite, co-read and co-view (pytrec_eval conventions), worked out by hand."""

from __future__ import annotations

import pytest
import torch

from sgpt_eval.data import useb as data
from sgpt_eval.evaluation import useb_metrics as evaluators

from ..useb_samples import useb_evaluator, write_scidocs

# p1 is the only titled query (p2 has an empty title). Cosines: c2 .95, c1 .9, c4 .7, c3 .5.
# cite: run c2 (0), c1 (1), c3 (1); c5 has no title so it is not ranked, yet it is one of the
#   3 relevant papers: AP (1/2 + 2/3) / 3.
# cocite: c1 (0), c4 (1): 1/2.  coread: c2 (1), c3 (0): 1.  coview: c1 (0), c4 (1), c3 (1): (1/2 + 2/3) / 2.
EXPECTED_MAP = {
    "cite": (1 / 2 + 2 / 3) / 3,
    "cocite": 1 / 2,
    "coread": 1.0,
    "coview": (1 / 2 + 2 / 3) / 2,
}


def test_scidocs_map_by_hand(tmp_path):
    embed = write_scidocs(tmp_path)
    result = evaluators.evaluate(data.load("scidocs", tmp_path), embed)
    scores = result.metrics
    # The main metric's parts: each task's per-query cosine MAP (one titled query here).
    assert result.per_query == {f"map_scidocs_{task}_cosine": pytest.approx({"p1": expected})
                                for task, expected in EXPECTED_MAP.items()}
    for task, expected in EXPECTED_MAP.items():
        assert scores[f"map_scidocs_{task}_cosine"] == pytest.approx(expected, abs=1e-6)
        # unit vectors: Euclidean distance ranks as cosine does
        assert scores[f"map_scidocs_{task}_euclidean"] == pytest.approx(expected, abs=1e-6)
    assert scores["map_scidocs_cosine_avg"] == pytest.approx(sum(EXPECTED_MAP.values()) / 4, abs=1e-6)
    assert "" not in embed.texts


def test_scidocs_valid_split(tmp_path):
    embed = write_scidocs(tmp_path)
    scores = evaluators.evaluate(data.load("scidocs", tmp_path, "valid"), embed).metrics
    assert scores["map_scidocs_cosine_avg"] == pytest.approx(1 / 2, abs=1e-6)  # c2 (0) before c4 (1) in every task


def test_scidocs_agrees_with_the_useb_package(tmp_path):
    scidocs = useb_evaluator("scidocs")
    embed = write_scidocs(tmp_path)
    ours = evaluators.evaluate(data.load("scidocs", tmp_path), embed).metrics
    theirs = scidocs.SciDocsEvaluator(lambda texts: torch.from_numpy(embed(texts)), str(tmp_path / "scidocs"),
                                      show=False)._run("test")
    assert theirs == pytest.approx(ours, abs=1e-9)
