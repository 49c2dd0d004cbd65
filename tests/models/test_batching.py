"""Bi-encoder batches by a token budget (padding included), halve it on CUDA out-of-memory, and
warn about bfloat16 on a CPU that only emulates it; none of it changes a vector or an identity."""

from __future__ import annotations

import copy
import logging

import numpy as np
import pytest
import torch

from sgpt_eval.cli import main
from sgpt_eval.errors import SgptEvalError
from sgpt_eval.models import bi_encoder
from sgpt_eval.models.bi_encoder import SGPTBiEncoder
from sgpt_eval.models.options import ModelOptions

from ..beir_fixtures import write_beir
from ..encoders import forbid_loading, make_bi_encoder, resolved

# Lengths from 3 to about 40 tokens, in no order: batches of different widths and sizes.
TEXTS = [" ".join(["word"] * n) + " end" for n in (3, 30, 1, 12, 7, 39, 2, 18, 25, 5, 9, 14)]


@pytest.fixture(scope="module")
def encoder(tiny_gpt_neo, tmp_path_factory) -> SGPTBiEncoder:
    return make_bi_encoder(tiny_gpt_neo, tmp_path_factory.mktemp("cache"), pooling="weightedmean", specb=True, max_length=64, device="cpu")


def _recording(encoder: SGPTBiEncoder, monkeypatch, batch_tokens: int, fail_first: bool = False) -> list[list[int]]:
    """A copy of `encoder` with this budget whose forward passes record their token lengths; the
    first one raises CUDA out-of-memory, where asked."""
    encoder = copy.copy(encoder)
    encoder.batch_tokens = batch_tokens
    batches: list[list[int]] = []
    embed = encoder.embed_ids

    def embed_ids(batch, skipped=(0, 0)):
        if fail_first and not batches:
            batches.append([])
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        batches.append([len(seq) for seq in batch])
        return embed(batch, skipped)

    monkeypatch.setattr(encoder, "embed_ids", embed_ids)
    return encoder, batches


@pytest.mark.parametrize("budget", [1, 40, 100, 1000])
def test_no_batch_exceeds_the_token_budget_unless_one_text_does(encoder, monkeypatch, budget):
    recording, batches = _recording(encoder, monkeypatch, budget)
    recording.encode(TEXTS, "doc", show_progress_bar=False)
    assert sum(len(b) for b in batches) == len(TEXTS)
    for lengths in batches:
        assert len(lengths) * max(lengths) <= budget or len(lengths) == 1
    flat = [n for lengths in batches for n in lengths]
    assert flat == sorted(flat, reverse=True)  # longest first, so little padding
    if budget == 1000:
        assert len(batches) == 1  # short texts share one wide batch


def test_token_batches_give_the_vectors_of_count_batches_in_input_order(encoder, monkeypatch):
    by_count = encoder.encode(TEXTS, "doc", batch_size=2, show_progress_bar=False)
    recording, batches = _recording(encoder, monkeypatch, 100)
    by_tokens = recording.encode(TEXTS, "doc", show_progress_bar=False)
    assert len({len(b) for b in batches}) > 1  # the budget, not a count, cut these batches
    np.testing.assert_allclose(by_tokens, by_count, atol=1e-6, rtol=0)
    one_by_one = np.stack([encoder.encode([text], "doc", show_progress_bar=False)[0] for text in TEXTS])
    np.testing.assert_allclose(by_tokens, one_by_one, atol=1e-6, rtol=0)


def test_batch_size_bounds_the_texts_per_batch(encoder, monkeypatch):
    recording, batches = _recording(encoder, monkeypatch, 10**6)
    recording.encode(TEXTS, "query", batch_size=5, show_progress_bar=False)
    assert [len(b) for b in batches] == [5, 5, 2]


def test_out_of_memory_halves_the_budget_and_runs_the_batch_again(encoder, monkeypatch, caplog):
    expected = encoder.encode(TEXTS, "doc", show_progress_bar=False)
    recording, batches = _recording(encoder, monkeypatch, 1000, fail_first=True)
    with caplog.at_level(logging.WARNING, logger="sgpt_eval.models.bi_encoder"):
        vectors = recording.encode(TEXTS, "doc", show_progress_bar=False)
    first_width = max(len(ids) for ids in encoder.tokenize(TEXTS, "doc"))
    halved = len(TEXTS) * first_width // 2  # the failed batch held every text at the longest's width
    assert caplog.messages == [f"out of GPU memory: token budget halved to {halved}"]
    assert batches[0] == [] and all(len(b) * max(b) <= halved for b in batches[1:])
    np.testing.assert_allclose(vectors, expected, atol=1e-6, rtol=0)


def test_out_of_memory_on_a_single_text_is_one_error(encoder, monkeypatch):
    recording, _ = _recording(encoder, monkeypatch, 1000, fail_first=True)
    with pytest.raises(SgptEvalError) as error:
        recording.encode(["one text"], "doc", show_progress_bar=False)
    assert str(error.value) == ("out of GPU memory encoding one text of 4 tokens; "
                                "lower --max-length or use --dtype float16")


@pytest.mark.parametrize("native", [False, True])
def test_bfloat16_on_a_cpu_without_it_warns_once(tiny_gpt_neo, tmp_path, monkeypatch, caplog, native):
    monkeypatch.setattr(bi_encoder, "native_bfloat16", lambda: native)
    with caplog.at_level(logging.WARNING, logger="sgpt_eval.models.bi_encoder"):
        make_bi_encoder(tiny_gpt_neo, tmp_path, dtype="bfloat16", device="cpu")
    expected = ["--dtype bfloat16: this CPU has no hardware bfloat16 (avx512_bf16, amx_bf16); "
                "it is emulated and likely slower than float32"]
    assert caplog.messages == ([] if native else expected)


def test_native_bfloat16_reads_the_cpu_flags(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("flags\t\t: fpu avx512f avx512_bf16 avx512_vnni\n")
    assert bi_encoder.native_bfloat16(cpuinfo)
    cpuinfo.write_text("flags\t\t: fpu avx512f avx512_vnni\n")
    assert not bi_encoder.native_bfloat16(cpuinfo)
    assert not bi_encoder.native_bfloat16(tmp_path / "absent")


def test_the_budget_is_no_setting_of_the_vectors(tiny_gpt_neo, tmp_path):
    plain = resolved(tiny_gpt_neo, "bi", tmp_path).settings
    budgeted = resolved(tiny_gpt_neo, "bi", tmp_path, batch_tokens=64).settings
    assert budgeted == plain and "batch_tokens" not in plain.as_dict()


def test_a_budget_below_one_token_is_refused_before_a_model_loads(capsys, tmp_path, tiny_gpt_neo, monkeypatch):
    write_beir(tmp_path / "data" / "toy")
    forbid_loading(monkeypatch)
    argv = ["eval", "--dataset", "toy", "--model", str(tiny_gpt_neo), "--device", "cpu", "--batch-tokens", "0",
            "--data-dir", str(tmp_path / "data"), "--output-dir", str(tmp_path / "out")]
    assert main(argv) == 2
    assert capsys.readouterr().err.strip().endswith("sgpt-eval: error: --batch-tokens 0: must be at least 1")
    assert not (tmp_path / "out").exists()


def test_a_cross_encoder_refuses_a_token_budget():
    with pytest.raises(SgptEvalError, match=r"^batch_tokens: not a setting of a cross-encoder \(model m\); drop it$"):
        ModelOptions(model="m", batch_tokens=64).check("cross")
