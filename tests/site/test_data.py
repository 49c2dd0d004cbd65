"""The site's data layer on the committed results: its numbers are the reports' and the tables'
(intervals, tests against BM25 and judged@10 too), each comparison holds `diff`'s diagnosis, each
top-10 document is marked from the judgements, and no text enters unless asked for."""

from __future__ import annotations

import json
import math
import shutil

import pytest

from sgpt_eval.cli import main
from sgpt_eval.data import beir
from sgpt_eval.reports.compare import compare_scores
from sgpt_eval.reports.drift import diff_reports
from sgpt_eval.reports.schema import PAIR_INTERVAL, find_reports
from sgpt_eval.reports.table_stats import DIFFERENT_QUERIES, LEVEL
from sgpt_eval.reports.tables import build_paper_table
from sgpt_eval.reports.uncertainty import bootstrap_interval
from sgpt_eval.reports.useb_table import measured_rows
from sgpt_eval.retrieval.ranking import read_ranking, top_k
from sgpt_eval.site.data import build_site_data, regression_status
from sgpt_eval.site.render import ASSETS, DATA_SCRIPT, PAGES, data_script, write_site

from ..conftest import REPO



@pytest.fixture(scope="module")
def data(results) -> dict:
    return build_site_data(results)


def test_every_linked_cell_is_its_reports_ndcg10_and_every_table_value_is_the_tables(results, data):
    reports = {report.identity.digest(): report for _, report in find_reports(results)}
    linked = 0
    for table in data["tables"][:2]:
        expected = build_paper_table(results, table["id"])
        assert [column["name"] for column in table["columns"]] == list(expected.columns)
        assert [row["label"] for row in table["rows"]] == list(expected.index)
        for row, (_, values) in zip(table["rows"], expected.iterrows()):
            for cell, column, value in zip(row["cells"], table["columns"], values):
                assert cell["value"] == (None if math.isnan(value) else pytest.approx(value, abs=1e-12))
                if cell["run"] and column["kind"] == "ours":
                    assert cell["value"] == reports[cell["run"]].metrics["NDCG@10"]
                    linked += 1
    assert linked == 6  # BM25, two dense runs in the bi-encoder table; BM25 and the two re-rankers in the other
    [useb] = [row for row in data["tables"][2]["rows"] if row["source"].startswith("measured")]
    [measured] = measured_rows(results)
    cell = useb["cells"][2]
    assert (useb["label"], cell["value"]) == (measured.model, measured.scores["twitterpara"])
    assert cell["value"] == 100 * reports[cell["run"]].main_score
    interval = measured.intervals["twitterpara"]
    assert cell["stats"]["interval_95"] == [interval.low, interval.high] and cell["stats"]["note"] == ""


def test_each_run_holds_its_report(results, data):
    for path, report in find_reports(results):
        run = data["runs"][report.identity.digest()]
        assert run["identity"] == report.identity.as_dict()
        assert run["per_query"] == report.per_query.get("NDCG@10", {})
        assert (run["main_score"], run["timings_s"], run["versions"]) == (report.main_score, report.timings_s, report.versions)
        assert results / run["path"] == path
        assert run["command"].startswith("sgpt-eval ")
        stats = run["statistics"]
        if report.identity.benchmark == "beir":
            interval = bootstrap_interval(list(report.per_query["NDCG@10"].values()))
            assert (stats["interval_95"], stats["interval_note"]) == ([interval.low, interval.high], "")
            assert stats["interval_95"][0] < report.metrics["NDCG@10"] < stats["interval_95"][1]
            assert stats["judged_at_10"] == report.metrics["Judged@10"] and 0 < stats["judged_at_10"] < 1
            assert stats["optimistic_ndcg_at_10"] == report.metrics["OptimisticNDCG@10"] >= report.metrics["NDCG@10"]
        else:  # USEB's TwitterPara: the interval over pairs made when it was measured
            stored = report.details[PAIR_INTERVAL]
            assert (stats["interval_95"], stats["interval_over"]) == ([stored["low"], stored["high"]], "pairs")
            assert stats["interval_95"][0] < report.main_score < stats["interval_95"][1]
            assert stats["judged_at_10"] is None


