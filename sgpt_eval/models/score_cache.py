"""Cross-encoder scores on disk, so that an interrupted re-ranking resumes where it stopped.

One append-only JSON-lines file per scorer setting (model and revision, prompt template,
maximum length, dtype); each line is {"key": sha256(query, document), "score": float}. Lines
are flushed and synced after every batch. A run killed mid-write leaves at most a torn last
line: it is ignored and cut off before anything is appended. Without a cache folder nothing is
kept: every pair is scored.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from .store import slug
from ..storage import digest, sha256_text

log = logging.getLogger(__name__)


class ScoreCache:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.scores = self._read()

    @classmethod
    def for_settings(cls, cache_dir: Path | None, settings: dict) -> ScoreCache:
        if cache_dir is None:
            return cls(None)
        return cls(cache_dir / "rerank_scores" / f"{slug(str(settings['model']))}-{digest(settings)}.jsonl")

    @staticmethod
    def key(query: str, doc: str) -> str:
        return sha256_text(json.dumps([query, doc]))

    def _read(self) -> dict[str, float]:
        if self.path is None or not self.path.is_file():
            return {}
        data = self.path.read_bytes()
        complete = data.rfind(b"\n") + 1
        if complete < len(data):
            log.warning("%s: ignoring a torn last line (an interrupted run)", self.path)
            os.truncate(self.path, complete)
        scores, bad = {}, 0
        for line in data[:complete].splitlines():
            try:
                row = json.loads(line)
                scores[row["key"]] = float(row["score"])
            except (ValueError, TypeError, KeyError):
                bad += 1
        if bad:
            log.warning("%s: skipped %d unreadable lines; those pairs are scored again", self.path, bad)
        return scores

    def add(self, items: Iterable[tuple[str, float]]) -> None:
        """Append scores and make them durable before returning."""
        if self.path is None:
            return
        items = list(items)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.writelines(json.dumps({"key": key, "score": score}) + "\n" for key, score in items)
            handle.flush()
            os.fsync(handle.fileno())
        self.scores.update(items)
