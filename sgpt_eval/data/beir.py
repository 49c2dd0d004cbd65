"""BEIR datasets on disk: `corpus.jsonl`, `queries.jsonl`, `qrels/<split>.tsv`.

Our own reader rather than BEIR's `GenericDataLoader`, so that a malformed line is reported
with its file and line number, and so that every file read is hashed into the report. Reading
checks what GenericDataLoader lets through silently: text that is not UTF-8, ids and texts that
are not strings, a repeated id (the last would win), qrels without their header line (the first
judgement would be lost), and a dataset with no document or no judged query. The corpus is
checked in one pass that keeps each document's place in the file, not its text (`corpus.py`).
"""

from __future__ import annotations

import codecs
import dataclasses
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ..checks import at_least_one
from ..errors import SgptEvalError
from ..storage import gzip_checked, open_contents, sha256_file
from .catalogue import dataset_name, default_split
from .corpus import LONE_SURROGATE, Corpus, CorpusIndex, encodable, stamp
from .corpus import document_text  # noqa: F401  (where the models have always found it)
from .download import ensure_dataset

log = logging.getLogger(__name__)

QRELS_HEADER = "query-id\tcorpus-id\tscore"

T = TypeVar("T")


@dataclass(frozen=True)
class DatasetFiles:
    """One dataset split's three files, found (and hashed) before anything is read."""

    name: str
    split: str
    corpus: Path
    queries: Path
    qrels: Path

    def hashes(self) -> dict[str, str]:
        """sha256 of each file, by role: part of every run's identity."""
        return {role: sha256_file(getattr(self, role)) for role in ("corpus", "queries", "qrels")}


@dataclass
class BeirDataset:
    name: str
    split: str
    corpus: Corpus
    queries: dict[str, str]  # only the queries that have judgements in `split`
    qrels: dict[str, dict[str, int]]
    hashes: dict[str, str]  # sha256 of the files read, by role (corpus, queries, qrels)


def valid_id(value: str) -> bool:
    """An id that a TREC ranking file can hold: not empty, no whitespace (its field separator)."""
    return value.split() == [value]


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """The lines of a UTF-8 file (a leading byte-order mark dropped), numbered, read one at a time;
    bytes that are not UTF-8 are an error naming their line. A gzip file is read decompressed
    (rankings are stored so); a damaged one is an error naming it."""
    with gzip_checked(path):
        for number, _, line in _lines_at(path, decompress=True):
            yield number, line


def _lines_at(path: Path, decompress: bool = False) -> Iterator[tuple[int, int, str]]:
    """`text_lines`, each with the byte offset where its text begins (after the byte-order mark):
    offsets into the file as stored (a corpus is read again by them), unless `decompress`."""
    offset = 0
    with open_contents(path) if decompress else open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            start, offset = offset, offset + len(raw)
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw, start = raw[len(codecs.BOM_UTF8):], len(codecs.BOM_UTF8)
            try:
                yield number, start, raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise SgptEvalError(f"{path}:{number}: not UTF-8 text (byte {raw[exc.start]:#04x} at column "
                                    f"{exc.start + 1}); save the file as UTF-8 or re-download it") from None


def _records(path: Path, repaired: list[int] | None = None) -> Iterator[tuple[int, int, dict]]:
    """The numbered JSON lines of a corpus or queries file, each checked: an object whose `_id` and
    `text` are strings (and `title`, when given and not null), the `_id` one a TREC file can hold;
    each with the byte offset of its line. The numbers of lines whose text holds a lone surrogate
    (read as U+FFFD) are added to `repaired`."""
    for number, offset, line in _lines_at(path):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SgptEvalError(f"{path}:{number}: not valid JSON ({exc.msg}); fix or re-download the file") from None
        if not isinstance(row, dict) or any(key not in row for key in ("_id", "text")):
            raise SgptEvalError(
                f"{path}:{number}: each line must be a JSON object with _id, text; fix or re-download the file")
        for key in ("_id", "text", "title"):
            value = row.get(key)
            if not isinstance(value, str) and not (key == "title" and value is None):
                raise SgptEvalError(
                    f"{path}:{number}: {key} must be a string, not {_json_type(value)}; fix or re-download the file")
        if not valid_id(row["_id"]):
            raise SgptEvalError(f"{path}:{number}: _id {row['_id']!r} is empty or contains whitespace, which a TREC "
                                "ranking file cannot hold; change the id")
        if repaired is not None and any(LONE_SURROGATE.search(row.get(key) or "") for key in ("text", "title")):
            repaired.append(number)
        yield number, offset, row


