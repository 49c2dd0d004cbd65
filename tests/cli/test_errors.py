"""Bad input ends in one line on stderr, exit code 2, and no report."""

import gzip
from pathlib import Path

import pytest

from sgpt_eval.cli import main

from ..beir_fixtures import write_beir
from ..command_line import error_line


def _run(capsys, *argv):
    code = main(list(argv))
    return code, capsys.readouterr().err.strip()


@pytest.fixture
def toy(tmp_path):
    write_beir(tmp_path / "data" / "toy")
    return tmp_path


def test_unknown_model(capsys, toy):
    code, err = _run(capsys, "eval", "--dataset", "toy", "--data-dir", str(toy / "data"), "--model", "no-such-model",
                     "--output-dir", str(toy / "out"), "--cache-dir", str(toy / "cache"))
    assert code == 2 and "unknown model 'no-such-model'" in error_line(err)
    assert not (toy / "out").exists()


def test_unreachable_hub(capsys, toy, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(toy / "hf"))
    code, err = _run(capsys, "eval", "--dataset", "toy", "--data-dir", str(toy / "data"), "--output-dir", str(toy / "out"),
                     "--model", "Muennighoff/SGPT-125M-weightedmean-msmarco-specb-bitfit", "--cache-dir", str(toy / "cache"))
    line = error_line(err)
    assert code == 2 and "Muennighoff/SGPT-125M-weightedmean-msmarco-specb-bitfit" in line and "unreachable" in line
    assert not (toy / "out").exists()


def test_unknown_dataset_fails_before_loading_a_model(capsys, toy):
    code, err = _run(capsys, "eval", "--dataset", "nope", "--data-dir", str(toy / "data"), "--model", "no-such-model")
    assert code == 2 and "unknown dataset 'nope'" in error_line(err)


def test_missing_data_folder_offline(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("SGPT_EVAL_BEIR_URL", "http://127.0.0.1:9")
    code, err = _run(capsys, "eval", "--dataset", "scifact", "--data-dir", str(tmp_path / "absent"))
    line = error_line(err)
    assert code == 2 and "dataset scifact: not in" in line and "--data-dir" in line


def test_malformed_corpus_leaves_no_report(capsys, toy, tiny_gpt_neo):
    corpus = toy / "data" / "toy" / "corpus.jsonl"
    corpus.write_text(corpus.read_text() + "not json\n")
    code, err = _run(capsys, "eval", "--dataset", "toy", "--data-dir", str(toy / "data"), "--model", str(tiny_gpt_neo),
                     "--output-dir", str(toy / "out"), "--cache-dir", str(toy / "cache"))
    assert code == 2 and "corpus.jsonl:5: not valid JSON" in error_line(err)
    assert not list(Path(toy).glob("out/**/*.json"))


def test_end_to_end_writes_report_and_run(capsys, toy, tiny_gpt_neo):
    import json

    argv = ["eval", "--dataset", "toy", "--data-dir", str(toy / "data"), "--model", str(tiny_gpt_neo), "--specb",
            "--output-dir", str(toy / "out"), "--cache-dir", str(toy / "cache"), "--top-k", "2"]
    assert main(argv) == 0
    report_path = next((toy / "out" / "beir" / "toy" / "dense").glob("*.json"))
    report = json.loads(report_path.read_text())
    assert report["identity"]["model"]["specb"] is True and report["details"]["embedding_cache"]["corpus_shards_reused"] == 0
    assert 0.0 <= report["metrics"]["NDCG@10"] <= 1.0 and set(report["per_query"]["NDCG@10"]) == {"q1", "q2", "q3"}
    run_lines = gzip.decompress((report_path.parent / report["ranking_file"]).read_bytes()).decode().splitlines()
    assert len(run_lines) == 6 and not any(line.startswith("q2 Q0 q2 ") for line in run_lines)
    assert main(argv) == 0  # the second run takes every shard from the cache
    assert json.loads(report_path.read_text())["details"]["embedding_cache"]["corpus_shards_reused"] == 1


@pytest.mark.parametrize("given", ["absolute", "relative", "home"])
def test_a_dataset_given_as_a_path_is_reported_under_the_output_folder_by_its_name(capsys, toy, monkeypatch, given):
    """The report of `--dataset PATH` is the report of `--dataset NAME --data-dir PARENT`: same file
    under --output-dir, never inside the dataset's folder."""
    assert main(["bm25", "--dataset", "toy", "--data-dir", str(toy / "data"), "--output-dir", str(toy / "by-name"),
                 "--cache-dir", str(toy / "cache")]) == 0
    monkeypatch.chdir(toy)
    monkeypatch.setenv("HOME", str(toy))
    path = {"absolute": str(toy / "data" / "toy"), "relative": "./data/toy", "home": "~/data/toy"}[given]
    assert main(["bm25", "--dataset", path, "--output-dir", str(toy / "by-path"), "--cache-dir", str(toy / "cache")]) == 0
    by_name = sorted(path.relative_to(toy / "by-name") for path in (toy / "by-name").rglob("*") if path.is_file())
    by_path = sorted(path.relative_to(toy / "by-path") for path in (toy / "by-path").rglob("*") if path.is_file())
    assert by_path == by_name and by_name[0].parts[:3] == ("beir", "toy", "bm25")
    assert sorted(path.name for path in (toy / "data" / "toy").iterdir()) == ["corpus.jsonl", "qrels", "queries.jsonl"]


def test_a_dataset_path_without_a_corpus_is_one_line(capsys, toy):
    code, err = _run(capsys, "bm25", "--dataset", str(toy / "nowhere"), "--output-dir", str(toy / "out"))
    assert code == 2 and error_line(err) == (f"sgpt-eval: error: dataset folder {toy / 'nowhere'}: no corpus.jsonl "
                                             "in it; give a folder in BEIR layout")
    assert not (toy / "out").exists()
