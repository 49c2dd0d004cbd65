"""The BEIR table: CQADupStack folding, missing cells, averages, published columns and datasets
that are not BEIR's."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from sgpt_eval.data.catalogue import BEIR_18, CE_11, CQADUPSTACK_FORUMS
from sgpt_eval.errors import SgptEvalError
from sgpt_eval.cli import main
from sgpt_eval.reports import tables
from sgpt_eval.reports.tables import (
    AVERAGE_11_LABEL, AVERAGE_18_LABEL, build_paper_table, build_table, read_published, render,
)

from ..command_line import error_line, run_command
from ..synthetic_reports import write_report

DENSE = "all-MiniLM-L6-v2 (dense)"


def _published(tmp_path: Path, rows: str = "") -> Path:
    """A published-scores CSV of these rows (none: a table of ours alone)."""
    published = tmp_path / "published.csv"
    published.write_text(f"dataset,model,ndcg@10,source\n{rows}")
    return published


def test_cqadupstack_is_the_mean_of_all_12_forums_and_missing_otherwise(tmp_path):
    for number, forum in enumerate(CQADUPSTACK_FORUMS):
        write_report(tmp_path, f"cqadupstack/{forum}", "dense", "all-MiniLM-L6-v2", 0.30 + number / 100)
        if forum != "wordpress":
            write_report(tmp_path, f"cqadupstack/{forum}", "dense", "SmolLM2-135M", 0.2)
    write_report(tmp_path, "scifact", "dense", "SmolLM2-135M", 0.5)

    table = build_table(tmp_path)

    assert table.loc["CQADupStack", DENSE] == pytest.approx(0.30 + 5.5 / 100)
    assert math.isnan(table.loc["CQADupStack", "SmolLM2-135M (dense)"])
    assert not any(label.startswith("cqadupstack/") for label in table.index)
    assert "CQADupStack, SmolLM2-135M (dense): 11 of 12 forums run; missing until all 12 are." in table.attrs["notes"]


def test_missing_cells_stay_missing_in_every_format(tmp_path):
    write_report(tmp_path, "scifact", "dense", "all-MiniLM-L6-v2", 0.6)
    write_report(tmp_path, "nfcorpus", "dense", "all-MiniLM-L6-v2", 0.3)
    write_report(tmp_path, "scifact", "bm25", "bm25s", 0.68)

    table = build_table(tmp_path, _published(tmp_path))

    assert math.isnan(table.loc["NFCorpus", "BM25"])
    assert "| NFCorpus | – | 0.3000 [0.300, 0.300] |" in render(table, "md")  # one query: no spread
    assert "NFCorpus & -- & 0.3000 [0.300, 0.300]" in render(table, "latex")
    csv = pd.read_csv(io.StringIO(render(table, "csv")), index_col=0)
    assert math.isnan(csv.loc["NFCorpus", "BM25"])
    assert "0.0000" not in render(table, "md")


def test_subset_average_is_labeled_with_its_count_and_over_common_datasets(tmp_path):
    for dataset, score in (("scifact", 0.6), ("nfcorpus", 0.3), ("arguana", 0.5)):
        write_report(tmp_path, dataset, "dense", "all-MiniLM-L6-v2", score)
    for dataset, score in (("scifact", 0.4), ("nfcorpus", 0.2)):
        write_report(tmp_path, dataset, "bm25", "bm25s", score)

    table = build_table(tmp_path)

    row = table.loc["Average (2 of 18 datasets run)"]
    assert row[DENSE] == pytest.approx(0.45)
    assert row["BM25"] == pytest.approx(0.3)
    assert AVERAGE_18_LABEL not in table.index
    assert any(note.startswith("Average (2 of 18 datasets run): over NFCorpus, SciFact") for note in table.attrs["notes"])


def test_beir_average_needs_all_18_and_leaves_ms_marco_out(tmp_path):
    scores = {name: 0.1 + index / 100 for index, name in enumerate(BEIR_18)}
    for name, score in scores.items():
        for dataset in ([f"cqadupstack/{forum}" for forum in CQADUPSTACK_FORUMS] if name == "cqadupstack" else [name]):
            write_report(tmp_path, dataset, "dense", "all-MiniLM-L6-v2", score)
    write_report(tmp_path, "msmarco", "dense", "all-MiniLM-L6-v2", 0.99)

    table = build_table(tmp_path)

    assert table.loc[AVERAGE_18_LABEL, DENSE] == pytest.approx(sum(scores.values()) / 18)
    assert not any(label.startswith("Average (") and "of 18" in label for label in table.index)
    assert list(table.index[:3]) == ["TREC-COVID", "BioASQ", "NFCorpus"]
    assert table.index[-2] == "MS MARCO (dev)"


def test_published_numbers_stand_beside_ours_with_the_difference(tmp_path):
    published = _published(
        tmp_path,
        "scifact,all-MiniLM-L6-v2,0.6451,MTEB results of sentence-transformers/all-MiniLM-L6-v2\n"
        "nfcorpus,all-MiniLM-L6-v2,0.3159,MTEB results of sentence-transformers/all-MiniLM-L6-v2\n"
        "scifact,BM25 (bm25s),0.6874,MTEB baseline-bm25s\n")
    write_report(tmp_path, "scifact", "dense", "sentence-transformers/all-MiniLM-L6-v2", 0.6)
    write_report(tmp_path, "scifact", "bm25", "bm25s", 0.7)

    table = build_table(tmp_path, published)

    assert list(table.columns) == ["BM25", "published: BM25 (bm25s)", "Δ BM25",
                                   DENSE, "published: all-MiniLM-L6-v2", f"Δ {DENSE}"]
    assert table.loc["SciFact", f"Δ {DENSE}"] == pytest.approx(0.6 - 0.6451)
    assert table.loc["SciFact", "Δ BM25"] == pytest.approx(0.7 - 0.6874)
    assert table.loc["NFCorpus", "published: all-MiniLM-L6-v2"] == pytest.approx(0.3159)
    assert math.isnan(table.loc["NFCorpus", f"Δ {DENSE}"])
    assert "published: BM25 (bm25s) -- MTEB baseline-bm25s" in table.attrs["notes"]
    assert "| SciFact | 0.7000 [0.700, 0.700] | 0.6874 | +0.0126 | 0.6000 [0.600, 0.600] | 0.6451 | -0.0451 |" in render(table, "md")


def test_useb_reports_stay_out_of_the_beir_table(tmp_path):
    write_report(tmp_path, "scidocs", "dense", "all-MiniLM-L6-v2", 0.2)
    useb = tmp_path / "useb" / "scidocs" / "all-MiniLM-L6-v2.json"
    useb.parent.mkdir(parents=True)
    useb.write_text(json.dumps({"benchmark": "useb", "dataset": "scidocs", "split": "test", "model": "all-MiniLM-L6-v2",
                                "method": "dense", "main_metric": "map", "metrics": {"map": 0.7}}))
    table = build_table(tmp_path)
    assert table.loc["SCIDOCS", DENSE] == pytest.approx(0.2)
    assert not any("useb" in note for note in table.attrs["notes"])


def test_a_run_on_the_first_queries_only_gets_no_published_number(tmp_path):
    published = _published(tmp_path, "scifact,BM25 (bm25s),0.6874,MTEB baseline-bm25s\n")
    write_report(tmp_path, "scifact", "bm25", "bm25s-k0_9-b0_4-first50q", 0.7, max_queries=50)

    table = build_table(tmp_path, published)

    assert list(table.columns) == ["BM25 [max_queries=50]"]
    assert "BM25 [max_queries=50]: first 50 queries only; not set against published numbers." in table.attrs["notes"]


def test_two_reports_of_one_system_are_refused(tmp_path):
    write_report(tmp_path, "scifact", "dense", "all-MiniLM-L6-v2", 0.6)
    write_report(tmp_path, "scifact", "dense", "sentence-transformers/all-MiniLM-L6-v2", 0.61)
    with pytest.raises(SgptEvalError, match="same system on the same dataset"):
        build_table(tmp_path)


def test_dataset_filter_keeps_only_those_rows(tmp_path):
    write_report(tmp_path, "scifact", "dense", "all-MiniLM-L6-v2", 0.6)
    write_report(tmp_path, "nfcorpus", "dense", "all-MiniLM-L6-v2", 0.3)
    table = build_table(tmp_path, datasets=["nfcorpus"])
    assert list(table.index) == ["NFCorpus", "Average (1 of 18 datasets run)"]
    assert table.loc["Average (1 of 18 datasets run)", DENSE] == pytest.approx(0.3)
    with pytest.raises(SgptEvalError, match="--dataset scifcat: not a BEIR dataset"):
        build_table(tmp_path, datasets=["scifcat"])


def test_shipped_published_csv_holds_the_reference_numbers():
    wide, sources = read_published()
    sgpt = [f"SGPT-{size}-weightedmean-msmarco-specb-bitfit" for size in ("125M", "1.3B", "2.7B", "5.8B")]
    public = ["trec-covid", "nfcorpus", "nq", "hotpotqa", "fiqa", "arguana", "webis-touche2020", "cqadupstack",
              "quora", "dbpedia-entity", "scidocs", "fever", "climate-fever", "scifact", "msmarco"]
    assert wide.loc[public, ["BM25 (Elasticsearch, BEIR paper)", *sgpt]].notna().all().all()
    assert wide.loc["scifact", sgpt[-1]] == 0.74693
    assert wide.loc["average-18", "SGPT-CE GPT-J-6.1B"] == 0.4623
    assert wide.loc["scifact", "all-MiniLM-L6-v2"] == 0.6451
    assert set(wide.index) == {*public, "average-18"}
    assert all(sources.values())


CE_SCORES = dict(zip(CE_11, (0.70, 0.30, 0.60, 0.40, 0.30, 0.20, 0.80, 0.40, 0.70, 0.20, 0.70)))
GPT_J = "BM25+SGPT-CE-GPT-J-6B (rerank)"
NEO = "BM25+SGPT-CE-GPT-Neo-125M (rerank)"


def _write_everywhere(results_dir: Path, method: str, model: str, scores: dict[str, float], rest: float) -> None:
    """`scores` on their datasets, `rest` on the other BEIR datasets; CQADupStack's forums at 0.30 + i / 100."""
    for name in BEIR_18:
        if name == "cqadupstack":
            for number, forum in enumerate(CQADUPSTACK_FORUMS):
                write_report(results_dir, f"cqadupstack/{forum}", method, model, 0.30 + number / 100)
        else:
            write_report(results_dir, name, method, model, scores.get(name, rest))


