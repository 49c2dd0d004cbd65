"""Paper-scale benchmarks.

`search`: exact dense search over float16 embedding shards on disk (memory-mapped, one at a
time) against what the cores can do (the faster float32 matrix product of the search's own shape,
torch's or numpy's: the search's useful floating-point operations per second as a fraction of
it) and against an in-memory FAISS flat index (its hits made into the same ranking). Synthetic shards (random normal vectors, written
with the embedding cache's `write_shard`, records and sha256 included) go to a temporary folder
(under --work-dir when given: 2M x 768 float16 shards take about 3 GB), deleted afterwards. Each
measurement runs in a fresh process, so that its peak resident memory (ru_maxrss) is its own:

* sharded, full: every shard verified as a cached run verifies it (sha256), then searched;
* sharded, small: the first shards, about --flat-docs documents, searched the same way;
* flat, small: the same documents upcast into one in-memory float32 FAISS IndexFlatIP;
* sgemm: the matrix product alone.

The four alternate for --rounds rounds and each figure is the median of its rounds (peak
memory: the largest), so that a busy spell on the machine does not decide a ratio.

Cosine similarity, --queries random queries, top --top-k (+1 for the self-hit rule). With
--device cuda the shards are searched on the GPU (matrix products, as `sgpt-eval` does there).
Writes benchmarks/results/scale_search_<cpu|gpu>.json (or --output).

`ray`: SciFact's corpus encoded by all-MiniLM-L6-v2 on 2 CPUs, here (torch with 2 threads) and
on a local Ray with 2 CPUs (2 replicas of 1 thread each, `--executor ray`). Each writes a fresh
embedding cache of shards of --shard-size documents (512 by default: 11 shards for SciFact, so
that the two replicas finish close together). Wall times include loading the model (for Ray:
starting the replicas, each loading its model), not starting Ray itself, reported apart. The
vectors must be identical and the shard files equal byte for byte.
Writes benchmarks/results/ray_vs_local_cpu.json (or --output).

Each writes the machine's load average before and after: the ratios, not the absolute times,
are the point.
Run: .venv/bin/python benchmarks/bench_scale.py search [--docs 2000000] [--flat-docs 500000]
     .venv/bin/python benchmarks/bench_scale.py ray [--docs N] [--shard-size 512]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's sgpt_eval, also in the measuring processes


CPUS = 2  # the ray benchmark: local threads, Ray CPUs
MODEL = "all-MiniLM-L6-v2"


def _rss_mib() -> float:
    """This process's resident memory now (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _peak(figures: dict) -> dict:
    """The process's peak resident memory, and how far it rose above the memory at the start
    (the interpreter and the imports: torch for the sharded search, faiss alone for the flat)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux
    return {"peak_rss_mib": round(peak, 1), "peak_over_start_mib": round(peak - figures["rss_before_mib"], 1)}


def write_shards(folder: Path, docs: int, dim: int, shard_size: int, seed: int) -> list[Path]:
    from sgpt_eval.retrieval.embedding_cache import write_shard

    rng, paths = np.random.default_rng(seed), []
    for number, start in enumerate(range(0, docs, shard_size)):
        rows = min(shard_size, docs - start)
        paths.append(folder / f"shard-{number:05d}.npy")
        write_shard(paths[-1], rng.standard_normal((rows, dim), dtype=np.float32).astype(np.float16))
    return paths


def _queries(count: int, dim: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed + 1).standard_normal((count, dim), dtype=np.float32)


def measure_sharded(paths: list[str], rows: list[int], dim: int, queries: int, top_k: int, seed: int,
                    verify: bool, device: str | None = None) -> dict:
    """In a fresh process: verify (optionally) and search the shards (on `device`, a torch device,
    by matrix products; else by FAISS on the CPU); time and peak memory."""
    from sgpt_eval.retrieval.dense import search
    from sgpt_eval.retrieval.embedding_cache import Shards, read_shard

    shards, query_vectors = Shards([Path(path) for path in paths]), _queries(queries, dim, seed)
    doc_ids, query_ids = [f"d{i}" for i in range(sum(rows))], [f"q{i}" for i in range(queries)]
    figures = {"documents": len(doc_ids), "shards": len(paths), "rss_before_mib": round(_rss_mib(), 1)}
    if verify:
        clock = time.perf_counter()
        for path, count in zip(shards.shards, rows):
            read_shard(path, count)
        figures["verify_s"] = round(time.perf_counter() - clock, 2)
    clock = time.perf_counter()
    ranking = search(query_vectors, shards, query_ids, doc_ids, top_k, device=device or "cpu")
    seconds = time.perf_counter() - clock
    figures.update(search_s=round(seconds, 2), queries_per_s=round(queries / seconds, 3), **_peak(figures),
                   top_ids=[list(ranking[q])[:10] for q in query_ids[:20]])
    return figures


def measure_flat(paths: list[str], dim: int, queries: int, top_k: int, seed: int) -> dict:
    """In a fresh process: the documents in one in-memory FAISS flat index, searched, and its
    hits made into the same ranking as the sharded search returns (ids, self-hits dropped)."""
    import faiss

    from sgpt_eval.retrieval.dense import ranked_hits

    query_vectors = _queries(queries, dim, seed)
    figures = {"rss_before_mib": round(_rss_mib(), 1)}
    clock = time.perf_counter()
    docs = np.concatenate([np.load(path, allow_pickle=False) for path in paths]).astype(np.float32)
    faiss.normalize_L2(docs)
    index = faiss.IndexFlatIP(dim)
    index.add(docs)
    figures.update(documents=index.ntotal, build_s=round(time.perf_counter() - clock, 2))
    del docs
    faiss.normalize_L2(query_vectors)
    doc_ids, query_ids = [f"d{i}" for i in range(index.ntotal)], [f"q{i}" for i in range(queries)]
    clock = time.perf_counter()
    scores, indices = index.search(query_vectors, top_k + 1)
    ranking = ranked_hits(scores, indices, query_ids, doc_ids, top_k)  # the same ranking as the sharded search's
    seconds = time.perf_counter() - clock
    figures.update(search_s=round(seconds, 2), queries_per_s=round(queries / seconds, 3), **_peak(figures),
                   top_ids=[list(ranking[q])[:10] for q in query_ids[:20]])
    return figures


def measure_sgemm(queries: int, dim: int, rows: int, repeats: int = 5) -> dict:
    """In a fresh process: a float32 matrix product of the search's own shape (a chunk of queries
    against a block of documents) by torch (MKL) and by numpy (OpenBLAS), the best of `repeats`
    each; the faster of the two is what these cores can do."""
    import torch

    from sgpt_eval.retrieval.dense import SCORE_BYTES

    chunk = min(queries, SCORE_BYTES // (4 * rows))
    left, right, out = torch.randn(chunk, dim), torch.randn(rows, dim), torch.empty(chunk, rows)
    products = {"torch": lambda: torch.matmul(left, right.T, out=out),
                "numpy": lambda: np.matmul(left.numpy(), right.numpy().T, out=out.numpy())}
    figures: dict = {"shape": [chunk, dim, rows]}
    for name, product in products.items():
        product()  # warm-up
        times = []
        for _ in range(repeats):
            clock = time.perf_counter()
            product()
            times.append(time.perf_counter() - clock)
        figures[f"{name}_gflop_per_s"] = round(2 * chunk * dim * rows / min(times) / 1e9, 1)
    figures["gflop_per_s"] = max(figures["torch_gflop_per_s"], figures["numpy_gflop_per_s"])
    return figures


def _in_fresh_process(function, *args) -> dict:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def _agreement(first: dict, second: dict) -> float:
    """Share of the sampled queries whose top-10 document ids agree, in order."""
    pairs = list(zip(first["top_ids"], second["top_ids"]))
    return sum(a == b for a, b in pairs) / len(pairs)


def _median_of(rounds: list[dict]) -> dict:
    """One figure per measurement over the rounds: the median of times and rates, the largest
    peak memory, each round's own figures kept beside them."""
    summary = {}
    for key, value in rounds[0].items():
        if key == "top_ids":
            continue
        values = [figures[key] for figures in rounds if key in figures]  # verify_s: the first round only
        if key.startswith("peak"):
            summary[key] = max(values)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            summary[key] = round(statistics.median(values), 3)
        else:
            summary[key] = value
    return summary


