"""SGPT-CE: the fast scorer against the per-pair SGPT loop, prompts and truncation (over-long
queries included), the context of a model without position embeddings, the score cache,
out-of-memory retries, BEIR's Rerank, and the `rerank` run end to end on tiny models."""

from __future__ import annotations

import argparse
import copy
import gzip
import json
import logging
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from beir.reranking import Rerank

from sgpt_eval.cli import evaluate as cli_rerank
from sgpt_eval.models.prompts import TEMPLATES, PromptTokenizer, resolve_template
from sgpt_eval.models.cross_encoder import SGPTCrossEncoder
from sgpt_eval.models.resolution import DEFAULT_CONTEXT
from sgpt_eval.errors import SgptEvalError
from sgpt_eval.evaluation.pipeline import Models, evaluate
from sgpt_eval.evaluation.specs import RunOptions, RunSpec
from sgpt_eval.models.options import ModelOptions
from sgpt_eval.retrieval.ranking import write_trec
from sgpt_eval.models.score_cache import CachedScorer, ScoreCache

from ..beir_fixtures import write_beir
from ..command_line import run_command
from ..reference_sgpt_ce import reference_scores
from ..synthetic_reports import only_report
from ..tolerances import RTOL
from ..encoders import make_cross_encoder, resolved
from .test_prompts import LONG_QUERY

WORDS = ("protein cell cancer gene mouse binding receptor therapy clinical trial patients increased reduced "
         "expression (p < 0.05) 12% vitamin D risk, \"quoted\" results.").split()


def _save(model, tokenizer, folder: Path) -> Path:
    model.eval().save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_llama(gpt2_tokenizer, tmp_path_factory) -> Path:
    """A 2-layer random Llama beside the shared GPT-Neo (learned positions, a 32-token local-attention
    layer, eager attention): rotary positions, grouped keys/values and SDPA attention."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(gpt2_tokenizer), hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, intermediate_size=128, max_position_embeddings=512)
    return _save(LlamaForCausalLM(config), gpt2_tokenizer, tmp_path_factory.mktemp("llama"))


@pytest.fixture(scope="module")
def tiny_gptj(gpt2_tokenizer, tmp_path_factory) -> Path:
    """A 2-layer random GPT-J (SGPT-CE's largest model): rotary positions on part of each head."""
    from transformers import GPTJConfig, GPTJForCausalLM

    torch.manual_seed(0)
    config = GPTJConfig(vocab_size=len(gpt2_tokenizer), n_embd=64, n_layer=2, n_head=4, rotary_dim=8, n_positions=512)
    return _save(GPTJForCausalLM(config), gpt2_tokenizer, tmp_path_factory.mktemp("gptj"))


@pytest.fixture(scope="module")
def tiny_bloom(gpt2_tokenizer, tmp_path_factory) -> Path:
    """A 2-layer random BLOOM (weights drawn wide enough for its scores to spread): ALiBi, which
    places tokens by column and takes no 4D mask."""
    from transformers import BloomConfig, BloomForCausalLM

    torch.manual_seed(0)
    config = BloomConfig(vocab_size=len(gpt2_tokenizer), hidden_size=64, n_layer=2, n_head=4, initializer_range=0.2)
    return _save(BloomForCausalLM(config), gpt2_tokenizer, tmp_path_factory.mktemp("bloom"))




def _texts(rng: random.Random, count: int, low: int, high: int) -> list[str]:
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high))) for _ in range(count)]


def _pairs(seed: int = 0) -> list[tuple[str, str]]:
    """Several queries sharing documents; queries of 1 to ~25 tokens, documents of 2 to ~120."""
    rng = random.Random(seed)
    docs = _texts(rng, 5, 1, 60)
    queries = _texts(rng, 5, 1, 10)
    return [(query, doc) for query in queries for doc in docs if rng.random() < 0.6]


@pytest.mark.parametrize("model, packed", [("tiny_gpt_neo", False), ("tiny_llama", True), ("tiny_gptj", True),
                                           ("tiny_bloom", False)])