def test_cross_encoder_table_has_the_18_and_the_11_dataset_averages(tmp_path):
    _write_everywhere(tmp_path, "rerank", "EleutherAI/gpt-j-6B", CE_SCORES, 0.10)
    for name in CE_11:  # GPT-Neo only on the 11: no 18-dataset average of ours
        write_report(tmp_path, name, "rerank", "EleutherAI/gpt-neo-125M", 0.5)
    write_report(tmp_path, "scifact", "dense", "all-MiniLM-L6-v2", 0.6)  # not a cross-encoder table system

    table = build_paper_table(tmp_path, "ce")  # the published numbers shipped with the package

    # By hand: the 11 sum to 5.3; the other 7 are 6 x 0.10 and CQADupStack's mean 0.355.
    assert table.loc[AVERAGE_11_LABEL, GPT_J] == pytest.approx(5.3 / 11)
    assert table.loc[AVERAGE_18_LABEL, GPT_J] == pytest.approx((5.3 + 6 * 0.10 + 0.355) / 18)
    assert table.loc[AVERAGE_11_LABEL, NEO] == pytest.approx(0.5)
    assert math.isnan(table.loc[AVERAGE_18_LABEL, NEO])
    # Published beside ours under the paper's names; its 11-dataset average from its per-dataset numbers.
    assert table.loc["TREC-COVID", f"Δ {GPT_J}"] == pytest.approx(0.70 - 0.7912)
    assert table.loc[AVERAGE_18_LABEL, "published: SGPT-CE GPT-J-6.1B"] == pytest.approx(0.4623)
    assert table.loc[AVERAGE_11_LABEL, "published: SGPT-CE GPT-J-6.1B"] == pytest.approx(5.489 / 11)
    assert table.loc[AVERAGE_18_LABEL, "published: SGPT-CE GPT-Neo-125M"] == pytest.approx(0.4226)
    assert table.loc[AVERAGE_18_LABEL, "published: BM25 (Elasticsearch, SGPT re-run)"] == pytest.approx(0.4283)
    assert not any("dense" in column for column in table.columns)
    notes = table.attrs["notes"]
    assert notes[0].startswith("BEIR, cross-encoders (SGPT-CE re-ranking the BM25 top 100).")
    assert f"{AVERAGE_11_LABEL}: over TREC-COVID, NFCorpus, HotpotQA, FiQA-2018, ArguAna, Touché-2020, Quora, " \
           "DBPedia, FEVER, Climate-FEVER, SciFact; shown only where a column has all of them." in notes
    assert f"| {AVERAGE_11_LABEL} |" in render(table, "md")


