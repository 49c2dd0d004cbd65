"""A model request resolved once: where its files are, at which revision, and every setting it
will run with, read from its configs before any weights load.

Describing a run, planning it and loading the model all start from one `ResolvedModel`, so the
settings a report records are the settings the weights are loaded with: there is no second
resolution that could disagree with the first. The encoders are built from it (`load`), here or
on a Ray worker, and take from it only what does not change a number besides (device, batch sizes).
"""

from __future__ import annotations

import dataclasses
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import SgptEvalError
from . import store
from .options import ModelOptions, default_device
from .st_layout import StLayout

if TYPE_CHECKING:
    from .bi_encoder import EncoderSettings, SGPTBiEncoder
    from .cross_encoder import CrossEncoderSettings, SGPTCrossEncoder

KINDS = ("bi", "cross")  # a bi-encoder (dense retrieval) or a cross-encoder (re-ranking)


@dataclass(frozen=True)
class ResolvedModel:
    kind: str
    source: store.ModelSource
    settings: EncoderSettings | CrossEncoderSettings  # what changes its numbers: the report's and the caches' key
    device: str
    batch_size: int | None = None  # None: the encoder's default
    batch_tokens: int | None = None  # bi-encoder: padded tokens per forward pass (None: the device's default)
    trust_remote_code: bool = False
    layout: StLayout | None = None  # bi-encoder: its sentence-transformers modules
    adapter: store.ModelSource | None = None  # bi-encoder: a LoRA adapter merged into the weights

    def for_dataset(self, dataset: str) -> ResolvedModel:
        """The model with the task instruction of `dataset`, where its templates ask for one."""
        if self.kind != "bi":
            return self
        return dataclasses.replace(self, settings=self.settings.for_dataset(dataset))

    def weights_key(self) -> ResolvedModel:
        """The model less its task instruction: one set of loaded weights serves every dataset."""
        if self.kind != "bi" or self.settings.instruction is None:
            return self
        return dataclasses.replace(self, settings=dataclasses.replace(self.settings, instruction=None))


def resolve_model(options: ModelOptions, kind: str, cache_dir: Path, weights: bool = True) -> ResolvedModel:
    """Resolve `options` as a model of `kind`; its files are found or downloaded (without `weights`,
    its configs and tokenizer only), every option is checked, and nothing is loaded."""
    from . import bi_encoder, cross_encoder

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    options.check(kind)
    source = store.resolve(options.model, cache_dir, options.revision, weights)
    device = options.device or default_device()
    common = {"device": device, "batch_size": options.batch_size, "trust_remote_code": options.trust_remote_code}
    if kind == "cross":
        return ResolvedModel(kind, source, cross_encoder.resolve_settings(source, options, device), **common)
    adapter = _adapter(options, source, cache_dir, weights)
    settings, layout = bi_encoder.resolve_settings(source, options, device, adapter)
    return ResolvedModel(kind, source, settings, batch_tokens=options.batch_tokens, layout=layout, adapter=adapter,
                         **common)


def _adapter(options: ModelOptions, source: store.ModelSource, cache_dir: Path,
             weights: bool) -> store.ModelSource | None:
    """The LoRA adapter's files (--adapter, else the preset's), checked for peft before any download."""
    name = options.adapter or (source.preset.adapter if source.preset else None)
    if name is None:
        return None
    if importlib.util.find_spec("peft") is None:
        raise SgptEvalError(f"--adapter {name}: needs the peft package; pip install 'sgpt-eval[peft]'")
    return store.resolve(name, cache_dir, weights=weights)


def load(model: ResolvedModel) -> SGPTBiEncoder | SGPTCrossEncoder:
    """The encoder of a resolved model, its weights loaded."""
    from .bi_encoder import SGPTBiEncoder
    from .cross_encoder import SGPTCrossEncoder

    return SGPTBiEncoder(model) if model.kind == "bi" else SGPTCrossEncoder(model)