@pytest.mark.parametrize("max_length", [None, 48])
def test_fast_scores_equal_the_per_pair_loop(request, model, packed, max_length):
    """Every score within 1e-3 of SGPT's loop: shared documents, queries of different lengths,
    and (with max_length 48) documents cut from the left; packed rows where the model takes them
    (not under GPT-Neo's local attention, nor BLOOM's ALiBi), a cache copy per pair where not."""
    pairs = _pairs()
    scorer = make_cross_encoder(request.getfixturevalue(model), max_length=max_length, batch_size=8)
    assert scorer.packed == packed
    fast = scorer.predict(pairs, show_progress_bar=False)
    slow = reference_scores(scorer.model, scorer.prompt, pairs)
    assert max(abs(a - b) for a, b in zip(fast, slow)) < 1e-3
    tokenized = scorer.prompt.pairs(pairs)
    untruncated = scorer.prompt.prompts([doc for _, doc in pairs])
    truncated = sum(len(pair.prefix) < len(full) for pair, full in zip(tokenized, untruncated))
    # Untruncated, a document's prompt is shared by its queries; cut to fit, it depends on the query's length.
    assert (truncated > 0, len({pair.prefix for pair in tokenized}) < len(pairs)) == (max_length is not None, max_length is None)
    same_query = [score for (query, _), score in zip(pairs, slow) if query == pairs[0][0]]
    assert len(same_query) > 2 and max(same_query) - min(same_query) > 0.01  # far apart next to the tolerance


def test_a_user_template_and_a_one_token_prompt(tiny_gpt_neo):
    """`{doc}` alone: an empty document leaves nothing to condition on, so end-of-text stands in."""
    pairs = [("a query", ""), ("a query", "word"), ("another longer query", "word"), ("a query", "two words")]
    scorer = make_cross_encoder(tiny_gpt_neo, template="{doc}", batch_size=4)
    assert scorer.prompt.pairs(pairs[:1])[0].prefix == (scorer.prompt.tokenizer.eos_token_id,)
    fast = scorer.predict(pairs, show_progress_bar=False)
    assert fast == pytest.approx(reference_scores(scorer.model, scorer.prompt, pairs), abs=1e-3)


@pytest.mark.parametrize("model", ["tiny_gpt_neo", "tiny_llama"])
def test_each_prompt_runs_once_per_batch_and_batches_are_width_sorted(request, model):
    """A prompt's row is as wide as the prompt, or, packed, as the prompt and all its queries."""
    scorer = make_cross_encoder(request.getfixturevalue(model), batch_size=6)
    pairs = scorer.prompt.pairs(_pairs())
    batches = scorer.batches(pairs, list(range(len(pairs))), batch_size=6)
    assert sorted(i for batch in batches for _, members in batch for i in members) == list(range(len(pairs)))
    assert all(sum(len(members) for _, members in batch) <= 6 for batch in batches)

    def width(prefix: tuple[int, ...], members: list[int]) -> int:
        return len(prefix) - 1 + sum(len(pairs[i].query) for i in members) if scorer.packed else len(prefix)

    widths = [[width(*chunk) for chunk in batch] for batch in batches]
    assert sum(widths, []) == sorted(sum(widths, []), reverse=True)
    assert all(row[-1] >= 0.9 * row[0] for row in widths)  # little padding
    prompt_lengths = [len(prefix) for batch in batches for prefix, _ in batch]
    distinct = {pair.prefix for pair in pairs}
    assert len(prompt_lengths) == len(distinct)  # no document needs more than one batch here


