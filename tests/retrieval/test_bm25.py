"""BM25 first stage: ranking, self-hits, the on-disk index, the BM25-only run, and real SciFact."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import bm25s
import numpy as np
import pytest

from sgpt_eval.data import beir as beir_data
from sgpt_eval.evaluation import metrics
from sgpt_eval.retrieval import bm25
from sgpt_eval.data.beir import Corpus
from sgpt_eval.data.beir import limit_queries
from sgpt_eval.evaluation.pipeline import Models, evaluate
from sgpt_eval.evaluation.specs import RunOptions, RunSpec
from sgpt_eval.errors import SgptEvalError

DOCS = {
    "d1": {"title": "Running", "text": "The runner runs marathons every week."},
    "d2": {"title": "Cooking", "text": "Boil the pasta and cook the sauce."},
    "d3": {"title": "", "text": "Cats are sleeping on the warm sofa."},
    "q1": {"title": "", "text": "A document whose id is also a query id, about running marathons."},
}


def _corpus(folder: Path, docs: dict[str, dict[str, str]] = DOCS) -> Corpus:
    path = folder / "corpus.jsonl"
    path.write_text("".join(json.dumps({"_id": doc_id, **doc}) + "\n" for doc_id, doc in docs.items()))
    return beir_data.read_corpus(path)


@pytest.fixture()
def corpus(tmp_path) -> Corpus:
    return _corpus(tmp_path)


def test_stemmed_matches_rank_first_and_self_hits_are_dropped(corpus):
    index = bm25.BM25Index.build(corpus, bm25.BM25Settings())
    results = index.search({"q1": "run marathon", "q2": "cooked sauces", "q3": "the and of"}, top_k=2)
    assert list(results["q1"]) == ["d1"]  # "q1" itself matches best but is the query's own id; d2, d3 share no term
    assert list(results["q2"]) == ["d2"]  # stemming: cooked -> cook, sauces -> sauc
    assert results["q3"] == {}  # stopwords only: nothing matches


def test_top_k_is_kept_after_dropping_the_self_hit(tmp_path):
    docs = {f"d{i}": {"title": "", "text": f"marathon {'x ' * i}"} for i in range(5)} | {"q": {"title": "", "text": "marathon"}}
    results = bm25.BM25Index.build(_corpus(tmp_path, docs), bm25.BM25Settings()).search({"q": "marathon"}, top_k=3)
    assert len(results["q"]) == 3 and "q" not in results["q"]
    assert list(results["q"].values()) == sorted(results["q"].values(), reverse=True)


def test_k1_and_b_change_the_scores(corpus):
    default = bm25.BM25Index.build(corpus, bm25.BM25Settings()).search({"x": "runner runs"}, 3)
    other = bm25.BM25Index.build(corpus, bm25.BM25Settings(k1=0.9, b=0.4)).search({"x": "runner runs"}, 3)
    assert default["x"].keys() == other["x"].keys() and default["x"]["d1"] != pytest.approx(other["x"]["d1"])
    with pytest.raises(SgptEvalError, match="--k1"):
        bm25.BM25Index.build(corpus, bm25.BM25Settings(b=1.5))


def test_index_cache_round_trip_without_pickle(corpus, tmp_path):
    settings = bm25.BM25Settings()
    first, reused = bm25.load_or_build(corpus, "hash-a", settings, tmp_path)
    second, reused_again = bm25.load_or_build(corpus, "hash-a", settings, tmp_path)
    assert (reused, reused_again) == (False, True)
    queries = {"a": "marathon runner", "b": "warm cats"}
    assert first.search(queries, 3) == second.search(queries, 3)
    folder = bm25.index_folder(tmp_path, "hash-a", settings)
    files = sorted(p.name for p in folder.iterdir())
    assert all(name.endswith((".npy", ".json")) for name in files), files
    for path in folder.glob("*.npy"):
        np.load(path, allow_pickle=False)  # raises if anything was pickled
    assert [p.name for p in tmp_path.joinpath("bm25").iterdir()] == [folder.name]  # no temporary folder left
    assert bm25.index_folder(tmp_path, "hash-b", settings) != folder
    assert bm25.index_folder(tmp_path, "hash-a", bm25.BM25Settings(k1=0.9)) != folder


def test_chunked_tokenizing_scores_as_one_list_does(tmp_path, monkeypatch):
    docs = {f"d{i}": {"title": f"Title {i}", "text": f"word{i % 3} running marathons {'cooking ' * (i % 4)}"}
            for i in range(11)}
    corpus, settings = _corpus(tmp_path, docs), bm25.BM25Settings()
    whole = bm25s.BM25(k1=settings.k1, b=settings.b, method=settings.method)
    whole.index(bm25._tokenize(list(corpus.texts()), settings), show_progress=False)
    monkeypatch.setattr(bm25, "TOKENIZE_CHUNK", 3)  # four chunks, each with its own vocabulary
    chunked = bm25.BM25Index.build(corpus, settings).retriever
    queries = bm25._tokenize(["word1 marathon", "cooking run", "title word2"], settings, as_ids=False)
    expected = whole.retrieve(queries, k=11, show_progress=False)
    got = chunked.retrieve(queries, k=11, show_progress=False)
    assert np.array_equal(expected[0], got[0]) and np.array_equal(expected[1], got[1])
    assert sorted(whole.vocab_dict) == sorted(chunked.vocab_dict)


def test_a_memory_mapped_index_scores_as_one_in_memory(corpus, tmp_path):
    settings = bm25.BM25Settings()
    bm25.load_or_build(corpus, "hash-a", settings, tmp_path)
    folder = bm25.index_folder(tmp_path, "hash-a", settings)
    mapped = bm25.BM25Index.load(folder, settings)
    in_memory = bm25s.BM25.load(folder, allow_pickle=False, mmap=False, show_progress=False)
    assert isinstance(mapped.retriever.scores["data"], np.memmap)
    queries = bm25._tokenize(["run marathon", "cooked sauces", "warm cats sleeping"], settings, as_ids=False)
    expected = in_memory.retrieve(queries, k=4, show_progress=False)
    got = mapped.retriever.retrieve(queries, k=4, show_progress=False)
    assert np.array_equal(expected[0], got[0]) and np.array_equal(expected[1], got[1])


def _write_dataset(root: Path) -> Path:
    folder = root / "tiny"
    (folder / "qrels").mkdir(parents=True)
    with open(folder / "corpus.jsonl", "w") as out:
        for doc_id, doc in DOCS.items():
            out.write(json.dumps({"_id": doc_id, **doc}) + "\n")
    queries = {"q1": "marathon running", "q2": "pasta sauce", "q3": "sleeping cats"}
    with open(folder / "queries.jsonl", "w") as out:
        for qid, text in queries.items():
            out.write(json.dumps({"_id": qid, "text": text}) + "\n")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq2\td2\t1\nq1\td1\t1\nq3\td3\t1\n")
    return root


def test_limit_queries_takes_the_first_judged_in_qrels_order(tmp_path):
    dataset = beir_data.load("tiny", _write_dataset(tmp_path))
    limited = limit_queries(dataset, 2)
    assert list(limited.queries) == ["q2", "q1"] and list(limited.qrels) == ["q2", "q1"]
    assert limit_queries(dataset, None) is dataset
    with pytest.raises(SgptEvalError, match="--max-queries"):
        limit_queries(dataset, 0)


def test_bm25_run_writes_report_and_run_file(tmp_path):
    data_dir = _write_dataset(tmp_path / "data")
    spec = RunSpec("tiny", "bm25", None, RunOptions(top_k=2, max_queries=2))
    report_path = evaluate(spec, data_dir, tmp_path / "out", Models(tmp_path / "cache")).path
    report = json.loads(report_path.read_text())
    identity = report["identity"]
    assert identity["method"] == "bm25" and report_path.name.startswith("bm25s-first2q.")
    assert identity["settings"]["max_queries"] == 2 and identity["settings"]["bm25"]["k1"] == 1.5
    assert report["metrics"]["NDCG@10"] == pytest.approx(1.0)
    assert set(report["per_query"]["NDCG@10"]) == {"q1", "q2"}
    ranking = report_path.parent / report["ranking_file"]
    assert ranking.name.endswith(".trec.gz") and gzip.decompress(ranking.read_bytes()).startswith(b"q2 Q0 d2 1 ")


@pytest.mark.integration
def test_scifact_ndcg(scifact_dir):
    """Published: Elasticsearch .665, Pyserini .6647/.6789, bm25s .6874 (speed: benchmarks/bench_bm25.py)."""
    dataset = beir_data.load("scifact", scifact_dir)
    results = bm25.BM25Index.build(dataset.corpus, bm25.BM25Settings()).search(dataset.queries, top_k=100)
    ndcg = metrics.evaluate(dataset.qrels, results)["NDCG@10"]
    assert 0.665 <= ndcg <= 0.690, ndcg
