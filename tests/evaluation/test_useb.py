"""A whole USEB run: reports, datasets missing one by one, the download, the CLI and the table."""

from __future__ import annotations

import argparse
import json
import re
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from sgpt_eval.cli import useb as cli_useb
from sgpt_eval.errors import SgptEvalError
from sgpt_eval.storage import sha256_file
from sgpt_eval.data import useb as data
from sgpt_eval.data.download import USEB_URL_ENV
from sgpt_eval.evaluation.useb import evaluate_model
from sgpt_eval.executors.local import LocalBiEncoder
from sgpt_eval.retrieval.embedding_cache import EmbeddingCache
from sgpt_eval.reports.schema import PAIR_INTERVAL
from sgpt_eval.reports.uncertainty import RESAMPLES, SEED
from sgpt_eval.reports.useb_table import PUBLISHED_CSV, published_rows, useb_table

from . import (
    test_useb_askubuntu,
    test_useb_cqadupstack,
    test_useb_scidocs,
    test_useb_twitterpara,
)
from ..synthetic_reports import only_report
from ..useb_samples import (
    ASKUBUNTU_VECTORS,
    SCIDOCS_VECTORS,
    SHARED_USEB,
    TWITTERPARA_VECTORS,
    FixedEmbed,
    cqadupstack_vectors,
    write_askubuntu,
    write_cqadupstack,
    write_scidocs,
    write_twitterpara,
)

WRITERS = {"askubuntu": write_askubuntu, "cqadupstack": write_cqadupstack, "twitterpara": write_twitterpara,
           "scidocs": write_scidocs}
UNREACHABLE = "file:///nonexistent/data-eval.zip"


class FakeEncoder:
    """The bi-encoder interface run_useb uses, over the samples' fixed vectors."""

    load_seconds = 0.0
    device = "cpu"
    batch_size = 32

    def __init__(self, model: str = "m") -> None:
        self.settings = SimpleNamespace(model=model, instruction=None, as_dict=lambda: {"model": model})
        vectors = {**ASKUBUNTU_VECTORS, **cqadupstack_vectors(), **TWITTERPARA_VECTORS, **SCIDOCS_VECTORS}
        self.embed = FixedEmbed(vectors)
        self.kinds: set[str] = set()

    def encode(self, texts: list[str], kind: str = "query", batch_size=None, show_progress_bar=True) -> np.ndarray:
        self.kinds.add(kind)
        return self.embed(texts)


def write(data_dir: Path, *names: str) -> Path:
    for name in names:
        WRITERS[name](data_dir)
    return data_dir


class FakeModel:
    """A resolved model as `evaluate_model` reads it: settings, and a version for each dataset."""

    def __init__(self, model: str = "m") -> None:
        self.settings = SimpleNamespace(as_dict=lambda: {"model": model})

    def for_dataset(self, dataset: str) -> FakeModel:
        return self


class FakeExecutor:
    """Hands out the fake encoder as a local executor does; `encoder` None: loading it fails the test."""

    def __init__(self, encoder: FakeEncoder | None) -> None:
        self.encoder = encoder

    def bi_encoder(self, model: FakeModel, shards: int) -> LocalBiEncoder:
        if self.encoder is None:
            raise AssertionError("the encoder must not be loaded when no dataset is there")
        return LocalBiEncoder(self.encoder)


def run_useb(names, data_dir: Path, output_dir: Path, encoder: FakeEncoder | None, force: bool = False,
             cache: EmbeddingCache = EmbeddingCache(None)):
    """USEB runs of `encoder` (None: it must not load), with no cache unless given one."""
    model = FakeModel(*(encoder.settings.as_dict()["model"],) if encoder else ())
    return evaluate_model(lambda: model, names, data_dir, output_dir, FakeExecutor(encoder), cache, force=force)


def test_run_writes_one_report_per_dataset(tmp_path, monkeypatch):
    monkeypatch.setenv(USEB_URL_ENV, UNREACHABLE)
    data_dir = write(tmp_path / "data-eval", *data.DATASETS)
    encoder = FakeEncoder("fixed-model")
    outcomes = run_useb(data.DATASETS, data_dir, tmp_path / "results", encoder)
    assert [o.dataset for o in outcomes] == list(data.DATASETS)
    assert all(o.problem is None for o in outcomes)
    assert encoder.kinds == {"query"}  # symmetric search: every text encoded alike

    report = only_report(tmp_path / "results" / "useb" / "askubuntu")
    identity = report["identity"]
    assert identity["benchmark"] == "useb" and identity["dataset"] == "askubuntu" and identity["split"] == "test"
    assert report["main_metric"] == "map_askubuntu_title"
    assert report["metrics"] == pytest.approx(test_useb_askubuntu.EXPECTED)
    assert identity["data_files_sha256"]["test.txt"] == sha256_file(data_dir / "askubuntu" / "test.txt")
    assert set(report["timings_s"]) == {"load_model", "load_data", "encode", "score"}
    assert {"versions", "hardware", "details", "command", "created"} <= set(report)
    twitter = only_report(tmp_path / "results" / "useb" / "twitterpara")
    assert twitter["metrics"] == pytest.approx(test_useb_twitterpara.EXPECTED)


