"""`sgpt-eval fuse`: its options (inputs and fusion settings, no model and no cache), and that a
fusion is always measured again."""

from __future__ import annotations

from pathlib import Path

import pytest

from sgpt_eval.cli import fuse as cli_fuse
from sgpt_eval.cli import main

from ..beir_fixtures import write_beir
from ..command_line import parse


def test_fuse_takes_rankings_and_the_fusion_settings_only(capsys):
    args = parse(cli_fuse, "fuse", "a.json", "b.trec", "--dataset", "toy", "--method", "weighted",
                 "--weights", "0.3,0.7", "--normalization", "zscore")
    assert (args.inputs, args.dataset, args.fusion, args.weights, args.normalization) == (
        ["a.json", "b.trec"], "toy", "weighted", "0.3,0.7", "zscore")
    assert args.cache_dir is None and args.rrf_k is None and args.handler is not None

    for argv in (["a.json", "--dataset", "toy", "--cache-dir", "cache"],  # nothing of a fusion is cached
                 ["a.json", "--dataset", "toy", "--model", "m"],  # no model runs
                 ["a.json"]):  # the dataset is required
        with pytest.raises(SystemExit) as exited:
            parse(cli_fuse, "fuse", *argv)
        assert exited.value.code == 2
    assert "unrecognized arguments: --cache-dir cache" in capsys.readouterr().err


def test_a_fusion_is_measured_again_each_time(tmp_path, capsys):
    write_beir(tmp_path / "data" / "toy")
    common = ["--dataset", "toy", "--data-dir", str(tmp_path / "data"), "--cache-dir", str(tmp_path / "cache")]
    for extra in ([], ["--k1", "1.2", "--b", "0.5"]):
        assert main(["bm25", *common, "--output-dir", str(tmp_path / "runs"), *extra]) == 0
    inputs = sorted(str(path) for path in (tmp_path / "runs").rglob("*.json"))
    capsys.readouterr()

    args = parse(cli_fuse, "fuse", *inputs, "--dataset", "toy", "--data-dir", str(tmp_path / "data"),
                 "--output-dir", str(tmp_path / "out"))
    args.handler(args, args.cache_dir)
    args.handler(args, args.cache_dir)

    first, again = capsys.readouterr().out.splitlines()
    assert first == again and first.startswith("toy\trrf\tNDCG@10=") and not again.endswith("(already measured)")
    assert Path(first.split("\t")[-1]).parent == tmp_path / "out" / "beir" / "toy" / "fusion"
    assert not (tmp_path / "out" / "cache").exists()
