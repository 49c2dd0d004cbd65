"""Dense retrieval: a bi-encoder's vectors (cached) searched exactly, by inner product on
normalized (cosine) or raw (dot) vectors.

The corpus is read one shard at a time (memory-mapped from the embedding cache) and scored in
blocks of a few shards, keeping a running top-(k+1) per query, so memory depends on the block
size, the dimension, the number of queries and k, never on the corpus size. On the CPU each
block is a FAISS flat index, so scores are those of one flat index over the whole corpus; on
the GPU (torch sees one) a float32 matrix product. Equal scores rank the lower document index
first.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence

import faiss
import numpy as np
import torch

from ..data.beir import BeirDataset
from ..errors import SgptEvalError
from ..executors import Executor
from ..models.resolution import ResolvedModel
from ..progress import progress_bar
from ..storage import sha256_text
from ..timing import timed
from .embedding_cache import DEFAULT_DTYPE, STORE_DTYPES, EmbeddingCache
from .ranking import Ranking

log = logging.getLogger(__name__)

SCORE_FUNCTIONS = ("cos_sim", "dot")
# Documents scored at once: as many as fit in BLOCK_BYTES of float32 (each block pays a top-k
# selection, so fewer, larger blocks are faster), at least BLOCK_ROWS; multiples of FAISS's 1024.
BLOCK_ROWS = 8192
BLOCK_BYTES = 256 * 2**20


def block_rows_for(dim: int) -> int:
    return max(BLOCK_ROWS, BLOCK_BYTES // (4 * dim) // 1024 * 1024)


def search_device(use_gpu: bool | None) -> str | None:
    """"cuda" when torch sees a GPU and `use_gpu` is not False; None searches on the CPU."""
    available = torch.cuda.is_available()
    if use_gpu and not available:
        raise SgptEvalError("--faiss-gpu was given but torch sees no CUDA GPU; "
                            "leave it out to search on the CPU, or install a CUDA build of torch")
    return "cuda" if available and use_gpu is not False else None


def _prepare(vectors: np.ndarray, score_function: str) -> np.ndarray:
    """float32 rows (a float16 or memory-mapped shard is copied), L2-normalized for cosine."""
    prepared = np.ascontiguousarray(vectors, dtype=np.float32)
    if score_function == "cos_sim":
        if np.may_share_memory(prepared, vectors):  # never normalize the caller's (or a mapped file's) rows
            prepared = prepared.copy()
        faiss.normalize_L2(prepared)
    return prepared


def _blocks(shards: Iterable[np.ndarray], score_function: str, rows: int) -> Iterator[np.ndarray]:
    """Consecutive shards, prepared, joined into blocks of at least `rows` rows (the last one may
    be smaller; a larger shard is a block alone): fewer, larger searches, memory still bounded."""
    pending: list[np.ndarray] = []
    for shard in shards:
        pending.append(_prepare(shard, score_function))
        if sum(len(part) for part in pending) >= rows:
            yield pending[0] if len(pending) == 1 else np.concatenate(pending)
            pending = []
    if pending:
        yield pending[0] if len(pending) == 1 else np.concatenate(pending)


def _merge_numpy(kept: np.ndarray, kept_ids: np.ndarray, scores: np.ndarray, ids: np.ndarray, depth: int):
    """The best `depth` of each row among the kept candidates and a block's, by score, then
    lower index. The kept ones are in ascending document index along each row; the block's come
    in any order, all with higher indices.

    The result keeps each row in ascending document index, so that among equal scores at the
    cut the first columns are taken; rows are sorted by score once, at the end.
    """
    if kept.shape[1] == depth:
        scores, ids = _entrants(scores, ids, kept.min(axis=1))
    else:
        order = np.argsort(ids, axis=1)
        scores, ids = np.take_along_axis(scores, order, axis=1), np.take_along_axis(ids, order, axis=1)
    both, both_ids = np.concatenate([kept, scores], axis=1), np.concatenate([kept_ids, ids], axis=1)
    both[np.isnan(both)] = -np.inf  # a broken vector ranks last instead of upsetting the counts
    if both.shape[1] > depth:
        kth = np.partition(both, both.shape[1] - depth, axis=1)[:, -depth, None]  # each row's depth-th best
        above, tied = both > kth, both == kth
        room = depth - above.sum(axis=1, keepdims=True)
        picked = np.nonzero(above | (tied & (np.cumsum(tied, axis=1) <= room)))[1].reshape(len(both), depth)
        both, both_ids = np.take_along_axis(both, picked, axis=1), np.take_along_axis(both_ids, picked, axis=1)
    return both, both_ids


def _entrants(scores: np.ndarray, ids: np.ndarray, floor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's candidates scoring above its `floor` (its worst kept score: no other can enter,
    since every kept document has a lower index), packed left in index order, -inf after them."""
    rows, cols = np.nonzero(scores > floor[:, None])
    order = np.lexsort((ids[rows, cols], rows))
    rows, cols = rows[order], cols[order]
    counts = np.bincount(rows, minlength=len(scores))
    place = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
    packed = np.full((len(scores), counts.max(initial=0)), -np.inf, np.float32)
    packed_ids = np.full(packed.shape, -1, np.int64)
    packed[rows, place], packed_ids[rows, place] = scores[rows, cols], ids[rows, cols]
    return packed, packed_ids


