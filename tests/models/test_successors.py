"""The settings of SGPT's successors (E5-Mistral, RepLLaMA, GritLM) against transcriptions of their
authors' own usage code, on tiny random decoders; and the defaults unchanged."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModel, AutoTokenizer, LlamaConfig, LlamaModel, MistralConfig, MistralModel

from sgpt_eval.errors import SgptEvalError
from sgpt_eval.models import resolution
from sgpt_eval.models.bi_encoder import SGPTBiEncoder
from sgpt_eval.models.settings import ADDED_SETTINGS, EncoderSettings
from sgpt_eval.models.options import ModelOptions
from sgpt_eval.models.pooling import pool
from sgpt_eval.models.presets import PRESETS
from ..encoders import make_bi_encoder, resolved

REPO = Path(__file__).resolve().parents[2]
TASK = "Given a scientific claim, retrieve documents that support or refute the claim"
E5_TEMPLATE = "Instruct: {instruction}\nQuery: {text}"
GRIT_QUERY, GRIT_DOC = "<|user|>\n{instruction}\n<|embed|>\n{text}", "<|embed|>\n{text}"
QUERIES = ["how much protein should a female eat", "summit define", "a"]


@pytest.fixture(scope="module")
def tiny_mistral(tmp_path_factory, gpt2_tokenizer) -> Path:
    torch.manual_seed(0)
    config = MistralConfig(vocab_size=len(gpt2_tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512)
    folder = tmp_path_factory.mktemp("tiny-mistral")
    MistralModel(config).eval().save_pretrained(folder, safe_serialization=True)
    gpt2_tokenizer.save_pretrained(folder)
    return folder


def _encoder(folder: Path, tmp_path: Path, **options) -> SGPTBiEncoder:
    return make_bi_encoder(folder, tmp_path, device="cpu", **options)


def _states(model, ids: list[list[int]], pad: int, left: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """A padded batch through `model`: (last hidden states, attention mask)."""
    width = max(map(len, ids))
    input_ids = torch.full((len(ids), width), pad)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for row, seq in enumerate(ids):
        where = slice(width - len(seq), width) if left else slice(0, len(seq))
        input_ids[row, where], mask[row, where] = torch.tensor(seq), 1
    with torch.no_grad():
        return model(input_ids=input_ids, attention_mask=mask).last_hidden_state, mask


# -- transcriptions of the model cards' code -------------------------------------------------
def last_token_pool(last_hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """intfloat/e5-mistral-7b-instruct's model card."""
    left_padding = (attention_mask[:, -1].sum() == attention_mask.shape[0])
    if left_padding:
        return last_hidden_states[:, -1]
    sequence_lengths = attention_mask.sum(dim=1) - 1
    batch_size = last_hidden_states.shape[0]
    return last_hidden_states[torch.arange(batch_size, device=last_hidden_states.device), sequence_lengths]


def get_detailed_instruct(task_description: str, query: str) -> str:
    return f"Instruct: {task_description}\nQuery: {query}"


def e5_reference(folder: Path, texts: list[str], max_length: int, left: bool) -> torch.Tensor:
    """The card's usage: truncate to max_length - 1, append EOS, pad, pool the last token."""
    tokenizer, model = AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()
    ids = tokenizer(texts, max_length=max_length - 1, truncation=True, padding=False)["input_ids"]
    ids = [seq + [tokenizer.eos_token_id] for seq in ids]
    return last_token_pool(*_states(model, ids, tokenizer.eos_token_id, left))


def gritlm_reference(folder: Path, texts: list[str], instruction: str) -> torch.Tensor:
    """GritLM.encode: instruction + text, right padding, the instruction's tokens masked out of the mean."""
    tokenizer, model = AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()
    ids = tokenizer([instruction + s for s in texts])["input_ids"]
    states, mask = _states(model, ids, tokenizer.eos_token_id, left=False)
    mask[:, : len(tokenizer(instruction)["input_ids"])] = 0
    return (states * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)