def test_bi_encoder_table_shows_the_papers_columns_and_leaves_re_rankers_out(tmp_path):
    write_report(tmp_path, "scifact", "dense", "Muennighoff/SGPT-125M-weightedmean-msmarco-specb-bitfit", 0.57)
    write_report(tmp_path, "scifact", "rerank", "EleutherAI/gpt-j-6B", 0.68)

    table = build_paper_table(tmp_path, "be")

    system = "SGPT-125M-weightedmean-msmarco-specb-bitfit (dense)"
    assert list(table.columns[:3]) == [system, "published: SGPT-125M-weightedmean-msmarco-specb-bitfit", f"Δ {system}"]
    assert table.loc["SciFact", f"Δ {system}"] == pytest.approx(0.57 - 0.5690)
    assert table.loc["TREC-COVID", "published: BM25 (Elasticsearch, BEIR paper)"] == pytest.approx(0.656)
    assert table.loc["MS MARCO (dev)", "published: SGPT-5.8B-weightedmean-msmarco-specb-bitfit"] == pytest.approx(0.3991)
    assert not any("rerank" in column for column in table.columns)


def test_paper_tables_from_the_command_line(tmp_path, capsys):
    write_report(tmp_path, "scifact", "rerank", "EleutherAI/gpt-j-6B", 0.68)
    args = ["table", "--results-dir", str(tmp_path)]

    assert main([*args, "--paper-table", "ce"]) == 0
    assert "| SciFact | 0.6800 [0.680, 0.680] | 0.6817 | -0.0017 |" in capsys.readouterr().out
    assert sorted(path.name for path in (tmp_path / "tables").iterdir()) == [
        "beir_ndcg10-ce.csv", "beir_ndcg10-ce.md", "beir_ndcg10-ce.tex"]

    assert main(["table", "--results-dir", str(tmp_path), "--paper-table", "useb"]) == 0
    assert "| SGPT-125M-weightedmean-nli-bitfit | 55.66 |" in capsys.readouterr().out
    assert (tmp_path / "tables" / "useb.md").is_file()

    assert main(["table", "--results-dir", str(tmp_path), "--paper-table", "useb", "--format", "latex"]) == 2
    assert ("sgpt-eval: error: --paper-table useb: leave out --format (BEIR table options); "
            "the USEB table is Markdown, its published rows from the package's useb.csv") in capsys.readouterr().err


