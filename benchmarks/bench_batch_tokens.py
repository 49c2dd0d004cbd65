"""Bi-encoder token budget: the same SciFact documents encoded with several `--batch-tokens`, in one process.

The budget caps the tokens (padding included) of one forward pass. A GPU wants wide batches; a
CPU does better when a batch's activations stay in its caches. This measures which budget is
fastest on this device, so that the default can follow it: the budgets take turns within each
repetition and the median of each is kept. Vectors are compared with the first budget's (the
batch layout changes float rounding only).

Each budget's model FLOPs utilisation (MFU) is the model's useful FLOPs per second over the
device's peak: per text of s tokens (padding left out) 2·N·s + 4·L·d·s², N the non-embedding
parameters, L the layers, d the attention width (the forward-pass third of PaLM's 6N + 12·L·H·Q·T
per token, Chowdhery et al. 2022, appendix B). The peak is --peak-tflops, or for a GPU named in
PEAK_TFLOPS its dense bfloat16/float16 tensor-core figure.

Writes benchmarks/results/batch_tokens_<model>_<cpu|gpu>.json.
Run: .venv/bin/python benchmarks/bench_batch_tokens.py [--model all-MiniLM-L6-v2] [--docs 1200]
     [--budgets 16384 4096] [--repeats 3]
On a GPU: ... --device cuda --dtype bfloat16 --model SmolLM2-135M --docs 5183 --budgets 16384 65536 262144
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from sgpt_eval import folders
from sgpt_eval.cli.options import set_threads
from sgpt_eval.data import beir as beir_data
from sgpt_eval.evaluation.workload import non_embedding_parameters
from sgpt_eval.models.bi_encoder import SGPTBiEncoder
from sgpt_eval.models.options import ModelOptions
from sgpt_eval.models.resolution import resolve_model
from sgpt_eval.reports.schema import device_kind, hardware, package_versions
from sgpt_eval.storage import write_json

RESULTS = Path(__file__).resolve().parent / "results"
# Dense bfloat16/float16 tensor-core peaks in TFLOPS, from NVIDIA's data sheets (half the figures
# given "with sparsity"), by a part of the name torch gives the device; the first match counts.
PEAK_TFLOPS = {"H100 PCIe": 756.0, "H100": 989.4, "H200": 989.4, "A100": 312.0}


def peak_tflops(device: str, given: float | None) -> float | None:
    """--peak-tflops, else the table's figure for this GPU, else None (no MFU)."""
    if given or torch.device(device).type != "cuda":
        return given
    name = torch.cuda.get_device_name(torch.device(device))
    return next((peak for part, peak in PEAK_TFLOPS.items() if part in name), None)


def model_flops(config, lengths: list[int]) -> float:
    """The forward pass's useful FLOPs over texts of these token counts (see the module docstring)."""
    layers, heads = config.num_hidden_layers, config.num_attention_heads
    width = heads * (getattr(config, "head_dim", None) or config.hidden_size // heads)
    parameters = non_embedding_parameters(config)
    return float(sum(2 * parameters * s + 4 * layers * width * s * s for s in lengths))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--docs", type=int, default=1200, help="the first N SciFact documents (corpus order)")
    parser.add_argument("--budgets", type=int, nargs="+", default=[16384, 4096])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--peak-tflops", type=float, help="the device's peak for MFU (default: known GPUs only)")
    parser.add_argument("--output", type=Path, help="default: benchmarks/results/batch_tokens_<model>_<cpu|gpu>.json")
    args = parser.parse_args()
    set_threads(args.threads)

    dataset = beir_data.load("scifact", folders.beir_dir(args.data_dir))
    texts = list(dataset.corpus.texts()[: args.docs])
    encoder = SGPTBiEncoder(resolve_model(ModelOptions(model=args.model, device=args.device, dtype=args.dtype), "bi",
                                          folders.cache_dir()))
    encoder.encode(texts[:16], "doc", show_progress_bar=False)  # warm-up
    lengths = list(map(len, encoder.tokenize(texts, "doc")))
    tokens, flops = sum(lengths), model_flops(encoder.model.config, lengths)
    peak = peak_tflops(args.device, args.peak_tflops)
    seconds: dict[int, list[float]] = {budget: [] for budget in args.budgets}
    vectors: dict[int, np.ndarray] = {}
    load = {"start": os.getloadavg()}
    for repeat in range(args.repeats):
        turn = args.budgets[repeat % len(args.budgets):] + args.budgets[: repeat % len(args.budgets)]
        for budget in turn:
            encoder.batch_tokens = budget
            started = time.perf_counter()
            vectors[budget] = encoder.encode(texts, "doc", show_progress_bar=False)
            seconds[budget].append(round(time.perf_counter() - started, 2))
            print(budget, seconds[budget][-1], flush=True)
    load["end"] = os.getloadavg()
    first, device = args.budgets[0], torch.device(args.device).type
    figures = {
        "benchmark": "bi-encoder token budget: the same SciFact documents encoded with each --batch-tokens, "
                     "same process, budgets taking turns; median of the repetitions",
        "model": args.model, "device": args.device, "dtype": encoder.dtype, "torch_threads": torch.get_num_threads(),
        "documents": len(texts), "tokens": tokens, "max_length": encoder.max_length,
        "device_name": torch.cuda.get_device_name(torch.device(args.device)) if device == "cuda" else None,
        "model_tflop": round(flops / 1e12, 4), "peak_tflops": peak,
        "budgets": {str(budget): {"seconds": runs, "median_s": statistics.median(runs),
                                  "tokens_per_s": round(tokens / statistics.median(runs)),
                                  "model_tflops": round(flops / 1e12 / statistics.median(runs), 3),
                                  "mfu": round(flops / 1e12 / statistics.median(runs) / peak, 4) if peak else None,
                                  f"speed_up_over_{first}": round(statistics.median(seconds[first])
                                                                  / statistics.median(runs), 3),
                                  f"max_abs_difference_vs_{first}": float(np.abs(vectors[budget] - vectors[first]).max())}
                    for budget, runs in seconds.items()},
        "loadavg": load, "versions": package_versions(), "hardware": hardware(),
    }
    write_json(args.output or RESULTS / f"batch_tokens_{args.model}_{device_kind(args.device)}.json", figures)
    for budget, row in figures["budgets"].items():
        print(budget, row["median_s"], row["mfu"], row[f"speed_up_over_{first}"], row[f"max_abs_difference_vs_{first}"])


if __name__ == "__main__":
    main()
