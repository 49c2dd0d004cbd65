"""Cross-encoder settings beyond SGPT-CE's own: the mean of the query tokens' log-probabilities,
UPR's prompt, the SGPT-CE presets; and that the defaults keep today's scores, score cache and
report identity."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from sgpt_eval.cli import main
from sgpt_eval.errors import SgptEvalError
from sgpt_eval.evaluation.pipeline import Models, evaluate
from sgpt_eval.evaluation.specs import RunOptions, RunSpec
from sgpt_eval.models import cross_encoder, store
from sgpt_eval.models.cross_encoder import SGPTCrossEncoder
from sgpt_eval.models.options import ModelOptions
from sgpt_eval.models.presets import find_preset
from sgpt_eval.models.prompts import PromptTokenizer, resolve_template
from sgpt_eval.models.score_cache import CachedScorer, ScoreCache

from ..beir_fixtures import write_beir
from ..reference_sgpt_ce import reference_scores
from ..encoders import make_cross_encoder, resolved

WORDS = "protein cell cancer gene mouse binding receptor therapy vitamin D risk, (p < 0.05) \"quoted\" results.".split()
UPR_PROMPT = "Passage:  {doc}. Please write a question based on this passage."




def _pairs() -> list[tuple[str, str]]:
    """Queries of 1 to ~20 tokens against shared documents of up to ~100 tokens."""
    rng = random.Random(0)
    texts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))
             for low, high in [(1, 50)] * 4 + [(1, 9)] * 4]
    docs, queries = texts[:4], texts[4:]
    return [(query, doc) for query in queries for doc in docs]


@pytest.fixture(scope="module")
def summed(tiny_gpt_neo) -> SGPTCrossEncoder:
    return make_cross_encoder(tiny_gpt_neo, batch_size=8)


@pytest.mark.parametrize("max_length", [None, 20])
def test_mean_is_the_sum_over_the_number_of_query_tokens(tiny_gpt_neo, max_length):
    """Against SGPT's per-pair loop divided by the query tokens scored: all of them, or (20 tokens
    in all) those left once a long query is cut."""
    pairs = _pairs()
    scorer = make_cross_encoder(tiny_gpt_neo, max_length=max_length, batch_size=8, aggregate="mean")
    tokenized = scorer.prompt.pairs(pairs)
    expected = [score / len(pair.query) for score, pair in
                zip(reference_scores(scorer.model, scorer.prompt, pairs), tokenized)]
    assert scorer.predict(pairs, show_progress_bar=False) == pytest.approx(expected, abs=1e-4)
    assert len({len(pair.query) for pair in tokenized}) > 2  # a mean is not the sum over one constant
    queries = [query for query, _ in pairs]
    whole = dict(zip(queries, scorer.prompt.queries(queries)))
    cut = sum(len(pair.query) < len(whole[query]) for pair, query in zip(tokenized, queries))
    assert (cut > 0) == (max_length is not None)


def test_the_defaults_score_and_record_as_before(summed, tiny_gpt_neo):
    """No --aggregate is SGPT's sum, bit for bit as an explicit "sum"; its settings (report identity,
    score cache key) are the five they always were."""
    pairs = _pairs()
    scores = summed.predict(pairs, show_progress_bar=False)
    assert scores == pytest.approx(reference_scores(summed.model, summed.prompt, pairs), abs=1e-3)
    explicit = make_cross_encoder(tiny_gpt_neo, batch_size=8, aggregate="sum")
    assert explicit.predict(pairs, show_progress_bar=False) == scores
    assert explicit.settings.as_dict() == summed.settings.as_dict() == {
        "model": str(tiny_gpt_neo), "revision": summed.settings.revision, "template": resolve_template("asymmetric"),
        "max_length": 512, "dtype": "float32"}
    mean = make_cross_encoder(tiny_gpt_neo, aggregate="mean").settings.as_dict()
    assert mean == {**summed.settings.as_dict(), "aggregate": "mean"}


def test_the_aggregate_has_its_own_score_cache(tiny_gpt_neo, tmp_path):
    pairs = _pairs()[:6]
    summing, averaging = make_cross_encoder(tiny_gpt_neo), make_cross_encoder(tiny_gpt_neo, aggregate="mean")
    default, mean = (CachedScorer(model, ScoreCache.for_settings(tmp_path, model.settings.as_dict()))
                     for model in (summing, averaging))
    default.predict(pairs, show_progress_bar=False)
    before = {"model": str(tiny_gpt_neo), "revision": summing.settings.revision,
              "template": resolve_template("asymmetric"), "max_length": 512, "dtype": "float32"}
    assert default.cache.path == ScoreCache.for_settings(tmp_path, before).path  # today's cache file
    assert mean.cache.path != default.cache.path
    sums = default.predict(pairs, show_progress_bar=False)
    assert default.pairs_from_cache == len(pairs)
    means = [score / len(pair.query) for score, pair in zip(sums, summing.prompt.pairs(pairs))]
    assert mean.predict(pairs, show_progress_bar=False) == pytest.approx(means, abs=1e-4)
    assert mean.pairs_from_cache == 0  # the cached sums were not taken for means
    record = json.loads(mean.cache.path.with_suffix(".json").read_text())
    assert record["settings"]["aggregate"] == "mean"


def test_upr_prompt_is_upr_s_string(gpt2_tokenizer):
    """UPR's words, the document in place and the question's tokens right after the final period."""
    doc, question = "Mitochondria They produce ATP", "what do mitochondria make?"
    prompt = PromptTokenizer(gpt2_tokenizer, resolve_template("upr"), max_length=512)
    pair = prompt.pairs([(question, doc)])[0]
    assert gpt2_tokenizer.decode(pair.prefix) == (
        "Passage:  Mitochondria They produce ATP. Please write a question based on this passage.")
    assert resolve_template("upr") == UPR_PROMPT
    assert list(pair.query) == gpt2_tokenizer(question, add_special_tokens=False)["input_ids"]
    assert list(pair.prefix) == gpt2_tokenizer(UPR_PROMPT.replace("{doc}", doc), add_special_tokens=False)["input_ids"]


def test_rerank_with_upr_and_mean_end_to_end(tiny_gpt_neo, tmp_path):
    """The report names the prompt and records the aggregate; a default run's identity has no aggregate."""
    data_dir = tmp_path / "data"
    write_beir(data_dir / "toy")
    models = Models(tmp_path / "cache")
    options = ModelOptions(model=str(tiny_gpt_neo), template="upr", aggregate="mean", batch_size=4)
    report = json.loads(evaluate(RunSpec("toy", "rerank", options, RunOptions(top_k=3)), data_dir, tmp_path / "out",
                                 models).path.read_text())
    assert report["details"]["prompt"] == "upr" and report["identity"]["model"]["aggregate"] == "mean"
    assert report["identity"]["model"]["template"] == UPR_PROMPT
    plain = ModelOptions(model=str(tiny_gpt_neo), batch_size=4)
    default = json.loads(evaluate(RunSpec("toy", "rerank", plain, RunOptions(top_k=3)), data_dir, tmp_path / "out",
                                  models).path.read_text())
    assert "aggregate" not in default["identity"]["model"] and default["details"]["prompt"] == "asymmetric"


