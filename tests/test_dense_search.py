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
