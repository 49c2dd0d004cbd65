"""`sgpt-eval export`: its options, where the MTEB results go by default, and what it prints."""

from __future__ import annotations

import pytest

from sgpt_eval.cli import export as cli_export, main

from ..command_line import parse
from ..synthetic_reports import write_report

SGPT = "SGPT-125M-weightedmean-msmarco-specb-bitfit"


def test_the_format_is_required_and_mteb_is_the_one_there_is(capsys):
    for argv in ([], ["--format", "trec"]):
        with pytest.raises(SystemExit) as exited:
            parse(cli_export, "export", *argv)
        assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "the following arguments are required: --format" in err
    assert "argument --format: invalid choice: 'trec' (choose from " in err
    assert "mteb" in err.rsplit("choose from", 1)[1]  # quoted or not, by Python version


def test_results_go_under_the_results_folder_unless_told_and_each_file_is_named(tmp_path, capsys):
    pytest.importorskip("mteb")
    results = tmp_path / "results"
    write_report(results, "scifact", "dense", SGPT, 0.61)
    write_report(results, "nfcorpus", "dense", SGPT, 0.31)

    args = parse(cli_export, "export", "--format", "mteb", "--results-dir", str(results))
    args.handler(args, tmp_path / "cache")

    out = capsys.readouterr().out.splitlines()
    folder = results / "mteb" / "results" / f"Muennighoff__{SGPT}" / "r1"
    assert sorted(out[:-1]) == [f"exported {folder / 'NFCorpus.json'}", f"exported {folder / 'SciFact.json'}"]
    assert out[-1] == (f"export: 2 MTEB task result(s) in {results / 'mteb'}; "
                       f"read them with mteb.ResultCache({str(results / 'mteb')!r}).load_results()")
    assert (folder / "SciFact.json").is_file()


def test_nothing_to_export_is_an_error_and_writes_nothing(tmp_path, capsys, caplog):
    pytest.importorskip("mteb")
    results = tmp_path / "results"
    write_report(results, "scifact", "dense", SGPT, 0.61, max_queries=10)  # partial: MTEB's scores cover every query

    assert main(["export", "--format", "mteb", "--results-dir", str(results)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == (f"sgpt-eval: error: {results}: none of its 1 BEIR report(s) can be exported (the 'not exported' "
                       "lines above say why); nothing was written")
    assert "not exported: " in caplog.text and "it covers the first 10 queries only" in caplog.text
    assert not (results / "mteb").exists()