def test_truncation_is_sgpts(gpt2_tokenizer):
    """Instruction kept, document cut from the left: SGPT's expression, on the same token ids."""
    template = resolve_template("asymmetric")
    prompt = PromptTokenizer(gpt2_tokenizer, template, max_length=40)
    doc, query = "alpha beta gamma delta " * 20, "is vitamin D good"
    context = gpt2_tokenizer(template.replace("{doc}", doc), add_special_tokens=False)["input_ids"]
    continuation = gpt2_tokenizer(query, add_special_tokens=False)["input_ids"]
    instruction = prompt.instruction_len
    sgpt_input = (context[:instruction] + (context[instruction:] + continuation)[-(40 + 1 - instruction):])[:-1]
    pair = prompt.pairs([(query, doc)])[0]
    assert [*pair.prefix, *pair.query][:-1] == sgpt_input and len(sgpt_input) == 40
    assert gpt2_tokenizer.decode(pair.prefix).startswith("Documents are searched to find matches with the same content.\n")
    assert gpt2_tokenizer.decode(pair.prefix).endswith('" is a good search result for "')
    short = prompt.pairs([(query, "a short document")])[0]
    assert short.prefix == tuple(gpt2_tokenizer(template.replace("{doc}", "a short document"))["input_ids"])


def test_templates_and_query_length_errors(gpt2_tokenizer):
    assert resolve_template("symmetric") == TEMPLATES["symmetric"] and "good match for" in TEMPLATES["symmetric"]
    assert resolve_template("Passage: {doc}\nQuestion:") == "Passage: {doc}\nQuestion:"
    for bad in ("Passage: {}\nQuestion:", "{doc} and {doc}"):
        with pytest.raises(SgptEvalError, match=r"contains \{doc\} exactly once"):
            resolve_template(bad)
    prompt = PromptTokenizer(gpt2_tokenizer, TEMPLATES["asymmetric"], max_length=30)
    with pytest.raises(SgptEvalError, match="a query of 0 tokens"):
        prompt.pairs([("", "doc")])
    with pytest.raises(SgptEvalError, match=r"instruction \(its text before \{doc\}\) has 15 tokens, more than the 10"):
        PromptTokenizer(gpt2_tokenizer, TEMPLATES["asymmetric"], max_length=10)


def test_model_must_be_a_causal_lm_from_safetensors_or_a_weights_only_pickle(gpt2_tokenizer, tmp_path):
    from transformers import DistilBertConfig, DistilBertModel, GPTNeoConfig, GPTNeoForCausalLM

    encoder = _save(DistilBertModel(DistilBertConfig(vocab_size=100, dim=32, n_layers=1, n_heads=2, hidden_dim=64)),
                    gpt2_tokenizer, tmp_path / "distilbert")
    with pytest.raises(SgptEvalError, match="not a causal language model"):
        make_cross_encoder(encoder)
    pickled = tmp_path / "pickled"
    model = GPTNeoForCausalLM(GPTNeoConfig(vocab_size=len(gpt2_tokenizer), hidden_size=32, num_layers=1, num_heads=2,
                                           attention_types=[[["global"], 1]], max_position_embeddings=64))
    model.config.save_pretrained(pickled)
    torch.save(model.state_dict(), pickled / "pytorch_model.bin")
    gpt2_tokenizer.save_pretrained(pickled)
    assert make_cross_encoder(pickled).predict([("q", "d")], show_progress_bar=False)[0] < 0  # weights-only


@pytest.fixture(scope="module")
def scorer(tiny_gpt_neo) -> SGPTCrossEncoder:
    return make_cross_encoder(tiny_gpt_neo, batch_size=8)


def _with_cache(scorer: SGPTCrossEncoder, cache_dir: Path) -> CachedScorer:
    """The same loaded model (a copy, to patch) through a score cache read afresh from disk (as a
    new process would)."""
    return CachedScorer(copy.copy(scorer), ScoreCache.for_settings(cache_dir, scorer.settings.as_dict()))


