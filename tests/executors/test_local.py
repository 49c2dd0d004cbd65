"""The local executor: the model loads in this process once, and serves every dataset's instruction."""

from __future__ import annotations

import dataclasses

import numpy as np

from sgpt_eval.executors import ShardJob
from sgpt_eval.executors.local import LocalExecutor
from sgpt_eval.models.bi_encoder import SGPTBiEncoder

from ..encoders import resolved

TEXTS = ["a first text", "a second, longer text", "third"]


def test_one_load_serves_every_run_of_the_model_and_shards_are_encoded_in_order(tiny_gpt_neo, monkeypatch):
    loads = []
    real = SGPTBiEncoder.__init__
    monkeypatch.setattr(SGPTBiEncoder, "__init__", lambda self, model: loads.append(model) or real(self, model))
    executor = LocalExecutor()
    model = resolved(tiny_gpt_neo, "bi", device="cpu")
    first = executor.bi_encoder(model, shards=2)
    second = executor.bi_encoder(model, shards=5)
    assert len(loads) == 1 and first.encoder is second.encoder and first.settings == model.settings
    jobs = [ShardJob(0, "doc", 0, 2), ShardJob(1, "doc", 2, 3)]
    done = list(first.encode_shards(jobs, TEXTS, "doc"))
    assert [job for job, _ in done] == jobs
    np.testing.assert_allclose(np.concatenate([vectors for _, vectors in done]),
                               first.encoder.encode(TEXTS, "doc", show_progress_bar=False), atol=1e-6)

    other = resolved(tiny_gpt_neo, "bi", device="cpu", specb=True)
    executor.bi_encoder(other, shards=1)
    assert len(loads) == 2  # another model: loaded, the first one let go


def test_a_dataset_s_instruction_reuses_the_loaded_weights(tiny_gpt_neo):
    model = resolved(tiny_gpt_neo, "bi", device="cpu", query_template="{instruction}: {text}", instruction="Find")
    executor = LocalExecutor()
    plain = executor.bi_encoder(model, 1)
    other = executor.bi_encoder(dataclasses.replace(
        model, settings=dataclasses.replace(model.settings, instruction="Retrieve")), 1)
    assert plain.encoder.model is other.encoder.model
    assert (plain.settings.instruction, other.settings.instruction) == ("Find", "Retrieve")
