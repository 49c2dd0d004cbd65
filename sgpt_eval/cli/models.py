"""`sgpt-eval models`, `prepare-models` and `download`: what can be evaluated, and getting it here."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import folders
from ..errors import SgptEvalError
from ..models import store
from ..models.presets import PRESETS
from .options import add_common


def add_commands(commands: argparse._SubParsersAction) -> None:
    prepare = commands.add_parser("prepare-models", help="make the offline presets loadable (converts SmolLM2-135M once)")
    prepare.add_argument("names", nargs="*", help="presets to prepare (default: all offline presets)")
    add_common(prepare)
    prepare.set_defaults(handler=_prepare)

    listing = commands.add_parser("models", help="list the model presets")
    add_common(listing)
    listing.set_defaults(handler=_models)

    download = commands.add_parser("download", help="download BEIR datasets from the official address")
    download.add_argument("datasets", nargs="+", metavar="DATASET", help="BEIR dataset names, e.g. scifact nfcorpus")
    download.add_argument("--data-dir", help=f"where they go (default: ${folders.BEIR_DIR_ENV} or ./datasets)")
    add_common(download)
    download.set_defaults(handler=_download)


def _prepare(args: argparse.Namespace, cache_dir: Path) -> None:
    names = args.names or [name for name, preset in PRESETS.items() if preset.offline]
    for name in names:
        preset = PRESETS.get(name)
        if preset is None or preset.offline is None:
            offline = ", ".join(n for n, p in PRESETS.items() if p.offline)
            raise SgptEvalError(f"prepare-models {name}: not an offline preset (choose from {offline})")
        print(f"{name}\t{store.prepare_offline(preset, cache_dir)}")


def _models(args: argparse.Namespace, cache_dir: Path) -> None:
    for preset in PRESETS.values():
        local = store.offline_path(preset, cache_dir)
        where = str(local) if local else preset.hub_id
        brackets = "specb" if preset.specb else "-"
        use = preset.pooling if preset.kind == "bi" else "cross-encoder"
        revision = f"@{preset.revision}" if preset.revision else ""
        print(f"{preset.name:40s} {use:13s} {brackets:6s} {preset.max_length or 'model':>5}  {where}{revision}")


def _download(args: argparse.Namespace, cache_dir: Path) -> None:
    from ..data.download import ensure_dataset

    data_dir = folders.beir_dir(args.data_dir)
    for name in args.datasets:
        print(f"{name}\t{ensure_dataset(name, data_dir)}")
