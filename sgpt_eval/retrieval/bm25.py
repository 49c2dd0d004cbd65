"""BM25 over bm25s, with its index cached on disk: a retriever of its own and the SGPT-CE first stage.

Documents are `document_text` (title + " " + text), lowercased, split into words, stripped of
English stopwords and stemmed with Snowball (PyStemmer), a chunk of documents at a time. The
index is saved as bm25s writes it: `.npy` arrays (loaded memory-mapped, with `allow_pickle=False`)
and JSON, built in a temporary folder and renamed into place, under a key made of the corpus
file's hash and every setting that changes it; the key itself is kept in the folder's `meta.json`
(what `sgpt-eval cache list` and `prune` read).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import bm25s
import Stemmer
from bm25s.tokenization import Tokenized

from ..data.beir import BeirDataset, Corpus
from ..errors import SgptEvalError
from ..storage import atomic_folder, digest, write_json
from ..timing import timed
from .bm25_settings import BM25Settings
from .ranking import Ranking

log = logging.getLogger(__name__)

SUBFOLDER = "bm25"
META = "meta.json"  # the index key: corpus hash, settings, bm25s version
_DOC_IDS = "doc_ids.json"
TOKENIZE_CHUNK = 10_000  # documents whose texts are held at once while indexing


class BM25Index:
    """A bm25s retriever and the document id of each of its rows."""

    def __init__(self, retriever: bm25s.BM25, doc_ids: list[str], settings: BM25Settings) -> None:
        self.retriever = retriever
        self.doc_ids = doc_ids
        self.settings = settings

    @classmethod
    def build(cls, corpus: Corpus, settings: BM25Settings) -> BM25Index:
        if settings.k1 < 0 or not 0 <= settings.b <= 1:
            raise SgptEvalError(f"--k1 {settings.k1} --b {settings.b}: k1 must be >= 0 and b within [0, 1]")
        doc_ids = list(corpus.docs)
        if not doc_ids:
            raise SgptEvalError("BM25: the corpus is empty")
        retriever = bm25s.BM25(k1=settings.k1, b=settings.b, method=settings.method)
        retriever.index(_tokenize_corpus(corpus.texts(), settings), show_progress=False)
        return cls(retriever, doc_ids, settings)

    def save(self, folder: Path, key: dict) -> None:
        """Write the index and its key (what it belongs to: `sgpt-eval cache list`) into a fresh
        temporary folder, then rename it to `folder` in one step."""
        with atomic_folder(folder) as work:
            self.retriever.save(work, allow_pickle=False, show_progress=False)
            write_json(work / _DOC_IDS, self.doc_ids)
            write_json(work / META, key)

    @classmethod
    def load(cls, folder: Path, settings: BM25Settings) -> BM25Index:
        """The score matrix memory-mapped: pages are read as queries touch them, not all up front."""
        retriever = bm25s.BM25.load(folder, allow_pickle=False, mmap=True, show_progress=False)
        doc_ids = json.loads((folder / _DOC_IDS).read_text(encoding="utf-8"))
        return cls(retriever, doc_ids, settings)

    def search(self, queries: dict[str, str], top_k: int) -> dict[str, dict[str, float]]:
        """Top-k documents per query, best first, without the query's own id (BEIR's convention:
        ask for k+1, drop the self-hit, keep k) and without documents that share no term with it."""
        if top_k < 1:
            raise SgptEvalError(f"--top-k {top_k}: must be at least 1")
        query_ids = list(queries)
        if not query_ids:
            return {}
        tokens = _tokenize([queries[qid] for qid in query_ids], self.settings, as_ids=False)
        depth = min(top_k + 1, len(self.doc_ids))
        rows, scores = self.retriever.retrieve(tokens, k=depth, show_progress=False)
        results: dict[str, dict[str, float]] = {}
        for query_id, row, row_scores in zip(query_ids, rows, scores):
            hits: dict[str, float] = {}
            for index_of, score in zip(row.tolist(), row_scores.tolist()):
                doc_id = self.doc_ids[index_of]
                if score > 0 and doc_id != query_id and len(hits) < top_k:
                    hits[doc_id] = score
            results[query_id] = hits
        return results


def _tokenize_corpus(texts: Sequence[str], settings: BM25Settings) -> Tokenized:
    """Token ids of every document, tokenized a chunk of documents at a time (never a list of every
    text), each chunk's vocabulary merged into one. The ids differ from one `bm25s.tokenize` of
    the whole list, whose own numbering follows a set's order, but no score depends on them."""
    vocab: dict[str, int] = {}
    token_ids: list[list[int]] = []
    for start in range(0, len(texts), TOKENIZE_CHUNK):
        chunk = _tokenize(texts[start:start + TOKENIZE_CHUNK], settings)
        merged = [0] * len(chunk.vocab)  # the chunk's id -> the corpus' id (the same int objects: little memory)
        for token, chunk_id in chunk.vocab.items():
            merged[chunk_id] = vocab.setdefault(token, len(vocab))
        token_ids.extend([merged[token] for token in doc] for doc in chunk.ids)
    return Tokenized(ids=token_ids, vocab=vocab)


