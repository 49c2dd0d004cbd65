"""The paper's grid: its config, the presets it names, --skip-unavailable, and `make paper` offline."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path

import pytest

from sgpt_eval.cli import main
from sgpt_eval.cli import paper as cli_paper
from sgpt_eval.data.catalogue import BEIR_18, CATALOGUE, CQADUPSTACK_FORUMS
from sgpt_eval.data.download import BEIR_URL_ENV, USEB_URL_ENV
from sgpt_eval.evaluation.specs import read_config
from sgpt_eval.models.presets import find_preset

from ..beir_fixtures import write_beir
from ..command_line import parse
from ..useb_samples import SHARED_USEB

REPO = Path(__file__).resolve().parents[2]
PAPER = REPO / "results" / "configs" / "paper.toml"
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
    assert all(spec.run.depth(spec.method) == 100 and spec.run.first_stage == "bm25"
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
    # The hub unreachable, or not asked where HF_HUB_OFFLINE was set when huggingface_hub was first imported.
    assert skipped.startswith("skipped: model 'nobody/no-such-model': not found locally and ")
    assert ("the Hugging Face hub is unreachable" in skipped or "HF_HUB_OFFLINE is set" in skipped)
    assert skipped.endswith("(1 run)")
    assert ("sgpt-eval: error: no run could go ahead: every run's dataset or model is unavailable; "
            "the skipped: lines above say which and how to provide them") in capsys.readouterr().err
    assert not (tmp_path / "results" / "beir").exists()


def test_a_wrong_key_in_the_useb_table_stops_paper_before_any_run(tmp_path, capsys, monkeypatch):
    config, common = _grid(tmp_path, '[[runs]]\nmethod = "bm25"\n[useb]\nmodels = ["all-MiniLM-L6-v2"]\n'
                                     'dtypes = "float16"\n', monkeypatch)

    assert main(["paper", "--config", str(config), *common]) == 2

    assert (f"sgpt-eval: error: {config}, [useb]: dtypes not options of a USEB run (those are: models, "
            "adapter, append_eos,") in capsys.readouterr().err
    assert not (tmp_path / "results").exists()


@pytest.mark.integration
def test_make_paper_runs_the_committed_grid_offline_skipping_what_it_cannot_have(tmp_path, scifact_dir):
    """`make paper`'s command on the config as committed, with no network: real SciFact is the one
    dataset on disk, so BM25 on it is the one run; every other dataset (the four BEIR may not
    redistribute among them) and every hub model is one `skipped:` line; the three tables are written."""
    data, useb = tmp_path / "beir", tmp_path / "useb"
    data.mkdir(), useb.mkdir()
    (data / "scifact").symlink_to(scifact_dir / "scifact")
    if (SHARED_USEB / "twitterpara").is_dir():  # so that the USEB models are tried, not only the data fetched
        (useb / "twitterpara").symlink_to(SHARED_USEB / "twitterpara")
    nowhere = "http://127.0.0.1:9"  # nothing listens on the discard port
    env = {**os.environ, BEIR_URL_ENV: nowhere, USEB_URL_ENV: f"{nowhere}/data-eval.zip", "HF_HUB_OFFLINE": "1",
           "HF_HOME": str(tmp_path / "hf")}
    results = tmp_path / "results"
    repo_results = sorted((path, path.stat().st_mtime_ns) for path in (REPO / "results").rglob("*"))

    done = subprocess.run([sys.executable, "-m", "sgpt_eval.cli", "paper", "--config", str(PAPER), "--data-dir", str(data),
                           "--useb-data-dir", str(useb), "--output-dir", str(results), "--cache-dir", str(tmp_path / "cache")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)

    assert done.returncode == 0, done.stderr[-3000:]
    assert "sgpt-eval: error" not in done.stderr and "unknown dataset" not in done.stderr
    runs = [line for line in done.stdout.splitlines() if line.startswith("scifact\t")]
    assert len(runs) == 1 and runs[0].startswith("scifact\tbm25s\tNDCG@10=")
    skipped = [line.split("skipped: ", 1)[1] for line in done.stderr.splitlines() if "skipped: " in line]
    for name in [name for name in BEIR_18 if CATALOGUE[name].md5 is None]:
        [line] = [line for line in skipped if line.startswith(f"dataset {name}:")]
        assert "BEIR may not redistribute it (no public download)" in line and line.endswith("(10 runs)")
    absent = [*(name for name in BEIR_18 if name != "scifact"), "msmarco"]
    assert sorted(line.split(":")[0] for line in skipped if line.startswith("dataset ")) == sorted(
        f"dataset {name}" for name in absent)
    config = tomllib.loads(PAPER.read_text())
    models = {run["model"] for run in config["runs"] if "model" in run} | set(config["useb"]["models"])
    hub_ids = {find_preset(name).hub_id for name in models}
    assert sorted(line.split("'")[1] for line in skipped if line.startswith("model ")) == sorted(hub_ids)

    tables = sorted(path.name for path in (results / "tables").iterdir())
    assert tables == [f"beir_ndcg10-{name}.{suffix}" for name in ("be", "ce") for suffix in ("csv", "md", "tex")] + [
        "useb.md"]
    score = runs[0].split("\t")[2].split("=")[1]
    assert f"| SciFact | {score} [" in (results / "tables" / "beir_ndcg10-be.md").read_text()  # with its interval
    assert "| SGPT-125M-weightedmean-nli-bitfit |" in (results / "tables" / "useb.md").read_text()
    assert sorted((path, path.stat().st_mtime_ns) for path in (REPO / "results").rglob("*")) == repo_results


def test_paper_skips_absent_useb_data_once_and_writes_its_three_tables(tmp_path, capsys, caplog, monkeypatch):
    useb = '[useb]\nmodels = ["SGPT-125M-weightedmean-nli-bitfit", "SBERT-base-nli-v2"]\n'
    config, common = _grid(tmp_path, f'[[runs]]\nmethod = "bm25"\n{useb}', monkeypatch)
    monkeypatch.setenv(USEB_URL_ENV, "http://127.0.0.1:9")
    args = parse(cli_paper, "paper", "--config", str(config), "--useb-data-dir", str(tmp_path / "no-useb"), *common)
    assert args.skip_unavailable  # paper always skips what cannot be had

    with caplog.at_level(logging.WARNING):
        args.handler(args, tmp_path / "cache")

    skipped = [record.getMessage() for record in caplog.records if record.getMessage().startswith("skipped:")]
    assert skipped[0].startswith("skipped: dataset nfcorpus: not in ") and skipped[0].endswith("(1 run)")
    # Each absent USEB dataset once, however many models it concerns.
    assert [line.split(":")[1].strip() for line in skipped[1:]] == ["askubuntu", "cqadupstack", "twitterpara",
                                                                     "scidocs"]
    assert all(line.endswith("(USEB)") for line in skipped[1:])
    out = capsys.readouterr().out
    assert out.startswith("toy\tbm25s\tNDCG@10=0.6667\t")
    assert out.count("| dataset | BM25 |") == 2 and "| model | AskUbuntu | CQADupStack | TwitterPara | SciDocs |" in out
    assert sorted(path.name for path in (tmp_path / "results" / "tables").iterdir()) == [
        "beir_ndcg10-be.csv", "beir_ndcg10-be.md", "beir_ndcg10-be.tex",
        "beir_ndcg10-ce.csv", "beir_ndcg10-ce.md", "beir_ndcg10-ce.tex", "useb.md"]
