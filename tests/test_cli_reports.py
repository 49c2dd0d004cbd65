"""The table, compare and regress subcommands, run through their argument parser."""

from __future__ import annotations

import argparse

import pytest

from sgpt_eval.cli.reports import add_commands
from sgpt_eval.errors import SgptEvalError

from .synthetic_reports import write_report


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
