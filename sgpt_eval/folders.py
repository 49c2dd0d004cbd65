"""Where things live: the one place that decides the data, output and cache folders.

Each folder is the command-line option when given, else an environment variable, else a
default under the working directory (the cache: under the user's home).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import SgptEvalError

BEIR_DIR_ENV = "SGPT_EVAL_BEIR_DIR"
USEB_DIR_ENV = "SGPT_EVAL_USEB_DIR"
CACHE_ENV = "SGPT_EVAL_CACHE"
RESULTS_DIR = Path("results")

PathOption = str | os.PathLike | None


def beir_dir(option: PathOption = None) -> Path:
    """BEIR datasets: --data-dir, then $SGPT_EVAL_BEIR_DIR, then ./datasets (the Makefile passes ../shared/beir)."""
    return Path(option or os.environ.get(BEIR_DIR_ENV) or "datasets")


def useb_dir(option: PathOption = None) -> Path:
    """USEB's data-eval folder: --data-dir, then $SGPT_EVAL_USEB_DIR, then ./data-eval."""
    return Path(option or os.environ.get(USEB_DIR_ENV) or "data-eval")


def cache_dir(option: PathOption = None) -> Path:
    """Models, embeddings, BM25 indexes and re-rank scores: --cache-dir, then $SGPT_EVAL_CACHE, then ~/.cache/sgpt_eval."""
    return Path(option or os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "sgpt_eval")


def results_dir(option: PathOption = None) -> Path:
    """Reports, rankings, tables and baselines: --output-dir / --results-dir, else ./results."""
    return Path(option or RESULTS_DIR)


def check_writable(folder: Path, hint: str) -> None:
    """Fail now, naming `folder`, when it cannot be created or written: before hours of work whose
    results could not be saved. Folders made for the probe are removed again, so that a run which
    stops early leaves nothing behind."""
    try:
        with made(folder, keep=False), tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise SgptEvalError(f"{folder}: cannot create or write this folder ({exc.strerror or exc}); {hint}") from None


@contextmanager
def made(folder: Path, keep: bool = True) -> Iterator[Path]:
    """`folder`, created with its parents for the body; the folders it made are removed again (where
    still empty) when the body fails, or in any case unless `keep`, so that a failed step leaves none."""
    folder = Path(folder)
    missing = [path for path in (folder, *folder.parents) if not path.exists()]  # deepest first
    kept = False
    try:
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
        kept = keep
    finally:
        for path in missing if not kept else ():
            try:
                path.rmdir()
            except OSError:  # never made (mkdir failed first), or filled meanwhile by another run
                pass
