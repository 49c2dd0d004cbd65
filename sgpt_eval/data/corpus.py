"""A corpus file's documents, read back from disk when asked for, never all held in memory.

What stays in memory is only what finds a document: the byte offset of each document's line and
its id (all ids in one UTF-8 blob, looked up through their CRC-32s, sorted). MS MARCO's 8.8M
passages then cost some 30 bytes each plus their ids, instead of several GB of Python strings,
and a Corpus sent to another process (pickled) is a path and a few arrays. Documents read back
in file order are read a block of lines at a time. The file's size and modification time when it
was read are kept, and every read back checks them: a file that changed since is an error, never
other text.
"""

from __future__ import annotations

import bisect
import json
import os
import re
import zlib
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import SgptEvalError

BLOCK = 2048  # documents read back by one read of the file (a few MB of MS MARCO)
Stamp = tuple[int, int]  # a file's size and modification time (ns)
# JSON can escape half of a surrogate pair alone ("\ud800"); UTF-8, and so every tokenizer, cannot
# encode it. A pair is decoded into one character, so any surrogate left in a str is a lone one.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def document_text(doc: Mapping[str, str]) -> str:
    """The text each model sees: `(title + " " + text).strip()`, as BEIR and SGPT do."""
    return (doc.get("title", "") + " " + doc.get("text", "")).strip()


def encodable(text: str) -> str:
    """`text` with each lone surrogate as U+FFFD, as a UTF-8 decoder reads a broken byte: the same
    text for every method (BM25 would drop it, a tokenizer fail on it)."""
    return LONE_SURROGATE.sub("\ufffd", text)


def stamp(path: Path) -> Stamp:
    """Size and modification time: what tells that a file changed since it was read."""
    info = os.stat(path)
    return info.st_size, info.st_mtime_ns


def _encoded(doc_id: str) -> bytes:
    return doc_id.encode("utf-8", "surrogatepass")  # JSON's \ud800 escapes give lone surrogates


