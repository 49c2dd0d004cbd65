"""TREC run files: `qid Q0 docid rank score tag`, one line per retrieved document."""

from __future__ import annotations

from pathlib import Path

from .storage import atomic_open


def write_trec(path: Path, results: dict[str, dict[str, float]], tag: str) -> None:
    tag = tag.replace(" ", "_")
    with atomic_open(path) as out:
        for query_id, hits in results.items():
            ranked = sorted(hits.items(), key=lambda item: (-item[1], item[0]))
            for rank, (doc_id, score) in enumerate(ranked, start=1):
                out.write(f"{query_id} Q0 {doc_id} {rank} {score:.6f} {tag}\n")
