"""Ray against the local path: SciFact's corpus encoded by all-MiniLM-L6-v2 on 2 CPUs.

Local: this process, torch with 2 threads. Ray: a local Ray with 2 CPUs, 2 replicas of 1 thread
each (`--executor ray`). Each writes a fresh embedding cache of shards of `--shard-size` documents
(512 by default: 11 shards for SciFact, so that the two replicas finish close together; SciFact
is 3 shards at the default 2048). Wall times include loading the model (for Ray: starting the
replicas, each loading its model), not starting Ray itself, which is reported apart. The vectors
must be identical; the shard files are compared byte for byte.

Prints and writes benchmarks/results/ray_vs_local_cpu.json (or --output), with the load average
of the machine before and after: the ratio, not the absolute times, is the point.
Run: .venv/bin/python benchmarks/bench_ray.py [--docs N] [--shard-size 512]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import ray
import torch

from sgpt_eval import folders
from sgpt_eval.data.beir import document_text
from sgpt_eval.executors.ray_pool import RayExecutor
from sgpt_eval.models.bi_encoder import SGPTBiEncoder
from sgpt_eval.models.options import ModelOptions
from sgpt_eval.reports.schema import hardware, package_versions
from sgpt_eval.retrieval.embedding_cache import EmbeddingCache
from sgpt_eval.storage import write_json

REPO = Path(__file__).resolve().parents[1]
CPUS = 2
MODEL = "all-MiniLM-L6-v2"


def corpus_texts(data_dir: Path, docs: int | None) -> list[str]:
    with open(data_dir / "scifact" / "corpus.jsonl", encoding="utf-8") as lines:
        texts = [document_text(json.loads(line)) for line in lines]
    return texts[:docs] if docs else texts


def encode_locally(options: ModelOptions, model_dir: Path, texts: list[str], cache: EmbeddingCache
                   ) -> tuple[np.ndarray, SGPTBiEncoder, dict]:
    started = time.perf_counter()
    encoder = SGPTBiEncoder.from_options(options, model_dir)
    loaded = time.perf_counter()
    vectors, _ = cache.encode(encoder, texts, "doc", "bench")
    done = time.perf_counter()
    return vectors, encoder, {"load_s": round(loaded - started, 2), "encode_s": round(done - loaded, 2),
                              "wall_s": round(done - started, 2)}


def encode_on_ray(options: ModelOptions, model_dir: Path, texts: list[str], cache: EmbeddingCache,
                  encoder: SGPTBiEncoder) -> tuple[np.ndarray, dict]:
    started = time.perf_counter()
    ray.init(num_cpus=CPUS, include_dashboard=False)
    initialised = time.perf_counter()
    shards = -(-len(texts) // cache.shard_size)
    remote = RayExecutor(options, model_dir, None, None).bi_encoder(encoder.settings, shards)
    loaded = time.perf_counter()
    vectors, _ = cache.encode(encoder, texts, "doc", "bench", executor=remote)
    done = time.perf_counter()
    device = remote.device
    del remote
    ray.shutdown()
    return vectors, {"ray_init_s": round(initialised - started, 2), "load_s": round(loaded - initialised, 2),
                     "encode_s": round(done - loaded, 2), "wall_s": round(done - initialised, 2), "replicas": device}


def same_files(one: Path, other: Path) -> bool:
    names = sorted(path.name for path in one.iterdir())
    return names == sorted(path.name for path in other.iterdir()) and all(
        (one / name).read_bytes() == (other / name).read_bytes() for name in names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, help="only the first N documents (default: all 5,183)")
    parser.add_argument("--shard-size", type=int, default=512, help="documents per cache shard")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "ray_vs_local_cpu.json")
    args = parser.parse_args()
    texts = corpus_texts(folders.beir_dir(None), args.docs)
    model_dir = folders.cache_dir(None)
    options = ModelOptions(model=MODEL, device="cpu", batch_size=args.batch_size)
    load_before = os.getloadavg()
    torch.set_num_threads(CPUS)
    with tempfile.TemporaryDirectory() as scratch:
        local_cache, ray_cache = (EmbeddingCache(Path(scratch) / name, args.shard_size) for name in ("local", "ray"))
        local_vectors, encoder, local = encode_locally(options, model_dir, texts, local_cache)
        ray_vectors, on_ray = encode_on_ray(options, model_dir, texts, ray_cache, encoder)
        identical = bool(np.array_equal(local_vectors, ray_vectors))
        files = same_files(local_cache.folder(encoder, "doc", "bench"), ray_cache.folder(encoder, "doc", "bench"))
    figures = {
        "benchmark": f"{MODEL} encoding SciFact documents on {CPUS} CPUs: local (torch {CPUS} threads) vs "
                     f"Ray ({CPUS} replicas x 1 thread), fresh embedding cache each",
        "documents": len(texts),
        "shard_size": args.shard_size,
        "batch_size": args.batch_size,
        "local": local,
        "ray": on_ray,
        "vectors_identical": identical,
        "max_abs_difference": float(np.abs(local_vectors - ray_vectors).max()),
        "cache_files_identical": files,
        "overhead_ray_over_local": round(on_ray["wall_s"] / local["wall_s"] - 1, 3),
        "overhead_encode_only": round(on_ray["encode_s"] / local["encode_s"] - 1, 3),
        "load_average_before": [round(value, 2) for value in load_before],
        "load_average_after": [round(value, 2) for value in os.getloadavg()],
        "versions": {**package_versions(), "ray": ray.__version__},
        "hardware": hardware(),
    }
    write_json(args.output, figures)
    print(json.dumps({key: figures[key] for key in ("documents", "local", "ray", "vectors_identical",
                                                    "overhead_ray_over_local", "load_average_after")}, indent=2))
    if not (identical and files):
        sys.exit(f"Ray's vectors differ from the local ones (largest difference {figures['max_abs_difference']:.3g})")


if __name__ == "__main__":
    main()
