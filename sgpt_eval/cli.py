"""`sgpt-eval`: the command line. Every user-fixable problem ends in one line and exit code 2."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from . import beir_data, cli_rerank, cli_reports, cli_run, cli_useb, model_store
from .beir_download import ensure_dataset
from .cli_options import add_common, add_dataset_options, add_encoder_options, encoder_options, prepared_datasets, print_result
from .dense_eval import load_encoder, run_dense
from .errors import SgptEvalError
from .presets import PRESETS

log = logging.getLogger("sgpt_eval")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sgpt-eval", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    evaluate = commands.add_parser("eval", help="dense retrieval with a bi-encoder on BEIR datasets")
    add_dataset_options(evaluate, top_k=1000)
    evaluate.add_argument("--score-function", choices=("cos_sim", "dot"), default="cos_sim")
    evaluate.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    evaluate.add_argument("--shard-size", type=int, default=2048, help="documents per cached embedding shard")
    evaluate.add_argument("--faiss-gpu", action=argparse.BooleanOptionalAction, default=None,
                          help="search on GPU (default: when faiss sees one)")
    add_encoder_options(evaluate)
    add_common(evaluate)
    evaluate.set_defaults(handler=_eval)

    prepare = commands.add_parser("prepare-models", help="make the offline presets loadable (converts SmolLM2-135M once)")
    prepare.add_argument("names", nargs="*", help="presets to prepare (default: all offline presets)")
    add_common(prepare)
    prepare.set_defaults(handler=_prepare)

    listing = commands.add_parser("models", help="list the model presets")
    add_common(listing)
    listing.set_defaults(handler=_models)

    download = commands.add_parser("download", help="download BEIR datasets from the official address")
    download.add_argument("datasets", nargs="+")
    download.add_argument("--data-dir")
    add_common(download)
    download.set_defaults(handler=_download)

    for feature in (cli_rerank, cli_run, cli_reports, cli_useb):
        feature.add_commands(commands)
    return parser


def _eval(args: argparse.Namespace, cache_dir: Path) -> None:
    options = encoder_options(
        args, top_k=args.top_k, score_function=args.score_function, use_cache=not args.no_cache,
        shard_size=args.shard_size, faiss_gpu=args.faiss_gpu,
    )
    data_dir, names = prepared_datasets(args)
    encoder = load_encoder(options, cache_dir)
    for name in names:
        print_result(name, run_dense(name, data_dir, Path(args.output_dir), cache_dir, options, encoder, args.split))


def _prepare(args: argparse.Namespace, cache_dir: Path) -> None:
    names = args.names or [name for name, preset in PRESETS.items() if preset.offline]
    for name in names:
        preset = PRESETS.get(name)
        if preset is None or preset.offline is None:
            offline = ", ".join(n for n, p in PRESETS.items() if p.offline)
            raise SgptEvalError(f"prepare-models {name}: not an offline preset (choose from {offline})")
        print(f"{name}\t{model_store.prepare_offline(preset, cache_dir)}")


def _models(args: argparse.Namespace, cache_dir: Path) -> None:
    for preset in PRESETS.values():
        local = model_store.offline_path(preset, cache_dir)
        where = str(local) if local else preset.hub_id
        brackets = "specb" if preset.specb else "-"
        print(f"{preset.name:40s} {preset.pooling:13s} {brackets:6s} {preset.max_length or 'model':>5}  {where}")


def _download(args: argparse.Namespace, cache_dir: Path) -> None:
    data_dir = beir_data.resolve_data_dir(args.data_dir)
    for name in args.datasets:
        print(f"{name}\t{ensure_dataset(name, data_dir)}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.DEBUG if args.verbose else logging.INFO)
    cache_dir = model_store.cache_root(args.cache_dir)
    try:
        args.handler(args, cache_dir)
    except SgptEvalError as exc:
        print(f"sgpt-eval: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sgpt-eval: interrupted; finished embedding shards and re-rank scores are kept, and the next run resumes from them", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
