"""The re-ranker re-scores a first stage's candidates through the score cache, with any executor."""

from __future__ import annotations

from types import SimpleNamespace

from sgpt_eval.data import beir
from sgpt_eval.models.prompts import TEMPLATES
from sgpt_eval.retrieval.rerank import Reranker

from ..beir_fixtures import write_beir


class LengthScorer:
    """A `PairScorer` whose score is minus the document's length, counting the pairs it scores."""

    device, batch_size, load_seconds = "cpu", 4, 0.0

    def __init__(self) -> None:
        self.scored = 0

    def scores(self, texts, batch_size=None):
        self.scored += len(texts)
        yield list(range(len(texts))), [-float(len(doc)) for _, doc in texts]


class OneModel:
    """An executor that hands out one scorer and records what it was asked for."""

    def __init__(self, scorer: LengthScorer) -> None:
        self.scorer, self.asked = scorer, []

    def cross_encoder(self, model, pairs: int) -> LengthScorer:
        self.asked.append(pairs)
        return self.scorer


MODEL = SimpleNamespace(settings=SimpleNamespace(template=TEMPLATES["asymmetric"],
                                                 as_dict=lambda: {"model": "length", "revision": "r"}))


def test_candidates_are_rescored_and_their_scores_cached(tmp_path):
    dataset = beir.load("toy", write_beir(tmp_path / "data" / "toy").parent)
    candidates = {"q1": {"d1": 9.0, "d2": 8.0, "d3": 7.0}, "q3": {"d3": 1.0, "d2": 0.5}}
    texts = dict(zip(dataset.corpus.docs, dataset.corpus.texts()))
    scorer = LengthScorer()
    executor = OneModel(scorer)
    reranker = Reranker(MODEL, executor, tmp_path / "cache", top_k=3)
    assert reranker.settings() == {"top_k": 3} and reranker.model_settings() == {"model": "length", "revision": "r"}

    ranking, details = reranker.rerank(dataset, candidates, timings := {})
    assert ranking == {qid: {doc: -float(len(texts[doc])) for doc in hits} for qid, hits in candidates.items()}
    assert details == {"pairs": 5, "pairs_from_score_cache": 0, "prompt": "asymmetric", "device": "cpu",
                       "batch_size": 4}
    assert executor.asked == [5] and scorer.scored == 5 and {"load_model", "rerank"} <= set(timings)

    again, details = Reranker(MODEL, executor, tmp_path / "cache", top_k=3).rerank(dataset, candidates, {})
    assert again == ranking and details["pairs_from_score_cache"] == 5 and scorer.scored == 5
    Reranker(MODEL, executor, None, top_k=3).rerank(dataset, candidates, {})
    assert scorer.scored == 10  # without a cache folder every pair is scored