def test_scores_are_cached_and_an_interrupted_run_resumes(scorer, tmp_path, monkeypatch):
    pairs = _pairs(seed=1)
    expected = scorer.predict(pairs, show_progress_bar=False)
    first = _with_cache(scorer, tmp_path)
    real_run_batch, calls = scorer.run_batch, []

    def interrupted(batch, tokenized):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(batch)
        return real_run_batch(batch, tokenized)

    monkeypatch.setattr(first.scorer, "run_batch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        first.predict(pairs, show_progress_bar=False)
    done = sum(len(members) for batch in calls for _, members in batch)
    assert 0 < done < len(pairs)
    cache_file = first.cache.path
    with open(cache_file, "a") as handle:
        handle.write('{"key": "torn')  # a write cut short by the interruption
    resumed = _with_cache(scorer, tmp_path)
    assert len(resumed.cache.scores) == done
    scores = resumed.predict(pairs, show_progress_bar=False)
    assert resumed.pairs_from_cache == done
    assert scores == pytest.approx(expected, abs=1e-4)
    lines = cache_file.read_text().splitlines()
    assert len(lines) == len(pairs) and all(json.loads(line) for line in lines)

    again = _with_cache(scorer, tmp_path)
    monkeypatch.setattr(again.scorer, "run_batch", lambda *args: pytest.fail("a cached pair was scored again"))
    assert again.predict(pairs, show_progress_bar=False) == scores and again.pairs_from_cache == len(pairs)
    symmetric = {**scorer.settings.as_dict(), "template": TEMPLATES["symmetric"]}
    assert ScoreCache.for_settings(tmp_path, symmetric).path != cache_file


def test_batch_size_halves_on_cuda_out_of_memory(scorer, monkeypatch, caplog):
    pairs = _pairs(seed=2)
    expected = scorer.predict(pairs, show_progress_bar=False)
    real_run_batch, sizes = scorer.run_batch, []

    def small_gpu(batch, tokenized):
        rows = sum(len(members) for _, members in batch)
        sizes.append(rows)
        if rows > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return real_run_batch(batch, tokenized)

    monkeypatch.setattr(scorer, "run_batch", small_gpu)
    assert scorer.predict(pairs, show_progress_bar=False) == pytest.approx(expected, abs=1e-4)
    assert max(sizes) > 2 and "batch size halved to 4" in caplog.text and "halved to 2" in caplog.text

    def no_memory(batch, tokenized):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(scorer, "run_batch", no_memory)
    with pytest.raises(SgptEvalError, match="out of GPU memory scoring one pair"):
        scorer.predict(pairs[:1], show_progress_bar=False)


def test_beir_rerank_uses_the_scores(scorer):
    corpus = {f"d{i}": {"title": "", "text": text} for i, text in enumerate(_texts(random.Random(3), 5, 3, 30))}
    queries = {"q1": "vitamin D risk", "q2": "cancer gene"}
    first = {qid: {f"d{i}": float(i) for i in range(5)} for qid in queries}
    reranked = Rerank(scorer, batch_size=4).rerank(corpus, queries, first, top_k=3)
    for qid, hits in reranked.items():
        assert set(hits) == {"d4", "d3", "d2"}  # the first stage's top 3
        expected = scorer.predict([[queries[qid], corpus[did]["text"]] for did in hits], show_progress_bar=False)
        assert list(hits.values()) == pytest.approx(expected, abs=1e-5)


def _dataset(root: Path) -> Path:
    folder = root / "tiny"
    (folder / "qrels").mkdir(parents=True)
    rng = random.Random(4)
    docs = {f"d{i}": text for i, text in enumerate(_texts(rng, 12, 5, 40))}
    queries = {f"q{i}": text for i, text in enumerate(_texts(rng, 4, 2, 6))}
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": k, "title": "", "text": v}) + "\n" for k, v in docs.items()))
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": k, "text": v}) + "\n" for k, v in queries.items()))
    judged = "".join(f"q{i}\td{i}\t1\n" for i in range(4))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + judged)
    return root


