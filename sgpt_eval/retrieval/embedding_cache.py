"""Embeddings on disk, in shards written atomically, so a second run skips encoding and an
interrupted one resumes from the last finished shard.

A cache entry is keyed by everything that changes the vectors (the encoder's settings,
including model revision, pooling, brackets, maximum length and dtype) and by the content
encoded (the corpus file's hash). Shards are plain `.npy` arrays: no pickle. Without a cache
folder nothing is read or written.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..models.store import slug
from ..progress import progress_bar
from ..storage import digest, load_array, save_array, write_json

if TYPE_CHECKING:  # the run settings read DEFAULT_SHARD_SIZE without loading torch
    from ..models.bi_encoder import SGPTBiEncoder

log = logging.getLogger(__name__)

DEFAULT_SHARD_SIZE = 2048


class EmbeddingCache:
    def __init__(self, root: Path | None, shard_size: int = DEFAULT_SHARD_SIZE) -> None:
        self.root = root  # None: encode without caching
        self.shard_size = shard_size

    def folder(self, encoder: SGPTBiEncoder, kind: str, content_id: str) -> Path:
        key = {"encoder": encoder.settings.as_dict(), "kind": kind, "content": content_id, "shard_size": self.shard_size}
        return self.root / "embeddings" / slug(encoder.settings.model) / f"{kind}-{digest(key, 20)}"

    def encode(
        self, encoder: SGPTBiEncoder, texts: Sequence[str], kind: str, content_id: str, batch_size: int | None = None
    ) -> tuple[np.ndarray, int]:
        """Encode `texts` shard by shard, reusing every shard already on disk.

        Returns the vectors and how many shards came from disk.
        """
        if self.root is None:
            return encoder.encode(texts, kind, batch_size), 0
        folder = self.folder(encoder, kind, content_id)
        folder.mkdir(parents=True, exist_ok=True)
        meta = folder / "meta.json"
        if not meta.exists():
            write_json(meta, {"encoder": encoder.settings.as_dict(), "kind": kind, "content": content_id, "count": len(texts)})
        starts = range(0, len(texts), self.shard_size)
        shards, reused = [], 0
        for number, start in enumerate(progress_bar(starts, desc=f"{kind} shards", unit="shard", hide=len(starts) < 2)):
            expected = min(self.shard_size, len(texts) - start)
            path = folder / f"shard-{number:05d}.npy"
            if path.exists():
                array = load_array(path)
                if array.shape[0] == expected:
                    shards.append(array)
                    reused += 1
                    continue
                log.warning("%s has %d rows, expected %d; encoding it again", path, array.shape[0], expected)
            array = encoder.encode(texts[start : start + expected], kind, batch_size)
            save_array(path, array)
            shards.append(array)
        log.info("%s embeddings: %d of %d shards from the cache in %s", kind, reused, len(starts), folder)
        return np.concatenate(shards), reused
