"""`sgpt-eval plan`'s table: one row per run, a totals row over what is known, "-" where a run has
no such work and "unknown" where it has but it cannot be estimated; the same plan as JSON."""

from __future__ import annotations

import json

from sgpt_eval.cli import plan as cli_plan
from sgpt_eval.evaluation.workload import Workload

from ..beir_fixtures import DOCS, write_beir
from ..command_line import parse


def test_the_table_has_a_row_per_run_and_the_totals(tmp_path, tiny_gpt_neo, capsys):
    write_beir(tmp_path / "data" / "toy")
    args = parse(cli_plan, "plan", "--dataset", "toy", "--method", "bm25", "--method", "dense", "--model",
                 str(tiny_gpt_neo), "--data-dir", str(tmp_path / "data"), "--json", str(tmp_path / "plan.json"))
    args.handler(args, tmp_path / "cache")

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == list(cli_plan._COLUMNS)
    assert set(lines[1]) == set(lines[4]) == {"-"} and len(lines[1]) == len(lines[0])
    bm25, dense, total = (line.split() for line in (lines[2], lines[3], lines[5]))
    assert bm25 == ["toy", "bm25", "-", "4", "3", "-", "-", "-", "-", "-", "-"]  # BM25 has no model work
    assert dense[:5] == ["toy", "dense", str(tiny_gpt_neo), "4", "3"]
    assert dense[8:] == ["1.0", "KiB", "-", "<0.01"]  # 4 float32 vectors of 64; no pairs
    assert total[:4] == ["total", "-", "-", "-"] and total[4] == dense[5]  # no method, model or counts; dense's tokens

    plan = json.loads((tmp_path / "plan.json").read_text())
    assert [(run["method"], run["documents"]) for run in plan["runs"]] == [("bm25", len(DOCS)), ("dense", len(DOCS))]
    assert plan["totals"]["tokens"] == plan["runs"][1]["tokens"] and plan["totals"]["pairs"] is None
    assert plan["totals"]["embedding_bytes"] == 4 * 64 * 4 and plan["throughput"] == lines[6]


def test_totals_sum_what_is_known_and_cells_say_what_is_not():
    rows = [Workload("a", "dense", "m", document_tokens=1_000_000, query_tokens=None, flops=2e12,
                     embedding_bytes=3 << 30, device_hours=0.004),
            Workload("b", "rerank", "m", document_tokens=234_567, query_tokens=1_000, pairs=1_500,
                     device_hours=1234.5),
            Workload("c", "dense", "m", notes=("no tokenizer",))]
    totals = cli_plan._totals(rows)
    assert (totals.document_tokens, totals.query_tokens, totals.tokens) == (1_234_567, 1_000, 1_235_567)
    assert (totals.flops, totals.embedding_bytes, totals.pairs, totals.device_hours) == (2e12, 3 << 30, 1_500, 1234.504)

    assert cli_plan._cells(rows[0])[5:] == ["1M", "unknown", "2.00e+12", "3.0 GiB", "-", "<0.01"]
    assert cli_plan._cells(rows[1])[5:] == ["236k", "unknown", "unknown", "-", "1,500", "1,234.50"]
    assert cli_plan._cells(rows[2])[3:] == ["unknown"] * 6 + ["-", "unknown"]
    assert cli_plan._cells(totals)[:5] == ["total", "", "-", "-", "-"]