def test_rerank_run_with_bm25_and_with_an_imported_run(tiny_gpt_neo, tmp_path, caplog):
    data_dir = _dataset(tmp_path / "data")
    model = ModelOptions(model=str(tiny_gpt_neo), batch_size=8)
    spec = RunSpec("tiny", "rerank", model, RunOptions(top_k=5, max_queries=3))
    models = Models(tmp_path / "cache")
    first = evaluate(spec, data_dir, tmp_path / "out", models).path
    report = json.loads(first.read_text())
    identity, config = report["identity"], report["details"]
    assert identity["method"] == "rerank" and first.name.split(".")[0].endswith("-first3q")
    settings = identity["settings"]
    assert settings["first_stage"]["kind"] == "bm25" and settings["top_k"] == 5 and settings["max_queries"] == 3
    assert config["prompt"] == "asymmetric" and identity["model"]["template"] == TEMPLATES["asymmetric"]
    assert 0 < config["pairs"] <= 15 and config["pairs_from_score_cache"] == 0
    assert set(report["per_query"]["NDCG@10"]) <= {"q0", "q1", "q2"}
    again = json.loads(evaluate(spec, data_dir, tmp_path / "out", models).path.read_text())
    assert again["details"]["pairs_from_score_cache"] == config["pairs"] and again["metrics"] == report["metrics"]

    run_path = tmp_path / "first.trec"
    write_trec(run_path, {"q0": {"d0": 3.0, "d1": 2.0, "q0": 9.0, "nowhere": 1.0}, "q3": {"d3": 1.0}, "zz": {"d1": 1.0}}, "es")
    imported = RunSpec("tiny", "rerank", model, RunOptions(top_k=5, max_queries=1, first_stage=str(run_path)))
    path = evaluate(imported, data_dir, tmp_path / "out2", models).path
    report = json.loads(path.read_text())
    assert report["identity"]["settings"]["first_stage"]["kind"] == "ranking_file" and report["details"]["pairs"] == 2
    assert "dropped 2 queries" in caplog.text and "2 entries naming documents" in caplog.text
    run_lines = gzip.decompress((path.parent / report["ranking_file"]).read_bytes()).decode().splitlines()
    assert sorted(line.split()[2] for line in run_lines) == ["d0", "d1"]


def test_cli_commands(tiny_gpt_neo, tmp_path, capsys):
    data_dir = _dataset(tmp_path / "data")
    parser = argparse.ArgumentParser()
    cli_rerank.add_commands(parser.add_subparsers(dest="command", required=True))
    common = ["--dataset", "tiny", "--data-dir", str(data_dir), "--output-dir", str(tmp_path / "out"), "--max-queries", "2"]
    args = parser.parse_args(["bm25", *common, "--k1", "0.9", "--b", "0.4"])
    args.handler(args, tmp_path / "cache")
    args = parser.parse_args(["rerank", *common, "--model", str(tiny_gpt_neo), "--top-k", "3", "--template", "symmetric",
                              "--batch-size", "4", "--dtype", "float32", "--device", "cpu"])
    args.handler(args, tmp_path / "cache")
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("tiny\tbm25s-first2q\tNDCG@10=")
    assert json.loads(Path(printed[0].split("\t")[-1]).read_text())["identity"]["settings"]["bm25"]["k1"] == 0.9
    assert printed[1].startswith("tiny\t") and "-first2q\tNDCG@10=" in printed[1]
    report = json.loads(Path(printed[1].split("\t")[-1]).read_text())
    assert report["details"]["prompt"] == "symmetric" and report["identity"]["settings"]["top_k"] == 3
    args = parser.parse_args(["rerank", *common, "--model", str(tiny_gpt_neo), "--template", "no placeholder"])
    with pytest.raises(SgptEvalError, match="--template"):
        args.handler(args, tmp_path / "cache")


