"""The Ray executor (`--executor ray`) gives the local path's vectors, cache shards and scores.

One local Ray (`ray.init(num_cpus=2)`) serves the whole module: two CPU replicas per model.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import socket
import sys
from pathlib import Path

import numpy as np
import pytest
import ray
import torch

from sgpt_eval.cli import main
from sgpt_eval.data.beir import document_text
from sgpt_eval.errors import SgptEvalError
from sgpt_eval.executors.local import LocalExecutor
from sgpt_eval.executors.ray_pool import RayExecutor, by_document
from sgpt_eval.models.cross_encoder import SGPTCrossEncoder
from sgpt_eval.models.score_cache import CachedScorer, ScoreCache
from sgpt_eval.retrieval.embedding_cache import EmbeddingCache
from sgpt_eval.retrieval.ranking import read_trec

from ..beir_fixtures import write_beir
from ..conftest import _cache_dir
from ..encoders import resolved
from ..tolerances import RTOL
from ..command_line import error_line

TEXTS = [f"document number {i} about topic {i % 3}" + " and more" * i for i in range(10)]
PAIRS = [(query, doc) for query in ("how do cells make energy", "ranking documents", "light")
         for doc in TEXTS[:5]]


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    """Ray with two CPUs; the local side runs one torch thread, as each CPU replica does (float
    sums split over another number of threads may differ in the last bits)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    ray.init(num_cpus=2, include_dashboard=False)
    yield
    ray.shutdown()
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """One model folder for the whole module, so that the direct and the command-line tests of a
    model share its replicas (they are kept for the next run of the same model)."""
    return tmp_path_factory.mktemp("ray-cache")


def _files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_bi_encoder_shards_are_the_local_ones_and_a_mixed_cache_resumes(tiny_gpt_neo, model_dir, tmp_path):
    model = resolved(tiny_gpt_neo, "bi", model_dir, device="cpu")
    local = LocalExecutor().bi_encoder(model, shards=4)
    remote = RayExecutor(None).bi_encoder(model, shards=4)
    assert remote.device == "ray: 2 x cpu"
    vectors, _ = EmbeddingCache(tmp_path / "local", 3).encode(local, TEXTS, "doc", "c")
    by_ray, reused = EmbeddingCache(tmp_path / "ray", 3).encode(remote, TEXTS, "doc", "c")
    assert reused == 0 and np.array_equal(by_ray, vectors)
    local_folder = EmbeddingCache(tmp_path / "local", 3).folder(local, "doc", "c")
    ray_folder = EmbeddingCache(tmp_path / "ray", 3).folder(local, "doc", "c")
    assert len(_files(ray_folder)) == 9 and _files(ray_folder) == _files(local_folder)  # meta + 4 x (shard, record)

    mixed = EmbeddingCache(tmp_path / "mixed", 3)
    folder = mixed.folder(local, "doc", "c")
    shutil.copytree(local_folder, folder)
    for number in (1, 3):  # half the shards from the local run; Ray encodes the other half
        for suffix in (".npy", ".json"):
            (folder / f"shard-{number:05d}{suffix}").unlink()
    resumed, reused = mixed.encode(remote, TEXTS, "doc", "c")
    assert reused == 2 and np.array_equal(resumed, vectors) and _files(folder) == _files(local_folder)
    assert np.array_equal(EmbeddingCache(None).encode(remote, TEXTS, "query", "q")[0],
                          local.encoder.encode(TEXTS, "query"))


def test_a_worker_without_the_model_s_files_is_one_line(tiny_gpt_neo, model_dir, tmp_path):
    """Workers load the model this process resolved, from the same path: a node without it says so."""
    model = resolved(tiny_gpt_neo, "bi", model_dir, device="cpu")
    elsewhere = dataclasses.replace(model, source=dataclasses.replace(model.source, path=tmp_path / "elsewhere"))
    with pytest.raises(SgptEvalError) as caught:
        RayExecutor(None).bi_encoder(elsewhere, shards=1)
    assert str(caught.value) == (f"--executor ray: a worker could not load the model: model {tiny_gpt_neo}: "
                                 f"{tmp_path / 'elsewhere'} is not on this worker; give every node the model's "
                                 "files at the same path")


