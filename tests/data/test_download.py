"""Download, checksum and safe unpacking, against a zip served on 127.0.0.1."""

import dataclasses
import zipfile

import pytest

from sgpt_eval.cli import main
from sgpt_eval.data import beir as beir_data, catalogue, download as beir_download
from sgpt_eval.errors import SgptEvalError, Unavailable

from ..beir_fixtures import write_beir, zip_dataset


@pytest.fixture
def server(file_server):
    return file_server


def test_downloads_checks_and_unpacks(server, tmp_path, monkeypatch):
    root, url = server
    md5 = zip_dataset(write_beir(tmp_path / "src"), root / "scifact.zip", "scifact")
    monkeypatch.setenv(beir_download.BEIR_URL_ENV, url)
    monkeypatch.setitem(catalogue.CATALOGUE, "scifact", dataclasses.replace(catalogue.CATALOGUE["scifact"], md5=md5))
    dataset = beir_data.load("scifact", tmp_path / "data")
    assert len(dataset.corpus.docs) == 4
    assert not list((tmp_path / "data").glob(".scifact.download.*"))  # no leftovers


def test_checksum_mismatch_unpacks_nothing(server, tmp_path, monkeypatch):
    root, url = server
    zip_dataset(write_beir(tmp_path / "src"), root / "scifact.zip", "scifact")
    monkeypatch.setenv(beir_download.BEIR_URL_ENV, url)
    with pytest.raises(SgptEvalError, match="the published one is 5f7d1de6"):
        beir_data.load("scifact", tmp_path / "data")
    assert not (tmp_path / "data").exists()


def test_path_escape_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("scifact/corpus.jsonl", "{}")
        zipped.writestr("../../escaped.txt", "gotcha")
    with pytest.raises(SgptEvalError, match="would be written outside"):
        beir_download.safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "out").exists()


def test_unreachable_server_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv(beir_download.BEIR_URL_ENV, "http://127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(SgptEvalError) as error:
        beir_data.load("nfcorpus", tmp_path / "data")
    message = str(error.value)
    assert "dataset nfcorpus: not in" in message and "unreachable" in message and "\n" not in message
    assert not (tmp_path / "data").exists()  # made for the download, removed when it failed


def test_a_failed_download_from_the_command_line_leaves_no_data_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(beir_download.BEIR_URL_ENV, "http://127.0.0.1:9")
    monkeypatch.delenv("SGPT_EVAL_BEIR_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    code = main(["bm25", "--dataset", "nfcorpus", "--cache-dir", str(tmp_path / "cache")])
    err = capsys.readouterr().err
    assert code == 2 and err == (f"sgpt-eval: error: dataset nfcorpus: not in datasets and "
                                 f"http://127.0.0.1:9/nfcorpus.zip is unreachable ([Errno 111] Connection refused); "
                                 "download nfcorpus.zip elsewhere and unzip it into datasets, or pass --data-dir\n")
    assert list(tmp_path.iterdir()) == []  # no ./datasets, ./results or cache folder left behind


def test_unknown_dataset(tmp_path):
    with pytest.raises(SgptEvalError, match="unknown dataset 'nope'") as error:
        beir_data.load("nope", tmp_path)
    assert not isinstance(error.value, Unavailable)  # a typo stops a batch, even with --skip-unavailable
    assert "bioasq" in str(error.value)  # among the names it knows


@pytest.mark.parametrize("name", [name for name, entry in catalogue.CATALOGUE.items() if entry.md5 is None])
def test_a_dataset_beir_may_not_redistribute_is_unavailable_not_unknown(tmp_path, monkeypatch, name):
    monkeypatch.setenv(beir_download.BEIR_URL_ENV, "http://127.0.0.1:9")
    with pytest.raises(Unavailable) as error:
        beir_data.load(name, tmp_path / "data")
    assert str(error.value) == (
        f"dataset {name}: not in {tmp_path / 'data'}, and BEIR may not redistribute it (no public download); "
        f"obtain it from its own source, write it in BEIR layout to {tmp_path / 'data' / name}, or pass --data-dir")
    assert not (tmp_path / "data").exists()  # no download was tried
