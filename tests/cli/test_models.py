"""`sgpt-eval models` and `prepare-models`: the presets as a table, and preparing only offline ones."""

from __future__ import annotations

import pytest

from sgpt_eval.cli import models as cli_models
from sgpt_eval.errors import SgptEvalError
from sgpt_eval.models.presets import PRESETS

from ..command_line import parse


def _listed(capsys, cache_dir) -> dict[str, list[str]]:
    args = parse(cli_models, "models")
    args.handler(args, cache_dir)
    return {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()}


def test_models_lists_every_preset_with_its_pooling_brackets_length_and_source(tmp_path, capsys):
    rows = _listed(capsys, tmp_path)
    assert list(rows) == list(PRESETS)
    assert rows["SGPT-125M-weightedmean-msmarco-specb-bitfit"][1:] == [
        "weightedmean", "specb", "300", "Muennighoff/SGPT-125M-weightedmean-msmarco-specb-bitfit"]
    assert rows["SGPT-125M-weightedmean-nli-bitfit"][1:4] == ["weightedmean", "-", "model"]  # the checkpoint's length
    assert rows["SGPT-CE-GPT-J-6B"][1] == "cross-encoder" and "@" in rows["SGPT-CE-GPT-J-6B"][-1]  # its revision


def test_an_offline_preset_is_listed_where_it_loads_from_once_prepared(tmp_path, capsys):
    assert _listed(capsys, tmp_path)["SmolLM2-135M"][-1] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    prepared = tmp_path / "models" / "SmolLM2-135M"
    prepared.mkdir(parents=True)
    (prepared / "config.json").write_text("{}")
    assert _listed(capsys, tmp_path)["SmolLM2-135M"][-1] == str(prepared)


def test_prepare_models_takes_offline_presets_only(tmp_path):
    args = parse(cli_models, "prepare-models", "SGPT-125M-weightedmean-msmarco-specb-bitfit")
    offline = [name for name, preset in PRESETS.items() if preset.offline]
    with pytest.raises(SgptEvalError, match=(r"^prepare-models SGPT-125M-weightedmean-msmarco-specb-bitfit: not an "
                                             rf"offline preset \(choose from {', '.join(offline)}\)$")):
        args.handler(args, tmp_path)
    assert not (tmp_path / "models").exists() and "all-MiniLM-L6-v2" in offline
