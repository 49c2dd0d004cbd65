"""Write small BEIR-layout datasets for tests."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

DOCS = {
    "d1": ("Mitochondria", "Mitochondria produce ATP by oxidative phosphorylation."),
    "d2": ("Photosynthesis", "Plants turn light into chemical energy in chloroplasts."),
    "d3": ("", "Retrieval models rank documents for a query."),
    "q2": ("Self", "A document sharing its id with a query: never returned for it."),
}
QUERIES = {"q1": "how do cells make energy", "q2": "how do plants use light", "q3": "ranking documents"}
QRELS = [("q1", "d1", 1), ("q2", "d2", 1), ("q3", "d3", 1)]


def write_beir(folder: Path, docs=DOCS, queries=QUERIES, qrels=QRELS, split: str = "test") -> Path:
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    with open(folder / "corpus.jsonl", "w") as out:
        for doc_id, (title, text) in docs.items():
            out.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
    with open(folder / "queries.jsonl", "w") as out:
        for query_id, text in queries.items():
            out.write(json.dumps({"_id": query_id, "text": text}) + "\n")
    with open(folder / "qrels" / f"{split}.tsv", "w") as out:
        out.write("query-id\tcorpus-id\tscore\n")
        for query_id, doc_id, score in qrels:
            out.write(f"{query_id}\t{doc_id}\t{score}\n")
    return folder


def zip_dataset(source: Path, archive: Path, name: str) -> str:
    """`source` zipped as BEIR ships a dataset (`name/...`); the archive's MD5."""
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(source.rglob("*")):
            zipped.write(path, f"{name}/{path.relative_to(source)}")
    return hashlib.md5(archive.read_bytes()).hexdigest()
