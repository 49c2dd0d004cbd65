"""A sentence-transformers folder runs with its own module stack (Transformer, Pooling, Dense, Normalize)."""

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from sgpt_eval.errors import SgptEvalError
from ..encoders import make_bi_encoder

TEXTS = ["a short text", "a somewhat longer text about dense retrieval"]


def _st_folder(tiny_gpt_neo, tmp_path, pooling_flag="pooling_mode_mean_tokens", activation="torch.nn.modules.activation.Tanh"):
    folder = tmp_path / "st-model"
    shutil.copytree(tiny_gpt_neo, folder)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
        {"idx": 3, "name": "3", "path": "3_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 20}))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 64, pooling_flag: True}))
    (folder / "2_Dense").mkdir()
    (folder / "2_Dense" / "config.json").write_text(
        json.dumps({"in_features": 64, "out_features": 8, "bias": True, "activation_function": activation})
    )
    torch.manual_seed(1)
    weights = {"linear.weight": torch.randn(8, 64), "linear.bias": torch.randn(8)}
    save_file(weights, folder / "2_Dense" / "model.safetensors")
    (folder / "3_Normalize").mkdir()
    return folder, weights


def test_module_stack_matches_manual_computation(tiny_gpt_neo, tmp_path):
    folder, weights = _st_folder(tiny_gpt_neo, tmp_path)
    encoder = make_bi_encoder(folder, tmp_path, device="cpu")
    assert (encoder.pooling, encoder.max_length, encoder.normalize, encoder.settings.dense_layers) == ("mean", 20, True, 1)
    plain = make_bi_encoder(tiny_gpt_neo, tmp_path, pooling="mean", max_length=20, device="cpu")
    pooled = torch.from_numpy(plain.encode(TEXTS, "doc", show_progress_bar=False))
    expected = torch.nn.functional.normalize(torch.tanh(pooled @ weights["linear.weight"].T + weights["linear.bias"]), dim=-1)
    np.testing.assert_allclose(encoder.encode(TEXTS, "doc", show_progress_bar=False), expected.numpy(), atol=1e-5)


def test_weightedmean_flag_is_read(tiny_gpt_neo, tmp_path):
    folder, _ = _st_folder(tiny_gpt_neo, tmp_path, pooling_flag="pooling_mode_weightedmean_tokens")
    assert make_bi_encoder(folder, tmp_path, device="cpu").pooling == "weightedmean"


def test_unsupported_pieces_are_named(tiny_gpt_neo, tmp_path):
    folder, _ = _st_folder(tiny_gpt_neo, tmp_path, pooling_flag="pooling_mode_max_tokens")
    with pytest.raises(SgptEvalError, match="pooling_mode_max_tokens"):
        make_bi_encoder(folder, tmp_path, device="cpu")
    shutil.rmtree(folder)
    folder, _ = _st_folder(tiny_gpt_neo, tmp_path, activation="os.system")
    with pytest.raises(SgptEvalError, match="activation 'os.system' is not supported"):
        make_bi_encoder(folder, tmp_path, device="cpu")