def _config(tmp_path: Path, method: str, aggregate: str) -> Path:
    write_beir(tmp_path / "data" / "toy")
    path = tmp_path / "runs.toml"
    path.write_text(f'datasets = ["toy"]\n[[runs]]\nmethod = "{method}"\nmodel = "x"\naggregate = "{aggregate}"\n')
    return path


@pytest.mark.parametrize("method, aggregate, message", [
    ("rerank", "max", "{config}, runs #1: --aggregate max: choose from sum, mean"),
    ("dense", "mean", "{config}, runs #1: aggregate not options of dense (those are: "),
])
def test_a_bad_or_misplaced_aggregate_is_one_line(method, aggregate, message, tmp_path, capsys, monkeypatch):
    config = _config(tmp_path, method, aggregate)
    monkeypatch.setattr(cross_encoder, "load_pretrained", lambda *args: pytest.fail("weights loaded"))
    code = main(["run", "--config", str(config), "--data-dir", str(tmp_path / "data"), "--output-dir",
                 str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("sgpt-eval: error:")]
    assert code == 2 and len(errors) == 1 and errors[0].startswith("sgpt-eval: error: " + message.format(config=config))
    assert not (tmp_path / "out").exists()


def test_a_bi_encoder_refuses_the_aggregate():
    with pytest.raises(SgptEvalError, match=r"^aggregate: not a setting of a bi-encoder \(model x\); drop it$"):
        ModelOptions("x", aggregate="mean").check("bi")


def test_sgpt_ce_presets_download_at_their_revision(monkeypatch, tmp_path, capsys):
    """The paper's re-rankers by name or hub id; GPT-J from its float16 branch unless --revision says otherwise."""
    asked = []
    monkeypatch.setattr(store, "_download", lambda hub_id, revision, *rest: asked.append((hub_id, revision)) or
                        (tmp_path, "commit"))
    for name in ("SGPT-CE-GPT-Neo-125M", "sgpt-ce-gpt-neo-2.7b", "EleutherAI/gpt-neo-1.3B", "SGPT-CE-GPT-J-6B"):
        assert store.resolve(name, tmp_path).preset.kind == "cross"
    store.resolve("SGPT-CE-GPT-J-6B", tmp_path, revision="main")
    assert asked == [("EleutherAI/gpt-neo-125M", None), ("EleutherAI/gpt-neo-2.7B", None), ("EleutherAI/gpt-neo-1.3B", None),
                     ("EleutherAI/gpt-j-6B", "float16"), ("EleutherAI/gpt-j-6B", "main")]
    assert find_preset("SGPT-125M-weightedmean-nli-bitfit").kind == "bi"
    assert main(["models", "--cache-dir", str(tmp_path)]) == 0
    listed = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()}
    assert listed["SGPT-CE-GPT-J-6B"] == ["cross-encoder", "-", "model", "EleutherAI/gpt-j-6B@float16"]
    assert listed["SGPT-125M-weightedmean-nli-bitfit"][0] == "weightedmean"


def test_half_precision_runs_say_their_projection(tiny_gpt_neo):
    """A bfloat16 model's scores moved when its vocabulary projection went to float32: its settings
    say so, so that it shares neither a report identity nor a score cache entry with older runs."""
    half = resolved(tiny_gpt_neo, "cross", dtype="bfloat16", device="cpu").settings.as_dict()
    full = resolved(tiny_gpt_neo, "cross", dtype="float32", device="cpu").settings.as_dict()
    assert half == {**full, "dtype": "bfloat16", "vocabulary_projection": "float32"}
