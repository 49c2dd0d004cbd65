"""MTEB export: our BEIR reports as MTEB task results, read back by mteb's own loader."""

from __future__ import annotations

import dataclasses
import logging
import sys
from pathlib import Path

import pytest

from sgpt_eval.cli import main
from sgpt_eval.reports.schema import read_report, write_report as write

from ..command_line import error_line
from ..synthetic_reports import write_report

mteb = pytest.importorskip("mteb")

SGPT = "SGPT-125M-weightedmean-msmarco-specb-bitfit"
SGPT_HUB = f"Muennighoff/{SGPT}"


def _export(results: Path, out: Path) -> int:
    return main(["export", "--format", "mteb", "--results-dir", str(results), "--output-dir", str(out)])


def _loaded(out: Path, **options) -> dict[tuple[str, str, str], object]:
    """(model, revision, task) -> TaskResult, as mteb's ResultCache loads them."""
    results = mteb.ResultCache(out).load_results(include_remote=False, **options)
    return {(model.model_name, model.model_revision, task.task_name): task
            for model in results.model_results for task in model.task_results}


def test_exported_reports_load_in_mteb_with_our_ndcg_at_10(tmp_path, capsys):
    results, out = tmp_path / "results", tmp_path / "mteb"
    write_report(results, "scifact", "dense", SGPT, 0.61)
    write_report(results, "msmarco", "dense", SGPT, 0.42)
    write_report(results, "cqadupstack/android", "bm25", "bm25s", 0.38, versions={"bm25s": "0.3.16"})

    assert _export(results, out) == 0
    loaded = _loaded(out)
    assert set(loaded) == {(SGPT_HUB, "r1", "SciFact"), (SGPT_HUB, "r1", "MSMARCO"),
                           ("mteb/baseline-bm25s", "0.3.16", "CQADupstackAndroidRetrieval")}
    scifact = loaded[(SGPT_HUB, "r1", "SciFact")]
    assert scifact.main_score == pytest.approx(0.61)
    assert scifact.scores["test"][0]["ndcg_at_10"] == pytest.approx(0.61)
    assert scifact.scores["test"][0]["map_at_10"] == pytest.approx(0.305)
    assert scifact.dataset_revision == mteb.get_task("SciFact").metadata.revision
    assert scifact.mteb_version == mteb.__version__
    assert loaded[(SGPT_HUB, "r1", "MSMARCO")].eval_splits == ["dev"]
    path = out / "results" / "Muennighoff__SGPT-125M-weightedmean-msmarco-specb-bitfit" / "r1" / "SciFact.json"
    assert mteb.TaskResult.from_disk(path).main_score == pytest.approx(0.61)
    assert (path.parent / "model_meta.json").is_file()
    assert f"exported {path}" in capsys.readouterr().out.splitlines()


def test_query_subsets_and_datasets_mteb_lacks_are_not_exported(tmp_path, caplog):
    results, out = tmp_path / "results", tmp_path / "mteb"
    subset = write_report(results, "scifact", "rerank", SGPT, 0.7, max_queries=10)
    custom = write_report(results, "toy", "dense", SGPT, 0.5)
    write_report(results, "nfcorpus", "dense", SGPT, 0.3)

    with caplog.at_level(logging.WARNING, logger="sgpt_eval"):
        assert _export(results, out) == 0
    assert set(_loaded(out)) == {(SGPT_HUB, "r1", "NFCorpus")}
    assert caplog.messages == [
        f"not exported: {subset}: it covers the first 10 queries only, and MTEB's scores cover every query; "
        "run it without --max-queries to export it",
        f"not exported: {custom}: MTEB has no task for dataset 'toy'",
    ]


def test_configurations_of_one_model_on_one_task_become_mteb_experiments(tmp_path):
    results, out = tmp_path / "results", tmp_path / "mteb"
    write_report(results, "scifact", "dense", SGPT, 0.61)
    write_report(results, "scifact", "dense", SGPT, 0.55, max_length=128)
    write_report(results, "scifact", "rerank", SGPT, 0.66)

    assert _export(results, out) == 0
    revision = out / "results" / "Muennighoff__SGPT-125M-weightedmean-msmarco-specb-bitfit" / "r1"
    scores = {path.relative_to(revision).as_posix(): mteb.TaskResult.from_disk(path).main_score
              for path in revision.rglob("SciFact.json")}
    assert scores == pytest.approx({"SciFact.json": 0.61, "experiments/max_length_128/SciFact.json": 0.55,
                                    "experiments/method_rerank/SciFact.json": 0.66})