def test_the_bi_encoder_table_of_another_results_folder_needs_no_published_csv(tmp_path, capsys, monkeypatch):
    """The published scores come from the package, wherever the reports and the working folder are."""
    results = tmp_path / "elsewhere"
    write_report(results, "scifact", "dense", "all-MiniLM-L6-v2", 0.6)
    monkeypatch.chdir(tmp_path)
    assert main(["table", "--paper-table", "be", "--results-dir", str(results)]) == 0
    assert "| SciFact | 0.6000 [0.600, 0.600] | 0.6451 | -0.0451 |" in capsys.readouterr().out
    assert sorted(path.name for path in (results / "tables").iterdir()) == [
        "beir_ndcg10-be.csv", "beir_ndcg10-be.md", "beir_ndcg10-be.tex"]

    monkeypatch.setattr(tables, "PUBLISHED_CSV", tmp_path / "gone.csv")  # a package installed without its data
    assert main(["table", "--paper-table", "be", "--results-dir", str(results), "--output-dir", "t"]) == 2
    assert capsys.readouterr().err == (f"sgpt-eval: error: {tmp_path / 'gone.csv'}: no such published-scores CSV; "
                                       "the package's own published scores are missing: reinstall sgpt-eval\n")
    assert not (tmp_path / "t").exists()


