"""Dense retrieval: a bi-encoder's vectors (cached) searched exactly, by inner product on
normalized (cosine) or raw (dot) vectors.

The corpus is read one shard at a time (memory-mapped from the embedding cache), upcast into
blocks of a few shards and scored against a chunk of queries by one float32 matrix product
(torch, on the CPU or the GPU), keeping a running top-(k+1) per query. Only a block's documents
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
# Documents scored at once: as many as fit in BLOCK_BYTES of float32 (fewer, larger blocks keep
# the matrix product large), at least BLOCK_ROWS. The scores of a chunk of queries against a block
# take at most BLOCK_BYTES as well.
BLOCK_ROWS = 8192
BLOCK_BYTES = 256 * 2**20
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
    if score_function == "cos_sim":
        if np.may_share_memory(prepared, vectors):  # never normalize the caller's (or a mapped file's) rows
            prepared = prepared.copy()
        faiss.normalize_L2(prepared)
    return prepared


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
        if buffer.shape != (rows, shard.shape[1]):
            buffer = np.empty((rows, shard.shape[1]), np.float32)
        _upcast(shard, buffer[filled:filled + len(shard)])
        filled += len(shard)
    if filled:
        yield _normalized(buffer[:filled], score_function)


def _normalized(block: np.ndarray, score_function: str) -> np.ndarray:
    if score_function == "cos_sim":
        faiss.normalize_L2(block)
    return block


def _merge(kept: torch.Tensor, kept_ids: torch.Tensor, scores: torch.Tensor, entering: torch.Tensor, offset: int):
    """The best of each row among the kept documents and a block's, by score, then lower index.

    `kept`: each row's best so far, sorted (score descending, then lower index; -inf where none
    yet); `scores`: the block's, documents `offset` on, all of higher index; `entering`: a
    boolean buffer of the same shape. Only a document above its row's worst kept score can enter
    (one equal to it has a higher index), and until a row is full only one among the block's own
    best `depth`; the few that enter are packed left, in index order, and merged by a stable sort.
    """
    depth = kept.shape[1]
    torch.gt(scores, kept[:, -1:], out=entering)  # NaN (a broken vector) never enters
    if scores.shape[1] > depth and bool(torch.isneginf(kept[:, -1]).any()):
        finite = torch.nan_to_num(scores, nan=-torch.inf)
        kth = torch.topk(finite, depth, dim=1, sorted=False).values.min(dim=1, keepdim=True).values
        entering &= finite >= kth
    rows, cols = entering.nonzero(as_tuple=True)  # row by row, columns ascending
    if len(rows) == 0:
        return kept, kept_ids
    counts = torch.bincount(rows, minlength=len(scores))
    place = torch.arange(len(rows), device=rows.device) - torch.repeat_interleave(counts.cumsum(0) - counts, counts)
    width = int(counts.max())
    packed = torch.full((len(scores), width), -torch.inf, device=scores.device)
    packed_ids = torch.full((len(scores), width), -1, dtype=torch.int64, device=scores.device)
    packed[rows, place], packed_ids[rows, place] = scores[rows, cols], cols + offset
    both, both_ids = torch.cat([kept, packed], dim=1), torch.cat([kept_ids, packed_ids], dim=1)
    order = torch.sort(both, dim=1, descending=True, stable=True).indices[:, :depth]
    return both.gather(1, order), both_ids.gather(1, order)


class _RunningTop:
    """The best `depth` documents of every query so far, fed one block of documents at a time and
    scored on `device` against at most `chunk_size` queries at once (fewer when their scores
    would pass BLOCK_BYTES), into buffers reused from block to block."""

    def __init__(self, queries: np.ndarray, depth: int, chunk_size: int, device: str) -> None:
        self.depth, self.chunk_size, self.device = depth, chunk_size, torch.device(device)
        self.queries = torch.from_numpy(queries).to(self.device)
        self.scores = torch.full((len(queries), depth), -torch.inf, device=self.device)
        self.ids = torch.full((len(queries), depth), -1, dtype=torch.int64, device=self.device)
        self.buffers: tuple[torch.Tensor, torch.Tensor] | None = None

    def add(self, block: np.ndarray, offset: int) -> None:
        documents = torch.from_numpy(block).to(self.device)
        chunk = max(1, min(self.chunk_size, BLOCK_BYTES // (4 * len(block))))
        size = min(chunk, len(self.queries)) * len(block)
        if self.buffers is None or self.buffers[0].numel() < size:
            self.buffers = (torch.empty(size, device=self.device), torch.empty(size, dtype=torch.bool, device=self.device))
        for start in range(0, len(self.queries), chunk):
            rows = slice(start, start + chunk)
            queries = self.queries[rows]
            shape = (len(queries), len(block))
            scores = torch.matmul(queries, documents.T, out=self.buffers[0][:shape[0] * shape[1]].view(shape))
            entering = self.buffers[1][:shape[0] * shape[1]].view(shape)
            self.scores[rows], self.ids[rows] = _merge(self.scores[rows], self.ids[rows], scores, entering, offset)

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """Scores and document indices, each row best first (equal scores: lower index first;
        -inf and -1 where fewer documents could be ranked)."""
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
    return _ranking(*top.result(), query_ids, doc_ids, top_k)


def _ranking(scores: np.ndarray, indices: np.ndarray, query_ids: list[str], doc_ids: list[str], top_k: int) -> Ranking:
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