def test_one_result_from_two_reports_is_refused_before_writing(tmp_path, capsys):
    results, out = tmp_path / "results", tmp_path / "mteb"
    first = write_report(results, "scifact", "dense", SGPT, 0.61)
    report = read_report(first)
    other_data = dataclasses.replace(report.identity, data_files_sha256={"corpus": "c2", "queries": "q"})
    second = write(dataclasses.replace(report, identity=other_data), results)

    assert _export(results, out) == 2
    first, second = sorted([first, second])  # reports are read in path order
    assert error_line(capsys.readouterr().err) == (
        f"sgpt-eval: error: {first} and {second} export as one MTEB result (same model, revision, task and settings "
        "over different data files); remove one of them from the results folder")
    assert not out.exists()


def test_no_beir_reports_is_one_line(tmp_path, capsys):
    (tmp_path / "results").mkdir()
    assert _export(tmp_path / "results", tmp_path / "mteb") == 2
    assert error_line(capsys.readouterr().err) == (
        f"sgpt-eval: error: {tmp_path / 'results'}: no BEIR reports to export; "
        "run an evaluation first or pass --results-dir")
    assert not (tmp_path / "mteb").exists()


def test_export_without_mteb_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    write_report(tmp_path / "results", "scifact", "dense", SGPT, 0.61)
    monkeypatch.setitem(sys.modules, "mteb", None)  # `import mteb` raises ImportError
    assert _export(tmp_path / "results", tmp_path / "mteb") == 2
    assert error_line(capsys.readouterr().err) == (
        "sgpt-eval: error: export --format mteb needs the mteb package; install it with: pip install 'sgpt-eval[mteb]'")
    assert not (tmp_path / "mteb").exists()


# -- the export, called directly --------------------------------------------------------------

def test_metrics_take_mteb_names_with_ndcg_at_10_as_the_main_score():
    from sgpt_eval.reports.mteb_export import mteb_scores

    scores = mteb_scores({"NDCG@10": 0.5, "MAP@100": 0.3, "Recall@1000": 0.9, "P@5": 0.1, "MRR@10": 0.2,
                          "R_cap@10": 0.7, "NDCG": 0.4})
    assert scores == {"main_score": 0.5, "ndcg_at_10": 0.5, "map_at_100": 0.3, "recall_at_1000": 0.9,
                      "precision_at_5": 0.1, "mrr_at_10": 0.2}
    with pytest.raises(KeyError):
        mteb_scores({"NDCG@100": 0.5})  # no main score, no task result


def test_every_beir_dataset_mteb_evaluates_exports_to_a_task_mteb_knows(tmp_path, caplog):
    from sgpt_eval.data.catalogue import CQADUPSTACK_FORUMS
    from sgpt_eval.reports.mteb_export import export_mteb

    in_mteb = ["arguana", "climate-fever", "dbpedia-entity", "fever", "fiqa", "hotpotqa", "msmarco", "nfcorpus", "nq",
               "quora", "scidocs", "scifact", "trec-covid", "webis-touche2020",
               *(f"cqadupstack/{forum}" for forum in CQADUPSTACK_FORUMS)]
    for dataset in [*in_mteb, "bioasq", "signal1m", "trec-news", "robust04"]:
        write_report(tmp_path / "results", dataset, "bm25", "bm25s", 0.5, versions={"bm25s": "0.3.16"})

    with caplog.at_level(logging.WARNING, logger="sgpt_eval"):
        written = export_mteb(tmp_path / "results", tmp_path / "mteb")

    tasks = {path.stem for path in written}
    assert len(written) == len(tasks) == len(in_mteb) == 26
    assert {"SciFact", "FiQA2018", "DBPedia", "QuoraRetrieval", "Touche2020", "CQADupstackWordpressRetrieval"} < tasks
    assert all(mteb.get_task(task).metadata.name == task for task in tasks)
    assert sorted(message.rsplit(" ", 1)[-1] for message in caplog.messages) == [
        "'bioasq'", "'robust04'", "'signal1m'", "'trec-news'"]  # MTEB has no task for these


def test_export_returns_the_task_results_it_wrote_and_writes_each_folders_model_meta(tmp_path):
    from sgpt_eval.reports.mteb_export import export_mteb

    results, out = tmp_path / "results", tmp_path / "mteb"
    write_report(results, "scifact", "dense", SGPT, 0.61)
    write_report(results, "nfcorpus", "dense", SGPT, 0.31)
    write_report(results, "scifact", "bm25", "bm25s", 0.68, versions={"bm25s": "0.3.16"})

    written = export_mteb(results, out)

    model = out / "results" / "Muennighoff__SGPT-125M-weightedmean-msmarco-specb-bitfit" / "r1"
    bm25 = out / "results" / "mteb__baseline-bm25s" / "0.3.16"
    assert sorted(written) == sorted([model / "SciFact.json", model / "NFCorpus.json", bm25 / "SciFact.json"])
    assert sorted(out.rglob("*.json")) == sorted([*written, model / "model_meta.json", bm25 / "model_meta.json"])
    assert mteb.TaskResult.from_disk(model / "NFCorpus.json").main_score == pytest.approx(0.31)