def run_search(args: argparse.Namespace) -> dict:
    from sgpt_eval.reports.schema import hardware, package_versions
    from sgpt_eval.retrieval.dense import block_rows_for

    if args.work_dir is not None:
        args.work_dir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=args.work_dir, prefix="bench-scale-"))
    rounds: dict[str, list[dict]] = {"sgemm": [], "sharded_full": [], "sharded_small": [], "flat_small": []}
    try:
        load_before = os.getloadavg()
        clock = time.perf_counter()
        paths = write_shards(folder, args.docs, args.dim, args.shard_size, args.seed)
        written = time.perf_counter() - clock
        rows = [min(args.shard_size, args.docs - start) for start in range(0, args.docs, args.shard_size)]
        small = max(1, min(len(paths), args.flat_docs // args.shard_size))
        common = (args.dim, args.queries, args.top_k, args.seed)
        names = [str(path) for path in paths]
        for number in range(args.rounds):  # the sides alternate, so that a busy spell falls on each alike
            rounds["sgemm"].append(_in_fresh_process(measure_sgemm, args.queries, args.dim, block_rows_for(args.dim)))
            rounds["sharded_full"].append(_in_fresh_process(measure_sharded, names, rows, *common, number == 0, args.device))
            rounds["sharded_small"].append(
                _in_fresh_process(measure_sharded, names[:small], rows[:small], *common, False, args.device))
            rounds["flat_small"].append(_in_fresh_process(measure_flat, names[:small], *common))
            print(f"round {number + 1}/{args.rounds}: " + ", ".join(
                f"{name} {figures[-1].get('queries_per_s', figures[-1].get('gflop_per_s'))}"
                for name, figures in rounds.items()), file=sys.stderr)
        disk = sum(path.stat().st_size for path in paths)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    useful = 2 * args.queries * args.dim  # floating-point operations per document searched
    fractions = [useful * full["documents"] / full["search_s"] / 1e9 / sgemm["gflop_per_s"]
                 for full, sgemm in zip(rounds["sharded_full"], rounds["sgemm"])]
    over_flat = [sharded["queries_per_s"] / flat["queries_per_s"]
                 for sharded, flat in zip(rounds["sharded_small"], rounds["flat_small"])]
    same = min(_agreement(sharded, flat) for sharded, flat in zip(rounds["sharded_small"], rounds["flat_small"]))
    full = _median_of(rounds["sharded_full"])
    return {
        "benchmark": "exact cosine search, float16 shards memory-mapped one at a time, against the faster "
                     "float32 matrix product of the same shape (torch or numpy) and an in-memory FAISS "
                     "IndexFlatIP (float32) whose hits are made into the same ranking; random normal "
                     "vectors; medians of alternating rounds, each measurement in a fresh process",
        "settings": {"docs": args.docs, "dim": args.dim, "queries": args.queries, "top_k": args.top_k,
                     "shard_size": args.shard_size, "store_dtype": "float16", "seed": args.seed,
                     "rounds": args.rounds, "sharded_search_device": args.device or "cpu"},
        "shards_on_disk_gib": round(disk / 2**30, 2),
        "write_shards_s": round(written, 1),
        "sgemm": _median_of(rounds["sgemm"]),
        "sharded_full": {**full, "gflop_per_s": round(useful * full["documents"] / full["search_s"] / 1e9, 1)},
        "sharded_small": _median_of(rounds["sharded_small"]),
        "flat_small": _median_of(rounds["flat_small"]),
        "sharded_full_over_sgemm": round(statistics.median(fractions), 3),
        "sharded_over_flat_queries_per_s": round(statistics.median(over_flat), 3),
        "per_round": {"sharded_full_over_sgemm": [round(value, 3) for value in fractions],
                      "sharded_over_flat_queries_per_s": [round(value, 3) for value in over_flat]},
        "top10_agreement_small": same,
        "load_average_before": [round(value, 2) for value in load_before],
        "load_average_after": [round(value, 2) for value in os.getloadavg()],
        "versions": package_versions(),
        "hardware": hardware(),
    }


def corpus_texts(data_dir: Path, docs: int | None) -> list[str]:
    from sgpt_eval.data.beir import document_text

    with open(data_dir / "scifact" / "corpus.jsonl", encoding="utf-8") as lines:
        texts = [document_text(json.loads(line)) for line in lines]
    return texts[:docs] if docs else texts


def encode_locally(model, texts: list[str], cache) -> tuple[np.ndarray, object, dict]:
    from sgpt_eval.executors.local import LocalExecutor

    started = time.perf_counter()
    encoder = LocalExecutor().bi_encoder(model, -(-len(texts) // cache.shard_size))
    loaded = time.perf_counter()
    vectors = cache.encode(encoder, texts, "doc", "bench")[0].concatenated()
    done = time.perf_counter()
    return vectors, encoder, {"load_s": round(loaded - started, 2), "encode_s": round(done - loaded, 2),
                              "wall_s": round(done - started, 2)}


def encode_on_ray(model, texts: list[str], cache) -> tuple[np.ndarray, dict]:
    import ray

    from sgpt_eval.executors.ray_pool import RayExecutor

    started = time.perf_counter()
    ray.init(num_cpus=CPUS, include_dashboard=False)
    initialised = time.perf_counter()
    shards = -(-len(texts) // cache.shard_size)
    remote = RayExecutor(None).bi_encoder(model, shards)
    loaded = time.perf_counter()
    vectors = cache.encode(remote, texts, "doc", "bench")[0].concatenated()
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


def run_ray(args: argparse.Namespace) -> dict:
    import ray
    import torch

    from sgpt_eval import folders
    from sgpt_eval.models.options import ModelOptions
    from sgpt_eval.models.resolution import resolve_model
    from sgpt_eval.reports.schema import hardware, package_versions
    from sgpt_eval.retrieval.embedding_cache import EmbeddingCache

    texts = corpus_texts(folders.beir_dir(None), args.docs)
    model_dir = folders.cache_dir(None)
    options = ModelOptions(model=MODEL, device="cpu", batch_size=args.batch_size)
    load_before = os.getloadavg()
    torch.set_num_threads(CPUS)
    with tempfile.TemporaryDirectory() as scratch:
        local_cache, ray_cache = (EmbeddingCache(Path(scratch) / name, args.shard_size) for name in ("local", "ray"))
        model = resolve_model(options, "bi", model_dir)
        local_vectors, encoder, local = encode_locally(model, texts, local_cache)
        ray_vectors, on_ray = encode_on_ray(model, texts, ray_cache)
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
    if not (identical and files):
        sys.exit(f"Ray's vectors differ from the local ones (largest difference {figures['max_abs_difference']:.3g})")
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    search = commands.add_parser("search", help="sharded float16 search vs an in-memory FAISS flat index")
    search.add_argument("--docs", type=int, default=2_000_000)
    search.add_argument("--dim", type=int, default=768)
    search.add_argument("--queries", type=int, default=1000)
    search.add_argument("--top-k", type=int, default=1000)
    search.add_argument("--flat-docs", type=int, default=500_000, help="documents in the in-memory comparison")
    search.add_argument("--shard-size", type=int, default=2048)
    search.add_argument("--seed", type=int, default=0)
    search.add_argument("--rounds", type=int, default=3, help="alternating rounds; figures are their medians")
    search.add_argument("--work-dir", type=Path,
                        help="where the shards are written (default: the system's temporary folder)")
    search.add_argument("--device", help="search the shards on this torch device (e.g. cuda) by matrix products; "
                                         "the flat index stays FAISS on the CPU")
    search.add_argument("--output", type=Path, help="default: benchmarks/results/scale_search_<cpu|gpu>.json")
    search.set_defaults(run=run_search)
    on_ray = commands.add_parser("ray", help="encoding SciFact on a local Ray (2 replicas) vs this process")
    on_ray.add_argument("--docs", type=int, help="only the first N documents (default: all 5,183)")
    on_ray.add_argument("--shard-size", type=int, default=512, help="documents per cache shard")
    on_ray.add_argument("--batch-size", type=int, default=32)
    on_ray.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "ray_vs_local_cpu.json")
    on_ray.set_defaults(run=run_ray)
    args = parser.parse_args(argv)
    if args.command == "search" and args.output is None:
        from sgpt_eval.reports.schema import device_kind

        args.output = REPO / "benchmarks" / "results" / f"scale_search_{device_kind(args.device or 'cpu')}.json"

    from sgpt_eval.storage import write_json

    figures = args.run(args)
    write_json(args.output, figures)
    print(json.dumps({key: value for key, value in figures.items() if key not in ("versions", "hardware")}, indent=1))


if __name__ == "__main__":
    main()