def gritlm_embedding_mode_reference(folder: Path, texts: list[str], instruction: str) -> torch.Tensor:
    """GritLM.encode in embedding mode, which runs the model with is_causal=False: here each text
    alone (no padding) through attention layers whose is_causal flag is off (the LLM2Vec route
    through transformers' SDPA), the instruction's tokens left out of the mean."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder, attn_implementation="sdpa").eval()
    for layer in model.layers:
        layer.self_attn.is_causal = False
    skipped = len(tokenizer(instruction)["input_ids"])
    rows = []
    for text in texts:
        with torch.no_grad():
            states = model(input_ids=torch.tensor([tokenizer(instruction + text)["input_ids"]])).last_hidden_state[0]
        rows.append(states[skipped:].mean(0))
    return torch.stack(rows)


# -- tests ------------------------------------------------------------------------------------
def test_defaults_give_the_vectors_and_settings_of_before(tiny_gpt_neo, tmp_path):
    before = _encoder(tiny_gpt_neo, tmp_path, specb=True)
    explicit = _encoder(tiny_gpt_neo, tmp_path, specb=True, query_template=None, doc_template=None, instruction=None,
                        append_eos=False, exclude_instruction=False, adapter=None, bidirectional=False)
    for kind in ("query", "doc"):
        assert torch.equal(torch.from_numpy(before.encode(QUERIES, kind)), torch.from_numpy(explicit.encode(QUERIES, kind)))
    assert set(explicit.settings.as_dict()) == {"model", "revision", "pooling", "specb", "max_length", "dtype",
                                                "normalize", "dense_layers"}


def test_existing_report_identity_is_reproduced():
    report = json.loads((REPO / "results/beir/scifact/dense/all-MiniLM-L6-v2.e37cdc206786.json").read_text())
    cache = Path(__import__("os").environ.get("SGPT_EVAL_CACHE") or REPO / ".cache")
    settings = resolved("all-MiniLM-L6-v2", "bi", cache).settings
    assert settings.for_dataset("scifact").as_dict() == report["identity"]["model"]


def test_lasttoken_pooling_whichever_side_is_padded():
    states = torch.randn(2, 4, 3)
    right, left = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]]), torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]])
    assert torch.equal(pool(states, right, "lasttoken"), torch.stack([states[0, 1], states[1, 3]]))
    assert torch.equal(pool(states, left, "lasttoken"), torch.stack([states[0, 3], states[1, 3]]))


@pytest.mark.parametrize("left", [False, True])
def test_e5_mistral_matches_its_model_card(tiny_mistral, tmp_path, left):
    encoder = _encoder(tiny_mistral, tmp_path, pooling="lasttoken", query_template=E5_TEMPLATE, instruction=TASK,
                       append_eos=True, max_length=16)
    texts = [*QUERIES, "word " * 40]  # the last one is truncated
    expected = e5_reference(tiny_mistral, [get_detailed_instruct(TASK, q) for q in texts], 16, left)
    assert torch.allclose(torch.from_numpy(encoder.encode(texts, "query")), expected, atol=1e-5)
    docs = e5_reference(tiny_mistral, QUERIES, 16, left)  # documents: no instruction
    assert torch.allclose(torch.from_numpy(encoder.encode(QUERIES, "doc")), docs, atol=1e-5)
    assert encoder.tokenize(["hello"], "doc")[0][-1] == encoder.tokenizer.eos_token_id


def test_gritlm_mean_leaves_the_instruction_out(tiny_mistral, tmp_path):
    encoder = _encoder(tiny_mistral, tmp_path, pooling="mean", query_template=GRIT_QUERY, doc_template=GRIT_DOC,
                       instruction=TASK, exclude_instruction=True)
    query = gritlm_reference(tiny_mistral, QUERIES, f"<|user|>\n{TASK}\n<|embed|>\n")
    assert torch.allclose(torch.from_numpy(encoder.encode(QUERIES, "query")), query, atol=1e-5)
    doc = gritlm_reference(tiny_mistral, QUERIES, "<|embed|>\n")
    assert torch.allclose(torch.from_numpy(encoder.encode(QUERIES, "doc")), doc, atol=1e-5)
    included = _encoder(tiny_mistral, tmp_path, pooling="mean", doc_template=GRIT_DOC).encode(QUERIES, "doc")
    assert not torch.allclose(torch.from_numpy(included), doc, atol=1e-3)


def test_gritlm_bidirectional_matches_its_embedding_mode(tiny_mistral, tmp_path):
    encoder = _encoder(tiny_mistral, tmp_path, pooling="mean", query_template=GRIT_QUERY, doc_template=GRIT_DOC,
                       instruction=TASK, exclude_instruction=True, bidirectional=True)
    for kind, instruction in (("query", f"<|user|>\n{TASK}\n<|embed|>\n"), ("doc", "<|embed|>\n")):
        expected = gritlm_embedding_mode_reference(tiny_mistral, QUERIES, instruction)
        # QUERIES differ in length: the batch is padded, and padding must stay out of every token's view.
        assert torch.allclose(torch.from_numpy(encoder.encode(QUERIES, kind)), expected, atol=1e-5)
    causal = gritlm_reference(tiny_mistral, QUERIES, "<|embed|>\n")
    assert not torch.allclose(expected, causal, atol=1e-3)
    assert encoder.settings.as_dict()["bidirectional"] is True
    assert PRESETS["GritLM-7B"].bidirectional and not PRESETS["E5-Mistral-7B-instruct"].bidirectional


def test_bidirectional_is_refused_where_the_model_keeps_its_causal_mask(tiny_gpt_neo, tmp_path):
    with pytest.raises(SgptEvalError, match=r"^--bidirectional: model .* keeps its causal mask whatever mask it is "
                                            r"given; drop --bidirectional for this model$"):
        _encoder(tiny_gpt_neo, tmp_path, bidirectional=True)


def test_repllama_prefixes(tiny_mistral, tmp_path):
    encoder = _encoder(tiny_mistral, tmp_path, pooling="lasttoken", query_template="query: {text}",
                       doc_template="passage: {text}", append_eos=True)
    expected = e5_reference(tiny_mistral, [f"passage: {d}" for d in QUERIES], 512, left=False)
    assert torch.allclose(torch.from_numpy(encoder.encode(QUERIES, "doc")), expected, atol=1e-5)


@pytest.mark.skipif(importlib.util.find_spec("peft") is None, reason="peft is not installed (pip install 'sgpt-eval[peft]')")
def test_lora_adapter_is_merged(tmp_path, gpt2_tokenizer):
    from peft import LoraConfig, PeftModel, get_peft_model

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(gpt2_tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512)
    base, adapter = tmp_path / "base", tmp_path / "adapter"
    LlamaModel(config).eval().save_pretrained(base, safe_serialization=True)
    gpt2_tokenizer.save_pretrained(base)
    peft_model = get_peft_model(LlamaModel.from_pretrained(base), LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    for name, weight in peft_model.named_parameters():
        if "lora_B" in name:  # zero at initialisation: give the adapter an effect
            torch.nn.init.normal_(weight, std=0.5)
    peft_model.save_pretrained(adapter)

    encoder = _encoder(base, tmp_path, pooling="mean", adapter=str(adapter))
    reference = PeftModel.from_pretrained(AutoModel.from_pretrained(base), adapter).eval()
    ids = gpt2_tokenizer(QUERIES)["input_ids"]
    states, mask = _states(reference, ids, gpt2_tokenizer.eos_token_id, left=False)
    expected = pool(states, mask, "mean")
    assert torch.allclose(torch.from_numpy(encoder.encode(QUERIES, "query")), expected, atol=1e-5)
    plain = _encoder(base, tmp_path, pooling="mean").encode(QUERIES, "query")
    assert not torch.allclose(torch.from_numpy(plain), expected, atol=1e-3)
    settings = encoder.settings.as_dict()
    assert settings["adapter"] == str(adapter) and settings["adapter_revision"].startswith("sha256-")


def test_instruction_of_the_dataset_goes_into_the_settings(tiny_mistral, tmp_path):
    settings = resolved(tiny_mistral, "bi", tmp_path, query_template=E5_TEMPLATE, device="cpu").settings
    with_instructions = settings.__class__(**{**settings.__dict__,
                                              "instructions": PRESETS["E5-Mistral-7B-instruct"].instructions})
    assert with_instructions.for_dataset("scifact").as_dict()["instruction"] == TASK
    assert with_instructions.for_dataset("cqadupstack/android").instruction.startswith("Given a question, retrieve detailed")
    with pytest.raises(SgptEvalError, match=r"has no instruction for dataset mydata; give one with --instruction TEXT"):
        with_instructions.for_dataset("mydata")
    given = resolved(tiny_mistral, "bi", tmp_path, query_template=E5_TEMPLATE, instruction="Find it",
                     device="cpu").settings
    assert given.for_dataset("mydata").as_dict()["instruction"] == "Find it"
    plain = resolved(tiny_mistral, "bi", tmp_path, device="cpu").settings
    assert plain.for_dataset("mydata") is plain and "instruction" not in plain.as_dict()


def test_the_encoder_takes_the_instruction_of_its_dataset(tiny_mistral, tmp_path):
    encoder = _encoder(tiny_mistral, tmp_path, pooling="lasttoken", query_template=E5_TEMPLATE)
    with pytest.raises(SgptEvalError, match=r"needs an instruction; give one with --instruction TEXT"):
        encoder.encode(QUERIES, "query")
    instructed = encoder.with_instruction(TASK)
    assert instructed.model is encoder.model and instructed.settings.instruction == TASK
    direct = _encoder(tiny_mistral, tmp_path, pooling="lasttoken", query_template=E5_TEMPLATE, instruction=TASK)
    assert (instructed.encode(QUERIES, "query") == direct.encode(QUERIES, "query")).all()


def test_bad_settings_are_one_line_errors(tiny_mistral, tmp_path, monkeypatch):
    with pytest.raises(SgptEvalError, match=r"^--query-template 'Query:': must contain \{text\} exactly once$"):
        resolved(tiny_mistral, "bi", tmp_path, query_template="Query:", device="cpu")
    with pytest.raises(SgptEvalError, match=r"^append_eos, adapter: not a setting of a cross-encoder \(model m\); drop it$"):
        ModelOptions("m", append_eos=True, adapter="a/b").check("cross")
    monkeypatch.setattr(resolution.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SgptEvalError, match=r"^--adapter a/b: needs the peft package; pip install 'sgpt-eval\[peft\]'$"):
        resolved(tiny_mistral, "bi", tmp_path, adapter="a/b")


def test_the_settings_added_later_are_named_and_left_out_at_their_defaults():
    """Which settings may be left out of an identity is a list of names, not a position among the
    fields: each is a field, and at its default it is absent from `as_dict`."""
    defaults = {spec.name: spec.default for spec in dataclasses.fields(EncoderSettings)}
    assert set(ADDED_SETTINGS) <= set(defaults)
    settings = EncoderSettings("m", "r", "mean", False, 512, "float32", True, 0)
    assert set(settings.as_dict()) == set(defaults) - set(ADDED_SETTINGS) - {"instructions"}
    assert dataclasses.replace(settings, append_eos=True).as_dict()["append_eos"] is True