def test_reports_keep_what_the_main_metric_is_made_of(tmp_path, monkeypatch):
    """Per-query scores whose mean of means is the main score, or (TwitterPara) the interval over
    pairs made when measured: what the USEB table's intervals come from."""
    monkeypatch.setenv(USEB_URL_ENV, UNREACHABLE)
    data_dir = write(tmp_path / "data-eval", *data.DATASETS)
    run_useb(data.DATASETS, data_dir, tmp_path / "results", FakeEncoder())
    for name in ("askubuntu", "cqadupstack", "scidocs"):
        report = only_report(tmp_path / "results" / "useb" / name)
        parts = [np.mean(list(scores.values())) for scores in report["per_query"].values()]
        assert np.mean(parts) == pytest.approx(report["metrics"][report["main_metric"]], abs=1e-12), name
        assert PAIR_INTERVAL not in report["details"]
    twitter = only_report(tmp_path / "results" / "useb" / "twitterpara")
    stored = twitter["details"][PAIR_INTERVAL]
    assert twitter["per_query"] == {} and stored["pairs"] == {"twitterurl": 3, "pit": 3}
    assert (stored["resamples"], stored["seed"]) == (RESAMPLES, SEED)
    assert stored["low"] <= twitter["metrics"]["ap_twitter_avg"] <= stored["high"]


def test_missing_datasets_are_reported_one_by_one(tmp_path, monkeypatch):
    monkeypatch.setenv(USEB_URL_ENV, UNREACHABLE)
    data_dir = write(tmp_path / "data-eval", "twitterpara")
    (data_dir / "scidocs").mkdir()  # there, but without data.json
    outcomes = {o.dataset: o for o in run_useb(data.DATASETS, data_dir, tmp_path / "results", FakeEncoder())}
    assert outcomes["twitterpara"].report is not None
    for name in ("askubuntu", "cqadupstack"):
        assert outcomes[name].absent
        assert outcomes[name].problem.startswith(f"{name}: not in {data_dir}, and {UNREACHABLE} is unreachable")
    assert outcomes["scidocs"].absent and "lacks data.json" in outcomes["scidocs"].problem


def test_no_data_no_model(tmp_path, monkeypatch):
    monkeypatch.setenv(USEB_URL_ENV, UNREACHABLE)
    outcomes = run_useb(["askubuntu"], tmp_path / "nothing", tmp_path / "results", None)
    assert outcomes[0].absent and "unreachable" in outcomes[0].problem


def test_malformed_data_does_not_stop_the_others(tmp_path, monkeypatch):
    data_dir = write(tmp_path / "data-eval", "askubuntu", "twitterpara")
    (data_dir / "askubuntu" / "test.txt").write_text("1\tnot enough fields\n")
    outcomes = {o.dataset: o for o in run_useb(["askubuntu", "twitterpara"], data_dir, tmp_path / "r", FakeEncoder())}
    assert not outcomes["askubuntu"].absent and "test.txt line 1" in outcomes["askubuntu"].problem
    assert outcomes["twitterpara"].report is not None


def make_archive(path: Path, source: Path, prefix: str = "data-eval/") -> str:
    with zipfile.ZipFile(path, "w") as archive:
        for file in sorted(source.rglob("*")):
            if file.is_file():
                archive.write(file, prefix + file.relative_to(source).as_posix())
    return path.as_uri()


def test_absent_datasets_are_downloaded_once(tmp_path, monkeypatch):
    url = make_archive(tmp_path / "data-eval.zip", write(tmp_path / "published", "askubuntu", "scidocs"))
    monkeypatch.setenv(USEB_URL_ENV, url)
    data_dir = write(tmp_path / "data-eval", "scidocs")
    (data_dir / "scidocs" / "data.json").write_text((data_dir / "scidocs" / "data.json").read_text() + " ")
    outcomes = run_useb(["askubuntu", "scidocs"], data_dir, tmp_path / "results", FakeEncoder())
    assert all(o.report for o in outcomes)
    assert (data_dir / "askubuntu" / "text_tokenized.txt").is_file()
    assert (data_dir / "scidocs" / "data.json").read_text().endswith(" "), "a folder already there is left alone"
    assert not [p for p in data_dir.iterdir() if p.name.startswith(".")], "no download leftovers"