def test_table_shows_a_custom_dataset_after_beirs_and_out_of_the_averages(tmp_path, capsys):
    write_report(tmp_path, "scifact", "dense", "all-MiniLM-L6-v2", 0.6)
    write_report(tmp_path, "nfcorpus", "dense", "all-MiniLM-L6-v2", 0.3)
    write_report(tmp_path, "msmarco", "dense", "all-MiniLM-L6-v2", 0.4)
    write_report(tmp_path, "my-papers", "dense", "all-MiniLM-L6-v2", 0.9)
    no_published = tmp_path / "no-published.csv"
    no_published.write_text("dataset,model,ndcg@10,source\n")

    code, out, _ = run_command(capsys, "table", "--results-dir", str(tmp_path), "--format", "csv", "--published-csv",
                               str(no_published))

    assert code == 0
    rows = [line.split(",") for line in out.splitlines()[1:]]
    assert [row[0] for row in rows] == ["NFCorpus", "SciFact", "MS MARCO (dev)", "my-papers",
                                        "Average (2 of 18 datasets run)"]
    assert rows[3][1] == "0.90000" and rows[4][1] == "0.45000"
    markdown = (tmp_path / "tables" / "beir_ndcg10.md").read_text()
    assert "- my-papers: not BEIR datasets; shown after them and left out of every average." in markdown

    code, out, _ = run_command(capsys, "table", "--results-dir", str(tmp_path), "--format", "csv", "--dataset", "my-papers")
    assert code == 0 and [line.split(",")[0] for line in out.splitlines()[1:]] == ["my-papers"]


def test_table_options_name_what_exists(tmp_path, capsys):
    write_report(tmp_path, "scifact", "dense", "all-MiniLM-L6-v2", 0.6)
    write_report(tmp_path, "my-papers", "dense", "all-MiniLM-L6-v2", 0.9)

    code, _, err = run_command(capsys, "table", "--results-dir", str(tmp_path), "--dataset", "scifcat")
    line = error_line(err)
    assert code == 2 and line.startswith(
        f"sgpt-eval: error: --dataset scifcat: not a BEIR dataset, and no report under {tmp_path} names it; "
        "datasets with reports: my-papers, scifact; BEIR's: trec-covid, bioasq,")

    code, _, err = run_command(capsys, "table", "--results-dir", str(tmp_path), "--published", "SGPT-5.8B")
    line = error_line(err)  # the published numbers shipped with the package, unless --published-csv
    assert code == 2 and line.startswith("sgpt-eval: error: --published SGPT-5.8B: not in the published CSV; choose from ")
    assert "SGPT-5.8B-weightedmean-msmarco-specb-bitfit" in line

    published = tmp_path / "published.csv"
    published.write_text("dataset,model,ndcg@10,source\nscifact,BM25 (bm25s),0.6874,MTEB\nscifact,SGPT-125M,0.5,paper\n")
    code, _, err = run_command(capsys, "table", "--results-dir", str(tmp_path), "--published-csv", str(published),
                               "--published", "SGPT-5.8B")
    assert code == 2 and error_line(err) == (
        "sgpt-eval: error: --published SGPT-5.8B: not in the published CSV; choose from BM25 (bm25s), SGPT-125M")
    assert not (tmp_path / "tables").exists()


def _per_query(mean: float, spread: float, queries: int = 40) -> dict[str, float]:
    """`queries` per-query scores around `mean`, alternating +-`spread` (their mean is `mean`)."""
    return {f"q{i}": round(mean + (spread if i % 2 else -spread), 6) for i in range(queries)}


