"""sgpt-eval: evaluate SGPT bi-encoders and cross-encoders on BEIR and USEB as the SGPT paper does.

The public names load on first use, so that `import sgpt_eval` (and the command line's start)
does not pay for torch, transformers and faiss until a model or an index is needed.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import SgptEvalError

__version__ = "0.1.0"

# Public name -> (module, name in it).
_LAZY = {
    "BeirDataset": (".data.beir", "BeirDataset"),
    "load_beir": (".data.beir", "load"),
    "evaluate": (".evaluation.metrics", "evaluate"),
    "SGPTBiEncoder": (".models.bi_encoder", "SGPTBiEncoder"),
    "SGPTCrossEncoder": (".models.cross_encoder", "SGPTCrossEncoder"),
    "ModelOptions": (".models.options", "ModelOptions"),
    "PRESETS": (".models.presets", "PRESETS"),
    "ModelPreset": (".models.presets", "ModelPreset"),
    "resolve_model": (".models.resolution", "resolve_model"),
    "search": (".retrieval.dense", "search"),
}

__all__ = ["SgptEvalError", *_LAZY]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = _LAZY[name]
    value = getattr(importlib.import_module(module, __name__), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