@pytest.mark.parametrize("model, window", [("tiny_gpt_neo", 32), ("tiny_llama", None)])
def test_the_instruction_runs_once_per_batch(request, model, window, monkeypatch):
    """The token ids that every prompt of a batch begins with run once, batch 1, their keys and
    values copied to each row: before each packed row where every layer sees the whole sequence
    (Llama), before the padding under GPT-Neo's 32-column local attention."""
    scorer = make_cross_encoder(request.getfixturevalue(model), batch_size=8)
    assert scorer.window == window
    pairs = _pairs()
    expected = reference_scores(scorer.model, scorer.prompt, pairs)
    tokenized = scorer.prompt.pairs(pairs)
    several = sum(len(batch) > 1 for batch in scorer.batches(tokenized, list(range(len(pairs))), 8))
    real_body, calls = scorer.body, []

    def spy(**inputs):
        calls.append((*inputs["input_ids"].shape, inputs.get("attention_mask") is None))
        return real_body(**inputs)

    monkeypatch.setattr(scorer, "body", spy)
    assert scorer.predict(pairs, show_progress_bar=False) == pytest.approx(expected, abs=1e-3)
    instruction = [width for rows, width, unmasked in calls if unmasked]  # the rest and the queries are masked
    assert several > 0 and len(instruction) == several
    assert all(scorer.prompt.instruction_len <= width < (window or 10**6) for width in instruction)


@pytest.mark.parametrize("model", ["tiny_gpt_neo", "tiny_llama"])
def test_a_pair_s_score_does_not_depend_on_its_batch(request, model):
    """Ray's replicas score a document's pairs away from the others: every score must be the one
    the whole batch gives, packed or not, within float32 rounding over other padded shapes."""
    scorer = make_cross_encoder(request.getfixturevalue(model), batch_size=4)
    pairs = _pairs() + _pairs(1)
    expected = scorer.predict(pairs, show_progress_bar=False)
    for doc in {doc for _, doc in pairs}:
        alone = [i for i, (_, other) in enumerate(pairs) if other == doc]
        np.testing.assert_allclose(scorer.predict([pairs[i] for i in alone], show_progress_bar=False),
                                   [expected[i] for i in alone], rtol=RTOL, atol=0)


def test_packing_needs_a_model_that_takes_the_mask_and_the_positions(tiny_llama, monkeypatch):
    """A model that put its own causal mask in place of the 4D one, or placed tokens by column,
    would let a query see the query before it in its row, or move it: the probe at load says no."""
    scorer = make_cross_encoder(tiny_llama)
    assert scorer.packed
    body = scorer.body
    for ignored in ("attention_mask", "position_ids"):
        monkeypatch.setattr(scorer, "body", lambda ignored=ignored, **inputs: body(
            **{name: value for name, value in inputs.items() if name != ignored}))
        assert not scorer.honours_packing()


@pytest.mark.parametrize("model", ["tiny_gpt_neo", "tiny_llama"])
def test_bfloat16_on_cpu_scores_near_float32(request, model):
    """A bfloat16 model (CPUs with AVX512-BF16 run it natively) projects onto the vocabulary in
    float32; its scores stay near float32's and well-separated pairs keep their order."""
    folder = request.getfixturevalue(model)
    full = make_cross_encoder(folder, dtype="float32", batch_size=8)
    half = make_cross_encoder(folder, dtype="bfloat16", batch_size=8)
    assert half.model.dtype == torch.bfloat16 and half.head_weight.dtype == torch.float32 and full.head_weight is None
    pairs = _pairs()
    expected, scores = full.predict(pairs, show_progress_bar=False), half.predict(pairs, show_progress_bar=False)
    assert max(abs(a - b) for a, b in zip(expected, scores)) < 0.02  # measured: 0.009 (GPT-Neo), 0.005 (Llama)
    apart = [(i, j) for i in range(len(pairs)) for j in range(len(pairs)) if expected[i] - expected[j] > 0.1]
    assert len(apart) > 10 and all(scores[i] > scores[j] for i, j in apart)


