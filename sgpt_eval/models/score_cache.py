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
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

from ..progress import progress_bar
from ..storage import atomic_open, digest, sha256_text, write_json
from .store import slug

log = logging.getLogger(__name__)

SUBFOLDER = "rerank_scores"


class BadRow(Exception):
    """Why a line of the score file is not used."""


class ScoreCache:
    def __init__(self, path: Path | None = None, settings: dict | None = None) -> None:
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


class PairScorer(Protocol):
    """A cross-encoder here (`SGPTCrossEncoder`) or on replicas (`executors.ray_pool`)."""

    device: str
    batch_size: int
    load_seconds: float

    def scores(self, texts: Sequence[tuple[str, str]], batch_size: int | None = None
               ) -> Iterator[tuple[list[int], list[float]]]:
        """(indices into `texts`, their scores), in the order they finish."""


class CachedScorer:
    """BEIR's `predict` over any `PairScorer`, through a score cache: the one path by which pairs
    are scored, here or remotely. Pairs the cache holds are not scored again; the others are added
    to it as each batch returns, so an interrupted re-ranking resumes."""

    def __init__(self, scorer: PairScorer, cache: ScoreCache | None = None) -> None:
        self.scorer, self.cache = scorer, cache or ScoreCache()
        self.device, self.batch_size, self.load_seconds = scorer.device, scorer.batch_size, scorer.load_seconds
        self.pairs_from_cache = 0

    def predict(self, sentences: Sequence[Sequence[str]], batch_size: int | None = None,
                show_progress_bar: bool = True, **kwargs) -> list[float]:
        """Scores of [query, document] pairs, in order."""
        texts = [(str(query), str(doc)) for query, doc in sentences]
        keys = [ScoreCache.key(query, doc) for query, doc in texts]
        scores = [self.cache.scores.get(key) for key in keys]
        todo = [i for i, score in enumerate(scores) if score is None]
        self.pairs_from_cache = len(texts) - len(todo)
        with progress_bar(total=len(texts), initial=self.pairs_from_cache, desc="re-rank", unit="pair",
                          hide=not show_progress_bar) as bar:
            for rows, values in self.scorer.scores([texts[i] for i in todo], batch_size):
                done = [todo[row] for row in rows]
                for i, value in zip(done, values):
                    scores[i] = value
                self.cache.add((keys[i], value) for i, value in zip(done, values))
                bar.update(len(rows))
        return scores
