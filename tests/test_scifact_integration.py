"""Real model, real data: all-MiniLM-L6-v2 on BEIR SciFact reproduces MTEB's published NDCG@10."""

import json

import pytest

from sgpt_eval.dense_eval import DenseOptions, load_encoder, run_dense
from sgpt_eval.model_store import cache_root

MTEB_SCIFACT_ALL_MINILM_L6_V2 = 0.6451  # MTEB results, see results/published


@pytest.mark.integration
def test_all_minilm_on_scifact(scifact_dir, tmp_path):
    options = DenseOptions(model="all-MiniLM-L6-v2", device="cpu", batch_size=32)
    encoder = load_encoder(options, cache_root())
    # A fresh embedding cache: the score comes from encoding now, not from an earlier run.
    report_path = run_dense("scifact", scifact_dir, tmp_path / "results", tmp_path / "cache", options, encoder)
    report = json.loads(report_path.read_text())
    assert report["split"] == "test" and len(report["per_query"]["NDCG@10"]) == 300
    assert abs(report["metrics"]["NDCG@10"] - MTEB_SCIFACT_ALL_MINILM_L6_V2) <= 0.003
    assert report["data_files_sha256"]["corpus"] == "dec31c8182f3d744c7d2c09423756fd1d17cbef75808db13ba01cc0aab4d1ac6"
