"""The paper's grid: its config, the presets it names, and --skip-unavailable."""

from __future__ import annotations

import logging
import tomllib
from collections import Counter
from pathlib import Path

from sgpt_eval.cli import main
from sgpt_eval.data.beir import CQADUPSTACK_FORUMS
from sgpt_eval.data.download import BEIR_URL_ENV
from sgpt_eval.evaluation.specs import read_config
from sgpt_eval.models.presets import find_preset
from sgpt_eval.reports.tables import BEIR_18

from .beir_fixtures import write_beir

PAPER = Path(__file__).resolve().parents[1] / "results" / "configs" / "paper.toml"
SGPT_BE = [f"SGPT-{size}-weightedmean-msmarco-specb-bitfit" for size in ("125M", "1.3B", "2.7B", "5.8B")]
SGPT_CE = ["SGPT-CE-GPT-Neo-125M", "SGPT-CE-GPT-Neo-1.3B", "SGPT-CE-GPT-Neo-2.7B", "SGPT-CE-GPT-J-6B"]
FORUMS = [f"cqadupstack/{forum}" for forum in CQADUPSTACK_FORUMS]
BEIR_17 = [name for name in BEIR_18 if name != "cqadupstack"]


def test_the_paper_config_expands_to_every_run_of_the_grid():
    specs = read_config(PAPER)

    per_system = Counter((spec.method, spec.model.model if spec.model else None) for spec in specs)
    # BM25 and 5 bi-encoders: 17 datasets + 12 forums + MS MARCO; 4 re-rankers: the same less MS MARCO.
    assert per_system == {("bm25", None): 30, **{("dense", name): 30 for name in [*SGPT_BE, "SGPT-BLOOM-7B1-msmarco"]},
                          **{("rerank", name): 29 for name in SGPT_CE}}
    assert len(specs) == 6 * 30 + 4 * 29 == 296
    assert {spec.dataset for spec in specs if spec.method == "dense"} == {*BEIR_17, *FORUMS, "msmarco"}
    assert {spec.dataset for spec in specs if spec.method == "rerank"} == {*BEIR_17, *FORUMS}
    assert all(spec.settings.depth(spec.method) == 100 and spec.settings.first_stage == "bm25"
               for spec in specs if spec.method == "rerank")


def test_every_model_of_the_grid_is_a_preset_with_its_size():
    config = tomllib.loads(PAPER.read_text())
    names = [run["model"] for run in config["runs"] if "model" in run] + config["useb"]["models"]
    presets = [find_preset(name) for name in names]
    assert all(preset and preset.non_embedding_parameters for preset in presets), names
    assert [preset.kind for preset in presets] == ["bi"] * 5 + ["cross"] * 4 + ["bi"] * 4
    assert all(not preset.specb for preset in presets[-4:])  # USEB: the symmetric nli models
    assert find_preset("SGPT-CE-GPT-J-6B").revision == "float16"
    assert find_preset("EleutherAI/gpt-j-6B").non_embedding_parameters == 5_637_955_584
    assert find_preset("SGPT-BLOOM-7B1-msmarco").non_embedding_parameters == 6_041_411_584
    assert find_preset("SGPT-CE-GPT-Neo-125M").non_embedding_parameters == 85_028_352


def _grid(tmp_path: Path, runs: str, monkeypatch) -> tuple[Path, list[str]]:
    """A grid over "toy" (on disk) and nfcorpus (not on disk, its download server unreachable)."""
    monkeypatch.setenv(BEIR_URL_ENV, "http://127.0.0.1:9")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    data = tmp_path / "data"
    write_beir(data / "toy")
    config = tmp_path / "grid.toml"
    config.write_text(f'datasets = ["toy", "nfcorpus"]\n{runs}')
    return config, ["--data-dir", str(data), "--output-dir", str(tmp_path / "results"),
                    "--cache-dir", str(tmp_path / "cache")]


def test_skip_unavailable_reports_each_missing_dataset_once_and_runs_the_rest(tmp_path, capsys, caplog, monkeypatch):
    config, common = _grid(tmp_path, '[[runs]]\nmethod = "bm25"\n[[runs]]\nmethod = "bm25"\nk1 = 1.2\n', monkeypatch)

    with caplog.at_level(logging.WARNING):
        assert main(["run", "--config", str(config), "--skip-unavailable", *common]) == 0

    skipped = [record.getMessage() for record in caplog.records if record.getMessage().startswith("skipped:")]
    assert len(skipped) == 1
    assert skipped[0].startswith("skipped: dataset nfcorpus: not in ")
    assert "http://127.0.0.1:9/nfcorpus.zip is unreachable" in skipped[0]
    assert skipped[0].endswith("(2 runs)")
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and all(line.startswith("toy\tbm25s\tNDCG@10=") for line in out)
    assert len(list((tmp_path / "results" / "beir" / "toy" / "bm25").glob("*.json"))) == 2


def test_without_skip_unavailable_a_missing_dataset_stops_the_batch(tmp_path, capsys, monkeypatch):
    config, common = _grid(tmp_path, '[[runs]]\nmethod = "bm25"\n', monkeypatch)

    assert main(["run", "--config", str(config), *common]) == 2

    assert "sgpt-eval: error: dataset nfcorpus: not in " in capsys.readouterr().err
    assert not (tmp_path / "results" / "beir").exists()


def test_a_typo_is_not_unavailable_and_stops_the_batch(tmp_path, capsys, monkeypatch):
    config, common = _grid(tmp_path, f'[[runs]]\nmethod = "dense"\nmodel = "{tmp_path / "no-such-folder"}"\n'
                                     'datasets = ["toy"]\n', monkeypatch)

    assert main(["run", "--config", str(config), "--skip-unavailable", *common]) == 2

    assert "no-such-folder': no such folder" in capsys.readouterr().err
    assert not (tmp_path / "results" / "beir").exists()


def test_a_missing_model_is_one_line_and_a_batch_with_nothing_left_is_an_error(tmp_path, capsys, caplog, monkeypatch):
    config, common = _grid(tmp_path, '[[runs]]\nmethod = "dense"\nmodel = "nobody/no-such-model"\n'
                                     'datasets = ["toy"]\n', monkeypatch)

    with caplog.at_level(logging.WARNING):
        assert main(["run", "--config", str(config), "--skip-unavailable", *common]) == 2

    [skipped] = [record.getMessage() for record in caplog.records if record.getMessage().startswith("skipped:")]
    assert skipped.startswith("skipped: model 'nobody/no-such-model': not found locally and the Hugging Face hub is "
                              "unreachable") and skipped.endswith("(1 run)")
    assert ("sgpt-eval: error: no run could go ahead: every run's dataset or model is unavailable; "
            "the skipped: lines above say which and how to provide them") in capsys.readouterr().err
    assert not (tmp_path / "results" / "beir").exists()
