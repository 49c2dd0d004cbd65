"""MTEB: SGPT bi-encoders behind MTEB's encoder interface giving the vectors (and brackets)
SGPTBiEncoder gives."""

from __future__ import annotations

import numpy as np
import pytest

from .encoders import make_bi_encoder

mteb = pytest.importorskip("mteb")

QUERIES = ["how do cells make energy", "ranking documents"]
DOCS = [("Mitochondria", "Mitochondria produce ATP."), ("", "Retrieval models rank documents for a query.")]


@pytest.fixture(scope="module")
def sgpt_specb(tiny_gpt_neo, tmp_path_factory):
    return make_bi_encoder(tiny_gpt_neo, tmp_path_factory.mktemp("cache"), specb=True, device="cpu")


def _mteb_inputs(rows: dict[str, list], prompt_type):
    """The batches mteb's retrieval evaluator hands an encoder (corpus rows joined as title + text)."""
    from datasets import Dataset
    from mteb._create_dataloaders import create_dataloader

    return create_dataloader(Dataset.from_dict(rows), task_metadata=mteb.get_task("SciFact").metadata,
                             prompt_type=prompt_type, batch_size=1)


def test_the_mteb_encoder_brackets_queries_and_documents_as_sgpt_does(sgpt_specb, tiny_gpt_neo):
    from mteb.types import PromptType

    from sgpt_eval.data.beir import document_text
    from sgpt_eval.mteb import SGPTMTEBEncoder

    model = SGPTMTEBEncoder(sgpt_specb)
    task = mteb.get_task("SciFact").metadata
    common = {"task_metadata": task, "hf_split": "test", "hf_subset": "default"}
    queries = model.encode(_mteb_inputs({"id": ["q1", "q2"], "text": QUERIES}, PromptType.query),
                           prompt_type=PromptType.query, **common)
    docs = model.encode(_mteb_inputs({"id": ["d1", "d2"], "title": [t for t, _ in DOCS], "text": [x for _, x in DOCS]},
                                     PromptType.document), prompt_type=PromptType.document, **common)
    doc_texts = [document_text({"title": title, "text": text}) for title, text in DOCS]

    np.testing.assert_allclose(queries, sgpt_specb.encode(QUERIES, "query"), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(docs, sgpt_specb.encode(doc_texts, "doc"), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.encode(QUERIES, **common), queries, rtol=1e-5, atol=1e-6)  # no type: a query
    assert not np.allclose(model.encode(doc_texts, prompt_type=PromptType.query, **common), docs, atol=1e-4)
    assert isinstance(model, mteb.models.models_protocols.EncoderProtocol)
    meta = model.mteb_model_meta
    assert (meta.name, meta.revision, meta.max_tokens) == (f"local/{tiny_gpt_neo.name}", sgpt_specb.settings.revision,
                                                          sgpt_specb.max_length)


# -- names and metadata -----------------------------------------------------------------------

@pytest.mark.parametrize("model, name", [
    ("SGPT-125M-weightedmean-msmarco-specb-bitfit", "Muennighoff/SGPT-125M-weightedmean-msmarco-specb-bitfit"),
    ("sgpt-bloom-7b1-msmarco", "bigscience/sgpt-bloom-7b1-msmarco"),  # a preset by its hub name, any case
    ("SmolLM2-135M", "HuggingFaceTB/SmolLM2-135M-Instruct"),
    ("org/some-model", "org/some-model"),  # a hub id as given
    ("/models/my-sgpt", "local/my-sgpt"),
    ("./my-sgpt", "local/my-sgpt"),
    ("runs/2024/my-sgpt", "local/my-sgpt"),  # a relative folder, not a hub id
])
def test_models_are_filed_under_their_hub_name_or_as_local(model, name):
    from sgpt_eval.mteb import mteb_model_name

    assert mteb_model_name(model) == name


def test_metadata_says_what_was_run_and_nothing_more():
    from sgpt_eval.mteb import model_meta

    dense = model_meta("local/m", "r1", max_tokens=300, n_parameters=1000)
    assert (dense.name, dense.revision, dense.max_tokens, dense.n_parameters) == ("local/m", "r1", 300, 1000)
    assert dense.model_type == ["dense"] and dense.similarity_fn_name is not None
    assert dense.experiment_kwargs is None and dense.embed_dim is None and dense.license is None

    reranker = model_meta("local/m", "r1", model_type="cross-encoder", experiment_kwargs={"method": "rerank"})
    assert reranker.model_type == ["cross-encoder"] and reranker.similarity_fn_name is None
    assert reranker.experiment_kwargs == {"method": "rerank"} and reranker.experiment_name != dense.experiment_name


def test_plain_sentences_are_encoded_as_queries():
    from mteb.types import PromptType

    from sgpt_eval.mteb import KINDS

    assert KINDS == {PromptType.query: "query", PromptType.document: "doc", None: "query"}