def _warn_repaired(path: Path, repaired: list[int]) -> None:
    if repaired:
        more = f" (and {len(repaired) - 1} more lines)" if len(repaired) > 1 else ""
        log.warning("%s:%d: a lone surrogate escape (such as \\ud800) that UTF-8 cannot encode%s; read as U+FFFD",
                    path, repaired[0], more)


def _json_type(value: object) -> str:
    return {bool: "a boolean", int: "a number", float: "a number", list: "an array", dict: "an object"}.get(
        type(value), "null")


def _read_by_id(path: Path, what: str, value: Callable[[dict], T]) -> dict[str, T]:
    """`value(row)` by `_id`, in file order; a repeated id names both its lines (the file is read
    again, from the top, only then), a file without rows is an error naming it."""
    found: dict[str, T] = {}
    repaired: list[int] = []
    for number, _, row in _records(path, repaired):
        key = row["_id"]
        if key in found:
            first = next(line for line, _, earlier in _records(path) if earlier["_id"] == key)
            raise _repeated(path, key, number, first)
        found[key] = value(row)
    if not found:
        raise _nothing_in(path, what)
    _warn_repaired(path, repaired)
    return found


def _repeated(path: Path, key: str, number: int, first: int) -> SgptEvalError:
    return SgptEvalError(f"{path}:{number}: _id {key!r} is also on line {first}; each id must appear once, "
                         "fix or re-download the file")


def _nothing_in(path: Path, what: str) -> SgptEvalError:
    return SgptEvalError(f"{path}: no {what} in it (an empty file?); fix or re-download the file")


def read_corpus(path: Path) -> Corpus:
    """One pass that checks every line as `_records` does and keeps each document's offset and id,
    not its text; the first error in file order is the one raised (a repeated id is found only
    once the ids are sorted, so an error on a later line first looks for one before it)."""
    index = CorpusIndex(path, stamp(path))
    repaired: list[int] = []
    try:
        for _, offset, row in _records(path, repaired):
            index.add(offset, row["_id"])
    except SgptEvalError:
        _raise_repeated_id(index.corpus())
        raise
    corpus = index.corpus()
    corpus.check_unchanged()
    if not len(corpus):
        raise _nothing_in(path, "documents")
    _raise_repeated_id(corpus)
    _warn_repaired(path, repaired)
    return corpus


def _raise_repeated_id(corpus: Corpus) -> None:
    repeat = corpus.first_repeat()
    if repeat is not None:
        row, first = repeat
        raise _repeated(corpus.path, corpus.id_at(row), _line_at(corpus.path, corpus.offset(row)),
                        _line_at(corpus.path, corpus.offset(first)))


def _line_at(path: Path, offset: int) -> int:
    """The number of the line at byte `offset`: one more than the newlines before it."""
    newlines = 0
    with open(path, "rb") as handle:
        while offset > 0 and (block := handle.read(min(offset, 1 << 20))):
            newlines += block.count(b"\n")
            offset -= len(block)
    return newlines + 1