def test_cells_carry_the_tables_intervals_tests_against_bm25_and_judged_at_10(results, data):
    checked = set()
    for table in data["tables"][:2]:
        assert table["baseline"] == "BM25"
        cells = build_paper_table(results, table["id"], baseline="BM25").attrs["cells"]
        for row in table["rows"]:
            for cell, column in zip(row["cells"], table["columns"]):
                if column["name"] not in cells.low or cell["value"] is None:
                    assert "stats" not in cell
                    continue
                stats, label, system = cell["stats"], row["label"], column["name"]
                assert stats["interval_95"] == [cells.low.loc[label, system], cells.high.loc[label, system]]
                assert stats["judged_at_10"] == cells.judged.loc[label, system]
                assert stats["optimistic_ndcg_at_10"] == cells.optimistic.loc[label, system]
                assert stats["note"] == cells.note.loc[label, system]
                if cell["run"]:  # a dataset's cell: the interval of its run, as the run shows it
                    assert stats["interval_95"] == data["runs"][cell["run"]]["statistics"]["interval_95"]
                    assert stats["judged_at_10"] == data["runs"][cell["run"]]["statistics"]["judged_at_10"]
                    checked.add((table["id"], data["runs"][cell["run"]]["method"], stats["same"], stats["note"]))
                if stats["same"] is not None:
                    assert stats["pvalue"] == cells.pvalue.loc[label, system]
                    assert stats["same"] == (stats["pvalue"] >= LEVEL)
    # BM25 is the baseline (untested); both dense runs differ from it on SciFact; one re-ranker ran on
    # the first 10 queries only, so it is not tested against BM25's 300 and says why; the other, over
    # all 300 queries' top 100, cannot be told apart from BM25.
    assert checked == {("be", "bm25", None, ""), ("be", "dense", False, ""), ("ce", "bm25", None, ""),
                       ("ce", "rerank", None, DIFFERENT_QUERIES), ("ce", "rerank", True, "")}


def test_regression_status_is_checks_and_names_the_run(results, data, tmp_path):
    assert {entry["status"] for entry in data["regression"]["baselines"]} == {"met"}
    assert {data["runs"][entry["run"]]["regression"] for entry in data["regression"]["baselines"]} == {"met"}
    baselines = shutil.copytree(results / "baselines", tmp_path / "baselines")
    edited = sorted(baselines.glob("*bm25*.json"))[0]
    payload = json.loads(edited.read_text())
    edited.write_text(json.dumps({**payload, "value": payload["value"] + 0.1}))
    status = regression_status(results, baselines, find_reports(results))
    failed = [entry for entry in status["baselines"] if entry["status"] == "not met"]
    assert [entry["baseline"] for entry in failed] == [edited.name] and "expected" in failed[0]["message"]


def test_comparisons_are_compares_for_each_pair_of_a_dataset(data):
    beir_runs = [run for run in data["runs"].values() if run["benchmark"] == "beir"]
    assert len(data["comparisons"]) == len(beir_runs) * (len(beir_runs) - 1) // 2
    pair = next(value for value in data["comparisons"].values() if not value["intersected"])
    a, b = data["runs"][pair["a"]], data["runs"][pair["b"]]
    expected = compare_scores(a["per_query"], b["per_query"])
    assert (pair["wins"], pair["losses"], pair["ties"]) == (expected.wins, expected.losses, expected.ties)
    assert pair["randomization_pvalue"] == expected.randomization_pvalue
    interval = expected.difference_interval
    assert pair["difference_interval"] == {"low": interval.low, "high": interval.high}


def test_each_comparison_holds_the_drift_diagnosis_of_its_pair(results, data):
    for pair in data["comparisons"].values():
        a, b = data["runs"][pair["a"]], data["runs"][pair["b"]]
        expected = diff_reports(results / a["path"], results / b["path"]).as_dict()
        assert pair["drift"] == {**expected, "path_a": a["path"], "path_b": b["path"], "note": ""}
        assert pair["drift"]["rank_agreement"]["queries"] > 0 and pair["drift"]["identity"]


def test_throughput_and_size_come_from_timings_and_presets(data):
    dense = next(run for run in data["runs"].values() if run["method"] == "dense" and run["model"] == "all-MiniLM-L6-v2"
                 and run["benchmark"] == "beir")
    assert dense["parameters_m"] == pytest.approx(22.7, abs=0.5)
    assert dense["throughput"]["value"] == pytest.approx(5183 / dense["timings_s"]["encode_corpus"])
    bm25 = next(run for run in data["runs"].values() if run["method"] == "bm25")
    assert bm25["parameters_m"] is None and bm25["throughput"]["unit"] == "documents indexed / s"


def test_without_judgements_documents_are_listed_unmarked(data):
    run = next(run for run in data["runs"].values() if run["method"] == "bm25")
    assert "--data-dir" in run["top_note"]
    assert all(grade is None for docs in run["top"].values() for _, grade in docs)


