"""Our encoder inside BEIR's own exact search gives the ranking our FAISS search gives."""

from beir.retrieval.search.dense import DenseRetrievalExactSearch

from sgpt_eval.data import beir as beir_data
from sgpt_eval.retrieval.dense import search

from ..beir_fixtures import write_beir
from ..encoders import make_bi_encoder


def test_inside_beir_dense_retrieval_exact_search(tiny_gpt_neo, tmp_path):
    write_beir(tmp_path / "toy")
    dataset = beir_data.load("toy", tmp_path)
    encoder = make_bi_encoder(tiny_gpt_neo, tmp_path, specb=True, device="cpu")
    beir_results = DenseRetrievalExactSearch(encoder, batch_size=2, show_progress_bar=False).search(
        dataset.corpus.docs, dataset.queries, top_k=2, score_function="cos_sim"
    )
    doc_ids, query_ids = list(dataset.corpus.docs), list(dataset.queries)
    ours = search(
        encoder.encode([dataset.queries[q] for q in query_ids], "query", show_progress_bar=False),
        encoder.encode(dataset.corpus.texts(doc_ids), "doc", show_progress_bar=False),
        query_ids, doc_ids, top_k=2,
    )
    for query_id in query_ids:
        theirs = sorted(beir_results[query_id], key=beir_results[query_id].get, reverse=True)
        assert theirs == list(ours[query_id])
        for doc_id in theirs:
            assert abs(beir_results[query_id][doc_id] - ours[query_id][doc_id]) < 1e-5
