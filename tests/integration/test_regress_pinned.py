"""The pinned regression on real data catches a broken component (what `make regress` runs).

The pinned BM25 evaluation on SciFact (the fastest pinned run; `test_scifact_integration`
already encodes SciFact with a real bi-encoder) runs in-process with its stemmer broken on
purpose (every word cut to its first three letters), and `sgpt-eval regress` fails on it naming
the metric, the expected value, the measured one and the tolerance.
"""

from pathlib import Path
from types import SimpleNamespace

import pytest

from sgpt_eval.cli import main
from sgpt_eval.evaluation.pipeline import run_all
from sgpt_eval.evaluation.specs import read_config
from sgpt_eval.reports.regress import read_baseline
from sgpt_eval.retrieval import bm25

BASELINES = Path(__file__).resolve().parents[2] / "results" / "baselines"


def test_pinned_runs_have_baselines():
    specs = read_config(BASELINES / "pinned.toml")
    assert [spec.method for spec in specs] == ["bm25", "dense", "rerank"]
    pinned = {(b["identity"].dataset, b["identity"].method, b["identity"].settings.get("max_queries"))
              for b in map(read_baseline, BASELINES.glob("*.json"))}
    for spec in specs:
        assert (spec.dataset, spec.method, spec.run.max_queries) in pinned, spec


class _Truncating:
    """A broken stemmer: every word becomes its first three letters."""

    def stemWords(self, words):  # noqa: N802 (PyStemmer's name)
        return [word[:3] for word in words]


@pytest.mark.integration
def test_broken_stemming_fails_the_regression(scifact_dir, tmp_path, monkeypatch, capsys):
    pinned = next(spec for spec in read_config(BASELINES / "pinned.toml") if spec.method == "bm25").overriding({"use_cache": False})
    monkeypatch.setattr(bm25, "Stemmer", SimpleNamespace(Stemmer=lambda language: _Truncating()))
    [outcome] = run_all([pinned], scifact_dir, tmp_path / "results", tmp_path / "cache", force=True)
    code = main(["regress", str(outcome.path), "--baselines-dir", str(BASELINES)])
    out = capsys.readouterr()
    assert code == 2
    fail = next(line for line in out.out.splitlines() if line.startswith("FAIL"))
    assert "scifact bm25 bm25s: NDCG@10 measured" in fail and "expected 0.68630 ± 0.005" in fail
    assert "baseline(s) in" in out.err