def _merge_torch(kept: torch.Tensor, kept_ids: torch.Tensor, scores: torch.Tensor, offset: int, depth: int):
    """As `_merge_numpy`, by a stable sort (kept rows stay sorted by score, then lower index)."""
    both = torch.cat([kept, torch.nan_to_num(scores, nan=-torch.inf)], dim=1)
    shard_ids = torch.arange(offset, offset + scores.shape[1], device=scores.device).expand(len(scores), -1)
    ids = torch.cat([kept_ids, shard_ids], dim=1)
    order = torch.sort(both, dim=1, descending=True, stable=True).indices[:, :depth]
    return both.gather(1, order), ids.gather(1, order)


class _RunningTop:
    """The best `depth` documents of every query so far, fed one block of documents at a time,
    queries in chunks of `chunk_size`. `device`: a torch device to score on (a matrix product),
    or None: a FAISS flat index per block on the CPU, whose scores are those of one flat index
    over the whole corpus."""

    def __init__(self, queries: np.ndarray, depth: int, chunk_size: int, device: str | None) -> None:
        self.depth, self.chunk_size, self.device = depth, chunk_size, device
        if device is None:
            self.queries = queries
            self.scores, self.ids = np.empty((len(queries), 0), np.float32), np.empty((len(queries), 0), np.int64)
        else:
            self.queries = torch.from_numpy(queries).to(device)
            self.scores = torch.empty((len(queries), 0), device=device)
            self.ids = torch.empty((len(queries), 0), dtype=torch.int64, device=device)

    def add(self, block: np.ndarray, offset: int) -> None:
        chunks = [slice(start, start + self.chunk_size) for start in range(0, len(self.queries), self.chunk_size)]
        if self.device is None:
            index = faiss.IndexFlatIP(block.shape[1])
            index.add(block)
            parts = [_merge_numpy(self.scores[rows], self.ids[rows], *self._block_best(index, rows, offset), self.depth)
                     for rows in chunks]
            cat = np.concatenate
        else:
            block = torch.from_numpy(block).to(self.device)
            parts = [_merge_torch(self.scores[rows], self.ids[rows], self.queries[rows] @ block.T, offset, self.depth)
                     for rows in chunks]
            cat = torch.cat
        self.scores, self.ids = cat([part[0] for part in parts]), cat([part[1] for part in parts])

    def _block_best(self, index: faiss.Index, rows: slice, offset: int) -> tuple[np.ndarray, np.ndarray]:
        """The block's best for each query of the chunk (document indices): depth + 1 of them,
        or more where scores equal to the depth-th straddle the end of the list (FAISS's choice
        among equal scores is not by index), so that the merge sees all of those."""
        width = min(self.depth + 1, index.ntotal)
        while True:
            scores, found = index.search(self.queries[rows], width)  # the same chunk: the same numbers
            unfilled = found < 0  # a slot FAISS cannot fill: a NaN score (a broken vector)
            scores[unfilled], found = -np.inf, np.where(unfilled, -1, found + offset)
            if width == index.ntotal or not np.any(
                    (scores[:, -1] == scores[:, self.depth - 1]) & np.isfinite(scores[:, -1])):
                return scores, found
            width = min(2 * width, index.ntotal)

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """Scores and document indices, each row best first (equal scores: lower index first)."""
        if self.device is not None:
            return self.scores.cpu().numpy(), self.ids.cpu().numpy()
        order = np.argsort(-self.scores, axis=1, kind="stable")
        return np.take_along_axis(self.scores, order, axis=1), np.take_along_axis(self.ids, order, axis=1)