def test_top_ten_documents_are_the_rankings_marked_from_the_judgements(results, scifact_dir):
    data = build_site_data(results, data_dir=scifact_dir)
    [(path, report)] = [(p, r) for p, r in find_reports(results, "beir") if r.identity.method == "bm25"]
    run = data["runs"][report.identity.digest()]
    ranking = top_k(read_ranking(path.parent / report.ranking_file), 10)
    qrels = beir.read_qrels(scifact_dir / "scifact" / "qrels" / "test.tsv")
    assert run["top_note"] == "" and set(run["top"]) == set(report.per_query["NDCG@10"])
    for qid, docs in run["top"].items():
        assert [doc for doc, _ in docs] == list(ranking[qid])
        assert [grade for _, grade in docs] == [qrels[qid].get(doc) for doc in ranking[qid]]
    marks = [grade for docs in run["top"].values() for _, grade in docs]
    assert None in marks and 1 in marks  # SciFact judges a few documents per query: most shown are unjudged
    assert run["texts"] is None and not data["texts_included"]


def test_texts_only_when_asked_and_never_into_the_results_folder(results, scifact_dir, tmp_path, capsys):
    queries = beir.read_queries(scifact_dir / "scifact" / "queries.jsonl")
    plain = data_script(build_site_data(results, data_dir=scifact_dir))
    assert not any(text in plain for text in list(queries.values())[:50])
    with_text = build_site_data(results, data_dir=scifact_dir, with_text=True)
    run = next(run for run in with_text["runs"].values() if run["method"] == "bm25")
    qid = next(iter(run["top"]))
    assert run["texts"]["queries"][qid] == queries[qid]
    assert set(run["texts"]["documents"]) >= {doc for doc, _ in run["top"][qid]}
    assert main(["site", "--results-dir", str(results), "--data-dir", str(scifact_dir), "--with-text"]) == 2
    assert "--with-text" in capsys.readouterr().err
    assert not (results / "site" / "index.html").exists() or "texts_included\":false" in (results / "site" / DATA_SCRIPT).read_text()


def test_the_site_is_its_pages_and_the_data_as_one_script(data, tmp_path):
    written = write_site(data, tmp_path / "site")
    assert sorted(path.name for path in written) == sorted([*PAGES, DATA_SCRIPT])
    script = (tmp_path / "site" / DATA_SCRIPT).read_text(encoding="utf-8")
    assert json.loads(script.removeprefix("window.SITE_DATA = ").removesuffix(";\n")) == json.loads(json.dumps(data))
    page = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert '<script src="data.js">' in page and "http" not in page.replace('"http://www.w3.org', "")
    assert "http://" not in (tmp_path / "site" / "site.js").read_text().replace("http://www.w3.org/2000/svg", "")


def test_a_results_folder_of_ones_own_dataset_without_baselines_or_rankings(tmp_path):
    from ..synthetic_reports import write_report

    write_report(tmp_path, "mine", "dense", "all-MiniLM-L6-v2", 0.5, {"q1": 0.25, "q2": 0.75})
    write_report(tmp_path, "mine", "bm25", "", 0.4, {"q1": 0.5, "q2": 0.3})
    data = build_site_data(tmp_path)
    assert data["regression"] == {"baselines": [], "note": "no baselines in baselines/"}
    table = data["tables"][0]
    [row] = [row for row in table["rows"] if row["label"] == "mine"]
    ours = [cell for cell, column in zip(row["cells"], table["columns"]) if column["kind"] == "ours"]
    assert sorted(cell["value"] for cell in ours) == [0.4, 0.5] and all(cell["run"] for cell in ours)
    run = next(run for run in data["runs"].values() if run["method"] == "dense")
    assert (run["top"], run["top_note"], run["throughput"]) == (None, "no ranking beside this report", None)
    bm25 = next(run for run in data["runs"].values() if run["method"] == "bm25")
    assert bm25["command"] is None and "lacks the setting 'bm25'" in bm25["command_note"]
    [pair] = data["comparisons"].values()
    assert (pair["wins"] + pair["losses"], pair["queries"]) == (2, 2)
    assert pair["drift"]["per_query"]["queries"] == 2 and pair["drift"]["rank_agreement"] is None  # no rankings
    assert table["baseline"] == "BM25" and run["statistics"]["judged_at_10"] is None  # a report before judged@10
    [dense_cell] = [cell for cell in ours if cell["value"] == 0.5]
    assert dense_cell["stats"]["same"] is True  # two queries settle nothing
    assert dense_cell["stats"]["judged_at_10"] is None


def test_the_committed_site_is_built_from_the_committed_results_and_holds_no_text(scifact_dir):
    site = REPO / "results" / "site"
    for name in PAGES:
        assert (site / name).read_text(encoding="utf-8") == (ASSETS / name).read_text(encoding="utf-8"), "run `make site`"
    data = build_site_data(REPO / "results", data_dir=scifact_dir)
    assert (site / DATA_SCRIPT).read_text(encoding="utf-8") == data_script(data), "run `make site`"
    assert not data["texts_included"] and all(run["texts"] is None for run in data["runs"].values())