def _tokenize(texts: list[str], settings: BM25Settings, as_ids: bool = True):
    stemmer = Stemmer.Stemmer(settings.stemmer) if settings.stemmer else None
    return bm25s.tokenize(texts, stopwords=settings.stopwords or [], stemmer=stemmer, return_ids=as_ids, show_progress=False)


def index_key(corpus_sha256: str, settings: BM25Settings) -> dict:
    """Everything an index depends on (bm25s' version included: its on-disk layout is its own)."""
    return {"corpus": corpus_sha256, "settings": settings.as_dict(), "bm25s": metadata.version("bm25s")}


def index_folder(cache_dir: Path, corpus_sha256: str, settings: BM25Settings) -> Path:
    """Where the index of this corpus file with these settings lives."""
    return cache_dir / SUBFOLDER / digest(index_key(corpus_sha256, settings), 20)


def load_or_build(
    corpus: Corpus, corpus_sha256: str, settings: BM25Settings, cache_dir: Path | None
) -> tuple[BM25Index, bool]:
    """The index from the cache when there, else built (and cached when `cache_dir` is given).

    Returns the index and whether it came from the cache.
    """
    folder = index_folder(cache_dir, corpus_sha256, settings) if cache_dir else None
    if folder and (folder / _DOC_IDS).is_file():
        log.info("BM25 index from %s", folder)
        return BM25Index.load(folder, settings), True
    index = BM25Index.build(corpus, settings)
    if folder:
        index.save(folder, index_key(corpus_sha256, settings))
    return index, False


class BM25Retriever:
    """BM25 top-k over the dataset's corpus; also the first stage of re-ranking."""

    method = "bm25"

    def __init__(self, settings: BM25Settings, top_k: int, cache_dir: Path | None) -> None:
        self.bm25, self.top_k, self.cache_dir = settings, top_k, cache_dir

    def model_settings(self) -> None:
        return None

    def settings(self) -> dict:
        return {"top_k": self.top_k, "bm25": self.bm25.as_dict()}

    def retrieve(self, dataset: BeirDataset, timings: dict[str, float]) -> tuple[Ranking, dict]:
        with timed(timings, "bm25_index"):
            index, reused = load_or_build(dataset.corpus, dataset.hashes["corpus"], self.bm25, self.cache_dir)
        with timed(timings, "bm25_search"):
            ranking = index.search(dataset.queries, self.top_k)
        log.info("BM25 index %s and search: %.2f s", "loaded" if reused else "built",
                 timings["bm25_index"] + timings["bm25_search"])
        return ranking, {"library": "bm25s", "index_from_cache": reused}