class Corpus:
    """The documents of a corpus file, in file order: `docs` maps each id to {"title", "text"},
    `texts` gives the text each model sees; both read the file when indexed, not before."""

    def __init__(self, path: Path, when_read: Stamp, line_starts: np.ndarray, id_blob: bytes,
                 id_starts: np.ndarray, crcs: np.ndarray) -> None:
        """`line_starts`: each document's offset then the file's size; `id_blob`: each id followed
        by a newline (an id has no whitespace), `id_starts` where each begins, then its end."""
        self.path, self.when_read = path, when_read
        self._line_starts, self._id_blob, self._id_starts = line_starts, id_blob, id_starts
        self._by_crc = np.argsort(crcs, kind="stable")  # equal CRC-32s keep file order
        self._crcs = crcs[self._by_crc]

    def __len__(self) -> int:
        return len(self._by_crc)

    @property
    def docs(self) -> Documents:
        return Documents(self)

    def texts(self, ids: Sequence[str] | None = None) -> Texts:
        """`document_text` of each document of `ids` (all, in file order, when None), read lazily."""
        if ids is None or (len(ids) == len(self) and all(a == b for a, b in zip(ids, self.ids()))):
            return Texts(self, range(len(self)))  # the whole file in order: no id looked up
        return Texts(self, np.fromiter((self.row(doc_id) for doc_id in ids), np.int64, len(ids)))

    def ids(self) -> Iterator[str]:
        """Every id, in file order, decoded a block at a time."""
        for start in range(0, len(self), BLOCK):
            end = min(start + BLOCK, len(self))
            yield from self._id_blob[self._id_starts[start]:self._id_starts[end]].decode(
                "utf-8", "surrogatepass").split("\n")[:-1]

    def row(self, doc_id: str) -> int:
        """The document's place in the file; KeyError when it is not in the corpus."""
        key = _encoded(doc_id)
        crc = zlib.crc32(key)
        crcs, by_crc = memoryview(self._crcs), memoryview(self._by_crc)  # plain ints, without numpy's overhead
        position = bisect.bisect_left(crcs, crc)
        while position < len(crcs) and crcs[position] == crc:
            if self._id_bytes(by_crc[position]) == key:
                return by_crc[position]
            position += 1
        raise KeyError(doc_id)

    def first_repeat(self) -> tuple[int, int] | None:
        """(row, earlier row) of the first document, in file order, whose id an earlier one has."""
        equal = np.flatnonzero(self._crcs[1:] == self._crcs[:-1])
        candidates = np.zeros(len(self._crcs), dtype=bool)
        candidates[equal] = candidates[equal + 1] = True
        seen: dict[bytes, int] = {}
        repeats = []
        for row in self._by_crc[candidates].tolist():  # same id, or (rarely) a CRC-32 collision
            first = seen.setdefault(self._id_bytes(row), row)
            if first != row:
                repeats.append((row, first))
        return min(repeats, default=None)

    def id_at(self, row: int) -> str:
        return self._id_bytes(row).decode("utf-8", "surrogatepass")

    def offset(self, row: int) -> int:
        return int(self._line_starts[row])

    def check_unchanged(self, descriptor: int | None = None) -> None:
        """The file (the open `descriptor`, when given) is as it was when read; else one error."""
        try:
            info = os.fstat(descriptor) if descriptor is not None else os.stat(self.path)
            now = (info.st_size, info.st_mtime_ns)
        except OSError:
            now = None
        if now != self.when_read:
            raise SgptEvalError(f"{self.path}: changed since it was read (its size or modification time differ, "
                                "or it is gone); run again so that it is read afresh")

    def subset(self, ids: Iterable[str]) -> dict[str, dict[str, str]]:
        """{"title", "text"} by id for `ids` (a first stage's candidates), read in file order in one pass."""
        rows = sorted({self.row(doc_id) for doc_id in ids})
        return {self.id_at(row): doc for row, doc in zip(rows, self.documents(rows))}

    def documents(self, rows: Sequence[int]) -> list[dict[str, str]]:
        """{"title", "text"} of each row, in the order given; consecutive rows take one read."""
        rows = np.asarray(rows, dtype=np.int64)
        if not len(rows):
            return []
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1
        runs = [run for whole in np.split(rows, breaks) for run in np.array_split(whole, -(-len(whole) // BLOCK))]
        with open(self.path, "rb", buffering=0) as handle:  # opened per call: nothing open to pickle or share
            self.check_unchanged(handle.fileno())
            return [doc for run in runs for doc in self._read_run(handle, int(run[0]), len(run))]

    def _read_run(self, handle: BinaryIO, first: int, count: int) -> Iterator[dict[str, str]]:
        starts = self._line_starts[first:first + count + 1].tolist()
        handle.seek(starts[0])
        block = handle.read(starts[-1] - starts[0])
        for start, end in zip(starts, starts[1:]):
            start, end = start - starts[0], end - starts[0]
            newline = block.find(b"\n", start, end)  # lines after it up to the next document are blank
            row = json.loads(block[start:end if newline < 0 else newline])
            yield {"title": encodable(row.get("title") or ""), "text": encodable(row["text"])}

    def _id_bytes(self, row: int) -> bytes:
        starts = memoryview(self._id_starts)
        return self._id_blob[starts[row]:starts[row + 1] - 1]


class CorpusIndex:
    """What one pass over a corpus file collects, document by document, to make a `Corpus`."""

    def __init__(self, path: Path, when_read: Stamp) -> None:
        self.path, self.when_read = path, when_read
        self._line_starts, self._id_starts, self._crcs = array("q"), array("q", [0]), array("I")
        self._id_blob = bytearray()

    def add(self, offset: int, doc_id: str) -> None:
        key = _encoded(doc_id)
        self._line_starts.append(offset)
        self._id_blob += key + b"\n"
        self._id_starts.append(len(self._id_blob))
        self._crcs.append(zlib.crc32(key))

    def corpus(self) -> Corpus:
        """The documents added so far (the file's size closes the last one's line)."""
        line_starts = np.append(np.asarray(self._line_starts, dtype=np.int64), self.when_read[0])
        return Corpus(self.path, self.when_read, line_starts, bytes(self._id_blob),
                      np.asarray(self._id_starts, dtype=np.int64), np.asarray(self._crcs, dtype=np.uint32))


class Documents(Mapping[str, dict[str, str]]):
    """A corpus' documents by id, in file order, read from disk when indexed; read-only."""

    def __init__(self, corpus: Corpus) -> None:
        self._corpus = corpus

    def __getitem__(self, doc_id: str) -> dict[str, str]:
        return self._corpus.documents([self._corpus.row(doc_id)])[0]

    def __contains__(self, doc_id: object) -> bool:
        if not isinstance(doc_id, str):
            return False
        try:
            self._corpus.row(doc_id)
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return self._corpus.ids()

    def __len__(self) -> int:
        return len(self._corpus)


class Texts(Sequence[str]):
    """`document_text` of some of a corpus' documents, read from disk when indexed or sliced (a
    slice of consecutive documents in one read), so that a caller holds one slice at a time."""

    def __init__(self, corpus: Corpus, rows: range | np.ndarray) -> None:
        self._corpus, self._rows = corpus, rows

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [document_text(doc) for doc in self._corpus.documents(self._rows[index])]
        return document_text(self._corpus.documents([self._rows[index]])[0])

    def __iter__(self) -> Iterator[str]:
        for start in range(0, len(self), BLOCK):
            yield from self[start:start + BLOCK]

    def __eq__(self, other: object) -> bool:
        """Equal to any sequence of the same texts (a list, say), as the list it stands for would be."""
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]
