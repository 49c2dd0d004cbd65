"""Dense retrieval: a bi-encoder's vectors (cached) searched exactly, by inner product on
normalized (cosine) or raw (dot) vectors.

The corpus is read one shard at a time (memory-mapped from the embedding cache), upcast into
blocks of a few shards and scored against a chunk of queries by one float32 matrix product
(numpy's BLAS on the CPU, torch on the GPU), keeping a running top-(k+1) per query. Only a block's documents
that beat a query's current (k+1)-th best are looked at again, so after the first block nearly
all the work is the matrix product. Memory depends on the block size, the dimension, the number
of queries and k, never on the corpus size. Equal scores rank the lower document index first.
"""

from __future__ import annotations

import logging
import warnings
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
# Documents scored at once: as many as fit in BLOCK_BYTES of float32, at least BLOCK_ROWS (large
# enough for a matrix product near the cores' speed, small enough to stay cheap to fill), and
# the scores of a chunk of queries against a block in at most SCORE_BYTES.
BLOCK_ROWS = 8192
BLOCK_BYTES = 192 * 2**20
SCORE_BYTES = 256 * 2**20
CHUNK_SIZE = 4096  # queries scored at once, at most


def block_rows_for(dim: int) -> int:
    return max(BLOCK_ROWS, BLOCK_BYTES // (4 * dim) // 1024 * 1024)


def search_device(use_gpu: bool | None) -> str:
    """"cuda" when torch sees a GPU and `use_gpu` is not False, else "cpu"."""
    available = torch.cuda.is_available()
    if use_gpu and not available:
        raise SgptEvalError("--faiss-gpu was given but torch sees no CUDA GPU; "
                            "leave it out to search on the CPU, or install a CUDA build of torch")
    return "cuda" if available and use_gpu is not False else "cpu"


def _prepare(vectors: np.ndarray, score_function: str) -> np.ndarray:
    """float32 rows (a float16 or memory-mapped shard is copied), L2-normalized for cosine."""
    prepared = np.ascontiguousarray(vectors, dtype=np.float32)
    if score_function == "cos_sim" and np.may_share_memory(prepared, vectors):
        prepared = prepared.copy()  # never normalize the caller's (or a mapped file's) rows
    return _normalized(prepared, score_function)


def _upcast(shard: np.ndarray, into: np.ndarray) -> None:
    """`into[:] = shard` as float32, by torch's threaded conversion (numpy's is single-threaded)."""
    with warnings.catch_warnings():  # a memory-mapped shard is read-only; it is only read here
        warnings.filterwarnings("ignore", "The given NumPy array is not writable")
        torch.from_numpy(into).copy_(torch.from_numpy(np.asarray(shard)))


def _blocks(shards: Iterable[np.ndarray], score_function: str, rows: int) -> Iterator[np.ndarray]:
    """Consecutive shards upcast into one reused float32 buffer of `rows` rows and yielded as
    blocks of at most that many (a larger shard is a block alone), normalized for cosine: few,
    large matrix products, memory bounded, no allocation per block."""
    buffer, filled = np.empty((0, 0), np.float32), 0
    for shard in shards:
        if filled and filled + len(shard) > rows:
            yield _normalized(buffer[:filled], score_function)
            filled = 0
        if len(shard) > rows:
            yield _prepare(shard, score_function)
            continue
        if buffer.shape != (rows, shard.shape[1]):  # torch's allocation: its pages are first touched several times faster
            buffer = torch.empty((rows, shard.shape[1])).numpy()
        _upcast(shard, buffer[filled:filled + len(shard)])
        filled += len(shard)
    if filled:
        yield _normalized(buffer[:filled], score_function)


def _normalized(block: np.ndarray, score_function: str) -> np.ndarray:
    """`block` itself, its rows L2-normalized in place for cosine."""
    if score_function == "cos_sim":
        faiss.normalize_L2(block)
    return block


def _above(scores: torch.Tensor, floor: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Flat positions of the scores above their row's `floor` (NaN never is), ascending; `mask` a
    boolean buffer of the scores' shape. On the CPU by numpy, whose single passes over the
    block's scores ran several times faster than torch's (`benchmarks/README.md`)."""
    if scores.device.type != "cpu":
        return torch.gt(scores, floor, out=mask).view(-1).nonzero().view(-1)
    return torch.from_numpy(np.flatnonzero(np.greater(scores.numpy(), floor.numpy(), out=mask.numpy())))


def _entrants(scores: torch.Tensor, floor: torch.Tensor, depth: int, mask: torch.Tensor) -> torch.Tensor:
    """Flat positions, ascending, of a block's documents that may enter their row's best `depth`.
    Only a score above the row's worst kept one (`floor`) can: one equal to it has a higher index.
    Until a row holds `depth` documents (its floor is -inf), only one among the block's own best."""
    if scores.shape[1] > depth and bool(torch.isneginf(floor).any()):
        finite = torch.nan_to_num(scores, nan=-torch.inf)
        kth = torch.topk(finite, depth, dim=1, sorted=False).values.min(dim=1, keepdim=True).values
        return ((finite > floor) & (finite >= kth)).view(-1).nonzero().view(-1)
    return _above(scores, floor, mask)


class _RunningTop:
    """The best `depth` documents of every query so far (score descending, then lower index; -inf
    where none yet), fed one block of documents at a time and scored on `device` against at most
    `chunk_size` queries at once (fewer when their scores would pass SCORE_BYTES), into buffers
    reused from block to block.

    The documents that may enter wait, with their scores, and are merged by one stable sort once
    about `depth` per query have gathered (or while some query has fewer than `depth` kept): the
    kept worst scores they must beat stay valid in between, only less tight.
    """

    def __init__(self, queries: np.ndarray, depth: int, chunk_size: int, device: str) -> None:
        self.depth, self.chunk_size, self.device = depth, chunk_size, torch.device(device)
        self.queries = torch.from_numpy(queries).to(self.device)
        self.scores = torch.full((len(queries), depth), -torch.inf, device=self.device)
        self.ids = torch.full((len(queries), depth), -1, dtype=torch.int64, device=self.device)
        self.buffers: tuple[torch.Tensor, torch.Tensor] | None = None
        self.waiting: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []  # (rows, document indices, scores)
        self.waiting_count = 0

    def add(self, block: np.ndarray, offset: int) -> None:
        documents = torch.from_numpy(block).to(self.device)
        chunk = max(1, min(self.chunk_size, SCORE_BYTES // (4 * len(block))))
        size = min(chunk, len(self.queries)) * len(block)
        if self.buffers is None or self.buffers[0].numel() < size:
            self.buffers = (torch.empty(size, device=self.device), torch.empty(size, dtype=torch.bool, device=self.device))
        for start in range(0, len(self.queries), chunk):
            queries = self.queries[start:start + chunk]
            shape = (len(queries), len(block))
            scores = self._product(queries, documents, self.buffers[0][:shape[0] * shape[1]].view(shape))
            mask = self.buffers[1][:shape[0] * shape[1]].view(shape)
            flat = _entrants(scores, self.scores[start:start + chunk, -1:], self.depth, mask)
            rows, cols = flat // shape[1], flat % shape[1]
            self.waiting.append((rows + start, cols + offset, scores.view(-1)[flat]))
            self.waiting_count += len(flat)
        if self.waiting_count > self.scores.numel() or bool(torch.isneginf(self.scores[:, -1]).any()):
            self._merge()

    def _merge(self) -> None:
        """The waiting documents packed left per row, in index order, after the kept ones; a stable
        sort by score then keeps the lower index first among equal scores."""
        if not self.waiting_count:
            self.waiting = []
            return
        # Each row's documents go left to right in index order: the parts came block by block,
        # each row by row, so a document's place is its row's count so far plus its rank in the part.
        counts, places = torch.zeros(len(self.scores), dtype=torch.int64, device=self.device), []
        for part_rows, _, _ in self.waiting:
            part_counts = torch.bincount(part_rows, minlength=len(self.scores))
            rank = torch.arange(len(part_rows), device=self.device) - (part_counts.cumsum(0) - part_counts)[part_rows]
            places.append(counts[part_rows] + rank)
            counts += part_counts
        rows, ids, scores = (torch.cat(parts) for parts in zip(*self.waiting))
        place = torch.cat(places)
        self.waiting, self.waiting_count = [], 0
        packed = torch.full((len(self.scores), int(counts.max())), -torch.inf, device=self.device)
        packed_ids = torch.full(packed.shape, -1, dtype=torch.int64, device=self.device)
        packed[rows, place], packed_ids[rows, place] = scores, ids
        both, both_ids = torch.cat([self.scores, packed], dim=1), torch.cat([self.ids, packed_ids], dim=1)
        order = torch.sort(both, dim=1, descending=True, stable=True).indices[:, :self.depth]
        self.scores, self.ids = both.gather(1, order), both_ids.gather(1, order)

    def _product(self, queries: torch.Tensor, documents: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """`queries @ documents.T` into `out`. On the CPU by numpy's BLAS (OpenBLAS, as FAISS's flat
        index uses), which multiplied float32 matrices 1.6x faster than torch's (MKL) on AMD cores
        (`benchmarks/README.md`); on a GPU by torch."""
        if self.device.type == "cpu":
            np.matmul(queries.numpy(), documents.numpy().T, out=out.numpy())
            return out
        return torch.matmul(queries, documents.T, out=out)

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """Scores and document indices, each row best first (equal scores: lower index first;
        -inf and -1 where fewer documents could be ranked)."""
        self._merge()
        return self.scores.cpu().numpy(), self.ids.cpu().numpy()


def search(
    query_vectors: np.ndarray,
    doc_vectors: np.ndarray | Sequence[np.ndarray],
    query_ids: list[str],
    doc_ids: list[str],
    top_k: int,
    score_function: str = "cos_sim",
    chunk_size: int = CHUNK_SIZE,
    device: str = "cpu",
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
    block_rows = min(block_rows or block_rows_for(query_vectors.shape[1]), max(1, len(doc_ids)))
    offset = 0
    for block in _blocks(progress_bar(shards, desc="search", unit="shard", hide=len(shards) < 2), score_function, block_rows):
        top.add(block, offset)
        offset += len(block)
    if offset != len(doc_ids):
        raise ValueError(f"{offset} document vectors for {len(doc_ids)} documents")
    return ranked_hits(*top.result(), query_ids, doc_ids, top_k)


def ranked_hits(scores: np.ndarray, indices: np.ndarray, query_ids: list[str], doc_ids: list[str], top_k: int) -> Ranking:
    """Each query's hits, best first, without the document of its own id and at most k; slots
    left at -inf (nothing ranked there: too few documents, or broken vectors) are left out."""
    names = np.asarray(doc_ids, dtype=object)
    found = (scores > -np.inf).sum(axis=1)  # a prefix of each row: rows are sorted, -inf last
    results: Ranking = {}
    for row, query_id in enumerate(query_ids):
        hits = dict(zip(names[indices[row, :found[row]]].tolist(), scores[row, :found[row]].tolist()))
        hits.pop(query_id, None)
        if len(hits) > top_k:  # one more than k was kept, for the self-hit
            hits.popitem()
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
        details = {"device": encoder.device, "batch_size": encoder.batch_size, "search_device": self.device,
                   "embedding_cache": {"used": self.cache.root is not None, "corpus_shards_reused": reused}}
        return ranking, details
