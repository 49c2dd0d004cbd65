"""Embeddings on disk, in shards written atomically, so a second run skips encoding and an
interrupted one resumes from the last finished shard.

A cache entry is keyed by everything that changes the vectors (the encoder's settings,
including model revision, pooling, brackets, maximum length and dtype) and by the content
encoded (the corpus file's hash). Shards are plain `.npy` arrays: no pickle. Each shard has a
record beside it (`shard-00000.json`: rows, dtype, dimension and the sha256 of its bytes),
written after the shard, so a cache cannot hand back vectors it did not write: a shard that is
missing its record, does not load, or does not match its record is encoded again, with a
warning naming the file and why, and only that shard. The folder's `meta.json` says what the
entry belongs to (`sgpt-eval cache list`). Without a cache folder nothing is read or written.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..executors import LocalShards, ShardEncoder, ShardJob
from ..models.store import slug
from ..progress import progress_bar
from ..storage import digest, load_array, save_array, sha256_file, write_json

if TYPE_CHECKING:  # the run settings read DEFAULT_SHARD_SIZE without loading torch
    from ..models.bi_encoder import SGPTBiEncoder

log = logging.getLogger(__name__)

DEFAULT_SHARD_SIZE = 2048
SUBFOLDER = "embeddings"
META = "meta.json"


class DamagedShard(Exception):
    """Why a shard on disk cannot be trusted; it is encoded again."""


class EmbeddingCache:
    def __init__(self, root: Path | None, shard_size: int = DEFAULT_SHARD_SIZE) -> None:
        self.root = root  # None: encode without caching
        self.shard_size = shard_size

    def folder(self, encoder: SGPTBiEncoder, kind: str, content_id: str) -> Path:
        key = {"encoder": encoder.settings.as_dict(), "kind": kind, "content": content_id, "shard_size": self.shard_size}
        return self.root / SUBFOLDER / slug(encoder.settings.model) / f"{kind}-{digest(key, 20)}"

    def encode(
        self, encoder: SGPTBiEncoder, texts: Sequence[str], kind: str, content_id: str, batch_size: int | None = None,
        executor: ShardEncoder | None = None,
    ) -> tuple[np.ndarray, int]:
        """Encode `texts` shard by shard, reusing every shard on disk that verifies; the missing
        shards are encoded by `executor` (default: `encoder`, here) and written here.

        Returns the vectors and how many shards came from disk.
        """
        if self.root is None:
            return encoder.encode(texts, kind, batch_size), 0
        folder = self.folder(encoder, kind, content_id)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"encoder": encoder.settings.as_dict(), "kind": kind, "content": content_id, "count": len(texts),
                "shard_size": self.shard_size}
        write_json(folder / META, meta)
        shards: list[np.ndarray | None] = []
        missing = []
        for number, start in enumerate(range(0, len(texts), self.shard_size)):
            job = ShardJob(number, folder / f"shard-{number:05d}.npy", start, min(start + self.shard_size, len(texts)))
            shards.append(_reused(job.path, job.stop - job.start))
            if shards[-1] is None:
                missing.append(job)
        reused = len(shards) - len(missing)
        encoded = (executor or LocalShards(encoder, batch_size)).encode_shards(missing, texts, kind)
        for job, array in progress_bar(encoded, total=len(shards), initial=reused, desc=f"{kind} shards", unit="shard",
                                       hide=len(shards) < 2):
            write_shard(job.path, array)
            shards[job.number] = array
        log.info("%s embeddings: %d of %d shards from the cache in %s", kind, reused, len(shards), folder)
        return np.concatenate(shards), reused


def _reused(path: Path, rows: int) -> np.ndarray | None:
    """The shard at `path` if it verifies; None if it is not there or is damaged (said why)."""
    if not path.exists():
        return None
    try:
        return read_shard(path, rows)
    except DamagedShard as exc:
        log.warning("%s: %s; encoding it again", path, exc)
        return None


def record_path(shard: Path) -> Path:
    return shard.with_suffix(".json")


def write_shard(path: Path, array: np.ndarray) -> None:
    """The shard, then its record: a shard without a record is one whose write never finished."""
    save_array(path, array)
    rows, dim = array.shape
    write_json(record_path(path), {"rows": rows, "dtype": str(array.dtype), "dim": dim, "sha256": sha256_file(path)})


def read_shard(path: Path, rows: int) -> np.ndarray:
    """The shard's `rows` vectors, once the file has loaded and matched its record in every respect."""
    try:
        record = json.loads(record_path(path).read_text(encoding="utf-8"))
        recorded = (int(record["rows"]), str(record["dtype"]), int(record["dim"]), str(record["sha256"]))
    except FileNotFoundError:
        raise DamagedShard(f"no record {record_path(path).name} "
                           "(its write did not finish, or an older version wrote it)") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DamagedShard(f"its record {record_path(path).name} is unreadable ({exc})") from None
    if recorded[0] != rows:
        raise DamagedShard(f"its record says {recorded[0]} rows, the shard should hold {rows}")
    try:
        array = load_array(path)
    except (ValueError, OSError, EOFError) as exc:
        raise DamagedShard(f"not a readable .npy file ({exc})") from None
    if not isinstance(array, np.ndarray):
        raise DamagedShard("not a readable .npy file (an archive, not one array)")
    found, wanted = (str(array.dtype), array.shape), (recorded[1], (rows, recorded[2]))
    if found != wanted:
        raise DamagedShard(f"holds {found[0]} {found[1]}, its record says {wanted[0]} {wanted[1]}")
    if sha256_file(path) != recorded[3]:
        raise DamagedShard(f"its sha256 differs from the one in {record_path(path).name} (changed after it was written)")
    return array

