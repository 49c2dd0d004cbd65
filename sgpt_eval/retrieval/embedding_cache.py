"""Embeddings on disk, in shards written atomically, so a second run skips encoding and an
interrupted one resumes from the last finished shard; read back memory-mapped, one shard at a
time, so that searching a corpus never needs it whole in memory.

A cache entry is keyed by everything that changes the vectors (the encoder's settings,
including model revision, pooling, brackets, maximum length and dtype; the storage dtype when
it is not float32) and by the content encoded (the corpus file's hash). Shards are plain `.npy`
arrays: no pickle. Each shard has a record beside it (`shard-00000.json`: rows, dtype,
dimension and the sha256 of its bytes), written after the shard, so a cache cannot hand back
vectors it did not write: a shard that is missing its record, does not load, or does not match
its record is encoded again, with a warning naming the file and why, and only that shard. The
folder's `meta.json` says what the entry belongs to (`sgpt-eval cache list`).

Without a cache folder nothing is read or written, and the shards stay in memory as a list of
arrays (never concatenated): memory then grows with the corpus, so large corpora need the cache.

Finding the work (`EmbeddingCache.jobs`, `reusable`) is kept apart from doing it: the missing
shards are encoded here, or by an executor (`sgpt_eval.executors`: Ray replicas) that hands
back the vectors, and either way written here with `write_shard`, so caches filled one way are
resumed and reused the other.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..executors import DEFAULT_SHARD_SIZE, ShardEncoder, ShardJob
from ..models.store import slug
from ..progress import progress_bar
from ..storage import digest, save_array, sha256_file, write_json

log = logging.getLogger(__name__)

DEFAULT_DTYPE = "float32"
STORE_DTYPES = ("float32", "float16")
SUBFOLDER = "embeddings"
META = "meta.json"


class DamagedShard(Exception):
    """Why a shard on disk cannot be trusted; it is encoded again."""


class Shards(Sequence):
    """Vectors as consecutive shards: shard files, memory-mapped when indexed (so only the shard
    being read occupies memory, and only while it is), or arrays already in memory."""

    def __init__(self, shards: Sequence[Path | np.ndarray]) -> None:
        self.shards = tuple(shards)

    def __len__(self) -> int:
        return len(self.shards)

    def __getitem__(self, number: int | slice) -> np.ndarray | Shards:
        if isinstance(number, slice):
            return Shards(self.shards[number])
        shard = self.shards[number]
        return open_shard(shard) if isinstance(shard, Path) else shard

    def concatenated(self) -> np.ndarray:
        """All rows in one array: for queries and small corpora, never a corpus at scale."""
        return np.concatenate(list(self))

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        vectors = self.concatenated()
        return vectors if dtype is None else vectors.astype(dtype, copy=False)


class EmbeddingCache:
    def __init__(self, root: Path | None, shard_size: int = DEFAULT_SHARD_SIZE) -> None:
        self.root = root  # None: encode without caching
        self.shard_size = shard_size

    def key(self, encoder: ShardEncoder, kind: str, content_id: str, dtype: str = DEFAULT_DTYPE) -> dict:
        """The entry's key; the storage dtype only when it is not float32, so float32 entries
        written before it existed keep their folder."""
        key = {"encoder": encoder.settings.as_dict(), "kind": kind, "content": content_id, "shard_size": self.shard_size}
        return key if dtype == DEFAULT_DTYPE else {**key, "store_dtype": dtype}

    def folder(self, encoder: ShardEncoder, kind: str, content_id: str, dtype: str = DEFAULT_DTYPE) -> Path:
        key = self.key(encoder, kind, content_id, dtype)
        return self.root / SUBFOLDER / slug(encoder.settings.model) / f"{kind}-{digest(key, 20)}"

    def jobs(self, encoder: ShardEncoder, count: int, kind: str, content_id: str,
             dtype: str = DEFAULT_DTYPE) -> list[ShardJob]:
        """Every shard of the entry for `count` texts, in order; with a cache folder, each with
        its file (the folder and its `meta.json` are made here)."""
        if dtype not in STORE_DTYPES:
            raise ValueError(f"dtype must be one of {STORE_DTYPES}, not {dtype!r}")
        spans = [(start, min(start + self.shard_size, count)) for start in range(0, count, self.shard_size)]
        if self.root is None:
            return [ShardJob(number, kind, start, stop, dtype) for number, (start, stop) in enumerate(spans)]
        folder = self.folder(encoder, kind, content_id, dtype)
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / META, {**self.key(encoder, kind, content_id, dtype), "count": count})
        return [ShardJob(number, kind, start, stop, dtype, folder / f"shard-{number:05d}.npy")
                for number, (start, stop) in enumerate(spans)]

    def encode(self, encoder: ShardEncoder, texts: Sequence[str], kind: str, content_id: str,
               dtype: str = DEFAULT_DTYPE) -> tuple[Shards, int]:
        """Encode `texts` shard by shard (slicing `texts` per shard only), reusing every shard on
        disk that verifies; the missing ones are encoded by `encoder` (in this process or on an
        executor's replicas) and written here.

        Returns the vectors as shards (files with a cache folder, arrays without one; queries
        take `.concatenated()`) and how many shards came from disk.
        """
        jobs = self.jobs(encoder, len(texts), kind, content_id, dtype)
        missing = [job for job in jobs if job.path is None or not reusable(job)]
        reused = len(jobs) - len(missing)
        encoded = encoder.encode_shards(missing, texts, kind)
        in_memory: dict[int, np.ndarray] = {}
        for job, array in progress_bar(encoded, total=len(jobs), initial=reused, desc=f"{kind} shards", unit="shard",
                                       hide=len(jobs) < 2):
            array = array.astype(job.dtype, copy=False)
            if job.path is None:
                in_memory[job.number] = array
            else:
                write_shard(job.path, array)
        if jobs and jobs[0].path is not None:
            log.info("%s embeddings: %d of %d shards from the cache in %s", kind, reused, len(jobs), jobs[0].path.parent)
        return Shards([job.path or in_memory[job.number] for job in jobs]), reused


def reusable(job: ShardJob) -> bool:
    """Whether the job's shard is on disk and verifies; a damaged one is named in a warning."""
    if not job.path.exists():
        return False
    try:
        read_shard(job.path, job.rows)
        return True
    except DamagedShard as exc:
        log.warning("%s: %s; encoding it again", job.path, exc)
        return False


def record_path(shard: Path) -> Path:
    return shard.with_suffix(".json")


def write_shard(path: Path, array: np.ndarray) -> None:
    """The shard, then its record: a shard without a record is one whose write never finished."""
    save_array(path, array)
    rows, dim = array.shape
    write_json(record_path(path), {"rows": rows, "dtype": str(array.dtype), "dim": dim, "sha256": sha256_file(path)})


def open_shard(path: Path) -> np.ndarray:
    """The shard memory-mapped, read-only: its pages are read as they are used."""
    return np.load(path, mmap_mode="r", allow_pickle=False)


def read_shard(path: Path, rows: int) -> np.ndarray:
    """The shard's `rows` vectors (memory-mapped), once the file has loaded and matched its
    record in every respect; its hash is computed reading the file in blocks."""
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
        array = open_shard(path)
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
