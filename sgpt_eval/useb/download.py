"""Fetch USEB's `data-eval.zip` from its published address and unpack the datasets it lacks, safely.

USEB publishes no checksum for the archive; every file read is hashed into the reports instead.
"""

from __future__ import annotations

import logging
import os
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from ..beir_download import fetch, safe_extract
from ..errors import SgptEvalError
from ..storage import sha256_file
from .data import DATA_DIR_ENV

log = logging.getLogger(__name__)

# The address USEB's own `useb.downloading eval` fetches.
USEB_URL = "https://public.ukp.informatik.tu-darmstadt.de/kwang/unsupse-benchmark/tsdae-evaluation/data-eval.zip"
USEB_URL_ENV = "SGPT_EVAL_USEB_URL"  # a mirror (or a test server) of the same archive


def download_datasets(names: Sequence[str], data_dir: Path) -> None:
    """Download data-eval.zip once and move each named dataset folder into `data_dir`.

    A folder appears whole (one rename) or not at all; folders already in `data_dir` are left alone.
    """
    url = os.environ.get(USEB_URL_ENV, USEB_URL)
    if not os.access(_existing_ancestor(data_dir), os.W_OK):
        raise SgptEvalError(
            f"{data_dir} is not writable, so USEB's data-eval.zip cannot be unpacked there; "
            f"pass --data-dir (or set ${DATA_DIR_ENV}) to a writable folder"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=data_dir, prefix=".data-eval.download.") as work:
        archive = Path(work) / "data-eval.zip"
        fetch(url, archive, f"download data-eval.zip elsewhere and unzip it so that {data_dir}/<dataset>/ holds USEB's files, "
              "or pass --data-dir")
        log.info("data-eval.zip sha256 %s", sha256_file(archive))
        unpacked = Path(work) / "unpacked"
        try:
            safe_extract(archive, unpacked)
        except zipfile.BadZipFile:
            raise SgptEvalError(f"{url} did not return a zip archive; not unpacked") from None
        root = unpacked / "data-eval" if (unpacked / "data-eval").is_dir() else unpacked
        for name in names:
            if (root / name).is_dir() and not (data_dir / name).exists():
                os.replace(root / name, data_dir / name)


def _existing_ancestor(path: Path) -> Path:
    path = path.absolute()
    while not path.exists():
        path = path.parent
    return path
