"""Cross-encoder scores on disk, so that an interrupted re-ranking resumes where it stopped.

One append-only JSON-lines file per scorer setting (model and revision, prompt template,
maximum length, dtype, aggregate), with the settings in a JSON file beside it (`sgpt-eval cache list`).
Each line is {"key": sha256(query, document), "score": float, "check": digest(key, score)}:
a row is used only when its score is a finite number and its check matches, so an edited or
damaged row is never mistaken for a score; bad rows are reported (how many, which file), cut
from the file, and their pairs scored again. Lines are flushed and synced after every batch. A
run killed mid-write leaves at most a torn last line: it is ignored and cut off before anything
is appended. Without a cache folder nothing is kept: every pair is scored.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from .store import slug
from ..storage import atomic_open, digest, sha256_text, write_json

log = logging.getLogger(__name__)

SUBFOLDER = "rerank_scores"


class BadRow(Exception):
    """Why a line of the score file is not used."""


class ScoreCache:
    def __init__(self, path: Path | None, settings: dict | None = None) -> None:
        self.path = path
        self.settings = settings  # recorded beside the file, to say what its scores belong to
        self.scores = self._read()

    @classmethod
    def for_settings(cls, cache_dir: Path | None, settings: dict) -> ScoreCache:
        if cache_dir is None:
            return cls(None)
        return cls(cache_dir / SUBFOLDER / f"{slug(str(settings['model']))}-{digest(settings)}.jsonl", settings)

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
        scores, kept, bad = {}, [], Counter()
        for line in data[:complete].splitlines(keepends=True):
            try:
                key, score = verified(line)
            except BadRow as exc:
                bad[str(exc)] += 1
                continue
            scores[key] = score
            kept.append(line)
        if bad:
            reasons = ", ".join(f"{count} {why}" for why, count in bad.items())
            log.warning("%s: ignored %d bad rows (%s); those pairs are scored again", self.path, bad.total(), reasons)
            with atomic_open(self.path, "wb") as handle:
                handle.writelines(kept)
        elif complete < len(data):
            os.truncate(self.path, complete)
        return scores

    def add(self, items: Iterable[tuple[str, float]]) -> None:
        """Append the finite scores and make them durable before returning."""
        if self.path is None:
            return
        items = [(key, score) for key, score in items if math.isfinite(score)]
        record = self.path.with_suffix(".json")
        if self.settings is not None and not record.is_file():
            write_json(record, {"settings": self.settings})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.writelines(json.dumps({"key": key, "score": score, "check": _check(key, score)}) + "\n"
                              for key, score in items)
            handle.flush()
            os.fsync(handle.fileno())
        self.scores.update(items)


def verified(line: bytes) -> tuple[str, float]:
    """The (key, score) of one line, if it is whole, finite and matches its check."""
    try:
        row = json.loads(line)
        key, score = row["key"], row["score"]
    except (ValueError, TypeError, KeyError):
        raise BadRow("unreadable") from None
    if "check" not in row:
        raise BadRow("without a check (an older version's)")
    if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
        raise BadRow("not a finite number")
    if row["check"] != _check(key, score):
        raise BadRow("checksum mismatch")
    return key, float(score)


def _check(key: str, score: float) -> str:
    return digest({"key": key, "score": score})
