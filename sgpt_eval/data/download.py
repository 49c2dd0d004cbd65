"""Fetch datasets from their official addresses and unpack them safely: BEIR's zips (checked
against their published MD5) and USEB's data-eval.zip (which has no published checksum; every
file read is hashed into the reports instead)."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Sequence
from pathlib import Path

from ..errors import SgptEvalError, Unavailable
from ..folders import USEB_DIR_ENV, made
from ..progress import progress_bar
from ..storage import sha256_file
from .catalogue import CATALOGUE, DATASET_ORDER, family, find, folder_given

log = logging.getLogger(__name__)

BEIR_URL = "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets"
BEIR_URL_ENV = "SGPT_EVAL_BEIR_URL"  # a mirror (or a test server) with the same file names
# The address USEB's own `useb.downloading eval` fetches.
USEB_URL = "https://public.ukp.informatik.tu-darmstadt.de/kwang/unsupse-benchmark/tsdae-evaluation/data-eval.zip"
USEB_URL_ENV = "SGPT_EVAL_USEB_URL"  # a mirror (or a test server) of the same archive

def ensure_dataset(name: str, data_dir: Path) -> Path:
    """Return the dataset's folder, downloading the official zip when it is not there yet."""
    given = folder_given(name)
    folder = given or data_dir / name
    if (folder / "corpus.jsonl").is_file():
        return folder
    if given is not None:
        raise SgptEvalError(f"dataset folder {given}: no corpus.jsonl in it; give a folder in BEIR layout")
    archive_name = family(name)  # cqadupstack/android comes in cqadupstack.zip
    entry = find(name)
    if entry is not None and entry.md5 is None:
        # Official, but with no zip to download: unavailable (a batch with --skip-unavailable goes on
        # without it), never unknown.
        raise Unavailable(
            f"dataset {name}: not in {data_dir}, and BEIR may not redistribute it (no public download); "
            f"obtain it from its own source, write it in BEIR layout to {folder}, or pass --data-dir"
        )
    official = find(archive_name)
    if official is None or official.md5 is None:
        raise SgptEvalError(
            f"unknown dataset '{name}': no {folder}/corpus.jsonl and it is not an official BEIR dataset "
            f"(known: {', '.join(sorted(DATASET_ORDER))}); put a BEIR-layout folder there "
            "or pass --data-dir"
        )
    if (data_dir / archive_name).exists() and archive_name != name:
        raise SgptEvalError(f"dataset {name}: {data_dir / archive_name} exists but has no {name.split('/', 1)[1]}/corpus.jsonl")
    download_dataset(archive_name, data_dir)
    if not (folder / "corpus.jsonl").is_file():
        raise SgptEvalError(f"dataset {name}: the official archive unpacked into {data_dir} has no {folder}/corpus.jsonl")
    return folder


def download_dataset(name: str, data_dir: Path) -> Path:
    base = os.environ.get(BEIR_URL_ENV, BEIR_URL).rstrip("/")
    url = f"{base}/{name}.zip"
    with made(data_dir), tempfile.TemporaryDirectory(dir=data_dir, prefix=f".{name}.download.") as work:
        archive = Path(work) / f"{name}.zip"
        fetch(url, archive, f"download {name}.zip elsewhere and unzip it into {data_dir}, or pass --data-dir",
              context=f"dataset {name}: not in {data_dir} and ")
        actual, published = _md5(archive), CATALOGUE[name].md5
        if actual != published:
            raise SgptEvalError(f"dataset {name}: {url} has MD5 {actual}, the published one is {published}; not unpacked")
        unpacked = Path(work) / "unpacked"
        safe_extract(archive, unpacked)
        source = unpacked / name
        if not source.is_dir():
            raise SgptEvalError(f"dataset {name}: {url} does not hold a top-level '{name}/' folder")
        os.replace(source, data_dir / name)  # one rename: the folder appears whole or not at all
    return data_dir / name


def fetch(url: str, target: Path, remedy: str, context: str = "") -> None:
    """Download `url` to `target` with a progress bar; unreachable is one SgptEvalError line."""
    try:
        _fetch(url, target)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise Unavailable(f"{context}{url} is unreachable ({reason}); {remedy}") from None


def _fetch(url: str, target: Path) -> None:
    with urllib.request.urlopen(url, timeout=60) as response, open(target, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with progress_bar(total=total, unit="B", unit_scale=True, desc=f"download {url.rsplit('/', 1)[-1]}") as bar:
            while block := response.read(1 << 20):
                out.write(block)
                bar.update(len(block))


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def safe_extract(archive: Path, target: Path) -> None:
    """Unzip, refusing any member that would land outside `target` or that is a symbolic link."""
    target = target.resolve()
    with zipfile.ZipFile(archive) as zipped:
        for member in zipped.infolist():
            destination = (target / member.filename).resolve()
            if destination != target and target not in destination.parents:
                raise SgptEvalError(f"{archive}: member '{member.filename}' would be written outside {target}; not unpacked")
            if (member.external_attr >> 16) & 0o170000 == 0o120000:
                raise SgptEvalError(f"{archive}: member '{member.filename}' is a symbolic link; not unpacked")
        target.mkdir(parents=True, exist_ok=True)
        for member in zipped.infolist():
            destination = target / member.filename
            if member.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            with zipped.open(member) as source, open(destination, "wb") as out:
                shutil.copyfileobj(source, out)


def download_useb(names: Sequence[str], data_dir: Path) -> None:
    """Download data-eval.zip once and move each named USEB dataset folder into `data_dir`.

    A folder appears whole (one rename) or not at all; folders already in `data_dir` are left alone.
    """
    url = os.environ.get(USEB_URL_ENV, USEB_URL)
    if not os.access(_existing_ancestor(data_dir), os.W_OK):
        raise SgptEvalError(
            f"{data_dir} is not writable, so USEB's data-eval.zip cannot be unpacked there; "
            f"pass --data-dir (or set ${USEB_DIR_ENV}) to a writable folder"
        )
    with made(data_dir), tempfile.TemporaryDirectory(dir=data_dir, prefix=".data-eval.download.") as work:
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
