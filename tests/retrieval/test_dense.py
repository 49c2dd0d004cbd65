import numpy as np

from sgpt_eval.retrieval.dense import search


def _brute_force(queries, docs, top_k, cosine):
    if cosine:
        queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        docs = docs / np.linalg.norm(docs, axis=1, keepdims=True)
    scores = queries @ docs.T
    return [np.argsort(-row)[:top_k] for row in scores], scores


def test_matches_brute_force_in_chunks():
    rng = np.random.default_rng(0)
    queries, docs = rng.normal(size=(7, 16)).astype("f4"), rng.normal(size=(50, 16)).astype("f4")
    qids, dids = [f"q{i}" for i in range(7)], [f"d{i}" for i in range(50)]
    for score_function, cosine in (("cos_sim", True), ("dot", False)):
        results = search(queries, docs, qids, dids, top_k=5, score_function=score_function, chunk_size=3)
        expected, scores = _brute_force(queries, docs, 5, cosine)
        for row, qid in enumerate(qids):
            assert list(results[qid]) == [dids[i] for i in expected[row]]
            np.testing.assert_allclose(list(results[qid].values()), scores[row, expected[row]], rtol=1e-5)


def test_self_hits_are_removed_and_k_kept():
    docs = np.eye(4, dtype="f4")
    queries = docs[:2].copy()
    results = search(queries, docs, ["a", "x"], ["a", "b", "c", "d"], top_k=3)
    assert "a" not in results["a"] and len(results["a"]) == 3
    assert list(results["x"])[0] == "b" and len(results["x"]) == 3


# -- search shard by shard ---------------------------------------------------------------------

import faiss  # noqa: E402
import pytest  # noqa: E402

from sgpt_eval.errors import SgptEvalError  # noqa: E402
from sgpt_eval.retrieval.dense import DenseRetriever, _prepare  # noqa: E402
from sgpt_eval.retrieval.embedding_cache import EmbeddingCache  # noqa: E402


def _flat_search(queries, docs, qids, dids, top_k, score_function):
    """The search as it was before shards: one in-memory FAISS flat index over every document."""
    docs, queries = _prepare(docs, score_function), _prepare(queries, score_function)
    index = faiss.IndexFlatIP(docs.shape[1])
    index.add(docs)
    scores, indices = index.search(queries, min(top_k + 1, len(dids)))
    results = {}
    for row, qid in enumerate(qids):
        hits = {}
        for score, index_of in zip(scores[row], indices[row]):
            if index_of < 0 or len(hits) == top_k:
                break
            if dids[index_of] != qid:
                hits[dids[index_of]] = float(score)
        results[qid] = hits
    return results


def _shards(docs, sizes):
    bounds = np.cumsum([0, *sizes])
    assert bounds[-1] == len(docs)
    return [docs[start:stop] for start, stop in zip(bounds[:-1], bounds[1:])]


