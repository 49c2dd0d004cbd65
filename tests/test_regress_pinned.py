"""The pinned regression on real data catches a broken pooling (what `make regress` runs).

The pinned dense evaluation (all-MiniLM-L6-v2 on SciFact) runs in-process with the pooling
broken on purpose (first token instead of mean), and `sgpt-eval regress` fails on it naming the
metric, the expected value, the measured one and the tolerance.
"""

import dataclasses
from pathlib import Path

import pytest

from sgpt_eval.cli import main
from sgpt_eval.evaluation.pipeline import run_all
from sgpt_eval.evaluation.specs import read_config
from sgpt_eval.folders import cache_dir as cache_root
from sgpt_eval.models import bi_encoder as encoder_module
from sgpt_eval.reports.regress import read_baseline

BASELINES = Path(__file__).resolve().parents[1] / "results" / "baselines"


def test_pinned_runs_have_baselines():
    specs = read_config(BASELINES / "pinned.toml")
    assert [spec.method for spec in specs] == ["bm25", "dense", "rerank"]
    pinned = {(b["identity"].dataset, b["identity"].method, b["identity"].settings.get("max_queries"))
              for b in map(read_baseline, BASELINES.glob("*.json"))}
    for spec in specs:
        assert (spec.dataset, spec.method, spec.settings.max_queries) in pinned, spec


@pytest.mark.integration
def test_broken_pooling_fails_the_regression(scifact_dir, tmp_path, monkeypatch, capsys):
    dense = next(spec for spec in read_config(BASELINES / "pinned.toml") if spec.method == "dense")
    dense = dataclasses.replace(dense.without_cache(), model=dataclasses.replace(dense.model, device="cpu"))
    monkeypatch.setattr(encoder_module, "pool", lambda states, mask, mode: states[:, 0])
    [outcome] = run_all([dense], scifact_dir, tmp_path, cache_root(), force=True)
    code = main(["regress", str(outcome.path), "--baselines-dir", str(BASELINES)])
    out = capsys.readouterr()
    assert code == 2
    fail = next(line for line in out.out.splitlines() if line.startswith("FAIL"))
    assert "scifact dense all-MiniLM-L6-v2: NDCG@10 measured" in fail and "expected 0.64508 ± 0.005" in fail
    assert "baseline(s) in" in out.err