def test_a_model_resolved_for_a_gpu_needs_a_cluster_with_one(tiny_gpt_neo, model_dir):
    on_gpu = dataclasses.replace(resolved(tiny_gpt_neo, "bi", model_dir, device="cpu"), device="cuda")
    with pytest.raises(SgptEvalError) as caught:
        RayExecutor(None).bi_encoder(on_gpu, shards=1)
    assert str(caught.value) == (f"--executor ray: model {tiny_gpt_neo} runs on cuda, and the Ray cluster has no "
                                 "such device; pass --device cpu, or join a cluster with GPUs")


def test_a_dense_run_on_ray_writes_the_local_run_s_shards_ranking_and_identity(tiny_gpt_neo, model_dir, tmp_path,
                                                                             capsys):
    assert _cli(capsys, tmp_path, "eval", tiny_gpt_neo, "--shard-size", "1", cache_dir=tmp_path / "cache")[0] == 0
    local = _ranking_and_identity(tmp_path / "out")
    assert _cli(capsys, tmp_path, "eval", tiny_gpt_neo, "--shard-size", "1", "--executor", "ray",
                cache_dir=model_dir, output_dir=tmp_path / "ray")[0] == 0
    assert _ranking_and_identity(tmp_path / "ray") == local
    [here], [there] = ((cache / "embeddings").glob("*/doc-*") for cache in (tmp_path / "cache", model_dir))
    assert here.name == there.name and _files(here) == _files(there)


def test_cross_encoder_scores_are_the_local_ones_and_cached_by_the_driver(tiny_gpt_neo, model_dir, tmp_path):
    """Replicas score pairs grouped by document, a local run in batches of its own: equal within
    float32 rounding (tolerances.py). Vectors above come from the same shards in the same batches,
    and are equal to the bit."""
    model = resolved(tiny_gpt_neo, "cross", model_dir, device="cpu")
    local, remote = (CachedScorer(scorer, ScoreCache.for_settings(tmp_path / where, model.settings.as_dict()))
                     for scorer, where in ((SGPTCrossEncoder(model), "local"),
                                           (RayExecutor(None).cross_encoder(model, len(PAIRS)), "ray")))
    scores = local.predict(PAIRS, batch_size=4)
    by_ray = remote.predict(PAIRS, batch_size=4)
    assert remote.pairs_from_cache == 0
    np.testing.assert_allclose(by_ray, scores, rtol=RTOL, atol=0)
    local_cache, ray_cache = (ScoreCache(scorer.cache.path).scores for scorer in (local, remote))
    assert ray_cache.keys() == local_cache.keys()
    np.testing.assert_allclose([ray_cache[key] for key in local_cache], list(local_cache.values()), rtol=RTOL, atol=0)
    assert remote.predict(PAIRS[::-1]) == by_ray[::-1] and remote.pairs_from_cache == len(PAIRS)


def test_a_rerank_run_on_ray_has_the_local_run_s_ranking_and_identity(tiny_gpt_neo, model_dir, tmp_path, capsys):
    assert _cli(capsys, tmp_path, "rerank", tiny_gpt_neo, cache_dir=tmp_path / "cache")[0] == 0
    local_identity, local_ranking = _identity_and_scores(tmp_path / "out")
    assert _cli(capsys, tmp_path, "rerank", tiny_gpt_neo, "--executor", "ray", cache_dir=model_dir,
                output_dir=tmp_path / "ray")[0] == 0
    ray_identity, ray_ranking = _identity_and_scores(tmp_path / "ray")
    assert ray_identity == local_identity and ray_ranking.keys() == local_ranking.keys()
    for query_id, hits in local_ranking.items():
        assert ray_ranking[query_id].keys() == hits.keys()
        np.testing.assert_allclose([ray_ranking[query_id][doc] for doc in hits], list(hits.values()),
                                   rtol=RTOL, atol=0)


