"""BEIR datasets on disk: `corpus.jsonl`, `queries.jsonl`, `qrels/<split>.tsv`.

Our own reader rather than BEIR's `GenericDataLoader`, so that a malformed line is reported
with its file and line number, and so that every file read is hashed into the report.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from ..errors import SgptEvalError
from ..storage import sha256_file

log = logging.getLogger(__name__)

# The 12 StackExchange forums that BEIR's CQADupStack is averaged over.
CQADUPSTACK_FORUMS = (
    "android", "english", "gaming", "gis", "mathematica", "physics",
    "programmers", "stats", "tex", "unix", "webmasters", "wordpress",
)


@dataclass
class Corpus:
    """Documents keyed by id, each {"title": ..., "text": ...}, in file order."""

    docs: dict[str, dict[str, str]]

    def texts(self, ids: list[str] | None = None) -> list[str]:
        """The text each model sees: `(title + " " + text).strip()`, as BEIR and SGPT do."""
        ids = list(self.docs) if ids is None else ids
        return [document_text(self.docs[i]) for i in ids]


def document_text(doc: dict[str, str]) -> str:
    return (doc.get("title", "") + " " + doc.get("text", "")).strip()


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


def default_split(name: str) -> str:
    """MS MARCO is evaluated on dev (its test qrels are TREC DL); every other dataset on test."""
    return "dev" if name == "msmarco" else "test"


def expand(name: str) -> list[str]:
    """CQADupStack is 12 datasets, one per forum; every other name is itself."""
    if name == "cqadupstack":
        return [f"cqadupstack/{forum}" for forum in CQADUPSTACK_FORUMS]
    return [name]


def _read_jsonl(path: Path, required: tuple[str, ...]) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SgptEvalError(f"{path}:{number}: not valid JSON ({exc.msg}); fix or re-download the file") from None
            if not isinstance(row, dict) or any(key not in row for key in required):
                raise SgptEvalError(
                    f"{path}:{number}: each line must be a JSON object with {', '.join(required)}; fix or re-download the file"
                )
            rows.append(row)
    return rows


def read_corpus(path: Path) -> Corpus:
    docs: dict[str, dict[str, str]] = {}
    for row in _read_jsonl(path, ("_id", "text")):
        docs[str(row["_id"])] = {"title": row.get("title") or "", "text": row["text"] or ""}
    return Corpus(docs)


def read_queries(path: Path) -> dict[str, str]:
    return {str(row["_id"]): row["text"] for row in _read_jsonl(path, ("_id", "text"))}


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """TSV with a header line, columns query-id, corpus-id, score (as BEIR writes them)."""
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE), start=1):
            if number == 1 or not row:
                continue
            try:
                query_id, doc_id, score = row[0], row[1], int(row[2])
            except (IndexError, ValueError):
                raise SgptEvalError(
                    f"{path}:{number}: expected 'query-id<TAB>corpus-id<TAB>integer score', got {row!r}"
                ) from None
            qrels.setdefault(query_id, {})[doc_id] = score
    return qrels


def locate(name: str, data_dir: Path, split: str | None = None) -> DatasetFiles:
    """The files of `data_dir/name` for `split` (downloading the dataset first when it is missing
    and the network allows); a missing file is one error naming it."""
    from .download import ensure_dataset  # a cycle otherwise: download knows the layout

    folder = ensure_dataset(name, data_dir)
    split = split or default_split(name.split("/")[0])
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
    _warn_about_dangling_judgements(files.name, qrels, all_queries, corpus)
    queries = {qid: all_queries[qid] for qid in qrels if qid in all_queries}
    qrels = {qid: rel for qid, rel in qrels.items() if qid in queries}
    log.info("%s/%s: %d documents, %d queries with judgements", files.name, files.split, len(corpus.docs), len(queries))
    return BeirDataset(files.name, files.split, corpus, queries, qrels, hashes or files.hashes())


def limit_queries(dataset: BeirDataset, max_queries: int | None) -> BeirDataset:
    """The first `max_queries` judged queries, in the order of the qrels file (None: all of them)."""
    if max_queries is None:
        return dataset
    if max_queries < 1:
        raise SgptEvalError(f"--max-queries {max_queries}: must be at least 1")
    keep = list(dataset.queries)[:max_queries]
    return dataclasses.replace(
        dataset, queries={qid: dataset.queries[qid] for qid in keep}, qrels={qid: dataset.qrels[qid] for qid in keep}
    )


def _warn_about_dangling_judgements(name: str, qrels, queries, corpus: Corpus) -> None:
    missing_docs = sum(1 for rel in qrels.values() for doc_id in rel if doc_id not in corpus.docs)
    missing_queries = sum(1 for qid in qrels if qid not in queries)
    if missing_docs:
        log.warning("%s: %d judgements name documents absent from the corpus; they count as unretrievable", name, missing_docs)
    if missing_queries:
        log.warning("%s: %d judged queries are absent from queries.jsonl and are skipped", name, missing_queries)
