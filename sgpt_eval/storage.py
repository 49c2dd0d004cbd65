"""Atomic writes and content hashes: nothing on disk is ever half-written, and every key is
made one way (`digest` of canonical JSON). Text stored compressed (gzip) is written so that the
same text always gives the same bytes, and read back by its contents, whatever its name."""

from __future__ import annotations

import errno
import gzip
import hashlib
import io
import json
import os
import shutil
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np

from .errors import SgptEvalError

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file beside `path`; rename it over `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes files private; results are for sharing
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if exc.filename is not None:
            raise
        raise _named(exc, path) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_NEARLY_FULL = 1 << 20  # bytes free below which a short write is put down to a full disk


def _named(exc: OSError, path: Path) -> OSError:
    """A write error with the file (or folder) it was for: Python's own leave it out, and numpy's
    short write ("38400 requested and 14304 written") has no cause either, which a nearly full disk
    gives it."""
    code = exc.errno
    if code is None and shutil.disk_usage(path.parent).free < _NEARLY_FULL:
        code = errno.ENOSPC
    reason = exc.strerror or str(exc)
    if exc.errno is None and code is not None:
        reason = f"{reason} ({os.strerror(code)})"
    return OSError(code, reason, str(path))


@contextmanager
def atomic_folder(target: str | Path) -> Iterator[Path]:
    """A fresh folder beside `target` to fill; renamed to `target` in one step if the block succeeds.

    When another process renamed the same folder into place first, its copy is kept.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        yield work
        work.chmod(0o777 & ~_UMASK)  # mkdtemp makes folders private
        try:
            os.replace(work, target)
        except OSError:
            if not target.is_dir():
                raise
    except OSError as exc:
        if exc.filename is not None:
            raise
        raise _named(exc, target) from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)


GZIP_MAGIC = b"\x1f\x8b"
GZIP_LEVEL = 9  # the smallest zlib makes: ArguAna's rankings come out 8% smaller than at its default, 6


@contextmanager
def atomic_gzip(path: str | Path) -> Iterator[IO[str]]:
    """A text handle whose UTF-8 lines land gzip-compressed in `path`, atomically (`atomic_open`)
    and deterministically: no file name and no time (mtime 0) in the gzip header, so the same
    text always gives the same bytes and a rewritten ranking leaves git nothing to store."""
    with atomic_open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=GZIP_LEVEL, mtime=0) as packed:
            with io.TextIOWrapper(packed, encoding="utf-8", newline="") as text:
                yield text


def is_gzip(path: str | Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(len(GZIP_MAGIC)) == GZIP_MAGIC


def open_contents(path: str | Path) -> IO[bytes]:
    """The bytes a file holds, decompressed when it is gzip (told by its first bytes, not its name);
    read them inside `gzip_checked`."""
    if is_gzip(path):  # buffered over gzip's own reader: lines are then read at C speed, not in Python
        return io.BufferedReader(gzip.GzipFile(path, "rb"), buffer_size=2**20)
    return open(path, "rb")


@contextmanager
def gzip_checked(path: str | Path) -> Iterator[None]:
    """A truncated or corrupt gzip file, met while reading `path`, as one error naming it."""
    try:
        yield
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise SgptEvalError(f"{path}: a damaged gzip file ({exc}); write it again") from None


def write_json(path: str | Path, payload: Any) -> None:
    with atomic_open(path) as handle:
        json.dump(payload, handle, indent=2, sort_keys=False)
        handle.write("\n")


def save_array(path: str | Path, array: np.ndarray) -> None:
    """Save one array as .npy (never pickled objects: `allow_pickle=False` on both ends)."""
    with atomic_open(path, "wb") as handle:
        np.save(handle, array, allow_pickle=False)


def sha256_file(path: str | Path, chunk_size: int = 1 << 20) -> str:
    with open(path, "rb") as handle:
        return _sha256(handle, chunk_size)


def sha256_contents(path: str | Path) -> str:
    """sha256 of what a file holds, decompressed when it is gzip: the same ranking has the same
    hash stored plain or compressed (and at any compression level)."""
    with gzip_checked(path), open_contents(path) as handle:
        return _sha256(handle)


def _sha256(handle: IO[bytes], chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    while block := handle.read(chunk_size):
        digest.update(block)
    return digest.hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def digest(payload: Any, length: int = 16) -> str:
    """The key of anything JSON can hold: sha256 of its canonical form (sorted keys, no spaces)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return sha256_text(text)[:length]
