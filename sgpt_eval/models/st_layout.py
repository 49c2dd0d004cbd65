"""Read a sentence-transformers folder: `modules.json` and each module's config and weights.

We rebuild the stack ourselves (no `SentenceTransformer` object) so that SGPT's bracket
tokenization and pooling run the same way for every checkpoint, and so that a pickle
checkpoint is read only through torch's weights-only unpickler.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import SgptEvalError
from .store import refused_pickle

# sentence-transformers' pooling flags, in the order they are tried.
_POOLING_FLAGS = {
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
    "pooling_mode_cls_token": "cls",
    "pooling_mode_mean_tokens": "mean",
}
_UNSUPPORTED_FLAGS = ("pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens")

_ACTIVATIONS = {
    "torch.nn.modules.linear.Identity": torch.nn.Identity,
    "torch.nn.modules.activation.Tanh": torch.nn.Tanh,
    "torch.nn.modules.activation.ReLU": torch.nn.ReLU,
    "torch.nn.modules.activation.GELU": torch.nn.GELU,
    "torch.nn.modules.activation.Sigmoid": torch.nn.Sigmoid,
}


@dataclass(frozen=True)
class StLayout:
    """What a sentence-transformers folder says about itself, read from its configs (no weights):
    the Dense layers are their folders, loaded with `dense_module` when the encoder is built."""

    transformer_dir: Path
    max_length: int | None = None
    pooling: str | None = None
    dense_before_pooling: tuple[Path, ...] = ()
    dense_after_pooling: tuple[Path, ...] = ()
    normalize: bool = False
    dimension: int | None = None  # the last Dense layer's output width; None: the transformer's hidden size


def read(folder: Path) -> StLayout:
    """Parse `folder/modules.json`; a plain transformers folder gives a layout of defaults."""
    modules_file = folder / "modules.json"
    if not modules_file.is_file():
        return StLayout(transformer_dir=folder)
    found: dict = {"transformer_dir": folder, "dense_before_pooling": [], "dense_after_pooling": []}
    try:
        modules = json.loads(modules_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SgptEvalError(f"{modules_file}: not valid JSON ({exc.msg})") from None
    for module in sorted(modules, key=lambda m: int(m.get("idx", 0))):
        kind = str(module.get("type", "")).rsplit(".", 1)[-1]
        path = folder / module.get("path", "")
        if kind == "Transformer":
            found["transformer_dir"] = path
            found["max_length"] = _read_json(path / "sentence_bert_config.json").get("max_seq_length")
        elif kind == "Pooling":
            found["pooling"] = _pooling_mode(path / "config.json")
        elif kind == "Dense":
            found["dimension"] = _dense_config(path)["out_features"]
            found["dense_after_pooling" if found.get("pooling") else "dense_before_pooling"].append(path)
        elif kind == "Normalize":
            found["normalize"] = True
        else:
            raise SgptEvalError(f"{modules_file}: module type '{module.get('type')}' is not supported (Transformer, Pooling, Dense, Normalize are)")
    return StLayout(**{**found, "dense_before_pooling": tuple(found["dense_before_pooling"]),
                       "dense_after_pooling": tuple(found["dense_after_pooling"])})


def _read_json(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SgptEvalError(f"{path}: not valid JSON ({exc.msg})") from None


def _pooling_mode(config_file: Path) -> str:
    config = _read_json(config_file)
    for flag, mode in _POOLING_FLAGS.items():
        if config.get(flag):
            return mode
    used = [flag for flag in _UNSUPPORTED_FLAGS if config.get(flag)]
    raise SgptEvalError(f"{config_file}: pooling {used or 'none set'} is not supported (weightedmean, mean, lasttoken, cls are)")


def _dense_config(folder: Path) -> dict:
    """A Dense layer's config, its activation checked: refused while reading, before any weights load."""
    config = _read_json(folder / "config.json")
    activation = config.setdefault("activation_function", "torch.nn.modules.linear.Identity")
    if activation not in _ACTIVATIONS:
        raise SgptEvalError(f"{folder / 'config.json'}: activation '{activation}' is not supported ({', '.join(_ACTIVATIONS)})")
    return config


def dense_module(folder: Path) -> torch.nn.Module:
    """A Dense layer with its weights, as sentence-transformers builds it (linear, then activation)."""
    config = _dense_config(folder)
    activation = config["activation_function"]
    linear = torch.nn.Linear(config["in_features"], config["out_features"], bias=config.get("bias", True))
    state = load_weights(folder)
    linear.load_state_dict({key.removeprefix("linear."): value for key, value in state.items()})
    return torch.nn.Sequential(linear, _ACTIVATIONS[activation]())


def load_weights(folder: Path) -> dict[str, torch.Tensor]:
    """Read `model.safetensors`, else `pytorch_model.bin` through torch's weights-only unpickler
    (a pickle that would run code is refused before any of it runs)."""
    from safetensors.torch import load_file

    if (folder / "model.safetensors").is_file():
        return load_file(folder / "model.safetensors")
    if (folder / "pytorch_model.bin").is_file():
        try:
            return torch.load(folder / "pytorch_model.bin", map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            raise SgptEvalError(refused_pickle(folder / "pytorch_model.bin", exc)) from None
    raise SgptEvalError(f"{folder}: no model.safetensors (or pytorch_model.bin) found")