def _assert_same(results, expected):
    assert list(results) == list(expected)
    for qid, hits in expected.items():
        assert list(results[qid]) == list(hits), qid
        np.testing.assert_allclose(list(results[qid].values()), list(hits.values()), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("score_function", ["cos_sim", "dot"])
@pytest.mark.parametrize("top_k", [3, 17, 59, 60, 200])  # within a shard, larger than one, corpus - 1, corpus, beyond
def test_shards_rank_as_one_flat_index(score_function, top_k):
    rng = np.random.default_rng(7)
    docs, queries = rng.normal(size=(60, 24)).astype("f4"), rng.normal(size=(9, 24)).astype("f4")
    dids = [f"d{i}" for i in range(60)]
    qids = ["d5", "q1", "d59", "q3", "d0", "q5", "q6", "d31", "q8"]  # some queries are documents too: self-hits
    expected = _flat_search(queries, docs, qids, dids, top_k, score_function)
    for sizes in ([60], [16, 16, 16, 12], [7, 1, 30, 22]):
        for block_rows in (1, 20):  # each shard a block; shards joined into blocks of 20 rows or more
            results = search(queries, _shards(docs, sizes), qids, dids, top_k, score_function, chunk_size=4,
                             block_rows=block_rows)
            _assert_same(results, expected)
    assert "d5" not in expected["d5"] and len(expected["d5"]) == min(top_k, 59) and len(expected["q1"]) == min(top_k, 60)


def test_equal_scores_rank_the_lower_index_first_in_any_shard_layout():
    rng = np.random.default_rng(3)
    distinct = rng.integers(-3, 4, size=(5, 8)).astype("f4")  # small whole numbers: exact scores on every backend
    docs = distinct[rng.integers(0, 5, size=70)]  # each score shared by about 14 documents
    queries = rng.integers(-3, 4, size=(6, 8)).astype("f4")
    dids, qids = [f"d{i}" for i in range(70)], [f"q{i}" for i in range(6)]
    scores = queries @ docs.T
    for top_k in (1, 10, 14, 30, 69, 70):
        for sizes in ([70], [20, 20, 20, 10], [3, 50, 17]):
            for block_rows in (1, 30):
                results = search(queries, _shards(docs, sizes), qids, dids, top_k, "dot", chunk_size=4,
                                 block_rows=block_rows)
                for row, qid in enumerate(qids):
                    order = np.lexsort((np.arange(70), -scores[row]))[:top_k]
                    assert list(results[qid]) == [dids[i] for i in order]


def test_self_hit_among_equal_scores_is_dropped_and_k_kept():
    docs = np.ones((6, 4), dtype="f4")
    results = search(docs[:1], [docs[:2], docs[2:4], docs[4:]], ["b"], list("abcdef"), top_k=3, block_rows=1)
    assert list(results["b"]) == ["a", "c", "d"]


def test_float16_shards_give_the_same_top_documents(tmp_path):
    rng = np.random.default_rng(11)
    centres = rng.normal(size=(40, 32)).astype("f4")
    docs = centres + rng.normal(scale=0.05, size=centres.shape).astype("f4")
    queries = centres[::4] + rng.normal(scale=0.05, size=(10, 32)).astype("f4")
    dids, qids = [f"d{i}" for i in range(40)], [f"q{i}" for i in range(10)]
    cache = EmbeddingCache(tmp_path, shard_size=16)
    shards, _ = cache.encode(FixedEncoder(docs), dids, "doc", "corpus", dtype="float16")
    assert {shards[i].dtype.name for i in range(len(shards))} == {"float16"} and len(shards) == 3
    assert all(isinstance(shards[i], np.memmap) for i in range(len(shards)))
    full = search(queries, docs, qids, dids, top_k=5)
    half = search(queries, shards, qids, dids, top_k=5, block_rows=1)
    assert [list(half[q])[0] for q in qids] == [f"d{4 * i}" for i in range(10)]
    assert all(list(half[q]) == list(full[q]) for q in qids)
    np.testing.assert_allclose([list(half[q].values()) for q in qids], [list(full[q].values()) for q in qids], atol=2e-3)


class FixedEncoder:
    """Hands back rows of a fixed matrix: the text is the row's document id, `d<row>`."""

    class settings:  # noqa: N801 - the encoder's settings, as the cache reads them
        model = "fixed"

        @staticmethod
        def as_dict():
            return {"model": "fixed"}

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors, self.encoded = vectors, 0

    def encode_shards(self, jobs, texts, kind):
        for job in jobs:
            self.encoded += job.rows
            yield job, self.vectors[[int(text[1:]) for text in texts[job.start:job.stop]]]


def test_without_a_cache_the_shards_stay_in_memory_unjoined():
    docs = np.arange(40, dtype="f4").reshape(10, 4)
    encoder = FixedEncoder(docs)
    shards, reused = EmbeddingCache(None, shard_size=4).encode(encoder, [f"d{i}" for i in range(10)], "doc", "c")
    assert reused == 0 and [len(shard) for shard in shards] == [4, 4, 2] and encoder.encoded == 10
    assert not any(isinstance(shard, np.memmap) for shard in shards)
    np.testing.assert_array_equal(shards.concatenated(), docs)
    np.testing.assert_array_equal(shards[1:].concatenated(), docs[4:])


def test_store_dtype_is_in_the_identity_only_when_not_float32():
    def retriever(**kwargs):
        return DenseRetriever(None, lambda: None, EmbeddingCache(None), 10, **kwargs)

    assert retriever().settings() == {"top_k": 10, "score_function": "cos_sim"}
    assert retriever(store_dtype="float16").settings() == {"top_k": 10, "score_function": "cos_sim",
                                                          "store_dtype": "float16"}
    with pytest.raises(SgptEvalError, match=r"^--store-dtype float64: choose from float32, float16$"):
        retriever(store_dtype="float64")


def test_a_broken_vector_returns_no_made_up_hits():
    """A NaN query finds nothing (FAISS leaves its slots unfilled), on every path; a NaN document is
    never returned; the other queries rank as before."""
    rng = np.random.default_rng(3)
    docs = rng.standard_normal((12, 8)).astype(np.float32)
    queries = rng.standard_normal((3, 8)).astype(np.float32)
    queries[1] = np.nan
    broken = docs.copy()
    broken[5] = np.nan
    dids, qids = [f"d{i}" for i in range(12)], ["q0", "q1", "q2"]
    for block_rows in (1, 4, None):
        results = search(queries, [broken[:4], broken[4:8], broken[8:]], qids, dids, top_k=11, block_rows=block_rows)
        assert results["q1"] == {}
        for qid in ("q0", "q2"):
            assert "d5" not in results[qid] and len(results[qid]) == 11  # every other document
        clean = search(queries[[0, 2]], np.delete(docs, 5, axis=0), ["q0", "q2"], dids[:5] + dids[6:], top_k=11)
        assert {qid: list(results[qid]) for qid in ("q0", "q2")} == {qid: list(hits) for qid, hits in clean.items()}