def test_cells_get_intervals_baseline_marks_and_judged_at_10_in_every_format(tmp_path):
    bm25, dense, close = _per_query(0.5, 0.2), _per_query(0.8, 0.1), _per_query(0.5, 0.2)
    close = {qid: score + (0.01 if i % 4 < 2 else -0.01) for i, (qid, score) in enumerate(close.items())}
    write_report(tmp_path, "scifact", "bm25", "bm25s", 0.5, bm25)
    write_report(tmp_path, "scifact", "dense", "all-MiniLM-L6-v2", 0.8, dense)
    write_report(tmp_path, "scifact", "dense", "SmolLM2-135M", 0.5, close)
    write_report(tmp_path, "nfcorpus", "bm25", "bm25s", 0.3, _per_query(0.3, 0.1))
    write_report(tmp_path, "nfcorpus", "dense", "all-MiniLM-L6-v2", 0.31, _per_query(0.31, 0.1))
    write_report(tmp_path, "nfcorpus", "dense", "SmolLM2-135M", 0.3, _per_query(0.3, 0.1))
    path = next((tmp_path / "beir" / "scifact" / "bm25").glob("*.json"))
    payload = json.loads(path.read_text())  # judged@10 on one report only, as `annotate` writes it
    payload["metrics"].update({"Judged@10": 0.45, "OptimisticNDCG@10": 0.9})
    path.write_text(json.dumps(payload))

    table = build_table(tmp_path, _published(tmp_path), baseline="BM25", resamples=500)
    cells = table.attrs["cells"]

    low, high = cells.low.loc["SciFact", DENSE], cells.high.loc["SciFact", DENSE]
    assert low < 0.8 < high and high - low < 0.1
    assert cells.pvalue.loc["SciFact", DENSE] < 0.05 <= cells.pvalue.loc["SciFact", "SmolLM2-135M (dense)"]
    assert cells.tested == {DENSE: 2, "SmolLM2-135M (dense)": 2}  # Holm over the datasets each column is tested on
    average = cells.low.loc["Average (2 of 18 datasets run)", DENSE], cells.high.loc["Average (2 of 18 datasets run)", DENSE]
    assert average[0] < (0.8 + 0.31) / 2 < average[1]
    md = render(table, "md")
    assert "| SciFact | 0.5000 [" in md  # the baseline: its interval, no mark
    assert f"{table.loc['SciFact', 'SmolLM2-135M (dense)']:.4f} [" in md and " ≈ |" in md  # the close one is marked
    assert "| SciFact | 0.4500 | 0.9000 | n/a | n/a |" in md  # judged@10 beside NDCG@10, the unannotated say so
    latex = render(table, "latex")
    assert r"$\approx$" in latex and "0.4500 & 0.9000 & n/a" in latex
    csv = pd.read_csv(io.StringIO(render(table, "csv")), index_col=0)
    assert csv.loc["SciFact", f"{DENSE} 95% low"] == pytest.approx(low, abs=1e-5)
    assert csv.loc["SciFact", "SmolLM2-135M (dense) p vs BM25 (Holm)"] >= 0.05
    assert csv.loc["SciFact", "BM25 Judged@10"] == 0.45 and math.isnan(csv.loc["SciFact", f"{DENSE} Judged@10"])


def test_a_report_without_per_query_scores_says_so_and_a_baseline_must_be_ours(tmp_path):
    path = write_report(tmp_path, "scifact", "bm25", "bm25s", 0.5)
    payload = json.loads(path.read_text())
    payload["per_query"] = {}
    path.write_text(json.dumps(payload))

    table = build_table(tmp_path, _published(tmp_path))
    assert "| SciFact | 0.5000 (no per-query data) |" in render(table, "md")
    assert pd.read_csv(io.StringIO(render(table, "csv")), index_col=0).loc["SciFact", "BM25 note"] == "no per-query data"
    with pytest.raises(SgptEvalError, match="--baseline BM26: not a column of ours"):
        build_table(tmp_path, _published(tmp_path), baseline="BM26")
