"""Real model, real data: all-MiniLM-L6-v2 on BEIR SciFact reproduces MTEB's published NDCG@10."""

import json

import pytest

from sgpt_eval.evaluation.pipeline import Models, evaluate
from sgpt_eval.evaluation.specs import RunSpec
from sgpt_eval.models.options import ModelOptions

MTEB_SCIFACT_ALL_MINILM_L6_V2 = 0.6451  # MTEB results, see sgpt_eval/reports/published


@pytest.mark.integration
def test_all_minilm_on_scifact(scifact_dir, tmp_path):
    spec = RunSpec("scifact", "dense", ModelOptions(model="all-MiniLM-L6-v2", device="cpu", batch_size=32))
    # A fresh embedding cache: the score comes from encoding now, not from an earlier run.
    report_path = evaluate(spec, scifact_dir, tmp_path / "results", Models(tmp_path / "cache")).path
    report = json.loads(report_path.read_text())
    assert report["identity"]["split"] == "test" and len(report["per_query"]["NDCG@10"]) == 300
    assert abs(report["metrics"]["NDCG@10"] - MTEB_SCIFACT_ALL_MINILM_L6_V2) <= 0.003
    assert report["identity"]["data_files_sha256"]["corpus"] == "dec31c8182f3d744c7d2c09423756fd1d17cbef75808db13ba01cc0aab4d1ac6"