def test_an_archive_escaping_the_folder_is_refused(tmp_path, monkeypatch):
    archive = tmp_path / "data-eval.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("data-eval/../../escaped.txt", "x")
    monkeypatch.setenv(USEB_URL_ENV, archive.as_uri())
    outcomes = run_useb(["askubuntu"], tmp_path / "data-eval", tmp_path / "results", None)
    assert "would be written outside" in outcomes[0].problem
    assert not (tmp_path / "escaped.txt").exists()


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="sgpt-eval")
    cli_useb.add_commands(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_useb_command_prints_results_missing_lines_and_the_table(tmp_path, monkeypatch, capsys, tiny_gpt_neo):
    monkeypatch.setenv(USEB_URL_ENV, UNREACHABLE)
    data_dir = write(tmp_path / "data-eval", "twitterpara")
    args = parse(["useb", "--model", str(tiny_gpt_neo), "--data-dir", str(data_dir), "--output-dir", str(tmp_path / "r"),
                  "--datasets", "TwitterPara", "askubuntu"])
    args.handler(args, tmp_path / "cache")
    out, err = capsys.readouterr()
    assert re.search(r"^twitterpara\t.*\tap_twitter_twitterurl=\d\.\d{4}\tap_twitter_pit=.*\tap_twitter_avg=", out, re.M)
    assert re.search(r"^askubuntu\tmissing\taskubuntu: not in .* is unreachable", err, re.M)
    assert "| SGPT-125M-weightedmean-nli-bitfit | 55.66 | 11.13 | 69.63 | 68.01 | 51.11 |" in out
    assert re.search(r"^\| \S*tiny-gpt-neo\S* \| missing \| missing \| \d+\.\d\d \[\d+\.\d\d, \d+\.\d\d\] \| missing \| missing \| measured", out,
                     re.M)

    table = parse(["useb-table", "--output-dir", str(tmp_path / "r")])
    table.handler(table, tmp_path / "cache")
    assert "tiny-gpt-neo" in capsys.readouterr().out


def test_useb_command_fails_when_nothing_could_be_evaluated(tmp_path, monkeypatch):
    monkeypatch.setenv(USEB_URL_ENV, UNREACHABLE)
    args = parse(["useb", "--data-dir", str(tmp_path / "none"), "--output-dir", str(tmp_path / "r")])
    with pytest.raises(SgptEvalError, match="no dataset could be evaluated"):
        args.handler(args, tmp_path / "cache")


def test_published_csv_holds_the_reference_numbers():
    reference = SHARED_USEB.parent / "reference" / "published_scores.md"
    if not reference.is_file():
        pytest.skip(f"{reference} not found")
    rows = {row.model: row for row in published_rows()}
    found = 0
    for line in reference.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if cells[0] in rows:
            row = rows[cells[0]]
            assert [float(c) for c in cells[1:]] == [*(row.scores[name] for name in data.DATASETS), row.average]
            found += 1
    assert found == 3
    assert PUBLISHED_CSV.is_file()


def test_the_average_needs_all_four_datasets(tmp_path, monkeypatch):
    monkeypatch.setenv(USEB_URL_ENV, UNREACHABLE)
    data_dir = write(tmp_path / "data-eval", *data.DATASETS)
    run_useb(data.DATASETS, data_dir, tmp_path / "r", FakeEncoder("complete"))
    run_useb(["twitterpara"], data_dir, tmp_path / "r", FakeEncoder("partial"))
    table = useb_table(tmp_path / "r").splitlines()
    main_scores = [
        test_useb_askubuntu.EXPECTED["map_askubuntu_title"],
        test_useb_cqadupstack.EXPECTED["map@100_cqadupstack_avg"],
        test_useb_twitterpara.EXPECTED["ap_twitter_avg"],
        sum(test_useb_scidocs.EXPECTED_MAP.values()) / 4,
    ]
    complete = next(line for line in table if line.startswith("| complete |"))
    cells = [cell.strip() for cell in complete.strip("|").split("|")]
    assert [cell.split(" [")[0] for cell in cells[1:6]] == [f"{100 * s:.2f}" for s in [*main_scores, np.mean(main_scores)]]
    assert all(re.fullmatch(r"\d+\.\d\d \[\d+\.\d\d, \d+\.\d\d\]", cell) for cell in cells[1:5]), "each with its interval"
    assert cells[5:] == [f"{100 * np.mean(main_scores):.2f}", "measured (test)"]
    assert any(line.startswith("- The average has no interval: TwitterPara's") for line in table)
    partial = next(line for line in table if line.startswith("| partial |"))
    assert partial.count("missing") == 4
    with pytest.raises(SgptEvalError, match="no USEB report for other"):
        useb_table(tmp_path / "r", models=["other"])


def test_a_measured_dataset_is_skipped_and_its_vectors_come_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(USEB_URL_ENV, UNREACHABLE)
    data_dir = write(tmp_path / "data-eval", "twitterpara")
    cache = EmbeddingCache(tmp_path / "cache")
    [done] = run_useb(["twitterpara"], data_dir, tmp_path / "r", FakeEncoder(), cache=cache)
    assert done.report and not done.skipped
    [again] = run_useb(["twitterpara"], data_dir, tmp_path / "r", None)  # the same identity: nothing loads
    assert again.skipped and again.report == done.report and again.metrics == done.metrics
    forced = FakeEncoder()
    [rerun] = run_useb(["twitterpara"], data_dir, tmp_path / "r", forced, force=True, cache=cache)
    assert not rerun.skipped and rerun.metrics == done.metrics and forced.kinds == set()  # every vector cached
    [other] = run_useb(["twitterpara"], data_dir, tmp_path / "r", FakeEncoder("another-model"))
    assert not other.skipped and other.report != done.report