def read_queries(path: Path) -> dict[str, str]:
    return _read_by_id(path, "queries", lambda row: encodable(row["text"]))


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """TSV with a header line, columns query-id, corpus-id, score (as BEIR writes them)."""
    lines = text_lines(path)
    header = next(lines, None)
    if header is None or header[1].split() != QRELS_HEADER.split("\t"):
        got = "an empty file" if header is None else repr(header[1].rstrip("\r\n"))
        raise SgptEvalError(f"{path}:1: the first line must be the header {QRELS_HEADER!r}, got {got}; "
                            "add the header (without it the first judgement would be lost)")
    qrels: dict[str, dict[str, int]] = {}
    lines_of: dict[tuple[str, str], int] = {}
    for number, line in lines:
        if not line.strip():
            continue
        row = line.rstrip("\r\n").split("\t")
        try:
            query_id, doc_id, score = row[0], row[1], int(row[2])
        except (IndexError, ValueError):
            raise SgptEvalError(
                f"{path}:{number}: expected 'query-id<TAB>corpus-id<TAB>integer score', got {row!r}"
            ) from None
        first = lines_of.setdefault((query_id, doc_id), number)
        if first != number:
            raise SgptEvalError(f"{path}:{number}: query {query_id!r} and document {doc_id!r} are judged on line "
                                f"{first} too; keep one judgement per pair (the last would win)")
        qrels.setdefault(query_id, {})[doc_id] = score
    if not qrels:
        raise SgptEvalError(f"{path}: no judgements after its header; fix or re-download the file")
    return qrels


def locate(name: str, data_dir: Path, split: str | None = None) -> DatasetFiles:
    """The files of `data_dir/name` for `split` (downloading the dataset first when it is missing
    and the network allows); a missing file is one error naming it. `name` may be a folder's path."""
    folder = ensure_dataset(name, data_dir)
    name = dataset_name(name)
    split = split or default_split(name)
    files = DatasetFiles(name, split, folder / "corpus.jsonl", folder / "queries.jsonl", folder / "qrels" / f"{split}.tsv")
    for role in ("corpus", "queries", "qrels"):
        path = getattr(files, role)
        if not path.is_file():
            available = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
            hint = f" (splits here: {', '.join(available)})" if role == "qrels" and available else ""
            raise SgptEvalError(f"dataset {name}: missing {path}{hint}")
    return files


def load(name: str, data_dir: Path, split: str | None = None) -> BeirDataset:
    """Load `data_dir/name` (downloading it first when it is missing and the network allows)."""
    return read(locate(name, data_dir, split))


def read(files: DatasetFiles, hashes: dict[str, str] | None = None) -> BeirDataset:
    """Read the files; `hashes` when the caller has hashed them already."""
    corpus = read_corpus(files.corpus)
    all_queries = read_queries(files.queries)
    qrels = read_qrels(files.qrels)
    _check_judgements(files, qrels, all_queries, corpus)
    queries = {qid: all_queries[qid] for qid in qrels if qid in all_queries}
    if not queries:
        raise SgptEvalError(f"{files.qrels}: none of its {len(qrels)} judged queries is in {files.queries}; "
                            "check that the two files belong to the same dataset")
    qrels = {qid: rel for qid, rel in qrels.items() if qid in queries}
    log.info("%s/%s: %d documents, %d queries with judgements", files.name, files.split, len(corpus.docs), len(queries))
    return BeirDataset(files.name, files.split, corpus, queries, qrels, hashes or files.hashes())


def limit_queries(dataset: BeirDataset, max_queries: int | None) -> BeirDataset:
    """The first `max_queries` judged queries, in the order of the qrels file (None: all of them)."""
    if max_queries is None:
        return dataset
    at_least_one({"max_queries": max_queries})
    keep = list(dataset.queries)[:max_queries]
    return dataclasses.replace(
        dataset, queries={qid: dataset.queries[qid] for qid in keep}, qrels={qid: dataset.qrels[qid] for qid in keep}
    )


def _check_judgements(files: DatasetFiles, qrels, queries, corpus: Corpus) -> None:
    """Judgements naming no document of the corpus belong to another dataset (every query would
    score 0): an error. A few dangling ones are a known defect of some BEIR data: a warning."""
    name = files.name
    judgements = sum(len(rel) for rel in qrels.values())
    missing_docs = sum(1 for rel in qrels.values() for doc_id in rel if doc_id not in corpus.docs)
    if missing_docs == judgements:
        raise SgptEvalError(f"{files.qrels}: none of its {judgements} judgements names a document of {files.corpus}; "
                            "check that the two files belong to the same dataset")
    missing_queries = sum(1 for qid in qrels if qid not in queries)
    if missing_docs:
        log.warning("%s: %d judgements name documents absent from the corpus; they count as unretrievable", name, missing_docs)
    if missing_queries:
        log.warning("%s: %d judged queries are absent from queries.jsonl and are skipped", name, missing_queries)
