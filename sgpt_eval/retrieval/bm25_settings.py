"""The BM25 index's settings, apart from bm25s itself, so that the command line and the run
configuration can read the defaults without loading the BM25 library."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class BM25Settings:
    """Everything that changes the index. k1=1.5, b=0.75 (bm25s' defaults) reproduce the
    published bm25s SciFact NDCG@10 (.6874 in MTEB); k1=0.9, b=0.4 (Anserini's) give about .676."""

    k1: float = 1.5
    b: float = 0.75
    method: str = "lucene"
    stemmer: str | None = "english"
    stopwords: str | None = "en"

    def as_dict(self) -> dict:
        return asdict(self)
