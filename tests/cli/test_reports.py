"""The table, compare and regress subcommands, run through their argument parser."""

from __future__ import annotations

import argparse

import pytest

from sgpt_eval.cli.reports import add_commands
from sgpt_eval.errors import SgptEvalError

from ..synthetic_reports import write_report


def _run(*argv: str) -> None:
    parser = argparse.ArgumentParser(prog="sgpt-eval")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    args.handler(args, args.cache_dir)


def test_table_prints_the_chosen_format_and_writes_all_three(tmp_path, capsys):
    write_report(tmp_path, "scifact", "dense", "all-MiniLM-L6-v2", 0.6)
    _run("table", "--results-dir", str(tmp_path), "--format", "latex")
    assert "SciFact & 0.6000" in capsys.readouterr().out
    assert sorted(path.name for path in (tmp_path / "tables").iterdir()) == ["beir_ndcg10.csv", "beir_ndcg10.md", "beir_ndcg10.tex"]


def test_compare_finds_reports_by_method_and_model(tmp_path, capsys):
    write_report(tmp_path, "scifact", "dense", "all-MiniLM-L6-v2", 1.0, {"1": 1.0})
    write_report(tmp_path, "scifact", "bm25", "bm25s", 0.0, {"1": 0.0})
    _run("compare", "--results-dir", str(tmp_path), "--dataset", "scifact", "--a", "dense:all-MiniLM-L6-v2",
         "--b", "bm25:bm25s", "--permutations", "10")
    assert "A better on 1, B better on 0, tied on 0" in capsys.readouterr().out
    with pytest.raises(SgptEvalError, match="--b dense:SmolLM2-135M: no report at"):
        _run("compare", "--results-dir", str(tmp_path), "--dataset", "scifact", "--a", "dense:all-MiniLM-L6-v2",
             "--b", "dense:SmolLM2-135M")


def test_regress_records_then_fails_on_a_drift(tmp_path, capsys):
    write_report(tmp_path, "scifact", "dense", "all-MiniLM-L6-v2", 0.645)
    _run("regress", "--results-dir", str(tmp_path), "--record", "--tolerance", "0.001")
    _run("regress", "--results-dir", str(tmp_path))
    assert "every baseline in" in capsys.readouterr().out

    write_report(tmp_path, "scifact", "dense", "all-MiniLM-L6-v2", 0.6)
    with pytest.raises(SgptEvalError, match="1 baseline\\(s\\) .* not met"):
        _run("regress", "--results-dir", str(tmp_path))
    assert "FAIL" in capsys.readouterr().out


OLD = {"python": "3.11.0", "torch": "2.13.0+cpu", "transformers": "5.23.0", "faiss-cpu": "1.15.1", "numpy": "2.4.6"}
# A new transformers and numpy: only the first moves numbers, so only it is named.
NEW = {**OLD, "transformers": "5.25.0", "numpy": "2.5.0"}
WARNING = "were made with different versions of libraries that move numbers: transformers 5.23.0, 5.25.0"


def _version_warnings(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if "different versions" in record.getMessage()]


@pytest.mark.parametrize("versions_b, warned", [(OLD, False), (NEW, True)])
def test_table_says_when_its_reports_were_made_with_different_versions(tmp_path, capsys, caplog, versions_b, warned):
    write_report(tmp_path, "scifact", "dense", "all-MiniLM-L6-v2", 0.6, versions=OLD)
    write_report(tmp_path, "scifact", "bm25", "bm25s", 0.66, versions=versions_b)
    _run("table", "--results-dir", str(tmp_path))
    assert _version_warnings(caplog) == ([f"the reports in this table ({tmp_path}) {WARNING}"] if warned else [])


@pytest.mark.parametrize("versions_b, warned", [(OLD, False), (NEW, True)])
def test_compare_says_when_its_reports_were_made_with_different_versions(tmp_path, capsys, caplog, versions_b, warned):
    a = write_report(tmp_path, "scifact", "dense", "all-MiniLM-L6-v2", 1.0, {"1": 1.0}, versions=OLD)
    b = write_report(tmp_path, "scifact", "bm25", "bm25s", 0.0, {"1": 0.0}, versions=versions_b)
    _run("compare", str(a), str(b), "--permutations", "10")
    assert _version_warnings(caplog) == ([f"{a} and {b} {WARNING}"] if warned else [])


@pytest.mark.parametrize("versions_b, warned", [(OLD, False), (NEW, True)])
def test_regress_says_when_baseline_and_report_were_made_with_different_versions(tmp_path, capsys, caplog, versions_b,
                                                                                  warned):
    write_report(tmp_path, "scifact", "dense", "all-MiniLM-L6-v2", 0.645, versions=OLD)
    _run("regress", "--results-dir", str(tmp_path), "--record", "--tolerance", "0.001")
    write_report(tmp_path, "scifact", "dense", "all-MiniLM-L6-v2", 0.645, versions=versions_b)  # replaces it
    _run("regress", "--results-dir", str(tmp_path))
    assert "every baseline in" in capsys.readouterr().out  # a warning, not a failure
    baselines = tmp_path / "baselines"
    assert _version_warnings(caplog) == (
        [f"the baselines in {baselines} and the reports checked against them {WARNING}"] if warned else [])


def test_version_differences_name_each_library_that_moves_numbers_and_ignore_unrecorded_ones():
    from sgpt_eval.reports.schema import version_differences

    reports = [OLD, {**OLD, "torch": "2.14.0", "bm25s": "0.3.17"}, {"python": "3.12.0"}, {**OLD, "bm25s": "0.3.16"}]
    assert version_differences(reports) == "torch 2.13.0+cpu, 2.14.0; bm25s 0.3.16, 0.3.17"
    assert version_differences([OLD, {"python": "3.11.0"}]) == ""
