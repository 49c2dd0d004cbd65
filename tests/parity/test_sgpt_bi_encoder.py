"""The SGPT bi-encoder against an independent transcription of the SGPT README code."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from sgpt_eval.errors import SgptEvalError

from ..reference_sgpt import tokenize_with_specb, weightedmean_embedding
from ..encoders import make_bi_encoder

QUERIES = ["How do mitochondria produce energy?", "[brackets] in {text}", "a"]
DOCS = [
    "Mitochondria are the powerhouse of the cell, producing ATP through oxidative phosphorylation.",
    "Short doc.",
    "Another document of medium length about retrieval with GPT models and pooling.",
]


@pytest.fixture(scope="module")
def encoder(tiny_gpt_neo, tmp_path_factory):
    return make_bi_encoder(tiny_gpt_neo, tmp_path_factory.mktemp("cache"), pooling="weightedmean", specb=True, max_length=64, device="cpu", batch_size=2)


@pytest.fixture(scope="module")
def reference(tiny_gpt_neo):
    tokenizer = AutoTokenizer.from_pretrained(tiny_gpt_neo)
    model = AutoModel.from_pretrained(tiny_gpt_neo).eval()
    return tokenizer, model


@pytest.mark.parametrize("is_query,texts", [(True, QUERIES), (False, DOCS)])
def test_matches_sgpt_reference_code(encoder, reference, is_query, texts):
    tokenizer, model = reference
    expected = weightedmean_embedding(tokenize_with_specb(tokenizer, texts, is_query, max_length=62), model).numpy()
    ours = encoder.encode(texts, "query" if is_query else "doc", show_progress_bar=False)
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, atol=1e-5, rtol=0)


def test_brackets_are_ids_not_text(encoder, gpt2_tokenizer):
    ids = encoder.tokenize(["hello"], "query")[0]
    assert ids[0] == gpt2_tokenizer.encode("[")[0] and ids[-1] == gpt2_tokenizer.encode("]")[0]
    assert ids[1:-1] == gpt2_tokenizer.encode("hello")
    doc = encoder.tokenize(["hello"], "doc")[0]
    assert (doc[0], doc[-1]) == (gpt2_tokenizer.encode("{")[0], gpt2_tokenizer.encode("}")[0])


def test_truncation_leaves_room_for_brackets(encoder):
    ids = encoder.tokenize(["word " * 500], "doc")[0]
    assert len(ids) == encoder.max_length
    assert ids[-1] == encoder.brackets["doc"][1]


def test_batching_and_order_do_not_change_vectors(encoder):
    together = encoder.encode(DOCS, "doc", batch_size=3, show_progress_bar=False)
    one_by_one = np.stack([encoder.encode([d], "doc", show_progress_bar=False)[0] for d in DOCS])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


def test_symmetric_model_uses_no_brackets(tiny_gpt_neo, tmp_path):
    encoder = make_bi_encoder(tiny_gpt_neo, tmp_path, specb=False, device="cpu")
    assert encoder.pooling == "weightedmean"  # a causal LM defaults to SGPT pooling
    query, doc = encoder.encode(["same text"], "query", show_progress_bar=False), encoder.encode(["same text"], "doc", show_progress_bar=False)
    np.testing.assert_array_equal(query, doc)


def test_beir_interface_accepts_corpus_dicts(encoder):
    corpus = [{"title": "T", "text": "body"}, {"title": "", "text": "only text"}]
    vectors = encoder.encode_corpus(corpus, batch_size=2, convert_to_tensor=True, show_progress_bar=False)
    assert isinstance(vectors, torch.Tensor) and vectors.shape[0] == 2
    direct = encoder.encode(["T body", "only text"], "doc", show_progress_bar=False)
    np.testing.assert_allclose(vectors.numpy(), direct, atol=1e-6)


def test_half_precision_is_close_to_fp32(tiny_gpt_neo, tmp_path, encoder):
    bf16 = make_bi_encoder(tiny_gpt_neo, tmp_path, specb=True, max_length=64, dtype="bfloat16", device="cpu")
    assert bf16.settings.dtype == "bfloat16"
    ours, ref = bf16.encode(DOCS, "doc", show_progress_bar=False), encoder.encode(DOCS, "doc", show_progress_bar=False)
    cosine = (ours * ref).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(ref, axis=1)
    assert cosine.min() > 0.98


def test_pickle_weights_load_weights_only(tiny_gpt_neo, tmp_path):
    folder = tmp_path / "bin-model"
    model = AutoModel.from_pretrained(tiny_gpt_neo)
    model.save_pretrained(folder)
    (folder / "model.safetensors").unlink()
    torch.save(model.state_dict(), folder / "pytorch_model.bin")  # an old-style pickle checkpoint
    AutoTokenizer.from_pretrained(tiny_gpt_neo).save_pretrained(folder)
    pickled = make_bi_encoder(folder, tmp_path, device="cpu")
    assert all(torch.equal(value, model.state_dict()[name]) for name, value in pickled.model.state_dict().items())
    assert pickled.encode(["x"], "doc", show_progress_bar=False).shape == (1, 64)