def search(
    query_vectors: np.ndarray,
    doc_vectors: np.ndarray | Sequence[np.ndarray],
    query_ids: list[str],
    doc_ids: list[str],
    top_k: int,
    score_function: str = "cos_sim",
    chunk_size: int = 4096,
    device: str | None = None,
    block_rows: int | None = None,
) -> dict[str, dict[str, float]]:
    """Top-k documents per query, with a document whose id equals the query's never returned.

    `doc_vectors`: one array, or consecutive shards (e.g. the embedding cache's `Shards`), each
    read and upcast to float32 once, and scored in blocks of about `block_rows` documents (one
    shard or more; default: `block_rows_for` the dimension). BEIR's convention: ask for one more hit, drop the self-hit, keep k.
    """
    if score_function not in SCORE_FUNCTIONS:
        raise SgptEvalError(f"--score-function {score_function}: choose from {', '.join(SCORE_FUNCTIONS)}")
    shards = [doc_vectors] if isinstance(doc_vectors, np.ndarray) else doc_vectors
    top = _RunningTop(_prepare(query_vectors, score_function), min(top_k + 1, len(doc_ids)), chunk_size, device)
    block_rows = block_rows or block_rows_for(query_vectors.shape[1])
    offset = 0
    for block in _blocks(progress_bar(shards, desc="search", unit="shard", hide=len(shards) < 2), score_function, block_rows):
        top.add(block, offset)
        offset += len(block)
    if offset != len(doc_ids):
        raise ValueError(f"{offset} document vectors for {len(doc_ids)} documents")
    scores, indices = top.result()
    results: dict[str, dict[str, float]] = {}
    for row, query_id in enumerate(query_ids):
        hits: dict[str, float] = {}
        for score, index_of in zip(scores[row].tolist(), indices[row].tolist()):
            if len(hits) == top_k or index_of < 0 or score == -np.inf:  # the rest: broken (NaN) vectors
                break
            if doc_ids[index_of] != query_id:
                hits[doc_ids[index_of]] = score
        results[query_id] = hits
    return results


class DenseRetriever:
    """A resolved bi-encoder, loaded by its executor when it first encodes, and exact search."""

    method = "dense"

    def __init__(
        self,
        model: ResolvedModel,
        executor: Executor,
        cache: EmbeddingCache,
        top_k: int,
        score_function: str = "cos_sim",
        faiss_gpu: bool | None = None,
        store_dtype: str = DEFAULT_DTYPE,
    ) -> None:
        """`model`: resolved for this run's dataset (its task instruction)."""
        if score_function not in SCORE_FUNCTIONS:
            raise SgptEvalError(f"--score-function {score_function}: choose from {', '.join(SCORE_FUNCTIONS)}")
        if store_dtype not in STORE_DTYPES:
            raise SgptEvalError(f"--store-dtype {store_dtype}: choose from {', '.join(STORE_DTYPES)}")
        self.model, self.executor, self.cache = model, executor, cache
        self.top_k, self.score_function, self.store_dtype = top_k, score_function, store_dtype
        self.device = search_device(faiss_gpu)

    def model_settings(self) -> dict:
        return self.model.settings.as_dict()

    def settings(self) -> dict:
        """float16 storage changes the scores, so it is part of the identity; float32, the
        default, is left out so that identities from before the setting keep their digest."""
        settings = {"top_k": self.top_k, "score_function": self.score_function}
        return settings if self.store_dtype == DEFAULT_DTYPE else {**settings, "store_dtype": self.store_dtype}

    def retrieve(self, dataset: BeirDataset, timings: dict[str, float]) -> tuple[Ranking, dict]:
        doc_ids, query_ids = list(dataset.corpus.docs), list(dataset.queries)
        encoder = self.executor.bi_encoder(self.model, -(-len(doc_ids) // self.cache.shard_size))
        timings["load_model"] = encoder.load_seconds
        query_texts = [dataset.queries[qid] for qid in query_ids]
        with timed(timings, "encode_corpus"):
            doc_vectors, reused = self.cache.encode(encoder, dataset.corpus.texts(), "doc", dataset.hashes["corpus"],
                                                    dtype=self.store_dtype)
        with timed(timings, "encode_queries"):
            query_vectors = self.cache.encode(encoder, query_texts, "query", sha256_text("\n".join(query_texts)))[0]
        with timed(timings, "search"):
            ranking = search(query_vectors.concatenated(), doc_vectors, query_ids, doc_ids, self.top_k,
                             self.score_function, device=self.device)
        details = {"device": encoder.device, "batch_size": encoder.batch_size, "search_device": self.device or "cpu",
                   "embedding_cache": {"used": self.cache.root is not None, "corpus_shards_reused": reused}}
        return ranking, details
