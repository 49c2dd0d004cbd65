"""Encoders of test models built as a run builds them: the options resolved, then the weights loaded."""

from __future__ import annotations

from pathlib import Path

from sgpt_eval.models.bi_encoder import SGPTBiEncoder
from sgpt_eval.models.cross_encoder import SGPTCrossEncoder
from sgpt_eval.models.options import ModelOptions
from sgpt_eval.models.resolution import ResolvedModel, resolve_model


def resolved(model: str | Path, kind: str, cache_dir: Path | None = None, **options) -> ResolvedModel:
    """`model` (a folder, or a preset or hub id with `cache_dir`) resolved with `options` (ModelOptions' fields)."""
    return resolve_model(ModelOptions(str(model), **options), kind, cache_dir or Path(model).parent)


def make_bi_encoder(model: str | Path, cache_dir: Path | None = None, **options) -> SGPTBiEncoder:
    return SGPTBiEncoder(resolved(model, "bi", cache_dir, **options))


def make_cross_encoder(model: str | Path, cache_dir: Path | None = None, **options) -> SGPTCrossEncoder:
    return SGPTCrossEncoder(resolved(model, "cross", cache_dir, **options))


def forbid_loading(monkeypatch) -> None:
    """Fail the test if any model's weights start to load."""
    import pytest

    for encoder in (SGPTBiEncoder, SGPTCrossEncoder):
        monkeypatch.setattr(encoder, "__init__", lambda *args, **kwargs: pytest.fail("a model loaded"))
