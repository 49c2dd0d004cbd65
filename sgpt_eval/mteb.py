"""SGPT bi-encoders inside MTEB, and the model metadata MTEB files results under.

MTEB asks an encoder for queries (`PromptType.query`), documents (`PromptType.document`) or, in
symmetric tasks, plain sentences (no prompt type). SGPT's asymmetric models tell queries from
documents by their brackets, so a query is encoded as SGPT encodes queries (`[` `]`), a document
as SGPT encodes documents (`{` `}`), and a plain sentence as a query, as SGPT's own MTEB
evaluation did. `mteb.evaluate(SGPTMTEBEncoder(encoder), tasks)` then measures the paper's model.

This is the one module that imports mteb (`pip install 'sgpt-eval[mteb]'`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from mteb.models.abs_encoder import AbsEncoder
from mteb.models.model_meta import ModelMeta, ScoringFunction
from mteb.types import PromptType

from .models.presets import find_preset

if TYPE_CHECKING:
    from .models.bi_encoder import SGPTBiEncoder

# MTEB's prompt type -> the kind of text SGPTBiEncoder.encode brackets it as.
KINDS = {PromptType.query: "query", PromptType.document: "doc", None: "query"}
# MTEB's name for the BM25 baseline (bm25s, as here).
BM25_NAME = "mteb/baseline-bm25s"
# MTEB names models `organization/name`; a local folder has no organization.
LOCAL_ORGANIZATION = "local"


def mteb_model_name(model: str) -> str:
    """The `organization/name` MTEB files a model under: a preset's hub id, a hub id as given,
    or `local/<folder name>` for a model in a local folder."""
    preset = find_preset(model)
    if preset is not None:
        return preset.hub_id
    if Path(model).is_absolute() or model.startswith(".") or model.count("/") != 1:
        return f"{LOCAL_ORGANIZATION}/{Path(model).name}"
    return model


def model_meta(name: str, revision: str | None, *, model_type: str = "dense", max_tokens: int | None = None,
               n_parameters: int | None = None, experiment_kwargs: Mapping[str, Any] | None = None) -> ModelMeta:
    """MTEB's metadata of a model we ran: only what we know; MTEB leaves the rest empty."""
    return ModelMeta(
        loader=None, name=name, revision=revision, release_date=None, languages=None, n_parameters=n_parameters,
        memory_usage_mb=None, max_tokens=max_tokens, embed_dim=None, license=None, open_weights=True,
        public_training_code=None, public_training_data=None, framework=["PyTorch"],
        similarity_fn_name=ScoringFunction.COSINE if model_type == "dense" else None, use_instructions=False,
        training_datasets=None, model_type=[model_type], experiment_kwargs=dict(experiment_kwargs or {}) or None,
    )


class SGPTMTEBEncoder(AbsEncoder):
    """An `SGPTBiEncoder` behind MTEB's encoder interface (v2 `encode(inputs, *, task_metadata,
    hf_split, hf_subset, prompt_type)`; a plain list of strings, as MTEB v1 passed, works too)."""

    def __init__(self, encoder: SGPTBiEncoder) -> None:
        self.model = encoder
        self.mteb_model_meta = model_meta(
            mteb_model_name(encoder.settings.model), encoder.settings.revision, max_tokens=encoder.max_length,
            n_parameters=sum(parameter.numel() for parameter in encoder.model.parameters()),
        )

    def encode(self, inputs: Iterable[Any], *, task_metadata: Any = None, hf_split: str | None = None,
               hf_subset: str | None = None, prompt_type: PromptType | None = None, **kwargs: Any) -> np.ndarray:
        """All of MTEB's texts at once, so that SGPTBiEncoder batches them as it always does."""
        texts = list(inputs) if isinstance(inputs, (list, tuple)) else [text for batch in inputs for text in batch["text"]]
        kind = KINDS[PromptType(prompt_type) if prompt_type is not None else None]
        return self.model.encode(texts, kind, show_progress_bar=kwargs.get("show_progress_bar", False))