def test_pairs_are_split_by_document():
    docs = ["a", "b", "a", "c", "b", "a", "d"]
    assert by_document(docs, 3) == [[0, 2, 5], [1, 4, 3], [6]]
    assert by_document(docs, 1) == [[0, 2, 5], [1, 4], [3], [6]]


def _cli(capsys, tmp_path: Path, command: str, model: Path, *extra: str, cache_dir: Path | None = None,
         output_dir: Path | None = None) -> tuple[int, str]:
    data_dir = write_beir(tmp_path / "data" / "toy").parent
    capsys.readouterr()
    code = main([command, "--dataset", "toy", "--data-dir", str(data_dir), "--model", str(model), "--device", "cpu",
                 "--top-k", "3", "--output-dir", str(output_dir or tmp_path / "out"),
                 "--cache-dir", str(cache_dir or tmp_path / "cache"), *extra])
    return code, capsys.readouterr().err


def _report_and_ranking(output_dir: Path) -> tuple[Path, Path]:
    [report] = output_dir.rglob("*.json")
    [ranking] = [path for path in report.parent.iterdir() if path != report]
    return report, ranking


def _ranking_and_identity(output_dir: Path) -> tuple[dict, bytes]:
    """The report's identity and the bytes of the ranking file beside it."""
    report, ranking = _report_and_ranking(output_dir)
    return json.loads(report.read_text())["identity"], ranking.read_bytes()


def _identity_and_scores(output_dir: Path) -> tuple[dict, dict[str, dict[str, float]]]:
    """The report's identity and the scores of the ranking file beside it."""
    report, ranking = _report_and_ranking(output_dir)
    return json.loads(report.read_text())["identity"], read_trec(ranking)


def test_all_minilm_on_scifact_documents(scifact_dir, tmp_path):
    with open(scifact_dir / "scifact" / "corpus.jsonl", encoding="utf-8") as lines:
        texts = [document_text(json.loads(next(lines))) for _ in range(64)]
    model = resolved("all-MiniLM-L6-v2", "bi", _cache_dir(), device="cpu")
    local, remote = LocalExecutor().bi_encoder(model, shards=2), RayExecutor(None).bi_encoder(model, shards=2)
    vectors, _ = EmbeddingCache(tmp_path / "local", 32).encode(local, texts, "doc", "scifact-64")
    by_ray, _ = EmbeddingCache(tmp_path / "ray", 32).encode(remote, texts, "doc", "scifact-64")
    assert np.array_equal(by_ray, vectors)


def test_executor_ray_without_ray_is_one_line(tiny_gpt_neo, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if it were not installed
    code, err = _cli(capsys, tmp_path, "eval", tiny_gpt_neo, "--executor", "ray")
    assert code == 2 and error_line(err) == ("sgpt-eval: error: --executor ray: needs the ray package; "
                                              "pip install 'sgpt-eval[ray]'")
    assert not (tmp_path / "out").exists()


def test_an_unreachable_ray_address_is_one_line(tiny_gpt_neo, tmp_path, capsys):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    code, err = _cli(capsys, tmp_path, "rerank", tiny_gpt_neo, "--executor", "ray", "--ray-address", address)
    assert code == 2 and error_line(err) == (f"sgpt-eval: error: --ray-address {address}: nothing answers there "
                                              "(Connection refused); start the cluster (ray start --head) or "
                                              "correct the address")
    assert not (tmp_path / "out").exists()


def test_a_ray_address_without_the_ray_executor_is_refused(tiny_gpt_neo, tmp_path, capsys):
    code, err = _cli(capsys, tmp_path, "eval", tiny_gpt_neo, "--ray-address", "auto")
    assert code == 2 and error_line(err) == ("sgpt-eval: error: --ray-address auto: only used with --executor ray; "
                                              "add --executor ray")
    assert not (tmp_path / "out").exists()