def test_too_long_queries_are_scored_with_one_warning(tiny_gpt_neo, caplog):
    """Too-long queries score as SGPT's loop scores the same ids; the pairs that fit score as they do alone."""
    docs = ["protein binding receptor therapy " * 4, "cell cancer gene", ""]
    pairs = [(query, doc) for query in ("vitamin D risk", LONG_QUERY, "gene expression levels") for doc in docs]
    scorer = make_cross_encoder(tiny_gpt_neo, max_length=32, batch_size=4)

    with caplog.at_level(logging.WARNING, logger="sgpt_eval"):
        fast = scorer.predict(pairs, show_progress_bar=False)

    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert warnings == [
        "3 of 9 pairs have a query of more than 10 tokens, too long for the prompt within 32 tokens: cut as SGPT does "
        "(the whole document, then the prompt's text after it, then the query's first tokens) and scored on what "
        "remains of the query"]
    assert fast == pytest.approx(reference_scores(scorer.model, scorer.prompt, pairs), abs=1e-3)
    fitting = [pair for pair in pairs if pair[0] != LONG_QUERY]
    alone = scorer.predict(fitting, show_progress_bar=False)
    assert [score for pair, score in zip(pairs, fast) if pair[0] != LONG_QUERY] == pytest.approx(alone, abs=1e-5)


def test_rerank_run_with_a_too_long_query_writes_its_report(tiny_gpt_neo, tmp_path, capsys, caplog):
    write_beir(tmp_path / "data" / "toy", queries={"q1": "how do cells make energy " * 8, "q2": "plants", "q3": "ranking documents"})
    with caplog.at_level(logging.WARNING, logger="sgpt_eval"):
        code, out, _ = run_command(capsys, "rerank", "--dataset", "toy", "--data-dir", str(tmp_path / "data"),
                                   "--output-dir", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"),
                                   "--model", str(tiny_gpt_neo), "--max-length", "24", "--top-k", "3")
    assert code == 0 and out.startswith("toy\t")
    assert sum("too long for the prompt" in record.getMessage() for record in caplog.records) == 1
    report = only_report(tmp_path / "out")
    assert report["identity"]["model"]["max_length"] == 24 and set(report["per_query"]["NDCG@10"]) == {"q1", "q2", "q3"}


@pytest.fixture(scope="module")
def bloom_with_context(gpt2_tokenizer, tmp_path_factory):
    """Write a 2-layer BLOOM (ALiBi: no max_position_embeddings) with the GPT-2 tokenizer, its
    `model_max_length` set to the value given."""
    from transformers import BloomConfig, BloomForCausalLM

    torch.manual_seed(0)
    model = BloomForCausalLM(BloomConfig(vocab_size=len(gpt2_tokenizer), hidden_size=32, n_layer=2, n_head=4)).eval()

    def write(model_max_length: int) -> Path:
        folder = tmp_path_factory.mktemp("tiny-bloom")
        model.save_pretrained(folder, safe_serialization=True)
        gpt2_tokenizer.save_pretrained(folder)
        settings = json.loads((folder / "tokenizer_config.json").read_text())
        (folder / "tokenizer_config.json").write_text(json.dumps({**settings, "model_max_length": model_max_length}))
        return folder

    return write


def test_a_model_without_position_embeddings_takes_its_tokenizers_context(bloom_with_context, caplog):
    folder = bloom_with_context(256)
    assert "max_position_embeddings" not in json.loads((folder / "config.json").read_text())
    with caplog.at_level(logging.INFO, logger="sgpt_eval"):
        scorer = make_cross_encoder(folder, batch_size=4)
    assert scorer.settings.max_length == 256
    assert (f"model {folder}: no max_position_embeddings in its config; context 256 tokens, its tokenizer's "
            "model_max_length") in caplog.text
    pairs = [("vitamin D", "a document about vitamins"), ("cancer gene", "a document about vitamins"), ("x", "")]
    fast = scorer.predict(pairs, show_progress_bar=False)
    assert fast == pytest.approx(reference_scores(scorer.model, scorer.prompt, pairs), abs=1e-3)

    unlimited = bloom_with_context(int(1e30))
    with caplog.at_level(logging.INFO, logger="sgpt_eval"):
        settings = resolved(unlimited, "cross").settings
    assert settings.max_length == DEFAULT_CONTEXT == 2048
    assert f"model {unlimited}: neither its config nor its tokenizer gives a context length; context 2048" in caplog.text
